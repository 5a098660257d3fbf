//! The likelihood side of the seam: an autoregressive family has one network, one optimiser
//! and no latent space. It trains on the data's negative log-likelihood and draws a shot
//! pixel by pixel, each sub-pixel picked by inverse-CDF from one uniform number. Those numbers
//! are the shot's "latent": a seed still names a shot, and the same latent redraws it.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::config::FamilyConfig;
use super::gan::Render;

/// The network's record in a checkpoint (it also renders shots).
pub const NET_RECORD: &str = "net";
/// The records that render shots.
pub const NET_RECORDS: &[&str] = &[NET_RECORD];

/// The ratio of nats to bits: likelihoods are reported in bits per sub-pixel.
pub const LN_2: f32 = std::f32::consts::LN_2;

/// An autoregressive density model over images.
pub trait LikelihoodNet: Module + Sync + 'static {
    /// Mean negative log-likelihood of `images` (`[B, C, H, W]` in `[-1, 1]`, on the 256
    /// levels of 8-bit pixels) in bits per sub-pixel, as a `[1]` tensor.
    /// `[channels, height, width]` of the images it models.
    fn image_shape(&self) -> [usize; 3];

    fn nll_bits(&self, images: Tensor<4>, classes: Option<Tensor<2>>) -> Tensor<1>;

    /// Draws images: `uniform` (`[B, C, H, W]`, each in (0, 1)) picks every sub-pixel from
    /// its predicted distribution by inverse CDF, in raster order, channel by channel.
    /// `keep` (`[B, C, H, W]` images and a `[H, W]` mask of 1 = keep) fixes the pixels it
    /// marks, so the model completes the rest around them.
    /// Visits the parameters of the first `k` layers, input side first (what fine-tuning
    /// freezes).
    fn visit_first_layers<V: burn::module::ModuleVisitor>(&self, k: usize, visitor: &mut V);

    fn sample(
        &self,
        uniform: Tensor<4>,
        classes: Option<Tensor<2>>,
        keep: Option<(Tensor<4>, Vec<bool>)>,
    ) -> Tensor<4>;
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

impl<N: LikelihoodNet> Render for LikelihoodRenderer<N> {
    fn render(&self, z: Tensor<2>, classes: Option<Tensor<2>>) -> Tensor<4> {
        let [b, _] = z.dims();
        let [c, h, w] = self.0.image_shape();
        let u = uniform_from_latent(z).reshape([b, c, h, w]);
        self.0.sample(u, classes, None)
    }

    fn first_layer_weights(&self) -> Option<Tensor<2>> {
        None
    }

    fn to_device(&self, device: &Device) -> Box<dyn Render> {
        Box::new(Self(self.0.clone().to_device(device)))
    }

    fn values(&self) -> Vec<f32> {
        super::records::flat_values(&self.0)
    }

    fn complete(
        &self,
        z: Tensor<2>,
        classes: Option<Tensor<2>>,
        known: Tensor<4>,
        keep: Vec<bool>,
    ) -> Option<Tensor<4>> {
        let [b, _] = z.dims();
        let [c, h, w] = self.0.image_shape();
        let u = uniform_from_latent(z).reshape([b, c, h, w]);
        Some(self.0.sample(u, classes, Some((known, keep))))
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
