//! The training step of an autoregressive family: one network, one optimiser, the exact
//! negative log-likelihood of the batch in bits per sub-pixel. No latent, no adversary, no
//! augmentation (it would teach the model augmented photos' statistics).
//!
//! Knows a family only through [`LikelihoodFamily`].

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use serde_json::{Map, Value};

use super::TrainError;
use super::gan::optimizer;
use super::trainer::{
    DeviceBatch, DropGradients, Restore, Trainer, blob, optimiser_bytes, record_error,
    restored_optimiser,
};
use crate::model::{
    INIT_LOCK, LikelihoodFamily, LikelihoodNet, Materialise, NET_RECORD, Render,
    likelihood_renderer_of, module_bytes, module_from_bytes,
};
use crate::preset::{Preset, TrainPreset};
use crate::sample::one_hot;

/// The optimiser's record.
pub const OPTIMISER_RECORD: &str = "opt";
/// What a step reports.
const METRICS: &[&str] = &["nll_bits"];

/// An autoregressive network of family `F` being trained.
pub struct LikelihoodTrainer<F: LikelihoodFamily> {
    config: F::Config,
    train: TrainPreset,
    classes: usize,
    /// The autodiff device.
    device: Device,
    net: Option<F::Net>,
    opt: ModuleOptimizer,
}

impl<F: LikelihoodFamily> LikelihoodTrainer<F> {
    /// A fresh network initialised from `preset.train.seed` alone, and a fresh optimiser (the
    /// recipe's `lr_g` is its learning rate: the one network generates).
    pub fn new(config: &F::Config, preset: &Preset, device: &Device) -> Self {
        let ad = device.clone().autodiff();
        let net = {
            let _guard = INIT_LOCK
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            device.seed(preset.train.seed);
            let net = F::network(config, &ad);
            net.visit(&mut Materialise);
            net
        };
        Self {
            config: config.clone(),
            train: preset.train.clone(),
            classes: preset.model.class_count(),
            device: ad,
            net: Some(net),
            opt: optimizer(&preset.train),
        }
    }

    fn classes_of(&self, labels: &[u32]) -> Option<Tensor<2>> {
        (self.classes > 0).then(|| {
            let labels: Vec<Option<u32>> = labels.iter().map(|&l| Some(l)).collect();
            one_hot(&labels, self.classes, &self.device)
        })
    }

    fn load_net(&self, bytes: Option<&[u8]>, what: &'static str) -> Result<F::Net, TrainError> {
        let bytes = bytes.ok_or(TrainError::Record {
            what,
            message: "missing".into(),
        })?;
        module_from_bytes(F::network(&self.config, &self.device), bytes, None)
            .map_err(record_error(what))
    }
}

impl<F: LikelihoodFamily> Trainer for LikelihoodTrainer<F> {
    fn metric_names(&self) -> &[&'static str] {
        METRICS
    }

    fn step(&mut self, batch: DeviceBatch) -> Result<Tensor<1>, TrainError> {
        let net = self.net.take().ok_or_else(|| {
            TrainError::Device("an earlier step failed; restart from the checkpoint".into())
        })?;
        let classes = self.classes_of(&batch.labels);
        let loss = net.nll_bits(batch.images, classes);
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        let mut grads = grads;
        if self.train.freeze_g_blocks > 0 {
            net.visit_first_layers(self.train.freeze_g_blocks, &mut DropGradients(&mut grads));
        }
        self.net = Some(self.opt.step(self.train.lr_g, net, grads));
        Ok(loss.detach().without_autodiff())
    }

    fn end_window(&mut self, _means: &[f32], _images: u64) -> Vec<(&'static str, f64)> {
        Vec::new()
    }

    fn save_state(&self) -> Result<Map<String, Value>, TrainError> {
        // No random state of its own: the session's batch order is all a step draws.
        Ok(Map::new())
    }

    fn records(&self) -> Result<Vec<(String, Vec<u8>)>, TrainError> {
        let net = self.net.as_ref().ok_or_else(|| {
            TrainError::Device("no network to save (an earlier step failed)".into())
        })?;
        let opt = optimiser_bytes(&self.opt)?;
        Ok(vec![
            (
                NET_RECORD.to_string(),
                module_bytes(net.clone()).map_err(record_error("network"))?,
            ),
            (OPTIMISER_RECORD.to_string(), opt),
        ])
    }

    fn restore(&mut self, restore: Restore<'_>) -> Result<(), TrainError> {
        match restore {
            Restore::Resume { records, .. } => {
                self.net = Some(self.load_net(blob(records, NET_RECORD), "network")?);
                self.opt = restored_optimiser(&self.opt, records, OPTIMISER_RECORD)?;
            }
            Restore::Base { records } => {
                self.net = Some(self.load_net(blob(records, NET_RECORD), "base network")?);
            }
        }
        Ok(())
    }

    fn renderer(&self, device: &Device) -> Result<Box<dyn Render>, TrainError> {
        let net = self
            .net
            .as_ref()
            .ok_or_else(|| TrainError::Device("no network (an earlier step failed)".into()))?;
        Ok(likelihood_renderer_of(net, device))
    }

    fn held_out_bits(&self, batch: DeviceBatch) -> Result<Option<f32>, TrainError> {
        let net = self
            .net
            .as_ref()
            .ok_or_else(|| TrainError::Device("no network (an earlier step failed)".into()))?
            .valid();
        let classes = self.classes_of(&batch.labels).map(Tensor::without_autodiff);
        let bits = net
            .nll_bits(batch.images.without_autodiff(), classes)
            .into_scalar::<f32>();
        Ok(Some(bits))
    }
}
