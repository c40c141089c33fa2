//! The MySQL pool: connecting, creating the database when missing, the
//! migrations embedded in the binary from `migrations/`, and the server's
//! status counters.

use std::{
    collections::HashMap,
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use sqlx::{
    ConnectOptions, Connection, Executor,
    migrate::Migrator,
    mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions},
};

/// The migrations in `migrations/`, compiled into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The pool type used everywhere.
pub type Pool = MySqlPool;

/// The URL with any password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

fn options(url: &str) -> anyhow::Result<MySqlConnectOptions> {
    let options = MySqlConnectOptions::from_str(url).map_err(|err| {
        anyhow::anyhow!("DATABASE_URL {} is not a MySQL URL: {err}", redact_url(url))
    })?;
    // Statement logging at INFO drowns the server log; keep slow ones only.
    Ok(options
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500))
        .charset("utf8mb4"))
}

/// `url` without its database path (query parameters kept): the server itself.
fn server_url(url: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[host_start..].find('/') {
        Some(slash) => &base[..host_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}?{q}"),
        None => base.to_owned(),
    }
}

/// Creates the database named in `url` if it does not exist yet.
pub async fn create_database_if_missing(url: &str) -> anyhow::Result<()> {
    let options = options(url)?;
    let Some(name) = options.get_database().map(str::to_owned) else {
        anyhow::bail!("DATABASE_URL {} names no database", redact_url(url));
    };
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        anyhow::bail!("database name `{name}` may only contain letters, digits and `_`");
    }
    let mut server = self::options(&server_url(url))?
        .connect()
        .await
        .with_context(|| format!("cannot connect to MySQL at {}", redact_url(url)))?;
    server
        .execute(
            format!(
                "CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
            .as_str(),
        )
        .await
        .with_context(|| format!("cannot create database `{name}` at {}", redact_url(url)))?;
    Ok(())
}

/// A pooled connection idle for longer than this is pinged before use.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);

/// Connects a pool to `url` (the database must exist).
///
/// sqlx pings every connection it hands out by default: one extra round
/// trip per acquire, several per request. Only a connection that sat idle
/// long enough for the server or a proxy to have dropped it is pinged here.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Pool> {
    pool_options(max_connections)
        .connect_with(options(url)?)
        .await
        .with_context(|| format!("cannot connect to MySQL at {}", redact_url(url)))
}

fn pool_options(max_connections: u32) -> MySqlPoolOptions {
    MySqlPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// Prepared statements each message writer's connection keeps. The
/// writer's statements take a list of rows whose length is the batch's,
/// so each length is a statement of its own to MariaDB: the lengths are
/// rounded up to a few sizes (`domain::lists`), and the writers have
/// connections of their own so that those statements stay prepared
/// instead of pushing out each other and everyone else's (the pool's
/// connections keep sqlx's default of 100). At 5,000 msgs/s, about one
/// in four of the writers' statements was prepared again, and closed
/// again after (BENCHMARKS.md, "Issue 13, continued: statements prepared
/// again").
pub const WRITER_STATEMENTS: usize = 512;

/// The message writers' own pool, one connection per writer, to the
/// database of `pool` (connected when first used).
pub fn writers_pool(pool: &Pool, writers: usize) -> Pool {
    let options = (*pool.connect_options())
        .clone()
        .statement_cache_capacity(WRITER_STATEMENTS);
    pool_options(u32::try_from(writers.max(1)).unwrap_or(u32::MAX)).connect_lazy_with(options)
}

/// Whether the database answers, as the message writer last found it.
/// While it does not, sends are refused at once (503, never acknowledged)
/// instead of each waiting out the pool's timeout; a probe (one fresh
/// connection each [`PROBE_EVERY`]) finds when it is back.
pub struct Health {
    up: AtomicBool,
    /// A check or a probe is running.
    checking: AtomicBool,
    pool: Pool,
}

/// How often a lost database is tried again.
const PROBE_EVERY: Duration = Duration::from_millis(250);
/// How long one attempt waits to connect.
const PROBE_WAIT: Duration = Duration::from_secs(1);

impl Health {
    pub fn new(pool: Pool) -> Arc<Self> {
        Arc::new(Self {
            up: AtomicBool::new(true),
            checking: AtomicBool::new(false),
            pool,
        })
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// A connection broke: the database is lost until a probe reaches it.
    pub fn lost(self: &Arc<Self>) {
        if self.mark_lost() {
            self.watch(false);
        }
    }

    /// No pooled connection came in time: lost only if a connection of
    /// its own cannot be made either (else the pool is just busy).
    pub fn doubt(self: &Arc<Self>) {
        if self.is_up() {
            self.watch(true);
        }
    }

    /// Whether this marked the database lost (it was up).
    fn mark_lost(&self) -> bool {
        let was_up = self.up.swap(false, Ordering::Relaxed);
        if was_up {
            tracing::error!("the database does not answer: refusing sends until it does");
        }
        was_up
    }

    /// Starts a probe unless one runs.
    fn watch(self: &Arc<Self>, doubting: bool) {
        if !self.checking.swap(true, Ordering::Relaxed) {
            tokio::spawn(probe(Arc::downgrade(self), doubting));
        }
    }
}

/// Whether the database answers a fresh connection (a refusal from the
/// server itself, such as too many connections, is an answer).
async fn answers(pool: &Pool) -> bool {
    let options = pool.connect_options();
    match tokio::time::timeout(PROBE_WAIT, sqlx::MySqlConnection::connect_with(&*options)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            true
        }
        Ok(Err(sqlx::Error::Database(_))) => true,
        _ => false,
    }
}

/// Doubting: one look first, and the database is lost only if it fails.
/// Lost: a look each [`PROBE_EVERY`] until the database answers.
async fn probe(health: std::sync::Weak<Health>, doubting: bool) {
    if doubting {
        let Some(health) = health.upgrade() else {
            return;
        };
        if answers(&health.pool).await {
            health.checking.store(false, Ordering::Relaxed);
            return;
        }
        health.mark_lost();
    }
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        let Some(health) = health.upgrade() else {
            return;
        };
        if health.pool.is_closed() {
            health.checking.store(false, Ordering::Relaxed);
            return;
        }
        if answers(&health.pool).await {
            health.up.store(true, Ordering::Relaxed);
            health.checking.store(false, Ordering::Relaxed);
            tracing::info!("the database answers again");
            return;
        }
    }
}

/// Applies the embedded migrations that have not run yet.
pub async fn migrate(pool: &Pool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await.context("running migrations")
}

/// The server's global status counters that parse as numbers, by name
/// (`SHOW GLOBAL STATUS`; e.g. `Com_commit`, `Questions`): the whole
/// server's, every client counted.
pub async fn global_status(pool: &Pool, names: &[&str]) -> sqlx::Result<HashMap<String, u64>> {
    let mut query = sqlx::QueryBuilder::new("SHOW GLOBAL STATUS WHERE Variable_name IN (");
    let mut list = query.separated(", ");
    for name in names {
        list.push_bind(*name);
    }
    query.push(")");
    let rows: Vec<(String, String)> = query.build_query_as().fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, value)| Some((name, value.parse().ok()?)))
        .collect())
}

/// Creates the database if needed, connects, and migrates: what `serve` and
/// `migrate` do before anything else.
pub async fn prepare(url: &str, max_connections: u32) -> anyhow::Result<Pool> {
    create_database_if_missing(url).await?;
    let pool = connect(url, max_connections).await?;
    migrate(&pool).await?;
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_hidden_from_urls() {
        assert_eq!(
            redact_url("mysql://app:hunter2@db.internal:3306/samvad"),
            "mysql://app:***@db.internal:3306/samvad"
        );
    }

    #[test]
    fn the_server_url_drops_only_the_database() {
        assert_eq!(
            super::server_url("mysql://root@127.0.0.1:3306/samvad?ssl-mode=disabled"),
            "mysql://root@127.0.0.1:3306?ssl-mode=disabled"
        );
        assert_eq!(super::server_url("mysql://root@h/db"), "mysql://root@h");
    }

    #[test]
    fn urls_without_passwords_are_unchanged() {
        let url = "mysql://root@127.0.0.1:3306/samvad";
        assert_eq!(redact_url(url), url);
    }
}
