//! The link to Redis that rate limits and presence use with several nodes
//! (issue 16's faults): a Redis that hangs costs one wait, after which
//! requests fail at once (and their callers count on this node) until the
//! driver's ping finds Redis answering again.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use samvad::domain::redis_link::{REDIS_WAIT, RedisLink};

use crate::helpers::redis::PrivateRedis;

async fn ping(link: &RedisLink) -> redis::RedisResult<String> {
    link.run(|mut conn| async move { redis::cmd("PING").query_async(&mut conn).await })
        .await
}

#[tokio::test]
async fn a_redis_that_hangs_costs_one_wait_then_requests_fail_at_once() {
    let redis = PrivateRedis::start().await;
    let client = redis::Client::open(redis.url()).unwrap();
    let conn = redis::aio::ConnectionManager::new(client).await.unwrap();
    let up = Arc::new(AtomicBool::new(true));
    let link = RedisLink::new(conn, up.clone());
    assert_eq!(ping(&link).await.unwrap(), "PONG");

    redis.hang(true);
    let first = Instant::now();
    assert!(ping(&link).await.is_err());
    assert!(first.elapsed() >= REDIS_WAIT, "{:?}", first.elapsed());
    assert!(
        !up.load(Ordering::Relaxed),
        "a request that timed out marks Redis away"
    );
    // No ping runs here to mark it away: only the timeout did.
    for _ in 0..5 {
        let next = Instant::now();
        assert!(ping(&link).await.is_err());
        assert!(
            next.elapsed() < Duration::from_millis(50),
            "{:?}",
            next.elapsed()
        );
    }

    // Once a ping finds it answering (the driver's job), requests go through.
    redis.hang(false);
    up.store(true, Ordering::Relaxed);
    assert_eq!(ping(&link).await.unwrap(), "PONG");
}
