//! A FastGAN-class family (Liu et al., ICLR 2021, "Towards Faster and Stabilized GAN Training
//! for High-fidelity Few-shot Image Synthesis"), sized for CPUs and small folders.
//!
//! - G: from 4×4 up to half the output side, each stage is a nearest up-sampling, a 3×3
//!   convolution, BatchNorm and a gated linear unit (GLU); no transposed convolutions.
//!   Skip-layer excitation lets each coarse map gate the channels of the map 8× larger. The
//!   last doubling is a nearest up-sampling and a 3×3 convolution straight to tanh RGB (as
//!   DCGAN's last layer goes straight to RGB): on a CPU, normalisation and gating of a
//!   full-size map of few channels cost more than all the stages below it. `full_side_width`
//!   adds that full-size stage back where its cost is worth it (no preset sets it: at 64 px
//!   on a CPU it trained 0.8 times the steps for no gain by eye).
//! - D: spectrally normalised strided down-blocks (as `dcgan-64-rgb-sn`'s D;
//!   FastGAN's average-pooled side path left out for speed on CPUs), hinge logits from the
//!   4×4 map, and two small decoders that must rebuild the real image from D's coarse
//!   features: the whole image from the 8×8 map, and one quarter of it from the matching
//!   quarter of the 16×16 map, both at `reconstruction_side` px. The reconstruction (L1 on
//!   pixels; no pretrained perceptual network can be downloaded) keeps D learning what a
//!   product looks like instead of memorising a few photos.
//! - Optionally class-conditional: a class embedding appended to z, a projection term in D.
//! - Two options, off in every preset (at 64 px on a CPU neither beat the preset on the
//!   held-out figures; docs/quality-experiments.md): a second, small D on the picture
//!   average-pooled to `small_critic_side` (FastGAN's `down_from_small`), and a SAGAN
//!   self-attention block on G's map of side `attention_side`.

mod discriminator;
mod generator;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

pub use discriminator::FastganDiscriminator;
pub use generator::FastganGenerator;

use super::config::{ConfigError, FamilyConfig, Freezable};
use super::fields::{conditional_fields, shared_fields};
use super::gan::GanFamily;
use super::growth::GrowthSchedule;

/// Channels never exceed this, however coarse the map.
pub const MAX_WIDTH: usize = 512;

/// `[model]` of `kind = "fastgan"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FastganConfig {
    /// Square image side in pixels: 64, 128 or 256.
    pub resolution: usize,
    /// 1 = grey, 3 = RGB.
    pub channels: usize,
    /// Length of the latent vector z.
    pub latent_dim: usize,
    /// Channels of the generator's finest feature map (at half the output side); doubled at
    /// each halving, up to 512.
    pub g_width: usize,
    /// Channels of the discriminator's first map (at half resolution); doubled at each
    /// halving, up to 512.
    pub d_width: usize,
    /// Weight of D's reconstruction loss on real images; 0 leaves the decoders out.
    pub reconstruction: f64,
    /// Side in pixels of the pictures D's decoders rebuild (16 to 128, at most half the
    /// output side): finer asks more of D's features, and costs more.
    pub reconstruction_side: usize,
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
    /// Channels of an optional feature stage at the full side (up-sampling, 3×3 convolution,
    /// BatchNorm, GLU) before the RGB convolution; 0 (the default) goes from half the side
    /// straight to RGB, which is cheaper on a CPU.
    pub full_side_width: usize,
    /// Side in pixels of a second, small discriminator's view of the picture (FastGAN's
    /// `down_from_small`): the image average-pooled to this side, judged by a few strided
    /// convolutions whose logit adds to the main one. 0 (the default) leaves it out.
    pub small_critic_side: usize,
    /// Side of the generator map that gets a self-attention block (SAGAN) after its stage,
    /// so distant parts of a picture can agree; 0 (the default) leaves it out.
    pub attention_side: usize,
}

impl Default for FastganConfig {
    fn default() -> Self {
        Self {
            resolution: 64,
            channels: 3,
            latent_dim: 128,
            g_width: 16,
            d_width: 32,
            reconstruction: 1.0,
            reconstruction_side: 16,
            conditional: false,
            classes: Vec::new(),
            grow_from: 0,
            grow_images: 60_000,
            full_side_width: 0,
            small_critic_side: 0,
            attention_side: 0,
        }
    }
}

impl FastganConfig {
    /// Generator channels at a map of side `side`.
    #[must_use]
    pub fn g_channels(&self, side: usize) -> usize {
        (self.g_width * self.resolution / 2 / side).min(MAX_WIDTH)
    }

    /// Discriminator channels at a map of side `side`.
    #[must_use]
    pub fn d_channels(&self, side: usize) -> usize {
        (self.d_width * self.resolution / 2 / side).min(MAX_WIDTH)
    }

    /// Up-sampling stages from 4×4 to full size.
    #[must_use]
    pub fn stages(&self) -> usize {
        (self.resolution / 4).trailing_zeros() as usize
    }

    fn class_count(&self) -> usize {
        if self.conditional {
            self.classes.len()
        } else {
            0
        }
    }
}

impl FamilyConfig for FastganConfig {
    shared_fields!();

    fn kind(&self) -> &'static str {
        "fastgan"
    }

    conditional_fields!();

    fn validate(&self) -> Result<(), ConfigError> {
        if ![64, 128, 256, 512].contains(&self.resolution) {
            return Err(ConfigError::new(
                "model.resolution",
                format!("{} (FastGAN supports 64, 128, 256 or 512)", self.resolution),
            ));
        }
        for (field, width) in [
            ("model.g_width", self.g_width),
            ("model.d_width", self.d_width),
        ] {
            if !(2..=MAX_WIDTH).contains(&width) {
                return Err(ConfigError::new(
                    field,
                    format!("{width} (2 to {MAX_WIDTH})"),
                ));
            }
        }
        if !(self.reconstruction.is_finite() && (0.0..=100.0).contains(&self.reconstruction)) {
            return Err(ConfigError::new(
                "model.reconstruction",
                format!(
                    "{} (a weight in [0, 100]; 0 leaves D's decoders out)",
                    self.reconstruction
                ),
            ));
        }
        if self.full_side_width > MAX_WIDTH {
            return Err(ConfigError::new(
                "model.full_side_width",
                format!(
                    "{} (0 for none, or up to {MAX_WIDTH} channels)",
                    self.full_side_width
                ),
            ));
        }
        for (field, side) in [
            ("model.small_critic_side", self.small_critic_side),
            ("model.attention_side", self.attention_side),
        ] {
            if side != 0 && !(side.is_power_of_two() && (8..=self.resolution / 2).contains(&side)) {
                return Err(ConfigError::new(
                    field,
                    format!(
                        "{side} (0 for none, or a power of two from 8 to half of model.resolution = {})",
                        self.resolution
                    ),
                ));
            }
        }
        GrowthSchedule::checked(self.grow_from, self.grow_images, self.resolution, 8)?;
        let side = self.reconstruction_side;
        if !(side.is_power_of_two() && (16..=128).contains(&side) && side <= self.resolution / 2) {
            return Err(ConfigError::new(
                "model.reconstruction_side",
                format!(
                    "{side} (16, 32, 64 or 128, at most half of model.resolution = {})",
                    self.resolution
                ),
            ));
        }
        Ok(())
    }

    fn freezable(&self) -> Freezable {
        Freezable {
            generator_stages: self.stages(),
            discriminator_blocks: self.stages(),
        }
    }

    fn growth(&self) -> Option<GrowthSchedule> {
        GrowthSchedule::checked(self.grow_from, self.grow_images, self.resolution, 8)
            .ok()
            .flatten()
    }

    fn architecture(&self) -> &'static str {
        if self.conditional {
            "class-conditional FastGAN"
        } else {
            "FastGAN"
        }
    }
}

/// The FastGAN family.
pub struct Fastgan;

impl GanFamily for Fastgan {
    type Config = FastganConfig;
    type G = FastganGenerator;
    type D = FastganDiscriminator;

    fn generator(config: &FastganConfig, device: &Device) -> FastganGenerator {
        FastganGenerator::new(config, device)
    }

    fn discriminator(config: &FastganConfig, device: &Device) -> FastganDiscriminator {
        FastganDiscriminator::new(config, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::gan::{CriticPass, GanDiscriminator, GanGenerator};
    use burn::tensor::{Distribution, Tensor};

    #[test]
    fn widths_double_per_halving_and_stop_at_the_cap() {
        let c = FastganConfig::default();
        assert_eq!(c.stages(), 4);
        assert_eq!([4, 8, 16, 32].map(|s| c.g_channels(s)), [128, 64, 32, 16]);
        assert_eq!([32, 16, 8, 4].map(|s| c.d_channels(s)), [32, 64, 128, 256]);
        let big = FastganConfig {
            resolution: 512,
            g_width: 8,
            ..c
        };
        assert_eq!(big.g_channels(4), 512);
    }

    #[test]
    fn every_resolution_renders_and_reconstructs_a_conditional_batch() {
        let device = Device::flex().autodiff();
        for resolution in [64, 128] {
            let config = FastganConfig {
                resolution,
                g_width: 4,
                d_width: 4,
                latent_dim: 8,
                conditional: true,
                classes: vec!["a".into(), "b".into()],
                ..FastganConfig::default()
            };
            config.validate().unwrap();
            let g = FastganGenerator::new(&config, &device);
            let d = FastganDiscriminator::new(&config, &device);
            let z = Tensor::<2>::random([2, 8], Distribution::Normal(0.0, 1.0), &device);
            let classes = Tensor::<2>::from_floats([[1.0, 0.0], [0.0, 1.0]], &device);
            let x = g.forward(z, Some(classes.clone()));
            assert_eq!(x.dims(), [2, 3, resolution, resolution]);
            let out = d.critic(x, Some(classes), CriticPass::Reconstruct { crop: 3 });
            assert_eq!(out.logits.dims(), [2]);
            let loss = out.reconstruction.unwrap().into_scalar::<f32>();
            assert!(loss.is_finite() && loss > 0.0, "{loss}");
            assert_eq!(
                g.first_layer_weights().unwrap().dims(),
                [8, 16 * 2 * config.g_channels(4)]
            );
        }
    }

    /// A 64 px config of the smallest widths, for shape and record tests.
    fn tiny() -> FastganConfig {
        FastganConfig {
            g_width: 4,
            d_width: 4,
            latent_dim: 8,
            ..FastganConfig::default()
        }
    }

    /// Whether `source`'s record loads into `target` (an older file into a newer network).
    pub(super) fn record_loads<M: burn::module::Module>(source: M, target: M) -> bool {
        let bytes = crate::model::records::module_bytes(source).unwrap();
        crate::model::records::module_from_bytes(target, &bytes, None).is_ok()
    }

    #[test]
    fn a_full_side_stage_renders_at_full_size_and_is_optional_in_records() {
        let device = Device::flex();
        let plain = tiny();
        let staged = FastganConfig {
            full_side_width: 5,
            ..plain.clone()
        };
        staged.validate().unwrap();
        let g = FastganGenerator::new(&staged, &device);
        let z = Tensor::<2>::random([2, 8], Distribution::Normal(0.0, 1.0), &device);
        assert_eq!(g.forward(z, None).dims(), [2, 3, 64, 64]);
        // The stage adds parameters; a record without it (every older file) loads into a
        // plain generator and not into a staged one.
        let count = |g: &FastganGenerator| burn::module::Module::num_params(g);
        let plain_g = FastganGenerator::new(&plain, &device);
        assert!(count(&g) > count(&plain_g));
        assert!(record_loads(
            plain_g.clone(),
            FastganGenerator::new(&plain, &device)
        ));
        assert!(!record_loads(plain_g, g));
        let too_wide = FastganConfig {
            full_side_width: MAX_WIDTH + 1,
            ..plain
        };
        assert_eq!(
            too_wide.validate().unwrap_err().field,
            "model.full_side_width"
        );
    }

    #[test]
    fn an_attention_block_renders_at_every_allowed_side_and_is_optional_in_records() {
        let device = Device::flex();
        let plain = tiny();
        let z = Tensor::<2>::random([2, 8], Distribution::Normal(0.0, 1.0), &device);
        let count = |g: &FastganGenerator| burn::module::Module::num_params(g);
        let plain_g = FastganGenerator::new(&plain, &device);
        for side in [8, 16, 32] {
            let c = FastganConfig {
                attention_side: side,
                ..plain.clone()
            };
            c.validate().unwrap();
            let g = FastganGenerator::new(&c, &device);
            assert_eq!(g.forward(z.clone(), None).dims(), [2, 3, 64, 64]);
            assert!(count(&g) > count(&plain_g));
        }
        for side in [4, 12, 64] {
            let c = FastganConfig {
                attention_side: side,
                ..plain.clone()
            };
            assert_eq!(c.validate().unwrap_err().field, "model.attention_side");
        }
        let with = FastganConfig {
            attention_side: 16,
            ..plain
        };
        assert!(!record_loads(
            plain_g,
            FastganGenerator::new(&with, &device)
        ));
    }
}
