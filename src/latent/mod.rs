//! Latent vectors: from seeds, truncated, interpolated, perturbed, moved along directions.
//!
//! A shot is fully described by its latent vector; a seed is a short name for one. Latents are
//! drawn by the engine's own RNG on the CPU, so a seed gives the same vector on every device.

mod closed_form;
mod directions;
mod encoder;
mod learnt;

pub use closed_form::closed_form_directions;
pub use directions::{
    DirectionKind, DirectionLabel, Directions, image_features, principal_directions,
};
pub use encoder::{
    ENCODER_REFRESH_STEPS, ENCODER_SEED, ENCODER_STEPS, EncoderTraining, LatentEncoder,
    teach_encoder,
};
pub use learnt::{LearnError, MIN_PICKS, Taste, TasteFit, latent_direction, learn_taste};

use serde::{Deserialize, Serialize};

use crate::rng::Rng;

/// One named slider move that shaped a shot, kept so an export can say how it was made
/// ("Principal 2 · colour +1.40", "sportier −0.80") beside the latent that regenerates it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SliderEdit {
    pub slider: String,
    pub amount: f32,
}

/// `earlier` followed by this editing session's non-zero `moves` (slider name, amount); moves
/// of a slider already listed add to its amount.
#[must_use]
pub fn combine_edits(earlier: &[SliderEdit], moves: &[(String, f32)]) -> Vec<SliderEdit> {
    let mut edits = earlier.to_vec();
    for (slider, amount) in moves {
        if amount.abs() < 1e-3 {
            continue;
        }
        match edits.iter_mut().find(|e| &e.slider == slider) {
            Some(e) => e.amount += amount,
            None => edits.push(SliderEdit {
                slider: slider.clone(),
                amount: *amount,
            }),
        }
    }
    edits.retain(|e| e.amount.abs() >= 1e-3);
    edits
}

/// The latent vector that `seed` names.
#[must_use]
pub fn latent_for_seed(seed: u64, dim: usize) -> Vec<f32> {
    let mut rng = Rng::derived(seed, "latent");
    (0..dim).map(|_| rng.normal()).collect()
}

#[cfg(test)]
mod edit_tests {
    use super::*;

    #[test]
    fn edits_add_up_per_slider_and_drop_when_undone() {
        let earlier = vec![SliderEdit {
            slider: "sporty".into(),
            amount: 1.0,
        }];
        let edits = combine_edits(
            &earlier,
            &[
                ("sporty".into(), -1.0),
                ("Principal 1 · colour".into(), 0.5),
                ("Principal 2 · shape".into(), 0.0),
            ],
        );
        assert_eq!(
            edits,
            vec![SliderEdit {
                slider: "Principal 1 · colour".into(),
                amount: 0.5
            }]
        );
    }
}

/// Truncation towards the mean latent (zero): `psi` = 1 leaves `z` alone, smaller values trade
/// variety for typical, cleaner shots.
#[must_use]
pub fn truncate(z: &[f32], psi: f32) -> Vec<f32> {
    z.iter().map(|v| v * psi).collect()
}

/// Spherical interpolation at `t` in [0, 1]: keeps the norm typical of Gaussian latents, so
/// the middle of a morph is not a washed-out "average" shot (linear blends shrink the norm).
#[must_use]
pub fn slerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let (na, nb) = (norm(a), norm(b));
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let cos = (dot / (na * nb).max(1e-12)).clamp(-1.0, 1.0);
    let omega = cos.acos();
    if omega.abs() < 1e-4 {
        return a.iter().zip(b).map(|(x, y)| x + (y - x) * t).collect();
    }
    let s = omega.sin();
    let (wa, wb) = (((1.0 - t) * omega).sin() / s, (t * omega).sin() / s);
    a.iter().zip(b).map(|(x, y)| wa * x + wb * y).collect()
}

/// A neighbour of `z` for "more like this": `z` plus Gaussian noise of `strength`, rescaled to
/// `z`'s norm so the neighbour stays as typical as its parent.
#[must_use]
pub fn perturb(z: &[f32], seed: u64, strength: f32) -> Vec<f32> {
    let mut rng = Rng::derived(seed, "perturb");
    let moved: Vec<f32> = z.iter().map(|v| v + strength * rng.normal()).collect();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let scale = norm(z) / norm(&moved).max(1e-12);
    moved.iter().map(|v| v * scale).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_name_stable_latents() {
        assert_eq!(latent_for_seed(5, 100), latent_for_seed(5, 100));
        assert_ne!(latent_for_seed(5, 100), latent_for_seed(6, 100));
        assert_eq!(truncate(&[2.0, -4.0], 0.5), vec![1.0, -2.0]);
    }

    #[test]
    fn slerp_ends_at_its_endpoints_and_keeps_the_norm() {
        let (a, b) = (latent_for_seed(1, 64), latent_for_seed(2, 64));
        let close = |x: &[f32], y: &[f32]| x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-4);
        assert!(close(&slerp(&a, &b, 0.0), &a));
        assert!(close(&slerp(&a, &b, 1.0), &b));
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let mid = slerp(&a, &b, 0.5);
        assert!(norm(&mid) > 0.9 * norm(&a).min(norm(&b)));
        let near = perturb(&a, 9, 0.3);
        assert!((norm(&near) - norm(&a)).abs() < 1e-3);
        assert_ne!(near, a);
    }
}
