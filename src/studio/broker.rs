//! The studio's one door to the worker. Every command and control message goes out here,
//! and every render request is tracked from its ticket to its answer: a request ends in a
//! picture or in a failure on its tiles (with Retry), an answer that a newer request made
//! stale is dropped, and nothing is left pending once the worker has answered. Knows
//! nothing of egui: the panels turn its answers into textures and notices.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use crossbeam_channel::Receiver;

use crate::export::Picture;
use crate::project::ShotId;
use crate::protocol::{Command, Completion, Control, Event, RenderKind, RenderRequest, Ticket};
use crate::worker::WorkerHandle;

/// A request the worker has not answered yet.
enum Pending {
    Gallery(Vec<ShotId>),
    Nearest(ShotId),
    Live { shot: ShotId, sent: Instant },
    Morph,
    Completion(ShotId),
}

/// What to render: a generator and its latents (with their classes, for conditional ones).
pub struct RenderParts {
    pub generator: PathBuf,
    pub latents: Vec<Vec<f32>>,
    pub classes: Vec<Option<String>>,
}

/// What an answered render was for.
#[derive(Debug, PartialEq)]
pub enum Answer {
    /// Gallery shots, one per picture; `None` for a shot a newer request will repaint.
    Gallery(Vec<Option<ShotId>>),
    /// A slider's render of `shot`; `superseded` older ones the worker coalesced away;
    /// `resend`: the sliders moved meanwhile, so render the shot as it is now.
    Live {
        shot: ShotId,
        sent: Instant,
        superseded: usize,
        resend: bool,
    },
    Morph,
    /// Completions of this shot's picture.
    Completion(ShotId),
}

/// What a failed render was for.
#[derive(Debug, PartialEq)]
pub enum Failure {
    /// Gallery shots, now showing the error with a Retry.
    Gallery(Vec<ShotId>),
    /// A slider's render: the shot keeps its last picture; `resend` as in [`Answer::Live`].
    Live {
        shot: ShotId,
        resend: bool,
    },
    Morph,
    Completion,
}

/// Whether a live render went out.
#[derive(Debug, PartialEq, Eq)]
pub enum LiveRequest {
    Sent,
    /// One is in flight for this shot: this one goes out, as the shot is then, when it
    /// answers.
    Coalesced,
    /// The worker's queue is full or it is gone.
    Refused,
}

pub struct RenderBroker {
    worker: WorkerHandle,
    next_ticket: Ticket,
    pending: HashMap<Ticket, Pending>,
    /// The newest render request per shot: an older answer must not replace a newer one.
    latest: HashMap<ShotId, Ticket>,
    /// Shots asked for (rendered or on their way): not asked again.
    requested: HashSet<ShotId>,
    /// Shots whose render failed, with why.
    failures: HashMap<ShotId, String>,
    /// A shot moved by the sliders while its live render was in flight.
    live_waiting: Option<ShotId>,
    /// How far renders that take many passes have come: passes done, and in all.
    progress: HashMap<Ticket, (usize, usize)>,
}

impl RenderBroker {
    #[must_use]
    pub fn new(worker: WorkerHandle) -> Self {
        Self {
            worker,
            next_ticket: 1,
            pending: HashMap::new(),
            latest: HashMap::new(),
            requested: HashSet::new(),
            failures: HashMap::new(),
            live_waiting: None,
            progress: HashMap::new(),
        }
    }

    /// Sends a command that is not a render; `false` when the queue is full or the worker gone.
    #[must_use]
    pub fn send(&self, command: Command) -> bool {
        self.worker.commands.try_send(command).is_ok()
    }

    /// Pause, Continue, Stop: on their own channel, never refused for a full queue.
    #[must_use]
    pub fn control(&self, message: Control) -> bool {
        self.worker.control(message)
    }

    /// The worker's events, for the studio to drain.
    #[must_use]
    pub fn events(&self) -> &Receiver<Event> {
        &self.worker.events
    }

    /// Stops the worker (checkpointing a run) and waits for it.
    pub fn shutdown(&mut self) {
        self.worker.shutdown();
    }

    /// Forgets every request: the answers to a project left behind must not land on the
    /// next one's shots.
    pub fn clear(&mut self) {
        self.pending.clear();
        self.latest.clear();
        self.requested.clear();
        self.failures.clear();
        self.live_waiting = None;
        self.progress.clear();
    }

    /// Notes how far a render has come (see [`Event::RenderProgress`]).
    pub fn note_progress(&mut self, ticket: Ticket, done: usize, total: usize) {
        if self.pending.contains_key(&ticket) {
            self.progress.insert(ticket, (done, total));
        }
    }

    /// The completion being drawn: its ticket and the share done, in `[0, 1]` (0 until the
    /// worker tells).
    #[must_use]
    pub fn completion_progress(&self) -> Option<(Ticket, f32)> {
        self.pending
            .iter()
            .find(|(_, p)| matches!(p, Pending::Completion(_)))
            .map(|(&ticket, _)| (ticket, self.share_done(ticket)))
    }

    /// A gallery shot being drawn pass by pass: its ticket and the share done.
    #[must_use]
    pub fn shot_progress(&self, shot: ShotId) -> Option<(Ticket, f32)> {
        let ticket = *self.latest.get(&shot)?;
        self.progress
            .contains_key(&ticket)
            .then(|| (ticket, self.share_done(ticket)))
    }

    fn share_done(&self, ticket: Ticket) -> f32 {
        self.progress
            .get(&ticket)
            .map_or(0.0, |&(done, total)| done as f32 / total.max(1) as f32)
    }

    /// Asks the worker to give up render `ticket`; it answers with a cancelled failure.
    pub fn cancel(&mut self, ticket: Ticket) -> bool {
        self.control(Control::CancelRender(ticket))
    }

    fn ticket(&mut self) -> Ticket {
        self.next_ticket += 1;
        self.next_ticket
    }

    fn render(&self, ticket: Ticket, kind: RenderKind, parts: RenderParts) -> bool {
        self.send(Command::Render(RenderRequest {
            ticket,
            kind,
            generator: parts.generator,
            latents: parts.latents,
            classes: parts.classes,
            completion: None,
        }))
    }

    /// Asks an autoregressive generator for completions of `shot`'s picture (one per latent
    /// of `parts`); the worker serves only the newest, so older ones are dropped.
    pub fn render_completion(
        &mut self,
        shot: ShotId,
        parts: RenderParts,
        completion: Completion,
    ) -> bool {
        let ticket = self.ticket();
        self.pending
            .retain(|_, p| !matches!(p, Pending::Completion(_)));
        self.pending.insert(ticket, Pending::Completion(shot));
        let sent = self.send(Command::Render(RenderRequest {
            ticket,
            kind: RenderKind::Completion,
            generator: parts.generator,
            latents: parts.latents,
            classes: parts.classes,
            completion: Some(completion),
        }));
        if !sent {
            self.pending.remove(&ticket);
        }
        sent
    }

    /// Asks for gallery shots `ids` (one latent each). `false`: refused, and their tiles
    /// now show the failure.
    pub fn render_gallery(&mut self, ids: Vec<ShotId>, parts: RenderParts) -> bool {
        let ticket = self.ticket();
        for id in &ids {
            self.latest.insert(*id, ticket);
            self.requested.insert(*id);
        }
        self.pending.insert(ticket, Pending::Gallery(ids));
        let sent = self.render(ticket, RenderKind::Gallery, parts);
        if !sent {
            self.failed(ticket, "the worker was busy");
        }
        sent
    }

    /// Renders `shot` live (a slider moved). At most one is in flight per shot, so a drag
    /// never fills the worker's queue.
    pub fn render_live(&mut self, shot: ShotId, parts: RenderParts) -> LiveRequest {
        let in_flight = self
            .pending
            .values()
            .any(|p| matches!(p, Pending::Live { shot: s, .. } if *s == shot));
        if in_flight {
            self.live_waiting = Some(shot);
            return LiveRequest::Coalesced;
        }
        let ticket = self.ticket();
        self.latest.insert(shot, ticket);
        self.pending.insert(
            ticket,
            Pending::Live {
                shot,
                sent: Instant::now(),
            },
        );
        if self.render(ticket, RenderKind::Live, parts) {
            LiveRequest::Sent
        } else {
            self.pending.remove(&ticket);
            LiveRequest::Refused
        }
    }

    /// Renders a morph strip; the worker serves only the newest, so older ones are dropped.
    pub fn render_morph(&mut self, parts: RenderParts) -> bool {
        let ticket = self.ticket();
        self.pending.retain(|_, p| !matches!(p, Pending::Morph));
        self.pending.insert(ticket, Pending::Morph);
        let sent = self.render(ticket, RenderKind::Morph, parts);
        if !sent {
            self.pending.remove(&ticket);
        }
        sent
    }

    /// Asks for the training image nearest to `shot`'s `picture` (only the newest is served).
    pub fn find_nearest(&mut self, shot: ShotId, picture: Picture) -> bool {
        let ticket = self.ticket();
        self.pending
            .retain(|_, p| !matches!(p, Pending::Nearest(_)));
        self.pending.insert(ticket, Pending::Nearest(shot));
        let sent = self.send(Command::FindNearest { ticket, picture });
        if !sent {
            self.pending.remove(&ticket);
        }
        sent
    }

    /// The shot a nearest-image answer is for, if it is still wanted.
    pub fn nearest_answered(&mut self, ticket: Ticket) -> Option<ShotId> {
        match self.pending.remove(&ticket) {
            Some(Pending::Nearest(shot)) => Some(shot),
            Some(other) => {
                self.pending.insert(ticket, other);
                None
            }
            None => None,
        }
    }

    /// What a render answer is for; `None` for a stale or unknown ticket.
    pub fn rendered(&mut self, ticket: Ticket) -> Option<Answer> {
        self.progress.remove(&ticket);
        match self.pending.remove(&ticket)? {
            Pending::Gallery(ids) => Some(Answer::Gallery(
                ids.into_iter()
                    .map(|id| (self.latest.get(&id).is_none_or(|t| *t <= ticket)).then_some(id))
                    .collect(),
            )),
            Pending::Live { shot, sent } => {
                // The worker renders only the newest live request: older ones never answer.
                let stale: Vec<Ticket> = self
                    .pending
                    .iter()
                    .filter(|(t, p)| **t < ticket && matches!(p, Pending::Live { .. }))
                    .map(|(t, _)| *t)
                    .collect();
                for t in &stale {
                    self.pending.remove(t);
                }
                Some(Answer::Live {
                    shot,
                    sent,
                    superseded: stale.len(),
                    resend: self.take_waiting(shot),
                })
            }
            Pending::Morph => Some(Answer::Morph),
            Pending::Completion(shot) => Some(Answer::Completion(shot)),
            Pending::Nearest(shot) => {
                self.pending.insert(ticket, Pending::Nearest(shot));
                None
            }
        }
    }

    /// A render that will not come; `None` for a stale or unknown ticket.
    pub fn failed(&mut self, ticket: Ticket, why: &str) -> Option<Failure> {
        self.progress.remove(&ticket);
        match self.pending.remove(&ticket)? {
            Pending::Gallery(ids) => {
                let failed: Vec<ShotId> = ids
                    .into_iter()
                    .filter(|id| self.latest.get(id) == Some(&ticket))
                    .collect();
                for id in &failed {
                    self.failures.insert(*id, why.to_string());
                }
                Some(Failure::Gallery(failed))
            }
            Pending::Live { shot, .. } => Some(Failure::Live {
                shot,
                resend: self.take_waiting(shot),
            }),
            Pending::Morph => Some(Failure::Morph),
            Pending::Completion(_) => Some(Failure::Completion),
            Pending::Nearest(_) => None,
        }
    }

    fn take_waiting(&mut self, shot: ShotId) -> bool {
        let waiting = self.live_waiting == Some(shot);
        if waiting {
            self.live_waiting = None;
        }
        waiting
    }

    /// Forgets a failed shot's failure, so it is asked for again; `false` if it had none.
    pub fn retry(&mut self, shot: ShotId) -> bool {
        let failed = self.failures.remove(&shot).is_some();
        if failed {
            self.requested.remove(&shot);
        }
        failed
    }

    /// Whether `shot` was asked for (and has not failed since a retry).
    #[must_use]
    pub fn is_requested(&self, shot: ShotId) -> bool {
        self.requested.contains(&shot)
    }

    /// Why `shot`'s render failed, if it did.
    #[must_use]
    pub fn failure(&self, shot: ShotId) -> Option<&str> {
        self.failures.get(&shot).map(String::as_str)
    }

    /// Live renders sent and not answered yet (at most one per shot).
    #[must_use]
    pub fn live_in_flight(&self) -> usize {
        self.pending
            .values()
            .filter(|p| matches!(p, Pending::Live { .. }))
            .count()
    }

    /// Requests sent and not answered yet.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::worker::{WorkerDevice, spawn_worker};

    fn broker() -> RenderBroker {
        let device = WorkerDevice {
            device: burn::tensor::Device::flex(),
            shared_with_renderer: false,
            gpu_errors: None,
            cpu_threads: None,
            remote: None,
        };
        RenderBroker::new(spawn_worker(device, Arc::new(|| {})).expect("worker thread"))
    }

    fn parts(generator: &std::path::Path, n: usize) -> RenderParts {
        RenderParts {
            generator: generator.to_path_buf(),
            latents: (0..n)
                .map(|i| crate::latent::latent_for_seed(i as u64, 64))
                .collect(),
            classes: vec![None; n],
        }
    }

    /// The next render answer or failure, as the broker reads it.
    fn next(b: &mut RenderBroker) -> (Option<Answer>, Option<Failure>) {
        loop {
            match b.events().recv_timeout(Duration::from_secs(60)) {
                Ok(Event::Rendered { ticket, .. }) => return (b.rendered(ticket), None),
                Ok(Event::RenderFailed { ticket, error }) => {
                    return (None, b.failed(ticket, &error.to_string()));
                }
                Ok(_) => {}
                Err(e) => panic!("no answer from the worker: {e}"),
            }
        }
    }

    /// Every request ends in a picture or a failure on its tiles, an answer made stale by a
    /// newer request repaints nothing, and nothing stays pending.
    #[test]
    fn every_request_ends_and_a_stale_answer_repaints_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let generator = dir.path().join("demo.atl");
        std::fs::write(&generator, crate::project::DEMO_GENERATOR).expect("write");
        let mut b = broker();

        // Shot 1 twice: the first answer is stale for it, shot 2's is not.
        assert!(b.render_gallery(vec![1, 2], parts(&generator, 2)));
        assert!(b.render_gallery(vec![1], parts(&generator, 1)));
        assert_eq!(next(&mut b).0, Some(Answer::Gallery(vec![None, Some(2)])));
        assert_eq!(next(&mut b).0, Some(Answer::Gallery(vec![Some(1)])));

        // A missing generator: the failure lands on the tile, and Retry asks again.
        let missing = dir.path().join("missing.atl");
        assert!(b.render_gallery(vec![3], parts(&missing, 1)));
        assert_eq!(next(&mut b).1, Some(Failure::Gallery(vec![3])));
        assert!(b.failure(3).is_some() && b.is_requested(3));
        assert!(b.retry(3));
        assert!(!b.is_requested(3) && b.failure(3).is_none());

        // Sliders: a move while one is in flight waits and is resent when it answers.
        assert_eq!(b.render_live(1, parts(&generator, 1)), LiveRequest::Sent);
        assert_eq!(
            b.render_live(1, parts(&generator, 1)),
            LiveRequest::Coalesced
        );
        assert_eq!(b.live_in_flight(), 1);
        match next(&mut b).0 {
            Some(Answer::Live { shot, resend, .. }) => assert_eq!((shot, resend), (1, true)),
            other => panic!("{other:?}"),
        }
        // Morphs: only the newest is served; the older one is forgotten, not leaked.
        assert!(b.render_morph(parts(&generator, 3)));
        assert!(b.render_morph(parts(&generator, 3)));
        // The worker may have served the first before the second came: that answer is stale.
        let mut answers = vec![next(&mut b).0];
        if answers[0].is_none() {
            answers.push(next(&mut b).0);
        }
        assert_eq!(answers.last(), Some(&Some(Answer::Morph)));
        assert_eq!(b.pending(), 0, "nothing left pending");
    }
}
