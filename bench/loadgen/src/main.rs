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
mod rest;
mod stats;
mod sys;
mod verify;

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, oneshot};

use conn::{Cmd, Seat, Shared};

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

/// Source addresses to spread connections over: each has about 28k
/// ephemeral ports on loopback, but Linux gives connect() the even half
/// first and, once that is used up, scans all of it on every connect (the
/// load generator's CPU per connection doubled past 14,000). 10,000 a
/// source stays within the even half.
const PER_SOURCE: usize = 10_000;

#[derive(Parser, Debug)]
#[command(about = "Socket.IO load generator for Samvad (and the Node reference)")]
struct Args {
    /// Server base URL; several (`http://a,http://b`) for several nodes of
    /// one deployment: connection i goes to node i mod N
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
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

#[derive(Deserialize)]
struct SeedOutput {
    data: SeedData,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SeedData {
    tenant_id: String,
    pairs: Vec<SeedPair>,
    /// The group of every seeded participant (`--group`).
    group_id: Option<String>,
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

/// `host:port` of an `http://` or `ws://` base URL.
fn host_port(base: &str) -> anyhow::Result<&str> {
    let base = base.trim_end_matches('/');
    base.strip_prefix("http://")
        .or_else(|| base.strip_prefix("ws://"))
        .context("--url must be http://host:port")
}

fn ws_url(base: &str) -> anyhow::Result<String> {
    Ok(format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket",
        host_port(base)?
    ))
}

/// The server's socket address (the URL's host resolved).
async fn server_addr(base: &str) -> anyhow::Result<SocketAddr> {
    let hp = host_port(base)?;
    if let Ok(addr) = hp.parse() {
        return Ok(addr);
    }
    tokio::net::lookup_host(hp)
        .await?
        .next()
        .with_context(|| format!("{hp} does not resolve"))
}

/// `count` loopback source addresses from 127.0.0.2 on.
fn sources(count: usize, server: SocketAddr) -> anyhow::Result<Vec<IpAddr>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if !server.ip().is_loopback() || !server.is_ipv4() {
        bail!("source addresses are 127.0.0.x: the server must be on 127.0.0.0/8");
    }
    if count > 250 {
        bail!("at most 250 source addresses");
    }
    Ok((0..count)
        .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i as u8)))
        .collect())
}

/// A small xorshift generator: the group scenario's random senders.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
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

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn mib(kib: u64) -> f64 {
    (kib as f64 / 102.4).round() / 10.0
}

/// Whether a step passes: p99 at most `pass_p99_ms`, nothing lost, every
/// send answered with an id or `overloaded` (no other error), nothing
/// delivered twice, no connection dropped, and at least 95% of the offered
/// deliveries delivered.
fn passes(step: &Value, pass_p99_ms: f64) -> bool {
    let other_errors =
        step["ackErrors"].as_u64().unwrap_or(0) > step["refused"].as_u64().unwrap_or(0);
    step["lost"] == 0
        && step["unanswered"] == 0
        && !other_errors
        && step["duplicates"] == 0
        && step["disconnected"] == 0
        && step["latencyMs"]["p99"]
            .as_f64()
            .is_some_and(|p| p <= pass_p99_ms)
        && step["deliveredPerSecond"].as_f64().unwrap_or(0.0)
            >= 0.95 * step["offeredDeliveriesPerSecond"].as_f64().unwrap_or(0.0)
}

/// The highest rate of the steps that pass at `pass_p99_ms`.
fn highest_passing(steps: &[Value], pass_p99_ms: f64) -> Option<f64> {
    steps
        .iter()
        .filter(|s| passes(s, pass_p99_ms))
        .filter_map(|s| s["rate"].as_f64())
        .fold(None, |a: Option<f64>, r| Some(a.map_or(r, |a| a.max(r))))
}

/// One connection per seat, from the seed: pairs seat both parties of each
/// conversation as each other's peers; a group seats every participant in
/// the one group.
fn seats(args: &Args, seed: &SeedData) -> anyhow::Result<Vec<Seat>> {
    let pairs_needed = args.connections.div_ceil(2);
    if args.connections < 2 || pairs_needed > seed.pairs.len() {
        bail!(
            "--connections {} needs {pairs_needed} pairs; the seed has {}",
            args.connections,
            seed.pairs.len()
        );
    }
    let group = match args.scenario {
        Scenario::Group => Some(
            seed.group_id
                .clone()
                .context("the group scenario needs a seed made with --group")?,
        ),
        _ => None,
    };
    let mut seats = Vec::with_capacity(args.connections);
    for (i, pair) in seed.pairs.iter().take(pairs_needed).enumerate() {
        let (a, b) = (2 * i as u32, 2 * i as u32 + 1);
        let conversation = group
            .clone()
            .unwrap_or_else(|| pair.conversation_id.clone());
        let peer = |p| if group.is_some() { None } else { Some(p) };
        seats.push(Seat {
            idx: a,
            peer: peer(b),
            token: pair.user.token.clone(),
            conversation: conversation.clone(),
            source: None,
        });
        seats.push(Seat {
            idx: b,
            peer: peer(a),
            token: pair.astrologer.token.clone(),
            conversation,
            source: None,
        });
    }
    // Pairs keep whole conversations (an odd N rounds up); a group takes N.
    seats.truncate(if group.is_some() {
        args.connections
    } else {
        pairs_needed * 2
    });
    Ok(seats)
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
    // the two ends of a pair are on different nodes.
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
        let (url, node) = &nodes[i % nodes.len()];
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
    let held_by_first = (0..n).filter(|i| up[*i] && i % nodes.len() == 0).count();
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
        hold(&args, &shared, n, connect, failures.len()).await?
    } else {
        sweep(
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

/// The connections scenario: hold every connection `--hold` seconds
/// (pings answered), then report drops and memory.
async fn hold(
    args: &Args,
    shared: &Shared,
    n: usize,
    connect: Value,
    failed: usize,
) -> anyhow::Result<Outcome> {
    let held_at_start = shared.live.load(Ordering::Relaxed);
    let dropped_before = shared.dropped.load(Ordering::Relaxed);
    let pongs_before = shared.pongs.load(Ordering::Relaxed);
    log(&format!(
        "holding {held_at_start} connections for {} s",
        args.hold
    ));
    let start = args.watched.probe();
    let t0 = Instant::now();
    let mut fewest = held_at_start;
    let mut last_log = Instant::now();
    while t0.elapsed().as_secs_f64() < args.hold {
        let left = args.hold - t0.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs_f64(left.clamp(0.0, 1.0))).await;
        fewest = fewest.min(shared.live.load(Ordering::Relaxed));
        if last_log.elapsed().as_secs() >= 30 {
            last_log = Instant::now();
            log(&format!(
                "{:.0} s: {} held, {} dropped, {} pings answered",
                t0.elapsed().as_secs_f64(),
                shared.live.load(Ordering::Relaxed),
                shared.dropped.load(Ordering::Relaxed) - dropped_before,
                shared.pongs.load(Ordering::Relaxed) - pongs_before,
            ));
        }
    }
    let end = args.watched.probe();
    let [server, db, me, _] = start.cores(&end);
    let held_at_end = shared.live.load(Ordering::Relaxed);
    let dropped = shared.dropped.load(Ordering::Relaxed) - dropped_before;
    let rss_end = args.watched.server_pid.and_then(sys::rss_kib);
    let hold = json!({
        "seconds": round1(t0.elapsed().as_secs_f64()),
        "heldAtStart": held_at_start,
        "heldAtEnd": held_at_end,
        "fewestHeld": fewest,
        "dropped": dropped,
        "dropReasons": *shared.drop_reasons.lock().unwrap(),
        "pingsAnswered": shared.pongs.load(Ordering::Relaxed) - pongs_before,
        "cpuCores": { "server": server, "mysql": db, "loadgen": me },
        "serverRssEndMiB": rss_end.map(mib),
        "serverRssPerConnectionEndKiB": match (connect["serverRssBeforeMiB"].as_f64(), rss_end) {
            (Some(before), Some(after)) if held_at_end > 0 =>
                Some(round1((after as f64 - before * 1024.0) / held_at_end as f64)),
            _ => None,
        },
    });
    log(&format!(
        "{}: {held_at_end} of {n} held after {} s, {dropped} dropped, {} failed to open, opened at {}/s, server RSS {} KiB per connection",
        args.label,
        hold["seconds"],
        failed,
        connect["openedPerSecond"],
        connect["serverRssPerConnectionKiB"],
    ));
    let failure = (failed > 0 || dropped > 0).then(|| {
        format!("{failed} connections failed to open and {dropped} were dropped while held")
    });
    let out = json!({
        "label": args.label,
        "scenario": args.scenario.name(),
        "url": args.url,
        "connections": n,
        "dialect": args.dialect,
        "connect": connect,
        "hold": hold,
        "pass": failure.is_none(),
    });
    Ok(Outcome { out, failure })
}

/// The pairs and group scenarios: the sweep of send rates, then the check
/// in MySQL.
async fn sweep(
    args: &Args,
    shared: &Shared,
    seed: &SeedData,
    n: usize,
    channels: &[mpsc::UnboundedSender<Cmd>],
    live_senders: &[usize],
    connect: Value,
) -> anyhow::Result<Outcome> {
    let group = args.scenario == Scenario::Group;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (shared.nanos() | 1));
    let mut steps = Vec::new();
    for (s, rate) in args.rates.iter().copied().enumerate() {
        let stats = &shared.steps[s];
        // Every other connected member hears each message of a group.
        let expected = if group {
            shared.live.load(Ordering::Relaxed).saturating_sub(1).max(1) as u64
        } else {
            1
        };
        stats.expected.store(expected, Ordering::Relaxed);
        let waited = wait_quiet(args).await;
        let total = args.warmup + args.duration;
        let t0 = Instant::now();
        // The step's start on the connections' clock (`Shared::nanos`).
        let t0_nanos = shared.nanos();
        let mut scheduled: u64 = 0;
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
                window = Some((args.watched.probe(), None));
            }
            if elapsed >= total {
                stats.window_open.store(false, Ordering::Relaxed);
                if let Some((_, end)) = window.as_mut() {
                    *end = Some(args.watched.probe());
                }
                break;
            }
            let due = (rate * elapsed) as u64;
            while scheduled < due {
                let at = scheduled as f64 / rate;
                let lag = Duration::from_secs_f64((elapsed - at).max(0.0));
                max_lag = max_lag.max(lag);
                let measured = at >= args.warmup;
                // Pairs: round robin over every connection; a group: a
                // random member each time.
                let target = if group {
                    live_senders[rng.below(live_senders.len())]
                } else {
                    live_senders[scheduled as usize % live_senders.len()]
                };
                let due = t0_nanos + (at * 1e9) as u64;
                let _ = channels[target].send(Cmd::Send {
                    step: s,
                    measured,
                    due,
                });
                scheduled += 1;
            }
        }
        // Drain: wait for answers and deliveries.
        let drain_start = Instant::now();
        while !stats.settled() && drain_start.elapsed().as_secs_f64() < args.drain {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let drained = drain_start.elapsed().as_secs_f64();
        let (start, end) = window.expect("the window opened");
        let end = end.expect("the window closed");
        let [server, db, me, machine] = start.cores(&end);
        let window_secs = end.at.duration_since(start.at).as_secs_f64();
        let per_second = |count: u64| (count as f64 / window_secs).round();
        let lat = stats.latency();
        let ack = stats.ack_latency();
        let loss = stats.lost();
        let sent = stats.sent.load(Ordering::Relaxed);
        let acked = stats.acked_ok.load(Ordering::Relaxed);
        let ack_errors = stats.acked_err.load(Ordering::Relaxed);
        let refused = stats.refused.load(Ordering::Relaxed);
        let in_window = stats.received_in_window.load(Ordering::Relaxed);
        let mut result = json!({
            "rate": rate,
            "connections": n,
            "connectionsHeld": shared.live.load(Ordering::Relaxed),
            "disconnected": shared.dropped.load(Ordering::Relaxed),
            "disconnectReasons": *shared.drop_reasons.lock().unwrap(),
            "warmupSeconds": args.warmup,
            "windowSeconds": (window_secs * 100.0).round() / 100.0,
            "sent": sent,
            "sentInWindowPerSecond": per_second(stats.sent_measured.load(Ordering::Relaxed)),
            "acked": acked,
            // Of the sends in the window: accepted by the server, and
            // refused at once as `overloaded` (past its send bound).
            "acceptedPerSecond": per_second(stats.acked_ok_measured.load(Ordering::Relaxed)),
            "refused": refused,
            "refusedPerSecond": per_second(stats.refused_measured.load(Ordering::Relaxed)),
            "ackErrors": ack_errors,
            "ackErrorCodes": *stats.errors.lock().unwrap(),
            "unanswered": sent.saturating_sub(acked + ack_errors),
            "deliveriesPerMessage": expected,
            "offeredDeliveriesPerSecond": rate * expected as f64,
            "received": stats.received.load(Ordering::Relaxed),
            "echoes": stats.echoes.load(Ordering::Relaxed),
            "deliveredPerSecond": per_second(in_window),
            // Deliveries missing (pairs: messages the peer never got), and
            // the acked messages not delivered to every member.
            "lost": loss.deliveries,
            "lostMessages": loss.messages.len(),
            "lostSample": loss.messages.iter().take(5).map(|(c, n)| format!("{c}:{n}")).collect::<Vec<_>>(),
            "duplicates": loss.duplicates,
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
            "serverRssMiB": args.watched.server_pid.and_then(sys::rss_kib).map(mib),
        });
        result["pass"] = json!(passes(&result, args.pass_p99_ms));
        log(&format!(
            "{}: rate {rate}/s, {} held: accepted {}/s, refused {}/s, delivered {}/s ({expected} per message), p50 {} p95 {} p99 {} ms, lost {}, unanswered {}, other errors {}, cpu server {:?} mysql {:?} loadgen {:?} other {}{}",
            args.label,
            result["connectionsHeld"],
            result["acceptedPerSecond"],
            result["refusedPerSecond"],
            result["deliveredPerSecond"],
            result["latencyMs"]["p50"],
            result["latencyMs"]["p95"],
            result["latencyMs"]["p99"],
            result["lost"],
            result["unanswered"],
            ack_errors - refused,
            server,
            db,
            me,
            result["cpuCores"]["other"],
            if result["pass"] == true { ", pass" } else { "" },
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
    let verification = match &args.watched.database_url {
        Some(url) => {
            let tenant = conn::uuid_bytes(&seed.tenant_id).context("tenantId in the seed")?;
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
    let out = json!({
        "label": args.label,
        "scenario": args.scenario.name(),
        "url": args.url,
        "connections": n,
        "conversations": if group { 1 } else { n / 2 },
        "groupId": if group { seed.group_id.clone() } else { None },
        "dialect": args.dialect,
        "contentChars": args.content,
        "connect": connect,
        "steps": steps,
        "lostTotal": lost_total,
        "passP99Ms": args.pass_p99_ms,
        "highestPassingRate": highest_passing(&steps, args.pass_p99_ms),
        "highestRateWithP99Under50ms": highest_passing(&steps, 50.0),
        "mysql": verification,
    });
    let bad_db = verification.get("error").is_some()
        || verification["missingFromMysql"].as_i64().unwrap_or(0) != 0
        || verification["conversationsWithGaps"].as_i64().unwrap_or(0) != 0;
    let failure = (lost_total > 0 || bad_db).then(|| {
        format!(
            "messages were lost or MySQL does not hold what was acked: {lost_total} deliveries of acked messages missing; mysql check {verification}"
        )
    });
    Ok(Outcome { out, failure })
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
        let before = args.watched.probe();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = args.watched.probe();
        let [server, db, me, machine] = before.cores(&after);
        let other =
            machine.unwrap_or(0.0) - server.unwrap_or(0.0) - db.unwrap_or(0.0) - me.unwrap_or(0.0);
        let neighbours = match &args.watched.database_url {
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
