//! Learning the project's own upscaler (sharp exports) on the worker, from the photos the
//! project imported.

use super::Studio;
use crate::protocol::{Command, Control, UpscalerEvent};
use crate::upscale::UPSCALER_FILE;

/// What the export window shows of the upscaler being learnt.
#[derive(Debug)]
pub struct UpscalerView {
    /// Minutes of worker time the next session asks for.
    pub minutes: u32,
    /// Asked for, not yet started (photos being read).
    pub starting: bool,
    /// Step, seconds spent, budget seconds and loss of the session going on.
    pub progress: Option<(u64, f64, f64, f32)>,
    /// Whether this project has its own upscaler (known from events, not from the disk).
    pub project_has_own: bool,
}

impl Default for UpscalerView {
    fn default() -> Self {
        Self {
            minutes: 30,
            starting: false,
            progress: None,
            project_has_own: false,
        }
    }
}

impl UpscalerView {
    #[must_use]
    pub fn learning(&self) -> bool {
        self.starting || self.progress.is_some()
    }
}

impl Studio {
    /// Asks the worker to learn the project's upscaler from its photos for the chosen time
    /// (going on from the project's upscaler when it has one of the same photos).
    pub fn learn_upscaler(&mut self) {
        let Some(data) = self.project.settings.data_dir.clone() else {
            self.report_error("Import product photos first: the upscaler learns from them.");
            return;
        };
        let out = self.project.root.join(UPSCALER_FILE);
        self.export.upscaler.starting = true;
        self.send(Command::TrainUpscaler {
            data,
            out,
            minutes: f64::from(self.export.upscaler.minutes),
        });
    }

    pub fn stop_upscaler(&mut self) {
        self.control(Control::StopUpscaler);
    }

    pub(super) fn on_upscaler_event(&mut self, event: UpscalerEvent) {
        let view = &mut self.export.upscaler;
        match event {
            UpscalerEvent::Started { photos, resumed_at } => {
                view.starting = false;
                let step = resumed_at.unwrap_or_default();
                view.progress = Some((step, 0.0, f64::from(view.minutes) * 60.0, 0.0));
                let how = match resumed_at {
                    Some(step) => format!("going on from its step {step}"),
                    None => "starting from the shipped upscaler".into(),
                };
                self.notify(format!(
                    "Learning this project's upscaler from {photos} photos ({how})."
                ));
            }
            UpscalerEvent::Progress {
                step,
                seconds,
                budget_seconds,
                loss,
            } => view.progress = Some((step, seconds, budget_seconds, loss)),
            UpscalerEvent::Finished { path, steps } => {
                view.starting = false;
                view.progress = None;
                // A stop for the project left behind ends after the switch: not this one's.
                view.project_has_own |= path.starts_with(&self.project.root);
                self.notify(format!(
                    "Upscaler saved ({steps} steps) to {}: sharp exports use it now.",
                    path.display()
                ));
            }
            UpscalerEvent::Failed(why) => {
                view.starting = false;
                view.progress = None;
                self.report_error(format!("Learning the upscaler stopped: {why}"));
            }
        }
    }
}
