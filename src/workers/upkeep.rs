//! The upkeep worker: periodic refreshes and clean-ups.
//!
//! Every `SAMVAD_POLICY_REFRESH` it re-reads every tenant's policy (edits
//! made by the CLI or another node) and every tenant's allowed origins, and
//! forgets rate-limit keys that have recovered; hourly, it purges the
//! devices of ended sessions and spent
//! codes and links.

use std::time::{Duration, Instant};

use super::Stop;
use crate::state::AppState;

/// How often spent codes and links are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Runs upkeep rounds until `stop` resolves.
pub async fn run(state: AppState, mut stop: Stop) {
    let mut every = tokio::time::interval(state.config.policy_refresh);
    every.tick().await; // the first tick is immediate; everything is fresh
    let mut purged = Instant::now();
    loop {
        tokio::select! {
            () = stop.stopped() => return,
            _ = every.tick() => {}
        }
        round(&state, &mut purged).await;
    }
}

/// One upkeep round; failures are logged and retried next round.
async fn round(state: &AppState, purged: &mut Instant) {
    if let Err(err) = state.auth.reload_policy().await {
        super::failed("upkeep", &err, "periodic policy reload failed");
    }
    if let Err(err) = state.core.reload_known_origins().await {
        super::failed("upkeep", &err, "periodic reload of allowed origins failed");
    }
    state.core.limits().forget_idle();
    if purged.elapsed() >= PURGE_EVERY {
        *purged = Instant::now();
        if let Err(err) = state.core.purge_spent().await {
            super::failed("upkeep", &err, "purging spent codes failed");
        }
        if let Err(err) = state.core.purge_dead_devices().await {
            super::failed(
                "upkeep",
                &err,
                "purging the devices of ended sessions failed",
            );
        }
    }
}
