//! The training panel's plots: the family's losses (D and G for a GAN, the likelihood for an
//! autoregressive model), speed, augmentation strength and the held-out quality figures.

use eframe::egui;
use egui_plot::{Legend, Line, Plot, Points};

use super::app::Studio;
use crate::preset::AugmentMode;

/// A small plot of the side panel. The wheel scrolls the panel, not the plot: a designer
/// scrolling down to the plots must not pan them out of view on the way.
fn panel_plot(id: &str, height: f32) -> Plot<'_> {
    Plot::new(id)
        .height(height)
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_boxed_zoom(false)
}

impl Studio {
    pub(super) fn plots_ui(&mut self, ui: &mut egui::Ui) {
        let m = &self.training.metrics;
        if m.is_empty() {
            ui.label("Loss plots appear once training runs.");
            return;
        }
        let series = |f: fn(&crate::train::MetricsRecord) -> f32| -> Vec<[f64; 2]> {
            m.iter().map(|r| [r.step as f64, f64::from(f(r))]).collect()
        };
        if m.iter().any(|r| r.get("nll_bits").is_some()) {
            ui.label("Negative log-likelihood, bits per sub-pixel (lower is better)");
            panel_plot("loss-plot", 120.0)
                .legend(Legend::default())
                .show(ui, |plot| {
                    plot.line(Line::new("training NLL", series(|r| r.value("nll_bits"))));
                    let held_out: Vec<[f64; 2]> = self
                        .training
                        .quality
                        .iter()
                        .filter_map(|q| Some([q.step as f64, q.nll_bits?]))
                        .collect();
                    if !held_out.is_empty() {
                        plot.line(Line::new("held-out NLL", held_out));
                    }
                });
        } else {
            self.gan_loss_plot(ui);
        }
        ui.label("Images per second");
        panel_plot("speed-plot", 80.0).show(ui, |plot| {
            plot.line(Line::new("img/s", series(|r| r.images_per_sec)));
        });
        self.plots_after_losses(ui);
    }

    /// D and G losses (and D's reconstruction, where it has one) of a GAN run.
    fn gan_loss_plot(&self, ui: &mut egui::Ui) {
        let m = &self.training.metrics;
        let series = |f: fn(&crate::train::MetricsRecord) -> f32| -> Vec<[f64; 2]> {
            m.iter().map(|r| [r.step as f64, f64::from(f(r))]).collect()
        };
        ui.label("Losses");
        panel_plot("loss-plot", 120.0)
            .legend(Legend::default())
            .show(ui, |plot| {
                plot.line(Line::new("D loss", series(|r| r.value("d_loss"))));
                plot.line(Line::new("G loss", series(|r| r.value("g_loss"))));
                if m.iter().any(|r| r.get("reconstruction").is_some()) {
                    plot.line(Line::new(
                        "D reconstruction",
                        series(|r| r.value("reconstruction")),
                    ));
                }
            });
    }

    /// Augmentation strength and the held-out quality figures.
    fn plots_after_losses(&mut self, ui: &mut egui::Ui) {
        let m = &self.training.metrics;
        let series = |f: fn(&crate::train::MetricsRecord) -> f32| -> Vec<[f64; 2]> {
            m.iter().map(|r| [r.step as f64, f64::from(f(r))]).collect()
        };
        if self.project.settings.preset.train.augment != AugmentMode::Off {
            ui.label("Augmentation strength");
            panel_plot("augment-plot", 70.0).show(ui, |plot| {
                plot.line(Line::new("p", series(|r| r.value("augment_p"))));
                plot.line(Line::new("r_t", series(|r| r.value("r_t"))));
            });
        }
        let q = &self.training.quality;
        if !q.is_empty() {
            ui.label("Held-out SWD ×10³ (lower is better)");
            let points: Vec<[f64; 2]> = q.iter().map(|r| [r.step as f64, r.swd]).collect();
            panel_plot("swd-plot", 90.0).show(ui, |plot| {
                plot.line(Line::new("SWD", points.clone()));
                plot.points(Points::new("SWD points", points).radius(3.0));
            });
            let fd: Vec<[f64; 2]> = q
                .iter()
                .filter_map(|r| r.feature_fd.map(|fd| [r.step as f64, fd]))
                .collect();
            if !fd.is_empty() {
                ui.label("Held-out feature FD (lower is better)");
                panel_plot("fd-plot", 90.0).show(ui, |plot| {
                    plot.line(Line::new("feature FD", fd.clone()));
                    plot.points(Points::new("feature FD points", fd).radius(3.0));
                });
            }
            let fidelity: Vec<_> = q
                .iter()
                .filter_map(|r| r.fidelity.map(|f| (r.step as f64, f)))
                .collect();
            if !fidelity.is_empty() {
                ui.label("Held-out precision and recall (higher is better)");
                let precision: Vec<[f64; 2]> =
                    fidelity.iter().map(|(s, f)| [*s, f.precision]).collect();
                let recall: Vec<[f64; 2]> = fidelity.iter().map(|(s, f)| [*s, f.recall]).collect();
                // Bottom left: the lines climb towards the top right as training goes on.
                panel_plot("fidelity-plot", 90.0)
                    .legend(Legend::default().position(egui_plot::Corner::LeftBottom))
                    .include_y(0.0)
                    .include_y(1.0)
                    .show(ui, |plot| {
                        plot.line(Line::new("precision", precision));
                        plot.line(Line::new("recall", recall));
                    });
            }
        }
    }
}
