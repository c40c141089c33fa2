//! Tests for [`super`]: fixtures from `tests/fixtures/media/` and images
//! made in memory (a lying PNG header, a 4000x3000 photo).

use super::*;

const JPEG_ROT6: &[u8] = include_bytes!("../../../tests/fixtures/media/photo-rot6-gps.jpg");
const PNG_TEXT: &[u8] = include_bytes!("../../../tests/fixtures/media/text-chunk.png");
const GIF_COMMENT: &[u8] = include_bytes!("../../../tests/fixtures/media/comment.gif");
const WEBP_GPS: &[u8] = include_bytes!("../../../tests/fixtures/media/gps.webp");

fn has(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn no_metadata(bytes: &[u8]) {
    for secret in [
        b"Exif\0\0".as_slice(),
        b"TestCam",
        b"secret",
        b"http://ns.adobe.com/xap",
        b"Photoshop 3.0",
        b"tEXt",
        b"EXIF",
        b"XMP ",
    ] {
        assert!(
            !has(bytes, secret),
            "{:?} left in output",
            String::from_utf8_lossy(secret)
        );
    }
}

fn pixels(bytes: &[u8]) -> DynamicImage {
    image::load_from_memory(bytes).unwrap_or_default()
}

#[test]
fn rotated_jpeg_with_gps_is_turned_upright_and_stripped() {
    assert!(has(JPEG_ROT6, b"Exif\0\0") && has(JPEG_ROT6, b"secret-xmp"));
    let p = prepare(JPEG_ROT6, &Limits::default());
    let Ok(p) = p else { panic!("{p:?}") };
    // Stored 48x32 (left half red, right half blue) with orientation 6.
    assert_eq!((p.mime, p.width, p.height), ("image/jpeg", 32, 48));
    no_metadata(&p.bytes);
    let img = pixels(&p.bytes).to_rgb8();
    assert_eq!(img.dimensions(), (32, 48));
    // Rotating 90° clockwise puts the left (red) half on top.
    let [r, _, b] = img.get_pixel(16, 8).0;
    assert!(r > 200 && b < 60, "top is not red: {r} {b}");
}

#[test]
fn unrotated_jpeg_is_stripped_losslessly() {
    let mut clean = Vec::new();
    let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(20, 10, image::Rgb([9, 99, 199])));
    assert!(
        img.write_with_encoder(JpegEncoder::new_with_quality(&mut clean, 90))
            .is_ok()
    );
    let mut dirty = clean.get(..2).unwrap_or_default().to_vec();
    dirty.extend_from_slice(b"\xFF\xE1\x00\x11Exif\0\0MM\0*GPS!!\xFF\xFE\x00\x08secret");
    dirty.extend_from_slice(clean.get(2..).unwrap_or_default());
    dirty.extend_from_slice(b"trailing secret");
    let p = prepare(&dirty, &Limits::default());
    assert_eq!(
        p.map(|p| (p.bytes == clean, p.width, p.height)),
        Ok((true, 20, 10))
    );
}

#[test]
fn png_text_gif_comment_and_webp_exif_are_stripped() {
    for (input, mime) in [
        (PNG_TEXT, "image/png"),
        (GIF_COMMENT, "image/gif"),
        (WEBP_GPS, "image/webp"),
    ] {
        assert!(has(input, b"secret"), "{mime} fixture lacks its metadata");
        let p = prepare(input, &Limits::default());
        let Ok(p) = p else { panic!("{mime}: {p:?}") };
        assert_eq!((p.mime, p.width, p.height), (mime, 16, 16));
        no_metadata(&p.bytes);
        assert_eq!(
            pixels(&p.bytes).to_rgba8(),
            pixels(input).to_rgba8(),
            "{mime}"
        );
    }
}

/// A PNG whose header claims `width`x`height`, with a one-byte IDAT.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        let crc = kind.iter().chain(data).fold(!0u32, |mut c, &b| {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
            c
        });
        out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&(!crc).to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = [width.to_be_bytes(), height.to_be_bytes()].concat();
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn decompression_bombs_and_huge_images_are_too_large() {
    fn big<T>(width: u32, height: u32) -> Result<T, ImageError> {
        Err(ImageError::TooLarge { width, height })
    }
    let limits = Limits::default();
    assert_eq!(
        prepare(&png_header(20_000, 20_000), &limits),
        big(20_000, 20_000)
    );
    // 50 megapixels is over the default 40 MP cap.
    assert_eq!(
        prepare(&png_header(8_660, 5_774), &limits),
        big(8_660, 5_774)
    );
    assert_eq!(
        thumbnail(&png_header(100_000, 10), 96, &limits).map(|t| t.width),
        big(100_000, 10)
    );
    let tight = Limits {
        max_pixels: 100,
        ..limits
    };
    assert_eq!(prepare(PNG_TEXT, &tight), big(16, 16));
    let stingy = Limits {
        max_alloc: 100,
        ..limits
    };
    assert_eq!(prepare(PNG_TEXT, &stingy), big(16, 16));
}

#[test]
fn garbage_is_undecodable() {
    for bytes in [
        b"".as_slice(),
        b"hello world",
        b"\x89PNG\r\n\x1a\nnope",
        b"\xFF\xD8\xFF\xE0",
    ] {
        assert!(matches!(
            prepare(bytes, &Limits::default()),
            Err(ImageError::Undecodable(_))
        ));
    }
    // A real header with a too-short body decodes to nothing.
    assert!(prepare(&png_header(64, 64), &Limits::default()).is_err());
}

#[test]
fn truncated_images_never_panic() {
    for bytes in [JPEG_ROT6, PNG_TEXT, GIF_COMMENT, WEBP_GPS] {
        for cut in (0..bytes.len()).step_by(7) {
            let head = bytes.get(..cut).unwrap_or_default();
            let _ = prepare(head, &Limits::default());
            let _ = thumbnail(head, 96, &Limits::default());
        }
    }
}

#[test]
fn thumbnails_fit_and_never_upscale() {
    let photo =
        DynamicImage::ImageLuma8(image::GrayImage::from_pixel(4000, 3000, image::Luma([90])));
    let mut png = Vec::new();
    let fast = PngEncoder::new_with_quality(
        &mut png,
        image::codecs::png::CompressionType::Fast,
        Default::default(),
    );
    assert!(photo.write_with_encoder(fast).is_ok());
    let sizes = thumbnails(&png, &[96, 480], &Limits::default()).map(|t| {
        t.iter()
            .map(|t| (t.mime, t.width, t.height))
            .collect::<Vec<_>>()
    });
    let want = vec![("image/jpeg", 96, 72), ("image/jpeg", 480, 360)];
    assert_eq!(sizes, Ok(want));
    assert_eq!(fit(3000, 4000, 96), (72, 96));
    assert_eq!(fit(4000, 3000, 8000), (4000, 3000));
    let small = thumbnail(PNG_TEXT, 96, &Limits::default()).map(|t| (t.width, t.height));
    assert_eq!(small, Ok((16, 16)));
    assert_eq!(fit(10_000, 1, 96), (96, 1));
}

#[test]
fn thumbnail_is_upright_and_flattened_on_white() {
    let t = thumbnail(JPEG_ROT6, 24, &Limits::default()).map(|t| (t.width, t.height));
    assert_eq!(t, Ok((16, 24)));
    let clear = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
        8,
        8,
        image::Rgba([0, 0, 0, 0]),
    ));
    let (png, _) = encode(&clear, false, 0).unwrap_or_default();
    let t = thumbnail(&png, 96, &Limits::default());
    let Ok(t) = t else { panic!("{t:?}") };
    assert_eq!((t.mime, t.width, t.height), ("image/jpeg", 8, 8));
    assert!(
        pixels(&t.bytes)
            .to_rgb8()
            .pixels()
            .all(|p| p.0.iter().all(|&c| c > 245))
    );
}
