//! The media worker: makes the thumbnails of new images
//! ([`Core::make_thumbnails`](crate::domain::Core::make_thumbnails)) and
//! sweeps files (deleted ones, uploads a crash cut off, files never sent
//! within a day: [`Core::sweep_files`](crate::domain::Core::sweep_files)).
//! Woken at once by an upload or a deletion; otherwise it looks every
//! [`ROUND`], which also picks up work another node left.

use std::time::Duration;

use super::Stop;
use crate::state::AppState;

/// The longest the worker sleeps between rounds.
const ROUND: Duration = Duration::from_secs(60);
/// Images (and deleted files) handled per statement.
const BATCH: u32 = 8;

/// Works until `stop` resolves.
pub async fn run(state: AppState, mut stop: Stop) {
    let core = &state.core;
    let wakeup = core.media_wakeup();
    loop {
        let mut busy = false;
        match core.make_thumbnails(BATCH).await {
            Ok(n) => busy |= n as u32 == BATCH,
            Err(err) => super::failed(
                "media",
                &err,
                "making thumbnails failed; retried next round",
            ),
        }
        match core.sweep_files(BATCH * 8).await {
            Ok(n) => busy |= n as u32 == BATCH * 8,
            Err(err) => super::failed("media", &err, "sweeping files failed; retried next round"),
        }
        if busy {
            continue;
        }
        tokio::select! {
            () = stop.stopped() => return,
            () = wakeup.notified() => {}
            () = tokio::time::sleep(ROUND) => {}
        }
    }
}
