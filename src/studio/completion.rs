//! What only an autoregressive model can do in the studio: keep the top half of the selected
//! shot and let the model draw the rest, several ways, in a strip under the shot. Shown in
//! place of the variations for a model without a latent space.

use eframe::egui;

use super::app::Studio;
use super::broker::RenderParts;
use crate::latent::latent_for_seed;
use crate::protocol::Completion;

/// Completions drawn per request.
pub const COMPLETIONS: usize = 6;

impl Studio {
    /// Whether the loaded generator completes pictures (an autoregressive model).
    #[must_use]
    pub fn can_complete(&self) -> bool {
        self.generator
            .as_ref()
            .is_some_and(|g| g.model.family().has_likelihood())
    }

    /// Asks the worker for [`COMPLETIONS`] completions of the selected shot's lower half, its
    /// top half kept. Returns whether the request went out.
    pub fn complete_lower_half(&mut self) -> bool {
        let Some(id) = self.primary() else {
            return false;
        };
        let (Some(shot), Some(picture)) = (
            self.project.curation.get(id).cloned(),
            self.gallery.pictures.get(&id),
        ) else {
            return false;
        };
        let side = picture.width;
        let keep: Vec<bool> = (0..side * side).map(|p| p / side < side / 2).collect();
        let dim = shot.latent.len();
        // Fresh draws each time, named by seeds after the shot's own.
        let first = shot
            .seed
            .unwrap_or(0)
            .wrapping_add(1 + self.rng.next_u64() % 1_000_000);
        let latents: Vec<Vec<f32>> = (0..COMPLETIONS as u64)
            .map(|k| latent_for_seed(first + k, dim))
            .collect();
        let parts = RenderParts {
            generator: self.project.generator_path(&shot.generator_id),
            latents,
            classes: vec![shot.class.clone(); COMPLETIONS],
        };
        let completion = Completion {
            image: picture.to_chw_u8(),
            keep,
        };
        let sent = self.broker.render_completion(id, parts, completion);
        if sent {
            self.shot.completing = Some(id);
        } else {
            self.report_error("The worker is busy or gone; the completion was not asked for.");
        }
        sent
    }

    /// The Complete button and the strip of the last completions of the selected shot.
    pub(super) fn completion_ui(&mut self, ui: &mut egui::Ui) {
        let Some(id) = self.primary() else { return };
        let busy = self.shot.completing.is_some();
        if ui
            .add_enabled(!busy, egui::Button::new("Complete the lower half"))
            .on_hover_text(format!(
                "Keep this shot's top half and let the model draw the rest, {COMPLETIONS} ways"
            ))
            .clicked()
        {
            self.complete_lower_half();
        }
        if busy {
            let progress = self.broker.completion_progress();
            let share = progress.map_or(0.0, |(_, share)| share);
            ui.horizontal(|ui| {
                let cancel = ui
                    .add_enabled(progress.is_some(), egui::Button::new("Cancel"))
                    .on_hover_text("Stop drawing these completions");
                ui.add(
                    egui::ProgressBar::new(share)
                        .text(format!("{:.0} % drawn, pixel by pixel", share * 100.0)),
                );
                if cancel.clicked()
                    && let Some((ticket, _)) = progress
                    && !self.broker.cancel(ticket)
                {
                    self.report_error("The worker is gone; nothing to cancel.");
                }
            });
        }
        if let Some((shot, textures)) = &self.shot.completions
            && *shot == id
        {
            ui.label("Top half kept, the rest drawn by the model");
            ui.horizontal_wrapped(|ui| {
                let side = (ui.available_width() / 3.0 - 6.0).clamp(24.0, 96.0);
                for tex in textures {
                    ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(side, side)));
                }
            });
        }
    }
}
