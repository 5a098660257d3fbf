//! Reading one image file within bounded memory: size and pixel limits checked from the
//! header before decoding, truncated JPEGs refused, and the photo normalised to a square of
//! the recipe's side and channels.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};

use super::budget::{MemoryBudget, Reservation};
use super::import::{ImportOptions, SkipReason};
use crate::preset::SquareMode;

/// Files larger than this are refused before they are read.
pub(super) const MAX_FILE_BYTES: u64 = 128 << 20;
/// Most pixels (width × height) an image may declare: product photos are rarely above
/// 50 Mpx, and a decompression bomb (a small file declaring a huge image) is refused from its
/// header, before anything is decoded.
pub const MAX_PIXELS: u64 = 50_000_000;
/// Largest side a decoder may declare.
const MAX_IMAGE_SIDE: u32 = 30_000;
/// Most memory one decoder may allocate (a 50 Mpx RGBA photo is 200 MB decoded).
const MAX_DECODE_ALLOC: u64 = 256 << 20;
/// Memory that parallel decodes may hold at once (see [`MemoryBudget`]).
pub(super) const DECODE_BUDGET: u64 = 384 << 20;
/// A padded square larger than this is not built at full size: the photo is shrunk first.
const MAX_FULL_SIZE_PAD: u64 = 16_000_000;

/// Checks a file's size and its header's declared pixels, reserves its decode's memory, and
/// reads it. The reservation is held until the caller drops it.
pub(super) fn read_within<'a>(
    path: &Path,
    budget: &'a MemoryBudget,
) -> Result<(Reservation<'a>, Vec<u8>), SkipReason> {
    let meta = std::fs::metadata(path).map_err(|e| SkipReason::Unreadable(e.to_string()))?;
    if meta.len() == 0 {
        return Err(SkipReason::EmptyFile);
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(SkipReason::TooLarge { bytes: meta.len() });
    }
    let decoded_bytes = declared_size(path)?;
    // The file, the decoded image, its RGB copy and a padded square of about the same size.
    let held = budget.reserve(meta.len() + 3 * decoded_bytes.max(1));
    let bytes = std::fs::read(path).map_err(|e| SkipReason::Unreadable(e.to_string()))?;
    Ok((held, bytes))
}

/// Bytes the image in `path` declares it decodes to, from its header alone; refuses one above
/// [`MAX_PIXELS`]. Files whose header cannot be read are left to [`decode`] to report.
fn declared_size(path: &Path) -> Result<u64, SkipReason> {
    // `open` takes the format from the extension; the bytes' signature wins where there is one.
    let Ok(reader) = ImageReader::open(path).and_then(ImageReader::with_guessed_format) else {
        return Ok(0);
    };
    let mut reader = reader;
    reader.limits(decoder_limits());
    let Ok(decoder) = reader.into_decoder() else {
        return Ok(0);
    };
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_PIXELS {
        return Err(SkipReason::TooManyPixels { width, height });
    }
    Ok(decoder.total_bytes())
}

fn decoder_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    limits
}

/// Whether a JPEG's last scan is followed by its end-of-image marker. Inside a scan every
/// 0xFF byte is escaped, so a real marker cannot hide there; an embedded thumbnail's marker
/// comes before the main image's scans, and bytes after the marker (camera trailers) are fine.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    let last_end = bytes.windows(2).rposition(|w| w == [0xFF, 0xD9]);
    matches!((last_scan, last_end), (Some(scan), Some(end)) if end > scan)
}

/// Decodes with memory limits and applies the EXIF orientation. The format comes from the
/// bytes, or for TGA (the one format here with no signature) from `path`'s extension.
pub(crate) fn decode(bytes: &[u8], path: &Path) -> Result<DynamicImage, SkipReason> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| SkipReason::Unreadable(e.to_string()))?;
    if reader.format().is_none()
        && image::ImageFormat::from_path(path).is_ok_and(|f| f == image::ImageFormat::Tga)
    {
        reader.set_format(image::ImageFormat::Tga);
    }
    let Some(format) = reader.format() else {
        return Err(SkipReason::NotAnImage);
    };
    // JPEG decoders fill a cut-off file with grey and report success.
    if format == image::ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(SkipReason::Truncated(
            "the JPEG ends before its end-of-image marker".into(),
        ));
    }
    reader.limits(decoder_limits());
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| SkipReason::Decode(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(SkipReason::TooManyPixels { width, height });
    }
    let orientation = decoder.orientation().ok();
    let mut image =
        DynamicImage::from_decoder(decoder).map_err(|e| SkipReason::Decode(e.to_string()))?;
    if let Some(o) = orientation {
        image.apply_orientation(o);
    }
    if image.width() == 0 || image.height() == 0 {
        return Err(SkipReason::Decode("image has no pixels".into()));
    }
    Ok(image)
}

/// The photo as RGB, transparent parts composited onto white. Images without alpha are
/// converted in place (no RGBA copy: a 50 Mpx photo would need 200 MB more).
pub(super) fn flatten_alpha(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut rgb = RgbImage::new(w, h);
    for (dst, src) in rgb.pixels_mut().zip(rgba.pixels()) {
        let a = u16::from(src[3]);
        for c in 0..3 {
            // Straight alpha over white: c·a + 255·(1−a).
            dst[c] = ((u16::from(src[c]) * a + 255 * (255 - a) + 127) / 255) as u8;
        }
    }
    rgb
}

/// Composites alpha onto white, squares (crop or pad), resizes, and lays out as (C, H, W) u8.
pub(crate) fn normalise(image: DynamicImage, options: ImportOptions) -> Vec<u8> {
    let rgb = flatten_alpha(image);
    let (w, h) = rgb.dimensions();
    let r = options.resolution as u32;
    // Lanczos3 scales its support with the ratio, so big downscales do not alias.
    let resized = match options.square {
        SquareMode::Crop => {
            let side = w.min(h);
            let square =
                image::imageops::crop_imm(&rgb, (w - side) / 2, (h - side) / 2, side, side);
            if side == r {
                square.to_image()
            } else {
                super::lanczos::resize_lanczos3(&square.to_image(), r, r)
            }
        }
        SquareMode::Pad => {
            let side = w.max(h);
            let fill = border_mean(&rgb);
            // A panorama's full-size square could be far larger than the photo itself: shrink
            // the photo to the output side first (only photos that large; the result differs
            // from the full-size path by Lanczos' blend of photo and border at the seam).
            let (photo, side) = if u64::from(side) * u64::from(side) > MAX_FULL_SIZE_PAD {
                let (sw, sh) = (
                    (u64::from(w) * u64::from(r) / u64::from(side)).max(1) as u32,
                    (u64::from(h) * u64::from(r) / u64::from(side)).max(1) as u32,
                );
                (super::lanczos::resize_lanczos3(&rgb, sw, sh), r)
            } else {
                (rgb, side)
            };
            if side == r {
                let mut canvas = RgbImage::from_pixel(side, side, fill);
                paste_centred(&mut canvas, &photo);
                canvas
            } else {
                // The same pixels as pasting on a full-size canvas and resizing that.
                super::lanczos::resize_padded(&photo, fill, side, r)
            }
        }
    };
    let plane = (r * r) as usize;
    let mut out = vec![0u8; options.channels * plane];
    for (i, p) in resized.pixels().enumerate() {
        if options.channels == 1 {
            // Rec. 601 luma, as `image` uses.
            let y = (299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2]) + 500)
                / 1000;
            out[i] = y as u8;
        } else {
            out[i] = p[0];
            out[plane + i] = p[1];
            out[2 * plane + i] = p[2];
        }
    }
    out
}

/// Copies `photo` into the middle of the larger `canvas`, row by row: what
/// `image::imageops::overlay` does for pixels without alpha, without its per-pixel blend.
fn paste_centred(canvas: &mut RgbImage, photo: &RgbImage) {
    let (side, (pw, ph)) = (canvas.width() as usize, photo.dimensions());
    let (x0, y0) = (
        (side - pw as usize) / 2,
        (canvas.height() - ph) as usize / 2,
    );
    let row = pw as usize * 3;
    let dst = &mut **canvas;
    for (y, src) in photo.as_raw().chunks_exact(row).enumerate() {
        let start = ((y0 + y) * side + x0) * 3;
        dst[start..start + row].copy_from_slice(src);
    }
}

/// Mean colour of the outermost pixels: the product photo's background, used to pad.
fn border_mean(img: &RgbImage) -> image::Rgb<u8> {
    let (w, h) = img.dimensions();
    let mut sum = [0u64; 3];
    let mut n = 0u64;
    for (x, y, p) in img.enumerate_pixels() {
        if x == 0 || y == 0 || x + 1 == w || y + 1 == h {
            for c in 0..3 {
                sum[c] += u64::from(p[c]);
            }
            n += 1;
        }
    }
    let n = n.max(1);
    image::Rgb([(sum[0] / n) as u8, (sum[1] / n) as u8, (sum[2] / n) as u8])
}

/// One photo made ready for a model exactly as an import makes it: decoded, alpha onto white,
/// squared, resized, channel-major u8 (for projection of a single photo).
pub fn read_for_model(path: &Path, options: ImportOptions) -> Result<Vec<u8>, SkipReason> {
    let bytes = std::fs::read(path).map_err(|e| SkipReason::Unreadable(e.to_string()))?;
    Ok(normalise(decode(&bytes, path)?, options))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasting_centred_equals_images_overlay() {
        for (w, h, side) in [(192, 256, 256), (256, 100, 256), (31, 7, 32), (5, 5, 5)] {
            let photo = RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 200]));
            let mut ours = RgbImage::from_pixel(side, side, image::Rgb([9, 8, 7]));
            let mut theirs = ours.clone();
            paste_centred(&mut ours, &photo);
            let (x, y) = (i64::from((side - w) / 2), i64::from((side - h) / 2));
            image::imageops::overlay(&mut theirs, &photo, x, y);
            assert!(ours == theirs, "{w}×{h} in {side}");
        }
    }
}
