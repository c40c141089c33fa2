//! Retention: each tenant's messages (with their files, reactions, hides,
//! and the copies of their text in previews, inbox entries and contact
//! flags), call history and audit log older than its settings say are
//! deleted, a small batch per transaction (no long locks; live traffic
//! writes new rows, never these). Files are marked deleted; the media
//! worker removes their objects. What went is counted in
//! `samvad_retention_deleted_total`. Notifications have their own
//! retention (`notificationRetentionDays`, `workers::notifications`).

use chrono::{DateTime, Utc};
use sqlx::{Connection, MySqlConnection, QueryBuilder};

use crate::{
    domain::{Core, MessageId, TenantId, lists::push_list, settings::TenantSettings},
    error::AppResult,
};

/// What one round removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    pub messages: u64,
    pub calls: u64,
    pub audit: u64,
}

impl Core {
    /// Deletes, for every tenant with a retention set, what is older than
    /// it: `batch` rows per transaction, until none is left.
    #[tracing::instrument(skip_all)]
    pub async fn apply_retention(&self, batch: u32) -> AppResult<Removed> {
        let mut conn = self.pool().acquire().await?;
        let rows: Vec<(TenantId, String)> =
            sqlx::query_as("SELECT tenant_id, settings FROM tenant_settings")
                .fetch_all(&mut *conn)
                .await?;
        let now = crate::domain::now();
        let mut removed = Removed::default();
        for (tenant, raw) in rows {
            let Ok(settings) = serde_json::from_str::<TenantSettings>(&raw) else {
                continue;
            };
            let r = settings.retention;
            if let Some(cutoff) = cutoff(now, r.messages_days) {
                removed.messages += messages(&mut conn, tenant, cutoff, batch).await?;
            }
            if let Some(cutoff) = cutoff(now, r.calls_days) {
                removed.calls += rows_before(
                    &mut conn,
                    "DELETE FROM calls WHERE tenant_id = ? AND ended_at < ? LIMIT ?",
                    tenant,
                    cutoff,
                    batch,
                )
                .await?;
            }
            if let Some(cutoff) = cutoff(now, r.audit_days) {
                removed.audit += rows_before(
                    &mut conn,
                    "DELETE FROM audit_log WHERE tenant_id = ? AND created_at < ? LIMIT ?",
                    tenant,
                    cutoff,
                    batch,
                )
                .await?;
            }
        }
        for (kind, n) in [
            ("messages", removed.messages),
            ("calls", removed.calls),
            ("audit", removed.audit),
        ] {
            metrics::counter!("samvad_retention_deleted_total", "kind" => kind).increment(n);
        }
        Ok(removed)
    }
}

/// The moment before which records go, for `days` (0: keep them).
fn cutoff(now: DateTime<Utc>, days: u32) -> Option<DateTime<Utc>> {
    (days > 0).then(|| now - chrono::Duration::days(days.into()))
}

/// Runs a `DELETE ... LIMIT ?` until it deletes fewer than `batch`.
async fn rows_before(
    conn: &mut MySqlConnection,
    sql: &str,
    tenant: TenantId,
    cutoff: DateTime<Utc>,
    batch: u32,
) -> sqlx::Result<u64> {
    let mut total = 0;
    loop {
        let gone = sqlx::query(sql)
            .bind(tenant)
            .bind(cutoff)
            .bind(batch)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        total += gone;
        if gone < u64::from(batch) {
            return Ok(total);
        }
    }
}

/// Deletes the tenant's messages made before `cutoff`, `batch` at a time,
/// with what hangs off them; then the copies of old text elsewhere.
async fn messages(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    cutoff: DateTime<Utc>,
    batch: u32,
) -> sqlx::Result<u64> {
    let mut total = 0;
    loop {
        let mut tx = conn.begin().await?;
        let ids: Vec<MessageId> = sqlx::query_scalar(
            "SELECT id FROM messages WHERE tenant_id = ? AND created_at < ?
             ORDER BY created_at LIMIT ? FOR UPDATE SKIP LOCKED",
        )
        .bind(tenant)
        .bind(cutoff)
        .bind(batch)
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            break;
        }
        // Files go with their messages (the media worker removes objects).
        let mut files = QueryBuilder::new(
            "UPDATE files f JOIN message_files mf ON mf.tenant_id = f.tenant_id AND mf.file_id = f.id
             SET f.state = 'deleted' WHERE mf.tenant_id = ",
        );
        files.push_bind(tenant).push(" AND mf.message_id IN ");
        push_list(&mut files, ids.iter().copied());
        files.build().execute(&mut *tx).await?;
        for table in [
            "message_files",
            "message_reactions",
            "message_hides",
            "messages",
        ] {
            let column = if table == "messages" {
                "id"
            } else {
                "message_id"
            };
            let mut delete = QueryBuilder::new(format!("DELETE FROM {table} WHERE tenant_id = "));
            delete.push_bind(tenant).push(format!(" AND {column} IN "));
            push_list(&mut delete, ids.iter().copied());
            delete.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        total += ids.len() as u64;
        if ids.len() < batch as usize {
            break;
        }
    }
    // Old text copied elsewhere goes too.
    for sql in [
        "UPDATE conversations SET last_message_preview = NULL
         WHERE tenant_id = ? AND last_message_at < ? AND last_message_preview IS NOT NULL LIMIT ?",
        "DELETE FROM notifications WHERE tenant_id = ? AND kind = 'message' AND updated_at < ? LIMIT ?",
        "DELETE FROM contact_flags WHERE tenant_id = ? AND created_at < ? LIMIT ?",
    ] {
        rows_before(conn, sql, tenant, cutoff, batch).await?;
    }
    Ok(total)
}
