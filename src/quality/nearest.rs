//! Memorisation check: the nearest training image of each shot.
//!
//! A GAN trained on a few hundred photos can learn to replay them. A shot whose distance to
//! its nearest training image is far below what *held-out real* images show (they are new
//! photos of the same products) is flagged as a near-copy.

use rayon::prelude::*;

/// Root-mean-square pixel distance in [0, 1] units between two images of equal size.
fn rms(a: &[u8], b: &[u8]) -> f32 {
    let sum: u64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = i64::from(x) - i64::from(y);
            (d * d) as u64
        })
        .sum();
    ((sum as f64 / a.len().max(1) as f64).sqrt() / 255.0) as f32
}

/// For each query, (index into `pool`, RMS distance) of its nearest image.
#[must_use]
pub fn nearest_neighbours(queries: &[&[u8]], pool: &[&[u8]]) -> Vec<(usize, f32)> {
    queries
        .par_iter()
        .map(|q| {
            pool.iter()
                .enumerate()
                .map(|(i, p)| (i, rms(q, p)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap_or((0, f32::INFINITY))
        })
        .collect()
}

/// Near-copy verdicts for a set of shots.
/// Half the median distance from held-out real images to their nearest training image: a
/// shot closer than this to a training image is a near-copy. Depends only on the data.
#[must_use]
pub fn near_copy_threshold(train: &[&[u8]], held_out: &[&[u8]]) -> f32 {
    let mut baseline: Vec<f32> = nearest_neighbours(held_out, train)
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    baseline.sort_by(f32::total_cmp);
    0.5 * baseline.get(baseline.len() / 2).copied().unwrap_or(0.0)
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(v: &[Vec<u8>]) -> Vec<&[u8]> {
        v.iter().map(Vec::as_slice).collect()
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
}
