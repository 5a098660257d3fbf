//! The worker's side of the event channel: never blocks, never drops what matters, never
//! grows without bound.
//!
//! Progress events may be dropped when the UI is behind (a newer one follows soon). Every
//! other event is kept: if the bounded channel is full (the window is minimised and not
//! drawing, say) it waits in a local queue and goes out on a later flush, so training never
//! stalls on the UI and no result or error is lost. That queue holds at most [`HELD_CAP`]
//! events: past it, the oldest event that a newer one supersedes (a preview grid, metrics:
//! see [`Event::superseded_by_newer`]) makes room. Results, errors and ends come from
//! requests and runs, so they are few however long the window stays minimised.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};

use crate::protocol::Event;

/// Wakes the front end (a repaint request in the studio, a no-op elsewhere).
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// Progress wakes the front end at most this often.
pub const PROGRESS_WAKE: Duration = Duration::from_millis(250);

/// Events held back at most (see the module docs).
pub const HELD_CAP: usize = 512;

pub struct Outbox {
    events: Sender<Event>,
    held: VecDeque<Event>,
    wake: Wake,
    /// Set once the receiver is gone: nothing is listening any more.
    closed: bool,
    last_progress_wake: Option<Instant>,
}

impl Outbox {
    #[must_use]
    pub fn new(events: Sender<Event>, wake: Wake) -> Self {
        Self {
            events,
            held: VecDeque::new(),
            wake,
            closed: false,
            last_progress_wake: None,
        }
    }

    /// An event that must arrive (or, if it is superseded by newer ones, that arrives unless
    /// a newer one of its kind does).
    pub fn send(&mut self, event: Event) {
        self.held.push_back(event);
        self.flush();
        if self.held.len() > HELD_CAP
            && let Some(oldest) = self.held.iter().position(Event::superseded_by_newer)
        {
            self.held.remove(oldest);
        }
    }

    /// Events waiting for room in the channel.
    #[must_use]
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// An event that a newer one supersedes; dropped when the channel is full. It wakes the
    /// front end at most every [`PROGRESS_WAKE`]: a redraw per training step would take the
    /// cores the training needs where the window is drawn in software.
    pub fn send_progress(&mut self, event: Event) {
        if !self.held.is_empty() {
            return;
        }
        if let Err(TrySendError::Disconnected(_)) = self.events.try_send(event) {
            self.closed = true;
        }
        if self
            .last_progress_wake
            .is_none_or(|t| t.elapsed() >= PROGRESS_WAKE)
        {
            self.last_progress_wake = Some(Instant::now());
            (self.wake)();
        }
    }

    /// Sends what was held back, as far as the channel takes it.
    pub fn flush(&mut self) {
        while let Some(event) = self.held.pop_front() {
            match self.events.try_send(event) {
                Ok(()) => {}
                Err(TrySendError::Full(event)) => {
                    self.held.push_front(event);
                    break;
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.closed = true;
                    self.held.clear();
                    break;
                }
            }
        }
        (self.wake)();
    }

    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    #[must_use]
    pub fn has_held(&self) -> bool {
        !self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::Picture;
    use crate::protocol::{TrainingState, WorkerError};

    #[test]
    fn a_listener_far_behind_loses_only_superseded_events_and_the_queue_stays_bounded() {
        let (tx, rx) = crossbeam_channel::bounded(4);
        let mut out = Outbox::new(tx, Arc::new(|| {}));
        let grid = |step| Event::PreviewGrid {
            step,
            picture: Picture {
                width: 1,
                height: 1,
                channels: 1,
                pixels: vec![0],
            },
        };
        // A long run with the window minimised: thousands of previews, a few results.
        for step in 0..5_000u64 {
            out.send(grid(step));
            if step % 1_000 == 0 {
                out.send(Event::Failed(WorkerError::NoGenerator));
            }
            out.send_progress(Event::TrainingState(TrainingState::Running));
            assert!(out.held() <= HELD_CAP);
        }
        out.send(Event::TrainingEnded(crate::train::RunSummary {
            step: 5_000,
            total_steps: 5_000,
            cancelled: false,
            early_stopped: false,
            time_up: false,
            best_swd: None,
            last_metrics: None,
        }));
        let mut received = Vec::new();
        while out.has_held() || !rx.is_empty() {
            received.extend(rx.try_iter());
            out.flush();
        }
        let failures = received
            .iter()
            .filter(|e| matches!(e, Event::Failed(_)))
            .count();
        assert_eq!(failures, 5, "every error arrives");
        assert!(matches!(received.last(), Some(Event::TrainingEnded(_))));
        // The newest preview is among those kept, and they arrive in order.
        let steps: Vec<u64> = received
            .iter()
            .filter_map(|e| match e {
                Event::PreviewGrid { step, .. } => Some(*step),
                _ => None,
            })
            .collect();
        assert_eq!(steps.last(), Some(&4_999));
        assert!(steps.windows(2).all(|w| w[0] < w[1]));
    }
}
