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
use indicatif::{ProgressBar, ProgressStyle};

use crate::data::{ImportOptions, import_folder};
use crate::device::{self, ChosenDevice, DeviceChoice};
use crate::export::{grid, save_png_atomic};
use crate::latent::{latent_for_seed, truncate};
use crate::preset::Preset;
use crate::sample::Sampler;
use crate::train::{Checkpoint, LATEST};

mod args;
mod bench;
mod complete;
mod eval;
mod invert;
mod serve;
mod train;
mod upscale;

pub use args::{
    BenchArgs, Cli, Command, DemoArgs, EvalArgs, FeatureNetArgs, GeneratorArgs, ImportArgs,
    InvertArgs, SampleArgs, TrainArgs,
};
use bench::{bench, bench_quality};
use eval::eval;
use train::train;
use upscale::{eval_upscaler, train_upscaler, upscale};

/// `atelier bench-ui`: the frame bench, its figures printed as JSON.
fn bench_ui(args: &crate::studio::FrameBenchArgs) -> Result<()> {
    let report = crate::studio::bench_frames(args)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Some(Command::Train(args)) => train(args, cli.quiet),
        Some(Command::Sample(args)) => sample(&args, 0).map(drop),
        Some(Command::Import(args)) => import(&args, cli.quiet),
        Some(Command::Bench(args)) if args.quality => bench_quality(&args, cli.quiet),
        Some(Command::Bench(args)) => bench(&args),
        Some(Command::BenchUi(args)) => bench_ui(&args),
        Some(Command::Demo(args)) => demo(&args, cli.quiet),
        Some(Command::Eval(args)) => eval(&args, cli.quiet),
        Some(Command::Invert(args)) => invert::invert(&args),
        Some(Command::Complete(args)) => complete::complete(&args),
        Some(Command::Studio(args)) => crate::studio::run(args),
        Some(Command::Generator(args)) => generator(&args),
        Some(Command::FeatureNet(args)) => feature_net(&args, cli.quiet),
        Some(Command::TrainUpscaler(args)) => train_upscaler(&args, cli.quiet),
        Some(Command::Upscale(args)) => upscale(&args),
        Some(Command::EvalUpscaler(args)) => eval_upscaler(&args),
        Some(Command::Serve(args)) => serve::serve(&args),
        Some(Command::CheckServer(args)) => serve::check_server(&args),
        None => crate::studio::run(crate::studio::StudioArgs::default()),
    }
}

fn resolve_device(choice: DeviceChoice) -> Result<ChosenDevice> {
    if choice == DeviceChoice::Remote {
        bail!("--device remote is for `train` and `bench`: this command runs on this machine");
    }
    let chosen = device::resolve(choice).with_context(|| format!("selecting --device {choice}"))?;
    eprintln!("device: {}", chosen.description);
    Ok(chosen)
}

/// The device for `train` and `bench`: `--device remote` connects to `remote.host`.
fn resolve_training_device(
    choice: DeviceChoice,
    remote: &args::RemoteArgs,
) -> Result<ChosenDevice> {
    if choice != DeviceChoice::Remote {
        if remote.host.is_some() {
            bail!("--host is for --device remote");
        }
        return resolve_device(choice);
    }
    let (Some(host), Some(token_file)) = (&remote.host, &remote.token_file) else {
        return Err(device::DeviceError::NoRemoteHost.into());
    };
    let target = device::RemoteTarget {
        host: host.parse()?,
        token: crate::remote::read_token(token_file)?,
    };
    let chosen = device::resolve_with(choice, Some(&target))
        .with_context(|| format!("connecting --device remote --host {host}"))?;
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
    // On one compute thread throughout, as training runs (see `on_compute_pool`).
    crate::device::on_compute_pool(&chosen.device, || {
        render_shots(args, keep, &checkpoint, &chosen)
    })
}

/// `sample`'s work once the checkpoint is read and the device chosen.
fn render_shots(
    args: &SampleArgs,
    keep: usize,
    checkpoint: &Checkpoint,
    chosen: &ChosenDevice,
) -> Result<Vec<crate::export::Picture>> {
    let sampler = Sampler::from_checkpoint_weights(checkpoint, args.raw, &chosen.device)
        .context("building the generator")?;
    let class = match &args.class {
        Some(name) => Some(sampler.class_index(name).context("--class")?),
        None => None,
    };
    // The class goes into the name, so a folder of shots says what each one is.
    let prefix = class.map_or_else(String::new, |k| {
        format!(
            "{}-",
            crate::export::file_safe(&sampler.model.classes()[k as usize])
        )
    });
    let last_seed = args.seed.wrapping_add(args.count as u64 - 1);
    // Refuse before writing anything, by one pass over the folder, not by listing every name
    // first: memory stays flat however many shots are asked for.
    if let Some(existing) = existing_shot(&args.out, &prefix, args.seed, last_seed)? {
        bail!(
            "{} already exists; choose another --out or --seed (existing shots are never overwritten)",
            existing.display()
        );
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let dim = sampler.model.latent_dim();
    let enlarger = args
        .size
        .map(|side| upscale::Enlarger::for_run(&args.run, side, args.smooth, &chosen.device))
        .transpose()?;
    let mut kept = Vec::new();
    let mut first = 0usize;
    while first < args.count {
        let n = (args.count - first).min(256);
        let seeds: Vec<u64> = (first..first + n)
            .map(|k| args.seed.wrapping_add(k as u64))
            .collect();
        let latents: Vec<Vec<f32>> = seeds
            .iter()
            .map(|&s| truncate(&latent_for_seed(s, dim), args.truncation))
            .collect();
        let classes: Vec<Option<u32>> =
            class.map_or_else(Vec::new, |k| vec![Some(k); latents.len()]);
        let pictures = sampler.render_classes(&latents, &classes)?;
        for (picture, seed) in pictures.iter().zip(&seeds) {
            let path = args.out.join(shot_name(&prefix, *seed));
            match &enlarger {
                Some(e) => save_png_atomic(&e.enlarge(picture)?, &path)?,
                None => save_png_atomic(picture, &path)?,
            }
        }
        let room = keep.saturating_sub(kept.len());
        kept.extend(pictures.into_iter().take(room));
        first += n;
    }
    println!(
        "wrote {} shots to {} (checkpoint {}, seeds {}..{})",
        args.count,
        args.out.display(),
        sampler.checkpoint_id,
        args.seed,
        last_seed
    );
    Ok(kept)
}

/// The file name of the shot drawn from `seed`.
fn shot_name(prefix: &str, seed: u64) -> String {
    format!("{prefix}seed-{seed:08}.png")
}

/// A shot of `out` that a sample of seeds `first..=last` would overwrite (the range may wrap).
fn existing_shot(out: &Path, prefix: &str, first: u64, last: u64) -> Result<Option<PathBuf>> {
    let entries = match std::fs::read_dir(out) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", out.display())),
    };
    let head = format!("{prefix}seed-");
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(seed) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&head))
            .and_then(|n| n.strip_suffix(".png"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        let inside = if first <= last {
            (first..=last).contains(&seed)
        } else {
            seed >= first || seed <= last
        };
        // Only the exact name this sample would write counts (`seed-7.png` is not ours).
        if inside && shot_name(prefix, seed) == name.to_string_lossy() {
            return Ok(Some(entry.path()));
        }
    }
    Ok(None)
}

fn import(args: &ImportArgs, quiet: bool) -> Result<()> {
    let preset = Preset::load(&args.preset).context("loading the preset")?;
    let options = ImportOptions {
        resolution: preset.model.resolution(),
        channels: preset.model.channels(),
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

fn generator(args: &GeneratorArgs) -> Result<()> {
    let checkpoint = Checkpoint::load(&args.checkpoint)?;
    if args.out.exists() {
        bail!("{} exists; choose another --out", args.out.display());
    }
    // An upscaler's shareable part is its network, without the optimiser.
    if let Ok(upscaler) = crate::upscale::UpscalerFile::load(&args.checkpoint) {
        let finished = upscaler.finished();
        finished.save(&args.out)?;
        println!(
            "wrote upscaler {} (step {}, {} bytes) to {}",
            finished.id(),
            finished.checkpoint.state.step,
            finished.checkpoint.to_bytes().len(),
            args.out.display()
        );
        return Ok(());
    }
    let generator = if args.base {
        crate::sample::base_model_file(&checkpoint)?
    } else {
        crate::sample::generator_file(&checkpoint)?
    };
    generator.save(&args.out)?;
    println!(
        "wrote {} {} (step {}, {} bytes) to {}",
        if args.base { "base model" } else { "generator" },
        crate::sample::generator_id(&generator)?,
        generator.state.step,
        generator.to_bytes().len(),
        args.out.display()
    );
    Ok(())
}

fn feature_net(args: &FeatureNetArgs, quiet: bool) -> Result<()> {
    use crate::quality::FeatureJudge;
    let options = ImportOptions {
        resolution: crate::quality::FEATURE_RESOLUTION,
        channels: crate::quality::FEATURE_CHANNELS,
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
    // The demo's folder is new, empty or an earlier demo's: it never writes among a user's files.
    let _lock = crate::folder_lock::claim(&args.out, &["demo-shirts", "run"], "demo")?;
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
            size: None,
            smooth: false,
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
