//! Files: photos, voice notes, videos and documents that messages carry.
//! Types and SQL here; the use cases beside it: `upload` (a file from the
//! wire to the storage, checked on the way), `service` (reading, access,
//! deleting, what messages carry), `links` (the signed download links),
//! `upkeep` (thumbnails and the sweeps, driven by `workers::media`).
//!
//! The bytes live in the object storage (`crate::storage`, the disk or any
//! S3) under `t/<tenant>/<file>/<variant>`; the `files` row is the truth.
//! A row is made before its object is put and turns `ready` only once the
//! object is stored, so a crash mid-upload leaves a row the sweeper cleans.

mod links;
mod rules;
mod service;
mod upkeep;
pub mod upload;

pub use links::{Links, Variant};
pub use rules::{MAX_FILE_BYTES, MediaRules};
pub use service::{ByteRange, Content, Files, SignedLink};
pub use upload::{Spool, UploadMeta};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{MySqlConnection, QueryBuilder};

use super::{FileId, MessageId, ParticipantId, TenantId};

/// What a file is, from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Image,
    Audio,
    Video,
    File,
}

super::text_enum!(FileKind {
    Image => "image",
    Audio => "audio",
    Video => "video",
    File => "file",
});

/// Where a file is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// Its object is being put; not usable yet.
    Storing,
    Ready,
    /// To be removed by the sweeper; reads find nothing.
    Deleted,
}

super::text_enum!(FileState {
    Storing => "storing",
    Ready => "ready",
    Deleted => "deleted",
});

/// Whether an image's thumbnails are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thumbs {
    /// Not an image.
    None,
    Pending,
    Ready,
    Failed,
}

super::text_enum!(Thumbs {
    None => "none",
    Pending => "pending",
    Ready => "ready",
    Failed => "failed",
});

/// The size of one thumbnail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThumbSize {
    pub width: u32,
    pub height: u32,
    pub size: u64,
}

/// Both thumbnails' sizes, as stored in `thumb_sizes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThumbSizes {
    pub small: ThumbSize,
    pub medium: ThumbSize,
}

/// A file row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredFile {
    pub tenant_id: TenantId,
    pub id: FileId,
    pub uploader_id: ParticipantId,
    pub kind: FileKind,
    pub mime_type: String,
    pub name: String,
    pub size: u64,
    pub sha256: Vec<u8>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<u32>,
    /// JSON array of 0-1 numbers.
    pub waveform: Option<String>,
    pub active: bool,
    pub state: FileState,
    pub thumbs: Thumbs,
    pub thumb_sizes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl StoredFile {
    /// The storage key of one of its objects.
    pub fn key(&self, variant: Variant) -> String {
        key(self.tenant_id, self.id, variant)
    }

    /// The thumbnails' sizes, once made.
    pub fn thumb_sizes(&self) -> Option<ThumbSizes> {
        match self.thumbs {
            Thumbs::Ready => serde_json::from_str(self.thumb_sizes.as_deref()?).ok(),
            _ => None,
        }
    }

    /// The ETag of a variant: the content's digest, or the thumbnail's.
    pub fn etag(&self, variant: Variant) -> String {
        let digest: String = self
            .sha256
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        match variant {
            Variant::Original => format!("\"{digest}\""),
            other => format!("\"{digest}-{}\"", other.as_str()),
        }
    }
}

/// A file as a message or an answer carries it: the row and its links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub file: StoredFile,
    /// Signed link to the content.
    pub url: String,
    /// Signed links to the small and medium thumbnails, once made.
    pub thumbnails: Option<(String, String)>,
    pub expires_at: DateTime<Utc>,
}

/// The storage key of a file's object.
pub fn key(tenant: TenantId, id: FileId, variant: Variant) -> String {
    format!("t/{}/{}/{}", tenant.0, id.0, variant.as_str())
}

const COLUMNS: &str = "tenant_id, id, uploader_id, kind, mime_type, name, size, sha256, width, \
    height, duration_ms, waveform, active, state, thumbs, thumb_sizes, created_at, sent_at";

/// A file of the tenant in any state.
pub async fn get(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: FileId,
) -> sqlx::Result<Option<StoredFile>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM files WHERE tenant_id = ? AND id = ?"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The ready files among `ids`, in the order asked.
pub async fn ready(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    ids: &[FileId],
) -> sqlx::Result<Vec<StoredFile>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = QueryBuilder::new(format!(
        "SELECT {COLUMNS} FROM files WHERE state = 'ready' AND tenant_id = "
    ));
    query.push_bind(tenant).push(" AND id IN (");
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    query.push(")");
    let found: Vec<StoredFile> = query.build_query_as().fetch_all(conn).await?;
    Ok(ids
        .iter()
        .filter_map(|id| found.iter().find(|f| f.id == *id).cloned())
        .collect())
}

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
pub async fn lock_ready(
    conn: &mut MySqlConnection,
    files: &[(TenantId, FileId)],
) -> sqlx::Result<std::collections::HashSet<(TenantId, FileId)>> {
    if files.is_empty() {
        return Ok(Default::default());
    }
    let mut query = QueryBuilder::new(
        "SELECT tenant_id, id FROM files WHERE state = 'ready' AND (tenant_id, id) IN (",
    );
    let mut list = query.separated(", ");
    for (tenant, file) in files {
        list.push("(")
            .push_bind_unseparated(*tenant)
            .push_unseparated(", ")
            .push_bind_unseparated(*file)
            .push_unseparated(")");
    }
    query.push(") LOCK IN SHARE MODE");
    let rows: Vec<(TenantId, FileId)> = query.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().collect())
}

/// Bytes the tenant stores: its files not deleted, with their thumbnails.
pub async fn used_bytes(conn: &mut MySqlConnection, tenant: TenantId) -> sqlx::Result<u64> {
    let (total,): (Option<u64>,) = sqlx::query_as(
        "SELECT CAST(SUM(size + thumb_bytes) AS UNSIGNED) FROM files
         WHERE tenant_id = ? AND state <> 'deleted'",
    )
    .bind(tenant)
    .fetch_one(conn)
    .await?;
    Ok(total.unwrap_or(0))
}

/// Bytes each of `tenants` stores (those storing nothing are absent).
pub async fn used_bytes_of(
    conn: &mut MySqlConnection,
    tenants: &[TenantId],
) -> sqlx::Result<Vec<(TenantId, u64)>> {
    if tenants.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = QueryBuilder::new(
        "SELECT tenant_id, CAST(SUM(size + thumb_bytes) AS UNSIGNED) FROM files \
         WHERE state <> 'deleted' AND tenant_id IN (",
    );
    let mut list = query.separated(", ");
    for tenant in tenants {
        list.push_bind(*tenant);
    }
    query.push(") GROUP BY tenant_id");
    query.build_query_as().fetch_all(conn).await
}

/// Stores a new file row.
pub async fn insert(conn: &mut MySqlConnection, f: &StoredFile) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO files ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(f.tenant_id)
    .bind(f.id)
    .bind(f.uploader_id)
    .bind(f.kind)
    .bind(&f.mime_type)
    .bind(&f.name)
    .bind(f.size)
    .bind(&f.sha256)
    .bind(f.width)
    .bind(f.height)
    .bind(f.duration_ms)
    .bind(&f.waveform)
    .bind(f.active)
    .bind(f.state)
    .bind(f.thumbs)
    .bind(&f.thumb_sizes)
    .bind(f.created_at)
    .bind(f.sent_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves a file to `state`.
pub async fn set_state(
    conn: &mut MySqlConnection,
    f: &StoredFile,
    state: FileState,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE files SET state = ? WHERE tenant_id = ? AND id = ?")
        .bind(state)
        .bind(f.tenant_id)
        .bind(f.id)
        .execute(conn)
        .await?;
    Ok(())
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
