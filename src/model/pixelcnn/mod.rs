//! An autoregressive family: Gated PixelCNN (van den Oord et al. 2016), see [`network`].
//!
//! It models `p(x) = Π p(x_i | x_<i)` over sub-pixels in raster order, trains on the exact
//! negative log-likelihood (bits per sub-pixel), and draws a shot in one network pass per
//! pixel. Its "latent" is the uniform number behind each sub-pixel's draw, so seeds, the
//! gallery, curation and export work as for the GANs; latent sliders and morphs do not apply.

pub mod network;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

pub use network::GatedPixelCnn;

use super::config::{ConfigError, FamilyConfig};
use super::fields::conditional_fields;
use super::likelihood::{LikelihoodFamily, NET_RECORDS};

/// Sub-pixels a shot may have: sampling takes one network pass per pixel, and the shot's
/// "latent" holds one number per sub-pixel.
pub const MAX_SUB_PIXELS: usize = 4096;

/// `[model]` of `kind = "pixelcnn"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PixelCnnConfig {
    /// Square image side in pixels (8 to 64, at most 4,096 sub-pixels).
    pub resolution: usize,
    /// 1 = grey, 3 = RGB.
    pub channels: usize,
    /// Channels of every gated layer.
    pub width: usize,
    /// Gated layers; each widens the view by `kernel / 2` rows and columns.
    pub layers: usize,
    /// Side of the vertical stack's kernel (odd, 3 to 7).
    pub kernel: usize,
    /// Class-conditional (labels from the data's sub-folders): a per-class gate bias.
    pub conditional: bool,
    /// The class names a conditional model was trained on, in label order. Filled in from the
    /// data when a run starts; leave it empty in a preset file.
    pub classes: Vec<String>,
}

impl Default for PixelCnnConfig {
    fn default() -> Self {
        Self {
            resolution: 28,
            channels: 1,
            width: 32,
            layers: 6,
            kernel: 3,
            conditional: false,
            classes: Vec::new(),
        }
    }
}

impl FamilyConfig for PixelCnnConfig {
    fn kind(&self) -> &'static str {
        "pixelcnn"
    }

    fn resolution(&self) -> usize {
        self.resolution
    }

    fn channels(&self) -> usize {
        self.channels
    }

    /// One uniform number per sub-pixel drives a draw.
    fn latent_dim(&self) -> usize {
        self.channels * self.resolution * self.resolution
    }

    conditional_fields!();

    fn validate(&self) -> Result<(), ConfigError> {
        if self.latent_dim() > MAX_SUB_PIXELS {
            return Err(ConfigError::new(
                "model.resolution",
                format!(
                    "{} px × {} channels is {} sub-pixels (at most {MAX_SUB_PIXELS}: a PixelCNN draws one pixel per network pass)",
                    self.resolution,
                    self.channels,
                    self.latent_dim()
                ),
            ));
        }
        if !(4..=512).contains(&self.width) {
            return Err(ConfigError::new(
                "model.width",
                format!("{} (4 to 512)", self.width),
            ));
        }
        if !(1..=30).contains(&self.layers) {
            return Err(ConfigError::new(
                "model.layers",
                format!("{} (1 to 30)", self.layers),
            ));
        }
        if !(self.kernel % 2 == 1 && (3..=7).contains(&self.kernel)) {
            return Err(ConfigError::new(
                "model.kernel",
                format!("{} (3, 5 or 7)", self.kernel),
            ));
        }
        Ok(())
    }

    fn architecture(&self) -> &'static str {
        if self.conditional {
            "class-conditional Gated PixelCNN (autoregressive)"
        } else {
            "Gated PixelCNN (autoregressive)"
        }
    }

    fn latent_tools(&self) -> Result<(), &'static str> {
        Err(
            "a PixelCNN has no latent space: it draws each pixel in turn, so latent sliders, morphs and photo projection do not apply",
        )
    }

    fn has_likelihood(&self) -> bool {
        true
    }

    fn sampling_passes(&self) -> usize {
        self.resolution * self.resolution
    }

    fn render_records(&self) -> &'static [&'static str] {
        NET_RECORDS
    }

    fn base_records(&self) -> &'static [&'static str] {
        NET_RECORDS
    }
}

/// The Gated PixelCNN family.
pub struct PixelCnn;

impl LikelihoodFamily for PixelCnn {
    type Config = PixelCnnConfig;
    type Net = GatedPixelCnn;

    fn network(config: &PixelCnnConfig, device: &Device) -> GatedPixelCnn {
        GatedPixelCnn::new(config, device)
    }
}

#[cfg(test)]
mod tests;
