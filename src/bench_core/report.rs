//! The run's figures as JSON: latency percentiles, CPU per message.

use super::*;

pub(super) fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

/// p50/p90/p95/p99/max and the mean in milliseconds (nearest rank).
pub(super) fn latency(mut micros: Vec<u32>) -> Value {
    if micros.is_empty() {
        return Value::Null;
    }
    micros.sort_unstable();
    let n = micros.len();
    let at = |p: f64| {
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        f64::from(micros[rank.clamp(1, n) - 1]) / 1000.0
    };
    let mean = micros.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64 / 1000.0;
    json!({
        "mean": round(mean, 2),
        "p50": round(at(50.0), 2),
        "p90": round(at(90.0), 2),
        "p95": round(at(95.0), 2),
        "p99": round(at(99.0), 2),
        "max": round(at(100.0), 2),
    })
}

/// A process's CPU over the window: cores, and milliseconds per message.
pub(super) fn cpu(
    pid: Option<u32>,
    before: Option<f64>,
    after: Option<f64>,
    wall: f64,
    messages: u64,
) -> Value {
    match (before, after) {
        (Some(before), Some(after)) => {
            let seconds = after - before;
            json!({
                "pid": pid,
                "cpuSeconds": round(seconds, 2),
                "cores": round(seconds / wall, 2),
                "msPerMessage": round(seconds * 1000.0 / messages.max(1) as f64, 4),
            })
        }
        _ => json!({ "pid": pid, "cpuSeconds": null, "cores": null, "msPerMessage": null }),
    }
}

pub(super) fn report(
    config: &Config,
    args: &CoreArgs,
    probes: &[Probe; 2],
    db_pid: Option<u32>,
    tally: Tally,
    open: Option<OpenFigures>,
    seed_seconds: f64,
    verification: Value,
) -> Value {
    let messages = tally.latencies.len() as u64;
    let wall = (probes[1].at - probes[0].at).as_secs_f64().max(1e-3);
    let [a, b] = probes;
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let busy = a.machine.zip(b.machine).map(|(x, y)| (y - x) / wall);
    // Busy cores that are neither this process nor MySQL: another load on
    // the machine skews the figures.
    let others = busy.map(|busy| {
        let delta = |x: Option<f64>, y: Option<f64>| x.zip(y).map_or(0.0, |(x, y)| y - x);
        round(
            (busy - (delta(a.me, b.me) + delta(a.db, b.db)) / wall).max(0.0),
            2,
        )
    });
    let errors: u64 = tally.errors.values().sum();
    let mut data = json!({
        "tenant": args.tenant,
        "tenants": args.tenants,
        "mode": if open.is_some() { "open" } else { "closed" },
        "description": match &open {
            Some(o) => format!("{} sends/s offered at fixed intervals, round robin over {} in-process senders calling Core::send_message, over {} direct conversations (both sides send); latency from the scheduled time", o.rate, args.concurrency, args.pairs),
            None => format!("{} in-process senders call Core::send_message back to back, over {} direct conversations (both sides send)", args.concurrency, args.pairs),
        },
        "pairs": args.pairs,
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "messages": messages,
        "messagesPerSecond": (messages as f64 / args.seconds as f64).round() as u64,
        "overloaded": tally.overloaded,
        "errors": tally.errors,
        "errorsOutsideWindow": tally.errors_outside,
        "latencyMs": latency(tally.latencies),
        "messagesPerSecondBySlice": tally.slices,
        "warmup": { "seconds": args.warmup_seconds, "messages": tally.warmup_accepted },
        "cpu": {
            "windowSeconds": round(wall, 3),
            "samvad": cpu(Some(std::process::id()), a.me, b.me, wall, messages),
            "mysql": cpu(db_pid, a.db, b.db, wall, messages),
            "machine": {
                "cores": cores,
                "busyCores": busy.map(|x| round(x, 2)),
                "otherProcessesCores": others,
            },
        },
        "database": database(a, b, wall, messages),
        "setup": {
            "seedSeconds": round(seed_seconds, 2),
            "dbMaxConnections": shared_pool_size(config) as usize + config.writers,
            "sendQueue": config.send_queue,
            "writers": config.writers,
            "clientMsgId": true,
            "senderConversations": if args.pairs >= args.concurrency { "own" } else { "shared" },
        },
        "verification": verification,
    });
    if let Some(o) = open {
        data["offeredPerSecond"] = json!(o.rate);
        data["serviceLatencyMs"] = latency(tally.service);
        data["maxBacklog"] = json!(o.max_backlog);
        data["notSent"] = json!(o.not_sent);
    }
    eprintln!(
        "{messages} sends in {} s = {} sends/s; p50 {} ms, p99 {} ms, max {} ms; overloaded {}, errors {errors}; samvad {} cores, mysql {} cores; verification {}",
        args.seconds,
        data["messagesPerSecond"],
        data["latencyMs"]["p50"],
        data["latencyMs"]["p99"],
        data["latencyMs"]["max"],
        tally.overloaded,
        data["cpu"]["samvad"]["cores"],
        data["cpu"]["mysql"]["cores"],
        if data["verification"]["ok"] == true {
            "ok"
        } else {
            "FAILED"
        },
    );
    data
}

/// MariaDB's commits and statements over the window: how large the
/// writers' batches were (a batch is one commit) and what each cost in
/// statements. The whole server's counters: run the bench alone on it.
fn database(a: &Probe, b: &Probe, wall: f64, messages: u64) -> Value {
    let delta = |x: Option<u64>, y: Option<u64>| x.zip(y).map(|(x, y)| y.saturating_sub(x));
    let (commits, statements) = (
        delta(a.commits, b.commits),
        delta(a.statements, b.statements),
    );
    let per_commit = |n: u64| {
        commits
            .filter(|c| *c > 0)
            .map(|c| round(n as f64 / c as f64, 1))
    };
    json!({
        "commits": commits,
        "statements": statements,
        "commitsPerSecond": commits.map(|c| (c as f64 / wall).round() as u64),
        "sendsPerCommit": per_commit(messages),
        "statementsPerCommit": statements.and_then(per_commit),
    })
}
