//! Held-out likelihood, in bits per sub-pixel, and the baseline it must beat: a model of each
//! sub-pixel on its own (a 256-level histogram per position, from the training images).
//! The gap between the two is what modelling the pixels' dependencies buys.

use burn::tensor::{Device, Tensor, TensorData};

use crate::data::Dataset;
use crate::model::Likelihood;
use crate::sample::one_hot;

/// Levels of an 8-bit sub-pixel.
const LEVELS: usize = 256;
/// Images per scoring batch.
const BATCH: usize = 64;

/// Mean negative log-likelihood, in bits per sub-pixel, of `held_out` under independent
/// per-position histograms of `train` (add-one smoothing, so an unseen level costs bits
/// instead of infinity).
#[must_use]
pub fn independent_pixel_bits(train: &[&[u8]], held_out: &[&[u8]]) -> f64 {
    let Some(first) = train.first() else {
        return f64::NAN;
    };
    let positions = first.len();
    let mut counts = vec![1u32; positions * LEVELS];
    for image in train {
        for (p, &v) in image.iter().enumerate().take(positions) {
            counts[p * LEVELS + usize::from(v)] += 1;
        }
    }
    let total = f64::from(u32::try_from(train.len() + LEVELS).unwrap_or(u32::MAX));
    let (mut bits, mut n) = (0.0f64, 0usize);
    for image in held_out {
        for (p, &v) in image.iter().enumerate().take(positions) {
            bits -= (f64::from(counts[p * LEVELS + usize::from(v)]) / total).log2();
            n += 1;
        }
    }
    bits / n.max(1) as f64
}

/// Mean negative log-likelihood of the images `indices` of `data` under `model`, in bits
/// per sub-pixel. `classes`: the model's class count (0 for an unconditional one).
pub fn model_bits(
    model: &dyn Likelihood,
    data: &Dataset,
    indices: &[usize],
    classes: usize,
    device: &Device,
) -> f64 {
    let (c, r) = (data.channels, data.resolution);
    let (mut sum, mut count) = (0.0f64, 0usize);
    for chunk in indices.chunks(BATCH) {
        let images = Tensor::<4>::from_data(
            TensorData::new(data.batch_f32(chunk), [chunk.len(), c, r, r]),
            device,
        );
        let labels = (classes > 0).then(|| {
            let labels: Vec<Option<u32>> = chunk.iter().map(|&i| Some(data.labels[i])).collect();
            one_hot(&labels, classes, device)
        });
        let bits = model.nll_bits(images, labels).into_scalar::<f32>();
        sum += f64::from(bits) * chunk.len() as f64;
        count += chunk.len();
    }
    sum / count.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_image_costs_few_bits_and_noise_costs_about_eight() {
        let constant: Vec<Vec<u8>> = (0..50).map(|_| vec![200u8; 16]).collect();
        let refs: Vec<&[u8]> = constant.iter().map(Vec::as_slice).collect();
        let bits = independent_pixel_bits(&refs, &refs[..5]);
        // Add-one smoothing: 51 of 306 counts on the right level.
        assert!((bits - (306.0f64 / 51.0).log2()).abs() < 1e-9, "{bits}");
        let mut state = 7u64;
        let noise: Vec<Vec<u8>> = (0..4000)
            .map(|_| {
                (0..16)
                    .map(|_| (crate::rng::splitmix64(&mut state) & 0xff) as u8)
                    .collect()
            })
            .collect();
        let refs: Vec<&[u8]> = noise.iter().map(Vec::as_slice).collect();
        let bits = independent_pixel_bits(&refs[..3500], &refs[3500..]);
        assert!((7.9..8.4).contains(&bits), "{bits}");
    }
}
