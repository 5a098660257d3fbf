//! Teaching an upscaler: Adam on pixel L1 plus a high-frequency L1, with checkpoints that
//! resume exactly (the crop generator's state and Adam's moments are saved).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Bytes, Device, Tensor, TensorData};

use super::file::{NETWORK_RECORD, OPTIMISER_RECORD, UpscalerFile, UpscalerRecipe};
use super::{PhotoPool, UpscaleError};
use crate::checkpoint::{Checkpoint, TrainState};
use crate::model::layers::{pool2x, upsample2x};
use crate::model::upscaler::Upscaler;
use crate::model::{INIT_LOCK, Materialise, module_bytes, module_from_bytes};
use crate::rng::Rng;

/// Where a training run stands, for progress displays and logs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainProgress {
    pub step: u64,
    pub seconds: f64,
    /// Mean loss since the last report.
    pub loss: f32,
}

/// Fine-tuning steps at this fraction of the base's learning rate: the base is already near
/// a good minimum, and full-size Adam steps from fresh moments would first undo some of it.
pub const FINE_TUNE_LR_DIVISOR: f64 = 5.0;

/// When a [`UpscalerTraining::run`] ends, and how often it saves.
#[derive(Clone, Copy, Debug)]
pub struct RunLimits {
    /// Steps in total (resumed runs count their earlier steps).
    pub max_steps: Option<u64>,
    /// Wall time of this run.
    pub budget: Option<Duration>,
    pub save_every: Duration,
}

/// An upscaler being trained.
pub struct UpscalerTraining {
    recipe: UpscalerRecipe,
    /// The autodiff device.
    device: Device,
    net: Option<Upscaler>,
    opt: ModuleOptimizer,
    rng: Rng,
    step: u64,
    seconds: f64,
    pool_fingerprint: String,
}

fn record_error(e: impl std::fmt::Display) -> UpscaleError {
    UpscaleError::Record(e.to_string())
}

/// The fine detail of an image: itself minus its 2× blur.
fn high_pass(x: Tensor<4>) -> Tensor<4> {
    x.clone() - upsample2x(pool2x(x))
}

impl UpscalerTraining {
    /// A fresh network (weights from the recipe's seed alone) for the photos of `pool`.
    pub fn new(
        recipe: UpscalerRecipe,
        pool: &PhotoPool,
        device: &Device,
    ) -> Result<Self, UpscaleError> {
        recipe.validate()?;
        let ad = device.clone().autodiff();
        let net = {
            let _guard = INIT_LOCK
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            device.seed(recipe.training.seed);
            let net = Upscaler::new(&recipe.upscaler, &ad);
            net.visit(&mut Materialise);
            net
        };
        Ok(Self {
            opt: AdamConfig::new().with_epsilon(1e-8).init(),
            rng: Rng::derived(recipe.training.seed, "upscaler-crops"),
            recipe,
            device: ad,
            net: Some(net),
            step: 0,
            seconds: 0.0,
            pool_fingerprint: pool.fingerprint().to_string(),
        })
    }

    /// Starts from `base`'s network (`recipe` must have its shape) with a fresh optimiser:
    /// fine-tuning the shipped upscaler on a project's photos, so even a short session is
    /// never far from the upscaler it started from.
    pub fn fine_tune(
        base: &UpscalerFile,
        recipe: UpscalerRecipe,
        pool: &PhotoPool,
        device: &Device,
    ) -> Result<Self, UpscaleError> {
        if recipe.upscaler != base.recipe.upscaler {
            return Err(UpscaleError::NotAnUpscaler {
                path: "the base upscaler".into(),
                message: "its network has another shape than the recipe's".into(),
            });
        }
        let mut run = Self::new(recipe, pool, device)?;
        let net = run.net.take().ok_or_else(|| record_error("no network"))?;
        let bytes = base
            .checkpoint
            .blob(NETWORK_RECORD)
            .ok_or_else(|| record_error("no network record"))?;
        run.net = Some(module_from_bytes(net, bytes, None).map_err(record_error)?);
        Ok(run)
    }

    /// Continues a saved run exactly; refuses a file made from other photos, or one whose
    /// optimiser state was dropped (a finished file).
    pub fn resume(
        file: &UpscalerFile,
        pool: &PhotoPool,
        device: &Device,
    ) -> Result<Self, UpscaleError> {
        let mut run = Self::new(file.recipe.clone(), pool, device)?;
        let saved = &file.checkpoint;
        if saved.dataset_fingerprint != pool.fingerprint() {
            return Err(UpscaleError::NotAnUpscaler {
                path: "the upscaler to resume".into(),
                message: "it was trained on other photos; train a new one (another --out)".into(),
            });
        }
        let net = run.net.take().ok_or_else(|| record_error("no network"))?;
        let bytes = saved
            .blob(NETWORK_RECORD)
            .ok_or_else(|| record_error("no network record"))?;
        run.net = Some(module_from_bytes(net, bytes, None).map_err(record_error)?);
        let opt = saved
            .blob(OPTIMISER_RECORD)
            .ok_or_else(|| record_error("no optimiser state: a finished upscaler cannot resume"))?;
        run.opt = run
            .opt
            .clone()
            .from_bytes(Bytes::from_bytes_vec(opt.to_vec()))
            .map_err(record_error)?;
        run.rng = saved.state.batch_rng.clone();
        run.step = saved.state.step;
        run.seconds = saved.state.train_seconds;
        Ok(run)
    }

    #[must_use]
    pub fn recipe(&self) -> &UpscalerRecipe {
        &self.recipe
    }

    #[must_use]
    pub fn steps(&self) -> u64 {
        self.step
    }

    #[must_use]
    pub fn seconds(&self) -> f64 {
        self.seconds
    }

    /// Counts training time spent outside [`Self::run`] (a caller stepping by itself).
    pub fn add_seconds(&mut self, seconds: f64) {
        self.seconds += seconds;
    }

    /// One Adam step on a fresh batch of pairs; returns the loss, detached (no sync).
    pub fn step(&mut self, pool: &PhotoPool) -> Result<Tensor<1>, UpscaleError> {
        let t = &self.recipe.training;
        let channels = self.recipe.upscaler.channels;
        let pairs = pool.draw(
            &mut self.rng,
            t.batch,
            t.patch,
            self.recipe.upscaler.factor,
            channels,
        );
        let high_side = pairs.patch * pairs.factor;
        let low = Tensor::<4>::from_data(
            TensorData::new(pairs.low, [pairs.batch, channels, pairs.patch, pairs.patch]),
            &self.device,
        );
        let high = Tensor::<4>::from_data(
            TensorData::new(pairs.high, [pairs.batch, channels, high_side, high_side]),
            &self.device,
        );
        let net = self
            .net
            .take()
            .ok_or_else(|| UpscaleError::Device("no network (an earlier step failed)".into()))?;
        let out = net.forward(low);
        let pixel = (out.clone() - high.clone()).abs().mean();
        let loss = if t.high_frequency > 0.0 {
            let detail = (high_pass(out) - high_pass(high)).abs().mean();
            pixel + detail.mul_scalar(t.high_frequency)
        } else {
            pixel
        };
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        self.net = Some(self.opt.step(t.lr, net, grads));
        self.step += 1;
        Ok(loss.detach().reshape([1]).without_autodiff())
    }

    /// Trains until a limit or `cancel`; saves to `out` at the limits' interval and at the
    /// end, and reports the mean loss every ten steps.
    pub fn run(
        &mut self,
        pool: &PhotoPool,
        limits: RunLimits,
        out: &Path,
        cancel: &AtomicBool,
        progress: &mut dyn FnMut(TrainProgress),
    ) -> Result<(), UpscaleError> {
        const REPORT_EVERY: u64 = 10;
        let RunLimits {
            max_steps,
            budget,
            save_every,
        } = limits;
        let started = Instant::now();
        let mut last_save = Instant::now();
        let seconds_at_start = self.seconds;
        let mut sum: Option<Tensor<1>> = None;
        let mut in_window = 0u64;
        loop {
            let done = max_steps.is_some_and(|m| self.step >= m)
                || budget.is_some_and(|b| started.elapsed() >= b)
                || cancel.load(Ordering::Relaxed);
            if done {
                break;
            }
            let loss = self.step(pool)?;
            sum = Some(match sum {
                Some(s) => s + loss,
                None => loss,
            });
            in_window += 1;
            if in_window == REPORT_EVERY {
                let total = sum
                    .take()
                    .map(|s| s.into_scalar::<f32>())
                    .unwrap_or_default();
                self.seconds = seconds_at_start + started.elapsed().as_secs_f64();
                progress(TrainProgress {
                    step: self.step,
                    seconds: self.seconds,
                    loss: total / in_window as f32,
                });
                in_window = 0;
            }
            if last_save.elapsed() >= save_every {
                self.seconds = seconds_at_start + started.elapsed().as_secs_f64();
                self.to_file()?.save(out)?;
                last_save = Instant::now();
            }
        }
        self.seconds = seconds_at_start + started.elapsed().as_secs_f64();
        self.to_file()?.save(out)
    }

    /// The run as a file: network, optimiser and the crop generator's state.
    pub fn to_file(&self) -> Result<UpscalerFile, UpscaleError> {
        let net = self
            .net
            .as_ref()
            .ok_or_else(|| UpscaleError::Device("no network (an earlier step failed)".into()))?;
        let blobs = vec![
            (
                NETWORK_RECORD.to_string(),
                module_bytes(net.clone()).map_err(record_error)?,
            ),
            (
                OPTIMISER_RECORD.to_string(),
                self.opt.into_bytes().map_err(record_error)?.to_vec(),
            ),
        ];
        let state = TrainState {
            step: self.step,
            epoch: 0,
            epoch_pos: 0,
            order: Vec::new(),
            batch_rng: self.rng.clone(),
            images_seen: self.step * self.recipe.training.batch as u64,
            train_seconds: self.seconds,
            best_swd: None,
            evals_since_best: 0,
            family: serde_json::Map::new(),
        };
        Ok(UpscalerFile {
            recipe: self.recipe.clone(),
            checkpoint: Checkpoint {
                format: crate::checkpoint::FORMAT_VERSION,
                state,
                preset_toml: self.recipe.to_toml(),
                dataset_fingerprint: self.pool_fingerprint.clone(),
                app_version: env!("CARGO_PKG_VERSION").to_string(),
                blobs,
            },
        })
    }

    /// The network as it is now, for inference on `device`.
    pub fn network(&self, device: &Device) -> Result<Upscaler, UpscaleError> {
        self.net
            .as_ref()
            .map(|n| n.valid().to_device(device))
            .ok_or_else(|| UpscaleError::Device("no network (an earlier step failed)".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::upscaler::UpscalerConfig;
    use crate::upscale::UpscalerTrainSettings;

    /// A few striped and checked colour photos: detail a shrink loses.
    fn photo_folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for k in 0..3u32 {
            let photo = image::RgbImage::from_fn(40 + 8 * k, 36, |x, y| {
                let stripe = (x.midpoint(k) + y / 3) % 2 == 0;
                image::Rgb([if stripe { 220 } else { 30 }, (x * 6) as u8, (y * 7) as u8])
            });
            photo.save(dir.path().join(format!("p{k}.png"))).unwrap();
        }
        dir
    }

    fn tiny() -> UpscalerRecipe {
        UpscalerRecipe {
            upscaler: UpscalerConfig {
                factor: 2,
                channels: 3,
                width: 8,
                blocks: 1,
            },
            training: UpscalerTrainSettings {
                batch: 2,
                patch: 8,
                ..UpscalerTrainSettings::default()
            },
        }
    }

    #[test]
    fn a_resumed_upscaler_learns_exactly_as_one_that_never_stopped() {
        let device = Device::flex();
        let dir = photo_folder();
        let (pool, report) = PhotoPool::from_folder(dir.path(), 16, 768, 1).unwrap();
        assert_eq!(report.used, 3);
        let mut straight = UpscalerTraining::new(tiny(), &pool, &device).unwrap();
        for _ in 0..3 {
            let loss = straight.step(&pool).unwrap().into_scalar::<f32>();
            assert!(loss.is_finite() && loss > 0.0, "{loss}");
        }
        let mut first = UpscalerTraining::new(tiny(), &pool, &device).unwrap();
        first.step(&pool).unwrap();
        let bytes = first.to_file().unwrap().checkpoint.to_bytes();
        let saved = UpscalerFile::from_bytes(&bytes, "saved").unwrap();
        let mut resumed = UpscalerTraining::resume(&saved, &pool, &device).unwrap();
        resumed.step(&pool).unwrap();
        resumed.step(&pool).unwrap();
        let weights =
            |t: &UpscalerTraining| crate::model::flat_values(&t.network(&device).unwrap());
        assert_eq!(resumed.steps(), 3);
        let (a, b) = (weights(&resumed), weights(&straight));
        assert_eq!(a.len(), b.len());
        assert!(a == b, "the resumed weights differ from the straight run's");
        // Other photos, or a finished file, cannot be resumed.
        let finished = UpscalerFile::from_bytes(&bytes, "saved")
            .unwrap()
            .finished();
        assert!(UpscalerTraining::resume(&finished, &pool, &device).is_err());
    }
}
