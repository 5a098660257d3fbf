//! Honest quality figures computed on held-out images: multi-scale sliced Wasserstein distance
//! (SWD) between generated and real patches, a memorisation check (distance from each shot
//! to its nearest training image), and, in a network's features, the Fréchet distance,
//! precision and recall, density and coverage; and the evaluation of a generator with them.
//!
//! The figures themselves (`swd`, `frechet`, `nearest`, `fidelity`) are pure CPU code over
//! `u8` images. The judges whose features they use (`classifier`, `feature_distance`, the
//! class judge in `class_fidelity`) are small networks trained on a device, and `evaluate`
//! renders shots through a [`crate::sample::Sampler`]. Knows nothing of training runs or
//! the GUI.

mod class_fidelity;
mod classifier;
mod evaluate;
mod feature_distance;
mod fidelity;
mod frechet;
mod likelihood;
mod nearest;
mod swd;

pub use class_fidelity::{ClassJudge, ClassScore};
pub use evaluate::{
    EvalCache, EvalPlan, FeatureReference, MAX_SHOTS as MAX_EVAL_IMAGES, evaluate, held_out,
    plan_evaluation, score_evaluation,
};
pub use feature_distance::{
    FEATURE_CHANNELS, FEATURE_RESOLUTION, FeatureJudge, SHIPPED_NAME as SHIPPED_FEATURE_JUDGE,
};

pub use fidelity::{DENSITY_K, DensityCoverage, NEIGHBOURHOOD_K, PrecisionRecall};
pub use frechet::{FeatureStats, frechet_distance};
pub use likelihood::{independent_pixel_bits, model_bits};
pub use nearest::{
    DataCopying, Memorisation, PixelIndex, SPREAD_ITEMS, feature_spread, held_out_distances,
    near_copy_threshold, nearest_feature_distances, nearest_neighbours, pixel_spread,
    threshold_from_held_out,
};
pub use swd::{SwdConfig, SwdReport, swd};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::sample::SampleError;

/// Why an evaluation, or training one of its judges, failed.
#[derive(Debug, Error)]
pub enum EvalError {
    #[error(transparent)]
    Sample(#[from] SampleError),
    #[error("cannot load {what}: {message}")]
    Record { what: &'static str, message: String },
    #[error("{0}")]
    Incompatible(String),
    #[error("the set holds {0} images; more are needed")]
    TooFewImages(usize),
    #[error("the device failed: {0}")]
    Device(String),
    #[error("stopped before it finished")]
    Stopped,
}

/// Quality of a generator at one point of training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QualityRecord {
    pub step: u64,
    /// Mean multi-scale SWD ×10³ between shots and held-out real images (lower is better).
    pub swd: f64,
    /// SWD per pyramid level: (side in px, value ×10³), finest first.
    pub swd_levels: Vec<(usize, f64)>,
    /// Fraction of shots that are near-copies of a training image.
    pub near_copy_fraction: f64,
    /// Held-out real images compared against.
    pub real_images: usize,
    /// Fréchet distance in a classifier's features (lower is better): sees whole garments
    /// and the shots' spread, which patches miss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_fd: Option<f64>,
    /// The network behind `feature_fd`: the shipped Fashion-MNIST classifier (28 px grey;
    /// also what older logs without this field used) or the run's class judge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_judge: Option<String>,
    /// Precision and recall in the same features: tells broken shots (low precision) from
    /// missing variety (low recall), which the one Fréchet figure mixes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fidelity: Option<PrecisionRecall>,
    /// Density and coverage in the same features: precision and recall's outlier-robust
    /// counterparts (older logs lack them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub density_coverage: Option<DensityCoverage>,
    /// The data-copying test: are shots nearer to the training images than held-out photos?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copying: Option<DataCopying>,
    /// The network whose features the data-copying test measured distances in (the same as
    /// the feature distance's); `None`: pixels, where blur reads as nearness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copying_space: Option<String>,
    /// The shots' spread over the held-out photos' (median distance to the nearest other
    /// image, equal counts, in the copying test's space): near 1, as varied as real photos;
    /// far below, the shots are alike (early training or mode collapse) and the copying
    /// share means little.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variety: Option<f64>,
    /// The feature figures are left out because the run's class judge is still training on
    /// its own thread (studio runs); later evaluations have them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub judge_pending: bool,
    /// A likelihood family's mean negative log-likelihood of the held-out images, in bits per
    /// sub-pixel (lower is better): the exact figure such a model is trained on, and what
    /// picks its best checkpoint and stops it early.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nll_bits: Option<f64>,
}

impl QualityRecord {
    /// What ranks evaluations of one run (lower is better): held-out NLL where the model has
    /// a likelihood, else held-out SWD.
    #[must_use]
    pub fn selection_score(&self) -> f64 {
        self.nll_bits.unwrap_or(self.swd)
    }
}

/// Variety under which shots count as too alike to judge data copying (see `variety`).
pub const LOW_VARIETY: f64 = 0.5;
