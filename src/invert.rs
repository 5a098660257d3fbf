//! Bringing a real photo into a generator (GAN inversion, "projection"): the latent whose
//! render matches the photo, so the photo becomes a shot the sliders, morphs and exports work
//! on.
//!
//! Nothing pretrained is available (no VGG/LPIPS), so the match is judged by what the run
//! itself has: pixels at three scales, and the features of the run's own discriminator, which
//! learnt what tells product photos apart. The search starts from the best of a few hundred
//! random seeds and refines several of them at once with Adam on z, under a prior that keeps
//! ‖z‖² near its typical value (the latent dimension); the restart whose render is nearest in
//! pixels wins.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use thiserror::Error;

use crate::checkpoint::Checkpoint;
use crate::export::Picture;
use crate::latent::{LatentEncoder, latent_for_seed};
use crate::model::layers::pool2x;
use crate::model::{Critic, Render};
use crate::preset::Preset;
use crate::sample::{SampleError, Sampler};

/// The run's discriminator record (its features drive the feature loss).
const DISCRIMINATOR_RECORD: &str = "d";
/// Seeds rendered per batch in the starting search.
const SEARCH_BATCH: usize = 128;
const ADAM_BETAS: (f64, f64) = (0.9, 0.999);

#[derive(Clone, Debug, PartialEq)]
pub struct InvertOptions {
    /// Random seeds tried as starting points.
    pub seeds: usize,
    /// The best seeds refined side by side; the best result wins.
    pub restarts: usize,
    /// Adam steps on z.
    pub steps: usize,
    pub learning_rate: f64,
    /// Weight of the discriminator-feature loss beside the pixel loss (0: pixels only).
    pub feature_weight: f64,
    /// Weight of the prior (‖z‖²/d − 1)².
    pub prior_weight: f64,
}

impl Default for InvertOptions {
    fn default() -> Self {
        Self {
            seeds: 512,
            restarts: 6,
            steps: 200,
            learning_rate: 0.05,
            feature_weight: 0.5,
            prior_weight: 0.05,
        }
    }
}

#[derive(Debug, Error)]
pub enum InvertError {
    #[error("the checkpoint has no generator to invert: {0}")]
    Generator(#[from] SampleError),
    #[error("the photo is {found} values, the generator makes {expected}")]
    PhotoSize { found: usize, expected: usize },
    #[error("cancelled")]
    Cancelled,
    #[error("this model cannot take a photo in: {0}")]
    NoLatentSpace(&'static str),
    #[error("the device failed: {0}")]
    Device(String),
}

/// A photo brought into the generator.
#[derive(Clone, Debug)]
pub struct Inversion {
    pub latent: Vec<f32>,
    /// The generator's render of `latent` (inference, as the gallery draws it).
    pub picture: Picture,
    /// Mean absolute pixel difference to the photo, in [0, 1].
    pub pixel_l1: f32,
    /// The same for the best starting seed, before refinement.
    pub start_l1: f32,
    pub seconds: f64,
    /// A conditional model's class the search found for the photo (index into its classes).
    pub class: Option<u32>,
    /// The pixel L1 of the encoder's starting point (its best class), when there is one.
    pub encoder_l1: Option<f32>,
}

/// An inversion under way, a step at a time (the worker interleaves its steps with renders).
pub struct InversionRun {
    target_picture: Picture,
    target: Tensor<4>,
    target_features: Vec<Tensor<4>>,
    z: Tensor<2>,
    /// Each restart's class (a conditional model's), fixed while z is refined.
    classes: Vec<Option<u32>>,
    m: Tensor<2>,
    v: Tensor<2>,
    step: usize,
    options: InvertOptions,
    start_l1: f32,
    encoder_l1: Option<f32>,
    started: Instant,
}

impl InversionRun {
    #[must_use]
    pub fn done(&self) -> bool {
        self.step >= self.options.steps
    }

    /// Share of the steps done, in [0, 1].
    #[must_use]
    pub fn progress(&self) -> f32 {
        self.step as f32 / self.options.steps.max(1) as f32
    }

    /// The photo as the generator's size makes it.
    #[must_use]
    pub fn photo(&self) -> &Picture {
        &self.target_picture
    }
}

/// A generator ready to invert: its sampler (for renders as the gallery makes them), and the
/// same weights frozen on the autodiff device, with the run's critic when it kept one.
pub struct Inverter {
    sampler: Sampler,
    frozen: Box<dyn Render>,
    critic: Option<Box<dyn Critic>>,
    training_device: Device,
    /// The generator's encoder: a starting point beside the best random seeds.
    encoder: Option<LatentEncoder>,
}

impl Inverter {
    /// The generator of `checkpoint`, with its own discriminator when it keeps one.
    pub fn new(checkpoint: &Checkpoint, device: &Device) -> Result<Self, InvertError> {
        Self::with_critic_from(checkpoint, Some(checkpoint), device)
    }

    /// The generator of `generator` (a pinned generator file or a checkpoint), with the
    /// discriminator of `critic` when given and kept there (the run's checkpoint: a pinned
    /// generator file has no D).
    pub fn with_critic_from(
        generator: &Checkpoint,
        critic: Option<&Checkpoint>,
        device: &Device,
    ) -> Result<Self, InvertError> {
        let sampler = Sampler::from_checkpoint(generator, device)?;
        let preset =
            Preset::from_toml("checkpoint", &generator.preset_toml).map_err(SampleError::from)?;
        preset
            .model
            .family()
            .latent_tools()
            .map_err(InvertError::NoLatentSpace)?;
        let training_device = device.clone().autodiff();
        let record = preset
            .model
            .render_records()
            .iter()
            .find_map(|n| generator.blob(n))
            .ok_or(SampleError::NoGenerator)?;
        let frozen = preset
            .model
            .frozen_renderer(record, &training_device)
            .map_err(|e| InvertError::Device(e.to_string()))?;
        // A critic of another architecture (a checkpoint of another recipe) is left out.
        let critic = critic
            .and_then(|c| c.blob(DISCRIMINATOR_RECORD))
            .and_then(|d| preset.model.critic(d, &training_device, true).ok());
        Ok(Self {
            sampler,
            frozen,
            critic,
            training_device,
            encoder: None,
        })
    }

    /// Starts every projection from `encoder`'s latent for the photo too (it competes with
    /// the best random seeds for a restart).
    pub fn set_encoder(&mut self, encoder: LatentEncoder) {
        self.encoder = Some(encoder);
    }

    #[must_use]
    pub fn sampler(&self) -> &Sampler {
        &self.sampler
    }

    /// Whether the feature loss can use the run's discriminator.
    #[must_use]
    pub fn has_critic(&self) -> bool {
        self.critic.is_some()
    }

    /// Inverts `photo`: channel-major u8 at the generator's size (as an import makes it).
    /// `progress` gets the share done; `cancel` stops between steps.
    pub fn invert(
        &self,
        photo: &[u8],
        options: &InvertOptions,
        cancel: &AtomicBool,
        mut progress: impl FnMut(f32),
    ) -> Result<Inversion, InvertError> {
        let mut run = self.begin(photo, options, cancel)?;
        while !run.done() {
            if cancel.load(Ordering::Relaxed) {
                return Err(InvertError::Cancelled);
            }
            self.step(&mut run)?;
            progress(run.progress());
        }
        self.finish(run)
    }

    /// Checks the photo and finds the starting latents (the nearest random seeds).
    pub fn begin(
        &self,
        photo: &[u8],
        options: &InvertOptions,
        cancel: &AtomicBool,
    ) -> Result<InversionRun, InvertError> {
        let started = Instant::now();
        let model = &self.sampler.model;
        let (c, r, dim) = (model.channels(), model.resolution(), model.latent_dim());
        if photo.len() != c * r * r {
            return Err(InvertError::PhotoSize {
                found: photo.len(),
                expected: c * r * r,
            });
        }
        let target_picture = Picture::from_chw_u8(photo, c, r);
        let (starts, encoder_l1) = self.best_seeds(&target_picture, options, cancel)?;
        let start_l1 = starts.first().map_or(1.0, |s| s.0);
        let restarts = starts.len();
        let latents: Vec<f32> = starts.iter().flat_map(|s| s.1.clone()).collect();
        let classes: Vec<Option<u32>> = starts.iter().map(|s| s.2).collect();
        let device = &self.training_device;
        let target: Tensor<4> = Tensor::<4>::from_data(
            TensorData::new(
                photo.iter().map(|&v| f32::from(v) / 127.5 - 1.0).collect(),
                [1, c, r, r],
            ),
            device,
        )
        .repeat_dim(0, restarts);
        let target_features: Vec<Tensor<4>> = self
            .critic
            .as_ref()
            .map(|d| {
                d.features(target.clone())
                    .into_iter()
                    .map(Tensor::detach)
                    .collect()
            })
            .unwrap_or_default();
        let z = Tensor::<2>::from_data(TensorData::new(latents, [restarts, dim]), device);
        Ok(InversionRun {
            target_picture,
            target,
            target_features,
            m: z.zeros_like(),
            v: z.zeros_like(),
            z,
            classes,
            step: 0,
            options: options.clone(),
            start_l1,
            encoder_l1,
            started,
        })
    }

    /// One Adam step on every restart's latent.
    pub fn step(&self, run: &mut InversionRun) -> Result<(), InvertError> {
        let dim = self.sampler.model.latent_dim();
        let zg = run.z.clone().detach().require_grad();
        let render = self.frozen.render(zg.clone(), self.one_hot(&run.classes));
        let loss = self.loss(
            render,
            &run.target,
            &run.target_features,
            &zg,
            &run.options,
            dim,
        );
        let grads = loss.backward();
        let g = zg
            .grad(&grads)
            .ok_or_else(|| InvertError::Device("no gradient reached the latent".into()))?;
        let g = Tensor::<2>::from_data(g.into_data(), &self.training_device);
        // Adam, with bias correction, on the plain (detached) latent.
        run.step += 1;
        let t = i32::try_from(run.step).unwrap_or(i32::MAX);
        run.m = run.m.clone().mul_scalar(ADAM_BETAS.0) + g.clone().mul_scalar(1.0 - ADAM_BETAS.0);
        run.v = run.v.clone().mul_scalar(ADAM_BETAS.1)
            + g.powf_scalar(2.0).mul_scalar(1.0 - ADAM_BETAS.1);
        let m_hat = run.m.clone().div_scalar(1.0 - ADAM_BETAS.0.powi(t));
        let v_hat = run.v.clone().div_scalar(1.0 - ADAM_BETAS.1.powi(t));
        run.z = run.z.clone().detach()
            - (m_hat / (v_hat.sqrt() + 1e-8)).mul_scalar(run.options.learning_rate);
        Ok(())
    }

    /// The restart whose render (as the gallery draws it) is nearest the photo.
    pub fn finish(&self, run: InversionRun) -> Result<Inversion, InvertError> {
        let dim = self.sampler.model.latent_dim();
        let finals: Vec<Vec<f32>> = run
            .z
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| InvertError::Device(format!("{e:?}")))?
            .chunks(dim)
            .map(<[f32]>::to_vec)
            .collect();
        let classes = if self.sampler.model.class_count() > 0 {
            run.classes.clone()
        } else {
            Vec::new()
        };
        let pictures = self.sampler.render_classes(&finals, &classes)?;
        let (best, pixel_l1) = pictures
            .iter()
            .map(|p| pixel_l1(p, &run.target_picture))
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .ok_or_else(|| InvertError::Device("no restart finished".into()))?;
        Ok(Inversion {
            latent: finals[best].clone(),
            picture: pictures[best].clone(),
            pixel_l1,
            start_l1: run.start_l1,
            seconds: run.started.elapsed().as_secs_f64(),
            class: run.classes.get(best).copied().flatten(),
            encoder_l1: run.encoder_l1,
        })
    }

    /// One-hot rows of the restarts' classes, on the training device (`None` for an
    /// unconditional model).
    fn one_hot(&self, classes: &[Option<u32>]) -> Option<Tensor<2>> {
        let count = self.sampler.model.class_count();
        (count > 0).then(|| crate::sample::one_hot(classes, count, &self.training_device))
    }

    /// Multi-scale pixel L1, the critic's feature distance, and the latent prior.
    fn loss(
        &self,
        render: Tensor<4>,
        target: &Tensor<4>,
        target_features: &[Tensor<4>],
        z: &Tensor<2>,
        options: &InvertOptions,
        dim: usize,
    ) -> Tensor<1> {
        let (mut x, mut y) = (render.clone(), target.clone());
        let mut loss = (x.clone() - y.clone()).abs().mean();
        for _ in 0..2 {
            if x.dims()[2] < 8 {
                break;
            }
            x = pool2x(x);
            y = pool2x(y);
            loss = loss + (x.clone() - y.clone()).abs().mean();
        }
        if let Some(critic) = self
            .critic
            .as_ref()
            .filter(|_| options.feature_weight > 0.0)
        {
            for (f, t) in critic.features(render).into_iter().zip(target_features) {
                let scale = t.clone().abs().mean().add_scalar(1e-6);
                loss = loss
                    + ((f - t.clone()).abs().mean() / scale).mul_scalar(options.feature_weight);
            }
        }
        let norm = z.clone().powf_scalar(2.0).sum_dim(1).div_scalar(dim as f64);
        loss + (norm.sub_scalar(1.0).powf_scalar(2.0).mean()).mul_scalar(options.prior_weight)
    }

    /// The `options.restarts` starting points whose renders are nearest the photo, nearest
    /// first: pixel L1, latent, and for a conditional model the class. A conditional model
    /// draws every seed as every class, so the search finds the class too (a sneaker photo
    /// starts from sneakers).
    fn best_seeds(
        &self,
        target: &Picture,
        options: &InvertOptions,
        cancel: &AtomicBool,
    ) -> Result<(Vec<Start>, Option<f32>), InvertError> {
        let dim = self.sampler.model.latent_dim();
        let classes: Vec<Option<u32>> = match self.sampler.model.class_count() {
            0 => vec![None],
            n => (0..n as u32).map(Some).collect(),
        };
        let mut scored: Vec<Start> = Vec::with_capacity(options.seeds * classes.len());
        // The encoder's guess for the photo, drawn as every class, is a candidate too.
        let encoded = self.encoder.as_ref().map(|e| {
            let m = &self.sampler.model;
            e.encode(
                &target.to_chw_u8(),
                m.channels(),
                m.resolution(),
                self.sampler.device(),
            )
        });
        let mut encoder_l1 = None;
        if let Some(z) = encoded.filter(|z| z.len() == dim) {
            for &class in &classes {
                let l1 = self.score(target, std::slice::from_ref(&z), class)?[0];
                encoder_l1 = Some(encoder_l1.map_or(l1, |b: f32| b.min(l1)));
                scored.push((l1, z.clone(), class));
            }
        }
        for batch in (0..options.seeds as u64)
            .collect::<Vec<_>>()
            .chunks(SEARCH_BATCH)
        {
            let latents: Vec<Vec<f32>> = batch
                .iter()
                .map(|&s| latent_for_seed(INVERT_SEEDS + s, dim))
                .collect();
            for &class in &classes {
                if cancel.load(Ordering::Relaxed) {
                    return Err(InvertError::Cancelled);
                }
                let l1 = self.score(target, &latents, class)?;
                scored.extend(
                    l1.into_iter()
                        .zip(&latents)
                        .map(|(l1, z)| (l1, z.clone(), class)),
                );
            }
        }
        scored.sort_by(|a, b| a.0.total_cmp(&b.0));
        scored.truncate(options.restarts.max(1));
        Ok((scored, encoder_l1))
    }

    /// The pixel L1 to `target` of each latent's render as `class`.
    fn score(
        &self,
        target: &Picture,
        latents: &[Vec<f32>],
        class: Option<u32>,
    ) -> Result<Vec<f32>, InvertError> {
        let drawn_as = if class.is_some() {
            vec![class; latents.len()]
        } else {
            Vec::new()
        };
        let pictures = self.sampler.render_classes(latents, &drawn_as)?;
        Ok(pictures.iter().map(|p| pixel_l1(p, target)).collect())
    }
}

/// A starting point of the search: its pixel L1 to the photo, its latent, its class.
type Start = (f32, Vec<f32>, Option<u32>);

/// Seeds of the starting search (apart from the gallery's, which count from 0): seed
/// `INVERT_SEEDS + k` is the search's k-th.
pub const INVERT_SEEDS: u64 = 0x1D_0000;

/// Mean absolute difference of two pictures of one size, in [0, 1].
#[must_use]
pub fn pixel_l1(a: &Picture, b: &Picture) -> f32 {
    let sum: u64 = a
        .pixels
        .iter()
        .zip(&b.pixels)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f32 / (255.0 * a.pixels.len().max(1) as f32)
}
