//! Bringing a real photo into the generator from the studio: drop it on the Shot panel, watch
//! the progress (Cancel works between steps), then see the photo beside its projection and
//! their distance. The projection joins the gallery as a shot, ready for the sliders, morphs
//! and exports.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use eframe::egui;

use super::Studio;
use super::textures::texture;
use crate::project::Shot;
use crate::protocol::{Command, InvertRequest, InvertedPhoto};

/// What the Shot panel shows of a photo being brought in.
pub struct PhotoIn {
    pub key: u64,
    pub photo: PathBuf,
    /// Share done, in [0, 1].
    pub done: f32,
    pub cancel: Arc<AtomicBool>,
    pub outcome: Option<Result<PhotoInResult, String>>,
}

/// A finished projection.
pub struct PhotoInResult {
    pub photo: egui::TextureHandle,
    pub projection: egui::TextureHandle,
    pub pixel_l1: f32,
    pub start_l1: f32,
    pub shot: crate::project::ShotId,
}

impl Studio {
    /// Starts bringing the photo at `path` into the current generator.
    pub fn bring_photo_in(&mut self, path: PathBuf) {
        let Some(info) = &self.generator else {
            self.report_error("A photo is brought into a generator: train or open one first.");
            return;
        };
        if let Some(old) = &self.shot.photo_in {
            old.cancel.store(true, Ordering::Relaxed);
        }
        let key = self.shot.photo_in.as_ref().map_or(1, |p| p.key + 1);
        let cancel = Arc::new(AtomicBool::new(false));
        // The run's checkpoint keeps D (its features judge the match); the pinned file not.
        // No disk check here (the UI thread never waits on disk): the worker matches pixels
        // only when the checkpoint cannot be read.
        let critic = (info.source != info.pinned).then(|| info.source.clone());
        let request = InvertRequest {
            key,
            generator: info.pinned.clone(),
            critic,
            photo: path.clone(),
            cancel: cancel.clone(),
        };
        if self.broker.send(Command::InvertPhoto(Box::new(request))) {
            self.shot.photo_in = Some(PhotoIn {
                key,
                photo: path,
                done: 0.0,
                cancel,
                outcome: None,
            });
        } else {
            self.report_error("The worker is busy or gone; the photo was not brought in.");
        }
    }

    pub(super) fn on_invert_progress(&mut self, key: u64, done: f32) {
        if let Some(p) = self.shot.photo_in.as_mut().filter(|p| p.key == key) {
            p.done = done;
        }
    }

    pub(super) fn on_inverted(
        &mut self,
        ctx: &egui::Context,
        key: u64,
        result: Result<InvertedPhoto, String>,
    ) {
        // A cancelled one has its outcome already: a late answer adds nothing.
        if self
            .shot
            .photo_in
            .as_ref()
            .is_none_or(|p| p.key != key || p.outcome.is_some())
        {
            return;
        }
        let outcome = result.map(|inverted| {
            let id = self.project.curation.add(Shot {
                latent: inverted.latent,
                truncation: 1.0,
                generator_id: inverted.generator_id,
                class: inverted.class,
                tags: vec!["photo".into()],
                ..Shot::default()
            });
            self.mark_curation();
            PhotoInResult {
                photo: texture(ctx, "photo-in", &inverted.photo),
                projection: texture(ctx, "photo-in-projection", &inverted.projection),
                pixel_l1: inverted.pixel_l1,
                start_l1: inverted.start_l1,
                shot: id,
            }
        });
        if let Ok(result) = &outcome {
            self.gallery.selected.clear();
            self.click_shot(result.shot, egui::Modifiers::NONE);
        }
        if let Some(p) = self.shot.photo_in.as_mut() {
            p.done = 1.0;
            p.outcome = Some(outcome);
        }
    }

    /// The photo's progress or its result, at the top of the Shot panel.
    pub(super) fn photo_in_ui(&mut self, ui: &mut egui::Ui) {
        let Some(p) = &self.shot.photo_in else {
            if self.can_complete() {
                ui.weak("A photo cannot be brought into this model (it has no latent space); complete a shot's lower half instead.");
            } else {
                ui.weak("Drop a product photo here to bring it into the generator.");
            }
            return;
        };
        let name = p
            .photo
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let (mut close, mut cancelled) = (false, false);
        match &p.outcome {
            None => {
                ui.label(format!("Bringing {name} into the generator…"));
                // The bar takes the panel's width; the button goes below it, always in view.
                ui.add(egui::ProgressBar::new(p.done).show_percentage());
                if ui.button("Cancel bringing it in").clicked() {
                    p.cancel.store(true, Ordering::Relaxed);
                    cancelled = true;
                }
            }
            Some(Ok(result)) => {
                ui.horizontal(|ui| {
                    let side = (ui.available_width() / 2.0 - 8.0).clamp(48.0, 140.0);
                    for (tex, caption) in
                        [(&result.photo, "photo"), (&result.projection, "projection")]
                    {
                        ui.vertical(|ui| {
                            ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(side, side)));
                            ui.small(caption);
                        });
                    }
                });
                ui.label(format!(
                    "{name}: distance {:.3} (the nearest random start was {:.3}); added as shot {}",
                    result.pixel_l1, result.start_l1, result.shot
                ));
                close = ui.button("Close").clicked();
            }
            Some(Err(why)) => {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!("{name} was not brought in: {why}"),
                );
                close = ui.button("Close").clicked();
            }
        }
        if close {
            self.shot.photo_in = None;
        }
        if cancelled && let Some(p) = self.shot.photo_in.as_mut() {
            // The worker stops at its next step; the panel says so at once.
            p.outcome = Some(Err("cancelled".into()));
        }
        ui.separator();
    }
}
