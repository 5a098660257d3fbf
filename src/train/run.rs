//! The run driver: import, train to the budget, log, preview, checkpoint, stop cleanly.
//!
//! A run folder holds `preset.toml` (the recipe as run), `import-report.txt`, `metrics.jsonl`,
//! `previews/step-NNNNNNN.png` plus `preview.png` (the latest), and `checkpoint.atl`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use burn::tensor::Device;

use super::TrainError;
use super::base_model::{adopt_base_model, load_base, match_classes};
use super::metrics::MetricsRecord;
use super::periodic::Periodic;
use super::run_logs::{append_json_line, truncate_json_lines};
pub use super::run_options::{Imported, RunOptions};
use super::session::TrainSession;
use crate::checkpoint::{BEST, Checkpoint, LATEST};
use crate::data::{ImportOptions, ImportProgress, ImportReport, Split, import_folder};
use crate::device::on_compute_pool;
use crate::fsutil::write_atomic;
use crate::latent::latent_for_seed;
use crate::preset::{Preset, TrainPreset};
use crate::quality::{EvalCache, QualityRecord};
use crate::sample::Sampler;

/// The file name of a run's provenance record.
pub use super::run_logs::RunInfo;

pub const RUN_INFO: &str = "run.json";

/// Number of fixed preview latents (an 8×8 grid).
pub const PREVIEW_COUNT: usize = 64;

/// The longest a call of [`TrainRun::step`] draws a preview's or evaluation's shots (at
/// least one network pass): what a Stop in the studio waits for at most, besides a step.
const PERIODIC_SLICE: Duration = Duration::from_millis(100);

/// What a run reports while it goes (serde: `train --events-json` prints it for remote runs).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum TrainEvent {
    Imported(ImportReport),
    Started {
        step: u64,
        total_steps: u64,
        steps_per_epoch: u64,
        batch: usize,
        train_images: usize,
    },
    /// After every step (cheap: no device sync).
    Stepped {
        step: u64,
        total_steps: u64,
    },
    Metrics(MetricsRecord),
    /// A held-out evaluation; `best` when it beat every earlier one (saved as `best.atl`).
    Quality {
        record: QualityRecord,
        best: bool,
    },
    Preview {
        step: u64,
        path: PathBuf,
    },
    Checkpoint {
        step: u64,
        path: PathBuf,
    },
    /// Something the user should know that is not an error (a resumed run following the
    /// recipe's new schedule).
    Notice(String),
}

#[derive(Clone, Debug)]
pub struct RunSummary {
    pub step: u64,
    pub total_steps: u64,
    pub cancelled: bool,
    /// Stopped because the held-out SWD had not improved for `patience` evaluations.
    pub early_stopped: bool,
    /// Stopped because the wall-clock budget (`minutes`) was spent.
    pub time_up: bool,
    pub best_swd: Option<f64>,
    pub last_metrics: Option<MetricsRecord>,
}

pub(super) fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> TrainError {
    let path = path.display().to_string();
    move |source| TrainError::Io { what, path, source }
}

/// The recipe and, on resume, the checkpoint to continue; refuses to start over a run or to
/// resume nothing.
fn run_recipe(
    options: &RunOptions,
) -> Result<(Preset, Option<Checkpoint>, Vec<String>), TrainError> {
    let run_dir = &options.run_dir;
    let ckpt_path = run_dir.join(LATEST);
    if options.resume {
        if !ckpt_path.exists() {
            return Err(TrainError::Incompatible(format!(
                "{} holds no checkpoint to resume; start the run without --resume",
                run_dir.display()
            )));
        }
        let checkpoint = Checkpoint::load(&ckpt_path)?;
        let preset = Preset::from_toml("checkpoint", &checkpoint.preset_toml)
            .map_err(|e| TrainError::Incompatible(e.to_string()))?;
        let changes = super::resume::resume_changes(&preset, &options.preset);
        if !changes.conflicts.is_empty() {
            return Err(TrainError::Incompatible(format!(
                "--resume: the recipe differs from the run's own in what cannot change mid-run: {}; resume with the run's recipe ({}), or start a new run in another folder",
                changes.conflicts.join("; "),
                run_dir.join("preset.toml").display()
            )));
        }
        let preset = super::resume::with_schedule(&preset, &options.preset);
        Ok((preset, Some(checkpoint), changes.obeyed))
    } else if ckpt_path.exists() {
        Err(TrainError::Incompatible(format!(
            "{} already holds a run; add --resume to continue it, or choose another --out",
            run_dir.display()
        )))
    } else {
        Ok((options.preset.clone(), None, Vec::new()))
    }
}

/// Paths and settings the periodic work of a run needs.
pub(super) struct RunContext {
    pub(super) device: Device,
    run_dir: PathBuf,
    pub(super) split: Split,
    pub(super) preview_latents: Vec<Vec<f32>>,
    pub(super) train: TrainPreset,
    /// What every evaluation of the run shares, computed once (see `EvalCache`).
    pub(super) eval_cache: EvalCache,
}

impl RunContext {
    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.run_dir.join(name)
    }
}

/// What one call of [`TrainRun::step`] ended in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    /// More steps remain.
    Continue,
    /// The step budget is met.
    Finished,
    /// The held-out SWD had not improved for `patience` evaluations.
    EarlyStopped,
    /// The wall-clock budget is spent (a checkpoint was written).
    TimeUp,
}

/// A run in progress, stepped by its owner: the CLI loops it, the studio's worker interleaves
/// its steps with sampling requests.
pub struct TrainRun {
    /// Held for the run's life: a second writer on the folder is refused.
    _lock: crate::folder_lock::FolderLock,
    session: TrainSession,
    ctx: RunContext,
    total: u64,
    last_metrics: Option<MetricsRecord>,
    early_stopped: bool,
    /// The wall-clock budget, and when it ends (set at the first step).
    budget: Option<Duration>,
    deadline: Option<Instant>,
    time_up: bool,
    /// Periodic work under way (a preview or an evaluation drawing its shots).
    periodic: Option<Periodic>,
    /// How long one call of [`Self::step`] draws periodic work's shots at most.
    periodic_slice: Duration,
}

impl TrainRun {
    /// Imports the data and builds (or, with `options.resume`, restores) the session.
    pub fn start(
        options: &RunOptions,
        device: &Device,
        import_progress: &(dyn Fn(ImportProgress) + Sync),
        on_event: &mut dyn FnMut(TrainEvent),
    ) -> Result<Self, TrainError> {
        let (preset, checkpoint, obeyed) = run_recipe(options)?;
        if !obeyed.is_empty() {
            on_event(TrainEvent::Notice(format!(
                "resuming with the recipe's schedule: {}",
                obeyed.join(", ")
            )));
        }
        // One writer per run, and only in a folder that is new, empty or Atelier's own.
        let lock = crate::folder_lock::claim(&options.run_dir, &[RUN_INFO, LATEST], "train")?;
        let prepared = prepare_session(
            options,
            preset.clone(),
            checkpoint.as_ref(),
            device,
            import_progress,
            on_event,
        );
        let (session, split) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                // A refused start leaves the folder as it found it.
                lock.abandon();
                return Err(e);
            }
        };
        let total = session.total_steps();
        on_event(TrainEvent::Started {
            step: session.state().step,
            total_steps: total,
            steps_per_epoch: session.steps_per_epoch(),
            batch: session.batch(),
            train_images: split.train.len(),
        });
        let ctx = RunContext {
            device: device.clone(),
            run_dir: options.run_dir.clone(),
            split,
            // The session's recipe: a base model may have replaced the latent size.
            preview_latents: preview_latents(session.preset()),
            train: session.preset().train.clone(),
            eval_cache: EvalCache::new(),
        };
        Ok(Self {
            _lock: lock,
            session,
            ctx,
            total,
            last_metrics: None,
            early_stopped: false,
            budget: options
                .minutes
                .map(|m| Duration::from_secs_f64((m * 60.0).max(0.0))),
            deadline: None,
            time_up: false,
            periodic: None,
            periodic_slice: PERIODIC_SLICE,
        })
    }

    /// Trains the run's class judge (where its data needs one) on its own thread from now
    /// on, instead of at the first evaluation: for owners that must not pause, such as the
    /// studio's worker. Until the judge is ready, evaluations leave out the feature figures.
    /// Without a thread the judge trains at the first evaluation instead.
    pub fn train_judge_in_background(&self) -> std::io::Result<()> {
        if self.ctx.train.eval_every == 0 {
            return Ok(());
        }
        self.ctx
            .eval_cache
            .train_judge_in_background(self.session.dataset().clone(), self.ctx.split.train.clone())
    }

    /// Sets how long one call of [`Self::step`] draws a preview's or evaluation's shots at
    /// most (at least one network pass; 100 ms unless set).
    pub fn set_periodic_slice(&mut self, slice: Duration) {
        self.periodic_slice = slice;
    }

    /// The current step and the budget.
    #[must_use]
    pub fn progress(&self) -> (u64, u64) {
        (self.session.state().step, self.total)
    }

    /// The recipe being trained.
    #[must_use]
    pub fn preset(&self) -> &Preset {
        self.session.preset()
    }

    /// Whether no step remains (budget met or stopped early).
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.early_stopped || self.time_up || self.session.state().step >= self.total
    }

    /// The wall-clock time left of a `minutes` budget (`None` without one, or before the
    /// first step starts its clock).
    #[must_use]
    pub fn time_left(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// One training step, or a slice of the periodic work due after one (see
    /// [`Periodic`]): a call never draws a whole preview of an autoregressive model, so the
    /// owner can stop the run between two calls. Past a wall-clock budget it steps no more:
    /// it writes the last metrics, a preview and a checkpoint.
    pub fn step(
        &mut self,
        on_event: &mut dyn FnMut(TrainEvent),
    ) -> Result<StepOutcome, TrainError> {
        if self.periodic.is_some() {
            return self.run_periodic(on_event);
        }
        if self.is_done() {
            return Ok(if self.early_stopped {
                StepOutcome::EarlyStopped
            } else if self.time_up {
                StepOutcome::TimeUp
            } else {
                StepOutcome::Finished
            });
        }
        let now = Instant::now();
        if let Some(budget) = self.budget {
            let deadline = *self.deadline.get_or_insert(now + budget);
            if now >= deadline {
                self.time_up = true;
                self.periodic = Some(Periodic::at_time_up());
                return self.run_periodic(on_event);
            }
        }
        self.session.step()?;
        let step = self.session.state().step;
        on_event(TrainEvent::Stepped {
            step,
            total_steps: self.total,
        });
        let finishing = step >= self.total;
        let then = if finishing {
            StepOutcome::Finished
        } else {
            StepOutcome::Continue
        };
        self.periodic = Some(Periodic::after_step(&self.ctx, step, finishing, then));
        self.run_periodic(on_event)
    }

    /// A slice of the periodic work under way: `Continue` until it is done, then the
    /// outcome of the step that led to it.
    fn run_periodic(
        &mut self,
        on_event: &mut dyn FnMut(TrainEvent),
    ) -> Result<StepOutcome, TrainError> {
        let Some(periodic) = self.periodic.as_mut() else {
            return Ok(StepOutcome::Continue);
        };
        let slice = self.periodic_slice;
        let done = periodic.run(
            &mut self.session,
            &self.ctx,
            &mut self.last_metrics,
            on_event,
            slice,
        );
        let outcome = match done {
            Ok(None) => return Ok(StepOutcome::Continue),
            Ok(Some(outcome)) => outcome,
            Err(e) => {
                self.periodic = None;
                return Err(e);
            }
        };
        self.periodic = None;
        if outcome == StepOutcome::EarlyStopped {
            self.early_stopped = true;
        }
        Ok(outcome)
    }

    /// Stops before the budget: reads the last metrics and checkpoints, so nothing is lost.
    /// A preview or evaluation still being drawn is given up.
    pub fn stop(&mut self, on_event: &mut dyn FnMut(TrainEvent)) -> Result<(), TrainError> {
        self.periodic = None;
        read_metrics(&mut self.session, &self.ctx, &mut self.last_metrics)?;
        save_checkpoint(&self.session, &self.ctx, false, on_event)
    }

    /// The EMA generator as it is now, ready to render on `device`.
    pub fn sampler(&self, device: &Device) -> Result<Sampler, TrainError> {
        self.session.sampler(device)
    }

    /// The session and what its periodic work needs, for the warm-up that times them
    /// (see `estimate`).
    pub(super) fn parts(&mut self) -> (&mut TrainSession, &RunContext, &mut Option<MetricsRecord>) {
        (&mut self.session, &self.ctx, &mut self.last_metrics)
    }

    #[must_use]
    pub fn summary(&self, cancelled: bool) -> RunSummary {
        RunSummary {
            step: self.session.state().step,
            total_steps: self.total,
            cancelled,
            early_stopped: self.early_stopped,
            time_up: self.time_up,
            best_swd: self.session.state().best_swd,
            last_metrics: self.last_metrics.clone(),
        }
    }
}

/// The fixed latents of a run's preview grid (derived from its seed, so they survive resume).
fn preview_latents(preset: &Preset) -> Vec<Vec<f32>> {
    (0..PREVIEW_COUNT as u64)
        .map(|i| {
            latent_for_seed(
                preset.train.seed.wrapping_mul(1000).wrapping_add(i),
                preset.model.latent_dim(),
            )
        })
        .collect()
}

/// Trains per `options` on `device` until the budget (steps, epochs or minutes) is met,
/// `cancel` is set, or early stopping ends it. Cancelling saves a checkpoint first, so Ctrl-C loses nothing; a kill loses
/// at most the steps since the last checkpoint. On the CPU device the whole run happens on one
/// of rayon's workers (hence `on_event: Send`), not on the caller's thread.
pub fn train_run(
    options: &RunOptions,
    device: &Device,
    cancel: &AtomicBool,
    import_progress: &(dyn Fn(ImportProgress) + Sync),
    on_event: &mut (dyn FnMut(TrainEvent) + Send),
) -> Result<RunSummary, TrainError> {
    // The whole run on one compute thread, so every step and render stays on it.
    on_compute_pool(device, || {
        let mut run = TrainRun::start(options, device, import_progress, on_event)?;
        loop {
            if cancel.load(Ordering::Relaxed) {
                run.stop(on_event)?;
                return Ok(run.summary(true));
            }
            if run.step(on_event)? != StepOutcome::Continue {
                return Ok(run.summary(false));
            }
        }
    })
}

/// Reads the metrics window (a device sync), refuses a non-finite loss, and logs it.
pub(super) fn read_metrics(
    session: &mut TrainSession,
    ctx: &RunContext,
    last: &mut Option<MetricsRecord>,
) -> Result<(), TrainError> {
    if let Some(m) = session.take_metrics()? {
        if !m.is_finite() {
            return Err(TrainError::Diverged {
                step: m.step,
                what: "a loss".into(),
            });
        }
        let path = ctx.path("metrics.jsonl");
        append_json_line(&path, &m).map_err(io_err("cannot append to", &path))?;
        *last = Some(m);
    }
    Ok(())
}

/// Saves `checkpoint.atl` (and `best.atl` when `best`), atomically.
pub(super) fn save_checkpoint(
    session: &TrainSession,
    ctx: &RunContext,
    best: bool,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<(), TrainError> {
    let checkpoint = session.checkpoint()?;
    let path = ctx.path(LATEST);
    checkpoint.save(&path)?;
    if best {
        checkpoint.save(&ctx.path(BEST))?;
    }
    on_event(TrainEvent::Checkpoint {
        step: session.state().step,
        path,
    });
    Ok(())
}

/// Imports the data, writes the run's report and recipe, and builds (or restores) the session.
/// Returns it with the size of the training split.
fn prepare_session(
    options: &RunOptions,
    preset: Preset,
    checkpoint: Option<&Checkpoint>,
    device: &Device,
    import_progress: &(dyn Fn(ImportProgress) + Sync),
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<(TrainSession, Split), TrainError> {
    let run_dir = &options.run_dir;
    // A base model is loaded and checked before the (possibly long) import.
    let mut preset = preset;
    let base = match (checkpoint, &preset.train.init) {
        (None, Some(spec)) => {
            let base = load_base(spec)?;
            adopt_base_model(&mut preset, &base)?;
            Some(base)
        }
        _ => None,
    };
    let import_options = ImportOptions {
        resolution: preset.model.resolution(),
        channels: preset.model.channels(),
        square: preset.data.square,
    };
    let reusable = options.imported.as_ref().filter(|i| {
        i.options == import_options && i.report.root == options.data_dir && !i.dataset.is_empty()
    });
    let (dataset, report) = match reusable {
        // A copy: classes may be renumbered below, and the studio keeps its own.
        Some(i) => ((*i.dataset).clone(), i.report.clone()),
        None => import_folder(&options.data_dir, import_options, import_progress)?,
    };
    let report_text = report.to_string();
    on_event(TrainEvent::Imported(report));
    let mut dataset = dataset;
    match_classes(
        &mut preset,
        &mut dataset,
        checkpoint.is_some() || base.is_some(),
    )?;
    let split = Split::new(&dataset, preset.data.split, preset.data.split_seed);
    let dataset = Arc::new(dataset);

    let session = match (checkpoint, &base) {
        (Some(c), _) => TrainSession::resume(c, preset, dataset, split.train.clone(), device)?,
        (None, Some(b)) => {
            TrainSession::from_base(b, preset, dataset, split.train.clone(), device)?
        }
        (None, None) => TrainSession::new(preset, dataset, split.train.clone(), device)?,
    };
    // Nothing is written before the run is accepted (a refused resume leaves the run as it was).
    std::fs::create_dir_all(run_dir.join("previews")).map_err(io_err("cannot create", run_dir))?;
    let report_path = run_dir.join("import-report.txt");
    write_atomic(&report_path, report_text.as_bytes())
        .map_err(io_err("cannot write", &report_path))?;
    let preset_path = run_dir.join("preset.toml");
    write_atomic(&preset_path, session.preset().to_toml().as_bytes())
        .map_err(io_err("cannot write", &preset_path))?;
    if checkpoint.is_some() {
        for log in ["metrics.jsonl", "quality.jsonl"] {
            let path = run_dir.join(log);
            truncate_json_lines(&path, session.state().step)
                .map_err(io_err("cannot rewrite", &path))?;
        }
    }
    let info = RunInfo {
        data_dir: std::fs::canonicalize(&options.data_dir)
            .unwrap_or_else(|_| options.data_dir.clone()),
        app_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let info_path = run_dir.join(RUN_INFO);
    let json = serde_json::to_vec_pretty(&info).unwrap_or_default();
    write_atomic(&info_path, &json).map_err(io_err("cannot write", &info_path))?;
    Ok((session, split))
}
