//! The summary of `samvad-loadgen rest`, in rest_send.mjs's shape: the
//! measured case (latency, refusals, errors, CPU per message, MySQL's
//! statements per message), the machine, and the check in MySQL.

use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};
use sqlx::{MySqlConnection, Row};

use super::{Args, client::Tally};
use crate::{log, seed::SeedOutput, sys};

/// Global status counters reported per message.
const STATUS_VARS: [&str; 9] = [
    "Questions",
    "Com_stmt_execute",
    "Com_select",
    "Com_insert",
    "Com_update",
    "Com_begin",
    "Com_commit",
    "Innodb_data_fsyncs",
    "Innodb_log_writes",
];

pub(super) async fn mysql_status(db: &mut Option<MySqlConnection>) -> Option<Vec<f64>> {
    let list = STATUS_VARS.map(|v| format!("'{v}'")).join(",");
    let sql = format!("SHOW GLOBAL STATUS WHERE Variable_name IN ({list})");
    let rows = sqlx::raw_sql(&sql).fetch_all(db.as_mut()?).await.ok()?;
    let get = |name: &str| {
        let row = rows
            .iter()
            .find(|r| r.try_get::<String, _>(0).ok().as_deref() == Some(name))?;
        row.try_get::<String, _>(1).ok()?.parse().ok()
    };
    STATUS_VARS.iter().map(|v| get(v)).collect()
}

fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn ms(us: u64) -> f64 {
    r2(us as f64 / 1000.0)
}

/// mean, p50, p90, p95, p99, max in ms, as rest_send.mjs reports them.
pub(super) fn stats(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return Value::Null;
    }
    let q = |p| ms(h.value_at_quantile(p));
    json!({
        "mean": r2(h.mean() / 1000.0),
        "p50": q(0.50), "p90": q(0.90), "p95": q(0.95), "p99": q(0.99),
        "max": ms(h.max()),
    })
}

/// Now as `YYYY-MM-DDTHH:MM:SSZ` (UTC; days to a civil date after
/// Howard Hinnant's algorithm).
pub(super) fn now_iso8601() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86_400) + 719_468, secs.rem_euclid(86_400));
    let era = days.div_euclid(146_097);
    let doe = days - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rem / 3600, rem / 60 % 60, rem % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

pub(super) fn loadavg() -> Vec<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .filter_map(|v| v.parse().ok())
        .collect()
}

pub(super) fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(str::trim);
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "cpuModel": model,
        "loadAverageBefore": loadavg(),
    })
}

pub(super) type Snapshot = (sys::Probe, Option<Vec<f64>>);

/// The measured case, in rest_send.mjs's shape.
pub(super) fn report(args: &Args, t: &Tally, before: &Snapshot, after: &Snapshot) -> Value {
    let (n, open, secs) = (args.concurrency, args.rate > 0.0, args.duration);
    let accepted = t.latency.len();
    let per_msg = accepted.max(1) as f64;
    let (b, a) = (&before.0, &after.0);
    let [server, db, me, all] = b.cores(a);
    // CPU ms per accepted message, from the CPU seconds (not the rounded cores).
    let cpu_ms =
        |b: Option<f64>, a: Option<f64>| Some(((a? - b?) * 1e6 / per_msg).round() / 1000.0);
    let other = match (server, db, me, all) {
        (Some(s), Some(d), Some(m), Some(a)) => Some(r2(a - s - d - m)),
        _ => None,
    };
    let db_per_msg: Option<Map<String, Value>> = match (&before.1, &after.1) {
        (Some(b), Some(a)) => Some(
            STATUS_VARS
                .iter()
                .zip(b.iter().zip(a))
                .map(|(k, (b, a))| (k.to_string(), json!(r2((a - b) / per_msg))))
                .collect(),
        ),
        _ => None,
    };
    let errors: u64 = t.errors.values().sum();
    let mut case = json!({
        "name": if open { "openLoop" } else { "closedLoop" },
        "description": if open {
            format!("{} sends/s offered at fixed intervals, round robin over {n} users (each with one keep-alive connection), each into their own direct conversation with their own astrologer; latency from the scheduled time", args.rate)
        } else {
            format!("{n} users (each with one keep-alive connection) send back to back, each into their own direct conversation with their own astrologer")
        },
        "clients": n,
        "conversations": n,
        "astrologers": n,
        "seconds": secs,
        "messages": accepted,
        "messagesPerSecond": (accepted as f64 / secs as f64).round() as u64,
        "refused": t.refused,
        "errors": t.errors,
        "latencyMs": stats(&t.latency),
        "messagesPerSecondBySlice": (0..secs as usize).map(|i| t.slices.get(i).copied().unwrap_or(0)).collect::<Vec<_>>(),
        "warmup": { "seconds": args.warmup_seconds, "messages": t.warmup_accepted },
        "clientCpuCores": me,
        "cpuCores": { "server": server, "mysql": db, "client": me, "machine": all, "other": other },
        "clientCpuMsPerMsg": cpu_ms(b.me, a.me),
        "serverCpuMsPerMsg": cpu_ms(b.server, a.server),
        "dbCpuMsPerMsg": cpu_ms(b.db, a.db),
        "otherCoresBusy": other,
        "dbPerMsg": db_per_msg,
    });
    if open {
        case["offeredPerSecond"] = json!(args.rate);
        case["serviceLatencyMs"] = stats(&t.service);
        case["maxBacklog"] = json!(t.max_backlog);
        case["notSent"] = json!(t.not_sent);
        case["clientWakeLagMs"] = stats(&t.wake_lag);
    }
    log(&format!(
        "{}: {accepted} sends in {secs} s = {} sends/s; p50 {} ms, p90 {} ms, p99 {} ms, max {} ms; refused {}, errors {errors}{}{}; cores: client {me:?}, server {server:?}, mysql {db:?}, other {other:?}",
        case["name"].as_str().unwrap_or_default(),
        case["messagesPerSecond"],
        case["latencyMs"]["p50"],
        case["latencyMs"]["p90"],
        case["latencyMs"]["p99"],
        case["latencyMs"]["max"],
        t.refused,
        if errors > 0 {
            format!(" {:?}", t.errors)
        } else {
            String::new()
        },
        if open {
            format!("; max backlog {}, not sent {}", t.max_backlog, t.not_sent)
        } else {
            String::new()
        },
    ));
    case
}

/// Every acknowledged send stored (MySQL), each conversation's seqs
/// gap-free, and no seq acknowledged twice in a conversation.
pub(super) async fn verify(
    args: &Args,
    seed: &SeedOutput,
    acked: &[Vec<(u64, [u8; 16])>],
) -> Value {
    let mut duplicates = Vec::new();
    for (i, sends) in acked.iter().enumerate() {
        let mut seqs: Vec<u64> = sends.iter().map(|(seq, _)| *seq).collect();
        seqs.sort_unstable();
        for w in seqs.windows(2).filter(|w| w[0] == w[1]) {
            duplicates.push(format!(
                "{}: seq {} acknowledged twice",
                seed.data.pairs[i].conversation_id, w[0]
            ));
        }
    }
    let ids: Vec<[u8; 16]> = acked.iter().flatten().map(|(_, id)| *id).collect();
    let mut out = json!({ "conversations": acked.len(), "acknowledged": ids.len(), "duplicateSeqs": duplicates.len() });
    let Some(url) = &args.watched.database_url else {
        out["ok"] = json!(duplicates.is_empty());
        out["mysql"] = Value::Null;
        return out;
    };
    let mysql = match crate::conn::uuid_bytes(&seed.data.tenant_id) {
        Some(tenant) => crate::verify::check(url, tenant, &ids)
            .await
            .unwrap_or_else(|e| json!({ "error": e.to_string() })),
        None => json!({ "error": "tenantId in the seed is not a uuid" }),
    };
    let stored = mysql["messagesInMysql"].as_i64();
    out["unacknowledged"] = json!(stored.map(|s| s - ids.len() as i64));
    out["ok"] = json!(
        duplicates.is_empty()
            && mysql["missingFromMysql"] == 0
            && mysql["conversationsWithGaps"] == 0
    );
    out["problems"] = json!(duplicates.into_iter().take(20).collect::<Vec<_>>());
    log(&format!(
        "verify: {} acknowledged, {} found in MySQL, {} conversations with gaps, {} stored without an acknowledgement: {}",
        ids.len(),
        mysql["ackedFoundInMysql"],
        mysql["conversationsWithGaps"],
        out["unacknowledged"],
        if out["ok"] == true { "ok" } else { "PROBLEMS" },
    ));
    out["mysql"] = mysql;
    out
}
