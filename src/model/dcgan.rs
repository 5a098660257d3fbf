//! DCGAN (Radford, Metz & Chintala 2015): strided transposed convolutions with BatchNorm and
//! ReLU in G, strided convolutions with BatchNorm and LeakyReLU(0.2) in D, N(0, 0.02) weights.
//!
//! 28 px starts from a 7×7 map (two doublings, as the Fashion-MNIST reference); 32/64/128 px
//! start from 4×4.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, PaddingConfig2d};
use burn::tensor::activation::{leaky_relu, relu, tanh};
use burn::tensor::{Device, Tensor};

use super::SpectralConv2d;
use crate::preset::ModelPreset;

const SLOPE: f64 = 0.2;
const INIT: Initializer = Initializer::Normal {
    mean: 0.0,
    std: 0.02,
};

/// Spatial plan of a DCGAN: a `base`×`base` map doubled `upsamplings` times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DcganShape {
    pub base: usize,
    pub upsamplings: usize,
}

impl DcganShape {
    /// Plan for `resolution`, one of 28, 32, 64, 128 (checked by the preset).
    #[must_use]
    pub fn new(resolution: usize) -> Self {
        let base = if resolution.is_multiple_of(7) { 7 } else { 4 };
        let mut upsamplings = 0;
        while base << upsamplings < resolution {
            upsamplings += 1;
        }
        Self { base, upsamplings }
    }
}

/// One ConvT ×2 + BN + ReLU stage.
#[derive(Module, Debug)]
pub struct UpBlock {
    conv: ConvTranspose2d,
    norm: BatchNorm,
}

impl UpBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.norm.forward(self.conv.forward(x)))
    }
}

#[derive(Module, Debug)]
pub struct DcganGenerator {
    project: ConvTranspose2d,
    project_norm: BatchNorm,
    blocks: Vec<UpBlock>,
    to_image: ConvTranspose2d,
    latent_dim: usize,
}

impl DcganGenerator {
    #[must_use]
    pub fn new(c: &ModelPreset, device: &Device) -> Self {
        let shape = DcganShape::new(c.resolution);
        // Channels from coarse to fine: g_width · 2^(n-1), …, g_width.
        let widths: Vec<usize> = (0..shape.upsamplings)
            .map(|i| c.g_width << (shape.upsamplings - 1 - i))
            .collect();
        let project =
            ConvTranspose2dConfig::new([c.latent_dim, widths[0]], [shape.base, shape.base])
                .with_bias(false)
                .with_initializer(INIT)
                .init(device);
        let project_norm = BatchNormConfig::new(widths[0]).init(device);
        let up = |from: usize, to: usize, bias: bool| {
            ConvTranspose2dConfig::new([from, to], [4, 4])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_bias(bias)
                .with_initializer(INIT)
                .init(device)
        };
        let blocks = widths
            .windows(2)
            .map(|w| UpBlock {
                conv: up(w[0], w[1], false),
                norm: BatchNormConfig::new(w[1]).init(device),
            })
            .collect();
        let to_image = up(widths[widths.len() - 1], c.channels, true);
        Self {
            project,
            project_norm,
            blocks,
            to_image,
            latent_dim: c.latent_dim,
        }
    }

    #[must_use]
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        let [batch, _] = z.dims();
        let x = z.reshape([batch, self.latent_dim, 1, 1]);
        let mut x = relu(self.project_norm.forward(self.project.forward(x)));
        for block in &self.blocks {
            x = block.forward(x);
        }
        tanh(self.to_image.forward(x))
    }
}

/// A plain or a spectrally normalised convolution.
#[derive(Module, Debug)]
pub enum DownConv {
    Plain(Conv2d),
    Spectral(SpectralConv2d),
}

impl DownConv {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Plain(c) => c.forward(x),
            Self::Spectral(c) => c.forward(x),
        }
    }
}

/// One Conv ×½ + (BN) + LeakyReLU stage.
#[derive(Module, Debug)]
pub struct DownBlock {
    conv: DownConv,
    norm: Option<BatchNorm>,
}

impl DownBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.conv.forward(x);
        let x = match &self.norm {
            Some(norm) => norm.forward(x),
            None => x,
        };
        leaky_relu(x, SLOPE)
    }
}

#[derive(Module, Debug)]
pub struct DcganDiscriminator {
    blocks: Vec<DownBlock>,
    to_logit: DownConv,
}

impl DcganDiscriminator {
    #[must_use]
    pub fn new(c: &ModelPreset, device: &Device) -> Self {
        let shape = DcganShape::new(c.resolution);
        let mut blocks = Vec::with_capacity(shape.upsamplings);
        let mut from = c.channels;
        for i in 0..shape.upsamplings {
            let to = c.d_width << i;
            // No BatchNorm on the first block (the input layer), as in the paper, nor with
            // spectral normalisation, which replaces it.
            let first = i == 0;
            let conv = if c.spectral_norm {
                DownConv::Spectral(SpectralConv2d::new([from, to], 4, 2, 1, device))
            } else {
                DownConv::Plain(
                    Conv2dConfig::new([from, to], [4, 4])
                        .with_stride([2, 2])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .with_bias(first)
                        .with_initializer(INIT)
                        .init(device),
                )
            };
            let norm = (!first && !c.spectral_norm).then(|| BatchNormConfig::new(to).init(device));
            blocks.push(DownBlock { conv, norm });
            from = to;
        }
        let to_logit = if c.spectral_norm {
            DownConv::Spectral(SpectralConv2d::new([from, 1], shape.base, 1, 0, device))
        } else {
            DownConv::Plain(
                Conv2dConfig::new([from, 1], [shape.base, shape.base])
                    .with_initializer(INIT)
                    .init(device),
            )
        };
        Self { blocks, to_logit }
    }

    #[must_use]
    pub fn forward(&self, images: Tensor<4>) -> Tensor<1> {
        let [batch, ..] = images.dims();
        let mut x = images;
        for block in &self.blocks {
            x = block.forward(x);
        }
        self.to_logit.forward(x).reshape([batch])
    }
}
