//! The newest generator's encoder (photo → latent, projection's starting point), taught in
//! the background a step per turn while no training runs, and kept beside the pinned
//! generator file as `<id>.encoder`, so each generator is taught once.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Worker;
use crate::latent::{ENCODER_SEED, ENCODER_STEPS, EncoderTraining, LatentEncoder};
use crate::sample::Sampler;

/// An encoder being taught.
pub(super) struct EncoderJob {
    file: PathBuf,
    sampler: Arc<Sampler>,
    training: EncoderTraining,
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
        let training = EncoderTraining::new(&sampler, ENCODER_STEPS, ENCODER_SEED);
        self.encoder = Some(EncoderJob {
            file,
            sampler,
            training,
        });
    }

    /// Whether an encoder is being taught and may step now (no training is running).
    pub(super) fn encoder_may_step(&self) -> bool {
        self.encoder.is_some() && self.training.as_ref().is_none_or(|t| t.paused)
    }

    /// One step of the encoder being taught, while no training runs; saved when done.
    pub(super) fn encoder_one_step(&mut self) {
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
        let file = job.file;
        if let Some(bytes) = job.training.finish().and_then(|e| e.to_bytes().ok()) {
            let _ = crate::fsutil::write_atomic(&file, &bytes);
        }
    }
}
