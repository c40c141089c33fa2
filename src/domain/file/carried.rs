//! The files messages carry (`message_files`): reading them for a page,
//! linking a batch's new messages to theirs, locking them against deletion
//! while a batch sends them, who they are shared with, and unlinking a
//! message deleted for everyone.

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, QueryBuilder};

use super::{COLUMNS, StoredFile};
use crate::domain::{FileId, MessageId, ParticipantId, TenantId};

/// The files of these messages, as `(message, file)` in each message's
/// order; files being deleted are left out.
pub async fn of_messages(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    messages: &[MessageId],
) -> sqlx::Result<Vec<(MessageId, StoredFile)>> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let columns = COLUMNS
        .split(", ")
        .map(|c| format!("f.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut query = QueryBuilder::new(format!(
        "SELECT mf.message_id, {columns} FROM message_files mf \
         JOIN files f ON f.tenant_id = mf.tenant_id AND f.id = mf.file_id AND f.state = 'ready' \
         WHERE mf.tenant_id = "
    ));
    query.push_bind(tenant).push(" AND mf.message_id IN (");
    let mut list = query.separated(", ");
    for id in messages {
        list.push_bind(*id);
    }
    query.push(") ORDER BY mf.message_id, mf.position");
    let rows: Vec<OfMessage> = query.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(|r| (r.message_id, r.file)).collect())
}

#[derive(sqlx::FromRow)]
struct OfMessage {
    message_id: MessageId,
    #[sqlx(flatten)]
    file: StoredFile,
}

/// Links a batch's new messages to their files and marks the files sent.
pub async fn link(
    conn: &mut MySqlConnection,
    links: &[(TenantId, MessageId, Vec<FileId>)],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let rows: Vec<(TenantId, MessageId, u8, FileId)> = links
        .iter()
        .flat_map(|(tenant, message, files)| {
            files
                .iter()
                .enumerate()
                .map(move |(i, f)| (*tenant, *message, i as u8, *f))
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let mut insert =
        QueryBuilder::new("INSERT INTO message_files (tenant_id, message_id, position, file_id) ");
    insert.push_values(&rows, |mut b, (tenant, message, position, file)| {
        b.push_bind(*tenant)
            .push_bind(*message)
            .push_bind(*position)
            .push_bind(*file);
    });
    insert.build().execute(&mut *conn).await?;
    let mut sent = QueryBuilder::new("UPDATE files SET sent_at = COALESCE(sent_at, ");
    sent.push_bind(now).push(") WHERE (tenant_id, id) IN (");
    let mut list = sent.separated(", ");
    for (tenant, _, _, file) in &rows {
        list.push("(")
            .push_bind_unseparated(*tenant)
            .push_unseparated(", ")
            .push_bind_unseparated(*file)
            .push_unseparated(")");
    }
    sent.push(")");
    sent.build().execute(conn).await?;
    Ok(())
}

/// Of `files`, those still ready, locked against deletion until the
/// transaction ends (a send and a delete of the same file cannot cross).
/// Exclusive and in key order: the batch then updates them (`link`), and
/// two batches sending one file wait for each other instead of deadlocking.
pub async fn lock_ready(
    conn: &mut MySqlConnection,
    files: &[(TenantId, FileId)],
) -> sqlx::Result<std::collections::HashSet<(TenantId, FileId)>> {
    if files.is_empty() {
        return Ok(Default::default());
    }
    let mut query = QueryBuilder::new(
        // Forced: a scan would lock every row it reads (see the writer's
        // `lock_conversations`).
        "SELECT tenant_id, id FROM files FORCE INDEX (PRIMARY)
         WHERE state = 'ready' AND (tenant_id, id) IN ",
    );
    crate::domain::lists::push_pairs(&mut query, files.iter().copied());
    query.push(" ORDER BY tenant_id, id FOR UPDATE");
    let rows: Vec<(TenantId, FileId)> = query.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().collect())
}

/// Whether `participant` is a current member of a conversation where a
/// message not deleted for everyone carries the file.
pub async fn shared_with(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    file: FileId,
    participant: ParticipantId,
) -> sqlx::Result<bool> {
    let found: Option<(i32,)> = sqlx::query_as(
        "SELECT 1 FROM message_files mf
         JOIN messages m ON m.tenant_id = mf.tenant_id AND m.id = mf.message_id AND m.deleted_at IS NULL
         JOIN conversation_members cm ON cm.tenant_id = m.tenant_id
              AND cm.conversation_id = m.conversation_id AND cm.participant_id = ? AND cm.left_at IS NULL
         WHERE mf.tenant_id = ? AND mf.file_id = ? LIMIT 1",
    )
    .bind(participant)
    .bind(tenant)
    .bind(file)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// Unlinks a message deleted for everyone from its files; those no other
/// message carries are marked deleted (the sweeper removes them). Returns
/// how many were.
pub async fn unlink(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    message: MessageId,
) -> sqlx::Result<u64> {
    let files: Vec<(FileId,)> =
        sqlx::query_as("SELECT file_id FROM message_files WHERE tenant_id = ? AND message_id = ?")
            .bind(tenant)
            .bind(message)
            .fetch_all(&mut *conn)
            .await?;
    if files.is_empty() {
        return Ok(0);
    }
    sqlx::query("DELETE FROM message_files WHERE tenant_id = ? AND message_id = ?")
        .bind(tenant)
        .bind(message)
        .execute(&mut *conn)
        .await?;
    let mut orphaned =
        QueryBuilder::new("UPDATE files f SET f.state = 'deleted' WHERE f.tenant_id = ");
    orphaned.push_bind(tenant).push(" AND f.id IN (");
    let mut list = orphaned.separated(", ");
    for (id,) in &files {
        list.push_bind(*id);
    }
    orphaned.push(
        ") AND NOT EXISTS (SELECT 1 FROM message_files mf \
         WHERE mf.tenant_id = f.tenant_id AND mf.file_id = f.id)",
    );
    Ok(orphaned.build().execute(conn).await?.rows_affected())
}
