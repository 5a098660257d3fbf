//! The LeCam regulariser (Tseng et al. 2021, "Regularizing Generative Adversarial Networks
//! under Limited Data"). On a small folder D soon tells the few reals from every fake with
//! growing confidence, and its gradients stop teaching G. LeCam penalises real logits above the
//! moving average of the fake logits, and fake logits below that of the real ones, which bounds
//! how far an over-fitting D can push the two apart. It uses only D's outputs, so it needs no
//! double backward (burn has none).

use burn::tensor::Tensor;
use burn::tensor::activation::relu;

/// Decay of the two moving averages, as in the paper's code.
pub const ANCHOR_DECAY: f32 = 0.99;

/// The moving averages of D's mean logit on reals and on fakes, kept on the device so a step
/// needs no sync; read back only for checkpoints.
pub struct LecamAnchors {
    /// `[real, fake]`, or `None` before the first step (the first batch's means start them).
    anchors: Option<Tensor<1>>,
}

impl LecamAnchors {
    /// Anchors for a new run: the first batch's means start them.
    #[must_use]
    pub fn fresh() -> Self {
        Self { anchors: None }
    }

    /// Anchors resumed from a checkpoint's `[real, fake]` (`None`: saved before the first step).
    #[must_use]
    pub fn resumed(saved: Option<[f32; 2]>, device: &burn::tensor::Device) -> Self {
        Self {
            anchors: saved.map(|a| Tensor::<1>::from_floats(a, device)),
        }
    }

    /// The penalty for this batch's logits, `mean(relu(real − ā_fake)²) +
    /// mean(relu(ā_real − fake)²)`, measured against the anchors before this batch; then the
    /// anchors take in the batch's means.
    pub fn penalty(&mut self, real_logits: &Tensor<1>, fake_logits: &Tensor<1>) -> Tensor<1> {
        let means = Tensor::cat(
            vec![
                real_logits.clone().detach().mean(),
                fake_logits.clone().detach().mean(),
            ],
            0,
        );
        let anchors = self.anchors.take().unwrap_or_else(|| means.clone());
        let [n_real] = real_logits.dims();
        let [n_fake] = fake_logits.dims();
        let real_anchor = anchors.clone().narrow(0, 0, 1).expand([n_fake]);
        let fake_anchor = anchors.clone().narrow(0, 1, 1).expand([n_real]);
        let over = relu(real_logits.clone() - fake_anchor);
        let under = relu(real_anchor - fake_logits.clone());
        let penalty = (over.clone() * over).mean() + (under.clone() * under).mean();
        self.anchors =
            Some(anchors.mul_scalar(ANCHOR_DECAY) + means.mul_scalar(1.0 - ANCHOR_DECAY));
        penalty
    }

    /// `[real, fake]` for a checkpoint (one device read), or `None` before the first step.
    pub fn saved(&self) -> Result<Option<[f32; 2]>, String> {
        let Some(anchors) = &self.anchors else {
            return Ok(None);
        };
        let values = anchors
            .clone()
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| format!("reading LeCam anchors: {e:?}"))?;
        match values[..] {
            [real, fake] => Ok(Some([real, fake])),
            _ => Err(format!(
                "LeCam anchors: {} values, expected 2",
                values.len()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn logits(values: &[f32], device: &Device) -> Tensor<1> {
        Tensor::<1>::from_floats(values, device)
    }

    #[test]
    fn penalty_grows_as_d_pushes_reals_and_fakes_apart_and_anchors_follow_the_means() {
        let device = Device::flex();
        let mut anchors = LecamAnchors::resumed(Some([1.0, -1.0]), &device);
        // Reals are 2 above the fake anchor (−1), fakes 2 below the real anchor (+1): 4 + 4.
        let near = anchors
            .penalty(
                &logits(&[1.0, 1.0], &device),
                &logits(&[-1.0, -1.0], &device),
            )
            .into_scalar::<f32>();
        assert!((near - 8.0).abs() < 1e-5, "{near}");
        let saved = anchors.saved().expect("read").expect("anchors");
        assert!(
            (saved[0] - 1.0).abs() < 1e-6 && (saved[1] + 1.0).abs() < 1e-6,
            "{saved:?}"
        );

        let mut anchors = LecamAnchors::resumed(Some([1.0, -1.0]), &device);
        let far = anchors
            .penalty(
                &logits(&[5.0, 3.0], &device),
                &logits(&[-4.0, -6.0], &device),
            )
            .into_scalar::<f32>();
        // reals 6 and 4 above −1: (36 + 16)/2; fakes 5 and 7 below 1: (25 + 49)/2.
        assert!((far - 63.0).abs() < 1e-4, "{far}");
        let saved = anchors.saved().expect("read").expect("anchors");
        assert!((saved[0] - (0.99 + 0.04)).abs() < 1e-5, "{saved:?}");
        assert!((saved[1] - (-0.99 - 0.05)).abs() < 1e-5, "{saved:?}");

        // A D that cannot tell them apart pays nothing.
        let mut anchors = LecamAnchors::resumed(Some([0.0, 0.0]), &device);
        let none = anchors
            .penalty(
                &logits(&[-0.5, 0.0], &device),
                &logits(&[0.5, 0.0], &device),
            )
            .into_scalar::<f32>();
        assert!(none.abs() < 1e-7, "{none}");
    }

    #[test]
    fn fresh_anchors_start_from_the_first_batch() {
        let device = Device::flex();
        let mut anchors = LecamAnchors::fresh();
        assert_eq!(anchors.saved().expect("read"), None);
        anchors.penalty(
            &logits(&[2.0, 4.0], &device),
            &logits(&[-2.0, 0.0], &device),
        );
        let saved = anchors.saved().expect("read").expect("anchors");
        assert!(
            (saved[0] - 3.0).abs() < 1e-5 && (saved[1] + 1.0).abs() < 1e-5,
            "{saved:?}"
        );
    }
}
