//! The adversarial losses and the terms added to them.

use burn::tensor::Tensor;
use burn::tensor::activation::{log_softmax, relu, softplus};

use super::consistency::consistency_penalty;
use super::lecam::LecamAnchors;
use crate::preset::{LossKind, TrainPreset};

/// D's loss on a batch's logits: the run's GAN loss, plus the LeCam penalty (given its
/// anchors) and the bCR penalty (given D's logits on the fully augmented copies) when on.
pub fn discriminator_loss(
    t: &TrainPreset,
    real_logits: &Tensor<1>,
    fake_logits: &Tensor<1>,
    augmented_logits: Option<(Tensor<1>, Tensor<1>)>,
    lecam: Option<&mut LecamAnchors>,
) -> Tensor<1> {
    let loss = match t.loss {
        LossKind::NonSaturating => {
            softplus(real_logits.clone().neg(), 1.0).mean()
                + softplus(fake_logits.clone(), 1.0).mean()
        }
        LossKind::Hinge => {
            relu(real_logits.clone().neg() + 1.0).mean() + relu(fake_logits.clone() + 1.0).mean()
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

/// G's loss on D's logits for its fakes.
pub fn generator_loss(kind: LossKind, fake_logits: Tensor<1>) -> Tensor<1> {
    match kind {
        LossKind::NonSaturating => softplus(fake_logits.neg(), 1.0).mean(),
        LossKind::Hinge => fake_logits.neg().mean(),
    }
}

/// MSGAN's term: `1 / (mean|G(z₁) − G(z₂)| / mean|z₁ − z₂| + ε)` over the pairs (i, i + half).
/// Small when paired latents give clearly different images.
pub fn mode_seeking_loss(fake: Tensor<4>, z: Tensor<2>, half: usize) -> Tensor<1> {
    let image_gap = (fake.clone().narrow(0, 0, half) - fake.narrow(0, half, half))
        .abs()
        .mean();
    let latent_gap = (z.clone().narrow(0, 0, half) - z.narrow(0, half, half))
        .abs()
        .mean()
        .detach();
    (image_gap / latent_gap).add_scalar(1e-5).recip()
}

/// Cross-entropy of class scores `[B, classes]` against one-hot (or mixed) targets.
pub fn class_cross_entropy(scores: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    (log_softmax(scores, 1) * targets).sum_dim(1).mean().neg()
}
