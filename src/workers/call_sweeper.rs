//! The call sweeper: times out calls left ringing past their deadline.
//!
//! It sleeps until the nearest stored ring deadline (woken early when a
//! call starts ringing), then has the core time out every overdue call
//! ([`Core::sweep_calls`](crate::domain::Core::sweep_calls)), so calls
//! time out on time, including those left ringing by a restart. The rules
//! live in `domain::call`; this loop only drives them.

use std::time::Duration;

use chrono::Utc;

use super::Stop;
use crate::state::AppState;

/// The longest the sweeper sleeps between looks at the deadlines.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// How long to wait after a failure before trying again.
const RETRY: Duration = Duration::from_secs(1);

/// Sweeps until `stop` resolves.
pub async fn run(state: AppState, mut stop: Stop) {
    let core = &state.core;
    loop {
        // After a failure, wait a little before the next attempt.
        let floor = match core.sweep_calls().await {
            Ok(_) => Duration::ZERO,
            Err(err) => {
                super::failed("call_sweeper", &err, "call sweeper failed; retrying");
                RETRY
            }
        };
        let next = match core.next_call_deadline().await {
            Ok(next) => next,
            Err(_) => {
                tokio::select! {
                    () = stop.stopped() => return,
                    () = tokio::time::sleep(RETRY) => continue,
                }
            }
        };
        let wait = next
            .map(|at| (at - Utc::now()).to_std().unwrap_or_default())
            .unwrap_or(MAX_WAIT)
            .clamp(floor, MAX_WAIT);
        tokio::select! {
            () = stop.stopped() => return,
            () = core.call_started() => {}
            () = tokio::time::sleep(wait + Duration::from_millis(5)) => {}
        }
    }
}
