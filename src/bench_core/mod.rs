//! `samvad bench core`: the ceiling of the core and MySQL alone, without
//! HTTP or Socket.IO, to set beside the socket and REST benchmarks.
//! Development only: refused when `SAMVAD_ENV=production`.
//!
//! It seeds `--pairs` user-astrologer pairs in direct conversations with
//! `bench seed`'s own code (which also lifts the tenant's send limit), turns
//! each participant's access token into an [`Actor`] as the API does
//! ([`Auth::authenticate`]), and then calls [`Core::send_message`] in this
//! process from `--concurrency C` senders for `--warmup-seconds` and then
//! `--seconds S` measured:
//! - closed loop (the default): each sender sends its next message as soon
//!   as the previous one is answered. Sender `i` has the pairs `i`, `i + C`,
//!   `i + 2C`... and goes round them, the user and the astrologer taking
//!   turns in each conversation; with fewer pairs than senders, sender `i`
//!   has pair `i mod pairs` (then several senders share a conversation).
//!   After an `overloaded` refusal (the core's send queue,
//!   `SAMVAD_SEND_QUEUE`, is full) a sender waits 1 ms rather than spin.
//! - `--rate R`: open loop. Arrival `k` is due at `start + k / R` and goes
//!   to sender `k mod C`, which sends its arrivals in order, one at a time.
//!   Latency counts from the scheduled time (queueing included); the call
//!   alone is `serviceLatencyMs`, the deepest queue `maxBacklog`. After the
//!   window the queues drain for up to max(10, S) seconds; the window's
//!   arrivals still queued then are `notSent`.
//!
//! Counted are the sends started (closed loop) or due (open loop) within
//! the measured window. Each message has a unique `clientMsgId`. Printed
//! as JSON: sends a second, the latency of `send_message` (p50, p90, p95,
//! p99, max), `overloaded` refusals apart from the other errors by code,
//! the CPU of this process and of MySQL (utime + stime from
//! `/proc/PID/stat` over the window; MySQL is the first `mariadbd` or
//! `mysqld` in `/proc`, or `--db-pid`) in cores and in milliseconds per
//! message, and the whole machine's busy cores (`/proc/stat`). MySQL's
//! CPU counts all its clients: keep it otherwise quiet.
//!
//! Last, the verification, read from the database: each conversation must
//! hold seq 1..N without gaps (N its `last_seq`), the id each send was
//! acknowledged with at its seq, and as many messages as were acknowledged
//! (plus those it held before); over all conversations, stored = acked.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

mod probe;
mod verify;

use clap::Args;
use serde_json::{Value, json};
use sqlx::QueryBuilder;
use tokio::{sync::mpsc, task::JoinSet, time::sleep_until};

use self::{
    probe::{Probe, find_db_pid, window_probes},
    verify::{stored, verify},
};
use crate::{
    auth::Auth,
    bench_seed,
    config::{Config, Environment},
    db::{self, Pool},
    domain::{
        Actor, ConversationId, Core, MessageId, TenantId,
        message::{MessageType, SendInput},
    },
    error::{AppError, AppResult},
    state,
};

/// Most concurrent senders.
const MAX_CONCURRENCY: usize = 10_000;

/// Longest measured window and warm-up, in seconds.
const MAX_SECONDS: u64 = 3_600;

/// `USER_HZ`: the unit of the times in `/proc/PID/stat` and `/proc/stat`
/// (100 on every Linux architecture that Samvad runs on).
const CLOCK_TICKS: f64 = 100.0;

/// Conversations per verification query.
const VERIFY_CHUNK: usize = 500;

#[derive(Args)]
pub struct CoreArgs {
    /// Tenant slug; created when missing
    #[arg(long, default_value = "bench")]
    tenant: String,
    /// How many user-astrologer pairs (one direct conversation each)
    #[arg(long, default_value_t = 100)]
    pairs: usize,
    /// Concurrent senders
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Measured seconds
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds of the same load before the measured window
    #[arg(long, default_value_t = 3)]
    warmup_seconds: u64,
    /// Open loop: this many sends a second in total, at fixed intervals
    /// (without it: closed loop, each sender sends back to back)
    #[arg(long)]
    rate: Option<u32>,
    /// MySQL's process id, for its CPU (default: the first `mariadbd` or
    /// `mysqld` found in /proc)
    #[arg(long)]
    db_pid: Option<u32>,
    /// Print the JSON envelope `{"success": true, "data": ...}` on one line
    #[arg(long)]
    json: bool,
}

impl CoreArgs {
    pub fn json(&self) -> bool {
        self.json
    }
}

/// Runs `bench core`: the report as JSON data, and the same pretty-printed.
pub async fn run(config: &Config, args: CoreArgs) -> AppResult<(Value, String)> {
    if config.env == Environment::Production {
        return Err(AppError::forbidden(
            "bench core is for development databases; it is refused when SAMVAD_ENV=production",
        ));
    }
    validate(&args)?;
    let pool = db::prepare(
        config.database_url.expose(),
        config
            .db_max_connections
            .max(bench_seed::IN_FLIGHT as u32 + 2),
    )
    .await
    .map_err(AppError::Internal)?;
    let core = state::build_core(config, pool.clone()).map_err(AppError::Internal)?;
    let result = match Auth::new(core.clone(), config).await {
        Ok(auth) => bench(config, &core, &auth, &pool, &args).await,
        Err(err) => Err(AppError::Internal(err)),
    };
    // Stops the writer once it has written what it holds, closes the pool.
    core.close(Duration::from_secs(10)).await;
    let data = result?;
    let text = serde_json::to_string_pretty(&data).unwrap_or_default();
    Ok((data, text))
}

fn validate(args: &CoreArgs) -> AppResult<()> {
    if !(1..=bench_seed::MAX_PAIRS).contains(&args.pairs) {
        return Err(AppError::validation(format!(
            "--pairs must be 1-{}",
            bench_seed::MAX_PAIRS
        )));
    }
    if !(1..=MAX_CONCURRENCY).contains(&args.concurrency) {
        return Err(AppError::validation(format!(
            "--concurrency must be 1-{MAX_CONCURRENCY}"
        )));
    }
    if !(1..=MAX_SECONDS).contains(&args.seconds) || args.warmup_seconds > MAX_SECONDS {
        return Err(AppError::validation(format!(
            "--seconds must be 1-{MAX_SECONDS} and --warmup-seconds 0-{MAX_SECONDS}"
        )));
    }
    if args.rate == Some(0) {
        return Err(AppError::validation("--rate must be at least 1"));
    }
    Ok(())
}

/// One seeded conversation and its two sides, acting through their tokens.
struct Conversation {
    id: ConversationId,
    /// The user and the astrologer.
    sides: [Actor; 2],
}

/// What every sender reads.
struct Plan {
    core: Core,
    conversations: Vec<Conversation>,
    /// `clientMsgId` prefix, unique to this run.
    run: String,
    /// The measured window, `[t0, t1)`.
    t0: Instant,
    t1: Instant,
    seconds: usize,
    open: bool,
}

/// One acknowledged send.
struct Ack {
    conversation: usize,
    seq: u64,
    id: MessageId,
}

/// What one sender saw.
#[derive(Default)]
struct Tally {
    /// Accepted sends of the window: latency in microseconds (open loop:
    /// from the scheduled time).
    latencies: Vec<u32>,
    /// Open loop: accepted sends of the window, microseconds of the call.
    service: Vec<u32>,
    /// Accepted sends of the window by second.
    slices: Vec<u64>,
    overloaded: u64,
    /// Other errors of the window, by code.
    errors: BTreeMap<&'static str, u64>,
    /// Errors before or after the window (their messages may be stored).
    errors_outside: u64,
    warmup_accepted: u64,
    /// Every acknowledged send, window or not, for the verification.
    acks: Vec<Ack>,
    /// Open loop: the window's arrivals abandoned after the drain.
    not_sent: u64,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.service.extend(other.service);
        if self.slices.len() < other.slices.len() {
            self.slices.resize(other.slices.len(), 0);
        }
        for (slot, n) in self.slices.iter_mut().zip(other.slices) {
            *slot += n;
        }
        self.overloaded += other.overloaded;
        for (code, n) in other.errors {
            *self.errors.entry(code).or_default() += n;
        }
        self.errors_outside += other.errors_outside;
        self.warmup_accepted += other.warmup_accepted;
        self.acks.extend(other.acks);
        self.not_sent += other.not_sent;
    }
}

/// One sender: its index, its conversations, how many it has sent.
struct Sender {
    index: usize,
    conversations: Vec<usize>,
    sent: u64,
    tally: Tally,
}

impl Sender {
    fn new(index: usize, concurrency: usize, pairs: usize, seconds: usize) -> Self {
        let conversations = if pairs >= concurrency {
            (index..pairs).step_by(concurrency).collect()
        } else {
            vec![index % pairs]
        };
        Self {
            index,
            conversations,
            sent: 0,
            tally: Tally {
                slices: vec![0; seconds],
                ..Tally::default()
            },
        }
    }

    /// Sends the next message, counted by `at` (when it started, or in the
    /// open loop when it was due). False if it was refused as overloaded.
    async fn send(&mut self, plan: &Plan, at: Instant) -> bool {
        let n = self.sent;
        self.sent += 1;
        // Round the sender's conversations; each round the other side speaks.
        let rounds = self.conversations.len() as u64;
        let conversation = self.conversations[(n % rounds) as usize];
        let side = ((n / rounds) % 2) as usize;
        let target = &plan.conversations[conversation];
        let input = SendInput {
            kind: MessageType::Text,
            content: Some(format!(
                "bench core {} {n}: the stars are aligned for a quick reply",
                self.index
            )),
            media_url: None,
            metadata: None,
            reply_to: None,
            client_msg_id: Some(format!("{}-s{}-{n}", plan.run, self.index)),
        };
        let started = Instant::now();
        let result = plan
            .core
            .send_message(&target.sides[side], target.id, input)
            .await;
        let end = Instant::now();
        let tally = &mut self.tally;
        let in_window = at >= plan.t0 && at < plan.t1;
        match result {
            Ok(message) => {
                tally.acks.push(Ack {
                    conversation,
                    seq: message.seq,
                    id: message.id,
                });
                if in_window {
                    tally.latencies.push(micros(end - at));
                    if plan.open {
                        tally.service.push(micros(end - started));
                    }
                    let second = (at - plan.t0).as_secs() as usize;
                    if let Some(slot) = tally.slices.get_mut(second.min(plan.seconds - 1)) {
                        *slot += 1;
                    }
                } else if at < plan.t0 {
                    tally.warmup_accepted += 1;
                }
                true
            }
            Err(err) if err.code() == "overloaded" => {
                if in_window {
                    tally.overloaded += 1;
                }
                false
            }
            Err(err) => {
                if in_window {
                    *tally.errors.entry(err.code()).or_default() += 1;
                } else {
                    tally.errors_outside += 1;
                }
                true
            }
        }
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

async fn bench(
    config: &Config,
    core: &Core,
    auth: &Auth,
    pool: &Pool,
    args: &CoreArgs,
) -> AppResult<Value> {
    let slug = crate::domain::values::Slug::parse(&args.tenant)?;
    let (seeded, seed_text) = bench_seed::seed(core, auth, &slug, args.pairs, false).await?;
    eprintln!("{seed_text}");
    let tenant: TenantId = serde_json::from_value(seeded["tenantId"].clone())
        .map_err(|err| AppError::Internal(err.into()))?;
    let conversations = actors(auth, &seeded).await?;
    let before = stored(pool, tenant, &conversations).await?;

    let db_pid = args.db_pid.or_else(find_db_pid);
    let start = Instant::now();
    let t0 = start + Duration::from_secs(args.warmup_seconds);
    let t1 = t0 + Duration::from_secs(args.seconds);
    let plan = Arc::new(Plan {
        core: core.clone(),
        conversations,
        run: uuid::Uuid::now_v7().simple().to_string()[20..].to_owned(),
        t0,
        t1,
        seconds: args.seconds as usize,
        open: args.rate.is_some(),
    });
    let c = args.concurrency;
    eprintln!(
        "{}: {c} senders over {} conversations, {} s warm-up, {} s measured",
        match args.rate {
            Some(rate) => format!("open loop at {rate} sends/s"),
            None => "closed loop".to_owned(),
        },
        args.pairs,
        args.warmup_seconds,
        args.seconds
    );
    let senders = (0..c).map(|i| Sender::new(i, c, args.pairs, args.seconds as usize));
    let (probes, tally, open) = match args.rate {
        None => closed_loop(&plan, senders, db_pid).await?,
        Some(rate) => open_loop(&plan, senders, start, rate, db_pid).await?,
    };
    let verification = verify(pool, tenant, &plan.conversations, &before, &tally.acks).await?;
    Ok(report(
        config,
        args,
        &probes,
        db_pid,
        tally,
        open,
        &seeded,
        verification,
    ))
}

/// Each seeded participant as the API sees it: its token authenticated.
async fn actors(auth: &Auth, seeded: &Value) -> AppResult<Vec<Conversation>> {
    let pairs = seeded["pairs"].as_array().cloned().unwrap_or_default();
    let mut conversations = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let id: ConversationId = serde_json::from_value(pair["conversationId"].clone())
            .map_err(|err| AppError::Internal(err.into()))?;
        let side = |who: &str| pair[who]["token"].as_str().unwrap_or_default().to_owned();
        let user = auth.authenticate(&side("user"), None).await?;
        let astrologer = auth.authenticate(&side("astrologer"), None).await?;
        conversations.push(Conversation {
            id,
            sides: [user, astrologer],
        });
    }
    Ok(conversations)
}

/// The open loop's own figures.
struct OpenFigures {
    rate: u32,
    max_backlog: usize,
    not_sent: u64,
}

async fn join(mut tasks: JoinSet<Tally>) -> AppResult<Tally> {
    let mut total = Tally::default();
    while let Some(joined) = tasks.join_next().await {
        total.merge(joined.map_err(|err| AppError::Internal(err.into()))?);
    }
    Ok(total)
}

async fn closed_loop(
    plan: &Arc<Plan>,
    senders: impl Iterator<Item = Sender>,
    db_pid: Option<u32>,
) -> AppResult<([Probe; 2], Tally, Option<OpenFigures>)> {
    let mut tasks = JoinSet::new();
    for mut sender in senders {
        let plan = plan.clone();
        tasks.spawn(async move {
            loop {
                let at = Instant::now();
                if at >= plan.t1 {
                    return sender.tally;
                }
                if !sender.send(&plan, at).await {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        });
    }
    let probes = window_probes(plan, db_pid).await;
    Ok((probes, join(tasks).await?, None))
}

async fn open_loop(
    plan: &Arc<Plan>,
    senders: impl Iterator<Item = Sender>,
    start: Instant,
    rate: u32,
    db_pid: Option<u32>,
) -> AppResult<([Probe; 2], Tally, Option<OpenFigures>)> {
    let abandon = Arc::new(AtomicBool::new(false));
    let mut queues = Vec::new();
    let mut tasks = JoinSet::new();
    for mut sender in senders {
        let (push, mut arrivals) = mpsc::unbounded_channel::<Instant>();
        let depth = Arc::new(AtomicUsize::new(0));
        queues.push((push, depth.clone()));
        let (plan, abandon) = (plan.clone(), abandon.clone());
        tasks.spawn(async move {
            while let Some(at) = arrivals.recv().await {
                depth.fetch_sub(1, Ordering::Relaxed);
                if abandon.load(Ordering::Relaxed) {
                    if at >= plan.t0 && at < plan.t1 {
                        sender.tally.not_sent += 1;
                    }
                    continue;
                }
                sender.send(&plan, at).await;
            }
            sender.tally
        });
    }
    // Arrival k is due at start + k / rate, up to the window's end.
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let total = ((plan.t1 - start).as_secs_f64() * f64::from(rate)).ceil() as u64;
    let generator = {
        let plan = plan.clone();
        tokio::spawn(async move {
            let mut next = 0u64;
            let mut max_backlog = 0;
            loop {
                let now = Instant::now().min(plan.t1);
                let due =
                    (((now - start).as_secs_f64() / interval.as_secs_f64()) as u64 + 1).min(total);
                for k in next..due {
                    let (push, depth) = &queues[(k % queues.len() as u64) as usize];
                    // Queued behind the one in progress.
                    max_backlog = max_backlog.max(depth.fetch_add(1, Ordering::Relaxed));
                    let _ = push.send(start + interval.mul_f64(k as f64));
                }
                next = due;
                if next >= total {
                    // Dropping the queues lets the senders end once drained.
                    return max_backlog;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let probes = window_probes(plan, db_pid).await;
    let max_backlog = generator
        .await
        .map_err(|err| AppError::Internal(err.into()))?;
    // The queues drain for up to max(10, S) seconds; then the rest is
    // abandoned (each sender finishes the send it is in).
    let deadline = Instant::now() + Duration::from_secs(plan.seconds.max(10) as u64);
    let mut tally = Tally::default();
    loop {
        match tokio::time::timeout_at(deadline.into(), tasks.join_next()).await {
            Ok(Some(joined)) => tally.merge(joined.map_err(|err| AppError::Internal(err.into()))?),
            Ok(None) => break,
            Err(_) => {
                abandon.store(true, Ordering::Relaxed);
                break;
            }
        }
    }
    tally.merge(join(tasks).await?);
    let not_sent = tally.not_sent;
    Ok((
        probes,
        tally,
        Some(OpenFigures {
            rate,
            max_backlog,
            not_sent,
        }),
    ))
}

fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

/// p50/p90/p95/p99/max and the mean in milliseconds (nearest rank).
fn latency(mut micros: Vec<u32>) -> Value {
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
fn cpu(
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

fn report(
    config: &Config,
    args: &CoreArgs,
    probes: &[Probe; 2],
    db_pid: Option<u32>,
    tally: Tally,
    open: Option<OpenFigures>,
    seeded: &Value,
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
        "setup": {
            "seedSeconds": seeded["seconds"],
            "dbMaxConnections": config.db_max_connections.max(bench_seed::IN_FLIGHT as u32 + 2),
            "sendQueue": config.send_queue,
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
