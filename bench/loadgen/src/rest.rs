//! `samvad-loadgen rest`: the REST sends of `bench/run.sh --concurrency N`,
//! what `bench/rest_send.mjs --concurrency N` does, with a client light
//! enough not to starve the server and MySQL of the cores they share.
//!
//! N clients, each a seeded user (`samvad bench seed --pairs N --json`: one
//! astrologer per user) with their own keep-alive HTTP/1.1 connection,
//! sending `POST /api/conversations/{id}/messages` with a `clientMsgId`
//! into their own direct conversation: back to back (closed loop), or with
//! `--rate R` at R sends a second in total on a fixed timetable, round
//! robin over the clients (open loop: a client whose previous send is
//! unanswered sends the next one late, and latency counts from when it was
//! due). Sends started (or due) in the `--duration` window after
//! `--warmup-seconds` are counted; a refused or failed send is not retried.
//! The JSON summary has the shape of rest_send.mjs's; afterwards every
//! acknowledged message id is looked up in MySQL and every conversation of
//! the tenant must hold seq 1..last_seq without gaps (`verify::check`).

mod client;
mod report;

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::Parser;
use hyper::{Method, header::HeaderValue};
use serde_json::{Value, json};
use sqlx::{Connection, MySqlConnection};

use crate::{log, seed::SeedOutput, sys};
use client::{Client, Plan, Tally};
use report::{loadavg, machine, mysql_status, now_iso8601, report, stats, verify};

#[derive(Parser, Debug)]
#[command(
    name = "samvad-loadgen rest",
    about = "REST sends from N concurrent clients (bench/run.sh --concurrency N)"
)]
pub struct Args {
    /// Server base URL
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The JSON `samvad bench seed --pairs P --json` printed (P >= N)
    #[arg(long)]
    seed: String,
    /// Clients (users), each with one connection and one conversation
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Measured seconds
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Seconds of the same load before, not measured
    #[arg(long, default_value_t = 5)]
    warmup_seconds: u64,
    /// Open loop: total sends a second (0: closed loop)
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Runtime threads of the load generator
    #[arg(long, default_value_t = 1)]
    threads: usize,
    #[command(flatten)]
    watched: sys::Watched,
    /// Also write the JSON summary here
    #[arg(long)]
    out: Option<String>,
}

/// `samvad-loadgen rest ...` (`argv` from "rest" on).
pub fn main(argv: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let args = Args::parse_from(argv);
    let mut rt = if args.threads > 1 {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    if args.threads > 1 {
        rt.worker_threads(args.threads);
    }
    rt.enable_all().build()?.block_on(run(args))
}

/// The HTTP floor under every send: 1,000 sequential `GET /ping` (after
/// 100 unmeasured) on one client's connection.
async fn ping_floor(client: &mut Client, plan: &Plan) -> anyhow::Result<Value> {
    let mut h = client::histogram();
    let mut start = Instant::now();
    for i in 0..1100 {
        if i == 100 {
            h.reset();
            start = Instant::now();
        }
        let t = Instant::now();
        let (status, _) = client
            .request(plan, Method::GET, "/ping", None)
            .await
            .map_err(anyhow::Error::msg)?;
        if status != 200 {
            bail!("GET /ping -> {status}");
        }
        let _ = h.record((t.elapsed().as_micros() as u64).max(1));
    }
    Ok(json!({
        "name": "ping",
        "description": "1000 sequential GET /ping (no database) on one keep-alive connection: the HTTP floor",
        "messages": h.len(),
        "messagesPerSecond": (1000.0 / start.elapsed().as_secs_f64()).round() as u64,
        "latencyMs": stats(&h),
    }))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let n = args.concurrency;
    if n == 0 || args.duration == 0 || args.rate.is_nan() || args.rate < 0.0 {
        bail!("--concurrency and --duration must be at least 1, --rate at least 0");
    }
    let seed: SeedOutput = serde_json::from_str(
        &std::fs::read_to_string(&args.seed).with_context(|| format!("reading {}", args.seed))?,
    )
    .context("the seed file is not `samvad bench seed --json` output")?;
    if seed.data.pairs.len() < n {
        bail!(
            "--concurrency {n} needs {n} seeded pairs; the seed has {}",
            seed.data.pairs.len()
        );
    }
    let host = crate::net::host_port(&args.url)?;
    let server: SocketAddr = crate::net::server_addr(&args.url).await?;
    let open = args.rate > 0.0;
    let mut machine = machine();
    let mut db = match &args.watched.database_url {
        Some(url) => Some(
            MySqlConnection::connect(url)
                .await
                .context("connecting to MySQL")?,
        ),
        None => None,
    };

    // The timetable starts once every client is connected.
    let now = Instant::now();
    let mut plan = Plan {
        server,
        host: HeaderValue::from_str(host)?,
        run: format!(
            "{:x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis()
        ),
        clients: n,
        rate: open.then_some(args.rate),
        start: now,
        t0: now,
        t1: now,
        drain_until: now,
    };
    let mut clients = Vec::with_capacity(n);
    for (i, pair) in seed.data.pairs.iter().take(n).enumerate() {
        let client = Client::new(i, &pair.conversation_id, &pair.user.token, &plan).await;
        clients.push(client.with_context(|| format!("connecting client {i} to {server}"))?);
    }
    let floor = ping_floor(&mut clients[0], &plan).await?;
    log(&format!(
        "{} for {n} clients: {} s warm-up, {} s measured (ping p50 {} ms)",
        if open {
            format!("open loop, {} sends/s", args.rate)
        } else {
            "closed loop".into()
        },
        args.warmup_seconds,
        args.duration,
        floor["latencyMs"]["p50"],
    ));
    plan.start = Instant::now();
    plan.t0 = plan.start + Duration::from_secs(args.warmup_seconds);
    plan.t1 = plan.t0 + Duration::from_secs(args.duration);
    plan.drain_until = plan.t1 + Duration::from_secs(args.duration.max(10));
    let plan = Arc::new(plan);
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| {
            let plan = plan.clone();
            tokio::spawn(async move { client.drive(&plan).await })
        })
        .collect();

    tokio::time::sleep_until(plan.t0.into()).await;
    let before = (args.watched.probe(), mysql_status(&mut db).await);
    tokio::time::sleep_until(plan.t1.into()).await;
    let after = (args.watched.probe(), mysql_status(&mut db).await);
    let mut total = Tally::new();
    let mut acked = Vec::with_capacity(n);
    for task in tasks {
        let tally = task.await?;
        total.merge(&tally);
        acked.push(tally.acked);
    }
    machine["loadAverageAfter"] = json!(loadavg());

    let case = report(&args, &total, &before, &after);
    let verification = verify(&args, &seed, &acked).await;
    let ok = verification["ok"] == true;
    let summary = json!({
        "baseUrl": args.url,
        "client": "samvad-loadgen rest (Rust, hyper 1)",
        "date": now_iso8601(),
        "machine": machine,
        "setup": {
            "tenantId": seed.data.tenant_id,
            "mode": if open { "open" } else { "closed" },
            "concurrency": n,
            "astrologers": n,
            "users": n,
            "rate": open.then_some(args.rate),
            "duration": args.duration,
            "warmupSeconds": args.warmup_seconds,
            "clientMsgId": true,
            "client": format!("samvad-loadgen rest: hyper 1, one keep-alive HTTP/1.1 connection per client, {} runtime thread(s); users and conversations from `samvad bench seed` (one astrologer per user)", args.threads),
        },
        "cases": [case],
        "floor": floor,
        "verification": verification,
    });
    let text = serde_json::to_string_pretty(&summary)?;
    if let Some(path) = &args.out {
        std::fs::write(path, &text).with_context(|| format!("writing {path}"))?;
    }
    println!("{text}");
    if !ok {
        bail!("verification failed: {}", summary["verification"]);
    }
    Ok(())
}
