//! The worker's side of the event channel: never blocks, never drops what matters.
//!
//! Progress events may be dropped when the UI is behind (a newer one follows soon). Every
//! other event is kept: if the bounded channel is full (the window is minimised and not
//! drawing, say) it waits in a local queue and goes out on a later flush, so training never
//! stalls on the UI and no result or error is lost.

use std::collections::VecDeque;
use std::sync::Arc;

use crossbeam_channel::{Sender, TrySendError};

use crate::protocol::Event;

/// Wakes the front end (a repaint request in the studio, a no-op elsewhere).
pub type Wake = Arc<dyn Fn() + Send + Sync>;

pub struct Outbox {
    events: Sender<Event>,
    held: VecDeque<Event>,
    wake: Wake,
    /// Set once the receiver is gone: nothing is listening any more.
    closed: bool,
}

impl Outbox {
    #[must_use]
    pub fn new(events: Sender<Event>, wake: Wake) -> Self {
        Self {
            events,
            held: VecDeque::new(),
            wake,
            closed: false,
        }
    }

    /// An event that must arrive.
    pub fn send(&mut self, event: Event) {
        self.held.push_back(event);
        self.flush();
    }

    /// An event that a newer one supersedes; dropped when the channel is full.
    pub fn send_progress(&mut self, event: Event) {
        if !self.held.is_empty() {
            return;
        }
        if let Err(TrySendError::Disconnected(_)) = self.events.try_send(event) {
            self.closed = true;
        }
        (self.wake)();
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
