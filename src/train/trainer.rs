//! The training half of the model-family seam: what the session asks of any family's trainer.
//!
//! The session owns the data order, counters, metric windows and the checkpoint file; the
//! trainer owns the networks, optimisers and the family's own random state. Uploading a batch
//! is apart from stepping on it, so a remote device can receive the batch (as `u8`) while the
//! step's compute stays where the networks are.

use burn::module::{ModuleVisitor, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use serde_json::{Map, Value};

use super::TrainError;
use crate::model::{FamilyVisitor, GanFamily, LikelihoodFamily, Render};
use crate::preset::Preset;

/// One training batch on the device.
pub struct DeviceBatch {
    /// Real images `[B, C, H, W]` in `[-1, 1]`, on the training (autodiff) device.
    pub images: Tensor<4>,
    /// Class label of each image (index into the model's class list).
    pub labels: Vec<u32>,
    /// The session's step count before this step: families draw per-step choices from it
    /// where they keep no random state of their own.
    pub step: u64,
}

/// Records to load into a fresh trainer, and why.
pub enum Restore<'a> {
    /// Resume a run exactly: every record, and the family's saved state.
    Resume {
        records: &'a [(String, Vec<u8>)],
        state: &'a Map<String, Value>,
    },
    /// Start from a base model's weights (fine-tuning): optimisers and state start afresh.
    Base { records: &'a [(String, Vec<u8>)] },
}

/// A family's networks and optimisers, stepped by the session.
pub trait Trainer: Send {
    /// Names of the values [`Trainer::step`] returns, in order (`metrics.jsonl` keys).
    fn metric_names(&self) -> &[&'static str];

    /// One optimisation step on `batch`; returns this step's metric values, detached, as a
    /// `[metric_names().len()]` tensor on the plain device (no sync).
    fn step(&mut self, batch: DeviceBatch) -> Result<Tensor<1>, TrainError>;

    /// End of a metrics window with these means over `images` images: adaptive settings
    /// (the GAN's augmentation strength) move here. Returns values to log beside the means.
    fn end_window(&mut self, means: &[f32], images: u64) -> Vec<(&'static str, f64)>;

    /// The family's own state for a checkpoint (random state, adaptive settings…).
    fn save_state(&self) -> Result<Map<String, Value>, TrainError>;

    /// Named records (burnpack networks, optimiser state) for a checkpoint.
    fn records(&self) -> Result<Vec<(String, Vec<u8>)>, TrainError>;

    /// Loads saved records (and, on resume, the family's state).
    fn restore(&mut self, restore: Restore<'_>) -> Result<(), TrainError>;

    /// The generator that renders shots now (EMA when kept), on `device`.
    fn renderer(&self, device: &Device) -> Result<Box<dyn Render>, TrainError>;

    /// A likelihood family's mean negative log-likelihood of `batch` (held-out images), in
    /// bits per sub-pixel, in inference mode; `None` for families without a likelihood.
    fn held_out_bits(&self, batch: DeviceBatch) -> Result<Option<f32>, TrainError> {
        let _ = batch;
        Ok(None)
    }
}

/// Drops the gradients of every parameter it visits: those weights stay as they are (frozen
/// layers), and the optimiser keeps no state for them. BatchNorm running statistics in a
/// frozen stage still follow the new data's activations, as when a layer is frozen in
/// PyTorch by `requires_grad = False` in training mode.
pub(super) struct DropGradients<'a>(pub(super) &'a mut GradientsParams);

impl ModuleVisitor for DropGradients<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = self.0.remove::<D>(param.id);
    }
}

/// A record that would not load, as the training error naming `what` it was.
pub(super) fn record_error(what: &'static str) -> impl Fn(crate::model::RecordError) -> TrainError {
    move |e| TrainError::Record { what, message: e.0 }
}

/// The bytes of the record `name` among a checkpoint's records.
pub(super) fn blob<'a>(records: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    records
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, b)| b.as_slice())
}

/// An optimiser's state as a checkpoint record.
pub(super) fn optimiser_bytes(opt: &ModuleOptimizer) -> Result<Vec<u8>, TrainError> {
    opt.into_bytes()
        .map(|bytes| bytes.to_vec())
        .map_err(|e| TrainError::Record {
            what: "optimiser state",
            message: e.to_string(),
        })
}

/// `opt` with the state of the record `name` among a checkpoint's records.
pub(super) fn restored_optimiser(
    opt: &ModuleOptimizer,
    records: &[(String, Vec<u8>)],
    name: &str,
) -> Result<ModuleOptimizer, TrainError> {
    let bytes = blob(records, name).ok_or(TrainError::Record {
        what: "optimiser state",
        message: format!("{name} missing"),
    })?;
    opt.clone()
        .from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| TrainError::Record {
            what: "optimiser state",
            message: e.to_string(),
        })
}

/// Builds the trainer of a recipe's family on `device` (autodiff is enabled inside).
pub fn trainer_for(preset: &Preset, device: &Device) -> Result<Box<dyn Trainer>, TrainError> {
    struct Build<'a> {
        preset: &'a Preset,
        device: &'a Device,
    }
    impl FamilyVisitor for Build<'_> {
        type Output = Result<Box<dyn Trainer>, TrainError>;
        fn gan<F: GanFamily>(self, config: &F::Config) -> Self::Output {
            Ok(Box::new(super::gan::GanTrainer::<F>::new(
                config,
                self.preset,
                self.device,
            )?))
        }
        fn likelihood<F: LikelihoodFamily>(self, config: &F::Config) -> Self::Output {
            Ok(Box::new(super::likelihood::LikelihoodTrainer::<F>::new(
                config,
                self.preset,
                self.device,
            )))
        }
    }
    preset.model.visit(Build { preset, device })
}
