//! What the metrics endpoint reads when it is scraped: the database pool,
//! the push, webhook and thumbnail queues and the calls not yet over, summed over every tenant (no
//! tenant appears in a metric).

use sqlx::Row;

use super::Core;
use crate::error::AppResult;

/// A snapshot of the states the metrics report.
#[derive(Debug, Default)]
pub struct Gauges {
    /// Pool connections open, and of those idle.
    pub pool_open: u32,
    pub pool_idle: u32,
    /// Pushes waiting to be expanded into deliveries, and deliveries
    /// waiting to be sent or being sent.
    pub pushes_pending: u64,
    pub deliveries_pending: u64,
    /// Files waiting for (or in the middle of) their thumbnails.
    pub thumbnails_pending: u64,
    /// Webhook deliveries waiting to be sent (retries included) or being sent.
    pub webhooks_pending: u64,
    /// Calls holding a line, per status (`ringing`, `ongoing`, ...).
    pub calls: Vec<(String, u64)>,
}

impl Core {
    /// The gauges' values now.
    pub async fn gauges(&self) -> AppResult<Gauges> {
        let pool = self.pool();
        let (pool_open, pool_idle) = (pool.size(), pool.num_idle() as u32);
        let mut conn = pool.acquire().await?;
        let queue = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM pushes WHERE state = 'pending') AS pushes,
                    (SELECT COUNT(*) FROM push_deliveries WHERE state IN ('pending', 'sending')) AS deliveries,
                    (SELECT COUNT(*) FROM files WHERE thumbs IN ('pending', 'working')) AS thumbnails,
                    (SELECT COUNT(*) FROM webhook_deliveries WHERE state IN ('pending', 'sending')) AS webhooks",
        )
        .fetch_one(&mut *conn)
        .await?;
        // A live call holds a line per party (a small table).
        let calls = sqlx::query(
            "SELECT c.status, COUNT(DISTINCT c.tenant_id, c.id) AS n
             FROM call_lines l JOIN calls c ON c.tenant_id = l.tenant_id AND c.id = l.call_id
             GROUP BY c.status",
        )
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| -> AppResult<(String, u64)> {
            let n: i64 = row.try_get("n")?;
            Ok((row.try_get("status")?, n.max(0) as u64))
        })
        .collect::<AppResult<_>>()?;
        let count = |column: &str| -> AppResult<u64> {
            let n: i64 = queue.try_get(column)?;
            Ok(n.max(0) as u64)
        };
        Ok(Gauges {
            pool_open,
            pool_idle,
            pushes_pending: count("pushes")?,
            deliveries_pending: count("deliveries")?,
            thumbnails_pending: count("thumbnails")?,
            webhooks_pending: count("webhooks")?,
            calls,
        })
    }
}
