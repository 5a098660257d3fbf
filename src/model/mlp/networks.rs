//! The seed design, exactly: a fully connected GAN. Kept as the baseline preset.
//!
//! G = Dense 256 → BatchNorm → LeakyReLU → Dense 256 → BatchNorm → LeakyReLU → Dense H·W·C tanh.
//! D = Flatten → Dense 256 → LeakyReLU → Dense 128 → LeakyReLU → Dense 1 (a logit: the seed's
//! sigmoid-plus-logits-loss was a bug and is not copied).

use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::tensor::activation::tanh;
use burn::tensor::{Device, Tensor};

use super::MlpConfig;
use crate::model::gan::{CriticOutput, CriticPass, GanDiscriminator, GanGenerator};
use crate::model::layers::leaky_relu;

const SLOPE: f64 = 0.2;

#[derive(Module, Debug)]
pub struct MlpGenerator {
    fc1: Linear,
    bn1: BatchNorm,
    fc2: Linear,
    bn2: BatchNorm,
    out: Linear,
    channels: usize,
    resolution: usize,
}

impl MlpGenerator {
    #[must_use]
    pub fn new(c: &MlpConfig, device: &Device) -> Self {
        let pixels = c.channels * c.resolution * c.resolution;
        Self {
            fc1: LinearConfig::new(c.latent_dim, c.hidden).init(device),
            bn1: BatchNormConfig::new(c.hidden).init(device),
            fc2: LinearConfig::new(c.hidden, c.hidden).init(device),
            bn2: BatchNormConfig::new(c.hidden).init(device),
            out: LinearConfig::new(c.hidden, pixels).init(device),
            channels: c.channels,
            resolution: c.resolution,
        }
    }
}

impl GanGenerator for MlpGenerator {
    /// The seed design is unconditional: `classes` is ignored.
    fn forward(&self, z: Tensor<2>, _classes: Option<Tensor<2>>) -> Tensor<4> {
        let [batch, _] = z.dims();
        let x = leaky_relu(self.bn1.forward(self.fc1.forward(z)), SLOPE);
        let x = leaky_relu(self.bn2.forward(self.fc2.forward(x)), SLOPE);
        tanh(self.out.forward(x)).reshape([batch, self.channels, self.resolution, self.resolution])
    }

    fn first_layer_weights(&self) -> Option<Tensor<2>> {
        Some(self.fc1.weight.val())
    }
}

#[derive(Module, Debug)]
pub struct MlpDiscriminator {
    fc1: Linear,
    fc2: Linear,
    out: Linear,
}

impl MlpDiscriminator {
    #[must_use]
    pub fn new(c: &MlpConfig, device: &Device) -> Self {
        let pixels = c.channels * c.resolution * c.resolution;
        Self {
            fc1: LinearConfig::new(pixels, 256).init(device),
            fc2: LinearConfig::new(256, 128).init(device),
            out: LinearConfig::new(128, 1).init(device),
        }
    }
}

impl GanDiscriminator for MlpDiscriminator {
    fn critic(
        &self,
        images: Tensor<4>,
        _classes: Option<Tensor<2>>,
        _pass: CriticPass,
    ) -> CriticOutput {
        let [batch, ..] = images.dims();
        let x: Tensor<2> = images.reshape([batch as i32, -1]);
        let x = leaky_relu(self.fc1.forward(x), SLOPE);
        let features = leaky_relu(self.fc2.forward(x), SLOPE);
        let logits = self.out.forward(features.clone()).reshape([batch]);
        let [_, width] = features.dims();
        CriticOutput {
            logits,
            features: vec![features.reshape([batch, width, 1, 1])],
            reconstruction: None,
            class_scores: None,
        }
    }
}
