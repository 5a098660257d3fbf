//! Gallery and curation actions: rendering shots, selection, sliders, morphs, flags and
//! tags, and the nearest training image.

use std::collections::HashMap;

use eframe::egui;

use super::{LiveRequest, MORPH_FRAMES, RenderParts, ShotEditor, Studio};
use crate::latent::{combine_edits, latent_for_seed, perturb, slerp, truncate};
use crate::project::{Shot, ShotId};
use crate::worker::ImportSource;

impl Studio {
    /// Asks the worker to render `ids` (each from its own generator).
    pub fn request_shots(&mut self, ids: &[ShotId]) {
        let mut by_generator: HashMap<String, Vec<ShotId>> = HashMap::new();
        for &id in ids {
            if let Some(shot) = self.project.curation.get(id) {
                by_generator
                    .entry(shot.generator_id.clone())
                    .or_default()
                    .push(id);
            }
        }
        for (generator_id, ids) in by_generator {
            let shots: Vec<&Shot> = ids
                .iter()
                .filter_map(|id| self.project.curation.get(*id))
                .collect();
            let latents = shots
                .iter()
                .map(|s| truncate(&s.latent, s.truncation))
                .collect();
            let classes = shots.iter().map(|s| s.class.clone()).collect();
            let generator = self.project.generator_path(&generator_id);
            let parts = RenderParts {
                generator,
                latents,
                classes,
            };
            if !self.broker.render_gallery(ids, parts) {
                self.report_error("Rendering failed: the worker was busy. Click a tile to retry.");
            }
        }
    }

    /// Renders visible shots that have no picture yet.
    pub fn request_missing(&mut self) {
        let show_rejected = self.project.settings.show_rejected;
        let missing: Vec<ShotId> = self
            .project
            .curation
            .visible(show_rejected)
            .filter(|s| !self.broker.is_requested(s.id))
            .map(|s| s.id)
            .collect();
        if !missing.is_empty() {
            self.request_shots(&missing);
        }
    }

    /// Adds `count` shots from fresh random seeds of the current generator.
    pub fn generate(&mut self, count: usize) {
        let Some(info) = &self.generator else {
            self.report_error("No generator yet: train one or open a project with one.");
            return;
        };
        let (dim, generator_id) = (info.model.latent_dim(), info.id.clone());
        // Conditional generators: the picked class, or every class in turn.
        let classes = info.model.classes();
        let picked = self
            .project
            .settings
            .sample_class
            .clone()
            .filter(|c| classes.contains(c));
        let class_for = |k: usize| -> Option<String> {
            if info.model.class_count() == 0 {
                None
            } else {
                picked
                    .clone()
                    .or_else(|| Some(classes[k % classes.len()].clone()))
            }
        };
        let classes: Vec<Option<String>> = (0..count).map(class_for).collect();
        let truncation = self.project.settings.truncation;
        let ids: Vec<ShotId> = classes
            .into_iter()
            .map(|class| {
                let seed = self.rng.next_u64() >> 16;
                self.project.curation.add(Shot {
                    class,
                    ..Shot::from_seed(
                        seed,
                        latent_for_seed(seed, dim),
                        truncation,
                        generator_id.clone(),
                    )
                })
            })
            .collect();
        self.mark_curation();
        self.gallery.scroll_to = ids.first().copied();
        self.request_shots(&ids);
    }

    /// Adds `count` variations of the primary selected shot, the project's variation
    /// distance away.
    pub fn more_like_this(&mut self, count: usize) {
        let distance = self.project.settings.variation_distance;
        let Some(parent) = self
            .primary()
            .and_then(|id| self.project.curation.get(id))
            .cloned()
        else {
            return;
        };
        let ids: Vec<ShotId> = (0..count)
            .map(|_| {
                let seed = self.rng.next_u64();
                let shot = Shot {
                    latent: perturb(&parent.latent, seed, distance),
                    parent: Some(parent.id),
                    edited: true,
                    favourite: false,
                    rejected: false,
                    tags: parent.tags.clone(),
                    ..parent.clone()
                };
                self.project.curation.add(shot)
            })
            .collect();
        self.mark_curation();
        self.gallery.scroll_to = ids.first().copied();
        self.request_shots(&ids);
    }

    /// Conditional generators: the primary shot's latent (its style) drawn as every other
    /// class, "the same style as a sneaker, as a bag". Returns how many shots it added.
    pub fn same_style_every_class(&mut self) -> usize {
        let Some(info) = &self.generator else {
            return 0;
        };
        let classes = info.model.classes().to_vec();
        let Some(parent) = self
            .primary()
            .and_then(|id| self.project.curation.get(id))
            .cloned()
        else {
            return 0;
        };
        let ids: Vec<ShotId> = classes
            .into_iter()
            .filter(|class| parent.class.as_ref() != Some(class))
            .map(|class| {
                let shot = Shot {
                    class: Some(class),
                    parent: Some(parent.id),
                    favourite: false,
                    rejected: false,
                    ..parent.clone()
                };
                self.project.curation.add(shot)
            })
            .collect();
        if ids.is_empty() {
            return 0;
        }
        self.mark_curation();
        self.gallery.scroll_to = ids.first().copied();
        self.request_shots(&ids);
        ids.len()
    }

    /// Scrolls the gallery to shot `id` on the next frame.
    pub fn reveal(&mut self, id: ShotId) {
        self.gallery.scroll_to = Some(id);
    }

    #[must_use]
    pub fn primary(&self) -> Option<ShotId> {
        self.gallery.selected.last().copied()
    }

    /// Visible shots in gallery order (filters applied).
    #[must_use]
    pub fn visible_ids(&self) -> Vec<ShotId> {
        self.project
            .curation
            .visible(self.project.settings.show_rejected)
            .filter(|s| !self.gallery.favourites_only || s.favourite)
            .filter(|s| {
                self.project
                    .settings
                    .class_filter
                    .as_ref()
                    .is_none_or(|c| s.class.as_ref() == Some(c))
            })
            .map(|s| s.id)
            .collect()
    }

    /// Selects `id` as a click with the given modifiers would.
    pub fn click_shot(&mut self, id: ShotId, modifiers: egui::Modifiers) {
        if modifiers.shift {
            let visible = self.visible_ids();
            let from = self
                .gallery
                .anchor
                .and_then(|a| visible.iter().position(|v| *v == a));
            let to = visible.iter().position(|v| *v == id);
            if let (Some(a), Some(b)) = (from, to) {
                let (lo, hi) = (a.min(b), a.max(b));
                self.gallery.selected = visible[lo..=hi].to_vec();
                if a > b {
                    self.gallery.selected.reverse();
                }
            }
        } else if modifiers.command || modifiers.ctrl {
            if let Some(pos) = self.gallery.selected.iter().position(|s| *s == id) {
                self.gallery.selected.remove(pos);
            } else {
                self.gallery.selected.push(id);
            }
            self.gallery.anchor = Some(id);
        } else {
            self.gallery.selected = vec![id];
            self.gallery.anchor = Some(id);
        }
        self.sync_editor();
    }

    /// Moves the selection by `delta` places in gallery order.
    pub fn move_selection(&mut self, delta: isize) {
        let visible = self.visible_ids();
        if visible.is_empty() {
            return;
        }
        let current = self
            .primary()
            .and_then(|id| visible.iter().position(|v| *v == id));
        let next = match current {
            Some(i) => (i as isize + delta).clamp(0, visible.len() as isize - 1) as usize,
            None => 0,
        };
        self.gallery.selected = vec![visible[next]];
        self.gallery.anchor = Some(visible[next]);
        self.sync_editor();
    }

    /// Points the sliders at the primary selection (resetting them when it changed).
    pub fn sync_editor(&mut self) {
        let primary = self.primary();
        if self.shot.editor.shot != primary {
            let count = self.slider_directions().vectors.len();
            self.shot.editor = match primary.and_then(|id| self.project.curation.get(id)) {
                Some(shot) => ShotEditor {
                    shot: Some(shot.id),
                    base: shot.latent.clone(),
                    base_edits: shot.edits.clone(),
                    amounts: vec![0.0; count],
                    truncation: shot.truncation,
                },
                None => ShotEditor::default(),
            };
            self.shot.nearest = None;
            self.request_nearest();
        }
        self.update_morph();
    }

    /// Asks the worker for the training image nearest to the primary shot. Without imported
    /// images yet, imports the project's folder quietly first (the answer follows).
    pub fn request_nearest(&mut self) {
        let Some(id) = self.primary() else { return };
        let Some(picture) = self.gallery.pictures.get(&id).cloned() else {
            return;
        };
        if !self.shot.has_reference {
            if let Some(dir) = self.project.settings.data_dir.clone()
                && !self.import.running
            {
                self.import.quiet = true;
                self.import_source(ImportSource::Folder(dir));
                self.import.window_open = false;
            }
            return;
        }
        if !self.broker.find_nearest(id, picture) {
            self.report_error("The worker is busy or gone; the nearest photo was not looked up.");
        }
    }

    /// Re-renders the selected shot with the sliders' latent and truncation (coalesced).
    pub fn slider_moved(&mut self) {
        let Some(id) = self.shot.editor.shot else {
            return;
        };
        let Some(info) = &self.generator else { return };
        // Built once per move: a drag calls this every frame.
        let directions = self.slider_directions();
        let latent = if self.shot.editor.base.len() == info.model.latent_dim() {
            directions.apply(&self.shot.editor.base, &self.shot.editor.amounts)
        } else {
            self.shot.editor.base.clone()
        };
        let truncation = self.shot.editor.truncation;
        let moves: Vec<(String, f32)> = self
            .slider_names(&directions)
            .into_iter()
            .zip(self.shot.editor.amounts.iter().copied())
            .collect();
        let edits = combine_edits(&self.shot.editor.base_edits, &moves);
        let Some(shot) = self.project.curation.get_mut(id) else {
            return;
        };
        shot.edits = edits;
        shot.latent.clone_from(&latent);
        shot.truncation = truncation;
        shot.edited = true;
        self.mark_curation();
        self.request_live(id);
    }

    /// Renders shot `id` as it is now, live. At most one live render per shot is in flight:
    /// moves made meanwhile are remembered and rendered, newest only, when it answers, so a
    /// drag never fills the worker's queue.
    pub(super) fn request_live(&mut self, id: ShotId) {
        let Some(shot) = self.project.curation.get(id) else {
            return;
        };
        let parts = RenderParts {
            generator: self.project.generator_path(&shot.generator_id),
            latents: vec![truncate(&shot.latent, shot.truncation)],
            classes: vec![shot.class.clone()],
        };
        if self.broker.render_live(id, parts) == LiveRequest::Refused {
            self.report_error("The worker is busy or gone; the slider's render was not sent.");
        }
    }

    /// With exactly two shots selected, renders the morph strip between them.
    pub(super) fn update_morph(&mut self) {
        let pair = match self.gallery.selected.as_slice() {
            [a, b] => Some((*a, *b)),
            _ => None,
        };
        if pair == self.shot.morph_pair {
            return;
        }
        self.shot.morph_pair = pair;
        self.shot.morph.clear();
        let Some((a, b)) = pair else { return };
        // Families without a latent space say so where the sliders would be.
        if self
            .generator
            .as_ref()
            .is_some_and(|g| g.model.family().latent_tools().is_err())
        {
            return;
        }
        let (Some(sa), Some(sb)) = (
            self.project.curation.get(a).cloned(),
            self.project.curation.get(b).cloned(),
        ) else {
            return;
        };
        if sa.generator_id != sb.generator_id || sa.latent.len() != sb.latent.len() {
            self.notify("Morphs need two shots of the same generator.");
            return;
        }
        if sa.class != sb.class {
            self.notify("Morphs need two shots of the same class.");
            return;
        }
        let latents = (0..MORPH_FRAMES)
            .map(|i| {
                let t = i as f32 / (MORPH_FRAMES - 1) as f32;
                let psi = sa.truncation + (sb.truncation - sa.truncation) * t;
                truncate(&slerp(&sa.latent, &sb.latent, t), psi)
            })
            .collect();
        let parts = RenderParts {
            generator: self.project.generator_path(&sa.generator_id),
            latents,
            classes: vec![sa.class.clone(); MORPH_FRAMES],
        };
        if !self.broker.render_morph(parts) {
            self.report_error("The worker is busy or gone; the morph was not sent.");
        }
    }

    /// Flips a flag on every selected shot: all on when any was off, else all off.
    /// Returns the new value.
    pub(super) fn toggle_selected(&mut self, flag: fn(&mut Shot) -> &mut bool) -> bool {
        let ids = self.gallery.selected.clone();
        let mut all = true;
        for id in &ids {
            if let Some(s) = self.project.curation.get_mut(*id) {
                all &= *flag(s);
            }
        }
        for id in ids {
            if let Some(s) = self.project.curation.get_mut(id) {
                *flag(s) = !all;
            }
        }
        self.mark_curation();
        !all
    }

    pub fn toggle_favourite(&mut self) {
        self.toggle_selected(|s| &mut s.favourite);
    }

    pub fn toggle_reject(&mut self) {
        let rejected = self.toggle_selected(|s| &mut s.rejected);
        if rejected && !self.project.settings.show_rejected {
            self.gallery.selected.clear();
            self.sync_editor();
        }
    }

    pub fn add_tag(&mut self, tag: &str) {
        let tag = tag.trim();
        if tag.is_empty() {
            return;
        }
        for id in self.gallery.selected.clone() {
            if let Some(s) = self.project.curation.get_mut(id)
                && !s.tags.iter().any(|t| t == tag)
            {
                s.tags.push(tag.to_string());
            }
        }
        self.mark_curation();
    }

    pub fn remove_tag(&mut self, id: ShotId, tag: &str) {
        if let Some(s) = self.project.curation.get_mut(id) {
            s.tags.retain(|t| t != tag);
        }
        self.mark_curation();
    }
}
