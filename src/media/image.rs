//! Images for media messages: checked, oriented, stripped of metadata, and
//! thumbnailed.
//!
//! [`prepare`] reads the dimensions from the header first and refuses an
//! image over [`Limits::max_pixels`] (or with an edge over 65,535) before
//! anything large is allocated; it then decodes under `image::Limits` (so a
//! decompression bomb fails instead of eating memory) to prove the file is a
//! whole, valid image, and produces the bytes to serve:
//! - EXIF orientation absent or 1: the original bytes with metadata removed
//!   losslessly, no re-encoding. JPEG keeps only structural segments plus
//!   JFIF (APP0), ICC profile (APP2) and Adobe (APP14, needed for CMYK
//!   colours), dropping every other APPn (EXIF/GPS, XMP, MPF, IPTC) and
//!   COM, and anything after EOI. PNG drops every ancillary chunk but
//!   colour, transparency, physical size and APNG animation ones (so
//!   `tEXt`/`zTXt`/`iTXt`/`eXIf`/`tIME` go). GIF drops comment, plain-text
//!   and application extensions other than the loop count, keeping the
//!   animation. WebP drops `EXIF` and `XMP ` chunks and their VP8X flags.
//! - otherwise (the photo must be rotated or flipped), or if the lossless
//!   pass cannot walk the file (e.g. a truncated JPEG): re-encoded with the
//!   orientation applied, as JPEG quality 88 for JPEG input and opaque WebP,
//!   PNG for the rest. An encoder writes no metadata, so nothing survives;
//!   an animated GIF/WebP that needs this path keeps its first frame only.
//!
//! Reported dimensions are those after orientation. [`thumbnail`] fits an
//! image within a square (never enlarging) with the fast `thumbnail` filter
//! and returns a JPEG (quality 80) with any transparency laid on white.
//!
//! Bad input gives an [`ImageError`], never a panic: calls into the codecs
//! also run under `catch_unwind` (with the default `panic = "unwind"`).

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};

mod strip;

/// The largest width or height accepted, whatever the pixel count.
const MAX_EDGE: u32 = 65_535;

/// Caps on what an upload may cost to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Images with more pixels than this (width × height) are refused.
    pub max_pixels: u64,
    /// The most bytes a decoder may allocate for one image.
    pub max_alloc: u64,
}

impl Default for Limits {
    /// 40 megapixels (so a 50 MP photo is refused) and 256 MiB per decode.
    fn default() -> Self {
        Limits {
            max_pixels: 40_000_000,
            max_alloc: 256 * 1024 * 1024,
        }
    }
}

/// Why an image was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// Over the pixel, edge or allocation limit (the header's dimensions).
    #[error("image is too large ({width}x{height})")]
    TooLarge {
        /// Width from the header, before orientation.
        width: u32,
        /// Height from the header, before orientation.
        height: u32,
    },
    /// Not a JPEG, PNG, WebP or GIF that decodes; the string says why.
    #[error("image cannot be decoded: {0}")]
    Undecodable(String),
}

/// An image ready to store and serve: oriented, without metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The bytes to serve.
    pub bytes: Vec<u8>,
    /// Their MIME type: `image/jpeg`, `image/png`, `image/gif` or `image/webp`.
    pub mime: &'static str,
    /// Width as displayed (after EXIF orientation).
    pub width: u32,
    /// Height as displayed (after EXIF orientation).
    pub height: u32,
}

/// A small JPEG preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// JPEG bytes.
    pub bytes: Vec<u8>,
    /// Always `image/jpeg`.
    pub mime: &'static str,
    /// Width in pixels (at most the requested edge).
    pub width: u32,
    /// Height in pixels (at most the requested edge).
    pub height: u32,
}

/// Checks, orients and strips an uploaded image; see the module docs.
///
/// # Errors
/// [`ImageError::TooLarge`] over `limits`, [`ImageError::Undecodable`] for
/// anything that is not a whole JPEG, PNG, WebP or GIF.
pub fn prepare(bytes: &[u8], limits: &Limits) -> Result<Prepared, ImageError> {
    guarded(|| {
        let (format, orientation, mut img) = decode(bytes, limits)?;
        let stripped = match (orientation, format) {
            (Orientation::NoTransforms, ImageFormat::Jpeg) => strip::jpeg(bytes),
            (Orientation::NoTransforms, ImageFormat::Png) => strip::png(bytes),
            (Orientation::NoTransforms, ImageFormat::Gif) => strip::gif(bytes),
            (Orientation::NoTransforms, ImageFormat::WebP) => strip::webp(bytes),
            _ => None,
        };
        let (bytes, mime) = match stripped {
            Some(out) => (out, format.to_mime_type()),
            None => {
                img.apply_orientation(orientation);
                let jpeg = format == ImageFormat::Jpeg
                    || (format == ImageFormat::WebP && !img.has_alpha());
                encode(&img, jpeg, 88)?
            }
        };
        Ok(Prepared {
            bytes,
            mime,
            width: img.width(),
            height: img.height(),
        })
    })
}

/// A JPEG thumbnail of `bytes` fitting within `max_edge`×`max_edge`.
///
/// # Errors
/// As [`prepare`].
pub fn thumbnail(bytes: &[u8], max_edge: u32, limits: &Limits) -> Result<Thumbnail, ImageError> {
    thumbnails(bytes, &[max_edge], limits)?
        .pop()
        .ok_or_else(|| ImageError::Undecodable("no thumbnail size".to_owned()))
}

/// Like [`thumbnail`] for several sizes, decoding the image once.
///
/// # Errors
/// As [`prepare`].
pub fn thumbnails(
    bytes: &[u8],
    edges: &[u32],
    limits: &Limits,
) -> Result<Vec<Thumbnail>, ImageError> {
    guarded(|| {
        let (_, orientation, mut img) = decode(bytes, limits)?;
        img.apply_orientation(orientation);
        let mut out = Vec::with_capacity(edges.len());
        for &edge in edges {
            let (width, height) = fit(img.width(), img.height(), edge);
            let small = if (width, height) == (img.width(), img.height()) {
                img.clone()
            } else {
                img.thumbnail_exact(width, height)
            };
            let (bytes, mime) = encode(&flatten(&small), true, 80)?;
            out.push(Thumbnail {
                bytes,
                mime,
                width,
                height,
            });
        }
        Ok(out)
    })
}

/// Runs `f`, turning a panic inside a codec into an error.
fn guarded<T>(f: impl FnOnce() -> Result<T, ImageError>) -> Result<T, ImageError> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(ImageError::Undecodable("malformed image".to_owned())))
}

fn undecodable(e: impl std::fmt::Display) -> ImageError {
    ImageError::Undecodable(e.to_string())
}

/// Size check from the header, then a decode under `image::Limits`.
fn decode(
    bytes: &[u8],
    limits: &Limits,
) -> Result<(ImageFormat, Orientation, DynamicImage), ImageError> {
    let mut caps = image::Limits::default();
    caps.max_alloc = Some(limits.max_alloc);
    let reader = |caps: &image::Limits| {
        let mut r = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(undecodable)?;
        r.limits(caps.clone());
        Ok::<_, ImageError>(r)
    };
    let probe = reader(&caps)?;
    let format = probe
        .format()
        .filter(|f| {
            matches!(
                f,
                ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Gif | ImageFormat::WebP
            )
        })
        .ok_or_else(|| undecodable("not a JPEG, PNG, WebP or GIF"))?;
    let (width, height) = probe.into_dimensions().map_err(undecodable)?;
    let too_large = ImageError::TooLarge { width, height };
    if u64::from(width) * u64::from(height) > limits.max_pixels || width.max(height) > MAX_EDGE {
        return Err(too_large);
    }
    let over = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => too_large.clone(),
        e => undecodable(e),
    };
    caps.max_image_width = Some(MAX_EDGE);
    caps.max_image_height = Some(MAX_EDGE);
    let mut decoder = reader(&caps)?.into_decoder().map_err(over)?;
    if decoder.total_bytes() > limits.max_alloc {
        return Err(too_large);
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let img = DynamicImage::from_decoder(decoder).map_err(over)?;
    Ok((format, orientation, img))
}

/// Encodes as JPEG (as RGB or grey) or PNG; returns the bytes and MIME type.
fn encode(
    img: &DynamicImage,
    jpeg: bool,
    quality: u8,
) -> Result<(Vec<u8>, &'static str), ImageError> {
    let mut out = Vec::new();
    let written = if jpeg {
        let encoder = JpegEncoder::new_with_quality(&mut out, quality);
        match img {
            DynamicImage::ImageLuma8(grey) => grey.write_with_encoder(encoder),
            other => other.to_rgb8().write_with_encoder(encoder),
        }
    } else {
        img.write_with_encoder(PngEncoder::new(&mut out))
    };
    written.map_err(undecodable)?;
    Ok((out, if jpeg { "image/jpeg" } else { "image/png" }))
}

/// Lays a transparent image on white; opaque ones pass through.
fn flatten(img: &DynamicImage) -> DynamicImage {
    if !img.has_alpha() {
        return img.clone();
    }
    let rgba = img.to_rgba8();
    let rgb = RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0.map(u32::from);
        let over = |c: u32| u8::try_from((c * a + 255 * (255 - a) + 127) / 255).unwrap_or(u8::MAX);
        image::Rgb([over(r), over(g), over(b)])
    });
    DynamicImage::ImageRgb8(rgb)
}

/// The size of `width`×`height` scaled down to fit `edge`×`edge`.
fn fit(width: u32, height: u32, edge: u32) -> (u32, u32) {
    let edge = edge.max(1);
    let long = width.max(height);
    if long <= edge {
        return (width.max(1), height.max(1));
    }
    let scale = |side: u32| {
        let scaled = (u64::from(side) * u64::from(edge) + u64::from(long) / 2) / u64::from(long);
        u32::try_from(scaled).unwrap_or(edge).clamp(1, edge)
    };
    (scale(width), scale(height))
}

#[cfg(test)]
mod tests;
