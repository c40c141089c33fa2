//! Socket.IO load generator (bench/socket_load.sh runs it).
//!
//! Reads the pairs `samvad bench seed --json` printed and opens one
//! websocket per participant. Then, by `--scenario`:
//!
//! - `pairs` (default): 2 connections per one-to-one conversation; for each
//!   rate of the sweep it sends `dm:send_message` at that total rate for a
//!   warm-up and a measured window, spread round robin over every
//!   connection (each sends at rate/N), and reports what was delivered: the
//!   peer's receive latency, acks (accepted, refused as `overloaded`),
//!   loss (acked but never received), the server's and MySQL's CPU, the
//!   server's RSS.
//! - `group`: every connection is a member of one group (the seed's
//!   `--group`); each message goes from a randomly picked member and must
//!   reach every other connected member: the sweep reports deliveries per
//!   second, latency over all deliveries, and deliveries lost.
//! - `connections`: no sends; opens the connections at `--ramp` a second
//!   from round-robin loopback source addresses (127.0.0.2, ...: about 28k
//!   ephemeral ports each), holds them `--hold` seconds answering pings,
//!   and reports the achieved open rate, handshake times, connections
//!   dropped, and the server's RSS per connection.
//!
//! After a sweep every acked message id is looked up in MySQL.
//!
//! `samvad-loadgen rest ...` is another tool: the REST sends of
//! `bench/run.sh --concurrency N` (see rest.rs, `rest --help`).

mod conn;
mod hold;
mod net;
mod rest;
mod seed;
mod stats;
mod sweep;
mod sys;
mod verify;

use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, oneshot};

use conn::{Cmd, Shared};
use net::{PER_SOURCE, server_addr, sources, ws_url};
use seed::{SeedOutput, seats};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// One-to-one conversations, 2 connections each
    Pairs,
    /// One group of every connection, random senders
    Group,
    /// Open and hold connections, no sends
    Connections,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::Pairs => "pairs",
            Self::Group => "group",
            Self::Connections => "connections",
        }
    }
}

#[derive(Parser, Debug)]
#[command(about = "Socket.IO load generator for Samvad (and the Node reference)")]
struct Args {
    /// Server base URL; several (`http://a,http://b`) for several nodes of
    /// one deployment: connection i goes to node i mod N
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// With several nodes, put both ends of a pair on one node (pair k on
    /// node k mod N), so that no message crosses between nodes
    #[arg(long)]
    pairs_together: bool,
    /// The JSON `samvad bench seed --pairs P --json` printed (with
    /// `--group` for the group scenario)
    #[arg(long)]
    seed: String,
    /// What to do with the connections
    #[arg(long, value_enum, default_value_t = Scenario::Pairs)]
    scenario: Scenario,
    /// Connections to open (one per seeded participant: at most 2 x the
    /// seeded pairs)
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
    /// A step passes with p99 at most this many ms, nothing lost, every send
    /// answered and at least 95% of the offered deliveries delivered
    #[arg(long, default_value_t = 50.0)]
    pass_p99_ms: f64,
    /// Seconds to hold the connections (the connections scenario)
    #[arg(long, default_value_t = 300.0)]
    hold: f64,
    /// Loopback source addresses to connect from, round robin: 127.0.0.2,
    /// 127.0.0.3, ... (0: the kernel's choice). Default: ceil(N/10000) in
    /// the connections scenario or past 10,000 connections, otherwise 0
    #[arg(long)]
    source_addresses: Option<usize>,
    /// Before each step, wait up to this many seconds for the rest of the
    /// machine to be quiet (< 0.15 cores busy besides the server, MySQL and
    /// this process); the machine may be shared
    #[arg(long, default_value_t = 0.0)]
    wait_quiet: f64,
    #[command(flatten)]
    watched: sys::Watched,
    /// A name for the results (samvad, node)
    #[arg(long, default_value = "samvad")]
    label: String,
    /// Write the JSON results here (also printed to stdout)
    #[arg(long)]
    out: Option<String>,
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
    if std::env::args().nth(1).as_deref() == Some("rest") {
        return rest::main(std::env::args().skip(1));
    }
    let args = Args::parse();
    // Two workers: the machine this runs on is small, and the load
    // generator must leave the server and MySQL their share.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

/// Which node (before `mod N`) connection `i` goes to.
fn node_of(i: usize, pairs_together: bool) -> usize {
    if pairs_together { i / 2 } else { i }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn mib(kib: u64) -> f64 {
    (kib as f64 / 102.4).round() / 10.0
}

async fn run(args: Args) -> anyhow::Result<()> {
    let seed: SeedOutput = serde_json::from_str(
        &std::fs::read_to_string(&args.seed).with_context(|| format!("reading {}", args.seed))?,
    )
    .context("the seed file is not `samvad bench seed --json` output")?;
    let mut seats = seats(&args, &seed.data)?;
    let n = seats.len();
    let nofile = sys::raise_nofile().context("raising RLIMIT_NOFILE")?;
    if (nofile as usize) < n + 100 {
        bail!(
            "RLIMIT_NOFILE is {nofile} even raised to the hard limit: too few for {n} connections"
        );
    }
    // Several nodes (`--url A,B`): connection i goes to node i mod N, so
    // the two ends of a pair are on different nodes (with
    // `--pairs-together`, pair i/2 goes to node (i/2) mod N).
    let mut nodes = Vec::new();
    for base in args.url.split(',') {
        nodes.push((ws_url(base)?, server_addr(base).await?));
    }
    let server = nodes[0].1;
    let source_count = args.source_addresses.unwrap_or(
        if args.scenario == Scenario::Connections || n > PER_SOURCE {
            n.div_ceil(PER_SOURCE)
        } else {
            0
        },
    );
    let sources = sources(source_count, server)?;
    for (i, seat) in seats.iter_mut().enumerate() {
        seat.source = sources.get(i % sources.len().max(1)).copied();
    }
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
        pongs: Default::default(),
        handshake: std::sync::Mutex::new(
            hdrhistogram::Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds"),
        ),
    });
    if !sources.is_empty() {
        log(&format!(
            "connecting from {} source addresses ({}..{})",
            sources.len(),
            sources[0],
            sources[sources.len() - 1]
        ));
    }

    // ---- ramp up
    let rss_before = args.watched.server_pid.and_then(sys::rss_kib);
    let ramp_start = Instant::now();
    let before_connect = args.watched.probe();
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
        let (url, node) = &nodes[node_of(i, args.pairs_together) % nodes.len()];
        tasks.push(tokio::spawn(conn::run(
            url.clone(),
            *node,
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
    let after_connect = args.watched.probe();
    let opened = up.iter().filter(|u| **u).count();
    log(&format!(
        "{} of {n} connections up in {connect_seconds:.1} s, {:.0}/s ({} failed{})",
        shared.live.load(Ordering::Relaxed),
        opened as f64 / connect_seconds.max(1e-9),
        failures.len(),
        failures
            .first()
            .map(|f| format!(", e.g. {f}"))
            .unwrap_or_default()
    ));
    // Let catch-up and presence settle before measuring memory.
    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    let rss_after = args.watched.server_pid.and_then(sys::rss_kib);
    let held = shared.live.load(Ordering::Relaxed);
    // The RSS is the first node's: over the connections it holds (every
    // node's `i mod nodes`).
    let held_by_first = (0..n)
        .filter(|i| up[*i] && node_of(*i, args.pairs_together).is_multiple_of(nodes.len()))
        .count();
    let per_conn = match (rss_before, rss_after) {
        (Some(a), Some(b)) if held_by_first > 0 => {
            Some(round1((b as f64 - a as f64) / held_by_first as f64))
        }
        _ => None,
    };
    let live_senders: Vec<usize> = (0..n).filter(|i| up[*i]).collect();
    if live_senders.is_empty() {
        bail!("no connection came up");
    }
    let [cs, cd, cm, _] = before_connect.cores(&after_connect);
    let connect = json!({
        "seconds": round1(connect_seconds),
        "targetOpenRate": args.ramp,
        "openedPerSecond": (opened as f64 / connect_seconds.max(1e-9)).round(),
        "concurrency": args.connect_concurrency,
        "sourceAddresses": sources.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        "held": held,
        "failed": failures.len(),
        "failures": failures.iter().take(5).collect::<Vec<_>>(),
        "handshakeMs": summary(&shared.handshake.lock().unwrap()),
        "cpuCores": { "server": cs, "mysql": cd, "loadgen": cm },
        "serverRssBeforeMiB": rss_before.map(mib),
        "serverRssAfterMiB": rss_after.map(mib),
        "serverRssPerConnectionKiB": per_conn,
    });

    let outcome = if args.scenario == Scenario::Connections {
        hold::hold(&args, &shared, n, connect, failures.len()).await?
    } else {
        sweep::sweep(
            &args,
            &shared,
            &seed.data,
            n,
            &senders,
            &live_senders,
            connect,
        )
        .await?
    };
    let text = serde_json::to_string_pretty(&outcome.out)?;
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
    if let Some(failure) = outcome.failure {
        bail!(failure);
    }
    Ok(())
}

/// The JSON results, and why the run failed if it did.
struct Outcome {
    out: Value,
    failure: Option<String>,
}
