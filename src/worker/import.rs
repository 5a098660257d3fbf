//! Importing a dropped folder on its own thread: CPU and disk only, so it never competes with
//! the worker for the device, and a 50,000-image folder does not pause training.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, TrySendError};

use super::Wake;
use crate::data::{ImportOptions, import_folder_until, probe_folder};
use crate::export::{Picture, read_shot_meta};
use crate::preset::{ColourRecipe, Hardware, Preset};
use crate::protocol::{Event, WorkerError};

/// Images shown in the import report's thumbnail strip.
const THUMBNAILS: usize = 16;

/// What was dropped or picked.
#[derive(Clone, Debug)]
pub enum ImportSource {
    Folder(PathBuf),
    /// Loose image files: copied into `into` (a new folder in the project), then imported.
    /// Files exported by Atelier come back as shots instead.
    Files {
        files: Vec<PathBuf>,
        into: PathBuf,
    },
}

/// Copies loose files into `into`; never replaces a file already there.
fn copy_files(files: &[PathBuf], into: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(into)?;
    for file in files {
        let Some(name) = file.file_name() else {
            continue;
        };
        let target = into.join(name);
        if !target.exists() {
            std::fs::copy(file, &target)?;
        }
    }
    Ok(())
}

/// Imports `source` with `options`, reporting progress and then the report (or the error) as
/// events. The report is also written to `report_path` (atomically) when given.
///
/// `fit_colour` is the recipe of a project that has trained nothing yet, and the hardware it
/// will train on: when it trains grey and a probe of the folder shows colour photos, they are
/// imported at the size of the colour recipe that fits them and the hardware (the event names
/// it and why), so a big folder is not decoded twice.
///
/// Setting `cancel` stops it soon (the studio does when the designer opens another project):
/// nothing more is decoded, copied or reported.
pub fn spawn_import(
    source: ImportSource,
    options: ImportOptions,
    fit_colour: Option<(Preset, Hardware)>,
    report_path: Option<PathBuf>,
    events: Sender<Event>,
    wake: Wake,
    cancel: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("atelier-import".into())
        .spawn(move || {
            let folder = match source {
                ImportSource::Folder(folder) => folder,
                ImportSource::Files { files, into } => {
                    let shots: Vec<_> = files
                        .iter()
                        .filter_map(|f| read_shot_meta(f).ok().map(|m| (f.clone(), m)))
                        .collect();
                    if !shots.is_empty() && shots.len() == files.len() {
                        let _ = events.send(Event::ShotsDropped(shots));
                        wake();
                        return;
                    }
                    if cancel.load(Ordering::Relaxed) {
                        return;
                    }
                    if let Err(error) = copy_files(&files, &into) {
                        let _ = events.send(Event::Failed(WorkerError::Copy {
                            into: into.display().to_string(),
                            source: error,
                        }));
                        wake();
                        return;
                    }
                    into
                }
            };
            let (options, fitted_recipe) = match fit_colour {
                Some((current, hardware)) => fit_to_colour(&folder, &current, hardware, options),
                None => (options, None),
            };
            let progress_events = events.clone();
            let progress_wake = wake.clone();
            let progress = move |p| {
                if let Err(TrySendError::Disconnected(_)) =
                    progress_events.try_send(Event::ImportProgress(p))
                {
                    return;
                }
                progress_wake();
            };
            if cancel.load(Ordering::Relaxed) {
                return;
            }
            let event = match import_folder_until(&folder, options, &progress, &cancel) {
                Err(crate::data::ImportError::Cancelled(_)) => return,
                Ok((dataset, report)) => {
                    if let Some(path) = &report_path {
                        let _ = crate::fsutil::write_atomic(path, report.to_string().as_bytes());
                    }
                    let step = (dataset.len() / THUMBNAILS).max(1);
                    let thumbnails = (0..dataset.len())
                        .step_by(step)
                        .take(THUMBNAILS)
                        .map(|i| {
                            Picture::from_chw_u8(
                                dataset.image(i),
                                dataset.channels,
                                dataset.resolution,
                            )
                        })
                        .collect();
                    Event::Imported {
                        report,
                        options,
                        thumbnails,
                        dataset: std::sync::Arc::new(dataset),
                        fitted_recipe,
                    }
                }
                Err(error) => Event::Failed(WorkerError::Import(error)),
            };
            let _ = events.send(event);
            wake();
        })
}

/// The import options of the colour recipe, and the recipe, when `current` trains grey and a
/// probe of `folder` shows colour photos; else `options` as they were.
fn fit_to_colour(
    folder: &Path,
    current: &Preset,
    hardware: Hardware,
    options: ImportOptions,
) -> (ImportOptions, Option<ColourRecipe>) {
    let Ok(probe) = probe_folder(folder) else {
        return (options, None);
    };
    let Some(fit) = current.colour_recipe_for(probe.is_colour(), probe.median_side, hardware)
    else {
        return (options, None);
    };
    match Preset::load(fit.name) {
        Ok(recipe) => (
            ImportOptions {
                resolution: recipe.model.resolution(),
                channels: recipe.model.channels(),
                square: recipe.data.square,
            },
            Some(fit),
        ),
        Err(_) => (options, None),
    }
}
