//! Element-wise passes spread over the rayon pool (Atelier patch).
//!
//! flex runs its unary, binary and scalar passes on the calling thread. In a training step
//! those passes (sigmoid, tanh, the gradients' products and sums) sat between convolutions
//! that use every core, so a second core sped a `fastgan-64-rgb` step up by only 1.3–1.4×.
//! Each element is computed by the same function as before, so the bits do not change; only
//! which thread computes which contiguous chunk does.

use alloc::vec::Vec;

/// Passes over fewer elements stay on the calling thread: below this, the fork and join
/// cost about as much as they save.
#[cfg(feature = "rayon")]
const PARALLEL_MIN_ELEMS: usize = 1 << 16;

/// Chunk length for `n` elements: a few chunks per thread (for stealing), each at least
/// 16 Ki elements, a multiple of 64 so SIMD kernels keep whole vectors.
#[cfg(feature = "rayon")]
fn chunk_len(n: usize) -> Option<usize> {
    let threads = rayon::current_num_threads();
    if threads < 2 || n < PARALLEL_MIN_ELEMS {
        return None;
    }
    let per_chunk = n.div_ceil(threads * 2).max(1 << 14);
    Some(per_chunk.div_ceil(64) * 64)
}

/// Runs `f(index, chunk)` on the `len`-long chunks of `dst`, on the rayon pool.
///
/// The one place rayon's splitting code is instantiated, once per element type: callers hand
/// it their per-chunk loop as a trait object. Generic over the closure, rayon's bridge and
/// join code was compiled again for every op of every dtype, and the build grew by minutes;
/// one indirect call per chunk of at least 16 Ki elements costs nothing measurable.
#[cfg(feature = "rayon")]
#[inline(never)]
pub(crate) fn par_chunks_indexed<D: Send>(dst: &mut [D], len: usize, f: &(dyn Fn(usize, &mut [D]) + Sync)) {
    use rayon::prelude::*;
    dst.par_chunks_mut(len)
        .enumerate()
        .for_each(|(index, chunk)| f(index, chunk));
}

/// Runs `f` on contiguous chunks of `dst`, in parallel when `dst` is large.
pub(crate) fn for_each_chunk_mut<E, F>(dst: &mut [E], f: F)
where
    E: Send,
    F: Fn(&mut [E]) + Sync + Send,
{
    #[cfg(feature = "rayon")]
    if let Some(len) = chunk_len(dst.len()) {
        par_chunks_indexed(dst, len, &|_, chunk| f(chunk));
        return;
    }
    f(dst)
}

/// Runs `f` on matching contiguous chunks of `dst` and `src` (equal lengths), in parallel
/// when they are large.
pub(crate) fn zip_chunks_mut<D, S, F>(dst: &mut [D], src: &[S], f: F)
where
    D: Send,
    S: Sync,
    F: Fn(&mut [D], &[S]) + Sync + Send,
{
    debug_assert_eq!(dst.len(), src.len());
    #[cfg(feature = "rayon")]
    if let Some(len) = chunk_len(dst.len()) {
        par_chunks_indexed(dst, len, &|index, d| {
            let start = index * len;
            f(d, &src[start..start + d.len()]);
        });
        return;
    }
    f(dst, src)
}

/// `src.iter().map(op).collect()`, in parallel when `src` is large.
pub(crate) fn map_collect<S, R, F>(src: &[S], op: F) -> Vec<R>
where
    S: Sync + Copy,
    R: Send,
    F: Fn(S) -> R + Sync + Send,
{
    #[cfg(feature = "rayon")]
    if let Some(len) = chunk_len(src.len()) {
        let n = src.len();
        let mut out: Vec<R> = Vec::with_capacity(n);
        par_chunks_indexed(&mut out.spare_capacity_mut()[..n], len, &|index, o| {
            let start = index * len;
            let end = start + o.len();
            for (slot, &x) in o.iter_mut().zip(&src[start..end]) {
                slot.write(op(x));
            }
        });
        // SAFETY: the chunks above cover `0..n` and wrote every slot.
        unsafe { out.set_len(n) };
        return out;
    }
    src.iter().map(|&x| op(x)).collect()
}

/// `lhs.iter().zip(rhs).map(op).collect()` (equal lengths), in parallel when large.
pub(crate) fn zip_map_collect<L, R, O, F>(lhs: &[L], rhs: &[R], op: F) -> Vec<O>
where
    L: Sync + Copy,
    R: Sync + Copy,
    O: Send,
    F: Fn(L, R) -> O + Sync + Send,
{
    debug_assert_eq!(lhs.len(), rhs.len());
    #[cfg(feature = "rayon")]
    if let Some(len) = chunk_len(lhs.len()) {
        let n = lhs.len();
        let mut out: Vec<O> = Vec::with_capacity(n);
        par_chunks_indexed(&mut out.spare_capacity_mut()[..n], len, &|index, o| {
            let start = index * len;
            let end = start + o.len();
            for ((slot, &a), &b) in o.iter_mut().zip(&lhs[start..end]).zip(&rhs[start..end]) {
                slot.write(op(a, b));
            }
        });
        // SAFETY: the chunks above cover `0..n` and wrote every slot.
        unsafe { out.set_len(n) };
        return out;
    }
    lhs.iter().zip(rhs).map(|(&a, &b)| op(a, b)).collect()
}

/// Maps the blocks `src[start..start + block_len]`, one per entry of `starts`, into one
/// contiguous vector, in parallel when there are many elements.
pub(crate) fn map_blocks_collect<S, R, F>(
    src: &[S],
    starts: &[usize],
    block_len: usize,
    op: F,
) -> Vec<R>
where
    S: Sync + Copy,
    R: Send,
    F: Fn(S) -> R + Sync + Send,
{
    let n = starts.len() * block_len;
    #[cfg(feature = "rayon")]
    if let Some(len) = chunk_len(n) {
        let blocks_per_task = (len / block_len).max(1);
        let mut out: Vec<R> = Vec::with_capacity(n);
        par_chunks_indexed(
            &mut out.spare_capacity_mut()[..n],
            blocks_per_task * block_len,
            &|index, o| {
                let task_starts = &starts[index * blocks_per_task..];
                for (block, &start) in o.chunks_mut(block_len).zip(task_starts) {
                    for (slot, &x) in block.iter_mut().zip(&src[start..start + block_len]) {
                        slot.write(op(x));
                    }
                }
            },
        );
        // SAFETY: `starts.len()` blocks of `block_len` slots cover `0..n`, all written.
        unsafe { out.set_len(n) };
        return out;
    }
    let mut out = Vec::with_capacity(n);
    for &start in starts {
        out.extend(src[start..start + block_len].iter().map(|&x| op(x)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_passes_match_the_serial_ones_on_both_sides_of_the_threshold() {
        for n in [0usize, 1, 63, 1 << 16, (1 << 16) + 37, 300_001] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();

            let mapped = map_collect(&a, |x| x.exp());
            let expected: Vec<f32> = a.iter().map(|x| x.exp()).collect();
            assert_eq!(mapped, expected);

            let zipped = zip_map_collect(&a, &b, |x, y| x * y + 1.0);
            let expected: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x * y + 1.0).collect();
            assert_eq!(zipped, expected);

            let mut in_place = a.clone();
            for_each_chunk_mut(&mut in_place, |c| c.iter_mut().for_each(|x| *x = x.tanh()));
            let expected: Vec<f32> = a.iter().map(|x| x.tanh()).collect();
            assert_eq!(in_place, expected);

            let block_len = 64;
            let starts: Vec<usize> = (0..n / (2 * block_len)).map(|b| 2 * b * block_len).collect();
            let blocks = map_blocks_collect(&a, &starts, block_len, |x| x + 2.0);
            let expected: Vec<f32> = starts
                .iter()
                .flat_map(|&s| a[s..s + block_len].iter().map(|x| x + 2.0))
                .collect();
            assert_eq!(blocks, expected);

            let mut in_place = a.clone();
            zip_chunks_mut(&mut in_place, &b, |d, s| {
                d.iter_mut().zip(s).for_each(|(x, y)| *x -= y)
            });
            let expected: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
            assert_eq!(in_place, expected);
        }
    }
}
