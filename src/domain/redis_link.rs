//! The Redis connection the core shares state through with the other nodes
//! (rate limits, presence), with whether Redis answers: the cluster
//! driver keeps that current (`cluster::driver`: its pings, and a publish
//! that loses the connection). While Redis is known to be away, requests
//! fail at once and the callers fall back to this node's own state,
//! instead of each waiting out a timeout.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use redis::{RedisError, RedisResult, aio::ConnectionManager};

/// How long a request on a hot path (a send's rate check, a connect, a
/// recipient's presence) waits for Redis before the caller goes on without.
pub const REDIS_WAIT: Duration = Duration::from_millis(250);

/// A connection to Redis and whether it answers.
#[derive(Clone)]
pub struct RedisLink {
    conn: ConnectionManager,
    up: Arc<AtomicBool>,
}

impl RedisLink {
    pub fn new(conn: ConnectionManager, up: Arc<AtomicBool>) -> Self {
        Self { conn, up }
    }

    /// The connection, for work off the hot path (heartbeats), unbounded.
    pub fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Runs `request` on the connection, failing at once while Redis is
    /// away (as the driver's pings last found it) and after [`REDIS_WAIT`]
    /// when it is slow, which marks it away until a ping answers: a Redis
    /// that hangs costs one wait, not one per request.
    pub async fn run<T, F>(&self, request: impl FnOnce(ConnectionManager) -> F) -> RedisResult<T>
    where
        F: Future<Output = RedisResult<T>>,
    {
        if !self.up.load(Ordering::Relaxed) {
            return Err(RedisError::from((redis::ErrorKind::Io, "Redis is away")));
        }
        tokio::time::timeout(REDIS_WAIT, request(self.conn.clone()))
            .await
            .unwrap_or_else(|_| {
                mark_away(&self.up, "did not answer in time");
                Err(RedisError::from((
                    redis::ErrorKind::Io,
                    "Redis is slow to answer",
                )))
            })
    }
}

/// Marks Redis away (until the driver's next ping answers), logging the
/// outage once, by whichever request notices it first.
pub fn mark_away(up: &AtomicBool, why: &str) {
    if up.swap(false, Ordering::Relaxed) {
        tracing::error!(
            why,
            "Redis does not answer: delivering to this node's sockets only"
        );
    }
}
