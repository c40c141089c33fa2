//! Tests for [`super::sniff`]: fixture heads and hand-made byte strings.

use super::*;

const PNG: &[u8] = include_bytes!("../../../tests/fixtures/media/text-chunk.png");
const JPEG: &[u8] = include_bytes!("../../../tests/fixtures/media/photo-rot6-gps.jpg");
const M4A: &[u8] = include_bytes!("../../../tests/fixtures/media/tone.m4a");
const MP4: &[u8] = include_bytes!("../../../tests/fixtures/media/clip.mp4");
const WEBM: &[u8] = include_bytes!("../../../tests/fixtures/media/voice.webm");
const OGG: &[u8] = include_bytes!("../../../tests/fixtures/media/tone.opus.ogg");
const MP3: &[u8] = include_bytes!("../../../tests/fixtures/media/tone.mp3");
const WAV: &[u8] = include_bytes!("../../../tests/fixtures/media/tone.wav");

fn head(bytes: &[u8]) -> &[u8] {
    bytes.get(..8192).unwrap_or(bytes)
}

fn check(bytes: &[u8], kind: Kind, mime: &str) -> Sniffed {
    let s = sniff(head(bytes));
    assert_eq!((s.kind, s.mime.as_str()), (kind, mime), "{s:?}");
    s
}

#[test]
fn png_bytes_are_an_image_whatever_the_name() {
    // An upload named `setup.exe` carrying PNG bytes: only bytes count.
    let s = check(PNG, Kind::Image, "image/png");
    assert_eq!(s.extension, "png");
    assert!(!s.executable && !s.active);
    check(JPEG, Kind::Image, "image/jpeg");
}

#[test]
fn other_images_are_files() {
    check(b"II*\0\x08\0\0\0rest-of-tiff", Kind::File, "image/tiff");
    check(
        b"BM\x3a\0\0\0\0\0\0\0\x36\0\0\0\x28\0",
        Kind::File,
        "image/bmp",
    );
}

#[test]
fn markup_is_active() {
    for page in [
        b"<!DOCTYPE html><html><body>hi</body></html>".as_slice(),
        b"\xEF\xBB\xBF\n  <HTML><script>alert(1)</script>",
        b"<script>alert(1)</script>",
    ] {
        assert!(check(page, Kind::File, "text/html").active);
    }
    let svg = b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>";
    assert!(check(svg, Kind::File, "image/svg+xml").active);
    assert!(check(b"  <svg onload=alert(1)>", Kind::File, "image/svg+xml").active);
    assert!(
        check(
            b"<?xml version=\"1.0\"?><note/>",
            Kind::File,
            "application/xml"
        )
        .active
    );
}

#[test]
fn programs_are_executable() {
    let mut elf = b"\x7FELF\x02\x01\x01".to_vec();
    elf.resize(64, 0);
    assert!(sniff(&elf).executable);
    let mut pe = b"MZ\x90\0".to_vec();
    pe.resize(0x40, 0);
    pe.extend_from_slice(b"PE\0\0");
    let s = sniff(&pe);
    assert!(s.executable && s.kind == Kind::File, "{s:?}");
    assert!(check(b"#!/bin/sh\nrm -rf /\n", Kind::File, "text/x-shellscript").executable);
    assert!(sniff(b"\0asm\x01\0\0\0").executable);
    let mut ole = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    ole.resize(1024, 0);
    assert!(check(&ole, Kind::File, "application/x-msi").executable);
    // Sector size 512 (shift 9), directory at sector 0: the root entry's
    // CLSID at 512 + 0x50 says Word, which is not a program.
    let word = [
        0x06, 0x09, 0x02, 0, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46,
    ];
    ole[0x1E] = 9;
    ole.splice(512 + 0x50..512 + 0x60, word);
    assert!(!check(&ole, Kind::File, "application/msword").executable);
}

#[test]
fn pdf_text_and_unknown() {
    let pdf = check(
        b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj",
        Kind::File,
        "application/pdf",
    );
    assert!(!pdf.executable && !pdf.active);
    let txt = check(
        "Namaste, see you at 5 \u{1F64F}".as_bytes(),
        Kind::File,
        "text/plain",
    );
    assert!(!txt.executable && !txt.active);
    assert!(check(b"see <script>x</script>", Kind::File, "text/plain").active);
    check(
        &[0x00, 0x01, 0x02, 0xFE],
        Kind::File,
        "application/octet-stream",
    );
    let empty = check(b"", Kind::File, "application/octet-stream");
    assert_eq!(empty.kind.as_str(), "file");
}

#[test]
fn audio_and_video() {
    assert_eq!(check(M4A, Kind::Audio, "audio/mp4").extension, "m4a");
    assert_eq!(check(MP4, Kind::Video, "video/mp4").kind.as_str(), "video");
    check(OGG, Kind::Audio, "audio/ogg");
    check(b"\0\0\0\x18ftyp3gp4\0\0\0\0isom", Kind::Video, "video/3gpp");
    check(MP3, Kind::Audio, "audio/mpeg");
    check(WAV, Kind::Audio, "audio/wav");
    let webm = check(WEBM, Kind::Video, "video/webm").into_audio_only();
    assert_eq!((webm.kind, webm.mime.as_str()), (Kind::Audio, "audio/webm"));
    let pdf = sniff(b"%PDF-1.4 x").into_audio_only();
    assert_eq!(pdf.mime, "application/pdf");
}

#[test]
fn every_prefix_is_handled() {
    for bytes in [PNG, JPEG, M4A, MP4, WEBM, OGG, MP3, WAV] {
        for cut in 0..bytes.len().min(600) {
            let _ = sniff(bytes.get(..cut).unwrap_or_default());
        }
    }
}
