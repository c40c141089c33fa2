//! Socket.IO load generator (bench/socket_load.sh runs it).
//!
//! Reads the pairs `samvad bench seed --json` printed, opens one websocket
//! per participant (2 per conversation), then for each rate of the sweep
//! sends `dm:send_message` at that total rate for a warm-up and a measured
//! window, spread round robin over every connection (each sends at rate/N),
//! and reports what was delivered: the peer's receive latency, acks, loss
//! (acked but never received), the server's and MySQL's CPU, the server's
//! RSS. At the end every acked message id is looked up in MySQL.

mod conn;
mod stats;
mod sys;
mod verify;

use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::Parser;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, oneshot};

use conn::{Cmd, Seat, Shared};

#[derive(Parser, Debug)]
#[command(about = "Socket.IO load generator for Samvad (and the Node reference)")]
struct Args {
    /// Server base URL
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The JSON `samvad bench seed --pairs P --json` printed
    #[arg(long)]
    seed: String,
    /// Connections to open (2 per conversation; at most 2 x the seeded pairs)
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Total send rates to sweep, messages/s, comma separated
    #[arg(long, value_delimiter = ',', default_value = "100,500,1000")]
    rates: Vec<f64>,
    /// Measured seconds per rate
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Unmeasured seconds at each rate before the measured window
    #[arg(long, default_value_t = 5.0)]
    warmup: f64,
    /// Most seconds to wait after a step for outstanding acks and receipts
    #[arg(long, default_value_t = 30.0)]
    drain: f64,
    /// New connections per second while ramping up
    #[arg(long, default_value_t = 500.0)]
    ramp: f64,
    /// Connection attempts in flight at once while ramping up
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
    /// Seconds to wait after the connections are up (presence and
    /// catch-up settle) before measuring memory and the first step
    #[arg(long, default_value_t = 10.0)]
    settle: f64,
    /// Characters of message content
    #[arg(long, default_value_t = 100)]
    content: usize,
    /// Socket.IO dialect to ask for (`dm`: only the dm:* names)
    #[arg(long, default_value = "dm")]
    dialect: String,
    /// Stop the sweep after a step whose p99 exceeds this many ms (0: never)
    #[arg(long, default_value_t = 0.0)]
    stop_above_p99_ms: f64,
    /// Before each step, wait up to this many seconds for the rest of the
    /// machine to be quiet (< 0.15 cores busy besides the server, MySQL and
    /// this process); the machine may be shared
    #[arg(long, default_value_t = 0.0)]
    wait_quiet: f64,
    /// Server process, for CPU and RSS
    #[arg(long)]
    server_pid: Option<u32>,
    /// MySQL process, for CPU
    #[arg(long)]
    db_pid: Option<u32>,
    /// mysql://... of the database, to check every acked message is stored
    #[arg(long)]
    database_url: Option<String>,
    /// A name for the results (samvad, node)
    #[arg(long, default_value = "samvad")]
    label: String,
    /// Write the JSON results here (also printed to stdout)
    #[arg(long)]
    out: Option<String>,
}

#[derive(Deserialize)]
struct SeedOutput {
    data: SeedData,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SeedData {
    tenant_id: String,
    pairs: Vec<SeedPair>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SeedPair {
    conversation_id: String,
    user: SeedParty,
    astrologer: SeedParty,
}

#[derive(Deserialize)]
struct SeedParty {
    token: String,
}

fn ws_url(base: &str) -> anyhow::Result<String> {
    let base = base.trim_end_matches('/');
    let rest = base
        .strip_prefix("http://")
        .map(|r| format!("ws://{r}"))
        .or_else(|| base.strip_prefix("ws://").map(|r| format!("ws://{r}")))
        .context("--url must be http://host:port")?;
    Ok(format!("{rest}/socket.io/?EIO=4&transport=websocket"))
}

fn ms(us: u64) -> f64 {
    (us as f64 / 10.0).round() / 100.0
}

fn summary(h: &hdrhistogram::Histogram<u64>) -> Value {
    if h.is_empty() {
        return Value::Null;
    }
    json!({
        "p50": ms(h.value_at_quantile(0.50)),
        "p95": ms(h.value_at_quantile(0.95)),
        "p99": ms(h.value_at_quantile(0.99)),
        "p999": ms(h.value_at_quantile(0.999)),
        "max": ms(h.max()),
        "mean": (h.mean() / 10.0).round() / 100.0,
    })
}

fn log(line: &str) {
    eprintln!("[loadgen] {line}");
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Two workers: the machine this runs on is small, and the load
    // generator must leave the server and MySQL their share.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let seed: SeedOutput = serde_json::from_str(
        &std::fs::read_to_string(&args.seed).with_context(|| format!("reading {}", args.seed))?,
    )
    .context("the seed file is not `samvad bench seed --json` output")?;
    let pairs_needed = args.connections.div_ceil(2);
    if args.connections < 2 || pairs_needed > seed.data.pairs.len() {
        bail!(
            "--connections {} needs {pairs_needed} pairs; the seed has {}",
            args.connections,
            seed.data.pairs.len()
        );
    }
    let mut seats = Vec::with_capacity(args.connections);
    for (i, pair) in seed.data.pairs.iter().take(pairs_needed).enumerate() {
        let (a, b) = (2 * i as u32, 2 * i as u32 + 1);
        seats.push(Seat {
            idx: a,
            peer: b,
            token: pair.user.token.clone(),
            conversation: pair.conversation_id.clone(),
        });
        seats.push(Seat {
            idx: b,
            peer: a,
            token: pair.astrologer.token.clone(),
            conversation: pair.conversation_id.clone(),
        });
    }
    seats.truncate(pairs_needed * 2);
    let n = seats.len();
    let url = ws_url(&args.url)?;
    let shared = Arc::new(Shared {
        start: Instant::now(),
        steps: args.rates.iter().map(|_| stats::Step::new()).collect(),
        run: format!(
            "{:x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis()
        ),
        content_len: args.content,
        dialect: args.dialect.clone(),
        live: Default::default(),
        dropped: Default::default(),
        drop_reasons: Default::default(),
    });

    // ---- ramp up
    let rss_before = args.server_pid.and_then(sys::rss_kib);
    let ramp_start = Instant::now();
    let before_connect = sys::Probe::take(args.server_pid, args.db_pid);
    let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let mut senders = Vec::with_capacity(n);
    let mut readies = Vec::with_capacity(n);
    let mut tasks = Vec::with_capacity(n);
    for (i, seat) in seats.into_iter().enumerate() {
        let due = ramp_start + Duration::from_secs_f64(i as f64 / args.ramp.max(1.0));
        tokio::time::sleep_until(due.into()).await;
        let permit = gate.clone().acquire_owned().await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let (watch_tx, watch_rx) = oneshot::channel();
        tasks.push(tokio::spawn(conn::run(
            url.clone(),
            seat,
            shared.clone(),
            rx,
            ready_tx,
        )));
        // Release the permit when this connection is up (or failed).
        tokio::spawn(async move {
            let result = ready_rx.await.unwrap_or_else(|_| Err("task ended".into()));
            drop(permit);
            let _ = watch_tx.send(result);
        });
        senders.push(tx);
        readies.push(watch_rx);
        if (i + 1) % 1000 == 0 {
            log(&format!(
                "{} connections started, {} up",
                i + 1,
                shared.live.load(Ordering::Relaxed)
            ));
        }
    }
    let mut failures = Vec::new();
    let mut up = vec![false; n];
    for (i, ready) in readies.into_iter().enumerate() {
        match ready.await {
            Ok(Ok(())) => up[i] = true,
            Ok(Err(err)) => failures.push(err),
            Err(_) => failures.push("task ended".into()),
        }
    }
    let connect_seconds = ramp_start.elapsed().as_secs_f64();
    let after_connect = sys::Probe::take(args.server_pid, args.db_pid);
    log(&format!(
        "{} of {n} connections up in {connect_seconds:.1} s ({} failed{})",
        shared.live.load(Ordering::Relaxed),
        failures.len(),
        failures
            .first()
            .map(|f| format!(", e.g. {f}"))
            .unwrap_or_default()
    ));
    // Let catch-up and presence settle before measuring memory.
    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    let rss_after = args.server_pid.and_then(sys::rss_kib);
    let held = shared.live.load(Ordering::Relaxed);
    let per_conn = match (rss_before, rss_after) {
        (Some(a), Some(b)) if held > 0 => {
            Some(((b as f64 - a as f64) / held as f64 * 10.0).round() / 10.0)
        }
        _ => None,
    };
    let live_senders: Vec<usize> = (0..n).filter(|i| up[*i]).collect();
    if live_senders.is_empty() {
        bail!("no connection came up");
    }

    // ---- the sweep
    let mut steps = Vec::new();
    for (s, rate) in args.rates.iter().copied().enumerate() {
        let stats = &shared.steps[s];
        let waited = wait_quiet(&args).await;
        let total = args.warmup + args.duration;
        let t0 = Instant::now();
        let mut scheduled: u64 = 0;
        let mut rr = 0usize;
        let mut max_lag = Duration::ZERO;
        let mut window: Option<(sys::Probe, Option<sys::Probe>)> = None;
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let elapsed = t0.elapsed().as_secs_f64();
            if window.is_none() && elapsed >= args.warmup {
                stats.window_start.store(shared.nanos(), Ordering::Relaxed);
                stats.window_open.store(true, Ordering::Relaxed);
                window = Some((sys::Probe::take(args.server_pid, args.db_pid), None));
            }
            if elapsed >= total {
                stats.window_open.store(false, Ordering::Relaxed);
                if let Some((start, end)) = window.as_mut() {
                    let _ = start;
                    *end = Some(sys::Probe::take(args.server_pid, args.db_pid));
                }
                break;
            }
            let due = (rate * elapsed) as u64;
            while scheduled < due {
                let at = scheduled as f64 / rate;
                let lag = Duration::from_secs_f64((elapsed - at).max(0.0));
                max_lag = max_lag.max(lag);
                let measured = at >= args.warmup;
                let target = live_senders[rr % live_senders.len()];
                rr += 1;
                let _ = senders[target].send(Cmd::Send { step: s, measured });
                scheduled += 1;
            }
        }
        // Drain: wait for answers and receipts.
        let drain_start = Instant::now();
        while !stats.settled() && drain_start.elapsed().as_secs_f64() < args.drain {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let drained = drain_start.elapsed().as_secs_f64();
        let (start, end) = window.expect("the window opened");
        let end = end.expect("the window closed");
        let [server, db, me, machine] = start.cores(&end);
        let window_secs = end.at.duration_since(start.at).as_secs_f64();
        let lat = stats.latency();
        let ack = stats.ack_latency();
        let lost = stats.lost();
        let sent = stats.sent.load(Ordering::Relaxed);
        let acked = stats.acked_ok.load(Ordering::Relaxed);
        let ack_errors = stats.acked_err.load(Ordering::Relaxed);
        let in_window = stats.received_in_window.load(Ordering::Relaxed);
        let result = json!({
            "rate": rate,
            "connections": n,
            "connectionsHeld": shared.live.load(Ordering::Relaxed),
            "disconnected": shared.dropped.load(Ordering::Relaxed),
            "disconnectReasons": *shared.drop_reasons.lock().unwrap(),
            "warmupSeconds": args.warmup,
            "windowSeconds": (window_secs * 100.0).round() / 100.0,
            "sent": sent,
            "sentInWindowPerSecond": (stats.sent_measured.load(Ordering::Relaxed) as f64 / window_secs).round(),
            "acked": acked,
            "ackErrors": ack_errors,
            "ackErrorCodes": *stats.errors.lock().unwrap(),
            "unanswered": sent.saturating_sub(acked + ack_errors),
            "received": stats.received.load(Ordering::Relaxed),
            "echoes": stats.echoes.load(Ordering::Relaxed),
            "deliveredPerSecond": (in_window as f64 / window_secs).round(),
            "lost": lost.len(),
            "lostSample": lost.iter().take(5).map(|(c, n)| format!("{c}:{n}")).collect::<Vec<_>>(),
            "latencyMs": summary(&lat),
            "ackLatencyMs": summary(&ack),
            "drainSeconds": (drained * 100.0).round() / 100.0,
            "schedulerMaxLagMs": (max_lag.as_secs_f64() * 1e5).round() / 100.0,
            "cpuCores": {
                "server": server,
                "mysql": db,
                "loadgen": me,
                "machine": machine,
                // Everything else on the machine (other work, kernel time
                // not charged to these processes).
                "other": match (server, db, me, machine) {
                    (Some(s), Some(d), Some(m), Some(all)) => Some(((all - s - d - m) * 100.0).round() / 100.0),
                    _ => None,
                },
            },
            "timeline": stats.timeline(),
            "waitedForQuietSeconds": waited,
            "serverRssMiB": args.server_pid.and_then(sys::rss_kib).map(|k| (k as f64 / 1024.0 * 10.0).round() / 10.0),
        });
        log(&format!(
            "{}: rate {rate}/s, {} held: delivered {}/s, p50 {} p95 {} p99 {} ms, lost {}, unanswered {}, errors {}, cpu server {:?} mysql {:?} loadgen {:?} other {}",
            args.label,
            result["connectionsHeld"],
            result["deliveredPerSecond"],
            result["latencyMs"]["p50"],
            result["latencyMs"]["p95"],
            result["latencyMs"]["p99"],
            result["lost"],
            result["unanswered"],
            ack_errors,
            server,
            db,
            me,
            result["cpuCores"]["other"],
        ));
        let p99 = result["latencyMs"]["p99"].as_f64().unwrap_or(f64::INFINITY);
        steps.push(result);
        if args.stop_above_p99_ms > 0.0 && p99 > args.stop_above_p99_ms {
            log(&format!(
                "p99 {p99} ms is over {} ms: stopping the sweep",
                args.stop_above_p99_ms
            ));
            break;
        }
    }

    // ---- verification in MySQL
    let verification = match &args.database_url {
        Some(url) => {
            let tenant = conn::uuid_bytes(&seed.data.tenant_id).context("tenantId in the seed")?;
            let ids: Vec<[u8; 16]> = shared.steps.iter().flat_map(|s| s.acked_ids()).collect();
            match verify::check(url, tenant, &ids).await {
                Ok(v) => v,
                Err(err) => json!({ "error": err.to_string() }),
            }
        }
        None => Value::Null,
    };
    if !verification.is_null() {
        log(&format!("mysql: {verification}"));
    }
    let lost_total: u64 = steps.iter().map(|s| s["lost"].as_u64().unwrap_or(0)).sum();
    let best = steps
        .iter()
        .filter(|s| {
            s["lost"] == 0
                && s["unanswered"] == 0
                && s["latencyMs"]["p99"].as_f64().is_some_and(|p| p <= 50.0)
                && s["deliveredPerSecond"].as_f64().unwrap_or(0.0)
                    >= 0.95 * s["rate"].as_f64().unwrap_or(0.0)
        })
        .map(|s| s["rate"].as_f64().unwrap_or(0.0))
        .fold(None, |a: Option<f64>, r| Some(a.map_or(r, |a| a.max(r))));
    let [cs, cd, cm, _] = before_connect.cores(&after_connect);
    let out = json!({
        "label": args.label,
        "url": args.url,
        "connections": n,
        "conversations": n / 2,
        "dialect": args.dialect,
        "contentChars": args.content,
        "connect": {
            "seconds": (connect_seconds * 10.0).round() / 10.0,
            "held": held,
            "failed": failures.len(),
            "failures": failures.iter().take(5).collect::<Vec<_>>(),
            "cpuCores": { "server": cs, "mysql": cd, "loadgen": cm },
            "serverRssBeforeMiB": rss_before.map(|k| (k as f64 / 102.4).round() / 10.0),
            "serverRssAfterMiB": rss_after.map(|k| (k as f64 / 102.4).round() / 10.0),
            "serverRssPerConnectionKiB": per_conn,
        },
        "steps": steps,
        "lostTotal": lost_total,
        "highestRateWithP99Under50ms": best,
        "mysql": verification,
    });
    let text = serde_json::to_string_pretty(&out)?;
    if let Some(path) = &args.out {
        std::fs::write(path, &text).with_context(|| format!("writing {path}"))?;
    }
    println!("{text}");

    for tx in &senders {
        let _ = tx.send(Cmd::Close);
    }
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    let bad_db = verification["missingFromMysql"].as_i64().unwrap_or(0) != 0
        || verification["conversationsWithGaps"].as_i64().unwrap_or(0) != 0;
    if lost_total > 0 || bad_db {
        bail!(
            "messages were lost: {lost_total} acked but not received; mysql check {verification}"
        );
    }
    Ok(())
}

/// Waits (up to `--wait-quiet` seconds) until everything on the machine
/// besides the server, MySQL and the load generator keeps less than 0.15
/// cores busy over 2 s, and (with `--database-url`) no client of another
/// database is running a statement on the same MySQL server (a test suite
/// next door makes MySQL's CPU and locks ours too). Returns the seconds
/// waited.
async fn wait_quiet(args: &Args) -> f64 {
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < args.wait_quiet {
        let before = sys::Probe::take(args.server_pid, args.db_pid);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = sys::Probe::take(args.server_pid, args.db_pid);
        let [server, db, me, machine] = before.cores(&after);
        let other =
            machine.unwrap_or(0.0) - server.unwrap_or(0.0) - db.unwrap_or(0.0) - me.unwrap_or(0.0);
        let neighbours = match &args.database_url {
            Some(url) => verify::other_clients(url).await.unwrap_or(0),
            None => 0,
        };
        if other < 0.15 && neighbours == 0 {
            break;
        }
        log(&format!(
            "the machine is busy ({other:.2} cores besides ours, {neighbours} statements of other databases in MySQL): waiting"
        ));
    }
    (start.elapsed().as_secs_f64() * 10.0).round() / 10.0
}
