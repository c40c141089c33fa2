//! Admission of sends: at most `SAMVAD_SEND_QUEUE` sends are in progress at
//! once (waiting for a connection or inside their transaction). Past that,
//! a send is refused at once with `overloaded` (503 with `Retry-After`, on
//! REST and in the socket ack) instead of queueing for a pooled connection
//! until it times out, so the sends that are accepted keep a bounded
//! latency. Refusals are logged as one line per ten seconds, with a count.
//!
//! At shutdown, [`Admission::drain`] refuses new sends and waits for the
//! ones in progress, so the pool is never closed under a send.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::{AppError, AppResult};

/// How often a refusal is logged, at most.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// The bound on sends in progress.
pub struct Admission {
    slots: Semaphore,
    size: u32,
    /// Refusals not logged yet.
    refused: AtomicU64,
    /// When a refusal was last logged, as milliseconds since `started`.
    logged_at: AtomicU64,
    started: Instant,
}

impl Admission {
    pub fn new(size: usize) -> Self {
        let size = u32::try_from(size.max(1)).unwrap_or(u32::MAX);
        Self {
            slots: Semaphore::new(size as usize),
            size,
            refused: AtomicU64::new(0),
            logged_at: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// A slot for one send, held until the send is done; `overloaded` when
    /// every slot is taken (or the server is shutting down).
    pub fn admit(&self) -> AppResult<SemaphorePermit<'_>> {
        self.slots.try_acquire().map_err(|_| {
            self.note_refusal();
            AppError::Overloaded
        })
    }

    /// Slots taken: sends in progress (all of them while draining).
    pub fn in_progress(&self) -> usize {
        (self.size as usize).saturating_sub(self.slots.available_permits())
    }

    /// Counts a refusal and logs the count at most once per [`LOG_EVERY`].
    fn note_refusal(&self) {
        let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.logged_at.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= LOG_EVERY.as_millis() as u64;
        if due
            && self
                .logged_at
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.refused.fetch_sub(refused, Ordering::Relaxed);
            tracing::warn!(
                refused,
                bound = self.size,
                "send queue full (SAMVAD_SEND_QUEUE): refusing sends as overloaded"
            );
        }
    }

    /// Refuses new sends and waits (at most `wait`) for those in progress.
    pub async fn drain(&self, wait: Duration) {
        match tokio::time::timeout(wait, self.slots.acquire_many(self.size)).await {
            // Keep every slot: nothing is admitted any more.
            Ok(Ok(all)) => all.forget(),
            Ok(Err(_)) => {}
            Err(_) => tracing::warn!("sends still in progress at shutdown after the timeout"),
        }
        self.slots.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sends_past_the_bound_are_refused_until_a_slot_frees() {
        let admission = Admission::new(2);
        let a = admission.admit().unwrap();
        let _b = admission.admit().unwrap();
        assert_eq!(admission.admit().unwrap_err().code(), "overloaded");
        drop(a);
        assert!(admission.admit().is_ok());
    }

    #[tokio::test]
    async fn draining_waits_for_sends_in_progress_and_refuses_new_ones() {
        let admission = std::sync::Arc::new(Admission::new(2));
        let held = admission.admit().unwrap();
        let draining = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.drain(Duration::from_secs(10)).await })
        };
        tokio::task::yield_now().await;
        // The free slot goes to the drain, not to a new send.
        while admission.slots.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(admission.admit().unwrap_err().code(), "overloaded");
        assert!(!draining.is_finished());
        drop(held);
        draining.await.unwrap();
        assert_eq!(admission.admit().unwrap_err().code(), "overloaded");
    }
}
