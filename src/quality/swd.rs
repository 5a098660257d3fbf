//! Multi-scale sliced Wasserstein distance (Karras et al. 2018, "Progressive Growing of GANs",
//! appendix D): compares the distributions of local patches of two image sets at every level of
//! a Laplacian pyramid. Lower is better; real-vs-real of the same distribution is near zero.
//!
//! Runs on the CPU over `u8` images: it is an evaluation, not part of the training graph.

use rayon::prelude::*;

use crate::rng::Rng;

/// How the distance is estimated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SwdConfig {
    /// Side of the square patches (7 in the paper).
    pub patch: usize,
    /// Patches drawn per image and level (128 in the paper).
    pub patches_per_image: usize,
    /// Random projection directions per repeat.
    pub directions: usize,
    /// Independent sets of directions, averaged.
    pub repeats: usize,
    /// Coarsest pyramid level kept (its side in pixels).
    pub min_side: usize,
    pub seed: u64,
}

impl Default for SwdConfig {
    fn default() -> Self {
        Self {
            patch: 7,
            patches_per_image: 64,
            directions: 128,
            repeats: 4,
            min_side: 8,
            seed: 12345,
        }
    }
}

/// SWD at each pyramid level (finest first) and their mean; values ×10³ as the paper prints.
#[derive(Clone, Debug, PartialEq)]
pub struct SwdReport {
    /// (level side in pixels, distance × 10³).
    pub levels: Vec<(usize, f64)>,
    pub mean: f64,
}

/// One image as f32 planes (C, H, W) in [0, 1].
struct Planes {
    channels: usize,
    side: usize,
    data: Vec<f32>,
}

const KERNEL: [f32; 5] = [1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0];

fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let mut i = i;
    if i < 0 {
        i = -i;
    }
    if i >= n {
        i = 2 * n - 2 - i;
    }
    i.clamp(0, n - 1) as usize
}

/// Separable 5-tap Gaussian blur of one plane.
fn blur(plane: &[f32], side: usize) -> Vec<f32> {
    let mut tmp = vec![0.0; side * side];
    for y in 0..side {
        for x in 0..side {
            tmp[y * side + x] = (0..5)
                .map(|k| KERNEL[k] * plane[y * side + reflect(x as isize + k as isize - 2, side)])
                .sum();
        }
    }
    let mut out = vec![0.0; side * side];
    for y in 0..side {
        for x in 0..side {
            out[y * side + x] = (0..5)
                .map(|k| KERNEL[k] * tmp[reflect(y as isize + k as isize - 2, side) * side + x])
                .sum();
        }
    }
    out
}

fn downsample(p: &Planes) -> Planes {
    let half = p.side / 2;
    let plane = p.side * p.side;
    let mut data = Vec::with_capacity(p.channels * half * half);
    for c in 0..p.channels {
        let blurred = blur(&p.data[c * plane..(c + 1) * plane], p.side);
        for y in 0..half {
            for x in 0..half {
                data.push(blurred[2 * y * p.side + 2 * x]);
            }
        }
    }
    Planes {
        channels: p.channels,
        side: half,
        data,
    }
}

/// Doubles the side (zero insertion, then blur ×4), to `side`.
fn upsample(p: &Planes, side: usize) -> Planes {
    let small = p.side * p.side;
    let mut data = Vec::with_capacity(p.channels * side * side);
    for c in 0..p.channels {
        let mut up = vec![0.0; side * side];
        for y in 0..p.side.min(side.div_ceil(2)) {
            for x in 0..p.side.min(side.div_ceil(2)) {
                up[2 * y * side + 2 * x] = 4.0 * p.data[c * small + y * p.side + x];
            }
        }
        data.extend(blur(&up, side));
    }
    Planes {
        channels: p.channels,
        side,
        data,
    }
}

/// Laplacian pyramid, finest level first, down to `min_side`; the last level is the blurred,
/// downsampled image itself.
fn pyramid(image: Planes, min_side: usize) -> Vec<Planes> {
    let mut levels = Vec::new();
    let mut current = image;
    while current.side / 2 >= min_side {
        let down = downsample(&current);
        let up = upsample(&down, current.side);
        let detail: Vec<f32> = current
            .data
            .iter()
            .zip(&up.data)
            .map(|(a, b)| a - b)
            .collect();
        levels.push(Planes {
            channels: current.channels,
            side: current.side,
            data: detail,
        });
        current = down;
    }
    levels.push(current);
    levels
}

/// Random patch descriptors of every image at every level: `[level][descriptor]`.
fn descriptors(
    images: &[&[u8]],
    channels: usize,
    side: usize,
    cfg: &SwdConfig,
) -> Vec<(usize, Vec<Vec<f32>>)> {
    let mut rng = Rng::derived(cfg.seed, "swd-patches");
    let mut per_level: Vec<(usize, Vec<Vec<f32>>)> = Vec::new();
    for image in images {
        let planes = Planes {
            channels,
            side,
            data: image.iter().map(|&v| f32::from(v) / 255.0).collect(),
        };
        for (level, p) in pyramid(planes, cfg.min_side).into_iter().enumerate() {
            if per_level.len() <= level {
                per_level.push((p.side, Vec::new()));
            }
            let k = cfg.patch.min(p.side);
            let span = p.side - k + 1;
            for _ in 0..cfg.patches_per_image {
                let (y0, x0) = (rng.below(span), rng.below(span));
                let mut d = Vec::with_capacity(channels * k * k);
                for c in 0..channels {
                    for y in 0..k {
                        let row = c * p.side * p.side + (y0 + y) * p.side + x0;
                        d.extend_from_slice(&p.data[row..row + k]);
                    }
                }
                per_level[level].1.push(d);
            }
        }
    }
    per_level
}

/// Normalises each channel of a descriptor set to zero mean and unit variance (the paper's
/// per-set normalisation, so the distance compares shapes of distributions, not brightness).
fn normalise(set: &mut [Vec<f32>], channels: usize) {
    let Some(first) = set.first() else { return };
    let per = first.len() / channels;
    for c in 0..channels {
        let (mut sum, mut sq, mut n) = (0.0f64, 0.0f64, 0usize);
        for d in set.iter() {
            for &v in &d[c * per..(c + 1) * per] {
                sum += f64::from(v);
                sq += f64::from(v) * f64::from(v);
                n += 1;
            }
        }
        let mean = sum / n as f64;
        let std = ((sq / n as f64) - mean * mean).max(1e-12).sqrt();
        for d in set.iter_mut() {
            for v in &mut d[c * per..(c + 1) * per] {
                *v = ((f64::from(*v) - mean) / std) as f32;
            }
        }
    }
}

fn sliced_wasserstein(a: &[Vec<f32>], b: &[Vec<f32>], cfg: &SwdConfig, rng: &mut Rng) -> f64 {
    let dim = a[0].len();
    let n = a.len().min(b.len());
    let mut total = 0.0;
    for _ in 0..cfg.repeats {
        let dirs: Vec<Vec<f32>> = (0..cfg.directions)
            .map(|_| {
                let v: Vec<f32> = (0..dim).map(|_| rng.normal()).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                v.into_iter().map(|x| x / norm).collect()
            })
            .collect();
        let project = |set: &[Vec<f32>], dir: &[f32]| -> Vec<f32> {
            let mut p: Vec<f32> = set[..n]
                .iter()
                .map(|d| d.iter().zip(dir).map(|(x, w)| x * w).sum())
                .collect();
            p.sort_by(f32::total_cmp);
            p
        };
        total += dirs
            .par_iter()
            .map(|dir| {
                let (pa, pb) = (project(a, dir), project(b, dir));
                pa.iter()
                    .zip(&pb)
                    .map(|(x, y)| f64::from((x - y).abs()))
                    .sum::<f64>()
                    / n as f64
            })
            .sum::<f64>();
    }
    total / (cfg.repeats * cfg.directions) as f64
}

/// Multi-scale SWD between two sets of images of the same size and channels (C, H, W) `u8`.
/// The sets should be of similar size; the larger one is truncated per level.
#[must_use]
pub fn swd(a: &[&[u8]], b: &[&[u8]], channels: usize, side: usize, cfg: &SwdConfig) -> SwdReport {
    let mut da = descriptors(a, channels, side, cfg);
    let mut db = descriptors(b, channels, side, cfg);
    let mut rng = Rng::derived(cfg.seed, "swd-directions");
    let mut levels = Vec::new();
    for ((level_side, set_a), (_, set_b)) in da.iter_mut().zip(db.iter_mut()) {
        if set_a.is_empty() || set_b.is_empty() {
            continue;
        }
        normalise(set_a, channels);
        normalise(set_b, channels);
        levels.push((
            *level_side,
            1e3 * sliced_wasserstein(set_a, set_b, cfg, &mut rng),
        ));
    }
    let mean = levels.iter().map(|(_, v)| v).sum::<f64>() / levels.len().max(1) as f64;
    SwdReport { levels, mean }
}
