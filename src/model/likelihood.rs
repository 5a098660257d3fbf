//! The likelihood side of the seam: an autoregressive family has one network, one optimiser
//! and no latent space. It trains on the data's negative log-likelihood and draws a shot
//! pixel by pixel, each sub-pixel picked by inverse-CDF from one uniform number. Those numbers
//! are the shot's "latent": a seed still names a shot, and the same latent redraws it.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::config::FamilyConfig;
use super::drawing::Drawing;
use super::gan::Render;

/// The network's record in a checkpoint (it also renders shots).
pub const NET_RECORD: &str = "net";
/// The records that render shots.
pub const NET_RECORDS: &[&str] = &[NET_RECORD];

/// The ratio of nats to bits: likelihoods are reported in bits per sub-pixel.
pub const LN_2: f32 = std::f32::consts::LN_2;

/// An autoregressive density model over images.
pub trait LikelihoodNet: Module + Sync + 'static {
    /// `[channels, height, width]` of the images it models.
    fn image_shape(&self) -> [usize; 3];

    /// Mean negative log-likelihood of `images` (`[B, C, H, W]` in `[-1, 1]`, on the 256
    /// levels of 8-bit pixels) in bits per sub-pixel, as a `[1]` tensor.
    fn nll_bits(&self, images: Tensor<4>, classes: Option<Tensor<2>>) -> Tensor<1>;

    /// Visits the parameters of the first `k` layers, input side first (what fine-tuning
    /// freezes).
    fn visit_first_layers<V: burn::module::ModuleVisitor>(&self, k: usize, visitor: &mut V);

    /// One sampling pass: draws pixel `(i, j)` of `x` (`[B, C, H, W]`), channel by channel,
    /// from its predicted distribution given the pixels before it; `uniform` (`[B, C, H, W]`,
    /// each in (0, 1)) picks each sub-pixel by inverse CDF. Returns `x` with the pixel set.
    fn draw_pixel(
        &self,
        x: Tensor<4>,
        uniform: &Tensor<4>,
        classes: Option<&Tensor<2>>,
        i: usize,
        j: usize,
    ) -> Tensor<4>;

    /// Draws whole images in raster order (see [`PixelDrawing`]). `keep` (`[B, C, H, W]`
    /// images and a row-major `[H·W]` mask of 1 = keep) fixes the pixels it marks, so the
    /// model completes the rest around them.
    fn sample(
        &self,
        uniform: Tensor<4>,
        classes: Option<Tensor<2>>,
        keep: Option<(Tensor<4>, Vec<bool>)>,
    ) -> Tensor<4> {
        let mut drawing = PixelDrawing::new(self.clone(), uniform, classes, keep);
        drawing.advance(usize::MAX);
        drawing.images()
    }
}

/// Images drawn pixel by pixel in raster order, one network pass per pixel, skipping the
/// pixels a completion keeps.
pub struct PixelDrawing<N: LikelihoodNet> {
    net: N,
    uniform: Tensor<4>,
    classes: Option<Tensor<2>>,
    images: Tensor<4>,
    /// The pixels to draw, in order, as `(row, column)`.
    order: Vec<(usize, usize)>,
    next: usize,
}

impl<N: LikelihoodNet> PixelDrawing<N> {
    /// See [`LikelihoodNet::sample`] for the arguments.
    pub fn new(
        net: N,
        uniform: Tensor<4>,
        classes: Option<Tensor<2>>,
        keep: Option<(Tensor<4>, Vec<bool>)>,
    ) -> Self {
        let [b, c, h, w] = uniform.dims();
        let (images, kept) = match keep {
            Some((known, mask)) => (known, mask),
            None => (
                Tensor::zeros([b, c, h, w], &uniform.device()),
                vec![false; h * w],
            ),
        };
        let order = (0..h * w)
            .filter(|&p| !kept.get(p).copied().unwrap_or(false))
            .map(|p| (p / w, p % w))
            .collect();
        Self {
            net,
            uniform,
            classes,
            images,
            order,
            next: 0,
        }
    }
}

impl<N: LikelihoodNet> Drawing for PixelDrawing<N> {
    fn advance(&mut self, passes: usize) -> bool {
        let end = self
            .next
            .saturating_add(passes.max(1))
            .min(self.order.len());
        for &(i, j) in &self.order[self.next..end] {
            self.images = self.net.draw_pixel(
                self.images.clone(),
                &self.uniform,
                self.classes.as_ref(),
                i,
                j,
            );
        }
        self.next = end;
        self.next == self.order.len()
    }

    fn progress(&self) -> (usize, usize) {
        (self.next, self.order.len())
    }

    fn images(&self) -> Tensor<4> {
        self.images.clone()
    }
}

/// An autoregressive family: its config and its network.
pub trait LikelihoodFamily: 'static {
    type Config: FamilyConfig + Clone + PartialEq + Default + Serialize + DeserializeOwned;
    type Net: LikelihoodNet;

    fn network(config: &Self::Config, device: &Device) -> Self::Net;
}

/// Maps standard-normal latents to the uniform numbers that drive sampling (the normal CDF),
/// kept away from 0 and 1. Truncation, which shrinks latents towards 0, thereby pulls every
/// sub-pixel towards the median of its predicted distribution: ψ = 0 is the median image.
#[must_use]
pub fn uniform_from_latent(z: Tensor<2>) -> Tensor<2> {
    (z.div_scalar(std::f32::consts::SQRT_2).erf().add_scalar(1.0))
        .mul_scalar(0.5)
        .clamp(1e-6, 1.0 - 1e-6)
}

/// Any autoregressive network, in inference mode, behind [`Render`].
pub(super) struct LikelihoodRenderer<N: LikelihoodNet>(N);

impl<N: LikelihoodNet> LikelihoodRenderer<N> {
    pub(super) fn new(net: N) -> Self {
        Self(net.valid())
    }
}

impl<N: LikelihoodNet> LikelihoodRenderer<N> {
    fn drawing(
        &self,
        z: Tensor<2>,
        classes: Option<Tensor<2>>,
        keep: Option<(Tensor<4>, Vec<bool>)>,
    ) -> PixelDrawing<N> {
        let [b, _] = z.dims();
        let [c, h, w] = self.0.image_shape();
        let u = uniform_from_latent(z).reshape([b, c, h, w]);
        PixelDrawing::new(self.0.clone(), u, classes, keep)
    }
}

impl<N: LikelihoodNet> Render for LikelihoodRenderer<N> {
    fn render(&self, z: Tensor<2>, classes: Option<Tensor<2>>) -> Tensor<4> {
        let mut drawing = self.drawing(z, classes, None);
        drawing.advance(usize::MAX);
        drawing.images()
    }

    fn begin(&self, z: Tensor<2>, classes: Option<Tensor<2>>) -> Box<dyn Drawing> {
        Box::new(self.drawing(z, classes, None))
    }

    fn first_layer_weights(&self) -> Option<Tensor<2>> {
        None
    }

    fn as_dyn(self: Box<Self>) -> Box<dyn Render> {
        self
    }

    fn to_device(&self, device: &Device) -> Box<dyn Render> {
        Box::new(Self(self.0.clone().to_device(device)))
    }

    fn values(&self) -> Vec<f32> {
        super::records::flat_values(&self.0)
    }

    fn begin_completion(
        &self,
        z: Tensor<2>,
        classes: Option<Tensor<2>>,
        known: Tensor<4>,
        keep: Vec<bool>,
    ) -> Option<Box<dyn Drawing>> {
        Some(Box::new(self.drawing(z, classes, Some((known, keep)))))
    }
}

/// A trained density model that scores images: the object-safe face of any likelihood
/// family's network, in inference mode.
pub trait Likelihood: Send + Sync {
    /// See [`LikelihoodNet::nll_bits`].
    fn nll_bits(&self, images: Tensor<4>, classes: Option<Tensor<2>>) -> Tensor<1>;
}

impl<N: LikelihoodNet> Likelihood for LikelihoodRenderer<N> {
    fn nll_bits(&self, images: Tensor<4>, classes: Option<Tensor<2>>) -> Tensor<1> {
        self.0.nll_bits(images, classes)
    }
}

/// Boxes an autoregressive network as a renderer: what its trainer hands the sampler.
#[must_use]
pub fn likelihood_renderer_of<N: LikelihoodNet>(net: &N, device: &Device) -> Box<dyn Render> {
    Box::new(LikelihoodRenderer::new(net.valid().to_device(device)))
}
