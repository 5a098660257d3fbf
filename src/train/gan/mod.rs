//! The GAN training step, shared by every GAN family: two optimisers, the adversarial loss,
//! an EMA generator, differentiable augmentation with adaptive strength, LeCam, bCR, the
//! mode-seeking term and, where the family's D has decoders, its reconstruction loss.
//!
//! Knows a family only through [`GanFamily`]: it never names a layer.

mod augment;
mod consistency;
mod ema;
mod lecam;
mod losses;
mod optimizer;

pub use augment::{ADA_SPEED_IMAGES, ada_adjust, augment};
pub use ema::{ema_update, warmed_up_decay};
pub use lecam::LecamAnchors;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::TrainError;
use super::trainer::{
    DeviceBatch, DropGradients, Restore, Trainer, blob, optimiser_bytes, record_error,
    restored_optimiser,
};
use crate::model::{
    CriticPass, EMA_RECORD, FamilyConfig, GENERATOR_RECORD, GanDiscriminator, GanFamily,
    GanGenerator, Growth, GrowthSchedule, INIT_LOCK, Materialise, Render, grown_images,
    module_bytes, module_from_bytes,
};
use crate::preset::{AugmentMode, Preset, TrainPreset};
use crate::rng::{Rng, splitmix64};
use crate::sample::one_hot;
use losses::{
    class_cross_entropy, discriminator_loss, generator_loss, hinge_margins, mode_seeking_loss,
};
pub(super) use optimizer::optimizer;

/// D's record in a checkpoint.
pub const DISCRIMINATOR_RECORD: &str = "d";
/// The optimisers' records.
pub const OPTIMISER_RECORDS: [&str; 2] = ["opt_g", "opt_d"];

/// What a GAN step reports, in order.
const METRICS: &[&str] = &["d_loss", "g_loss", "d_real", "d_fake", "r_t"];
/// Index of `r_t` (optional metrics such as `reconstruction` follow the fixed ones).
const R_T: usize = 4;

/// The GAN's own random state and adaptive settings, saved in checkpoints under these names
/// (as format-1 checkpoints held them beside the session's counters).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct GanState {
    latent_rng: Rng,
    /// Current augmentation probability (adaptive runs move it).
    #[serde(default)]
    augment_p: f64,
    /// Random choices of the augmentations.
    #[serde(default)]
    augment_rng: Option<Rng>,
    /// LeCam's moving averages of D's mean logit on reals and on fakes (runs with `lecam`).
    #[serde(default)]
    lecam_anchors: Option<[f32; 2]>,
    /// A growing run's side and fade-in at its last step (what its shots are drawn at).
    #[serde(default)]
    growth: Option<Growth>,
}

/// A GAN of family `F` being trained.
pub struct GanTrainer<F: GanFamily> {
    config: F::Config,
    train: TrainPreset,
    classes: usize,
    /// The autodiff device.
    device: Device,
    nets: Option<(F::G, F::D)>,
    ema: Option<F::G>,
    opt_g: ModuleOptimizer,
    opt_d: ModuleOptimizer,
    latent_rng: Rng,
    augment_p: f64,
    augment_rng: Rng,
    lecam: LecamAnchors,
    metric_names: Vec<&'static str>,
    /// Progressive growing: the schedule, and where the last step was on it.
    schedule: Option<GrowthSchedule>,
    growth: Option<Growth>,
}

impl<F: GanFamily> GanTrainer<F> {
    /// Fresh networks initialised from `preset.train.seed` alone, whatever other threads are
    /// doing, and fresh optimisers.
    pub fn new(config: &F::Config, preset: &Preset, device: &Device) -> Result<Self, TrainError> {
        let seed = preset.train.seed;
        let ad = device.clone().autodiff();
        let (g, d) = {
            // A poisoned lock only means another initialisation panicked; the data is `()`.
            let _guard = INIT_LOCK
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            device.seed(seed);
            let g = F::generator(config, &ad);
            let d = F::discriminator(config, &ad);
            g.visit(&mut Materialise);
            d.visit(&mut Materialise);
            (g, d)
        };
        let ema = (preset.train.ema_decay > 0.0).then(|| g.valid());
        let classes = preset.model.class_count();
        let mut metric_names = METRICS.to_vec();
        if d.reconstructs() {
            metric_names.push("reconstruction");
        }
        if classes > 0 && preset.train.class_loss > 0.0 {
            metric_names.push("class_loss");
        }
        Ok(Self {
            metric_names,
            classes,
            config: config.clone(),
            train: preset.train.clone(),
            device: ad,
            nets: Some((g, d)),
            ema,
            opt_g: optimizer(&preset.train),
            opt_d: optimizer(&preset.train),
            latent_rng: Rng::derived(seed, "train-latents"),
            augment_p: if preset.train.augment == AugmentMode::Off {
                0.0
            } else {
                preset.train.augment_p
            },
            augment_rng: Rng::derived(seed, "augment"),
            lecam: LecamAnchors::fresh(),
            schedule: config.growth(),
            growth: config.growth().map(|s| s.at(0)),
        })
    }

    /// Moves the EMA generator towards `g` after step `step`'s update.
    fn update_ema(&mut self, g: &F::G, step: u64) {
        if let Some(ema) = self.ema.take() {
            let decay = warmed_up_decay(self.train.ema_decay, step);
            // `valid()` folds BatchNorm's pending running-statistic update in (see `records`).
            self.ema = Some(ema_update(ema, &g.valid(), decay));
        }
    }

    fn latents(&mut self, n: usize) -> Tensor<2> {
        use crate::model::FamilyConfig;
        let dim = self.config.latent_dim();
        let z: Vec<f32> = (0..n * dim).map(|_| self.latent_rng.normal()).collect();
        Tensor::from_data(TensorData::new(z, [n, dim]), &self.device)
    }

    /// One-hot classes of a real batch and of its fakes (`None` for unconditional models).
    /// The fakes are asked for the real batch's classes, so D sees the same class mix on both
    /// sides; with `paired`, fake i + b/2 repeats fake i's class, so the two halves pair up
    /// latents of one class for the mode-seeking term.
    fn batch_classes(
        &self,
        labels: &[u32],
        paired: bool,
    ) -> (Option<Tensor<2>>, Option<Tensor<2>>) {
        if self.classes == 0 {
            return (None, None);
        }
        let (b, half) = (labels.len(), labels.len() / 2);
        let labels: Vec<Option<u32>> = labels.iter().map(|&l| Some(l)).collect();
        let fake_labels: Vec<Option<u32>> = if paired {
            (0..b)
                .map(|i| labels[if i < 2 * half { i % half } else { i }])
                .collect()
        } else {
            labels.clone()
        };
        (
            Some(one_hot(&labels, self.classes, &self.device)),
            Some(one_hot(&fake_labels, self.classes, &self.device)),
        )
    }

    /// Which quarter of the real batch D's partial decoder rebuilds: drawn from the seed and
    /// the step alone, so a resumed run picks what the straight run did.
    fn crop_for(&self, step: u64) -> usize {
        let mut state = Rng::step_state(self.train.seed, "reconstruction-crop", step);
        (splitmix64(&mut state) % 4) as usize
    }

    fn load_networks(
        &self,
        g: Option<&[u8]>,
        d: Option<&[u8]>,
        base: bool,
    ) -> Result<(F::G, F::D), TrainError> {
        let ad = &self.device;
        let g_what = if base { "base generator" } else { "generator" };
        let d_what = if base {
            "base discriminator (a generator-only file cannot be fine-tuned; use the run's checkpoint.atl)"
        } else {
            "discriminator"
        };
        let missing = |what| TrainError::Record {
            what,
            message: "missing".into(),
        };
        let g = module_from_bytes(
            F::generator(&self.config, ad),
            g.ok_or_else(|| missing(g_what))?,
            F::LEGACY_PREFIX,
        )
        .map_err(record_error(g_what))?;
        let d = module_from_bytes(
            F::discriminator(&self.config, ad),
            d.ok_or_else(|| missing(d_what))?,
            F::LEGACY_PREFIX,
        )
        .map_err(record_error(d_what))?;
        Ok((g, d))
    }

    fn load_ema(g: &F::G, bytes: &[u8], what: &'static str) -> Result<F::G, TrainError> {
        module_from_bytes(g.valid(), bytes, F::LEGACY_PREFIX).map_err(record_error(what))
    }
}

impl<F: GanFamily> GanTrainer<F> {
    /// Where a growing run is at `step` (batches of `b`), and the real images as D sees them
    /// there: pooled to the side, blended while it fades in. The full side when not growing.
    fn grow(&mut self, real: Tensor<4>, step: u64, b: usize) -> (Tensor<4>, Growth) {
        let full = self.config.resolution();
        self.growth = self.schedule.map(|s| s.at(step * b as u64));
        let grow = self.growth.unwrap_or(Growth {
            side: full,
            alpha: 1.0,
        });
        if grow.is_full(full) {
            (real, grow)
        } else {
            (grown_images(real, grow), grow)
        }
    }
}

/// A step's figures in [`METRICS`] order, then the optional ones: detached, off autodiff.
fn step_stats(
    [d_loss, g_loss]: [Tensor<1>; 2],
    real_logits: Tensor<1>,
    fake_logits: Tensor<1>,
    reconstruction: Option<Tensor<1>>,
    class_loss: Option<Tensor<1>>,
) -> Tensor<1> {
    let mut stats = vec![
        d_loss.detach().reshape([1]),
        g_loss.detach().reshape([1]),
        sigmoid(real_logits.clone().detach()).mean().reshape([1]),
        sigmoid(fake_logits.detach()).mean().reshape([1]),
        real_logits.detach().sign().mean().reshape([1]),
    ];
    stats.extend(
        [reconstruction, class_loss]
            .into_iter()
            .flatten()
            .map(|t| t.detach().reshape([1])),
    );
    Tensor::cat(stats, 0).without_autodiff()
}

/// `loss` plus each term that is on, added in order.
fn plus_terms(loss: Tensor<1>, terms: [Option<Tensor<1>>; 2]) -> Tensor<1> {
    terms
        .into_iter()
        .flatten()
        .fold(loss, |sum, term| sum + term)
}

impl<F: GanFamily> Trainer for GanTrainer<F> {
    fn metric_names(&self) -> &[&'static str] {
        &self.metric_names
    }

    /// One D update and one G update. The non-saturating loss is written with `softplus`
    /// (BCE-with-logits without its overflow); hinge is the alternative.
    fn step(&mut self, batch: DeviceBatch) -> Result<Tensor<1>, TrainError> {
        let (g, d) = self.nets.take().ok_or_else(|| {
            TrainError::Device("an earlier step failed; restart from the checkpoint".into())
        })?;
        let DeviceBatch {
            images: real,
            labels,
            step,
        } = batch;
        let b = labels.len();
        let z = self.latents(b);
        let margins = hinge_margins(&self.train, step, b, &self.device);
        let t = self.train.clone();
        let half = b / 2;
        let (real_classes, fake_classes) = self.batch_classes(&labels, t.mode_seeking > 0.0);
        let (real, grow) = self.grow(real, step, b);
        let fake = g.forward_grown(z.clone(), fake_classes.clone(), grow);

        let real_pass = if d.reconstructs() {
            CriticPass::Reconstruct {
                crop: self.crop_for(step),
            }
        } else {
            CriticPass::Score
        };

        // Discriminator: real → 1, fake → 0, both seen through the same kind of augmentation.
        let p = self.augment_p;
        let ad = self.device.clone();
        let ops = t.augment_ops.clone();
        let aug_rng = &mut self.augment_rng;
        let mut aug = |x: Tensor<4>, p: f64| augment(x, p, &ops, aug_rng, &ad);
        let fake_seen = fake.clone().detach();
        // bCR compares D on what it just saw with D on a fully augmented copy.
        let consistency_inputs =
            (t.consistency > 0.0).then(|| (aug(real.clone(), 1.0), aug(fake_seen.clone(), 1.0)));
        let critic = |d: &F::D, x, classes, pass| d.critic_grown(x, classes, pass, grow);
        let score = |d: &F::D, x, classes| critic(d, x, classes, CriticPass::Score).logits;
        let reconstructs = d.reconstructs();
        let real_out = critic(&d, aug(real, p), real_classes.clone(), real_pass);
        let real_logits = real_out.logits;
        let reconstruction = real_out.reconstruction;
        let class_weight = if self.classes > 0 { t.class_loss } else { 0.0 };
        // D learns to read the class of real photos from its projection scores.
        let real_class_loss = match (&real_out.class_scores, &real_classes) {
            (Some(scores), Some(one_hot)) if class_weight > 0.0 => {
                Some(class_cross_entropy(scores.clone(), one_hot.clone()))
            }
            _ => None,
        };
        let fake_logits = score(&d, aug(fake_seen, p), fake_classes.clone());
        let augmented_logits = consistency_inputs.map(|(real_t, fake_t)| {
            (
                score(&d, real_t, real_classes),
                score(&d, fake_t, fake_classes.clone()),
            )
        });
        let lecam = (t.lecam > 0.0).then_some(&mut self.lecam);
        let d_loss = discriminator_loss(
            &t,
            &real_logits,
            &fake_logits,
            augmented_logits,
            lecam,
            margins,
        );
        let class_term = real_class_loss.clone().map(|c| c.mul_scalar(class_weight));
        let d_loss = plus_terms(d_loss, [reconstruction.clone(), class_term]);
        let mut d_grads = GradientsParams::from_grads(d_loss.backward(), &d);
        d.visit_first_blocks(t.freeze_d_blocks, &mut DropGradients(&mut d_grads));
        let d = self.opt_d.step(t.lr_d, d, d_grads);

        // Generator: make the updated D call the same fakes real, read through D's copy off
        // the tape (see `off_the_tape`).
        let d_fixed = off_the_tape(&d);
        let g_out = critic(
            &d_fixed,
            aug(fake.clone(), p),
            fake_classes.clone(),
            CriticPass::Score,
        );
        let g_loss = generator_loss(t.loss, g_out.logits);
        // G is asked for fakes that D reads as the class they were drawn for.
        let g_loss = match (g_out.class_scores, fake_classes) {
            (Some(scores), Some(one_hot)) if class_weight > 0.0 => {
                g_loss + class_cross_entropy(scores, one_hot).mul_scalar(class_weight)
            }
            _ => g_loss,
        };
        let g_loss = if t.mode_seeking > 0.0 && half > 0 {
            g_loss
                + mode_seeking_loss(fake, z, half, t.mode_seeking_side).mul_scalar(t.mode_seeking)
        } else {
            g_loss
        };
        let mut g_grads = GradientsParams::from_grads(g_loss.backward(), &g);
        g.visit_first_stages(t.freeze_g_blocks, &mut DropGradients(&mut g_grads));
        let g = self.opt_g.step(t.lr_g, g, g_grads);

        self.update_ema(&g, step);
        self.nets = Some((g, d));

        let reconstruction = reconstructs.then(|| {
            // A growing FastGAN's D rebuilds nothing below 32 px: its metric reads 0 there.
            reconstruction.unwrap_or_else(|| Tensor::zeros([1], &self.device))
        });
        Ok(step_stats(
            [d_loss, g_loss],
            real_logits,
            fake_logits,
            reconstruction,
            real_class_loss,
        ))
    }

    fn end_window(&mut self, means: &[f32], images: u64) -> Vec<(&'static str, f64)> {
        if self.train.augment == AugmentMode::Adaptive
            && let Some(&r_t) = means.get(R_T)
        {
            self.augment_p = ada_adjust(
                self.augment_p,
                f64::from(r_t),
                self.train.ada_target,
                images,
            );
        }
        let mut extra = vec![("augment_p", self.augment_p)];
        if let Some(growth) = self.growth {
            extra.push(("grow_side", growth.side as f64));
            extra.push(("grow_alpha", f64::from(growth.alpha)));
        }
        extra
    }

    fn save_state(&self) -> Result<Map<String, Value>, TrainError> {
        let state = GanState {
            latent_rng: self.latent_rng.clone(),
            augment_p: self.augment_p,
            augment_rng: Some(self.augment_rng.clone()),
            lecam_anchors: self.lecam.saved().map_err(TrainError::Device)?,
            growth: self.growth,
        };
        match serde_json::to_value(state) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(TrainError::Device("the GAN state did not serialise".into())),
        }
    }

    fn records(&self) -> Result<Vec<(String, Vec<u8>)>, TrainError> {
        let (g, d) = self.nets.as_ref().ok_or_else(|| {
            TrainError::Device("no networks to save (an earlier step failed)".into())
        })?;
        let mut records = vec![
            (
                GENERATOR_RECORD.to_string(),
                module_bytes(g.clone()).map_err(record_error("generator"))?,
            ),
            (
                DISCRIMINATOR_RECORD.to_string(),
                // `valid()` folds pending running-state updates in; a plain record would
                // carry spectral norm's power-iteration vector one step stale, and a resumed
                // run would drift from the straight one.
                module_bytes(d.valid()).map_err(record_error("discriminator"))?,
            ),
        ];
        if let Some(ema) = &self.ema {
            records.push((
                EMA_RECORD.to_string(),
                module_bytes(ema.clone()).map_err(record_error("EMA generator"))?,
            ));
        }
        for (name, opt) in OPTIMISER_RECORDS
            .into_iter()
            .zip([&self.opt_g, &self.opt_d])
        {
            records.push((name.to_string(), optimiser_bytes(opt)?));
        }
        Ok(records)
    }

    fn restore(&mut self, restore: Restore<'_>) -> Result<(), TrainError> {
        match restore {
            Restore::Resume { records, state } => {
                let (g, d) = self.load_networks(
                    blob(records, GENERATOR_RECORD),
                    blob(records, DISCRIMINATOR_RECORD),
                    false,
                )?;
                self.ema = match blob(records, EMA_RECORD) {
                    Some(bytes) => Some(Self::load_ema(&g, bytes, "EMA generator")?),
                    None => None,
                };
                self.nets = Some((g, d));
                for (name, opt) in OPTIMISER_RECORDS
                    .into_iter()
                    .zip([&mut self.opt_g, &mut self.opt_d])
                {
                    *opt = restored_optimiser(opt, records, name)?;
                }
                let saved: GanState = serde_json::from_value(Value::Object(state.clone()))
                    .map_err(|e| TrainError::Record {
                        what: "training state",
                        message: e.to_string(),
                    })?;
                self.latent_rng = saved.latent_rng;
                self.augment_p = saved.augment_p;
                if let Some(rng) = saved.augment_rng {
                    self.augment_rng = rng;
                }
                self.lecam = LecamAnchors::resumed(saved.lecam_anchors, &self.device);
                if self.schedule.is_some() {
                    self.growth = saved.growth.or(self.growth);
                }
            }
            Restore::Base { records } => {
                // The generator that renders (EMA) is the one worth continuing from; the
                // shipped base holds only it, so a run folder and its base file start alike.
                let g_bytes = blob(records, EMA_RECORD).or_else(|| blob(records, GENERATOR_RECORD));
                let (g, d) =
                    self.load_networks(g_bytes, blob(records, DISCRIMINATOR_RECORD), true)?;
                if self.train.ema_decay > 0.0 {
                    self.ema = Some(match blob(records, EMA_RECORD) {
                        Some(bytes) => Self::load_ema(&g, bytes, "base EMA generator")?,
                        None => g.valid(),
                    });
                }
                self.nets = Some((g, d));
            }
        }
        Ok(())
    }

    fn renderer(&self, device: &Device) -> Result<Box<dyn Render>, TrainError> {
        let g = match (&self.ema, &self.nets) {
            (Some(ema), _) => ema.clone(),
            (None, Some((g, _))) => g.valid(),
            (None, None) => {
                return Err(TrainError::Device(
                    "no generator (an earlier step failed)".into(),
                ));
            }
        };
        let renderer = crate::model::renderer_of(&g, device);
        Ok(match self.growth {
            Some(growth) => renderer.with_growth(growth, self.config.resolution()),
            None => renderer,
        })
    }
}

/// `d` as G's loss reads it. G needs D's gradient with respect to its input only; a copy with
/// its parameters off the autodiff tape spares the backward pass D's weight gradients, which
/// it would compute and drop. The copy shares D's values and running state (spectral norm's
/// `u`, BatchNorm's statistics), so a step's figures and updates are unchanged.
fn off_the_tape<M: Module>(d: &M) -> M {
    // Clones share a parameter's pending lazy initialisation, and `no_grad` on a clone of a
    // parameter not yet initialised would take the original off the tape too.
    d.visit(&mut InitialiseParams);
    d.clone().no_grad()
}

/// Initialises every lazily initialised parameter it visits.
struct InitialiseParams;

impl ModuleVisitor for InitialiseParams {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;
    use crate::model::layers::SpectralConv2d;

    #[test]
    fn ds_copy_for_gs_loss_passes_gradient_to_its_input_only_and_d_still_trains() {
        let device = Device::flex().autodiff();
        let d = SpectralConv2d::new([3, 4], 3, 2, 1, &device);
        let image = Tensor::<4>::random([2, 3, 8, 8], Distribution::Normal(0.0, 1.0), &device)
            .require_grad();

        let copy = off_the_tape(&d);
        let grads = copy.forward(image.clone()).sum().backward();
        assert!(
            image.grad(&grads).is_some(),
            "no gradient reached the image"
        );
        assert!(GradientsParams::from_grads(grads, &copy).is_empty());

        let grads = d.forward(image).sum().backward();
        assert_eq!(
            GradientsParams::from_grads(grads, &d).len(),
            2,
            "weight and bias"
        );
    }
}
