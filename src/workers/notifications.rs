//! The notifications worker: reads the log from its checkpoint and makes
//! the inbox's entries
//! ([`Core::notify_from_log`](crate::domain::Core::notify_from_log)),
//! woken by every event of this node (new messages, calls, chat requests)
//! and every [`ROUND`] otherwise (what other nodes wrote). Hourly it also
//! deletes notifications past their tenant's retention. Beside it, every
//! [`DIGEST_ROUND`], it sends the email digests that are due
//! ([`Core::send_digests`](crate::domain::Core::send_digests)); that loop
//! runs concurrently in the same task, so a slow mail server never holds
//! up the inbox.

use std::time::Duration;

use tokio::sync::broadcast;

use super::Stop;
use crate::{domain::events::DomainEvent, state::AppState};

/// The longest the worker sleeps between looks at the log.
const ROUND: Duration = Duration::from_secs(1);
/// Rounds woken by messages start at least this far apart: one at once on
/// a quiet server, and under load a round per this period over everything
/// logged meanwhile (a batch folds a conversation's messages into one
/// write), rather than one small transaction per message batch.
const GAP: Duration = Duration::from_millis(100);
/// Log entries read per transaction.
const BATCH: u32 = 256;
/// How often old notifications are purged.
const PURGE: Duration = Duration::from_secs(3600);
/// How often due email digests are looked for.
const DIGEST_ROUND: Duration = Duration::from_secs(60);
/// Digests sent per look (another look follows at once when all went).
const DIGEST_BATCH: u32 = 100;

/// Works until `stop` resolves.
pub async fn run(state: AppState, stop: Stop) {
    tokio::join!(inbox(&state, stop.clone()), digests(&state, stop));
}

/// Makes the inbox's entries from the log until `stop` resolves.
async fn inbox(state: &AppState, mut stop: Stop) {
    let core = &state.core;
    let mut events = core.events().subscribe();
    let mut purge = tokio::time::interval(PURGE);
    loop {
        let started = tokio::time::Instant::now();
        match core.notify_from_log(BATCH).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(err) => super::failed(
                "notifications",
                &err,
                "making notifications failed; retrying",
            ),
        }
        tokio::select! {
            () = stop.stopped() => return,
            () = logged(&mut events) => {
                tokio::select! {
                    () = stop.stopped() => return,
                    () = tokio::time::sleep_until(started + GAP) => {}
                }
            }
            () = tokio::time::sleep(ROUND) => {}
            _ = purge.tick() => {
                if let Err(err) = core.purge_notifications().await {
                    super::failed("notifications", &err, "purging old notifications failed");
                }
            }
        }
    }
}

/// Sends the email digests that are due, each [`DIGEST_ROUND`], until
/// `stop` resolves.
async fn digests(state: &AppState, mut stop: Stop) {
    let mut round = tokio::time::interval(DIGEST_ROUND);
    round.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.stopped() => return,
            _ = round.tick() => {}
        }
        loop {
            match state.core.send_digests(DIGEST_BATCH).await {
                Ok(n) if n as u32 == DIGEST_BATCH => continue,
                Ok(_) => break,
                Err(err) => {
                    super::failed("notifications", &err, "sending email digests failed");
                    break;
                }
            }
        }
    }
}

/// Resolves at the next event that wrote to the log (a message, a call's
/// change, a chat request), having taken every event already waiting, so
/// a burst wakes the worker once.
async fn logged(events: &mut broadcast::Receiver<std::sync::Arc<DomainEvent>>) {
    super::woken_by(events, |event| {
        matches!(
            event,
            DomainEvent::MessageCreated { .. }
                | DomainEvent::CallChanged { .. }
                | DomainEvent::ChatRequestCreated { .. }
                | DomainEvent::ChatRequestAnswered { .. }
        )
    })
    .await;
}
