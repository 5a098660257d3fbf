//! Importing folders full of good and bad files: every bad file is skipped and reported,
//! nothing panics, and the good images come out at the preset's size.

#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::many_single_char_names
)]

use std::fs;
use std::io::Cursor;
use std::path::Path;

use atelier::data::{
    ImportError, ImportOptions, PROBE_FILES, SkipReason, Split, import_folder, probe_folder,
};
use atelier::preset::SquareMode;
use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, Rgb, Rgba};

fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn gradient_rgb(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |x, y| {
        Rgb([(x * 7) as u8, (y * 5) as u8, 128])
    }))
}

/// A PNG whose header declares a 60000×60000 image: a decompression bomb's calling card.
fn png_bomb() -> Vec<u8> {
    png_declaring(60_000, 60_000, 2)
}

/// A PNG whose header declares `width` × `height` pixels of PNG colour type `colour_type`
/// (0 grey, 2 RGB), with one tiny compressed block as its data.
fn png_declaring(width: u32, height: u32, colour_type: u8) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: [u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, colour_type, 0, 0, 0]);
    chunk(&mut out, *b"IHDR", &ihdr);
    chunk(
        &mut out,
        *b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, *b"IEND", &[]);
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::write(dir.join(name), bytes).unwrap();
}

const RGB64: ImportOptions = ImportOptions {
    resolution: 16,
    channels: 3,
    square: SquareMode::Pad,
};

#[test]
fn bad_files_are_skipped_and_reported_and_good_ones_imported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = gradient_rgb(40, 30);
    write(d, "good.png", &encode(&good, ImageFormat::Png));
    write(
        d,
        "good.jpg",
        &encode(&gradient_rgb(33, 50), ImageFormat::Jpeg),
    );
    write(
        d,
        "good.bmp",
        &encode(&gradient_rgb(20, 20), ImageFormat::Bmp),
    );
    write(
        d,
        "good.gif",
        &encode(&gradient_rgb(21, 20), ImageFormat::Gif),
    );
    write(
        d,
        "good.tiff",
        &encode(&gradient_rgb(22, 20), ImageFormat::Tiff),
    );
    write(
        d,
        "good.webp",
        &encode(&gradient_rgb(23, 20), ImageFormat::WebP),
    );
    let sixteen: ImageBuffer<Luma<u16>, Vec<u16>> =
        ImageBuffer::from_fn(25, 25, |x, _| Luma([(x * 2000) as u16]));
    write(
        d,
        "sixteen-bit.png",
        &encode(&DynamicImage::ImageLuma16(sixteen), ImageFormat::Png),
    );
    let clear: ImageBuffer<Rgba<u8>, Vec<u8>> = ImageBuffer::from_pixel(24, 24, Rgba([0, 0, 0, 0]));
    write(
        d,
        "transparent.png",
        &encode(&DynamicImage::ImageRgba8(clear), ImageFormat::Png),
    );

    write(d, "empty.png", b"");
    let full = encode(&gradient_rgb(64, 64), ImageFormat::Png);
    write(d, "truncated.png", &full[..full.len() / 3]);
    write(
        d,
        "notes.txt",
        b"these are not the pixels you are looking for",
    );
    write(d, "noise.jpg", &[0x13u8; 5000]);
    write(d, "bomb.png", &png_bomb());
    write(d, "copy-of-good.png", &encode(&good, ImageFormat::Png));

    let (data, report) = import_folder(d, RGB64, &|_| {}).unwrap();
    let names = |pred: &dyn Fn(&SkipReason) -> bool| -> Vec<String> {
        let mut v: Vec<String> = report
            .skipped
            .iter()
            .filter(|s| pred(&s.reason))
            .map(|s| s.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names(&|r| matches!(r, SkipReason::EmptyFile)),
        ["empty.png"]
    );
    assert_eq!(
        names(&|r| matches!(r, SkipReason::NotAnImage)),
        ["noise.jpg", "notes.txt"]
    );
    assert_eq!(
        names(&|r| matches!(r, SkipReason::Decode(_))),
        ["bomb.png", "truncated.png"]
    );
    // Sorted order: "copy-of-good.png" comes first, so "good.png" is the reported copy.
    assert_eq!(
        names(&|r| matches!(r, SkipReason::Duplicate { .. })),
        ["good.png"]
    );
    assert_eq!(report.skipped.len(), 6, "{report}");
    assert_eq!(data.len(), 8, "{report}");
    assert_eq!(report.imported, 8);
    assert_eq!(data.image_len(), 3 * 16 * 16);
    assert_eq!(data.pixels.len(), 8 * 3 * 16 * 16);
    // Fully transparent pixels are composited onto white.
    let t = data
        .sources
        .iter()
        .position(|p| p.ends_with("transparent.png"))
        .unwrap();
    assert!(data.image(t).iter().all(|&v| v == 255));
    let text = report.to_string();
    assert!(
        text.contains("bomb.png") && text.contains("empty file"),
        "{text}"
    );
}

#[test]
fn classes_come_from_first_level_folders() {
    let dir = tempfile::tempdir().unwrap();
    for (class, n, tint) in [("mugs", 3, 10u8), ("sneakers", 5, 200u8)] {
        let sub = dir.path().join(class).join("nested");
        fs::create_dir_all(&sub).unwrap();
        for i in 0..n {
            let img = DynamicImage::ImageRgb8(ImageBuffer::from_fn(10 + i, 12 + i * 3, |x, _| {
                Rgb([x as u8, tint, 0])
            }));
            write(&sub, &format!("{i}.png"), &encode(&img, ImageFormat::Png));
        }
    }
    let opts = ImportOptions {
        resolution: 8,
        channels: 1,
        square: SquareMode::Crop,
    };
    let (data, report) = import_folder(dir.path(), opts, &|_| {}).unwrap();
    assert_eq!(data.class_names, ["mugs", "sneakers"]);
    assert_eq!(
        report.per_class,
        vec![("mugs".to_string(), 3), ("sneakers".to_string(), 5)]
    );
    assert_eq!(data.labels.iter().filter(|&&l| l == 1).count(), 5);
}

#[test]
fn empty_and_useless_folders_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = import_folder(dir.path(), RGB64, &|_| {}).unwrap_err();
    assert!(matches!(err, ImportError::Empty(_)), "{err}");
    write(dir.path(), "a.txt", b"hello");
    let err = import_folder(dir.path(), RGB64, &|_| {}).unwrap_err();
    assert!(
        matches!(err, ImportError::NoUsableImage { skipped: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("a.txt"), "{err}");
    let err = import_folder(&dir.path().join("missing"), RGB64, &|_| {}).unwrap_err();
    assert!(matches!(err, ImportError::NotFound(_)), "{err}");
}

#[test]
fn real_fashion_mnist_folder_imports_and_splits_deterministically() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/fmnist-sneaker-train");
    assert!(
        root.exists(),
        "shared data missing at {}: tests need ../shared/data",
        root.display()
    );
    let opts = ImportOptions {
        resolution: 28,
        channels: 1,
        square: SquareMode::Pad,
    };
    let (data, report) = import_folder(&root, opts, &|_| {}).unwrap();
    assert_eq!(report.imported + report.skipped.len(), 6000);
    assert!(report.imported > 5900, "{} imported", report.imported);
    // Grey 28 px files: the import says so, and no colour recipe is suggested.
    assert_eq!(report.colour_images, 0);
    assert_eq!(report.median_side, 28);
    assert!(!report.is_colour());
    let a = Split::new(&data, [0.9, 0.05, 0.05], 2024);
    let b = Split::new(&data, [0.9, 0.05, 0.05], 2024);
    assert_eq!(a, b);
    assert_eq!(
        a.train.len() + a.validation.len() + a.test.len(),
        data.len()
    );
    assert!(a.validation.len() >= 290 && a.test.len() >= 290);
}

#[test]
fn exif_orientation_is_applied() {
    use image::ImageEncoder;
    // 20×10, left half white; EXIF orientation 6 (rotate 90° clockwise) makes it 10×20 with
    // the white half on top.
    let img: ImageBuffer<Rgb<u8>, Vec<u8>> = ImageBuffer::from_fn(20, 10, |x, _| {
        if x < 10 {
            Rgb([255, 255, 255])
        } else {
            Rgb([0, 0, 0])
        }
    });
    // Big-endian TIFF header, one IFD entry: Orientation (0x0112), SHORT, count 1, value 6.
    let exif: Vec<u8> = vec![
        b'M', b'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0,
        0, 0,
    ];
    let mut bytes = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95);
    encoder.set_exif_metadata(exif).unwrap();
    encoder
        .write_image(img.as_raw(), 20, 10, image::ExtendedColorType::Rgb8)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "rotated.jpg", &bytes);
    let opts = ImportOptions {
        resolution: 8,
        channels: 1,
        square: SquareMode::Crop,
    };
    let (data, _) = import_folder(dir.path(), opts, &|_| {}).unwrap();
    let px = data.image(0);
    assert!(
        px[0] > 200 && px[7] > 200,
        "top row white after rotation: {:?}",
        &px[..8]
    );
    assert!(
        px[56] < 60 && px[63] < 60,
        "bottom row black after rotation: {:?}",
        &px[56..]
    );
}

/// Real colour product photos count as colour (a grey recipe would drop it) and report their
/// size; the same photos turned grey, even saved as RGB JPEGs, do not.
#[test]
fn colour_photos_are_told_from_grey_ones() {
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/clothing-small/validation");
    let opts = ImportOptions {
        resolution: 28,
        channels: 1,
        square: SquareMode::Pad,
    };
    let (_, report) = import_folder(&root, opts, &|_| {}).unwrap();
    eprintln!(
        "clothing-small/validation: {} of {} colour, median side {}",
        report.colour_images, report.imported, report.median_side
    );
    assert!(report.is_colour());
    assert!(report.median_side >= 48, "{}", report.median_side);
    assert!(report.to_string().contains("show colour"));
    // The probe the studio runs before importing says the same from 48 files.
    let probe = probe_folder(&root).unwrap();
    assert_eq!(probe.decoded, PROBE_FILES);
    assert!(probe.is_colour() && probe.median_side >= 48, "{probe:?}");

    // The same photos as grey JPEGs in RGB: none shows colour.
    let dir = tempfile::tempdir().unwrap();
    let mut photos: Vec<_> = fs::read_dir(root.join("t-shirt"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    photos.sort();
    for (i, path) in photos.iter().take(40).enumerate() {
        let grey = image::open(path).unwrap().grayscale().to_rgb8();
        let bytes = encode(&DynamicImage::ImageRgb8(grey), ImageFormat::Jpeg);
        write(dir.path(), &format!("grey-{i:02}.jpg"), &bytes);
    }
    let (_, report) = import_folder(dir.path(), opts, &|_| {}).unwrap();
    assert_eq!(report.imported, 40);
    assert_eq!(report.colour_images, 0, "grey JPEGs read as colour");
    assert!(!report.is_colour());
    assert!(!probe_folder(dir.path()).unwrap().is_colour());

    // Three colour photos among the forty make it a colour folder (one in twenty).
    for (i, path) in photos
        .iter()
        .skip(40)
        .filter(|p| atelier::data::shows_colour(&image::open(p).unwrap()))
        .take(3)
        .enumerate()
    {
        fs::copy(path, dir.path().join(format!("colour-{i}.jpg"))).unwrap();
    }
    let (_, report) = import_folder(dir.path(), opts, &|_| {}).unwrap();
    assert_eq!((report.imported, report.colour_images), (43, 3));
    assert!(report.is_colour());
}

/// A picture with detail everywhere, so every part of its file carries pixels.
fn textured_rgb(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |x, y| {
        let v = x
            .wrapping_mul(2_654_435_761)
            .wrapping_add(y.wrapping_mul(40_503))
            >> 7;
        Rgb([(v & 0xFF) as u8, ((v >> 8) & 0xFF) as u8, (x * 3 + y) as u8])
    }))
}

#[test]
fn bombs_are_refused_from_their_header_with_the_limit_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 20,000 × 20,000 RGB (1.2 GB decoded) and 20,000 × 20,000 grey: under any side limit,
    // far over the pixel limit.
    write(d, "rgb-bomb.png", &png_declaring(20_000, 20_000, 2));
    write(d, "grey-bomb.png", &png_declaring(20_000, 20_000, 0));
    write(d, "panorama.png", &png_declaring(29_000, 2_000, 2));
    write(
        d,
        "good.png",
        &encode(&gradient_rgb(40, 30), ImageFormat::Png),
    );
    let (data, report) = import_folder(d, RGB64, &|_| {}).unwrap();
    assert_eq!(data.len(), 1, "{report}");
    let refused: Vec<String> = report
        .skipped
        .iter()
        .filter(|s| matches!(s.reason, SkipReason::TooManyPixels { .. }))
        .map(|s| s.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        refused.len(),
        3,
        "every bomb is refused as too many pixels: {report}"
    );
    let text = report.to_string();
    assert!(text.contains("limit 50 Mpx"), "{text}");
    // The folder probe (the studio's first look) refuses them too.
    assert_eq!(probe_folder(d).unwrap().decoded, 1);
}

#[test]
fn truncated_files_of_every_format_are_skipped_never_imported_silently() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let picture = textured_rgb(96, 80);
    let formats = [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::Gif,
        ImageFormat::Bmp,
        ImageFormat::Tiff,
        ImageFormat::WebP,
        ImageFormat::Tga,
        ImageFormat::Qoi,
        ImageFormat::Pnm,
        ImageFormat::Ico,
        ImageFormat::Farbfeld,
    ];
    let mut written = Vec::new();
    for format in formats {
        let mut out = Cursor::new(Vec::new());
        // Some encoders want other pixel types (Farbfeld: 16-bit RGBA; ICO's reader: RGBA).
        let picture = if format == ImageFormat::Ico {
            DynamicImage::ImageRgba8(picture.to_rgba8())
        } else {
            picture.clone()
        };
        if picture.write_to(&mut out, format).is_err() {
            let wide = DynamicImage::ImageRgba16(picture.to_rgba16());
            out = Cursor::new(Vec::new());
            wide.write_to(&mut out, format).unwrap();
        }
        let full = out.into_inner();
        let ext = format.extensions_str()[0];
        for percent in [30, 60, 90, 99] {
            let name = format!("cut-{percent}.{ext}");
            write(d, &name, &full[..full.len() * percent / 100]);
            written.push(name);
        }
        // The whole file still imports.
        write(d, &format!("whole.{ext}"), &full);
    }
    let (data, report) = import_folder(d, RGB64, &|_| {}).unwrap();
    let skipped: Vec<String> = report
        .skipped
        .iter()
        .map(|s| s.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let imported_cut: Vec<&String> = written.iter().filter(|n| !skipped.contains(n)).collect();
    assert!(
        imported_cut.is_empty(),
        "cut-off files imported as if whole: {imported_cut:?}\n{report}"
    );
    assert_eq!(data.len(), formats.len(), "{report}");
}
