//! A run the worker drives: trained here on the worker's device, or by a child process on a
//! remote server (see `remote_run`). The worker steps and stops both alike.

use super::remote_run;
use crate::protocol::TrainRequest;
use crate::train::{RunSummary, StepOutcome, TrainError, TrainEvent, TrainRun};

pub(super) struct Training {
    pub(super) run: Runner,
    pub(super) request: TrainRequest,
    pub(super) paused: bool,
}

/// Where a run trains: here on the worker's device, or in a child process on a remote server.
pub(super) enum Runner {
    Here(Box<TrainRun>),
    Remote(remote_run::RemoteRun),
}

impl Runner {
    pub(super) fn is_remote(&self) -> bool {
        matches!(self, Self::Remote(_))
    }

    pub(super) fn step(
        &mut self,
        on_event: &mut dyn FnMut(TrainEvent),
    ) -> Result<StepOutcome, TrainError> {
        match self {
            Self::Here(run) => run.step(on_event),
            Self::Remote(run) => run.step(on_event),
        }
    }

    pub(super) fn stop(&mut self, on_event: &mut dyn FnMut(TrainEvent)) -> Result<(), TrainError> {
        match self {
            Self::Here(run) => run.stop(on_event),
            Self::Remote(run) => run.stop(on_event),
        }
    }

    pub(super) fn progress(&self) -> (u64, u64) {
        match self {
            Self::Here(run) => run.progress(),
            Self::Remote(run) => run.progress(),
        }
    }

    pub(super) fn summary(&self, cancelled: bool) -> RunSummary {
        match self {
            Self::Here(run) => run.summary(cancelled),
            Self::Remote(run) => run.summary(cancelled),
        }
    }
}
