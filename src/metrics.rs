//! Prometheus metrics (`GET /metrics`, behind `SAMVAD_METRICS_TOKEN`).
//!
//! Counters and histograms are recorded where things happen, through the
//! `metrics` crate's macros, into one process-wide recorder
//! (`metrics-exporter-prometheus`, installed by [`handle`]); gauges that
//! describe a state (connections per transport are counted as they open
//! and close; the database pool, the push queue and live calls) are read
//! when the endpoint is scraped. Labels are bounded by construction: route
//! templates, not paths; event names from the fixed list the server
//! answers to; no tenant, participant or conversation ids anywhere.

use std::{sync::OnceLock, time::Duration};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Request latency buckets, in seconds.
const LATENCY: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The process's recorder, installed on first use (every app of a test
/// process shares it, as every node of one process would).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY)
            .and_then(|builder| builder.install_recorder())
            .unwrap_or_else(|err| {
                // Another recorder is installed (an embedding program's):
                // keep ours for rendering; the macros record into theirs.
                tracing::warn!(error = %err, "metrics: could not install the Prometheus recorder");
                PrometheusBuilder::new().build_recorder().handle()
            });
        describe();
        // Every series a dashboard reads exists from the start, at zero.
        metrics::gauge!("samvad_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        metrics::counter!("samvad_messages_committed_total").absolute(0);
        for outcome in ["committed", "failed"] {
            metrics::counter!("samvad_send_batches_total", "outcome" => outcome).absolute(0);
        }
        metrics::counter!("samvad_socket_events_total", "event" => "unknown").absolute(0);
        for outcome in ["sent", "failed", "retry", "dropped"] {
            metrics::counter!("samvad_push_deliveries_total", "outcome" => outcome).absolute(0);
        }
        for outcome in ["sent", "failed", "retry"] {
            metrics::counter!("samvad_webhook_attempts_total", "outcome" => outcome).absolute(0);
        }
        metrics::counter!("samvad_webhook_deliveries_made_total").absolute(0);
        for worker in [
            "call_sweeper",
            "media",
            "notifications",
            "push",
            "retention",
            "upkeep",
            "webhooks",
        ] {
            metrics::counter!("samvad_worker_errors_total", "worker" => worker).absolute(0);
        }
        metrics::gauge!("samvad_crossing_queue").set(0.0);
        metrics::gauge!("samvad_fanout_queue").set(0.0);
        metrics::gauge!("samvad_db_pool_waiting").set(0.0);
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "samvad_http_requests_total",
        "HTTP requests answered, by route template, method and status"
    );
    describe_histogram!(
        "samvad_http_request_duration_seconds",
        "Time to answer an HTTP request, by route template and method"
    );
    describe_gauge!(
        "samvad_socket_connections",
        "Socket.IO connections open on this node, by transport"
    );
    describe_counter!(
        "samvad_socket_events_total",
        "Socket.IO events received from clients, by event name"
    );
    describe_counter!(
        "samvad_messages_committed_total",
        "Messages committed by this node's writers"
    );
    describe_counter!(
        "samvad_send_batches_total",
        "Transactions of the message writers, by outcome"
    );
    describe_gauge!(
        "samvad_fanout_queue",
        "Domain events waiting for this node's fan-out"
    );
    describe_gauge!(
        "samvad_send_queue",
        "Sends waiting for this node's message writers"
    );
    describe_gauge!(
        "samvad_crossing_queue",
        "Emits waiting to be published to the other nodes (several nodes)"
    );
    describe_gauge!(
        "samvad_db_pool_connections",
        "Database pool connections, by state"
    );
    describe_gauge!(
        "samvad_push_queue",
        "Pushes and push deliveries waiting, by kind"
    );
    describe_gauge!(
        "samvad_webhook_queue",
        "Webhook deliveries waiting to be sent (retries included) or being sent"
    );
    describe_counter!(
        "samvad_webhook_deliveries_made_total",
        "Webhook deliveries made from the log (one per event and endpoint)"
    );
    describe_counter!(
        "samvad_webhook_attempts_total",
        "Webhook attempts, by outcome (sent, retry, failed)"
    );
    describe_counter!(
        "samvad_worker_errors_total",
        "Failed steps of the background workers, by worker (each is tried again)"
    );
    describe_histogram!(
        "samvad_db_query_seconds",
        "Time each SQL statement took, by its first word"
    );
    describe_gauge!(
        "samvad_db_pool_waiting",
        "Message writers waiting for a pooled connection now (sqlx does not expose its own queue)"
    );
    describe_histogram!(
        "samvad_db_acquire_seconds",
        "Time the message writers waited for a pooled database connection"
    );
    describe_counter!(
        "samvad_contact_guard_total",
        "Messages the contact guard refused or masked, by action and kind found"
    );
    describe_counter!(
        "samvad_retention_deleted_total",
        "Records deleted by the retention worker, by kind"
    );
    describe_gauge!(
        "samvad_calls",
        "Calls not yet over, by status (every tenant)"
    );
    describe_gauge!("samvad_build_info", "This build's version");
}

/// The label for a route: its template, or `unmatched` (so that probing
/// random paths does not grow the label set).
pub fn route_label(pattern: Option<&str>) -> String {
    pattern.unwrap_or("unmatched").to_owned()
}

/// Records one answered HTTP request.
pub fn http_request(route: String, method: &str, status: u16, took: Duration) {
    metrics::counter!(
        "samvad_http_requests_total",
        "route" => route.clone(),
        "method" => method.to_owned(),
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!(
        "samvad_http_request_duration_seconds",
        "route" => route,
        "method" => method.to_owned()
    )
    .record(took.as_secs_f64());
}

/// `GET /metrics`: the Prometheus text format, for a bearer of
/// `SAMVAD_METRICS_TOKEN`; off (404) without one.
pub fn endpoint(io: crate::realtime::Io) -> impl poem::Endpoint<Output = poem::Response> {
    use poem::{EndpointExt, IntoResponse};
    poem::endpoint::make(move |req: poem::Request| {
        let io = io.clone();
        async move {
            let state = req
                .data::<crate::state::AppState>()
                .cloned()
                .ok_or_else(|| crate::error::AppError::Internal(anyhow::anyhow!("no state")))?;
            admit(&state, &req)?;
            scrape(&state, &io).await;
            Ok::<_, crate::error::AppError>(
                handle()
                    .render()
                    .with_content_type("text/plain; version=0.0.4; charset=utf-8")
                    .into_response(),
            )
        }
    })
    .map_to_response()
}

/// Only a bearer of the metrics token, and only when one is configured.
fn admit(state: &crate::state::AppState, req: &poem::Request) -> crate::error::AppResult<()> {
    use crate::error::AppError;
    let Some(token) = &state.config.metrics_token else {
        return Err(AppError::NotFound("metrics"));
    };
    let given = req
        .headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if crate::domain::secrets::same(given.as_bytes(), token.expose().as_bytes()) {
        Ok(())
    } else {
        Err(AppError::unauthorized(
            "unauthorized",
            "GET /metrics needs the metrics bearer token",
        ))
    }
}

/// Sets the gauges read at scrape time.
async fn scrape(state: &crate::state::AppState, io: &crate::realtime::Io) {
    let (mut polling, mut websocket) = (0u32, 0u32);
    for socket in io.local().sockets() {
        match socket.transport_type() {
            socketioxide::TransportType::Polling => polling += 1,
            socketioxide::TransportType::Websocket => websocket += 1,
        }
    }
    metrics::gauge!("samvad_socket_connections", "transport" => "polling").set(polling);
    metrics::gauge!("samvad_socket_connections", "transport" => "websocket").set(websocket);
    match state.core.gauges().await {
        Ok(g) => {
            let in_use = g.pool_open.saturating_sub(g.pool_idle);
            metrics::gauge!("samvad_db_pool_connections", "state" => "idle").set(g.pool_idle);
            metrics::gauge!("samvad_db_pool_connections", "state" => "in_use").set(in_use);
            metrics::gauge!("samvad_push_queue", "kind" => "pushes").set(g.pushes_pending as f64);
            metrics::gauge!("samvad_push_queue", "kind" => "deliveries")
                .set(g.deliveries_pending as f64);
            metrics::gauge!("samvad_thumbnail_queue").set(g.thumbnails_pending as f64);
            metrics::gauge!("samvad_webhook_queue").set(g.webhooks_pending as f64);
            metrics::gauge!("samvad_send_queue").set(state.core.sends_queued() as f64);
            for status in ["initiated", "ringing", "answered", "ongoing"] {
                let n = g
                    .calls
                    .iter()
                    .find(|(s, _)| s == status)
                    .map_or(0, |(_, n)| *n);
                metrics::gauge!("samvad_calls", "status" => status).set(n as f64);
            }
        }
        Err(err) => tracing::debug!(error = %err, "metrics: the database gauges are stale"),
    }
}

/// A tracing layer that turns sqlx's per-statement events (target
/// `sqlx::query`, which carry `elapsed_secs`) into the histogram
/// `samvad_db_query_seconds{statement}`, labelled by the statement's first
/// word (`select`, `insert`, `update`, `delete`, `begin`, `commit`,
/// `other`). `telemetry::init` installs it with a filter of its own, so
/// the statements are timed without being logged.
pub struct QueryTimes;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for QueryTimes {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut seen = Statement::default();
        event.record(&mut seen);
        if let Some(secs) = seen.elapsed {
            metrics::histogram!("samvad_db_query_seconds", "statement" => seen.kind).record(secs);
        }
    }
}

/// What [`QueryTimes`] reads off one event.
#[derive(Default)]
struct Statement {
    elapsed: Option<f64>,
    kind: &'static str,
}

impl tracing::field::Visit for Statement {
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.elapsed = Some(value);
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "summary" {
            self.kind = statement_kind(value);
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            self.kind = statement_kind(format!("{value:?}").trim_matches('"'));
        }
    }
}

/// The label for a statement: its first word, from a fixed set.
fn statement_kind(sql: &str) -> &'static str {
    let first = sql.split_whitespace().next().unwrap_or("");
    for kind in [
        "select", "insert", "update", "delete", "begin", "commit", "rollback",
    ] {
        if first.eq_ignore_ascii_case(kind) {
            return kind;
        }
    }
    "other"
}
