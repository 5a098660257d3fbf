//! Quality of a generator on the held-out split: shots from fixed seeds compared with the
//! validation images (SWD, and the feature distance where a network reads the data: the
//! shipped one for 28 px grey, or a class judge trained on the run's photos) and with the
//! training images (memorisation; data copying in the network's features where there is one).

use std::cell::{Cell, OnceCell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::Device;
use crossbeam_channel::{Receiver, TryRecvError};

use super::EvalError;
use super::class_fidelity::ClassJudge;
use super::feature_distance::FeatureJudge;
use crate::data::{Dataset, Split};
use crate::latent::{latent_for_seed, truncate};
use crate::quality::{
    DENSITY_K, DataCopying, DensityCoverage, FeatureStats, Memorisation, NEIGHBOURHOOD_K,
    PrecisionRecall, QualityRecord, SPREAD_ITEMS, SwdConfig, feature_spread, frechet_distance,
    held_out_distances, nearest_feature_distances, pixel_spread, swd, threshold_from_held_out,
};
use crate::sample::Sampler;

/// Seeds of the evaluation shots: fixed, so every evaluation of a run compares like with like.
const EVAL_SEED_BASE: u64 = 0xE7A1_0000;
/// Fewest shots an evaluation uses, even when the held-out split is smaller.
const MIN_SHOTS: usize = 64;
/// Most held-out images (and shots) an evaluation uses, to bound its cost.
pub const MAX_SHOTS: usize = 1000;
/// Fewest held-out images for a feature distance: below one per feature, the held-out
/// covariance is rank-deficient and the figure mostly measures the sample size (a 200-image
/// folder's 10 validation images gave 51 where 1,000 unseen images gave 10).
pub const MIN_FEATURE_IMAGES: usize = super::classifier::FEATURES;

/// The held-out images: the validation split, or the test split when there is no validation.
#[must_use]
pub fn held_out(split: &Split) -> &[usize] {
    if split.validation.is_empty() {
        &split.test
    } else {
        &split.validation
    }
}

/// What every evaluation of a run shares, computed once: the held-out images' distances to
/// the training set (memorisation yardstick), the feature network with the held-out images'
/// feature statistics, and the data-copying yardstick in its features.
#[derive(Default)]
pub struct EvalCache {
    held_out_distances: OnceCell<Vec<f32>>,
    judge: OnceCell<Option<FeatureJudge>>,
    held_out_features: OnceCell<Option<Vec<Vec<f32>>>>,
    real_stats: OnceCell<Option<FeatureStats>>,
    copying_reference: OnceCell<Option<CopyingReference>>,
    /// The held-out images' spread (median distance to the nearest other) in features and in
    /// pixels.
    held_out_feature_spread: OnceCell<Option<f32>>,
    held_out_pixel_spread: OnceCell<Option<f32>>,
    /// A judge given by the caller, taken at the first evaluation.
    given_judge: Cell<Option<FeatureJudge>>,
    /// A class judge training on its own thread (see `train_judge_in_background`).
    background_judge: RefCell<Option<BackgroundJudge>>,
    /// Truncation ψ of the shots' latents; `None`: untruncated (training logs).
    truncation: Option<f32>,
    /// A pixel-by-pixel model gets as many shots as a GAN (`atelier eval`), not the fewest.
    full_shots: bool,
    /// Figures left out and why, for the caller to tell the designer (see
    /// [`EvalCache::take_warnings`]); a library never prints.
    warnings: RefCell<Vec<String>>,
}

/// A class judge training on its own thread: stopped and joined when the cache (the run)
/// is dropped, so no thread outlives its run.
struct BackgroundJudge {
    receiver: Receiver<Result<FeatureJudge, EvalError>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for BackgroundJudge {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // At most one of its batches: it checks `stop` between two.
            let _ = thread.join();
        }
    }
}

/// The data-copying test's yardstick in feature space: the training images' features, and
/// each held-out image's distance to the nearest of them (sorted).
struct CopyingReference {
    train: Vec<Vec<f32>>,
    held_out: Vec<f32>,
}

impl EvalCache {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// What the evaluations so far had to leave out, and why (each said once).
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.borrow_mut())
    }

    fn warn(&self, text: String) {
        self.warnings.borrow_mut().push(text);
    }

    /// Measures in the features of `judge` where it reads the data's shape, instead of the
    /// network the cache would pick or train itself (see `judge`).
    #[must_use]
    pub fn with_feature_judge(judge: FeatureJudge) -> Self {
        Self {
            given_judge: Cell::new(Some(judge)),
            ..Self::default()
        }
    }

    /// Draws every evaluation's shots at truncation `psi` (see [`crate::latent::truncate`]),
    /// to measure what the studio's truncation slider trades.
    #[must_use]
    pub fn with_truncation(mut self, psi: f32) -> Self {
        self.truncation = Some(psi);
        self
    }

    /// Scores a pixel-by-pixel model on as many shots as a GAN: comparable figures, at its cost.
    #[must_use]
    pub fn with_full_shots(mut self) -> Self {
        self.full_shots = true;
        self
    }

    /// The latents of an evaluation's `count` shots: fixed seeds, truncated as asked.
    fn latents(&self, count: usize, dim: usize) -> Vec<Vec<f32>> {
        (0..count as u64)
            .map(|k| {
                let z = latent_for_seed(EVAL_SEED_BASE + k, dim);
                match self.truncation {
                    Some(psi) => truncate(&z, psi),
                    None => z,
                }
            })
            .collect()
    }

    /// Starts training the class judge on its own thread, on the CPU, when this data needs
    /// one (no judge given, none shipped for its shape, two or more classes). Evaluations
    /// leave the feature figures out until it is ready instead of training it in line: the
    /// studio's worker must keep rendering shots, and at 64 px on a CPU the 600 steps take
    /// minutes. The judge is the same either way (seeded weights, its own batch order).
    ///
    /// It works on one core (a pool of its own, not rayon's global one, which would take
    /// every core from the window and the run), and stops when the cache is dropped.
    pub fn train_judge_in_background(
        &self,
        data: Arc<Dataset>,
        train: Vec<usize>,
    ) -> std::io::Result<()> {
        let given = self.given_judge.take();
        let needed = given.is_none()
            && self.judge.get().is_none()
            && self.background_judge.borrow().is_none()
            && !FeatureJudge::shipped_applies_to(data.channels, data.resolution)
            && data.class_names.len() >= 2;
        self.given_judge.set(given);
        if !needed {
            return Ok(());
        }
        let one_core = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "atelier-class-judge-compute".into())
            .build()
            .map_err(std::io::Error::other)?;
        let (sender, receiver) = crossbeam_channel::bounded(1);
        let stop = Arc::new(AtomicBool::new(false));
        let stop_judge = stop.clone();
        let thread = std::thread::Builder::new()
            .name("atelier-class-judge".into())
            .spawn(move || {
                let judge = one_core.install(|| {
                    ClassJudge::train_until(&data, &train, &Device::flex(), Some(&stop_judge))
                        .map(|judge| judge.feature_judge())
                });
                // The run may have ended meanwhile; then nobody waits for it.
                let _ = sender.send(judge);
            })?;
        *self.background_judge.borrow_mut() = Some(BackgroundJudge {
            receiver,
            stop,
            thread: Some(thread),
        });
        Ok(())
    }

    /// Whether evaluations of `data` need a class judge trained on the run's photos (none
    /// given, none shipped for its shape, two or more classes).
    #[must_use]
    pub fn needs_class_judge(&self, data: &Dataset) -> bool {
        let given = self.given_judge.take();
        let needed = given.is_none()
            && !FeatureJudge::shipped_applies_to(data.channels, data.resolution)
            && data.class_names.len() >= 2;
        self.given_judge.set(given);
        needed
    }

    /// Whether the class judge's thread is still running (tests: it stops with its run).
    #[must_use]
    pub fn judge_thread_running(&self) -> bool {
        self.background_judge
            .borrow()
            .as_ref()
            .and_then(|j| j.thread.as_ref())
            .is_some_and(|t| !t.is_finished())
    }

    /// Whether a class judge is training on its own thread and not ready yet.
    fn judge_pending(&self) -> bool {
        self.judge.get().is_none() && self.background_judge.borrow().is_some()
    }

    /// The feature network for this data: the given judge, the shipped one for 28 px grey,
    /// or else, with two or more classes, a class judge trained once on the `train` images
    /// (the held-out ones stay unseen): here, or on its own thread when one was started
    /// (`None` until it is ready). A failure is reported once and the feature-space figures
    /// left out; it never stops a run.
    fn judge(&self, data: &Dataset, train: &[usize], device: &Device) -> Option<&FeatureJudge> {
        if self.judge.get().is_none()
            && let Some(background) = self.background_judge.borrow().as_ref()
        {
            let judge = match background.receiver.try_recv() {
                Ok(Ok(judge)) => Some(judge),
                Ok(Err(e)) => {
                    self.warn(format!("feature figures left out: {e}"));
                    None
                }
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => {
                    self.warn("feature figures left out: the class judge's thread failed".into());
                    None
                }
            };
            let _ = self.judge.set(judge);
        }
        self.judge
            .get_or_init(|| {
                let (c, r) = (data.channels, data.resolution);
                let judge = match self.given_judge.take() {
                    Some(judge) if judge.applies_to(c, r) => Ok(judge),
                    _ if FeatureJudge::shipped_applies_to(c, r) => FeatureJudge::shipped(device),
                    _ if data.class_names.len() >= 2 => {
                        ClassJudge::train(data, train, device).map(|judge| judge.feature_judge())
                    }
                    _ => return None,
                };
                judge
                    .map_err(|e| self.warn(format!("feature figures left out: {e}")))
                    .ok()
            })
            .as_ref()
    }

    /// The held-out images' features, for both the feature distance and the copying test.
    fn held_out_features(&self, judge: &FeatureJudge, real: &[&[u8]]) -> Option<&[Vec<f32>]> {
        self.held_out_features
            .get_or_init(|| {
                judge
                    .features_of_images(real)
                    .map_err(|e| self.warn(format!("feature figures left out: {e}")))
                    .ok()
            })
            .as_deref()
    }

    /// The held-out images' feature statistics, when there are at least
    /// [`MIN_FEATURE_IMAGES`] of them.
    fn real_stats(&self, judge: &FeatureJudge, real: &[&[u8]]) -> Option<&FeatureStats> {
        self.real_stats
            .get_or_init(|| {
                if real.len() < MIN_FEATURE_IMAGES {
                    return None;
                }
                FeatureStats::of(self.held_out_features(judge, real)?)
            })
            .as_ref()
    }

    fn copying_reference(
        &self,
        judge: &FeatureJudge,
        train: &[&[u8]],
        real: &[&[u8]],
    ) -> Option<&CopyingReference> {
        self.copying_reference
            .get_or_init(|| {
                let held_out = self.held_out_features(judge, real)?;
                let train = judge
                    .features_of_images(train)
                    .map_err(|e| self.warn(format!("data-copying test in pixels: {e}")))
                    .ok()?;
                let mut distances = nearest_feature_distances(held_out, &train);
                distances.sort_by(f32::total_cmp);
                Some(CopyingReference {
                    train,
                    held_out: distances,
                })
            })
            .as_ref()
    }

    /// The feature distance, precision and recall of `images` against the held-out images
    /// cached at the first evaluation (for a real-vs-real reference). `None` before any
    /// evaluation, or for other data.
    pub fn feature_reference(&self, images: &[&[u8]]) -> Option<FeatureReference> {
        let judge = self.judge.get()?.as_ref()?;
        let real = self.real_stats.get()?.as_ref()?;
        let rows = judge.features_of_images(images).ok()?;
        let real_rows = self.held_out_features.get()?.as_ref()?;
        let (fidelity, density_coverage) = fidelity_of_rows(&rows, real_rows);
        Some(FeatureReference {
            fd: frechet_distance(&FeatureStats::of(&rows)?, real),
            fidelity,
            density_coverage,
            images: rows.len().min(real_rows.len()),
        })
    }
}

/// Feature figures of real images against the held-out ones: what a perfect generator would
/// score with the same judge and set sizes.
#[derive(Clone, Copy, Debug)]
pub struct FeatureReference {
    pub fd: f64,
    /// On `images` of each set: fewer than the shots when the real images are few.
    pub fidelity: Option<PrecisionRecall>,
    pub density_coverage: Option<DensityCoverage>,
    pub images: usize,
}

/// `count` items spread evenly over `items` (all of them when `count >= items.len()`).
fn evenly<T: Clone>(items: &[T], count: usize) -> Vec<T> {
    let count = count.min(items.len());
    (0..count)
        .map(|i| items[i * items.len() / count].clone())
        .collect()
}

/// The shots' spread over the held-out images' spread, on equal counts: the copying test's
/// space (features where `shot_features` are given, pixels otherwise).
fn variety(
    cache: &EvalCache,
    shots: &[&[u8]],
    real: &[&[u8]],
    shot_features: Option<(&FeatureJudge, &[Vec<f32>])>,
) -> Option<f64> {
    let n = shots.len().min(real.len()).min(SPREAD_ITEMS);
    let (shot_spread, real_spread) = if let Some((judge, rows)) = shot_features {
        let real_rows = cache.held_out_features(judge, real)?;
        let real_spread = *cache
            .held_out_feature_spread
            .get_or_init(|| feature_spread(&evenly(real_rows, n)));
        (feature_spread(&evenly(rows, n))?, real_spread?)
    } else {
        let real_spread = *cache
            .held_out_pixel_spread
            .get_or_init(|| pixel_spread(&evenly(real, n)));
        (pixel_spread(&evenly(shots, n))?, real_spread?)
    };
    (real_spread > 0.0).then(|| f64::from(shot_spread / real_spread))
}

/// Precision and recall, density and coverage of the shots' features against the held-out
/// images', on equal counts, when there are as many held-out images as a feature distance
/// needs.
fn fidelity(
    cache: &EvalCache,
    judge: &FeatureJudge,
    shot_rows: &[Vec<f32>],
    real: &[&[u8]],
) -> Option<(Option<PrecisionRecall>, Option<DensityCoverage>)> {
    if real.len() < MIN_FEATURE_IMAGES {
        return None;
    }
    let real_rows = cache.held_out_features(judge, real)?;
    Some(fidelity_of_rows(shot_rows, real_rows))
}

/// Precision and recall, density and coverage of `shots` against `real` on equal counts.
fn fidelity_of_rows(
    shots: &[Vec<f32>],
    real: &[Vec<f32>],
) -> (Option<PrecisionRecall>, Option<DensityCoverage>) {
    let n = shots.len().min(real.len());
    let (shots, real) = (evenly(shots, n), evenly(real, n));
    (
        PrecisionRecall::measure(&shots, &real, NEIGHBOURHOOD_K),
        DensityCoverage::measure(&shots, &real, DENSITY_K),
    )
}

/// The shots an evaluation draws: latents and classes, and the held-out images they are
/// compared with.
pub struct EvalPlan {
    pub latents: Vec<Vec<f32>>,
    /// One class per latent for a conditional model (the held-out images' own mix), or empty.
    pub classes: Vec<Option<u32>>,
    real_idx: Vec<usize>,
}

/// Evaluates `sampler` at `step`. `None` when the split holds no held-out image.
/// `cache` holds what depends only on the data: pass the same one for every evaluation of a
/// run.
pub fn evaluate(
    sampler: &Sampler,
    data: &Dataset,
    split: &Split,
    step: u64,
    cache: &EvalCache,
) -> Result<Option<QualityRecord>, EvalError> {
    let Some(plan) = plan_evaluation(sampler, data, split, cache) else {
        return Ok(None);
    };
    let shots = sampler.render_classes(&plan.latents, &plan.classes)?;
    score_evaluation(&plan, &shots, sampler.device(), data, split, step, cache).map(Some)
}

/// What an evaluation of `sampler` draws (see [`evaluate`]); `None` when the split holds no
/// held-out image. Drawing the shots apart lets a model that draws pixel by pixel draw
/// them a few passes at a time.
#[must_use]
pub fn plan_evaluation(
    sampler: &Sampler,
    data: &Dataset,
    split: &Split,
    cache: &EvalCache,
) -> Option<EvalPlan> {
    let real_idx = held_out(split);
    if real_idx.is_empty() {
        return None;
    }
    // Spread over the whole held-out list: imports keep each class together, so a prefix
    // would score the first classes only.
    let real_idx: Vec<usize> = if real_idx.len() <= MAX_SHOTS {
        real_idx.to_vec()
    } else {
        (0..MAX_SHOTS)
            .map(|i| real_idx[i * real_idx.len() / MAX_SHOTS])
            .collect()
    };
    // A model that draws pixel by pixel is judged on the fewest shots in training's periodic
    // evaluations, where its held-out likelihood leads.
    let count = if sampler.model.family().sampling_passes() > 1 && !cache.full_shots {
        MIN_SHOTS
    } else {
        real_idx.len().clamp(MIN_SHOTS, MAX_SHOTS)
    };
    let latents = cache.latents(count, sampler.model.latent_dim());
    // A conditional model is asked for the held-out images' own class mix.
    let classes: Vec<Option<u32>> = if sampler.model.class_count() > 0 {
        (0..count)
            .map(|k| Some(data.labels[real_idx[k % real_idx.len()]]))
            .collect()
    } else {
        Vec::new()
    };
    Some(EvalPlan {
        latents,
        classes,
        real_idx,
    })
}

/// Scores the shots drawn for `plan` against the held-out images: the figures of a
/// [`QualityRecord`] (its held-out likelihood is the trainer's to add). `device` runs the
/// feature judge.
pub fn score_evaluation(
    plan: &EvalPlan,
    shots: &[crate::export::Picture],
    device: &Device,
    data: &Dataset,
    split: &Split,
    step: u64,
    cache: &EvalCache,
) -> Result<QualityRecord, EvalError> {
    let real_idx = &plan.real_idx;
    let shot_chw: Vec<Vec<u8>> = shots
        .iter()
        .map(crate::export::Picture::to_chw_u8)
        .collect();
    let shot_refs: Vec<&[u8]> = shot_chw.iter().map(Vec::as_slice).collect();
    let real: Vec<&[u8]> = real_idx.iter().map(|&i| data.image(i)).collect();
    let report = swd(
        &shot_refs,
        &real,
        data.channels,
        data.resolution,
        &SwdConfig::default(),
    );
    let train: Vec<&[u8]> = split.train.iter().map(|&i| data.image(i)).collect();
    let held_distances = cache
        .held_out_distances
        .get_or_init(|| held_out_distances(&train, &real));
    let memorisation =
        Memorisation::against(&shot_refs, &train, threshold_from_held_out(held_distances));
    let judge = cache.judge(data, &split.train, device);
    // The shots' features serve both the feature distance and the data-copying test.
    let shot_features = judge.and_then(|judge| {
        judge
            .features_of_images(&shot_refs)
            .map_err(|e| cache.warn(format!("feature figures left out at step {step}: {e}")))
            .ok()
            .map(|rows| (judge, rows))
    });
    let feature_fd = shot_features.as_ref().and_then(|(judge, rows)| {
        let real = cache.real_stats(judge, &real)?;
        Some(frechet_distance(&FeatureStats::of(rows)?, real))
    });
    let (fidelity, density_coverage) = shot_features
        .as_ref()
        .and_then(|(judge, rows)| fidelity(cache, judge, rows, &real))
        .unwrap_or_default();
    // Data copying in the network's features where there is one: in pixels a blurred new
    // photo lies nearer the training set than the sharp one (T-shirts, blur radius 1: 58.6 %
    // of pairs), so blur read as copying; in features it reads as farther (44.2 %).
    let feature_copying = shot_features.as_ref().and_then(|(judge, rows)| {
        let reference = cache.copying_reference(judge, &train, &real)?;
        let distances = nearest_feature_distances(rows, &reference.train);
        Some((
            DataCopying::test(&distances, &reference.held_out),
            judge.name(),
        ))
    });
    let variety = variety(
        cache,
        &shot_refs,
        &real,
        shot_features
            .as_ref()
            .map(|(judge, rows)| (*judge, rows.as_slice())),
    );
    let (copying, copying_space) = match feature_copying {
        Some((test, space)) => (test, Some(space.to_string())),
        None => (
            DataCopying::test(&memorisation.distances(), held_distances),
            None,
        ),
    };
    Ok(QualityRecord {
        step,
        swd: report.mean,
        swd_levels: report.levels,
        near_copy_fraction: memorisation.near_copy_fraction(),
        real_images: real.len(),
        feature_judge: feature_fd.and(judge).map(|judge| judge.name().to_string()),
        feature_fd,
        fidelity,
        density_coverage,
        copying,
        copying_space,
        variety,
        judge_pending: cache.judge_pending(),
        nll_bits: None,
    })
}

#[cfg(test)]
mod tests;
