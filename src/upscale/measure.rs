//! How close an enlargement comes to the photo it was shrunk from: PSNR and SSIM, the
//! learnt upscaler against Lanczos on the same held-out photos.

use std::path::{Path, PathBuf};
use std::time::Instant;

use image::imageops::FilterType;

use super::{LearntUpscaler, UpscaleError, enlarge_lanczos};
use crate::export::Picture;

/// PSNR (dB) over every channel of two same-size pictures, ignoring `shave` px at each edge
/// (where neither method has neighbours to work from, as super-resolution papers measure).
#[must_use]
pub fn psnr(a: &Picture, b: &Picture, shave: usize) -> f64 {
    let (mut sum, mut n) = (0f64, 0u64);
    for y in shave..a.height.saturating_sub(shave) {
        for x in shave..a.width.saturating_sub(shave) {
            for c in 0..a.channels {
                let i = (y * a.width + x) * a.channels + c;
                let d = f64::from(a.pixels[i]) - f64::from(b.pixels[i]);
                sum += d * d;
                n += 1;
            }
        }
    }
    let mse = sum / n.max(1) as f64;
    if mse == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

fn luma_plane(p: &Picture) -> Vec<f64> {
    (0..p.width * p.height)
        .map(|i| {
            let px = &p.pixels[i * p.channels..(i + 1) * p.channels];
            if p.channels == 1 {
                f64::from(px[0])
            } else {
                0.299 * f64::from(px[0]) + 0.587 * f64::from(px[1]) + 0.114 * f64::from(px[2])
            }
        })
        .collect()
}

/// Separable Gaussian blur (σ 1.5, 11 taps, as SSIM's reference code), edges clamped.
fn gaussian(plane: &[f64], w: usize, h: usize) -> Vec<f64> {
    let taps: Vec<f64> = (-5i32..=5)
        .map(|d| (-f64::from(d * d) / (2.0 * 1.5 * 1.5)).exp())
        .collect();
    let total: f64 = taps.iter().sum();
    let clamp = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
    let mut tmp = vec![0f64; w * h];
    for y in 0..h {
        for x in 0..w {
            tmp[y * w + x] = taps
                .iter()
                .enumerate()
                .map(|(k, t)| t * plane[y * w + clamp(x as isize + k as isize - 5, w)])
                .sum::<f64>()
                / total;
        }
    }
    let mut out = vec![0f64; w * h];
    for y in 0..h {
        for x in 0..w {
            out[y * w + x] = taps
                .iter()
                .enumerate()
                .map(|(k, t)| t * tmp[clamp(y as isize + k as isize - 5, h) * w + x])
                .sum::<f64>()
                / total;
        }
    }
    out
}

/// Mean SSIM (Wang et al. 2004) of the luma of two same-size pictures, ignoring `shave` px
/// at each edge.
#[must_use]
pub fn ssim_luma(a: &Picture, b: &Picture, shave: usize) -> f64 {
    let (w, h) = (a.width, a.height);
    let (x, y) = (luma_plane(a), luma_plane(b));
    let product = |p: &[f64], q: &[f64]| p.iter().zip(q).map(|(u, v)| u * v).collect::<Vec<_>>();
    let (mx, my) = (gaussian(&x, w, h), gaussian(&y, w, h));
    let (sxx, syy, sxy) = (
        gaussian(&product(&x, &x), w, h),
        gaussian(&product(&y, &y), w, h),
        gaussian(&product(&x, &y), w, h),
    );
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let (mut sum, mut n) = (0f64, 0u64);
    for yy in shave..h.saturating_sub(shave) {
        for xx in shave..w.saturating_sub(shave) {
            let i = yy * w + xx;
            let (ux, uy) = (mx[i], my[i]);
            let (vx, vy, cxy) = (sxx[i] - ux * ux, syy[i] - uy * uy, sxy[i] - ux * uy);
            sum += ((2.0 * ux * uy + c1) * (2.0 * cxy + c2))
                / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
            n += 1;
        }
    }
    sum / n.max(1) as f64
}

/// One method's figures over a set of photos.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FidelityFigures {
    pub psnr: f64,
    pub ssim: f64,
    /// Mean seconds to enlarge one photo.
    pub seconds: f64,
}

/// The learnt upscaler against Lanczos on the same photos.
#[derive(Clone, Debug, Default)]
pub struct Comparison {
    pub photos: usize,
    pub factor: usize,
    pub lanczos: FidelityFigures,
    pub learnt: FidelityFigures,
    /// Files that could not be read.
    pub skipped: Vec<(PathBuf, String)>,
}

/// A photo, and its `factor`× shrink enlarged back both ways.
struct EnlargedBack {
    truth: Picture,
    lanczos: Picture,
    learnt: Picture,
    lanczos_seconds: f64,
    learnt_seconds: f64,
}

/// Shrinks `photo` (cut to whole multiples of the factor, so the shrink is exact) with
/// Lanczos3, as the import shrinks, and enlarges it back with Lanczos and with `upscaler`.
/// `None` for a photo under 8 low-resolution pixels a side.
fn enlarge_back(
    photo: image::RgbImage,
    upscaler: &LearntUpscaler,
) -> Result<Option<EnlargedBack>, UpscaleError> {
    let factor = upscaler.factor() as u32;
    let (w, h) = (
        photo.width() / factor * factor,
        photo.height() / factor * factor,
    );
    if w < 8 * factor || h < 8 * factor {
        return Ok(None);
    }
    let photo = image::imageops::crop_imm(&photo, 0, 0, w, h).to_image();
    let small = image::imageops::resize(&photo, w / factor, h / factor, FilterType::Lanczos3);
    let truth = Picture::from_dynamic(&image::DynamicImage::ImageRgb8(photo));
    let small = Picture::from_dynamic(&image::DynamicImage::ImageRgb8(small));
    let started = Instant::now();
    let lanczos = enlarge_lanczos(&small, w as usize, h as usize);
    let lanczos_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let learnt = upscaler.enlarge(&small)?;
    Ok(Some(EnlargedBack {
        truth,
        lanczos,
        learnt,
        lanczos_seconds,
        learnt_seconds: started.elapsed().as_secs_f64(),
    }))
}

/// Rows of `crop` px squares from the middle of the first `count` photos: Lanczos, learnt,
/// the original, each shown at twice its size (nearest neighbour, so no filter of the sheet
/// blurs what is compared). What a designer would look at to judge the upscaler.
pub fn side_by_side(
    folder: &Path,
    upscaler: &LearntUpscaler,
    count: usize,
    crop: usize,
    max_side: u32,
) -> Result<Picture, UpscaleError> {
    let files = crate::data::image_files(folder).map_err(|e| UpscaleError::NoPhotos {
        folder: folder.display().to_string(),
        why: e.to_string(),
    })?;
    let mut cells = Vec::new();
    for path in files {
        if cells.len() >= 3 * count {
            break;
        }
        let Ok(photo) = crate::data::read_photo(&path, max_side) else {
            continue;
        };
        let Some(back) = enlarge_back(photo, upscaler)? else {
            continue;
        };
        if back.truth.width < crop || back.truth.height < crop {
            continue;
        }
        let (x0, y0) = (
            (back.truth.width - crop) / 2,
            (back.truth.height - crop) / 2,
        );
        for picture in [&back.lanczos, &back.learnt, &back.truth] {
            let zoomed = cut(picture, x0, y0, crop).to_dynamic().resize_exact(
                2 * crop as u32,
                2 * crop as u32,
                FilterType::Nearest,
            );
            cells.push(Picture::from_dynamic(&zoomed));
        }
    }
    Ok(crate::export::grid(&cells, 3))
}

/// A `side` square of `picture` from (`x0`, `y0`).
fn cut(picture: &Picture, x0: usize, y0: usize, side: usize) -> Picture {
    let c = picture.channels;
    let mut pixels = Vec::with_capacity(side * side * c);
    for y in y0..y0 + side {
        let row = (y * picture.width + x0) * c;
        pixels.extend_from_slice(&picture.pixels[row..row + side * c]);
    }
    Picture {
        width: side,
        height: side,
        channels: c,
        pixels,
    }
}

/// Shrinks each photo `factor`× (Lanczos3, as the import shrinks), enlarges it back with
/// Lanczos and with `upscaler` (one pass, which must enlarge by `factor`), and compares both
/// with the photo. At most `limit` photos, in file order.
pub fn compare_on_photos(
    folder: &Path,
    upscaler: &LearntUpscaler,
    limit: usize,
    max_side: u32,
) -> Result<Comparison, UpscaleError> {
    let factor = upscaler.factor();
    let files = crate::data::image_files(folder).map_err(|e| UpscaleError::NoPhotos {
        folder: folder.display().to_string(),
        why: e.to_string(),
    })?;
    let mut cmp = Comparison {
        factor,
        ..Comparison::default()
    };
    let (mut lanczos, mut learnt) = (FidelityFigures::default(), FidelityFigures::default());
    for path in files {
        if cmp.photos >= limit {
            break;
        }
        let photo = match crate::data::read_photo(&path, max_side) {
            Ok(p) => p,
            Err(e) => {
                cmp.skipped.push((path, e.to_string()));
                continue;
            }
        };
        let Some(back) = enlarge_back(photo, upscaler)? else {
            continue;
        };
        lanczos.seconds += back.lanczos_seconds;
        learnt.seconds += back.learnt_seconds;
        let (truth, smooth, sharp) = (&back.truth, &back.lanczos, &back.learnt);
        for (figures, made) in [(&mut lanczos, &smooth), (&mut learnt, &sharp)] {
            figures.psnr += psnr(made, truth, factor);
            figures.ssim += ssim_luma(made, truth, factor);
        }
        cmp.photos += 1;
    }
    let n = cmp.photos.max(1) as f64;
    for (into, sums) in [(&mut cmp.lanczos, lanczos), (&mut cmp.learnt, learnt)] {
        *into = FidelityFigures {
            psnr: sums.psnr / n,
            ssim: sums.ssim / n,
            seconds: sums.seconds / n,
        };
    }
    Ok(cmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(pixels: Vec<u8>, side: usize) -> Picture {
        Picture {
            width: side,
            height: side,
            channels: 1,
            pixels,
        }
    }

    #[test]
    fn identical_pictures_are_perfect_and_noise_scores_lower() {
        let a = picture((0..256).map(|v| v as u8).collect(), 16);
        let noisy = picture(
            a.pixels
                .iter()
                .enumerate()
                .map(|(i, v)| v.saturating_add((i % 7) as u8 * 4))
                .collect(),
            16,
        );
        assert!(psnr(&a, &a, 0).is_infinite());
        assert!((ssim_luma(&a, &a, 0) - 1.0).abs() < 1e-9);
        let p = psnr(&a, &noisy, 0);
        assert!(p > 20.0 && p < 40.0, "{p}");
        assert!(ssim_luma(&a, &noisy, 0) < 0.99);
    }
}
