//! Training presets: the TOML files under `presets/`, parsed strictly.
//!
//! Every field has a default, unknown keys are rejected (a typo must not silently fall back to a
//! default), and `validate` names the field at fault. The shipped presets are embedded in the
//! binary so `--preset dcgan-28` works from any directory. `[model]` is one model family's
//! config, chosen by its `kind` ([`ModelConfig`]); each family checks its own fields.

use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::{ConfigError, ModelConfig};

mod colour;
pub use colour::{COLOUR_RECIPE, ColourRecipe, Hardware};

mod shipped;
pub use shipped::BUILTIN_PRESETS;

/// The shipped presets' names, for messages.
#[must_use]
pub fn builtin_names() -> String {
    BUILTIN_PRESETS
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Error)]
pub enum PresetError {
    #[error("unknown preset '{0}': use a file path or one of: {names}", names = builtin_names())]
    Unknown(String),
    #[error("cannot read preset file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("preset '{name}' is not valid TOML for a preset: {message}")]
    Parse { name: String, message: String },
    #[error("preset field `{field}`: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

impl From<ConfigError> for PresetError {
    fn from(e: ConfigError) -> Self {
        Self::Invalid {
            field: e.field,
            message: e.message,
        }
    }
}

/// How a non-square photo becomes square before resizing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SquareMode {
    /// Keep the centre square; loses the edges of wide or tall photos.
    Crop,
    /// Keep the whole photo; fills the borders with the photo's edge colour average.
    Pad,
}

/// The adversarial loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    /// Non-saturating logistic loss (Goodfellow et al. 2014), BCE on logits.
    NonSaturating,
    /// Hinge loss (Lim & Ye 2017; Miyato et al. 2018).
    Hinge,
}

/// Differentiable augmentation of D's inputs (`DiffAugment`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AugmentMode {
    Off,
    /// Always at probability `augment_p`.
    Fixed,
    /// Starts at `augment_p` and follows D's over-fitting signal towards `ada_target`.
    Adaptive,
}

/// One kind of differentiable augmentation (DiffAugment's three).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AugmentOp {
    /// Shift by up to 1/8 of the side, zero-padded.
    Translation,
    /// Blank a square of half the side at a random place.
    Cutout,
    /// Brightness, contrast and (RGB only) saturation.
    Colour,
}

/// Which optimiser updates a network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    Adam,
    /// Adam with decoupled weight decay (Loshchilov & Hutter 2019).
    Adamw,
    /// Stochastic gradient descent with `momentum` (and `weight_decay` as L2).
    Sgd,
}

impl std::str::FromStr for OptimizerKind {
    type Err = String;

    /// The preset file's spelling, for command-line flags.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "adam" => Ok(Self::Adam),
            "adamw" => Ok(Self::Adamw),
            "sgd" => Ok(Self::Sgd),
            other => Err(format!(
                "unknown optimiser '{other}' (use adam, adamw or sgd)"
            )),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataPreset {
    pub square: SquareMode,
    /// Train / validation / test fractions; they must add up to 1.
    pub split: [f64; 3],
    /// Seed of the split: a fixed seed keeps the held-out images held out across runs.
    pub split_seed: u64,
    /// Train on each photo and on its mirror image (x-flip, as StyleGAN2-ADA's `--mirror`):
    /// twice the distinct images for free where a mirrored product is as true a shot (most
    /// garments, mugs). Leave it off for products with lettering or a fixed facing side.
    pub mirror: bool,
}

impl Default for DataPreset {
    fn default() -> Self {
        Self {
            square: SquareMode::Pad,
            split: [0.90, 0.05, 0.05],
            split_seed: 2024,
            mirror: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainPreset {
    pub batch: usize,
    /// Passes over the training split; ignored when `steps` is set.
    pub epochs: usize,
    /// Exact number of optimiser steps (one D and one G update each); overrides `epochs`.
    pub steps: Option<u64>,
    pub optimizer: OptimizerKind,
    pub loss: LossKind,
    pub augment: AugmentMode,
    /// Augmentation probability: fixed, or the adaptive mode's starting value.
    pub augment_p: f64,
    /// Adaptive mode: the target of `r_t = E[sign(D(real))]` (0.6 in StyleGAN2-ADA).
    pub ada_target: f64,
    /// Which augmentations D's inputs get. Colour changes teach D nothing about grey
    /// silhouettes and were measured to hurt there, so grey presets leave it out.
    pub augment_ops: Vec<AugmentOp>,
    pub lr_g: f64,
    pub lr_d: f64,
    pub beta1: f64,
    pub beta2: f64,
    /// Weight decay: decoupled for AdamW, an L2 term in the gradient for Adam and SGD.
    pub weight_decay: f64,
    /// SGD's momentum (ignored by Adam and AdamW, which use `beta1`).
    pub momentum: f64,
    /// Start from this base model instead of random weights (fine-tuning): a checkpoint file,
    /// a run folder, or a shipped base (`base-28`). G, D and the EMA generator are taken from
    /// it; the optimisers start afresh. The base's architecture replaces `[model]`.
    pub init: Option<String>,
    /// Fine-tuning: freeze the first k discriminator blocks (`FreezeD`, Mo et al. 2020).
    pub freeze_d_blocks: usize,
    /// Fine-tuning: freeze the weights of the generator's first k stages (its coarse
    /// structure); their BatchNorm statistics still adapt to the new data.
    pub freeze_g_blocks: usize,
    /// Weight of the mode-seeking term (Mao et al. 2019, MSGAN): G is rewarded for making two
    /// latents of the same class differ as much as the latents do. Conditional models need it:
    /// without it G learnt one image per class and ignored z (measured on three Fashion-MNIST
    /// classes). 0 turns it off.
    pub mode_seeking: f64,
    /// The side, in px, at which the mode-seeking term compares its pairs of pictures: each
    /// averaged down to `side` first, so G earns the term with different layouts, shapes and
    /// colours rather than with per-pixel grain. 0 compares them at full size (MSGAN's own).
    pub mode_seeking_side: usize,
    /// Weight of the auxiliary class loss of conditional models: D learns to read each real
    /// photo's class from its projection scores (cross-entropy), and G is asked for fakes
    /// that D reads as the class they were drawn for (as AC-GAN, Odena et al. 2017, on the
    /// projection discriminator's own class embedding). 0 turns it off.
    pub class_loss: f64,
    /// Weight of the LeCam term (Tseng et al. 2021, "Regularizing Generative Adversarial
    /// Networks under Limited Data"): D's logits on reals are pulled towards the moving
    /// average of its fake logits and vice versa, so an over-fitting D cannot push them apart
    /// without bound. It needs no double backward. 0 turns it off.
    pub lecam: f64,
    /// Weight of balanced consistency regularisation (bCR, Zhao et al. 2021): D pays
    /// `weight × mean((D(x) − D(T(x)))²)` on reals and on fakes, where `T` is `augment_ops` at
    /// full strength. D must then judge what augmentation keeps, not memorise the pixels of a
    /// few photos; G never sees augmented images. Costs two more D passes a step. 0 = off.
    pub consistency: f64,
    /// Hinge loss only: D's margins are drawn per logit from `(1 − jitter, 1]` each step
    /// instead of being exactly 1 (FastGAN's `rand · 0.2 + 0.8`), so D is never asked for
    /// one exact confidence. 0 keeps the plain hinge.
    pub hinge_margin_jitter: f64,
    /// Decay of the generator's exponential moving average; 0 disables the EMA copy.
    pub ema_decay: f64,
    pub seed: u64,
    /// Steps between atomic checkpoints.
    pub checkpoint_every: u64,
    /// Steps between preview grids of the fixed latents.
    pub preview_every: u64,
    /// Steps between metric lines (each costs a device sync).
    pub metrics_every: u64,
    /// Steps between quality evaluations on the held-out split (SWD, memorisation); 0 = never.
    pub eval_every: u64,
    /// Stop after this many evaluations without a better SWD; 0 = never stop early.
    pub patience: u32,
}

impl Default for TrainPreset {
    fn default() -> Self {
        Self {
            batch: 64,
            epochs: 10,
            steps: None,
            optimizer: OptimizerKind::Adam,
            loss: LossKind::NonSaturating,
            augment: AugmentMode::Off,
            augment_p: 0.0,
            ada_target: 0.6,
            augment_ops: vec![AugmentOp::Translation, AugmentOp::Cutout, AugmentOp::Colour],
            lr_g: 2e-4,
            lr_d: 2e-4,
            beta1: 0.5,
            beta2: 0.999,
            weight_decay: 0.0,
            momentum: 0.9,
            mode_seeking: 0.0,
            mode_seeking_side: 0,
            class_loss: 0.0,
            lecam: 0.0,
            consistency: 0.0,
            hinge_margin_jitter: 0.0,
            init: None,
            freeze_d_blocks: 0,
            freeze_g_blocks: 0,
            ema_decay: 0.999,
            seed: 1,
            checkpoint_every: 500,
            preview_every: 250,
            metrics_every: 50,
            eval_every: 500,
            patience: 0,
        }
    }
}

/// A complete training recipe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Preset {
    pub name: String,
    pub description: String,
    pub model: ModelConfig,
    pub data: DataPreset,
    pub train: TrainPreset,
}

impl Default for Preset {
    fn default() -> Self {
        Self {
            name: "custom".into(),
            description: String::new(),
            model: ModelConfig::default(),
            data: DataPreset::default(),
            train: TrainPreset::default(),
        }
    }
}

impl Preset {
    /// A shipped preset by name, or a TOML file by path.
    pub fn load(name_or_path: &str) -> Result<Self, PresetError> {
        if let Some((_, text)) = BUILTIN_PRESETS.iter().find(|(n, _)| *n == name_or_path) {
            return Self::from_toml(name_or_path, text);
        }
        let path = Path::new(name_or_path);
        if path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|source| PresetError::Read {
                path: path.display().to_string(),
                source,
            })?;
            return Self::from_toml(name_or_path, &text);
        }
        Err(PresetError::Unknown(name_or_path.to_string()))
    }

    /// The shipped class-conditional preset of the model family `kind` (`cdcgan-28` for
    /// `dcgan`, `cfastgan-64-rgb` for `fastgan`), if one ships: its training terms are the
    /// ones a conditional run of that family was measured with.
    #[must_use]
    pub fn shipped_conditional(kind: &str) -> Option<Self> {
        BUILTIN_PRESETS
            .iter()
            .filter_map(|(name, text)| Self::from_toml(name, text).ok())
            .find(|p| p.model.conditional() && p.model.kind() == kind)
    }

    pub fn from_toml(name: &str, text: &str) -> Result<Self, PresetError> {
        let preset: Self = toml::from_str(text).map_err(|e| PresetError::Parse {
            name: name.to_string(),
            message: e.to_string().trim().to_string(),
        })?;
        preset.validate()?;
        Ok(preset)
    }

    #[must_use]
    pub fn to_toml(&self) -> String {
        // Serialising plain data structs cannot fail.
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks ranges that serde cannot express, naming the field at fault.
    pub fn validate(&self) -> Result<(), PresetError> {
        self.validate_model()?;
        self.validate_data_and_train()?;
        self.validate_fine_tuning()
    }

    fn validate_model(&self) -> Result<(), PresetError> {
        Ok(self.model.validate()?)
    }

    fn validate_data_and_train(&self) -> Result<(), PresetError> {
        let bad =
            |field: &'static str, message: String| Err(PresetError::Invalid { field, message });
        let s = self.data.split;
        if s.iter().any(|f| !(0.0..=1.0).contains(f)) || (s.iter().sum::<f64>() - 1.0).abs() > 1e-6
        {
            return bad(
                "data.split",
                format!("{s:?} (three fractions in [0,1] adding up to 1)"),
            );
        }
        if s[0] <= 0.0 {
            return bad("data.split", "the training fraction must be above 0".into());
        }
        let t = &self.train;
        if !(2..=4096).contains(&t.batch) {
            return bad("train.batch", format!("{} (2 to 4096)", t.batch));
        }
        if t.epochs == 0 && t.steps.is_none() {
            return bad(
                "train.epochs",
                "must be at least 1 (or set train.steps)".into(),
            );
        }
        if t.steps == Some(0) {
            return bad("train.steps", "must be at least 1".into());
        }
        for (field, lr) in [("train.lr_g", t.lr_g), ("train.lr_d", t.lr_d)] {
            if !(lr.is_finite() && lr > 0.0 && lr < 1.0) {
                return bad(field, format!("{lr} (a learning rate in (0, 1))"));
            }
        }
        for (field, beta) in [("train.beta1", t.beta1), ("train.beta2", t.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                return bad(field, format!("{beta} (in [0, 1))"));
            }
        }
        if !(0.0..1.0).contains(&t.ema_decay) {
            return bad(
                "train.ema_decay",
                format!("{} (in [0, 1); 0 disables the EMA)", t.ema_decay),
            );
        }
        if !(0.0..=1.0).contains(&t.augment_p) {
            return bad(
                "train.augment_p",
                format!("{} (a probability in [0, 1])", t.augment_p),
            );
        }
        if t.augment != AugmentMode::Off && t.augment_ops.is_empty() {
            return bad(
                "train.augment_ops",
                "empty while augment is on (list translation, cutout and/or colour)".into(),
            );
        }
        if !(t.ada_target > 0.0 && t.ada_target < 1.0) {
            return bad("train.ada_target", format!("{} (in (0, 1))", t.ada_target));
        }
        if !(t.weight_decay.is_finite() && t.weight_decay >= 0.0) {
            return bad(
                "train.weight_decay",
                format!("{} (must be ≥ 0)", t.weight_decay),
            );
        }
        for (field, every) in [
            ("train.checkpoint_every", t.checkpoint_every),
            ("train.preview_every", t.preview_every),
            ("train.metrics_every", t.metrics_every),
        ] {
            if every == 0 {
                return bad(field, "must be at least 1".into());
            }
        }
        Ok(())
    }

    /// Base model, frozen layers, SGD's momentum and the loss terms' weights.
    fn validate_fine_tuning(&self) -> Result<(), PresetError> {
        let bad =
            |field: &'static str, message: String| Err(PresetError::Invalid { field, message });
        let (m, t) = (&self.model, &self.train);
        for (field, weight) in [
            ("train.mode_seeking", t.mode_seeking),
            ("train.class_loss", t.class_loss),
            ("train.lecam", t.lecam),
            ("train.consistency", t.consistency),
        ] {
            if !(weight.is_finite() && (0.0..=100.0).contains(&weight)) {
                return bad(
                    field,
                    format!("{weight} (a weight in [0, 100]; 0 turns it off)"),
                );
            }
        }
        let jitter = t.hinge_margin_jitter;
        if !(0.0..1.0).contains(&jitter) {
            return bad(
                "train.hinge_margin_jitter",
                format!("{jitter} (in [0, 1); 0 keeps the plain hinge)"),
            );
        }
        if jitter > 0.0 && t.loss != LossKind::Hinge {
            return bad(
                "train.hinge_margin_jitter",
                format!("{jitter} needs loss = \"hinge\""),
            );
        }
        let side = m.resolution();
        if t.mode_seeking_side > 0
            && (t.mode_seeking_side >= side || side % t.mode_seeking_side != 0)
        {
            return bad(
                "train.mode_seeking_side",
                format!(
                    "{} (0 for full size, or a side below {side} px that divides it)",
                    t.mode_seeking_side
                ),
            );
        }
        if t.class_loss > 0.0 && !m.conditional() {
            return bad(
                "train.class_loss",
                format!(
                    "{} needs a class-conditional model (model.conditional = true)",
                    t.class_loss
                ),
            );
        }
        if !(0.0..1.0).contains(&t.momentum) {
            return bad("train.momentum", format!("{} (in [0, 1))", t.momentum));
        }
        if t.init.as_ref().is_some_and(|s| s.trim().is_empty()) {
            return bad(
                "train.init",
                "empty (remove the line, or name a checkpoint, a run folder or base-28)".into(),
            );
        }
        let stages = m.family().freezable();
        for (field, k, count, what) in [
            (
                "train.freeze_d_blocks",
                t.freeze_d_blocks,
                stages.discriminator_blocks,
                "D has {n} blocks before its logit layer",
            ),
            (
                "train.freeze_g_blocks",
                t.freeze_g_blocks,
                stages.generator_stages,
                "G has {n} stages before its output layer",
            ),
        ] {
            if k > 0 && count == 0 {
                return bad(
                    field,
                    format!(
                        "freezing layers needs a family with stages (DCGAN or FastGAN), not {}",
                        m.kind()
                    ),
                );
            }
            if k > count {
                let what = what.replace("{n}", &count.to_string());
                return bad(field, format!("{k} (this {} {what})", m.describe_size()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_preset_parses_and_validates() {
        for (name, _) in BUILTIN_PRESETS {
            let p = Preset::load(name).unwrap();
            assert_eq!(&p.name, name);
        }
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let err = Preset::from_toml("x", "[train]\nbatchsize = 3\n").unwrap_err();
        assert!(err.to_string().contains("batchsize"), "{err}");
    }

    #[test]
    fn bad_values_name_their_field() {
        let err = Preset::from_toml("x", "[model]\nchannels = 2\n").unwrap_err();
        assert!(err.to_string().contains("model.channels"), "{err}");
        let err = Preset::from_toml("x", "[data]\nsplit = [0.5, 0.1, 0.1]\n").unwrap_err();
        assert!(err.to_string().contains("data.split"), "{err}");
    }

    #[test]
    fn fine_tuning_and_class_options_are_checked_by_name() {
        let cases = [
            ("[train]\nfreeze_d_blocks = 3\n", "train.freeze_d_blocks"),
            ("[train]\nfreeze_g_blocks = 9\n", "train.freeze_g_blocks"),
            ("[train]\nmomentum = 1.5\n", "train.momentum"),
            ("[train]\nclass_loss = 0.5\n", "train.class_loss"),
            // Hostile sizes: gigabytes of weights are refused before anything is built.
            (
                "[model]\nkind = \"dcgan\"\nresolution = 128\ng_width = 1024\n",
                "model.g_width",
            ),
            (
                "[model]\nkind = \"seed-mlp\"\nresolution = 1024\nchannels = 3\nhidden = 8192\n",
                "model.resolution",
            ),
            ("[train]\nlecam = -1.0\n", "train.lecam"),
            ("[train]\nconsistency = 101.0\n", "train.consistency"),
            (
                "[train]\nloss = \"hinge\"\nhinge_margin_jitter = 1.0\n",
                "train.hinge_margin_jitter",
            ),
            (
                "[train]\nhinge_margin_jitter = 0.2\n",
                "train.hinge_margin_jitter",
            ),
            (
                "[train]\nmode_seeking_side = 28\n",
                "train.mode_seeking_side",
            ),
            (
                "[train]\nmode_seeking_side = 5\n",
                "train.mode_seeking_side",
            ),
            ("[train]\ninit = \" \"\n", "train.init"),
            ("[model]\nd_dropout = 0.95\n", "model.d_dropout"),
            (
                "[model]\nkind = \"seed-mlp\"\nconditional = true\n",
                "model.kind",
            ),
            ("[model]\nclasses = [\"a\"]\n", "model.classes"),
            ("[train]\noptimizer = \"rmsprop\"\n", "optimizer"),
        ];
        for (toml, field) in cases {
            let err = Preset::from_toml("x", toml).unwrap_err().to_string();
            assert!(err.contains(field), "{toml}: {err}");
        }
        let ok = "[train]\noptimizer = \"sgd\"\nmomentum = 0.8\nfreeze_d_blocks = 2\nmode_seeking_side = 7\n";
        let p = Preset::from_toml("x", ok).unwrap();
        assert_eq!(p.train.optimizer, OptimizerKind::Sgd);
        assert_eq!("AdamW".parse::<OptimizerKind>(), Ok(OptimizerKind::Adamw));
    }

    #[test]
    fn toml_round_trip() {
        let p = Preset::load("dcgan-64-rgb").unwrap();
        assert_eq!(Preset::from_toml("rt", &p.to_toml()).unwrap(), p);
    }
}
