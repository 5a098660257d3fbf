//! Fréchet distance between two sets of feature vectors, each summarised by its mean and
//! covariance (the formula behind FID, Heusel et al. 2017):
//! ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½).
//!
//! Pure f64 CPU code; the matrix square roots come from a Jacobi eigen-decomposition, exact
//! enough for the 128 × 128 covariances used here and free of any linear-algebra dependency.

/// Mean and covariance of a set of feature vectors.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureStats {
    pub mean: Vec<f64>,
    /// Row-major `dim × dim`, unbiased (divided by n − 1).
    pub covariance: Vec<f64>,
}

impl FeatureStats {
    /// Statistics of `rows` (all of one length). `None` for fewer than two rows.
    #[must_use]
    pub fn of(rows: &[Vec<f32>]) -> Option<Self> {
        let n = rows.len();
        let dim = rows.first()?.len();
        if n < 2 || rows.iter().any(|r| r.len() != dim) {
            return None;
        }
        let mut mean = vec![0.0; dim];
        for row in rows {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += f64::from(v);
            }
        }
        for m in &mut mean {
            *m /= n as f64;
        }
        let mut covariance = vec![0.0; dim * dim];
        let mut centred = vec![0.0; dim];
        for row in rows {
            for ((c, &v), m) in centred.iter_mut().zip(row).zip(&mean) {
                *c = f64::from(v) - m;
            }
            for i in 0..dim {
                let ci = centred[i];
                for j in i..dim {
                    covariance[i * dim + j] += ci * centred[j];
                }
            }
        }
        for i in 0..dim {
            for j in i..dim {
                let v = covariance[i * dim + j] / (n - 1) as f64;
                covariance[i * dim + j] = v;
                covariance[j * dim + i] = v;
            }
        }
        Some(Self { mean, covariance })
    }

    fn dim(&self) -> usize {
        self.mean.len()
    }
}

/// The Fréchet distance between two feature distributions (0 for identical statistics).
///
/// # Panics
/// When the two were computed from vectors of different lengths (a programming error).
#[must_use]
pub fn frechet_distance(a: &FeatureStats, b: &FeatureStats) -> f64 {
    let dim = a.dim();
    assert_eq!(dim, b.dim(), "feature lengths differ");
    let mean_term: f64 = a
        .mean
        .iter()
        .zip(&b.mean)
        .map(|(x, y)| (x - y).powi(2))
        .sum();
    let trace = |m: &[f64]| (0..dim).map(|i| m[i * dim + i]).sum::<f64>();
    let root_a = psd_sqrt(&a.covariance, dim);
    let mut inner = matmul(&matmul(&root_a, &b.covariance, dim), &root_a, dim);
    // Symmetric in exact arithmetic; make it so in floating point before Jacobi.
    for i in 0..dim {
        for j in i + 1..dim {
            let mean = 0.5 * (inner[i * dim + j] + inner[j * dim + i]);
            inner[i * dim + j] = mean;
            inner[j * dim + i] = mean;
        }
    }
    let (values, _) = symmetric_eigen(&inner, dim);
    let cross: f64 = values.iter().map(|&v| v.max(0.0).sqrt()).sum();
    (mean_term + trace(&a.covariance) + trace(&b.covariance) - 2.0 * cross).max(0.0)
}

fn matmul(x: &[f64], y: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let xik = x[i * n + k];
            if xik == 0.0 {
                continue;
            }
            for j in 0..n {
                out[i * n + j] += xik * y[k * n + j];
            }
        }
    }
    out
}

/// The square root of a symmetric positive semi-definite matrix (negative eigenvalues from
/// rounding are clamped to zero).
fn psd_sqrt(m: &[f64], n: usize) -> Vec<f64> {
    let (values, vectors) = symmetric_eigen(m, n);
    let mut out = vec![0.0; n * n];
    for (k, &value) in values.iter().enumerate() {
        let root = value.max(0.0).sqrt();
        if root == 0.0 {
            continue;
        }
        for i in 0..n {
            let vik = vectors[i * n + k] * root;
            for j in 0..n {
                out[i * n + j] += vik * vectors[j * n + k];
            }
        }
    }
    out
}

/// Eigenvalues and eigenvectors (as the columns of a row-major matrix) of a symmetric matrix,
/// by cyclic Jacobi rotations.
fn symmetric_eigen(m: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = m.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let scale: f64 = a
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum::<f64>()
            .sqrt();
        if off <= 1e-14 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() <= f64::MIN_POSITIVE {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let akp = a[k * n + p];
                    let akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let apk = a[p * n + k];
                    let aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let vkp = v[k * n + p];
                    let vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn gaussian_rows(n: usize, means: &[f32], sds: &[f32], seed: u64) -> Vec<Vec<f32>> {
        let mut rng = Rng::derived(seed, "frechet-test");
        (0..n)
            .map(|_| {
                means
                    .iter()
                    .zip(sds)
                    .map(|(m, s)| m + s * rng.normal())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn identical_sets_are_at_distance_zero() {
        let rows = gaussian_rows(200, &[0.0, 1.0, -2.0], &[1.0, 0.5, 2.0], 1);
        let stats = FeatureStats::of(&rows).expect("stats");
        assert!(frechet_distance(&stats, &stats) < 1e-9);
    }

    #[test]
    fn matches_the_closed_form_for_independent_gaussians() {
        // For diagonal covariances the distance is Σ (μ₁ − μ₂)² + (σ₁ − σ₂)².
        let a = FeatureStats::of(&gaussian_rows(20_000, &[0.0, 0.0], &[1.0, 2.0], 2)).unwrap();
        let b = FeatureStats::of(&gaussian_rows(20_000, &[1.0, 0.0], &[3.0, 2.0], 3)).unwrap();
        let expected = 1.0 + 4.0;
        let got = frechet_distance(&a, &b);
        assert!(
            (got - expected).abs() < 0.15,
            "got {got}, expected {expected}"
        );
        assert!(
            (frechet_distance(&b, &a) - got).abs() < 1e-6,
            "not symmetric"
        );
    }

    #[test]
    fn eigen_decomposition_rebuilds_the_matrix() {
        let rows = gaussian_rows(50, &[0.0; 6], &[1.0, 2.0, 0.5, 1.5, 1.0, 3.0], 4);
        let stats = FeatureStats::of(&rows).unwrap();
        let root = psd_sqrt(&stats.covariance, 6);
        let square = matmul(&root, &root, 6);
        for (x, y) in square.iter().zip(&stats.covariance) {
            assert!((x - y).abs() < 1e-9, "{x} vs {y}");
        }
    }

    #[test]
    fn too_few_or_ragged_rows_have_no_statistics() {
        assert!(FeatureStats::of(&[vec![1.0, 2.0]]).is_none());
        assert!(FeatureStats::of(&[vec![1.0, 2.0], vec![1.0]]).is_none());
    }
}
