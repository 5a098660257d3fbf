//! Import a folder of product photos: scan, decode, normalise, de-duplicate, report.
//!
//! Every file is either imported or listed in the report with the reason it was skipped;
//! nothing a file contains can panic the importer or exhaust memory (decoder limits).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use image::DynamicImage;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::Dataset;
use super::budget::MemoryBudget;
pub use super::decode::MAX_PIXELS;
pub(crate) use super::decode::normalise;
use super::decode::{DECODE_BUDGET, MAX_FILE_BYTES, decode, read_within};
use crate::preset::SquareMode;

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
    #[error("the import of {0} was cancelled")]
    Cancelled(PathBuf),
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
pub(super) fn sorted_candidates(root: &Path) -> Result<Vec<Candidate>, ImportError> {
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

pub(super) struct Candidate {
    pub(super) path: PathBuf,
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
    import_folder_until(root, options, progress, &AtomicBool::new(false))
}

/// [`import_folder`], which stops soon after `cancel` is set (files not yet decoded are not
/// read) and then answers [`ImportError::Cancelled`].
pub fn import_folder_until(
    root: &Path,
    options: ImportOptions,
    progress: &(dyn Fn(ImportProgress) + Sync),
    cancel: &AtomicBool,
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
            if cancel.load(Ordering::Relaxed) {
                return Err(SkipReason::Unreadable("cancelled".into()));
            }
            let r = load_one(&c.path, options, &budget);
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_multiple_of(64) || n == total {
                progress(ImportProgress { done: n, total });
            }
            r
        })
        .collect();
    if cancel.load(Ordering::Relaxed) {
        return Err(ImportError::Cancelled(root.to_path_buf()));
    }

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
