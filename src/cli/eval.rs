//! `atelier eval`: held-out figures for a run's checkpoints, against its validation split
//! or a folder it never saw.

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::args::EvalArgs;
use super::{import_with_progress, resolve_device};
use crate::data::{ImportOptions, import_folder};
use crate::preset::Preset;
use crate::quality::evaluate;
use crate::sample::Sampler;
use crate::train::{BEST, Checkpoint, LATEST, RUN_INFO, RunInfo};

/// Held-out SWD and memorisation of the latest and best checkpoints, with a real-vs-real
/// reference (training images against the same held-out images) to read them against.
pub(super) fn eval(args: &EvalArgs, quiet: bool) -> Result<()> {
    check_truncation(args.truncation)?;
    let data_dir = run_data_dir(args)?;
    let latest =
        Checkpoint::load(&args.run.join(LATEST)).context("loading the run's checkpoint")?;
    let preset = Preset::from_toml("checkpoint", &latest.preset_toml)?;
    let options = ImportOptions {
        resolution: preset.model.resolution(),
        channels: preset.model.channels(),
        square: preset.data.square,
    };
    let (dataset, _) = import_with_progress(&data_dir, options, quiet)?;
    let mut dataset = dataset;
    let classes = preset.model.classes();
    if preset.model.class_count() > 0 {
        dataset
            .relabel_to(classes)
            .map_err(|unknown| class_mismatch(classes, &unknown))?;
    }
    let mut split = crate::data::Split::new(&dataset, preset.data.split, preset.data.split_seed);
    if let Some(against) = &args.against {
        append_outside(&mut dataset, &mut split, against, options, &preset.model)?;
    }
    let held = crate::quality::held_out(&split);
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
    let independent = preset
        .model
        .family()
        .has_likelihood()
        .then(|| independent_baseline(&dataset, &split.train, &held_refs));
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
    let cache = eval_cache(judge.as_ref().filter(|_| judge_features), args.truncation);
    let feature_reference = std::cell::OnceCell::new();
    for (name, checkpoint) in checkpoints {
        let sampler = Sampler::from_checkpoint_weights(&checkpoint, args.raw, &chosen.device)?;
        let q = evaluate(&sampler, &dataset, &split, checkpoint.state.step, &cache)?
            .context("no held-out images to evaluate against")?;
        for warning in cache.take_warnings() {
            eprintln!("note: {warning}");
        }
        print_quality(name, &q, || {
            *feature_reference.get_or_init(|| cache.feature_reference(&train_refs))
        });
        if let Some(baseline) = independent {
            print_held_out_bits(
                &checkpoint,
                &preset,
                &dataset,
                held,
                baseline,
                &chosen.device,
            )?;
        }
        if let Some(judge) = judge
            .as_ref()
            .filter(|_| conditional && args.class_shots > 0)
        {
            let held = crate::quality::held_out(&split);
            match judge.score(&sampler, &dataset, held, args.class_shots) {
                Ok(scores) => print_class_fidelity(&scores),
                Err(e) => eprintln!("class fidelity failed: {e}"),
            }
        }
    }
    Ok(())
}

/// The run's image folder: `--data`, else the one its run.json records.
fn run_data_dir(args: &EvalArgs) -> Result<std::path::PathBuf> {
    if let Some(d) = &args.data {
        return Ok(d.clone());
    }
    let path = args.run.join(RUN_INFO);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (or pass --data)", path.display()))?;
    let info: RunInfo =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(info.data_dir)
}

/// The held-out NLL of independent per-pixel histograms of the training images: what a
/// likelihood model must beat.
fn independent_baseline(dataset: &crate::data::Dataset, train: &[usize], held: &[&[u8]]) -> f64 {
    let train_images: Vec<&[u8]> = train.iter().map(|&i| dataset.image(i)).collect();
    let bits = crate::quality::independent_pixel_bits(&train_images, held);
    println!("held-out NLL of independent per-pixel histograms (the baseline): {bits:.3} bits/dim");
    bits
}

/// A likelihood model's held-out NLL against the independent-pixel baseline.
fn print_held_out_bits(
    checkpoint: &Checkpoint,
    preset: &Preset,
    dataset: &crate::data::Dataset,
    held: &[usize],
    baseline: f64,
    device: &burn::tensor::Device,
) -> Result<()> {
    let record = preset
        .model
        .render_records()
        .iter()
        .find_map(|n| checkpoint.blob(n))
        .context("the checkpoint holds no network")?;
    let model = preset
        .model
        .likelihood(record, device)
        .map_err(|e| anyhow::anyhow!("loading the network: {}", e.0))?;
    let bits = crate::quality::model_bits(
        model.as_ref(),
        dataset,
        held,
        preset.model.class_count(),
        device,
    );
    println!(
        "{:<6} held-out NLL {bits:.3} bits/dim: {:.3} below the independent-pixel baseline",
        "",
        baseline - bits
    );
    Ok(())
}

/// A truncation ψ that draws shots at all: above 0, at most 2 (the studio's sliders go to 1.5).
fn check_truncation(psi: f32) -> Result<()> {
    if !(psi.is_finite() && psi > 0.0 && psi <= 2.0) {
        bail!("--truncation must be above 0 and at most 2 (1 = untruncated), got {psi}");
    }
    Ok(())
}

/// The evaluation's shared state: measuring in `judge`'s features where given, shots drawn
/// at truncation `psi`.
fn eval_cache(judge: Option<&crate::quality::ClassJudge>, psi: f32) -> crate::quality::EvalCache {
    let cache = judge
        .map_or_else(crate::quality::EvalCache::new, |judge| {
            crate::quality::EvalCache::with_feature_judge(judge.feature_judge())
        })
        .with_full_shots();
    if (psi - 1.0).abs() > f32::EPSILON {
        println!("shots at truncation ψ {psi}");
        return cache.with_truncation(psi);
    }
    cache
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
    let n = held_out.min(available).min(crate::quality::MAX_EVAL_IMAGES);
    (0..n).map(|k| train[k * train.len() / n]).collect()
}

/// Whether `eval` measures in a class judge's features (feature distance, data copying):
/// where the shipped network cannot read the data (colour, 64 px) and there are classes to
/// learn. `eval` then trains the judge itself and hands it to the evaluation, which would
/// otherwise train a second one.
fn judge_gives_features(dataset: &crate::data::Dataset) -> bool {
    !crate::quality::FeatureJudge::shipped_applies_to(dataset.channels, dataset.resolution)
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
) -> Option<crate::quality::ClassJudge> {
    let reference: std::collections::HashSet<usize> = reference.iter().copied().collect();
    let judge_train: Vec<usize> = split
        .train
        .iter()
        .copied()
        .filter(|i| !reference.contains(i))
        .collect();
    let judge = crate::quality::ClassJudge::train(dataset, &judge_train, device)
        .map_err(|e| eprintln!("class judge skipped: {e}"))
        .ok()?;
    match judge.accuracy(dataset, crate::quality::held_out(split)) {
        Ok(a) => println!(
            "class judge (trained on {} training images): {:.1} % of held-out images in their own class",
            judge_train.len(),
            100.0 * a
        ),
        Err(e) => eprintln!("class judge accuracy failed: {e}"),
    }
    Some(judge)
}

/// One checkpoint's figures; `reference` gives the real-vs-real feature figures (computed
/// once, only when the record has a feature distance to read against it).
fn print_quality(
    name: &str,
    q: &crate::quality::QualityRecord,
    reference: impl FnOnce() -> Option<crate::quality::FeatureReference>,
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
        let reference = reference();
        println!(
            "{:<6} feature FD ({}) {fd:.2}{}",
            "",
            q.feature_judge
                .as_deref()
                .unwrap_or(crate::quality::SHIPPED_FEATURE_JUDGE),
            reference.map_or(String::new(), |r| format!("; real-vs-real {:.2}", r.fd))
        );
        if let Some(pr) = q.fidelity {
            print_pair(
                &format!(
                    "precision / recall (k = {})",
                    crate::quality::NEIGHBOURHOOD_K
                ),
                (pr.precision, pr.recall),
                reference
                    .and_then(|r| Some((r.fidelity?, r.images)))
                    .map(|(r, n)| ((r.precision, r.recall), n)),
                "shots that look like some photo / photos some shot comes near",
            );
        }
        if let Some(dc) = q.density_coverage {
            print_pair(
                &format!("density / coverage (k = {})", crate::quality::DENSITY_K),
                (dc.density, dc.coverage),
                reference
                    .and_then(|r| Some((r.density_coverage?, r.images)))
                    .map(|(r, n)| ((r.density, r.coverage), n)),
                "how crowded the photos' neighbourhoods are with shots (1 = as real) / photos with a shot in their own neighbourhood",
            );
        }
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
    model: &crate::model::ModelConfig,
) -> Result<()> {
    let (mut outside, _) = import_folder(against, options, &|_| {})
        .with_context(|| format!("importing {}", against.display()))?;
    // A conditional model is scored per class: the outside folders must be its classes.
    if model.class_count() > 0 {
        outside
            .relabel_to(model.classes())
            .map_err(|unknown| class_mismatch(model.classes(), &unknown))?;
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

/// One line of a pair of figures, with the real-vs-real pair on `n` images each when known.
fn print_pair(name: &str, (a, b): (f64, f64), real: Option<((f64, f64), usize)>, meaning: &str) {
    let real = real.map_or(String::new(), |((ra, rb), n)| {
        format!("; real-vs-real ({n} images each) {ra:.3} / {rb:.3}")
    });
    println!("{:<6} {name} {a:.3} / {b:.3}{real}: {meaning}", "");
}

/// The class-fidelity table of a conditional model (see `quality::ClassJudge`).
fn print_class_fidelity(scores: &[crate::quality::ClassScore]) {
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
