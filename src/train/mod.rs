//! GAN training: the step, the EMA generator, checkpoints, metrics, and the run driver.
//!
//! A hand-written loop on burn's autodiff (burn's `Learner` assumes one model and one
//! optimiser; a GAN has two of each). Knows nothing of the GUI or the terminal: progress goes
//! out through a callback of [`TrainEvent`]s.

mod augment;
mod checkpoint;
mod class_fidelity;
mod classifier;
mod consistency;
mod ema;
mod evaluate;
mod feature_distance;
mod lecam;
mod metrics;
mod run;
mod session;

pub use augment::{ADA_SPEED_IMAGES, ada_adjust, augment};
pub use checkpoint::{BEST, Checkpoint, CheckpointError, FORMAT_VERSION, LATEST, TrainState, hex};
pub use class_fidelity::{ClassJudge, ClassScore};
pub use ema::{ema_update, warmed_up_decay};
pub use evaluate::{EvalCache, FeatureReference, MAX_SHOTS as MAX_EVAL_IMAGES, evaluate, held_out};
pub use feature_distance::{
    FEATURE_CHANNELS, FEATURE_RESOLUTION, FeatureJudge, SHIPPED_NAME as SHIPPED_FEATURE_JUDGE,
};
pub use metrics::{MetricsRecord, read_all as read_metrics};
pub use run::{
    PREVIEW_COUNT, RUN_INFO, RunInfo, RunOptions, RunSummary, StepOutcome, TrainEvent, TrainRun,
    load_base, train_run,
};
pub use session::{GanSession, steps_per_epoch};

use thiserror::Error;

use crate::data::ImportError;
use crate::export::ExportError;
use crate::sample::SampleError;

#[derive(Debug, Error)]
pub enum TrainError {
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Sample(#[from] SampleError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error(
        "training diverged at step {step}: {what} is not finite; the last good checkpoint is kept (lower the learning rates and --resume)"
    )]
    Diverged { step: u64, what: String },
    #[error("{0}")]
    Incompatible(String),
    #[error("cannot load {what} from the checkpoint: {message}")]
    Record { what: &'static str, message: String },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("the training split holds {0} images; at least 2 are needed")]
    TooFewImages(usize),
    #[error("the device failed: {0}")]
    Device(String),
}
