//! The periodic work after a training step: metrics, a preview grid, a held-out evaluation
//! and a checkpoint, in that order. A preview or an evaluation draws shots; an
//! autoregressive model draws them one network pass per pixel, minutes on a CPU. So the work
//! is a queue that [`TrainRun::step`](super::TrainRun::step) runs a slice at a time: the run
//! does not step while it waits, and its owner (the studio's worker) can obey a Stop or draw
//! a render between two slices.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::TrainError;
use super::metrics::MetricsRecord;
use super::run::{RunContext, StepOutcome, TrainEvent, io_err, read_metrics, save_checkpoint};
use super::run_logs::append_json_line;
use super::session::TrainSession;
use crate::export::{Picture, grid, save_png_atomic};
use crate::quality::{EvalPlan, QualityRecord, plan_evaluation, score_evaluation};
use crate::sample::{Drawing, Sampler};

/// One piece of periodic work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Work {
    Metrics,
    Preview,
    /// A held-out evaluation; it checkpoints too (so `best.atl` is exactly what was
    /// measured), and then the plain checkpoint after it is not needed.
    Evaluation,
    Checkpoint,
}

/// Shots being drawn for a preview or an evaluation, by the weights of the step they began.
enum Drawn {
    Preview(Drawing<Arc<Sampler>>),
    Evaluation(Drawing<Arc<Sampler>>, EvalPlan),
}

/// Periodic work due, with what the run's step call returns once it is all done.
pub(super) struct Periodic {
    work: VecDeque<Work>,
    drawing: Option<Drawn>,
    then: StepOutcome,
}

impl Periodic {
    /// The work due after `step` (every kind once more when `finishing`); `then` is the
    /// outcome of the step that led to it.
    pub(super) fn after_step(
        ctx: &RunContext,
        step: u64,
        finishing: bool,
        then: StepOutcome,
    ) -> Self {
        let t = &ctx.train;
        let due = |every: u64| every > 0 && (step.is_multiple_of(every) || finishing);
        let mut work = VecDeque::new();
        if due(t.metrics_every) || due(t.checkpoint_every) {
            work.push_back(Work::Metrics);
        }
        if due(t.preview_every) {
            work.push_back(Work::Preview);
        }
        if due(t.eval_every) {
            work.push_back(Work::Evaluation);
        }
        if due(t.checkpoint_every) {
            work.push_back(Work::Checkpoint);
        }
        Self {
            work,
            drawing: None,
            then,
        }
    }

    /// The run's end at its wall-clock budget: the last metrics, a preview and a checkpoint.
    pub(super) fn at_time_up() -> Self {
        Self {
            work: VecDeque::from([Work::Metrics, Work::Preview, Work::Checkpoint]),
            drawing: None,
            then: StepOutcome::TimeUp,
        }
    }

    /// Runs the work in order until it is all done (`Some` of the outcome to return) or a
    /// drawing has had about `slice` (`None`: call again).
    pub(super) fn run(
        &mut self,
        session: &mut TrainSession,
        ctx: &RunContext,
        last_metrics: &mut Option<MetricsRecord>,
        on_event: &mut dyn FnMut(TrainEvent),
        slice: Duration,
    ) -> Result<Option<StepOutcome>, TrainError> {
        let started = Instant::now();
        loop {
            if let Some(drawn) = self.drawing.as_mut() {
                let drawing = match drawn {
                    Drawn::Preview(d) | Drawn::Evaluation(d, _) => d,
                };
                while !drawing.advance_for(slice.saturating_sub(started.elapsed()))? {
                    if started.elapsed() >= slice {
                        return Ok(None);
                    }
                }
                if let Some(outcome) = self.finish_drawing(session, ctx, last_metrics, on_event)? {
                    return Ok(Some(outcome));
                }
                continue;
            }
            let Some(work) = self.work.pop_front() else {
                return Ok(Some(self.then));
            };
            let step = session.state().step;
            match work {
                Work::Metrics => {
                    read_metrics(session, ctx, last_metrics)?;
                    if let Some(m) = last_metrics.as_ref().filter(|m| m.step == step) {
                        on_event(TrainEvent::Metrics(m.clone()));
                    }
                }
                Work::Preview => self.drawing = Some(Drawn::Preview(begin_preview(session, ctx)?)),
                Work::Evaluation => {
                    let sampler = Arc::new(session.sampler(&ctx.device)?);
                    let data = session.dataset();
                    // No held-out image: no evaluation, and the plain checkpoint stays due.
                    if let Some(plan) = plan_evaluation(&sampler, data, &ctx.split, &ctx.eval_cache)
                    {
                        let drawing = Drawing::render(sampler, &plan.latents, &plan.classes)?;
                        self.drawing = Some(Drawn::Evaluation(drawing, plan));
                    }
                }
                Work::Checkpoint => save_checkpoint(session, ctx, false, on_event)?,
            }
        }
    }

    /// Saves a finished preview, or scores a finished evaluation; `Some` when the run ends
    /// here (early stopping).
    fn finish_drawing(
        &mut self,
        session: &mut TrainSession,
        ctx: &RunContext,
        last_metrics: &mut Option<MetricsRecord>,
        on_event: &mut dyn FnMut(TrainEvent),
    ) -> Result<Option<StepOutcome>, TrainError> {
        let step = session.state().step;
        match self.drawing.take() {
            Some(Drawn::Preview(drawing)) => {
                let path = save_preview(&drawing.finish()?, session, ctx)?;
                on_event(TrainEvent::Preview { step, path });
            }
            Some(Drawn::Evaluation(drawing, plan)) => {
                let device = drawing.sampler().device().clone();
                let shots = drawing.finish()?;
                let (data, split, cache) = (session.dataset(), &ctx.split, &ctx.eval_cache);
                let mut record =
                    score_evaluation(&plan, &shots, &device, data, split, step, cache)?;
                record.nll_bits = session.held_out_bits(crate::quality::held_out(split))?;
                for warning in ctx.eval_cache.take_warnings() {
                    on_event(TrainEvent::Notice(warning));
                }
                self.work.retain(|w| *w != Work::Checkpoint);
                if record_evaluation(session, ctx, record, last_metrics, on_event)? {
                    self.work.clear();
                    return Ok(Some(StepOutcome::EarlyStopped));
                }
            }
            None => {}
        }
        Ok(None)
    }
}

/// Logs an evaluation, keeps `best.atl` and checkpoints; returns whether early stopping
/// ends the run.
fn record_evaluation(
    session: &mut TrainSession,
    ctx: &RunContext,
    record: QualityRecord,
    last_metrics: &mut Option<MetricsRecord>,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<bool, TrainError> {
    let path = ctx.path("quality.jsonl");
    append_json_line(&path, &record).map_err(io_err("cannot append to", &path))?;
    let best = session.record_quality(record.selection_score());
    on_event(TrainEvent::Quality { record, best });
    // Checkpoint with every evaluation, so `best.atl` is exactly what was measured.
    read_metrics(session, ctx, last_metrics)?;
    save_checkpoint(session, ctx, best, on_event)?;
    let patience = ctx.train.patience;
    Ok(patience > 0 && session.state().evals_since_best >= patience)
}

/// Begins drawing the preview grid's shots with the session's generator as it is now.
pub(super) fn begin_preview(
    session: &TrainSession,
    ctx: &RunContext,
) -> Result<Drawing<Arc<Sampler>>, TrainError> {
    let sampler = Arc::new(session.sampler(&ctx.device)?);
    let latents = &ctx.preview_latents;
    // Conditional models: one class per row, cycling through the classes.
    let count = sampler.model.class_count() as u32;
    let classes: Vec<Option<u32>> = if count > 0 {
        (0..latents.len() as u32)
            .map(|i| Some((i / 8) % count))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Drawing::render(sampler, latents, &classes)?)
}

/// Saves a drawn preview grid as `previews/step-NNNNNNN.png` and `preview.png`.
pub(super) fn save_preview(
    pictures: &[Picture],
    session: &TrainSession,
    ctx: &RunContext,
) -> Result<PathBuf, TrainError> {
    let sheet = grid(pictures, 8);
    let path = ctx
        .path("previews")
        .join(format!("step-{:07}.png", session.state().step));
    save_png_atomic(&sheet, &path)?;
    save_png_atomic(&sheet, &ctx.path("preview.png"))?;
    Ok(path)
}
