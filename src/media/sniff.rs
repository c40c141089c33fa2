//! Content sniffing for uploads: what a file is, from its bytes alone.
//!
//! [`sniff`] looks at the first bytes of a file (the caller passes up to
//! 8 KiB) and never at its name. In order:
//! 1. markup: after an optional UTF-8 BOM and whitespace, HTML (`<!doctype
//!    html`, `<html`, `<script` and the other WHATWG HTML patterns), SVG
//!    (`<svg`, or an `<?xml` prolog followed by `<svg`), XHTML and XML are
//!    reported as *active*: a browser would run or render them;
//! 2. binary signatures via `infer`, remapped to the kinds the product
//!    serves: [`Kind::Image`] only for JPEG, PNG, WebP and GIF; [`Kind::Audio`]
//!    for MP3, AAC/M4A, Ogg (Opus, Vorbis), WAV, FLAC and AMR;
//!    [`Kind::Video`] for MP4/QuickTime/3GPP, WebM/Matroska and Ogg Theora.
//!    Everything else (TIFF, BMP, HEIC, AIFF, MIDI, AVI, WMV, ...) is
//!    [`Kind::File`] with its own MIME type. ISO-BMFF (`ftyp`) is split by
//!    major brand: `M4A `/`M4B `/`M4P ` are audio, `qt  ` QuickTime, `3g*`
//!    3GPP, the rest MP4. OLE2 compound files are Word/Excel/
//!    PowerPoint when the root CLSID in the head says so, otherwise treated
//!    as possible MSI installers (*executable*); ZIPs with `META-INF/` or
//!    `classes.dex` are JAR/APK (*executable*);
//! 3. text: UTF-8 without NULs or stray control bytes is `text/plain`, a
//!    `#!` script is *executable*, and text that mentions `<script`,
//!    `<iframe`, `<svg`, `<html` or `javascript:` anywhere is *active*;
//! 4. anything else is `application/octet-stream`.
//!
//! JavaScript, batch files and other script text without a `#!` line cannot
//! be told from prose and come out as plain text; serve text with
//! `nosniff` and as an attachment.
//!
//! An MP4/QuickTime/WebM/Matroska upload is [`Kind::Video`] here even when
//! it only holds audio (a MediaRecorder voice note): that needs the whole
//! file. Check it with `super::audio::is_audio_only` and then call
//! [`Sniffed::into_audio_only`].

/// The broad class of an upload, which decides how it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An image the server can decode and serve inline.
    Image,
    /// Audio a browser can play (voice notes, music).
    Audio,
    /// Video, or a container that may hold video.
    Video,
    /// Anything else: a download.
    File,
}

impl Kind {
    /// The lower-case name used in the API: `image`, `audio`, `video`, `file`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Audio => "audio",
            Kind::Video => "video",
            Kind::File => "file",
        }
    }
}

/// What [`sniff`] found in a file's first bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    /// How the upload is shown.
    pub kind: Kind,
    /// The MIME type to store and serve.
    pub mime: String,
    /// The usual file extension for `mime`, without a dot.
    pub extension: &'static str,
    /// A program: PE, ELF, Mach-O, Java class/JAR, DEX/APK, wasm, MSI,
    /// installers (deb, rpm, crx), or a `#!` script.
    pub executable: bool,
    /// Content a browser would run or render as a document: HTML, XHTML,
    /// SVG, XML, or text carrying script markers.
    pub active: bool,
}

impl Sniffed {
    fn new(kind: Kind, mime: &str, extension: &'static str) -> Self {
        Sniffed {
            kind,
            mime: mime.to_owned(),
            extension,
            executable: false,
            active: false,
        }
    }

    fn executable(mut self) -> Self {
        self.executable = true;
        self
    }

    fn active(mut self) -> Self {
        self.active = true;
        self
    }

    /// The audio reading of a video container found to hold only audio
    /// (MP4/QuickTime → `audio/mp4`, WebM → `audio/webm`, Matroska →
    /// `audio/x-matroska`, 3GPP → `audio/3gpp`, Ogg → `audio/ogg`); any other
    /// value is returned unchanged.
    #[must_use]
    pub fn into_audio_only(self) -> Sniffed {
        let (mime, extension) = match self.mime.as_str() {
            "video/mp4" | "video/quicktime" => ("audio/mp4", "m4a"),
            "video/webm" => ("audio/webm", "webm"),
            "video/x-matroska" => ("audio/x-matroska", "mka"),
            "video/3gpp" => ("audio/3gpp", "3gp"),
            "video/ogg" => ("audio/ogg", "ogg"),
            _ => return self,
        };
        Sniffed::new(Kind::Audio, mime, extension)
    }
}

/// Classifies a file from its first bytes (up to 8 KiB is plenty); the
/// file's name is never consulted. See the module docs for the rules.
#[must_use]
pub fn sniff(head: &[u8]) -> Sniffed {
    if let Some(found) = markup(head) {
        return found;
    }
    if let Some(found) = infer::get(head)
        .filter(|t| t.matcher_type() != infer::MatcherType::Text)
        .map(|t| binary(head, t))
    {
        return found;
    }
    if head.get(4..8) == Some(b"ftyp") {
        return iso_bmff(head);
    }
    text(head).unwrap_or_else(|| Sniffed::new(Kind::File, "application/octet-stream", "bin"))
}

/// The head after a UTF-8 byte-order mark and leading whitespace.
fn trimmed(head: &[u8]) -> &[u8] {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head
        .iter()
        .position(|b| !b" \t\r\n\x0C".contains(b))
        .unwrap_or(head.len());
    head.get(start..).unwrap_or_default()
}

/// Whether `hay` contains `needle`, ignoring ASCII case.
fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn starts_ci(hay: &[u8], prefix: &[u8]) -> bool {
    hay.get(..prefix.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
}

/// HTML, SVG, XHTML and XML documents, all active.
fn markup(head: &[u8]) -> Option<Sniffed> {
    let body = trimmed(head);
    if !body.starts_with(b"<") {
        return None;
    }
    let found = if starts_ci(body, b"<svg") || starts_ci(body, b"<!doctype svg") {
        Sniffed::new(Kind::File, "image/svg+xml", "svg")
    } else if starts_ci(body, b"<?xml") {
        if contains_ci(body, b"<svg") {
            Sniffed::new(Kind::File, "image/svg+xml", "svg")
        } else if contains_ci(body, b"<html") {
            Sniffed::new(Kind::File, "application/xhtml+xml", "xhtml")
        } else {
            Sniffed::new(Kind::File, "application/xml", "xml")
        }
    } else if [
        b"<!doctype html".as_slice(),
        b"<html",
        b"<script",
        b"<iframe",
    ]
    .iter()
    .any(|p| starts_ci(body, p))
        || infer::text::is_html(body)
    {
        Sniffed::new(Kind::File, "text/html", "html")
    } else {
        return None;
    };
    Some(found.active())
}

/// A type `infer` recognised, mapped onto the product's kinds.
fn binary(head: &[u8], t: infer::Type) -> Sniffed {
    use infer::MatcherType::{App, Image};
    let (mime, ext) = (t.mime_type(), t.extension());
    match mime {
        "image/jpeg" | "image/png" | "image/gif" | "image/webp" => {
            Sniffed::new(Kind::Image, mime, ext)
        }
        _ if t.matcher_type() != Image && head.get(4..8) == Some(b"ftyp") => iso_bmff(head),
        "audio/mpeg" | "audio/amr" | "audio/aac" => Sniffed::new(Kind::Audio, mime, ext),
        "audio/m4a" => Sniffed::new(Kind::Audio, "audio/mp4", "m4a"),
        "audio/x-flac" => Sniffed::new(Kind::Audio, "audio/flac", "flac"),
        "audio/x-wav" => Sniffed::new(Kind::Audio, "audio/wav", "wav"),
        "audio/opus" => Sniffed::new(Kind::Audio, "audio/ogg", "opus"),
        "audio/ogg" if contains_ci(head.get(..512).unwrap_or(head), b"\x80theora") => {
            Sniffed::new(Kind::Video, "video/ogg", "ogv")
        }
        "audio/ogg" => Sniffed::new(Kind::Audio, "audio/ogg", "ogg"),
        "video/webm" | "video/x-matroska" | "video/quicktime" => {
            Sniffed::new(Kind::Video, mime, ext)
        }
        "application/msword" | "application/x-ole-storage" => ole2(head),
        "application/zip" if contains_ci(head, b"META-INF/") => {
            Sniffed::new(Kind::File, "application/java-archive", "jar").executable()
        }
        "application/zip"
            if contains_ci(head, b"classes.dex") || contains_ci(head, b"AndroidManifest.xml") =>
        {
            Sniffed::new(Kind::File, "application/vnd.android.package-archive", "apk").executable()
        }
        "application/x-x509-ca-cert" | "application/x-qemu-disk" | "application/x-llvm" => {
            Sniffed::new(Kind::File, mime, ext)
        }
        "application/x-google-chrome-extension"
        | "application/vnd.debian.binary-package"
        | "application/x-rpm" => Sniffed::new(Kind::File, mime, ext).executable(),
        _ if t.matcher_type() == App => Sniffed::new(Kind::File, mime, ext).executable(),
        _ => Sniffed::new(Kind::File, mime, ext),
    }
}

/// ISO base media (`ftyp` box): audio or video by major brand.
fn iso_bmff(head: &[u8]) -> Sniffed {
    match head.get(8..12).unwrap_or_default() {
        b"M4A " | b"M4B " | b"M4P " | b"F4A " | b"F4B " => {
            Sniffed::new(Kind::Audio, "audio/mp4", "m4a")
        }
        b"qt  " => Sniffed::new(Kind::Video, "video/quicktime", "mov"),
        [b'3', b'g', ..] => Sniffed::new(Kind::Video, "video/3gpp", "3gp"),
        b"M4V " => Sniffed::new(Kind::Video, "video/mp4", "m4v"),
        _ => Sniffed::new(Kind::Video, "video/mp4", "mp4"),
    }
}

/// OLE2 compound file: Office 97 documents by root-entry CLSID when the
/// directory sector is in the head; otherwise possibly an MSI installer.
fn ole2(head: &[u8]) -> Sniffed {
    const OFFICE_TAIL: &[u8] = &[0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46];
    let le32 = |at: usize| {
        head.get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    };
    let shift = head.get(0x1E).copied().map_or(9, u32::from);
    let clsid = le32(0x30)
        .and_then(|sector| sector.checked_add(1)?.checked_mul(1u32.checked_shl(shift)?))
        .and_then(|at| usize::try_from(at).ok()?.checked_add(0x50))
        .and_then(|at| head.get(at..at.checked_add(16)?));
    let office = |prefix: &[u8]| {
        clsid.is_some_and(|c| c.starts_with(prefix) && c.get(4..) == Some(OFFICE_TAIL))
    };
    if office(&[0x06, 0x09, 0x02, 0x00]) {
        Sniffed::new(Kind::File, "application/msword", "doc")
    } else if office(&[0x10, 0x08, 0x02, 0x00]) || office(&[0x20, 0x08, 0x02, 0x00]) {
        Sniffed::new(Kind::File, "application/vnd.ms-excel", "xls")
    } else if clsid.is_some_and(|c| c.starts_with(&[0x10, 0x8D, 0x81, 0x64])) {
        Sniffed::new(Kind::File, "application/vnd.ms-powerpoint", "ppt")
    } else {
        Sniffed::new(Kind::File, "application/x-msi", "msi").executable()
    }
}

/// UTF-8 text (a character cut at the end of the head is allowed).
fn text(head: &[u8]) -> Option<Sniffed> {
    let valid = match std::str::from_utf8(head) {
        Ok(_) => head.len(),
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => return None,
    };
    let allowed = |b: &u8| *b >= 0x20 || b"\t\n\r\x0C\x1B".contains(b);
    if head.is_empty() || !head.get(..valid).unwrap_or_default().iter().all(allowed) {
        return None;
    }
    if trimmed(head).starts_with(b"#!") {
        return Some(Sniffed::new(Kind::File, "text/x-shellscript", "sh").executable());
    }
    let found = Sniffed::new(Kind::File, "text/plain", "txt");
    let markers: [&[u8]; 5] = [b"<script", b"<iframe", b"<svg", b"<html", b"javascript:"];
    Some(if markers.iter().any(|m| contains_ci(head, m)) {
        found.active()
    } else {
        found
    })
}

#[cfg(test)]
mod tests;
