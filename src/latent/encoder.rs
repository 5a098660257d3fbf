//! A small encoder per generator, photo → latent, that gives projection its starting point.
//! It learns on free pairs: random latents z and the generator's own renders G(z) (of random
//! classes, for a conditional model), regressing z from G(z). Any GAN family's renderer
//! serves, so every family gets one. Nothing pretrained is involved.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};

use crate::export::Picture;
use crate::latent::latent_for_seed;
use crate::model::layers::{leaky_relu, pool2x};
use crate::model::{INIT_LOCK, Materialise, RecordError, module_bytes, module_from_bytes};
use crate::rng::Rng;
use crate::sample::{SampleError, Sampler};

/// The side the encoder reads: larger pictures are pooled down to it first.
const READ_SIDE: usize = 32;
const WIDTHS: [usize; 3] = [32, 64, 128];
const SLOPE: f64 = 0.2;
/// Renders per training step.
pub const ENCODER_BATCH: usize = 32;
/// Adam steps a generator's encoder trains for by default (a minute or two on 2 cores).
pub const ENCODER_STEPS: usize = 400;
/// Steps that carry an encoder over to a newer checkpoint of the same run.
pub const ENCODER_REFRESH_STEPS: usize = 100;
const LEARNING_RATE: f64 = 1e-3;
/// The seed of every encoder's weights and training pairs: a generator's encoder is the same
/// wherever it is taught.
pub const ENCODER_SEED: u64 = 0x00E7_C0DE;

/// Strided convolutions down to a few pixels, then one linear map to the latent.
#[derive(Module, Debug)]
pub struct LatentEncoder {
    convs: Vec<Conv2d>,
    to_latent: Linear,
}

/// The side after a 4×4, stride-2, padding-1 convolution.
fn halved(side: usize) -> usize {
    (side + 2 - 4) / 2 + 1
}

impl LatentEncoder {
    /// For pictures of `channels` × `resolution`² and latents of `latent_dim`.
    #[must_use]
    pub fn new(channels: usize, resolution: usize, latent_dim: usize, device: &Device) -> Self {
        let mut side = read_side(resolution);
        let mut from = channels;
        let convs = WIDTHS
            .iter()
            .map(|&to| {
                let conv = Conv2dConfig::new([from, to], [4, 4])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device);
                (from, side) = (to, halved(side));
                conv
            })
            .collect();
        let to_latent = LinearConfig::new(from * side * side, latent_dim)
            .with_initializer(Initializer::XavierNormal { gain: 1.0 })
            .init(device);
        Self { convs, to_latent }
    }

    /// Latents `[B, latent_dim]` for images `[B, C, R, R]` in `[-1, 1]`.
    #[must_use]
    pub fn forward(&self, mut images: Tensor<4>) -> Tensor<2> {
        while images.dims()[2] > READ_SIDE && images.dims()[2].is_multiple_of(2) {
            images = pool2x(images);
        }
        let mut x = images;
        for conv in &self.convs {
            x = leaky_relu(conv.forward(x), SLOPE);
        }
        let [b, c, h, w] = x.dims();
        self.to_latent.forward(x.reshape([b, c * h * w]))
    }

    /// The latent of one photo (channel-major `u8` at the generator's size).
    #[must_use]
    pub fn encode(&self, photo: &[u8], channels: usize, side: usize, device: &Device) -> Vec<f32> {
        let values = photo.iter().map(|&v| f32::from(v) / 127.5 - 1.0).collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [1, channels, side, side]), device);
        self.forward(x)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default()
    }

    /// The encoder as bytes (its file beside a pinned generator).
    pub fn to_bytes(&self) -> Result<Vec<u8>, RecordError> {
        module_bytes(self.clone())
    }

    /// An encoder for `sampler`'s generator from [`Self::to_bytes`].
    pub fn from_bytes(sampler: &Sampler, bytes: &[u8]) -> Result<Self, RecordError> {
        let m = &sampler.model;
        let fresh = Self::new(
            m.channels(),
            m.resolution(),
            m.latent_dim(),
            sampler.device(),
        );
        module_from_bytes(fresh, bytes, None)
    }
}

/// The side the encoder reads a picture of `resolution` at.
fn read_side(mut resolution: usize) -> usize {
    while resolution > READ_SIDE && resolution.is_multiple_of(2) {
        resolution /= 2;
    }
    resolution
}

/// An encoder being taught, a step at a time (the worker interleaves steps with its work).
pub struct EncoderTraining {
    encoder: Option<LatentEncoder>,
    opt: ModuleOptimizer,
    rng: Rng,
    step: usize,
    steps: usize,
    autodiff: Device,
    /// The last step's mean squared error on z (per coordinate; 1 is no better than 0).
    pub last_loss: f32,
}

impl EncoderTraining {
    /// A fresh encoder for `sampler`'s generator, to train for `steps` steps; weights and
    /// pairs from `seed` alone.
    #[must_use]
    pub fn new(sampler: &Sampler, steps: usize, seed: u64) -> Self {
        let m = &sampler.model;
        let autodiff = sampler.device().clone().autodiff();
        let encoder = {
            let _guard = INIT_LOCK
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            sampler.device().seed(seed);
            let e = LatentEncoder::new(m.channels(), m.resolution(), m.latent_dim(), &autodiff);
            e.visit(&mut Materialise);
            e
        };
        Self {
            encoder: Some(encoder),
            opt: AdamConfig::new().init(),
            rng: Rng::derived(seed, "encoder-pairs"),
            step: 0,
            steps,
            autodiff,
            last_loss: f32::NAN,
        }
    }

    /// One Adam step on a fresh batch of (z, G(z)) pairs.
    pub fn step(&mut self, sampler: &Sampler) -> Result<(), SampleError> {
        let dim = sampler.model.latent_dim();
        let latents: Vec<Vec<f32>> = (0..ENCODER_BATCH)
            .map(|_| latent_for_seed(self.rng.next_u64(), dim))
            .collect();
        let classes: Vec<Option<u32>> = match sampler.model.class_count() {
            0 => Vec::new(),
            n => (0..ENCODER_BATCH)
                .map(|_| Some((self.rng.next_u64() % n as u64) as u32))
                .collect(),
        };
        let pictures = sampler.render_classes(&latents, &classes)?;
        let images = pictures_tensor(&pictures, &self.autodiff);
        let z = Tensor::<2>::from_data(
            TensorData::new(latents.concat(), [ENCODER_BATCH, dim]),
            &self.autodiff,
        );
        let encoder = self
            .encoder
            .take()
            .ok_or_else(|| SampleError::Readback("an earlier encoder step failed".into()))?;
        let loss = (encoder.forward(images) - z).powf_scalar(2.0).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &encoder);
        self.encoder = Some(self.opt.step(LEARNING_RATE, encoder, grads));
        self.step += 1;
        if self.done() {
            self.last_loss = loss.into_scalar::<f32>();
        }
        Ok(())
    }

    #[must_use]
    pub fn done(&self) -> bool {
        self.step >= self.steps
    }

    /// Goes on for `steps` more steps, from the weights and moments it has: a newer
    /// checkpoint's generator draws much as the last one did, so a warm encoder needs far
    /// fewer steps than a fresh one.
    pub fn extend(&mut self, steps: usize) {
        self.steps = self.step + steps;
    }

    /// Share of the steps done, in [0, 1].
    #[must_use]
    pub fn progress(&self) -> f32 {
        self.step as f32 / self.steps.max(1) as f32
    }

    /// The taught encoder, on the plain device.
    #[must_use]
    pub fn finish(self) -> Option<LatentEncoder> {
        self.encoder()
    }

    /// The encoder as taught so far, on the plain device (training can go on).
    #[must_use]
    pub fn encoder(&self) -> Option<LatentEncoder> {
        self.encoder.as_ref().map(Module::valid)
    }
}

/// Teaches `sampler`'s generator an encoder for `steps` steps, in one piece.
pub fn teach_encoder(
    sampler: &Sampler,
    steps: usize,
    seed: u64,
) -> Result<LatentEncoder, SampleError> {
    let mut training = EncoderTraining::new(sampler, steps, seed);
    while !training.done() {
        training.step(sampler)?;
    }
    training
        .finish()
        .ok_or_else(|| SampleError::Readback("the encoder was lost".into()))
}

/// Pictures as one `[B, C, R, R]` tensor in `[-1, 1]`.
fn pictures_tensor(pictures: &[Picture], device: &Device) -> Tensor<4> {
    let (c, r) = pictures.first().map_or((1, 1), |p| (p.channels, p.width));
    let values: Vec<f32> = pictures
        .iter()
        .flat_map(|p| {
            p.to_chw_u8()
                .into_iter()
                .map(|v| f32::from(v) / 127.5 - 1.0)
        })
        .collect();
    Tensor::<4>::from_data(TensorData::new(values, [pictures.len(), c, r, r]), device)
}
