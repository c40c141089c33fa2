//! The pairs and group scenarios: the sweep of send rates (each step a
//! warm-up, a measured window, a drain), the pass rule, then the check of
//! every acked message in MySQL.

use std::{
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use anyhow::Context;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::{
    Args, Outcome, Scenario,
    conn::{self, Cmd, Shared},
    log, mib,
    seed::SeedData,
    summary, sys, verify,
};

/// Whether a step passes: p99 at most `pass_p99_ms`, nothing lost, every
/// send answered with an id or `overloaded` (no other error), nothing
/// delivered twice, no connection dropped, and at least 95% of the offered
/// deliveries delivered.
pub(crate) fn passes(step: &Value, pass_p99_ms: f64) -> bool {
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
pub(crate) fn highest_passing(steps: &[Value], pass_p99_ms: f64) -> Option<f64> {
    steps
        .iter()
        .filter(|s| passes(s, pass_p99_ms))
        .filter_map(|s| s["rate"].as_f64())
        .fold(None, |a: Option<f64>, r| Some(a.map_or(r, |a| a.max(r))))
}

/// The pairs and group scenarios: the sweep of send rates, then the check
/// in MySQL.
pub(crate) async fn sweep(
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
pub(crate) async fn wait_quiet(args: &Args) -> f64 {
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
