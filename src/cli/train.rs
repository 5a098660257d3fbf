//! `atelier train`: progress bars and log lines over the engine's training events.

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use super::args::TrainArgs;
use super::{cancel_flag, import_bar, resolve_training_device};
use crate::data::ImportProgress;
use crate::device::DeviceChoice;
use crate::preset::{Hardware, Preset};
use crate::train::{BEST, LATEST, RunOptions, TrainEvent, train_run};

/// Turns training events into progress-bar updates and log lines.
fn event_printer<'a>(
    bar: &'a ProgressBar,
    ibar: &'a ProgressBar,
    quiet: bool,
    preset: &'a Preset,
    hardware: Hardware,
) -> impl FnMut(TrainEvent) + 'a {
    move |event: TrainEvent| match event {
        TrainEvent::Imported(report) => {
            ibar.finish_and_clear();
            let skipped = report.skipped.len();
            eprintln!(
                "imported {} images in {} classes ({} skipped; see import-report.txt)",
                report.imported,
                report.per_class.len(),
                skipped
            );
            // The preset is the user's explicit choice here: say what fits, change nothing.
            if let Some(fit) =
                preset.colour_recipe_for(report.is_colour(), report.median_side, hardware)
            {
                eprintln!(
                    "note: {} of {} images show colour, but preset {} trains {} px grey shots; for colour shots use --preset {} ({})",
                    report.colour_images,
                    report.imported,
                    preset.name,
                    preset.model.resolution(),
                    fit.name,
                    fit.why
                );
            }
        }
        TrainEvent::Started {
            step,
            total_steps,
            steps_per_epoch,
            batch,
            train_images,
        } => {
            let until = if total_steps == u64::MAX {
                "until the time budget is spent".to_string()
            } else {
                format!("steps {step}→{total_steps}")
            };
            eprintln!(
                "training on {train_images} images, batch {batch}, {steps_per_epoch} steps/epoch, {until}"
            );
            if total_steps == u64::MAX {
                bar.set_style(
                    ProgressStyle::with_template("{spinner} step {pos}  {msg}  {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
            } else {
                bar.set_length(total_steps);
            }
            bar.set_position(step);
            bar.reset_eta();
        }
        TrainEvent::Stepped { step, .. } => bar.set_position(step),
        TrainEvent::Metrics(m) => {
            let msg = m.summary();
            if quiet {
                return;
            }
            bar.set_message(msg);
        }
        TrainEvent::Quality { record, best } => {
            let line = format!(
                "step {}: held-out SWD {:.1}{} (near-copies {:.1} %)",
                record.step,
                record.swd,
                if best { ", best so far" } else { "" },
                100.0 * record.near_copy_fraction
            );
            if quiet {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
        }
        TrainEvent::Notice(text) => {
            if quiet {
                eprintln!("{text}");
            } else {
                bar.println(text);
            }
        }
        TrainEvent::Preview { .. } | TrainEvent::Checkpoint { .. } => {}
    }
}

/// Runs `train` on a remote device. burn's remote client panics when the server is gone
/// mid-run (a read gets no answer); that is a named, expected state here, not a bug: the run
/// folder keeps its last checkpoint, and `--resume` continues once the server is back.
fn train_remotely<T>(args: &TrainArgs, train: impl FnOnce() -> T) -> Result<T> {
    let quiet_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(train));
    std::panic::set_hook(quiet_hook);
    result.map_err(|panic| {
        // burn's message is a paragraph; its last line is the cause.
        let message = crate::worker::panic_message(&*panic);
        let lost = crate::remote::RemoteError::Lost {
            host: args.remote.host.clone().unwrap_or_default(),
            why: message.lines().last().unwrap_or_default().trim().to_string(),
        };
        anyhow::Error::new(lost).context(format!(
            "training stopped; {} keeps the last checkpoint: start the server again and continue with --resume",
            args.out.display()
        ))
    })
}

/// `--events-json`: a thread that sets `cancel` when stdin reads `stop` or closes (the
/// program driving the run is gone), so the run checkpoints and stops.
fn stop_when_stdin_says(cancel: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    let spawned = std::thread::Builder::new()
        .name("stdin-stop".into())
        .spawn(move || {
            let stdin = std::io::stdin();
            let mut line = String::new();
            loop {
                line.clear();
                match stdin.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line.trim() == "stop" => break,
                    Ok(_) => {}
                }
            }
            cancel.store(true, std::sync::atomic::Ordering::SeqCst);
        });
    if let Err(e) = spawned {
        eprintln!("warning: stdin cannot stop this run: {e}");
    }
}

/// The preset named by `--preset`, with the command line's overrides, checked.
fn recipe_from_args(args: &TrainArgs) -> Result<Preset> {
    let mut preset = Preset::load(&args.preset).context("loading the preset")?;
    if let Some(epochs) = args.epochs {
        preset.train.epochs = epochs;
        preset.train.steps = None;
    }
    if let Some(steps) = args.steps {
        preset.train.steps = Some(steps);
    }
    if args.minutes.is_some() && args.steps.is_none() && args.epochs.is_none() {
        // A time budget alone: no step limit.
        preset.train.steps = Some(u64::MAX);
    }
    if let Some(batch) = args.batch {
        preset.train.batch = batch;
    }
    if let Some(seed) = args.seed {
        preset.train.seed = seed;
    }
    if let Some(init) = &args.init {
        preset.train.init = Some(init.clone());
    }
    if let Some(k) = args.freeze_d {
        preset.train.freeze_d_blocks = k;
    }
    if let Some(k) = args.freeze_g {
        preset.train.freeze_g_blocks = k;
    }
    if let Some(optimizer) = args.optimizer {
        preset.train.optimizer = optimizer;
    }
    if let Some(lr) = args.lr {
        preset.train.lr_g = lr;
        preset.train.lr_d = lr;
    }
    if let Some(decay) = args.weight_decay {
        preset.train.weight_decay = decay;
    }
    if let Some(p) = args.d_dropout {
        preset
            .model
            .family_mut()
            .set_d_dropout(p)
            .context("--d-dropout")?;
    }
    if let Some(patience) = args.patience {
        preset.train.patience = patience;
    }
    preset
        .validate()
        .context("checking the command-line overrides")?;
    Ok(preset)
}

/// `train --estimate`: a short warm-up, then what the run would take here.
fn print_estimate(
    options: &RunOptions,
    device: &burn::tensor::Device,
    description: &str,
) -> Result<()> {
    let e = crate::train::estimate_run(options, device, std::time::Duration::from_secs(3))
        .context("measuring the warm-up")?;
    let secs = |s: f64| format!("{s:.3} s");
    println!(
        "recipe {} on {description}: {} training images, {} steps per epoch",
        options.preset.name, e.train_images, e.steps_per_epoch
    );
    println!(
        "measured: start {}, step {}, metrics {} (every {}), preview {} (every {}), checkpoint {} (every {}), evaluation {} (every {}), class judge {} (once)",
        secs(e.start_secs),
        secs(e.step_secs),
        secs(e.metrics_secs),
        e.metrics_every,
        secs(e.preview_secs),
        e.preview_every,
        secs(e.checkpoint_secs),
        e.checkpoint_every,
        secs(e.eval_secs),
        e.eval_every,
        secs(e.judge_secs)
    );
    match options.minutes {
        Some(minutes) => println!(
            "in {minutes} min: about {} steps ({:.3} s a step, periodic work included)",
            e.steps_within(std::time::Duration::from_secs_f64(minutes * 60.0)),
            e.secs_per_step()
        ),
        None => println!(
            "{} steps: about {:.1} min ({:.3} s a step, periodic work included)",
            e.recipe_steps,
            e.duration_for(e.recipe_steps).as_secs_f64() / 60.0,
            e.secs_per_step()
        ),
    }
    Ok(())
}

pub(super) fn train(args: TrainArgs, quiet: bool) -> Result<()> {
    let preset = recipe_from_args(&args)?;
    let chosen = resolve_training_device(args.device, &args.remote)?;
    let options = RunOptions {
        data_dir: args.data.clone(),
        run_dir: args.out.clone(),
        preset,
        resume: args.resume,
        minutes: args.minutes,
        imported: None,
    };
    if args.estimate {
        return print_estimate(&options, &chosen.device, &chosen.description);
    }
    let cancel = cancel_flag();
    if args.events_json {
        stop_when_stdin_says(cancel.clone());
    }
    let quiet = quiet || args.events_json;
    let ibar = import_bar(quiet);
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let hardware = if chosen.is_gpu {
        Hardware::Gpu
    } else {
        Hardware::Cpu
    };
    let mut print_event = event_printer(&bar, &ibar, quiet, &options.preset, hardware);
    let events_json = args.events_json;
    let mut on_event = |event: TrainEvent| {
        if events_json {
            match serde_json::to_string(&event) {
                Ok(line) => println!("{line}"),
                Err(e) => eprintln!("warning: cannot write a training event as JSON: {e}"),
            }
        }
        print_event(event);
    };
    let progress = |p: ImportProgress| {
        ibar.set_length(p.total as u64);
        ibar.set_position(p.done as u64);
    };
    let summary = if args.device == DeviceChoice::Remote {
        train_remotely(&args, || {
            train_run(&options, &chosen.device, &cancel, &progress, &mut on_event)
        })?
    } else {
        train_run(&options, &chosen.device, &cancel, &progress, &mut on_event)
    }
    .with_context(|| format!("training into {}", args.out.display()))?;
    bar.finish_and_clear();
    print_summary(&args, options.preset.train.patience, &summary);
    Ok(())
}

/// What the run did, for people: the last metrics, the best checkpoint, and how it ended.
fn print_summary(args: &TrainArgs, patience: u32, summary: &crate::train::RunSummary) {
    if let Some(m) = &summary.last_metrics {
        let of = if summary.total_steps == u64::MAX {
            String::new()
        } else {
            format!("/{}", summary.total_steps)
        };
        if let Some(bits) = m.get("nll_bits") {
            println!(
                "step {}{of}: NLL {bits:.4} bits/dim, {:.0} images/s",
                summary.step, m.images_per_sec
            );
        } else {
            println!(
                "step {}{of}: D loss {:.4}, G loss {:.4}, D(x) {:.3}, D(G(z)) {:.3}, {:.0} images/s",
                summary.step,
                m.value("d_loss"),
                m.value("g_loss"),
                m.value("d_real"),
                m.value("d_fake"),
                m.images_per_sec
            );
        }
    }
    if let Some(best) = summary.best_swd {
        println!(
            "best held-out SWD {best:.2} (×10³), saved as {}",
            args.out.join(BEST).display()
        );
    }
    if summary.cancelled {
        println!("stopped at step {}; continue with --resume", summary.step);
    } else if summary.time_up {
        println!(
            "time budget spent at step {}: checkpoint {}; continue with --resume",
            summary.step,
            args.out.join(LATEST).display()
        );
    } else if summary.early_stopped {
        println!(
            "stopped early at step {}: held-out SWD did not improve for {} evaluations",
            summary.step, patience
        );
    } else {
        println!("done: checkpoint {}", args.out.join(LATEST).display());
    }
}
