//! The seed design: a fully connected GAN, kept exactly as the baseline preset.

mod networks;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

pub use networks::{MlpDiscriminator, MlpGenerator};

use super::config::{ConfigError, FamilyConfig};
use super::fields::shared_fields;
use super::gan::GanFamily;

/// Most weights in one pixel-facing layer (`hidden` × pixels × channels).
const MAX_PIXEL_WEIGHTS: usize = 32_000_000;

/// `[model]` of `kind = "seed-mlp"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MlpConfig {
    /// Square image side in pixels (any).
    pub resolution: usize,
    /// 1 = grey, 3 = RGB.
    pub channels: usize,
    /// Length of the latent vector z.
    pub latent_dim: usize,
    /// Hidden units of the generator's layers.
    pub hidden: usize,
}

impl Default for MlpConfig {
    fn default() -> Self {
        Self {
            resolution: 28,
            channels: 1,
            latent_dim: 100,
            hidden: 256,
        }
    }
}

impl FamilyConfig for MlpConfig {
    shared_fields!();

    fn kind(&self) -> &'static str {
        "seed-mlp"
    }

    fn set_classes(&mut self, _classes: Vec<String>) {}

    fn validate(&self) -> Result<(), ConfigError> {
        if !(8..=8192).contains(&self.hidden) {
            return Err(ConfigError::new(
                "model.hidden",
                format!("{} (8 to 8192)", self.hidden),
            ));
        }
        // Its first and last layers join every pixel to every hidden unit: bound their size,
        // so no recipe (or a checkpoint's) can ask for gigabytes of weights.
        let pixels = self.resolution * self.resolution * self.channels;
        if pixels * self.hidden > MAX_PIXEL_WEIGHTS {
            return Err(ConfigError::new(
                "model.resolution",
                format!(
                    "{} px with {} hidden units is {} million weights per layer (at most {} million; a fully connected GAN suits small shots)",
                    self.resolution,
                    self.hidden,
                    pixels * self.hidden / 1_000_000,
                    MAX_PIXEL_WEIGHTS / 1_000_000
                ),
            ));
        }
        Ok(())
    }

    fn architecture(&self) -> &'static str {
        "fully connected GAN (the seed baseline)"
    }
}

/// The seed MLP family.
pub struct SeedMlp;

impl GanFamily for SeedMlp {
    type Config = MlpConfig;
    type G = MlpGenerator;
    type D = MlpDiscriminator;
    const LEGACY_PREFIX: Option<&'static str> = Some("Mlp");

    fn generator(config: &MlpConfig, device: &Device) -> MlpGenerator {
        MlpGenerator::new(config, device)
    }

    fn discriminator(config: &MlpConfig, device: &Device) -> MlpDiscriminator {
        MlpDiscriminator::new(config, device)
    }
}
