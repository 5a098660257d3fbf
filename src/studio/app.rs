//! The studio's state and its event handling; the panels draw it (see the sibling modules).
//! Its actions live in `curation` (gallery, selection, sliders, tags), `intake` (imports,
//! starting a run) and `upscaler` (learning the project's upscaler); `events` handles what
//! the worker and the background threads answer.
//!
//! What is saved lives in [`Project`] (settings and curation, written by the saver thread);
//! everything else here is rebuilt at start: textures, pending requests, plots.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use eframe::egui;

use super::background::{Background, DialogPurpose, LoadedProject, Message};
use super::broker::{Answer, Failure, LiveRequest, RenderBroker, RenderParts};
use super::gallery::GalleryView;
pub use super::shot_panel::{NearestView, ShotEditor, ShotView};
use super::stats::Stats;
use super::textures::texture;
use crate::data::{ImportProgress, ImportReport};
use crate::device::GpuErrorLog;
use crate::export::{Picture, ShotMeta, ShotToExport};
use crate::preset::Hardware;
use crate::project::{Project, ShotId};
use crate::protocol::{
    Command, Control, Event, GeneratorInfo, ReferenceSet, Ticket, TrainingState, WorkerError,
};
use crate::quality::QualityRecord;
use crate::rng::Rng;
use crate::train::{MetricsRecord, RunSummary, TrainEvent};
use crate::worker::{ImportSource, Wake, WorkerHandle};

mod curation;
mod estimate;
mod events;
mod intake;
mod upscaler;

pub use estimate::{EstimateView, grouped};
pub use upscaler::UpscalerView;

/// Most events handled per frame, so a flood never stalls a frame (the rest wait a frame).
const EVENTS_PER_FRAME: usize = 512;
/// Curation and settings are saved this long after the last change.
const SAVE_DELAY: Duration = Duration::from_millis(400);
/// Folders with fewer images than this get adaptive augmentation by default.
pub const SMALL_FOLDER: usize = 2_000;
/// The fewest steps a run on a small folder gets when its recipe counts epochs: ten epochs of
/// 200 photos are 50 steps, where nothing looks like a product yet. Measured on 200
/// T-shirts (docs/quality-experiments.md, "Small folders"): feature FD 16.8 at 1,000 steps,
/// 11.3 at 4,000, and smaller gains after.
pub const SMALL_FOLDER_MIN_STEPS: u64 = 4_000;
/// Frames of a morph strip.
pub const MORPH_FRAMES: usize = 8;

/// The step limit of a run chosen by time: beyond any run's reach, so the clock ends it.
pub const STEPS_WHEN_TIMED: u64 = 1 << 40;

/// Capacity of an import's event channel (progress is dropped when it is full).
const IMPORT_EVENTS: usize = 256;

/// Notices the status log keeps at least (the oldest go first).
pub const MAX_NOTICES: usize = 200;

/// One line in the status log.
#[derive(Clone, Debug)]
pub struct Notice {
    pub text: String,
    pub is_error: bool,
    pub at: Instant,
}

/// The training panel's live view.
#[derive(Default)]
pub struct TrainingView {
    pub state: Option<TrainingState>,
    pub step: u64,
    pub total_steps: u64,
    pub metrics: Vec<MetricsRecord>,
    pub quality: Vec<QualityRecord>,
    pub preview: Option<(u64, egui::TextureHandle)>,
    pub last_summary: Option<RunSummary>,
    pub train_images: usize,
    /// When the run went to Running (the clock of a run chosen by time).
    pub running_since: Option<Instant>,
    /// How long the recipe on the panel takes here (see `app/estimate.rs`).
    pub estimate: EstimateView,
    /// The typed base-model path (kept while the user types).
    pub base_path_text: String,
    /// The project whose run is stopping because another project was opened: its events
    /// until it ends are not this project's.
    pub left_behind: Option<PathBuf>,
}

/// The export window's view.
#[derive(Default)]
pub struct ExportView {
    pub open: bool,
    pub contact_sheet: bool,
    pub busy: bool,
    /// Files the last export wrote.
    pub last: Vec<PathBuf>,
    /// Learning the project's upscaler (see `app/upscaler.rs`).
    pub upscaler: UpscalerView,
}

/// The import window's view.
#[derive(Default)]
pub struct ImportView {
    pub running: bool,
    /// An import the user did not ask for (to find near-copies): no window pops up.
    pub quiet: bool,
    pub progress: Option<ImportProgress>,
    pub report: Option<ImportReport>,
    pub thumbnails: Vec<egui::TextureHandle>,
    pub window_open: bool,
    /// What the last import prompted (recipe changes, tips), shown in its window.
    pub tips: Vec<String>,
    /// Tips gathered while an import (and its re-read at a new size) is under way.
    pub pending_tips: Vec<String>,
    /// What to do once the import under way has ended.
    pub then: AfterImport,
    /// The user's import, asked for while a quiet one ran: it starts when that one ends.
    pub queued: Option<ImportSource>,
    /// The last finished import's images, handed to a run so it does not read them again.
    pub imported: Option<crate::train::Imported>,
    /// The running import's events: a fresh channel per project (a fresh view), so an import
    /// of the project left behind can never land in the next one.
    pub(super) events: ImportEvents,
    /// Stops the running import (see `spawn_import`).
    pub(super) cancel: Option<Arc<AtomicBool>>,
    /// The folder read quietly for the estimate: once per folder, not again on failure.
    pub(super) quietly_read: Option<PathBuf>,
}

impl ImportView {
    /// Whether an import the user asked for is under way or waiting on a quiet one.
    #[must_use]
    pub fn users_import_pending(&self) -> bool {
        self.running && (!self.quiet || self.queued.is_some())
    }
}

/// An import's event channel (progress is dropped when it is full).
pub struct ImportEvents(pub(super) Sender<Event>, pub(super) Receiver<Event>);

impl Default for ImportEvents {
    fn default() -> Self {
        let (tx, rx) = bounded(IMPORT_EVENTS);
        Self(tx, rx)
    }
}

/// The status log: the newest [`MAX_NOTICES`] at least (trimmed in batches, so a burst
/// costs one move). Reads as a slice, oldest first.
#[derive(Default)]
pub struct Notices(Vec<Notice>);

impl Notices {
    fn push(&mut self, text: String, is_error: bool) {
        self.0.push(Notice {
            text,
            is_error,
            at: Instant::now(),
        });
        if self.0.len() >= 2 * MAX_NOTICES {
            self.0.drain(..MAX_NOTICES);
        }
    }
}

impl std::ops::Deref for Notices {
    type Target = [Notice];
    fn deref(&self) -> &[Notice] {
        &self.0
    }
}

/// What waits to be saved, and since when: saved [`SAVE_DELAY`] after the last change.
#[derive(Default)]
struct SaveSchedule {
    curation: Option<Instant>,
    settings: Option<Instant>,
}

/// A step waiting for the import under way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AfterImport {
    #[default]
    Nothing,
    /// Start a new run (`studio --import DIR --auto-train`): before, there is no folder to
    /// train on.
    Train,
}

pub struct Studio {
    pub project: Project,
    /// The one door to the worker: commands, controls, and every render from ticket to
    /// answer.
    pub(super) broker: RenderBroker,
    pub(super) background: Background,
    pub(super) wake: Wake,
    pub(super) gpu_errors: GpuErrorLog,
    pub(super) compute_description: String,
    /// What the worker trains on: decides which colour recipe a folder of photos gets.
    pub(super) hardware: Hardware,
    pub generator: Option<GeneratorInfo>,
    /// Saved checkpoints of the project's runs (the Checkpoint menu).
    pub(super) checkpoints: Vec<crate::project::CheckpointEntry>,
    pub(super) recent: crate::project::RecentProjects,
    recent_file: Option<PathBuf>,
    /// Held while the project is open here (see `folder_lock`).
    project_lock: Option<crate::folder_lock::FolderLock>,
    // The panels' own state: each panel draws from and acts on its view.
    pub gallery: GalleryView,
    pub shot: ShotView,
    pub training: TrainingView,
    pub import: ImportView,
    pub export: ExportView,
    // Bookkeeping.
    pub notices: Notices,
    pub stats: Stats,
    saves: SaveSchedule,
    pub(super) rng: Rng,
    pub(super) last_frame_start: Option<Instant>,
    pub(super) ctx: Option<egui::Context>,
}

impl Studio {
    /// A studio over `loaded`, talking to `worker`.
    pub fn new(
        loaded: LoadedProject,
        worker: WorkerHandle,
        background: Background,
        wake: Wake,
        gpu_errors: GpuErrorLog,
        compute_description: String,
    ) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        let mut studio = Self {
            project: loaded.project.clone(),
            broker: RenderBroker::new(worker),
            background,
            wake,
            gpu_errors,
            compute_description,
            hardware: Hardware::Cpu,
            generator: None,
            checkpoints: Vec::new(),
            recent: crate::project::RecentProjects::default(),
            recent_file: loaded.recent_file.clone(),
            project_lock: None,
            gallery: GalleryView::default(),
            shot: ShotView::default(),
            training: TrainingView::default(),
            import: ImportView::default(),
            export: ExportView {
                contact_sheet: true,
                ..ExportView::default()
            },
            notices: Notices::default(),
            stats: Stats::default(),
            saves: SaveSchedule::default(),
            rng: Rng::new(seed),
            last_frame_start: None,
            ctx: None,
        };
        studio.adopt(loaded);
        studio
    }

    /// Switches to a freshly loaded project: resets the views and asks for its generator.
    fn adopt(&mut self, loaded: LoadedProject) {
        // The old project's lock goes with it.
        self.project_lock = loaded.lock;
        self.project = loaded.project;
        self.export.upscaler = UpscalerView {
            project_has_own: loaded.has_upscaler,
            ..UpscalerView::default()
        };
        self.checkpoints = loaded.checkpoints;
        // The import view (its folder's images, report, queue) is the old project's. A
        // running import was cancelled before (see `cancel_import`).
        self.import = ImportView::default();
        // The studio keeps the list file it started with; without one the list stays in memory.
        if self.recent_file.is_some() {
            self.recent = loaded.recent;
        }
        self.training = TrainingView {
            metrics: loaded.metrics,
            quality: loaded.quality,
            ..TrainingView::default()
        };
        if let Some(last) = self.training.metrics.last() {
            self.training.step = last.step;
        }
        // The gallery keeps how it is laid out; its shots and selection go with the project.
        self.gallery.textures.clear();
        self.gallery.pictures.clear();
        self.gallery.selected.clear();
        self.gallery.anchor = None;
        self.gallery.scroll_to = None;
        // Answers to the previous project's requests must not land on this one's shots.
        self.broker.clear();
        self.shot = ShotView::default();
        self.generator = None;
        if let Some(id) = self.project.settings.generator_id.clone() {
            self.send(Command::LoadGenerator {
                path: self.project.generator_path(&id),
                pin_dir: self.project.generators_dir(),
            });
        }
        self.remember_recent();
        self.notify(format!("Opened project {}", self.project.root.display()));
    }

    /// Opens the project in `root` (read off the UI thread); when it is loaded, the current
    /// project's run stops with a checkpoint and its import is cancelled.
    pub fn open_project(&self, root: PathBuf) {
        self.background.load_project(root, false);
    }

    fn remember_recent(&mut self) {
        self.recent.push(&self.project.root);
        if let Some(path) = self.recent_file.clone()
            && let Ok(bytes) = serde_json::to_vec_pretty(&self.recent)
        {
            // The recent list is a convenience; a failed queue is not worth a message.
            let _ = self.background.save(path, bytes);
        }
    }

    /// Why `shot`'s render failed, if it did (its tile offers Retry).
    #[must_use]
    pub fn render_failure(&self, shot: ShotId) -> Option<&str> {
        self.broker.failure(shot)
    }

    pub fn notify(&mut self, text: impl Into<String>) {
        self.push_notice(text.into(), false);
    }

    pub fn report_error(&mut self, text: impl Into<String>) {
        self.push_notice(text.into(), true);
    }

    fn push_notice(&mut self, text: String, is_error: bool) {
        self.notices.push(text, is_error);
    }

    /// Pause, Continue, Stop: always delivered (see [`Control`]).
    pub(super) fn control(&mut self, message: Control) {
        if !self.broker.control(message) {
            self.report_error("The worker has stopped; restart Atelier to train again.");
        }
    }

    /// Sends a command; `false` (and a notice) when the worker's queue is full or it is gone.
    pub(super) fn send(&mut self, command: Command) -> bool {
        let sent = self.broker.send(command);
        if !sent {
            self.report_error("The worker is busy or gone; the request was not sent.");
        }
        sent
    }

    // ----- saving ---------------------------------------------------------------------------

    pub fn mark_curation(&mut self) {
        self.saves.curation = Some(Instant::now());
    }

    pub fn mark_settings(&mut self) {
        self.saves.settings = Some(Instant::now());
    }

    fn save_if_due(&mut self) {
        let due = |t: Option<Instant>| t.is_some_and(|t| t.elapsed() >= SAVE_DELAY);
        if due(self.saves.curation) || due(self.saves.settings) {
            self.flush_saves();
        } else if (self.saves.curation.is_some() || self.saves.settings.is_some())
            && let Some(ctx) = &self.ctx
        {
            ctx.request_repaint_after(SAVE_DELAY);
        }
    }

    /// Hands pending saves to the saver thread now.
    pub fn flush_saves(&mut self) {
        if self.saves.curation.take().is_some() {
            let json = serde_json::to_vec_pretty(&self.project.curation);
            self.queue_save(crate::project::CURATION_FILE, json);
        }
        if self.saves.settings.take().is_some() {
            let json = serde_json::to_vec_pretty(&self.project.settings);
            self.queue_save(crate::project::PROJECT_FILE, json);
        }
    }

    fn queue_save(&mut self, file: &str, json: serde_json::Result<Vec<u8>>) {
        match json {
            Ok(bytes) => {
                if !self.background.save(self.project.root.join(file), bytes) {
                    self.report_error(format!("Could not queue the save of {file}."));
                }
            }
            Err(e) => self.report_error(format!("Cannot encode {file}: {e}")),
        }
    }

    // ----- gallery actions ------------------------------------------------------------------

    /// Records a checkpoint written at `step`, with the evaluation of that step if any.
    fn remember_checkpoint(&mut self, path: PathBuf, step: u64) {
        let quality = self
            .training
            .quality
            .iter()
            .rev()
            .find(|q| q.step == step)
            .cloned();
        let entry = crate::project::CheckpointEntry {
            path,
            step: Some(step),
            quality,
        };
        if let Some(existing) = self.checkpoints.iter_mut().find(|e| e.path == entry.path) {
            *existing = entry;
        } else {
            self.checkpoints.push(entry);
            self.checkpoints.sort_by(|a, b| a.path.cmp(&b.path));
        }
    }

    /// Whether the current run has a checkpoint to resume from (no disk access: known from
    /// the project load and the training events).
    #[must_use]
    pub fn can_resume(&self) -> bool {
        self.project
            .settings
            .current_run
            .as_ref()
            .is_some_and(|run| {
                let latest = self.project.run_dir(run).join(crate::train::LATEST);
                self.checkpoints.iter().any(|e| e.path == latest)
            })
    }

    /// The selected shots with their pictures and metadata, ready to export.
    #[must_use]
    pub fn selection_for_export(&self) -> Vec<ShotToExport> {
        self.gallery
            .selected
            .iter()
            .filter_map(|id| {
                let shot = self.project.curation.get(*id)?;
                let picture = self.gallery.pictures.get(id)?.clone();
                Some(ShotToExport {
                    id: *id,
                    picture,
                    meta: ShotMeta {
                        seed: if shot.edited { None } else { shot.seed },
                        latent: shot.latent.clone(),
                        truncation: shot.truncation,
                        checkpoint_id: shot.generator_id.clone(),
                        class: shot.class.clone(),
                        app_version: env!("CARGO_PKG_VERSION").to_string(),
                        upscaler: None,
                        edits: shot.edits.clone(),
                    },
                })
            })
            .collect()
    }

    pub fn export_selection(&mut self) {
        let shots = self.selection_for_export();
        if shots.is_empty() {
            self.report_error("Select rendered shots to export.");
            return;
        }
        self.export.busy = true;
        self.flush_saves();
        self.background.export(
            shots,
            self.project.settings.export.clone(),
            self.export.contact_sheet,
            self.project.root.clone(),
        );
    }

    /// Frame bookkeeping: frame time statistics.
    pub fn frame_started(&mut self) -> Instant {
        let now = Instant::now();
        if let Some(last) = self.last_frame_start {
            let training = matches!(self.training.state, Some(TrainingState::Running));
            self.stats
                .interval((now - last).as_secs_f32() * 1000.0, training);
        }
        self.last_frame_start = Some(now);
        now
    }

    /// Stops training (checkpointing), ends the worker, records the generator its last
    /// checkpoint pinned, and waits until every save is on disk.
    pub fn shutdown(&mut self) {
        self.flush_saves();
        self.broker.shutdown();
        while let Ok(event) = self.broker.events().try_recv() {
            if let Event::GeneratorReady(info) = event
                && info.pinned.starts_with(self.project.generators_dir())
            {
                self.project.settings.generator_id = Some(info.id);
                self.mark_settings();
            }
        }
        self.flush_saves();
        self.background.finish();
    }
}

/// The current run's folder name (empty when there is none).
fn run_name(studio: &Studio) -> String {
    studio
        .project
        .settings
        .current_run
        .clone()
        .unwrap_or_default()
}

impl Studio {
    /// Tells the studio what the worker trains on (the window's GPU, a separate one, or the
    /// CPU), so colour photos get the recipe that fits it. A new studio assumes the CPU.
    pub fn set_hardware(&mut self, hardware: Hardware) {
        self.hardware = hardware;
    }
}
