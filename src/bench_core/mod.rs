//! `samvad bench core`: the ceiling of the core and MySQL alone, without
//! HTTP or Socket.IO, to set beside the socket and REST benchmarks.
//! Development only: refused when `SAMVAD_ENV=production`.
//!
//! It seeds `--pairs` user-astrologer pairs in direct conversations with
//! `bench seed`'s own code (which also lifts the tenant's send limit; with
//! `--tenants N`, over N tenants, pair `i` in tenant `i mod N`), turns
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
//! message, and the whole machine's busy cores (`/proc/stat`); and
//! `database`: MySQL's commits and statements over the window
//! (`Com_commit`, `Questions`), so the writers' batches a second, sends
//! per batch (each batch is one commit) and statements per batch. MySQL's
//! CPU and counters count all its clients: keep it otherwise quiet.
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

mod loops;
mod probe;
mod report;
mod sender;
mod verify;

use sender::Sender;

use clap::Args;
use serde_json::{Value, json};
use sqlx::QueryBuilder;
use tokio::{sync::mpsc, task::JoinSet, time::sleep_until};

use self::{
    loops::{OpenFigures, closed_loop, open_loop},
    probe::{Probe, find_db_pid, window_probes},
    report::report,
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
    /// Spread the pairs over this many tenants (`<tenant>-1`, `<tenant>-2`,
    /// ...; with 1, `<tenant>` alone), taking turns, so that the writers'
    /// batches mix tenants as a busy deployment's do
    #[arg(long, default_value_t = 1)]
    tenants: usize,
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
    let pool = db::prepare(config.database_url.expose(), shared_pool_size(config))
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

/// The shared pool's connections: the configured ones, or enough for the
/// seeding's requests in flight (the writers have theirs besides).
fn shared_pool_size(config: &Config) -> u32 {
    config
        .pool_connections()
        .max(bench_seed::IN_FLIGHT as u32 + 2)
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
    if !(1..=args.pairs).contains(&args.tenants) {
        return Err(AppError::validation("--tenants must be 1 to --pairs"));
    }
    if args.rate == Some(0) {
        return Err(AppError::validation("--rate must be at least 1"));
    }
    Ok(())
}

/// One seeded conversation and its two sides, acting through their tokens.
struct Conversation {
    tenant: TenantId,
    id: ConversationId,
    /// The user and the astrologer.
    sides: [Actor; 2],
}

/// What every sender reads.
struct Plan {
    core: Core,
    /// For MariaDB's counters at the window's ends.
    pool: Pool,
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

async fn bench(
    config: &Config,
    core: &Core,
    auth: &Auth,
    pool: &Pool,
    args: &CoreArgs,
) -> AppResult<Value> {
    // Each tenant's pairs, then taken in turns: conversation i is tenant
    // i mod N's, so each sender's conversations span the tenants.
    let mut by_tenant = Vec::with_capacity(args.tenants);
    let mut seed_seconds = 0.0;
    for k in 0..args.tenants {
        let slug = match args.tenants {
            1 => args.tenant.clone(),
            _ => format!("{}-{}", args.tenant, k + 1),
        };
        let slug = crate::domain::values::Slug::parse(&slug)?;
        let pairs = args.pairs / args.tenants + usize::from(k < args.pairs % args.tenants);
        let (seeded, seed_text) = bench_seed::seed(core, auth, &slug, pairs, false).await?;
        eprintln!("{seed_text}");
        seed_seconds += seeded["seconds"].as_f64().unwrap_or(0.0);
        by_tenant.push(actors(auth, &seeded).await?.into_iter());
    }
    let conversations: Vec<Conversation> = (0..args.pairs)
        .filter_map(|i| by_tenant[i % args.tenants].next())
        .collect();
    let before = stored(pool, &conversations).await?;

    let db_pid = args.db_pid.or_else(find_db_pid);
    let start = Instant::now();
    let t0 = start + Duration::from_secs(args.warmup_seconds);
    let t1 = t0 + Duration::from_secs(args.seconds);
    let plan = Arc::new(Plan {
        core: core.clone(),
        pool: pool.clone(),
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
    let verification = verify(pool, &plan.conversations, &before, &tally.acks).await?;
    Ok(report(
        config,
        args,
        &probes,
        db_pid,
        tally,
        open,
        seed_seconds,
        verification,
    ))
}

/// Each seeded participant as the API sees it: its token authenticated.
async fn actors(auth: &Auth, seeded: &Value) -> AppResult<Vec<Conversation>> {
    let tenant: TenantId = serde_json::from_value(seeded["tenantId"].clone())
        .map_err(|err| AppError::Internal(err.into()))?;
    let pairs = seeded["pairs"].as_array().cloned().unwrap_or_default();
    let mut conversations = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let id: ConversationId = serde_json::from_value(pair["conversationId"].clone())
            .map_err(|err| AppError::Internal(err.into()))?;
        let side = |who: &str| pair[who]["token"].as_str().unwrap_or_default().to_owned();
        let user = auth.authenticate(&side("user"), None).await?;
        let astrologer = auth.authenticate(&side("astrologer"), None).await?;
        conversations.push(Conversation {
            tenant,
            id,
            sides: [user, astrologer],
        });
    }
    Ok(conversations)
}
