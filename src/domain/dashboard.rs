//! The numbers on the console's dashboard, for one tenant.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::Row;

use super::{Actor, Core, participant::ParticipantType};
use crate::error::{AppError, AppResult};

/// A tenant at a glance.
#[derive(Debug, Clone, Default)]
pub struct Dashboard {
    pub users: u64,
    pub astrologers: u64,
    pub admins: u64,
    pub conversations_today: u64,
    pub messages_today: u64,
    pub online_now: u64,
    pub calls_live: u64,
    pub calls_today: u64,
    /// Calls today that nobody answered (missed, busy, rejected).
    pub calls_missed_today: u64,
    /// Messages per day, oldest first, the last 7 days (today included).
    pub messages_by_day: Vec<(NaiveDate, u64)>,
    /// Bytes the tenant's files take (thumbnails included, deleted ones
    /// not), the number the upload quota is checked against.
    pub storage_used: u64,
    /// The tenant's storage quota (`media.storageQuotaBytes`).
    pub storage_quota: u64,
}

impl Dashboard {
    /// Share of today's calls that were not answered, in percent.
    pub fn missed_rate(&self) -> Option<u64> {
        (self.calls_today > 0).then(|| self.calls_missed_today * 100 / self.calls_today)
    }

    /// Share of the storage quota in use, in percent (rounded down).
    pub fn storage_percent(&self) -> u64 {
        if self.storage_quota == 0 {
            return 0;
        }
        (u128::from(self.storage_used) * 100 / u128::from(self.storage_quota)) as u64
    }
}

fn count(row: &sqlx::mysql::MySqlRow, column: &str) -> AppResult<u64> {
    let n: i64 = row.try_get(column)?;
    Ok(n.max(0) as u64)
}

impl Core {
    /// The actor's tenant at a glance (admins). "Today" is the UTC day.
    pub async fn dashboard(&self, actor: &Actor) -> AppResult<Dashboard> {
        let tenant = actor.tenant()?;
        if !actor.sees_everyone() {
            return Err(AppError::forbidden("the dashboard is for admins"));
        }
        let now: DateTime<Utc> = super::now();
        let today = now.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default();
        let week = today - Duration::days(6);
        let mut conn = self.pool().acquire().await?;
        let people = sqlx::query(
            "SELECT CAST(COALESCE(SUM(type = 'user'), 0) AS SIGNED) AS users,
                    CAST(COALESCE(SUM(type = 'astrologer'), 0) AS SIGNED) AS astrologers,
                    CAST(COALESCE(SUM(type = 'admin'), 0) AS SIGNED) AS admins
             FROM participants WHERE tenant_id = ?",
        )
        .bind(tenant)
        .fetch_one(&mut *conn)
        .await?;
        let conversations = sqlx::query(
            "SELECT COUNT(*) AS n FROM conversations WHERE tenant_id = ? AND created_at >= ?",
        )
        .bind(tenant)
        .bind(today)
        .fetch_one(&mut *conn)
        .await?;
        let by_day = sqlx::query(
            "SELECT DATE(created_at) AS day, COUNT(*) AS n FROM messages
             WHERE tenant_id = ? AND created_at >= ? GROUP BY DATE(created_at)",
        )
        .bind(tenant)
        .bind(week)
        .fetch_all(&mut *conn)
        .await?;
        let calls = sqlx::query(
            "SELECT CAST(COALESCE(SUM(status IN ('initiated', 'ringing', 'answered', 'ongoing')), 0) AS SIGNED) AS live,
                    CAST(COALESCE(SUM(initiated_at >= ?), 0) AS SIGNED) AS today,
                    CAST(COALESCE(SUM(initiated_at >= ? AND status IN ('missed', 'busy', 'rejected')), 0) AS SIGNED) AS missed
             FROM calls WHERE tenant_id = ? AND (initiated_at >= ? OR status IN ('initiated', 'ringing', 'answered', 'ongoing'))",
        )
        .bind(today)
        .bind(today)
        .bind(tenant)
        .bind(today)
        .fetch_one(&mut *conn)
        .await?;
        let online_now = self
            .online_counts(tenant, &ParticipantType::ALL)
            .await
            .iter()
            .map(|&n| u64::from(n))
            .sum();
        let storage_used = super::file::used_bytes(&mut conn, tenant).await?;
        let storage_quota = self.settings_of(tenant).await?.media.storage_quota_bytes;
        let mut messages_by_day = Vec::with_capacity(7);
        let mut messages_today = 0;
        for offset in 0..7 {
            let day = week.date() + Duration::days(offset);
            let mut n = 0;
            for row in &by_day {
                let d: NaiveDate = row.try_get("day")?;
                if d == day {
                    n = count(row, "n")?;
                }
            }
            if day == today.date() {
                messages_today = n;
            }
            messages_by_day.push((day, n));
        }
        Ok(Dashboard {
            users: count(&people, "users")?,
            astrologers: count(&people, "astrologers")?,
            admins: count(&people, "admins")?,
            conversations_today: count(&conversations, "n")?,
            messages_today,
            online_now,
            calls_live: count(&calls, "live")?,
            calls_today: count(&calls, "today")?,
            calls_missed_today: count(&calls, "missed")?,
            messages_by_day,
            storage_used,
            storage_quota,
        })
    }
}
