//! Bringing photos in and training on them: imports (folders, loose files, dropped exports),
//! the tips and recipe changes an import prompts, and starting a run.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{
    AfterImport, ImportView, SMALL_FOLDER, SMALL_FOLDER_MIN_STEPS, STEPS_WHEN_TIMED, Studio,
};
use crate::data::{ImportOptions, ImportReport};
use crate::export::ShotMeta;
use crate::preset::{AugmentMode, ColourRecipe, Preset};
use crate::project::Shot;
use crate::protocol::{Command, TrainRequest, TrainingState};
use crate::train::RunOptions;
use crate::worker::{ImportSource, spawn_import};

impl Studio {
    /// What an import prompts (a recipe change, a tip): in the status line, which the import's
    /// own line soon replaces, and in the import window, which stays open until closed.
    fn import_tip(&mut self, text: String) {
        self.notify(text.clone());
        self.import.pending_tips.push(text);
    }

    /// A folder of class sub-folders suits a conditional model when the designer wants to ask
    /// for a class: `cdcgan-28` and `cfastgan-64-rgb` draw each class recognisably. It is a
    /// tip, not a default: on clothing-small's colour class folders the conditional runs
    /// scored a far worse held-out feature FD than the unconditional `fastgan-64-rgb` in
    /// equal time (docs/quality-experiments.md).
    pub(super) fn suggest_conditional(&mut self, per_class: &[(String, usize)]) {
        let classes = per_class.iter().filter(|(_, n)| *n > 0).count();
        if classes >= 2 && !self.project.settings.preset.model.conditional() {
            self.import_tip(format!(
                "Tip: {classes} class folders. Conditional (Training panel, Fine-tuning and classes) trains one model that draws each class on demand."
            ));
        }
    }

    /// Colour photos dropped on a grey recipe (the default `dcgan-28`) would train on their
    /// luma only. The import usually fits the recipe itself from a probe of the folder (see
    /// `spawn_import`); this catches what the probe missed, from the full count. While the
    /// project has trained nothing, switch to the colour recipe; once it has runs, only say
    /// which recipe fits. Returns whether it switched (the photos must then be read again).
    pub(super) fn fit_recipe_to_colour(&mut self, report: &ImportReport) -> bool {
        let preset = &self.project.settings.preset;
        let Some(fit) =
            preset.colour_recipe_for(report.is_colour(), report.median_side, self.hardware)
        else {
            return false;
        };
        if self.project.settings.current_run.is_some() {
            let tip = format!(
                "Tip: {} of {} photos are in colour, but the recipe {} trains grey {} px shots. Pick {} under Preset (Training panel) for colour shots: {}.",
                report.colour_images,
                report.imported,
                preset.name,
                preset.model.resolution(),
                fit.name,
                fit.why
            );
            self.import_tip(tip);
            return false;
        }
        self.switch_to_colour_recipe(&fit, report, "they are read again at that size")
    }

    /// Replaces the project's grey recipe with the colour recipe `name` and says why (`how`:
    /// what happens to the photos). Returns whether it switched.
    pub(super) fn switch_to_colour_recipe(
        &mut self,
        fit: &ColourRecipe,
        report: &ImportReport,
        how: &str,
    ) -> bool {
        let Ok(fitting) = Preset::load(fit.name) else {
            return false;
        };
        let old = std::mem::replace(&mut self.project.settings.preset, fitting);
        self.mark_settings();
        let new = &self.project.settings.preset.model;
        self.import_tip(format!(
            "Colour photos ({} of {} show colour): the recipe is now {} ({} px colour, {}) instead of {} ({} px grey), because {}; {how}. Preset (Training panel) changes it.",
            report.colour_images,
            report.imported,
            fit.name,
            new.resolution(),
            new.family().architecture(),
            old.name,
            old.model.resolution(),
            fit.why
        ));
        true
    }

    /// Small folders over-fit D fast, and a few epochs of them are only a few dozen steps:
    /// turn on adaptive augmentation, give an epoch-counted run enough steps, and say so.
    pub(super) fn fit_small_folder(&mut self, images: usize) {
        if images >= SMALL_FOLDER {
            return;
        }
        let train = &mut self.project.settings.preset.train;
        if train.augment == AugmentMode::Off {
            train.augment = AugmentMode::Adaptive;
            self.mark_settings();
            self.import_tip(format!(
                "Small folder ({images} images): adaptive augmentation is on (Training panel to change)."
            ));
        }
        // The split's training share, near enough for a tip (the split rounds per class).
        let training_images = (images as f64 * self.project.settings.preset.data.split[0]) as usize;
        let train = &mut self.project.settings.preset.train;
        let by_epochs =
            train.epochs as u64 * crate::train::steps_per_epoch(training_images, train.batch);
        if train.steps.is_none() && by_epochs < SMALL_FOLDER_MIN_STEPS {
            train.steps = Some(SMALL_FOLDER_MIN_STEPS);
            let epochs = train.epochs;
            self.mark_settings();
            self.import_tip(format!(
                "Small folder: {epochs} epochs would be only {by_epochs} steps, too few to draw a product; runs now train for {SMALL_FOLDER_MIN_STEPS} steps (Steps in the Training panel to change; Stop ends a run early with a checkpoint)."
            ));
        }
        // A base model helps most where data is scarce; say where to find it.
        let p = &self.project.settings.preset;
        if p.train.init.is_none() {
            let fitting = crate::base::SHIPPED_BASES
                .iter()
                .find(|b| b.resolution == p.model.resolution() && b.channels == p.model.channels());
            if let Some(base) = fitting {
                self.import_tip(format!(
                    "Tip: Start from: {} (Training panel) fine-tunes a base model pretrained on many products; it needs fewer steps on a small folder.",
                    base.name
                ));
            }
        }
    }

    pub(super) fn on_shots_dropped(&mut self, shots: Vec<(PathBuf, ShotMeta)>) {
        // The dropped files went to the import thread, which found exports and ended there:
        // that import is over (else the studio showed "Importing…" and refused every later
        // drop with "An import is already running").
        self.import.running = false;
        self.start_queued_import();
        let mut added = Vec::new();
        for (path, meta) in shots {
            let generator = self.project.generator_path(&meta.checkpoint_id);
            if !generator.exists() {
                self.report_error(format!(
                    "{} was made by generator {}, which this project does not hold; open the project it came from.",
                    path.display(),
                    meta.checkpoint_id
                ));
                continue;
            }
            let shot = Shot {
                seed: meta.seed,
                latent: meta.latent,
                truncation: meta.truncation,
                generator_id: meta.checkpoint_id,
                class: meta.class,
                edited: true,
                ..Shot::default()
            };
            added.push(self.project.curation.add(shot));
        }
        if !added.is_empty() {
            self.notify(format!(
                "Restored {} shots from dropped exports",
                added.len()
            ));
            self.mark_curation();
            self.request_shots(&added);
            self.gallery.selected.clone_from(&added);
            self.sync_editor();
        }
    }

    /// Stops the running import, if any, so nothing of it reaches the project opened next,
    /// and says so.
    pub(super) fn cancel_import(&mut self) {
        let Some(cancel) = self.import.cancel.take() else {
            return;
        };
        if !self.import.running {
            return;
        }
        cancel.store(true, Ordering::Relaxed);
        // A fresh view has a fresh channel: whatever the old import still sends goes to one
        // nobody reads.
        self.import = ImportView::default();
        self.notify(format!(
            "The import into {} was cancelled: another project was opened.",
            self.project.root.display()
        ));
    }

    /// Imports a folder (or loose files) at the current recipe's size.
    pub fn import_source(&mut self, source: ImportSource) {
        if self.import.running {
            if self.import.quiet {
                // The studio's own read of the project's folder: the user's folder follows it.
                self.import.queued = Some(source);
                self.import.window_open = true;
            } else {
                self.report_error("An import is already running.");
            }
            return;
        }
        // Tips from an import that never finished must not show with this one.
        self.import.pending_tips.clear();
        let model = &self.project.settings.preset.model;
        let options = ImportOptions {
            resolution: model.resolution(),
            channels: model.channels(),
            square: self.project.settings.preset.data.square,
        };
        // A project that has trained nothing takes the recipe its photos need (colour).
        let fit_colour = (!self.import.quiet && self.project.settings.current_run.is_none())
            .then(|| (self.project.settings.preset.clone(), self.hardware));
        let cancel = Arc::new(AtomicBool::new(false));
        let spawned = spawn_import(
            source,
            options,
            fit_colour,
            Some(self.project.import_report_path()),
            self.import.events.0.clone(),
            self.wake.clone(),
            cancel.clone(),
        );
        match spawned {
            Ok(_) => {
                self.import.cancel = Some(cancel);
                self.import.running = true;
                self.import.progress = None;
                self.import.window_open = true;
            }
            Err(e) => self.report_error(format!("Cannot start the import: {e}")),
        }
    }

    /// Handles files dropped on the window: one folder is imported; loose files are copied
    /// into the project first (or, when they are Atelier exports, restored as shots).
    pub fn dropped(&mut self, paths: Vec<PathBuf>) {
        match paths.as_slice() {
            [] => {}
            [one] if one.is_dir() => self.import_source(ImportSource::Folder(one.clone())),
            _ => {
                let files: Vec<PathBuf> = paths.into_iter().filter(|p| p.is_file()).collect();
                let into = (1..100_000)
                    .map(|n| {
                        self.project
                            .root
                            .join("images")
                            .join(format!("dropped-{n:03}"))
                    })
                    .find(|p| !p.exists())
                    .unwrap_or_else(|| self.project.root.join("images").join("dropped"));
                self.import_source(ImportSource::Files { files, into });
            }
        }
    }

    /// Starts training as `studio --auto-train` asks: a new run once the import under way
    /// has ended (the recipe fitted to the folder by then), else the current run resumed.
    pub fn auto_train(&mut self) {
        if self.import.users_import_pending() {
            self.import.then = AfterImport::Train;
        } else {
            let resume = self.project.settings.current_run.is_some();
            self.start_training(resume);
        }
    }

    /// Starts a new run with the panel's recipe (or resumes the current one).
    pub fn start_training(&mut self, resume: bool) {
        if let Err(e) = self.project.settings.preset.validate() {
            self.report_error(format!("{e}"));
            return;
        }
        let Some(data_dir) = self.project.settings.data_dir.clone() else {
            self.report_error("Import a folder of product photos first (drag it onto the window).");
            return;
        };
        let run_name = match (&self.project.settings.current_run, resume) {
            (Some(run), true) => run.clone(),
            _ => self.project.next_run_name(),
        };
        let run_dir = self.project.run_dir(&run_name);
        let resume = resume && run_dir.join(crate::train::LATEST).exists();
        if !resume {
            self.training.metrics.clear();
            self.training.quality.clear();
            self.training.preview = None;
        }
        self.project.settings.current_run = Some(run_name);
        self.mark_settings();
        self.flush_saves();
        // Chosen by time: the clock ends the run, not the recipe's step count.
        let minutes = self.project.settings.train_minutes;
        let mut preset = self.project.settings.preset.clone();
        if minutes.is_some() {
            preset.train.steps = Some(STEPS_WHEN_TIMED);
        }
        self.training.running_since = None;
        self.send(Command::StartTraining(Box::new(TrainRequest {
            options: RunOptions {
                data_dir,
                run_dir,
                preset,
                resume,
                minutes,
                imported: self.import.imported.clone(),
            },
            pin_dir: self.project.generators_dir(),
        })));
        self.training.state = Some(TrainingState::Preparing);
    }
}
