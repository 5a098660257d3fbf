//! Where a run's networks come from besides random weights: a base model to fine-tune
//! (`train.init`), whose architecture the run adopts, and the classes a conditional model
//! was built for, which the data's labels must match.

use std::path::Path;

use super::TrainError;
use crate::checkpoint::{BEST, Checkpoint, LATEST};
use crate::data::Dataset;
use crate::preset::Preset;

/// The base model named by `train.init`: a shipped base (`base-28`), a checkpoint file, or a
/// run folder (its `best.atl` when it has one, else `checkpoint.atl`).
pub fn load_base(spec: &str) -> Result<Checkpoint, TrainError> {
    if let Some(base) = crate::base::SHIPPED_BASES.iter().find(|b| b.name == spec) {
        return Ok(Checkpoint::from_bytes(base.bytes, base.name)?);
    }
    let path = Path::new(spec);
    if path.is_dir() {
        let best = path.join(BEST);
        let file = if best.is_file() {
            best
        } else {
            path.join(LATEST)
        };
        if !file.is_file() {
            return Err(TrainError::Incompatible(format!(
                "train.init: {} holds no checkpoint (best.atl or checkpoint.atl)",
                path.display()
            )));
        }
        return Ok(Checkpoint::load(&file)?);
    }
    if path.is_file() {
        return Ok(Checkpoint::load(path)?);
    }
    let shipped: Vec<&str> = crate::base::SHIPPED_BASES.iter().map(|b| b.name).collect();
    Err(TrainError::Incompatible(format!(
        "train.init: '{spec}' is neither a checkpoint file, a run folder, nor a shipped base ({})",
        shipped.join(", ")
    )))
}

/// Fine-tuning keeps the base's networks, so the base's architecture replaces `[model]`
/// (dropout, which has no weights, stays as asked). Size and colour must agree: the data is
/// imported at the preset's size.
pub(super) fn adopt_base_model(preset: &mut Preset, base: &Checkpoint) -> Result<(), TrainError> {
    let base_preset = Preset::from_toml("base model", &base.preset_toml)
        .map_err(|e| TrainError::Incompatible(format!("train.init: {e}")))?;
    let (want, have) = (&preset.model, &base_preset.model);
    if want.resolution() != have.resolution() || want.channels() != have.channels() {
        return Err(TrainError::Incompatible(format!(
            "train.init: the base model makes {} images but the preset asks for {}; set model.resolution = {} and model.channels = {} (the data is resized and converted on import), or pretrain a {} base",
            have.describe_size(),
            want.describe_size(),
            have.resolution(),
            have.channels(),
            want.describe_size(),
        )));
    }
    if want.conditional() && !have.conditional() {
        return Err(TrainError::Incompatible(
            "train.init: the base model is unconditional, so it cannot learn classes; set model.conditional = false to fine-tune it, or start from a conditional base (trained with conditional = true)".into(),
        ));
    }
    let dropout = want.family().d_dropout().unwrap_or(0.0);
    preset.model = have.clone();
    preset
        .model
        .family_mut()
        .set_d_dropout(dropout)
        .map_err(|e| TrainError::Incompatible(format!("with the base model's networks: {e}")))?;
    preset
        .validate()
        .map_err(|e| TrainError::Incompatible(format!("with the base model's networks: {e}")))
}

/// A new conditional model learns the data's classes. A resumed or fine-tuned one keeps the
/// classes it was built for: the data's labels are matched to them by name (any subset, in any
/// order), and a folder the model does not know is an error.
pub(super) fn match_classes(
    preset: &mut Preset,
    data: &mut Dataset,
    fixed: bool,
) -> Result<(), TrainError> {
    if !preset.model.conditional() {
        return Ok(());
    }
    if fixed {
        let known = preset.model.classes();
        return data.relabel_to(known).map_err(|unknown| {
            TrainError::Incompatible(format!(
                "model.classes: the model (a conditional base or the run being resumed) knows the classes [{}]; the data's sub-folders [{}] are not among them; rename them, or train a new model",
                known.join(", "),
                unknown.join(", ")
            ))
        });
    }
    if data.class_names.len() < 2 {
        return Err(TrainError::Incompatible(format!(
            "model.conditional: the data holds {} class; a conditional model needs two or more class sub-folders (or set conditional = false)",
            data.class_names.len()
        )));
    }
    preset.model.set_classes(data.class_names.clone());
    Ok(())
}
