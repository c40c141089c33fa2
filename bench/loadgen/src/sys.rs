//! CPU and memory of processes and of the machine, from /proc; and this
//! process's open-file limit.

/// USER_HZ on Linux.
const CLK_TCK: f64 = 100.0;

/// CPU seconds (user + system) the process has used.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of stat, 11 and 12 after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / CLK_TCK)
}

/// Resident set size in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Busy CPU seconds of the whole machine (all cores).
pub fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu: Vec<f64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy = cpu.first()?
        + cpu.get(1)?
        + cpu.get(2)?
        + cpu.get(5)?
        + cpu.get(6)?
        + cpu.get(7).unwrap_or(&0.0);
    Some(busy / CLK_TCK)
}

/// A moment's CPU counters, to take differences of.
#[derive(Clone, Copy)]
pub struct Probe {
    pub at: std::time::Instant,
    pub server: Option<f64>,
    pub db: Option<f64>,
    pub me: Option<f64>,
    pub machine: Option<f64>,
}

impl Probe {
    pub fn take(server: Option<u32>, db: Option<u32>) -> Self {
        Self {
            at: std::time::Instant::now(),
            server: server.and_then(cpu_seconds),
            db: db.and_then(cpu_seconds),
            me: cpu_seconds(std::process::id()),
            machine: machine_busy_seconds(),
        }
    }

    /// Cores kept busy between `self` and `later`: server, db, loadgen, machine.
    pub fn cores(&self, later: &Probe) -> [Option<f64>; 4] {
        let secs = later.at.duration_since(self.at).as_secs_f64().max(1e-9);
        let d = |a: Option<f64>, b: Option<f64>| Some(((b? - a?) / secs * 100.0).round() / 100.0);
        [
            d(self.server, later.server),
            d(self.db, later.db),
            d(self.me, later.me),
            d(self.machine, later.machine),
        ]
    }
}

/// Raises this process's soft RLIMIT_NOFILE to its hard limit (each
/// connection is a file descriptor); returns the soft limit in force.
pub fn raise_nofile() -> std::io::Result<libc::rlim_t> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write `limit`, a valid
    // rlimit on this stack.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(limit.rlim_cur)
}

/// The processes and database a run measures (options shared by the
/// socket and REST load).
#[derive(clap::Args, Debug, Clone)]
pub struct Watched {
    /// Server process, for CPU (and RSS)
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// MySQL process, for CPU
    #[arg(long)]
    pub db_pid: Option<u32>,
    /// mysql://... of the database: the check that every acknowledged
    /// message is stored (and, for REST, statements per message)
    #[arg(long)]
    pub database_url: Option<String>,
}

impl Watched {
    /// The CPU counters of the server and MySQL now.
    pub fn probe(&self) -> Probe {
        Probe::take(self.server_pid, self.db_pid)
    }
}
