//! The upscaler file: an Atelier checkpoint whose recipe is an `[upscaler]` + `[training]`
//! table, holding the network (and, while training, the optimiser).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::UpscaleError;
use crate::checkpoint::Checkpoint;
use crate::model::upscaler::UpscalerConfig;

/// The network's record.
pub const NETWORK_RECORD: &str = "upscaler";
/// The optimiser's record (absent from a finished, shipped file).
pub const OPTIMISER_RECORD: &str = "opt";

/// The upscaler Atelier ships (see assets/README.md): export is sharp before any training.
pub const SHIPPED_UPSCALER: &[u8] = include_bytes!("../../assets/upscaler-4x.atl");

/// How an upscaler learns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpscalerTrainSettings {
    pub seed: u64,
    /// Crops per step.
    pub batch: usize,
    /// Side of a low-resolution crop; its photo crop is `factor` times larger.
    pub patch: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Weight of the high-frequency term: L1 between the fine detail (image minus its 2×
    /// blur) of the output and of the photo. Pixel L1 alone favours the safe, soft average
    /// ("the plastic look"); this term pays for getting edges and texture right.
    pub high_frequency: f64,
    /// Photos are shrunk to this longer side before cropping: larger photos would teach the
    /// detail of a weave, not of a product shot.
    pub max_side: u32,
}

impl Default for UpscalerTrainSettings {
    fn default() -> Self {
        Self {
            seed: 1,
            batch: 16,
            patch: 24,
            lr: 5e-4,
            high_frequency: 0.5,
            max_side: 768,
        }
    }
}

impl UpscalerTrainSettings {
    /// Checks ranges, naming the field at fault.
    pub fn validate(&self) -> Result<(), crate::model::ConfigError> {
        use crate::model::ConfigError;
        if !(1..=256).contains(&self.batch) {
            return Err(ConfigError::new("training.batch", "must be 1–256"));
        }
        if !(8..=128).contains(&self.patch) {
            return Err(ConfigError::new("training.patch", "must be 8–128"));
        }
        if !(self.lr > 0.0 && self.lr < 1.0) {
            return Err(ConfigError::new("training.lr", "must be in (0, 1)"));
        }
        if !(0.0..=10.0).contains(&self.high_frequency) {
            return Err(ConfigError::new("training.high_frequency", "must be 0–10"));
        }
        if self.max_side < 64 {
            return Err(ConfigError::new("training.max_side", "must be at least 64"));
        }
        Ok(())
    }
}

/// The network's shape and how it learns: the file's recipe text.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpscalerRecipe {
    pub upscaler: UpscalerConfig,
    #[serde(default)]
    pub training: UpscalerTrainSettings,
}

impl UpscalerRecipe {
    pub fn validate(&self) -> Result<(), crate::model::ConfigError> {
        self.upscaler.validate()?;
        self.training.validate()
    }

    #[must_use]
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

/// An upscaler file in memory.
#[derive(Clone, Debug)]
pub struct UpscalerFile {
    pub recipe: UpscalerRecipe,
    pub checkpoint: Checkpoint,
}

impl UpscalerFile {
    /// Reads and checks a file (checksums, recipe, network record present).
    pub fn load(path: &Path) -> Result<Self, UpscaleError> {
        let checkpoint = Checkpoint::load(path)?;
        Self::from_checkpoint(checkpoint, &path.display().to_string())
    }

    /// From the bytes of a file (`label` names it in errors).
    pub fn from_bytes(bytes: &[u8], label: &str) -> Result<Self, UpscaleError> {
        let checkpoint = Checkpoint::from_bytes(bytes, label)?;
        Self::from_checkpoint(checkpoint, label)
    }

    /// The upscaler Atelier ships.
    pub fn shipped() -> Result<Self, UpscaleError> {
        Self::from_bytes(SHIPPED_UPSCALER, "the shipped upscaler")
    }

    fn from_checkpoint(checkpoint: Checkpoint, label: &str) -> Result<Self, UpscaleError> {
        let not = |message: String| UpscaleError::NotAnUpscaler {
            path: label.to_string(),
            message,
        };
        let recipe: UpscalerRecipe = toml::from_str(&checkpoint.preset_toml)
            .map_err(|e| not(e.to_string().trim().to_string()))?;
        recipe.validate()?;
        if checkpoint.blob(NETWORK_RECORD).is_none() {
            return Err(not("it holds no network record".into()));
        }
        Ok(Self { recipe, checkpoint })
    }

    /// Writes atomically.
    pub fn save(&self, path: &Path) -> Result<(), UpscaleError> {
        Ok(self.checkpoint.save(path)?)
    }

    /// Content id of the network's weights (what export metadata records).
    #[must_use]
    pub fn id(&self) -> String {
        self.checkpoint.content_id(&[NETWORK_RECORD])
    }

    /// The same file without the optimiser: what ships, or what a project keeps once done.
    #[must_use]
    pub fn finished(&self) -> Self {
        Self {
            recipe: self.recipe.clone(),
            checkpoint: self.checkpoint.keep_records(&[NETWORK_RECORD], true),
        }
    }
}
