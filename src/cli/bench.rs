//! `atelier bench`: throughput, and `--quality`: train for a fixed budget, then score.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};

use super::args::{BenchArgs, EvalArgs, TrainArgs};
use super::{eval, resolve_training_device, train};
use crate::device::{ChosenDevice, on_compute_pool};
use crate::latent::latent_for_seed;
use crate::preset::Preset;
use crate::train::{Checkpoint, LATEST, TrainSession};

/// Shots per sampling batch in `bench`.
const SAMPLE_BATCH: usize = 256;
/// Single-shot renders timed for the latency figure.
const SINGLE_RENDERS: usize = 7;

/// `bench --quality`: a fixed training budget, then the held-out figures.
pub(super) fn bench_quality(args: &BenchArgs, quiet: bool) -> Result<()> {
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
            truncation: 1.0,
        },
        quiet,
    )
}

/// Training and sampling throughput on a synthetic set of the preset's size (no disk I/O).
pub(super) fn bench(args: &BenchArgs) -> Result<()> {
    let mut preset = Preset::load(&args.preset).context("loading the preset")?;
    if let Some(batch) = args.batch {
        anyhow::ensure!(batch >= 2, "--batch must be at least 2, not {batch}");
        preset.train.batch = batch;
    }
    // Conditional presets: two synthetic classes, so the class layers are timed too.
    let class_names: Vec<String> = if preset.model.conditional() {
        vec!["bench-a".into(), "bench-b".into()]
    } else {
        vec!["bench".into()]
    };
    if preset.model.conditional() {
        preset.model.set_classes(class_names.clone());
    }
    let chosen = resolve_training_device(args.device, &args.remote)?;
    let (c, r) = (preset.model.channels(), preset.model.resolution());
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
    // As `atelier train` runs: on one compute thread throughout (see `on_compute_pool`).
    on_compute_pool(&chosen.device, || measure(args, &preset, &chosen, dataset))
}

/// Times `args.steps` training steps after a warm-up, then sampling, and prints the figures.
fn measure(
    args: &BenchArgs,
    preset: &Preset,
    chosen: &ChosenDevice,
    dataset: crate::data::Dataset,
) -> Result<()> {
    let (r, n) = (dataset.resolution, dataset.labels.len());
    let mut session = TrainSession::new(
        preset.clone(),
        Arc::new(dataset),
        (0..n).collect(),
        &chosen.device,
    )?;
    let warmup = args.warmup;
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
    let latents: Vec<Vec<f32>> = (0..SAMPLE_BATCH)
        .map(|s| latent_for_seed(s as u64, preset.model.latent_dim()))
        .collect();
    sampler.render(&latents)?; // untimed: the batch's kernels compile and tune here
    let t2 = Instant::now();
    for _ in 0..args.sample_rounds {
        sampler.render(&latents)?;
    }
    let sample_ips =
        (args.sample_rounds * latents.len()) as f64 / t2.elapsed().as_secs_f64().max(1e-9);
    // One shot, as a slider move asks for it: the median of a few, pictures read back.
    let mut one_ms: Vec<f32> = (0..SINGLE_RENDERS)
        .map(|_| {
            let t = Instant::now();
            sampler
                .render(&latents[..1])
                .map(|_| t.elapsed().as_secs_f32() * 1000.0)
        })
        .collect::<Result<_, _>>()?;
    one_ms.sort_by(f32::total_cmp);
    let one_ms = one_ms[one_ms.len() / 2];
    if args.json {
        let figures = serde_json::json!({
            "preset": preset.name,
            "resolution": r,
            "device": chosen.description,
            "batch": session.batch(),
            "warmup_steps": warmup,
            "warmup_s": warm_secs,
            "steps": args.steps,
            "train_s": train_secs,
            "train_images_per_s": train_ips,
            "sample_images_per_s": sample_ips,
            "render_one_ms": one_ms,
        });
        println!("{figures}");
        return Ok(());
    }
    println!("preset {} on {}", preset.name, chosen.description);
    println!("warm-up: {warmup} steps in {warm_secs:.2} s");
    println!(
        "training: {train_ips:.1} images/s ({} steps of batch {} in {train_secs:.2} s; one step = D on real+fake, G, EMA)",
        args.steps,
        session.batch()
    );
    println!(
        "sampling: {sample_ips:.1} images/s (EMA generator, batches of {SAMPLE_BATCH}, PNG encoding excluded)"
    );
    println!("one shot: {one_ms:.1} ms ({r} px, read back; median of {SINGLE_RENDERS})");
    Ok(())
}
