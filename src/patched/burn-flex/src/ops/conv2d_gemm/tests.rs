//! The kernels in f64 against a direct loop, and the adjoint identities.

use super::*;

/// Direct-loop reference convolution, [n, c, h, w] by [o, c/g, kh, kw].
fn reference(
    x: &[f64],
    xs: [usize; 4],
    w: &[f64],
    ws: [usize; 4],
    o: &ConvOptions<2>,
) -> (Vec<f64>, [usize; 2]) {
    let [n, c, h, wd] = xs;
    let [co, cg, kh, kw] = ws;
    let oh = (h + 2 * o.padding_begin()[0] - o.dilation[0] * (kh - 1) - 1) / o.stride[0] + 1;
    let ow = (wd + 2 * o.padding_begin()[1] - o.dilation[1] * (kw - 1) - 1) / o.stride[1] + 1;
    let og = co / o.groups;
    let mut out = vec![0.0; n * co * oh * ow];
    for b in 0..n {
        for oc in 0..co {
            let grp = oc / og;
            for y in 0..oh {
                for xx in 0..ow {
                    let mut s = 0.0;
                    for ci in 0..cg {
                        for ki in 0..kh {
                            for kj in 0..kw {
                                let iy = (y * o.stride[0] + ki * o.dilation[0]) as isize
                                    - o.padding_begin()[0] as isize;
                                let ix = (xx * o.stride[1] + kj * o.dilation[1]) as isize
                                    - o.padding_begin()[1] as isize;
                                if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= wd {
                                    continue;
                                }
                                let c_abs = grp * cg + ci;
                                s += x[((b * c + c_abs) * h + iy as usize) * wd + ix as usize]
                                    * w[((oc * cg + ci) * kh + ki) * kw + kj];
                            }
                        }
                    }
                    out[((b * co + oc) * oh + y) * ow + xx] = s;
                }
            }
        }
    }
    (out, [oh, ow])
}

fn values(len: usize, seed: u64) -> Vec<f64> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f64 / (1u64 << 31) as f64) - 0.5
        })
        .collect()
}

/// [`values`] as f32, for the bit-for-bit checks of the f32 kernels.
fn values_f32(len: usize, seed: u64) -> Vec<f32> {
    values(len, seed).into_iter().map(|x| x as f32).collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn t(data: Vec<f64>, shape: [usize; 4]) -> FlexTensor {
    tensor(data, shape.to_vec())
}

/// Forward, and both gradients through the adjoint identity
/// <conv(x, w), g> = <x, dx(g)> = <w, dw(g)>, against the direct loop.
#[test]
fn matches_direct_convolution_and_its_adjoints() {
    let cases = [
        // (x shape, w shape, stride, pad, dilation, groups)
        ([2, 3, 7, 6], [4, 3, 3, 3], [1, 1], [1, 1], [1, 1], 1),
        ([3, 2, 9, 8], [5, 2, 4, 4], [2, 2], [1, 1], [1, 1], 1),
        ([1, 4, 6, 7], [6, 2, 3, 2], [2, 1], [0, 2], [2, 1], 2),
        ([2, 1, 5, 5], [3, 1, 1, 1], [1, 1], [0, 0], [1, 1], 1),
        ([2, 2, 4, 4], [2, 2, 5, 5], [3, 3], [2, 2], [1, 1], 1),
        // "same" convolutions at stride 1 (one phase plane): dilated and grouped, and
        // a kernel wider than the image, whose outer taps miss it entirely
        ([2, 4, 6, 5], [4, 2, 3, 3], [1, 1], [2, 2], [2, 2], 2),
        ([1, 2, 2, 3], [3, 2, 5, 5], [1, 1], [2, 2], [1, 1], 1),
        // strided, through phase planes: a discriminator's 4×4 stride-2 layer, unequal strides
        // with groups, and a dilated tap
        ([2, 3, 8, 6], [4, 3, 4, 4], [2, 2], [1, 1], [1, 1], 1),
        ([1, 4, 6, 9], [4, 2, 3, 3], [2, 3], [1, 1], [1, 1], 2),
        ([1, 2, 8, 8], [2, 2, 3, 3], [2, 2], [2, 2], [2, 2], 1),
        // batches whose small planes run several images per GEMM (`images_per_gemm`, a
        // weight of 80·1024 values), with a short last gang and partial sum; weight gradients
        // of 4 images per GEMM (planes under 64 positions): a 3×3 "same" layer, a strided 4×4
        // one with groups, and a 1×1 output whose transposed convolution starts from 1×1
        ([11, 64, 6, 6], [80, 64, 4, 4], [2, 2], [1, 1], [1, 1], 1),
        ([17, 3, 6, 6], [5, 3, 3, 3], [1, 1], [1, 1], [1, 1], 1),
        ([13, 4, 8, 8], [6, 2, 4, 4], [2, 2], [1, 1], [1, 1], 2),
        ([18, 5, 3, 3], [4, 5, 3, 3], [1, 1], [0, 0], [1, 1], 1),
        // kernels that cover the whole input for one output (`whole_plane`): grouped, and
        // strided (the stride then moves nothing)
        ([3, 4, 5, 5], [6, 2, 5, 5], [1, 1], [0, 0], [1, 1], 2),
        ([2, 3, 4, 4], [5, 3, 4, 4], [2, 2], [0, 0], [1, 1], 1),
    ];
    // The first ganged case shares GEMMs forward ([og, plane, k]) and in the adjoint.
    assert_eq!(images_per_gemm(11, [80, 9, 1024]), 2);
    assert_eq!(images_per_gemm(11, [1024, 9, 80]), 2);
    for (i, (xs, ws, stride, pad, dil, groups)) in cases.into_iter().enumerate() {
        let o = ConvOptions::new(stride, pad, dil, groups);
        let x = values(xs.iter().product(), 1 + i as u64);
        let w = values(ws.iter().product(), 100 + i as u64);
        let (want, [oh, ow]) = reference(&x, xs, &w, ws, &o);
        let got = conv2d::<f64>(t(x.clone(), xs), t(w.clone(), ws), None, &o, [oh, ow]);
        let got: &[f64] = got.storage();
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-9, "case {i} forward: {a} vs {b}");
        }
        let gs = [xs[0], ws[0], oh, ow];
        let grad = values(gs.iter().product(), 7 + i as u64);
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
        let lhs = dot(&want, &grad);
        let dx =
            conv2d_x_backward::<f64>(t(x.clone(), xs), t(w.clone(), ws), t(grad.clone(), gs), &o);
        let dw = conv2d_weight_backward::<f64>(
            t(x.clone(), xs),
            t(w.clone(), ws),
            t(grad.clone(), gs),
            &o,
        );
        assert!(
            (dot(&x, dx.storage()) - lhs).abs() < 1e-9,
            "case {i} input gradient"
        );
        assert!(
            (dot(&w, dw.storage()) - lhs).abs() < 1e-9,
            "case {i} weight gradient"
        );

        // The transposed convolution of `grad` by the same weight is that adjoint.
        let padding_out = [0, 1].map(|d| {
            xs[2 + d] + 2 * pad[d] - dil[d] * (ws[2 + d] - 1) - 1 - (gs[2 + d] - 1) * stride[d]
        });
        let to = ConvTransposeOptions::new(stride, pad, padding_out, dil, groups);
        let y = conv_transpose2d::<f64>(t(grad.clone(), gs), t(w.clone(), ws), None, &to);
        assert_eq!(
            y.layout().shape().to_vec(),
            xs.to_vec(),
            "case {i} transposed shape"
        );
        assert!(
            (dot(&x, y.storage()) - lhs).abs() < 1e-9,
            "case {i} transposed forward"
        );
    }
}

#[test]
fn transpose_into_swaps_rows_and_columns() {
    fn check<T: ConvElem + core::fmt::Debug>(from: impl Fn(usize) -> T) {
        for (rows, cols) in [
            (1, 1),
            (3, 17),
            (4, 4),
            (16, 16),
            (33, 20),
            (252, 67),
            (7, 130),
        ] {
            let src: Vec<T> = (0..rows * cols).map(&from).collect();
            let mut dst = vec![T::zero(); rows * cols];
            patches::transpose_into(&src, rows, cols, &mut dst);
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(
                        dst[c * rows + r],
                        src[r * cols + c],
                        "{rows}×{cols} at ({r}, {c})"
                    );
                }
            }
        }
    }
    check(|i| i as f32);
    check(|i| i as f64);
}

/// The weight gradient's GEMM reads the transposed patch matrix where that is faster; `gemm`
/// must give the bits it gives reading the patch matrix through strides, or exact resume of
/// older runs would break.
#[test]
fn the_weight_gradient_gemm_gives_the_same_bits_from_the_transposed_patches() {
    // [og, k, p]: fastgan-64-rgb's discriminator and generator layers, a plane past gemm's
    // depth blocking, both sides of its 256-output dot-product path, and odd sizes.
    let shapes = [
        [20, 48, 1024],
        [28, 252, 1024],
        [56, 504, 256],
        [7, 27, 4096],
        [16, 17, 4096],
        [16, 16, 4096],
        [1, 300, 64],
        [5, 13, 31],
        [9, 40, 33],
    ];
    for (i, [og, k, p]) in shapes.into_iter().enumerate() {
        let grad = values_f32(og * p, 40 + i as u64);
        let cols = values_f32(k * p, 50 + i as u64);
        let start = values_f32(og * k, 60 + i as u64);
        let mut cols_t = vec![0.0f32; k * p];
        let (mut strided, mut chosen) = (start.clone(), start);
        let lhs = Operand(grad.as_ptr(), p as isize, 1);
        let none = gemm::Parallelism::None;
        let in_place = Operand(cols.as_ptr(), 1, p as isize);
        let patches = weight_gradient_patches([og, k, p], &cols, &mut cols_t);
        // SAFETY: every buffer holds what its strides reach.
        unsafe {
            matmul(
                [og, k, p],
                strided.as_mut_ptr(),
                k,
                true,
                lhs,
                in_place,
                none,
            );
            matmul([og, k, p], chosen.as_mut_ptr(), k, true, lhs, patches, none);
        }
        assert_eq!(
            bits(&strided),
            bits(&chosen),
            "[og, k, p] = {:?}",
            [og, k, p]
        );
    }
}

/// The sums of every pass keep their order whatever the pool's size, ganged or not: exact
/// resume and the determinism tests rely on it.
#[cfg(feature = "rayon")]
#[test]
fn every_pass_gives_the_same_bits_on_any_number_of_threads() {
    let cases = [
        // (x shape, w shape, stride, pad): ganged 7×7 and 1×1 planes, and one image per GEMM
        ([24, 64, 14, 14], [80, 64, 4, 4], [2, 2], [1, 1]),
        ([20, 8, 3, 3], [12, 8, 3, 3], [1, 1], [0, 0]),
        ([6, 4, 20, 20], [8, 4, 3, 3], [1, 1], [1, 1]),
    ];
    for (i, (xs, ws, stride, pad)) in cases.into_iter().enumerate() {
        let o = ConvOptions::new(stride, pad, [1, 1], 1);
        let tf = |data: Vec<f32>, shape: [usize; 4]| tensor(data, shape.to_vec());
        let x = values_f32(xs.iter().product(), 70 + i as u64);
        let w = values_f32(ws.iter().product(), 80 + i as u64);
        let out_hw = [0, 1].map(|d| (xs[2 + d] + 2 * pad[d] - ws[2 + d]) / stride[d] + 1);
        let gs = [xs[0], ws[0], out_hw[0], out_hw[1]];
        let grad = values_f32(gs.iter().product(), 90 + i as u64);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let tensor_bits = |t: FlexTensor| bits(t.storage());
                let (x, w, grad) = (tf(x.clone(), xs), tf(w.clone(), ws), tf(grad.clone(), gs));
                [
                    tensor_bits(conv2d::<f32>(x.clone(), w.clone(), None, &o, out_hw)),
                    tensor_bits(conv2d_x_backward::<f32>(x.clone(), w.clone(), grad.clone(), &o)),
                    tensor_bits(conv2d_weight_backward::<f32>(x, w, grad, &o)),
                ]
            })
        };
        let one = run(1);
        for threads in [2, 3] {
            assert!(one == run(threads), "case {i}: {threads} threads");
        }
    }
}

/// The adjoint reads the weight transposed where that is faster; `gemm` must give the bits it
/// gives reading the weight in place, or values would change with the layout.
#[test]
fn the_adjoint_gemm_gives_the_same_bits_from_the_transposed_weight() {
    // [og, k, n]: dcgan-28's transposed convolutions and discriminator, fastgan's 3×3 layers,
    // gangs of a 1×1 plane, odd sizes
    let shapes = [
        [256, 2048, 49],
        [256, 2048, 196],
        [128, 1024, 196],
        [64, 576, 1024],
        [100, 12544, 8],
        [3, 27, 4096],
        [9, 40, 33],
        [5, 13, 2],
    ];
    for (i, [og, k, n]) in shapes.into_iter().enumerate() {
        let w = values_f32(og * k, 20 + i as u64);
        let grad = values_f32(og * n, 30 + i as u64);
        let w_t = weight_read_transposed::<f32>(&w, 1, [og, k, n]).unwrap();
        let (mut in_place, mut transposed) = (vec![0.0f32; k * n], vec![0.0f32; k * n]);
        let rhs = Operand(grad.as_ptr(), n as isize, 1);
        let none = gemm::Parallelism::None;
        // SAFETY: every buffer holds what its strides reach.
        unsafe {
            let w_in_place = Operand(w.as_ptr(), 1, k as isize);
            matmul([k, n, og], in_place.as_mut_ptr(), n, false, w_in_place, rhs, none);
            let w_t = Operand(w_t.as_ptr(), og as isize, 1);
            matmul([k, n, og], transposed.as_mut_ptr(), n, false, w_t, rhs, none);
        }
        assert_eq!(bits(&in_place), bits(&transposed), "[og, k, n] = {:?}", [og, k, n]);
    }
}

/// A shot renders the same alone or in a batch: each image of a batch gets the bits it gets
/// on its own, forward and through the adjoint (a transposed convolution's forward pass), on
/// planes small enough for several images to share a GEMM and on shapes where they must not.
#[test]
fn each_image_gets_the_same_bits_alone_or_in_a_batch() {
    let cases = [
        // (x shape, w shape, stride, pad): dcgan-28's discriminator and, as adjoints, its
        // transposed convolutions (k = 2048 and 16 over 7×7 and 14×14 planes); a narrow layer
        // deep past one block (og ≤ 64, k = 576, 4×4: not ganged), a narrow shallow one
        // (ganged), and 1×1 planes
        ([24, 64, 14, 14], [128, 64, 4, 4], [2, 2], [1, 1]),
        ([20, 128, 14, 14], [256, 128, 4, 4], [2, 2], [1, 1]),
        ([20, 1, 28, 28], [128, 1, 4, 4], [2, 2], [1, 1]),
        ([18, 64, 4, 4], [8, 64, 3, 3], [1, 1], [1, 1]),
        ([18, 8, 4, 4], [8, 8, 3, 3], [1, 1], [1, 1]),
        ([17, 6, 3, 3], [40, 6, 3, 3], [1, 1], [0, 0]),
    ];
    for (i, (xs, ws, stride, pad)) in cases.into_iter().enumerate() {
        let o = ConvOptions::new(stride, pad, [1, 1], 1);
        let tf = |data: &[f32], shape: [usize; 4]| tensor(data.to_vec(), shape.to_vec());
        let tensor_bits = |t: &FlexTensor| bits(t.storage());
        let x = values_f32(xs.iter().product(), 110 + i as u64);
        let w = values_f32(ws.iter().product(), 120 + i as u64);
        let out_hw = [0, 1].map(|d| (xs[2 + d] + 2 * pad[d] - ws[2 + d]) / stride[d] + 1);
        let gs = [xs[0], ws[0], out_hw[0], out_hw[1]];
        let grad = values_f32(gs.iter().product(), 130 + i as u64);
        let forward = |x: &[f32], batch| {
            let x = tf(x, [batch, xs[1], xs[2], xs[3]]);
            tensor_bits(&conv2d::<f32>(x, tf(&w, ws), None, &o, out_hw))
        };
        let adjoint = |grad: &[f32], batch| {
            let grad = tf(grad, [batch, gs[1], gs[2], gs[3]]);
            // The input only gives its shape.
            let x_shape = [batch, xs[1], xs[2], xs[3]];
            let x = tf(&vec![0.0; x_shape.iter().product()], x_shape);
            tensor_bits(&conv2d_x_backward::<f32>(x, tf(&w, ws), grad, &o))
        };
        let (image_in, image_out) = (xs[1] * xs[2] * xs[3], gs[1] * gs[2] * gs[3]);
        let (whole_fwd, whole_adj) = (forward(&x, xs[0]), adjoint(&grad, xs[0]));
        for b in 0..xs[0] {
            let (outs, ins) = (b * image_out..(b + 1) * image_out, b * image_in..(b + 1) * image_in);
            let alone = forward(&x[ins.clone()], 1);
            assert!(alone == whole_fwd[outs.clone()], "case {i} forward, image {b}");
            let alone = adjoint(&grad[outs], 1);
            assert!(alone == whole_adj[ins], "case {i} adjoint, image {b}");
        }
    }
}
