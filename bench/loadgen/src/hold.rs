//! The connections scenario: the connections held, then drops and memory.

use std::{
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::{Args, Outcome, conn::Shared, log, mib, round1, sys};

/// The connections scenario: hold every connection `--hold` seconds
/// (pings answered), then report drops and memory.
pub(crate) async fn hold(
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
