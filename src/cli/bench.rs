//! `atelier bench`: throughput, and `--quality`: train for a fixed budget, then score.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};

use super::args::{BenchArgs, EvalArgs, TrainArgs};
use super::{eval, resolve_device, train};
use crate::latent::latent_for_seed;
use crate::preset::Preset;
use crate::train::{Checkpoint, LATEST, TrainSession};

/// Training and sampling throughput on a synthetic set of the preset's size (no disk I/O).
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

pub(super) fn bench(args: &BenchArgs) -> Result<()> {
    let mut preset = Preset::load(&args.preset).context("loading the preset")?;
    // Conditional presets: two synthetic classes, so the class layers are timed too.
    let class_names: Vec<String> = if preset.model.conditional() {
        vec!["bench-a".into(), "bench-b".into()]
    } else {
        vec!["bench".into()]
    };
    if preset.model.conditional() {
        preset.model.set_classes(class_names.clone());
    }
    let chosen = resolve_device(args.device)?;
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
    let mut session = TrainSession::new(
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
        .map(|s| latent_for_seed(s, preset.model.latent_dim()))
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
