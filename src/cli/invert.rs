//! `atelier invert`: real photos brought into a run's generator, with the figures that say how
//! close they came (against the nearest of many random shots, the baseline).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, bail};

use super::args::InvertArgs;
use super::resolve_device;
use crate::checkpoint::{Checkpoint, LATEST};
use crate::data::ImportOptions;
use crate::export::{Picture, ShotMeta, encode_png_with_meta, grid, save_png_atomic};
use crate::invert::{InvertOptions, Inverter, pixel_l1};
use crate::latent::{ENCODER_SEED, LatentEncoder, latent_for_seed, teach_encoder};
use crate::preset::Preset;

/// Baseline shots rendered per batch.
const BASELINE_BATCH: usize = 256;

pub(super) fn invert(args: &InvertArgs) -> Result<()> {
    let photos = photos(args)?;
    let path = args.run.join(LATEST);
    let checkpoint =
        Checkpoint::load(&path).with_context(|| format!("loading {}", path.display()))?;
    let preset = Preset::from_toml("checkpoint", &checkpoint.preset_toml)?;
    let chosen = resolve_device(args.device)?;
    let mut inverter =
        Inverter::new(&checkpoint, &chosen.device).context("loading the generator")?;
    if args.encoder_steps > 0 {
        let encoder = run_encoder(&args.run, &inverter, args.encoder_steps)?;
        inverter.set_encoder(encoder);
    }
    if !inverter.has_critic() {
        eprintln!("invert: the checkpoint keeps no discriminator; matching pixels only");
    }
    let model = &inverter.sampler().model;
    let import = ImportOptions {
        resolution: model.resolution(),
        channels: model.channels(),
        square: preset.data.square,
    };
    let baseline = baseline_shots(&inverter, args.baseline_seeds)?;
    let options = InvertOptions {
        seeds: args.seeds,
        restarts: args.restarts,
        steps: args.steps,
        learning_rate: args.lr,
        feature_weight: args.feature_weight,
        ..InvertOptions::default()
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let never = AtomicBool::new(false);
    let (mut sums, mut rows) = ([0f64; 3], Vec::new());
    for photo_path in &photos {
        let pixels = crate::data::read_for_model(photo_path, import)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", photo_path.display()))?;
        let photo = Picture::from_chw_u8(&pixels, import.channels, import.resolution);
        let result = inverter.invert(&pixels, &options, &never, |_| {})?;
        let nearest = baseline
            .iter()
            .map(|b| (pixel_l1(b, &photo), b))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        let name = photo_path
            .file_stem()
            .map_or_else(|| "photo".into(), |s| s.to_string_lossy().into_owned());
        let class = result
            .class
            .and_then(|k| inverter.sampler().model.classes().get(k as usize).cloned());
        write_projection(
            &args.out,
            &name,
            &result.picture,
            (&result.latent, class.clone()),
            model_id(&inverter),
        )?;
        save_png_atomic(&photo, &args.out.join(format!("{name}-photo.png")))?;
        let baseline_l1 = nearest.map(|n| n.0);
        println!(
            "{}",
            serde_json::json!({
                "photo": photo_path.display().to_string(),
                "pixel_l1": result.pixel_l1,
                "best_seed_l1": result.start_l1,
                "nearest_of_baseline_l1": baseline_l1,
                "seconds": result.seconds,
                "class": class,
                "encoder_l1": result.encoder_l1,
            })
        );
        sums[0] += f64::from(result.pixel_l1);
        sums[1] += baseline_l1.map_or(0.0, f64::from);
        sums[2] += result.seconds;
        rows.push(photo);
        rows.push(result.picture);
        if let Some((_, b)) = nearest {
            rows.push(b.clone());
        }
    }
    let n = photos.len() as f64;
    let columns = if baseline.is_empty() { 2 } else { 3 };
    save_png_atomic(&grid(&rows, columns * 2), &args.out.join("pairs.png"))?;
    println!(
        "{}",
        serde_json::json!({
            "photos": photos.len(),
            "mean_pixel_l1": sums[0] / n,
            "mean_nearest_of_baseline_l1": (!baseline.is_empty()).then(|| sums[1] / n),
            "baseline_seeds": args.baseline_seeds,
            "mean_seconds": sums[2] / n,
            "feature_loss": inverter.has_critic(),
        })
    );
    Ok(())
}

fn model_id(inverter: &Inverter) -> String {
    inverter.sampler().checkpoint_id.clone()
}

/// The photos asked for: one file, or the first `limit` of a folder (sorted, recursive).
fn photos(args: &InvertArgs) -> Result<Vec<PathBuf>> {
    match (&args.image, &args.images) {
        (Some(one), None) => Ok(vec![one.clone()]),
        (None, Some(dir)) => {
            let mut all = crate::data::image_files(dir)?;
            all.sort();
            all.truncate(args.limit);
            if all.is_empty() {
                bail!("{} holds no images", dir.display());
            }
            Ok(all)
        }
        _ => bail!("give --image FILE or --images DIR"),
    }
}

/// The generator's encoder, taught for `steps` steps the first time and kept in
/// `RUN/encoders/<generator id>-<steps>.encoder` after that.
fn run_encoder(run: &Path, inverter: &Inverter, steps: usize) -> Result<LatentEncoder> {
    let sampler = inverter.sampler();
    let path = run
        .join("encoders")
        .join(format!("{}-{steps}.encoder", sampler.checkpoint_id));
    if let Ok(bytes) = std::fs::read(&path)
        && let Ok(encoder) = LatentEncoder::from_bytes(sampler, &bytes)
    {
        return Ok(encoder);
    }
    let started = std::time::Instant::now();
    let encoder = teach_encoder(sampler, steps, ENCODER_SEED).context("teaching the encoder")?;
    eprintln!(
        "invert: taught the generator's encoder ({steps} steps, {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    std::fs::create_dir_all(path.parent().unwrap_or(run))
        .with_context(|| format!("creating {}", run.join("encoders").display()))?;
    let bytes = encoder.to_bytes().map_err(anyhow::Error::msg)?;
    crate::fsutil::write_atomic(&path, &bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(encoder)
}

/// `count` random shots, rendered once, to find the nearest generated shot of each photo.
fn baseline_shots(inverter: &Inverter, count: usize) -> Result<Vec<Picture>> {
    let dim = inverter.sampler().model.latent_dim();
    let mut shots = Vec::with_capacity(count);
    for start in (0..count).step_by(BASELINE_BATCH) {
        let seeds = start..(start + BASELINE_BATCH).min(count);
        let latents: Vec<Vec<f32>> = seeds
            .clone()
            .map(|s| latent_for_seed(s as u64, dim))
            .collect();
        // A conditional model's random shots go through its classes in turn.
        let classes: Vec<Option<u32>> = match inverter.sampler().model.class_count() {
            0 => Vec::new(),
            n => seeds.map(|s| Some((s % n) as u32)).collect(),
        };
        shots.extend(inverter.sampler().render_classes(&latents, &classes)?);
    }
    Ok(shots)
}

/// The projection as a shot: its PNG carries the latent and generator, so dropping it on the
/// studio (or `sample`) makes it again.
fn write_projection(
    out: &Path,
    name: &str,
    picture: &Picture,
    (latent, class): (&[f32], Option<String>),
    checkpoint_id: String,
) -> Result<()> {
    let meta = ShotMeta {
        seed: None,
        latent: latent.to_vec(),
        truncation: 1.0,
        checkpoint_id,
        class,
        app_version: env!("CARGO_PKG_VERSION").to_string(),
        upscaler: None,
        edits: Vec::new(),
    };
    let bytes = encode_png_with_meta(&picture.to_dynamic(), &meta).map_err(anyhow::Error::msg)?;
    let path = out.join(format!("{name}-projection.png"));
    crate::fsutil::write_atomic(&path, &bytes)
        .with_context(|| format!("writing {}", path.display()))
}
