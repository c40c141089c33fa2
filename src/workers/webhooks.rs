//! The webhooks worker: reads the log from its checkpoint and makes the
//! deliveries its events call for
//! ([`Core::webhooks_from_log`](crate::domain::Core::webhooks_from_log)),
//! then sends those due
//! ([`Core::send_webhooks`](crate::domain::Core::send_webhooks)), every
//! [`ROUND`] (sooner while there is more). It is not woken by each event:
//! under load that made two transactions per wake-up, a fifth more
//! database CPU for nothing; a quarter of a second is soon enough for a
//! webhook. Hourly it deletes finished deliveries older than [`KEEP`].

use std::time::Duration;

use super::Stop;
use crate::state::AppState;

/// How long the worker sleeps between rounds.
const ROUND: Duration = Duration::from_millis(250);
/// Log entries read per transaction.
const LOG_BATCH: u32 = 1000;
/// Deliveries sent per round.
const BATCH: u32 = 100;
/// How long deliveries are kept (the delivery log).
const KEEP: chrono::Duration = chrono::Duration::days(30);

/// Works until `stop` resolves.
pub async fn run(state: AppState, mut stop: Stop) {
    let core = &state.core;
    let mut purge = tokio::time::interval(Duration::from_secs(3600));
    loop {
        let more = core
            .webhooks_from_log(LOG_BATCH, &crate::wire::webhook::data)
            .await
            .unwrap_or_else(|err| {
                super::failed(
                    "webhooks",
                    &err,
                    "making webhook deliveries failed; retrying",
                );
                false
            });
        let sent = core.send_webhooks(BATCH).await.unwrap_or_else(|err| {
            super::failed("webhooks", &err, "sending webhooks failed; retrying");
            0
        });
        if more || sent as u32 == BATCH {
            continue;
        }
        tokio::select! {
            () = stop.stopped() => return,
            () = tokio::time::sleep(ROUND) => {}
            _ = purge.tick() => {
                if let Err(err) = core.purge_webhooks(crate::domain::now() - KEEP).await {
                    super::failed("webhooks", &err, "purging old webhook deliveries failed");
                }
            }
        }
    }
}
