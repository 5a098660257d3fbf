//! Windows: the import report, the export dialog, the message log; and the menu bar.

use eframe::egui;

use super::app::Studio;
use super::background::DialogPurpose;
use crate::export::ExportFormat;
use crate::upscale::Upscaling;

/// Frames the status bar's frame-time figure is taken over.
const STATUS_FRAMES: usize = 600;

impl Studio {
    pub fn menu_ui(
        &mut self,
        ui: &mut egui::Ui,
        settings: &mut super::AppSettings,
        remote: &mut super::remote::RemotePanel,
    ) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("Project", |ui| {
                if ui.button("New project…").clicked() {
                    self.background
                        .pick_folder(DialogPurpose::NewProject, "Folder for the new project");
                }
                if ui.button("Open project…").clicked() {
                    self.background
                        .pick_folder(DialogPurpose::OpenProject, "Open a project folder");
                }
                ui.menu_button("Open recent", |ui| {
                    for path in self.recent.paths.clone() {
                        if ui.button(path.display().to_string()).clicked() {
                            if path == self.project.root {
                                self.notify(format!("{} is the project open now", path.display()));
                            } else {
                                self.open_project(path);
                            }
                        }
                    }
                });
                ui.separator();
                if ui.button("Import images…").clicked() {
                    self.background
                        .pick_folder(DialogPurpose::ImportFolder, "Folder of product photos");
                }
                if ui.button("Export selected…").clicked() {
                    self.export.open = true;
                }
            });
            ui.menu_button("Checkpoint", |ui| {
                if self.checkpoints.is_empty() {
                    ui.label("No saved checkpoints yet.");
                }
                let runs_dir = self.project.root.join("runs");
                for entry in self.checkpoints.clone() {
                    if ui.button(entry.label(&runs_dir)).clicked() {
                        self.send(crate::protocol::Command::LoadGenerator {
                            path: entry.path,
                            pin_dir: self.project.generators_dir(),
                        });
                    }
                }
            });
            ui.menu_button("View", |ui| {
                let mut show = self.project.settings.show_rejected;
                if ui.checkbox(&mut show, "Show rejected").changed() {
                    self.project.settings.show_rejected = show;
                    self.mark_settings();
                }
                ui.checkbox(&mut self.gallery.compare, "Compare selected");
            });
            ui.menu_button("Settings", |ui| {
                ui.label("Compute device (applies at the next start)");
                for setting in super::ComputeSetting::ALL {
                    if ui
                        .radio_value(&mut settings.compute, setting, setting.label())
                        .changed()
                    {
                        if setting == super::ComputeSetting::Remote {
                            remote.open = true;
                        }
                        if let Err(e) = settings.save() {
                            self.report_error(format!("Cannot save the settings: {e}"));
                        }
                    }
                }
                if ui.button("Remote server…").clicked() {
                    remote.open = true;
                }
            });
            ui.label(format!("· {}", self.project.settings.name));
        });
    }

    pub fn status_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label(format!("Compute: {}", self.compute_description));
            let errors = self.gpu_errors.total();
            if errors > 0 {
                ui.colored_label(
                    egui::Color32::ORANGE,
                    format!(
                        "GPU errors: {errors} (last: {})",
                        self.gpu_errors.last().unwrap_or_default()
                    ),
                );
            }
            // The last ~10 s of frames: what the status bar is for, and cheap to sort each frame.
            let last = super::stats::recent(&self.stats.frame_ms, STATUS_FRAMES);
            if let Some(p95) = super::stats::percentile(last, 0.95) {
                ui.label(format!("frame p95 {p95:.1} ms"));
            }
            if let Some(n) = self.notices.last() {
                let color = if n.is_error {
                    egui::Color32::LIGHT_RED
                } else {
                    ui.visuals().text_color()
                };
                ui.colored_label(color, &n.text);
            }
        });
    }

    pub fn windows_ui(&mut self, ctx: &egui::Context) {
        self.import_window(ctx);
        self.export_window(ctx);
        let errors: Vec<_> = self
            .notices
            .iter()
            .filter(|n| n.is_error && n.at.elapsed().as_secs() < 20)
            .map(|n| n.text.clone())
            .collect();
        if !errors.is_empty() {
            egui::Window::new("Problems")
                .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-8.0, -32.0))
                .collapsible(true)
                .show(ctx, |ui| {
                    for e in errors.iter().rev().take(5) {
                        ui.colored_label(egui::Color32::LIGHT_RED, e);
                    }
                });
        }
    }

    fn import_window(&mut self, ctx: &egui::Context) {
        let mut open = self.import.window_open;
        let mut close_report = false;
        egui::Window::new("Import")
            .open(&mut open)
            .default_width(420.0)
            .show(ctx, |ui| {
                if self.import.running {
                    let (done, total) = self.import.progress.map_or((0, 0), |p| (p.done, p.total));
                    ui.add(
                        egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                            .text(format!("{done} / {total} files")),
                    );
                    if let Some(next) = &self.import.queued {
                        ui.label(format!(
                            "Reading the project's folder first (to find near-copies); {} next.",
                            match next {
                                crate::worker::ImportSource::Folder(dir) =>
                                    dir.display().to_string(),
                                crate::worker::ImportSource::Files { files, .. } =>
                                    format!("the {} dropped files", files.len()),
                            }
                        ));
                    }
                }
                let Some(report) = &self.import.report else {
                    return;
                };
                if ui.button("Close report").clicked() {
                    close_report = true;
                }
                ui.label(format!(
                    "Imported {} of {} files from {} in {:.1} s",
                    report.imported,
                    report.files_seen,
                    report.root.display(),
                    report.seconds
                ));
                // What the recipe will make of them: size and colour, so a grey recipe on
                // colour photos (or the switch away from one) is visible here.
                let model = &self.project.settings.preset.model;
                ui.label(format!(
                    "{} of {} show colour; median shorter side {} px. Recipe {}: {} px {}.",
                    report.colour_images,
                    report.imported,
                    report.median_side,
                    self.project.settings.preset.name,
                    model.resolution(),
                    if model.channels() == 3 {
                        "colour"
                    } else {
                        "grey"
                    }
                ));
                for tip in &self.import.tips {
                    ui.colored_label(ui.visuals().warn_fg_color, tip);
                }
                egui::Grid::new("import-classes").show(ui, |ui| {
                    for (class, count) in &report.per_class {
                        ui.label(class);
                        ui.label(count.to_string());
                        ui.end_row();
                    }
                });
                ui.horizontal_wrapped(|ui| {
                    for tex in &self.import.thumbnails {
                        ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(40.0, 40.0)));
                    }
                });
                if !report.skipped.is_empty() {
                    ui.label(format!("Skipped {} files:", report.skipped.len()));
                    egui::ScrollArea::vertical()
                        .max_height(160.0)
                        .show(ui, |ui| {
                            for s in &report.skipped {
                                ui.label(format!("{}: {}", s.path.display(), s.reason));
                            }
                        });
                }
            });
        self.import.window_open = open && !close_report;
    }

    fn export_window(&mut self, ctx: &egui::Context) {
        let mut open = self.export.open;
        let mut export = false;
        egui::Window::new("Export")
            .open(&mut open)
            .default_width(380.0)
            .show(ctx, |ui| {
                let rendered = self.selection_for_export().len();
                ui.label(format!(
                    "{} selected, {rendered} ready to export",
                    self.gallery.selected.len()
                ));
                let settings = &mut self.project.settings.export;
                let mut changed = false;
                ui.horizontal(|ui| {
                    ui.label("Format");
                    changed |= ui
                        .radio_value(&mut settings.format, ExportFormat::Png, "PNG")
                        .changed();
                    changed |= ui
                        .radio_value(&mut settings.format, ExportFormat::Jpeg, "JPEG")
                        .changed();
                });
                egui::ComboBox::from_label("Size")
                    .selected_text(format!("{} px", settings.size_px))
                    .show_ui(ui, |ui| {
                        for size in [256, 512, 1024, 2048, 4096] {
                            changed |= ui
                                .selectable_value(&mut settings.size_px, size, format!("{size} px"))
                                .changed();
                        }
                    });
                ui.horizontal(|ui| {
                    ui.label("Enlarge");
                    for choice in [Upscaling::Sharp, Upscaling::Smooth] {
                        changed |= ui
                            .radio_value(&mut settings.upscaling, choice, choice.label())
                            .changed();
                    }
                });
                ui.horizontal(|ui| {
                    let l = ui.label("File name");
                    changed |= ui
                        .text_edit_singleline(&mut settings.template)
                        .labelled_by(l.id)
                        .changed();
                });
                ui.small("{seed} {index} {id} {class} {checkpoint} are replaced");
                let mut folder = settings.folder.display().to_string();
                ui.horizontal(|ui| {
                    let l = ui.label("Folder");
                    if ui
                        .text_edit_singleline(&mut folder)
                        .labelled_by(l.id)
                        .changed()
                    {
                        settings.folder = folder.clone().into();
                        changed = true;
                    }
                    if ui.button("Choose…").clicked() {
                        self.background
                            .pick_folder(DialogPurpose::ExportFolder, "Export folder");
                    }
                });
                ui.checkbox(&mut self.export.contact_sheet, "Also a contact sheet");
                if changed {
                    self.mark_settings();
                }
                let label = if self.export.busy {
                    "Exporting…"
                } else {
                    "Export now"
                };
                if ui
                    .add_enabled(rendered > 0 && !self.export.busy, egui::Button::new(label))
                    .clicked()
                {
                    export = true;
                }
                for path in self.export.last.iter().take(4) {
                    ui.small(path.display().to_string());
                }
                self.upscaler_section(ui);
            });
        self.export.open = open;
        if export {
            self.export_selection();
        }
    }

    /// Which upscaler sharp exports use, and learning the project's own.
    fn upscaler_section(&mut self, ui: &mut egui::Ui) {
        ui.separator();
        let view = &self.export.upscaler;
        ui.small(if view.project_has_own {
            "Sharp uses this project's own upscaler, learnt from its photos."
        } else {
            "Sharp uses the shipped upscaler (learnt from clothing photos). \
             Teach it this project's photos for their own textures."
        });
        if let Some((step, seconds, budget, loss)) = view.progress {
            let fraction = (seconds / budget.max(1.0)).clamp(0.0, 1.0) as f32;
            let clock = |s: f64| format!("{}:{:02}", (s / 60.0) as u64, (s % 60.0) as u64);
            ui.add(egui::ProgressBar::new(fraction).text(format!(
                "Learning the upscaler: step {step}, {} of {}, loss {loss:.4}",
                clock(seconds),
                clock(budget)
            )));
            if ui.button("Stop learning (keeps what it learnt)").clicked() {
                self.stop_upscaler();
            }
            return;
        }
        if view.starting {
            ui.label("Reading the photos…");
            return;
        }
        let mut learn = false;
        ui.horizontal(|ui| {
            let minutes = &mut self.export.upscaler.minutes;
            egui::ComboBox::from_id_salt("upscaler-minutes")
                .selected_text(format!("{minutes} min"))
                .show_ui(ui, |ui| {
                    for m in [10, 30, 60, 180] {
                        ui.selectable_value(minutes, m, format!("{m} min"));
                    }
                });
            let has_photos = self.project.settings.data_dir.is_some();
            learn = ui
                .add_enabled(
                    has_photos,
                    egui::Button::new("Learn an upscaler from this project's photos"),
                )
                .on_disabled_hover_text("Import product photos first")
                .clicked();
        });
        if learn {
            self.learn_upscaler();
        }
    }
}
