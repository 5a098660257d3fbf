//! BatchNorm in training (batch statistics), forward and backward, in two passes over the data
//! each, value for value the same as burn-backend's default compositions.
//!
//! The defaults build the statistics, the normalised input and the gradients out of about
//! twenty tensor operations, with `[C, N·H·W]` transposed copies and a dozen full-size
//! temporaries. burn-fusion (which wraps the remote backend) decomposes these ops the same way
//! on its client, so a run on `atelier serve` executes the defaults; the fused kernels must
//! therefore give the same bits. They do: every element goes through the same f32 operations
//! in the same order, the per-channel scalars are computed by the same flex operations on the
//! `[C]` tensors, and each channel's sums run through the same SIMD row sum (`sum_rows_f32`)
//! over the channel's values laid out as the transposed copy holds them.

use alloc::vec;
use alloc::vec::Vec;

use burn_backend::ops::{BatchNormTrain, BatchNormTrainBackward, FloatTensorOps, ModuleOps};
use burn_backend::{DType, Scalar, TensorMetadata};
use burn_std::{Bytes, Shape};

use crate::ops::SendMutPtr;
use crate::simd::kernels;
use crate::{Flex, FlexTensor, Layout};

/// `batch_norm_train`: the input normalised by its own per-channel statistics, and those
/// statistics (mean and biased variance).
pub(crate) fn train_forward(
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    epsilon: f64,
) -> BatchNormTrain<Flex> {
    if !fused_applies(&x, None) {
        return composed_train_forward(x, gamma, beta, epsilon);
    }
    let shape = x.shape();
    let walk = ChannelWalk::new(&shape);
    let x = x.to_contiguous();
    let xs = contiguous_values(&x);
    let row_len = walk.row_len() as f32;

    // Mean, then the mean of the squared deviations, each summed as the transposed copy the
    // composition reduces.
    let statistics = walk.map(xs.len(), |c, rows| {
        rows.0.clear();
        walk.each_plane(c, |start| {
            rows.0.extend_from_slice(&xs[start..][..walk.plane])
        });
        let mean = row_sum(&rows.0) / row_len;
        rows.1.clear();
        rows.1.extend(rows.0.iter().map(|&x| {
            let centred = x - mean;
            centred * centred
        }));
        (mean, row_sum(&rows.1) / row_len)
    });
    let (means, variances): (Vec<f32>, Vec<f32>) = statistics.into_iter().unzip();
    let channels = Shape::new([walk.channels]);
    let mean = f32_tensor(means, channels.clone());
    let variance = f32_tensor(variances, channels);

    let std = Flex::float_sqrt(Flex::float_add_scalar(
        variance.clone(),
        Scalar::Float(epsilon),
    ));
    let (gamma, beta) = (gamma.to_contiguous(), beta.to_contiguous());
    let (means, stds) = (contiguous_values(&mean), contiguous_values(&std));
    let (gammas, betas) = (contiguous_values(&gamma), contiguous_values(&beta));

    // Left uninitialised: the walk below writes every value (each channel its `N` planes),
    // where zeroing it first was a serial pass over the whole map.
    let mut output: Vec<f32> = Vec::with_capacity(xs.len());
    let out = SendMutPtr::new(output.as_mut_ptr());
    walk.map(xs.len(), |c, _| {
        let (mean, std, gamma, beta) = (means[c], stds[c], gammas[c], betas[c]);
        walk.each_plane(c, |start| {
            for i in start..start + walk.plane {
                // SAFETY: channel `c` writes only its own planes, inside `output`.
                unsafe { out.write(i, ((xs[i] - mean) / std) * gamma + beta) };
            }
        });
    });
    // SAFETY: the `N·C` planes of `plane` values cover `0..xs.len()`, each written once.
    unsafe { output.set_len(xs.len()) };
    BatchNormTrain::new(f32_tensor(output, shape), mean, variance)
}

/// Gradients of `batch_norm_train` with respect to its input, `gamma` and `beta`.
pub(crate) fn train_backward(
    x: FlexTensor,
    gamma: FlexTensor,
    mean: FlexTensor,
    variance: FlexTensor,
    epsilon: f64,
    output_grad: FlexTensor,
) -> BatchNormTrainBackward<Flex> {
    if !fused_applies(&x, Some(&output_grad)) {
        return composed_train_backward(x, gamma, mean, variance, epsilon, output_grad);
    }
    let shape = x.shape();
    let walk = ChannelWalk::new(&shape);

    // The per-channel scalars, by the same operations as the composition.
    let inv_std = Flex::float_recip(Flex::float_sqrt(Flex::float_add_scalar(
        variance,
        Scalar::Float(epsilon),
    )));
    let scale = Flex::float_mul(gamma, inv_std.clone()).to_contiguous();
    let (inv_std, mean) = (inv_std.to_contiguous(), mean.to_contiguous());
    let (means, inv_stds, scales) = (
        contiguous_values(&mean),
        contiguous_values(&inv_std),
        contiguous_values(&scale),
    );

    let x = x.to_contiguous();
    let output_grad = output_grad.to_contiguous();
    let (xs, grads) = (contiguous_values(&x), contiguous_values(&output_grad));
    let row_len = walk.row_len() as f32;

    // Left uninitialised, as the forward pass's output: every value is written below.
    let mut x_grad: Vec<f32> = Vec::with_capacity(xs.len());
    let out = SendMutPtr::new(x_grad.as_mut_ptr());
    let sums = walk.map(xs.len(), |c, rows| {
        let (mean, inv_std, scale) = (means[c], inv_stds[c], scales[c]);
        rows.0.clear();
        rows.1.clear();
        walk.each_plane(c, |start| {
            let (x, g) = (&xs[start..][..walk.plane], &grads[start..][..walk.plane]);
            rows.0.extend_from_slice(g);
            rows.1
                .extend(x.iter().zip(g).map(|(&x, &g)| g * ((x - mean) * inv_std)));
        });
        let (beta, gamma) = (row_sum(&rows.0), row_sum(&rows.1));
        let (mean_grad, mean_normalized_grad) = (beta / row_len, gamma / row_len);
        walk.each_plane(c, |start| {
            for i in start..start + walk.plane {
                let normalized = (xs[i] - mean) * inv_std;
                let value = scale * ((grads[i] - mean_grad) - normalized * mean_normalized_grad);
                // SAFETY: channel `c` writes only its own planes, inside `x_grad`.
                unsafe { out.write(i, value) };
            }
        });
        (gamma, beta)
    });
    // SAFETY: the `N·C` planes of `plane` values cover `0..xs.len()`, each written once.
    unsafe { x_grad.set_len(xs.len()) };
    let (gamma_grad, beta_grad): (Vec<f32>, Vec<f32>) = sums.into_iter().unzip();
    let channels = Shape::new([walk.channels]);
    BatchNormTrainBackward::new(
        f32_tensor(x_grad, shape),
        f32_tensor(gamma_grad, channels.clone()),
        f32_tensor(beta_grad, channels),
    )
}

/// f32 tensors of rank 3 or more. A plane of one value with more than one image is left to
/// the composition: its transposed `[C, N]` view is a strided reshape whose sum takes another
/// path.
fn fused_applies(x: &FlexTensor, output_grad: Option<&FlexTensor>) -> bool {
    let shape = x.shape();
    if x.dtype() != DType::F32 || shape.num_dims() < 3 {
        return false;
    }
    if output_grad.is_some_and(|g| g.dtype() != DType::F32 || g.shape() != shape) {
        return false;
    }
    let (images, channels) = (shape[0], shape[1]);
    if images == 0 || channels == 0 {
        return false;
    }
    let plane = shape.num_elements() / (images * channels);
    plane > 1 || images == 1
}

/// The sum the composition's `sum_dim` takes of one row of its contiguous `[C, N·H·W]` copy.
fn row_sum(row: &[f32]) -> f32 {
    let mut sum = [0.0f32];
    kernels::sum_rows_f32(row, &mut sum, 1, row.len());
    sum[0]
}

/// Walks an `[N, C, ...]` tensor one channel at a time: channel `c`'s values are `N` planes,
/// in image order, which is the order of its row in the transposed copy.
struct ChannelWalk {
    images: usize,
    channels: usize,
    plane: usize,
}

/// Per-task scratch: one channel's row of values, and a second row derived from it.
type Rows = (Vec<f32>, Vec<f32>);

impl ChannelWalk {
    fn new(shape: &Shape) -> Self {
        let (images, channels) = (shape[0], shape[1]);
        Self {
            images,
            channels,
            plane: shape.num_elements() / (images * channels),
        }
    }

    fn row_len(&self) -> usize {
        self.images * self.plane
    }

    /// Calls `f` with the flat offset of each of channel `c`'s planes.
    fn each_plane(&self, c: usize, mut f: impl FnMut(usize)) {
        for n in 0..self.images {
            f((n * self.channels + c) * self.plane);
        }
    }

    /// `f` for every channel, in channel order; on the rayon pool from 64 Ki values (the
    /// 4×4 to 16×16 maps of a small batch are under flex's 256 Ki threshold, and left the
    /// pool idle while the calling thread walked their channels).
    fn map<R: Send>(&self, len: usize, f: impl Fn(usize, &mut Rows) -> R + Sync) -> Vec<R> {
        if len >= 1 << 16 && self.channels > 1 && rayon::current_num_threads() > 1 {
            use rayon::prelude::*;
            return (0..self.channels)
                .into_par_iter()
                .map_init(Rows::default, |rows, c| f(c, rows))
                .collect();
        }
        let mut rows = Rows::default();
        (0..self.channels).map(|c| f(c, &mut rows)).collect()
    }
}

fn contiguous_values(tensor: &FlexTensor) -> &[f32] {
    let offset = tensor.layout().start_offset();
    &tensor.storage::<f32>()[offset..offset + tensor.shape().num_elements()]
}

fn f32_tensor(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(values),
        Layout::contiguous(shape),
        DType::F32,
    )
}

/// burn-backend 0.22.1's default `batch_norm_train`, verbatim: the fallback for other dtypes
/// and shapes, and the reference the fused kernel is tested against.
pub(crate) fn composed_train_forward(
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    epsilon: f64,
) -> BatchNormTrain<Flex> {
    type B = Flex;
    let shape = x.shape();
    let channels = shape[1];
    let samples_per_channel = shape.num_elements() / channels;
    let flattened = Shape::new([channels, samples_per_channel]);
    let mut per_channel = vec![1; shape.num_dims()];
    per_channel[1] = channels;

    let mean = B::float_mean_dim(
        B::float_reshape(B::float_swap_dims(x.clone(), 0, 1), flattened.clone()),
        1,
    );
    let mean = B::float_reshape(mean, Shape::from(per_channel));
    let centered = B::float_sub(x.clone(), mean.clone());
    let variance = B::float_mean_dim(
        B::float_reshape(
            B::float_swap_dims(B::float_mul(centered.clone(), centered), 0, 1),
            flattened,
        ),
        1,
    );
    let mean = B::float_reshape(mean, Shape::new([channels]));
    let variance = B::float_reshape(variance, Shape::new([channels]));
    let output = B::batch_norm(x, gamma, beta, mean.clone(), variance.clone(), epsilon);

    BatchNormTrain::new(output, mean, variance)
}

/// burn-backend 0.22.1's default `batch_norm_train_backward`, verbatim: the fallback for other
/// dtypes and shapes, and the reference the fused kernel is tested against.
pub(crate) fn composed_train_backward(
    x: FlexTensor,
    gamma: FlexTensor,
    mean: FlexTensor,
    variance: FlexTensor,
    epsilon: f64,
    output_grad: FlexTensor,
) -> BatchNormTrainBackward<Flex> {
    type B = Flex;
    let shape = x.shape();
    let rank = shape.num_dims();
    let channels = shape[1];
    let flattened = Shape::new([channels, shape.num_elements() / channels]);
    let mut per_channel = vec![1; rank];
    per_channel[1] = channels;
    let per_channel = Shape::from(per_channel);

    let inv_std = B::float_reshape(
        B::float_recip(B::float_sqrt(B::float_add_scalar(
            variance,
            Scalar::Float(epsilon),
        ))),
        per_channel.clone(),
    );
    let normalized = B::float_mul(
        B::float_sub(x, B::float_reshape(mean, per_channel.clone())),
        inv_std.clone(),
    );

    let output_grad_flat = B::float_reshape(
        B::float_swap_dims(output_grad.clone(), 0, 1),
        flattened.clone(),
    );
    let normalized_grad_flat = B::float_reshape(
        B::float_swap_dims(B::float_mul(output_grad.clone(), normalized.clone()), 0, 1),
        flattened,
    );
    let beta_grad = B::float_sum_dim(output_grad_flat.clone(), 1);
    let gamma_grad = B::float_sum_dim(normalized_grad_flat.clone(), 1);

    let mean_grad = B::float_reshape(B::float_mean_dim(output_grad_flat, 1), per_channel.clone());
    let mean_normalized_grad = B::float_reshape(
        B::float_mean_dim(normalized_grad_flat, 1),
        per_channel.clone(),
    );
    let centred_grad = B::float_sub(output_grad, mean_grad);
    let projected = B::float_mul(normalized, mean_normalized_grad);
    let scale = B::float_mul(B::float_reshape(gamma, per_channel), inv_std);
    let x_grad = B::float_mul(scale, B::float_sub(centred_grad, projected));

    BatchNormTrainBackward::new(
        x_grad,
        B::float_reshape(gamma_grad, Shape::new([channels])),
        B::float_reshape(beta_grad, Shape::new([channels])),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(len: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state as f32 / u32::MAX as f32) * 4.0 - 1.5
            })
            .collect()
    }

    /// Both sides of the parallel threshold, single images, rank 3, and the planes of one value
    /// left to the composition.
    const SHAPES: [&[usize]; 8] = [
        &[32, 64, 16, 16],
        &[16, 128, 32, 32],
        &[4, 3, 5, 7],
        &[1, 8, 9, 9],
        &[2, 5, 11],
        &[7, 16, 1, 1],
        &[1, 6, 1, 1],
        &[3, 2, 2, 1],
    ];

    fn bits(tensor: &FlexTensor) -> Vec<u32> {
        contiguous_values(&tensor.to_contiguous())
            .iter()
            .map(|v| v.to_bits())
            .collect()
    }

    fn assert_same(fused: &FlexTensor, composed: &FlexTensor, what: &str, dims: &[usize]) {
        assert_eq!(fused.shape(), composed.shape(), "{what} {dims:?}");
        assert_eq!(bits(fused), bits(composed), "{what} {dims:?}");
    }

    /// The fused backward pass gives the composition's gradients, bit for bit.
    #[test]
    fn fused_backward_gives_the_compositions_bits() {
        for (seed, dims) in SHAPES.iter().enumerate() {
            let seed = seed as u32;
            let shape = Shape::from(dims.to_vec());
            let channels = dims[1];
            let n = shape.num_elements();
            let x = f32_tensor(random(n, seed), shape.clone());
            let grad = f32_tensor(random(n, seed + 100), shape.clone());
            let gamma = f32_tensor(random(channels, seed + 200), Shape::new([channels]));
            let mean = f32_tensor(random(channels, seed + 300), Shape::new([channels]));
            let variance = Flex::float_abs(f32_tensor(
                random(channels, seed + 400),
                Shape::new([channels]),
            ));
            let fused = train_backward(
                x.clone(),
                gamma.clone(),
                mean.clone(),
                variance.clone(),
                1e-5,
                grad.clone(),
            );
            let composed = composed_train_backward(x, gamma, mean, variance, 1e-5, grad);
            assert_same(&fused.x_grad, &composed.x_grad, "x", dims);
            assert_same(&fused.gamma_grad, &composed.gamma_grad, "γ", dims);
            assert_same(&fused.beta_grad, &composed.beta_grad, "β", dims);
        }
    }

    /// The fused forward pass gives the composition's output and statistics, bit for bit.
    #[test]
    fn fused_forward_gives_the_compositions_bits() {
        for (seed, dims) in SHAPES.iter().enumerate() {
            let seed = seed as u32;
            let shape = Shape::from(dims.to_vec());
            let channels = dims[1];
            let x = f32_tensor(random(shape.num_elements(), seed), shape);
            let gamma = f32_tensor(random(channels, seed + 200), Shape::new([channels]));
            let beta = f32_tensor(random(channels, seed + 500), Shape::new([channels]));
            let fused = train_forward(x.clone(), gamma.clone(), beta.clone(), 1e-5);
            let composed = composed_train_forward(x, gamma, beta, 1e-5);
            assert_same(&fused.output, &composed.output, "y", dims);
            assert_same(&fused.mean, &composed.mean, "mean", dims);
            assert_same(&fused.variance, &composed.variance, "variance", dims);
        }
    }

    /// The composition is the textbook gradient; the fused pass matches it to rounding, so a
    /// kernel that agreed with a wrong reference would fail here.
    #[test]
    fn fused_backward_is_batch_norms_gradient() {
        let (images, channels, plane) = (3usize, 2usize, 4usize);
        let n = images * channels * plane;
        let shape = Shape::new([images, channels, plane]);
        let xs: Vec<f64> = random(n, 7).into_iter().map(f64::from).collect();
        let gs: Vec<f64> = random(n, 8).into_iter().map(f64::from).collect();
        let gamma = [0.7f64, -1.3];
        let eps = 1e-5;
        let index = |i: usize, c: usize, p: usize| (i * channels + c) * plane + p;
        let m = (images * plane) as f64;
        let mut means = [0.0; 2];
        let mut vars = [0.0; 2];
        for c in 0..channels {
            let vals: Vec<f64> = (0..images)
                .flat_map(|i| (0..plane).map(move |p| (i, p)))
                .map(|(i, p)| xs[index(i, c, p)])
                .collect();
            means[c] = vals.iter().sum::<f64>() / m;
            vars[c] = vals.iter().map(|v| (v - means[c]).powi(2)).sum::<f64>() / m;
        }
        let to_f32 = |v: &[f64], s: Shape| f32_tensor(v.iter().map(|&v| v as f32).collect(), s);
        let fused = train_backward(
            to_f32(&xs, shape.clone()),
            to_f32(&gamma, Shape::new([channels])),
            to_f32(&means, Shape::new([channels])),
            to_f32(&vars, Shape::new([channels])),
            eps,
            to_f32(&gs, shape),
        );
        let x_grad = contiguous_values(&fused.x_grad).to_vec();
        for c in 0..channels {
            let inv = 1.0 / (vars[c] + eps).sqrt();
            let positions: Vec<(usize, usize)> = (0..images)
                .flat_map(|i| (0..plane).map(move |p| (i, p)))
                .collect();
            let norm = |i, p| (xs[index(i, c, p)] - means[c]) * inv;
            let sum_g: f64 = positions.iter().map(|&(i, p)| gs[index(i, c, p)]).sum();
            let sum_gn: f64 = positions
                .iter()
                .map(|&(i, p)| gs[index(i, c, p)] * norm(i, p))
                .sum();
            assert!((contiguous_values(&fused.beta_grad)[c] as f64 - sum_g).abs() < 1e-4);
            assert!((contiguous_values(&fused.gamma_grad)[c] as f64 - sum_gn).abs() < 1e-4);
            for &(i, p) in &positions {
                let expected =
                    gamma[c] * inv * (gs[index(i, c, p)] - sum_g / m - norm(i, p) * sum_gn / m);
                let got = x_grad[index(i, c, p)] as f64;
                assert!((got - expected).abs() < 1e-3, "{got} against {expected}");
            }
        }
    }
}
