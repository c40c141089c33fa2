//! Files on [`Core`]: who may read one, the object and its links, the
//! bytes behind a signed link, deleting, and the files messages carry.

use std::{path::PathBuf, sync::Arc};

use super::{Attachment, FileKind, FileState, Links, StoredFile, Thumbs, Variant};
use crate::{
    domain::{Actor, Core, FileId, TenantId, message::Message},
    error::{AppError, AppResult},
    storage::{Fetched, Storage, StorageError},
};

/// What the core needs for files: the storage, the link signer, where
/// uploads spool, the virus scanner, and the worker's wake-up.
#[derive(Clone)]
pub struct Files {
    pub storage: Storage,
    pub links: Links,
    pub spool_dir: PathBuf,
    /// clamd's address (`SAMVAD_CLAMD_ADDR`): every upload is scanned.
    pub clamd: Option<String>,
    /// Wakes the media worker (thumbnails, sweeps).
    pub wakeup: Arc<tokio::sync::Notify>,
}

/// Bytes of a file to send.
pub struct Content {
    pub file: StoredFile,
    pub variant: Variant,
    pub fetched: Fetched,
}

impl Core {
    pub(crate) fn files(&self) -> &Files {
        &self.config.files
    }

    /// The download links' signer (tests and tools make links with it).
    pub fn file_links(&self) -> &Links {
        &self.files().links
    }

    /// Bytes each tenant stores, for the superadmin's list.
    pub async fn storage_used_by(
        &self,
        actor: &Actor,
        tenants: &[TenantId],
    ) -> AppResult<std::collections::HashMap<TenantId, u64>> {
        actor.require_superadmin()?;
        let used = super::used_bytes_of(&mut *self.pool().acquire().await?, tenants).await?;
        Ok(used.into_iter().collect())
    }

    /// Wakes the media worker (`workers::media`).
    pub fn media_wakeup(&self) -> Arc<tokio::sync::Notify> {
        self.files().wakeup.clone()
    }

    /// A file with fresh signed links.
    pub(crate) fn attachment(&self, file: StoredFile) -> Attachment {
        let links = &self.files().links;
        let expires_at = links.expiry(chrono::Utc::now());
        let thumbnails = (file.kind == FileKind::Image && file.thumbs != Thumbs::None).then(|| {
            (
                links.url(&file, Variant::Small, expires_at),
                links.url(&file, Variant::Medium, expires_at),
            )
        });
        Attachment {
            url: links.url(&file, Variant::Original, expires_at),
            thumbnails,
            expires_at,
            file,
        }
    }

    /// Fills in the files of media messages (one read for all of them).
    pub(crate) async fn attach(&self, tenant: TenantId, messages: &mut [Message]) -> AppResult<()> {
        if !messages.iter().any(|m| m.kind.has_media()) {
            return Ok(());
        }
        self.attach_with(&mut *self.pool().acquire().await?, tenant, messages)
            .await
    }

    /// [`Core::attach`] on a connection the caller holds (so a read never
    /// waits for a second one from the pool).
    pub(crate) async fn attach_with(
        &self,
        conn: &mut sqlx::MySqlConnection,
        tenant: TenantId,
        messages: &mut [Message],
    ) -> AppResult<()> {
        let ids: Vec<_> = messages
            .iter()
            .filter(|m| m.kind.has_media() && m.deleted_at.is_none() && m.attachments.is_empty())
            .map(|m| m.id)
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let found = super::of_messages(conn, tenant, &ids).await?;
        for (message, file) in found {
            if let Some(m) = messages.iter_mut().find(|m| m.id == message) {
                m.attachments.push(self.attachment(file));
            }
        }
        Ok(())
    }

    /// A file the actor may read: its uploader, the tenant's admins, and
    /// the members of a conversation where it was sent. Others: 404.
    pub async fn file(&self, actor: &Actor, id: FileId) -> AppResult<Attachment> {
        let tenant = actor.tenant()?;
        let mut conn = self.pool().acquire().await?;
        let file = super::get(&mut conn, tenant, id)
            .await?
            .filter(|f| f.state == FileState::Ready)
            .ok_or(AppError::NotFound("file"))?;
        let me = actor.participant().ok().map(|(_, me)| me);
        let readable = actor.sees_everyone()
            || me == Some(file.uploader_id)
            || match me {
                Some(me) => super::shared_with(&mut conn, tenant, id, me).await?,
                None => false,
            };
        if !readable {
            return Err(AppError::NotFound("file"));
        }
        Ok(self.attachment(file))
    }

    /// Files the actor may send (in the order given): ready, and uploaded
    /// by them or shared with them in a conversation (a forward). Any
    /// other: 404.
    pub(crate) async fn own_files(
        &self,
        actor: &Actor,
        ids: &[FileId],
    ) -> AppResult<Vec<Attachment>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (tenant, me) = actor.participant()?;
        let mut conn = self.pool().acquire().await?;
        let found = super::ready(&mut conn, tenant, ids).await?;
        if found.len() != ids.len() {
            return Err(AppError::NotFound("file"));
        }
        for file in &found {
            if file.uploader_id != me && !super::shared_with(&mut conn, tenant, file.id, me).await?
            {
                return Err(AppError::NotFound("file"));
            }
        }
        Ok(found.into_iter().map(|f| self.attachment(f)).collect())
    }

    /// Deletes a file: its uploader before it is sent, admins always.
    pub async fn delete_file(&self, actor: &Actor, id: FileId) -> AppResult<()> {
        let file = self.file(actor, id).await?.file;
        let mine = actor.participant().ok().map(|(_, me)| me) == Some(file.uploader_id);
        if !actor.is_admin() {
            if !mine {
                return Err(AppError::NotFound("file"));
            }
            if file.sent_at.is_some() {
                return Err(AppError::conflict(
                    "file_sent",
                    "this file was sent; delete the message instead",
                ));
            }
        }
        // Conditional: a send that linked the file meanwhile wins (409).
        let moved = super::move_state(
            &mut *self.pool().acquire().await?,
            &file,
            FileState::Ready,
            FileState::Deleted,
            !actor.is_admin(),
        )
        .await?;
        if !moved {
            return Err(AppError::conflict(
                "file_sent",
                "this file was sent; delete the message instead",
            ));
        }
        self.files().wakeup.notify_one();
        Ok(())
    }

    /// The bytes behind a signed link (checked here: 403 when expired or
    /// tampered, 404 when the file is gone), from `range` if given.
    pub async fn file_content(
        &self,
        link: SignedLink<'_>,
        range: Option<ByteRange>,
    ) -> AppResult<Content> {
        let tenant = self.files().links.check(
            link.tenant,
            link.id,
            link.variant,
            link.expires,
            link.signature,
        )?;
        let file = super::get(&mut *self.pool().acquire().await?, tenant, link.id)
            .await?
            .filter(|f| f.state == FileState::Ready)
            .ok_or(AppError::NotFound("file"))?;
        // A thumbnail not made yet (or that failed) is the image itself.
        let variant = match link.variant {
            Variant::Original => Variant::Original,
            _ if file.thumbs != Thumbs::Ready => Variant::Original,
            thumb => thumb,
        };
        // Ranges are of the content; a thumbnail is always sent whole.
        let range = range
            .filter(|_| variant == Variant::Original)
            .and_then(|r| r.resolve(file.size));
        let fetched = self
            .files()
            .storage
            .get(&file.key(variant), range)
            .await
            .map_err(|err| match err {
                StorageError::NotFound => AppError::NotFound("file"),
                other => {
                    tracing::warn!(error = %other, "reading a file from storage failed");
                    AppError::Unavailable(
                        "the file storage is unreachable; try again shortly".into(),
                    )
                }
            })?;
        Ok(Content {
            file,
            variant,
            fetched,
        })
    }
}

/// The parts of a signed link, as the request gave them.
pub struct SignedLink<'a> {
    pub id: FileId,
    pub variant: Variant,
    pub tenant: &'a str,
    pub expires: i64,
    pub signature: &'a str,
}

/// A `Range: bytes=...` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `start-end`, both included.
    Within(u64, u64),
    /// `start-`.
    From(u64),
    /// `-n`: the last n bytes.
    Last(u64),
}

impl ByteRange {
    /// Parses one range of a `Range` header; several ranges, other units
    /// and nonsense are `None` (the whole content is sent, as RFC 9110
    /// allows).
    pub fn parse(header: &str) -> Option<Self> {
        let spec = header.trim().strip_prefix("bytes=")?.trim();
        if spec.contains(',') {
            return None;
        }
        let (start, end) = spec.split_once('-')?;
        match (start.trim(), end.trim()) {
            ("", n) => n.parse().ok().filter(|n| *n > 0).map(Self::Last),
            (s, "") => s.parse().ok().map(Self::From),
            (s, e) => {
                let (s, e) = (s.parse().ok()?, e.parse().ok()?);
                (s <= e).then_some(Self::Within(s, e))
            }
        }
    }

    /// The half-open byte range within an object of `size` bytes; `None`
    /// when it is unsatisfiable (the whole content is sent).
    pub fn resolve(self, size: u64) -> Option<std::ops::Range<u64>> {
        let range = match self {
            Self::Within(s, e) => s..e.saturating_add(1).min(size),
            Self::From(s) => s..size,
            Self::Last(n) => size.saturating_sub(n)..size,
        };
        (range.start < range.end).then_some(range)
    }
}

#[cfg(test)]
mod tests {
    use super::ByteRange;

    #[test]
    fn ranges_parse_and_resolve_as_rfc_9110_says() {
        assert_eq!(
            ByteRange::parse("bytes=0-99").unwrap().resolve(50),
            Some(0..50)
        );
        assert_eq!(
            ByteRange::parse("bytes=10-").unwrap().resolve(50),
            Some(10..50)
        );
        assert_eq!(
            ByteRange::parse("bytes=-10").unwrap().resolve(50),
            Some(40..50)
        );
        assert_eq!(
            ByteRange::parse("bytes=-100").unwrap().resolve(50),
            Some(0..50)
        );
        assert_eq!(ByteRange::parse("bytes=60-70").unwrap().resolve(50), None);
        assert_eq!(ByteRange::parse("bytes=5-1"), None);
        assert_eq!(ByteRange::parse("bytes=0-1,4-5"), None);
        assert_eq!(ByteRange::parse("items=0-1"), None);
        assert_eq!(ByteRange::parse("bytes=-0"), None);
        let huge = ByteRange::parse("bytes=0-18446744073709551615").unwrap();
        assert_eq!(huge.resolve(50), Some(0..50));
    }
}
