//! An upload from the wire to the storage. The front door feeds the bytes
//! into a [`Spool`] as they arrive: a temporary file that counts, hashes
//! and sniffs them, and cuts the upload off (413) the moment it passes the
//! tenant's limit for its kind, so an oversize upload is never read to its
//! end. [`Core::store_upload`] then checks what arrived (the virus scan,
//! an image's pixels, an audio's duration, the quota), makes the row, puts
//! the object and marks it ready. A spool dropped half way (the client
//! went away) deletes its temporary file; nothing else was made yet.

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::{Attachment, FileKind, MediaRules, StoredFile, Thumbs, Variant};
use crate::{
    domain::{Actor, ConversationId, Core, FileId, TenantId, file::FileState},
    error::{AppError, AppResult},
    media::{self, sniff::Sniffed},
};

/// Bytes read before the type is decided.
const HEAD: usize = 8192;

/// An upload on its way in.
pub struct Spool {
    /// Written a megabyte at a time (each write is a trip to the blocking pool).
    file: tokio::io::BufWriter<tokio::fs::File>,
    path: tempfile::TempPath,
    head: Vec<u8>,
    sniffed: Option<Sniffed>,
    size: u64,
    hasher: Sha256,
    rules: MediaRules,
    tenant: TenantId,
}

/// What the client said about an upload besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct UploadMeta {
    /// The file's name as the client gave it (shown, never trusted).
    pub name: Option<String>,
    /// A conversation the file is meant for: membership is checked now.
    pub conversation: Option<ConversationId>,
    /// A voice note: must be audio; the client's waveform is kept.
    pub voice: bool,
    /// A voice note's waveform: at most 100 numbers 0-1.
    pub waveform: Option<Vec<f32>>,
}

fn too_large(kind: Option<FileKind>, limit: u64) -> AppError {
    let what = kind.map_or("files", |k| match k {
        FileKind::Image => "images",
        FileKind::Audio => "audio files",
        FileKind::Video => "videos",
        FileKind::File => "files",
    });
    AppError::TooLarge {
        code: "file_too_large",
        message: format!("{what} are at most {limit} bytes"),
    }
}

impl Spool {
    /// Adds a chunk: 413 once the upload passes its limit, 415 once its
    /// bytes show a kind the tenant does not take.
    pub async fn push(&mut self, chunk: &[u8]) -> AppResult<()> {
        self.size += chunk.len() as u64;
        if self.size > self.limit() {
            return Err(too_large(self.kind(), self.limit()));
        }
        if self.sniffed.is_none() {
            let take = (HEAD - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            if self.head.len() >= HEAD {
                self.decide()?;
                if self.size > self.limit() {
                    return Err(too_large(self.kind(), self.limit()));
                }
            }
        }
        self.hasher.update(chunk);
        self.file
            .write_all(chunk)
            .await
            .map_err(|err| AppError::Internal(anyhow::anyhow!("spooling an upload: {err}")))
    }

    /// Bytes received so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    fn kind(&self) -> Option<FileKind> {
        self.sniffed.as_ref().map(|s| kind_of(s.kind))
    }

    fn limit(&self) -> u64 {
        match self.kind() {
            Some(kind) => self.rules.max_bytes(kind),
            None => self.rules.largest(),
        }
    }

    /// Sniffs the head: the kind decides the limit from now on.
    fn decide(&mut self) -> AppResult<()> {
        let sniffed = media::sniff::sniff(&self.head);
        if sniffed.executable {
            return Err(AppError::UnsupportedMedia {
                code: "file_type_not_allowed",
                message: "programs cannot be uploaded".into(),
            });
        }
        let kind = kind_of(sniffed.kind);
        if !self.rules.allows(kind) {
            return Err(AppError::UnsupportedMedia {
                code: "file_type_not_allowed",
                message: format!("{} files are not accepted here", kind.as_str()),
            });
        }
        self.sniffed = Some(sniffed);
        Ok(())
    }
}

/// The file's kind from the sniffer's.
pub(super) fn kind_of(kind: media::sniff::Kind) -> FileKind {
    match kind {
        media::sniff::Kind::Image => FileKind::Image,
        media::sniff::Kind::Audio => FileKind::Audio,
        media::sniff::Kind::Video => FileKind::Video,
        media::sniff::Kind::File => FileKind::File,
    }
}

/// A file name fit to show and to put in a `Content-Disposition`: no path,
/// no control characters, at most 200 characters.
fn clean_name(name: Option<&str>, sniffed: &Sniffed) -> String {
    let base = name
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && !is_format_char(*c))
        .take(200)
        .collect::<String>();
    let base = base.trim();
    if base.is_empty() || base == "." || base == ".." {
        return format!("{}.{}", sniffed_kind_word(sniffed), sniffed.extension);
    }
    // A name keeps only an extension its bytes bear out, so a script that
    // sniffs as text never downloads as `invoice.hta`, nor a PNG as `.exe`.
    let ext = base.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let fits = ext
        .as_deref()
        .is_some_and(|e| e == sniffed.extension || aliases(sniffed.extension).contains(&e));
    if fits {
        base.to_owned()
    } else {
        format!("{base}.{}", sniffed.extension)
    }
}

/// Other extensions in common use for the sniffed one.
fn aliases(extension: &str) -> &'static [&'static str] {
    match extension {
        "jpg" => &["jpeg", "jpe"],
        "txt" => &["csv", "tsv", "md", "log", "json"],
        "m4a" => &["mp4", "aac"],
        "ogg" => &["opus", "oga"],
        "webm" => &["weba"],
        _ => &[],
    }
}

/// Invisible formatting characters (bidirectional overrides, zero widths)
/// that make `fdp.exe` read as `exe.pdf`.
fn is_format_char(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

fn sniffed_kind_word(sniffed: &Sniffed) -> &'static str {
    kind_of(sniffed.kind).as_str()
}

impl Core {
    /// A spool for an upload by the actor, bounded by their tenant's rules.
    /// Refused at once when the tenant's storage is full.
    pub async fn start_upload(&self, actor: &Actor) -> AppResult<Spool> {
        let (tenant, _) = actor.participant()?;
        let rules = self.settings_of(tenant).await?.media.clone();
        let used = super::used_bytes(&mut *self.pool().acquire().await?, tenant).await?;
        if used >= rules.storage_quota_bytes {
            return Err(quota_exceeded());
        }
        let dir = self.files().spool_dir.clone();
        let (file, path) = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            tempfile::NamedTempFile::new_in(&dir).map(|f| f.into_parts())
        })
        .await
        .map_err(|err| AppError::Internal(err.into()))?
        .map_err(|err| AppError::Internal(anyhow::anyhow!("making a spool file: {err}")))?;
        Ok(Spool {
            file: tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::from_std(file)),
            path,
            head: Vec::with_capacity(HEAD),
            sniffed: None,
            size: 0,
            hasher: Sha256::new(),
            rules,
            tenant,
        })
    }

    /// Checks a complete upload and stores it: the file, not yet sent.
    #[tracing::instrument(skip_all, fields(size = spool.size))]
    pub async fn store_upload(
        &self,
        actor: &Actor,
        mut spool: Spool,
        meta: UploadMeta,
    ) -> AppResult<Attachment> {
        let (tenant, me) = actor.participant()?;
        if tenant != spool.tenant {
            return Err(AppError::NotFound("file"));
        }
        if let Some(conversation) = meta.conversation {
            self.membership(actor, conversation).await?;
        }
        if spool.size == 0 {
            return Err(AppError::validation("the file is empty"));
        }
        if spool.sniffed.is_none() {
            // Smaller than the head: its kind's limit is checked now.
            spool.decide()?;
            if spool.size > spool.limit() {
                return Err(too_large(spool.kind(), spool.limit()));
            }
        }
        spool
            .file
            .flush()
            .await
            .map_err(|err| AppError::Internal(anyhow::anyhow!("spooling an upload: {err}")))?;
        self.scan(&spool).await?;
        let checked = super::checks::check(
            spool.sniffed.clone().expect("decided above"),
            spool.path.to_path_buf(),
            spool.size,
            spool.rules.clone(),
            meta.voice,
        )
        .await?;
        let sniffed = spool.sniffed.as_ref().expect("decided above");
        let size = checked
            .bytes
            .as_ref()
            .map_or(spool.size, |b| b.len() as u64);
        let sha256 = match &checked.bytes {
            Some(bytes) => Sha256::digest(bytes).to_vec(),
            None => spool.hasher.clone().finalize().to_vec(),
        };
        let rules = &spool.rules;
        let file = StoredFile {
            tenant_id: tenant,
            id: FileId::new(),
            uploader_id: me,
            kind: checked.kind,
            mime_type: checked.mime,
            name: clean_name(meta.name.as_deref(), sniffed),
            size,
            sha256,
            width: checked.width,
            height: checked.height,
            duration_ms: checked.duration_ms,
            waveform: meta
                .waveform
                .as_ref()
                .map(|w| serde_json::to_string(w).unwrap_or_default()),
            active: sniffed.active,
            state: FileState::Storing,
            thumbs: if checked.kind == FileKind::Image {
                Thumbs::Pending
            } else {
                Thumbs::None
            },
            thumb_sizes: None,
            created_at: crate::domain::now(),
            sent_at: None,
        };
        // Checked and counted under the tenant's lock: uploads racing near
        // the quota cannot all pass.
        if !super::insert_within(
            &mut *self.pool().acquire().await?,
            &file,
            rules.storage_quota_bytes,
        )
        .await?
        {
            return Err(quota_exceeded());
        }
        let key = file.key(Variant::Original);
        let stored = match checked.bytes {
            Some(bytes) => self.files().storage.put_bytes(&key, bytes.into()).await,
            None => self
                .files()
                .storage
                .put_spooled(&key, &spool.path)
                .await
                .map(|_| ()),
        };
        if let Err(err) = stored {
            // The row stays `storing`: the sweeper removes it and any part.
            tracing::warn!(error = %err, "storing an upload failed");
            return Err(AppError::Unavailable(
                "the file storage is unreachable; try again shortly".into(),
            ));
        }
        let ready = super::move_state(
            &mut *self.pool().acquire().await?,
            &file,
            FileState::Storing,
            FileState::Ready,
            false,
        )
        .await?;
        if !ready {
            // Swept meanwhile (it took longer than the sweep allows).
            return Err(AppError::Unavailable(
                "the upload took too long to store; send it again".into(),
            ));
        }
        if file.thumbs == Thumbs::Pending {
            self.files().wakeup.notify_one();
        }
        Ok(self.attachment(StoredFile {
            state: FileState::Ready,
            ..file
        }))
    }

    /// Streams the spool to clamd when it is configured: infected is 422,
    /// clamd unreachable 503 (never a silent pass).
    async fn scan(&self, spool: &Spool) -> AppResult<()> {
        let Some(addr) = &self.files().clamd else {
            return Ok(());
        };
        match media::clamd::scan_file(addr, &spool.path, std::time::Duration::from_secs(30)).await {
            Ok(media::clamd::Verdict::Clean) => Ok(()),
            Ok(media::clamd::Verdict::Infected(name)) => Err(AppError::Validation {
                code: "file_infected",
                message: format!("the virus scanner found {name} in this file"),
            }),
            Err(err) => {
                tracing::warn!(error = %err, "virus scan failed; upload refused");
                Err(AppError::Unavailable(
                    "the virus scanner is unreachable; try again shortly".into(),
                ))
            }
        }
    }
}

fn quota_exceeded() -> AppError {
    AppError::TooLarge {
        code: "storage_quota_exceeded",
        message: "this brand's file storage is full".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::clean_name;
    use crate::media::sniff::sniff;

    #[test]
    fn names_lose_paths_and_invisible_characters_and_keep_only_extensions_the_bytes_bear_out() {
        let text = sniff(b"just some words");
        assert_eq!(clean_name(Some("../../etc/notes.txt"), &text), "notes.txt");
        assert_eq!(clean_name(Some("invoice.hta"), &text), "invoice.hta.txt");
        assert_eq!(
            clean_name(Some("report\u{202E}fdp.exe"), &text),
            "reportfdp.exe.txt"
        );
        assert_eq!(clean_name(Some("data.csv"), &text), "data.csv");
        assert_eq!(clean_name(None, &text), "file.txt");
        let png = sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
        assert_eq!(clean_name(Some("palm.exe"), &png), "palm.exe.png");
        assert_eq!(clean_name(Some("palm.PNG"), &png), "palm.PNG");
    }
}
