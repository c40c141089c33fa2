//! Lossless metadata removal for the formats [`super::prepare`] serves as
//! they came: each function walks the container and copies what affects
//! display, returning `None` when the file cannot be walked (the caller then
//! re-encodes). See the parent module's docs for what is kept.

/// `len` bytes of `src` from `at`, if all are there.
fn span(src: &[u8], at: usize, len: usize) -> Option<&[u8]> {
    src.get(at..at.checked_add(len)?)
}

fn be16(src: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes(
        span(src, at, 2)?.try_into().ok()?,
    )))
}

fn u32_at(src: &[u8], at: usize, big_endian: bool) -> Option<usize> {
    let b = span(src, at, 4)?.try_into().ok()?;
    usize::try_from(if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
    .ok()
}

/// JPEG without metadata segments (see the module docs).
pub(super) fn jpeg(src: &[u8]) -> Option<Vec<u8>> {
    let mut out = span(src, 0, 2).filter(|soi| soi == b"\xFF\xD8")?.to_vec();
    let mut i = 2;
    loop {
        let marker = *span(src, i, 2)
            .filter(|m| m.first() == Some(&0xFF))?
            .get(1)?;
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        if marker == 0xD9 {
            out.extend_from_slice(b"\xFF\xD9");
            return Some(out);
        }
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            out.extend_from_slice(span(src, i, 2)?);
            i += 2;
            continue;
        }
        let segment = span(src, i, be16(src, i + 2)?.checked_add(2)?)?;
        let payload = segment.get(4..).unwrap_or_default();
        let keep = match marker {
            0xE0 => payload.starts_with(b"JFIF\0"),
            0xE2 => payload.starts_with(b"ICC_PROFILE\0"),
            0xEE => payload.starts_with(b"Adobe"),
            0xE1 | 0xE3..=0xED | 0xEF | 0xFE => false,
            _ => true,
        };
        if keep {
            out.extend_from_slice(segment);
        }
        i += segment.len();
        if marker == 0xDA {
            // Entropy-coded data runs to the next marker that is not a
            // stuffed 0xFF00 or a restart marker.
            let start = i;
            while let Some(&b) = src.get(i) {
                let next = src.get(i + 1).copied().unwrap_or(0xD9);
                if b == 0xFF && next != 0 && !(0xD0..=0xD7).contains(&next) {
                    break;
                }
                i += if b == 0xFF { 2 } else { 1 };
            }
            out.extend_from_slice(src.get(start..i)?);
        }
    }
}

/// PNG keeping critical chunks and the ancillary chunks that affect display.
pub(super) fn png(src: &[u8]) -> Option<Vec<u8>> {
    const KEEP: [&[u8]; 14] = [
        b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"pHYs", b"bKGD", b"acTL", b"fcTL",
        b"fdAT", b"cICP", b"mDCV", b"cLLI",
    ];
    let mut out = span(src, 0, 8)
        .filter(|sig| sig == b"\x89PNG\r\n\x1a\n")?
        .to_vec();
    let mut i = 8;
    loop {
        let chunk = span(src, i, u32_at(src, i, true)?.checked_add(12)?)?;
        let kind = chunk.get(4..8)?;
        if kind.first().is_some_and(u8::is_ascii_uppercase) || KEEP.contains(&kind) {
            out.extend_from_slice(chunk);
        }
        i += chunk.len();
        if kind == b"IEND" {
            return Some(out);
        }
    }
}

/// GIF keeping image data, graphic control and loop-count extensions.
pub(super) fn gif(src: &[u8]) -> Option<Vec<u8>> {
    let table = |packed: u8| {
        if packed & 0x80 == 0 {
            0
        } else {
            3usize << ((packed & 7) + 1)
        }
    };
    let blocks_end = |mut i: usize| loop {
        let n = usize::from(*src.get(i)?);
        i += 1 + n;
        if n == 0 {
            return Some(i);
        }
    };
    span(src, 0, 6).filter(|h| h == b"GIF87a" || h == b"GIF89a")?;
    let mut i = 13 + table(*src.get(10)?);
    let mut out = src.get(..i)?.to_vec();
    loop {
        let end = match *src.get(i)? {
            0x3B => {
                out.push(0x3B);
                return Some(out);
            }
            0x2C => blocks_end(i + 11 + table(*src.get(i + 9)?))?,
            0x21 => {
                let end = blocks_end(i + 2)?;
                let label = *src.get(i + 1)?;
                let app = src.get(i + 2..i + 14);
                let keep = label == 0xF9
                    || (label == 0xFF
                        && (app == Some(b"\x0BNETSCAPE2.0") || app == Some(b"\x0BANIMEXTS1.0")));
                if !keep {
                    i = end;
                    continue;
                }
                end
            }
            _ => return None,
        };
        out.extend_from_slice(src.get(i..end)?);
        i = end;
    }
}

/// WebP without `EXIF`/`XMP ` chunks, with the VP8X flags to match.
pub(super) fn webp(src: &[u8]) -> Option<Vec<u8>> {
    span(src, 8, 4).filter(|w| w == b"WEBP")?;
    let body_end = u32_at(src, 4, false)?.checked_add(8)?;
    span(src, 0, 4).filter(|r| r == b"RIFF" && body_end <= src.len())?;
    let mut out = b"RIFF\0\0\0\0WEBP".to_vec();
    let mut i = 12;
    while i < body_end {
        let size = u32_at(src, i + 4, false)?;
        let end = i.checked_add(8)?.checked_add(size)?;
        if end > body_end {
            return None;
        }
        let chunk = src.get(i..(end + (size & 1)).min(body_end))?;
        match chunk.get(..4)? {
            b"EXIF" | b"XMP " => {}
            kind => {
                let at = out.len();
                out.extend_from_slice(chunk);
                if kind == b"VP8X" {
                    *out.get_mut(at + 8)? &= !0x0C; // EXIF and XMP flags
                }
                if out.len() % 2 == 1 {
                    out.push(0);
                }
            }
        }
        i += chunk.len();
    }
    let riff = u32::try_from(out.len() - 8).ok()?.to_le_bytes();
    out.get_mut(4..8)?.copy_from_slice(&riff);
    Some(out)
}
