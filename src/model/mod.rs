//! Model families, one folder each, and the seam the rest of Atelier knows them through.
//!
//! A family is a config type (its `[model]` table, validating itself) and its networks. GAN
//! families give a generator and a discriminator through [`GanFamily`]; the shared GAN
//! training step (`train::gan`) and the renderer ([`Render`]) are generic over it, so the run
//! loop, the worker, checkpoints and the sampler never name a layer. Families are listed once,
//! in [`config`]'s `families!` invocation: a new family is a new folder plus one line there.
//!
//! Device-agnostic: the same code runs on burn's CPU backend (flex) and on wgpu; the device is
//! chosen where tensors are created. Knows nothing of presets, data folders, training loops
//! or the GUI.

mod config;
pub mod dcgan;
mod drawing;
pub mod fastgan;
mod fields;
mod gan;
mod growth;
pub mod layers;
mod likelihood;
pub mod mlp;
pub mod pixelcnn;
pub mod records;
pub mod upscaler;

pub use config::{ConfigError, FamilyConfig, FamilyVisitor, Freezable, ModelConfig};
pub use dcgan::{CLASS_EMBED, DcganShape};
pub use drawing::{Drawing, Drawn};
pub use gan::{
    Critic, CriticOutput, CriticPass, EMA_RECORD, GENERATOR_RECORD, GanDiscriminator, GanFamily,
    GanGenerator, RENDER_RECORDS, Render, renderer_of,
};
pub use growth::{Growth, GrowthSchedule, grown_images, to_side};
pub use layers::SpectralConv2d;
pub use likelihood::{
    LN_2, Likelihood, LikelihoodFamily, LikelihoodNet, NET_RECORD, NET_RECORDS, PixelDrawing,
    likelihood_renderer_of, uniform_from_latent,
};
pub use records::{
    INIT_LOCK, Materialise, RecordError, flat_values, module_bytes, module_from_bytes,
};

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution, Tensor};

    struct Shapes<'a>(&'a Device);

    impl FamilyVisitor for Shapes<'_> {
        type Output = (Vec<usize>, usize, f32);
        fn gan<F: GanFamily>(self, config: &F::Config) -> Self::Output {
            let g = F::generator(config, self.0);
            let d = F::discriminator(config, self.0);
            let z = Tensor::<2>::random(
                [3, config.latent_dim()],
                Distribution::Normal(0.0, 1.0),
                self.0,
            );
            let x = g.forward(z, None);
            let dims = x.dims().to_vec();
            let v = x.clone().abs().max().into_scalar::<f32>();
            (dims, d.forward(x, None).dims()[0], v)
        }
        fn likelihood<F: LikelihoodFamily>(self, config: &F::Config) -> Self::Output {
            let net = F::network(config, self.0);
            let n = config.latent_dim();
            let z = Tensor::<2>::random([3, n], Distribution::Normal(0.0, 1.0), self.0);
            let [c, h, w] = net.image_shape();
            let u = uniform_from_latent(z).reshape([3, c, h, w]);
            let x = net.sample(u, None, None);
            let dims = x.dims().to_vec();
            let v = x.clone().abs().max().into_scalar::<f32>();
            let bits = net.nll_bits(x, None).into_scalar::<f32>();
            assert!(bits.is_finite() && bits > 0.0, "{bits}");
            (dims, 3, v)
        }
    }

    /// The `[model]` table of a recipe file (read here directly: models know no presets).
    fn model_of(text: &str) -> ModelConfig {
        let table: toml::Table = toml::from_str(text).unwrap();
        let model = table.get("model").cloned().unwrap();
        ModelConfig::deserialize_value(model).unwrap()
    }

    #[test]
    fn every_shipped_architecture_has_the_right_shapes() {
        let device = Device::flex();
        // Read from the recipe files by name (models know no presets, so not through
        // `preset::BUILTIN_PRESETS`).
        for name in [
            "tshirt-mlp-28",
            "dcgan-28",
            "dcgan-32-rgb",
            "dcgan-64-rgb",
            "dcgan-64-rgb-sn",
            "fastgan-64-rgb",
            "fastgan-128-rgb",
            "tiny-test",
            "tiny-fastgan",
        ] {
            let path = format!("{}/presets/{name}.toml", env!("CARGO_MANIFEST_DIR"));
            let p = model_of(&std::fs::read_to_string(&path).unwrap());
            let (dims, logits, v) = p.visit(Shapes(&device));
            assert_eq!(
                dims,
                [3, p.channels(), p.resolution(), p.resolution()],
                "{name}"
            );
            assert!(v <= 1.0, "{name}: tanh output in [-1, 1], got {v}");
            assert_eq!(logits, 3, "{name}");
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
