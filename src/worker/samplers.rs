//! The worker's generators: pinned to small files, loaded once, kept for the latest few.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::Device;

use crate::checkpoint::Checkpoint;
use crate::export::Picture;
use crate::latent::{
    Directions, closed_form_directions, image_features, latent_for_seed, principal_directions,
};
use crate::protocol::{GeneratorInfo, WorkerError};
use crate::sample::{Drawing, Sampler, generator_file};

/// Generators kept in memory (the current one plus a few that gallery shots came from).
const KEEP: usize = 4;
/// Shots rendered to find the latent directions.
const DIRECTION_SAMPLES: u64 = 512;
/// Directions offered as sliders.
pub const DIRECTION_COUNT: usize = 8;
/// PCA, SeFa's names and learnt sliders read shots box-averaged to this side.
pub const FEATURE_SIDE: usize = 16;

/// A generator's probe: random shots and their image features, the sample that principal
/// directions, closed-form names and learnt sliders all read.
pub struct Probe {
    pub latents: Vec<Vec<f32>>,
    pub features: Vec<Vec<f32>>,
}

pub struct SamplerCache {
    device: Device,
    loaded: VecDeque<(PathBuf, Arc<Sampler>)>,
    probes: VecDeque<(PathBuf, Arc<Probe>)>,
}

impl SamplerCache {
    pub fn new(device: Device) -> Self {
        Self {
            device,
            loaded: VecDeque::new(),
            probes: VecDeque::new(),
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
        if sampler.model.family().latent_tools().is_err() {
            // No latent space to explore (an autoregressive model): no sliders to compute,
            // and no thousand-shot probe to draw pixel by pixel.
            return Ok(GeneratorInfo {
                id,
                pinned,
                source: source.to_path_buf(),
                model: sampler.model.clone(),
                step: checkpoint.state.step,
                directions: Directions::default(),
                closed_form: Directions::default(),
            });
        }
        let probe = self.probe(&pinned)?;
        let channels = sampler.model.channels();
        let directions =
            principal_directions(&probe.latents, &probe.features, channels, DIRECTION_COUNT);
        // A family without a first layer from z (or weights that cannot be read back) gets
        // no closed-form sliders; the principal ones still work.
        let closed_form = sampler
            .first_layer_weights()
            .and_then(|w| w.into_data().convert::<f32>().try_into_vec::<f32>().ok())
            .map(|values| {
                closed_form_directions(
                    &values,
                    sampler.model.latent_dim(),
                    &probe.latents,
                    &probe.features,
                    channels,
                    DIRECTION_COUNT,
                )
            })
            .unwrap_or_default();
        Ok(GeneratorInfo {
            id,
            pinned,
            source: source.to_path_buf(),
            model: sampler.model.clone(),
            step: checkpoint.state.step,
            directions,
            closed_form,
        })
    }

    /// The probe of a pinned generator: rendered once, then kept with it.
    pub fn probe(&mut self, pinned: &Path) -> Result<Arc<Probe>, WorkerError> {
        if let Some((_, probe)) = self.probes.iter().find(|(p, _)| p == pinned) {
            return Ok(probe.clone());
        }
        let sampler = self.get(pinned)?;
        let latents: Vec<Vec<f32>> = (0..DIRECTION_SAMPLES)
            .map(|seed| latent_for_seed(0xD1_0000 + seed, sampler.model.latent_dim()))
            .collect();
        let pictures: Vec<Picture> = sampler.render(&latents).map_err(WorkerError::Render)?;
        let features = pictures
            .iter()
            .map(|p| image_features(p, FEATURE_SIDE))
            .collect();
        let probe = Arc::new(Probe { latents, features });
        self.probes
            .push_front((pinned.to_path_buf(), probe.clone()));
        self.probes.truncate(KEEP);
        Ok(probe)
    }
}

/// Begins completions of `completion`'s picture with `sampler`, one per latent, as the first
/// class named (conditional generators).
pub fn completion_named(
    sampler: Arc<Sampler>,
    completion: &crate::protocol::Completion,
    latents: &[Vec<f32>],
    classes: &[Option<String>],
) -> Result<Drawing<Arc<Sampler>>, WorkerError> {
    let class = match classes.first().cloned().flatten() {
        Some(name) if sampler.model.class_count() > 0 => {
            Some(sampler.class_index(&name).map_err(WorkerError::Render)?)
        }
        _ => None,
    };
    Drawing::completion(sampler, &completion.image, &completion.keep, latents, class)
        .map_err(WorkerError::Render)
}

/// Begins rendering `latents` with `sampler`, each with its class by name (conditional
/// generators; an unconditional one ignores the names).
pub fn drawing_named(
    sampler: Arc<Sampler>,
    latents: &[Vec<f32>],
    classes: &[Option<String>],
) -> Result<Drawing<Arc<Sampler>>, WorkerError> {
    let conditional = sampler.model.class_count() > 0;
    let classes = classes
        .iter()
        .filter(|_| conditional)
        .map(|name| name.as_deref().map(|n| sampler.class_index(n)).transpose())
        .collect::<Result<Vec<_>, _>>()
        .map_err(WorkerError::Render)?;
    Drawing::render(sampler, latents, &classes).map_err(WorkerError::Render)
}

/// [`drawing_named`], drawn to the end in one piece (for a GAN's probe-sized renders).
pub fn render_named(
    sampler: &Arc<Sampler>,
    latents: &[Vec<f32>],
    classes: &[Option<String>],
) -> Result<Vec<Picture>, WorkerError> {
    drawing_named(sampler.clone(), latents, classes)?
        .finish()
        .map_err(WorkerError::Render)
}
