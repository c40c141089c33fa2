//! Background work: every task that runs beside the server, for as long as
//! it does, started and stopped in one place ([`start`] and
//! [`Workers::shutdown`], both called by `app::run`).
//!
//! Each worker is a file here with one entry point,
//! `pub async fn run(state: AppState, stop: Stop)`, that loops until
//! [`Stop::stopped`] resolves and then returns (finishing the round it is
//! in). Today:
//!
//! - [`upkeep`]: every `SAMVAD_POLICY_REFRESH`, re-reads policies and
//!   tenants' origins, forgets idle rate-limit keys; hourly, purges spent
//!   codes and links.
//! - [`call_sweeper`]: times out calls left ringing past their deadline.
//! - [`media`]: thumbnails of new images; removes deleted, cut-off and
//!   never-sent files.
//! - [`notifications`]: the inbox's entries, from the log; old ones purged.
//! - [`push`]: pushes to phones (FCM, APNs), expanded and sent.
//! - [`retention`]: hourly, deletes what tenants keep no longer.
//! - [`webhooks`]: signed webhooks to tenants' endpoints, from the log.
//! - [`cluster`]: with several nodes, says this one is alive and takes
//!   offline whoever was connected only to a node that died.
//!
//! Adding a worker (push, webhooks, retention, ...): write
//! `src/workers/<name>.rs` with its `run`, declare it below with `mod`,
//! and add one line to [`start`]:
//! `workers.spawn("<name>", <name>::run(state.clone(), workers.stop()));`.
//! On shutdown it gets the stop signal when the server stops taking
//! requests ([`Workers::signal_stop`]), winds down while in-flight requests
//! finish, and is awaited (within the same `SAMVAD_SHUTDOWN_TIMEOUT`,
//! counted from the signal) before the database pool closes.

pub mod call_sweeper;
pub mod cluster;
pub mod media;
pub mod notifications;
pub mod push;
pub mod retention;
pub mod upkeep;
pub mod webhooks;

use std::{future::Future, sync::OnceLock, time::Duration};

use tokio::{sync::watch, task::JoinHandle};
use tracing::Instrument;

use crate::state::AppState;

/// Resolves at the next event on the bus that `wanted` picks (or when
/// events were missed), having taken every event already waiting, so a
/// burst wakes a worker once. Cancel-safe; never resolves once the bus is
/// gone.
async fn woken_by(
    events: &mut tokio::sync::broadcast::Receiver<
        std::sync::Arc<crate::domain::events::DomainEvent>,
    >,
    wanted: impl Fn(&crate::domain::events::DomainEvent) -> bool,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let woke = match events.recv().await {
            Ok(event) => wanted(&event),
            Err(RecvError::Lagged(_)) => true,
            Err(RecvError::Closed) => std::future::pending().await,
        };
        if woke {
            while events.try_recv().is_ok() {}
            return;
        }
    }
}

/// Logs a worker's failed step and counts it in
/// `samvad_worker_errors_total{worker}` (the step is tried again later).
fn failed(worker: &'static str, err: &dyn std::fmt::Display, what: &str) {
    metrics::counter!("samvad_worker_errors_total", "worker" => worker).increment(1);
    // `#`: with its causes ("database error: Deadlock found ..."), not only
    // the outermost context.
    tracing::warn!(error = format!("{err:#}"), "{what}");
}

/// Starts every background worker. Adding one is one line here.
pub fn start(state: &AppState) -> Workers {
    let mut workers = Workers::new(state.config.shutdown_timeout);
    workers.spawn("upkeep", upkeep::run(state.clone(), workers.stop()));
    workers.spawn(
        "call_sweeper",
        call_sweeper::run(state.clone(), workers.stop()),
    );
    workers.spawn("media", media::run(state.clone(), workers.stop()));
    workers.spawn(
        "notifications",
        notifications::run(state.clone(), workers.stop()),
    );
    workers.spawn("push", push::run(state.clone(), workers.stop()));
    workers.spawn("webhooks", webhooks::run(state.clone(), workers.stop()));
    workers.spawn("retention", retention::run(state.clone(), workers.stop()));
    workers.spawn("cluster", cluster::run(state.clone(), workers.stop()));
    workers
}

/// The running workers; [`Workers::shutdown`] stops them.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
    /// How long shutdown waits for the workers before aborting them.
    grace: Duration,
    /// When the stop signal was first sent: the grace counts from here.
    stopping_since: OnceLock<tokio::time::Instant>,
}

/// A worker's stop signal: [`Stop::stopped`] resolves once shutdown begins.
#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Resolves when the worker should stop (at once if it already should).
    /// Cancel-safe, so it can sit in a `tokio::select!` in a loop.
    pub async fn stopped(&mut self) {
        // An error means the sender is gone, which also means stop.
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

impl Workers {
    fn new(grace: Duration) -> Self {
        Self {
            stop: watch::Sender::new(false),
            tasks: Vec::new(),
            grace,
            stopping_since: OnceLock::new(),
        }
    }

    /// A stop signal for a worker about to be spawned.
    fn stop(&self) -> Stop {
        Stop(self.stop.subscribe())
    }

    /// Runs `work` as a task in a `worker` tracing span named `name`.
    fn spawn(&mut self, name: &'static str, work: impl Future<Output = ()> + Send + 'static) {
        let span = tracing::info_span!("worker", name);
        self.tasks.push((name, tokio::spawn(work.instrument(span))));
    }

    /// Tells every worker to stop, without waiting (the server calls it as
    /// its graceful shutdown begins, so both wind down together).
    pub fn signal_stop(&self) {
        self.stopping_since.get_or_init(tokio::time::Instant::now);
        self.stop.send_replace(true);
    }

    /// Signals every worker to stop (if not done yet) and waits for each to
    /// finish its round; one still running when the grace period, counted
    /// from the first signal, is over is aborted.
    pub async fn shutdown(self) {
        self.signal_stop();
        let deadline = self
            .stopping_since
            .get()
            .copied()
            .unwrap_or_else(tokio::time::Instant::now)
            + self.grace;
        for (name, mut task) in self.tasks {
            match tokio::time::timeout_at(deadline, &mut task).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) if err.is_panic() => {
                    tracing::error!(worker = name, "background worker panicked");
                }
                Ok(Err(_)) => {}
                Err(_) => {
                    tracing::warn!(worker = name, "background worker did not stop in time");
                    task.abort();
                }
            }
        }
    }
}
