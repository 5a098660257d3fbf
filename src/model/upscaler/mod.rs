//! The upscaler family: a compact super-resolution network (EDSR-lite) that makes a shot
//! `factor`× larger, learnt from a designer's own photos.
//!
//! Low-resolution convolutions (a head, residual blocks without BatchNorm, as EDSR found
//! BatchNorm hurts super-resolution) then ×2 stages of convolution + pixel shuffle (no
//! transposed convolution: no checkerboard, and fast backward on burn's CPU backend). The net
//! predicts only the detail that bicubic interpolation misses: its output is added to the
//! bicubic enlargement, so a fresh network already upscales as well as bicubic, and training
//! spends its steps on edges and texture.
//!
//! Images are `[B, C, H, W]` in `[0, 1]`. Device-agnostic, like every family.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{PaddingConfig2d, PixelShuffle, PixelShuffleConfig};
use burn::tensor::activation::relu;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::model::layers::leaky_relu;

/// The `[upscaler]` table of an upscaler file: the network's shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpscalerConfig {
    /// Enlargement per pass: 2 or 4 (chained for more).
    pub factor: usize,
    /// 1 = grey, 3 = RGB.
    pub channels: usize,
    /// Feature channels of every convolution.
    pub width: usize,
    /// Residual blocks at the input's resolution.
    pub blocks: usize,
}

impl Default for UpscalerConfig {
    fn default() -> Self {
        Self {
            factor: 4,
            channels: 3,
            width: 32,
            blocks: 4,
        }
    }
}

impl UpscalerConfig {
    /// Checks ranges, naming the field at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !matches!(self.factor, 2 | 4) {
            return Err(ConfigError::new(
                "upscaler.factor",
                format!(
                    "must be 2 or 4 (got {}); chain passes for more",
                    self.factor
                ),
            ));
        }
        if !matches!(self.channels, 1 | 3) {
            return Err(ConfigError::new(
                "upscaler.channels",
                format!("must be 1 (grey) or 3 (RGB), got {}", self.channels),
            ));
        }
        if !(4..=256).contains(&self.width) {
            return Err(ConfigError::new(
                "upscaler.width",
                format!("must be 4–256, got {}", self.width),
            ));
        }
        if self.blocks > 32 {
            return Err(ConfigError::new(
                "upscaler.blocks",
                format!("must be at most 32, got {}", self.blocks),
            ));
        }
        Ok(())
    }

    /// ×2 stages in one pass.
    #[must_use]
    pub fn doublings(&self) -> usize {
        self.factor.trailing_zeros() as usize
    }

    /// One line for designers.
    #[must_use]
    pub fn describe(&self) -> String {
        format!(
            "{}× learnt upscaler ({} residual blocks of {} channels, {})",
            self.factor,
            self.blocks,
            self.width,
            if self.channels == 1 { "grey" } else { "colour" }
        )
    }
}

fn conv3x3(from: usize, to: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([from, to], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device)
}

/// conv → ReLU → conv, added back to its input (scaled, as in EDSR, to keep early training
/// stable without normalisation).
#[derive(Module, Debug)]
pub struct ResidualBlock {
    first: Conv2d,
    second: Conv2d,
}

const RESIDUAL_SCALE: f32 = 0.5;

impl ResidualBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.second.forward(relu(self.first.forward(x.clone())));
        x + y.mul_scalar(RESIDUAL_SCALE)
    }
}

/// conv to 4× the channels, then pixel shuffle: a learnt ×2 enlargement.
#[derive(Module, Debug)]
pub struct ShuffleStage {
    conv: Conv2d,
    shuffle: PixelShuffle,
}

impl ShuffleStage {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        leaky_relu(self.shuffle.forward(self.conv.forward(x)), 0.2)
    }
}

#[derive(Module, Debug)]
pub struct Upscaler {
    head: Conv2d,
    blocks: Vec<ResidualBlock>,
    body_end: Conv2d,
    stages: Vec<ShuffleStage>,
    to_image: Conv2d,
    factor: usize,
}

impl Upscaler {
    /// A fresh network (weights from the device's seed).
    #[must_use]
    pub fn new(config: &UpscalerConfig, device: &Device) -> Self {
        let w = config.width;
        Self {
            head: conv3x3(config.channels, w, device),
            blocks: (0..config.blocks)
                .map(|_| ResidualBlock {
                    first: conv3x3(w, w, device),
                    second: conv3x3(w, w, device),
                })
                .collect(),
            body_end: conv3x3(w, w, device),
            stages: (0..config.doublings())
                .map(|_| ShuffleStage {
                    conv: conv3x3(w, 4 * w, device),
                    shuffle: PixelShuffleConfig::new(2).init(),
                })
                .collect(),
            to_image: conv3x3(w, config.channels, device),
            factor: config.factor,
        }
    }

    /// `[B, C, H, W]` in `[0, 1]` → `[B, C, factor·H, factor·W]`, not clamped (training sees
    /// the overshoot; [`crate::upscale`] clamps when it makes pixels).
    #[must_use]
    pub fn forward(&self, low: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = low.dims();
        let base = bicubic(low.clone(), [h * self.factor, w * self.factor]);
        let head = self.head.forward(low);
        let mut x = head.clone();
        for block in &self.blocks {
            x = block.forward(x);
        }
        let mut x = self.body_end.forward(x) + head;
        for stage in &self.stages {
            x = stage.forward(x);
        }
        base + self.to_image.forward(x)
    }

    /// Enlargement per pass.
    #[must_use]
    pub fn factor(&self) -> usize {
        self.factor
    }
}

/// Bicubic resize (the detail the network adds is on top of it).
#[must_use]
pub fn bicubic(x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    interpolate(
        x,
        InterpolateOptions::new(InterpolateMode::Bicubic)
            .with_align_corners(false)
            .with_output_size(size),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn every_factor_enlarges_by_itself_and_bad_shapes_are_named() {
        let device = Device::flex();
        for factor in [2, 4] {
            let config = UpscalerConfig {
                factor,
                width: 8,
                blocks: 1,
                ..UpscalerConfig::default()
            };
            config.validate().unwrap();
            let net = Upscaler::new(&config, &device);
            let x = Tensor::<4>::random([2, 3, 6, 5], Distribution::Uniform(0.0, 1.0), &device);
            assert_eq!(net.forward(x).dims(), [2, 3, 6 * factor, 5 * factor]);
        }
        let bad = UpscalerConfig {
            factor: 3,
            ..UpscalerConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "upscaler.factor");
    }
}
