//! Learning the project's upscaler on the worker, one step at a time between training steps
//! and renders, so the gallery and the GAN run keep going.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use burn::tensor::Device;

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::panic_message;
use crate::protocol::{Event, UpscalerEvent};
use crate::upscale::{
    FINE_TUNE_LR_DIVISOR, PhotoPool, UpscaleError, UpscalerFile, UpscalerTraining,
};

/// How often the learning upscaler is saved (a kill loses at most this much).
const SAVE_EVERY: Duration = Duration::from_secs(60);
/// Progress is reported (one device read) every this many steps.
const REPORT_EVERY: u64 = 10;

pub(super) struct UpscalerJob {
    training: UpscalerTraining,
    pool: PhotoPool,
    out: PathBuf,
    budget: Duration,
    /// Time spent stepping in this session (not the time the job existed: it waits while
    /// renders run).
    spent: Duration,
    since_save: Duration,
    loss_sum: f32,
    in_window: u64,
}

impl UpscalerJob {
    /// Reads the photos, and goes on from `out` when it holds an upscaler of the same
    /// photos; otherwise fine-tunes the shipped upscaler (a file of other photos is replaced
    /// at the first save).
    pub(super) fn start(
        data: &Path,
        out: &Path,
        minutes: f64,
        device: &Device,
    ) -> Result<(Self, UpscalerEvent), UpscaleError> {
        let saved = UpscalerFile::load(out).ok();
        let shipped = UpscalerFile::shipped()?;
        let recipe = saved.as_ref().unwrap_or(&shipped).recipe.clone();
        let high_side = (recipe.training.patch * recipe.upscaler.factor) as u32;
        let (pool, _report) = PhotoPool::from_folder(
            data,
            high_side,
            recipe.training.max_side,
            recipe.training.seed,
        )?;
        let resumed = saved
            .as_ref()
            .and_then(|f| UpscalerTraining::resume(f, &pool, device).ok());
        let resumed_at = resumed.as_ref().map(UpscalerTraining::steps);
        let training = if let Some(t) = resumed {
            t
        } else {
            let mut recipe = shipped.recipe.clone();
            recipe.training.lr /= FINE_TUNE_LR_DIVISOR;
            UpscalerTraining::fine_tune(&shipped, recipe, &pool, device)?
        };
        let started = UpscalerEvent::Started {
            photos: pool.len(),
            resumed_at,
        };
        Ok((
            Self {
                training,
                pool,
                out: out.to_path_buf(),
                budget: Duration::from_secs_f64(minutes.max(0.0) * 60.0),
                spent: Duration::ZERO,
                since_save: Duration::ZERO,
                loss_sum: 0.0,
                in_window: 0,
            },
            started,
        ))
    }

    /// One step; `Some` when there is news. A finished job reports [`UpscalerEvent::Finished`]
    /// and should be dropped.
    pub(super) fn step(&mut self) -> Result<Option<UpscalerEvent>, UpscaleError> {
        if self.spent >= self.budget {
            return self.finish().map(Some);
        }
        let started = Instant::now();
        let loss = self.training.step(&self.pool)?;
        self.in_window += 1;
        let mut news = None;
        if self.in_window == REPORT_EVERY {
            self.loss_sum = loss.into_scalar::<f32>();
            news = Some(UpscalerEvent::Progress {
                step: self.training.steps(),
                seconds: self.spent.as_secs_f64(),
                budget_seconds: self.budget.as_secs_f64(),
                loss: self.loss_sum,
            });
            self.in_window = 0;
        }
        let took = started.elapsed();
        self.spent += took;
        self.since_save += took;
        self.training.add_seconds(took.as_secs_f64());
        if self.since_save >= SAVE_EVERY {
            self.training.to_file()?.save(&self.out)?;
            self.since_save = Duration::ZERO;
        }
        Ok(news)
    }

    /// Saves and reports the end.
    pub(super) fn finish(&mut self) -> Result<UpscalerEvent, UpscaleError> {
        self.training.to_file()?.save(&self.out)?;
        Ok(UpscalerEvent::Finished {
            path: self.out.clone(),
            steps: self.training.steps(),
        })
    }
}

impl super::Worker {
    /// Starts learning (ending the upscaler being learnt first, saved).
    pub(super) fn start_upscaler(&mut self, data: &Path, out: &Path, minutes: f64) {
        self.stop_upscaler();
        match UpscalerJob::start(data, out, minutes, &self.device.device) {
            Ok((job, started)) => {
                self.upscaler = Some(job);
                self.out.send(Event::Upscaler(started));
            }
            Err(e) => self
                .out
                .send(Event::Upscaler(UpscalerEvent::Failed(e.to_string()))),
        }
    }

    /// One step of the upscaler being learnt, if any.
    pub(super) fn upscaler_one_step(&mut self) {
        let Some(job) = self.upscaler.as_mut() else {
            return;
        };
        let result = catch_unwind(AssertUnwindSafe(|| job.step()))
            .unwrap_or_else(|panic| Err(UpscaleError::Device(panic_message(&*panic))));
        match result {
            Ok(Some(event)) => {
                if matches!(event, UpscalerEvent::Finished { .. }) {
                    self.upscaler = None;
                }
                self.out.send(Event::Upscaler(event));
            }
            Ok(None) => {}
            Err(e) => {
                self.upscaler = None;
                self.out
                    .send(Event::Upscaler(UpscalerEvent::Failed(e.to_string())));
            }
        }
    }

    /// Saves and ends the upscaler being learnt, if any.
    pub(super) fn stop_upscaler(&mut self) {
        let Some(mut job) = self.upscaler.take() else {
            return;
        };
        let event = catch_unwind(AssertUnwindSafe(|| job.finish()))
            .unwrap_or_else(|panic| Err(UpscaleError::Device(panic_message(&*panic))))
            .unwrap_or_else(|e| UpscalerEvent::Failed(e.to_string()));
        self.out.send(Event::Upscaler(event));
    }
}
