//! The seed design: a fully connected GAN, kept exactly as the baseline preset.

mod networks;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

pub use networks::{MlpDiscriminator, MlpGenerator};

use super::config::{ConfigError, FamilyConfig, shared_fields};
use super::gan::GanFamily;

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
