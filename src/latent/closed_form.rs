//! Closed-form latent directions (SeFa, Shen & Zhou 2021): the eigenvectors of `AᵀA`, where `A` is
//! the generator's first layer as a map from z. The directions that layer stretches most are
//! the ones that move its output most, so they need one eigen-decomposition and no sampling.
//! Pure CPU maths, like the principal directions beside it.

use super::directions::{DirectionKind, Directions, centre, top_eigenvectors};

/// The `k` strongest closed-form directions of a first layer `weights`, `[latent_dim, out]`
/// row-major (a z row per latent coordinate). Each vector has unit length: one slider unit
/// moves z by one standard deviation of its prior along the direction, as the principal
/// sliders do. `explained` is each direction's share of `AᵀA`'s trace (how much of the layer's
/// stretch it carries). Names come from the shots: `latents[i]` rendered to `features[i]`
/// ([`super::image_features`] with `channels` channels) tell what each direction changes in
/// pixels, and give it the sign that brightens.
#[must_use]
pub fn closed_form_directions(
    weights: &[f32],
    latent_dim: usize,
    latents: &[Vec<f32>],
    features: &[Vec<f32>],
    channels: usize,
    k: usize,
) -> Directions {
    if latent_dim == 0 || !weights.len().is_multiple_of(latent_dim) || weights.is_empty() {
        return Directions::default();
    }
    let out = weights.len() / latent_dim;
    // AᵀA = W Wᵀ with W the `[latent, out]` rows: latent_dim × latent_dim.
    let rows: Vec<&[f32]> = weights.chunks(out).collect();
    let mut gram = vec![0f64; latent_dim * latent_dim];
    for i in 0..latent_dim {
        for j in i..latent_dim {
            let dot: f64 = rows[i]
                .iter()
                .zip(rows[j])
                .map(|(a, b)| f64::from(*a) * f64::from(*b))
                .sum();
            gram[i * latent_dim + j] = dot;
            gram[j * latent_dim + i] = dot;
        }
    }
    let trace: f64 = (0..latent_dim)
        .map(|i| gram[i * latent_dim + i])
        .sum::<f64>()
        .max(1e-300);
    let k = k.min(latent_dim);
    let basis = top_eigenvectors(&gram, latent_dim, k);
    let pixels = PixelResponse::new(latents, features);
    let mut directions = Directions::default();
    for mut v in basis {
        let eigenvalue: f64 = (0..latent_dim)
            .map(|i| {
                let mv: f64 = gram[i * latent_dim..(i + 1) * latent_dim]
                    .iter()
                    .zip(&v)
                    .map(|(a, b)| a * b)
                    .sum();
                v[i] * mv
            })
            .sum();
        let mut component = pixels.along(&v);
        // Eigenvectors have no sign: give each the one that brightens the shots on average.
        if component.iter().sum::<f64>() < 0.0 {
            for x in &mut v {
                *x = -*x;
            }
            for x in &mut component {
                *x = -*x;
            }
        }
        directions
            .labels
            .push(DirectionKind::label(&component, &pixels.mean, channels));
        directions.explained.push((eigenvalue / trace) as f32);
        directions
            .vectors
            .push(v.iter().map(|x| *x as f32).collect());
    }
    directions
}

/// How the shots' pixel features respond to moves in latent space, from samples.
struct PixelResponse<'a> {
    latents: &'a [Vec<f32>],
    centred: Vec<Vec<f64>>,
    mean: Vec<f64>,
}

impl<'a> PixelResponse<'a> {
    fn new(latents: &'a [Vec<f32>], features: &[Vec<f32>]) -> Self {
        let n = latents.len().min(features.len());
        let (mean, centred) = centre(&features[..n]);
        Self {
            latents: &latents[..n],
            centred,
            mean,
        }
    }

    /// The least-squares pixel change per unit move along the unit vector `v`.
    fn along(&self, v: &[f64]) -> Vec<f64> {
        let mut component = vec![0f64; self.mean.len()];
        let mut norm = 0f64;
        for (z, f) in self.latents.iter().zip(&self.centred) {
            let t: f64 = z.iter().zip(v).map(|(a, b)| f64::from(*a) * b).sum();
            norm += t * t;
            for (c, x) in component.iter_mut().zip(f) {
                *c += t * x;
            }
        }
        let norm = norm.max(1e-12);
        for c in &mut component {
            *c /= norm;
        }
        component
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latent::latent_for_seed;

    /// A first layer that stretches z's third coordinate most and its first next: SeFa finds
    /// those axes, strongest first, with their share of the stretch, and the sign that
    /// brightens.
    #[test]
    fn finds_the_axes_the_first_layer_stretches_most() {
        let (dim, out) = (6, 10);
        let mut weights = vec![0f32; dim * out];
        // Orthogonal rows: ‖row 2‖² = 90, ‖row 0‖² = 8, ‖row 1‖² = 0.08.
        for j in 0..out {
            weights[2 * out + j] = 3.0;
            if j >= 2 {
                weights[out + j] = if j % 2 == 0 { 0.1 } else { -0.1 };
            }
        }
        weights[0] = 2.0;
        weights[1] = -2.0;
        let latents: Vec<Vec<f32>> = (0..200).map(|s| latent_for_seed(s, dim)).collect();
        // Pixels get darker as z[2] grows and brighter with z[0].
        let features: Vec<Vec<f32>> = latents
            .iter()
            .map(|z| vec![0.5 - 0.1 * z[2] + 0.05 * z[0]; 9])
            .collect();
        let d = closed_form_directions(&weights, dim, &latents, &features, 1, 2);
        assert_eq!(d.vectors.len(), 2);
        let axis = |v: &[f32]| {
            v.iter()
                .enumerate()
                .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                .map(|(i, x)| (i, *x))
                .unwrap()
        };
        let (i0, x0) = axis(&d.vectors[0]);
        let (i1, x1) = axis(&d.vectors[1]);
        assert_eq!((i0, i1), (2, 0), "{d:?}");
        assert!((x0.abs() - 1.0).abs() < 1e-6 && (x1.abs() - 1.0).abs() < 1e-6);
        assert!(
            x0 < 0.0,
            "brightening along z[2] means decreasing it: {d:?}"
        );
        assert!(x1 > 0.0, "{d:?}");
        let trace = 90.0 + 8.0 + 0.08;
        assert!((d.explained[0] - 90.0 / trace).abs() < 1e-3, "{d:?}");
        assert!((d.explained[1] - 8.0 / trace).abs() < 1e-3, "{d:?}");
    }

    #[test]
    fn a_layer_of_the_wrong_size_gives_no_directions() {
        assert!(
            closed_form_directions(&[1.0; 7], 3, &[], &[], 1, 2)
                .vectors
                .is_empty()
        );
    }
}
