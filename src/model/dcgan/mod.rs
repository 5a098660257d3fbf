//! DCGAN (Radford, Metz & Chintala 2015), optionally class-conditional (a class embedding in
//! G, a projection discriminator) and with a spectrally normalised D.

mod networks;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

pub use networks::{CLASS_EMBED, DcganDiscriminator, DcganGenerator, DcganShape};

use super::config::{ConfigError, FamilyConfig, Freezable};
use super::fields::{conditional_fields, shared_fields};
use super::gan::GanFamily;
use super::growth::GrowthSchedule;

/// Widest map either network may have (its coarsest); the shipped presets use up to 1,024.
const MAX_CHANNELS: usize = 2048;

/// `[model]` of `kind = "dcgan"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DcganConfig {
    /// Square image side in pixels: 28, 32, 64 or 128.
    pub resolution: usize,
    /// 1 = grey, 3 = RGB.
    pub channels: usize,
    /// Length of the latent vector z.
    pub latent_dim: usize,
    /// Channels of the generator's finest hidden feature map; doubled at each halving.
    pub g_width: usize,
    /// Channels of the discriminator's first feature map; doubled at each halving.
    pub d_width: usize,
    /// Spectrally normalised convolutions in D (and no BatchNorm there).
    pub spectral_norm: bool,
    /// Dropout probability after each discriminator block (0 = none). A small-data
    /// regulariser for fine-tuning; the random masks come from the backend, so runs with
    /// dropout do not repeat bit for bit.
    pub d_dropout: f64,
    /// Class-conditional (labels from the data's sub-folders): a class embedding in G and a
    /// projection discriminator.
    pub conditional: bool,
    /// The class names a conditional model was trained on, in label order. Filled in from the
    /// data when a run starts; leave it empty in a preset file.
    pub classes: Vec<String>,
    /// Progressive growing: the side training starts at (0: the full side from the start).
    /// G and D gain a small to-image / from-image head at each side below the full one.
    pub grow_from: usize,
    /// Progressive growing: training images per side; each new side fades in over the first
    /// half of them.
    pub grow_images: u64,
}

impl Default for DcganConfig {
    fn default() -> Self {
        Self {
            resolution: 28,
            channels: 1,
            latent_dim: 100,
            g_width: 128,
            d_width: 64,
            spectral_norm: false,
            d_dropout: 0.0,
            conditional: false,
            classes: Vec::new(),
            grow_from: 0,
            grow_images: 60_000,
        }
    }
}

impl FamilyConfig for DcganConfig {
    shared_fields!();

    fn kind(&self) -> &'static str {
        "dcgan"
    }

    conditional_fields!();

    fn validate(&self) -> Result<(), ConfigError> {
        if ![28, 32, 64, 128].contains(&self.resolution) {
            return Err(ConfigError::new(
                "model.resolution",
                format!("{} (DCGAN supports 28, 32, 64 or 128)", self.resolution),
            ));
        }
        for (field, width) in [
            ("model.g_width", self.g_width),
            ("model.d_width", self.d_width),
        ] {
            if !(2..=1024).contains(&width) {
                return Err(ConfigError::new(field, format!("{width} (2 to 1024)")));
            }
        }
        // Widths double per halving: the coarsest map is the widest. Bounding it bounds the
        // networks' size (a recipe or a checkpoint could otherwise ask for gigabytes).
        let doublings = DcganShape::new(self.resolution)
            .upsamplings
            .saturating_sub(1);
        for (field, width) in [
            ("model.g_width", self.g_width),
            ("model.d_width", self.d_width),
        ] {
            let widest = width << doublings;
            if widest > MAX_CHANNELS {
                return Err(ConfigError::new(
                    field,
                    format!(
                        "{width} makes the coarsest map {widest} channels wide at {} px (at most {MAX_CHANNELS})",
                        self.resolution
                    ),
                ));
            }
        }
        let base = DcganShape::new(self.resolution).base;
        GrowthSchedule::checked(self.grow_from, self.grow_images, self.resolution, base)?;
        if !(0.0..0.9).contains(&self.d_dropout) {
            return Err(ConfigError::new(
                "model.d_dropout",
                format!("{} (a probability in [0, 0.9))", self.d_dropout),
            ));
        }
        Ok(())
    }

    fn freezable(&self) -> Freezable {
        let stages = DcganShape::new(self.resolution).upsamplings;
        Freezable {
            generator_stages: stages,
            discriminator_blocks: stages,
        }
    }

    fn d_dropout(&self) -> Option<f64> {
        Some(self.d_dropout)
    }

    fn set_d_dropout(&mut self, p: f64) -> Result<(), ConfigError> {
        self.d_dropout = p;
        Ok(())
    }

    fn growth(&self) -> Option<GrowthSchedule> {
        let base = DcganShape::new(self.resolution).base;
        GrowthSchedule::checked(self.grow_from, self.grow_images, self.resolution, base)
            .ok()
            .flatten()
    }

    fn architecture(&self) -> &'static str {
        if self.conditional {
            "class-conditional DCGAN"
        } else {
            "DCGAN"
        }
    }
}

/// The DCGAN family.
pub struct Dcgan;

impl GanFamily for Dcgan {
    type Config = DcganConfig;
    type G = DcganGenerator;
    type D = DcganDiscriminator;
    const LEGACY_PREFIX: Option<&'static str> = Some("Dcgan");

    fn generator(config: &DcganConfig, device: &Device) -> DcganGenerator {
        DcganGenerator::new(config, device)
    }

    fn discriminator(config: &DcganConfig, device: &Device) -> DcganDiscriminator {
        DcganDiscriminator::new(config, device)
    }
}
