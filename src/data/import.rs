//! Import a folder of product photos: scan, decode, normalise, de-duplicate, report.
//!
//! Every file is either imported or listed in the report with the reason it was skipped;
//! nothing a file contains can panic the importer or exhaust memory (decoder limits).

use std::collections::HashMap;
use std::fmt;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage, imageops::FilterType};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::Dataset;
use super::budget::MemoryBudget;
use crate::preset::SquareMode;

/// Files larger than this are refused before they are read.
const MAX_FILE_BYTES: u64 = 128 << 20;
/// Most pixels (width × height) an image may declare: product photos are rarely above
/// 50 Mpx, and a decompression bomb (a small file declaring a huge image) is refused from its
/// header, before anything is decoded.
pub const MAX_PIXELS: u64 = 50_000_000;
/// Largest side a decoder may declare.
const MAX_IMAGE_SIDE: u32 = 30_000;
/// Most memory one decoder may allocate (a 50 Mpx RGBA photo is 200 MB decoded).
const MAX_DECODE_ALLOC: u64 = 256 << 20;
/// Memory that parallel decodes may hold at once (see [`MemoryBudget`]).
const DECODE_BUDGET: u64 = 384 << 20;
/// A padded square larger than this is not built at full size: the photo is shrunk first.
const MAX_FULL_SIZE_PAD: u64 = 16_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportOptions {
    pub resolution: usize,
    pub channels: usize,
    pub square: SquareMode,
}

/// How far an import has got, for progress bars.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportProgress {
    pub done: usize,
    pub total: usize,
}

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("{0} does not exist")]
    NotFound(PathBuf),
    #[error("{0} is not a folder")]
    NotAFolder(PathBuf),
    #[error("cannot read folder {path}: {source}")]
    ReadDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("IDX file {path}: {message}")]
    Idx { path: PathBuf, message: String },
    #[error("{0} holds no files")]
    Empty(PathBuf),
    #[error("{path} holds no usable image ({skipped} files skipped; first: {first})")]
    NoUsableImage {
        path: PathBuf,
        skipped: usize,
        first: String,
    },
}

/// Why a file was not imported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SkipReason {
    EmptyFile,
    TooLarge {
        bytes: u64,
    },
    Unreadable(String),
    NotAnImage,
    Decode(String),
    /// The header declares more pixels than [`MAX_PIXELS`] (a decompression bomb, or a photo
    /// far larger than any product shot needs).
    TooManyPixels {
        width: u32,
        height: u32,
    },
    /// The file ends before the image does; the decoder would fill the rest with grey.
    Truncated(String),
    /// An exact byte-for-byte copy of another imported file.
    Duplicate {
        of: PathBuf,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyFile => write!(f, "empty file (0 bytes)"),
            Self::TooLarge { bytes } => write!(
                f,
                "file too large ({} MiB; limit {} MiB)",
                bytes >> 20,
                MAX_FILE_BYTES >> 20
            ),
            Self::Unreadable(e) => write!(f, "cannot read: {e}"),
            Self::NotAnImage => write!(f, "not an image (unknown format)"),
            Self::Decode(e) => write!(f, "cannot decode: {e}"),
            Self::TooManyPixels { width, height } => write!(
                f,
                "image too large ({width} × {height} = {:.0} Mpx; limit {} Mpx)",
                f64::from(*width) * f64::from(*height) / 1e6,
                MAX_PIXELS / 1_000_000
            ),
            Self::Truncated(what) => write!(f, "truncated file: {what}"),
            Self::Duplicate { of } => write!(f, "exact duplicate of {}", of.display()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: SkipReason,
}

/// What an import did: per-class counts and every skipped file with its reason.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ImportReport {
    pub root: PathBuf,
    pub files_seen: usize,
    pub imported: usize,
    /// (class name, images imported), in label order.
    pub per_class: Vec<(String, usize)>,
    pub skipped: Vec<Skipped>,
    pub seconds: f64,
    /// Imported images that show colour (see [`shows_colour`]): a grey recipe would keep only
    /// their luma.
    #[serde(default)]
    pub colour_images: usize,
    /// Median shorter side of the imported files, in pixels (before resizing).
    #[serde(default)]
    pub median_side: u32,
}

impl ImportReport {
    /// Whether the folder needs a colour model: at least one image in twenty shows colour.
    /// (A few grey shots in a colour folder are drawn fine by a colour model; the reverse
    /// loses every colour.)
    #[must_use]
    pub fn is_colour(&self) -> bool {
        colour_folder(self.colour_images, self.imported)
    }

    #[must_use]
    pub fn duplicates(&self) -> usize {
        self.skipped
            .iter()
            .filter(|s| matches!(s.reason, SkipReason::Duplicate { .. }))
            .count()
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Imported {} of {} files from {} in {:.1} s",
            self.imported,
            self.files_seen,
            self.root.display(),
            self.seconds
        )?;
        writeln!(
            f,
            "Colour: {} of {} images show colour; median shorter side {} px",
            self.colour_images, self.imported, self.median_side
        )?;
        writeln!(f, "Classes ({}):", self.per_class.len())?;
        for (name, count) in &self.per_class {
            writeln!(f, "  {name:<24} {count:>7}")?;
        }
        let dups = self.duplicates();
        writeln!(
            f,
            "Skipped: {} ({} exact duplicates)",
            self.skipped.len(),
            dups
        )?;
        for s in &self.skipped {
            writeln!(f, "  {}: {}", s.path.display(), s.reason)?;
        }
        Ok(())
    }
}

/// A folder needs a colour model when at least one image in twenty shows colour.
fn colour_folder(colour: usize, images: usize) -> bool {
    images > 0 && colour * 20 >= images
}

/// Files [`probe_folder`] decodes.
pub const PROBE_FILES: usize = 48;

/// A quick look at a folder before importing it, from a few files spread over it: enough to
/// pick a recipe (colour or grey, size) before decoding everything at the wrong size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FolderProbe {
    pub decoded: usize,
    pub colour: usize,
    pub median_side: u32,
}

impl FolderProbe {
    /// The import report's rule ([`ImportReport::is_colour`]) on the files looked at.
    #[must_use]
    pub fn is_colour(&self) -> bool {
        colour_folder(self.colour, self.decoded)
    }
}

/// Decodes up to [`PROBE_FILES`] files spread evenly over `root`'s images (in the import's
/// order); unreadable files are passed over. IDX files are grey by format.
pub fn probe_folder(root: &Path) -> Result<FolderProbe, ImportError> {
    if !root.is_dir() || !super::idx::idx_files_in(root).is_empty() {
        return Ok(FolderProbe::default());
    }
    let candidates = sorted_candidates(root)?;
    let count = candidates.len().min(PROBE_FILES);
    let budget = MemoryBudget::new(DECODE_BUDGET);
    let traits: Vec<FileTraits> = (0..count)
        .into_par_iter()
        .filter_map(|i| {
            let path = &candidates[i * candidates.len() / count].path;
            let (_held, bytes) = read_within(path, &budget).ok()?;
            let image = decode(&bytes, path).ok()?;
            Some(FileTraits::of(&image))
        })
        .collect();
    let mut sides: Vec<u32> = traits.iter().map(|t| t.short_side).collect();
    sides.sort_unstable();
    Ok(FolderProbe {
        decoded: traits.len(),
        colour: traits.iter().filter(|t| t.colour).count(),
        median_side: sides.get(sides.len() / 2).copied().unwrap_or(0),
    })
}

/// Every image file under `root` with its class (the first-level sub-folder, or the folder's
/// own name for files directly in it), sorted by path: sorted order makes labels, duplicates
/// ("first one wins"), reports and probes reproducible.
fn sorted_candidates(root: &Path) -> Result<Vec<Candidate>, ImportError> {
    let root_class = root.file_name().map_or_else(
        || "images".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut candidates = Vec::new();
    scan(root, root, &root_class, &mut candidates)?;
    candidates.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(candidates)
}

/// One decoded image: normalised pixels, the SHA-256 of its file, and what the file was like.
type Decoded = (Vec<u8>, [u8; 32], FileTraits);

/// What a file was like before normalising: the import picks a fitting recipe from these.
#[derive(Clone, Copy, Debug)]
struct FileTraits {
    colour: bool,
    short_side: u32,
}

impl FileTraits {
    fn of(image: &DynamicImage) -> Self {
        Self {
            colour: shows_colour(image),
            short_side: image.width().min(image.height()),
        }
    }
}

/// Mean chroma (max − min of R, G, B, out of 255) above which an image counts as colour.
/// Grey photos saved as RGB JPEGs stay under 3; product photos with any coloured garment or
/// background are well above (see the import tests).
const COLOUR_CHROMA: f32 = 8.0;

/// Whether `image` shows colour: the mean chroma of up to 32 × 32 evenly spaced pixels
/// (transparent ones skipped) is at least 8 of 255 (`COLOUR_CHROMA`).
#[must_use]
pub fn shows_colour(image: &DynamicImage) -> bool {
    use image::GenericImageView;
    if !image.color().has_color() {
        return false;
    }
    let (w, h) = image.dimensions();
    let (mut sum, mut count) = (0u64, 0u64);
    for j in 0..32u32.min(h) {
        let y = j * h / 32u32.min(h);
        for i in 0..32u32.min(w) {
            let x = i * w / 32u32.min(w);
            let p = image.get_pixel(x, y);
            if p[3] == 0 {
                continue;
            }
            let (lo, hi) = (p[0].min(p[1]).min(p[2]), p[0].max(p[1]).max(p[2]));
            sum += u64::from(hi - lo);
            count += 1;
        }
    }
    count > 0 && sum as f32 / count as f32 >= COLOUR_CHROMA
}

struct Candidate {
    path: PathBuf,
    class: String,
}

/// Imports every image under `root` (recursively). Classes are the first-level sub-folders;
/// files directly in `root` form one class named after the folder. `root` may also be an IDX
/// images file, or a folder of them (see [`super::idx`]).
pub fn import_folder(
    root: &Path,
    options: ImportOptions,
    progress: &(dyn Fn(ImportProgress) + Sync),
) -> Result<(Dataset, ImportReport), ImportError> {
    let started = Instant::now();
    if !root.exists() {
        return Err(ImportError::NotFound(root.to_path_buf()));
    }
    // MNIST-style IDX files: one file, or a folder holding them.
    if root.is_file() && super::idx::is_idx_images(root) {
        let dir = root.parent().unwrap_or(root);
        return super::idx::import_idx(dir, &[root.to_path_buf()], options);
    }
    let idx_files = super::idx::idx_files_in(root);
    if !idx_files.is_empty() {
        return super::idx::import_idx(root, &idx_files, options);
    }
    if !root.is_dir() {
        return Err(ImportError::NotAFolder(root.to_path_buf()));
    }
    let candidates = sorted_candidates(root)?;
    if candidates.is_empty() {
        return Err(ImportError::Empty(root.to_path_buf()));
    }
    let total = candidates.len();
    let done = AtomicUsize::new(0);
    let budget = MemoryBudget::new(DECODE_BUDGET);
    let decoded: Vec<Result<Decoded, SkipReason>> = candidates
        .par_iter()
        .map(|c| {
            let r = load_one(&c.path, options, &budget);
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_multiple_of(64) || n == total {
                progress(ImportProgress { done: n, total });
            }
            r
        })
        .collect();

    let mut report = ImportReport {
        root: root.to_path_buf(),
        files_seen: total,
        ..ImportReport::default()
    };
    let dataset = assemble(root, options, candidates, decoded, &mut report)?;
    report.imported = dataset.len();
    report.seconds = started.elapsed().as_secs_f64();
    Ok((dataset, report))
}

/// Keeps the first of each set of identical files, drops classes left empty, and lays the
/// images out as one dataset; every file not kept goes into `report.skipped`.
fn assemble(
    root: &Path,
    options: ImportOptions,
    candidates: Vec<Candidate>,
    decoded: Vec<Result<Decoded, SkipReason>>,
    report: &mut ImportReport,
) -> Result<Dataset, ImportError> {
    let mut class_names: Vec<String> = candidates.iter().map(|c| c.class.clone()).collect();
    class_names.sort();
    class_names.dedup();
    let mut seen: HashMap<[u8; 32], PathBuf> = HashMap::new();
    let mut dataset = Dataset {
        resolution: options.resolution,
        channels: options.channels,
        pixels: Vec::new(),
        labels: Vec::new(),
        class_names: Vec::new(),
        sources: Vec::new(),
        content_hashes: Vec::new(),
    };
    let mut used_labels = vec![0usize; class_names.len()];
    let mut kept: Vec<(usize, Vec<u8>, [u8; 32], PathBuf)> = Vec::new();
    let mut sides = Vec::new();
    for (candidate, result) in candidates.into_iter().zip(decoded) {
        match result {
            Ok((pixels, hash, traits)) => {
                if let Some(first) = seen.get(&hash) {
                    report.skipped.push(Skipped {
                        path: candidate.path,
                        reason: SkipReason::Duplicate { of: first.clone() },
                    });
                    continue;
                }
                seen.insert(hash, candidate.path.clone());
                report.colour_images += usize::from(traits.colour);
                sides.push(traits.short_side);
                let label = class_names.binary_search(&candidate.class).unwrap_or(0);
                used_labels[label] += 1;
                kept.push((label, pixels, hash, candidate.path));
            }
            Err(reason) => report.skipped.push(Skipped {
                path: candidate.path,
                reason,
            }),
        }
    }
    if kept.is_empty() {
        let first = report
            .skipped
            .first()
            .map(|s| format!("{}: {}", s.path.display(), s.reason))
            .unwrap_or_default();
        return Err(ImportError::NoUsableImage {
            path: root.to_path_buf(),
            skipped: report.skipped.len(),
            first,
        });
    }
    sides.sort_unstable();
    report.median_side = sides[sides.len() / 2];
    // Classes whose every file was skipped are dropped so labels stay dense.
    let remap = dense_labels(&used_labels);
    for (i, name) in class_names.iter().enumerate() {
        if used_labels[i] > 0 {
            dataset.class_names.push(name.clone());
            report.per_class.push((name.clone(), used_labels[i]));
        }
    }
    dataset
        .pixels
        .reserve(kept.len() * options.channels * options.resolution * options.resolution);
    for (label, pixels, hash, path) in kept {
        dataset.pixels.extend_from_slice(&pixels);
        dataset.labels.push(remap[label].unwrap_or(0));
        dataset.content_hashes.push(hash);
        dataset.sources.push(path);
    }
    Ok(dataset)
}

/// New label of each old one when the classes with no image are dropped (`None` for those),
/// keeping the order of the rest.
pub(super) fn dense_labels(counts: &[usize]) -> Vec<Option<u32>> {
    let mut next = 0u32;
    counts
        .iter()
        .map(|&n| {
            (n > 0).then(|| {
                next += 1;
                next - 1
            })
        })
        .collect()
}

fn scan(
    root: &Path,
    dir: &Path,
    root_class: &str,
    out: &mut Vec<Candidate>,
) -> Result<(), ImportError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ImportError::ReadDir {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        // `file_type` does not follow symlinks: a link loop cannot recurse forever.
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            scan(root, &path, root_class, out)?;
        } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
            let class = path
                .strip_prefix(root)
                .ok()
                .and_then(|rel| {
                    let mut parts = rel.components();
                    let first = parts.next()?;
                    parts
                        .next()
                        .map(|_| first.as_os_str().to_string_lossy().into_owned())
                })
                .unwrap_or_else(|| root_class.to_string());
            out.push(Candidate { path, class });
        }
    }
    Ok(())
}

/// Reads, hashes and decodes one file into `options`' size and channels, within `budget`.
fn load_one(
    path: &Path,
    options: ImportOptions,
    budget: &MemoryBudget,
) -> Result<Decoded, SkipReason> {
    let (_held, bytes) = read_within(path, budget)?;
    let hash: [u8; 32] = Sha256::digest(&bytes).into();
    let image = decode(&bytes, path)?;
    drop(bytes);
    let traits = FileTraits::of(&image);
    Ok((normalise(image, options), hash, traits))
}

/// Checks a file's size and its header's declared pixels, reserves its decode's memory, and
/// reads it. The reservation is held until the caller drops it.
fn read_within<'a>(
    path: &Path,
    budget: &'a MemoryBudget,
) -> Result<(super::budget::Reservation<'a>, Vec<u8>), SkipReason> {
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
fn flatten_alpha(image: DynamicImage) -> RgbImage {
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
                image::imageops::resize(&*square, r, r, FilterType::Lanczos3)
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
                (
                    image::imageops::resize(&rgb, sw, sh, FilterType::Lanczos3),
                    r,
                )
            } else {
                (rgb, side)
            };
            let (pw, ph) = photo.dimensions();
            let mut canvas = RgbImage::from_pixel(side, side, fill);
            image::imageops::overlay(
                &mut canvas,
                &photo,
                i64::from((side - pw) / 2),
                i64::from((side - ph) / 2),
            );
            drop(photo);
            if side == r {
                canvas
            } else {
                image::imageops::resize(&canvas, r, r, FilterType::Lanczos3)
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
