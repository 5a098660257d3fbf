//! How long a run takes on this machine, measured before it starts: a short warm-up of the
//! real recipe on the real photos, in a throwaway folder. It times what a run does, a step
//! and each kind of periodic work (metrics, preview, checkpoint, evaluation), and adds them
//! up along the recipe's schedule. The studio shows it before Train is pressed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use burn::tensor::Device;

use super::TrainError;
use super::periodic::{begin_preview, save_preview};
use super::run::{RunContext, RunOptions, TrainRun, read_metrics, save_checkpoint};
use super::session::TrainSession;
use crate::quality::ClassJudge;

/// Steps run before the clock starts: the first ones allocate and are slower.
const UNTIMED_STEPS: u32 = 2;
/// Timed steps at least, and at most.
const TIMED_STEPS: (u32, u32) = (3, 400);

/// What a warm-up measured, in seconds, and the schedule it applies them to.
#[derive(Clone, Debug, PartialEq)]
pub struct RunEstimate {
    /// Building the session, plus the extra time of the first, slower steps.
    pub start_secs: f64,
    pub step_secs: f64,
    pub metrics_secs: f64,
    pub preview_secs: f64,
    pub checkpoint_secs: f64,
    /// One held-out evaluation (0 when the recipe has none). A class judge still training
    /// on its own thread is not counted: evaluations leave its figures out until it is ready.
    pub eval_secs: f64,
    /// Training the class judge, once, before the first evaluation's feature figures (0
    /// when the data needs none). The command line trains it in line; the studio on a core
    /// of its own, beside the run.
    pub judge_secs: f64,
    /// Steps between each kind of periodic work (0: never).
    pub metrics_every: u64,
    pub preview_every: u64,
    pub checkpoint_every: u64,
    pub eval_every: u64,
    /// The recipe's own step budget (its steps, or epochs times steps per epoch).
    pub recipe_steps: u64,
    pub steps_per_epoch: u64,
    pub train_images: usize,
}

/// How many times work due every `every` steps falls in a run of `steps` steps, counting the
/// last step, where every kind of work is done once more.
fn times_due(steps: u64, every: u64) -> u64 {
    if every == 0 || steps == 0 {
        0
    } else {
        steps.div_ceil(every)
    }
}

impl RunEstimate {
    /// The wall-clock time of a run of `steps` steps, from pressing Train to its end.
    #[must_use]
    pub fn duration_for(&self, steps: u64) -> Duration {
        let secs = self.start_secs
            + steps as f64 * self.step_secs
            + times_due(steps, self.metrics_every) as f64 * self.metrics_secs
            + times_due(steps, self.preview_every) as f64 * self.preview_secs
            + times_due(steps, self.checkpoint_every) as f64 * self.checkpoint_secs
            + times_due(steps, self.eval_every) as f64 * self.eval_secs
            + if times_due(steps, self.eval_every) > 0 {
                self.judge_secs
            } else {
                0.0
            };
        Duration::from_secs_f64(secs.max(0.0))
    }

    /// A step's share of the whole run's time: the step and its part of the periodic work.
    #[must_use]
    pub fn secs_per_step(&self) -> f64 {
        let share = |secs: f64, every: u64| if every == 0 { 0.0 } else { secs / every as f64 };
        self.step_secs
            + share(self.metrics_secs, self.metrics_every)
            + share(self.preview_secs, self.preview_every)
            + share(self.checkpoint_secs, self.checkpoint_every)
            + share(self.eval_secs, self.eval_every)
    }

    /// About how many steps a run chosen by time makes in `budget` (counted, like the run's
    /// clock, from its first step; the run ends with metrics, a preview and a checkpoint).
    #[must_use]
    pub fn steps_within(&self, budget: Duration) -> u64 {
        // The run's last metrics, preview and checkpoint; the class judge, once.
        let ending = self.metrics_secs + self.preview_secs + self.checkpoint_secs + self.judge_secs;
        let left = budget.as_secs_f64() - ending;
        if left <= 0.0 {
            return 0;
        }
        (left / self.secs_per_step().max(1e-9)).floor() as u64
    }
}

/// A throwaway run folder, removed when dropped (also on error).
struct ScratchDir(PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `options`' recipe for about `timed` of steps (at least a few) on `device` in a
/// throwaway folder, timing a step and each kind of periodic work once. `options.run_dir`,
/// `resume` and `minutes` are ignored; pass the studio's import as `options.imported` so
/// the photos are not read again.
pub fn estimate_run(
    options: &RunOptions,
    device: &Device,
    timed: Duration,
) -> Result<RunEstimate, TrainError> {
    // As a run trains: on one compute thread throughout (see `on_compute_pool`).
    crate::device::on_compute_pool(device, || estimate_on_this_thread(options, device, timed))
}

fn estimate_on_this_thread(
    options: &RunOptions,
    device: &Device,
    timed: Duration,
) -> Result<RunEstimate, TrainError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let scratch = ScratchDir(
        std::env::temp_dir().join(format!("atelier-estimate-{}-{nanos}", std::process::id())),
    );
    let mut options = options.clone();
    options.run_dir.clone_from(&scratch.0);
    options.resume = false;
    options.minutes = None;
    let mut steps_per_epoch = 0;
    let mut train_images = 0;
    let started = Instant::now();
    let mut run = TrainRun::start(&options, device, &|_| {}, &mut |event| {
        if let super::TrainEvent::Started {
            steps_per_epoch: per_epoch,
            train_images: images,
            ..
        } = event
        {
            steps_per_epoch = per_epoch;
            train_images = images;
        }
    })?;
    let recipe_steps = run.progress().1;
    let (session, ctx, last_metrics) = run.parts();
    let building = started.elapsed().as_secs_f64();

    let first = Instant::now();
    for _ in 0..UNTIMED_STEPS {
        session.step()?;
    }
    session.take_metrics()?;
    let first_secs = first.elapsed().as_secs_f64();

    // Steps as the run takes them, reading the metrics window on its schedule (a window left
    // to grow makes steps slower than a run's): the reads are timed apart.
    let every = ctx.train.metrics_every;
    let clock = Instant::now();
    let (mut steps, mut reads, mut read_secs) = (0u32, 0u32, 0.0);
    while steps < TIMED_STEPS.0 || (clock.elapsed() < timed && steps < TIMED_STEPS.1) {
        session.step()?;
        steps += 1;
        if every > 0 && session.state().step.is_multiple_of(every) {
            let read = Instant::now();
            read_metrics(session, ctx, last_metrics)?;
            read_secs += read.elapsed().as_secs_f64();
            reads += 1;
        }
    }
    // A device sync: everything queued has run.
    session.take_metrics()?;
    let step_secs = (clock.elapsed().as_secs_f64() - read_secs) / f64::from(steps);

    let metrics_secs = if reads > 0 {
        read_secs / f64::from(reads)
    } else {
        session.step()?;
        timed_once(&mut || read_metrics(session, ctx, last_metrics))?
    };
    let (preview_secs, checkpoint_secs, eval_secs) = time_periodic_work(session, ctx)?;
    let judge_secs =
        if ctx.train.eval_every > 0 && ctx.eval_cache.needs_class_judge(session.dataset()) {
            ClassJudge::time_training(session.dataset(), &ctx.split.train, &Device::flex())?
                .as_secs_f64()
        } else {
            0.0
        };
    let eval_every = ctx.train.eval_every;
    let train = ctx.train.clone();
    drop(run);
    Ok(RunEstimate {
        start_secs: building + (first_secs - f64::from(UNTIMED_STEPS) * step_secs).max(0.0),
        step_secs,
        metrics_secs,
        preview_secs,
        checkpoint_secs,
        eval_secs,
        judge_secs,
        metrics_every: train.metrics_every,
        preview_every: train.preview_every,
        checkpoint_every: train.checkpoint_every,
        eval_every,
        recipe_steps,
        steps_per_epoch,
        train_images,
    })
}

/// How long `work` takes, in seconds.
fn timed_once(work: &mut dyn FnMut() -> Result<(), TrainError>) -> Result<f64, TrainError> {
    let t = Instant::now();
    work().map(|()| t.elapsed().as_secs_f64())
}

/// Seconds of a preview, a checkpoint and an evaluation (0 when the recipe has none).
fn time_periodic_work(
    session: &mut TrainSession,
    ctx: &RunContext,
) -> Result<(f64, f64, f64), TrainError> {
    // The faster of two: the first of each may pay for a cold cache.
    let preview_secs = time_preview(session, ctx)?.min(time_preview(session, ctx)?);
    let checkpoint_secs = timed_once(&mut || save_checkpoint(session, ctx, false, &mut |_| {}))?
        .min(timed_once(&mut || {
            save_checkpoint(session, ctx, false, &mut |_| {})
        })?);
    if ctx.train.eval_every == 0 {
        return Ok((preview_secs, checkpoint_secs, 0.0));
    }
    // As in the studio: a class judge, where the data needs one, trains on its own thread
    // (and stops when this throwaway run is dropped).
    let _ = ctx
        .eval_cache
        .train_judge_in_background(session.dataset().clone(), ctx.split.train.clone());
    let eval_secs = time_evaluation(session, ctx)?;
    Ok((preview_secs, checkpoint_secs, eval_secs))
}

/// Seconds of a preview: drawn and saved when that is quick; an autoregressive model's,
/// hundreds of passes, from the time of its first [`DRAW_SAMPLE`].
fn time_preview(session: &TrainSession, ctx: &RunContext) -> Result<f64, TrainError> {
    let started = Instant::now();
    let mut drawing = begin_preview(session, ctx)?;
    let begun = started.elapsed().as_secs_f64();
    let (draw_secs, done) = time_drawing(&mut drawing)?;
    if !done {
        return Ok(begun + draw_secs);
    }
    save_preview(&drawing.finish()?, session, ctx)?;
    Ok(started.elapsed().as_secs_f64())
}

/// Seconds of a held-out evaluation: its shots (as [`time_preview`]), its scoring and the
/// held-out likelihood. Where the shots' drawing is extrapolated, the held-out images are
/// scored in their place: the same work.
fn time_evaluation(session: &TrainSession, ctx: &RunContext) -> Result<f64, TrainError> {
    let sampler = std::sync::Arc::new(session.sampler(&ctx.device)?);
    let (data, split, cache) = (session.dataset(), &ctx.split, &ctx.eval_cache);
    let Some(plan) = crate::quality::plan_evaluation(&sampler, data, split, cache) else {
        return Ok(0.0);
    };
    let mut drawing = crate::sample::Drawing::render(sampler, &plan.latents, &plan.classes)?;
    let (draw_secs, done) = time_drawing(&mut drawing)?;
    let scoring = Instant::now();
    let shots = if done {
        drawing.finish()?
    } else {
        let held_out = crate::quality::held_out(split);
        (0..plan.latents.len())
            .map(|k| held_out[k % held_out.len()])
            .map(|i| {
                crate::export::Picture::from_chw_u8(data.image(i), data.channels, data.resolution)
            })
            .collect()
    };
    let device = ctx.device.clone();
    crate::quality::score_evaluation(&plan, &shots, &device, data, split, 0, cache)?;
    session.held_out_bits(crate::quality::held_out(split))?;
    let _ = cache.take_warnings();
    Ok(draw_secs + scoring.elapsed().as_secs_f64())
}

/// Network passes timed at most before the rest of a drawing is extrapolated from them.
const DRAW_SAMPLE: Duration = Duration::from_secs(1);

/// Seconds to draw all of `drawing`, and whether it was drawn: timed to its end when that
/// comes within [`DRAW_SAMPLE`], else extrapolated from the passes drawn by then.
fn time_drawing(
    drawing: &mut crate::sample::Drawing<std::sync::Arc<crate::sample::Sampler>>,
) -> Result<(f64, bool), TrainError> {
    let started = Instant::now();
    loop {
        let done = drawing.advance_for(DRAW_SAMPLE / 4)?;
        let secs = started.elapsed().as_secs_f64();
        if done {
            return Ok((secs, true));
        }
        if started.elapsed() >= DRAW_SAMPLE {
            let (passes, total) = drawing.progress();
            return Ok((secs * total as f64 / passes.max(1) as f64, false));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate() -> RunEstimate {
        RunEstimate {
            start_secs: 2.0,
            step_secs: 0.5,
            metrics_secs: 0.1,
            preview_secs: 1.0,
            checkpoint_secs: 0.4,
            eval_secs: 10.0,
            judge_secs: 0.0,
            metrics_every: 10,
            preview_every: 100,
            checkpoint_every: 200,
            eval_every: 1000,
            recipe_steps: 2000,
            steps_per_epoch: 50,
            train_images: 800,
        }
    }

    #[test]
    fn a_run_adds_its_steps_and_each_periodic_work_on_its_schedule() {
        let e = estimate();
        // 2 + 1000 × 0.5 + 100 × 0.1 + 10 × 1 + 5 × 0.4 + 1 × 10
        let secs = e.duration_for(1000).as_secs_f64();
        assert!((secs - 534.0).abs() < 1e-6, "{secs}");
        // The last step does every kind of work once more.
        let secs = e.duration_for(1001).as_secs_f64();
        assert!(
            (secs - (534.0 + 0.5 + 0.1 + 1.0 + 0.4 + 10.0)).abs() < 1e-6,
            "{secs}"
        );
    }

    #[test]
    fn steps_within_a_budget_round_trip_through_the_duration() {
        let e = estimate();
        let budget = Duration::from_secs(3600);
        let steps = e.steps_within(budget);
        // 0.5 + 0.01 + 0.01 + 0.002 + 0.01 per step.
        assert_eq!(steps, ((3600.0 - 1.5) / 0.532_f64).floor() as u64);
        let back = e.duration_for(steps).as_secs_f64() - e.start_secs;
        assert!((back - 3600.0).abs() / 3600.0 < 0.01, "{back}");
        assert_eq!(e.steps_within(Duration::from_secs(1)), 0);
    }
}
