//! Principal directions of a generator's latent space, GANSpace style (Härkönen et al. 2020).
//!
//! Render many random shots, take PCA of their (downsampled) pixels, then regress each
//! principal component back onto the latents that made it. Moving a latent along direction k
//! by one σ moves the shot by about one standard deviation along the k-th main way the
//! generator's pictures vary (brightness, size, sleeve length, …). Pure CPU maths, no device.

use crate::export::Picture;

/// Directions in latent space, strongest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Directions {
    /// One latent-space vector per direction: the latent move for a +1σ change.
    pub vectors: Vec<Vec<f32>>,
    /// Share of the pixel variance each direction explains, in [0, 1].
    pub explained: Vec<f32>,
}

impl Directions {
    /// `base` moved by `amounts[k]` σ along each direction.
    #[must_use]
    pub fn apply(&self, base: &[f32], amounts: &[f32]) -> Vec<f32> {
        let mut z = base.to_vec();
        for (v, a) in self.vectors.iter().zip(amounts) {
            for (zi, vi) in z.iter_mut().zip(v) {
                *zi += a * vi;
            }
        }
        z
    }
}

/// A picture box-averaged down to at most `side`×`side` (all channels), as f32 in [0, 1]: PCA
/// on full 64 px RGB pixels would be 12,288-dimensional for no better directions.
#[must_use]
pub fn image_features(picture: &Picture, side: usize) -> Vec<f32> {
    let (w, h, c) = (picture.width, picture.height, picture.channels);
    let side = side.min(w).min(h).max(1);
    let mut out = vec![0f32; side * side * c];
    for oy in 0..side {
        let (y0, y1) = (oy * h / side, ((oy + 1) * h / side).max(oy * h / side + 1));
        for ox in 0..side {
            let (x0, x1) = (ox * w / side, ((ox + 1) * w / side).max(ox * w / side + 1));
            let n = ((y1 - y0) * (x1 - x0)) as f32;
            for ch in 0..c {
                let mut sum = 0f32;
                for y in y0..y1 {
                    for x in x0..x1 {
                        sum += f32::from(picture.pixels[(y * w + x) * c + ch]);
                    }
                }
                out[(oy * side + ox) * c + ch] = sum / n / 255.0;
            }
        }
    }
    out
}

/// The `k` principal directions, from `latents[i]` and the `features[i]` of the shot it made.
#[must_use]
pub fn principal_directions(latents: &[Vec<f32>], features: &[Vec<f32>], k: usize) -> Directions {
    let n = latents.len().min(features.len());
    let Some(d) = features.first().map(Vec::len) else {
        return Directions::default();
    };
    if n < 2 || d == 0 {
        return Directions::default();
    }
    let k = k.min(d).min(n - 1);
    let mut mean = vec![0f64; d];
    for f in &features[..n] {
        for (m, v) in mean.iter_mut().zip(f) {
            *m += f64::from(*v) / n as f64;
        }
    }
    let centred: Vec<Vec<f64>> = features[..n]
        .iter()
        .map(|f| {
            f.iter()
                .zip(&mean)
                .map(|(v, m)| f64::from(*v) - m)
                .collect()
        })
        .collect();
    let cov = covariance(&centred, d);
    let total_var: f64 = (0..d).map(|i| cov[i * d + i]).sum::<f64>().max(1e-12);
    let basis = top_eigenvectors(&cov, d, k);

    let mut vectors = Vec::with_capacity(k);
    let mut explained = Vec::with_capacity(k);
    let dim = latents[0].len();
    for v in &basis {
        // PCA coordinates of each shot along v, then the least-squares latent direction that
        // predicts them (coordinates are uncorrelated across components, so each is 1-D).
        let coords: Vec<f64> = centred
            .iter()
            .map(|x| x.iter().zip(v).map(|(a, b)| a * b).sum())
            .collect();
        let var = coords.iter().map(|c| c * c).sum::<f64>() / n as f64;
        let sigma = var.sqrt().max(1e-12);
        let mut u = vec![0f64; dim];
        for (z, c) in latents[..n].iter().zip(&coords) {
            for (ui, zi) in u.iter_mut().zip(z) {
                *ui += f64::from(*zi) * c;
            }
        }
        // u·c regression slope is Σ z c / Σ c²; one σ of c is σ × that.
        let scale = sigma / (var * n as f64).max(1e-12);
        vectors.push(u.iter().map(|x| (x * scale) as f32).collect());
        explained.push((var / total_var) as f32);
    }
    Directions { vectors, explained }
}

fn covariance(centred: &[Vec<f64>], d: usize) -> Vec<f64> {
    let n = centred.len() as f64;
    let mut cov = vec![0f64; d * d];
    for x in centred {
        for i in 0..d {
            let xi = x[i];
            if xi == 0.0 {
                continue;
            }
            let row = &mut cov[i * d..(i + 1) * d];
            for (c, xj) in row.iter_mut().zip(x) {
                *c += xi * xj;
            }
        }
    }
    for c in &mut cov {
        *c /= n;
    }
    cov
}

/// Top-`k` eigenvectors of a symmetric d×d matrix by orthogonal (subspace) iteration.
fn top_eigenvectors(m: &[f64], d: usize, k: usize) -> Vec<Vec<f64>> {
    let mut rng = crate::rng::Rng::derived(7, "pca");
    let mut q: Vec<Vec<f64>> = (0..k)
        .map(|_| (0..d).map(|_| f64::from(rng.normal())).collect())
        .collect();
    orthonormalise(&mut q);
    for _ in 0..200 {
        let mut next: Vec<Vec<f64>> = q
            .iter()
            .map(|v| {
                (0..d)
                    .map(|i| {
                        m[i * d..(i + 1) * d]
                            .iter()
                            .zip(v)
                            .map(|(a, b)| a * b)
                            .sum()
                    })
                    .collect()
            })
            .collect();
        orthonormalise(&mut next);
        let settled = q
            .iter()
            .zip(&next)
            .all(|(a, b)| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>().abs() > 1.0 - 1e-10);
        q = next;
        if settled {
            break;
        }
    }
    q
}

/// Gram–Schmidt, in place.
fn orthonormalise(vs: &mut [Vec<f64>]) {
    for i in 0..vs.len() {
        let (done, rest) = vs.split_at_mut(i);
        let v = &mut rest[0];
        for u in done.iter() {
            let dot: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
            for (a, b) in v.iter_mut().zip(u) {
                *a -= dot * b;
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt().max(1e-300);
        for a in v.iter_mut() {
            *a /= norm;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn finds_the_latent_axis_that_drives_the_main_variation() {
        // Features depend mostly on z[3], a little on z[0]: direction 1 must point along z[3].
        let mut rng = Rng::new(1);
        let latents: Vec<Vec<f32>> = (0..400)
            .map(|_| (0..6).map(|_| rng.normal()).collect())
            .collect();
        let features: Vec<Vec<f32>> = latents
            .iter()
            .map(|z| vec![3.0 * z[3], 3.0 * z[3] + 0.5 * z[0], 0.5 * z[0]])
            .collect();
        let dirs = principal_directions(&latents, &features, 2);
        let v = &dirs.vectors[0];
        let strongest = (0..6)
            .max_by(|&a, &b| v[a].abs().total_cmp(&v[b].abs()))
            .unwrap();
        assert_eq!(strongest, 3);
        assert!(
            (v[3].abs() - 1.0).abs() < 0.15,
            "one σ ≈ one unit of z[3]: {v:?}"
        );
        assert!(dirs.explained[0] > 0.9);
        let moved = dirs.apply(&[0.0; 6], &[2.0, 0.0]);
        assert!((moved[3].abs() - 2.0 * v[3].abs()).abs() < 1e-6);
    }

    #[test]
    fn features_average_boxes() {
        let p = Picture {
            width: 4,
            height: 4,
            channels: 1,
            pixels: vec![255, 255, 0, 0, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        };
        assert_eq!(image_features(&p, 2), vec![1.0, 0.0, 0.0, 0.0]);
    }
}
