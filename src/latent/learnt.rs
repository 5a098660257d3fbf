//! Sliders learnt from a designer's picks: "more like these, less like those".
//!
//! A handful of picks says little about a 64- or 128-dimensional latent space: the difference
//! of the picks' latent means is mostly noise. What the picks do show is *pictures*. So the
//! quality is learnt where it is visible, as a linear score over the shots' image features
//! (a [`Taste`]), and the slider's latent direction is then read off the generator itself:
//! hundreds of random shots are scored by the taste and the score is regressed onto their
//! latents. The taste outlives the generator: when a new checkpoint arrives, the same taste
//! scores the new generator's shots and the direction is learnt again, so the slider survives
//! training.

use serde::{Deserialize, Serialize};

use super::directions::orthonormalise;

/// Below this many picks on either side the taste is the difference of the two means (a
/// nearest-centroid rule); from it on, L2-regularised logistic regression.
pub const LOGISTIC_MIN_PICKS: usize = 20;
/// The fewest picks on each side a slider is learnt from.
pub const MIN_PICKS: usize = 5;
/// Folds of the held-out accuracy when there are many picks (fewer: leave one out).
const FOLDS: usize = 5;
/// Ridge strength of the logistic regression (on standardised features).
const L2: f64 = 1e-2;
const LOGISTIC_STEPS: usize = 300;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LearnError {
    #[error(
        "a slider needs at least {MIN_PICKS} shots with the quality and {MIN_PICKS} without (got {with} and {without})"
    )]
    TooFewPicks { with: usize, without: usize },
    #[error("the picks' pictures differ in size")]
    MixedFeatures,
}

/// A quality as a linear score over image features: positive means "has it".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Taste {
    pub weights: Vec<f32>,
    pub bias: f32,
}

impl Taste {
    #[must_use]
    pub fn score(&self, features: &[f32]) -> f32 {
        self.weights
            .iter()
            .zip(features)
            .map(|(w, f)| w * f)
            .sum::<f32>()
            + self.bias
    }
}

/// A taste and how well it told held-out picks apart.
#[derive(Clone, Debug, PartialEq)]
pub struct TasteFit {
    pub taste: Taste,
    /// Share of picks classified right by a taste learnt without them, in [0, 1].
    pub held_out_accuracy: f32,
}

/// Learns the taste from the features of shots that have the quality (`with`) and shots
/// that do not (`without`), and measures it on picks held out of its learning.
pub fn learn_taste(with: &[Vec<f32>], without: &[Vec<f32>]) -> Result<TasteFit, LearnError> {
    if with.len() < MIN_PICKS || without.len() < MIN_PICKS {
        return Err(LearnError::TooFewPicks {
            with: with.len(),
            without: without.len(),
        });
    }
    let d = with[0].len();
    if with.iter().chain(without).any(|f| f.len() != d) {
        return Err(LearnError::MixedFeatures);
    }
    let picks: Vec<(&[f32], bool)> = with
        .iter()
        .map(|f| (f.as_slice(), true))
        .chain(without.iter().map(|f| (f.as_slice(), false)))
        .collect();
    let n = picks.len();
    let folds = if n <= 40 { n } else { FOLDS };
    let mut right = 0usize;
    for fold in 0..folds {
        let (train, test): (Vec<_>, Vec<_>) = picks
            .iter()
            .enumerate()
            .partition(|(i, _)| i % folds != fold);
        let train: Vec<(&[f32], bool)> = train.into_iter().map(|(_, p)| *p).collect();
        let taste = fit(&train);
        right += test
            .iter()
            .filter(|(_, (f, has))| (taste.score(f) > 0.0) == *has)
            .count();
    }
    Ok(TasteFit {
        taste: fit(&picks),
        held_out_accuracy: right as f32 / n as f32,
    })
}

/// The taste of labelled features: mean difference, or logistic regression with many picks.
fn fit(picks: &[(&[f32], bool)]) -> Taste {
    let d = picks.first().map_or(0, |p| p.0.len());
    let mean_of = |has: bool| -> Vec<f64> {
        let chosen: Vec<&[f32]> = picks.iter().filter(|p| p.1 == has).map(|p| p.0).collect();
        let mut m = vec![0f64; d];
        for f in &chosen {
            for (a, b) in m.iter_mut().zip(f.iter()) {
                *a += f64::from(*b) / chosen.len().max(1) as f64;
            }
        }
        m
    };
    let (yes, no) = (mean_of(true), mean_of(false));
    let (with, without) = (
        picks.iter().filter(|p| p.1).count(),
        picks.iter().filter(|p| !p.1).count(),
    );
    // Nearest centroid: w = μ₊ − μ₋, the boundary half-way between the means.
    let w: Vec<f64> = yes.iter().zip(&no).map(|(a, b)| a - b).collect();
    let mid: f64 = yes
        .iter()
        .zip(&no)
        .zip(&w)
        .map(|((a, b), wi)| wi * (a + b) / 2.0)
        .sum();
    let (w, bias) = if with.min(without) >= LOGISTIC_MIN_PICKS {
        logistic(picks, w, -mid)
    } else {
        (w, -mid)
    };
    Taste {
        weights: w.iter().map(|x| *x as f32).collect(),
        bias: bias as f32,
    }
}

/// L2-regularised logistic regression by gradient descent, from the centroid rule.
fn logistic(picks: &[(&[f32], bool)], mut w: Vec<f64>, mut bias: f64) -> (Vec<f64>, f64) {
    let n = picks.len() as f64;
    // Start at a scale where the logits are O(1).
    let spread = picks
        .iter()
        .map(|(f, _)| dot(&w, f).abs())
        .fold(0.0, f64::max)
        .max(1e-12);
    for x in &mut w {
        *x /= spread;
    }
    bias /= spread;
    let feature_scale: f64 = picks
        .iter()
        .map(|(f, _)| f.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>())
        .sum::<f64>()
        / n;
    let rate = 1.0 / (0.25 * feature_scale.max(1e-12) + L2);
    for _ in 0..LOGISTIC_STEPS {
        let mut grad = vec![0f64; w.len()];
        let mut grad_bias = 0.0;
        for (f, has) in picks {
            let p = 1.0 / (1.0 + (-(dot(&w, f) + bias)).exp());
            let err = p - if *has { 1.0 } else { 0.0 };
            for (g, x) in grad.iter_mut().zip(f.iter()) {
                *g += err * f64::from(*x) / n;
            }
            grad_bias += err / n;
        }
        for (wi, g) in w.iter_mut().zip(&grad) {
            *wi -= rate * (g + L2 * *wi);
        }
        bias -= rate * grad_bias;
    }
    (w, bias)
}

fn dot(w: &[f64], f: &[f32]) -> f64 {
    w.iter().zip(f).map(|(a, b)| a * f64::from(*b)).sum()
}

/// The latent direction along which the generator's shots score higher by `taste`: the
/// regression of the scores of `features[i]` (the shots `latents[i]` made) onto the
/// latents, made orthogonal to the `others` (the other active sliders) and of unit length:
/// one slider unit moves z by one standard deviation of its prior, as the other sliders do.
/// Also returns the share of the direction the orthogonalisation kept. `None` when the
/// generator's shots do not vary in the taste's score.
#[must_use]
pub fn latent_direction(
    taste: &Taste,
    latents: &[Vec<f32>],
    features: &[Vec<f32>],
    others: &[Vec<f32>],
) -> Option<(Vec<f32>, f32)> {
    let n = latents.len().min(features.len());
    let dim = latents.first()?.len();
    let scores: Vec<f64> = features[..n]
        .iter()
        .map(|f| f64::from(taste.score(f)))
        .collect();
    let mean = scores.iter().sum::<f64>() / n.max(1) as f64;
    let mut u = vec![0f64; dim];
    for (z, s) in latents[..n].iter().zip(&scores) {
        for (ui, zi) in u.iter_mut().zip(z) {
            *ui += f64::from(*zi) * (s - mean);
        }
    }
    let mut basis: Vec<Vec<f64>> = others
        .iter()
        .filter(|o| o.len() == dim)
        .map(|o| o.iter().map(|x| f64::from(*x)).collect())
        .collect();
    orthonormalise(&mut basis);
    let before = u.iter().map(|x| x * x).sum::<f64>().sqrt();
    for b in basis.iter().filter(|b| b.iter().any(|x| *x != 0.0)) {
        let along: f64 = u.iter().zip(b).map(|(a, c)| a * c).sum();
        u.iter_mut().zip(b).for_each(|(a, c)| *a -= along * c);
    }
    let norm = u.iter().map(|x| x * x).sum::<f64>().sqrt();
    (norm > 1e-9 * before.max(1.0)).then(|| {
        (
            u.iter().map(|x| (x / norm) as f32).collect(),
            (norm / before) as f32,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latent::latent_for_seed;

    /// A toy generator: 8 features, brightness (every feature's level) follows `z · axis`,
    /// one feature also follows z[1]².
    fn render(z: &[f32], axis: &[f32]) -> Vec<f32> {
        let level: f32 = z.iter().zip(axis).map(|(a, b)| a * b).sum();
        let mut f = vec![0.5 + 0.1 * level; 8];
        f[3] += 0.05 * z[1] * z[1];
        f
    }

    #[test]
    fn picks_by_brightness_give_the_brightness_direction() {
        let dim = 16;
        let mut axis = vec![0f32; dim];
        axis[0] = 0.6;
        axis[5] = -0.8;
        // The designer's picks: the 6 brightest and 6 darkest of 40 shots.
        let mut shots: Vec<(Vec<f32>, Vec<f32>)> = (0..40)
            .map(|s| {
                let z = latent_for_seed(s, dim);
                let f = render(&z, &axis);
                (z, f)
            })
            .collect();
        shots.sort_by(|a, b| a.1[0].total_cmp(&b.1[0]));
        let dark: Vec<Vec<f32>> = shots[..6].iter().map(|s| s.1.clone()).collect();
        let bright: Vec<Vec<f32>> = shots[34..].iter().map(|s| s.1.clone()).collect();
        let fit = learn_taste(&bright, &dark).unwrap();
        assert!(fit.held_out_accuracy > 0.9, "{fit:?}");
        let latents: Vec<Vec<f32>> = (1000..1512).map(|s| latent_for_seed(s, dim)).collect();
        let features: Vec<Vec<f32>> = latents.iter().map(|z| render(z, &axis)).collect();
        let (v, kept) = latent_direction(&fit.taste, &latents, &features, &[]).unwrap();
        assert!((kept - 1.0).abs() < 1e-6);
        let cosine: f32 = v.iter().zip(&axis).map(|(a, b)| a * b).sum();
        assert!(cosine > 0.95, "cosine {cosine}: {v:?}");
        // Orthogonal to another active slider, and still of unit length.
        let other = {
            let mut o = vec![0f32; dim];
            o[0] = 1.0;
            o
        };
        let (w, kept) = latent_direction(&fit.taste, &latents, &features, &[other]).unwrap();
        assert!(w[0].abs() < 1e-6, "{w:?}");
        assert!(
            (kept - 0.8).abs() < 0.1,
            "axis[5] is 0.8 of the direction: {kept}"
        );
        let norm: f32 = w.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }

    #[test]
    fn many_picks_use_logistic_regression_and_separate_them() {
        let dim = 8;
        let axis: Vec<f32> = (0..dim).map(|i| if i == 2 { 1.0 } else { 0.0 }).collect();
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for s in 0..200 {
            let z = latent_for_seed(s, dim);
            let f = render(&z, &axis);
            if z[2] > 0.3 {
                with.push(f);
            } else if z[2] < -0.3 {
                without.push(f);
            }
        }
        assert!(with.len().min(without.len()) >= LOGISTIC_MIN_PICKS);
        let fit = learn_taste(&with, &without).unwrap();
        assert!(fit.held_out_accuracy > 0.95, "{fit:?}");
    }

    #[test]
    fn too_few_picks_are_refused_with_the_counts() {
        let f = vec![vec![0.0f32; 4]; 5];
        assert_eq!(
            learn_taste(&f[..4], &f),
            Err(LearnError::TooFewPicks {
                with: 4,
                without: 5
            })
        );
    }
}
