//! The training panel: recipe, start/pause/stop, progress, live plots, the preview grid.

use eframe::egui;

use super::app::Studio;
use crate::base::SHIPPED_BASES;
use crate::preset::{AugmentMode, BUILTIN_PRESETS, LossKind, OptimizerKind, Preset, TrainPreset};
use crate::protocol::{Control, TrainingState};

pub(super) fn eta_text(seconds: f64) -> String {
    if !seconds.is_finite() || seconds <= 0.0 {
        return "–".into();
    }
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}m {:02}s", s / 60, s % 60)
    }
}

/// A labelled numeric field (the label names it for tests and screen readers).
fn field<N: egui::emath::Numeric>(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut N,
    speed: f64,
    range: std::ops::RangeInclusive<N>,
) -> bool {
    ui.horizontal(|ui| {
        let l = ui.label(label);
        ui.add(egui::DragValue::new(value).speed(speed).range(range))
            .labelled_by(l.id)
            .changed()
    })
    .inner
}

/// Where a run starts, what it freezes, dropout, and class conditioning. Returns whether
/// anything changed. `path_text` holds a typed base-model path between frames.
fn fine_tuning_ui(ui: &mut egui::Ui, p: &mut Preset, path_text: &mut String) -> bool {
    let mut changed = false;
    egui::CollapsingHeader::new("Fine-tuning and classes")
        .default_open(true)
        .show(ui, |ui| {
            const RANDOM: &str = "Random weights";
            const FILE: &str = "A checkpoint or run folder";
            let shipped: Vec<&str> = SHIPPED_BASES.iter().map(|b| b.name).collect();
            let current = match &p.train.init {
                None => RANDOM.to_string(),
                Some(s) if shipped.contains(&s.as_str()) => s.clone(),
                Some(_) => FILE.to_string(),
            };
            let mut choice = current.clone();
            egui::ComboBox::from_label("Start from")
                .selected_text(&choice)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut choice, RANDOM.to_string(), RANDOM);
                    for name in &shipped {
                        ui.selectable_value(&mut choice, (*name).to_string(), *name);
                    }
                    ui.selectable_value(&mut choice, FILE.to_string(), FILE);
                });
            if choice != current {
                p.train.init = match choice.as_str() {
                    RANDOM => None,
                    // Empty until a path is typed; Train then names `train.init` as missing.
                    FILE => Some(path_text.clone()),
                    name => Some(name.to_string()),
                };
                changed = true;
            }
            if choice == FILE {
                // The recipe is the truth (another project, a preset file): show its path.
                if let Some(init) = &p.train.init
                    && init != path_text
                {
                    path_text.clone_from(init);
                }
                ui.horizontal(|ui| {
                    let l = ui.label("Base model path");
                    let edit = ui.text_edit_singleline(path_text).labelled_by(l.id);
                    if edit.changed() {
                        p.train.init = Some(path_text.clone());
                        changed = true;
                    }
                });
            }
            if p.train.init.is_some() {
                ui.small(
                    "The base's networks replace the preset's model; the optimisers start afresh.",
                );
            }
            let stages = p.model.family().freezable();
            let t = &mut p.train;
            changed |= field(
                ui,
                "Freeze D blocks",
                &mut t.freeze_d_blocks,
                0.05,
                0..=stages.discriminator_blocks,
            );
            changed |= field(
                ui,
                "Freeze G stages",
                &mut t.freeze_g_blocks,
                0.05,
                0..=stages.generator_stages,
            );
            if let Some(mut dropout) = p.model.family().d_dropout()
                && field(ui, "D dropout", &mut dropout, 0.01, 0.0..=0.85)
            {
                // The family has D dropout (it offered a value), so setting it succeeds.
                let _ = p.model.family_mut().set_d_dropout(dropout);
                changed = true;
            }
            let mut wanted = p.model.conditional();
            let conditional = p.model.family().can_condition()
                && ui
                    .checkbox(&mut wanted, "Conditional: one class per sub-folder")
                    .changed();
            if conditional {
                // Filled in from the data when the run starts.
                let _ = p.model.family_mut().set_conditional(wanted);
                p.model.set_classes(Vec::new());
                bring_conditional_terms(&mut p.train, p.model.kind(), p.model.conditional());
                changed = true;
            }
            if p.model.conditional() && p.train.mode_seeking > 0.0 {
                ui.small(format!(
                    "Mode-seeking term (MSGAN) {}: keeps each class's shots varied.",
                    p.train.mode_seeking
                ));
            }
            if p.model.conditional() && p.train.class_loss > 0.0 {
                ui.small(format!(
                    "Class loss {}: shots are drawn as the class asked for.",
                    p.train.class_loss
                ));
            }
        });
    changed
}

/// The training terms conditional runs were measured with where a family ships no conditional
/// preset of its own (`cdcgan-28`'s).
const CONDITIONAL_TERMS: (f64, f64) = (1.0, 1.0);

/// The training terms that come and go with the Conditional box, as the family's shipped
/// conditional preset has them (`cdcgan-28`: mode seeking 1.0, class loss 1.0;
/// `cfastgan-64-rgb`: 1.0 and 0.25). Without the mode-seeking term a conditional G ignored z
/// and drew one image per class (cdcgan-28), so a lower weight (`fastgan-64-rgb`'s 0.5, measured
/// unconditional only) is raised to it; without the class loss the weakest class was drawn
/// below real photos' rate. An unconditional model has no class to name, so the class loss
/// goes.
fn bring_conditional_terms(train: &mut TrainPreset, family: &str, conditional: bool) {
    if !conditional {
        train.class_loss = 0.0;
        return;
    }
    let (mode_seeking, class_loss) = Preset::shipped_conditional(family)
        .map_or(CONDITIONAL_TERMS, |p| {
            (p.train.mode_seeking, p.train.class_loss)
        });
    train.mode_seeking = train.mode_seeking.max(mode_seeking);
    if train.class_loss == 0.0 {
        train.class_loss = class_loss;
    }
}

impl Studio {
    /// What a designer needs first: the photos, what the recipe makes, how long to train,
    /// Train, and the preview grid as the progress; every raw field under Advanced.
    pub fn training_panel_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Training");
        self.dataset_ui(ui);
        ui.separator();
        let busy = self.training.state.is_some();
        ui.add_enabled_ui(!busy, |ui| self.recipe_ui(ui));
        ui.separator();
        self.controls_ui(ui);
        self.progress_ui(ui);
        if let Some((step, preview)) = &self.training.preview {
            ui.label(format!("Preview (fixed latents), step {step}"));
            let side = ui.available_width().min(300.0);
            ui.add(egui::Image::new(preview).fit_to_exact_size(egui::vec2(side, side)));
        }
        ui.separator();
        egui::CollapsingHeader::new("Loss and quality plots")
            .default_open(false)
            .show(ui, |ui| self.plots_ui(ui));
    }

    /// One line on what the recipe makes from these photos, and where it trains.
    fn recipe_summary(&self) -> String {
        let p = &self.project.settings.preset;
        let colour = if p.model.channels() == 1 {
            "grey"
        } else {
            "colour"
        };
        let what = match self.import.report.as_ref().map(|r| r.per_class.len()) {
            Some(classes) if classes > 1 => format!("{classes} kinds of product"),
            _ => "products".to_string(),
        };
        let hardware = match self.hardware {
            crate::preset::Hardware::Gpu => "the GPU",
            crate::preset::Hardware::Cpu => "the CPU",
        };
        format!(
            "Makes {} px {colour} shots of {what}, trained on {hardware}.",
            p.model.resolution()
        )
    }

    /// How long to train, as a designer chooses it.
    fn duration_ui(&mut self, ui: &mut egui::Ui) -> bool {
        const CHOICES: [(&str, Option<f64>); 4] = [
            ("Quick look (10 min)", Some(10.0)),
            ("Good (1 hour)", Some(60.0)),
            ("Best (overnight, 8 hours)", Some(480.0)),
            ("By steps or epochs (Advanced)", None),
        ];
        let minutes = &mut self.project.settings.train_minutes;
        let current = CHOICES.iter().find(|(_, m)| m == minutes).map_or_else(
            || format!("{:.0} min", minutes.unwrap_or(0.0)),
            |(l, _)| (*l).into(),
        );
        let before = *minutes;
        egui::ComboBox::from_label("How long")
            .selected_text(current)
            .show_ui(ui, |ui| {
                for (label, value) in CHOICES {
                    ui.selectable_value(minutes, value, label);
                }
            });
        let changed = *minutes != before;
        self.ask_estimate_when_settled();
        changed
    }

    fn dataset_ui(&mut self, ui: &mut egui::Ui) {
        match &self.project.settings.data_dir {
            Some(dir) => {
                ui.label(format!("Data: {}", dir.display()));
            }
            None => {
                ui.label("No data yet: drag a folder of product photos onto the window.");
            }
        }
        ui.horizontal(|ui| {
            if ui.button("Import folder…").clicked() {
                self.background.pick_folder(
                    super::background::DialogPurpose::ImportFolder,
                    "Folder of product photos",
                );
            }
            if self.import.report.is_some() && ui.button("Import report").clicked() {
                self.import.window_open = true;
            }
        });
        // The quiet read of an opened project's folder says so on the estimate's line
        // instead: a bar that comes and goes would move Train under the pointer.
        if self.import.users_import_pending() {
            let fraction = self
                .import
                .progress
                .map_or(0.0, |p| p.done as f32 / p.total.max(1) as f32);
            ui.add(egui::ProgressBar::new(fraction).text("Importing…"));
        }
    }

    fn recipe_ui(&mut self, ui: &mut egui::Ui) {
        let mut changed = false;
        let current = self.project.settings.preset.name.clone();
        egui::ComboBox::from_label("Preset")
            .selected_text(&current)
            .show_ui(ui, |ui| {
                for (name, _) in BUILTIN_PRESETS {
                    if ui.selectable_label(current == *name, *name).clicked()
                        && let Ok(preset) = Preset::load(name)
                    {
                        self.project.settings.preset = preset;
                        changed = true;
                    }
                }
            });
        ui.label(self.recipe_summary());
        changed |= self.duration_ui(ui);
        let mut advanced_changed = false;
        egui::CollapsingHeader::new("Advanced")
            .default_open(false)
            .show(ui, |ui| advanced_changed = self.advanced_ui(ui));
        changed |= advanced_changed;
        changed |= fine_tuning_ui(
            ui,
            &mut self.project.settings.preset,
            &mut self.training.base_path_text,
        );
        if changed {
            self.mark_settings();
        }
    }

    /// Every raw field of the recipe (the same field-named errors apply when Train is
    /// pressed). Returns whether anything changed.
    fn advanced_ui(&mut self, ui: &mut egui::Ui) -> bool {
        let mut changed = false;
        let p = &mut self.project.settings.preset;
        ui.label(format!(
            "{} px, {} channel(s), latent {}",
            p.model.resolution(),
            p.model.channels(),
            p.model.latent_dim()
        ));
        let t = &mut p.train;
        changed |= field(ui, "Epochs", &mut t.epochs, 0.2, 1..=100_000);
        let mut steps = t.steps.unwrap_or(0);
        if field(ui, "Steps (0: use epochs)", &mut steps, 1.0, 0..=10_000_000) {
            t.steps = (steps > 0).then_some(steps);
            changed = true;
        }
        changed |= field(ui, "Batch size", &mut t.batch, 0.2, 1..=4096);
        changed |= field(ui, "Learning rate G", &mut t.lr_g, 1e-5, 1e-6..=1e-1);
        changed |= field(ui, "Learning rate D", &mut t.lr_d, 1e-5, 1e-6..=1e-1);
        egui::ComboBox::from_label("Optimizer")
            .selected_text(format!("{:?}", t.optimizer))
            .show_ui(ui, |ui| {
                for kind in [
                    OptimizerKind::Adam,
                    OptimizerKind::Adamw,
                    OptimizerKind::Sgd,
                ] {
                    changed |= ui
                        .selectable_value(&mut t.optimizer, kind, format!("{kind:?}"))
                        .changed();
                }
            });
        if t.optimizer == OptimizerKind::Sgd {
            changed |= field(ui, "Momentum", &mut t.momentum, 0.01, 0.0..=0.999);
        }
        changed |= field(ui, "Weight decay", &mut t.weight_decay, 1e-4, 0.0..=1.0);
        egui::ComboBox::from_label("Loss")
            .selected_text(format!("{:?}", t.loss))
            .show_ui(ui, |ui| {
                for kind in [LossKind::NonSaturating, LossKind::Hinge] {
                    changed |= ui
                        .selectable_value(&mut t.loss, kind, format!("{kind:?}"))
                        .changed();
                }
            });
        egui::ComboBox::from_label("Augmentation")
            .selected_text(format!("{:?}", t.augment))
            .show_ui(ui, |ui| {
                for mode in [AugmentMode::Off, AugmentMode::Fixed, AugmentMode::Adaptive] {
                    changed |= ui
                        .selectable_value(&mut t.augment, mode, format!("{mode:?}"))
                        .changed();
                }
            });
        changed |= field(ui, "Augment p", &mut t.augment_p, 0.01, 0.0..=1.0);
        changed |= field(ui, "LeCam weight", &mut t.lecam, 0.01, 0.0..=100.0);
        changed |= field(
            ui,
            "Consistency weight",
            &mut t.consistency,
            0.1,
            0.0..=100.0,
        );
        changed |= ui
            .checkbox(
                &mut p.data.mirror,
                "Mirror photos (left-right) as extra training images",
            )
            .changed();
        changed |= field(ui, "EMA decay", &mut t.ema_decay, 0.001, 0.0..=0.9999);
        changed |= field(ui, "Seed", &mut t.seed, 1.0, 0..=u64::MAX);
        changed |= field(
            ui,
            "Checkpoint every",
            &mut t.checkpoint_every,
            1.0,
            1..=1_000_000,
        );
        changed |= field(ui, "Evaluate every", &mut t.eval_every, 1.0, 0..=1_000_000);
        changed |= field(ui, "Patience", &mut t.patience, 0.1, 0..=1000);
        changed
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui) {
        let state = self.training.state;
        ui.horizontal(|ui| match state {
            None | Some(TrainingState::Idle) => {
                if ui.button("Train").clicked() {
                    self.start_training(false);
                }
                if self.can_resume() && ui.button("Resume run").clicked() {
                    self.start_training(true);
                }
            }
            Some(TrainingState::Running) => {
                if ui.button("Pause").clicked() {
                    self.control(Control::Pause);
                }
                if ui.button("Stop").clicked() {
                    self.control(Control::Stop);
                }
            }
            Some(TrainingState::Paused) => {
                if ui.button("Continue").clicked() {
                    self.control(Control::Continue);
                }
                if ui.button("Stop").clicked() {
                    self.control(Control::Stop);
                }
            }
            Some(TrainingState::Preparing) => {
                ui.spinner();
                ui.label("Importing and building the models…");
            }
            Some(TrainingState::Stopping) => {
                ui.spinner();
                ui.label("Saving a checkpoint…");
            }
        });
        // Under Train, not above it: the line comes, goes and wraps as the folder is read
        // and the machine measured, and Train must stay where the pointer found it.
        if matches!(state, None | Some(TrainingState::Idle)) {
            ui.label(self.estimate_slot_text());
        }
    }

    /// Time spent of the time chosen, or steps done of the recipe's with an ETA.
    fn progress_bar_ui(&self, ui: &mut egui::Ui) {
        let t = &self.training;
        let timed = self
            .project
            .settings
            .train_minutes
            .filter(|_| t.total_steps >= crate::studio::app::STEPS_WHEN_TIMED);
        if let (Some(minutes), Some(since)) = (timed, t.running_since) {
            let budget = minutes * 60.0;
            let spent = since.elapsed().as_secs_f64().min(budget);
            ui.add(
                egui::ProgressBar::new((spent / budget) as f32).text(format!(
                    "{} of {} · step {}",
                    eta_text(spent),
                    eta_text(budget),
                    t.step
                )),
            );
        } else {
            let fraction = t.step as f32 / t.total_steps as f32;
            let rate = t
                .metrics
                .last()
                .map_or(0.0, |m| f64::from(m.images_per_sec));
            let batch = self.project.settings.preset.train.batch as f64;
            let eta = (t.total_steps.saturating_sub(t.step)) as f64 * batch / rate.max(1e-9);
            let eta = if rate > 0.0 {
                eta_text(eta)
            } else {
                "–".into()
            };
            ui.add(
                egui::ProgressBar::new(fraction)
                    .text(format!("step {} / {} · ETA {eta}", t.step, t.total_steps)),
            );
        }
    }

    fn progress_ui(&mut self, ui: &mut egui::Ui) {
        let t = &self.training;
        if t.total_steps == 0 {
            return;
        }
        self.progress_bar_ui(ui);
        if let Some(m) = t.metrics.last() {
            ui.label(m.summary());
            if let Some(side) = m.get("grow_side") {
                let full = self.project.settings.preset.model.resolution();
                ui.label(growth_text(side, m.value("grow_alpha"), full))
                    .on_hover_text("Progressive growing: training starts small and fades each doubling in; shots show the side it trains at, enlarged.");
            }
            if self.project.settings.preset.train.augment != AugmentMode::Off {
                ui.label(format!(
                    "augmentation p {:.2} · r_t {:.2}",
                    m.value("augment_p"),
                    m.value("r_t")
                ));
            }
        }
        if let Some(q) = t.quality.last() {
            ui.label(format!(
                "held-out SWD {:.1} (best {:.1}) · near-copies {:.0} %",
                q.swd,
                t.quality
                    .iter()
                    .map(|q| q.swd)
                    .fold(f64::INFINITY, f64::min),
                q.near_copy_fraction * 100.0
            ));
            if let Some(fd) = q.feature_fd {
                let judge = q
                    .feature_judge
                    .as_deref()
                    .unwrap_or(crate::quality::SHIPPED_FEATURE_JUDGE);
                ui.label(format!("feature FD {fd:.1} ({judge})"));
                if let Some(pr) = q.fidelity {
                    ui.label(format!(
                        "precision {:.2} · recall {:.2}",
                        pr.precision, pr.recall
                    ))
                    .on_hover_text("In the same features (Kynkäänniemi et al. 2019): precision is the share of shots that look like some held-out photo (low: broken shots); recall, the share of held-out photos some shot comes near (low: missing variety).");
                }
                if let Some(dc) = q.density_coverage {
                    ui.label(format!(
                        "density {:.2} · coverage {:.2}",
                        dc.density, dc.coverage
                    ))
                    .on_hover_text("Outlier-robust counterparts (Naeem et al. 2020): density near 1 when shots lie where held-out photos crowd (low: broken shots); coverage, the share of held-out photos with a shot in their own neighbourhood (low: missing variety).");
                }
            } else if q.judge_pending {
                ui.label("feature FD: the run's class judge is still training (on its own thread)");
            }
            if let Some(c) = q.copying {
                ui.label(format!(
                    "shots nearer the training set than held-out photos: {:.0} % (50 % = no copying)",
                    100.0 * c.closer
                ))
                .on_hover_text(format!(
                    "The data-copying test (Meehan et al. 2020): z {:.1}; below −3 the generator is drifting towards its training images, above +3 it is still far from them.",
                    c.z
                ));
            }
            if let Some(v) = q.variety {
                let label = ui.label(format!(
                    "variety {v:.2} (shots' spread / held-out photos'; 1 = as varied)"
                ));
                label.on_hover_text("The median distance from each shot to its nearest other shot, over the same for held-out photos (equal counts, in the copying test's space).");
                if v < crate::quality::LOW_VARIETY {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        "Shots are far more alike than real photos (early training or mode collapse): the copying share means little yet.",
                    );
                }
            }
        }
    }
}

/// Where a growing run is: "growing: 16 px, fading in (α 0.40) · full 64 px".
fn growth_text(side: f64, alpha: f32, full: usize) -> String {
    let side = side.round() as usize;
    if side >= full && alpha >= 1.0 {
        format!("grown: training at the full {full} px")
    } else if alpha < 1.0 {
        format!("growing: {side} px, fading in (α {alpha:.2}) · full {full} px")
    } else {
        format!("growing: training at {side} px · full {full} px")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditional_runs_get_their_familys_measured_mode_seeking_weight_and_class_loss() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        // fastgan-64-rgb's 0.5 is raised to cfastgan-64-rgb's 1.0, with its class loss 0.25.
        let mut train = TrainPreset {
            mode_seeking: 0.5,
            ..TrainPreset::default()
        };
        bring_conditional_terms(&mut train, "fastgan", true);
        assert!(close(train.mode_seeking, 1.0), "{}", train.mode_seeking);
        assert!(close(train.class_loss, 0.25), "{}", train.class_loss);
        // A stronger term is the designer's to keep.
        train.mode_seeking = 2.0;
        bring_conditional_terms(&mut train, "fastgan", true);
        assert!(close(train.mode_seeking, 2.0), "{}", train.mode_seeking);
        bring_conditional_terms(&mut train, "fastgan", false);
        assert!(train.class_loss.abs() < 1e-12, "{}", train.class_loss);
        // DCGAN's come from cdcgan-28.
        let mut train = TrainPreset::default();
        bring_conditional_terms(&mut train, "dcgan", true);
        assert!(close(train.mode_seeking, 1.0) && close(train.class_loss, 1.0));
        // A family with no shipped conditional preset gets cdcgan-28's measured terms.
        let mut train = TrainPreset::default();
        bring_conditional_terms(&mut train, "pixelcnn", true);
        assert!(close(train.mode_seeking, 1.0) && close(train.class_loss, 1.0));
    }
}
