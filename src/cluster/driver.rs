//! Socket.IO rooms shared through Redis.
//!
//! The Socket.IO server always runs on socketioxide-redis' adapter with the
//! [`ClusterDriver`] here. Without `REDIS_URL` the driver is `Local`: it
//! publishes nowhere and hears nothing, and the fan-out emits socket by
//! socket as a single node always did. With it, the driver speaks Redis
//! pub/sub through redis' `ConnectionManager`, which reconnects after Redis
//! restarts and subscribes again to every channel (the adapter subscribes
//! once, at start: a driver on a plain connection would stop hearing other
//! nodes after the first restart, silently). The adapter carries the rooms'
//! joins, leaves and disconnections to every node; the emits cross on a
//! channel of their own (`realtime::crossing`), and the relay's cache
//! events on another (`relay`), both through this driver.

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use redis::{AsyncCommands, FromRedisValue, PushInfo, PushKind, aio::ConnectionManager};
use socketioxide_redis::{
    CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr,
    drivers::{ChanItem, Driver, MessageStream},
};
use tokio::sync::mpsc;

use crate::domain::redis_link::{REDIS_WAIT, RedisLink, mark_away};

/// The adapter every socket of this server is in.
pub type Adapter = CustomRedisAdapter<socketioxide::adapter::Emitter, ClusterDriver>;

type Handlers = Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>>;

/// Pub/sub for the adapter: Redis, or nothing (one node).
#[derive(Clone)]
pub enum ClusterDriver {
    Local,
    Redis {
        conn: ConnectionManager,
        handlers: Handlers,
        /// Whether Redis answers: set by a ping each second, cleared by a
        /// failed ping or a publish that lost the connection. While it is
        /// clear, publishing (and the rate limits' and presence's requests,
        /// `RedisLink`) fail at once instead of waiting on a dead
        /// connection.
        up: Arc<AtomicBool>,
    },
}

impl ClusterDriver {
    /// Connects to `url` (which must ask for RESP3: `?protocol=resp3`).
    pub async fn redis(url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(connection_info(url)?)?;
        let handlers: Handlers = Arc::default();
        let routes = handlers.clone();
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_push_sender(move |msg: PushInfo| {
                route(msg, &routes);
                Ok::<(), std::convert::Infallible>(())
            })
            .set_automatic_resubscription()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_max_delay(Duration::from_secs(2));
        let conn = ConnectionManager::new_with_config(client, config).await?;
        let up = Arc::new(AtomicBool::new(true));
        tokio::spawn(watch(conn.clone(), Arc::downgrade(&up)));
        Ok(Self::Redis { conn, handlers, up })
    }

    /// The Redis connection, if any (for the other shared state).
    pub fn connection(&self) -> Option<RedisLink> {
        match self {
            Self::Local => None,
            Self::Redis { conn, up, .. } => Some(RedisLink::new(conn.clone(), up.clone())),
        }
    }

    /// The adapter's constructor state, channels under `prefix`.
    pub fn adapter(self, prefix: &str) -> RedisAdapterCtr<Self> {
        let config = RedisAdapterConfig::new()
            .with_prefix(prefix.to_owned())
            .with_request_timeout(Duration::from_secs(5));
        RedisAdapterCtr::new_with_driver(self, config)
    }
}

/// Where and how to connect: `url`, with `TCP_NODELAY`, which redis-rs
/// leaves off. Every request on this one connection is small, and with
/// Nagle's algorithm a small write (a publish) waits in the kernel while
/// an earlier one (a rate check) is unanswered, so one slow answer would
/// delay the next crossing. (On a quiet loopback the difference was
/// within the noise: BENCHMARKS.md, "the crossing's tail".)
fn connection_info(url: &str) -> redis::RedisResult<redis::ConnectionInfo> {
    Ok(redis::IntoConnectionInfo::into_connection_info(url)?
        .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true)))
}

/// How long a publish may take before it fails (the caller decides what
/// then: the crossing tries again, the relay retries).
const PUBLISH_WAIT: Duration = Duration::from_millis(250);

/// Pings Redis each second and keeps `up` current, until the driver is
/// dropped.
async fn watch(conn: ConnectionManager, up: std::sync::Weak<AtomicBool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let Some(flag) = up.upgrade() else {
            return;
        };
        let mut conn = conn.clone();
        let cmd = redis::cmd("PING");
        let ping = cmd.query_async::<String>(&mut conn);
        let alive = matches!(tokio::time::timeout(REDIS_WAIT, ping).await, Ok(Ok(_)));
        if !alive {
            mark_away(&flag, "a ping failed");
        } else if !flag.swap(true, Ordering::Relaxed) {
            tracing::info!("Redis answers again: the nodes share rooms again");
        }
    }
}

/// Hands a pub/sub message to the stream of its channel.
fn route(msg: PushInfo, handlers: &Handlers) {
    if !matches!(msg.kind, PushKind::Message) || msg.data.len() < 2 {
        return;
    }
    let mut data = msg.data.into_iter();
    let (Some(chan), Some(payload)) = (data.next(), data.next()) else {
        return;
    };
    let (Ok(chan), Ok(payload)) = (
        String::from_redis_value(chan),
        Vec::<u8>::from_redis_value(payload),
    ) else {
        return;
    };
    let handlers = handlers.read().unwrap_or_else(|e| e.into_inner());
    if let Some(tx) = handlers.get(&chan)
        && let Err(err) = tx.try_send((chan, payload))
    {
        tracing::warn!(error = %err, "a node fell behind reading Redis pub/sub");
    }
}

impl Driver for ClusterDriver {
    type Error = redis::RedisError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        match self {
            Self::Local => Ok(()),
            Self::Redis { conn, up, .. } => {
                if !up.load(Ordering::Relaxed) {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::Io,
                        "Redis is not answering",
                    )));
                }
                // Bounded: a publish caught by Redis going away would
                // otherwise wait out the connection's response timeout. A
                // slow publish fails alone; a lost connection marks Redis
                // away until a ping answers.
                match tokio::time::timeout(PUBLISH_WAIT, conn.clone().publish(chan, val)).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(err)) => {
                        mark_away(up, "a publish failed");
                        Err(err)
                    }
                    Err(_) => Err(redis::RedisError::from((
                        redis::ErrorKind::Io,
                        "Redis did not take a publish in time",
                    ))),
                }
            }
        }
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, Self::Error> {
        match self {
            Self::Local => Ok(MessageStream::new_empty()),
            Self::Redis { conn, handlers, .. } => {
                let (tx, rx) = mpsc::channel(size);
                handlers
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(chan.clone(), tx);
                conn.clone().subscribe(chan).await?;
                Ok(MessageStream::new(rx))
            }
        }
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        match self {
            Self::Local => Ok(()),
            Self::Redis { conn, handlers, .. } => {
                handlers
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&chan);
                conn.clone().unsubscribe(chan).await
            }
        }
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        match self {
            // Just this one.
            Self::Local => Ok(1),
            Self::Redis { conn, .. } => {
                let (_, count): (String, u16) = redis::cmd("PUBSUB")
                    .arg("NUMSUB")
                    .arg(chan)
                    .query_async(&mut conn.clone())
                    .await?;
                Ok(count)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_sends_at_once_and_keeps_the_url() {
        let info = connection_info("redis://cache.internal:6380/2?protocol=resp3").unwrap();
        assert!(info.tcp_settings().nodelay());
        assert_eq!(
            info.addr(),
            &redis::ConnectionAddr::Tcp("cache.internal".into(), 6380)
        );
        assert_eq!(info.redis_settings().db(), 2);
        assert_eq!(
            info.redis_settings().protocol(),
            redis::ProtocolVersion::RESP3
        );
    }
}
