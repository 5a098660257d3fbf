//! Does a conditional generator draw the class it is asked for? A small convolutional
//! classifier is trained on the run's *training* images only, then scores real held-out images
//! of each class and generated shots of each class. The ratio of the two accuracies is the
//! figure: 1.0 means shots are as recognisable as real photos to this classifier.
//!
//! The classifier never sees the held-out images or any generated shot while it trains, so
//! the figure cannot be tuned to them.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::EvalError;
use super::classifier::Classifier;
use super::feature_distance::FeatureJudge;
use crate::data::Dataset;
use crate::export::Picture;
use crate::latent::latent_for_seed;
use crate::sample::Sampler;

/// Classifier training steps: enough for ~90 % on Fashion-MNIST-like classes.
const STEPS: usize = 600;
/// Seeds of the classifier's weights and batch order.
const CLASSIFIER_SEEDS: (u64, u64) = (0xC1A5, 7);
/// Seeds of the scored shots (apart from the quality evaluation's).
const SHOT_SEED_BASE: u64 = 0xC1A5_0000;

/// One class's figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassScore {
    pub class: String,
    /// Share of real held-out images of this class the classifier calls this class.
    pub real_accuracy: f64,
    pub real_images: usize,
    /// Share of shots asked for this class that the classifier calls this class.
    pub shot_accuracy: f64,
    pub shots: usize,
}

impl ClassScore {
    /// Shot accuracy relative to real accuracy (the bar is 0.9).
    #[must_use]
    pub fn ratio(&self) -> f64 {
        if self.real_accuracy > 0.0 {
            self.shot_accuracy / self.real_accuracy
        } else {
            0.0
        }
    }
}

/// Pictures as one `[-1, 1]` CHW buffer, the classifier's input.
fn pictures_f32(pictures: &[Picture]) -> Vec<f32> {
    pictures
        .iter()
        .flat_map(Picture::to_chw_u8)
        .map(|p| f32::from(p) / 127.5 - 1.0)
        .collect()
}

/// A classifier trained once on a data set's training images; it then scores any number of
/// conditional generators against the held-out images.
pub struct ClassJudge {
    model: Classifier,
    device: Device,
    classes: Vec<String>,
    channels: usize,
    resolution: usize,
}

impl ClassJudge {
    /// Trains on `train` (indices into `data`) with fixed seeds, so the same data gives the
    /// same judge.
    pub fn train(data: &Dataset, train: &[usize], device: &Device) -> Result<Self, EvalError> {
        Self::train_until(data, train, device, None)
    }

    /// [`ClassJudge::train`] that ends early, with [`EvalError::Stopped`], once `stop` is set.
    pub fn train_until(
        data: &Dataset,
        train: &[usize],
        device: &Device,
        stop: Option<&std::sync::atomic::AtomicBool>,
    ) -> Result<Self, EvalError> {
        let classes = data.class_names.len();
        if classes < 2 {
            return Err(EvalError::Incompatible(
                "class fidelity needs two or more classes".into(),
            ));
        }
        let model = Classifier::train(data, train, STEPS, CLASSIFIER_SEEDS, device, stop)?;
        Ok(Self {
            model,
            device: device.clone(),
            classes: data.class_names.clone(),
            channels: data.channels,
            resolution: data.resolution,
        })
    }

    /// About how long [`ClassJudge::train`] takes on `device`: a few of its steps, timed
    /// and scaled to all of them (for run estimates).
    pub fn time_training(
        data: &Dataset,
        train: &[usize],
        device: &Device,
    ) -> Result<std::time::Duration, EvalError> {
        const TIMED: usize = 20;
        // Two untimed steps: the first ones allocate.
        Classifier::train(data, train, 2, CLASSIFIER_SEEDS, device, None)?;
        let started = std::time::Instant::now();
        Classifier::train(data, train, TIMED, CLASSIFIER_SEEDS, device, None)?;
        Ok(started.elapsed().mul_f64(STEPS as f64 / TIMED as f64))
    }

    /// The class it sees in each of `images` (indices into `data`).
    fn predict_images(&self, data: &Dataset, images: &[usize]) -> Result<Vec<u32>, EvalError> {
        let (c, r) = (self.channels, self.resolution);
        let mut predicted = Vec::with_capacity(images.len());
        for chunk in images.chunks(256) {
            predicted.extend(self.model.predict(
                &data.batch_f32(chunk),
                [chunk.len(), c, r, r],
                &self.device,
            )?);
        }
        Ok(predicted)
    }

    /// Share of `images` (indices into `data`) it puts in their own class: how much a
    /// distance in its features can be trusted.
    pub fn accuracy(&self, data: &Dataset, images: &[usize]) -> Result<f64, EvalError> {
        let predicted = self.predict_images(data, images)?;
        let hits = predicted
            .iter()
            .zip(images)
            .filter(|(p, i)| **p == data.labels[**i])
            .count();
        Ok(hits as f64 / images.len().max(1) as f64)
    }

    /// This classifier's pooled features as a Fréchet-distance judge: a feature distance for
    /// data the shipped network cannot read (colour, 64 px), from a network that has seen
    /// only this run's training images.
    #[must_use]
    pub fn feature_judge(&self) -> FeatureJudge {
        FeatureJudge::from_classifier(
            self.model.clone(),
            self.channels,
            self.resolution,
            "run's class judge",
            &self.device,
        )
    }

    /// Scores `held_out` real images and `shots_per_class` shots of each class.
    pub fn score(
        &self,
        sampler: &Sampler,
        data: &Dataset,
        held_out: &[usize],
        shots_per_class: usize,
    ) -> Result<Vec<ClassScore>, EvalError> {
        if sampler.model.classes() != self.classes || data.class_names != self.classes {
            return Err(EvalError::Incompatible(format!(
                "the model's classes [{}] are not the data's [{}]",
                sampler.model.classes().join(", "),
                self.classes.join(", ")
            )));
        }
        let (c, r, device) = (self.channels, self.resolution, &self.device);
        let mut scores = Vec::with_capacity(self.classes.len());
        for (k, name) in self.classes.iter().enumerate() {
            let real: Vec<usize> = held_out
                .iter()
                .copied()
                .filter(|&i| data.labels[i] as usize == k)
                .collect();
            let real_hits = self
                .predict_images(data, &real)?
                .iter()
                .filter(|&&p| p as usize == k)
                .count();
            let mut shot_hits = 0;
            for start in (0..shots_per_class).step_by(256) {
                let n = (shots_per_class - start).min(256);
                let latents: Vec<Vec<f32>> = (start..start + n)
                    .map(|s| {
                        latent_for_seed(
                            SHOT_SEED_BASE + (k * 1_000_000 + s) as u64,
                            sampler.model.latent_dim(),
                        )
                    })
                    .collect();
                let shots = sampler.render_classes(&latents, &vec![Some(k as u32); n])?;
                let predicted = self
                    .model
                    .predict(&pictures_f32(&shots), [n, c, r, r], device)?;
                shot_hits += predicted.iter().filter(|&&p| p as usize == k).count();
            }
            scores.push(ClassScore {
                class: name.clone(),
                real_accuracy: real_hits as f64 / real.len().max(1) as f64,
                real_images: real.len(),
                shot_accuracy: shot_hits as f64 / shots_per_class.max(1) as f64,
                shots: shots_per_class,
            });
        }
        Ok(scores)
    }
}
