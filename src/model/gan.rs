//! The GAN side of the seam: what a GAN family's networks offer the shared training step and
//! the renderer, and the names of the records a GAN run saves.

use burn::module::{Module, ModuleVisitor};
use burn::tensor::{Device, Tensor};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::config::FamilyConfig;
use super::drawing::{Drawing, Drawn};
use super::growth::{Growth, to_side};

/// The trained generator's record in a checkpoint.
pub const GENERATOR_RECORD: &str = "g";
/// The moving-average generator's record (what renders shots when a run keeps one).
pub const EMA_RECORD: &str = "ema";
/// The records that render shots, in order of preference.
pub const RENDER_RECORDS: &[&str] = &[EMA_RECORD, GENERATOR_RECORD];

/// A generator: latents (and classes) to images.
pub trait GanGenerator: Module + Sync + 'static {
    /// Images `[B, C, H, W]` in `[-1, 1]` for latents `z` `[B, latent_dim]`; `classes`
    /// (`[B, classes]`, one-hot or a mix) picks what a conditional model draws.
    fn forward(&self, z: Tensor<2>, classes: Option<Tensor<2>>) -> Tensor<4>;

    /// Visits the parameters of the first `k` stages, input side first (what fine-tuning
    /// freezes to keep a base model's coarse structure). Families without stages visit none.
    fn visit_first_stages<V: ModuleVisitor>(&self, k: usize, visitor: &mut V) {
        let _ = (k, visitor);
    }

    /// The first layer's weights as `[latent_dim, features]`: the map from z that closed-form
    /// latent directions (SeFa) factorise. `None` where z does not enter through one layer.
    fn first_layer_weights(&self) -> Option<Tensor<2>> {
        None
    }

    /// Images at a growing run's side (see [`Growth`]): the newest side's output faded in
    /// over the up-sampled output of the side below. A generator built without growing heads
    /// draws at its full side.
    fn forward_grown(&self, z: Tensor<2>, classes: Option<Tensor<2>>, growth: Growth) -> Tensor<4> {
        let _ = growth;
        self.forward(z, classes)
    }
}

/// What a discriminator pass is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CriticPass {
    /// Logits (and features) only.
    Score,
    /// Logits plus the discriminator's own self-supervised loss on these (real) images, where
    /// the family has one: FastGAN's reconstructions from D's 8×8 features. `crop` picks the
    /// quarter of the image the partial decoder rebuilds (0–3).
    Reconstruct { crop: usize },
}

/// A discriminator's answer: logits, the intermediate features behind them, and auxiliary
/// losses that the trainer adds to D's loss.
pub struct CriticOutput {
    /// One real/fake logit per image, `[B]`.
    pub logits: Tensor<1>,
    /// Intermediate feature maps, finest first (latent tools compare images in them).
    pub features: Vec<Tensor<4>>,
    /// The self-supervised loss a [`CriticPass::Reconstruct`] pass asked for.
    pub reconstruction: Option<Tensor<1>>,
    /// A conditional D's score for every class, `[B, classes]` (its projection term for each
    /// class in turn): which class D reads in each image, for the auxiliary class loss.
    pub class_scores: Option<Tensor<2>>,
}

/// A discriminator: images (and classes) to logits, features and auxiliary losses.
pub trait GanDiscriminator: Module + Sync + 'static {
    /// With `classes` (`[B, classes]`), a conditional D adds its projection term.
    fn critic(
        &self,
        images: Tensor<4>,
        classes: Option<Tensor<2>>,
        pass: CriticPass,
    ) -> CriticOutput;

    /// Logits alone.
    fn forward(&self, images: Tensor<4>, classes: Option<Tensor<2>>) -> Tensor<1> {
        self.critic(images, classes, CriticPass::Score).logits
    }

    /// [`Self::critic`] of images at a growing run's side: the new side's input block faded
    /// in over the pooled input of the side below. A discriminator built without growing
    /// heads judges its full side only.
    fn critic_grown(
        &self,
        images: Tensor<4>,
        classes: Option<Tensor<2>>,
        pass: CriticPass,
        growth: Growth,
    ) -> CriticOutput {
        let _ = growth;
        self.critic(images, classes, pass)
    }

    /// Whether [`CriticPass::Reconstruct`] adds a loss (the trainer then asks for it on reals).
    fn reconstructs(&self) -> bool {
        false
    }

    /// Visits the parameters of the first `k` blocks, input side first (`FreezeD`).
    fn visit_first_blocks<V: ModuleVisitor>(&self, k: usize, visitor: &mut V) {
        let _ = (k, visitor);
    }
}

/// A GAN family: its config and its two networks. The shared training step, EMA, losses and
/// augmentation work on any of them.
pub trait GanFamily: 'static {
    type Config: FamilyConfig + Clone + PartialEq + Default + Serialize + DeserializeOwned;
    type G: GanGenerator;
    type D: GanDiscriminator;

    /// In checkpoints written before the families split (format 1), every record path began
    /// with the family's variant name in the closed `Generator` / `Discriminator` enums.
    const LEGACY_PREFIX: Option<&'static str> = None;

    fn generator(config: &Self::Config, device: &Device) -> Self::G;
    fn discriminator(config: &Self::Config, device: &Device) -> Self::D;
}

/// A generator ready to render shots: the object-safe face of any family's G.
pub trait Render: Send + Sync {
    /// Images `[B, C, H, W]` in `[-1, 1]` (see [`GanGenerator::forward`]).
    fn render(&self, z: Tensor<2>, classes: Option<Tensor<2>>) -> Tensor<4>;
    /// See [`GanGenerator::first_layer_weights`].
    fn first_layer_weights(&self) -> Option<Tensor<2>>;
    /// The same generator on another device (inference mode).
    fn to_device(&self, device: &Device) -> Box<dyn Render>;
    /// Every weight and statistic in visiting order (see `flat_values`): to compare two
    /// generators value for value.
    fn values(&self) -> Vec<f32>;
    /// Begins drawing the images of [`Self::render`], to be advanced a few network passes
    /// at a time: a GAN's one pass is done here.
    fn begin(&self, z: Tensor<2>, classes: Option<Tensor<2>>) -> Box<dyn Drawing> {
        Box::new(Drawn(self.render(z, classes)))
    }
    /// Begins completing `known` images (`[B, C, H, W]`) around the pixels `keep` marks
    /// (`[H·W]`, row-major), drawing the rest from latents `z`. Only autoregressive models
    /// can: `None` elsewhere.
    fn begin_completion(
        &self,
        z: Tensor<2>,
        classes: Option<Tensor<2>>,
        known: Tensor<4>,
        keep: Vec<bool>,
    ) -> Option<Box<dyn Drawing>> {
        let _ = (z, classes, known, keep);
        None
    }
    /// The same renderer, drawing as a growing run is at `growth` (its images up-sampled to
    /// `full_side`); renderers that cannot grow are returned as they are.
    #[must_use]
    fn with_growth(self: Box<Self>, growth: Growth, full_side: usize) -> Box<dyn Render> {
        let _ = (growth, full_side);
        self.as_dyn()
    }
    /// Itself as a trait object (for [`Self::with_growth`]'s default).
    #[must_use]
    fn as_dyn(self: Box<Self>) -> Box<dyn Render>;
    /// [`Self::begin_completion`], drawn to the end.
    fn complete(
        &self,
        z: Tensor<2>,
        classes: Option<Tensor<2>>,
        known: Tensor<4>,
        keep: Vec<bool>,
    ) -> Option<Tensor<4>> {
        let mut drawing = self.begin_completion(z, classes, known, keep)?;
        drawing.advance(usize::MAX);
        Some(drawing.images())
    }
}

/// A discriminator for tools that compare images in its features (projection's feature loss)
/// or read its judgement. Built on an autodiff device it runs in training mode (BatchNorm on
/// batch statistics), as D always does while training.
pub trait Critic: Send {
    /// See [`CriticOutput::features`].
    fn features(&self, images: Tensor<4>) -> Vec<Tensor<4>>;
    /// One real/fake logit per image (unconditional: no projection term).
    fn logits(&self, images: Tensor<4>) -> Tensor<1>;
    /// Every weight and statistic in visiting order (see `flat_values`).
    fn values(&self) -> Vec<f32>;
}

/// Any family's generator, in inference mode, behind [`Render`]; a growing run's draws at
/// its current side, up-sampled to the full one.
pub(super) struct GanRenderer<G: GanGenerator>(G, Option<(Growth, usize)>);

impl<G: GanGenerator> GanRenderer<G> {
    pub(super) fn new(generator: G) -> Self {
        Self(generator.valid(), None)
    }

    /// Kept on its (autodiff) device with frozen weights and inference-mode layers, so
    /// gradients reach the latent and nothing else.
    pub(super) fn frozen(generator: G) -> Self {
        Self(generator.freeze(), None)
    }
}

impl<G: GanGenerator> Render for GanRenderer<G> {
    fn render(&self, z: Tensor<2>, classes: Option<Tensor<2>>) -> Tensor<4> {
        match self.1 {
            Some((growth, full)) if !growth.is_full(full) => {
                to_side(self.0.forward_grown(z, classes, growth), full)
            }
            _ => self.0.forward(z, classes),
        }
    }

    fn with_growth(self: Box<Self>, growth: Growth, full_side: usize) -> Box<dyn Render> {
        Box::new(Self(self.0, Some((growth, full_side))))
    }

    fn as_dyn(self: Box<Self>) -> Box<dyn Render> {
        self
    }

    fn first_layer_weights(&self) -> Option<Tensor<2>> {
        self.0.first_layer_weights()
    }

    fn to_device(&self, device: &Device) -> Box<dyn Render> {
        Box::new(Self(self.0.clone().to_device(device), self.1))
    }

    fn values(&self) -> Vec<f32> {
        super::records::flat_values(&self.0)
    }
}

/// Boxes a generator (any family) as a renderer: what a trainer hands the sampler.
#[must_use]
pub fn renderer_of<G: GanGenerator>(generator: &G, device: &Device) -> Box<dyn Render> {
    Box::new(GanRenderer::new(generator.valid().to_device(device)))
}

/// Any family's discriminator behind [`Critic`].
pub(super) struct GanCritic<D: GanDiscriminator>(pub(super) D);

impl<D: GanDiscriminator> Critic for GanCritic<D> {
    fn features(&self, images: Tensor<4>) -> Vec<Tensor<4>> {
        self.0.critic(images, None, CriticPass::Score).features
    }

    fn logits(&self, images: Tensor<4>) -> Tensor<1> {
        self.0.forward(images, None)
    }

    fn values(&self) -> Vec<f32> {
        super::records::flat_values(&self.0)
    }
}
