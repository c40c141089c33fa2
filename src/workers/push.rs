//! The push worker: expands due pushes into deliveries
//! ([`Core::expand_pushes`](crate::domain::Core::expand_pushes)) and sends
//! them ([`Core::send_pushes`](crate::domain::Core::send_pushes)), every
//! [`ROUND`] or sooner when the notifications worker made some (it wakes on
//! this node's inbox events). Hourly it deletes pushes older than a week.

use std::time::Duration;

use tokio::sync::broadcast;

use super::Stop;
use crate::{domain::events::DomainEvent, state::AppState};

/// The longest the worker sleeps between rounds (a push's grace is counted
/// in these).
const ROUND: Duration = Duration::from_millis(250);
/// Pushes expanded, and deliveries sent, per transaction.
const BATCH: u32 = 200;
/// How long pushes and their deliveries are kept (the console's log).
const KEEP: chrono::Duration = chrono::Duration::days(7);

/// Works until `stop` resolves.
pub async fn run(state: AppState, mut stop: Stop) {
    let core = &state.core;
    let mut events = core.events().subscribe();
    let mut purge = tokio::time::interval(Duration::from_secs(3600));
    loop {
        let expanded = core.expand_pushes(BATCH).await.unwrap_or_else(|err| {
            super::failed("push", &err, "expanding pushes failed; retrying");
            0
        });
        let sent = core.send_pushes(BATCH).await.unwrap_or_else(|err| {
            super::failed("push", &err, "sending pushes failed; retrying");
            0
        });
        if expanded as u32 == BATCH || sent as u32 == BATCH {
            continue;
        }
        tokio::select! {
            () = stop.stopped() => return,
            () = tokio::time::sleep(ROUND) => {}
            () = notified(&mut events) => {}
            _ = purge.tick() => {
                if let Err(err) = core.purge_pushes(crate::domain::now() - KEEP).await {
                    super::failed("push", &err, "purging old pushes failed");
                }
            }
        }
    }
}

/// Resolves at this node's next inbox event (pushes may have been made).
async fn notified(events: &mut broadcast::Receiver<std::sync::Arc<DomainEvent>>) {
    super::woken_by(events, |event| {
        matches!(event, DomainEvent::NotificationsChanged { .. })
    })
    .await;
}
