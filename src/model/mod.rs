//! Generator and discriminator families. Device-agnostic: the same code runs on burn's CPU
//! backend (flex) and on wgpu; the device is chosen where tensors are created.
//!
//! Knows nothing of data folders, training loops or the GUI.

mod dcgan;
mod mlp;
mod spectral;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};

pub use dcgan::{CLASS_EMBED, DcganDiscriminator, DcganGenerator, DcganShape};
pub use mlp::{MlpDiscriminator, MlpGenerator};
pub use spectral::SpectralConv2d;

use crate::preset::{ModelKind, ModelPreset};

/// Maps latent vectors `[B, latent_dim]` to images `[B, C, H, W]` in `[-1, 1]`.
// One generator lives per run; boxing a variant would only add an indirection to every call.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Generator {
    Mlp(MlpGenerator),
    Dcgan(DcganGenerator),
}

/// Maps images `[B, C, H, W]` to one real/fake logit each, `[B]`.
#[derive(Module, Debug)]
pub enum Discriminator {
    Mlp(MlpDiscriminator),
    Dcgan(DcganDiscriminator),
}

impl Generator {
    #[must_use]
    pub fn new(config: &ModelPreset, device: &Device) -> Self {
        match config.kind {
            ModelKind::SeedMlp => Self::Mlp(MlpGenerator::new(config, device)),
            ModelKind::Dcgan => Self::Dcgan(DcganGenerator::new(config, device)),
        }
    }

    /// Images for latents `z`; `classes` (`[B, classes]`) only matters to conditional models.
    #[must_use]
    pub fn forward(&self, z: Tensor<2>, classes: Option<Tensor<2>>) -> Tensor<4> {
        match self {
            Self::Mlp(g) => g.forward(z),
            Self::Dcgan(g) => g.forward(z, classes),
        }
    }

    /// Visits the parameters of the first `k` stages (those fine-tuning freezes).
    pub fn visit_first_stages<V: ModuleVisitor>(&self, k: usize, visitor: &mut V) {
        if let Self::Dcgan(g) = self {
            g.visit_first_stages(k, visitor);
        }
    }
}

impl Discriminator {
    #[must_use]
    pub fn new(config: &ModelPreset, device: &Device) -> Self {
        match config.kind {
            ModelKind::SeedMlp => Self::Mlp(MlpDiscriminator::new(config, device)),
            ModelKind::Dcgan => Self::Dcgan(DcganDiscriminator::new(config, device)),
        }
    }

    /// One logit per image; `classes` adds a conditional D's projection term.
    #[must_use]
    pub fn forward(&self, images: Tensor<4>, classes: Option<Tensor<2>>) -> Tensor<1> {
        match self {
            Self::Mlp(d) => d.forward(images),
            Self::Dcgan(d) => d.forward(images, classes),
        }
    }

    /// Visits the parameters of the first `k` blocks (those `FreezeD` freezes).
    pub fn visit_first_blocks<V: ModuleVisitor>(&self, k: usize, visitor: &mut V) {
        if let Self::Dcgan(d) = self {
            d.visit_first_blocks(k, visitor);
        }
    }
}

/// Every float value of a module (weights and running statistics) in its fixed visiting order:
/// lets tests and tools compare two models value for value, independent of parameter ids.
#[must_use]
pub fn flat_values<M: Module>(module: &M) -> Vec<f32> {
    struct Flatten(Vec<f32>);
    impl ModuleVisitor for Flatten {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Ok(values) = param
                .val()
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
            {
                self.0.extend(values);
            }
        }
    }
    let mut flatten = Flatten(Vec::new());
    module.visit(&mut flatten);
    flatten.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::Preset;
    use burn::tensor::Distribution;

    #[test]
    fn every_shipped_architecture_has_the_right_shapes() {
        let device = Device::flex();
        for name in [
            "tshirt-mlp-28",
            "dcgan-28",
            "dcgan-32-rgb",
            "dcgan-64-rgb",
            "dcgan-64-rgb-sn",
            "tiny-test",
        ] {
            let p = Preset::load(name).unwrap().model;
            let g = Generator::new(&p, &device);
            let d = Discriminator::new(&p, &device);
            let z = Tensor::<2>::random([3, p.latent_dim], Distribution::Normal(0.0, 1.0), &device);
            let x = g.forward(z, None);
            assert_eq!(
                x.dims(),
                [3, p.channels, p.resolution, p.resolution],
                "{name}"
            );
            let v = x.clone().abs().max().into_scalar::<f32>();
            assert!(v <= 1.0, "{name}: tanh output in [-1, 1], got {v}");
            assert_eq!(d.forward(x, None).dims(), [3], "{name}");
        }
    }

    #[test]
    fn dcgan_shapes_for_all_resolutions() {
        for (r, blocks) in [(28, 2), (32, 3), (64, 4), (128, 5)] {
            let s = DcganShape::new(r);
            assert_eq!(s.upsamplings, blocks, "{r}");
            assert_eq!(s.base << s.upsamplings, r);
        }
    }
}
