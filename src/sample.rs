//! Rendering shots from a trained generator: latents in, pictures out.
//!
//! Runs the generator in inference mode (BatchNorm uses its running statistics), so a shot does
//! not depend on which other shots share its batch: same latent, same image.

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use thiserror::Error;

use crate::export::Picture;
use crate::model::Generator;
use crate::preset::{ModelPreset, Preset, PresetError};
use crate::train::{Checkpoint, CheckpointError};

/// Shots rendered per device call.
const CHUNK: usize = 64;

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
}

/// A generator ready to render, on a plain (non-autodiff) device.
pub struct Sampler {
    generator: Generator,
    device: Device,
    pub model: ModelPreset,
    /// Short id of the checkpoint the weights came from.
    pub checkpoint_id: String,
}

impl Sampler {
    #[must_use]
    pub fn new(
        generator: Generator,
        model: ModelPreset,
        device: &Device,
        checkpoint_id: String,
    ) -> Self {
        Self {
            generator: generator.valid().to_device(device),
            device: device.clone(),
            model,
            checkpoint_id,
        }
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
        let ema = if raw { None } else { checkpoint.blob("ema") };
        let bytes = match ema.or_else(|| checkpoint.blob("g")) {
            Some(bytes) => bytes,
            None if raw => return Err(SampleError::NoRawGenerator),
            None => return Err(SampleError::NoGenerator),
        };
        let generator = load_generator(&preset.model, bytes, device)?;
        // The id names the EMA weights; shots of the trained generator must not claim it.
        let id = if raw && checkpoint.blob("ema").is_some() {
            format!("{}-raw", checkpoint.id())
        } else {
            checkpoint.id()
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
            .classes
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
            .map(|i| i as u32)
            .ok_or_else(|| SampleError::UnknownClass {
                name: name.to_string(),
                known: if self.model.class_count() == 0 {
                    "no classes (it is not conditional)".into()
                } else {
                    self.model.classes.join(", ")
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
        let dim = self.model.latent_dim;
        if let Some(bad) = latents.iter().find(|z| z.len() != dim) {
            return Err(SampleError::LatentSize {
                expected: dim,
                found: bad.len(),
            });
        }
        if !classes.is_empty() && classes.len() != latents.len() {
            return Err(SampleError::ClassCount {
                given: classes.len(),
                shots: latents.len(),
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
        let (c, r) = (self.model.channels, self.model.resolution);
        let mut out = Vec::with_capacity(latents.len());
        for (n, chunk) in latents.chunks(CHUNK).enumerate() {
            let flat: Vec<f32> = chunk.iter().flatten().copied().collect();
            let z = Tensor::<2>::from_data(TensorData::new(flat, [chunk.len(), dim]), &self.device);
            let one_hot = (count > 0 && !classes.is_empty()).then(|| {
                let picked = &classes[n * CHUNK..n * CHUNK + chunk.len()];
                one_hot(picked, count, &self.device)
            });
            let images = self.generator.forward(z, one_hot);
            let values = images
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| SampleError::Readback(format!("{e:?}")))?;
            let per = c * r * r;
            out.extend(
                values
                    .chunks(per)
                    .map(|chw| Picture::from_chw_f32(chw, c, r)),
            );
        }
        Ok(out)
    }
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

/// Builds a generator for `model` on `device` and loads a burnpack record into it.
pub fn load_generator(
    model: &ModelPreset,
    bytes: &[u8],
    device: &Device,
) -> Result<Generator, SampleError> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| SampleError::Record(e.to_string()))?;
    Generator::new(model, device)
        .try_load_record(record)
        .map_err(|e| SampleError::Record(e.to_string()))
}
