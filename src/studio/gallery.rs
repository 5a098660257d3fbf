//! The gallery: a scrolling grid of shots, selection by click / shift / ctrl / arrows.

use std::collections::{HashMap, HashSet};

use eframe::egui;

use super::app::Studio;
use crate::export::Picture;
use crate::project::ShotId;

/// The gallery's state: the shots' pictures, the selection and how the grid is shown.
pub struct GalleryView {
    pub textures: HashMap<ShotId, egui::TextureHandle>,
    pub pictures: HashMap<ShotId, Picture>,
    pub selected: Vec<ShotId>,
    /// Where a shift-click selection starts.
    pub(super) anchor: Option<ShotId>,
    pub(super) favourites_only: bool,
    /// How many shots "Generate" adds.
    pub(super) generate_count: usize,
    /// New shots land at the end of the gallery: scroll there on the next frame.
    pub(super) scroll_to: Option<ShotId>,
    pub(super) compare: bool,
    pub(super) tag_draft: String,
    pub(super) columns: usize,
}

impl Default for GalleryView {
    fn default() -> Self {
        Self {
            textures: HashMap::new(),
            pictures: HashMap::new(),
            selected: Vec::new(),
            anchor: None,
            favourites_only: false,
            generate_count: 16,
            scroll_to: None,
            compare: false,
            tag_draft: String::new(),
            columns: 6,
        }
    }
}

/// Side of a gallery tile's picture in points.
const TILE: f32 = 104.0;
/// Side of a tile with its button frame: every row is this tall, which lets the grid lay out
/// only the rows in view.
const TILE_CELL: f32 = TILE + 8.0;

/// A labelled combo box choosing one class, or none (`none_text`). Returns whether it changed.
fn class_combo(
    ui: &mut egui::Ui,
    label: &str,
    none_text: &str,
    classes: &[String],
    value: &mut Option<String>,
) -> bool {
    let before = value.clone();
    let text = value.clone().unwrap_or_else(|| none_text.to_string());
    egui::ComboBox::from_label(label)
        .selected_text(text)
        .show_ui(ui, |ui| {
            ui.selectable_value(value, None, none_text);
            for class in classes {
                ui.selectable_value(value, Some(class.clone()), class);
            }
        });
    *value != before
}

impl Studio {
    pub fn gallery_ui(&mut self, ui: &mut egui::Ui) {
        self.gallery_header_ui(ui);
        ui.separator();
        self.request_missing();
        self.gallery_grid_ui(ui);
    }

    fn gallery_header_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.heading("Gallery");
            let ready = self.generator.is_some();
            if ui
                .add_enabled(ready, egui::Button::new("Generate"))
                .on_hover_text("New shots from random seeds (G)")
                .clicked()
            {
                self.generate(self.gallery.generate_count);
            }
            let count = ui.label("Count");
            ui.add(egui::DragValue::new(&mut self.gallery.generate_count).range(1..=256))
                .labelled_by(count.id);
            let one = self.gallery.selected.len() == 1;
            if ui
                .add_enabled(one, egui::Button::new("More like this"))
                .on_hover_text(
                    "8 variations of the selected shot, as far apart as the Shot panel says (M)",
                )
                .clicked()
            {
                self.more_like_this(8);
            }
            let mut show_rejected = self.project.settings.show_rejected;
            if ui.checkbox(&mut show_rejected, "Show rejected").changed() {
                self.project.settings.show_rejected = show_rejected;
                self.mark_settings();
            }
            ui.checkbox(&mut self.gallery.favourites_only, "Favourites only");
        });
        ui.horizontal(|ui| {
            let mut psi = self.project.settings.truncation;
            let slider = ui.add(egui::Slider::new(&mut psi, 0.1..=1.5).text("New-shot truncation"));
            if slider.changed() {
                self.project.settings.truncation = psi;
                self.mark_settings();
            }
        });
        self.class_pickers_ui(ui);
        if let Some(info) = &self.generator {
            ui.label(format!(
                "Sampling from generator {} (step {})",
                info.id, info.step
            ));
        } else {
            ui.label("Waiting for a generator…");
        }
    }

    /// Conditional generators: which class new shots are drawn from, and a gallery filter
    /// by class (over every class any shot carries).
    fn class_pickers_ui(&mut self, ui: &mut egui::Ui) {
        let model_classes = self
            .generator
            .as_ref()
            .map(|g| g.model.classes().to_vec())
            .filter(|c| !c.is_empty());
        let mut shot_classes: Vec<String> = self
            .project
            .curation
            .shots
            .iter()
            .filter_map(|s| s.class.clone())
            .collect();
        // A saved filter stays listed (and clearable) even when no shot carries it any more.
        shot_classes.extend(self.project.settings.class_filter.clone());
        shot_classes.sort();
        shot_classes.dedup();
        if model_classes.is_none() && shot_classes.is_empty() {
            return;
        }
        ui.horizontal_wrapped(|ui| {
            let settings = &mut self.project.settings;
            let mut changed = false;
            if let Some(classes) = &model_classes {
                changed |= class_combo(
                    ui,
                    "Draw class",
                    "Every class",
                    classes,
                    &mut settings.sample_class,
                );
            }
            if !shot_classes.is_empty() {
                changed |= class_combo(
                    ui,
                    "Show class",
                    "All classes",
                    &shot_classes,
                    &mut settings.class_filter,
                );
            }
            if changed {
                self.mark_settings();
            }
        });
    }

    /// The grid, virtualised: only the rows in view are laid out and drawn, so a gallery of
    /// 10,000 shots costs a frame what one of a hundred does.
    fn gallery_grid_ui(&mut self, ui: &mut egui::Ui) {
        let ids = self.visible_ids();
        // A tile is the image in its button frame, plus the spacing. Measured against the
        // visible (clipped) width: the panel's own width can run under the side panel.
        let visible = (ui.clip_rect().right() - ui.cursor().left()).min(ui.available_width());
        let gap = ui.spacing().item_spacing.x;
        // Less the scroll bar's width, which the rows must leave free.
        let usable = visible - ui.spacing().scroll.bar_width - gap;
        let columns = (((usable + gap) / (TILE_CELL + gap)).floor() as usize).max(1);
        self.gallery.columns = columns;
        if ids.is_empty() {
            ui.label("No shots yet.");
            return;
        }
        let selected: HashSet<ShotId> = self.gallery.selected.iter().copied().collect();
        let rows = ids.len().div_ceil(columns);
        let spacing = ui.spacing().item_spacing.y;
        let mut area = egui::ScrollArea::vertical().auto_shrink([false, false]);
        if let Some(target) = self.gallery.scroll_to.take()
            && let Some(index) = ids.iter().position(|id| *id == target)
        {
            area = area.vertical_scroll_offset((index / columns) as f32 * (TILE_CELL + spacing));
        }
        let mut clicked = None;
        let mut retry = None;
        let mut stop = None;
        area.show_rows(ui, TILE_CELL, rows, |ui, row_range| {
            for row in row_range {
                ui.horizontal(|ui| {
                    for id in ids.iter().skip(row * columns).take(columns) {
                        let Some((response, action)) = self.tile(ui, *id, selected.contains(id))
                        else {
                            continue;
                        };
                        match action {
                            TileAction::Retry => retry = Some(*id),
                            TileAction::StopDrawing(ticket) => stop = Some(ticket),
                            TileAction::None if response.clicked() => {
                                clicked = Some((*id, ui.input(|i| i.modifiers)));
                            }
                            TileAction::None => {}
                        }
                    }
                });
            }
        });
        if let Some((id, modifiers)) = clicked {
            self.click_shot(id, modifiers);
        }
        if let Some(id) = retry {
            self.retry_render(id);
        }
        if let Some(ticket) = stop
            && !self.broker.cancel(ticket)
        {
            self.report_error("The worker is gone; nothing to stop.");
        }
    }

    /// One shot's tile: its picture (or "…" / Retry), badges and class, named for screen
    /// readers and tests. Returns the tile and what was asked of it beyond a click.
    fn tile(
        &self,
        ui: &mut egui::Ui,
        id: ShotId,
        selected: bool,
    ) -> Option<(egui::Response, TileAction)> {
        let shot = self.project.curation.get(id)?;
        let mut badges = String::new();
        if shot.favourite {
            badges.push_str("fav");
        }
        if shot.rejected {
            badges.push_str(if badges.is_empty() {
                "rejected"
            } else {
                " rejected"
            });
        }
        let class = shot
            .class
            .as_deref()
            .map_or(String::new(), |c| format!(" {c}"));
        let name = if badges.is_empty() {
            format!("Shot {id}{class}")
        } else {
            format!("Shot {id}{class} {badges}")
        };
        let (response, action) = if let Some(tex) = self.gallery.textures.get(&id) {
            let image = egui::Image::new(tex).fit_to_exact_size(egui::vec2(TILE, TILE));
            let response = ui.add_sized(
                [TILE_CELL, TILE_CELL],
                egui::Button::image(image).selected(selected),
            );
            (response, TileAction::None)
        } else {
            self.placeholder_tile(ui, id, selected)
        };
        let response = response.on_hover_text(&name);
        response
            .widget_info(|| egui::WidgetInfo::selected(egui::Role::Button, true, selected, &name));
        if !badges.is_empty() {
            ui.painter().text(
                response.rect.left_top() + egui::vec2(4.0, 2.0),
                egui::Align2::LEFT_TOP,
                &badges,
                egui::FontId::proportional(14.0),
                egui::Color32::GOLD,
            );
        }
        if let Some(c) = &shot.class {
            ui.painter().text(
                response.rect.left_bottom() + egui::vec2(4.0, -2.0),
                egui::Align2::LEFT_BOTTOM,
                c,
                egui::FontId::proportional(12.0),
                egui::Color32::LIGHT_BLUE,
            );
        }
        Some((response, action))
    }

    /// A tile whose picture has not come: "…" while it renders (its share done while it
    /// is drawn pixel by pixel, with Stop drawing on right-click), Retry (with why on hover)
    /// when its render failed. Returns the tile and whether Retry was clicked.
    fn placeholder_tile(
        &self,
        ui: &mut egui::Ui,
        id: ShotId,
        selected: bool,
    ) -> (egui::Response, TileAction) {
        let failed = self.broker.failure(id).map(str::to_owned);
        let drawing = self.broker.shot_progress(id);
        let label = match (&failed, drawing) {
            (Some(_), _) => "Retry".to_string(),
            (None, Some((_, share))) => format!("{:.0} %", share * 100.0),
            (None, None) => "…".to_string(),
        };
        let response = ui.add_sized(
            [TILE_CELL, TILE_CELL],
            egui::Button::new(label).selected(selected),
        );
        if let Some(why) = failed {
            let action = if response.clicked() {
                TileAction::Retry
            } else {
                TileAction::None
            };
            return (
                response.on_hover_text(format!("Rendering failed: {why}")),
                action,
            );
        }
        let Some((ticket, _)) = drawing else {
            return (response, TileAction::None);
        };
        let mut action = TileAction::None;
        let response = response
            .on_hover_text("Drawn pixel by pixel, one network pass each; right-click to stop");
        response.context_menu(|ui| {
            if ui.button("Stop drawing").clicked() {
                action = TileAction::StopDrawing(ticket);
                ui.close();
            }
        });
        (response, action)
    }

    /// Keyboard shortcuts (ignored while a text field has focus).
    pub fn shortcuts(&mut self, ctx: &egui::Context) {
        // A focused widget (a slider, a text field) owns the keys.
        if ctx.egui_wants_keyboard_input() || ctx.memory(|m| m.focused().is_some()) {
            return;
        }
        let columns = self.gallery.columns.max(1) as isize;
        let pressed = |key| ctx.input(|i| i.key_pressed(key));
        let command = ctx.input(|i| i.modifiers.command);
        if pressed(egui::Key::ArrowRight) {
            self.move_selection(1);
        }
        if pressed(egui::Key::ArrowLeft) {
            self.move_selection(-1);
        }
        if pressed(egui::Key::ArrowDown) {
            self.move_selection(columns);
        }
        if pressed(egui::Key::ArrowUp) {
            self.move_selection(-columns);
        }
        if pressed(egui::Key::F) {
            self.toggle_favourite();
        }
        if pressed(egui::Key::X) || pressed(egui::Key::Delete) {
            self.toggle_reject();
        }
        if pressed(egui::Key::M) {
            self.more_like_this(8);
        }
        if pressed(egui::Key::G) {
            self.generate(self.gallery.generate_count);
        }
        if pressed(egui::Key::C) {
            self.gallery.compare = !self.gallery.compare;
        }
        if command && pressed(egui::Key::E) {
            self.export.open = true;
        }
        if command && pressed(egui::Key::A) {
            self.gallery.selected = self.visible_ids();
            self.sync_editor();
        }
    }
}

/// What a tile asks beyond a click.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TileAction {
    None,
    /// Render the failed shot again.
    Retry,
    /// Give up the render that draws this shot pixel by pixel.
    StopDrawing(crate::protocol::Ticket),
}
