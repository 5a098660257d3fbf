//! Memorisation check: the nearest training image of each shot.
//!
//! A GAN trained on a few hundred photos can learn to replay them. A shot whose distance to
//! its nearest training image is far below what *held-out real* images show (they are new
//! photos of the same products) is flagged as a near-copy.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Bytes summed in 32-bit lanes before joining the 64-bit total: 255² · 1,024 < 2³², so the
/// inner loop vectorises, and the nearest-neighbour search can stop after any chunk.
const CHUNK: usize = 256;

/// Sum of squared differences of two equal-length images, or some value above `bound` as soon
/// as the running sum passes it (the search then skips the rest of a far image).
fn squared_distance_within(a: &[u8], b: &[u8], bound: u64) -> u64 {
    let mut total = 0u64;
    for (x, y) in a.chunks(CHUNK).zip(b.chunks(CHUNK)) {
        // |p − q| in bytes, squared in 16 bits (255² fits), summed in 32: all SSE2 lanes.
        let chunk: u32 = x
            .iter()
            .zip(y)
            .map(|(&p, &q)| {
                let d = u16::from(p.abs_diff(q));
                u32::from(d * d)
            })
            .sum();
        total += u64::from(chunk);
        if total > bound {
            return total;
        }
    }
    total
}

/// Root-mean-square pixel distance in [0, 1] units of a squared-difference sum over `len` bytes.
fn rms_of(squared: u64, len: usize) -> f32 {
    ((squared as f64 / len.max(1) as f64).sqrt() / 255.0) as f32
}

/// Root-mean-square pixel distance in [0, 1] units between two images of equal size.
fn rms(a: &[u8], b: &[u8]) -> f32 {
    rms_of(squared_distance_within(a, b, u64::MAX), a.len())
}

/// For each query, (index into `pool`, RMS distance) of its nearest image (the lowest index
/// on a tie). See [`PixelIndex`] for how; build one to search the same pool again.
#[must_use]
pub fn nearest_neighbours(queries: &[&[u8]], pool: &[&[u8]]) -> Vec<(usize, f32)> {
    PixelIndex::new(pool).nearest(queries, pool)
}

/// A pool of images prepared for exact nearest-neighbour search: each image's pixel sum, and
/// the pool in order of it. Pool images are visited in order of how close their sums are to
/// the query's; the walk ends once that alone proves every image left is farther
/// (Cauchy–Schwarz: Σ(p−q)² ≥ (Σp − Σq)² / n), and an image is abandoned as soon as its
/// partial sum passes the best so far.
pub struct PixelIndex {
    sums: Vec<u64>,
    order: Vec<usize>,
}

fn byte_sum(image: &[u8]) -> u64 {
    image.iter().map(|&v| u64::from(v)).sum()
}

impl PixelIndex {
    #[must_use]
    pub fn new(pool: &[&[u8]]) -> Self {
        let sums: Vec<u64> = pool.par_iter().map(|p| byte_sum(p)).collect();
        let mut order: Vec<usize> = (0..pool.len()).collect();
        order.sort_by_key(|&i| sums[i]);
        Self { sums, order }
    }

    /// For each query, (index into `pool`, RMS distance) of its nearest image (the lowest
    /// index on a tie); `pool` is the one the index was built from.
    #[must_use]
    pub fn nearest(&self, queries: &[&[u8]], pool: &[&[u8]]) -> Vec<(usize, f32)> {
        debug_assert_eq!(pool.len(), self.sums.len(), "another pool than the index's");
        queries
            .par_iter()
            .map(|q| self.nearest_one(q, pool))
            .collect()
    }

    fn nearest_one(&self, q: &[u8], pool: &[&[u8]]) -> (usize, f32) {
        let (sums, order) = (&self.sums, &self.order);
        let (target, n) = (byte_sum(q), q.len() as u64);
        // Walk outwards from the query's place in the sorted sums, nearer sum first.
        let at = order.partition_point(|&i| sums[i] < target);
        let (mut left, mut right) = (at, at);
        let mut best: Option<(usize, u64)> = None;
        loop {
            let candidate = match (left.checked_sub(1), order.get(right)) {
                (None, None) => break,
                (Some(l), Some(&r)) if target - sums[order[l]] > sums[r] - target => {
                    right += 1;
                    r
                }
                (Some(l), _) => {
                    left = l;
                    order[l]
                }
                (None, Some(&r)) => {
                    right += 1;
                    r
                }
            };
            let gap = target.abs_diff(sums[candidate]);
            if best.is_some_and(|(_, b)| gap * gap > b * n) {
                break;
            }
            let bound = best.map_or(u64::MAX, |(_, b)| b);
            let d = squared_distance_within(q, pool[candidate], bound);
            if best.is_none_or(|(i, b)| d < b || (d == b && candidate < i)) {
                best = Some((candidate, d));
            }
        }
        best.map_or((0, f32::INFINITY), |(i, d)| (i, rms_of(d, q.len())))
    }
}

/// For each query vector, the Euclidean distance to its nearest vector in `pool` (feature
/// space: the data-copying test where a feature network reads the data).
#[must_use]
pub fn nearest_feature_distances(queries: &[Vec<f32>], pool: &[Vec<f32>]) -> Vec<f32> {
    queries
        .par_iter()
        .map(|q| {
            pool.iter()
                .map(|p| euclidean(q, p))
                .fold(f32::INFINITY, f32::min)
        })
        .collect()
}

/// Euclidean distance between two feature vectors.
pub(super) fn euclidean(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

/// Most items a spread measurement compares: its cost grows with the square of the count.
pub const SPREAD_ITEMS: usize = 500;

/// How spread out a set is: the median distance from each item to its nearest *other* item.
/// Nearest-neighbour distances shrink as a set grows, so only sets of equal size compare.
/// `None` for fewer than two items.
fn median_nearest_other<T: Sync>(
    items: &[T],
    distance: impl Fn(&T, &T) -> f32 + Sync,
) -> Option<f32> {
    if items.len() < 2 {
        return None;
    }
    let mut nearest: Vec<f32> = (0..items.len())
        .into_par_iter()
        .map(|i| {
            items
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, other)| distance(&items[i], other))
                .fold(f32::INFINITY, f32::min)
        })
        .collect();
    nearest.sort_by(f32::total_cmp);
    nearest.get(nearest.len() / 2).copied()
}

/// How spread out `images` are (`median_nearest_other`), by RMS pixel distance.
#[must_use]
pub fn pixel_spread(images: &[&[u8]]) -> Option<f32> {
    median_nearest_other(images, |a, b| rms(a, b))
}

/// How spread out `rows` are (`median_nearest_other`), by Euclidean distance.
#[must_use]
pub fn feature_spread(rows: &[Vec<f32>]) -> Option<f32> {
    median_nearest_other(rows, |a, b| euclidean(a, b))
}

/// Distances from each held-out real image to its nearest training image, sorted: how near a
/// *new* photo of the same products comes to the training set. Depends only on the data.
#[must_use]
pub fn held_out_distances(train: &[&[u8]], held_out: &[&[u8]]) -> Vec<f32> {
    let mut distances: Vec<f32> = nearest_neighbours(held_out, train)
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    distances.sort_by(f32::total_cmp);
    distances
}

/// Half the median of [`held_out_distances`]: a shot closer than this to a training image is
/// a near-copy.
#[must_use]
pub fn threshold_from_held_out(sorted_distances: &[f32]) -> f32 {
    0.5 * sorted_distances
        .get(sorted_distances.len() / 2)
        .copied()
        .unwrap_or(0.0)
}

/// [`threshold_from_held_out`] of the held-out images' distances to the training images.
#[must_use]
pub fn near_copy_threshold(train: &[&[u8]], held_out: &[&[u8]]) -> f32 {
    threshold_from_held_out(&held_out_distances(train, held_out))
}

/// The data-copying test of Meehan, Chaudhuri and Dasgupta (2020, "A non-parametric test to
/// detect data-copying in generative models"), in its global form: are shots nearer to the
/// training images than new real photos are? The near-copy share only counts blatant replays;
/// this sees a whole generator drifting towards its training set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataCopying {
    /// Share of (shot, held-out image) pairs in which the shot lies nearer to its nearest
    /// training image (ties count half). 0.5: as near as new photos; towards 1: replaying the
    /// training set; under 0.5: farther (under-fitting or artefacts).
    pub closer: f64,
    /// Mann–Whitney U z-score of the same comparison (Meehan's `Z_U`): negative when shots are
    /// nearer. It grows with the number of images; below −3 is rarely chance.
    pub z: f64,
}

impl DataCopying {
    /// Compares shots' nearest-training distances with held-out images' ones. `None` when
    /// either side is empty.
    #[must_use]
    pub fn test(shot_distances: &[f32], held_out_distances: &[f32]) -> Option<Self> {
        let (n1, n2) = (shot_distances.len(), held_out_distances.len());
        if n1 == 0 || n2 == 0 {
            return None;
        }
        // Pooled ranks (1-based, ties averaged); `true` marks a shot.
        let mut pooled: Vec<(f32, bool)> = shot_distances
            .iter()
            .map(|&d| (d, true))
            .chain(held_out_distances.iter().map(|&d| (d, false)))
            .collect();
        pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut shot_rank_sum = 0.0f64;
        let mut tie_term = 0.0f64;
        let mut start = 0;
        while start < pooled.len() {
            let mut end = start;
            while end < pooled.len() && pooled[end].0.total_cmp(&pooled[start].0).is_eq() {
                end += 1;
            }
            let mean_rank = (start + end + 1) as f64 / 2.0;
            let shots_here = pooled[start..end].iter().filter(|p| p.1).count();
            shot_rank_sum += mean_rank * shots_here as f64;
            let t = (end - start) as f64;
            tie_term += t * t * t - t;
            start = end;
        }
        let (a, b) = (n1 as f64, n2 as f64);
        // Pairs in which the shot is the farther one.
        let u = shot_rank_sum - a * (a + 1.0) / 2.0;
        let n = a + b;
        // n ≥ 2 here (one of each), so n(n − 1) > 0.
        let variance = a * b / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
        let z = if variance > 0.0 {
            (u - a * b / 2.0) / variance.sqrt()
        } else {
            0.0
        };
        Some(Self {
            closer: 1.0 - u / (a * b),
            z,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Memorisation {
    /// Per shot: (nearest training index, distance, near-copy?).
    pub shots: Vec<(usize, f32, bool)>,
    /// Distances below this are near-copies: half the median distance from held-out real
    /// images to their nearest training image.
    pub threshold: f32,
}

impl Memorisation {
    /// Judges `shots` against `train`, calibrated by `held_out` real images.
    #[must_use]
    pub fn assess(shots: &[&[u8]], train: &[&[u8]], held_out: &[&[u8]]) -> Self {
        Self::against(shots, train, near_copy_threshold(train, held_out))
    }

    /// As [`Self::assess`], with the threshold already known (it depends only on the data).
    #[must_use]
    pub fn against(shots: &[&[u8]], train: &[&[u8]], threshold: f32) -> Self {
        let shots = nearest_neighbours(shots, train)
            .into_iter()
            .map(|(i, d)| (i, d, d < threshold))
            .collect();
        Self { shots, threshold }
    }

    #[must_use]
    pub fn near_copy_fraction(&self) -> f64 {
        let n = self.shots.iter().filter(|s| s.2).count();
        n as f64 / self.shots.len().max(1) as f64
    }

    /// Each shot's distance to its nearest training image.
    #[must_use]
    pub fn distances(&self) -> Vec<f32> {
        self.shots.iter().map(|s| s.1).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(v: &[Vec<u8>]) -> Vec<&[u8]> {
        v.iter().map(Vec::as_slice).collect()
    }

    /// The pruned search gives what comparing every pair gives, ties (duplicates in the pool,
    /// equal pixel sums) included, on images long enough to be abandoned part-way.
    #[test]
    fn the_pruned_search_finds_what_the_full_one_finds() {
        let mut rng = crate::rng::Rng::new(11);
        let mut image = |len: usize, spread: u64| -> Vec<u8> {
            let base = rng.next_u64() % 200;
            (0..len)
                .map(|_| (base + rng.next_u64() % spread) as u8)
                .collect()
        };
        for len in [16, 700, 3000] {
            let mut pool: Vec<Vec<u8>> = (0..300).map(|_| image(len, 56)).collect();
            // Duplicates before and after their twin, and an image with another's pixel sum.
            pool.push(pool[17].clone());
            pool[3] = pool[250].clone();
            pool.push(pool[9].iter().rev().copied().collect());
            let mut queries: Vec<Vec<u8>> = (0..40)
                .map(|k| {
                    if k % 4 == 0 {
                        pool[k * 7].clone()
                    } else {
                        image(len, 56)
                    }
                })
                .collect();
            queries.extend([pool[17].clone(), pool[250].clone(), pool[9].clone()]);
            let full: Vec<(usize, f32)> = queries
                .iter()
                .map(|q| {
                    pool.iter()
                        .enumerate()
                        .map(|(i, p)| (i, rms(q, p)))
                        .min_by(|a, b| a.1.total_cmp(&b.1))
                        .unwrap()
                })
                .collect();
            let found = nearest_neighbours(&refs(&queries), &refs(&pool));
            assert_eq!(found, full, "{len} bytes");
            assert_eq!((found[40].0, found[41].0, found[42].0), (17, 3, 9));
        }
        assert!(
            nearest_neighbours(&[&[1, 2]], &[])
                .iter()
                .all(|n| n.1.is_infinite())
        );
    }

    #[test]
    fn copies_are_flagged_and_new_images_are_not() {
        let train: Vec<Vec<u8>> = (0..20)
            .map(|i| (0..64).map(|p| ((p * 7 + i * 13) % 256) as u8).collect())
            .collect();
        let held: Vec<Vec<u8>> = (0..10)
            .map(|i| (0..64).map(|p| ((p * 11 + i * 29) % 256) as u8).collect())
            .collect();
        let copy = train[3].clone();
        let new = held[0]
            .iter()
            .map(|v| v.wrapping_add(40))
            .collect::<Vec<u8>>();

        let m = Memorisation::assess(&[&copy, &new], &refs(&train), &refs(&held));
        assert_eq!(m.shots[0].0, 3);
        assert!(m.shots[0].2, "an exact copy is a near-copy");
        assert!(!m.shots[1].2, "a new image is not");
        assert!((m.near_copy_fraction() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn data_copying_test_reads_nearer_as_negative_z() {
        let held: Vec<f32> = (0..200).map(|i| 0.2 + i as f32 * 0.001).collect();
        // Same distribution: no copying.
        let alike = DataCopying::test(&held, &held).unwrap();
        assert!((alike.closer - 0.5).abs() < 1e-9 && alike.z.abs() < 1e-9);
        // Every shot nearer than every held-out image: total copying.
        let copies: Vec<f32> = held.iter().map(|d| d - 0.2).collect();
        let copying = DataCopying::test(&copies, &held).unwrap();
        assert!((copying.closer - 1.0).abs() < 1e-9);
        assert!(copying.z < -15.0, "z {}", copying.z);
        // Every shot farther: under-fitting, positive z.
        let far: Vec<f32> = held.iter().map(|d| d + 0.5).collect();
        let under = DataCopying::test(&far, &held).unwrap();
        assert!(under.closer.abs() < 1e-9 && under.z > 15.0);
        // Hand-checked small case: shots {1, 3}, held-out {2, 4}: one pair of four has the
        // shot farther (3 > 2), so closer = 3/4; U = 1, mean 2, sd sqrt(5/3).
        let small = DataCopying::test(&[1.0, 3.0], &[2.0, 4.0]).unwrap();
        assert!((small.closer - 0.75).abs() < 1e-9);
        assert!((small.z - (-1.0 / (5.0f64 / 3.0).sqrt())).abs() < 1e-9);
        assert!(DataCopying::test(&[], &held).is_none());
    }
}
