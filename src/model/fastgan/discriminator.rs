//! FastGAN's discriminator: spectrally normalised residual down-blocks, hinge logits from the
//! 4×4 map, and two decoders that rebuild real images from D's coarse features.

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, PaddingConfig2d};
use burn::tensor::activation::tanh;
use burn::tensor::{Device, Tensor};

use super::FastganConfig;
use crate::model::gan::{CriticOutput, CriticPass, GanDiscriminator};
use crate::model::growth::Growth;
use crate::model::layers::{
    SpectralConv2d, glu, leaky_relu, pool2x, project_logits, upsample2x_conv3x3,
};

const SLOPE: f64 = 0.2;
const INIT: Initializer = Initializer::Normal {
    mean: 0.0,
    std: 0.02,
};
/// Channels of the decoders' hidden maps (halved by each stage's GLU).
const DECODER_WIDTH: usize = 32;

/// Halves the side: a spectrally normalised strided 4×4 convolution and LeakyReLU(0.2), as
/// in `dcgan-64-rgb-sn`'s D. FastGAN's average-pooled 1×1 side path was tried and cost a
/// quarter of the training speed on a CPU (seven more power iterations and three more
/// passes over each map per D pass).
#[derive(Module, Debug)]
pub struct DownStage {
    down: SpectralConv2d,
}

impl DownStage {
    fn new(from: usize, to: usize, device: &Device) -> Self {
        Self {
            down: SpectralConv2d::new([from, to], 4, 2, 1, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        leaky_relu(self.down.forward(x), SLOPE)
    }
}

/// Down-stages from a map of side `from` to 4×4, with the config's D widths per side.
fn down_stages(c: &FastganConfig, from: usize, device: &Device) -> Vec<DownStage> {
    std::iter::successors(Some(from), |s| (*s > 4).then(|| s / 2))
        .collect::<Vec<_>>()
        .windows(2)
        .map(|w| DownStage::new(c.d_channels(w[0]), c.d_channels(w[1]), device))
        .collect()
}

/// FastGAN's second look at the picture (`down_from_small`): a small D on the image
/// average-pooled to `side`, where only the layout and the colour masses are left. Its
/// logit adds to the main D's, so G is also judged on its silhouettes alone.
#[derive(Module, Debug)]
pub struct SmallCritic {
    from_image: SpectralConv2d,
    stages: Vec<DownStage>,
    to_logit: SpectralConv2d,
    side: usize,
}

impl SmallCritic {
    /// Channels per side as the main D's, from `side / 2` down to 4×4.
    fn new(c: &FastganConfig, side: usize, device: &Device) -> Self {
        Self {
            from_image: SpectralConv2d::new([c.channels, c.d_channels(side / 2)], 4, 2, 1, device),
            stages: down_stages(c, side / 2, device),
            to_logit: SpectralConv2d::new([c.d_channels(4), 1], 4, 1, 0, device),
            side,
        }
    }

    /// One logit per image of `images` (any side from `self.side` up).
    fn logit(&self, images: Tensor<4>) -> Tensor<1> {
        let [batch, ..] = images.dims();
        let mut x = leaky_relu(self.from_image.forward(shrink_to(images, self.side)), SLOPE);
        for stage in &self.stages {
            x = stage.forward(x);
        }
        self.to_logit.forward(x).reshape([batch])
    }
}

/// 8×8 features → a small picture: a 1×1 reduction, up-sampling GLU stages, a tanh 3×3
/// convolution.
#[derive(Module, Debug)]
pub struct Decoder {
    reduce: Conv2d,
    ups: Vec<DecoderStage>,
    to_image: Conv2d,
}

/// Nearest ×2, a 3×3 convolution, BatchNorm, GLU.
#[derive(Module, Debug)]
pub struct DecoderStage {
    conv: Conv2d,
    norm: BatchNorm,
}

impl Decoder {
    /// A decoder from 8×8 features of `from` channels to `side`-px pictures.
    fn new(from: usize, channels: usize, side: usize, device: &Device) -> Self {
        let conv = |a: usize, b: usize, k: usize| {
            let pad = k / 2;
            Conv2dConfig::new([a, b], [k, k])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_initializer(INIT)
                .init(device)
        };
        // One doubling per stage from 8×8; each stage's GLU halves the channels.
        let stages = (side / 8).trailing_zeros() as usize;
        let widths: Vec<usize> = (0..=stages).map(|k| (DECODER_WIDTH >> k).max(4)).collect();
        Self {
            reduce: conv(from, DECODER_WIDTH, 1),
            ups: widths
                .windows(2)
                .map(|w| DecoderStage {
                    conv: conv(w[0], 2 * w[1], 3),
                    norm: BatchNormConfig::new(2 * w[1]).init(device),
                })
                .collect(),
            to_image: conv(widths[stages], channels, 3),
        }
    }

    fn forward(&self, features: Tensor<4>) -> Tensor<4> {
        let mut x = self.reduce.forward(features);
        for stage in &self.ups {
            x = glu(stage.norm.forward(upsample2x_conv3x3(x, &stage.conv)));
        }
        tanh(self.to_image.forward(x))
    }
}

#[derive(Module, Debug)]
pub struct FastganDiscriminator {
    /// Full size → half, no normalisation (the input layer).
    from_image: SpectralConv2d,
    /// Each halves the side, down to 4×4.
    stages: Vec<DownStage>,
    to_logit: SpectralConv2d,
    /// Rebuilds the whole image from the 8×8 map.
    whole: Option<Decoder>,
    /// Rebuilds one quarter of the image from the matching quarter of the 16×16 map.
    part: Option<Decoder>,
    /// The optional second look at the picture pooled small (`small_critic_side`).
    small: Option<SmallCritic>,
    /// Projection discriminator (Miyato & Koyama 2018): `[classes, features]`.
    class_embed: Option<Param<Tensor<2>>>,
    resolution: usize,
    /// The reconstruction loss's weight in D's loss.
    reconstruction_weight: f64,
    /// Side of the decoders' pictures.
    reconstruction_side: usize,
    /// Progressive growing: 1×1 from-image heads into the map of every side from
    /// `grow_from` to half the full side, coarse first.
    grow: Option<Vec<Conv2d>>,
    grow_from: usize,
}

impl FastganDiscriminator {
    #[must_use]
    pub fn new(c: &FastganConfig, device: &Device) -> Self {
        let first = c.resolution / 2;
        let stages = down_stages(c, first, device);
        let decoders = c.reconstruction > 0.0;
        let classes = c.class_count();
        Self {
            from_image: SpectralConv2d::new([c.channels, c.d_channels(first)], 4, 2, 1, device),
            stages,
            to_logit: SpectralConv2d::new([c.d_channels(4), 1], 4, 1, 0, device),
            whole: decoders
                .then(|| Decoder::new(c.d_channels(8), c.channels, c.reconstruction_side, device)),
            part: decoders
                .then(|| Decoder::new(c.d_channels(16), c.channels, c.reconstruction_side, device)),
            small: (c.small_critic_side > 0)
                .then(|| SmallCritic::new(c, c.small_critic_side, device)),
            class_embed: (classes > 0).then(|| INIT.init([classes, c.d_channels(4)], device)),
            grow: (c.grow_from > 0).then(|| {
                std::iter::successors(Some(c.grow_from), |s| {
                    (*s < c.resolution / 2).then(|| s * 2)
                })
                .map(|side| {
                    Conv2dConfig::new([c.channels, c.d_channels(side)], [1, 1])
                        .with_initializer(INIT)
                        .init(device)
                })
                .collect()
            }),
            grow_from: c.grow_from,
            resolution: c.resolution,
            reconstruction_weight: c.reconstruction,
            reconstruction_side: c.reconstruction_side,
        }
    }

    /// L1 between the decoders' pictures and the image they should rebuild, weighted.
    fn reconstruction_loss(
        &self,
        images: &Tensor<4>,
        feature_maps: &[Tensor<4>],
        crop: usize,
    ) -> Option<Tensor<1>> {
        let (whole, part) = (self.whole.as_ref()?, self.part.as_ref()?);
        let side_of = |t: &Tensor<4>| t.dims()[2];
        let coarse = feature_maps.iter().find(|m| side_of(m) == 8)?.clone();
        let middle = feature_maps.iter().find(|m| side_of(m) == 16)?.clone();
        let (row, col) = (crop / 2 % 2, crop % 2);
        let quarter_map = middle.narrow(2, row * 8, 8).narrow(3, col * 8, 8);
        // A growing run's images may be smaller than the full side.
        let half = images.dims()[2] / 2;
        let quarter_image = images
            .clone()
            .narrow(2, row * half, half)
            .narrow(3, col * half, half);
        let side = self.reconstruction_side.min(half);
        let whole_loss = (shrink_to(whole.forward(coarse), side) - shrink_to(images.clone(), side))
            .abs()
            .mean();
        let part_loss = (shrink_to(part.forward(quarter_map), side)
            - shrink_to(quarter_image, side))
        .abs()
        .mean();
        Some((whole_loss + part_loss).mul_scalar(self.reconstruction_weight))
    }
}

/// Average-pools by 2 until the side is `side`.
fn shrink_to(mut x: Tensor<4>, side: usize) -> Tensor<4> {
    while x.dims()[2] > side {
        x = pool2x(x);
    }
    x
}

impl FastganDiscriminator {
    /// D from stage `first` on (`x` is that stage's input), to the logit and, for a
    /// reconstruction pass, the decoders' loss on `images`.
    fn judge(
        &self,
        mut x: Tensor<4>,
        first: usize,
        images: Tensor<4>,
        classes: Option<Tensor<2>>,
        pass: CriticPass,
    ) -> CriticOutput {
        let [batch, ..] = images.dims();
        let mut features = Vec::with_capacity(self.stages.len() + 1);
        features.push(x.clone());
        for stage in self.stages.iter().skip(first) {
            x = stage.forward(x);
            features.push(x.clone());
        }
        let logit = self.to_logit.forward(x.clone()).reshape([batch]);
        let embed = self.class_embed.as_ref().map(Param::val);
        let (logits, class_scores) = project_logits(logit, x, embed, classes);
        // A growing run's early images may be smaller than the small critic's side.
        let logits = match &self.small {
            Some(small) if images.dims()[2] >= small.side => logits + small.logit(images.clone()),
            _ => logits,
        };
        let reconstruction = match pass {
            CriticPass::Score => None,
            CriticPass::Reconstruct { crop } => self.reconstruction_loss(&images, &features, crop),
        };
        CriticOutput {
            logits,
            features,
            reconstruction,
            class_scores,
        }
    }
}

impl GanDiscriminator for FastganDiscriminator {
    fn critic(
        &self,
        images: Tensor<4>,
        classes: Option<Tensor<2>>,
        pass: CriticPass,
    ) -> CriticOutput {
        let x = leaky_relu(self.from_image.forward(images.clone()), SLOPE);
        self.judge(x, 0, images, classes, pass)
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
        let side = images.dims()[2];
        let from_image = |s: usize, x: Tensor<4>| {
            let head = &heads[(s / self.grow_from).trailing_zeros() as usize];
            leaky_relu(head.forward(x), SLOPE)
        };
        // The stage that takes a map of side s is stage log2(R/s) − 1.
        let (x, next_stage) = if side >= self.resolution {
            (
                leaky_relu(self.from_image.forward(images.clone()), SLOPE),
                0,
            )
        } else {
            let stage = (self.resolution / side).trailing_zeros() as usize - 1;
            let x = self.stages[stage].forward(from_image(side, images.clone()));
            (x, stage + 1)
        };
        let x = if growth.fading() && side > self.grow_from {
            growth.blend(x, from_image(side / 2, pool2x(images.clone())))
        } else {
            x
        };
        self.judge(x, next_stage, images, classes, pass)
    }

    fn reconstructs(&self) -> bool {
        self.whole.is_some()
    }

    /// The input layer, then the first `k − 1` down-stages.
    fn visit_first_blocks<V: ModuleVisitor>(&self, k: usize, visitor: &mut V) {
        if k == 0 {
            return;
        }
        self.from_image.visit(visitor);
        for stage in self.stages.iter().take(k - 1) {
            stage.visit(visitor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::FamilyConfig;
    use burn::tensor::Distribution;

    fn config(small_critic_side: usize) -> FastganConfig {
        FastganConfig {
            g_width: 4,
            d_width: 4,
            latent_dim: 8,
            small_critic_side,
            ..FastganConfig::default()
        }
    }

    #[test]
    fn the_small_critic_sees_only_the_pooled_picture() {
        let device = Device::flex();
        let critic = SmallCritic::new(&config(16), 16, &device);
        let images = Tensor::<4>::random([2, 3, 64, 64], Distribution::Uniform(-1.0, 1.0), &device);
        // A pattern that averages to zero over every 4×4 block: invisible at 16 px.
        let grain = Tensor::<4>::from_floats([[[[0.5, -0.5], [-0.5, 0.5]]]], &device)
            .repeat_dim(0, 2)
            .repeat_dim(1, 3)
            .repeat_dim(2, 32)
            .repeat_dim(3, 32);
        let plain = critic
            .logit(images.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let grainy = critic
            .logit(images.clone() + grain)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for (a, b) in plain.iter().zip(&grainy) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        // A change of layout at 16 px does reach it.
        let shifted = critic
            .logit(images.flip([3]))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert!(
            plain
                .iter()
                .zip(&shifted)
                .any(|(a, b)| (a - b).abs() > 1e-4)
        );
    }

    #[test]
    fn every_small_side_gives_one_logit_per_image_and_older_records_stay_plain() {
        let device = Device::flex();
        let images = Tensor::<4>::random([2, 3, 64, 64], Distribution::Uniform(-1.0, 1.0), &device);
        for side in [8, 16, 32] {
            config(side).validate().unwrap();
            let d = FastganDiscriminator::new(&config(side), &device);
            let out = d.critic(images.clone(), None, CriticPass::Reconstruct { crop: 1 });
            assert_eq!(out.logits.dims(), [2]);
        }
        for side in [4, 12, 64] {
            assert_eq!(
                config(side).validate().unwrap_err().field,
                "model.small_critic_side"
            );
        }
        // A record without the small critic (every older file) does not load into one with it.
        let load = |side| {
            super::super::tests::record_loads(
                FastganDiscriminator::new(&config(0), &device),
                FastganDiscriminator::new(&config(side), &device),
            )
        };
        assert!(load(0));
        assert!(!load(16));
    }
}
