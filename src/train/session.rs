//! One GAN being trained: networks, optimisers, EMA, counters. Steps on demand, so the CLI
//! can loop it and the studio's worker can interleave steps with sampling requests.

use std::sync::Arc;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::store::ModuleRecord;
use burn::tensor::activation::{relu, sigmoid, softplus};
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use sha2::{Digest, Sha256};

use super::TrainError;
use super::augment::{ada_adjust, augment};
use super::checkpoint::{Checkpoint, TrainState, hex};
use super::consistency::consistency_penalty;
use super::ema::{ema_update, warmed_up_decay};
use super::lecam::LecamAnchors;
use super::metrics::MetricsRecord;
use crate::data::Dataset;
use crate::model::{Discriminator, Generator};
use crate::preset::{AugmentMode, LossKind, OptimizerKind, Preset};
use crate::rng::{Rng, splitmix64};
use crate::sample::{Sampler, one_hot};

struct Nets {
    g: Generator,
    d: Discriminator,
}

/// Loss and probability sums since the last metrics read, kept on the device (no sync).
struct Window {
    sums: Tensor<1>,
    steps: u64,
    images: u64,
    started: std::time::Instant,
}

pub struct GanSession {
    preset: Preset,
    data: Arc<Dataset>,
    train: Vec<usize>,
    device: Device,
    nets: Option<Nets>,
    ema: Option<Generator>,
    opt_g: ModuleOptimizer,
    opt_d: ModuleOptimizer,
    state: TrainState,
    batch: usize,
    window: Option<Window>,
    fingerprint: String,
    lecam: LecamAnchors,
}

fn optimizer(preset: &Preset) -> ModuleOptimizer {
    let t = &preset.train;
    match t.optimizer {
        OptimizerKind::Adam => {
            let config = AdamConfig::new()
                .with_beta_1(t.beta1 as f32)
                .with_beta_2(t.beta2 as f32)
                .with_epsilon(1e-8);
            let config = if t.weight_decay > 0.0 {
                config.with_weight_decay(Some(WeightDecayConfig::new(t.weight_decay as f32)))
            } else {
                config
            };
            config.init()
        }
        OptimizerKind::Adamw => AdamWConfig::new()
            .with_beta_1(t.beta1 as f32)
            .with_beta_2(t.beta2 as f32)
            .with_epsilon(1e-8)
            .with_weight_decay(t.weight_decay as f32)
            .init(),
        OptimizerKind::Sgd => SgdConfig::new()
            // PyTorch's SGD: no dampening, so `momentum` means what designers read elsewhere.
            .with_momentum((t.momentum > 0.0).then(|| {
                MomentumConfig::new()
                    .with_momentum(t.momentum)
                    .with_dampening(0.0)
            }))
            .with_weight_decay(
                (t.weight_decay > 0.0).then(|| WeightDecayConfig::new(t.weight_decay as f32)),
            )
            .init(),
    }
}

/// MSGAN's term: `1 / (mean|G(z₁) − G(z₂)| / mean|z₁ − z₂| + ε)` over the pairs (i, i + half).
/// Small when paired latents give clearly different images.
fn mode_seeking_loss(fake: Tensor<4>, z: Tensor<2>, half: usize) -> Tensor<1> {
    let image_gap = (fake.clone().narrow(0, 0, half) - fake.narrow(0, half, half))
        .abs()
        .mean();
    let latent_gap = (z.clone().narrow(0, 0, half) - z.narrow(0, half, half))
        .abs()
        .mean()
        .detach();
    (image_gap / latent_gap).add_scalar(1e-5).recip()
}

/// Drops the gradients of every parameter it visits: those weights stay as they are (frozen
/// layers), and the optimiser keeps no state for them. BatchNorm running statistics in a
/// frozen stage still follow the new data's activations, as when a layer is frozen in
/// PyTorch by `requires_grad = False` in training mode.
struct DropGradients<'a>(&'a mut GradientsParams);

impl ModuleVisitor for DropGradients<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = self.0.remove::<D>(param.id);
    }
}

/// Identifies the training images (content, not names), so resume can refuse other data.
fn fingerprint(data: &Dataset, train: &[usize]) -> String {
    let mut h = Sha256::new();
    h.update((data.resolution as u64).to_le_bytes());
    h.update((data.channels as u64).to_le_bytes());
    for &i in train {
        h.update(data.content_hashes[i]);
    }
    hex(&h.finalize())[..16].to_string()
}

pub(super) fn load_record<M: Module>(
    module: M,
    bytes: Option<&[u8]>,
    what: &'static str,
) -> Result<M, TrainError> {
    let bytes = bytes.ok_or(TrainError::Record {
        what,
        message: "missing".into(),
    })?;
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(|e| {
        TrainError::Record {
            what,
            message: e.to_string(),
        }
    })?;
    module
        .try_load_record(record)
        .map_err(|e| TrainError::Record {
            what,
            message: e.to_string(),
        })
}

pub(super) fn record_bytes<M: Module>(
    module: M,
    what: &'static str,
) -> Result<Vec<u8>, TrainError> {
    module
        .into_record()
        .into_bytes()
        .map(|b| b.to_vec())
        .map_err(|e| TrainError::Record {
            what,
            message: e.to_string(),
        })
}

/// Serialises seeding and weight initialisation: the backend's RNG is process-wide and burn
/// initialises parameters lazily, so another thread drawing random numbers between our
/// `seed` and the first use of a weight would change the initial weights of this run.
pub(super) static INIT_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Forces lazy parameter initialisation now (reading a value initialises it).
pub(super) struct Materialise;

impl burn::module::ModuleVisitor for Materialise {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// G and D initialised from `preset.train.seed` alone, whatever other threads are doing.
fn seeded_networks(preset: &Preset, device: &Device, ad: &Device) -> (Generator, Discriminator) {
    // A poisoned lock only means another initialisation panicked; the guard data is `()`.
    let _guard = INIT_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    device.seed(preset.train.seed);
    let g = Generator::new(&preset.model, ad);
    let d = Discriminator::new(&preset.model, ad);
    g.visit(&mut Materialise);
    d.visit(&mut Materialise);
    (g, d)
}

/// Steps per epoch of `train_images` at `batch`: full batches only (BatchNorm dislikes a
/// ragged last batch), and at least one.
#[must_use]
pub fn steps_per_epoch(train_images: usize, batch: usize) -> u64 {
    (train_images / batch.max(1)).max(1) as u64
}

impl GanSession {
    /// A fresh run. `device` is a plain device; autodiff is enabled here.
    pub fn new(
        preset: Preset,
        data: Arc<Dataset>,
        train: Vec<usize>,
        device: &Device,
    ) -> Result<Self, TrainError> {
        if train.len() < 2 {
            return Err(TrainError::TooFewImages(train.len()));
        }
        if preset.model.conditional && preset.model.classes.len() < 2 {
            return Err(TrainError::Incompatible(
                "model.conditional: the model has no class list (two or more classes are filled in from the data's sub-folders when a run starts)".into(),
            ));
        }
        let seed = preset.train.seed;
        let ad = device.clone().autodiff();
        let (g, d) = seeded_networks(&preset, device, &ad);
        let ema = (preset.train.ema_decay > 0.0).then(|| g.valid());
        let mut batch_rng = Rng::derived(seed, "batches");
        let mut order: Vec<u32> = (0..train.len() as u32).collect();
        batch_rng.shuffle(&mut order);
        let state = TrainState {
            step: 0,
            epoch: 0,
            epoch_pos: 0,
            order,
            batch_rng,
            latent_rng: Rng::derived(seed, "train-latents"),
            images_seen: 0,
            train_seconds: 0.0,
            best_swd: None,
            evals_since_best: 0,
            augment_p: if preset.train.augment == AugmentMode::Off {
                0.0
            } else {
                preset.train.augment_p
            },
            augment_rng: Some(Rng::derived(seed, "augment")),
            lecam_anchors: None,
        };
        let batch = preset.train.batch.min(train.len());
        let fingerprint = fingerprint(&data, &train);
        Ok(Self {
            opt_g: optimizer(&preset),
            opt_d: optimizer(&preset),
            preset,
            data,
            train,
            device: ad,
            nets: Some(Nets { g, d }),
            ema,
            state,
            batch,
            window: None,
            fingerprint,
            lecam: LecamAnchors::fresh(),
        })
    }

    /// Continues a run from `checkpoint` exactly: weights, EMA, optimiser moments, counters and
    /// random state. `preset` may differ from the checkpoint's only in its step/epoch budget.
    pub fn resume(
        checkpoint: &Checkpoint,
        preset: Preset,
        data: Arc<Dataset>,
        train: Vec<usize>,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let mut session = Self::new(preset, data, train, device)?;
        if session.fingerprint != checkpoint.dataset_fingerprint {
            return Err(TrainError::Incompatible(
                "the training images differ from the ones this run started on (files added, removed or changed); resume with the original folder, or start a new run".into(),
            ));
        }
        let (g, d) = session.load_networks(checkpoint.blob("g"), checkpoint.blob("d"), false)?;
        session.ema = match checkpoint.blob("ema") {
            Some(bytes) => Some(load_record(g.valid(), Some(bytes), "EMA generator")?),
            None => None,
        };
        session.nets = Some(Nets { g, d });
        for (name, opt) in [("opt_g", &mut session.opt_g), ("opt_d", &mut session.opt_d)] {
            let bytes = checkpoint.blob(name).ok_or(TrainError::Record {
                what: "optimiser state",
                message: format!("{name} missing"),
            })?;
            *opt = opt
                .clone()
                .from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
                .map_err(|e| TrainError::Record {
                    what: "optimiser state",
                    message: e.to_string(),
                })?;
        }
        if checkpoint.state.order.len() != session.train.len() {
            return Err(TrainError::Incompatible(
                "the checkpoint's epoch order does not match the data".into(),
            ));
        }
        session.state = checkpoint.state.clone();
        session.lecam = LecamAnchors::resumed(session.state.lecam_anchors.take(), &session.device);
        Ok(session)
    }

    /// A new run that starts from a base model's weights (fine-tuning): G, D and EMA-G come
    /// from `base`; optimisers, counters and random state start afresh. The caller has made
    /// `preset.model` the base's architecture.
    pub fn from_base(
        base: &Checkpoint,
        preset: Preset,
        data: Arc<Dataset>,
        train: Vec<usize>,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let mut session = Self::new(preset, data, train, device)?;
        // The generator that renders (EMA) is the one worth continuing from; the shipped base
        // holds only it, so a run folder and its base file start the same.
        let g_bytes = base.blob("ema").or_else(|| base.blob("g"));
        let (g, d) = session.load_networks(g_bytes, base.blob("d"), true)?;
        if session.preset.train.ema_decay > 0.0 {
            session.ema = Some(match base.blob("ema") {
                Some(bytes) => load_record(g.valid(), Some(bytes), "base EMA generator")?,
                None => g.valid(),
            });
        }
        session.nets = Some(Nets { g, d });
        Ok(session)
    }

    /// G and D of this session's architecture from burnpack records; `base` says, in errors,
    /// that they came from a base model.
    fn load_networks(
        &self,
        g: Option<&[u8]>,
        d: Option<&[u8]>,
        base: bool,
    ) -> Result<(Generator, Discriminator), TrainError> {
        let (model, ad) = (&self.preset.model, &self.device);
        let g = load_record(
            Generator::new(model, ad),
            g,
            if base { "base generator" } else { "generator" },
        )?;
        let d = load_record(
            Discriminator::new(model, ad),
            d,
            if base {
                "base discriminator (a generator-only file cannot be fine-tuned; use the run's checkpoint.atl)"
            } else {
                "discriminator"
            },
        )?;
        Ok((g, d))
    }

    #[must_use]
    pub fn preset(&self) -> &Preset {
        &self.preset
    }

    #[must_use]
    pub fn state(&self) -> &TrainState {
        &self.state
    }

    /// Records an evaluation's SWD; returns whether it is the best so far.
    pub fn record_quality(&mut self, swd: f64) -> bool {
        let best = self.state.best_swd.is_none_or(|b| swd < b);
        if best {
            self.state.best_swd = Some(swd);
            self.state.evals_since_best = 0;
        } else {
            self.state.evals_since_best += 1;
        }
        best
    }

    /// Effective batch (the preset's, capped by the training split's size).
    #[must_use]
    pub fn batch(&self) -> usize {
        self.batch
    }

    #[must_use]
    pub fn steps_per_epoch(&self) -> u64 {
        steps_per_epoch(self.train.len(), self.batch)
    }

    /// The step budget: `steps`, else `epochs` × steps per epoch.
    #[must_use]
    pub fn total_steps(&self) -> u64 {
        self.preset
            .train
            .steps
            .unwrap_or(self.preset.train.epochs as u64 * self.steps_per_epoch())
    }

    #[must_use]
    pub fn dataset(&self) -> &Arc<Dataset> {
        &self.data
    }

    fn next_batch(&mut self) -> Vec<usize> {
        let s = &mut self.state;
        if s.epoch_pos + self.batch > s.order.len() {
            s.batch_rng.shuffle(&mut s.order);
            s.epoch_pos = 0;
            s.epoch += 1;
        }
        let picked = s.order[s.epoch_pos..s.epoch_pos + self.batch]
            .iter()
            .map(|&k| self.train[k as usize])
            .collect();
        s.epoch_pos += self.batch;
        picked
    }

    /// Which of this step's `n` reals are mirrored (`data.mirror`): a fair coin each, drawn
    /// from the seed and the step alone, so a resumed run mirrors exactly what the straight
    /// run did without any saved state.
    fn mirror_flags(&self, n: usize) -> Vec<bool> {
        if !self.preset.data.mirror {
            return Vec::new();
        }
        let mut state = Rng::derived(self.preset.train.seed, "mirror").next_u64()
            ^ self.state.step.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (0..n).map(|_| splitmix64(&mut state) & 1 == 1).collect()
    }

    fn latents(&mut self, n: usize) -> Tensor<2> {
        let dim = self.preset.model.latent_dim;
        let z: Vec<f32> = (0..n * dim)
            .map(|_| self.state.latent_rng.normal())
            .collect();
        Tensor::from_data(TensorData::new(z, [n, dim]), &self.device)
    }

    /// One-hot classes of a real batch and of its fakes (`None` for unconditional models).
    /// The fakes are asked for the real batch's classes, so D sees the same class mix on both
    /// sides; with `paired`, fake i + b/2 repeats fake i's class, so the two halves pair up
    /// latents of one class for the mode-seeking term.
    fn batch_classes(
        &self,
        indices: &[usize],
        paired: bool,
    ) -> (Option<Tensor<2>>, Option<Tensor<2>>) {
        let count = self.preset.model.class_count();
        if count == 0 {
            return (None, None);
        }
        let (b, half) = (indices.len(), indices.len() / 2);
        let labels: Vec<Option<u32>> = indices.iter().map(|&i| Some(self.data.labels[i])).collect();
        let fake_labels: Vec<Option<u32>> = if paired {
            (0..b)
                .map(|i| labels[if i < 2 * half { i % half } else { i }])
                .collect()
        } else {
            labels.clone()
        };
        (
            Some(one_hot(&labels, count, &self.device)),
            Some(one_hot(&fake_labels, count, &self.device)),
        )
    }

    /// D's loss on this batch's logits: the run's GAN loss, plus the LeCam penalty and the
    /// bCR penalty (given D's logits on the fully augmented copies) when on.
    fn discriminator_loss(
        &mut self,
        real_logits: &Tensor<1>,
        fake_logits: &Tensor<1>,
        augmented_logits: Option<(Tensor<1>, Tensor<1>)>,
    ) -> Tensor<1> {
        let loss = match self.preset.train.loss {
            LossKind::NonSaturating => {
                softplus(real_logits.clone().neg(), 1.0).mean()
                    + softplus(fake_logits.clone(), 1.0).mean()
            }
            LossKind::Hinge => {
                relu(real_logits.clone().neg() + 1.0).mean()
                    + relu(fake_logits.clone() + 1.0).mean()
            }
        };
        let lecam = self.preset.train.lecam;
        let loss = if lecam > 0.0 {
            loss + self
                .lecam
                .penalty(real_logits, fake_logits)
                .mul_scalar(lecam)
        } else {
            loss
        };
        match augmented_logits {
            Some((real_t, fake_t)) => {
                let gaps = consistency_penalty(real_logits.clone(), real_t)
                    + consistency_penalty(fake_logits.clone(), fake_t);
                loss + gaps.mul_scalar(self.preset.train.consistency)
            }
            None => loss,
        }
    }

    /// One D update and one G update. The non-saturating loss is written with `softplus`
    /// (BCE-with-logits without its overflow); hinge is the alternative.
    pub fn step(&mut self) -> Result<(), TrainError> {
        let started = std::time::Instant::now();
        let Nets { g, d } = self.nets.take().ok_or_else(|| {
            TrainError::Device("an earlier step failed; restart from the checkpoint".into())
        })?;
        let (b, c, r) = (
            self.batch,
            self.preset.model.channels,
            self.preset.model.resolution,
        );
        let indices = self.next_batch();
        let real = Tensor::<4>::from_data(
            TensorData::new(
                self.data
                    .batch_f32_mirrored(&indices, &self.mirror_flags(indices.len())),
                [b, c, r, r],
            ),
            &self.device,
        );
        let z = self.latents(b);
        let mode_seeking = self.preset.train.mode_seeking;
        let half = b / 2;
        let (real_classes, fake_classes) = self.batch_classes(&indices, mode_seeking > 0.0);
        let fake = g.forward(z.clone(), fake_classes.clone());

        // Discriminator: real → 1, fake → 0, both seen through the same kind of augmentation.
        let p = self.state.augment_p;
        let mut aug_rng = self
            .state
            .augment_rng
            .take()
            .unwrap_or_else(|| Rng::derived(self.preset.train.seed, "augment"));
        let ad = self.device.clone();
        let ops = self.preset.train.augment_ops.clone();
        let mut aug = |x: Tensor<4>, p: f64| augment(x, p, &ops, &mut aug_rng, &ad);
        let fake_seen = fake.clone().detach();
        // bCR compares D on what it just saw with D on a fully augmented copy.
        let consistency_inputs = (self.preset.train.consistency > 0.0)
            .then(|| (aug(real.clone(), 1.0), aug(fake_seen.clone(), 1.0)));
        let real_logits = d.forward(aug(real, p), real_classes.clone());
        let fake_logits = d.forward(aug(fake_seen, p), fake_classes.clone());
        let augmented_logits = consistency_inputs.map(|(real_t, fake_t)| {
            (
                d.forward(real_t, real_classes),
                d.forward(fake_t, fake_classes.clone()),
            )
        });
        let d_loss = self.discriminator_loss(&real_logits, &fake_logits, augmented_logits);
        let loss = self.preset.train.loss;
        let mut d_grads = GradientsParams::from_grads(d_loss.backward(), &d);
        d.visit_first_blocks(
            self.preset.train.freeze_d_blocks,
            &mut DropGradients(&mut d_grads),
        );
        let d = self.opt_d.step(self.preset.train.lr_d, d, d_grads);

        // Generator: make the updated D call the same fakes real.
        let g_logits = d.forward(aug(fake.clone(), p), fake_classes);
        self.state.augment_rng = Some(aug_rng);
        let g_loss = match loss {
            LossKind::NonSaturating => softplus(g_logits.neg(), 1.0).mean(),
            LossKind::Hinge => g_logits.neg().mean(),
        };
        let g_loss = if mode_seeking > 0.0 && half > 0 {
            g_loss + mode_seeking_loss(fake, z, half).mul_scalar(mode_seeking)
        } else {
            g_loss
        };
        let mut g_grads = GradientsParams::from_grads(g_loss.backward(), &g);
        g.visit_first_stages(
            self.preset.train.freeze_g_blocks,
            &mut DropGradients(&mut g_grads),
        );
        let g = self.opt_g.step(self.preset.train.lr_g, g, g_grads);

        if let Some(ema) = self.ema.take() {
            let decay = warmed_up_decay(self.preset.train.ema_decay, self.state.step);
            // `valid()` folds BatchNorm's pending running-statistic update in (see `checkpoint`).
            self.ema = Some(ema_update(ema, &g.valid(), decay));
        }
        self.nets = Some(Nets { g, d });

        let stats = Tensor::cat(
            vec![
                d_loss.detach().reshape([1]),
                g_loss.detach().reshape([1]),
                sigmoid(real_logits.clone().detach()).mean().reshape([1]),
                sigmoid(fake_logits.detach()).mean().reshape([1]),
                real_logits.detach().sign().mean().reshape([1]),
            ],
            0,
        )
        .without_autodiff();
        let window = self.window.get_or_insert_with(|| Window {
            sums: stats.zeros_like(),
            steps: 0,
            images: 0,
            started,
        });
        window.sums = window.sums.clone() + stats;
        window.steps += 1;
        window.images += b as u64;
        self.state.step += 1;
        self.state.images_seen += b as u64;
        Ok(())
    }

    /// Averages since the last call (one device sync), or `None` if no step ran since.
    pub fn take_metrics(&mut self) -> Result<Option<MetricsRecord>, TrainError> {
        let Some(w) = self.window.take() else {
            return Ok(None);
        };
        let sums = w
            .sums
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| TrainError::Device(format!("reading metrics: {e:?}")))?;
        let secs = w.started.elapsed().as_secs_f64();
        self.state.train_seconds += secs;
        let n = w.steps as f32;
        let r_t = sums[4] / n;
        if self.preset.train.augment == AugmentMode::Adaptive {
            self.state.augment_p = ada_adjust(
                self.state.augment_p,
                f64::from(r_t),
                self.preset.train.ada_target,
                w.images,
            );
        }
        Ok(Some(MetricsRecord {
            step: self.state.step,
            epoch: self.state.epoch,
            d_loss: sums[0] / n,
            g_loss: sums[1] / n,
            d_real: sums[2] / n,
            d_fake: sums[3] / n,
            images_per_sec: (w.images as f64 / secs.max(1e-9)) as f32,
            train_seconds: self.state.train_seconds,
            r_t,
            augment_p: self.state.augment_p,
        }))
    }

    /// A sampler over the EMA generator (or the raw one without EMA), on `device`.
    pub fn sampler(&self, device: &Device) -> Result<Sampler, TrainError> {
        let g = match (&self.ema, &self.nets) {
            (Some(ema), _) => ema.clone(),
            (None, Some(nets)) => nets.g.valid(),
            (None, None) => {
                return Err(TrainError::Device(
                    "no generator (an earlier step failed)".into(),
                ));
            }
        };
        Ok(Sampler::new(
            g,
            self.preset.model.clone(),
            device,
            format!("step-{}", self.state.step),
        ))
    }

    /// Everything needed to resume, as a [`Checkpoint`].
    pub fn checkpoint(&self) -> Result<Checkpoint, TrainError> {
        let nets = self.nets.as_ref().ok_or_else(|| {
            TrainError::Device("no networks to save (an earlier step failed)".into())
        })?;
        let mut blobs = vec![
            ("g".to_string(), record_bytes(nets.g.clone(), "generator")?),
            (
                "d".to_string(),
                // `valid()` folds pending running-state updates in; a plain record would
                // carry spectral norm's power-iteration vector one step stale, and a resumed
                // run would drift from the straight one.
                record_bytes(nets.d.valid(), "discriminator")?,
            ),
        ];
        if let Some(ema) = &self.ema {
            blobs.push((
                "ema".to_string(),
                record_bytes(ema.clone(), "EMA generator")?,
            ));
        }
        for (name, opt) in [("opt_g", &self.opt_g), ("opt_d", &self.opt_d)] {
            let bytes = opt.into_bytes().map_err(|e| TrainError::Record {
                what: "optimiser state",
                message: e.to_string(),
            })?;
            blobs.push((name.to_string(), bytes.to_vec()));
        }
        let mut state = self.state.clone();
        state.lecam_anchors = self.lecam.saved().map_err(TrainError::Device)?;
        Ok(Checkpoint {
            state,
            preset_toml: self.preset.to_toml(),
            dataset_fingerprint: self.fingerprint.clone(),
            app_version: env!("CARGO_PKG_VERSION").to_string(),
            blobs,
        })
    }
}
