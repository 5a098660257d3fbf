//! A small convolutional classifier: the class-fidelity judge trains one per run, and the
//! feature distance ships one trained on Fashion-MNIST. Global average pooling makes it work
//! at any resolution; its pooled 128 values are the features.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};

use super::EvalError;
use crate::data::Dataset;
use crate::model::layers::leaky_relu;
use crate::rng::Rng;
use crate::sample::one_hot;

/// Length of the pooled feature vector.
pub const FEATURES: usize = 128;
const BATCH: usize = 64;
const LEARNING_RATE: f64 = 1e-3;

#[derive(Module, Debug)]
pub struct Classifier {
    convs: Vec<Conv2d>,
    out: Linear,
}

impl Classifier {
    /// Fresh weights drawn from the backend's RNG, seeded with `seed` when given (`None` for
    /// weights a record will replace: the process-wide RNG is then left unseeded). Under the
    /// training sessions' initialisation lock, so a GAN's seeded initialisation on another
    /// thread is never interleaved with this one.
    pub fn new(
        channels: usize,
        resolution: usize,
        classes: usize,
        seed: Option<u64>,
        device: &Device,
    ) -> Self {
        let _guard = crate::model::INIT_LOCK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(seed) = seed {
            device.seed(seed);
        }
        let mut widths = vec![channels, 32, 64, FEATURES];
        widths.resize(1 + Self::stages(resolution), FEATURES);
        let convs = widths
            .windows(2)
            .map(|w| {
                Conv2dConfig::new([w[0], w[1]], [3, 3])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device)
            })
            .collect();
        let model = Self {
            convs,
            out: LinearConfig::new(FEATURES, classes).init(device),
        };
        model.visit(&mut crate::model::Materialise);
        model
    }

    /// Stride-2 stages: at least three, and enough to bring the map down to 4 px, so each
    /// pooled feature has seen most of a garment (three at 28 px, the shipped network's
    /// shape; four at 64 px, where three saw 15 px patches and placed 37 % of held-out
    /// clothing photos in their class).
    fn stages(resolution: usize) -> usize {
        let (mut side, mut stages) = (resolution, 0);
        while side > 4 || stages < 3 {
            side = side.div_ceil(2);
            stages += 1;
        }
        stages
    }

    /// Pooled features `[B, FEATURES]`.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        for conv in &self.convs {
            x = leaky_relu(conv.forward(x), 0.1);
        }
        let [b, c, h, w] = x.dims();
        x.reshape([b, c, h * w]).mean_dim(2).reshape([b, c])
    }

    /// Logits `[B, classes]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.out.forward(self.features(images))
    }

    /// Rows of `[n, len]` values read back from the device.
    fn rows(values: Tensor<2>, what: &str) -> Result<(usize, usize, Vec<f32>), EvalError> {
        let [n, len] = values.dims();
        let flat = values
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| EvalError::Device(format!("reading {what}: {e:?}")))?;
        Ok((n, len, flat))
    }

    /// The most likely class of each image (`images` in [-1, 1], `shape` = `[B, C, H, W]`).
    pub fn predict(
        &self,
        images: &[f32],
        shape: [usize; 4],
        device: &Device,
    ) -> Result<Vec<u32>, EvalError> {
        let x = Tensor::<4>::from_data(TensorData::new(images.to_vec(), shape), device);
        let (n, k, values) = Self::rows(self.forward(x), "classifier output")?;
        Ok((0..n)
            .map(|i| {
                values[i * k..(i + 1) * k]
                    .iter()
                    .enumerate()
                    .fold((0, f32::NEG_INFINITY), |best, (j, &v)| {
                        if v > best.1 { (j as u32, v) } else { best }
                    })
                    .0
            })
            .collect())
    }

    /// The feature vector of each image, as rows.
    pub fn feature_rows(
        &self,
        images: &[f32],
        shape: [usize; 4],
        device: &Device,
    ) -> Result<Vec<Vec<f32>>, EvalError> {
        let x = Tensor::<4>::from_data(TensorData::new(images.to_vec(), shape), device);
        let (n, len, values) = Self::rows(self.features(x), "classifier features")?;
        Ok((0..n)
            .map(|i| values[i * len..(i + 1) * len].to_vec())
            .collect())
    }

    /// Trains a classifier on `train` (indices into `data`) for `steps` Adam steps with fixed
    /// seeds (`init_seed` for the weights, `order_seed` for the batches), so the same data
    /// gives the same classifier. Setting `stop` ends it between two steps with
    /// [`EvalError::Stopped`].
    pub fn train(
        data: &Dataset,
        train: &[usize],
        steps: usize,
        (init_seed, order_seed): (u64, u64),
        device: &Device,
        stop: Option<&std::sync::atomic::AtomicBool>,
    ) -> Result<Self, EvalError> {
        let classes = data.class_names.len();
        if train.len() < 8 {
            return Err(EvalError::TooFewImages(train.len()));
        }
        let (c, r) = (data.channels, data.resolution);
        let ad = device.clone().autodiff();
        let mut model = Self::new(c, r, classes, Some(init_seed), &ad);
        let batch = BATCH.min(train.len());
        let mut optimizer = AdamConfig::new().init();
        let mut rng = Rng::derived(order_seed, "classifier");
        for _ in 0..steps {
            if stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed)) {
                return Err(EvalError::Stopped);
            }
            let picked: Vec<usize> = (0..batch).map(|_| train[rng.below(train.len())]).collect();
            let x = Tensor::<4>::from_data(
                TensorData::new(data.batch_f32(&picked), [batch, c, r, r]),
                &ad,
            );
            let labels: Vec<Option<u32>> = picked.iter().map(|&i| Some(data.labels[i])).collect();
            let target = one_hot(&labels, classes, &ad);
            let loss = (log_softmax(model.forward(x), 1) * target)
                .sum_dim(1)
                .mean()
                .neg();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(LEARNING_RATE, model, grads);
        }
        Ok(model.valid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_bring_the_map_to_four_pixels_and_keep_the_shipped_shape() {
        // 28 px: three stages, as the shipped network's weights expect.
        assert_eq!(Classifier::stages(28), 3);
        assert_eq!(Classifier::stages(32), 3);
        assert_eq!(Classifier::stages(64), 4);
        assert_eq!(Classifier::stages(128), 5);
        let net = Classifier::new(3, 64, 10, Some(1), &Device::flex());
        assert_eq!(net.convs.len(), 4);
    }
}
