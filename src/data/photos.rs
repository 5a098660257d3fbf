//! Photos at their own resolution, for what learns from detail finer than a model's side
//! (the upscaler): listed like an import, read within the same memory limits.

use std::path::{Path, PathBuf};

use image::RgbImage;

use super::budget::MemoryBudget;
use super::decode::{DECODE_BUDGET, decode, flatten_alpha, read_within};
use super::import::{ImportError, SkipReason, sorted_candidates};

/// Every image file under `root`, sorted (the files an import of `root` would read).
pub fn image_files(root: &Path) -> Result<Vec<PathBuf>, ImportError> {
    if !root.exists() {
        return Err(ImportError::NotFound(root.to_path_buf()));
    }
    if !root.is_dir() {
        return Err(ImportError::NotAFolder(root.to_path_buf()));
    }
    let files: Vec<PathBuf> = sorted_candidates(root)?
        .into_iter()
        .map(|c| c.path)
        .collect();
    if files.is_empty() {
        return Err(ImportError::Empty(root.to_path_buf()));
    }
    Ok(files)
}

/// One photo as RGB (alpha composited onto white), shrunk so its longer side is at most
/// `max_side` (Lanczos3, as the import shrinks). Refused like an import refuses it.
pub fn read_photo(path: &Path, max_side: u32) -> Result<RgbImage, SkipReason> {
    static BUDGET: std::sync::OnceLock<MemoryBudget> = std::sync::OnceLock::new();
    let budget = BUDGET.get_or_init(|| MemoryBudget::new(DECODE_BUDGET));
    let (_held, bytes) = read_within(path, budget)?;
    let rgb = flatten_alpha(decode(&bytes, path)?);
    let (w, h) = rgb.dimensions();
    let long = w.max(h);
    if long <= max_side.max(1) {
        return Ok(rgb);
    }
    let scale = f64::from(max_side) / f64::from(long);
    let (sw, sh) = (
        ((f64::from(w) * scale).round() as u32).max(1),
        ((f64::from(h) * scale).round() as u32).max(1),
    );
    Ok(super::lanczos::resize_lanczos3(&rgb, sw, sh))
}
