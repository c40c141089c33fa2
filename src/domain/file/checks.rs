//! The kind-specific checks of an upload, on the blocking pool: an image
//! decoded under the pixel cap, turned upright and stripped of its
//! metadata; an audio's duration read from its container and held to the
//! tenant's limit (a WebM or MP4 holding only audio counts as audio); a
//! voice note must be audio.

use std::path::PathBuf;

use super::{FileKind, MediaRules, upload::kind_of};
use crate::{
    error::{AppError, AppResult},
    media::{self, sniff::Sniffed},
};

/// What an upload became after its checks.
/// Video containers that may hold audio alone.
const AUDIO_CAPABLE: [&str; 5] = [
    "video/webm",
    "video/mp4",
    "video/quicktime",
    "video/x-matroska",
    "video/3gpp",
];

pub(super) struct Checked {
    pub(super) kind: FileKind,
    pub(super) mime: String,
    /// The bytes to store, when they differ from the spool (an image with
    /// its metadata stripped) or were read anyway (audio).
    pub(super) bytes: Option<Vec<u8>>,
    pub(super) width: Option<u32>,
    pub(super) height: Option<u32>,
    pub(super) duration_ms: Option<u32>,
}

/// The kind-specific checks, on the blocking pool: an image decoded under
/// the pixel cap and stripped of its metadata; an audio's duration read
/// from its container and held to the tenant's limit.
/// Decodes (uploads' checks and thumbnails) at once in this process.
pub(super) static DECODES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

pub(super) async fn check(
    sniffed: Sniffed,
    path: PathBuf,
    size: u64,
    rules: MediaRules,
    voice: bool,
) -> AppResult<Checked> {
    let kind = kind_of(sniffed.kind);
    let max_secs = rules.audio_max_secs;
    let read = move || std::fs::read(&path);
    let blocking = move || -> AppResult<Checked> {
        let unprocessable =
            |code: &'static str, message: String| AppError::Validation { code, message };
        let io =
            |err: std::io::Error| AppError::Internal(anyhow::anyhow!("reading a spool: {err}"));
        let mut checked = Checked {
            kind,
            mime: sniffed.mime.clone(),
            bytes: None,
            width: None,
            height: None,
            duration_ms: None,
        };
        match kind {
            FileKind::Image => {
                let bytes = read().map_err(io)?;
                let prepared = media::image::prepare(&bytes, &media::image::Limits::default())
                    .map_err(|err| match err {
                        media::image::ImageError::TooLarge { width, height } => unprocessable(
                            "image_too_large",
                            format!(
                                "images are at most 40 megapixels; this one is {width}x{height}"
                            ),
                        ),
                        media::image::ImageError::Undecodable(why) => unprocessable(
                            "image_unreadable",
                            format!("the image could not be read: {why}"),
                        ),
                    })?;
                checked.mime = prepared.mime.to_owned();
                checked.width = Some(prepared.width);
                checked.height = Some(prepared.height);
                checked.bytes = Some(prepared.bytes);
            }
            // A video container may hold audio alone (a browser's WebM
            // recording, a phone's AAC in MP4).
            FileKind::Audio | FileKind::Video
                if kind == FileKind::Audio || AUDIO_CAPABLE.contains(&sniffed.mime.as_str()) =>
            {
                let bytes = read().map_err(io)?;
                if kind == FileKind::Audio || media::audio::is_audio_only(&bytes) {
                    let ms = media::audio::duration_ms(&bytes).map_err(|_| {
                        unprocessable(
                            "audio_unreadable",
                            "the audio's duration could not be read (AAC/M4A, Opus/Ogg, MP3, WebM and WAV are taken)".into(),
                        )
                    })?;
                    if ms > u64::from(max_secs) * 1000 {
                        return Err(unprocessable(
                            "audio_too_long",
                            format!(
                                "audio is at most {max_secs} seconds; this is {} s",
                                ms / 1000
                            ),
                        ));
                    }
                    if kind == FileKind::Video {
                        // Now audio: held to the audio rules, not the video ones.
                        if !rules.allows(FileKind::Audio) {
                            return Err(AppError::UnsupportedMedia {
                                code: "file_type_not_allowed",
                                message: "audio files are not accepted here".into(),
                            });
                        }
                        if size > rules.audio_max_bytes {
                            return Err(AppError::TooLarge {
                                code: "file_too_large",
                                message: format!(
                                    "audio files are at most {} bytes",
                                    rules.audio_max_bytes
                                ),
                            });
                        }
                    }
                    checked.kind = FileKind::Audio;
                    checked.duration_ms = Some(u32::try_from(ms).unwrap_or(u32::MAX));
                    checked.mime = sniffed.clone().into_audio_only().mime;
                }
            }
            _ => {}
        }
        if voice && checked.kind != FileKind::Audio {
            return Err(unprocessable(
                "not_audio",
                "a voice message must be audio".into(),
            ));
        }
        Ok(checked)
    };
    // Decoding is memory-hungry (an image may take hundreds of megabytes):
    // a few at a time, whatever the number of uploads.
    let _permit = DECODES
        .acquire()
        .await
        .map_err(|err| AppError::Internal(err.into()))?;
    tokio::task::spawn_blocking(blocking)
        .await
        .map_err(|err| AppError::Internal(err.into()))?
}
