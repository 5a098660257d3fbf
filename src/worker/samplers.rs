//! The worker's generators: pinned to small files, loaded once, kept for the latest few.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::Device;

use crate::checkpoint::Checkpoint;
use crate::export::Picture;
use crate::latent::{image_features, latent_for_seed, principal_directions};
use crate::protocol::{GeneratorInfo, WorkerError};
use crate::sample::{Sampler, generator_file};

/// Generators kept in memory (the current one plus a few that gallery shots came from).
const KEEP: usize = 4;
/// Shots rendered to find the latent directions.
const DIRECTION_SAMPLES: u64 = 512;
/// Directions offered as sliders.
pub const DIRECTION_COUNT: usize = 8;
/// PCA runs on shots box-averaged to this side.
const FEATURE_SIDE: usize = 16;

pub struct SamplerCache {
    device: Device,
    loaded: VecDeque<(PathBuf, Arc<Sampler>)>,
}

impl SamplerCache {
    pub fn new(device: Device) -> Self {
        Self {
            device,
            loaded: VecDeque::new(),
        }
    }

    /// The sampler for a pinned generator file, loading it when it is not in memory.
    pub fn get(&mut self, pinned: &Path) -> Result<Arc<Sampler>, WorkerError> {
        if let Some(pos) = self.loaded.iter().position(|(p, _)| p == pinned) {
            let entry = self.loaded.remove(pos).ok_or(WorkerError::NoGenerator)?;
            let sampler = entry.1.clone();
            self.loaded.push_front(entry);
            return Ok(sampler);
        }
        let checkpoint = Checkpoint::load(pinned)?;
        let sampler = Arc::new(Sampler::from_checkpoint(&checkpoint, &self.device).map_err(
            |source| WorkerError::Load {
                path: pinned.display().to_string(),
                source,
            },
        )?);
        self.keep(pinned.to_path_buf(), sampler.clone());
        Ok(sampler)
    }

    fn keep(&mut self, path: PathBuf, sampler: Arc<Sampler>) {
        self.loaded.retain(|(p, _)| *p != path);
        self.loaded.push_front((path, sampler));
        self.loaded.truncate(KEEP);
    }

    /// Writes the generator of `checkpoint` to `pin_dir/<id>.atl` (once), loads it, and
    /// computes its latent directions.
    pub fn pin(
        &mut self,
        checkpoint: &Checkpoint,
        source: &Path,
        pin_dir: &Path,
    ) -> Result<GeneratorInfo, WorkerError> {
        let load_error = |source_err| WorkerError::Load {
            path: source.display().to_string(),
            source: source_err,
        };
        let sampler =
            Arc::new(Sampler::from_checkpoint(checkpoint, &self.device).map_err(load_error)?);
        let id = sampler.checkpoint_id.clone();
        let pinned = pin_dir.join(format!("{id}.atl"));
        if !pinned.exists() {
            generator_file(checkpoint)
                .map_err(load_error)?
                .save(&pinned)?;
        }
        self.keep(pinned.clone(), sampler.clone());
        let latents: Vec<Vec<f32>> = (0..DIRECTION_SAMPLES)
            .map(|seed| latent_for_seed(0xD1_0000 + seed, sampler.model.latent_dim()))
            .collect();
        let pictures: Vec<Picture> = sampler.render(&latents).map_err(WorkerError::Render)?;
        let features: Vec<Vec<f32>> = pictures
            .iter()
            .map(|p| image_features(p, FEATURE_SIDE))
            .collect();
        let channels = sampler.model.channels();
        let directions = principal_directions(&latents, &features, channels, DIRECTION_COUNT);
        Ok(GeneratorInfo {
            id,
            pinned,
            source: source.to_path_buf(),
            model: sampler.model.clone(),
            step: checkpoint.state.step,
            directions,
        })
    }
}
