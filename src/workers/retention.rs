//! The retention worker: every [`ROUND`], deletes what each tenant keeps
//! no longer ([`Core::apply_retention`](crate::domain::Core::apply_retention):
//! messages with their files, call history, the audit log), a small batch
//! per transaction. With several nodes each may run it: the batches skip
//! rows another holds (`SKIP LOCKED`) or find them gone.

use std::time::Duration;

use super::Stop;
use crate::state::AppState;

/// How often the worker looks.
const ROUND: Duration = Duration::from_secs(3600);
/// Rows per transaction.
const BATCH: u32 = 500;

/// Works until `stop` resolves.
pub async fn run(state: AppState, mut stop: Stop) {
    let mut round = tokio::time::interval(ROUND);
    round.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.stopped() => return,
            _ = round.tick() => {}
        }
        match state.core.apply_retention(BATCH).await {
            Ok(r) if r.messages + r.calls + r.audit > 0 => {
                tracing::info!(
                    messages = r.messages,
                    calls = r.calls,
                    audit = r.audit,
                    "retention deleted old records"
                );
            }
            Ok(_) => {}
            Err(err) => super::failed(
                "retention",
                &err,
                "applying retention failed; retried next round",
            ),
        }
    }
}
