//! Rendering shots from a trained generator: latents in, pictures out.
//!
//! Runs the generator in inference mode (BatchNorm uses its running statistics), so a shot does
//! not depend on which other shots share its batch: same latent, same image.

use burn::tensor::{Device, Tensor, TensorData};
use thiserror::Error;

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::export::Picture;
use crate::model::{ModelConfig, Render};
use crate::preset::{Preset, PresetError};

mod drawing;
pub use drawing::Drawing;

#[derive(Debug, Error)]
pub enum SampleError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("the checkpoint's preset is unreadable: {0}")]
    Preset(#[from] PresetError),
    #[error("the checkpoint holds no generator record")]
    NoGenerator,
    #[error(
        "this file holds only the moving-average generator (a generator-only or base file); the trained generator is in the run's checkpoint.atl or best.atl"
    )]
    NoRawGenerator,
    #[error("the generator record does not fit its preset: {0}")]
    Record(String),
    #[error("latent vector has {found} values; this model takes {expected}")]
    LatentSize { expected: usize, found: usize },
    #[error("reading generated pixels from the device failed: {0}")]
    Readback(String),
    #[error("{given} classes given for {shots} shots")]
    ClassCount { given: usize, shots: usize },
    #[error("class {index} does not exist: this model has {count} classes")]
    NoSuchClass { index: u32, count: usize },
    #[error("no class named '{name}': this model knows {known}")]
    UnknownClass { name: String, known: String },
    #[error("the {0} family cannot complete images (only autoregressive models can)")]
    CannotComplete(&'static str),
    #[error("the image is {found} values, the model makes {expected}")]
    ImageSize { expected: usize, found: usize },
}

/// A generator ready to render, on a plain (non-autodiff) device: any family's, through the
/// model seam's [`Render`].
pub struct Sampler {
    generator: Box<dyn Render>,
    device: Device,
    pub model: ModelConfig,
    /// Short id of the checkpoint the weights came from.
    pub checkpoint_id: String,
}

impl Sampler {
    #[must_use]
    pub fn new(
        generator: Box<dyn Render>,
        model: ModelConfig,
        device: &Device,
        checkpoint_id: String,
    ) -> Self {
        Self {
            generator,
            device: device.clone(),
            model,
            checkpoint_id,
        }
    }

    /// The generator's first-layer weights (see `GanGenerator::first_layer_weights`).
    #[must_use]
    pub fn first_layer_weights(&self) -> Option<Tensor<2>> {
        self.generator.first_layer_weights()
    }

    /// The device the generator renders on.
    #[must_use]
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The EMA generator of a checkpoint (the raw one when the run kept no EMA).
    pub fn from_checkpoint(checkpoint: &Checkpoint, device: &Device) -> Result<Self, SampleError> {
        Self::from_checkpoint_weights(checkpoint, false, device)
    }

    /// As [`Self::from_checkpoint`]; `raw` picks the trained generator over its EMA, to
    /// measure what the average buys.
    pub fn from_checkpoint_weights(
        checkpoint: &Checkpoint,
        raw: bool,
        device: &Device,
    ) -> Result<Self, SampleError> {
        let preset = Preset::from_toml("checkpoint", &checkpoint.preset_toml)?;
        let records = preset.model.render_records();
        // `raw` skips the preferred (moving-average) record for the trained one.
        let wanted = if raw { &records[1..] } else { records };
        let Some(name) = wanted
            .iter()
            .copied()
            .find(|n| checkpoint.blob(n).is_some())
        else {
            return Err(if raw {
                SampleError::NoRawGenerator
            } else {
                SampleError::NoGenerator
            });
        };
        let bytes = checkpoint.blob(name).ok_or(SampleError::NoGenerator)?;
        let generator = load_generator(&preset.model, bytes, device)?;
        // A growing run's shots are drawn at the side it was training at.
        let generator = match growth_of(checkpoint) {
            Some(growth) => generator.with_growth(growth, preset.model.resolution()),
            None => generator,
        };
        // The id names the preferred weights; shots of another record must not claim it.
        let id = checkpoint.content_id(records);
        let id = if name == records[0] || checkpoint.blob(records[0]).is_none() {
            id
        } else {
            format!("{id}-raw")
        };
        Ok(Self::new(generator, preset.model, device, id))
    }

    /// Renders one picture per latent vector, in order. A conditional model draws the mix
    /// of all its classes; use [`Self::render_classes`] to pick one.
    pub fn render(&self, latents: &[Vec<f32>]) -> Result<Vec<Picture>, SampleError> {
        self.render_classes(latents, &[])
    }

    /// The class index of `name` in a conditional model (case-insensitive).
    pub fn class_index(&self, name: &str) -> Result<u32, SampleError> {
        self.model
            .classes()
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
            .map(|i| i as u32)
            .ok_or_else(|| SampleError::UnknownClass {
                name: name.to_string(),
                known: if self.model.class_count() == 0 {
                    "no classes (it is not conditional)".into()
                } else {
                    self.model.classes().join(", ")
                },
            })
    }

    /// Renders one picture per latent; `classes` is empty, or one class index per latent
    /// (`None`: the mix of every class). Unconditional models ignore it.
    pub fn render_classes(
        &self,
        latents: &[Vec<f32>],
        classes: &[Option<u32>],
    ) -> Result<Vec<Picture>, SampleError> {
        Drawing::render(self, latents, classes)?.finish()
    }

    /// Completions of one image (`chw`, the dataset's `u8` layout at the model's size): the
    /// sub-pixels of the pixels `keep` marks (row-major) stay, the rest is drawn, one
    /// completion per latent. Only autoregressive models can.
    pub fn complete(
        &self,
        chw: &[u8],
        keep: &[bool],
        latents: &[Vec<f32>],
        class: Option<u32>,
    ) -> Result<Vec<Picture>, SampleError> {
        Drawing::completion(self, chw, keep, latents, class)?.finish()
    }

    /// Latents as a `[B, dim]` tensor, each checked against the model's latent size.
    fn latent_tensor(&self, latents: &[Vec<f32>]) -> Result<Tensor<2>, SampleError> {
        let dim = self.model.latent_dim();
        if let Some(bad) = latents.iter().find(|z| z.len() != dim) {
            return Err(SampleError::LatentSize {
                expected: dim,
                found: bad.len(),
            });
        }
        let flat: Vec<f32> = latents.iter().flatten().copied().collect();
        Ok(Tensor::<2>::from_data(
            TensorData::new(flat, [latents.len(), dim]),
            &self.device,
        ))
    }

    /// `classes` checked against the shots and the model's classes: empty, or one per shot.
    fn check_classes(&self, classes: &[Option<u32>], shots: usize) -> Result<(), SampleError> {
        if !classes.is_empty() && classes.len() != shots {
            return Err(SampleError::ClassCount {
                given: classes.len(),
                shots,
            });
        }
        let count = self.model.class_count();
        if count > 0
            && let Some(index) = classes
                .iter()
                .flatten()
                .copied()
                .find(|&k| k as usize >= count)
        {
            return Err(SampleError::NoSuchClass { index, count });
        }
        Ok(())
    }
}

/// Where a growing run was on its schedule when `checkpoint` was written (`None`: it does not
/// grow, or it was written before growing existed).
#[must_use]
pub fn growth_of(checkpoint: &Checkpoint) -> Option<crate::model::Growth> {
    let value = checkpoint.state.family.get("growth")?.clone();
    serde_json::from_value(value).ok().flatten()
}

/// `[B, count]` one-hot rows for class indices (each below `count`); `None` gives the
/// uniform mix of every class.
#[must_use]
pub fn one_hot(classes: &[Option<u32>], count: usize, device: &Device) -> Tensor<2> {
    let mut values = vec![0f32; classes.len() * count];
    for (row, class) in classes.iter().enumerate() {
        let cells = &mut values[row * count..(row + 1) * count];
        match class {
            Some(k) => cells[*k as usize] = 1.0,
            None => cells.fill(1.0 / count as f32),
        }
    }
    Tensor::from_data(TensorData::new(values, [classes.len(), count]), device)
}

/// A renderer for `model` on `device` from a generator's burnpack record.
pub fn load_generator(
    model: &ModelConfig,
    bytes: &[u8],
    device: &Device,
) -> Result<Box<dyn Render>, SampleError> {
    model
        .renderer(bytes, device)
        .map_err(|e| SampleError::Record(e.0))
}

/// The model a checkpoint was trained as (its recipe's `[model]`).
pub fn checkpoint_model(checkpoint: &Checkpoint) -> Result<ModelConfig, SampleError> {
    Ok(Preset::from_toml("checkpoint", &checkpoint.preset_toml)?.model)
}

/// Content id of the weights that render a checkpoint's shots.
pub fn generator_id(checkpoint: &Checkpoint) -> Result<String, SampleError> {
    Ok(checkpoint.content_id(checkpoint_model(checkpoint)?.render_records()))
}

/// A generator-only copy: the one record that renders shots, a small file that pins the exact
/// weights behind a curated shot while the run's `checkpoint.atl` moves on. It keeps the id.
pub fn generator_file(checkpoint: &Checkpoint) -> Result<Checkpoint, SampleError> {
    let model = checkpoint_model(checkpoint)?;
    let name = model
        .render_records()
        .iter()
        .copied()
        .find(|n| checkpoint.blob(n).is_some())
        .ok_or(SampleError::NoGenerator)?;
    Ok(checkpoint.keep_records(&[name], true))
}

/// A copy fit to fine-tune from: the generator that renders and the rest of the family's
/// base records (a GAN's D), with no optimiser state or epoch order (fine-tuning starts those
/// afresh). About a third of a full checkpoint: what `assets/base-28.atl` holds.
pub fn base_model_file(checkpoint: &Checkpoint) -> Result<Checkpoint, SampleError> {
    let model = checkpoint_model(checkpoint)?;
    let render = model.render_records();
    let name = render
        .iter()
        .copied()
        .find(|n| checkpoint.blob(n).is_some())
        .ok_or(SampleError::NoGenerator)?;
    let keep: Vec<&str> = model
        .base_records()
        .iter()
        .copied()
        .filter(|n| *n == name || !render.contains(n))
        .collect();
    Ok(checkpoint.keep_records(&keep, false))
}
