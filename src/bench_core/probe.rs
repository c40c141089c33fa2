//! CPU of this process, of MariaDB and of the machine, from /proc, and
//! MariaDB's commit and statement counters.

use super::*;

/// CPU readings at the window's start and end.
pub(super) struct Probe {
    pub(super) at: Instant,
    /// CPU seconds of this process, of MySQL, and busy seconds of the machine.
    pub(super) me: Option<f64>,
    pub(super) db: Option<f64>,
    pub(super) machine: Option<f64>,
    /// MariaDB's `Com_commit` and `Questions`: the whole server's, so any
    /// other client of it counts too.
    pub(super) commits: Option<u64>,
    pub(super) statements: Option<u64>,
}

pub(super) async fn probe(db_pid: Option<u32>, pool: &Pool) -> Probe {
    let counters = db::global_status(pool, &["Com_commit", "Questions"])
        .await
        .unwrap_or_default();
    Probe {
        at: Instant::now(),
        me: cpu_seconds("self"),
        db: db_pid.and_then(|pid| cpu_seconds(&pid.to_string())),
        machine: machine_busy_seconds(),
        commits: counters.get("Com_commit").copied(),
        statements: counters.get("Questions").copied(),
    }
}

/// utime + stime of a process, in seconds.
pub(super) fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: the fields start after its `)`.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after `)`.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / CLOCK_TICKS)
}

/// Busy seconds of all cores (user, nice, system, irq, softirq, steal).
pub(super) fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu: Vec<f64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| cpu.get(i))
        .sum::<f64>();
    Some(busy / CLOCK_TICKS)
}

/// The first process named `mariadbd` or `mysqld`, lowest id first.
pub(super) fn find_db_pid() -> Option<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids.into_iter().find(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|comm| matches!(comm.trim(), "mariadbd" | "mysqld"))
    })
}

/// Probes at `t0` and `t1`.
pub(super) async fn window_probes(plan: &Plan, db_pid: Option<u32>) -> [Probe; 2] {
    sleep_until(plan.t0.into()).await;
    let first = probe(db_pid, &plan.pool).await;
    sleep_until(plan.t1.into()).await;
    [first, probe(db_pid, &plan.pool).await]
}
