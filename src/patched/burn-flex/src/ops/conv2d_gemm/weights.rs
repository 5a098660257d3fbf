//! Gradients of the convolution's parameters: the weight (per image, or per group of small
//! images side by side) summed in partial sums of fixed groups of images, and the bias.

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::ops::ConvOptions;

use super::patches::{im2col, transpose_into};
use super::{
    ConvElem, Geometry, Operand, contiguous_data, gemm_threads, matmul, split_batch, tensor,
};
use crate::FlexTensor;

/// Gradient of the convolution's weight.
pub(crate) fn conv2d_weight_backward<T: ConvElem>(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let (x, x_shape) = contiguous_data::<T>(&x);
    let w_shape = weight.layout().shape().to_vec();
    let (grad, grad_shape) = contiguous_data::<T>(&output_grad);
    let g = Geometry::new(&x_shape, &w_shape, [grad_shape[2], grad_shape[3]], options);
    let x_data: &[T] = x.storage();
    let grad_data: &[T] = grad.storage();
    let (k, p, og) = (g.patch_len(), g.plane_out(), g.c_out_group());
    let dw_len = g.c_out * k;
    // Small planes: the chunk's images side by side, one GEMM over all their positions.
    let gang = if p * IMAGES_PER_PARTIAL_SUM <= GANGED_WEIGHT_GRADIENT_MAX_COLUMNS {
        IMAGES_PER_PARTIAL_SUM
    } else {
        1
    };
    let n_max = gang * p;

    // dW_group[og×k] += grad[og×n] · colsᵀ[n×k], over the positions of `gang` images at a
    // time (n = images · p). `cols_t` holds colsᵀ row-major, so that `gemm` packs it from
    // contiguous runs (see `transpose_into`); `gathered` holds a gang's gradients side by side.
    let accumulate = |images: core::ops::Range<usize>,
                      dw: &mut [T],
                      cols: &mut [T],
                      cols_t: &mut [T],
                      gathered: &mut [T],
                      threads| {
        let n = images.len() * p;
        for group in 0..g.groups {
            let grad_at = |b: usize| &grad_data[b * g.image_out() + group * og * p..];
            for (j, b) in images.clone().enumerate() {
                let image = &x_data[b * g.image_in()..][..g.image_in()];
                im2col(&g, image, group, &mut cols[j * p..], n);
                if gang > 1 {
                    let planes = grad_at(b)[..og * p].chunks(p);
                    for (row, plane) in gathered.chunks_mut(n).zip(planes) {
                        row[j * p..][..p].copy_from_slice(plane);
                    }
                }
            }
            let lhs = if gang > 1 {
                gathered.as_ptr()
            } else {
                grad_at(images.start).as_ptr()
            };
            let patches_t = weight_gradient_patches([og, k, n], cols, cols_t);
            // SAFETY: dw holds c_out·k elements, lhs og rows of n, the patches k·n.
            unsafe {
                matmul(
                    [og, k, n],
                    dw[group * og * k..].as_mut_ptr(),
                    k,
                    true,
                    Operand(lhs, n as isize, 1),
                    patches_t,
                    threads,
                );
            }
        }
    };

    let batch_split = split_batch(g.batch);
    let threads = gemm_threads(batch_split, [og, k, n_max]);
    // Scratch for a chunk's patch matrix, its transpose and the gathered gradients, made once
    // per pool task rather than once per chunk (with ganged chunks it is megabytes to zero).
    let scratch = || {
        let cols_t_len = if transposes_patches(og, k) { k * n_max } else { 0 };
        let gathered_len = if gang > 1 { og * n_max } else { 0 };
        (
            vec![T::zero(); k * n_max],
            vec![T::zero(); cols_t_len],
            vec![T::zero(); gathered_len],
        )
    };
    let chunk_sum = |(cols, cols_t, gathered): &mut (Vec<T>, Vec<T>, Vec<T>), chunk: usize| {
        let mut dw = vec![T::zero(); dw_len];
        let images =
            chunk * IMAGES_PER_PARTIAL_SUM..((chunk + 1) * IMAGES_PER_PARTIAL_SUM).min(g.batch);
        if gang > 1 {
            accumulate(images, &mut dw, cols, cols_t, gathered, threads);
        } else {
            for b in images {
                accumulate(b..b + 1, &mut dw, cols, cols_t, gathered, threads);
            }
        }
        dw
    };
    let chunks = g.batch.div_ceil(IMAGES_PER_PARTIAL_SUM);
    let partials: Vec<Vec<T>> = map_chunks(chunks, batch_split, scratch, chunk_sum);
    let mut partials = partials.into_iter();
    let mut dw = partials.next().unwrap_or_else(|| vec![T::zero(); dw_len]);
    for partial in partials {
        dw.iter_mut().zip(&partial).for_each(|(a, b)| *a += *b);
    }
    tensor(dw, w_shape)
}

/// Whether the weight gradient's GEMM (`dW[og×k] += grad[og×p] · colsᵀ[p×k]`) reads its patch
/// matrix transposed (see `transpose_into`). `gemm` runs products of at most 256 outputs, and
/// those with a single row or column, through dot-product kernels that read the inner dimension
/// in place; there the strided operand is the fast one, and its bits are theirs.
fn transposes_patches(og: usize, k: usize) -> bool {
    og >= 2 && k >= 2 && og * k > 256
}

/// The weight gradient's right operand, colsᵀ `[p×k]`, read from `cols` (`[k×p]`) in place or,
/// where [`transposes_patches`], from its copy in `cols_t`. Either way `gemm` computes the same
/// sums in the same order, so the gradient's bits do not depend on the choice.
pub(super) fn weight_gradient_patches<T: ConvElem>(
    [og, k, p]: [usize; 3],
    cols: &[T],
    cols_t: &mut [T],
) -> Operand<T> {
    if transposes_patches(og, k) {
        transpose_into(cols, k, p, cols_t);
        Operand(cols_t.as_ptr(), k as isize, 1)
    } else {
        Operand(cols.as_ptr(), 1, p as isize)
    }
}

/// Images summed into one partial weight gradient. Partial sums are added in a fixed order, so
/// the gradient is the same bit for bit whatever the thread count (exact resume and the
/// determinism tests rely on that).
const IMAGES_PER_PARTIAL_SUM: usize = 4;

/// Positions from which a partial sum's images each get their own weight-gradient GEMM. Below
/// it, one GEMM runs over the positions of all of them side by side: per image, the GEMMs of
/// small planes (7×7 in `dcgan-28`'s discriminator, 4×4 in `fastgan`'s first layers) sum
/// over so few positions that loading and storing `dW` costs as much as the products (4
/// images of 16 or 49 positions as one GEMM: 1.3–1.4× faster; of 256: 0.75–0.9×).
const GANGED_WEIGHT_GRADIENT_MAX_COLUMNS: usize = 255;

/// `(0..chunks).map(f)`, in order, in parallel when `parallel`; `f` borrows scratch made by
/// `init` once per pool task (or once, serially).
fn map_chunks<R: Send, S>(
    chunks: usize,
    parallel: bool,
    init: impl Fn() -> S + Send + Sync,
    f: impl Fn(&mut S, usize) -> R + Send + Sync,
) -> Vec<R> {
    #[cfg(feature = "rayon")]
    if parallel {
        use rayon::prelude::*;
        return (0..chunks).into_par_iter().map_init(init, f).collect();
    }
    let _ = parallel;
    let mut scratch = init();
    (0..chunks).map(|c| f(&mut scratch, c)).collect()
}

/// Gradient of the bias: the output gradient summed over images and positions, per channel.
pub(crate) fn conv2d_bias_backward<T: ConvElem>(output_grad: FlexTensor) -> FlexTensor {
    let (grad, shape) = contiguous_data::<T>(&output_grad);
    let data: &[T] = grad.storage();
    let channels = shape[1];
    let plane: usize = shape[2..].iter().product::<usize>().max(1);
    // Each channel sums its plane in each image, images in order: the same additions in the
    // same order whether channels run on one thread or many.
    let channel_sum = |c: usize| {
        let mut sum = T::zero();
        for image in data.chunks(channels * plane) {
            sum += image[c * plane..(c + 1) * plane]
                .iter()
                .fold(T::zero(), |a, &v| a + v);
        }
        sum
    };
    let sums = map_chunks(channels, data.len() >= 1 << 16, || (), |_, c| channel_sum(c));
    tensor(sums, vec![channels])
}
