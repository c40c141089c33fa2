//! Several nodes on one database and one Redis (`REDIS_URL`).
//!
//! - [`driver`]: Redis pub/sub for socketioxide-redis' adapter (the rooms'
//!   joins, leaves and disconnections) and for the emits crossing between
//!   nodes (`realtime::crossing`), or nothing, for one node; on a
//!   connection that survives Redis restarts.
//! - [`relay`]: the events other nodes must hear to keep their caches right
//!   (revoked sessions, policies, settings, a tenant suspended), published
//!   on Redis and applied on arrival.
//!
//! Without `REDIS_URL` the driver is local and no relay runs: one process,
//! nothing else to start.

pub mod driver;
pub mod relay;

pub use driver::{Adapter, ClusterDriver};

use crate::config::Config;

/// The driver the configuration asks for.
pub async fn driver(config: &Config) -> anyhow::Result<ClusterDriver> {
    match &config.redis_url {
        Some(url) => ClusterDriver::redis(url.expose()).await,
        None => Ok(ClusterDriver::Local),
    }
}
