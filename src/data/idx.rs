//! The IDX format of MNIST and Fashion-MNIST (`*-images-idx3-ubyte[.gz]` with a matching
//! `*-labels-idx1-ubyte[.gz]`), so broad pretraining sets import without unpacking them into
//! 70,000 PNG files first.
//!
//! Layout: big-endian magic `0x0000_08_DD` (u8 data, DD dimensions), DD u32 sizes, then the
//! bytes. Images are 28×28 grey; they go through the same square/resize/channel path as photos.

use std::io::Read;
use std::path::{Path, PathBuf};

use image::{DynamicImage, GrayImage};
use sha2::{Digest, Sha256};

use super::Dataset;
use super::import::{ImportError, ImportOptions, ImportReport, normalise};

/// Fashion-MNIST's label names, in label order (from its README).
const FASHION_MNIST_CLASSES: [&str; 10] = [
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle-boot",
];

/// Largest payload a file may declare (the 60,000-image set is 47 MB unpacked).
const MAX_IDX_BYTES: u64 = 256 << 20;

/// Whether `path` names an IDX images file.
#[must_use]
pub fn is_idx_images(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains("-images-idx3-ubyte"))
}

/// The IDX image files directly inside `dir`, sorted (train before t10k is not implied).
#[must_use]
pub fn idx_files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && is_idx_images(p))
        .collect();
    files.sort();
    files
}

fn bad(path: &Path, what: impl Into<String>) -> ImportError {
    ImportError::Idx {
        path: path.to_path_buf(),
        message: what.into(),
    }
}

/// Reads a whole IDX file, unpacking `.gz`, with a size cap.
fn read_idx(path: &Path) -> Result<Vec<u8>, ImportError> {
    let file = std::fs::File::open(path).map_err(|e| bad(path, format!("cannot open: {e}")))?;
    let gz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    let mut reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)))
    } else {
        Box::new(std::io::BufReader::new(file))
    };
    let cannot = |e: std::io::Error| bad(path, format!("cannot read: {e}"));
    // The header says how big the payload is: check that before reading it, so a small
    // gzip that unpacks to gigabytes is refused without unpacking it.
    let mut bytes = vec![0u8; 4];
    reader.read_exact(&mut bytes).map_err(cannot)?;
    let dims = usize::from(bytes[3]);
    if dims == 0 || dims > 4 {
        // `parse` names what is wrong with such a header.
        return Ok(bytes);
    }
    let mut sizes = vec![0u8; 4 * dims];
    reader.read_exact(&mut sizes).map_err(cannot)?;
    bytes.extend_from_slice(&sizes);
    let payload = sizes
        .chunks(4)
        .map(|c| u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
        .try_fold(1u64, u64::checked_mul)
        .filter(|&n| n <= MAX_IDX_BYTES)
        .ok_or_else(|| {
            bad(
                path,
                format!(
                    "declares more than {} MiB of pixels; split it into smaller files",
                    MAX_IDX_BYTES >> 20
                ),
            )
        })?;
    let read = reader
        .take(payload)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if (read as u64) < payload {
        return Err(bad(
            path,
            format!("truncated: {read} of the {payload} bytes its header declares"),
        ));
    }
    Ok(bytes)
}

/// Parses the header; returns the sizes and the payload.
fn parse(path: &Path, bytes: &[u8], dims: u8) -> Result<(Vec<usize>, usize), ImportError> {
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 || bytes[3] != dims {
        return Err(bad(
            path,
            format!("not an IDX file of unsigned bytes with {dims} dimension(s)"),
        ));
    }
    let header = 4 + 4 * usize::from(dims);
    if bytes.len() < header {
        return Err(bad(path, "truncated header"));
    }
    let sizes: Vec<usize> = (0..usize::from(dims))
        .map(|i| {
            let at = 4 + 4 * i;
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
        })
        .collect();
    let expected = sizes.iter().try_fold(1usize, |a, &s| a.checked_mul(s));
    match expected {
        Some(n) if bytes.len() - header == n => Ok((sizes, header)),
        _ => Err(bad(
            path,
            format!(
                "holds {} data bytes; its header {sizes:?} says otherwise (truncated?)",
                bytes.len() - header
            ),
        )),
    }
}

/// The labels file that belongs to an images file (`…-images-idx3-ubyte…` → `…-labels-idx1-ubyte…`).
fn labels_path(images: &Path) -> PathBuf {
    let name = images
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .replace("-images-idx3-ubyte", "-labels-idx1-ubyte")
        })
        .unwrap_or_default();
    images.with_file_name(name)
}

/// Names for labels `0..n`: a `classes.txt` beside the files (one per line), Fashion-MNIST's
/// names when the path says so, else `class-N`.
fn class_names(dir: &Path, n: usize) -> Vec<String> {
    if let Ok(text) = std::fs::read_to_string(dir.join("classes.txt")) {
        let names: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        if names.len() >= n {
            return names;
        }
    }
    // Only the folder's own name counts ("/usr/share/datasets/fashion-mnist").
    let fashion = dir
        .file_name()
        .is_some_and(|n| n.to_string_lossy().to_lowercase().contains("fashion"));
    if fashion && n <= FASHION_MNIST_CLASSES.len() {
        return FASHION_MNIST_CLASSES
            .iter()
            .map(|s| (*s).to_string())
            .collect();
    }
    (0..n).map(|i| format!("class-{i}")).collect()
}

/// Imports IDX image files (with their labels) into one dataset, resized to `options`.
pub fn import_idx(
    root: &Path,
    files: &[PathBuf],
    options: ImportOptions,
) -> Result<(Dataset, ImportReport), ImportError> {
    let started = std::time::Instant::now();
    let mut images: Vec<(u32, Vec<u8>, [u8; 32], PathBuf)> = Vec::new();
    let mut max_label = 0u32;
    // IDX files are grey; all images in one file share a size.
    let mut side = 0u32;
    for file in files {
        let bytes = read_idx(file)?;
        let (sizes, at) = parse(file, &bytes, 3)?;
        let (count, h, w) = (sizes[0], sizes[1], sizes[2]);
        if h == 0 || w == 0 {
            return Err(bad(file, "images have no pixels"));
        }
        side = side.max(h.min(w) as u32);
        let labels_file = labels_path(file);
        let label_bytes = read_idx(&labels_file).map_err(|e| {
            bad(
                file,
                format!("needs its labels file {}: {e}", labels_file.display()),
            )
        })?;
        let (label_sizes, label_at) = parse(&labels_file, &label_bytes, 1)?;
        if label_sizes[0] != count {
            return Err(bad(
                &labels_file,
                format!("has {} labels for {count} images", label_sizes[0]),
            ));
        }
        for i in 0..count {
            let raw = &bytes[at + i * h * w..at + (i + 1) * h * w];
            let label = u32::from(label_bytes[label_at + i]);
            max_label = max_label.max(label);
            let hash: [u8; 32] = Sha256::digest(raw).into();
            let grey = GrayImage::from_raw(w as u32, h as u32, raw.to_vec())
                .ok_or_else(|| bad(file, "image size overflow"))?;
            let pixels = normalise(DynamicImage::ImageLuma8(grey), options);
            images.push((
                label,
                pixels,
                hash,
                PathBuf::from(format!("{}#{i}", file.display())),
            ));
        }
    }
    if images.is_empty() {
        return Err(ImportError::Empty(root.to_path_buf()));
    }
    let names = class_names(root, max_label as usize + 1);
    let mut report = ImportReport {
        root: root.to_path_buf(),
        files_seen: images.len(),
        ..ImportReport::default()
    };
    let mut counts = vec![0usize; max_label as usize + 1];
    let mut seen = std::collections::HashMap::new();
    let mut dataset = Dataset {
        resolution: options.resolution,
        channels: options.channels,
        pixels: Vec::with_capacity(images.len() * options.channels * options.resolution.pow(2)),
        labels: Vec::new(),
        class_names: Vec::new(),
        sources: Vec::new(),
        content_hashes: Vec::new(),
    };
    let mut kept = Vec::new();
    for (label, pixels, hash, source) in images {
        if let Some(first) = seen.get(&hash) {
            report.skipped.push(super::Skipped {
                path: source,
                reason: super::SkipReason::Duplicate {
                    of: PathBuf::clone(first),
                },
            });
            continue;
        }
        seen.insert(hash, source.clone());
        counts[label as usize] += 1;
        kept.push((label, pixels, hash, source));
    }
    // Dense labels over the classes present, named in label order.
    let remap = super::import::dense_labels(&counts);
    for (i, &n) in counts.iter().enumerate() {
        if n > 0 {
            dataset.class_names.push(names[i].clone());
            report.per_class.push((names[i].clone(), n));
        }
    }
    for (label, pixels, hash, source) in kept {
        dataset.pixels.extend_from_slice(&pixels);
        dataset.labels.push(remap[label as usize].unwrap_or(0));
        dataset.content_hashes.push(hash);
        dataset.sources.push(source);
    }
    report.imported = dataset.len();
    report.median_side = side;
    report.seconds = started.elapsed().as_secs_f64();
    Ok((dataset, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::SquareMode;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(data);
        out
    }

    /// A gzip of a few hundred bytes whose header declares 40 GB of pixels is refused from
    /// its header, without unpacking it.
    #[test]
    fn a_gzip_bomb_is_refused_from_its_header() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&idx(&[40_000, 1000, 1000], &[0; 4096]))
            .unwrap();
        let path = dir.path().join("x-images-idx3-ubyte.gz");
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let err = read_idx(&path).unwrap_err().to_string();
        assert!(err.contains("declares more than 256 MiB"), "{err}");
    }

    #[test]
    fn reads_images_and_labels_and_refuses_a_truncated_file() {
        let dir = tempfile::tempdir().unwrap();
        let pixels: Vec<u8> = (0..3 * 4 * 4).map(|i| (i * 5) as u8).collect();
        std::fs::write(
            dir.path().join("x-images-idx3-ubyte"),
            idx(&[3, 4, 4], &pixels),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("x-labels-idx1-ubyte"),
            idx(&[3], &[2, 0, 2]),
        )
        .unwrap();
        let options = ImportOptions {
            resolution: 4,
            channels: 1,
            square: SquareMode::Pad,
        };
        let files = idx_files_in(dir.path());
        assert_eq!(files.len(), 1);
        let (data, report) = import_idx(dir.path(), &files, options).unwrap();
        assert_eq!(data.len(), 3);
        assert_eq!(data.class_names, ["class-0", "class-2"]);
        assert_eq!(data.labels, [1, 0, 1]);
        assert_eq!(data.image(1), &pixels[16..32]);
        assert_eq!(
            report.per_class,
            [("class-0".into(), 1), ("class-2".into(), 2)]
        );

        std::fs::write(
            dir.path().join("x-images-idx3-ubyte"),
            idx(&[3, 4, 4], &pixels[..40]),
        )
        .unwrap();
        let err = import_idx(dir.path(), &files, options).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        std::fs::remove_file(dir.path().join("x-labels-idx1-ubyte")).unwrap();
        std::fs::write(
            dir.path().join("x-images-idx3-ubyte"),
            idx(&[3, 4, 4], &pixels),
        )
        .unwrap();
        let err = import_idx(dir.path(), &files, options).unwrap_err();
        assert!(err.to_string().contains("labels file"), "{err}");
    }
}
