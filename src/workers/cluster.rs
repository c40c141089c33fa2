//! With several nodes (`REDIS_URL`): says each heartbeat that this node is
//! alive, and takes offline whoever was connected only to a node that
//! stopped saying so ([`Core::presence_heartbeat`](crate::domain::Core::presence_heartbeat)).
//! One node: nothing to do.

use super::Stop;
use crate::state::AppState;

/// Works until `stop` resolves.
pub async fn run(state: AppState, mut stop: Stop) {
    let Some(every) = state.core.presence_heartbeat_every() else {
        return stop.stopped().await;
    };
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            () = stop.stopped() => return,
            _ = tick.tick() => state.core.presence_heartbeat().await,
        }
    }
}
