//! Training pairs for the upscaler: crops of a designer's photos at their own resolution, and
//! the same crops made `factor` times smaller with the import's filter (Lanczos3), so the
//! network learns to undo exactly the shrink that made its GAN's training images.

use std::fmt::Write as _;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{ImageFormat, RgbImage};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::UpscaleError;
use crate::rng::Rng;

/// At most this many photos are read (a seeded random choice among more).
pub const MAX_POOL_PHOTOS: usize = 4_000;
/// Memory the pool may hold (photos are kept QOI-encoded: lossless and fast to decode).
const POOL_BYTES: usize = 256 << 20;
/// A crop whose luma varies less than this (standard deviation, 0–255) is plain background:
/// another is drawn, up to [`CROP_TRIES`] times.
const FLAT_CROP_STD: f32 = 6.0;
const CROP_TRIES: usize = 8;

/// The photos an upscaler learns from, held encoded in memory.
pub struct PhotoPool {
    photos: Vec<Vec<u8>>,
    fingerprint: String,
}

/// What building a pool did with the files it was given.
#[derive(Clone, Debug, Default)]
pub struct PoolReport {
    pub used: usize,
    /// Files that could not be read, with why.
    pub skipped: Vec<(PathBuf, String)>,
    /// Photos smaller than one training crop.
    pub too_small: usize,
    /// Files not read: beyond [`MAX_POOL_PHOTOS`] or the pool's memory.
    pub left_out: usize,
}

/// A batch of pairs, channel-major `[batch, channels, side, side]` in `[0, 1]`.
pub struct PairBatch {
    pub low: Vec<f32>,
    pub high: Vec<f32>,
    pub batch: usize,
    pub channels: usize,
    /// Side of a low-resolution crop.
    pub patch: usize,
    pub factor: usize,
}

impl PhotoPool {
    /// Reads `files` (a seeded random choice of at most [`MAX_POOL_PHOTOS`]), each shrunk to
    /// `max_side`; keeps those with both sides at least `min_side`.
    pub fn from_files(
        files: &[PathBuf],
        min_side: u32,
        max_side: u32,
        seed: u64,
    ) -> Result<(Self, PoolReport), UpscaleError> {
        let mut chosen: Vec<&PathBuf> = files.iter().collect();
        let mut report = PoolReport::default();
        if chosen.len() > MAX_POOL_PHOTOS {
            Rng::derived(seed, "upscaler-photos").shuffle(&mut chosen);
            report.left_out = chosen.len() - MAX_POOL_PHOTOS;
            chosen.truncate(MAX_POOL_PHOTOS);
            chosen.sort();
        }
        let read: Vec<Result<Option<Vec<u8>>, String>> = chosen
            .par_iter()
            .map(|path| {
                let photo = crate::data::read_photo(path, max_side).map_err(|e| e.to_string())?;
                if photo.width() < min_side || photo.height() < min_side {
                    return Ok(None);
                }
                let mut out = Cursor::new(Vec::new());
                photo
                    .write_to(&mut out, ImageFormat::Qoi)
                    .map_err(|e| e.to_string())?;
                Ok(Some(out.into_inner()))
            })
            .collect();
        let mut photos = Vec::new();
        let mut held = 0usize;
        let mut hash = Sha256::new();
        for (path, result) in chosen.into_iter().zip(read) {
            match result {
                Ok(Some(bytes)) if held + bytes.len() <= POOL_BYTES => {
                    held += bytes.len();
                    hash.update(&bytes);
                    photos.push(bytes);
                }
                Ok(Some(_)) => report.left_out += 1,
                Ok(None) => report.too_small += 1,
                Err(why) => report.skipped.push((path.clone(), why)),
            }
        }
        report.used = photos.len();
        let folder = files
            .first()
            .and_then(|p| p.parent())
            .map_or_else(String::new, |p| p.display().to_string());
        if photos.is_empty() {
            let mut why = format!(
                "{} photos are smaller than one {min_side} px training crop",
                report.too_small
            );
            if let Some((path, reason)) = report.skipped.first() {
                let _ = write!(
                    why,
                    ", {} files unreadable (first: {}: {reason})",
                    report.skipped.len(),
                    path.display()
                );
            }
            return Err(UpscaleError::NoPhotos { folder, why });
        }
        let fingerprint = crate::checkpoint::hex(&hash.finalize())[..16].to_string();
        Ok((
            Self {
                photos,
                fingerprint,
            },
            report,
        ))
    }

    /// Every image file under `folder` (see [`crate::data::image_files`]).
    pub fn from_folder(
        folder: &Path,
        min_side: u32,
        max_side: u32,
        seed: u64,
    ) -> Result<(Self, PoolReport), UpscaleError> {
        let files = crate::data::image_files(folder).map_err(|e| UpscaleError::NoPhotos {
            folder: folder.display().to_string(),
            why: e.to_string(),
        })?;
        Self::from_files(&files, min_side, max_side, seed)
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.photos.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.photos.is_empty()
    }

    /// Identifies the pooled photos: resuming on other photos is refused.
    #[must_use]
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    fn photo(&self, index: usize) -> Option<RgbImage> {
        image::load_from_memory_with_format(&self.photos[index], ImageFormat::Qoi)
            .ok()
            .map(image::DynamicImage::into_rgb8)
    }

    /// `batch` random pairs: a crop of `patch · factor` px (flipped half the time), and the
    /// same crop shrunk to `patch` px. Draws only from `rng`, so a resumed run draws the same.
    pub fn draw(
        &self,
        rng: &mut Rng,
        batch: usize,
        patch: usize,
        factor: usize,
        channels: usize,
    ) -> PairBatch {
        let high_side = patch * factor;
        let mut low = Vec::with_capacity(batch * channels * patch * patch);
        let mut high = Vec::with_capacity(batch * channels * high_side * high_side);
        for _ in 0..batch {
            let index = rng.below(self.photos.len());
            let crop = self.photo(index).map_or_else(
                || RgbImage::new(high_side as u32, high_side as u32),
                |photo| textured_crop(&photo, high_side as u32, rng),
            );
            let crop = if rng.below(2) == 1 {
                image::imageops::flip_horizontal(&crop)
            } else {
                crop
            };
            let small = crate::data::resize_lanczos3(&crop, patch as u32, patch as u32);
            push_planes(&small, channels, &mut low);
            push_planes(&crop, channels, &mut high);
        }
        PairBatch {
            low,
            high,
            batch,
            channels,
            patch,
            factor,
        }
    }
}

/// A random `side` crop, preferring one that is not plain background.
fn textured_crop(photo: &RgbImage, side: u32, rng: &mut Rng) -> RgbImage {
    let (w, h) = photo.dimensions();
    let mut crop = RgbImage::new(side, side);
    for _ in 0..CROP_TRIES {
        let x = rng.below((w - side + 1) as usize) as u32;
        let y = rng.below((h - side + 1) as usize) as u32;
        crop = image::imageops::crop_imm(photo, x, y, side, side).to_image();
        if luma_std(&crop) >= FLAT_CROP_STD {
            break;
        }
    }
    crop
}

fn luma(p: image::Rgb<u8>) -> f32 {
    0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
}

fn luma_std(image: &RgbImage) -> f32 {
    let n = (image.width() * image.height()).max(1) as f32;
    let mean = image.pixels().map(|p| luma(*p)).sum::<f32>() / n;
    (image
        .pixels()
        .map(|p| (luma(*p) - mean).powi(2))
        .sum::<f32>()
        / n)
        .sqrt()
}

/// Appends `image` as channel-major planes in `[0, 1]` (grey: its luma).
fn push_planes(image: &RgbImage, channels: usize, out: &mut Vec<f32>) {
    if channels == 1 {
        out.extend(image.pixels().map(|p| luma(*p) / 255.0));
        return;
    }
    for c in 0..3 {
        out.extend(image.pixels().map(|p| f32::from(p[c]) / 255.0));
    }
}
