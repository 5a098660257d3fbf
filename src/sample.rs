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
    #[error("the generator record does not fit its preset: {0}")]
    Record(String),
    #[error("latent vector has {found} values; this model takes {expected}")]
    LatentSize { expected: usize, found: usize },
    #[error("reading generated pixels from the device failed: {0}")]
    Readback(String),
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

    /// The EMA generator of a checkpoint (the raw one when the run kept no EMA).
    pub fn from_checkpoint(checkpoint: &Checkpoint, device: &Device) -> Result<Self, SampleError> {
        let preset = Preset::from_toml("checkpoint", &checkpoint.preset_toml)?;
        let bytes = checkpoint
            .blob("ema")
            .or_else(|| checkpoint.blob("g"))
            .ok_or(SampleError::NoGenerator)?;
        let generator = load_generator(&preset.model, bytes, device)?;
        Ok(Self::new(generator, preset.model, device, checkpoint.id()))
    }

    /// Renders one picture per latent vector, in order.
    pub fn render(&self, latents: &[Vec<f32>]) -> Result<Vec<Picture>, SampleError> {
        let dim = self.model.latent_dim;
        if let Some(bad) = latents.iter().find(|z| z.len() != dim) {
            return Err(SampleError::LatentSize {
                expected: dim,
                found: bad.len(),
            });
        }
        let (c, r) = (self.model.channels, self.model.resolution);
        let mut out = Vec::with_capacity(latents.len());
        for chunk in latents.chunks(CHUNK) {
            let flat: Vec<f32> = chunk.iter().flatten().copied().collect();
            let z = Tensor::<2>::from_data(TensorData::new(flat, [chunk.len(), dim]), &self.device);
            let images = self.generator.forward(z);
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
