//! The files of a media message as the console shows them: an image as its
//! small thumbnail linking to the full picture, audio and video as players,
//! anything else as a download link. Every link is the core's signed link
//! (absolute to the public URL, the console's own origin), so the browser
//! fetches them without the console's cookie or any `Authorization`.

use crate::{
    console::admin::dashboard::human_bytes,
    domain::file::{Attachment, FileKind},
};

/// The longest edge the console draws an image at before its small
/// thumbnail is made (the thumbnail link serves the image itself then).
const PREVIEW_EDGE: u32 = 96;

/// How one file is drawn.
pub enum Shown {
    /// `<img>` of `src` (the small thumbnail), sized when the size is known.
    Image {
        src: String,
        size: Option<(u32, u32)>,
    },
    /// `<audio controls>`, with its length as m:ss when read.
    Audio { duration: Option<String> },
    /// `<video controls>`.
    Video,
    /// A download link.
    Download,
}

/// One file of a message, ready for the template.
pub struct FileRow {
    /// The signed link to the content.
    pub url: String,
    pub name: String,
    pub mime_type: String,
    /// Human-readable size ("1.4 MB").
    pub size: String,
    pub shown: Shown,
}

impl FileRow {
    pub fn of(a: &Attachment) -> Self {
        let f = &a.file;
        let shown = match f.kind {
            FileKind::Image => {
                let (src, size) = match (&a.thumbnails, f.thumb_sizes()) {
                    (Some((small, _)), Some(sizes)) => {
                        (small.clone(), Some((sizes.small.width, sizes.small.height)))
                    }
                    (Some((small, _)), None) => (small.clone(), fit(f.width, f.height)),
                    (None, _) => (a.url.clone(), fit(f.width, f.height)),
                };
                Shown::Image { src, size }
            }
            FileKind::Audio => Shown::Audio {
                duration: f.duration_ms.map(minutes_seconds),
            },
            FileKind::Video => Shown::Video,
            FileKind::File => Shown::Download,
        };
        Self {
            url: a.url.clone(),
            name: f.name.clone(),
            mime_type: f.mime_type.clone(),
            size: human_bytes(f.size),
            shown,
        }
    }
}

/// An image's size scaled to fit the preview box (never enlarged).
fn fit(width: Option<u32>, height: Option<u32>) -> Option<(u32, u32)> {
    let (w, h) = (width?, height?);
    let edge = w.max(h);
    if edge == 0 {
        return None;
    }
    if edge <= PREVIEW_EDGE {
        return Some((w, h));
    }
    let scale = |n: u32| ((u64::from(n) * u64::from(PREVIEW_EDGE)) / u64::from(edge)).max(1) as u32;
    Some((scale(w), scale(h)))
}

/// Milliseconds as `m:ss` (rounded to the nearest second).
pub fn minutes_seconds(ms: u32) -> String {
    let secs = ms.saturating_add(500) / 1000;
    format!("{}:{:02}", secs / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::{fit, minutes_seconds};

    #[test]
    fn durations_read_as_minutes_and_seconds() {
        assert_eq!(minutes_seconds(0), "0:00");
        assert_eq!(minutes_seconds(2_000), "0:02");
        assert_eq!(minutes_seconds(1_990), "0:02");
        assert_eq!(minutes_seconds(65_400), "1:05");
        assert_eq!(minutes_seconds(600_000), "10:00");
    }

    #[test]
    fn previews_fit_the_box_without_growing() {
        assert_eq!(fit(Some(16), Some(16)), Some((16, 16)));
        assert_eq!(fit(Some(32), Some(48)), Some((32, 48)));
        assert_eq!(fit(Some(192), Some(128)), Some((96, 64)));
        assert_eq!(fit(Some(4000), Some(3000)), Some((96, 72)));
        assert_eq!(fit(Some(0), Some(0)), None);
        assert_eq!(fit(None, Some(10)), None);
    }
}
