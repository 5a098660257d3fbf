//! Fréchet distance in the features of a domain classifier: FID's recipe with a product
//! network in place of Inception. Unlike the patch-based SWD, it sees whole garments and the
//! spread of the shots, so a generator that draws a few good shots over and over scores badly.
//!
//! Two networks serve: the shipped one for 28 px grey data (`assets/fmnist-features-28.bpk`,
//! trained by `atelier feature-net` on Fashion-MNIST's 10,000 `t10k` images, which never
//! overlap the `train` images that training folders are cut from), and for other data with
//! class folders, a run's own class judge (see `ClassJudge::feature_judge`).

use burn::tensor::Device;

use super::EvalError;
use super::classifier::Classifier;
use crate::data::Dataset;
use crate::model::{module_bytes, module_from_bytes};
use crate::quality::FeatureStats;

/// The classifier's weights, as written by `atelier feature-net`.
const SHIPPED: &[u8] = include_bytes!("../../assets/fmnist-features-28.bpk");
/// Image side and channels the shipped network reads.
pub const FEATURE_RESOLUTION: usize = 28;
pub const FEATURE_CHANNELS: usize = 1;
/// Fashion-MNIST's ten classes.
const CLASSES: usize = 10;
/// Training steps (batch 64): about 20 passes over 9,000 images.
const STEPS: usize = 3000;
const SEEDS: (u64, u64) = (0xFEA7, 0xFEA7);
const CHUNK: usize = 256;

/// What the shipped network is called in reports.
pub const SHIPPED_NAME: &str = "Fashion-MNIST classifier";

/// Scores generators by the Fréchet distance between their shots' features and real images'.
pub struct FeatureJudge {
    model: Classifier,
    device: Device,
    channels: usize,
    resolution: usize,
    name: String,
}

impl FeatureJudge {
    /// Whether the shipped network can score images of this shape.
    #[must_use]
    pub fn shipped_applies_to(channels: usize, resolution: usize) -> bool {
        channels == FEATURE_CHANNELS && resolution == FEATURE_RESOLUTION
    }

    /// A trained classifier of `channels`×`resolution`² images as a judge; `name` says which
    /// network it is in reports.
    #[must_use]
    pub(super) fn from_classifier(
        model: Classifier,
        channels: usize,
        resolution: usize,
        name: impl Into<String>,
        device: &Device,
    ) -> Self {
        Self {
            model,
            device: device.clone(),
            channels,
            resolution,
            name: name.into(),
        }
    }

    /// Which network this is, for reports ("Fashion-MNIST classifier").
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this network reads images of this shape.
    #[must_use]
    pub fn applies_to(&self, channels: usize, resolution: usize) -> bool {
        channels == self.channels && resolution == self.resolution
    }

    /// The network shipped in the binary.
    pub fn shipped(device: &Device) -> Result<Self, EvalError> {
        Self::from_bytes(SHIPPED, device)
    }

    /// A network saved by [`FeatureJudge::to_bytes`].
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Self, EvalError> {
        let blank = Classifier::new(FEATURE_CHANNELS, FEATURE_RESOLUTION, CLASSES, None, device);
        let model = module_from_bytes(blank, bytes, None).map_err(|e| EvalError::Record {
            what: "feature network",
            message: e.0,
        })?;
        Ok(Self::shipped_shape(model, device))
    }

    /// The network's weights, for `assets/`.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EvalError> {
        module_bytes(self.model.clone()).map_err(|e| EvalError::Record {
            what: "feature network",
            message: e.0,
        })
    }

    /// Trains a network on a ten-class 28 px grey data set (Fashion-MNIST) with fixed seeds.
    /// Every tenth image is kept out; the returned accuracy is measured on those.
    pub fn train(data: &Dataset, device: &Device) -> Result<(Self, f64), EvalError> {
        if !Self::shipped_applies_to(data.channels, data.resolution)
            || data.class_names.len() != CLASSES
        {
            return Err(EvalError::Incompatible(format!(
                "the feature network is trained on {CLASSES} classes of {FEATURE_RESOLUTION} px grey images; this data has {} classes of {} px with {} channels",
                data.class_names.len(),
                data.resolution,
                data.channels
            )));
        }
        let (train, check): (Vec<usize>, Vec<usize>) = (0..data.len()).partition(|i| i % 10 != 0);
        let model = Classifier::train(data, &train, STEPS, SEEDS, device, None)?;
        let mut hits = 0;
        for chunk in check.chunks(CHUNK) {
            let shape = [chunk.len(), data.channels, data.resolution, data.resolution];
            let predicted = model.predict(&data.batch_f32(chunk), shape, device)?;
            hits += predicted
                .iter()
                .zip(chunk)
                .filter(|(p, i)| **p == data.labels[**i])
                .count();
        }
        let accuracy = hits as f64 / check.len().max(1) as f64;
        Ok((Self::shipped_shape(model, device), accuracy))
    }

    fn shipped_shape(model: Classifier, device: &Device) -> Self {
        Self::from_classifier(
            model,
            FEATURE_CHANNELS,
            FEATURE_RESOLUTION,
            SHIPPED_NAME,
            device,
        )
    }

    /// Feature statistics of images (CHW `u8`) of the network's shape.
    pub fn stats_of_images(&self, images: &[&[u8]]) -> Result<FeatureStats, EvalError> {
        let rows = self.features_of_images(images)?;
        FeatureStats::of(&rows).ok_or(EvalError::TooFewImages(images.len()))
    }

    /// The feature vector of each image (CHW `u8`, the network's shape).
    pub fn features_of_images(&self, images: &[&[u8]]) -> Result<Vec<Vec<f32>>, EvalError> {
        let (c, r) = (self.channels, self.resolution);
        let side = r * r * c;
        if let Some(bad) = images.iter().find(|image| image.len() != side) {
            return Err(EvalError::Incompatible(format!(
                "the {} reads {r} px images with {c} channels ({side} values); got an image of {} values",
                self.name,
                bad.len()
            )));
        }
        let mut rows = Vec::with_capacity(images.len());
        for chunk in images.chunks(CHUNK) {
            let values: Vec<f32> = chunk
                .iter()
                .flat_map(|image| image.iter().map(|&p| f32::from(p) / 127.5 - 1.0))
                .collect();
            let shape = [chunk.len(), c, r, r];
            rows.extend(self.model.feature_rows(&values, shape, &self.device)?);
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_network_loads_and_damaged_weights_are_named() {
        let device = Device::flex();
        assert!(FeatureJudge::shipped(&device).is_ok());
        let err = FeatureJudge::from_bytes(b"not a network", &device)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("feature network"), "{err}");
    }
}
