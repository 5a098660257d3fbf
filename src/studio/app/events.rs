//! The studio's answers to the worker and to its background threads: events in, state and
//! notices out, and what a render that failed leaves on its tiles.

use std::fmt::Write as _;
use std::time::Instant;

use eframe::egui;

use super::{
    AfterImport, Answer, Command, Control, DialogPurpose, EVENTS_PER_FRAME, Event, Failure,
    GeneratorInfo, ImportSource, Message, NearestView, Picture, ReferenceSet, RunSummary, ShotId,
    Studio, Ticket, TrainEvent, TrainingState, WorkerError, run_name, texture,
};

impl Studio {
    /// A render that will not come: its tiles show why, with a Retry; a slider's or morph's
    /// shot keeps its last picture.
    pub(super) fn render_failed(&mut self, ticket: Ticket, why: &str) {
        match self.broker.failed(ticket, why) {
            Some(Failure::Gallery(_)) => {
                self.report_error(format!("Rendering failed: {why}. Click a tile to retry."));
            }
            Some(Failure::Live { shot, resend }) => {
                self.report_error(format!("Rendering failed: {why}"));
                if resend {
                    self.request_live(shot);
                }
            }
            Some(Failure::Morph) => self.report_error(format!("Rendering failed: {why}")),
            Some(Failure::Completion) => {
                self.shot.completing = None;
                self.report_error(format!("Completing the shot failed: {why}"));
            }
            None => {}
        }
    }

    /// A render's progress, or why it will not come.
    fn on_render_news(&mut self, event: Event) {
        match event {
            Event::RenderProgress {
                ticket,
                done,
                total,
            } => self.broker.note_progress(ticket, done, total),
            Event::RenderFailed {
                ticket,
                error: WorkerError::Cancelled,
            } => self.render_cancelled(ticket),
            Event::RenderFailed { ticket, error } => {
                self.render_failed(ticket, &error.to_string());
            }
            _ => {}
        }
    }

    /// A render given up at the designer's word: a completion just ends; gallery tiles
    /// offer a Retry.
    fn render_cancelled(&mut self, ticket: Ticket) {
        match self.broker.failed(ticket, "cancelled") {
            Some(Failure::Completion) => {
                self.shot.completing = None;
                self.notify("Completion cancelled.");
            }
            Some(Failure::Gallery(_)) => self.notify("Cancelled: click a tile to draw it again."),
            _ => {}
        }
    }

    /// Live renders sent and not answered yet (at most one per shot: see `request_live`).
    #[must_use]
    pub fn live_in_flight(&self) -> usize {
        self.broker.live_in_flight()
    }

    /// Requests sent to the worker and not answered yet.
    #[must_use]
    pub fn requests_in_flight(&self) -> usize {
        self.broker.pending()
    }

    /// Renders a failed shot again.
    pub fn retry_render(&mut self, id: ShotId) {
        if self.broker.retry(id) {
            self.request_shots(&[id]);
        }
    }

    // ----- events -------------------------------------------------------------------------

    /// Drains worker, import and background messages (bounded per frame).
    pub fn pump(&mut self, ctx: &egui::Context) {
        self.ctx = Some(ctx.clone());
        for _ in 0..EVENTS_PER_FRAME {
            let event = self
                .broker
                .events()
                .try_recv()
                .or_else(|_| self.import.events.1.try_recv());
            match event {
                Ok(event) => self.on_event(ctx, event),
                Err(_) => break,
            }
        }
        while let Ok(message) = self.background.rx.try_recv() {
            self.on_message(message);
        }
        self.save_if_due();
    }

    fn on_event(&mut self, ctx: &egui::Context, event: Event) {
        if self.training.left_behind.is_some() && Self::of_the_run(&event) {
            self.on_left_run_event(event);
            return;
        }
        match event {
            Event::GeneratorReady(info) => self.on_generator(info),
            Event::Rendered {
                ticket,
                kind: _,
                pictures,
                render_ms,
            } => self.on_rendered(ctx, ticket, pictures, render_ms),
            Event::Train(event) => self.on_train_event(event),
            Event::TrainingState(state) => self.on_training_state(state),
            Event::PreviewGrid { step, picture } => {
                let handle = texture(ctx, "preview-grid", &picture);
                self.training.preview = Some((step, handle));
            }
            Event::TrainingEnded(summary) => self.on_training_ended(summary),
            Event::ImportProgress(p) => self.import.progress = Some(p),
            Event::Imported {
                report,
                options,
                thumbnails,
                dataset,
                fitted_recipe,
            } => {
                self.import.imported = Some(crate::train::Imported {
                    dataset: dataset.clone(),
                    report: report.clone(),
                    options,
                });
                self.import.running = false;
                let quiet = std::mem::take(&mut self.import.quiet);
                if let Some(fit) = fitted_recipe {
                    self.switch_to_colour_recipe(&fit, &report, "they were imported at that size");
                } else if !quiet && self.fit_recipe_to_colour(&report) {
                    // Read at the grey recipe's size: read the photos again at the new one.
                    let tips = std::mem::take(&mut self.import.pending_tips);
                    self.import_source(ImportSource::Folder(report.root.clone()));
                    self.import.pending_tips = tips;
                    return;
                }
                let data = &self.project.settings.preset.data;
                self.send(Command::SetReference(Box::new(ReferenceSet {
                    dataset,
                    split: data.split,
                    split_seed: data.split_seed,
                })));
                self.shot.has_reference = true;
                self.request_nearest();
                if quiet {
                    self.start_queued_import();
                    return;
                }
                self.fit_small_folder(report.imported);
                self.suggest_conditional(&report.per_class);
                self.import.thumbnails = thumbnails
                    .iter()
                    .enumerate()
                    .map(|(i, p)| texture(ctx, &format!("import-thumb-{i}"), p))
                    .collect();
                self.notify(format!(
                    "Imported {} images ({} skipped) from {}",
                    report.imported,
                    report.skipped.len(),
                    report.root.display()
                ));
                self.project.settings.data_dir = Some(report.root.clone());
                self.import.tips = std::mem::take(&mut self.import.pending_tips);
                self.import.report = Some(report);
                self.import.window_open = true;
                self.mark_settings();
                if std::mem::take(&mut self.import.then) == AfterImport::Train {
                    self.start_training(false);
                }
            }
            Event::ShotsDropped(shots) => self.on_shots_dropped(shots),
            Event::Nearest {
                ticket,
                picture,
                distance,
                threshold,
            } => self.on_nearest(ctx, ticket, &picture, distance, threshold),
            Event::Upscaler(event) => self.on_upscaler_event(event),
            event @ (Event::RenderProgress { .. } | Event::RenderFailed { .. }) => {
                self.on_render_news(event);
            }
            Event::RunEstimated { key, result } => self.on_run_estimated(key, result),
            Event::SliderLearnt { key, result } => self.on_slider_learnt(key, result),
            Event::InvertProgress { key, done } => self.on_invert_progress(key, done),
            Event::Inverted { key, result } => self.on_inverted(ctx, key, result),
            Event::Failed(error) => self.on_failure(&error),
        }
    }

    fn on_training_state(&mut self, state: TrainingState) {
        if state == TrainingState::Idle {
            self.training.state = None;
            self.training.running_since = None;
            return;
        }
        if state == TrainingState::Running && self.training.running_since.is_none() {
            self.training.running_since = Some(Instant::now());
        }
        self.training.state = Some(state);
    }

    /// Events of a run: progress, metrics, previews, checkpoints, its state and its end.
    fn of_the_run(event: &Event) -> bool {
        matches!(
            event,
            Event::Train(_)
                | Event::TrainingState(_)
                | Event::PreviewGrid { .. }
                | Event::TrainingEnded(_)
        )
    }

    /// The run of the project left behind stops with a checkpoint: nothing of it reaches
    /// this project's panel, plots or checkpoint list; its end is told.
    fn on_left_run_event(&mut self, event: Event) {
        if let Event::TrainingEnded(summary) = &event
            && let Some(root) = self.training.left_behind.take()
        {
            self.notify(format!(
                "The run in {} stopped at step {} with a checkpoint; open that project to \
                 resume it.",
                root.display(),
                summary.step
            ));
        } else if matches!(event, Event::TrainingState(TrainingState::Idle)) {
            // It never started: there is nothing to wait for.
            self.training.left_behind = None;
        }
    }

    fn on_training_ended(&mut self, summary: RunSummary) {
        self.training.state = None;
        let why = if summary.early_stopped {
            "stopped early (no better held-out SWD)"
        } else if summary.cancelled {
            "stopped; checkpoint saved"
        } else {
            "finished"
        };
        // A time budget alone has no step budget to name.
        let of = if summary.total_steps == u64::MAX {
            String::new()
        } else {
            format!(" of {}", summary.total_steps)
        };
        self.notify(format!("Training {why} at step {}{of}", summary.step));
        self.training.last_summary = Some(summary);
    }

    fn on_failure(&mut self, error: &WorkerError) {
        self.report_error(format!("{error}"));
        if matches!(error, WorkerError::Import(_) | WorkerError::Copy { .. }) {
            self.import.running = false;
            // A failed quiet import must not make the user's next one quiet too.
            if std::mem::take(&mut self.import.quiet) && self.import.queued.is_some() {
                self.start_queued_import();
            } else {
                self.import.then = AfterImport::Nothing;
            }
        }
    }

    /// Starts the import the user asked for while a quiet one ran, if any.
    pub(super) fn start_queued_import(&mut self) {
        if let Some(source) = self.import.queued.take() {
            self.import_source(source);
        }
    }

    fn on_nearest(
        &mut self,
        ctx: &egui::Context,
        ticket: crate::protocol::Ticket,
        picture: &crate::export::Picture,
        distance: f32,
        threshold: f32,
    ) {
        if let Some(shot) = self.broker.nearest_answered(ticket) {
            self.shot.nearest = Some(NearestView {
                shot,
                texture: texture(ctx, "nearest-train", picture),
                distance,
                threshold,
            });
        }
    }

    fn on_generator(&mut self, info: GeneratorInfo) {
        if !info.pinned.starts_with(self.project.generators_dir()) {
            // The final checkpoint of a run from a project that was closed meanwhile.
            return;
        }
        let first = self.generator.is_none();
        self.notify(format!(
            "Generator {} ready (step {}, {} px, {} directions)",
            info.id,
            info.step,
            info.model.resolution(),
            info.directions.vectors.len()
        ));
        self.project.settings.generator_id = Some(info.id.clone());
        self.mark_settings();
        self.generator = Some(info);
        // New directions: keep the edits made so far by starting the sliders from the shot's
        // current latent; the learnt sliders look for their qualities in the new generator.
        self.restart_sliders();
        self.relearn_sliders();
        if let Some(photo) = self.shot.pending_photo.take() {
            self.bring_photo_in(photo);
        }
        if first && self.project.curation.shots.is_empty() {
            self.generate(24);
        }
    }

    fn on_train_event(&mut self, event: TrainEvent) {
        match event {
            TrainEvent::Started {
                step,
                total_steps,
                train_images,
                ..
            } => {
                self.training.step = step;
                self.training.total_steps = total_steps;
                self.training.train_images = train_images;
                self.training.metrics.retain(|m| m.step <= step);
                self.training.quality.retain(|q| q.step <= step);
            }
            TrainEvent::Stepped { step, total_steps } => {
                self.training.step = step;
                self.training.total_steps = total_steps;
                self.stats.step(step);
            }
            TrainEvent::Metrics(m) => self.training.metrics.push(m),
            TrainEvent::Quality { record, best } => {
                if best {
                    self.notify(format!(
                        "New best held-out SWD {:.1} at step {}",
                        record.swd, record.step
                    ));
                }
                let step = record.step;
                self.training.quality.push(record);
                if best {
                    let path = self
                        .project
                        .run_dir(&run_name(self))
                        .join(crate::train::BEST);
                    self.remember_checkpoint(path, step);
                }
            }
            TrainEvent::Checkpoint { path, step } => self.remember_checkpoint(path, step),
            TrainEvent::Notice(text) => self.notify(text),
            TrainEvent::Imported(_) | TrainEvent::Preview { .. } => {}
        }
    }

    fn on_rendered(
        &mut self,
        ctx: &egui::Context,
        ticket: Ticket,
        pictures: Vec<Picture>,
        render_ms: f32,
    ) {
        match self.broker.rendered(ticket) {
            Some(Answer::Gallery(ids)) => {
                let primary = self.primary();
                let primary_changed = primary.is_some_and(|p| ids.contains(&Some(p)));
                if primary_changed {
                    self.shot.nearest = None;
                }
                for (id, picture) in ids.into_iter().zip(pictures) {
                    // `None`: a newer request for that shot is on its way.
                    let Some(id) = id else { continue };
                    self.gallery
                        .textures
                        .insert(id, texture(ctx, &format!("shot-{id}"), &picture));
                    self.gallery.pictures.insert(id, picture);
                }
                if primary_changed {
                    self.request_nearest();
                }
            }
            Some(Answer::Live {
                shot,
                sent,
                superseded,
                resend,
            }) => {
                if let Some(picture) = pictures.into_iter().next() {
                    self.gallery
                        .textures
                        .insert(shot, texture(ctx, &format!("shot-{shot}"), &picture));
                    self.gallery.pictures.insert(shot, picture);
                    self.request_nearest();
                    let training = matches!(self.training.state, Some(TrainingState::Running));
                    self.stats
                        .slider(sent.elapsed().as_secs_f32() * 1000.0, render_ms, training);
                }
                self.stats.live_superseded += superseded as u64;
                if resend {
                    self.request_live(shot);
                }
            }
            Some(Answer::Completion(shot)) => {
                self.shot.completing = None;
                self.shot.completions = Some((
                    shot,
                    pictures
                        .iter()
                        .enumerate()
                        .map(|(i, p)| texture(ctx, &format!("completion-{i}"), p))
                        .collect(),
                ));
            }
            Some(Answer::Morph) => {
                self.shot.morph = pictures
                    .iter()
                    .enumerate()
                    .map(|(i, p)| texture(ctx, &format!("morph-{i}"), p))
                    .collect();
            }
            // Stale or unknown tickets.
            None => {}
        }
    }

    fn on_message(&mut self, message: Message) {
        match message {
            // rfd answers "nothing picked" both for a cancel and when the desktop has no
            // file-dialog portal; say how to go on without one.
            Message::Picked(_, None) => self.notify(
                "No folder chosen. If no dialog appeared, this desktop has no file-dialog portal: drag the folder onto the window instead.",
            ),
            Message::Picked(purpose, Some(path)) => match purpose {
                DialogPurpose::ImportFolder => self.import_source(ImportSource::Folder(path)),
                DialogPurpose::OpenProject | DialogPurpose::NewProject
                    if path == self.project.root =>
                {
                    self.notify(format!("{} is the project open now", path.display()));
                }
                DialogPurpose::OpenProject => self.open_project(path),
                DialogPurpose::NewProject => self.background.load_project(path, true),
                DialogPurpose::ExportFolder => {
                    self.project.settings.export.folder = path;
                    self.mark_settings();
                }
            },
            Message::DialogFailed(e) => self.report_error(format!(
                "The file dialog failed ({e}); type the path instead, or drag a folder onto the window."
            )),
            Message::Exported(result) => {
                self.export.busy = false;
                match result {
                    Ok((outcome, sheet)) => {
                        let mut text = format!(
                            "Exported {} shots to {}",
                            outcome.written.len(),
                            self.project.settings.export.folder.display()
                        );
                        if !outcome.renamed.is_empty() {
                            let _ = write!(
                                text,
                                " ({} renamed to keep existing files)",
                                outcome.renamed.len()
                            );
                        }
                        if let Some(sheet) = sheet {
                            let _ = write!(text, "; contact sheet {}", sheet.display());
                        }
                        for notice in &outcome.notices {
                            let _ = write!(text, ". {notice}");
                        }
                        self.export.last.clone_from(&outcome.written);
                        self.notify(text);
                    }
                    Err(e) => self.report_error(format!("Export failed: {e}")),
                }
            }
            Message::ProjectLoaded(Ok(loaded)) => {
                let left_behind = self.training.state.is_some().then(|| {
                    self.control(Control::Stop);
                    self.project.root.clone()
                });
                self.cancel_import();
                if self.export.upscaler.learning() {
                    // Saved into the old project; the new one's learning starts on request.
                    self.control(Control::StopUpscaler);
                }
                self.flush_saves();
                self.adopt(*loaded);
                self.training.left_behind = left_behind;
            }
            Message::ProjectLoaded(Err(e)) => self.report_error(format!("{e}")),
            Message::SaveFailed(e) => self.report_error(e),
        }
    }
}
