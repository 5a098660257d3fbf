//! Differentiable augmentation of everything the discriminator sees (Zhao et al. 2020,
//! "DiffAugment"), with an adaptive strength (Karras et al. 2020, StyleGAN2-ADA).
//!
//! Real and generated images get the same kinds of random translation, cutout and colour
//! change, built from differentiable tensor ops so G still gets gradients through them. The
//! random choices are drawn on the CPU from the run's own RNG (exact resume) and uploaded as
//! small index/mask tensors. Each augmentation is applied to a sample with probability `p`;
//! in adaptive mode `p` follows the over-fitting signal `r_t = E[sign(D(real))]`.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::preset::AugmentOp;
use crate::rng::Rng;

/// How ADA steers `p`: towards `r_t == target`, able to move `p` by 1 over this many images.
pub const ADA_SPEED_IMAGES: f64 = 100_000.0;

/// Next augmentation probability after a window with over-fitting signal `r_t`.
#[must_use]
pub fn ada_adjust(p: f64, r_t: f64, target: f64, window_images: u64) -> f64 {
    let step = window_images as f64 / ADA_SPEED_IMAGES;
    (p + (r_t - target).signum() * step).clamp(0.0, 1.0)
}

/// Augments a batch `[B, C, H, W]` with probability `p` per sample and augmentation, in
/// DiffAugment's order (colour, translation, cutout), using only the `ops` asked for.
pub fn augment(
    images: Tensor<4>,
    p: f64,
    ops: &[AugmentOp],
    rng: &mut Rng,
    device: &Device,
) -> Tensor<4> {
    if p <= 0.0 {
        return images;
    }
    let mut images = images;
    if ops.contains(&AugmentOp::Colour) {
        images = colour(images, p, rng, device);
    }
    if ops.contains(&AugmentOp::Translation) {
        images = translate(images, p, rng, device);
    }
    if ops.contains(&AugmentOp::Cutout) {
        images = cutout(images, p, rng, device);
    }
    images
}

/// Brightness (±0.5), contrast (×0.5…1.5) and, for colour images, saturation (×0…2).
fn colour(x: Tensor<4>, p: f64, rng: &mut Rng, device: &Device) -> Tensor<4> {
    let [b, c, ..] = x.dims();
    let mut draw = |lo: f64, hi: f64, identity: f64| -> Tensor<4> {
        let v: Vec<f32> = (0..b)
            .map(|_| {
                let apply = rng.next_f64() < p;
                let r = lo + (hi - lo) * rng.next_f64();
                (if apply { r } else { identity }) as f32
            })
            .collect();
        Tensor::from_data(TensorData::new(v, [b, 1, 1, 1]), device)
    };
    // Images are in [-1, 1]: a brightness shift of ±0.5 in [0, 1] units is ±1 here.
    let brightness = draw(-1.0, 1.0, 0.0);
    let contrast = draw(0.5, 1.5, 1.0);
    let saturation = draw(0.0, 2.0, 1.0);
    let x = x + brightness;
    let mean = x.clone().mean_dim(1).mean_dim(2).mean_dim(3);
    let x = (x - mean.clone()) * contrast + mean;
    if c == 3 {
        let grey = x.clone().mean_dim(1);
        (x - grey.clone()) * saturation + grey
    } else {
        x
    }
}

/// Shifts each sample by up to 1/8 of its side in x and y, filling with the background (-1).
fn translate(x: Tensor<4>, p: f64, rng: &mut Rng, device: &Device) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let pad = (h / 8).max(1);
    let (hp, wp) = (h + 2 * pad, w + 2 * pad);
    // Pad with -1 (black in [-1, 1]) by shifting into a -1 canvas: x+1 padded with zeros, -1.
    let padded = (x + 1.0).pad((pad, pad, pad, pad), 0.0) - 1.0;
    // One row per plane: backends gather and scatter rows of a matrix much faster than
    // along the last axis of a 3-D tensor (flex computes every index of that by division).
    let flat: Tensor<2> = padded.reshape([b * c, hp * wp]);
    let mut idx = Vec::with_capacity(b * c * h * w);
    for _ in 0..b {
        let apply = rng.next_f64() < p;
        let span = 2 * pad + 1;
        let (dy, dx) = if apply {
            (rng.below(span), rng.below(span))
        } else {
            (pad, pad)
        };
        let plane: Vec<i64> = (0..h)
            .flat_map(|y| (0..w).map(move |xx| ((y + dy) * wp + xx + dx) as i64))
            .collect();
        for _ in 0..c {
            idx.extend_from_slice(&plane);
        }
    }
    let idx = Tensor::<2, Int>::from_data(TensorData::new(idx, [b * c, h * w]), device);
    flat.gather(1, idx).reshape([b, c, h, w])
}

/// Blanks a random square of half the side in each sample (to the background, -1).
fn cutout(x: Tensor<4>, p: f64, rng: &mut Rng, device: &Device) -> Tensor<4> {
    let [b, _, h, w] = x.dims();
    let (ch, cw) = (h / 2, w / 2);
    let mut keep = vec![1.0f32; b * h * w];
    for s in 0..b {
        if rng.next_f64() >= p {
            continue;
        }
        let (cy, cx) = (rng.below(h), rng.below(w));
        for y in cy.saturating_sub(ch / 2)..(cy + ch.div_ceil(2)).min(h) {
            for xx in cx.saturating_sub(cw / 2)..(cx + cw.div_ceil(2)).min(w) {
                keep[s * h * w + y * w + xx] = 0.0;
            }
        }
    }
    let keep = Tensor::<4>::from_data(TensorData::new(keep, [b, 1, h, w]), device);
    // keep·(x+1) − 1: blanked pixels become -1.
    (x + 1.0) * keep - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [AugmentOp; 3] = [AugmentOp::Translation, AugmentOp::Cutout, AugmentOp::Colour];

    #[test]
    fn p_zero_is_identity_and_p_one_changes_images_within_range() {
        let device = Device::flex();
        let mut rng = Rng::new(1);
        let v: Vec<f32> = (0..2 * 3 * 16 * 16)
            .map(|i| ((i % 17) as f32 / 8.0) - 1.0)
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(v.clone(), [2, 3, 16, 16]), &device);
        let same = augment(x.clone(), 0.0, &ALL, &mut rng, &device)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(same, v);
        let out = augment(x, 1.0, &ALL, &mut rng, &device);
        assert_eq!(out.dims(), [2, 3, 16, 16]);
        let out = out.into_data().try_to_vec::<f32>().unwrap();
        assert_ne!(out, v);
        assert!(out.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn translation_without_shift_is_identity() {
        let device = Device::flex();
        let v: Vec<f32> = (0..16 * 16).map(|i| (i as f32 / 128.0) - 1.0).collect();
        let x = Tensor::<4>::from_data(TensorData::new(v.clone(), [1, 1, 16, 16]), &device);
        let mut rng = Rng::new(1);
        let out = translate(x, 0.0, &mut rng, &device)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for (a, b) in out.iter().zip(&v) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn ada_moves_p_towards_the_target() {
        assert!(ada_adjust(0.2, 0.9, 0.6, 1000) > 0.2);
        assert!(ada_adjust(0.2, 0.1, 0.6, 1000) < 0.2);
        assert!(ada_adjust(0.0, 0.0, 0.6, 1000).abs() < f64::EPSILON);
    }
}
