//! The typed messages between the studio (or any front end) and the worker thread.
//!
//! No egui and no tensors here: commands carry paths, latents and settings; events carry
//! pictures, figures and typed errors. The studio sends [`Command`]s and drains [`Event`]s once
//! per frame; the worker never blocks on a full event channel (see `worker`).

use std::path::PathBuf;
use std::sync::Arc;

use thiserror::Error;

use crate::checkpoint::CheckpointError;
use crate::data::{Dataset, ImportError, ImportOptions, ImportProgress, ImportReport};
use crate::export::{Picture, ShotMeta};
use crate::latent::{Directions, Taste};
use crate::model::ModelConfig;
use crate::preset::ColourRecipe;
use crate::sample::SampleError;
use crate::train::{RunOptions, RunSummary, TrainError, TrainEvent};

/// Matches a render result to its request.
pub type Ticket = u64;

/// Why a picture is wanted; decides how requests are queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RenderKind {
    /// New or re-rendered gallery shots: every request is served, in order.
    Gallery,
    /// The selected shot as the sliders move it: only the newest pending request is served.
    Live,
    /// An interpolation strip between two shots: only the newest pending request is served.
    Morph,
    /// An autoregressive model's completions of one picture (the request's `completion`):
    /// only the newest pending request is served.
    Completion,
}

impl RenderKind {
    /// Whether a newer request of this kind makes older pending ones worthless.
    #[must_use]
    pub fn coalesces(self) -> bool {
        matches!(self, Self::Live | Self::Morph | Self::Completion)
    }
}

#[derive(Clone, Debug)]
pub struct RenderRequest {
    pub ticket: Ticket,
    pub kind: RenderKind,
    /// A pinned generator file (see [`GeneratorInfo::pinned`]).
    pub generator: PathBuf,
    /// Latents as rendered: already moved by sliders and truncated.
    pub latents: Vec<Vec<f32>>,
    /// Conditional generators: the class of each latent by name (empty, or one per latent;
    /// `None` draws the mix of every class).
    pub classes: Vec<Option<String>>,
    /// [`RenderKind::Completion`]: the picture to complete, one completion per latent.
    pub completion: Option<Completion>,
}

/// A picture to complete: what an autoregressive model keeps, and draws the rest around.
#[derive(Clone, Debug)]
pub struct Completion {
    /// Channel-major `u8` at the model's size.
    pub image: Vec<u8>,
    /// Row-major pixels kept as they are.
    pub keep: Vec<bool>,
}

/// Training as the studio asks for it.
#[derive(Clone, Debug)]
pub struct TrainRequest {
    pub options: RunOptions,
    /// Where generators behind checkpoints are pinned (the project's `generators/`).
    pub pin_dir: PathBuf,
}

#[derive(Clone, Debug)]
pub enum Command {
    /// Load a checkpoint (full or generator-only) for sampling, pin its generator into
    /// `pin_dir`, and compute its latent directions.
    LoadGenerator {
        path: PathBuf,
        pin_dir: PathBuf,
    },
    StartTraining(Box<TrainRequest>),
    Render(RenderRequest),
    /// The imported images that nearest-image lookups search (their training split).
    SetReference(Box<ReferenceSet>),
    /// Find the training image nearest to `picture` (coalesced: only the newest is served).
    FindNearest {
        ticket: Ticket,
        picture: Picture,
    },
    /// Learn (or go on learning) the project's upscaler from the photos in `data`, for
    /// `minutes` of this worker's time, saving to `out`. Steps alternate with training steps.
    TrainUpscaler {
        data: PathBuf,
        out: PathBuf,
        minutes: f64,
    },
    /// Time a short warm-up of `options`' recipe (see [`crate::train::estimate_run`]); the
    /// answer carries `key` back. Refused while a run trains: its own clock tells the time.
    EstimateRun {
        key: u64,
        options: Box<crate::train::RunOptions>,
    },
    /// Learn a slider's latent direction (see [`SliderRequest`]); answered by
    /// [`Event::SliderLearnt`].
    LearnSlider(Box<SliderRequest>),
    /// Bring a photo into a generator (see [`crate::invert`]): answered by
    /// [`Event::InvertProgress`] while it works and one [`Event::Inverted`]. A newer request
    /// replaces one under way.
    InvertPhoto(Box<InvertRequest>),
}

/// A photo to bring into a generator.
#[derive(Clone, Debug)]
pub struct InvertRequest {
    /// Carried back in the answers.
    pub key: u64,
    /// The pinned generator file.
    pub generator: PathBuf,
    /// A checkpoint whose discriminator gives the feature loss (the run's), if any.
    pub critic: Option<PathBuf>,
    pub photo: PathBuf,
    /// Set to stop between two steps.
    pub cancel: Arc<std::sync::atomic::AtomicBool>,
}

/// A photo brought into a generator.
#[derive(Clone, Debug)]
pub struct InvertedPhoto {
    /// The photo as the generator's size makes it.
    pub photo: Picture,
    pub projection: Picture,
    pub latent: Vec<f32>,
    /// Mean absolute pixel difference, in [0, 1]; `start_l1` is the best starting seed's.
    pub pixel_l1: f32,
    pub start_l1: f32,
    /// Content id of the generator the latent belongs to.
    pub generator_id: String,
    /// A conditional model's class the search found for the photo.
    pub class: Option<String>,
}

/// Shots of one generator, for the worker to render.
#[derive(Clone, Debug)]
pub struct ShotsToRender {
    /// A pinned generator file.
    pub generator: PathBuf,
    /// Latents as rendered (moved by sliders and truncated).
    pub latents: Vec<Vec<f32>>,
    /// One class name per latent for conditional generators (empty otherwise).
    pub classes: Vec<Option<String>>,
}

/// Where a slider's quality comes from.
#[derive(Clone, Debug)]
pub enum SliderSource {
    /// A designer's picks: shots that have the quality and shots that do not.
    Picks {
        with: Vec<ShotsToRender>,
        without: Vec<ShotsToRender>,
    },
    /// A quality learnt before, now to be found in another generator.
    Taste(Taste),
}

/// Learn a slider on `generator`: its quality from `source`, its direction from the
/// generator's own shots scored by that quality, made orthogonal to `others`.
#[derive(Clone, Debug)]
pub struct SliderRequest {
    /// Carried back in the answer.
    pub key: u64,
    /// The pinned generator the slider moves.
    pub generator: PathBuf,
    pub source: SliderSource,
    /// The other active sliders' latent vectors.
    pub others: Vec<Vec<f32>>,
}

/// A learnt slider for one generator.
#[derive(Clone, Debug, PartialEq)]
pub struct LearntDirection {
    /// Content id of the generator it moves.
    pub generator_id: String,
    pub taste: Taste,
    /// Share of held-out picks the quality told apart (new picks only).
    pub held_out_accuracy: Option<f32>,
    /// The unit latent vector of one slider unit.
    pub vector: Vec<f32>,
    /// Share of the direction left after removing what the other sliders already move, in
    /// [0, 1]: near 0, the quality is one the other sliders already give.
    pub kept: f32,
}

/// What a designer's click on Pause, Continue or Stop asks, or the window's closing: sent on a
/// channel of its own that the worker reads before any command, so it is never refused for a
/// full command channel or queued behind renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Pause,
    Continue,
    /// Checkpoint and end the run.
    Stop,
    /// Stop learning the upscaler (it is saved first).
    StopUpscaler,
    /// Give up a render request: one being drawn stops at its next network pass, one
    /// waiting is dropped; either is answered with [`WorkerError::Cancelled`].
    CancelRender(Ticket),
    /// Checkpoint, stop everything and end the worker.
    Shutdown,
}

/// Images to search for near-copies, with the split that says which are training images.
#[derive(Clone, Debug)]
pub struct ReferenceSet {
    pub dataset: Arc<Dataset>,
    pub split: [f64; 3],
    pub split_seed: u64,
}

/// A generator ready to sample, as the UI needs to know it.
#[derive(Clone, Debug)]
pub struct GeneratorInfo {
    /// Content id of the generator weights.
    pub id: String,
    /// The generator-only file that reproduces shots from these weights.
    pub pinned: PathBuf,
    /// The checkpoint it came from.
    pub source: PathBuf,
    pub model: ModelConfig,
    /// Training step of the weights.
    pub step: u64,
    /// Principal directions of its shots (GANSpace).
    pub directions: Directions,
    /// Closed-form directions of its first layer (SeFa); empty when the family has none.
    pub closed_form: Directions,
}

/// Training-state changes that are not engine events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainingState {
    /// No run in memory (a start failed, or a run ended without a summary).
    Idle,
    Preparing,
    Running,
    Paused,
    Stopping,
}

#[derive(Debug)]
pub enum Event {
    GeneratorReady(GeneratorInfo),
    Rendered {
        ticket: Ticket,
        kind: RenderKind,
        pictures: Vec<Picture>,
        /// Time the worker spent rendering this request.
        render_ms: f32,
    },
    Train(TrainEvent),
    TrainingState(TrainingState),
    /// A preview grid (the fixed latents) as pixels, so the UI never reads the disk.
    PreviewGrid {
        step: u64,
        picture: Picture,
    },
    TrainingEnded(RunSummary),
    ImportProgress(ImportProgress),
    Imported {
        report: ImportReport,
        /// What the images were imported at (a run reuses them when its recipe asks the same).
        options: ImportOptions,
        /// A few imported images, for the report's thumbnail strip.
        thumbnails: Vec<Picture>,
        /// The images themselves, for the worker's nearest-training-image lookups.
        dataset: Arc<Dataset>,
        /// The colour recipe the photos were imported for, when the import fitted one (see
        /// `spawn_import`); the studio then switches to it and says why.
        fitted_recipe: Option<ColourRecipe>,
    },
    /// The training image closest to a shot (memorisation check).
    Nearest {
        ticket: Ticket,
        /// The closest training image and its RMS distance to the shot (0–1 scale).
        picture: Picture,
        distance: f32,
        /// Half the median distance from held-out real images to their nearest training
        /// image: a shot closer than this is flagged as a near-copy.
        threshold: f32,
    },
    /// Dropped files were Atelier exports: the shots they carry, to add to the gallery.
    ShotsDropped(Vec<(PathBuf, ShotMeta)>),
    /// How learning the upscaler goes.
    Upscaler(UpscalerEvent),
    /// How far a render that takes many network passes (an autoregressive model draws one
    /// per pixel) has come.
    RenderProgress {
        ticket: Ticket,
        /// Passes done, and in all.
        done: usize,
        total: usize,
    },
    /// A render request that could not be served: its tiles show the error and a Retry.
    RenderFailed {
        ticket: Ticket,
        error: WorkerError,
    },
    /// The answer to [`Command::EstimateRun`].
    RunEstimated {
        key: u64,
        result: Result<crate::train::RunEstimate, String>,
    },
    SliderLearnt {
        key: u64,
        result: Result<LearntDirection, String>,
    },
    InvertProgress {
        key: u64,
        /// Share done, in [0, 1].
        done: f32,
    },
    Inverted {
        key: u64,
        result: Result<InvertedPhoto, String>,
    },
    Failed(WorkerError),
}

impl Event {
    /// Whether a later event of the same kind makes this one worth nothing: progress, the
    /// preview grid, metrics (also in the run's `metrics.jsonl`). A worker whose listener is
    /// behind may drop these; every other event (results, errors, ends) must arrive.
    #[must_use]
    pub fn superseded_by_newer(&self) -> bool {
        matches!(
            self,
            Self::PreviewGrid { .. }
                | Self::ImportProgress(_)
                | Self::RenderProgress { .. }
                | Self::Train(
                    crate::train::TrainEvent::Stepped { .. } | crate::train::TrainEvent::Metrics(_)
                )
                | Self::Upscaler(UpscalerEvent::Progress { .. })
        )
    }
}

/// News of the upscaler the worker is learning.
#[derive(Clone, Debug, PartialEq)]
pub enum UpscalerEvent {
    /// Photos read; learning starts from the shipped upscaler, or goes on from the saved
    /// file at step `resumed_at`.
    Started {
        photos: usize,
        resumed_at: Option<u64>,
    },
    Progress {
        step: u64,
        /// Seconds of this session, and the session's budget.
        seconds: f64,
        budget_seconds: f64,
        loss: f32,
    },
    /// Saved and stopped (budget spent, or asked to stop).
    Finished { path: PathBuf, steps: u64 },
    /// Learning stopped on an error; the last saved file is intact.
    Failed(String),
}

#[derive(Debug, Error)]
pub enum WorkerError {
    #[error("training stopped: {0}")]
    Train(#[from] TrainError),
    #[error("cannot load the generator {path}: {source}")]
    Load { path: String, source: SampleError },
    #[error("cannot read the checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("rendering failed: {0}")]
    Render(SampleError),
    #[error("import failed: {0}")]
    Import(#[from] ImportError),
    #[error("cannot copy the dropped files into {into}: {source}")]
    Copy {
        into: String,
        source: std::io::Error,
    },
    #[error(
        "the shot is {shot} px with {shot_channels} channel(s) but the imported images are {data} px with {data_channels}; re-import at the model's size"
    )]
    ReferenceMismatch {
        shot: usize,
        shot_channels: usize,
        data: usize,
        data_channels: usize,
    },
    #[error("cancelled")]
    Cancelled,
    #[error("no generator is loaded yet; open a checkpoint or train first")]
    NoGenerator,
    #[error("{0} gallery renders are already waiting; try again when they are done")]
    Busy(usize),
    #[error("a training run is already going; stop it first")]
    AlreadyTraining,
    #[error(
        "a GPU error hit training step {step}; rolled back to the checkpoint at step {restored}: {message}"
    )]
    RolledBack {
        step: u64,
        restored: u64,
        message: String,
    },
    #[error("the worker hit an internal error ({0}); the last checkpoint is intact")]
    Panicked(String),
}
