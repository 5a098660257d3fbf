//! Rendering on the worker: gallery shots, a dragged slider's live renders (which training
//! steps give way to), morph strips and completions.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use super::{Worker, panic_message, samplers};
use crate::protocol::{Event, RenderKind, RenderRequest, WorkerError};

/// How long after a slider's render training steps wait. A step queued on the device ahead
/// of a slider's render delays it by the step's whole length (150 ms for `fastgan-128-rgb`
/// on an H200, one queue per device), so while a slider is dragged, its renders go first;
/// training resumes this long after the last one.
pub(super) const SLIDER_FOCUS: std::time::Duration = std::time::Duration::from_millis(250);

impl Worker {
    /// While a slider is dragged: waits (until `until` at most) for its next render or any
    /// other message instead of queueing a training step ahead of it.
    pub(super) fn wait_for_the_slider(&mut self, until: Instant) {
        let timeout = until.saturating_duration_since(Instant::now());
        crossbeam_channel::select! {
            recv(self.control) -> message => {
                if let Ok(message) = message {
                    self.obey(message);
                }
            },
            recv(self.commands) -> command => {
                if let Ok(command) = command {
                    self.handle_guarded(command);
                }
            },
            default(timeout) => {},
        }
    }

    pub(super) fn render(&mut self, request: RenderRequest) {
        let started = Instant::now();
        if request.kind == RenderKind::Live {
            self.slider_focus = Some(started + SLIDER_FOCUS);
        }
        let result = catch_unwind(AssertUnwindSafe(|| {
            let sampler = self.samplers.get(&request.generator)?;
            match (request.kind, &request.completion) {
                (RenderKind::Completion, Some(c)) => {
                    samplers::complete_named(&sampler, c, &request.latents, &request.classes)
                }
                _ => samplers::render_named(&sampler, &request.latents, &request.classes),
            }
        }));
        match result {
            Ok(Ok(pictures)) => self.out.send(Event::Rendered {
                ticket: request.ticket,
                kind: request.kind,
                pictures,
                render_ms: started.elapsed().as_secs_f32() * 1000.0,
            }),
            Ok(Err(error)) => self.out.send(Event::RenderFailed {
                ticket: request.ticket,
                error,
            }),
            Err(panic) => self.out.send(Event::RenderFailed {
                ticket: request.ticket,
                error: WorkerError::Panicked(panic_message(&*panic)),
            }),
        }
    }
}
