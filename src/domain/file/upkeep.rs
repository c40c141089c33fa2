//! The files' background work on [`Core`], driven by `workers::media`:
//! thumbnails of new images (off the request path), and the sweep that
//! removes deleted files, uploads cut off by a crash, and files never sent.
//! Both claim their rows with `FOR UPDATE SKIP LOCKED`, so several nodes
//! never do the same file twice.

use futures_util::TryStreamExt;
use sqlx::Connection;

use super::{COLUMNS, StoredFile, ThumbSize, ThumbSizes, Variant};
use crate::{
    domain::Core,
    error::{AppError, AppResult},
    media,
    storage::StorageError,
};

/// Longest edge of the small and medium thumbnails.
pub const SMALL_EDGE: u32 = 96;
pub const MEDIUM_EDGE: u32 = 480;

/// Files never sent are removed this long after their upload.
pub const UNSENT_TTL: chrono::Duration = chrono::Duration::hours(24);

/// An upload still `storing` this long was cut off (a crash).
const STORING_TTL: chrono::Duration = chrono::Duration::hours(1);

/// Attempts at an image's thumbnails before giving up.
const THUMB_ATTEMPTS: u8 = 3;

/// A thumbnail claim older than this was left by a worker that died.
const CLAIM_TTL: chrono::Duration = chrono::Duration::minutes(5);

impl Core {
    /// Makes the thumbnails of up to `limit` images waiting for them;
    /// returns how many images were claimed. The claim is a short
    /// transaction (`working`, attempts counted); the work holds no lock.
    #[tracing::instrument(skip_all)]
    pub async fn make_thumbnails(&self, limit: u32) -> AppResult<usize> {
        let now = crate::domain::now();
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin().await?;
        let claimed: Vec<StoredFile> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM files
             WHERE state = 'ready' AND (thumbs = 'pending' OR (thumbs = 'working' AND thumbs_claimed_at < ?))
             ORDER BY created_at LIMIT ? FOR UPDATE SKIP LOCKED"
        ))
        .bind(now - CLAIM_TTL)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        for file in &claimed {
            sqlx::query(
                "UPDATE files SET thumbs = 'working', thumbs_claimed_at = ?,
                 thumb_attempts = thumb_attempts + 1 WHERE tenant_id = ? AND id = ?",
            )
            .bind(now)
            .bind(file.tenant_id)
            .bind(file.id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        for file in &claimed {
            let outcome = self.thumbnails_of(file).await;
            let done = match outcome {
                Ok(sizes) => sqlx::query(
                    "UPDATE files SET thumbs = 'ready', thumb_sizes = ?, thumb_bytes = ?
                     WHERE tenant_id = ? AND id = ? AND thumbs = 'working'",
                )
                .bind(serde_json::to_string(&sizes).unwrap_or_default())
                .bind(sizes.small.size + sizes.medium.size)
                .bind(file.tenant_id)
                .bind(file.id),
                Err(err) => {
                    // The storage out of reach is not the image's fault:
                    // the attempt is given back.
                    let unreachable = matches!(
                        err.downcast_ref::<StorageError>(),
                        Some(StorageError::Unavailable(_))
                    );
                    tracing::warn!(error = %err, file = %file.id, "making thumbnails failed");
                    sqlx::query(
                        "UPDATE files SET thumb_attempts = thumb_attempts - ?,
                         thumbs = IF(thumb_attempts >= ?, 'failed', 'pending')
                         WHERE tenant_id = ? AND id = ? AND thumbs = 'working'",
                    )
                    .bind(u8::from(unreachable))
                    .bind(THUMB_ATTEMPTS)
                    .bind(file.tenant_id)
                    .bind(file.id)
                }
            };
            done.execute(&mut *conn).await?;
        }
        Ok(claimed.len())
    }

    async fn thumbnails_of(&self, file: &StoredFile) -> anyhow::Result<ThumbSizes> {
        let storage = &self.files().storage;
        let fetched = storage.get(&file.key(Variant::Original), None).await?;
        let bytes: Vec<u8> = fetched
            .stream
            .try_fold(
                Vec::with_capacity(file.size as usize),
                |mut all, chunk| async move {
                    all.extend_from_slice(&chunk);
                    Ok(all)
                },
            )
            .await?;
        // Both from one decode of the image, a few decodes at a time.
        let _permit = super::checks::DECODES.acquire().await?;
        let mut made = tokio::task::spawn_blocking(move || {
            let limits = media::image::Limits::default();
            media::image::thumbnails(&bytes, &[SMALL_EDGE, MEDIUM_EDGE], &limits)
        })
        .await??;
        let (Some(medium), Some(small)) = (made.pop(), made.pop()) else {
            anyhow::bail!("the image gave no thumbnails");
        };
        let size = |t: &media::image::Thumbnail| ThumbSize {
            width: t.width,
            height: t.height,
            size: t.bytes.len() as u64,
        };
        let sizes = ThumbSizes {
            small: size(&small),
            medium: size(&medium),
        };
        storage
            .put_bytes(&file.key(Variant::Small), small.bytes.into())
            .await?;
        storage
            .put_bytes(&file.key(Variant::Medium), medium.bytes.into())
            .await?;
        Ok(sizes)
    }

    /// Marks files never sent (after a day) and uploads cut off (after an
    /// hour) deleted, then removes up to `limit` deleted files' objects and
    /// rows; returns how many were removed.
    #[tracing::instrument(skip_all)]
    pub async fn sweep_files(&self, limit: u32) -> AppResult<usize> {
        let now = crate::domain::now();
        let mut conn = self.pool().acquire().await?;
        sqlx::query(
            "UPDATE files SET state = 'deleted'
             WHERE (state = 'ready' AND sent_at IS NULL AND created_at < ?)
                OR (state = 'storing' AND created_at < ?)",
        )
        .bind(now - UNSENT_TTL)
        .bind(now - STORING_TTL)
        .execute(&mut *conn)
        .await?;
        // Only sweepers touch deleted rows, and deleting an object twice is
        // harmless: no lock is held while the storage is called.
        let doomed: Vec<StoredFile> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM files WHERE state = 'deleted' ORDER BY created_at LIMIT ?"
        ))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        let mut removed = 0;
        for file in &doomed {
            let mut gone = true;
            for variant in [Variant::Original, Variant::Small, Variant::Medium] {
                if let Err(err) = self.files().storage.delete(&file.key(variant)).await {
                    tracing::warn!(error = %err, file = %file.id, "deleting a file's object failed; retried later");
                    gone = false;
                }
            }
            if gone {
                let mut tx = conn.begin().await?;
                sqlx::query("DELETE FROM message_files WHERE tenant_id = ? AND file_id = ?")
                    .bind(file.tenant_id)
                    .bind(file.id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "DELETE FROM files WHERE tenant_id = ? AND id = ? AND state = 'deleted'",
                )
                .bind(file.tenant_id)
                .bind(file.id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                removed += 1;
            }
        }
        self.sweep_spool().await;
        Ok(removed)
    }

    /// Removes spool files a crash left behind (older than an hour).
    async fn sweep_spool(&self) {
        let dir = self.files().spool_dir.clone();
        let cutoff = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        let _ = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                if entry.metadata()?.modified()? < cutoff {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
            Ok(())
        })
        .await
        .map_err(|err| AppError::Internal(err.into()));
    }
}
