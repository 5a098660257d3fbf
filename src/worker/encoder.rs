//! The newest generator's encoder (photo → latent, projection's starting point), taught in
//! the background and kept beside the pinned generator file as `<id>.encoder`, so each
//! generator is taught once. While no training runs it takes a step every turn; while a run
//! trains, one every [`TURNS_PER_STEP_WHILE_TRAINING`] turns. A new checkpoint's generator
//! carries the last encoder on instead of starting afresh: a kept one goes on for
//! [`ENCODER_REFRESH_STEPS`] steps, one still being taught turns to the newer generator. So
//! while a run trains, a checkpoint gets an encoder every few checkpoints, not each one.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Worker;
use crate::latent::{
    ENCODER_REFRESH_STEPS, ENCODER_SEED, ENCODER_STEPS, EncoderTraining, LatentEncoder,
};

/// While a run trains, the encoder steps once per this many worker turns (a few per cent of
/// the training's time).
const TURNS_PER_STEP_WHILE_TRAINING: u64 = 8;
use crate::sample::Sampler;

/// An encoder being taught.
pub(super) struct EncoderJob {
    file: PathBuf,
    sampler: Arc<Sampler>,
    training: EncoderTraining,
    /// Taught and kept for this generator: it waits for the next one.
    kept: bool,
}

/// Where the encoder of a pinned generator file is kept.
#[must_use]
pub fn encoder_file(pinned: &Path) -> PathBuf {
    pinned.with_extension("encoder")
}

/// The kept encoder of a pinned generator, if it was taught.
#[must_use]
pub fn kept_encoder(pinned: &Path, sampler: &Sampler) -> Option<LatentEncoder> {
    let bytes = std::fs::read(encoder_file(pinned)).ok()?;
    LatentEncoder::from_bytes(sampler, &bytes).ok()
}

impl Worker {
    /// Starts teaching the encoder of a pinned generator that has none (replacing an older
    /// generator's unfinished one); families without a latent space have none.
    pub(super) fn teach_encoder_for(&mut self, pinned: &Path) {
        let file = encoder_file(pinned);
        if file.exists() {
            return;
        }
        let Ok(sampler) = self.samplers.get(pinned) else {
            return;
        };
        if sampler.model.family().latent_tools().is_err() {
            return;
        }
        let training = match self.encoder.take() {
            // The same run's newer checkpoint: carry the encoder on. One still being taught
            // just turns to the newer generator (extending it at every checkpoint would
            // never let it finish).
            Some(mut job) if job.sampler.model == sampler.model => {
                if job.kept {
                    job.training.extend(ENCODER_REFRESH_STEPS);
                }
                job.training
            }
            _ => EncoderTraining::new(&sampler, ENCODER_STEPS, ENCODER_SEED),
        };
        self.encoder = Some(EncoderJob {
            file,
            sampler,
            training,
            kept: false,
        });
    }

    /// Whether an encoder is being taught and may step this turn.
    pub(super) fn encoder_may_step(&self) -> bool {
        let training = self.training.as_ref().is_some_and(|t| !t.paused);
        self.encoder.as_ref().is_some_and(|job| !job.kept)
            && (!training || self.turns.is_multiple_of(TURNS_PER_STEP_WHILE_TRAINING))
    }

    /// One step of the encoder being taught, if it may step this turn; kept when done.
    pub(super) fn encoder_one_step(&mut self) {
        self.turns = self.turns.wrapping_add(1);
        if !self.encoder_may_step() {
            return;
        }
        let Some(mut job) = self.encoder.take() else {
            return;
        };
        let stepped = catch_unwind(AssertUnwindSafe(|| job.training.step(&job.sampler)));
        if !matches!(stepped, Ok(Ok(()))) {
            // A failed encoder only costs projection its extra starting point.
            return;
        }
        if !job.training.done() {
            self.encoder = Some(job);
            return;
        }
        if let Some(bytes) = job.training.encoder().and_then(|e| e.to_bytes().ok()) {
            let _ = crate::fsutil::write_atomic(&job.file, &bytes);
        }
        job.kept = true;
        self.encoder = Some(job);
    }
}
