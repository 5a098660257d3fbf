//! Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
//! Decoders"): a vertical stack that sees the rows above and a horizontal stack that sees the
//! pixels to the left, so the receptive field has no blind spot; gated `tanh · sigmoid` units;
//! a 256-way softmax per sub-pixel.
//!
//! Causality comes from padding and shifting, not from masked weights: the vertical conv
//! (`(k/2 + 1) × k`) covers rows `i − k/2 ..= i` and reaches the horizontal stack only after a
//! one-row down-shift; the horizontal conv (`1 × (k/2 + 1)`) covers columns `j − k/2 ..= j`,
//! shifted one column right in the first layer (PixelCNN's mask A). Colour sub-pixels are
//! ordered R, G, B within a pixel: channel `c`'s head also reads channels `< c` of the same
//! pixel (the role of mask B's channel groups), through a 1×1 convolution of the image.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{log_softmax, relu, sigmoid, softmax, tanh};
use burn::tensor::ops::PadMode;
use burn::tensor::{Device, Tensor};

use super::PixelCnnConfig;
use crate::model::likelihood::{LN_2, LikelihoodNet};

/// Levels of an 8-bit sub-pixel.
pub const LEVELS: usize = 256;

fn conv(from: usize, to: usize, kernel: [usize; 2], bias: bool, device: &Device) -> Conv2d {
    Conv2dConfig::new([from, to], kernel)
        .with_padding(PaddingConfig2d::Valid)
        .with_bias(bias)
        .init(device)
}

/// Moves a map down by `rows` (zeros enter at the top).
fn shift_down(x: Tensor<4>, rows: usize) -> Tensor<4> {
    let [_, _, h, _] = x.dims();
    x.pad((0, 0, rows, 0), PadMode::Constant(0.0))
        .narrow(2, 0, h)
}

/// Moves a map right by `cols` (zeros enter at the left).
fn shift_right(x: Tensor<4>, cols: usize) -> Tensor<4> {
    let [_, _, _, w] = x.dims();
    x.pad((cols, 0, 0, 0), PadMode::Constant(0.0))
        .narrow(3, 0, w)
}

/// `tanh(a) · sigmoid(b)` over the two halves of the channels.
fn gate(x: Tensor<4>) -> Tensor<4> {
    let mut halves = x.chunk(2, 1);
    let b = halves.pop().expect("two halves");
    let a = halves.pop().expect("two halves");
    tanh(a) * sigmoid(b)
}

/// One gated layer of both stacks.
#[derive(Module, Debug)]
pub struct GatedLayer {
    vertical: Conv2d,
    vertical_to_horizontal: Conv2d,
    horizontal: Conv2d,
    horizontal_out: Conv2d,
    /// Conditional models: a per-class bias of each stack's gates.
    class_vertical: Option<Linear>,
    class_horizontal: Option<Linear>,
    /// Kernel half-width `k/2`.
    half: usize,
    /// The first layer: its horizontal stack excludes the current pixel, and it has no
    /// residual connection (its input is the image).
    first: bool,
}

impl GatedLayer {
    fn new(
        input: usize,
        width: usize,
        kernel: usize,
        classes: usize,
        first: bool,
        device: &Device,
    ) -> Self {
        let half = kernel / 2;
        let class_bias =
            || (classes > 0).then(|| LinearConfig::new(classes, 2 * width).init(device));
        Self {
            vertical: conv(input, 2 * width, [half + 1, kernel], true, device),
            vertical_to_horizontal: conv(2 * width, 2 * width, [1, 1], false, device),
            horizontal: conv(input, 2 * width, [1, half + 1], true, device),
            horizontal_out: conv(width, width, [1, 1], true, device),
            class_vertical: class_bias(),
            class_horizontal: class_bias(),
            half,
            first,
        }
    }

    fn class_term(linear: Option<&Linear>, classes: Option<&Tensor<2>>) -> Option<Tensor<4>> {
        let (linear, classes) = (linear?, classes?);
        let bias = linear.forward(classes.clone());
        let [b, c] = bias.dims();
        Some(bias.reshape([b, c, 1, 1]))
    }

    /// `(vertical, horizontal)` in, the same out.
    fn forward(
        &self,
        vertical: Tensor<4>,
        horizontal: Tensor<4>,
        classes: Option<&Tensor<2>>,
    ) -> (Tensor<4>, Tensor<4>) {
        let k = self.half;
        // Vertical: rows i − k ..= i, columns j − k ..= j + k.
        let v = self
            .vertical
            .forward(vertical.pad((k, k, k, 0), PadMode::Constant(0.0)));
        let v = match Self::class_term(self.class_vertical.as_ref(), classes) {
            Some(bias) => v + bias,
            None => v,
        };
        // Only rows strictly above reach the horizontal stack.
        let v_to_h = self
            .vertical_to_horizontal
            .forward(shift_down(v.clone(), 1));
        // Horizontal: columns j − k ..= j of this row (j − k − 1 ..= j − 1 in the first layer).
        let h_in = if self.first {
            shift_right(horizontal.clone(), 1)
        } else {
            horizontal.clone()
        };
        let h = self
            .horizontal
            .forward(h_in.pad((k, 0, 0, 0), PadMode::Constant(0.0)))
            + v_to_h;
        let h = match Self::class_term(self.class_horizontal.as_ref(), classes) {
            Some(bias) => h + bias,
            None => h,
        };
        let h = self.horizontal_out.forward(gate(h));
        let h = if self.first { h } else { h + horizontal };
        (gate(v), h)
    }
}

/// The whole network: gated layers, then a 256-way head per channel.
#[derive(Module, Debug)]
pub struct GatedPixelCnn {
    layers: Vec<GatedLayer>,
    head: Conv2d,
    /// Channel `c > 0`: what the head reads of channels `< c` of the same pixel.
    earlier_channels: Vec<Conv2d>,
    to_levels: Vec<Conv2d>,
    channels: usize,
    resolution: usize,
    half: usize,
}

impl GatedPixelCnn {
    #[must_use]
    pub fn new(c: &PixelCnnConfig, device: &Device) -> Self {
        let classes = if c.conditional { c.classes.len() } else { 0 };
        let layers = (0..c.layers)
            .map(|i| {
                let input = if i == 0 { c.channels } else { c.width };
                GatedLayer::new(input, c.width, c.kernel, classes, i == 0, device)
            })
            .collect();
        Self {
            layers,
            head: conv(c.width, c.width, [1, 1], true, device),
            earlier_channels: (1..c.channels)
                .map(|ch| conv(ch, c.width, [1, 1], false, device))
                .collect(),
            to_levels: (0..c.channels)
                .map(|_| conv(c.width, LEVELS, [1, 1], true, device))
                .collect(),
            channels: c.channels,
            resolution: c.resolution,
            half: c.kernel / 2,
        }
    }

    /// Rows above a pixel that its prediction can depend on (the vertical receptive field).
    #[must_use]
    pub fn rows_seen(&self) -> usize {
        self.layers.len() * self.half + 1
    }

    /// Columns on either side of a pixel that its prediction can depend on: the vertical
    /// stack widens by `k/2` both ways per layer, the horizontal stack reaches one further
    /// left (its first layer's shift).
    #[must_use]
    pub fn columns_seen(&self) -> usize {
        self.layers.len() * self.half + 1
    }

    /// The trunk's features `[B, width, 1, 1]` at pixel `(i, j)`, computed on only the rows
    /// and columns its prediction can see: a sampling pass costs the same wherever the pixel
    /// is, and a fraction of the whole image's. Equal to `trunk(images)` there.
    #[must_use]
    pub fn pixel_features(
        &self,
        images: &Tensor<4>,
        classes: Option<&Tensor<2>>,
        i: usize,
        j: usize,
    ) -> Tensor<4> {
        let [_, _, _, w] = images.dims();
        let top = i.saturating_sub(self.rows_seen());
        let columns = self.columns_seen();
        let (left, right) = (j.saturating_sub(columns), (j + columns).min(w - 1));
        let window = images
            .clone()
            .narrow(2, top, i + 1 - top)
            .narrow(3, left, right + 1 - left);
        self.trunk(window, classes)
            .narrow(2, i - top, 1)
            .narrow(3, j - left, 1)
    }

    /// The shared features before the per-channel heads, `[B, width, H, W]`.
    #[must_use]
    pub fn trunk(&self, images: Tensor<4>, classes: Option<&Tensor<2>>) -> Tensor<4> {
        let (mut v, mut h) = (images.clone(), images);
        for layer in &self.layers {
            (v, h) = layer.forward(v, h, classes);
        }
        self.head.forward(relu(h))
    }

    /// Logits `[B, 256, H, W]` of every channel: what the model predicts for each sub-pixel
    /// given all those before it.
    #[must_use]
    pub fn logits(&self, images: Tensor<4>, classes: Option<&Tensor<2>>) -> Vec<Tensor<4>> {
        let features = self.trunk(images.clone(), classes);
        (0..self.channels)
            .map(|c| self.channel_logits(features.clone(), &images, c))
            .collect()
    }

    /// Logits `[B, 256, H, W]` of channel `c`, given the trunk's features and the image
    /// (whose channels `< c` at each pixel the head reads).
    fn channel_logits(&self, features: Tensor<4>, images: &Tensor<4>, c: usize) -> Tensor<4> {
        let x = if c == 0 {
            features
        } else {
            features + self.earlier_channels[c - 1].forward(images.clone().narrow(1, 0, c))
        };
        self.to_levels[c].forward(relu(x))
    }
}

/// The 8-bit level of each sub-pixel of images in `[-1, 1]`.
fn levels(images: Tensor<4>) -> Tensor<4, burn::tensor::Int> {
    images
        .add_scalar(1.0)
        .mul_scalar(127.5)
        .round()
        .clamp(0.0, 255.0)
        .int()
}

impl LikelihoodNet for GatedPixelCnn {
    fn image_shape(&self) -> [usize; 3] {
        [self.channels, self.resolution, self.resolution]
    }

    fn visit_first_layers<V: burn::module::ModuleVisitor>(&self, k: usize, visitor: &mut V) {
        for layer in self.layers.iter().take(k) {
            layer.visit(visitor);
        }
    }

    fn nll_bits(&self, images: Tensor<4>, classes: Option<Tensor<2>>) -> Tensor<1> {
        let [b, c, h, w] = images.dims();
        let features = self.trunk(images.clone(), classes.as_ref());
        let targets = levels(images.clone());
        let mut total: Option<Tensor<1>> = None;
        for ch in 0..c {
            let logits = self.channel_logits(features.clone(), &images, ch);
            let target = targets.clone().narrow(1, ch, 1);
            let picked = log_softmax(logits, 1).gather(1, target).sum().reshape([1]);
            total = Some(match total {
                Some(t) => t + picked,
                None => picked,
            });
        }
        let sub_pixels = (b * c * h * w) as f32;
        total
            .expect("at least one channel")
            .div_scalar(-sub_pixels * LN_2)
    }

    fn draw_pixel(
        &self,
        mut x: Tensor<4>,
        uniform: &Tensor<4>,
        classes: Option<&Tensor<2>>,
        i: usize,
        j: usize,
    ) -> Tensor<4> {
        let [b, c, _, _] = x.dims();
        let features = self.pixel_features(&x, classes, i, j);
        for ch in 0..c {
            let pixel = x.clone().narrow(2, i, 1).narrow(3, j, 1);
            let logits = self
                .channel_logits(features.clone(), &pixel, ch)
                .reshape([b, LEVELS]);
            let cdf = softmax(logits, 1).cumsum(1);
            let u = uniform
                .clone()
                .narrow(1, ch, 1)
                .narrow(2, i, 1)
                .narrow(3, j, 1)
                .reshape([b, 1])
                .expand([b, LEVELS]);
            // The first level whose cumulative probability reaches u.
            let level = cdf
                .lower(u)
                .float()
                .sum_dim(1)
                .clamp(0.0, (LEVELS - 1) as f32);
            let value = level
                .div_scalar(127.5)
                .sub_scalar(1.0)
                .reshape([b, 1, 1, 1]);
            x = x.slice_assign([0..b, ch..ch + 1, i..i + 1, j..j + 1], value);
        }
        x
    }
}
