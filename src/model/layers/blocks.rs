//! Small differentiable pieces built from plain tensor ops (reshape, expand, mean), so every
//! backend runs them forward and backward without special kernels.

use burn::module::Module;
use burn::tensor::activation::sigmoid;
use burn::tensor::module::{adaptive_avg_pool2d, interpolate};
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor};

use super::SpectralConv2d;

/// Nearest-neighbour up-sampling by 2: each pixel becomes a 2×2 block, with burn's
/// interpolation kernel (no transposed convolution: slow in burn's CPU and wgpu backends).
/// Written as expand + reshape it was 3× slower forward and backward on the CPU
/// (`cargo bench --bench ops`).
#[must_use]
pub fn upsample2x(x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    interpolate(
        x,
        InterpolateOptions::new(InterpolateMode::Nearest).with_output_size([2 * h, 2 * w]),
    )
}

/// 2×2 average pooling (sides must be even). As reshape + means, it was 2.5× faster forward
/// and backward than `avg_pool2d` on the CPU (`cargo bench --bench ops`).
#[must_use]
pub fn pool2x(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h / 2, 2, w / 2, 2])
        .mean_dim(5)
        .mean_dim(3)
        .reshape([b, c, h / 2, w / 2])
}

/// Gated linear unit over channels: the first half gated by the sigmoid of the second.
#[must_use]
pub fn glu(x: Tensor<4>) -> Tensor<4> {
    let [_, c, ..] = x.dims();
    let half = c / 2;
    x.clone().narrow(1, 0, half) * sigmoid(x.narrow(1, half, half))
}

/// Leaky ReLU as `x · s`, with `s` 1 where `x ≥ 0` and `slope` below: the values of burn's
/// `leaky_relu`, at a fraction of its backward cost. burn's autodiff composes that one from a
/// compare, a scaled copy and `mask_where`, and its backward pass takes two zeroed buffers,
/// two `mask_where`s, a scaling and a sum; here `s` is a constant of the graph and the
/// backward pass is one multiply (`cargo bench --bench ops`).
#[must_use]
pub fn leaky_relu<const D: usize>(x: Tensor<D>, slope: f64) -> Tensor<D> {
    let below = x.clone().lower_elem(0.0);
    let scale = Tensor::ones_like(&x).mask_fill(below, slope);
    x * scale
}

/// `x · sigmoid(x)`.
#[must_use]
pub fn swish(x: Tensor<4>) -> Tensor<4> {
    x.clone() * sigmoid(x)
}

/// Skip-layer excitation (FastGAN, Liu et al. 2021): a coarse map, pooled to 4×4, decides a
/// gate per channel of a map 8× larger. Shape travels from the coarse stages straight to the
/// fine ones, and the fine stages cannot drift from it, with one small convolution pair.
#[derive(Module, Debug)]
pub struct SkipExcitation {
    squeeze: SpectralConv2d,
    excite: SpectralConv2d,
}

impl SkipExcitation {
    #[must_use]
    pub fn new(coarse_channels: usize, fine_channels: usize, device: &Device) -> Self {
        Self {
            squeeze: SpectralConv2d::new([coarse_channels, fine_channels], 4, 1, 0, device),
            excite: SpectralConv2d::new([fine_channels, fine_channels], 1, 1, 0, device),
        }
    }

    /// `fine` with each channel scaled by a gate in (0, 1) read from `coarse`.
    #[must_use]
    pub fn forward(&self, coarse: Tensor<4>, fine: Tensor<4>) -> Tensor<4> {
        let pooled = adaptive_avg_pool2d(coarse, [4, 4]);
        let gate = sigmoid(self.excite.forward(swish(self.squeeze.forward(pooled))));
        fine * gate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn upsampling_repeats_each_pixel_and_pooling_undoes_it() {
        let device = Device::flex();
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [1, 1, 2, 2]),
            &device,
        );
        let up = upsample2x(x.clone());
        assert_eq!(up.dims(), [1, 1, 4, 4]);
        assert_eq!(
            values(up.clone()),
            [
                1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.
            ]
        );
        assert_eq!(values(pool2x(up)), values(x));
    }

    /// The interpolation kernel against the plain definition (expand + reshape), forward and
    /// backward, at a size where an off-by-one in its coordinate mapping would show.
    #[test]
    fn upsampling_matches_pixel_repetition_forward_and_backward() {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random([2, 3, 8, 8], burn::tensor::Distribution::Default, &device)
            .require_grad();
        let weights =
            Tensor::<4>::random([2, 3, 16, 16], burn::tensor::Distribution::Default, &device);
        let repeated = x
            .clone()
            .reshape([2, 3, 8, 1, 8, 1])
            .expand([2, 3, 8, 2, 8, 2])
            .reshape([2, 3, 16, 16]);
        let fast = upsample2x(x.clone());
        assert_eq!(values(fast.clone()), values(repeated.clone()));
        let g_fast = (fast * weights.clone()).sum().backward();
        let g_plain = (repeated * weights).sum().backward();
        let a = x
            .grad(&g_fast)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let b = x
            .grad(&g_plain)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 1e-5, "{p} vs {q}");
        }
    }

    /// Forward values bit for bit, and gradients, against burn's own `leaky_relu`, with
    /// zeros, signed zeros and both signs in the input.
    #[test]
    fn leaky_relu_matches_burns_forward_and_backward() {
        let device = Device::flex().autodiff();
        let mut data: Vec<f32> = (0..96).map(|i| (i as f32 - 47.5) * 0.37).collect();
        data[3] = 0.0;
        data[4] = -0.0;
        let make = || {
            Tensor::<4>::from_data(TensorData::new(data.clone(), [2, 3, 4, 4]), &device)
                .require_grad()
        };
        let weights =
            Tensor::<4>::random([2, 3, 4, 4], burn::tensor::Distribution::Default, &device);
        let (ours_x, burns_x) = (make(), make());
        let ours = leaky_relu(ours_x.clone(), 0.2);
        let burns = burn::tensor::activation::leaky_relu(burns_x.clone(), 0.2);
        assert_eq!(values(ours.clone()), values(burns.clone()));
        let g_ours = (ours * weights.clone()).sum().backward();
        let g_burns = (burns * weights).sum().backward();
        let grad = |x: &Tensor<4>, g| x.grad(g).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let (a, b) = (grad(&ours_x, &g_ours), grad(&burns_x, &g_burns));
        assert_eq!(a, b);
        assert!(a[0] != 0.0 && a[95] != 0.0);
    }

    #[test]
    fn glu_gates_the_first_half_by_the_second() {
        let device = Device::flex();
        let x = Tensor::<4>::from_data(TensorData::new(vec![2.0f32, 0.0], [1, 2, 1, 1]), &device);
        assert_eq!(values(glu(x)), [1.0]);
    }

    #[test]
    fn skip_excitation_scales_channels_only() {
        let device = Device::flex();
        let se = SkipExcitation::new(4, 3, &device);
        let coarse = Tensor::<4>::ones([2, 4, 4, 4], &device);
        let fine = Tensor::<4>::ones([2, 3, 32, 32], &device);
        let out = values(se.forward(coarse, fine));
        assert_eq!(out.len(), 2 * 3 * 32 * 32);
        assert!(out.iter().all(|&v| v > 0.0 && v < 1.0));
        // One gate per channel: every pixel of a channel is scaled alike.
        assert!(out[..1024].iter().all(|&v| (v - out[0]).abs() < 1e-6));
    }
}
