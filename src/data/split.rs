//! Deterministic train / validation / test split.
//!
//! Each class is split on its own (so every class is in the training set), ranking images by a
//! keyed hash of their *content*: the same folder and seed always give the same split, on any
//! machine and in any file order, and renaming files does not move images between parts.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Dataset;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SplitPart {
    Train,
    Validation,
    Test,
}

/// Indices into a [`Dataset`] for each part.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Split {
    pub train: Vec<usize>,
    pub validation: Vec<usize>,
    pub test: Vec<usize>,
}

impl Split {
    /// Splits `dataset` by `ratios` (train, validation, test; summing to 1) under `seed`.
    ///
    /// Rounding favours the training set: a class of 3 images with 90/5/5 stays all in train.
    #[must_use]
    pub fn new(dataset: &Dataset, ratios: [f64; 3], seed: u64) -> Self {
        let mut split = Self::default();
        let classes = dataset.class_names.len().max(1);
        for class in 0..classes {
            let mut members: Vec<(usize, [u8; 32])> = (0..dataset.len())
                .filter(|&i| dataset.labels[i] as usize == class)
                .map(|i| {
                    let mut h = Sha256::new();
                    h.update(seed.to_le_bytes());
                    h.update(dataset.content_hashes[i]);
                    (i, h.finalize().into())
                })
                .collect();
            // Equal contents (kept duplicates) fall back to file order.
            members.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
            let n = members.len();
            let n_val = (n as f64 * ratios[1]).floor() as usize;
            let n_test = ((n as f64 * ratios[2]).floor() as usize).min(n - n_val);
            let n_val = if n_val + n_test >= n {
                n.saturating_sub(1 + n_test)
            } else {
                n_val
            };
            for (rank, (index, _)) in members.into_iter().enumerate() {
                if rank < n_val {
                    split.validation.push(index);
                } else if rank < n_val + n_test {
                    split.test.push(index);
                } else {
                    split.train.push(index);
                }
            }
        }
        split.train.sort_unstable();
        split.validation.sort_unstable();
        split.test.sort_unstable();
        split
    }

    #[must_use]
    pub fn part(&self, part: SplitPart) -> &[usize] {
        match part {
            SplitPart::Train => &self.train,
            SplitPart::Validation => &self.validation,
            SplitPart::Test => &self.test,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fake(n: usize, classes: usize) -> Dataset {
        Dataset {
            resolution: 2,
            channels: 1,
            pixels: vec![0; n * 4],
            labels: (0..n).map(|i| (i % classes) as u32).collect(),
            class_names: (0..classes).map(|c| format!("c{c}")).collect(),
            sources: (0..n).map(|i| PathBuf::from(format!("{i}.png"))).collect(),
            content_hashes: (0..n)
                .map(|i| Sha256::digest((i as u64).to_le_bytes()).into())
                .collect(),
        }
    }

    #[test]
    fn split_is_deterministic_disjoint_and_complete() {
        let d = fake(1000, 3);
        let a = Split::new(&d, [0.9, 0.05, 0.05], 7);
        let b = Split::new(&d, [0.9, 0.05, 0.05], 7);
        assert_eq!(a, b);
        let c = Split::new(&d, [0.9, 0.05, 0.05], 8);
        assert_ne!(a, c, "another seed gives another split");
        let mut all: Vec<usize> = a
            .train
            .iter()
            .chain(&a.validation)
            .chain(&a.test)
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert!((a.validation.len() as i64 - 50).abs() <= 3);
        assert!((a.test.len() as i64 - 50).abs() <= 3);
    }

    #[test]
    fn split_does_not_depend_on_file_order() {
        let d = fake(200, 1);
        let a = Split::new(&d, [0.8, 0.1, 0.1], 1);
        let order: Vec<usize> = (0..200).rev().collect();
        let r = d.subset(&order);
        let b = Split::new(&r, [0.8, 0.1, 0.1], 1);
        let hashes = |d: &Dataset, idx: &[usize]| {
            let mut v: Vec<[u8; 32]> = idx.iter().map(|&i| d.content_hashes[i]).collect();
            v.sort_unstable();
            v
        };
        assert_eq!(hashes(&d, &a.validation), hashes(&r, &b.validation));
        assert_eq!(hashes(&d, &a.test), hashes(&r, &b.test));
    }

    #[test]
    fn tiny_classes_stay_in_train() {
        let d = fake(3, 1);
        let s = Split::new(&d, [0.9, 0.05, 0.05], 1);
        assert_eq!(s.train.len(), 3);
    }
}
