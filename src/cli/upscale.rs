//! `atelier train-upscaler`, `upscale` and `eval-upscaler`: sharp print-size enlargements.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;

use super::args::{EvalUpscalerArgs, TrainUpscalerArgs, UpscaleArgs};
use super::{cancel_flag, resolve_device};
use crate::export::Picture;
use crate::model::upscaler::UpscalerConfig;
use crate::upscale::{
    ChosenUpscaler, FINE_TUNE_LR_DIVISOR, PhotoPool, RunLimits, UPSCALER_FILE, UpscalerFile,
    UpscalerRecipe, UpscalerTraining, choose_upscaler, compare_on_photos, enlarge_lanczos,
    side_by_side, upscaler_of_folder,
};

/// How often a training upscaler is saved.
const SAVE_EVERY: Duration = Duration::from_secs(120);

/// Enlarges shots to a fixed side with the upscaler a run (or the designer) chose.
pub(super) struct Enlarger {
    side: usize,
    chosen: ChosenUpscaler,
}

impl Enlarger {
    /// A run's own upscaler (else the shipped one), or Lanczos when `smooth`.
    pub(super) fn for_run(run: &Path, side: usize, smooth: bool, device: &Device) -> Result<Self> {
        if !(1..=16_384).contains(&side) {
            bail!("--size must be 1–16384 px, got {side}");
        }
        let chosen = if smooth {
            ChosenUpscaler {
                upscaler: None,
                notice: None,
            }
        } else {
            upscaler_of_folder(run, device)
        };
        if let Some(notice) = &chosen.notice {
            eprintln!("note: {notice}");
        }
        eprintln!("enlarging to {side} px with {}", chosen.provenance());
        Ok(Self { side, chosen })
    }

    pub(super) fn enlarge(&self, picture: &Picture) -> Result<Picture> {
        Ok(match &self.chosen.upscaler {
            Some(u) => u.upscale_to(picture, self.side, self.side)?,
            None => enlarge_lanczos(picture, self.side, self.side),
        })
    }
}

pub(super) fn train_upscaler(args: &TrainUpscalerArgs, quiet: bool) -> Result<()> {
    let out: PathBuf = match (&args.run, &args.out) {
        (Some(run), _) => run.join(UPSCALER_FILE),
        (None, Some(out)) => out.clone(),
        (None, None) => bail!("give --run RUN or --out FILE"),
    };
    if out.exists() && !args.resume {
        bail!(
            "{} already exists; add --resume to continue it, or choose another --out",
            out.display()
        );
    }
    let saved = if args.resume {
        Some(UpscalerFile::load(&out).with_context(|| format!("resuming {}", out.display()))?)
    } else {
        None
    };
    let base = match args.init.as_deref() {
        Some("shipped") => Some(UpscalerFile::shipped()?),
        Some(path) => {
            Some(UpscalerFile::load(Path::new(path)).with_context(|| format!("--init {path}"))?)
        }
        None => None,
    };
    let recipe = recipe_from_args(args, saved.as_ref(), base.as_ref())?;
    let chosen = resolve_device(args.device)?;
    let high_side = (recipe.training.patch * recipe.upscaler.factor) as u32;
    let started = Instant::now();
    let (pool, report) = PhotoPool::from_folder(
        &args.data,
        high_side,
        recipe.training.max_side,
        recipe.training.seed,
    )
    .with_context(|| format!("reading photos from {}", args.data.display()))?;
    eprintln!(
        "photos: {} used, {} too small for a {high_side} px crop, {} skipped, {} left out ({:.1} s)",
        report.used,
        report.too_small,
        report.skipped.len(),
        report.left_out,
        started.elapsed().as_secs_f64()
    );
    for (path, why) in report.skipped.iter().take(10) {
        eprintln!("  skipped {}: {why}", path.display());
    }
    let mut run = match (&saved, &base) {
        (Some(file), _) => UpscalerTraining::resume(file, &pool, &chosen.device)?,
        (None, Some(base)) => {
            UpscalerTraining::fine_tune(base, recipe.clone(), &pool, &chosen.device)?
        }
        (None, None) => UpscalerTraining::new(recipe.clone(), &pool, &chosen.device)?,
    };
    let cancel = cancel_flag();
    let budget = args.minutes.map(|m| Duration::from_secs_f64(m * 60.0));
    if args.steps.is_none() && budget.is_none() {
        bail!("give --minutes or --steps: how long to train");
    }
    eprintln!("{} → {}", recipe.upscaler.describe(), out.display());
    let mut report_progress = |p: crate::upscale::TrainProgress| {
        if !quiet && p.step.is_multiple_of(50) {
            eprintln!("step {:>6}  loss {:.4}  {:.0} s", p.step, p.loss, p.seconds);
        }
    };
    let limits = RunLimits {
        max_steps: args.steps,
        budget,
        save_every: SAVE_EVERY,
    };
    run.run(&pool, limits, &out, &cancel, &mut report_progress)?;
    println!(
        "upscaler saved to {} after {} steps ({:.0} s of training)",
        out.display(),
        run.steps(),
        run.seconds()
    );
    Ok(())
}

/// The recipe a `train-upscaler` run uses: the resumed file's, the `--init` base's (at a
/// fifth of its learning rate) or a new one, with the flags that may change it.
fn recipe_from_args(
    args: &TrainUpscalerArgs,
    saved: Option<&UpscalerFile>,
    base: Option<&UpscalerFile>,
) -> Result<UpscalerRecipe> {
    let mut recipe = saved.or(base).map_or_else(
        || UpscalerRecipe {
            upscaler: UpscalerConfig {
                factor: args.factor,
                ..UpscalerConfig::default()
            },
            ..UpscalerRecipe::default()
        },
        |f| f.recipe.clone(),
    );
    if let Some(lr) = args.lr {
        recipe.training.lr = lr;
    } else if base.is_some() {
        recipe.training.lr /= FINE_TUNE_LR_DIVISOR;
    }
    if saved.is_none() {
        if let Some(seed) = args.seed {
            recipe.training.seed = seed;
        }
        if let Some(batch) = args.batch {
            recipe.training.batch = batch;
        }
        if base.is_some() && (args.width.is_some() || args.blocks.is_some()) {
            bail!("--width and --blocks are the --init upscaler's; leave them out to fine-tune it");
        }
        if let Some(width) = args.width {
            recipe.upscaler.width = width;
        }
        if let Some(blocks) = args.blocks {
            recipe.upscaler.blocks = blocks;
        }
    }
    recipe.validate().context("the upscaler's settings")?;
    Ok(recipe)
}

pub(super) fn upscale(args: &UpscaleArgs) -> Result<()> {
    if args.factor < 2 || args.factor > 64 {
        bail!("--factor must be 2–64, got {}", args.factor);
    }
    let image = crate::data::read_photo(&args.image, u32::MAX)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.image.display()))?;
    let picture = Picture::from_dynamic(&image::DynamicImage::ImageRgb8(image));
    let (w, h) = (picture.width * args.factor, picture.height * args.factor);
    if (w as u64) * (h as u64) > crate::data::MAX_PIXELS {
        bail!(
            "{w} × {h} is more than {} Mpx; ask for a smaller --factor",
            crate::data::MAX_PIXELS / 1_000_000
        );
    }
    let chosen_device = resolve_device(args.device)?;
    let chosen = if args.smooth {
        ChosenUpscaler {
            upscaler: None,
            notice: None,
        }
    } else if let Some(run) = &args.run {
        upscaler_of_folder(run, &chosen_device.device)
    } else {
        choose_upscaler(args.upscaler.as_deref(), &chosen_device.device)
    };
    if let Some(notice) = &chosen.notice {
        eprintln!("note: {notice}");
    }
    let started = Instant::now();
    let out = match &chosen.upscaler {
        Some(u) => u.upscale_to(&picture, w, h)?,
        None => enlarge_lanczos(&picture, w, h),
    };
    crate::export::save_png_atomic(&out, &args.out)?;
    println!(
        "wrote {} ({w} × {h}, {} in {:.2} s)",
        args.out.display(),
        chosen.provenance(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub(super) fn eval_upscaler(args: &EvalUpscalerArgs) -> Result<()> {
    let chosen_device = resolve_device(args.device)?;
    let file = match &args.upscaler {
        Some(path) => UpscalerFile::load(path).with_context(|| format!("{}", path.display()))?,
        None => UpscalerFile::shipped()?,
    };
    let upscaler = crate::upscale::LearntUpscaler::new(&file, &chosen_device.device)?;
    let cmp = compare_on_photos(
        &args.data,
        &upscaler,
        args.limit,
        file.recipe.training.max_side,
    )
    .with_context(|| format!("comparing on {}", args.data.display()))?;
    if cmp.photos == 0 {
        bail!(
            "no photo in {} was large enough to compare on",
            args.data.display()
        );
    }
    println!(
        "upscaler {} ({}), {} photos of {}, shrunk {}× and enlarged back:",
        upscaler.id(),
        file.recipe.upscaler.describe(),
        cmp.photos,
        args.data.display(),
        cmp.factor
    );
    println!("  method     PSNR dB   SSIM    s/photo");
    for (name, f) in [("lanczos", cmp.lanczos), ("learnt", cmp.learnt)] {
        println!(
            "  {name:<9} {:>7.2}  {:.4}  {:.4}",
            f.psnr, f.ssim, f.seconds
        );
    }
    println!(
        "  learnt − lanczos: {:+.2} dB PSNR, {:+.4} SSIM",
        cmp.learnt.psnr - cmp.lanczos.psnr,
        cmp.learnt.ssim - cmp.lanczos.ssim
    );
    if !cmp.skipped.is_empty() {
        println!("  {} files skipped", cmp.skipped.len());
    }
    if let Some(path) = &args.grid {
        let sheet = side_by_side(&args.data, &upscaler, 6, 96, file.recipe.training.max_side)?;
        crate::export::save_png_atomic(&sheet, path)?;
        println!("  crops (Lanczos | learnt | original): {}", path.display());
    }
    if args.export_side > 0 {
        let shot = Picture {
            width: 64,
            height: 64,
            channels: 3,
            pixels: (0..64 * 64 * 3).map(|i| ((i * 37) % 251) as u8).collect(),
        };
        for (name, learnt) in [("learnt", true), ("lanczos", false)] {
            let rounds = 3;
            let started = Instant::now();
            for _ in 0..rounds {
                if learnt {
                    upscaler.upscale_to(&shot, args.export_side, args.export_side)?;
                } else {
                    let _ = enlarge_lanczos(&shot, args.export_side, args.export_side);
                }
            }
            println!(
                "  64 px shot → {} px export, {name}: {:.2} s (mean of {rounds})",
                args.export_side,
                started.elapsed().as_secs_f64() / f64::from(rounds)
            );
        }
    }
    Ok(())
}
