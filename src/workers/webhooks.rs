//! The webhooks worker: reads the log from its checkpoint and makes the
//! deliveries its events call for
//! ([`Core::webhooks_from_log`](crate::domain::Core::webhooks_from_log)),
//! then sends those due
//! ([`Core::send_webhooks`](crate::domain::Core::send_webhooks)), woken
//! by this node's logged events and every [`ROUND`] otherwise (other
//! nodes' events, retries coming due, a delivery sent again). Hourly it
//! deletes finished deliveries older than [`KEEP`].

use std::time::Duration;

use super::Stop;
use crate::{domain::events::DomainEvent, state::AppState};

/// The longest the worker sleeps between rounds.
const ROUND: Duration = Duration::from_millis(500);
/// Log entries read, and deliveries sent, per round.
const BATCH: u32 = 100;
/// How long deliveries are kept (the delivery log).
const KEEP: chrono::Duration = chrono::Duration::days(30);

/// Works until `stop` resolves.
pub async fn run(state: AppState, mut stop: Stop) {
    let core = &state.core;
    let mut events = core.events().subscribe();
    let mut purge = tokio::time::interval(Duration::from_secs(3600));
    loop {
        let more = core
            .webhooks_from_log(BATCH, &crate::wire::webhook::data)
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
            () = super::woken_by(&mut events, logged) => {}
            _ = purge.tick() => {
                if let Err(err) = core.purge_webhooks(crate::domain::now() - KEEP).await {
                    super::failed("webhooks", &err, "purging old webhook deliveries failed");
                }
            }
        }
    }
}

/// Whether an event wrote to the log.
fn logged(event: &DomainEvent) -> bool {
    matches!(
        event,
        DomainEvent::MessageCreated { .. }
            | DomainEvent::MessageEdited { .. }
            | DomainEvent::MessageDeleted { .. }
            | DomainEvent::ConversationCreated { .. }
            | DomainEvent::MemberAdded { .. }
            | DomainEvent::MemberRemoved { .. }
            | DomainEvent::CallChanged { .. }
            | DomainEvent::ChatRequestCreated { .. }
            | DomainEvent::ChatRequestAnswered { .. }
    )
}
