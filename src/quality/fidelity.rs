//! Improved precision and recall (Kynkäänniemi et al. 2019, "Improved Precision and Recall
//! Metric for Assessing Generative Models") in a network's feature space.
//!
//! One distance (SWD, Fréchet) mixes two failures a designer tells apart at a glance: broken
//! shots (low precision: shots outside where real photos lie) and missing variety (low recall:
//! real photos no shot comes near). Each set's region is the union of balls around its points,
//! each ball reaching that point's k-th nearest neighbour in the same set.
//!
//! Density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for
//! Generative Models") use the real balls only: one outlying photo has a wide ball that
//! swallows many shots and inflates precision, while density counts *how many* real balls
//! hold a shot, and coverage asks which real photos have a shot in their own ball.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::nearest::euclidean;

/// Neighbour whose distance sets each ball's radius: the paper's choice (k = 3), which it
/// found to track quality at set sizes from a thousand up.
pub const NEIGHBOURHOOD_K: usize = 3;

/// Shares of shots and of real images inside the other set's region, each in `[0, 1]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrecisionRecall {
    /// Share of shots inside the real images' region: how many shots look like *some* photo.
    pub precision: f64,
    /// Share of real images inside the shots' region: how much of the photos' variety the
    /// generator covers.
    pub recall: f64,
}

impl PrecisionRecall {
    /// Precision and recall of `shots` against `real` (feature rows of one length). Both sets
    /// should be the same size: a ball's radius shrinks as its set grows. `None` when either
    /// set has no more than `k` rows.
    #[must_use]
    pub fn measure(shots: &[Vec<f32>], real: &[Vec<f32>], k: usize) -> Option<Self> {
        if k == 0 || shots.len() <= k || real.len() <= k {
            return None;
        }
        let real_radii = kth_neighbour_distances(real, k);
        let shot_radii = kth_neighbour_distances(shots, k);
        Some(Self {
            precision: share_inside(shots, real, &real_radii),
            recall: share_inside(real, shots, &shot_radii),
        })
    }
}

/// Neighbour for density and coverage's balls: Naeem et al.'s choice (k = 5).
pub const DENSITY_K: usize = 5;

/// Density (about 1 when shots lie where photos do, lower for broken shots, above 1 when shots
/// crowd the photos' densest parts) and coverage (share of real photos with a shot in their
/// ball, in `[0, 1]`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DensityCoverage {
    /// Mean number of real balls holding a shot, over `k`.
    pub density: f64,
    /// Share of real images with at least one shot in their ball.
    pub coverage: f64,
}

impl DensityCoverage {
    /// Density and coverage of `shots` against `real` (feature rows of one length), balls
    /// reaching each real row's `k`-th neighbour. Use equal counts, as for precision. `None`
    /// when `real` has no more than `k` rows or there is no shot.
    #[must_use]
    pub fn measure(shots: &[Vec<f32>], real: &[Vec<f32>], k: usize) -> Option<Self> {
        if k == 0 || shots.is_empty() || real.len() <= k {
            return None;
        }
        let radii = kth_neighbour_distances(real, k);
        // For each real ball, how many shots it holds.
        let held: Vec<usize> = real
            .par_iter()
            .zip(&radii)
            .map(|(r, &radius)| shots.iter().filter(|q| euclidean(q, r) <= radius).count())
            .collect();
        let total: usize = held.iter().sum();
        let covered = held.iter().filter(|&&n| n > 0).count();
        Some(Self {
            density: total as f64 / (k * shots.len()) as f64,
            coverage: covered as f64 / real.len() as f64,
        })
    }
}

/// For each row, the distance to its `k`-th nearest *other* row (`rows.len() > k`).
fn kth_neighbour_distances(rows: &[Vec<f32>], k: usize) -> Vec<f32> {
    (0..rows.len())
        .into_par_iter()
        .map(|i| {
            // The k smallest distances so far, ascending.
            let mut nearest: Vec<f32> = Vec::with_capacity(k + 1);
            for (j, other) in rows.iter().enumerate() {
                if j == i {
                    continue;
                }
                let d = euclidean(&rows[i], other);
                if nearest.len() < k || d < nearest[k - 1] {
                    let at = nearest.partition_point(|&n| n <= d);
                    nearest.insert(at, d);
                    nearest.truncate(k);
                }
            }
            nearest[k - 1]
        })
        .collect()
}

/// Share of `queries` within the ball of at least one row of `region` (`radii[j]` is row
/// `j`'s radius).
fn share_inside(queries: &[Vec<f32>], region: &[Vec<f32>], radii: &[f32]) -> f64 {
    let inside = queries
        .par_iter()
        .filter(|q| {
            region
                .iter()
                .zip(radii)
                .any(|(r, &radius)| euclidean(q, r) <= radius)
        })
        .count();
    inside as f64 / queries.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// `n` rows of `dim` Gaussian features around `centre`, spread `scale`.
    fn gaussian(rng: &mut Rng, n: usize, dim: usize, centre: f32, scale: f32) -> Vec<Vec<f32>> {
        (0..n)
            .map(|_| (0..dim).map(|_| centre + scale * rng.normal()).collect())
            .collect()
    }

    /// A generator that learned one corner of the data: 600 shots hugging five real rows.
    fn collapsed_onto(real: &[Vec<f32>], rng: &mut Rng) -> Vec<Vec<f32>> {
        (0..600)
            .map(|i| {
                real[i % 5]
                    .iter()
                    .map(|v| v + 0.01 * rng.normal())
                    .collect()
            })
            .collect()
    }

    /// 600 shots, three in ten far off (broken), the rest like the photos.
    fn partly_broken(rng: &mut Rng) -> Vec<Vec<f32>> {
        let mut shots = gaussian(rng, 420, 16, 0.0, 1.0);
        shots.extend(gaussian(rng, 180, 16, 12.0, 1.0));
        shots
    }

    #[test]
    fn two_draws_of_one_distribution_score_high_on_both() {
        let mut rng = Rng::new(5);
        let real = gaussian(&mut rng, 600, 16, 0.0, 1.0);
        let shots = gaussian(&mut rng, 600, 16, 0.0, 1.0);
        let pr = PrecisionRecall::measure(&shots, &real, NEIGHBOURHOOD_K).unwrap();
        assert!(pr.precision > 0.6 && pr.recall > 0.6, "{pr:?}");
    }

    #[test]
    fn shots_far_from_every_photo_have_no_precision_and_cover_nothing() {
        let mut rng = Rng::new(6);
        let real = gaussian(&mut rng, 300, 16, 0.0, 1.0);
        let noise = gaussian(&mut rng, 300, 16, 10.0, 1.0);
        let pr = PrecisionRecall::measure(&noise, &real, NEIGHBOURHOOD_K).unwrap();
        assert_eq!((pr.precision, pr.recall), (0.0, 0.0));
    }

    #[test]
    fn collapsed_shots_keep_precision_and_lose_recall() {
        let mut rng = Rng::new(7);
        let real = gaussian(&mut rng, 600, 16, 0.0, 1.0);
        let fair = gaussian(&mut rng, 600, 16, 0.0, 1.0);
        let collapsed = collapsed_onto(&real, &mut rng);
        let fair = PrecisionRecall::measure(&fair, &real, NEIGHBOURHOOD_K).unwrap();
        let collapsed = PrecisionRecall::measure(&collapsed, &real, NEIGHBOURHOOD_K).unwrap();
        assert!(collapsed.precision > 0.99, "{collapsed:?}");
        assert!(collapsed.recall < 0.05, "{collapsed:?}");
        assert!(
            collapsed.recall < fair.recall / 10.0,
            "{collapsed:?} vs {fair:?}"
        );
    }

    #[test]
    fn broken_shots_lower_precision_by_their_share() {
        let mut rng = Rng::new(8);
        let real = gaussian(&mut rng, 600, 16, 0.0, 1.0);
        let shots = partly_broken(&mut rng);
        let clean = gaussian(&mut rng, 600, 16, 0.0, 1.0);
        let broken = PrecisionRecall::measure(&shots, &real, NEIGHBOURHOOD_K).unwrap();
        let clean = PrecisionRecall::measure(&clean, &real, NEIGHBOURHOOD_K).unwrap();
        let drop = clean.precision - broken.precision;
        assert!(
            (drop - 0.3 * clean.precision).abs() < 0.05,
            "{broken:?} vs {clean:?}"
        );
    }

    #[test]
    fn density_and_coverage_are_near_one_for_two_draws_of_one_distribution() {
        let mut rng = Rng::new(9);
        let real = gaussian(&mut rng, 600, 16, 0.0, 1.0);
        let shots = gaussian(&mut rng, 600, 16, 0.0, 1.0);
        let dc = DensityCoverage::measure(&shots, &real, DENSITY_K).unwrap();
        assert!((dc.density - 1.0).abs() < 0.25, "{dc:?}");
        assert!(dc.coverage > 0.8, "{dc:?}");
    }

    #[test]
    fn one_outlying_photo_lends_precision_to_every_shot_near_it_but_not_density() {
        let mut rng = Rng::new(10);
        let mut real = gaussian(&mut rng, 600, 16, 0.0, 1.0);
        // Broken shots, far from every typical photo.
        let shots = gaussian(&mut rng, 600, 16, 3.0, 1.0);
        let clean = PrecisionRecall::measure(&shots, &real, NEIGHBOURHOOD_K).unwrap();
        let clean_dc = DensityCoverage::measure(&shots, &real, DENSITY_K).unwrap();
        assert!(
            clean.precision < 0.01 && clean_dc.density < 0.01,
            "{clean:?} {clean_dc:?}"
        );
        // One odd photo among the broken shots: its ball reaches the main cluster.
        real.push(vec![3.0; 16]);
        let stray = PrecisionRecall::measure(&shots, &real, NEIGHBOURHOOD_K).unwrap();
        let stray_dc = DensityCoverage::measure(&shots, &real, DENSITY_K).unwrap();
        assert!(stray.precision > 0.9, "{stray:?}");
        assert!(
            stray_dc.density <= 1.0 / DENSITY_K as f64 + 0.01,
            "{stray_dc:?}"
        );
        assert!(stray_dc.coverage < 0.01, "{stray_dc:?}");
    }

    #[test]
    fn collapsed_shots_cover_few_photos_and_broken_shots_lower_density() {
        let mut rng = Rng::new(11);
        let real = gaussian(&mut rng, 600, 16, 0.0, 1.0);
        let collapsed = collapsed_onto(&real, &mut rng);
        let collapsed = DensityCoverage::measure(&collapsed, &real, DENSITY_K).unwrap();
        assert!(collapsed.coverage < 0.05, "{collapsed:?}");
        let shots = partly_broken(&mut rng);
        let clean = gaussian(&mut rng, 600, 16, 0.0, 1.0);
        let broken = DensityCoverage::measure(&shots, &real, DENSITY_K).unwrap();
        let clean = DensityCoverage::measure(&clean, &real, DENSITY_K).unwrap();
        assert!(
            (broken.density - 0.7 * clean.density).abs() < 0.1,
            "{broken:?} vs {clean:?}"
        );
    }

    #[test]
    fn density_counts_every_ball_holding_a_shot() {
        // Real rows 0, 1, 3, 7; with k = 1 their radii are 1, 1, 2, 4.
        let real: Vec<Vec<f32>> = [0.0, 1.0, 3.0, 7.0].iter().map(|&x| vec![x]).collect();
        // 0.5 lies in the balls of 0 and 1, 5 in those of 3 and 7, 20 in none.
        let measure = |shots: &[f32]| {
            let shots: Vec<Vec<f32>> = shots.iter().map(|&x| vec![x]).collect();
            DensityCoverage::measure(&shots, &real, 1).unwrap()
        };
        assert_eq!(
            measure(&[0.5, 20.0]),
            DensityCoverage {
                density: 1.0,
                coverage: 0.5
            }
        );
        assert_eq!(
            measure(&[0.5, 5.0]),
            DensityCoverage {
                density: 2.0,
                coverage: 1.0
            }
        );
        let shots = vec![vec![0.5]];
        assert!(DensityCoverage::measure(&[], &real, 1).is_none());
        assert!(DensityCoverage::measure(&shots, &real, 4).is_none());
    }

    #[test]
    fn the_kth_neighbour_skips_the_row_itself() {
        let rows: Vec<Vec<f32>> = [0.0, 1.0, 3.0, 7.0].iter().map(|&x| vec![x]).collect();
        assert_eq!(kth_neighbour_distances(&rows, 1), vec![1.0, 1.0, 2.0, 4.0]);
        assert_eq!(kth_neighbour_distances(&rows, 2), vec![3.0, 2.0, 3.0, 6.0]);
        assert!(PrecisionRecall::measure(&rows, &rows, 4).is_none());
        assert!(PrecisionRecall::measure(&rows, &rows, 0).is_none());
    }
}
