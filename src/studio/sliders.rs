//! The shot panel's sliders: the computed directions (principal or closed-form) and the
//! sliders the designer teaches from picks, learnt on the worker and re-learnt for each new
//! generator.

use eframe::egui;

use super::Studio;
use crate::latent::{Directions, MIN_PICKS};
use crate::project::{LearntSlider, ShotId, SliderSet};
use crate::protocol::{Command, LearntDirection, ShotsToRender, SliderRequest, SliderSource};

/// Picks sent per side at most (the newest), so a big gallery never floods the worker.
const MAX_PICKS: usize = 200;

/// Which shots have the quality.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Quality {
    Favourites,
    Tag(String),
}

/// Which shots are the contrast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contrast {
    /// Every other shot that is not rejected.
    TheRest,
    /// The rejected shots.
    Rejected,
}

/// The "make a slider from my picks" form.
#[derive(Clone, Debug)]
pub struct SliderForm {
    pub name: String,
    pub quality: Quality,
    pub contrast: Contrast,
    /// Make it orthogonal to the computed sliders too (it always is to the other learnt
    /// ones). Off by default: a quality often *is* one of the main ways shots vary, and
    /// taking those out would take the quality out.
    pub apart_from_computed: bool,
    /// Whether the panel was scrolled to the form since it opened (at the panel's foot, it
    /// would otherwise open out of sight).
    scrolled_to: bool,
}

impl Default for SliderForm {
    fn default() -> Self {
        Self {
            name: String::new(),
            quality: Quality::Favourites,
            contrast: Contrast::TheRest,
            apart_from_computed: false,
            scrolled_to: false,
        }
    }
}

/// A slider the worker is learning.
#[derive(Clone, Debug)]
pub struct Learning {
    pub key: u64,
    pub name: String,
    pub picks: [usize; 2],
    pub apart_from_computed: bool,
    /// A re-learn for a new generator: its answer only updates a slider that still exists.
    pub relearn: bool,
}

/// The sliders' state beside the editor: the form, and what is being learnt.
#[derive(Default)]
pub struct SliderTeaching {
    pub form: Option<SliderForm>,
    pub learning: Vec<Learning>,
    next_key: u64,
}

impl SliderTeaching {
    fn key(&mut self) -> u64 {
        self.next_key += 1;
        self.next_key
    }
}

impl Studio {
    /// The directions the sliders follow now, in slider order: the chosen computed set,
    /// then the learnt sliders that have a direction in the current generator.
    #[must_use]
    pub fn slider_directions(&self) -> Directions {
        let Some(info) = &self.generator else {
            return Directions::default();
        };
        let mut set = match self.project.settings.slider_set {
            SliderSet::Principal => info.directions.clone(),
            SliderSet::ClosedForm => info.closed_form.clone(),
        };
        set.vectors.extend(
            self.learnt_for_generator()
                .map(|slider| slider.vector.clone()),
        );
        set
    }

    /// Each slider's name as exports record it, for `directions` as
    /// [`Self::slider_directions`] gives them: the computed ones by set, number and what they
    /// change, the learnt ones by their own name.
    pub fn slider_names(&self, directions: &Directions) -> Vec<String> {
        let learnt: Vec<String> = self
            .learnt_for_generator()
            .map(|s| s.name.clone())
            .collect();
        let computed = directions.vectors.len() - learnt.len();
        let set = match self.project.settings.slider_set {
            SliderSet::Principal => "Principal",
            SliderSet::ClosedForm => "SeFa",
        };
        (0..computed)
            .map(|k| {
                let kind = directions
                    .labels
                    .get(k)
                    .map_or_else(|| "direction".to_string(), |label| label.text());
                format!("{set} {} · {kind}", k + 1)
            })
            .chain(learnt)
            .collect()
    }

    fn learnt_for_generator(&self) -> impl Iterator<Item = &LearntSlider> {
        let id = self.generator.as_ref().map(|g| g.id.clone());
        self.project
            .settings
            .learnt_sliders
            .iter()
            .filter(move |s| Some(&s.generator_id) == id.as_ref())
    }

    /// The vectors a slider named `name` is made orthogonal to: the other learnt sliders of
    /// this generator, and the computed set when `apart_from_computed`.
    fn other_slider_vectors(&self, name: &str, apart_from_computed: bool) -> Vec<Vec<f32>> {
        let mut others: Vec<Vec<f32>> = self
            .learnt_for_generator()
            .filter(|s| s.name != name)
            .map(|s| s.vector.clone())
            .collect();
        if apart_from_computed && let Some(info) = &self.generator {
            others.extend(match self.project.settings.slider_set {
                SliderSet::Principal => info.directions.vectors.clone(),
                SliderSet::ClosedForm => info.closed_form.vectors.clone(),
            });
        }
        others
    }

    /// Starts the sliders from the selected shot as it is now, all at zero (after the set of
    /// directions changed), keeping the edits made so far.
    pub fn restart_sliders(&mut self) {
        if let Some(shot) = self
            .shot
            .editor
            .shot
            .and_then(|id| self.project.curation.get(id))
        {
            self.shot.editor.base.clone_from(&shot.latent);
        }
        self.shot.editor.amounts = vec![0.0; self.slider_directions().vectors.len()];
    }

    /// Shots with and without the quality, newest first, at most [`MAX_PICKS`] each.
    #[must_use]
    pub fn picks(&self, quality: &Quality, contrast: Contrast) -> (Vec<ShotId>, Vec<ShotId>) {
        let has = |shot: &crate::project::Shot| match quality {
            Quality::Favourites => shot.favourite,
            Quality::Tag(tag) => shot.tags.contains(tag),
        };
        let shots = &self.project.curation.shots;
        let with = shots
            .iter()
            .rev()
            .filter(|s| !s.rejected && has(s))
            .map(|s| s.id)
            .take(MAX_PICKS)
            .collect();
        let without = shots
            .iter()
            .rev()
            .filter(|s| !has(s))
            .filter(|s| match contrast {
                Contrast::TheRest => !s.rejected,
                Contrast::Rejected => s.rejected,
            })
            .map(|s| s.id)
            .take(MAX_PICKS)
            .collect();
        (with, without)
    }

    /// Asks the worker to learn a slider named `name` from the picks.
    pub fn learn_slider_from_picks(
        &mut self,
        name: &str,
        with: &[ShotId],
        without: &[ShotId],
        apart_from_computed: bool,
    ) {
        let Some(info) = &self.generator else {
            self.report_error("Sliders are learnt on a generator: train or open one first.");
            return;
        };
        if with.len() < MIN_PICKS || without.len() < MIN_PICKS {
            self.report_error(format!(
                "A slider needs at least {MIN_PICKS} shots with the quality and {MIN_PICKS} without ({} and {} now).",
                with.len(),
                without.len()
            ));
            return;
        }
        let source = SliderSource::Picks {
            with: self.shots_to_render(with),
            without: self.shots_to_render(without),
        };
        let generator = info.pinned.clone();
        let key = self.shot.teaching.key();
        let request = SliderRequest {
            key,
            generator,
            source,
            others: self.other_slider_vectors(name.trim(), apart_from_computed),
        };
        if self.broker.send(Command::LearnSlider(Box::new(request))) {
            self.shot.teaching.learning.push(Learning {
                key,
                name: name.trim().to_string(),
                picks: [with.len(), without.len()],
                apart_from_computed,
                relearn: false,
            });
        } else {
            self.report_error("The worker is busy or gone; the slider was not learnt.");
        }
    }

    /// The shots grouped by generator, as the worker renders them.
    fn shots_to_render(&self, ids: &[ShotId]) -> Vec<ShotsToRender> {
        let mut groups: Vec<ShotsToRender> = Vec::new();
        for shot in ids.iter().filter_map(|id| self.project.curation.get(*id)) {
            let generator = self.project.generator_path(&shot.generator_id);
            let latent = crate::latent::truncate(&shot.latent, shot.truncation);
            match groups.iter_mut().find(|g| g.generator == generator) {
                Some(group) => {
                    group.latents.push(latent);
                    group.classes.push(shot.class.clone());
                }
                None => groups.push(ShotsToRender {
                    generator,
                    latents: vec![latent],
                    classes: vec![shot.class.clone()],
                }),
            }
        }
        groups
    }

    /// A new generator: each learnt slider's quality is looked for in it again.
    pub(super) fn relearn_sliders(&mut self) {
        let Some(info) = &self.generator else { return };
        let generator = info.pinned.clone();
        let stale: Vec<LearntSlider> = self
            .project
            .settings
            .learnt_sliders
            .iter()
            .filter(|s| s.generator_id != info.id)
            .cloned()
            .collect();
        for slider in stale {
            let key = self.shot.teaching.key();
            let request = SliderRequest {
                key,
                generator: generator.clone(),
                source: SliderSource::Taste(slider.taste.clone()),
                others: self.other_slider_vectors(&slider.name, slider.apart_from_computed),
            };
            if self.broker.send(Command::LearnSlider(Box::new(request))) {
                self.shot.teaching.learning.push(Learning {
                    key,
                    name: slider.name.clone(),
                    picks: slider.picks,
                    apart_from_computed: slider.apart_from_computed,
                    relearn: true,
                });
            }
        }
    }

    pub(super) fn on_slider_learnt(&mut self, key: u64, result: Result<LearntDirection, String>) {
        let Some(pos) = self
            .shot
            .teaching
            .learning
            .iter()
            .position(|l| l.key == key)
        else {
            return;
        };
        let learning = self.shot.teaching.learning.remove(pos);
        let learnt = match result {
            Ok(learnt) => learnt,
            Err(why) => {
                self.report_error(format!(
                    "The slider \"{}\" was not learnt: {why}",
                    learning.name
                ));
                return;
            }
        };
        let sliders = &mut self.project.settings.learnt_sliders;
        let existing = sliders.iter_mut().find(|s| s.name == learning.name);
        if learning.relearn && existing.is_none() {
            return; // deleted while it was being re-learnt
        }
        let accuracy = learnt
            .held_out_accuracy
            .or_else(|| existing.as_ref().map(|s| s.held_out_accuracy))
            .unwrap_or(0.0);
        let slider = LearntSlider {
            name: learning.name.clone(),
            taste: learnt.taste,
            held_out_accuracy: accuracy,
            picks: learning.picks,
            generator_id: learnt.generator_id,
            vector: learnt.vector,
            kept: learnt.kept,
            apart_from_computed: learning.apart_from_computed,
        };
        match existing {
            Some(old) => *old = slider,
            None => sliders.push(slider),
        }
        self.mark_settings();
        if learnt.held_out_accuracy.is_some() {
            self.notify(format!(
                "Slider \"{}\" learnt from {} + {} picks: it tells {:.0} % of held-out picks apart{}",
                learning.name,
                learning.picks[0],
                learning.picks[1],
                accuracy * 100.0,
                if learnt.kept < 0.5 {
                    format!("; only {:.0} % of it is new, the other sliders already move the rest", learnt.kept * 100.0)
                } else {
                    String::new()
                }
            ));
        }
        self.restart_sliders();
    }

    /// Why the sliders cannot show now, in one line; `None` when they can.
    fn sliders_off(&self) -> Option<String> {
        let Some(info) = &self.generator else {
            return Some("Sliders appear when a generator is loaded.".into());
        };
        if let Err(reason) = info.model.family().latent_tools() {
            return Some(format!("No sliders or morphs: {reason}."));
        }
        (self.shot.editor.base.len() != info.model.latent_dim()).then(|| {
            "This shot comes from a generator with another latent size; sliders are off.".into()
        })
    }

    pub(super) fn sliders_ui(&mut self, ui: &mut egui::Ui) {
        if let Some(why) = self.sliders_off() {
            ui.label(why);
            return;
        }
        let set = self.slider_set_ui(ui);
        let computed = self.slider_directions();
        let learnt: Vec<(String, f32)> = self
            .learnt_for_generator()
            .map(|s| (s.name.clone(), s.held_out_accuracy))
            .collect();
        let computed_count = computed.vectors.len() - learnt.len();
        if computed_count == 0 {
            ui.label("This generator's family has no closed-form directions; choose Principal.");
        }
        // Short labels: a long one would widen the panel and move what is under the pointer.
        let (share_tag, share_of) = match set {
            SliderSet::Principal => ("", "of the shots' variation"),
            SliderSet::ClosedForm => (" stretch", "of the first layer's stretch"),
        };
        let mut moved = false;
        let mut remove = None;
        for (k, amount) in self.shot.editor.amounts.iter_mut().enumerate() {
            let (text, hover) = if k < computed_count {
                let share = computed.explained.get(k).copied().unwrap_or(0.0) * 100.0;
                let kind = computed
                    .labels
                    .get(k)
                    .map_or_else(|| "Direction".to_string(), |label| label.text());
                (
                    format!("{} · {kind} ({share:.0} %{share_tag})", k + 1),
                    format!("{share:.0} % {share_of}"),
                )
            } else if let Some((name, accuracy)) = learnt.get(k - computed_count) {
                (
                    format!("{name} (learnt)"),
                    format!(
                        "Learnt from your picks; it told {:.0} % of held-out picks apart",
                        accuracy * 100.0
                    ),
                )
            } else {
                continue;
            };
            ui.horizontal(|ui| {
                moved |= ui
                    .add(egui::Slider::new(amount, -3.0..=3.0).step_by(0.01).text(text))
                    .on_hover_text(hover)
                    .changed();
                if let Some((name, accuracy)) = k.checked_sub(computed_count).and_then(|i| learnt.get(i))
                    && ui
                        .small_button("Delete")
                        .on_hover_text(format!(
                            "Delete the slider \"{name}\" (it told {:.0} % of held-out picks apart)",
                            accuracy * 100.0
                        ))
                        .clicked()
                {
                    remove = Some(name.clone());
                }
            });
        }
        let truncation = ui.add(
            egui::Slider::new(&mut self.shot.editor.truncation, 0.0..=1.5)
                .step_by(0.01)
                .text("Truncation"),
        );
        moved |= truncation.changed();
        ui.horizontal(|ui| {
            if ui.button("Reset sliders").clicked() {
                for a in &mut self.shot.editor.amounts {
                    *a = 0.0;
                }
                moved = true;
            }
            if self.shot.teaching.form.is_none()
                && ui
                    .button("Make a slider from my picks…")
                    .on_hover_text(format!("Teach a slider a quality: at least {MIN_PICKS} shots that have it (favourites or a tag) and {MIN_PICKS} that do not."))
                    .clicked()
            {
                self.shot.teaching.form = Some(SliderForm::default());
            }
        });
        if moved {
            self.slider_moved();
        }
        if let Some(name) = remove {
            self.project
                .settings
                .learnt_sliders
                .retain(|s| s.name != name);
            // An answer still on its way for this slider must not bring it back.
            self.shot.teaching.learning.retain(|l| l.name != name);
            self.mark_settings();
            self.restart_sliders();
        }
        self.slider_form_ui(ui);
    }

    /// The choice of computed directions; returns the one in use.
    fn slider_set_ui(&mut self, ui: &mut egui::Ui) -> SliderSet {
        let mut set = self.project.settings.slider_set;
        egui::ComboBox::from_label("Directions")
            .selected_text(set.label())
            .show_ui(ui, |ui| {
                for choice in SliderSet::ALL {
                    ui.selectable_value(&mut set, choice, choice.label());
                }
            })
            .response
            .on_hover_text("Principal: the main ways the generator's shots vary, found by rendering 512 of them. Closed-form (SeFa): the latent directions the generator's first layer stretches most, read from its weights.");
        if set != self.project.settings.slider_set {
            self.project.settings.slider_set = set;
            self.mark_settings();
            self.restart_sliders();
        }
        set
    }

    fn slider_form_ui(&mut self, ui: &mut egui::Ui) {
        for learning in &self.shot.teaching.learning {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("Learning \"{}\"…", learning.name));
            });
        }
        let Some(mut form) = self.shot.teaching.form.take() else {
            return;
        };
        let mut tags: Vec<String> = self
            .project
            .curation
            .shots
            .iter()
            .flat_map(|s| s.tags.iter().cloned())
            .collect();
        tags.sort();
        tags.dedup();
        let mut keep_open = true;
        let mut learn = false;
        let frame = egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.label("A new slider from your picks");
            ui.horizontal(|ui| {
                ui.label("Name");
                ui.text_edit_singleline(&mut form.name);
            });
            let quality_text = match &form.quality {
                Quality::Favourites => "Favourites".to_string(),
                Quality::Tag(tag) => format!("Tagged \"{tag}\""),
            };
            egui::ComboBox::from_label("have the quality")
                .selected_text(quality_text)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut form.quality, Quality::Favourites, "Favourites");
                    for tag in &tags {
                        ui.selectable_value(
                            &mut form.quality,
                            Quality::Tag(tag.clone()),
                            format!("Tagged \"{tag}\""),
                        );
                    }
                });
            egui::ComboBox::from_label("do not")
                .selected_text(match form.contrast {
                    Contrast::TheRest => "The other shots",
                    Contrast::Rejected => "The rejected shots",
                })
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut form.contrast, Contrast::TheRest, "The other shots");
                    ui.selectable_value(
                        &mut form.contrast,
                        Contrast::Rejected,
                        "The rejected shots",
                    );
                });
            ui.checkbox(&mut form.apart_from_computed, "Keep it apart from the computed sliders")
                .on_hover_text("Orthogonal to the principal or closed-form sliders too, so it never moves what they move. Off: a quality is often one of the main ways the shots vary, and taking that out would take the quality out.");
            let (with, without) = self.picks(&form.quality, form.contrast);
            ui.label(format!(
                "{} shots with it, {} without",
                with.len(),
                without.len()
            ));
            let ready = with.len() >= MIN_PICKS
                && without.len() >= MIN_PICKS
                && !form.name.trim().is_empty();
            ui.horizontal(|ui| {
                learn = ui
                    .add_enabled(ready, egui::Button::new("Learn the slider"))
                    .on_disabled_hover_text(format!(
                        "Name it, and pick at least {MIN_PICKS} of each"
                    ))
                    .clicked();
                keep_open = !ui.button("Cancel").clicked();
            });
        });
        if !form.scrolled_to {
            frame.response.scroll_to_me(Some(egui::Align::BOTTOM));
            form.scrolled_to = true;
        }
        if learn {
            let (with, without) = self.picks(&form.quality, form.contrast);
            self.learn_slider_from_picks(&form.name, &with, &without, form.apart_from_computed);
            keep_open = false;
        }
        if keep_open {
            self.shot.teaching.form = Some(form);
        }
    }
}
