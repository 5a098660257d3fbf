//! Does a conditional generator draw the class it is asked for? A small convolutional
//! classifier is trained on the run's *training* images only, then scores real held-out images
//! of each class and generated shots of each class. The ratio of the two accuracies is the
//! figure: 1.0 means shots are as recognisable as real photos to this classifier.
//!
//! The classifier never sees the held-out images or any generated shot while it trains, so
//! the figure cannot be tuned to them.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::{leaky_relu, log_softmax};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::TrainError;
use crate::data::Dataset;
use crate::export::Picture;
use crate::latent::latent_for_seed;
use crate::rng::Rng;
use crate::sample::{Sampler, one_hot};

/// Classifier training steps and batch: enough for ~90 % on Fashion-MNIST-like classes.
const STEPS: usize = 600;
const BATCH: usize = 64;
const LEARNING_RATE: f64 = 1e-3;
/// Seeds of the scored shots (apart from the quality evaluation's).
const SHOT_SEED_BASE: u64 = 0xC1A5_0000;

#[derive(Module, Debug)]
struct Classifier {
    convs: Vec<Conv2d>,
    out: Linear,
}

impl Classifier {
    fn new(channels: usize, classes: usize, device: &Device) -> Self {
        let widths = [channels, 32, 64, 128];
        let convs = widths
            .windows(2)
            .map(|w| {
                Conv2dConfig::new([w[0], w[1]], [3, 3])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device)
            })
            .collect();
        Self {
            convs,
            out: LinearConfig::new(128, classes).init(device),
        }
    }

    /// Logits `[B, classes]`; global average pooling makes it work at any resolution.
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        for conv in &self.convs {
            x = leaky_relu(conv.forward(x), 0.1);
        }
        let [b, c, h, w] = x.dims();
        let pooled: Tensor<2> = x.reshape([b, c, h * w]).mean_dim(2).reshape([b, c]);
        self.out.forward(pooled)
    }

    fn predict(
        &self,
        images: &[f32],
        shape: [usize; 4],
        device: &Device,
    ) -> Result<Vec<u32>, TrainError> {
        let x = Tensor::<4>::from_data(TensorData::new(images.to_vec(), shape), device);
        let logits = self.forward(x);
        let [b, k] = logits.dims();
        let values = logits
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| TrainError::Device(format!("reading classifier output: {e:?}")))?;
        Ok((0..b)
            .map(|i| {
                let row = &values[i * k..(i + 1) * k];
                row.iter()
                    .enumerate()
                    .fold((0, f32::NEG_INFINITY), |best, (j, &v)| {
                        if v > best.1 { (j as u32, v) } else { best }
                    })
                    .0
            })
            .collect())
    }
}

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

/// Serialises seeding and initialisation (the backend's RNG is process-wide).
static JUDGE_INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl ClassJudge {
    /// Trains on `train` (indices into `data`) with fixed seeds, so the same data gives the
    /// same judge.
    pub fn train(data: &Dataset, train: &[usize], device: &Device) -> Result<Self, TrainError> {
        let classes = data.class_names.len();
        if classes < 2 {
            return Err(TrainError::Incompatible(
                "class fidelity needs two or more classes".into(),
            ));
        }
        if train.len() < 8 {
            return Err(TrainError::TooFewImages(train.len()));
        }
        let (c, r) = (data.channels, data.resolution);
        let ad = device.clone().autodiff();
        let mut model = {
            let _guard = JUDGE_INIT
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            device.seed(0xC1A5);
            let model = Classifier::new(c, classes, &ad);
            model.visit(&mut super::session::Materialise);
            model
        };
        let batch = BATCH.min(train.len());
        let mut optimizer = AdamConfig::new().init();
        let mut rng = Rng::derived(7, "classifier");
        for _ in 0..STEPS {
            let picked: Vec<usize> = (0..batch).map(|_| train[rng.below(train.len())]).collect();
            let x = Tensor::<4>::from_data(
                TensorData::new(data.batch_f32(&picked), [batch, c, r, r]),
                &ad,
            );
            let labels: Vec<Option<u32>> = picked.iter().map(|&i| Some(data.labels[i])).collect();
            let target = one_hot(&labels, classes, &ad);
            let loss = (log_softmax(model.forward(x), 1) * target)
                .sum_dim(1)
                .mean()
                .neg();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(LEARNING_RATE, model, grads);
        }
        Ok(Self {
            model: model.valid(),
            device: device.clone(),
            classes: data.class_names.clone(),
            channels: c,
            resolution: r,
        })
    }

    /// Scores `held_out` real images and `shots_per_class` shots of each class.
    pub fn score(
        &self,
        sampler: &Sampler,
        data: &Dataset,
        held_out: &[usize],
        shots_per_class: usize,
    ) -> Result<Vec<ClassScore>, TrainError> {
        if sampler.model.classes != self.classes || data.class_names != self.classes {
            return Err(TrainError::Incompatible(format!(
                "the model's classes [{}] are not the data's [{}]",
                sampler.model.classes.join(", "),
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
            let mut real_hits = 0;
            for chunk in real.chunks(256) {
                let predicted =
                    self.model
                        .predict(&data.batch_f32(chunk), [chunk.len(), c, r, r], device)?;
                real_hits += predicted.iter().filter(|&&p| p as usize == k).count();
            }
            let mut shot_hits = 0;
            for start in (0..shots_per_class).step_by(256) {
                let n = (shots_per_class - start).min(256);
                let latents: Vec<Vec<f32>> = (start..start + n)
                    .map(|s| {
                        latent_for_seed(
                            SHOT_SEED_BASE + (k * 1_000_000 + s) as u64,
                            sampler.model.latent_dim,
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
