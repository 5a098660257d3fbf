//! Training: the family seam's trainer side, the shared GAN step, the session that steps any
//! family, metrics, and the run driver (folders, logs, previews, evaluations, checkpoints).
//!
//! A hand-written loop on burn's autodiff (burn's `Learner` assumes one model and one
//! optimiser; a GAN has two of each). Knows nothing of the GUI or the terminal: progress goes
//! out through a callback of [`TrainEvent`]s.

mod base_model;
mod estimate;
pub mod gan;
mod likelihood;
mod metrics;
mod periodic;
pub mod resume;
mod run;
mod run_logs;
mod run_options;
mod session;
mod trainer;

pub use crate::checkpoint::{
    BEST, Checkpoint, CheckpointError, FORMAT_VERSION, LATEST, TrainState,
};
pub use base_model::load_base;
pub use estimate::{RunEstimate, estimate_run};
pub use gan::{ADA_SPEED_IMAGES, ada_adjust};
pub use metrics::{MetricsRecord, read_all as read_metrics};
pub use run::{
    Imported, PREVIEW_COUNT, RUN_INFO, RunInfo, RunOptions, RunSummary, StepOutcome, TrainEvent,
    TrainRun, train_run,
};
pub use session::{TrainSession, steps_per_epoch};
pub use trainer::{DeviceBatch, Restore, Trainer, trainer_for};

use thiserror::Error;

use crate::data::ImportError;
use crate::export::ExportError;
use crate::quality::EvalError;
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
    #[error(transparent)]
    Eval(#[from] EvalError),
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
    #[error(transparent)]
    Folder(#[from] crate::folder_lock::FolderError),
    #[error("the training split holds {0} images; at least 2 are needed")]
    TooFewImages(usize),
    #[error("the device failed: {0}")]
    Device(String),
    /// Remote training ended early (the server went away, refused the token…), said whole.
    #[error("{0}")]
    Remote(String),
}
