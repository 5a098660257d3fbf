//! The run driver: import, train to the budget, log, preview, checkpoint, stop cleanly.
//!
//! A run folder holds `preset.toml` (the recipe as run), `import-report.txt`, `metrics.jsonl`,
//! `previews/step-NNNNNNN.png` plus `preview.png` (the latest), and `checkpoint.atl`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::Device;

use super::TrainError;
use super::checkpoint::{Checkpoint, LATEST};
use super::metrics::{self, MetricsRecord};
use super::session::GanSession;
use crate::data::{ImportOptions, ImportProgress, ImportReport, Split, import_folder};
use crate::export::{grid, save_png_atomic};
use crate::fsutil::write_atomic;
use crate::latent::latent_for_seed;
use crate::preset::Preset;

/// Number of fixed preview latents (an 8×8 grid).
pub const PREVIEW_COUNT: usize = 64;

#[derive(Clone, Debug)]
pub struct RunOptions {
    pub data_dir: PathBuf,
    pub run_dir: PathBuf,
    /// The recipe. On resume only its `train.epochs` / `train.steps` are taken (to extend a
    /// run); everything else comes from the checkpoint.
    pub preset: Preset,
    pub resume: bool,
}

/// What a run reports while it goes.
#[derive(Clone, Debug)]
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
    Preview {
        step: u64,
        path: PathBuf,
    },
    Checkpoint {
        step: u64,
        path: PathBuf,
    },
}

#[derive(Clone, Debug)]
pub struct RunSummary {
    pub step: u64,
    pub total_steps: u64,
    pub cancelled: bool,
    pub last_metrics: Option<MetricsRecord>,
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> TrainError {
    let path = path.display().to_string();
    move |source| TrainError::Io { what, path, source }
}

/// The recipe and, on resume, the checkpoint to continue; refuses to start over a run or to
/// resume nothing.
fn run_recipe(options: &RunOptions) -> Result<(Preset, Option<Checkpoint>), TrainError> {
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
        let mut preset = Preset::from_toml("checkpoint", &checkpoint.preset_toml)
            .map_err(|e| TrainError::Incompatible(e.to_string()))?;
        preset.train.epochs = options.preset.train.epochs;
        preset.train.steps = options.preset.train.steps;
        Ok((preset, Some(checkpoint)))
    } else if ckpt_path.exists() {
        Err(TrainError::Incompatible(format!(
            "{} already holds a run; add --resume to continue it, or choose another --out",
            run_dir.display()
        )))
    } else {
        Ok((options.preset.clone(), None))
    }
}

/// Trains per `options` on `device` until the budget is met or `cancel` is set. Cancelling
/// saves a checkpoint first, so Ctrl-C loses nothing; a kill loses at most the steps since
/// the last checkpoint.
pub fn train_run(
    options: &RunOptions,
    device: &Device,
    cancel: &AtomicBool,
    import_progress: &(dyn Fn(ImportProgress) + Sync),
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<RunSummary, TrainError> {
    let run_dir = &options.run_dir;
    let ckpt_path = run_dir.join(LATEST);
    let (preset, checkpoint) = run_recipe(options)?;
    let metrics_path = run_dir.join("metrics.jsonl");
    let (mut session, train_images) = prepare_session(
        options,
        preset.clone(),
        checkpoint.as_ref(),
        device,
        import_progress,
        on_event,
    )?;
    let total = session.total_steps();
    on_event(TrainEvent::Started {
        step: session.state().step,
        total_steps: total,
        steps_per_epoch: session.steps_per_epoch(),
        batch: session.batch(),
        train_images,
    });
    let preview_latents: Vec<Vec<f32>> = (0..PREVIEW_COUNT as u64)
        .map(|i| {
            latent_for_seed(
                preset.train.seed.wrapping_mul(1000).wrapping_add(i),
                preset.model.latent_dim,
            )
        })
        .collect();
    let t = session.preset().train.clone();
    let mut last_metrics = None;
    let mut cancelled = false;

    let read_metrics =
        |session: &mut GanSession, last: &mut Option<MetricsRecord>| -> Result<(), TrainError> {
            if let Some(m) = session.take_metrics()? {
                if !m.is_finite() {
                    return Err(TrainError::Diverged {
                        step: m.step,
                        what: "a loss".into(),
                    });
                }
                metrics::append(&metrics_path, &m)
                    .map_err(io_err("cannot append to", &metrics_path))?;
                *last = Some(m);
            }
            Ok(())
        };

    while session.state().step < total {
        if cancel.load(Ordering::Relaxed) {
            cancelled = true;
            break;
        }
        session.step()?;
        let step = session.state().step;
        on_event(TrainEvent::Stepped {
            step,
            total_steps: total,
        });
        let finishing = step == total;
        if step % t.metrics_every == 0 || step % t.checkpoint_every == 0 || finishing {
            read_metrics(&mut session, &mut last_metrics)?;
            if let Some(m) = last_metrics.as_ref().filter(|m| m.step == step) {
                on_event(TrainEvent::Metrics(m.clone()));
            }
        }
        if step % t.preview_every == 0 || finishing {
            let path = write_preview(&session, device, &preview_latents, run_dir)?;
            on_event(TrainEvent::Preview { step, path });
        }
        if step % t.checkpoint_every == 0 || finishing {
            session.checkpoint()?.save(&ckpt_path)?;
            on_event(TrainEvent::Checkpoint {
                step,
                path: ckpt_path.clone(),
            });
        }
    }
    if cancelled {
        read_metrics(&mut session, &mut last_metrics)?;
        session.checkpoint()?.save(&ckpt_path)?;
        on_event(TrainEvent::Checkpoint {
            step: session.state().step,
            path: ckpt_path.clone(),
        });
    }
    Ok(RunSummary {
        step: session.state().step,
        total_steps: total,
        cancelled,
        last_metrics,
    })
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
) -> Result<(GanSession, usize), TrainError> {
    let run_dir = &options.run_dir;
    std::fs::create_dir_all(run_dir.join("previews")).map_err(io_err("cannot create", run_dir))?;

    let import_options = ImportOptions {
        resolution: preset.model.resolution,
        channels: preset.model.channels,
        square: preset.data.square,
    };
    let (dataset, report) = import_folder(&options.data_dir, import_options, import_progress)?;
    let report_path = run_dir.join("import-report.txt");
    write_atomic(&report_path, report.to_string().as_bytes())
        .map_err(io_err("cannot write", &report_path))?;
    on_event(TrainEvent::Imported(report));
    let split = Split::new(&dataset, preset.data.split, preset.data.split_seed);
    let dataset = Arc::new(dataset);

    let session = match checkpoint {
        Some(c) => GanSession::resume(c, preset, dataset, split.train.clone(), device)?,
        None => GanSession::new(preset, dataset, split.train.clone(), device)?,
    };
    let preset_path = run_dir.join("preset.toml");
    write_atomic(&preset_path, session.preset().to_toml().as_bytes())
        .map_err(io_err("cannot write", &preset_path))?;
    let metrics_path = run_dir.join("metrics.jsonl");
    if checkpoint.is_some() {
        metrics::truncate_after(&metrics_path, session.state().step)
            .map_err(io_err("cannot rewrite", &metrics_path))?;
    }

    Ok((session, split.train.len()))
}

fn write_preview(
    session: &GanSession,
    device: &Device,
    latents: &[Vec<f32>],
    run_dir: &Path,
) -> Result<PathBuf, TrainError> {
    let pictures = session.sampler(device)?.render(latents)?;
    let sheet = grid(&pictures, 8);
    let path = run_dir
        .join("previews")
        .join(format!("step-{:07}.png", session.state().step));
    save_png_atomic(&sheet, &path)?;
    save_png_atomic(&sheet, &run_dir.join("preview.png"))?;
    Ok(path)
}
