//! FastGAN's generator: z → 4×4, then up-sampling stages with GLU and skip-layer excitation.

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::tanh;
use burn::tensor::{Device, Tensor};

use super::FastganConfig;
use crate::model::dcgan::CLASS_EMBED;
use crate::model::gan::GanGenerator;
use crate::model::growth::Growth;
use crate::model::layers::{SelfAttention, SkipExcitation, glu, upsample2x, upsample2x_conv3x3};

const INIT: Initializer = Initializer::Normal {
    mean: 0.0,
    std: 0.02,
};
/// Stages at or below this side get a second convolution (FastGAN's "comp" blocks): cheap
/// at coarse sides, where they add the most shape capacity.
const DOUBLE_CONV_MAX_SIDE: usize = 16;

fn conv3x3(from: usize, to: usize, bias: bool, device: &Device) -> Conv2d {
    Conv2dConfig::new([from, to], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(bias)
        .with_initializer(INIT)
        .init(device)
}

/// A 3×3 convolution to twice the channels, BatchNorm, GLU.
#[derive(Module, Debug)]
pub struct GatedConv {
    conv: Conv2d,
    norm: BatchNorm,
}

impl GatedConv {
    fn new(from: usize, to: usize, device: &Device) -> Self {
        Self {
            conv: conv3x3(from, 2 * to, false, device),
            norm: BatchNormConfig::new(2 * to).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        glu(self.norm.forward(self.conv.forward(x)))
    }

    /// [`Self::forward`] of `upsample2x(x)`, without the up-sampled map.
    fn forward_upsampled(&self, x: Tensor<4>) -> Tensor<4> {
        glu(self.norm.forward(upsample2x_conv3x3(x, &self.conv)))
    }
}

/// Nearest ×2, then one or two gated convolutions.
#[derive(Module, Debug)]
pub struct UpStage {
    first: GatedConv,
    second: Option<GatedConv>,
}

impl UpStage {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.first.forward_upsampled(x);
        match &self.second {
            Some(second) => second.forward(x),
            None => x,
        }
    }
}

#[derive(Module, Debug)]
pub struct FastganGenerator {
    /// z (and the class embedding) → 4×4 map of twice the first width, before GLU.
    init: Linear,
    init_norm: BatchNorm,
    /// Stage k doubles the side from `4·2^k` to `4·2^(k+1)`.
    stages: Vec<UpStage>,
    /// `excitations[j]` gates stage `j + 2`'s output (side `32·2^j`) from the map 8× smaller.
    excitations: Vec<SkipExcitation>,
    /// The optional self-attention block on the map of side `attention_side`.
    attention: Option<SelfAttention>,
    attention_side: usize,
    /// The optional feature stage at the full side (`full_side_width`); without it
    /// `to_image` up-samples the half-side map itself.
    full_side: Option<GatedConv>,
    to_image: Conv2d,
    latent_dim: usize,
    init_width: usize,
    /// Conditional models: one learnt vector per class, `[classes, CLASS_EMBED]`, appended to z.
    class_embed: Option<Param<Tensor<2>>>,
    /// Progressive growing: 1×1 to-image heads on the maps of every side from `grow_from` to
    /// half the full side, coarse first.
    grow: Option<Vec<Conv2d>>,
    grow_from: usize,
    resolution: usize,
}

impl FastganGenerator {
    #[must_use]
    pub fn new(c: &FastganConfig, device: &Device) -> Self {
        let classes = c.class_count();
        let embed = if classes > 0 { CLASS_EMBED } else { 0 };
        let init_width = c.g_channels(4);
        // Feature stages up to half the output side; the last doubling goes straight to RGB.
        let stages = (0..c.stages() - 1)
            .map(|k| {
                let side = 8 << k;
                let (from, to) = (c.g_channels(side / 2), c.g_channels(side));
                UpStage {
                    first: GatedConv::new(from, to, device),
                    second: (side <= DOUBLE_CONV_MAX_SIDE).then(|| GatedConv::new(to, to, device)),
                }
            })
            .collect();
        // Excite side 8s from side s for every s from 4 whose 8s is a feature map.
        let excitations = (0..c.stages().saturating_sub(3))
            .map(|j| {
                let coarse = 4 << j;
                SkipExcitation::new(c.g_channels(coarse), c.g_channels(8 * coarse), device)
            })
            .collect();
        let grow = (c.grow_from > 0).then(|| {
            std::iter::successors(Some(c.grow_from), |s| {
                (*s < c.resolution / 2).then(|| s * 2)
            })
            .map(|side| {
                Conv2dConfig::new([c.g_channels(side), c.channels], [1, 1])
                    .with_initializer(INIT)
                    .init(device)
            })
            .collect()
        });
        Self {
            grow,
            grow_from: c.grow_from,
            resolution: c.resolution,
            init: LinearConfig::new(c.latent_dim + embed, 16 * 2 * init_width)
                .with_bias(false)
                .with_initializer(INIT)
                .init(device),
            init_norm: BatchNormConfig::new(2 * init_width).init(device),
            stages,
            excitations,
            attention: (c.attention_side > 0)
                .then(|| SelfAttention::new(c.g_channels(c.attention_side), device)),
            attention_side: c.attention_side,
            full_side: (c.full_side_width > 0)
                .then(|| GatedConv::new(c.g_channels(c.resolution / 2), c.full_side_width, device)),
            to_image: conv3x3(
                if c.full_side_width > 0 {
                    c.full_side_width
                } else {
                    c.g_channels(c.resolution / 2)
                },
                c.channels,
                true,
                device,
            ),
            latent_dim: c.latent_dim,
            init_width,
            class_embed: (classes > 0).then(|| {
                Initializer::Normal {
                    mean: 0.0,
                    std: 1.0,
                }
                .init([classes, CLASS_EMBED], device)
            }),
        }
    }
}

impl FastganGenerator {
    /// The feature map of side `side` (4 up to half the full side) for latents `z`, and the
    /// one of half that side (`None` at 4).
    fn maps_up_to(
        &self,
        z: Tensor<2>,
        classes: Option<Tensor<2>>,
        side: usize,
    ) -> (Tensor<4>, Option<Tensor<4>>) {
        let [batch, _] = z.dims();
        let z = match &self.class_embed {
            Some(embed) => {
                let table = embed.val();
                let [k, _] = table.dims();
                let mix = classes.unwrap_or_else(|| {
                    Tensor::<2>::ones([batch, k], &z.device()).div_scalar(k as f64)
                });
                Tensor::cat(vec![z, mix.matmul(table)], 1)
            }
            None => z,
        };
        let x = self
            .init
            .forward(z)
            .reshape([batch, 2 * self.init_width, 4, 4]);
        let mut x = glu(self.init_norm.forward(x));
        // `maps[k]` is stage k's input, of side 4·2^k.
        let mut maps = Vec::with_capacity(self.stages.len());
        for (k, stage) in self.stages.iter().enumerate() {
            if 4 << k >= side {
                break;
            }
            maps.push(x.clone());
            x = stage.forward(x);
            // Stage k's output has side 4·2^(k+1); the map 8× smaller is `maps[k − 2]`.
            if k >= 2
                && let Some(excite) = self.excitations.get(k - 2)
            {
                x = excite.forward(maps[k - 2].clone(), x);
            }
            if let Some(attention) = &self.attention
                && 4 << (k + 1) == self.attention_side
            {
                x = attention.forward(x);
            }
        }
        (x, maps.pop())
    }

    /// The picture from the half-side map: through the full-side stage when there is one,
    /// else an up-sampled 3×3 convolution straight to the image.
    fn image_from_half_side(&self, x: Tensor<4>) -> Tensor<4> {
        tanh(match &self.full_side {
            Some(stage) => self.to_image.forward(stage.forward_upsampled(x)),
            None => upsample2x_conv3x3(x, &self.to_image),
        })
    }
}

impl GanGenerator for FastganGenerator {
    fn forward(&self, z: Tensor<2>, classes: Option<Tensor<2>>) -> Tensor<4> {
        let (x, _) = self.maps_up_to(z, classes, self.resolution / 2);
        self.image_from_half_side(x)
    }

    fn forward_grown(&self, z: Tensor<2>, classes: Option<Tensor<2>>, growth: Growth) -> Tensor<4> {
        let Some(heads) = self
            .grow
            .as_ref()
            .filter(|_| !growth.is_full(self.resolution))
        else {
            return self.forward(z, classes);
        };
        let side = growth.side.max(self.grow_from);
        let head = |s: usize, x: Tensor<4>| {
            tanh(heads[(s / self.grow_from).trailing_zeros() as usize].forward(x))
        };
        let (new, below) = if side >= self.resolution {
            let (x, _) = self.maps_up_to(z, classes, self.resolution / 2);
            (self.image_from_half_side(x.clone()), Some(x))
        } else {
            let (x, below) = self.maps_up_to(z, classes, side);
            (head(side, x), below)
        };
        match below {
            Some(below) if growth.fading() && side > self.grow_from => {
                growth.blend(new, upsample2x(head(side / 2, below)))
            }
            _ => new,
        }
    }

    /// The input projection and then the first `k − 1` up-sampling stages, with the attention
    /// block on one of their maps.
    fn visit_first_stages<V: ModuleVisitor>(&self, k: usize, visitor: &mut V) {
        if k == 0 {
            return;
        }
        self.init.visit(visitor);
        self.init_norm.visit(visitor);
        for (j, stage) in self.stages.iter().take(k - 1).enumerate() {
            stage.visit(visitor);
            if let Some(attention) = &self.attention
                && 4 << (j + 1) == self.attention_side
            {
                attention.visit(visitor);
            }
        }
    }

    /// The input projection as `[latent_dim, 4·4·2·width]` (class-embedding rows left out).
    fn first_layer_weights(&self) -> Option<Tensor<2>> {
        Some(self.init.weight.val().narrow(0, 0, self.latent_dim))
    }
}
