//! The patch matrix of one image (im2col) and its adjoint (col2im), row by row, or through
//! phase planes where the shape allows one copy per kernel tap.

use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;

use super::{ConvElem, Geometry};

/// Output positions `o` in `0..out` whose input index `o·stride + offset` lies in `0..size`.
fn valid_range(out: usize, stride: usize, offset: isize, size: usize) -> (usize, usize) {
    let lo = if offset >= 0 {
        0
    } else {
        offset.unsigned_abs().div_ceil(stride)
    };
    let last = size as isize - 1 - offset;
    let hi = if last < 0 {
        0
    } else {
        last as usize / stride + 1
    };
    let lo = lo.min(out);
    (lo, hi.min(out).max(lo))
}

/// One kernel tap's reach along a row: its offset into the input row, and the output columns
/// `lo..hi` whose input column lies inside the image.
#[derive(Clone, Copy)]
struct ColumnSpan {
    offset: isize,
    lo: usize,
    hi: usize,
}

/// The column spans of every kernel column `kj`, computed once per call.
fn column_spans(g: &Geometry) -> Vec<ColumnSpan> {
    (0..g.kw)
        .map(|kj| {
            let offset = (kj * g.dilation[1]) as isize - g.pad[1] as isize;
            let (lo, hi) = valid_range(g.ow, g.stride[1], offset, g.w);
            ColumnSpan { offset, lo, hi }
        })
        .collect()
}

/// Input row of output row `oy` under kernel row `ki`, if inside the image.
#[inline]
fn input_row(g: &Geometry, oy: usize, ki: usize) -> Option<usize> {
    let iy = (oy * g.stride[0] + ki * g.dilation[0]) as isize - g.pad[0] as isize;
    (iy >= 0 && (iy as usize) < g.h).then_some(iy as usize)
}

/// The phase planes of a strided convolution whose stride divides the input and whose output
/// is as wide as one phase plane (the 3×3 stride-1 convolutions with padding 1 of upsampling
/// generators; the 4×4 stride-2 ones with padding 1 of discriminators): `[rows, columns]` of
/// a phase plane, or `None` for other shapes.
///
/// Phase `(a, b)` holds the input pixels `(s·i + a, s·j + b)`. Every kernel tap then reads
/// one phase plane shifted by one offset, so its row of the patch matrix is one copy plus a
/// few zeroed border columns, instead of one short (strided) copy per output row. The rows
/// hold the same values, and col2im adds them in the same order.
fn phase_plane(g: &Geometry) -> Option<[usize; 2]> {
    let [sy, sx] = g.stride;
    let fits = sy > 0 && sx > 0 && g.h % sy == 0 && g.w % sx == 0 && g.ow == g.w / sx;
    fits.then_some([g.h / sy, g.w / sx])
}

/// A tap's input offset `t` (kernel position · dilation − padding) as its phase and its shift
/// in phase-plane pixels: `t = stride · shift + phase`.
fn tap_phase(t: isize, stride: usize) -> (usize, isize) {
    let s = stride as isize;
    (t.rem_euclid(s) as usize, t.div_euclid(s))
}

/// Where one kernel tap reads in the phase planes: the phase plane's first element, the
/// output rows `lo..hi` that fall inside it, and the offset of output element 0 of row `lo`.
struct TapRun {
    phase_start: usize,
    lo: usize,
    hi: usize,
    start: isize,
}

fn tap_run(g: &Geometry, [ph, pw]: [usize; 2], ki: usize, span: &ColumnSpan) -> TapRun {
    let (a, dy) = tap_phase(
        (ki * g.dilation[0]) as isize - g.pad[0] as isize,
        g.stride[0],
    );
    let (b, dx) = tap_phase(span.offset, g.stride[1]);
    let (lo, hi) = valid_range(g.oh, 1, dy, ph);
    TapRun {
        phase_start: (a * g.stride[1] + b) * ph * pw,
        lo,
        hi,
        start: (lo as isize + dy) * pw as isize + dx,
    }
}

impl TapRun {
    /// The part of a run of `len` output elements (rows `lo..hi`) that lies inside its phase
    /// plane of `phase_len`: its range in the run and in the phase plane. The ends cut off
    /// fall only in columns outside the tap's span.
    fn overlap(&self, len: usize, phase_len: usize) -> Option<(Range<usize>, Range<usize>)> {
        let first = self.start.max(0);
        let last = (self.start + len as isize).min(phase_len as isize);
        (first < last).then(|| {
            let in_run = (first - self.start) as usize..(last - self.start) as usize;
            (in_run, first as usize..last as usize)
        })
    }
}

/// Whether the kernel covers the whole unpadded input for a single output (a DCGAN's first
/// transposed convolution from `z`, its discriminator's last convolution): each patch-matrix
/// row is then one value, row `ci·h·w + t` holding element `t` of plane `ci`.
///
/// Why: the row-by-row walk spent its bookkeeping (spans, rows, bounds) on every one-value
/// row; `dcgan-28` has about four million of them a step at batch 64. Walked directly, the
/// rows hold the same values and col2im adds them in the same order.
fn whole_plane(g: &Geometry) -> bool {
    g.oh == 1
        && g.ow == 1
        && g.pad == [0, 0]
        && g.dilation == [1, 1]
        && g.kh == g.h
        && g.kw == g.w
}

/// Copies `plane` (`h × w`) into its phase planes, phase `(a, b)` at `(a·sx + b)·ph·pw`.
fn split_phases<T: ConvElem>(g: &Geometry, plane: &[T], phases: &mut [T], [ph, pw]: [usize; 2]) {
    let [sy, sx] = g.stride;
    for a in 0..sy {
        for b in 0..sx {
            let phase = &mut phases[(a * sx + b) * ph * pw..][..ph * pw];
            for (i, dst) in phase.chunks_exact_mut(pw).enumerate() {
                let src = &plane[(sy * i + a) * g.w + b..];
                for (d, s) in dst.iter_mut().zip(src.iter().step_by(sx)) {
                    *d = *s;
                }
            }
        }
    }
}

/// The inverse of [`split_phases`]: writes the phase planes back into `plane`.
fn merge_phases<T: ConvElem>(g: &Geometry, phases: &[T], plane: &mut [T], [ph, pw]: [usize; 2]) {
    let [sy, sx] = g.stride;
    for a in 0..sy {
        for b in 0..sx {
            let phase = &phases[(a * sx + b) * ph * pw..][..ph * pw];
            for (i, src) in phase.chunks_exact(pw).enumerate() {
                let dst = &mut plane[(sy * i + a) * g.w + b..];
                for (d, s) in dst.iter_mut().step_by(sx).zip(src) {
                    *d = *s;
                }
            }
        }
    }
}

/// Zeroes the columns of every row of `rows` (rows of `width`) outside `span.lo..span.hi`.
fn zero_outside<T: ConvElem>(rows: &mut [T], width: usize, span: &ColumnSpan) {
    if span.lo == 0 && span.hi == width {
        return;
    }
    for row in rows.chunks_exact_mut(width) {
        zero_few(&mut row[..span.lo]);
        zero_few(&mut row[span.hi..]);
    }
}

/// Zeroes `values`, storing one or two directly: a padding of 1 leaves one value per row
/// outside a tap's span, and a `memset` call for it cost more than the store.
#[inline]
fn zero_few<T: ConvElem>(values: &mut [T]) {
    match values {
        [] => {}
        [a] => *a = T::zero(),
        [a, b] => {
            *a = T::zero();
            *b = T::zero();
        }
        _ => values.fill(T::zero()),
    }
}

/// What im2col and col2im both read off the geometry before walking the patch matrix.
struct Walk {
    plane_in: usize,
    plane_out: usize,
    spans: Vec<ColumnSpan>,
    step: usize,
    phased: Option<[usize; 2]>,
    strided: bool,
    whole_plane: bool,
    /// With phase planes: each kernel tap's run (`ki · kw + kj`), the same for every channel.
    runs: Vec<TapRun>,
}

impl Walk {
    /// `None` when the output is empty: there is nothing to walk.
    fn new(g: &Geometry) -> Option<Self> {
        if g.ow == 0 || g.oh == 0 {
            return None;
        }
        let spans = column_spans(g);
        let phased = phase_plane(g);
        let runs = match phased {
            Some(dims) => (0..g.kh)
                .flat_map(|ki| spans.iter().map(move |span| tap_run(g, dims, ki, span)))
                .collect(),
            None => Vec::new(),
        };
        Some(Self {
            plane_in: g.h * g.w,
            plane_out: g.plane_out(),
            spans,
            runs,
            step: g.stride[1],
            phased,
            strided: g.stride != [1, 1],
            whole_plane: whole_plane(g),
        })
    }

    /// Room for one input plane's phase planes, when the walk goes through them.
    fn phase_buffer<T: ConvElem>(&self) -> Vec<T> {
        let len = if self.phased.is_some() && self.strided {
            self.plane_in
        } else {
            0
        };
        vec![T::zero(); len]
    }
}

/// The first `plane_out` values of each row of `row_stride` in `cols`: one image's rows of a
/// patch matrix that holds several images side by side.
fn patch_rows<T>(
    cols: &mut [T],
    row_stride: usize,
    plane_out: usize,
) -> impl Iterator<Item = &mut [T]> {
    debug_assert!(row_stride >= plane_out);
    cols.chunks_mut(row_stride.max(1))
        .map_while(move |row| row.get_mut(..plane_out))
}

/// Fills `cols` (`[patch_len, plane_out]`, rows `row_stride` apart) with the patches of
/// `group` in one image.
pub(super) fn im2col<T: ConvElem>(
    g: &Geometry,
    image: &[T],
    group: usize,
    cols: &mut [T],
    row_stride: usize,
) {
    let Some(walk) = Walk::new(g) else { return };
    if walk.whole_plane {
        let planes = &image[group * g.c_in_group() * walk.plane_in..][..g.patch_len()];
        for (dst, &v) in cols.iter_mut().step_by(row_stride.max(1)).zip(planes) {
            *dst = v;
        }
        return;
    }
    let mut phases = walk.phase_buffer::<T>();
    let mut rows = patch_rows(cols, row_stride, walk.plane_out);
    for ci in 0..g.c_in_group() {
        let plane = &image[(group * g.c_in_group() + ci) * walk.plane_in..][..walk.plane_in];
        if let Some(dims) = walk.phased.filter(|_| walk.strided) {
            split_phases(g, plane, &mut phases, dims);
        }
        for ki in 0..g.kh {
            for (kj, span) in walk.spans.iter().enumerate() {
                let Some(row) = rows.next() else { return };
                if let Some(dims) = walk.phased {
                    let source = if walk.strided { &phases[..] } else { plane };
                    let run = &walk.runs[ki * g.kw + kj];
                    let phase = &source[run.phase_start..][..dims[0] * dims[1]];
                    row[..run.lo * g.ow].fill(T::zero());
                    row[run.hi * g.ow..].fill(T::zero());
                    let block = &mut row[run.lo * g.ow..run.hi * g.ow];
                    // Output (oy, ox) reads phase element (oy + dy)·pw + ox + dx: one run; the
                    // columns outside the span are zeroed after.
                    if let Some((in_run, in_phase)) = run.overlap(block.len(), phase.len()) {
                        block[in_run].copy_from_slice(&phase[in_phase]);
                    }
                    zero_outside(block, g.ow, span);
                    continue;
                }
                for (oy, dst) in row.chunks_exact_mut(g.ow).enumerate() {
                    let Some(iy) = input_row(g, oy, ki) else {
                        dst.fill(T::zero());
                        continue;
                    };
                    let src = &plane[iy * g.w..][..g.w];
                    zero_few(&mut dst[..span.lo]);
                    zero_few(&mut dst[span.hi..]);
                    if span.lo == span.hi {
                        continue;
                    }
                    let first = (span.lo * walk.step) as isize + span.offset;
                    let src = &src[first as usize..];
                    let dst = &mut dst[span.lo..span.hi];
                    if walk.step == 1 {
                        dst.copy_from_slice(&src[..dst.len()]);
                    } else {
                        for (d, s) in dst.iter_mut().zip(src.iter().step_by(walk.step)) {
                            *d = *s;
                        }
                    }
                }
            }
        }
    }
}

/// Adds the patch-shaped gradient `cols` of `group` back onto one image's gradient. `cols` is
/// scratch: with [`phase_plane`] its entries that fall on the padding are zeroed first, so
/// each tap's row is added as one run (adding +0.0 leaves every sum as it was). Strided, the
/// sums build up in phase planes from zero and are then written into the image, whose planes
/// of this group receive nothing else. Rows of `cols` lie `row_stride` apart.
pub(super) fn col2im<T: ConvElem>(
    g: &Geometry,
    cols: &mut [T],
    row_stride: usize,
    group: usize,
    image: &mut [T],
) {
    let Some(walk) = Walk::new(g) else { return };
    if walk.whole_plane {
        let planes = &mut image[group * g.c_in_group() * walk.plane_in..][..g.patch_len()];
        for (d, &s) in planes.iter_mut().zip(cols.iter().step_by(row_stride.max(1))) {
            *d += s;
        }
        return;
    }
    let mut phases = walk.phase_buffer::<T>();
    let mut rows = patch_rows(cols, row_stride, walk.plane_out);
    for ci in 0..g.c_in_group() {
        let plane = &mut image[(group * g.c_in_group() + ci) * walk.plane_in..][..walk.plane_in];
        if let Some(dims) = walk.phased {
            if walk.strided {
                phases.fill(T::zero());
            }
            let target: &mut [T] = if walk.strided {
                &mut phases
            } else {
                &mut *plane
            };
            for ki in 0..g.kh {
                for (kj, span) in walk.spans.iter().enumerate() {
                    let Some(row) = rows.next() else { return };
                    if span.lo == span.hi {
                        continue;
                    }
                    let run = &walk.runs[ki * g.kw + kj];
                    let phase = &mut target[run.phase_start..][..dims[0] * dims[1]];
                    let block = &mut row[run.lo * g.ow..run.hi * g.ow];
                    zero_outside(block, g.ow, span);
                    if let Some((in_run, in_phase)) = run.overlap(block.len(), phase.len()) {
                        for (d, s) in phase[in_phase].iter_mut().zip(&block[in_run]) {
                            *d += *s;
                        }
                    }
                }
            }
            if walk.strided {
                merge_phases(g, &phases, plane, dims);
            }
            continue;
        }
        for ki in 0..g.kh {
            for span in &walk.spans {
                let Some(row) = rows.next() else { return };
                if span.lo == span.hi {
                    continue;
                }
                for (oy, src) in row.chunks_exact(g.ow).enumerate() {
                    let Some(iy) = input_row(g, oy, ki) else {
                        continue;
                    };
                    let first = (span.lo * walk.step) as isize + span.offset;
                    let dst = &mut plane[iy * g.w + first as usize..(iy + 1) * g.w];
                    let src = &src[span.lo..span.hi];
                    if walk.step == 1 {
                        for (d, s) in dst.iter_mut().zip(src) {
                            *d += *s;
                        }
                    } else {
                        for (d, s) in dst.iter_mut().step_by(walk.step).zip(src) {
                            *d += *s;
                        }
                    }
                }
            }
        }
    }
}

/// Writes the transpose of `src` (`[rows, cols]`, row-major) into `dst` (`[cols, rows]`).
///
/// Why: the weight gradient reads the patch matrix with positions along the GEMM's inner
/// dimension. `gemm` packs that operand by gathering one element per row at the row stride, a
/// power of two here (a plane of 1,024 or 4,096 values), so every gathered line falls in the
/// same cache set; that packing was 7 % of a `fastgan-64-rgb` step. Transposed first, the
/// GEMM reads contiguous runs. It only moves values: the sums, and their bits, are the same.
pub(super) fn transpose_into<T: ConvElem>(src: &[T], rows: usize, cols: usize, dst: &mut [T]) {
    assert!(src.len() >= rows * cols && dst.len() >= rows * cols);
    T::transpose(src, rows, cols, dst);
}

/// [`transpose_into`] for any element, in tiles that stay in L1 (about 0.9 ns an element).
pub(super) fn transpose_tiled<T: Copy>(src: &[T], rows: usize, cols: usize, dst: &mut [T]) {
    const TILE: usize = 16;
    for r0 in (0..rows).step_by(TILE) {
        let r1 = (r0 + TILE).min(rows);
        for c0 in (0..cols).step_by(TILE) {
            let c1 = (c0 + TILE).min(cols);
            for r in r0..r1 {
                let line = &src[r * cols..][c0..c1];
                for (c, &v) in (c0..c1).zip(line) {
                    dst[c * rows + r] = v;
                }
            }
        }
    }
}

/// [`transpose_into`] for f32 in 4×4 blocks of SSE registers (x86-64's baseline), 3 to 4 times
/// faster than [`transpose_tiled`]; the edges that do not fill a block go element by element.
#[cfg(target_arch = "x86_64")]
pub(super) fn transpose_f32(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    use core::arch::x86_64::{
        _mm_loadu_ps, _mm_movehl_ps, _mm_movelh_ps, _mm_storeu_ps, _mm_unpackhi_ps, _mm_unpacklo_ps,
    };
    /// Columns per sweep down the rows: 64 columns of 4 rows stay in L1 while their 64 output
    /// rows fill.
    const SWEEP: usize = 64;
    assert!(src.len() >= rows * cols && dst.len() >= rows * cols);
    let (rows4, cols4) = (rows / 4 * 4, cols / 4 * 4);
    for c0 in (0..cols4).step_by(SWEEP) {
        let c1 = (c0 + SWEEP).min(cols4);
        for r in (0..rows4).step_by(4) {
            for c in (c0..c1).step_by(4) {
                // SAFETY: r + 3 < rows and c + 3 < cols, so the four loads of four values
                // read src[(r..r + 4) · cols + c..c + 4] and the four stores write
                // dst[(c..c + 4) · rows + r..r + 4], all inside the asserted lengths; SSE is
                // part of x86-64's baseline.
                unsafe {
                    let s = src.as_ptr().add(r * cols + c);
                    let a = _mm_loadu_ps(s);
                    let b = _mm_loadu_ps(s.add(cols));
                    let e = _mm_loadu_ps(s.add(2 * cols));
                    let f = _mm_loadu_ps(s.add(3 * cols));
                    let (ab_lo, ef_lo) = (_mm_unpacklo_ps(a, b), _mm_unpacklo_ps(e, f));
                    let (ab_hi, ef_hi) = (_mm_unpackhi_ps(a, b), _mm_unpackhi_ps(e, f));
                    let o = dst.as_mut_ptr().add(c * rows + r);
                    _mm_storeu_ps(o, _mm_movelh_ps(ab_lo, ef_lo));
                    _mm_storeu_ps(o.add(rows), _mm_movehl_ps(ef_lo, ab_lo));
                    _mm_storeu_ps(o.add(2 * rows), _mm_movelh_ps(ab_hi, ef_hi));
                    _mm_storeu_ps(o.add(3 * rows), _mm_movehl_ps(ef_hi, ab_hi));
                }
            }
        }
    }
    for r in 0..rows {
        let first = if r < rows4 { cols4 } else { 0 };
        for c in first..cols {
            dst[c * rows + r] = src[r * cols + c];
        }
    }
}
