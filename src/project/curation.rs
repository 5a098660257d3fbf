//! Curation: the shots a designer keeps, with everything that regenerates them.

use serde::{Deserialize, Serialize};

use crate::latent::SliderEdit;

pub type ShotId = u64;

/// One gallery shot. Its picture is not stored: the generator file, latent and truncation
/// render it again, identically.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Shot {
    pub id: ShotId,
    /// The seed that named the original latent (kept after slider edits, for reference).
    pub seed: Option<u64>,
    /// The latent as last edited (before truncation).
    pub latent: Vec<f32>,
    pub truncation: f32,
    /// Generator content id; its weights are in the project's `generators/ID.atl`.
    pub generator_id: String,
    /// Whether sliders moved the latent away from the seed's.
    pub edited: bool,
    pub favourite: bool,
    pub rejected: bool,
    pub tags: Vec<String>,
    /// The shot this one was made "more like".
    pub parent: Option<ShotId>,
    /// The product class a conditional generator drew (one of its class names).
    #[serde(default)]
    pub class: Option<String>,
    /// The named slider moves baked into `latent`, oldest first (exported with the shot).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<SliderEdit>,
}

impl Default for Shot {
    fn default() -> Self {
        Self {
            id: 0,
            seed: None,
            latent: Vec::new(),
            truncation: 1.0,
            generator_id: String::new(),
            edited: false,
            favourite: false,
            rejected: false,
            tags: Vec::new(),
            parent: None,
            class: None,
            edits: Vec::new(),
        }
    }
}

impl Shot {
    #[must_use]
    pub fn from_seed(seed: u64, latent: Vec<f32>, truncation: f32, generator_id: String) -> Self {
        Self {
            seed: Some(seed),
            latent,
            truncation,
            generator_id,
            ..Self::default()
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Curation {
    pub next_id: ShotId,
    pub shots: Vec<Shot>,
}

impl Curation {
    /// Adds `shot` under a fresh id and returns it.
    pub fn add(&mut self, mut shot: Shot) -> ShotId {
        self.next_id += 1;
        shot.id = self.next_id;
        self.shots.push(shot);
        self.next_id
    }

    /// Where shot `id` is: shots are added with rising ids, so a binary search finds it; a
    /// file edited by hand out of order falls back to a scan.
    fn position(&self, id: ShotId) -> Option<usize> {
        self.shots
            .binary_search_by_key(&id, |s| s.id)
            .ok()
            .or_else(|| self.shots.iter().position(|s| s.id == id))
    }

    #[must_use]
    pub fn get(&self, id: ShotId) -> Option<&Shot> {
        self.position(id).map(|i| &self.shots[i])
    }

    pub fn get_mut(&mut self, id: ShotId) -> Option<&mut Shot> {
        self.position(id).map(|i| &mut self.shots[i])
    }

    /// Shots in gallery order, rejected ones only when `show_rejected`.
    pub fn visible(&self, show_rejected: bool) -> impl Iterator<Item = &Shot> {
        self.shots
            .iter()
            .filter(move |s| show_rejected || !s.rejected)
    }
}
