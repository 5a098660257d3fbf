//! Small differentiable pieces built from plain tensor ops (reshape, expand, mean), so every
//! backend runs them forward and backward without special kernels.

use burn::module::{Module, Param};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::activation::sigmoid;
use burn::tensor::module::{adaptive_avg_pool2d, conv2d, interpolate};
use burn::tensor::ops::{ConvOptions, InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor, TensorData};

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

/// `conv(upsample2x(x))` for a 3×3 convolution of stride 1 and padding 1 (every up-sampling
/// stage of the FastGAN family), without building the up-sampled map.
///
/// Why: the nearest ×2 map repeats each pixel four times, so each of the four output phases
/// (row parity `a`, column parity `b`) is a 2×2 convolution of `x` itself, whose taps are sums
/// of the 3×3 taps that land on the same input pixel: rows `[w₀, w₁ + w₂]` over input rows
/// `i − 1, i` for even output rows, `[w₀ + w₁, w₂]` over `i, i + 1` for odd ones, and the same
/// for columns. That is 16 multiply-adds per output channel and input channel of each `x`
/// pixel instead of 36, and a patch matrix 9× smaller. The values are the same up to
/// float rounding (the summed taps round differently): the network is unchanged, and so are
/// its weights and checkpoints.
#[must_use]
pub fn upsample2x_conv3x3(x: Tensor<4>, conv: &Conv2d) -> Tensor<4> {
    let [n, _, h, w] = x.dims();
    let weight = conv.weight.val();
    let [c_out, c_in, kh, kw] = weight.dims();
    debug_assert!(
        kh == 3
            && kw == 3
            && conv.stride == [1, 1]
            && conv.dilation == [1, 1]
            && conv.groups == 1
            && conv.padding == PaddingConfig2d::Explicit(1, 1, 1, 1),
        "upsample2x_conv3x3 takes a 3×3 convolution of stride 1 and padding 1"
    );
    let bias = conv.bias.as_ref().map(Param::val);
    let kernels = phase_kernels(weight);
    let mut phases = Vec::with_capacity(4);
    for a in 0..2 {
        for b in 0..2 {
            let kernel = kernels
                .clone()
                .narrow(0, 2 * a + b, 1)
                .reshape([c_out, c_in, 2, 2]);
            // Even phases read the pixel before (padding at the start), odd ones the pixel after.
            let options =
                ConvOptions::new_with_padding([1, 1], [(1 - a, a), (1 - b, b)], [1, 1], 1);
            phases.push(conv2d(x.clone(), kernel, bias.clone(), options));
        }
    }
    // [n, (a, b, o), h, w] → [n, o, h, a, w, b] → [n, o, 2h, 2w].
    Tensor::cat(phases, 1)
        .reshape([n, 2, 2, c_out, h, w])
        .permute([0, 3, 4, 1, 5, 2])
        .reshape([n, c_out, 2 * h, 2 * w])
}

/// The four 2×2 phase kernels of a 3×3 weight `[o, c, 3, 3]`, as `[4, o, c, 2, 2]` in phase
/// order `2a + b`: one small matrix product with the 0/1 matrix [`phase_fold`] (slicing and
/// concatenating the taps instead copied one value at a time, 0.5 ms a layer).
fn phase_kernels(weight: Tensor<4>) -> Tensor<5> {
    let [o, c, _, _] = weight.dims();
    let fold = Tensor::<2>::from_data(TensorData::new(phase_fold(), [9, 16]), &weight.device());
    weight
        .reshape([o * c, 9])
        .matmul(fold)
        .reshape([o, c, 4, 4])
        .permute([2, 0, 1, 3])
        .reshape([4, o, c, 2, 2])
}

/// `[9, 16]`: row `3·ky + kx` (a 3×3 tap), column `4·(2a + b) + 2·dy + dx` (tap `(dy, dx)` of
/// phase `(a, b)`), 1 where the 3×3 tap lands on the 2×2 tap's input pixel.
fn phase_fold() -> Vec<f32> {
    // 3×3 taps of parity `p` that read 2×2 tap `d`: [w₀ | w₁ + w₂] and [w₀ + w₁ | w₂].
    let taps = |p: usize, d: usize| match (p, d) {
        (0, 0) => 0..1,
        (0, _) => 1..3,
        (_, 0) => 0..2,
        _ => 2..3,
    };
    let mut fold = vec![0.0; 9 * 16];
    for (a, b, dy, dx) in (0..16).map(|i| (i >> 3, (i >> 2) & 1, (i >> 1) & 1, i & 1)) {
        for ky in taps(a, dy) {
            for kx in taps(b, dx) {
                fold[(3 * ky + kx) * 16 + 4 * (2 * a + b) + 2 * dy + dx] = 1.0;
            }
        }
    }
    fold
}

/// 2×2 average pooling (sides must be even).
#[must_use]
pub fn pool2x(x: Tensor<4>) -> Tensor<4> {
    pool_by(x, 2)
}

/// k×k average pooling with stride k (sides must be multiples of k). As reshape + means, it
/// was 2.5× faster forward and backward than `avg_pool2d` on the CPU (`cargo bench --bench
/// ops`, at k = 2).
#[must_use]
pub fn pool_by(x: Tensor<4>, k: usize) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h / k, k, w / k, k])
        .mean_dim(5)
        .mean_dim(3)
        .reshape([b, c, h / k, w / k])
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

    /// The phase form against the plain up-sample + convolution, forward and backward (input,
    /// weight and bias gradients), on odd and one-pixel sides where a wrong padding would show.
    #[test]
    fn upsample_conv_matches_the_upsampled_convolution_forward_and_backward() {
        use burn::nn::conv::Conv2dConfig;
        use burn::tensor::Distribution;
        let device = Device::flex().autodiff();
        for (i, (shape, c_out, bias)) in [
            ([2, 3, 4, 4], 5, false),
            ([1, 2, 5, 3], 4, true),
            ([3, 1, 1, 1], 2, true),
            ([2, 4, 8, 8], 6, false),
        ]
        .into_iter()
        .enumerate()
        {
            let conv = Conv2dConfig::new([shape[1], c_out], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(bias)
                .init(&device);
            let x =
                Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device).require_grad();
            let [n, _, h, w] = shape;
            let mix = Tensor::<4>::random([n, c_out, 2 * h, 2 * w], Distribution::Default, &device);
            let fast = upsample2x_conv3x3(x.clone(), &conv);
            let plain = conv.forward(upsample2x(x.clone()));
            assert_eq!(fast.dims(), plain.dims(), "case {i}");
            let close = |a: Vec<f32>, b: Vec<f32>, what: &str| {
                assert_eq!(a.len(), b.len());
                for (p, q) in a.iter().zip(&b) {
                    assert!(
                        (p - q).abs() < 1e-4 * (1.0 + q.abs()),
                        "case {i} {what}: {p} vs {q}"
                    );
                }
            };
            close(values(fast.clone()), values(plain.clone()), "forward");
            let g_fast = (fast * mix.clone()).sum().backward();
            let g_plain = (plain * mix).sum().backward();
            let grad = |t: Option<Tensor<4>>| values(t.expect("a gradient"));
            close(
                grad(x.grad(&g_fast)),
                grad(x.grad(&g_plain)),
                "input gradient",
            );
            let w = conv.weight.val();
            close(
                grad(w.grad(&g_fast)),
                grad(w.grad(&g_plain)),
                "weight gradient",
            );
            if let Some(b) = &conv.bias {
                let b = b.val();
                let as_vec = |t: Option<Tensor<1>>| {
                    t.expect("a gradient")
                        .into_data()
                        .try_to_vec::<f32>()
                        .unwrap()
                };
                close(
                    as_vec(b.grad(&g_fast)),
                    as_vec(b.grad(&g_plain)),
                    "bias gradient",
                );
            }
        }
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
