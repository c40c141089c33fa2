//! A tenant's rules for files (part of its settings): which kinds may be
//! sent, how big each may be, how long a voice note may last, and how much
//! the tenant may store in all.

use serde::{Deserialize, Serialize};

use super::FileKind;
use crate::error::{AppError, AppResult};

const MIB: u64 = 1024 * 1024;

/// Largest per-kind limit a tenant may set (2 GiB).
pub const MAX_FILE_BYTES: u64 = 2048 * MIB;

/// The file rules of one tenant. Every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MediaRules {
    /// Kinds that may be uploaded (default all four).
    pub allowed_kinds: Vec<FileKind>,
    pub image_max_bytes: u64,
    pub audio_max_bytes: u64,
    /// Longest audio, in seconds.
    pub audio_max_secs: u32,
    pub video_max_bytes: u64,
    pub file_max_bytes: u64,
    /// Bytes the tenant may store in all (files and thumbnails).
    pub storage_quota_bytes: u64,
}

impl Default for MediaRules {
    fn default() -> Self {
        Self {
            allowed_kinds: vec![
                FileKind::Image,
                FileKind::Audio,
                FileKind::Video,
                FileKind::File,
            ],
            image_max_bytes: 10 * MIB,
            audio_max_bytes: 10 * MIB,
            audio_max_secs: 600,
            video_max_bytes: 50 * MIB,
            file_max_bytes: 25 * MIB,
            storage_quota_bytes: 10 * 1024 * MIB,
        }
    }
}

impl MediaRules {
    /// The largest file of `kind`.
    pub fn max_bytes(&self, kind: FileKind) -> u64 {
        match kind {
            FileKind::Image => self.image_max_bytes,
            FileKind::Audio => self.audio_max_bytes,
            FileKind::Video => self.video_max_bytes,
            FileKind::File => self.file_max_bytes,
        }
    }

    /// The largest file of any allowed kind: an upload's first bound,
    /// before its bytes tell its kind.
    pub fn largest(&self) -> u64 {
        self.allowed_kinds
            .iter()
            .map(|k| self.max_bytes(*k))
            .max()
            .unwrap_or(0)
    }

    pub fn allows(&self, kind: FileKind) -> bool {
        self.allowed_kinds.contains(&kind)
    }

    /// Refuses values outside sane bounds.
    pub fn validate(&self) -> AppResult<()> {
        if self.allowed_kinds.is_empty() {
            return Err(AppError::validation(
                "media.allowedKinds names at least one kind",
            ));
        }
        for (name, value) in [
            ("imageMaxBytes", self.image_max_bytes),
            ("audioMaxBytes", self.audio_max_bytes),
            ("videoMaxBytes", self.video_max_bytes),
            ("fileMaxBytes", self.file_max_bytes),
        ] {
            if !(1024..=MAX_FILE_BYTES).contains(&value) {
                return Err(AppError::validation(format!(
                    "media.{name} must be 1024-{MAX_FILE_BYTES}"
                )));
            }
        }
        if !(1..=3600).contains(&self.audio_max_secs) {
            return Err(AppError::validation("media.audioMaxSeconds must be 1-3600"));
        }
        if self.storage_quota_bytes < MIB {
            return Err(AppError::validation(
                "media.storageQuotaBytes must be at least 1048576",
            ));
        }
        Ok(())
    }
}
