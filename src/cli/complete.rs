//! `atelier complete`: what only an autoregressive model can do. Keep part of a photo and let
//! the model draw the rest, several ways, in one grid: the photo, what was kept (the rest
//! greyed), then the completions.

use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::args::{CompleteArgs, KeepRegion};
use super::resolve_device;
use crate::checkpoint::{Checkpoint, LATEST};
use crate::data::ImportOptions;
use crate::export::{Picture, grid, save_png_atomic};
use crate::latent::latent_for_seed;
use crate::preset::Preset;
use crate::sample::Sampler;

/// Row-major pixels of a `side`² image that `region` keeps.
#[must_use]
pub fn keep_mask(region: KeepRegion, side: usize) -> Vec<bool> {
    (0..side * side)
        .map(|p| {
            let (row, col) = (p / side, p % side);
            match region {
                KeepRegion::TopHalf => row < side / 2,
                KeepRegion::TopQuarter => row < side / 4,
                KeepRegion::LShape => row < side / 2 || col < side / 2,
            }
        })
        .collect()
}

pub(super) fn complete(args: &CompleteArgs) -> Result<()> {
    if args.count == 0 {
        bail!("--count must be at least 1");
    }
    let path = args.run.join(LATEST);
    let checkpoint =
        Checkpoint::load(&path).with_context(|| format!("loading {}", path.display()))?;
    let preset = Preset::from_toml("checkpoint", &checkpoint.preset_toml)?;
    if !preset.model.family().has_likelihood() {
        bail!(
            "the run is a {} model: only an autoregressive model (pixelcnn) completes images",
            preset.model.kind()
        );
    }
    let chosen = resolve_device(args.device)?;
    let sampler = Sampler::from_checkpoint(&checkpoint, &chosen.device)?;
    let (c, r) = (preset.model.channels(), preset.model.resolution());
    let import = ImportOptions {
        resolution: r,
        channels: c,
        square: preset.data.square,
    };
    let pixels = crate::data::read_for_model(&args.image, import)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", args.image.display()))?;
    let class = match &args.class {
        Some(name) => Some(sampler.class_index(name)?),
        None => (preset.model.class_count() > 0).then_some(0),
    };
    let keep = keep_mask(args.keep, r);
    let latents: Vec<Vec<f32>> = (0..args.count as u64)
        .map(|k| latent_for_seed(args.seed + k, preset.model.latent_dim()))
        .collect();
    let started = Instant::now();
    let completions = sampler.complete(&pixels, &keep, &latents, class)?;
    let seconds = started.elapsed().as_secs_f64();
    let photo = Picture::from_chw_u8(&pixels, c, r);
    let plane = r * r;
    let kept: Vec<u8> = pixels
        .iter()
        .enumerate()
        .map(|(i, &v)| if keep[i % plane] { v } else { 128 })
        .collect();
    let mut pictures = vec![photo, Picture::from_chw_u8(&kept, c, r)];
    pictures.extend(completions);
    let columns = pictures.len().min(10);
    save_png_atomic(&grid(&pictures, columns), &args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "{}",
        serde_json::json!({
            "image": args.image.display().to_string(),
            "completions": args.count,
            "seconds": seconds,
            "out": args.out.display().to_string(),
        })
    );
    Ok(())
}
