//! The command line: `train`, `sample`, `import`, `bench`, `demo`, `eval`, `generator`, and
//! `studio` (the default), which opens the window.
//!
//! A thin front end over the engine: parse, call, show progress, print results. Errors are
//! reported once, in `main`, as one line with their causes.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::data::{ImportOptions, ImportProgress, import_folder};
use crate::device::{self, ChosenDevice, DeviceChoice};
use crate::export::{grid, save_png_atomic};
use crate::latent::{latent_for_seed, truncate};
use crate::preset::Preset;
use crate::sample::Sampler;
use crate::train::{
    BEST, Checkpoint, GanSession, LATEST, RUN_INFO, RunInfo, RunOptions, TrainEvent, evaluate,
    train_run,
};

#[derive(Debug, Parser)]
#[command(
    name = "atelier",
    version,
    about = "Atelier: train GANs on product photos and make product shots"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// No progress bars.
    #[arg(long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a GAN on a folder of images (class labels from first-level sub-folders).
    Train(TrainArgs),
    /// Render PNG shots from a run's latest checkpoint.
    Sample(SampleArgs),
    /// Import a folder and print the import report (trains nothing).
    Import(ImportArgs),
    /// Print training and sampling throughput (images/s) for a preset on this machine.
    Bench(BenchArgs),
    /// Train on the embedded demo set (procedural T-shirts) and write samples.
    Demo(DemoArgs),
    /// Print held-out quality figures (SWD, memorisation) for a run's checkpoints.
    Eval(EvalArgs),
    /// Open the studio (the default when no command is given).
    Studio(StudioArgs),
    /// Write the generator-only part of a checkpoint: a small file that samples and shares.
    Generator(GeneratorArgs),
    /// Train the feature network behind `eval`'s feature distance (28 px grey, ten classes:
    /// Fashion-MNIST's t10k file) and write its weights.
    FeatureNet(FeatureNetArgs),
}

#[derive(Debug, Args)]
pub struct FeatureNetArgs {
    /// Ten classes of images: an IDX file with its labels, or ten class folders.
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
}

#[derive(Debug, Args, Default)]
pub struct StudioArgs {
    /// Project folder to open (created if it holds no project). Default: the last project,
    /// else the embedded demo project.
    #[arg(long)]
    pub project: Option<PathBuf>,
    /// Where training and sampling run: auto, shared, separate or cpu (default: the saved
    /// setting, else auto).
    #[arg(long)]
    pub compute: Option<crate::studio::ComputeSetting>,
    /// Write frame-time, slider-latency and GPU-error figures as JSON here at exit.
    #[arg(long)]
    pub stats_out: Option<PathBuf>,
    /// Start (or resume) training as soon as the project is open.
    #[arg(long)]
    pub auto_train: bool,
    /// Close the window after this many seconds (for benchmarks and screenshots).
    #[arg(long)]
    pub exit_after: Option<f64>,
    /// Close the window when the training started with `--auto-train` ends.
    #[arg(long)]
    pub exit_when_trained: bool,
    /// Move the sliders of the first shot continuously (measures slider latency).
    #[arg(long)]
    pub drive_sliders: bool,
    /// Set the project's image folder (as if it had been dropped on the window).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Import this folder at start, exactly as if it had been dropped on the window.
    #[arg(long)]
    pub import: Option<PathBuf>,
    /// Set the project's training recipe (a preset name or a .toml file).
    #[arg(long)]
    pub preset: Option<String>,
}

#[derive(Debug, Args)]
pub struct GeneratorArgs {
    /// A checkpoint file (`checkpoint.atl`, `best.atl`).
    #[arg(long)]
    pub checkpoint: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    /// Keep the discriminator too: a base model to fine-tune from (`train --init FILE`).
    #[arg(long)]
    pub base: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[arg(long)]
    pub run: PathBuf,
    /// The run's image folder (default: the one recorded in the run's run.json).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Compare against every image of this folder instead of the run's held-out split (a
    /// folder the run never saw: the most honest figure).
    #[arg(long)]
    pub against: Option<PathBuf>,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Conditional models: shots per class for the class-fidelity check (a classifier
    /// trained on the run's training images scores held-out images and shots of each class).
    #[arg(long, default_value_t = 500)]
    pub class_shots: usize,
    /// Score the trained generator instead of its moving average (EMA), to see what the
    /// average buys.
    #[arg(long)]
    pub raw: bool,
}

#[derive(Debug, Args, Default)]
pub struct TrainArgs {
    #[arg(long)]
    pub data: PathBuf,
    /// A shipped preset name (dcgan-28, dcgan-64-rgb, tshirt-mlp-28, ...) or a TOML file.
    #[arg(long)]
    pub preset: String,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, conflicts_with = "steps")]
    pub epochs: Option<usize>,
    #[arg(long)]
    pub steps: Option<u64>,
    #[arg(long)]
    pub batch: Option<usize>,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Fine-tune: start from this base model (a checkpoint file, a run folder, or the shipped
    /// `base-28`) instead of random weights. Overrides the preset's `train.init`.
    #[arg(long, conflicts_with = "resume")]
    pub init: Option<String>,
    /// Fine-tuning: freeze the discriminator's first K blocks (`FreezeD`).
    #[arg(long, value_name = "K")]
    pub freeze_d: Option<usize>,
    /// Fine-tuning: freeze the generator's first K stages.
    #[arg(long, value_name = "K")]
    pub freeze_g: Option<usize>,
    /// Optimiser: adam, adamw or sgd (overrides the preset).
    #[arg(long)]
    pub optimizer: Option<crate::preset::OptimizerKind>,
    /// Learning rate of both G and D (overrides the preset's `lr_g` and `lr_d`).
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Dropout after each discriminator block.
    #[arg(long)]
    pub d_dropout: Option<f64>,
    /// Evaluations without a better held-out SWD before stopping (0 = never).
    #[arg(long)]
    pub patience: Option<u32>,
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    #[arg(long)]
    pub run: PathBuf,
    #[arg(long, default_value_t = 64)]
    pub count: usize,
    #[arg(long)]
    pub out: PathBuf,
    /// First seed; shot k uses seed + k, so every file is reproducible from its name.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Scale of the latent vector (1 = none; smaller = more typical shots).
    #[arg(long, default_value_t = 1.0)]
    pub truncation: f32,
    /// Conditional models: the class to draw (a sub-folder name of the training data).
    #[arg(long)]
    pub class: Option<String>,
    /// Sample this checkpoint file instead of the run's latest (e.g. `RUN/best.atl`).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Draw with the trained generator instead of its moving average (EMA).
    #[arg(long)]
    pub raw: bool,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_value = "dcgan-28")]
    pub preset: String,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[arg(long, default_value = "dcgan-28")]
    pub preset: String,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Timed training steps (after warm-up); with --quality, the training budget.
    #[arg(long, default_value_t = 30)]
    pub steps: u64,
    /// Quality instead of speed: train the preset on --data for --steps, then print the
    /// held-out figures (`atelier eval`) with the time it took.
    #[arg(long, requires = "data")]
    pub quality: bool,
    /// The image folder to train on (--quality).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// A folder the run never sees, to score against (--quality; the most honest figure).
    #[arg(long)]
    pub against: Option<PathBuf>,
    /// Where the run goes (--quality; default `bench-quality-PRESET-STEPS`). An existing run
    /// there is refused, never overwritten.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo set, the run and the samples go.
    #[arg(long, default_value = "atelier-demo")]
    pub out: PathBuf,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    #[arg(long, default_value_t = 600)]
    pub steps: u64,
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Some(Command::Train(args)) => train(args, cli.quiet),
        Some(Command::Sample(args)) => sample(&args, 0).map(drop),
        Some(Command::Import(args)) => import(&args, cli.quiet),
        Some(Command::Bench(args)) if args.quality => bench_quality(&args, cli.quiet),
        Some(Command::Bench(args)) => bench(&args),
        Some(Command::Demo(args)) => demo(&args, cli.quiet),
        Some(Command::Eval(args)) => eval(&args, cli.quiet),
        Some(Command::Studio(args)) => crate::studio::run(args),
        Some(Command::Generator(args)) => generator(&args),
        Some(Command::FeatureNet(args)) => feature_net(&args, cli.quiet),
        None => crate::studio::run(StudioArgs::default()),
    }
}

fn resolve_device(choice: DeviceChoice) -> Result<ChosenDevice> {
    let chosen = device::resolve(choice).with_context(|| format!("selecting --device {choice}"))?;
    eprintln!("device: {}", chosen.description);
    Ok(chosen)
}

/// Installs Ctrl-C handling: the first press asks the run to checkpoint and stop, a second
/// one exits at once.
fn cancel_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let handler_flag = flag.clone();
    let installed = ctrlc::set_handler(move || {
        if handler_flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\nstopping: saving a checkpoint (press Ctrl-C again to quit at once)");
    });
    if let Err(e) = installed {
        eprintln!("warning: Ctrl-C will not checkpoint before quitting: {e}");
    }
    flag
}

fn import_bar(quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("importing {bar:30} {pos}/{len} files")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Imports a folder with a progress bar (hidden when quiet); errors name the folder.
fn import_with_progress(
    dir: &Path,
    options: ImportOptions,
    quiet: bool,
) -> Result<(crate::data::Dataset, crate::data::ImportReport)> {
    let bar = import_bar(quiet);
    let imported = import_folder(dir, options, &|p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
    })
    .with_context(|| format!("importing {}", dir.display()))?;
    bar.finish_and_clear();
    Ok(imported)
}

/// Turns training events into progress-bar updates and log lines.
fn event_printer<'a>(
    bar: &'a ProgressBar,
    ibar: &'a ProgressBar,
    quiet: bool,
    preset: &'a Preset,
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
            if let Some(fit) = preset.colour_recipe_for(report.is_colour(), report.median_side) {
                eprintln!(
                    "note: {} of {} images show colour, but preset {} trains {} px grey shots; for colour shots use --preset {fit}",
                    report.colour_images, report.imported, preset.name, preset.model.resolution
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
            eprintln!(
                "training on {train_images} images, batch {batch}, {steps_per_epoch} steps/epoch, steps {step}→{total_steps}"
            );
            bar.set_length(total_steps);
            bar.set_position(step);
            bar.reset_eta();
        }
        TrainEvent::Stepped { step, .. } => bar.set_position(step),
        TrainEvent::Metrics(m) => {
            let msg = format!(
                "D {:.3} G {:.3} D(x) {:.2} D(G(z)) {:.2} {:.0} img/s",
                m.d_loss, m.g_loss, m.d_real, m.d_fake, m.images_per_sec
            );
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
        TrainEvent::Preview { .. } | TrainEvent::Checkpoint { .. } => {}
    }
}

fn train(args: TrainArgs, quiet: bool) -> Result<()> {
    let mut preset = Preset::load(&args.preset).context("loading the preset")?;
    if let Some(epochs) = args.epochs {
        preset.train.epochs = epochs;
        preset.train.steps = None;
    }
    if let Some(steps) = args.steps {
        preset.train.steps = Some(steps);
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
        preset.model.d_dropout = p;
    }
    if let Some(patience) = args.patience {
        preset.train.patience = patience;
    }
    preset
        .validate()
        .context("checking the command-line overrides")?;
    let chosen = resolve_device(args.device)?;
    let options = RunOptions {
        data_dir: args.data.clone(),
        run_dir: args.out.clone(),
        preset,
        resume: args.resume,
    };
    let cancel = cancel_flag();
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
    let mut on_event = event_printer(&bar, &ibar, quiet, &options.preset);
    let progress = |p: ImportProgress| {
        ibar.set_length(p.total as u64);
        ibar.set_position(p.done as u64);
    };
    let summary = train_run(&options, &chosen.device, &cancel, &progress, &mut on_event)
        .with_context(|| format!("training into {}", args.out.display()))?;
    bar.finish_and_clear();
    if let Some(m) = &summary.last_metrics {
        println!(
            "step {}/{}: D loss {:.4}, G loss {:.4}, D(x) {:.3}, D(G(z)) {:.3}, {:.0} images/s",
            summary.step,
            summary.total_steps,
            m.d_loss,
            m.g_loss,
            m.d_real,
            m.d_fake,
            m.images_per_sec
        );
    }
    if let Some(best) = summary.best_swd {
        println!(
            "best held-out SWD {best:.2} (×10³), saved as {}",
            args.out.join(BEST).display()
        );
    }
    if summary.cancelled {
        println!("stopped at step {}; continue with --resume", summary.step);
    } else if summary.early_stopped {
        println!(
            "stopped early at step {}: held-out SWD did not improve for {} evaluations",
            summary.step, options.preset.train.patience
        );
    } else {
        println!("done: checkpoint {}", args.out.join(LATEST).display());
    }
    Ok(())
}

/// Writes the shots; returns the first `keep` of them as pictures, so a caller that shows
/// them (the demo's contact sheet) need not read the files back.
fn sample(args: &SampleArgs, keep: usize) -> Result<Vec<crate::export::Picture>> {
    if args.count == 0 {
        bail!("--count must be at least 1");
    }
    if !(args.truncation.is_finite() && args.truncation > 0.0 && args.truncation <= 2.0) {
        bail!("--truncation must be in (0, 2], got {}", args.truncation);
    }
    let ckpt_path = args
        .checkpoint
        .clone()
        .unwrap_or_else(|| args.run.join(LATEST));
    let checkpoint = Checkpoint::load(&ckpt_path).context("loading the run's checkpoint")?;
    let chosen = resolve_device(args.device)?;
    let sampler = Sampler::from_checkpoint_weights(&checkpoint, args.raw, &chosen.device)
        .context("building the generator")?;
    let class = match &args.class {
        Some(name) => Some(sampler.class_index(name).context("--class")?),
        None => None,
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let seeds: Vec<u64> = (0..args.count as u64)
        .map(|k| args.seed.wrapping_add(k))
        .collect();
    // The class goes into the name, so a folder of shots says what each one is.
    let prefix = class.map_or_else(String::new, |k| {
        format!(
            "{}-",
            crate::export::file_safe(&sampler.model.classes[k as usize])
        )
    });
    let names: Vec<PathBuf> = seeds
        .iter()
        .map(|s| args.out.join(format!("{prefix}seed-{s:08}.png")))
        .collect();
    if let Some(existing) = names.iter().find(|p| p.exists()) {
        bail!(
            "{} already exists; choose another --out or --seed (existing shots are never overwritten)",
            existing.display()
        );
    }
    let dim = sampler.model.latent_dim;
    let mut kept = Vec::new();
    for (chunk_seeds, chunk_names) in seeds.chunks(256).zip(names.chunks(256)) {
        let latents: Vec<Vec<f32>> = chunk_seeds
            .iter()
            .map(|&s| truncate(&latent_for_seed(s, dim), args.truncation))
            .collect();
        let classes: Vec<Option<u32>> =
            class.map_or_else(Vec::new, |k| vec![Some(k); latents.len()]);
        let pictures = sampler.render_classes(&latents, &classes)?;
        for (picture, path) in pictures.iter().zip(chunk_names) {
            save_png_atomic(picture, path)?;
        }
        let room = keep.saturating_sub(kept.len());
        kept.extend(pictures.into_iter().take(room));
    }
    println!(
        "wrote {} shots to {} (checkpoint {}, seeds {}..{})",
        args.count,
        args.out.display(),
        sampler.checkpoint_id,
        args.seed,
        args.seed.wrapping_add(args.count as u64 - 1)
    );
    Ok(kept)
}

fn import(args: &ImportArgs, quiet: bool) -> Result<()> {
    let preset = Preset::load(&args.preset).context("loading the preset")?;
    let options = ImportOptions {
        resolution: preset.model.resolution,
        channels: preset.model.channels,
        square: preset.data.square,
    };
    let (dataset, report) = import_with_progress(&args.data, options, quiet)?;
    print!("{report}");
    let split = crate::data::Split::new(&dataset, preset.data.split, preset.data.split_seed);
    println!(
        "Split (seed {}): train {}, validation {}, test {}",
        preset.data.split_seed,
        split.train.len(),
        split.validation.len(),
        split.test.len()
    );
    Ok(())
}

/// Training and sampling throughput on a synthetic set of the preset's size (no disk I/O).
/// `bench --quality`: a fixed training budget, then the held-out figures.
fn bench_quality(args: &BenchArgs, quiet: bool) -> Result<()> {
    let data = args.data.clone().context("--quality needs --data DIR")?;
    let name = Path::new(&args.preset)
        .file_stem()
        .map_or_else(|| args.preset.clone(), |s| s.to_string_lossy().into_owned());
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("bench-quality-{name}-{}", args.steps)));
    let started = Instant::now();
    train(
        TrainArgs {
            data: data.clone(),
            preset: args.preset.clone(),
            out: out.clone(),
            epochs: None,
            steps: Some(args.steps),
            batch: None,
            seed: None,
            device: args.device,
            resume: false,
            ..TrainArgs::default()
        },
        quiet,
    )?;
    // Ctrl-C stops early with a checkpoint: report the steps actually trained.
    let trained = Checkpoint::peek_state(&out.join(LATEST)).map_or(0, |s| s.step);
    println!(
        "bench --quality: preset {} trained {trained} of {} steps on {} in {:.0} s",
        args.preset,
        args.steps,
        data.display(),
        started.elapsed().as_secs_f64()
    );
    eval(
        &EvalArgs {
            run: out,
            data: Some(data),
            against: args.against.clone(),
            device: args.device,
            class_shots: 500,
            raw: false,
        },
        quiet,
    )
}

fn bench(args: &BenchArgs) -> Result<()> {
    let mut preset = Preset::load(&args.preset).context("loading the preset")?;
    // Conditional presets: two synthetic classes, so the class layers are timed too.
    let class_names: Vec<String> = if preset.model.conditional {
        vec!["bench-a".into(), "bench-b".into()]
    } else {
        vec!["bench".into()]
    };
    if preset.model.conditional {
        preset.model.classes.clone_from(&class_names);
    }
    let chosen = resolve_device(args.device)?;
    let (c, r) = (preset.model.channels, preset.model.resolution);
    let n = preset.train.batch * 8;
    let mut rng = crate::rng::Rng::new(7);
    let pixels: Vec<u8> = (0..n * c * r * r)
        .map(|_| (rng.next_u64() & 0xff) as u8)
        .collect();
    let dataset = crate::data::Dataset {
        resolution: r,
        channels: c,
        pixels,
        labels: (0..n).map(|i| (i % class_names.len()) as u32).collect(),
        class_names,
        sources: vec![PathBuf::new(); n],
        content_hashes: (0..n).map(|i| [i as u8; 32]).collect(),
    };
    let mut session = GanSession::new(
        preset.clone(),
        Arc::new(dataset),
        (0..n).collect(),
        &chosen.device,
    )?;
    let warmup = 5;
    let t0 = Instant::now();
    for _ in 0..warmup {
        session.step()?;
    }
    session.take_metrics()?;
    let warm_secs = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    for _ in 0..args.steps {
        session.step()?;
    }
    session.take_metrics()?; // a device sync: everything queued has run
    let train_secs = t1.elapsed().as_secs_f64();
    let train_ips = (args.steps as usize * session.batch()) as f64 / train_secs;

    let sampler = session.sampler(&chosen.device)?;
    let latents: Vec<Vec<f32>> = (0..256)
        .map(|s| latent_for_seed(s, preset.model.latent_dim))
        .collect();
    sampler.render(&latents[..64])?;
    let t2 = Instant::now();
    let rounds = 4;
    for _ in 0..rounds {
        sampler.render(&latents)?;
    }
    let sample_ips = (rounds * latents.len()) as f64 / t2.elapsed().as_secs_f64();
    println!("preset {} on {}", preset.name, chosen.description);
    println!("warm-up: {warmup} steps in {warm_secs:.2} s");
    println!(
        "training: {train_ips:.1} images/s ({} steps of batch {} in {train_secs:.2} s; one step = D on real+fake, G, EMA)",
        args.steps,
        session.batch()
    );
    println!(
        "sampling: {sample_ips:.1} images/s (EMA generator, batches of 64, PNG encoding excluded)"
    );
    Ok(())
}

/// Held-out SWD and memorisation of the latest and best checkpoints, with a real-vs-real
/// reference (training images against the same held-out images) to read them against.
fn eval(args: &EvalArgs, quiet: bool) -> Result<()> {
    let data_dir = if let Some(d) = &args.data {
        d.clone()
    } else {
        let path = args.run.join(RUN_INFO);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {} (or pass --data)", path.display()))?;
        let info: RunInfo =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        info.data_dir
    };
    let latest =
        Checkpoint::load(&args.run.join(LATEST)).context("loading the run's checkpoint")?;
    let preset = Preset::from_toml("checkpoint", &latest.preset_toml)?;
    let options = ImportOptions {
        resolution: preset.model.resolution,
        channels: preset.model.channels,
        square: preset.data.square,
    };
    let (dataset, _) = import_with_progress(&data_dir, options, quiet)?;
    let mut dataset = dataset;
    let classes = &preset.model.classes;
    if preset.model.class_count() > 0 {
        dataset
            .relabel_to(classes)
            .map_err(|unknown| class_mismatch(classes, &unknown))?;
    }
    let mut split = crate::data::Split::new(&dataset, preset.data.split, preset.data.split_seed);
    if let Some(against) = &args.against {
        append_outside(&mut dataset, &mut split, against, options, &preset.model)?;
    }
    let held = crate::train::held_out(&split);
    if held.is_empty() {
        bail!(
            "the split holds no held-out image; use a larger folder or a larger validation ratio"
        );
    }
    let chosen = resolve_device(args.device)?;
    let conditional = preset.model.class_count() > 0;
    let judge_features = judge_gives_features(&dataset);
    let wants_judge = (conditional && args.class_shots > 0) || judge_features;
    let reference_idx = reference_images(&split.train, held.len(), wants_judge);
    let train_refs: Vec<&[u8]> = reference_idx.iter().map(|&i| dataset.image(i)).collect();
    let held_refs: Vec<&[u8]> = held.iter().map(|&i| dataset.image(i)).collect();
    let reference = crate::quality::swd(
        &train_refs,
        &held_refs,
        dataset.channels,
        dataset.resolution,
        &crate::quality::SwdConfig::default(),
    );
    println!(
        "held-out images: {} ({} classes); real-vs-real SWD ×10³ {:.2}",
        held.len(),
        dataset.class_names.len(),
        reference.mean
    );
    let mut checkpoints = vec![("latest", latest)];
    // The best checkpoint of the latest step holds the same weights: scored once.
    match Checkpoint::load(&args.run.join(BEST)) {
        Ok(best) if best.state.step == checkpoints[0].1.state.step => {
            println!("best = latest (step {})", best.state.step);
        }
        Ok(best) => checkpoints.push(("best", best)),
        Err(_) => {}
    }
    let judge = wants_judge
        .then(|| train_class_judge(&dataset, &split, &reference_idx, &chosen.device))
        .flatten();
    let cache = match &judge {
        Some(judge) if judge_features => {
            crate::train::EvalCache::with_feature_judge(judge.feature_judge())
        }
        _ => crate::train::EvalCache::new(),
    };
    let feature_reference = std::cell::OnceCell::new();
    for (name, checkpoint) in checkpoints {
        let sampler = Sampler::from_checkpoint_weights(&checkpoint, args.raw, &chosen.device)?;
        let q = evaluate(&sampler, &dataset, &split, checkpoint.state.step, &cache)?
            .context("no held-out images to evaluate against")?;
        print_quality(name, &q, || {
            *feature_reference.get_or_init(|| cache.feature_distance_to(&train_refs))
        });
        if let Some(judge) = judge
            .as_ref()
            .filter(|_| conditional && args.class_shots > 0)
        {
            let held = crate::train::held_out(&split);
            match judge.score(&sampler, &dataset, held, args.class_shots) {
                Ok(scores) => print_class_fidelity(&scores),
                Err(e) => eprintln!("class fidelity failed: {e}"),
            }
        }
    }
    Ok(())
}

/// The training images of the real-vs-real reference: as many as the held-out images the
/// evaluation scores (it caps them), so the reference has the shots' sample-size bias; at
/// most half the training images when a class judge trains on the others. Spread over the
/// training list: imports keep each class together.
fn reference_images(train: &[usize], held_out: usize, judge_trains_on_rest: bool) -> Vec<usize> {
    let available = if judge_trains_on_rest {
        train.len().div_ceil(2)
    } else {
        train.len()
    };
    let n = held_out.min(available).min(crate::train::MAX_EVAL_IMAGES);
    (0..n).map(|k| train[k * train.len() / n]).collect()
}

/// Whether `eval` measures in a class judge's features (feature distance, data copying):
/// where the shipped network cannot read the data (colour, 64 px) and there are classes to
/// learn. `eval` then trains the judge itself and hands it to the evaluation, which would
/// otherwise train a second one.
fn judge_gives_features(dataset: &crate::data::Dataset) -> bool {
    !crate::train::FeatureJudge::shipped_applies_to(dataset.channels, dataset.resolution)
        && dataset.class_names.len() >= 2
}

/// A classifier trained on the run's training images, except the real-vs-real reference
/// ones, so that reference compares two sets it never trained on. It judges conditional
/// models' classes and, where [`judge_gives_features`], gives the feature distance. Prints
/// its held-out accuracy; a failure is reported and leaves it out.
fn train_class_judge(
    dataset: &crate::data::Dataset,
    split: &crate::data::Split,
    reference: &[usize],
    device: &burn::tensor::Device,
) -> Option<crate::train::ClassJudge> {
    let reference: std::collections::HashSet<usize> = reference.iter().copied().collect();
    let judge_train: Vec<usize> = split
        .train
        .iter()
        .copied()
        .filter(|i| !reference.contains(i))
        .collect();
    let judge = crate::train::ClassJudge::train(dataset, &judge_train, device)
        .map_err(|e| eprintln!("class judge skipped: {e}"))
        .ok()?;
    match judge.accuracy(dataset, crate::train::held_out(split)) {
        Ok(a) => println!(
            "class judge (trained on {} training images): {:.1} % of held-out images in their own class",
            judge_train.len(),
            100.0 * a
        ),
        Err(e) => eprintln!("class judge accuracy failed: {e}"),
    }
    Some(judge)
}

/// One checkpoint's figures; `reference` gives the real-vs-real feature distance (computed
/// once, only when the record has a feature distance to read against it).
fn print_quality(
    name: &str,
    q: &crate::quality::QualityRecord,
    reference: impl FnOnce() -> Option<f64>,
) {
    let levels: Vec<String> = q
        .swd_levels
        .iter()
        .map(|(side, v)| format!("{side}px {v:.2}"))
        .collect();
    println!(
        "{name:<6} step {:>7}: SWD ×10³ {:.2} [{}], near-copies {:.1} %",
        q.step,
        q.swd,
        levels.join(", "),
        100.0 * q.near_copy_fraction
    );
    if let Some(fd) = q.feature_fd {
        let reference = reference().map_or(String::new(), |r| format!("; real-vs-real {r:.2}"));
        println!(
            "{:<6} feature FD ({}) {fd:.2}{reference}",
            "",
            q.feature_judge
                .as_deref()
                .unwrap_or(crate::train::SHIPPED_FEATURE_JUDGE)
        );
    }
    if let Some(c) = q.copying {
        let space = q
            .copying_space
            .as_ref()
            .map_or_else(|| "pixels".to_string(), |net| format!("{net} features"));
        println!(
            "{:<6} data copying ({space}): shots nearer the training set than held-out photos in {:.1} % of pairs (50 % = none; z {:.1})",
            "",
            100.0 * c.closer,
            c.z
        );
    }
    if let Some(v) = q.variety {
        let caveat = if v < crate::quality::LOW_VARIETY {
            ": shots far more alike than real photos (early training or mode collapse), so the copying share means little"
        } else {
            ""
        };
        println!(
            "{:<6} variety (shots' spread / held-out photos'): {v:.2} (1 = as varied as new photos){caveat}",
            ""
        );
    }
}

/// Appends the images of `against` as the validation split (training images stay as they
/// are): scoring against a folder the run never saw.
fn append_outside(
    dataset: &mut crate::data::Dataset,
    split: &mut crate::data::Split,
    against: &Path,
    options: ImportOptions,
    model: &crate::preset::ModelPreset,
) -> Result<()> {
    let (mut outside, _) = import_folder(against, options, &|_| {})
        .with_context(|| format!("importing {}", against.display()))?;
    // A conditional model is scored per class: the outside folders must be its classes.
    if model.class_count() > 0 {
        outside
            .relabel_to(&model.classes)
            .map_err(|unknown| class_mismatch(&model.classes, &unknown))?;
    }
    let offset = dataset.len();
    dataset.pixels.extend_from_slice(&outside.pixels);
    dataset.labels.extend(&outside.labels);
    dataset.sources.extend(outside.sources.iter().cloned());
    dataset
        .content_hashes
        .extend(outside.content_hashes.iter().copied());
    split.validation = (offset..offset + outside.len()).collect();
    split.test.clear();
    Ok(())
}

/// The error for data folders a conditional model has no class for.
fn class_mismatch(classes: &[String], unknown: &[String]) -> anyhow::Error {
    anyhow::anyhow!(
        "this conditional model knows the classes [{}]; the folders [{}] are none of them (score against sub-folders named like its classes)",
        classes.join(", "),
        unknown.join(", ")
    )
}

/// The class-fidelity table of a conditional model (see `train::ClassJudge`).
fn print_class_fidelity(scores: &[crate::train::ClassScore]) {
    println!("  class fidelity (classifier trained on the training images only):");
    for s in scores {
        println!(
            "    {:<16} real held-out {:5.1} % of {:>5}   shots {:5.1} % of {:>5}   ratio {:.2}",
            s.class,
            100.0 * s.real_accuracy,
            s.real_images,
            100.0 * s.shot_accuracy,
            s.shots,
            s.ratio()
        );
    }
}

fn generator(args: &GeneratorArgs) -> Result<()> {
    let checkpoint = Checkpoint::load(&args.checkpoint)?;
    if args.out.exists() {
        bail!("{} exists; choose another --out", args.out.display());
    }
    let generator = if args.base {
        checkpoint.base_model()
    } else {
        checkpoint.generator_only()
    };
    generator.save(&args.out)?;
    println!(
        "wrote {} {} (step {}, {} bytes) to {}",
        if args.base { "base model" } else { "generator" },
        generator.id(),
        generator.state.step,
        generator.to_bytes().len(),
        args.out.display()
    );
    Ok(())
}

fn feature_net(args: &FeatureNetArgs, quiet: bool) -> Result<()> {
    use crate::train::FeatureJudge;
    let options = ImportOptions {
        resolution: crate::train::FEATURE_RESOLUTION,
        channels: crate::train::FEATURE_CHANNELS,
        square: crate::preset::SquareMode::Pad,
    };
    let (dataset, _) = import_with_progress(&args.data, options, quiet)?;
    let chosen = resolve_device(args.device)?;
    let started = Instant::now();
    let (judge, accuracy) = FeatureJudge::train(&dataset, &chosen.device)?;
    let bytes = judge.to_bytes()?;
    crate::fsutil::write_atomic(&args.out, &bytes)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "trained on {} images in {:.0} s; accuracy on the tenth kept out: {:.1} %; wrote {} bytes to {}",
        dataset.len() - dataset.len().div_ceil(10),
        started.elapsed().as_secs_f64(),
        100.0 * accuracy,
        bytes.len(),
        args.out.display()
    );
    Ok(())
}

fn demo(args: &DemoArgs, quiet: bool) -> Result<()> {
    let data = args.out.join("demo-shirts");
    if !data.exists() {
        eprintln!(
            "drawing {} demo T-shirts into {}",
            crate::demo::DEMO_SET_SIZE,
            data.display()
        );
        crate::demo::write_demo_set(&data, crate::demo::DEMO_SET_SIZE)?;
    }
    let run_dir = args.out.join("run");
    let resume = run_dir.join(LATEST).exists();
    let mut preset = Preset::load("demo-28")?;
    preset.train.steps = Some(args.steps);
    train(
        TrainArgs {
            data,
            preset: write_temp_preset(&args.out, &preset)?,
            out: run_dir.clone(),
            epochs: None,
            steps: Some(args.steps),
            batch: None,
            seed: None,
            device: args.device,
            resume,
            ..TrainArgs::default()
        },
        quiet,
    )?;
    let samples = args.out.join(format!("samples-{}", unique_suffix()));
    let pictures = sample(
        &SampleArgs {
            run: run_dir,
            count: 64,
            out: samples.clone(),
            seed: 0,
            truncation: 1.0,
            class: None,
            checkpoint: None,
            raw: false,
            device: args.device,
        },
        64,
    )?;
    let sheet = samples.join("contact-sheet.png");
    save_png_atomic(&grid(&pictures, 8), &sheet)?;
    println!("demo contact sheet: {}", sheet.display());
    Ok(())
}

fn write_temp_preset(dir: &Path, preset: &Preset) -> Result<String> {
    let path = dir.join("demo-preset.toml");
    crate::fsutil::write_atomic(&path, preset.to_toml().as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path.display().to_string())
}

fn unique_suffix() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    format!("{secs}")
}
