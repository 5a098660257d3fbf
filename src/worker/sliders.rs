//! Learnt sliders on the worker: the picks rendered and read as features, their quality
//! learnt, and the generator's probe shots scored by it (see `latent::learnt`).

use crate::latent::{image_features, latent_direction, learn_taste};
use crate::protocol::{LearntDirection, ShotsToRender, SliderRequest, SliderSource, WorkerError};

use super::samplers::{FEATURE_SIDE, SamplerCache, render_named};

/// Learns the slider `request` asks for.
pub fn learn_slider(
    samplers: &mut SamplerCache,
    request: &SliderRequest,
) -> Result<LearntDirection, String> {
    let (taste, held_out_accuracy) = match &request.source {
        SliderSource::Taste(taste) => (taste.clone(), None),
        SliderSource::Picks { with, without } => {
            let with = features_of(samplers, with).map_err(|e| e.to_string())?;
            let without = features_of(samplers, without).map_err(|e| e.to_string())?;
            let fit = learn_taste(&with, &without).map_err(|e| e.to_string())?;
            (fit.taste, Some(fit.held_out_accuracy))
        }
    };
    let probe = samplers
        .probe(&request.generator)
        .map_err(|e| e.to_string())?;
    if probe.features.first().map(Vec::len) != Some(taste.weights.len()) {
        return Err(
            "the picks come from a generator of another size than this one; pick shots of the current generator"
                .into(),
        );
    }
    let generator_id = samplers
        .get(&request.generator)
        .map_err(|e| e.to_string())?
        .checkpoint_id
        .clone();
    let (vector, kept) = latent_direction(&taste, &probe.latents, &probe.features, &request.others)
        .ok_or_else(|| {
            "this generator's shots do not vary in that quality (or the other sliders already move all of it)"
                .to_string()
        })?;
    Ok(LearntDirection {
        generator_id,
        taste,
        held_out_accuracy,
        vector,
        kept,
    })
}

/// The image features of every shot, rendered by its own generator.
fn features_of(
    samplers: &mut SamplerCache,
    groups: &[ShotsToRender],
) -> Result<Vec<Vec<f32>>, WorkerError> {
    let mut features = Vec::new();
    for group in groups {
        let sampler = samplers.get(&group.generator)?;
        let pictures = render_named(&sampler, &group.latents, &group.classes)?;
        features.extend(pictures.iter().map(|p| image_features(p, FEATURE_SIDE)));
    }
    Ok(features)
}
