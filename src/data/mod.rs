//! Product images in memory: importing a folder, the dataset, and its train/val/test split.
//!
//! Knows nothing of models, devices or the GUI. Pixels stay `u8` (a 50,000-image 64 px RGB
//! set is 600 MB as u8 and would be 2.4 GB as f32); batches are converted on the way out.

mod budget;
mod dataset;
mod decode;
pub mod idx;
mod import;
mod lanczos;
mod photos;
mod split;

pub use lanczos::resize_lanczos3;

pub use dataset::{Dataset, u8_to_unit_range};
pub use decode::read_for_model;
pub use import::{
    FolderProbe, ImportError, ImportOptions, ImportProgress, ImportReport, MAX_PIXELS, PROBE_FILES,
    SkipReason, Skipped, import_folder, import_folder_until, probe_folder, shows_colour,
};
pub use photos::{image_files, read_photo};
pub use split::{Split, SplitPart};
