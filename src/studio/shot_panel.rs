//! The selected shot: large view, latent sliders, curation buttons, compare and morph strip.

use eframe::egui;

use super::app::Studio;
use crate::project::ShotId;

/// The shot panel's state: the sliders, the morph strip and the nearest training image.
#[derive(Default)]
pub struct ShotView {
    pub editor: ShotEditor,
    pub(super) morph: Vec<egui::TextureHandle>,
    /// The pair the morph strip was rendered for.
    pub(super) morph_pair: Option<(ShotId, ShotId)>,
    pub nearest: Option<NearestView>,
    /// Whether the worker holds the imported photos to search for the nearest one.
    pub(super) has_reference: bool,
    /// Sliders being taught from picks.
    pub teaching: super::sliders::SliderTeaching,
    /// A photo being brought into the generator (dropped on this panel).
    pub photo_in: Option<super::photo_in::PhotoIn>,
    /// A photo to bring in as soon as a generator is loaded (`--photo-in`).
    pub pending_photo: Option<std::path::PathBuf>,
    /// Where the panel was last drawn: a photo dropped inside it is brought in.
    pub(super) rect: Option<egui::Rect>,
    /// The shot whose completions are being drawn (autoregressive models).
    pub completing: Option<ShotId>,
    /// The last completions, and the shot they complete.
    pub completions: Option<(ShotId, Vec<egui::TextureHandle>)>,
}

/// The sliders of the selected shot.
#[derive(Clone, Debug, Default)]
pub struct ShotEditor {
    pub shot: Option<ShotId>,
    /// The latent when the shot was selected; slider amounts move away from it.
    pub base: Vec<f32>,
    /// The shot's named edits when it was selected; this session's moves add to them.
    pub base_edits: Vec<crate::latent::SliderEdit>,
    pub amounts: Vec<f32>,
    pub truncation: f32,
}

/// The training image nearest to the selected shot.
pub struct NearestView {
    pub shot: ShotId,
    pub texture: egui::TextureHandle,
    pub distance: f32,
    pub threshold: f32,
}

impl Studio {
    pub fn shot_panel_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Shot");
        self.photo_in_ui(ui);
        if self.gallery.selected.is_empty() {
            ui.label("Select a shot in the gallery (click, shift/ctrl-click, arrow keys).");
            return;
        }
        if self.gallery.compare && self.gallery.selected.len() > 1 {
            self.compare_ui(ui);
        } else if let Some(id) = self.primary() {
            if let Some(tex) = self.gallery.textures.get(&id) {
                let side = ui.available_width().min(280.0);
                ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(side, side)));
            }
            if let Some(shot) = self.project.curation.get(id) {
                let seed = shot.seed.map_or_else(|| "–".into(), |s| s.to_string());
                ui.label(format!(
                    "Shot {id} · seed {seed}{} · ψ {:.2} · generator {}",
                    if shot.edited { " (edited)" } else { "" },
                    shot.truncation,
                    shot.generator_id
                ));
            }
        }
        self.nearest_ui(ui);
        self.curation_ui(ui);
        self.variations_ui(ui);
        if self.can_complete() {
            self.completion_ui(ui);
        }
        if !self.shot.morph.is_empty() {
            ui.separator();
            ui.label("Morph between the two selected shots");
            ui.horizontal_wrapped(|ui| {
                let side = (ui.available_width() / 4.0 - 6.0).clamp(24.0, 80.0);
                for tex in &self.shot.morph {
                    ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(side, side)));
                }
            });
        }
        ui.separator();
        self.sliders_ui(ui);
    }

    /// The shot beside its nearest training image, flagged when it is a near-copy. The row
    /// keeps its height while the answer is pending, so buttons below never jump.
    fn nearest_ui(&self, ui: &mut egui::Ui) {
        let Some(id) = self.primary() else { return };
        let side = egui::vec2(64.0, 64.0);
        ui.horizontal(|ui| {
            ui.set_min_height(side.y);
            let Some(n) = self.shot.nearest.as_ref().filter(|n| n.shot == id) else {
                ui.label("Nearest training image: looking…");
                return;
            };
            if let Some(tex) = self.gallery.textures.get(&id) {
                ui.add(egui::Image::new(tex).fit_to_exact_size(side));
            }
            ui.add(egui::Image::new(&n.texture).fit_to_exact_size(side));
            ui.vertical(|ui| {
                ui.label("Nearest training image");
                ui.label(format!(
                    "distance {:.3} (near-copy below {:.3})",
                    n.distance, n.threshold
                ));
                if n.distance < n.threshold {
                    ui.colored_label(egui::Color32::ORANGE, "Near-copy of a training image");
                }
            });
        });
    }

    /// Variations around the shot at a chosen distance, and (conditional models) its style in
    /// every other class.
    fn variations_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            if ui
                .button("Variations")
                .on_hover_text("8 variations of this shot, the distance to the right away (M)")
                .clicked()
            {
                self.more_like_this(8);
            }
            let mut distance = self.project.settings.variation_distance;
            if ui
                .add(
                    egui::Slider::new(&mut distance, 0.05..=1.5)
                        .step_by(0.05)
                        .text("apart"),
                )
                .on_hover_text("Small: the same product, retouched. Large: a related design.")
                .changed()
            {
                self.project.settings.variation_distance = distance;
                self.mark_settings();
            }
            let conditional = self
                .generator
                .as_ref()
                .is_some_and(|g| g.model.class_count() > 1);
            if conditional
                && ui
                    .button("Every class")
                    .on_hover_text(
                        "This shot's style (its latent) drawn as each of the other classes",
                    )
                    .clicked()
            {
                self.same_style_every_class();
            }
        });
    }

    fn compare_ui(&mut self, ui: &mut egui::Ui) {
        ui.label(format!("Comparing {} shots", self.gallery.selected.len()));
        let n = self.gallery.selected.len().min(4);
        let side = (ui.available_width() / n as f32 - 8.0).max(32.0);
        ui.horizontal_wrapped(|ui| {
            for id in self.gallery.selected.iter().take(8) {
                ui.vertical(|ui| {
                    if let Some(tex) = self.gallery.textures.get(id) {
                        ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(side, side)));
                    }
                    ui.label(format!("Shot {id}"));
                });
            }
        });
    }

    fn curation_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            if ui.button("Favourite").on_hover_text("F").clicked() {
                self.toggle_favourite();
            }
            if ui.button("Reject").on_hover_text("X").clicked() {
                self.toggle_reject();
            }
            if ui
                .add_enabled(
                    self.gallery.selected.len() > 1,
                    egui::Button::new("Compare"),
                )
                .on_hover_text("C")
                .clicked()
            {
                self.gallery.compare = !self.gallery.compare;
            }
            if ui.button("Export…").on_hover_text("Ctrl+E").clicked() {
                self.export.open = true;
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("Tag");
            let edit = ui
                .add(egui::TextEdit::singleline(&mut self.gallery.tag_draft).desired_width(120.0))
                .labelled_by(label.id);
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Add tag").clicked() || enter {
                let tag = std::mem::take(&mut self.gallery.tag_draft);
                self.add_tag(&tag);
            }
        });
        if let Some(id) = self.primary() {
            let tags = self
                .project
                .curation
                .get(id)
                .map(|s| s.tags.clone())
                .unwrap_or_default();
            ui.horizontal_wrapped(|ui| {
                for tag in tags {
                    if ui
                        .small_button(format!("{tag} x"))
                        .on_hover_text("Remove tag")
                        .clicked()
                    {
                        self.remove_tag(id, &tag);
                    }
                }
            });
        }
    }
}
