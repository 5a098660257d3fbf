//! The adversarial losses and the terms added to them.

use burn::tensor::activation::{log_softmax, relu, softplus};
use burn::tensor::{Device, Tensor, TensorData};

use super::consistency::consistency_penalty;
use super::lecam::LecamAnchors;
use crate::model::layers::pool_by;
use crate::preset::{LossKind, TrainPreset};
use crate::rng::{Rng, splitmix64};

/// D's loss on a batch's logits: the run's GAN loss, plus the LeCam penalty (given its
/// anchors) and the bCR penalty (given D's logits on the fully augmented copies) when on.
/// `hinge_margins` (real, fake; one per logit) replace the hinge's margins of 1.
pub fn discriminator_loss(
    t: &TrainPreset,
    real_logits: &Tensor<1>,
    fake_logits: &Tensor<1>,
    augmented_logits: Option<(Tensor<1>, Tensor<1>)>,
    lecam: Option<&mut LecamAnchors>,
    hinge_margins: Option<[Tensor<1>; 2]>,
) -> Tensor<1> {
    let loss = match (t.loss, hinge_margins) {
        (LossKind::NonSaturating, _) => {
            softplus(real_logits.clone().neg(), 1.0).mean()
                + softplus(fake_logits.clone(), 1.0).mean()
        }
        (LossKind::Hinge, None) => {
            relu(real_logits.clone().neg() + 1.0).mean() + relu(fake_logits.clone() + 1.0).mean()
        }
        (LossKind::Hinge, Some([real_margin, fake_margin])) => {
            relu(real_margin - real_logits.clone()).mean()
                + relu(fake_logits.clone() + fake_margin).mean()
        }
    };
    let loss = match lecam {
        Some(anchors) => {
            loss + anchors
                .penalty(real_logits, fake_logits)
                .mul_scalar(t.lecam)
        }
        None => loss,
    };
    match augmented_logits {
        Some((real_t, fake_t)) => {
            let gaps = consistency_penalty(real_logits.clone(), real_t)
                + consistency_penalty(fake_logits.clone(), fake_t);
            loss + gaps.mul_scalar(t.consistency)
        }
        None => loss,
    }
}

/// The hinge's margins on reals and fakes at step `step` for `n` logits each, drawn from
/// `(1 − jitter, 1]` (`None` when the margins are 1). A function of the seed and the step,
/// so a resumed run draws the same ones with nothing more in its checkpoint.
pub fn hinge_margins(
    t: &TrainPreset,
    step: u64,
    n: usize,
    device: &Device,
) -> Option<[Tensor<1>; 2]> {
    let jitter = t.hinge_margin_jitter;
    if jitter <= 0.0 || t.loss != LossKind::Hinge {
        return None;
    }
    let mut state = Rng::step_state(t.seed, "hinge-margins", step);
    let mut rng = Rng::new(splitmix64(&mut state));
    let mut draw = || {
        let m: Vec<f32> = (0..n)
            .map(|_| (1.0 - jitter * rng.next_f64()) as f32)
            .collect();
        Tensor::<1>::from_data(TensorData::new(m, [n]), device)
    };
    Some([draw(), draw()])
}

/// G's loss on D's logits for its fakes.
pub fn generator_loss(kind: LossKind, fake_logits: Tensor<1>) -> Tensor<1> {
    match kind {
        LossKind::NonSaturating => softplus(fake_logits.neg(), 1.0).mean(),
        LossKind::Hinge => fake_logits.neg().mean(),
    }
}

/// MSGAN's term: `1 / (mean|G(z₁) − G(z₂)| / mean|z₁ − z₂| + ε)` over the pairs (i, i + half).
/// Small when paired latents give clearly different images.
///
/// With `side` above 0 (and below the images' side) the images are first averaged down to
/// `side` px, so the gap counts differences of layout, shape and colour; per-pixel grain,
/// which G can add to any picture, averages out and earns nothing.
pub fn mode_seeking_loss(fake: Tensor<4>, z: Tensor<2>, half: usize, side: usize) -> Tensor<1> {
    let fake = averaged_to_side(fake, side);
    let image_gap = (fake.clone().narrow(0, 0, half) - fake.narrow(0, half, half))
        .abs()
        .mean();
    let latent_gap = (z.clone().narrow(0, 0, half) - z.narrow(0, half, half))
        .abs()
        .mean()
        .detach();
    (image_gap / latent_gap).add_scalar(1e-5).recip()
}

/// `images` averaged over square blocks down to `side` px a side; unchanged where `side` is 0,
/// not below their side or does not divide it (the preset's validation rules those out), and
/// for non-square images (no model draws them).
fn averaged_to_side(images: Tensor<4>, side: usize) -> Tensor<4> {
    let [_, _, h, w] = images.dims();
    if side == 0 || side >= h || h % side != 0 || w != h {
        return images;
    }
    pool_by(images, h / side)
}

/// Cross-entropy of class scores `[B, classes]` against one-hot (or mixed) targets.
pub fn class_cross_entropy(scores: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    (log_softmax(scores, 1) * targets).sum_dim(1).mean().neg()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(t: Tensor<1>) -> f32 {
        t.into_data().try_to_vec::<f32>().expect("f32 data")[0]
    }

    /// Two 8×8 pictures that differ only by a one-pixel checkerboard: far apart pixel by
    /// pixel, the same picture at 4 px.
    #[test]
    fn averaging_to_a_coarser_side_stops_paying_for_grain() {
        let device = Device::default();
        let mut values = vec![0.0f32; 2 * 8 * 8];
        for y in 0..8 {
            for x in 0..8 {
                values[64 + y * 8 + x] = if (x + y) % 2 == 0 { 0.5 } else { -0.5 };
            }
        }
        let fake = Tensor::<4>::from_data(TensorData::new(values, [2, 1, 8, 8]), &device);
        let z = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -1.0], [2, 1]), &device);
        let pixel = scalar(mode_seeking_loss(fake.clone(), z.clone(), 1, 0));
        let coarse = scalar(mode_seeking_loss(fake.clone(), z.clone(), 1, 4));
        // Gap 0.5 over a latent gap of 2: 1 / 0.25 pixel by pixel; nothing left at 4 px.
        assert!((pixel - 4.0).abs() < 1e-3, "{pixel}");
        assert!(coarse > 1e4, "{coarse}");
        // A side that is the picture's own, or 0, is the pixel-by-pixel term.
        let full_side = scalar(mode_seeking_loss(fake, z, 1, 8));
        assert!(
            (full_side - pixel).abs() < 1e-6,
            "{full_side} against {pixel}"
        );
    }

    #[test]
    fn averaging_keeps_differences_of_layout() {
        let device = Device::default();
        // Left half bright in one picture, right half in the other.
        let mut values = vec![-1.0f32; 2 * 4 * 4];
        for y in 0..4 {
            for x in 0..4 {
                let k = if x < 2 { 0 } else { 16 };
                values[k + y * 4 + x] = 1.0;
            }
        }
        let fake = Tensor::<4>::from_data(TensorData::new(values, [2, 1, 4, 4]), &device);
        let pooled = averaged_to_side(fake.clone(), 2)
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32 data");
        assert_eq!(pooled, vec![1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0]);
        let z = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -1.0], [2, 1]), &device);
        let coarse = scalar(mode_seeking_loss(fake.clone(), z.clone(), 1, 2));
        let pixel = scalar(mode_seeking_loss(fake, z, 1, 0));
        assert!((coarse - pixel).abs() < 1e-4, "{coarse} against {pixel}");
    }

    /// Margins of 1 are the plain hinge; lower margins stop charging D for logits past them.
    #[test]
    fn hinge_margins_move_where_the_hinge_bends() {
        let device = Device::default();
        let t = TrainPreset {
            loss: LossKind::Hinge,
            ..TrainPreset::default()
        };
        let logits =
            |v: [f32; 2]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [2]), &device);
        let (real, fake) = (logits([0.9, 2.0]), logits([-0.85, 0.5]));
        let plain = scalar(discriminator_loss(&t, &real, &fake, None, None, None));
        let ones = [logits([1.0, 1.0]), logits([1.0, 1.0])];
        let with_ones = scalar(discriminator_loss(&t, &real, &fake, None, None, Some(ones)));
        // Reals: (0.1 + 0) / 2; fakes: (0.15 + 1.5) / 2.
        assert!((plain - 0.875).abs() < 1e-6, "{plain}");
        assert!(
            (with_ones - plain).abs() < 1e-6,
            "{with_ones} against {plain}"
        );
        let lower = [logits([0.8, 0.8]), logits([0.8, 0.8])];
        let with_lower = scalar(discriminator_loss(
            &t,
            &real,
            &fake,
            None,
            None,
            Some(lower),
        ));
        // Reals: nothing past 0.8; fakes: (0 + 1.3) / 2.
        assert!((with_lower - 0.65).abs() < 1e-6, "{with_lower}");
    }
}
