//! Atelier's patch: 2-D convolution, forward and both backward passes, as one patch matrix
//! and one GEMM per image and group (Caffe's layout), parallel over the batch.
//!
//! Why: burn-backend's default backward passes run the data gradient as a transposed
//! convolution, and the weight gradient as a convolution of the batch-swapped input by the
//! batch-swapped output gradient (its kernel is the whole output map). Both go through
//! layout transposes, NHWC copies and skinny GEMMs, and were most of a training step's
//! non-GEMM time in `atelier bench`. Here each image's patch matrix `[C·kh·kw, Ho·Wo]` is
//! built once, in the order the GEMM reads it, and every result is written in place.
//!
//! Any stride, padding (begin side; the output size gives the end side), dilation and group
//! count; f32 and f64 natively, the half types through f32 (in `module.rs`).

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_backend::ops::{ConvOptions, ConvTransposeOptions};
use burn_std::{Bytes, Shape};
use num_traits::Float;

use crate::{FlexTensor, Layout};

mod patches;
mod weights;

use patches::{col2im, im2col};
pub(crate) use weights::{conv2d_bias_backward, conv2d_weight_backward};
#[cfg(test)]
use weights::weight_gradient_patches;

/// Element types the kernels run on natively.
pub(crate) trait ConvElem:
    Float + bytemuck::Pod + burn_backend::Element + Send + Sync + core::ops::AddAssign + 'static
{
    const DTYPE: DType;

    /// `dst` (`[cols, rows]`) = `src` (`[rows, cols]`)ᵀ, both row-major and long enough.
    fn transpose(src: &[Self], rows: usize, cols: usize, dst: &mut [Self]) {
        patches::transpose_tiled(src, rows, cols, dst);
    }
}

impl ConvElem for f32 {
    const DTYPE: DType = DType::F32;

    #[cfg(target_arch = "x86_64")]
    fn transpose(src: &[Self], rows: usize, cols: usize, dst: &mut [Self]) {
        patches::transpose_f32(src, rows, cols, dst);
    }
}

impl ConvElem for f64 {
    const DTYPE: DType = DType::F64;
}

/// Sizes of one convolution, read off its operands.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    batch: usize,
    groups: usize,
    c_in: usize,
    h: usize,
    w: usize,
    c_out: usize,
    kh: usize,
    kw: usize,
    stride: [usize; 2],
    pad: [usize; 2],
    dilation: [usize; 2],
    oh: usize,
    ow: usize,
}

impl Geometry {
    fn new(x: &[usize], weight: &[usize], out_hw: [usize; 2], options: &ConvOptions<2>) -> Self {
        Self {
            batch: x[0],
            groups: options.groups,
            c_in: x[1],
            h: x[2],
            w: x[3],
            c_out: weight[0],
            kh: weight[2],
            kw: weight[3],
            stride: options.stride,
            pad: options.padding_begin(),
            dilation: options.dilation,
            oh: out_hw[0],
            ow: out_hw[1],
        }
    }

    fn c_in_group(&self) -> usize {
        self.c_in / self.groups
    }

    fn c_out_group(&self) -> usize {
        self.c_out / self.groups
    }

    /// Rows of the patch matrix: one per (input channel of the group, kernel tap).
    fn patch_len(&self) -> usize {
        self.c_in_group() * self.kh * self.kw
    }

    fn plane_out(&self) -> usize {
        self.oh * self.ow
    }

    fn image_in(&self) -> usize {
        self.c_in * self.h * self.w
    }

    fn image_out(&self) -> usize {
        self.c_out * self.plane_out()
    }
}

/// A matrix operand: pointer, row stride, column stride (in elements).
#[derive(Clone, Copy)]
struct Operand<T>(*const T, isize, isize);

/// `dst[m×n] (+)= lhs[m×k] · rhs[k×n]`; `dst` is row-major with row stride `dst_rs`.
///
/// # Safety
/// Every operand must cover the elements its strides reach; `dst` must not alias them.
#[allow(clippy::too_many_arguments)]
unsafe fn matmul<T: ConvElem>(
    [m, n, k]: [usize; 3],
    dst: *mut T,
    dst_rs: usize,
    accumulate: bool,
    lhs: Operand<T>,
    rhs: Operand<T>,
    parallelism: gemm::Parallelism,
) {
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            lhs.0,
            lhs.2,
            lhs.1,
            rhs.0,
            rhs.2,
            rhs.1,
            T::one(),
            T::one(),
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Whether to spread the batch over threads (GEMMs single-threaded) or run images one by
/// one with threaded GEMMs (a single image, as when the studio renders one shot).
fn split_batch(batch: usize) -> bool {
    #[cfg(feature = "rayon")]
    {
        batch > 1 && rayon::current_num_threads() > 1
    }
    #[cfg(not(feature = "rayon"))]
    {
        let _ = batch;
        false
    }
}

/// Threads for each GEMM of `[m, n, k]`: the pool when images run one by one and the GEMM is
/// big enough to pay for the hand-offs, else this thread. One 64 px shot of `fastgan-64-rgb`
/// renders in 1.6 ms on one thread and took 2.3 ms with every GEMM on two.
fn gemm_threads(batch_split: bool, [m, n, k]: [usize; 3]) -> gemm::Parallelism {
    #[cfg(feature = "rayon")]
    if !batch_split && m.saturating_mul(n).saturating_mul(k) >= THREADED_GEMM_MIN_MACS {
        return gemm::Parallelism::Rayon(0);
    }
    let _ = (batch_split, m, n, k);
    gemm::Parallelism::None
}

/// Multiply-adds from which a single image's GEMM is split over the pool: about a
/// millisecond of one core's work.
const THREADED_GEMM_MIN_MACS: usize = 1 << 24;

/// A zeroed output of `len` values on which `work(image index, output chunk, scratch)` has run
/// for every image, each writing only its own chunk; in parallel when `batch_split`.
///
/// Each task zeroes its own chunk just before its work: a `vec![0; len]` up front was one
/// serial `memset` of the whole batch on the calling thread while the pool waited, and left
/// the chunk cold in cache by the time its image came round.
fn per_image<T: ConvElem>(
    len: usize,
    chunk: usize,
    scratch_len: usize,
    batch_split: bool,
    work: impl Fn(usize, &mut [T], &mut Vec<T>) + Send + Sync,
) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(len);
    let zeroed_work = |b: usize, o: &mut [core::mem::MaybeUninit<T>], scratch: &mut Vec<T>| {
        o.iter_mut().for_each(|v| {
            v.write(T::zero());
        });
        // SAFETY: every element of `o` was initialised just above, and `MaybeUninit<T>` has
        // the layout of `T`.
        let o = unsafe { &mut *(o as *mut [core::mem::MaybeUninit<T>] as *mut [T]) };
        work(b, o, scratch);
    };
    #[cfg(feature = "rayon")]
    if batch_split {
        use rayon::prelude::*;
        out.spare_capacity_mut()[..len]
            .par_chunks_mut(chunk)
            .enumerate()
            .for_each_init(
                || vec![T::zero(); scratch_len],
                |scratch, (b, o)| zeroed_work(b, o, scratch),
            );
        // SAFETY: the chunks cover `0..len`, and each task initialised its whole chunk.
        unsafe { out.set_len(len) };
        return out;
    }
    let _ = batch_split;
    let mut scratch = vec![T::zero(); scratch_len];
    for (b, o) in out.spare_capacity_mut()[..len].chunks_mut(chunk).enumerate() {
        zeroed_work(b, o, &mut scratch);
    }
    // SAFETY: the chunks cover `0..len`, each initialised above.
    unsafe { out.set_len(len) };
    out
}

fn contiguous_data<T: ConvElem>(tensor: &FlexTensor) -> (FlexTensor, Vec<usize>) {
    let tensor = tensor.to_contiguous();
    let shape = tensor.layout().shape().to_vec();
    (tensor, shape)
}

fn tensor<T: ConvElem>(data: Vec<T>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(data),
        Layout::contiguous(Shape::from(shape)),
        T::DTYPE,
    )
}

/// Forward convolution; `out_hw` is the output size the options give.
pub(crate) fn conv2d<T: ConvElem>(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: &ConvOptions<2>,
    out_hw: [usize; 2],
) -> FlexTensor {
    let (x, x_shape) = contiguous_data::<T>(&x);
    let (weight, w_shape) = contiguous_data::<T>(&weight);
    let g = Geometry::new(&x_shape, &w_shape, out_hw, options);
    let x_data: &[T] = x.storage();
    let w_data: &[T] = weight.storage();
    let bias = bias.map(|b| b.to_contiguous());
    let bias_data: Option<&[T]> = bias.as_ref().map(|b| b.storage());
    let (k, p, og) = (g.patch_len(), g.plane_out(), g.c_out_group());
    let gang = images_per_gemm(g.batch, [og, p, k]);
    let n_max = gang * p;

    let batch_split = split_batch(g.batch);
    let threads = gemm_threads(batch_split, [og, n_max, k]);
    // Scratch: the gang's patch matrix `[k × gang·p]`, then (for a gang of several) the
    // GEMM's `[og × gang·p]` result before it is dealt out to the images.
    let tmp_len = if gang > 1 { og * n_max } else { 0 };
    let out = per_image(
        g.batch * g.image_out(),
        (gang * g.image_out()).max(1),
        k * n_max + tmp_len,
        batch_split,
        |task, out_gang, scratch| {
            let first = task * gang;
            let images = out_gang.len() / g.image_out().max(1);
            let n = images * p;
            let (cols, tmp) = scratch.split_at_mut(k * n_max);
            for group in 0..g.groups {
                for j in 0..images {
                    let image = &x_data[(first + j) * g.image_in()..][..g.image_in()];
                    im2col(&g, image, group, &mut cols[j * p..], n);
                }
                let w_group = &w_data[group * og * k..][..og * k];
                // A lone image's result lands in place; a gang's is dealt out after.
                let (dst, dst_rs) = if gang > 1 {
                    (tmp.as_mut_ptr(), n)
                } else {
                    (out_gang[group * og * p..].as_mut_ptr(), p)
                };
                // SAFETY: dst holds og rows of dst_rs ≥ n, w_group og·k, cols k rows of n.
                unsafe {
                    matmul(
                        [og, n, k],
                        dst,
                        dst_rs,
                        false,
                        Operand(w_group.as_ptr(), k as isize, 1),
                        Operand(cols.as_ptr(), n as isize, 1),
                        threads,
                    );
                }
                if gang > 1 {
                    for (j, out_img) in out_gang.chunks_mut(g.image_out()).enumerate() {
                        let planes = out_img[group * og * p..][..og * p].chunks_mut(p);
                        for (plane, row) in planes.zip(tmp.chunks(n)) {
                            plane.copy_from_slice(&row[j * p..][..p]);
                        }
                    }
                }
            }
            if let Some(bias) = bias_data {
                for out_img in out_gang.chunks_mut(g.image_out()) {
                    for (plane, &b) in out_img.chunks_mut(p).zip(bias) {
                        plane.iter_mut().for_each(|v| *v += b);
                    }
                }
            }
        },
    );
    tensor(out, vec![g.batch, g.c_out, g.oh, g.ow])
}

/// Gradient of the convolution's input.
pub(crate) fn conv2d_x_backward<T: ConvElem>(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    input_gradient::<T>(x.layout().shape().to_vec(), weight, output_grad, options)
}

/// The adjoint of the convolution: from a gradient of its output to one of its input, of
/// shape `x_shape`. It is also a transposed convolution's forward pass.
fn input_gradient<T: ConvElem>(
    x_shape: Vec<usize>,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let (weight, w_shape) = contiguous_data::<T>(&weight);
    let (grad, grad_shape) = contiguous_data::<T>(&output_grad);
    let g = Geometry::new(&x_shape, &w_shape, [grad_shape[2], grad_shape[3]], options);
    let w_data: &[T] = weight.storage();
    let grad_data: &[T] = grad.storage();
    let (k, p, og) = (g.patch_len(), g.plane_out(), g.c_out_group());
    let gang = images_per_gemm(g.batch, [k, p, og]);
    let n_max = gang * p;
    let w_t = weight_read_transposed::<T>(w_data, g.groups, [og, k, n_max]);

    let batch_split = split_batch(g.batch);
    let threads = gemm_threads(batch_split, [k, n_max, og]);
    // Scratch: the patch-shaped result `[k × gang·p]`, then (for a gang of several) the
    // gang's gradients gathered side by side, `[og × gang·p]`.
    let gathered_len = if gang > 1 { og * n_max } else { 0 };
    let dx = per_image(
        g.batch * g.image_in(),
        (gang * g.image_in()).max(1),
        k * n_max + gathered_len,
        batch_split,
        |task, dx_gang, scratch| {
            let first = task * gang;
            let images = dx_gang.len() / g.image_in().max(1);
            let n = images * p;
            let (cols, gathered) = scratch.split_at_mut(k * n_max);
            for group in 0..g.groups {
                let w_group = match &w_t {
                    Some(w_t) => Operand(w_t[group * og * k..].as_ptr(), og as isize, 1),
                    None => Operand(w_data[group * og * k..].as_ptr(), 1, k as isize),
                };
                let grad_at = |j: usize| &grad_data[(first + j) * g.image_out() + group * og * p..];
                let rhs = if gang > 1 {
                    for j in 0..images {
                        let planes = grad_at(j)[..og * p].chunks(p);
                        for (row, plane) in gathered.chunks_mut(n).zip(planes) {
                            row[j * p..][..p].copy_from_slice(plane);
                        }
                    }
                    gathered.as_ptr()
                } else {
                    grad_at(0).as_ptr()
                };
                // cols[k×n] = w_groupᵀ[k×og] · grad[og×n]
                // SAFETY: cols holds k·n elements, each weight group og·k, rhs og rows of n.
                unsafe {
                    matmul(
                        [k, n, og],
                        cols.as_mut_ptr(),
                        n,
                        false,
                        w_group,
                        Operand(rhs, n as isize, 1),
                        threads,
                    );
                }
                for (j, dx_img) in dx_gang.chunks_mut(g.image_in()).enumerate() {
                    col2im(&g, &mut cols[j * p..], n, group, dx_img);
                }
            }
        },
    );
    tensor(dx, x_shape)
}

/// The adjoint's left operand, each group's weight `[og×k]` transposed once per call into
/// `[k×og]` row-major, or `None` to read the weight in place.
///
/// In place, the operand is column-major with a column every `k` values, and `gemm` reads
/// such an operand without packing it: at the power-of-two `k` of most layers (2048 for
/// `dcgan-28`'s 4×4 transposed convolution from 256 channels) every step along the inner
/// dimension lands in the same cache set. Row-major, `gemm` packs it into contiguous panels,
/// and the same GEMM ran 1.5× faster (0.73 against 1.06 ms at `[2048, 49, 256]`). `gemm`
/// computes the same sums in the same order from either layout (a unit test), except in
/// single-column products (`n = 1`), which go through a matrix-vector kernel whose order
/// depends on the layout: those keep reading in place.
fn weight_read_transposed<T: ConvElem>(
    w: &[T],
    groups: usize,
    [og, k, n]: [usize; 3],
) -> Option<Vec<T>> {
    if n < 2 || og < 2 || k < 2 {
        return None;
    }
    let mut w_t = vec![T::zero(); groups * og * k];
    for (src, dst) in w.chunks(og * k).zip(w_t.chunks_mut(og * k)).take(groups) {
        T::transpose(src, og, k, dst);
    }
    Some(w_t)
}

/// Transposed convolution, as the adjoint of the convolution it transposes: that
/// convolution maps this one's output (`[n, c_out, oh, ow]`) back to its input, with the
/// same weight (`[c_in, c_out / groups, kh, kw]`, read as a convolution's `[o, c / g, ..]`).
pub(crate) fn conv_transpose2d<T: ConvElem>(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: &ConvTransposeOptions<2>,
) -> FlexTensor {
    let x_shape = x.layout().shape().to_vec();
    let w_shape = weight.layout().shape().to_vec();
    let out_hw = [0, 1].map(|i| {
        (x_shape[2 + i] - 1) * options.stride[i]
            + options.dilation[i] * (w_shape[2 + i] - 1)
            + options.padding_out[i]
            + 1
            - 2 * options.padding[i]
    });
    let c_out = w_shape[1] * options.groups;
    let out_shape = vec![x_shape[0], c_out, out_hw[0], out_hw[1]];
    let conv = transposed_as_conv(options);
    let mut out = input_gradient::<T>(out_shape, weight, x, &conv);
    if let Some(bias) = bias {
        let bias = bias.to_contiguous();
        let bias: &[T] = bias.storage();
        let plane = out_hw[0] * out_hw[1];
        let data: &mut [T] = out.storage_mut();
        for (values, &b) in data.chunks_mut(plane.max(1)).zip(bias.iter().cycle()) {
            values.iter_mut().for_each(|v| *v += b);
        }
    }
    out
}

fn transposed_as_conv(options: &ConvTransposeOptions<2>) -> ConvOptions<2> {
    ConvOptions::new(
        options.stride,
        options.padding,
        options.dilation,
        options.groups,
    )
}


/// Images whose GEMMs run as one, side by side along the GEMM's columns, in the forward pass
/// and the adjoint (`[m, plane, depth]` per image): one per GEMM for planes of at least
/// [`MIN_GEMM_COLUMNS`] positions, more for smaller planes (up to an eighth of the batch, so
/// the pool still has tasks to share). `gemm` packs the weight into panels once per call;
/// with a 7×7 plane that packing was repeated for every 49 columns.
///
/// Only where the ganged GEMM sums every value as the lone image's does: a shot must come out
/// the same alone or in a batch (the studio renders galleries in batches and exports one at
/// a time). `gemm` sums each value along the depth in blocks, and adds the blocks; the block
/// length depends on the depth alone, except in its path for products of at most 64×64
/// (blocks of 512), and single rows or columns go through matrix-vector kernels. So images
/// are ganged only where the lone product takes neither of those paths, or the depth fits one
/// block. The choice depends on the shapes alone, never the thread count.
fn images_per_gemm(batch: usize, [m, plane, depth]: [usize; 3]) -> usize {
    let small = |columns: usize| m <= 64 && columns <= 64;
    let wanted = MIN_GEMM_COLUMNS.div_ceil(plane.max(1));
    let gang = wanted.min(batch.div_ceil(8)).max(1);
    let same_sums = m >= 2 && plane >= 2 && depth > 2 && (depth <= 512 || !small(plane));
    if same_sums && m * depth >= GANGED_MIN_WEIGHT {
        gang
    } else {
        1
    }
}

/// Weights (`m × depth` values) from which images share GEMMs. Smaller ones stay in cache
/// between calls and pack cheaply: ganging `fastgan-64-rgb`'s 4×4 and 8×8 layers (weights of
/// 12 to 50 thousand values) gained nothing and its copies cost, while `dcgan-28`'s (131 and
/// 524 thousand) ran 1.2–1.3× faster in 4 images' GEMMs (single-thread `gemm` timings).
const GANGED_MIN_WEIGHT: usize = 1 << 16;

/// Columns a forward or adjoint GEMM should have before images are ganged (see
/// [`images_per_gemm`]).
const MIN_GEMM_COLUMNS: usize = 192;

#[cfg(test)]
mod tests;
