//! Sharp print-size exports: a learnt upscaler (see [`crate::model::upscaler`]) trained on a
//! designer's own photos, its file, and enlarging a shot with it.
//!
//! An upscaler file is an Atelier checkpoint (same layout, SHA-256 trailer and atomic writes)
//! whose recipe text holds an `[upscaler]` and a `[training]` table, with the network's record
//! and, while it trains, its optimiser's. Knows nothing of the GUI.

mod apply;
mod choose;
mod file;
mod measure;
mod pairs;
mod train;

pub use apply::{LearntUpscaler, Upscaling, enlarge_lanczos};
pub use choose::{ChosenUpscaler, UPSCALER_FILE, choose_upscaler, upscaler_of_folder};
pub use file::{
    NETWORK_RECORD, SHIPPED_UPSCALER, UpscalerFile, UpscalerRecipe, UpscalerTrainSettings,
};
pub use measure::{Comparison, FidelityFigures, compare_on_photos, psnr, side_by_side, ssim_luma};
pub use pairs::{PairBatch, PhotoPool, PoolReport};
pub use train::{FINE_TUNE_LR_DIVISOR, RunLimits, TrainProgress, UpscalerTraining};

use thiserror::Error;

/// What can go wrong with an upscaler.
#[derive(Debug, Error)]
pub enum UpscaleError {
    #[error("upscaler file: {0}")]
    File(#[from] crate::checkpoint::CheckpointError),
    #[error("{path} is not an upscaler: {message}")]
    NotAnUpscaler { path: String, message: String },
    #[error(transparent)]
    Config(#[from] crate::model::ConfigError),
    #[error("upscaler network record: {0}")]
    Record(String),
    #[error("no usable photo to learn from in {folder}: {why}")]
    NoPhotos { folder: String, why: String },
    #[error("the device failed: {0}")]
    Device(String),
    #[error("a {channels}-channel picture cannot be enlarged by a {model}-channel upscaler")]
    Channels { channels: usize, model: usize },
}
