//! DCGAN (Radford, Metz & Chintala 2015): strided transposed convolutions with BatchNorm and
//! ReLU in G, strided convolutions with BatchNorm and LeakyReLU(0.2) in D, N(0, 0.02) weights.
//!
//! 28 px starts from a 7×7 map (two doublings, as the Fashion-MNIST reference); 32/64/128 px
//! start from 4×4.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Initializer, PaddingConfig2d};
use burn::tensor::activation::{relu, tanh};
use burn::tensor::{Device, Tensor};

use super::DcganConfig;
use crate::model::gan::{CriticOutput, CriticPass, GanDiscriminator, GanGenerator};
use crate::model::growth::Growth;
use crate::model::layers::{SpectralConv2d, leaky_relu, pool2x, project_logits, upsample2x};

const SLOPE: f64 = 0.2;
/// Length of a conditional generator's class embedding, appended to z.
pub const CLASS_EMBED: usize = 50;
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
    /// Conditional models: one learnt vector per class, `[classes, CLASS_EMBED]`, appended to z.
    class_embed: Option<Param<Tensor<2>>>,
    /// Progressive growing: 1×1 to-image heads on the maps of every side from `grow_from`
    /// below the full one, coarse first.
    grow: Option<Vec<Conv2d>>,
    /// The map side after the projection, and the level (doublings above it) of the first
    /// growing head.
    base: usize,
    grow_level: usize,
}

/// Doublings from `base` to `side`.
fn level_of(side: usize, base: usize) -> usize {
    (side / base).trailing_zeros() as usize
}

/// A 1×1 convolution (a growing run's to-image or from-image head).
fn head(from: usize, to: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([from, to], [1, 1])
        .with_initializer(INIT)
        .init(device)
}

impl DcganGenerator {
    #[must_use]
    pub fn new(c: &DcganConfig, device: &Device) -> Self {
        let shape = DcganShape::new(c.resolution);
        // Channels from coarse to fine: g_width · 2^(n-1), …, g_width.
        let widths: Vec<usize> = (0..shape.upsamplings)
            .map(|i| c.g_width << (shape.upsamplings - 1 - i))
            .collect();
        let classes = if c.conditional { c.classes.len() } else { 0 };
        let embed = if classes > 0 { CLASS_EMBED } else { 0 };
        let project =
            ConvTranspose2dConfig::new([c.latent_dim + embed, widths[0]], [shape.base, shape.base])
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
        let grow_level = level_of(c.grow_from.max(shape.base), shape.base);
        // The map at level l (side base·2^l) has widths[l] channels.
        let grow = (c.grow_from > 0).then(|| {
            (grow_level..shape.upsamplings)
                .map(|l| head(widths[l], c.channels, device))
                .collect()
        });
        Self {
            project,
            project_norm,
            blocks,
            to_image,
            grow,
            base: shape.base,
            grow_level,
            latent_dim: c.latent_dim,
            class_embed: (classes > 0).then(|| {
                Initializer::Normal {
                    mean: 0.0,
                    std: 1.0,
                }
                .init([classes, CLASS_EMBED], device)
            }),
        }
    }

    /// Stages that [`GanGenerator::visit_first_stages`] can freeze (the output layer always
    /// trains).
    #[must_use]
    pub fn stage_count(&self) -> usize {
        1 + self.blocks.len()
    }
}

impl DcganGenerator {
    /// The projected map `[B, widths[0], base, base]` for latents `z` (with the class
    /// embedding appended for conditional models).
    fn input(&self, z: Tensor<2>, classes: Option<Tensor<2>>) -> Tensor<4> {
        let [batch, _] = z.dims();
        let (z, width) = match &self.class_embed {
            Some(embed) => {
                let table = embed.val();
                let [k, e] = table.dims();
                let mix = classes.unwrap_or_else(|| {
                    Tensor::<2>::ones([batch, k], &z.device()).div_scalar(k as f64)
                });
                (
                    Tensor::cat(vec![z, mix.matmul(table)], 1),
                    self.latent_dim + e,
                )
            }
            None => (z, self.latent_dim),
        };
        let x = z.reshape([batch, width, 1, 1]);
        relu(self.project_norm.forward(self.project.forward(x)))
    }
}

impl GanGenerator for DcganGenerator {
    /// Images for latents `z` `[B, latent_dim]`. `classes` (`[B, classes]`, one-hot or a mix)
    /// picks what a conditional model draws; without it, the average of every class.
    fn forward(&self, z: Tensor<2>, classes: Option<Tensor<2>>) -> Tensor<4> {
        let mut x = self.input(z, classes);
        for block in &self.blocks {
            x = block.forward(x);
        }
        tanh(self.to_image.forward(x))
    }

    fn forward_grown(&self, z: Tensor<2>, classes: Option<Tensor<2>>, growth: Growth) -> Tensor<4> {
        let full = self.base << (self.blocks.len() + 1);
        let Some(heads) = self.grow.as_ref().filter(|_| !growth.is_full(full)) else {
            return self.forward(z, classes);
        };
        let level = level_of(growth.side, self.base).max(self.grow_level);
        let to_image = |l: usize, x: Tensor<4>| tanh(heads[l - self.grow_level].forward(x));
        let mut x = self.input(z, classes);
        if level == 0 {
            return to_image(0, x);
        }
        // x becomes the map one level below the side drawn.
        for block in self.blocks.iter().take(level - 1) {
            x = block.forward(x);
        }
        let new = if level > self.blocks.len() {
            tanh(self.to_image.forward(x.clone()))
        } else {
            to_image(level, self.blocks[level - 1].forward(x.clone()))
        };
        if !growth.fading() || level == self.grow_level {
            return new;
        }
        growth.blend(new, upsample2x(to_image(level - 1, x)))
    }

    /// The first `k` stages, input side first (the projection, then the up-sampling blocks):
    /// what fine-tuning freezes when it keeps a base model's coarse structure.
    fn visit_first_stages<V: burn::module::ModuleVisitor>(&self, k: usize, visitor: &mut V) {
        if k == 0 {
            return;
        }
        self.project.visit(visitor);
        self.project_norm.visit(visitor);
        for block in self.blocks.iter().take(k - 1) {
            block.visit(visitor);
        }
    }

    /// The projection from z (a 1×1 → base×base transposed convolution) as
    /// `[latent_dim, features]`; a conditional model's class-embedding rows are left out.
    fn first_layer_weights(&self) -> Option<Tensor<2>> {
        let w = self.project.weight.val();
        let [input, out, kh, kw] = w.dims();
        let w: Tensor<2> = w.reshape([input, out * kh * kw]);
        Some(w.narrow(0, 0, self.latent_dim))
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

/// One Conv ×½ + (BN) + LeakyReLU (+ dropout) stage.
#[derive(Module, Debug)]
pub struct DownBlock {
    conv: DownConv,
    norm: Option<BatchNorm>,
    dropout: Option<Dropout>,
}

impl DownBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.conv.forward(x);
        let x = match &self.norm {
            Some(norm) => norm.forward(x),
            None => x,
        };
        let x = leaky_relu(x, SLOPE);
        match &self.dropout {
            Some(dropout) => dropout.forward(x),
            None => x,
        }
    }
}

#[derive(Module, Debug)]
pub struct DcganDiscriminator {
    blocks: Vec<DownBlock>,
    to_logit: DownConv,
    /// Projection discriminator (Miyato & Koyama 2018): `[classes, features]`; the logit gains
    /// `⟨embed(y), Σ features⟩`, so D judges "a real image of class y", not just "real".
    class_embed: Option<Param<Tensor<2>>>,
    /// Progressive growing: 1×1 from-image heads into block `i` (input side `R/2^i`) for
    /// `i` from 1 up to the block that takes `grow_from` px; `grow[i − 1]`.
    grow: Option<Vec<Conv2d>>,
    resolution: usize,
}

impl DcganDiscriminator {
    #[must_use]
    pub fn new(c: &DcganConfig, device: &Device) -> Self {
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
            let dropout = (c.d_dropout > 0.0).then(|| DropoutConfig::new(c.d_dropout).init());
            blocks.push(DownBlock {
                conv,
                norm,
                dropout,
            });
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
        let classes = if c.conditional { c.classes.len() } else { 0 };
        let class_embed = (classes > 0).then(|| INIT.init([classes, from], device));
        // Block i's input is block i − 1's output: d_width · 2^(i−1) channels.
        let grow = (c.grow_from > 0).then(|| {
            (1..=level_of(c.resolution, c.grow_from))
                .map(|i| head(c.channels, c.d_width << (i - 1), device))
                .collect()
        });
        Self {
            blocks,
            to_logit,
            class_embed,
            grow,
            resolution: c.resolution,
        }
    }

    /// Blocks that [`GanDiscriminator::visit_first_blocks`] can freeze (the logit layer
    /// always trains).
    #[must_use]
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }
}

impl DcganDiscriminator {
    /// D from block `first` on (`x` is that block's input), to the logit.
    fn judge_from(
        &self,
        mut x: Tensor<4>,
        first: usize,
        classes: Option<Tensor<2>>,
    ) -> CriticOutput {
        let [batch, ..] = x.dims();
        let mut features = Vec::with_capacity(self.blocks.len());
        if first > 0 {
            features.push(x.clone());
        }
        for block in self.blocks.iter().skip(first) {
            x = block.forward(x);
            features.push(x.clone());
        }
        let logit = self.to_logit.forward(x.clone()).reshape([batch]);
        let embed = self.class_embed.as_ref().map(Param::val);
        let (logits, class_scores) = project_logits(logit, x, embed, classes);
        CriticOutput {
            logits,
            features,
            reconstruction: None,
            class_scores,
        }
    }
}

impl GanDiscriminator for DcganDiscriminator {
    /// One logit per image. With `classes` (`[B, classes]`), a conditional D adds the
    /// projection term; without, it scores "real" alone.
    fn critic(
        &self,
        images: Tensor<4>,
        classes: Option<Tensor<2>>,
        _pass: CriticPass,
    ) -> CriticOutput {
        self.judge_from(images, 0, classes)
    }

    fn critic_grown(
        &self,
        images: Tensor<4>,
        classes: Option<Tensor<2>>,
        pass: CriticPass,
        growth: Growth,
    ) -> CriticOutput {
        let Some(heads) = self
            .grow
            .as_ref()
            .filter(|_| !growth.is_full(self.resolution))
        else {
            return self.critic(images, classes, pass);
        };
        let first = level_of(self.resolution, growth.side).min(heads.len());
        let from_image = |i: usize, x: Tensor<4>| leaky_relu(heads[i - 1].forward(x), SLOPE);
        let entry = if first == 0 {
            images.clone()
        } else {
            from_image(first, images.clone())
        };
        if first == self.blocks.len() {
            // The coarsest side: straight to the logit.
            return self.judge_from(entry, first, classes);
        }
        let mut x = self.blocks[first].forward(entry);
        if growth.fading() && first < heads.len() {
            x = growth.blend(x, from_image(first + 1, pool2x(images)));
        }
        self.judge_from(x, first + 1, classes)
    }

    /// The first `k` blocks, input side first (`FreezeD`, Mo et al. 2020, freezes these).
    fn visit_first_blocks<V: burn::module::ModuleVisitor>(&self, k: usize, visitor: &mut V) {
        for block in self.blocks.iter().take(k) {
            block.visit(visitor);
        }
    }
}
