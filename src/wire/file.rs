//! Files on the wire: the object every upload answers with and every media
//! message carries, with its signed links.

use poem_openapi::Object;

use crate::domain::file::{Attachment, FileKind};

/// A thumbnail of an image: its signed link and size.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ThumbnailView {
    /// Signed link, usable without an `Authorization` header until
    /// `expiresAt`. Until the thumbnail is made it serves the image itself.
    pub url: String,
    /// Absent until the thumbnail is made.
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// Both thumbnails of an image (about 96 and 480 pixels on the long edge).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ThumbnailsView {
    pub small: ThumbnailView,
    pub medium: ThumbnailView,
    /// Whether they are made yet (`false`: the links serve the image).
    pub ready: bool,
}

/// A file: a photo, voice note, video or document.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct FileView {
    pub id: uuid::Uuid,
    /// `image`, `audio`, `video` or `file`, from the bytes.
    pub kind: String,
    /// The type sniffed from the bytes (never the client's word).
    pub mime_type: String,
    /// Bytes.
    pub size: u64,
    /// The name the uploader gave (for display and downloads).
    pub name: String,
    /// Images: pixels, after the photo's orientation is applied.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Audio: length in milliseconds, read from the file.
    pub duration_ms: Option<u32>,
    /// Voice notes: the waveform the client sent (0-1, at most 100 points).
    pub waveform: Option<Vec<f32>>,
    /// Images only.
    pub thumbnails: Option<ThumbnailsView>,
    /// Signed link to the content, usable without an `Authorization`
    /// header (an `<img>` or audio player) until `expiresAt`; supports
    /// `Range`. Fetch the file again for a fresh one.
    pub url: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub uploader_id: uuid::Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it was first sent in a message; unsent files are removed
    /// after a day.
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<&Attachment> for FileView {
    fn from(a: &Attachment) -> Self {
        let f = &a.file;
        let sizes = f.thumb_sizes();
        let thumbnails = a
            .thumbnails
            .as_ref()
            .filter(|_| f.kind == FileKind::Image)
            .map(|(small, medium)| ThumbnailsView {
                small: ThumbnailView {
                    url: small.clone(),
                    width: sizes.map(|s| s.small.width),
                    height: sizes.map(|s| s.small.height),
                },
                medium: ThumbnailView {
                    url: medium.clone(),
                    width: sizes.map(|s| s.medium.width),
                    height: sizes.map(|s| s.medium.height),
                },
                ready: sizes.is_some(),
            });
        Self {
            id: f.id.0,
            kind: f.kind.as_str().to_owned(),
            mime_type: f.mime_type.clone(),
            size: f.size,
            name: f.name.clone(),
            width: f.width,
            height: f.height,
            duration_ms: f.duration_ms,
            waveform: f
                .waveform
                .as_deref()
                .and_then(|w| serde_json::from_str(w).ok()),
            thumbnails,
            url: a.url.clone(),
            expires_at: a.expires_at,
            uploader_id: f.uploader_id.0,
            created_at: f.created_at,
            sent_at: f.sent_at,
        }
    }
}
