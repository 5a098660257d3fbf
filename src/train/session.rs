//! One model being trained: the family's trainer, the data order, counters and metric windows.
//! Steps on demand, so the CLI can loop it and the studio's worker can interleave steps with
//! sampling requests. Knows families only through [`Trainer`].

use std::sync::Arc;

use burn::tensor::{DType, Device, Int, Tensor, TensorCreationOptions, TensorData};
use sha2::{Digest, Sha256};

use super::TrainError;
use super::metrics::MetricsRecord;
use super::trainer::{DeviceBatch, Restore, Trainer, trainer_for};
use crate::checkpoint::{Checkpoint, TrainState, hex};
use crate::data::Dataset;
use crate::preset::Preset;
use crate::rng::{Rng, splitmix64};
use crate::sample::Sampler;

/// Metric sums since the last read, kept on the device (no sync).
struct Window {
    sums: Tensor<1>,
    steps: u64,
    images: u64,
    started: std::time::Instant,
}

pub struct TrainSession {
    preset: Preset,
    data: Arc<Dataset>,
    train: Vec<usize>,
    /// The autodiff device batches are uploaded to.
    device: Device,
    trainer: Box<dyn Trainer>,
    state: TrainState,
    batch: usize,
    window: Option<Window>,
    fingerprint: String,
}

/// Identifies the training images (content, not names), so resume can refuse other data.
fn fingerprint(data: &Dataset, train: &[usize]) -> String {
    let mut h = Sha256::new();
    h.update((data.resolution as u64).to_le_bytes());
    h.update((data.channels as u64).to_le_bytes());
    for &i in train {
        h.update(data.content_hashes[i]);
    }
    hex(&h.finalize())[..16].to_string()
}

/// Steps per epoch of `train_images` at `batch`: full batches only (BatchNorm dislikes a
/// ragged last batch), and at least one.
#[must_use]
pub fn steps_per_epoch(train_images: usize, batch: usize) -> u64 {
    (train_images / batch.max(1)).max(1) as u64
}

/// Whether `order` holds each of `0..n` exactly once: a saved epoch order that is not is
/// damage (format-1 headers carry no checksum).
fn is_permutation(order: &[u32], n: usize) -> bool {
    if order.len() != n {
        return false;
    }
    let mut seen = vec![false; n];
    order.iter().all(|&i| {
        let i = i as usize;
        i < n && !std::mem::replace(&mut seen[i], true)
    })
}

impl TrainSession {
    /// A fresh run. `device` is a plain device; autodiff is enabled here.
    pub fn new(
        preset: Preset,
        data: Arc<Dataset>,
        train: Vec<usize>,
        device: &Device,
    ) -> Result<Self, TrainError> {
        if train.len() < 2 {
            return Err(TrainError::TooFewImages(train.len()));
        }
        if preset.model.conditional() && preset.model.classes().len() < 2 {
            return Err(TrainError::Incompatible(
                "model.conditional: the model has no class list (two or more classes are filled in from the data's sub-folders when a run starts)".into(),
            ));
        }
        let trainer = trainer_for(&preset, device)?;
        let mut batch_rng = Rng::derived(preset.train.seed, "batches");
        let mut order: Vec<u32> = (0..train.len() as u32).collect();
        batch_rng.shuffle(&mut order);
        let mut state = TrainState {
            step: 0,
            epoch: 0,
            epoch_pos: 0,
            order,
            batch_rng,
            images_seen: 0,
            train_seconds: 0.0,
            best_swd: None,
            evals_since_best: 0,
            family: serde_json::Map::new(),
        };
        state.family = trainer.save_state()?;
        let batch = preset.train.batch.min(train.len());
        let fingerprint = fingerprint(&data, &train);
        Ok(Self {
            preset,
            data,
            train,
            device: device.clone().autodiff(),
            trainer,
            state,
            batch,
            window: None,
            fingerprint,
        })
    }

    /// Continues a run from `checkpoint` exactly: weights, EMA, optimiser moments, counters and
    /// random state. `preset` may differ from the checkpoint's only in its step/epoch budget.
    pub fn resume(
        checkpoint: &Checkpoint,
        preset: Preset,
        data: Arc<Dataset>,
        train: Vec<usize>,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let mut session = Self::new(preset, data, train, device)?;
        if session.fingerprint != checkpoint.dataset_fingerprint {
            return Err(TrainError::Incompatible(
                "the training images differ from the ones this run started on (files added, removed or changed); resume with the original folder, or start a new run".into(),
            ));
        }
        if !is_permutation(&checkpoint.state.order, session.train.len()) {
            return Err(TrainError::Incompatible(
                "the checkpoint's epoch order does not match the data (the header is damaged, or the data changed)".into(),
            ));
        }
        if checkpoint.state.epoch_pos > session.train.len() {
            return Err(TrainError::Incompatible(
                "the checkpoint's position in its epoch is past the epoch's end (the header is damaged)".into(),
            ));
        }
        session.trainer.restore(Restore::Resume {
            records: &checkpoint.blobs,
            state: &checkpoint.state.family,
        })?;
        session.state = checkpoint.state.clone();
        Ok(session)
    }

    /// A new run that starts from a base model's weights (fine-tuning): the networks come
    /// from `base`; optimisers, counters and random state start afresh. The caller has made
    /// `preset.model` the base's architecture.
    pub fn from_base(
        base: &Checkpoint,
        preset: Preset,
        data: Arc<Dataset>,
        train: Vec<usize>,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let mut session = Self::new(preset, data, train, device)?;
        session.trainer.restore(Restore::Base {
            records: &base.blobs,
        })?;
        Ok(session)
    }

    #[must_use]
    pub fn preset(&self) -> &Preset {
        &self.preset
    }

    #[must_use]
    pub fn state(&self) -> &TrainState {
        &self.state
    }

    /// Records an evaluation's selection score (`QualityRecord::selection_score`, lower is
    /// better); returns whether it is the best so far.
    pub fn record_quality(&mut self, swd: f64) -> bool {
        let best = self.state.best_swd.is_none_or(|b| swd < b);
        if best {
            self.state.best_swd = Some(swd);
            self.state.evals_since_best = 0;
        } else {
            self.state.evals_since_best += 1;
        }
        best
    }

    /// Effective batch (the preset's, capped by the training split's size).
    #[must_use]
    pub fn batch(&self) -> usize {
        self.batch
    }

    #[must_use]
    pub fn steps_per_epoch(&self) -> u64 {
        steps_per_epoch(self.train.len(), self.batch)
    }

    /// The step budget: `steps`, else `epochs` × steps per epoch.
    #[must_use]
    pub fn total_steps(&self) -> u64 {
        self.preset
            .train
            .steps
            .unwrap_or(self.preset.train.epochs as u64 * self.steps_per_epoch())
    }

    #[must_use]
    pub fn dataset(&self) -> &Arc<Dataset> {
        &self.data
    }

    fn next_batch(&mut self) -> Vec<usize> {
        let s = &mut self.state;
        if s.epoch_pos + self.batch > s.order.len() {
            s.batch_rng.shuffle(&mut s.order);
            s.epoch_pos = 0;
            s.epoch += 1;
        }
        let picked = s.order[s.epoch_pos..s.epoch_pos + self.batch]
            .iter()
            .map(|&k| self.train[k as usize])
            .collect();
        s.epoch_pos += self.batch;
        picked
    }

    /// Which of this step's `n` reals are mirrored (`data.mirror`): a fair coin each, drawn
    /// from the seed and the step alone, so a resumed run mirrors exactly what the straight
    /// run did without any saved state.
    fn mirror_flags(&self, n: usize) -> Vec<bool> {
        if !self.preset.data.mirror {
            return Vec::new();
        }
        let mut state = Rng::step_state(self.preset.train.seed, "mirror", self.state.step);
        (0..n).map(|_| splitmix64(&mut state) & 1 == 1).collect()
    }

    /// `n` images of `u8` pixels on the training device, in `[-1, 1]`. They travel as bytes,
    /// a quarter of the bytes of `f32` (what a remote device's link carries each step): four
    /// pixels packed in each 32-bit integer, since not every backend has an 8-bit type (WGSL
    /// has none), and unpacked on the device by shifts and masks.
    fn upload(&self, pixels: Vec<u8>, n: usize) -> Tensor<4> {
        let (c, r) = (self.data.channels, self.data.resolution);
        let len = pixels.len();
        let words: Vec<i32> = pixels
            .chunks(4)
            .map(|chunk| {
                let mut word = [0u8; 4];
                word[..chunk.len()].copy_from_slice(chunk);
                i32::from_le_bytes(word)
            })
            .collect();
        let count = words.len();
        let options = TensorCreationOptions::new(self.device.clone()).with_dtype(DType::I32);
        let packed =
            Tensor::<2, Int>::from_data(TensorData::new(words, [count, 1]), options.clone());
        // Byte k of each word is `(word >> 8k) & 0xff`: one broadcast shift against the four
        // shifts, rather than four shifted copies stacked along a new last axis (which a CPU
        // backend interleaves one value at a time).
        let shifts =
            Tensor::<2, Int>::from_data(TensorData::new(vec![0i32, 8, 16, 24], [1, 4]), options);
        let pixels = packed
            .expand([count, 4])
            .bitwise_right_shift(shifts.expand([count, 4]))
            .bitwise_and_scalar(0xff)
            .reshape([count * 4])
            .slice(0..len)
            .reshape([n, c, r, r]);
        // The same two operations as `u8_to_unit_range`, in the same order.
        pixels.float() / 127.5 - 1.0
    }

    /// The next batch of real images, on the training device.
    fn upload_batch(&mut self) -> DeviceBatch {
        let indices = self.next_batch();
        let pixels = self
            .data
            .batch_u8_mirrored(&indices, &self.mirror_flags(indices.len()));
        let images = self.upload(pixels, indices.len());
        DeviceBatch {
            images,
            labels: indices.iter().map(|&i| self.data.labels[i]).collect(),
            step: self.state.step,
        }
    }

    /// Mean negative log-likelihood of the images `indices` (held-out ones) in bits per
    /// sub-pixel, for a likelihood family; `None` for the others.
    pub fn held_out_bits(&self, indices: &[usize]) -> Result<Option<f64>, TrainError> {
        let (mut sum, mut count) = (0.0f64, 0usize);
        for chunk in indices.chunks(self.batch.max(1)) {
            let images = self.upload(self.data.batch_u8_mirrored(chunk, &[]), chunk.len());
            let batch = DeviceBatch {
                images,
                labels: chunk.iter().map(|&i| self.data.labels[i]).collect(),
                step: self.state.step,
            };
            match self.trainer.held_out_bits(batch)? {
                Some(bits) => {
                    sum += f64::from(bits) * chunk.len() as f64;
                    count += chunk.len();
                }
                None => return Ok(None),
            }
        }
        Ok((count > 0).then(|| sum / count as f64))
    }

    /// One optimisation step of the family's trainer on the next batch.
    pub fn step(&mut self) -> Result<(), TrainError> {
        let started = std::time::Instant::now();
        let batch = self.upload_batch();
        let images = batch.labels.len() as u64;
        let stats = self.trainer.step(batch)?;
        let window = self.window.get_or_insert_with(|| Window {
            sums: stats.zeros_like(),
            steps: 0,
            images: 0,
            started,
        });
        window.sums = window.sums.clone() + stats;
        window.steps += 1;
        window.images += images;
        self.state.step += 1;
        self.state.images_seen += images;
        Ok(())
    }

    /// Averages since the last call (one device sync), or `None` if no step ran since.
    pub fn take_metrics(&mut self) -> Result<Option<MetricsRecord>, TrainError> {
        let Some(w) = self.window.take() else {
            return Ok(None);
        };
        let sums = w
            .sums
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| TrainError::Device(format!("reading metrics: {e:?}")))?;
        let secs = w.started.elapsed().as_secs_f64();
        self.state.train_seconds += secs;
        let n = w.steps as f32;
        let means: Vec<f32> = sums.iter().map(|s| s / n).collect();
        let extra = self.trainer.end_window(&means, w.images);
        let mut record = MetricsRecord::new(
            self.state.step,
            self.state.epoch,
            (w.images as f64 / secs.max(1e-9)) as f32,
            self.state.train_seconds,
        );
        for (name, mean) in self.trainer.metric_names().iter().zip(&means) {
            record.set(name, f64::from(*mean));
        }
        for (name, value) in extra {
            record.set(name, value);
        }
        Ok(Some(record))
    }

    /// A sampler over the generator that renders now (EMA when kept), on `device`.
    pub fn sampler(&self, device: &Device) -> Result<Sampler, TrainError> {
        let renderer = self.trainer.renderer(device)?;
        Ok(Sampler::new(
            renderer,
            self.preset.model.clone(),
            device,
            format!("step-{}", self.state.step),
        ))
    }

    /// Everything needed to resume, as a [`Checkpoint`].
    pub fn checkpoint(&self) -> Result<Checkpoint, TrainError> {
        let mut state = self.state.clone();
        state.family = self.trainer.save_state()?;
        Ok(Checkpoint {
            format: crate::checkpoint::FORMAT_VERSION,
            state,
            preset_toml: self.preset.to_toml(),
            dataset_fingerprint: self.fingerprint.clone(),
            app_version: env!("CARGO_PKG_VERSION").to_string(),
            blobs: self.trainer.records()?,
        })
    }
}
