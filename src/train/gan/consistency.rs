//! Balanced consistency regularisation (bCR; Zhao et al. 2021, "Improved Consistency
//! Regularization for GANs"). D is asked to give an augmented image the same logit as the image
//! itself, for reals and for fakes alike, so it must judge what augmentation leaves unchanged
//! (the garment) rather than memorise the exact pixels of a few training photos. Unlike
//! DiffAugment, G never trains against augmented images. It uses only D's outputs, so it needs
//! no double backward.

use burn::tensor::Tensor;

/// `mean((clean − augmented)²)` for one batch of logits: the bCR penalty for reals or for fakes.
#[must_use]
pub fn consistency_penalty(clean_logits: Tensor<1>, augmented_logits: Tensor<1>) -> Tensor<1> {
    (clean_logits - augmented_logits).powi_scalar(2).mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn penalty_is_the_mean_squared_logit_gap() {
        let device = Device::flex();
        let clean = Tensor::<1>::from_floats([1.0, -2.0, 0.5], &device);
        let augmented = Tensor::<1>::from_floats([0.0, -2.0, 2.5], &device);
        let penalty = consistency_penalty(clean, augmented).into_scalar::<f32>();
        // (1² + 0² + 2²) / 3
        assert!((penalty - 5.0 / 3.0).abs() < 1e-6, "{penalty}");
    }

    #[test]
    fn identical_logits_cost_nothing() {
        let device = Device::flex();
        let logits = Tensor::<1>::from_floats([0.3, -1.7], &device);
        let penalty = consistency_penalty(logits.clone(), logits).into_scalar::<f32>();
        assert!(penalty.abs() < 1e-12, "{penalty}");
    }
}
