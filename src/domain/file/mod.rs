//! Files: photos, voice notes, videos and documents that messages carry.
//! Types and SQL here (the files messages carry in `carried`); the use
//! cases beside it: `upload` (a file from the wire to the storage; its
//! kind-specific checks in `checks`), `service` (reading, access,
//! deleting, what messages carry), `links` (the signed download links),
//! `rules` (a tenant's limits), `upkeep` (thumbnails and the sweeps,
//! driven by `workers::media`).
//!
//! The bytes live in the object storage (`crate::storage`, the disk or any
//! S3) under `t/<tenant>/<file>/<variant>`; the `files` row is the truth.
//! A row is made before its object is put and turns `ready` only once the
//! object is stored, so a crash mid-upload leaves a row the sweeper cleans.

mod carried;
mod checks;
mod links;
mod rules;
mod service;
mod upkeep;
pub mod upload;

pub use carried::{link, lock_ready, of_messages, shared_with, unlink};
pub use links::{Links, Variant};
pub use rules::{MAX_FILE_BYTES, MediaRules};
pub use service::{ByteRange, Content, Files, SignedLink};
pub use upload::{Spool, UploadMeta};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{MySqlConnection, QueryBuilder};

use super::{FileId, ParticipantId, TenantId};

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
    /// Claimed by a worker that is making them.
    Working,
    Ready,
    Failed,
}

super::text_enum!(Thumbs {
    None => "none",
    Pending => "pending",
    Working => "working",
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

/// Stores a new file row if the tenant's files (this one included) stay
/// within `quota` bytes; the tenant's row is locked meanwhile, so uploads
/// racing near the quota are counted one after another.
pub async fn insert_within(
    conn: &mut MySqlConnection,
    f: &StoredFile,
    quota: u64,
) -> sqlx::Result<bool> {
    use sqlx::Connection;
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT id FROM tenants WHERE id = ? FOR UPDATE")
        .bind(f.tenant_id)
        .fetch_optional(&mut *tx)
        .await?;
    if used_bytes(&mut tx, f.tenant_id).await? + f.size > quota {
        return Ok(false);
    }
    insert(&mut tx, f).await?;
    tx.commit().await?;
    Ok(true)
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

/// Moves a file from `from` to `to`; whether it was in `from` (a sweep or
/// a send may have moved it meanwhile). `unsent_only`: only if never sent.
pub async fn move_state(
    conn: &mut MySqlConnection,
    f: &StoredFile,
    from: FileState,
    to: FileState,
    unsent_only: bool,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE files SET state = ? WHERE tenant_id = ? AND id = ? AND state = ?
         AND (NOT ? OR sent_at IS NULL)",
    )
    .bind(to)
    .bind(f.tenant_id)
    .bind(f.id)
    .bind(from)
    .bind(unsent_only)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
