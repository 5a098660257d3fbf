//! The training panel's time estimate: a short warm-up on the worker, asked for once the
//! recipe and the imported photos have stayed the same a moment, and shown under Train.

use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use super::Studio;
use crate::protocol::Command;
use crate::train::{RunEstimate, RunOptions};
use crate::worker::ImportSource;

/// How long the recipe must stay unchanged before its warm-up is asked for (typing in a
/// field of Advanced must not start one per key).
const SETTLE: Duration = Duration::from_millis(800);

/// The estimate of the recipe on the panel, as far as it has got.
#[derive(Default)]
pub struct EstimateView {
    /// The recipe last seen on the panel, and since when it is unchanged.
    seen: Option<(u64, Instant)>,
    /// The warm-up asked for and not answered yet.
    pub asked: Option<u64>,
    /// The newest answer, for the recipe it measured.
    pub answer: Option<(u64, Result<RunEstimate, String>)>,
}

impl Studio {
    /// What the estimate depends on: the recipe, the folder and its import, the device. `None`
    /// while there is nothing to measure (no import yet, or a run going).
    fn estimate_key(&self) -> Option<u64> {
        let imported = self.import.imported.as_ref()?;
        let data_dir = self.project.settings.data_dir.as_ref()?;
        if self.training.state.is_some() || self.import.running {
            return None;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.project.settings.preset.to_toml().hash(&mut h);
        data_dir.hash(&mut h);
        imported.dataset.len().hash(&mut h);
        self.compute_description.hash(&mut h);
        Some(h.finish())
    }

    /// Asks the worker for a warm-up of the panel's recipe once it has settled and nothing
    /// answered for it yet. Called every frame the panel is drawn.
    pub(in crate::studio) fn ask_estimate_when_settled(&mut self) {
        self.read_the_folder_quietly_once();
        let Some(key) = self.estimate_key() else {
            self.training.estimate.seen = None;
            return;
        };
        let view = &mut self.training.estimate;
        let answered = view.answer.as_ref().is_some_and(|(k, _)| *k == key);
        if answered || view.asked.is_some() {
            return;
        }
        let since = match view.seen {
            Some((k, since)) if k == key => since,
            _ => {
                view.seen = Some((key, Instant::now()));
                if let Some(ctx) = &self.ctx {
                    ctx.request_repaint_after(SETTLE);
                }
                return;
            }
        };
        if since.elapsed() < SETTLE {
            if let Some(ctx) = &self.ctx {
                ctx.request_repaint_after(SETTLE.saturating_sub(since.elapsed()));
            }
            return;
        }
        let (Some(data_dir), Some(imported)) = (
            self.project.settings.data_dir.clone(),
            self.import.imported.clone(),
        ) else {
            return;
        };
        let options = RunOptions {
            data_dir,
            run_dir: std::path::PathBuf::new(),
            preset: self.project.settings.preset.clone(),
            resume: false,
            minutes: None,
            imported: Some(imported),
        };
        if self.broker.send(Command::EstimateRun {
            key,
            options: Box::new(options),
        }) {
            self.training.estimate.asked = Some(key);
        }
    }

    /// A project opened with a folder has nothing imported yet: read it quietly (once), so
    /// the estimate, the nearest-photo check and the run itself have it.
    fn read_the_folder_quietly_once(&mut self) {
        if self.import.imported.is_some() || self.import.running || self.training.state.is_some() {
            return;
        }
        let Some(dir) = self.project.settings.data_dir.clone() else {
            return;
        };
        if self.import.quietly_read.as_ref() == Some(&dir) {
            return;
        }
        self.import.quietly_read = Some(dir.clone());
        self.import.quiet = true;
        self.import_source(ImportSource::Folder(dir));
        self.import.window_open = false;
    }

    pub(super) fn on_run_estimated(&mut self, key: u64, result: Result<RunEstimate, String>) {
        let view = &mut self.training.estimate;
        if view.asked == Some(key) {
            view.asked = None;
        }
        view.answer = Some((key, result));
    }

    /// The estimate for the recipe as the panel shows it now, if measured.
    #[must_use]
    pub fn current_estimate(&self) -> Option<&RunEstimate> {
        let key = self.estimate_key()?;
        match &self.training.estimate.answer {
            Some((k, Ok(estimate))) if *k == key => Some(estimate),
            _ => None,
        }
    }

    /// The text of the estimate's line on the panel, kept even with nothing to estimate.
    #[must_use]
    pub fn estimate_slot_text(&self) -> String {
        if let Some(line) = self.estimate_line() {
            return line;
        }
        if self.import.running && self.import.quiet {
            "Reading the photo folder to measure this machine's speed…".into()
        } else if self.project.settings.data_dir.is_none() {
            "The time a run takes shows here once photos are imported.".into()
        } else {
            String::new()
        }
    }

    /// One line for the panel: what the chosen time buys, or how long the recipe's steps take.
    #[must_use]
    pub fn estimate_line(&self) -> Option<String> {
        let key = self.estimate_key()?;
        let view = &self.training.estimate;
        let estimate = match &view.answer {
            Some((k, Ok(estimate))) if *k == key => estimate,
            Some((k, Err(e))) if *k == key => return Some(format!("No estimate: {e}")),
            // Asked for, or about to be once the recipe has settled.
            _ if view.asked == Some(key) || view.seen.is_some_and(|(k, _)| k == key) => {
                return Some("Measuring this machine's speed…".into());
            }
            _ => return None,
        };
        let per_step = estimate.secs_per_step();
        Some(match self.project.settings.train_minutes {
            Some(minutes) => {
                let steps = estimate.steps_within(Duration::from_secs_f64(minutes * 60.0));
                let passes = steps as f64 / estimate.steps_per_epoch.max(1) as f64;
                format!(
                    "About {} steps in that time: {passes:.0} passes over the {} training photos ({per_step:.2} s a step, measured here).",
                    grouped(steps),
                    grouped(estimate.train_images as u64)
                )
            }
            None => format!(
                "{} steps: about {} ({per_step:.2} s a step, measured here).",
                grouped(estimate.recipe_steps),
                super::super::training_panel::eta_text(
                    estimate.duration_for(estimate.recipe_steps).as_secs_f64()
                )
            ),
        })
    }
}

/// `12345` as "12,345": step counts a designer reads at a glance.
#[must_use]
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn step_counts_are_grouped_by_thousands() {
        let g = super::grouped;
        assert_eq!(
            (g(0), g(999), g(1000)),
            ("0".into(), "999".into(), "1,000".into())
        );
        assert_eq!(g(12_345_678), "12,345,678");
    }
}
