//! Rendering on the worker: gallery shots, a dragged slider's live renders (which training
//! steps give way to), morph strips and completions. A render that takes many network
//! passes (one per pixel for an autoregressive model) is drawn a slice of time per turn, with
//! its progress, and can be cancelled between two passes.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Worker, panic_message, samplers};
use crate::protocol::{Event, RenderKind, RenderRequest, Ticket, WorkerError};
use crate::sample::{Drawing, Sampler};

/// How long after a slider's render training steps wait. A step queued on the device ahead
/// of a slider's render delays it by the step's whole length (150 ms for `fastgan-128-rgb`
/// on an H200, one queue per device), so while a slider is dragged, its renders go first;
/// training resumes this long after the last one.
pub(super) const SLIDER_FOCUS: Duration = Duration::from_millis(250);

/// The slice a render being drawn gets before the worker reads its control channel again
/// (and the least it gets per turn).
pub(super) const MIN_SLICE: Duration = Duration::from_millis(40);

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

    /// Begins a render request; [`Self::draw_a_little`] draws it.
    pub(super) fn render(&mut self, request: RenderRequest) {
        let started = Instant::now();
        if request.kind == RenderKind::Live {
            self.slider_focus = Some(started + SLIDER_FOCUS);
        }
        if request.kind.coalesces()
            && let Some(pos) = self
                .drawings
                .iter()
                .position(|d| d.request.kind == request.kind)
        {
            // A newer request of a kind that coalesces makes the one being drawn worthless.
            let old = self.drawings.remove(pos);
            self.answer_cancelled(old.request.ticket);
        }
        let begun = catch_unwind(AssertUnwindSafe(|| {
            let sampler = self.samplers.get(&request.generator)?;
            match (request.kind, &request.completion) {
                (RenderKind::Completion, Some(c)) => {
                    samplers::completion_named(sampler, c, &request.latents, &request.classes)
                }
                _ => samplers::drawing_named(sampler, &request.latents, &request.classes),
            }
        }));
        match begun {
            Ok(Ok(drawing)) => self.drawings.push(ActiveRender {
                request,
                drawing,
                started,
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

    /// Whether a gallery request is being drawn (the next one waits for it).
    pub(super) fn drawing_gallery(&self) -> bool {
        self.drawings
            .iter()
            .any(|d| d.request.kind == RenderKind::Gallery)
    }

    /// Draws the renders under way for about `share`, in slices of [`MIN_SLICE`] with the
    /// control channel read between them: a Cancel or a Stop waits one slice, not the share.
    pub(super) fn draw_for(&mut self, share: Duration) {
        let started = Instant::now();
        loop {
            self.draw_a_little(MIN_SLICE);
            if self.drawings.is_empty() || started.elapsed() >= share {
                break;
            }
            self.obey_all();
            if self.shutting_down {
                break;
            }
        }
    }

    /// One turn of every render being drawn: about `slice` of network passes each (at least
    /// one), then its progress, or its pictures when it is done. A GAN's render is done in
    /// its first turn; an autoregressive model's takes one pass per pixel, so training steps
    /// and commands come in between.
    fn draw_a_little(&mut self, slice: Duration) {
        for mut active in std::mem::take(&mut self.drawings) {
            let advanced = catch_unwind(AssertUnwindSafe(|| active.drawing.advance_for(slice)));
            let ticket = active.request.ticket;
            match advanced {
                Ok(Ok(true)) => {
                    let ActiveRender {
                        request,
                        drawing,
                        started,
                        ..
                    } = active;
                    match drawing.finish() {
                        Ok(pictures) => self.out.send(Event::Rendered {
                            ticket,
                            kind: request.kind,
                            pictures,
                            render_ms: started.elapsed().as_secs_f32() * 1000.0,
                        }),
                        Err(e) => self.out.send(Event::RenderFailed {
                            ticket,
                            error: WorkerError::Render(e),
                        }),
                    }
                }
                Ok(Ok(false)) => {
                    let (done, total) = active.drawing.progress();
                    self.out.send_progress(Event::RenderProgress {
                        ticket,
                        done,
                        total,
                    });
                    self.drawings.push(active);
                }
                Ok(Err(e)) => self.out.send(Event::RenderFailed {
                    ticket,
                    error: WorkerError::Render(e),
                }),
                Err(panic) => self.out.send(Event::RenderFailed {
                    ticket,
                    error: WorkerError::Panicked(panic_message(&*panic)),
                }),
            }
        }
    }

    /// Gives up render `ticket`, drawn or waiting, and says so.
    pub(super) fn cancel_render(&mut self, ticket: Ticket) {
        let before = self.drawings.len() + self.gallery.len();
        self.drawings.retain(|d| d.request.ticket != ticket);
        self.gallery.retain(|r| r.ticket != ticket);
        let mut found = before != self.drawings.len() + self.gallery.len();
        for slot in [&mut self.live, &mut self.morph, &mut self.completion] {
            if slot.as_ref().is_some_and(|r| r.ticket == ticket) {
                *slot = None;
                found = true;
            }
        }
        if found {
            self.answer_cancelled(ticket);
        }
    }

    fn answer_cancelled(&mut self, ticket: Ticket) {
        self.out.send(Event::RenderFailed {
            ticket,
            error: WorkerError::Cancelled,
        });
    }
}

/// A render request being drawn.
pub(super) struct ActiveRender {
    request: RenderRequest,
    drawing: Drawing<Arc<Sampler>>,
    started: Instant,
}
