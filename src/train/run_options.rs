//! What starting a run takes: the folder, the run folder, the recipe, the budget, and the
//! folder's images when the front end has already imported them.

use std::path::PathBuf;
use std::sync::Arc;

use crate::data::{Dataset, ImportOptions, ImportReport};
use crate::preset::Preset;

#[derive(Clone, Debug)]
pub struct RunOptions {
    pub data_dir: PathBuf,
    pub run_dir: PathBuf,
    /// The recipe. On resume only its `train.epochs` / `train.steps` are taken (to extend a
    /// run); everything else comes from the checkpoint.
    pub preset: Preset,
    pub resume: bool,
    /// A wall-clock budget in minutes, counted from the first step (evaluations and
    /// checkpoints included); with `--resume`, minutes more. With a step or epoch budget too,
    /// whichever ends first. The run checkpoints and stops at the first step boundary past it.
    pub minutes: Option<f64>,
    /// The folder as the front end already imported it (the studio's import report): used
    /// instead of reading every photo again when it was imported from `data_dir` with this
    /// recipe's size, channels and squaring. `None` (the command line): the run imports.
    pub imported: Option<Imported>,
}

/// A folder's import, to hand to a run (see [`RunOptions::imported`]).
#[derive(Clone, Debug)]
pub struct Imported {
    pub dataset: Arc<Dataset>,
    pub report: ImportReport,
    pub options: ImportOptions,
}
