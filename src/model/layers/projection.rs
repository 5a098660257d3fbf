//! The projection discriminator's class term (Miyato & Koyama 2018), shared by the families
//! whose D conditions on classes.

use burn::tensor::Tensor;

/// What the projection adds to D's answer.
pub struct Projection {
    /// `⟨embed(y), Σ features⟩` for the asked classes `y`, to add to the logits (`None` when
    /// no classes were given: D then judges "real" alone).
    pub term: Option<Tensor<1>>,
    /// The same inner product for every class, `[B, classes]`: D's own reading of which class
    /// an image shows (what the auxiliary class loss trains).
    pub scores: Tensor<2>,
}

/// Projects D's last feature map `[B, C, H, W]` (sum-pooled, as in the paper) on the class
/// embedding `[classes, C]`. `classes` is `[B, classes]`, one-hot or a mix.
#[must_use]
pub fn project(features: Tensor<4>, embed: Tensor<2>, classes: Option<Tensor<2>>) -> Projection {
    let [batch, c, h, w] = features.dims();
    // Sum pooling, as in the paper. A mean (1/49 of it) was tried on cdcgan-28 and gave weaker
    // class adherence at equal steps; the collapse to one image per class it was meant to cure
    // came from G ignoring z, which `train.mode_seeking` fixes.
    let pooled: Tensor<2> = features
        .reshape([batch, c, h * w])
        .sum_dim(2)
        .reshape([batch, c]);
    let scores = pooled.clone().matmul(embed.clone().transpose());
    let term = classes.map(|classes| (pooled * classes.matmul(embed)).sum_dim(1).reshape([batch]));
    Projection { term, scores }
}

/// D's logits with the projection term added (conditional D, `embed` set) and its class
/// scores; an unconditional D's logits pass through.
#[must_use]
pub fn project_logits(
    logit: Tensor<1>,
    features: Tensor<4>,
    embed: Option<Tensor<2>>,
    classes: Option<Tensor<2>>,
) -> (Tensor<1>, Option<Tensor<2>>) {
    match embed.map(|embed| project(features, embed, classes)) {
        Some(Projection {
            term: Some(term),
            scores,
        }) => (logit + term, Some(scores)),
        Some(Projection { term: None, scores }) => (logit, Some(scores)),
        None => (logit, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    #[test]
    fn the_term_is_the_score_of_the_asked_class() {
        let device = Device::flex();
        let features = Tensor::<4>::random([3, 5, 2, 2], Distribution::Default, &device);
        let embed = Tensor::<2>::random([4, 5], Distribution::Default, &device);
        let classes = Tensor::<2>::from_floats(
            [
                [1.0, 0.0, 0.0, 0.0],
                [0.0, 0.0, 1.0, 0.0],
                [0.0, 0.0, 0.0, 1.0],
            ],
            &device,
        );
        let p = project(features, embed, Some(classes));
        let term = p.term.unwrap().into_data().try_to_vec::<f32>().unwrap();
        let scores = p.scores.into_data().try_to_vec::<f32>().unwrap();
        for (row, class) in [(0, 0), (1, 2), (2, 3)] {
            assert!((term[row] - scores[row * 4 + class]).abs() < 1e-4);
        }
    }
}
