//! The project's slider choices: which computed directions, and the sliders learnt from the
//! designer's picks.

use serde::{Deserialize, Serialize};

use crate::latent::Taste;

/// Which computed directions the shot panel's sliders follow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SliderSet {
    /// Principal directions of the generator's shots (GANSpace): ordered by how much of the
    /// shots' variation each carries.
    #[default]
    Principal,
    /// Closed-form directions of the generator's first layer (SeFa): no sampling, ordered by
    /// how much that layer stretches each.
    ClosedForm,
}

impl SliderSet {
    pub const ALL: [Self; 2] = [Self::Principal, Self::ClosedForm];

    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Principal => "Principal",
            Self::ClosedForm => "Closed-form (SeFa)",
        }
    }
}

/// A slider taught from picks: its quality (a taste over the shots' pictures) and its latent
/// direction in the generator it was last learnt for. A new generator gets its own direction
/// from the same taste when it arrives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearntSlider {
    pub name: String,
    pub taste: Taste,
    /// Share of held-out picks the quality told apart when it was learnt.
    pub held_out_accuracy: f32,
    /// Picks with and without the quality it was learnt from.
    pub picks: [usize; 2],
    /// Content id of the generator `vector` moves.
    pub generator_id: String,
    /// One slider unit: a unit latent vector.
    pub vector: Vec<f32>,
    /// Share of the direction left after removing what the other sliders move.
    pub kept: f32,
    /// Orthogonal to the computed sliders as well as to the other learnt ones.
    #[serde(default)]
    pub apart_from_computed: bool,
}
