//! The CPU backend's convolutions (Atelier's patch of burn-flex: `src/patched/burn-flex`)
//! against the definition, through burn's public API and autodiff: forward and the input,
//! weight and bias gradients of `conv2d` and `conv_transpose2d`, over strides, paddings (also
//! uneven), dilations and groups.

use burn::tensor::module::{conv_transpose2d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Distribution, Tensor};

/// A convolution's shape: input `[n, c, h, w]`, weight `[o, c / groups, kh, kw]`.
struct Case {
    input: [usize; 4],
    weight: [usize; 4],
    stride: [usize; 2],
    padding: [(usize, usize); 2],
    dilation: [usize; 2],
    groups: usize,
}

impl Case {
    fn output(&self) -> [usize; 4] {
        let side = |i: usize| {
            let padded = self.input[2 + i] + self.padding[i].0 + self.padding[i].1;
            (padded - self.dilation[i] * (self.weight[2 + i] - 1) - 1) / self.stride[i] + 1
        };
        [self.input[0], self.weight[0], side(0), side(1)]
    }

    /// Every (input index, output index, weight index) the convolution multiplies together.
    fn taps(&self) -> Vec<(usize, usize, usize)> {
        let [n, c, h, w] = self.input;
        let [o, cg, kh, kw] = self.weight;
        let [_, _, oh, ow] = self.output();
        let og = o / self.groups;
        let mut taps = Vec::new();
        for b in 0..n {
            for oc in 0..o {
                for ci in 0..cg {
                    let channel = (oc / og) * cg + ci;
                    for ki in 0..kh {
                        for kj in 0..kw {
                            for y in 0..oh {
                                for x in 0..ow {
                                    let iy = (y * self.stride[0] + ki * self.dilation[0]) as isize
                                        - self.padding[0].0 as isize;
                                    let ix = (x * self.stride[1] + kj * self.dilation[1]) as isize
                                        - self.padding[1].0 as isize;
                                    if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= w {
                                        continue;
                                    }
                                    taps.push((
                                        ((b * c + channel) * h + iy as usize) * w + ix as usize,
                                        ((b * o + oc) * oh + y) * ow + x,
                                        ((oc * cg + ci) * kh + ki) * kw + kj,
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
        taps
    }
}

fn random(shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::<4>::random(shape, Distribution::Uniform(-1.0, 1.0), device)
}

fn values<const D: usize>(t: &Tensor<D>) -> Vec<f64> {
    t.clone()
        .into_data()
        .try_to_vec::<f32>()
        .expect("f32 tensor")
        .into_iter()
        .map(f64::from)
        .collect()
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-4 * scale,
            "{what}[{i}]: {g} against {w}"
        );
    }
}

fn cases() -> Vec<Case> {
    vec![
        // FastGAN's 3×3 convolutions
        Case {
            input: [3, 4, 9, 8],
            weight: [5, 4, 3, 3],
            stride: [1, 1],
            padding: [(1, 1), (1, 1)],
            dilation: [1, 1],
            groups: 1,
        },
        // DCGAN's 4×4 stride-2 down-sampling
        Case {
            input: [4, 2, 10, 10],
            weight: [3, 2, 4, 4],
            stride: [2, 2],
            padding: [(1, 1), (1, 1)],
            dilation: [1, 1],
            groups: 1,
        },
        // uneven padding, dilation, groups, unequal strides
        Case {
            input: [2, 4, 7, 9],
            weight: [6, 2, 3, 2],
            stride: [2, 1],
            padding: [(0, 2), (2, 1)],
            dilation: [2, 1],
            groups: 2,
        },
        // a single image, 1×1 kernel at stride 2, padding wider than the kernel
        Case {
            input: [1, 3, 5, 6],
            weight: [2, 3, 1, 1],
            stride: [2, 2],
            padding: [(1, 1), (0, 0)],
            dilation: [1, 1],
            groups: 1,
        },
    ]
}

#[test]
fn conv2d_forward_and_gradients_match_the_definition() {
    let device = Device::flex().autodiff();
    for (n, case) in cases().iter().enumerate() {
        let x = random(case.input, &device).require_grad();
        let w = random(case.weight, &device).require_grad();
        let bias =
            Tensor::<1>::random([case.weight[0]], Distribution::Default, &device).require_grad();
        let options =
            ConvOptions::new_with_padding(case.stride, case.padding, case.dilation, case.groups);
        let y = conv2d(x.clone(), w.clone(), Some(bias.clone()), options);
        let out = case.output();
        assert_eq!(y.dims(), out, "case {n}: output shape");
        let upstream = random(out, &device);
        let grads = (y.clone() * upstream.clone()).sum().backward();

        let (xv, wv, bv, gv) = (values(&x), values(&w), values(&bias), values(&upstream));
        let plane = out[2] * out[3];
        let mut want_y: Vec<f64> = (0..gv.len()).map(|i| bv[(i / plane) % out[1]]).collect();
        let (mut want_input_grad, mut want_weight_grad) =
            (vec![0.0; xv.len()], vec![0.0; wv.len()]);
        let mut want_bias_grad = vec![0.0; bv.len()];
        for (i, g) in gv.iter().enumerate() {
            want_bias_grad[(i / plane) % out[1]] += g;
        }
        for (i, o, k) in case.taps() {
            want_y[o] += xv[i] * wv[k];
            want_input_grad[i] += gv[o] * wv[k];
            want_weight_grad[k] += gv[o] * xv[i];
        }
        assert_close(&values(&y), &want_y, &format!("case {n}: conv2d"));
        let grad = |t: &Tensor<4>| values(&t.grad(&grads).expect("gradient"));
        assert_close(
            &grad(&x),
            &want_input_grad,
            &format!("case {n}: input gradient"),
        );
        assert_close(
            &grad(&w),
            &want_weight_grad,
            &format!("case {n}: weight gradient"),
        );
        let db = values(&bias.grad(&grads).expect("bias gradient"));
        assert_close(&db, &want_bias_grad, &format!("case {n}: bias gradient"));
    }
}

/// A transposed convolution runs a case backwards: from the case's output space to its input.
#[test]
fn conv_transpose2d_forward_and_gradients_match_the_definition() {
    let device = Device::flex().autodiff();
    for (n, case) in cases().iter().enumerate() {
        if case.padding.iter().any(|(begin, end)| begin != end) {
            continue; // transposed convolutions take one padding per side
        }
        let small = case.output();
        let padding = case.padding.map(|(p, _)| p);
        let padding_out = [0, 1].map(|i| {
            case.input[2 + i] + 2 * padding[i]
                - case.dilation[i] * (case.weight[2 + i] - 1)
                - 1
                - (small[2 + i] - 1) * case.stride[i]
        });
        let x = random(small, &device).require_grad();
        let w = random(case.weight, &device).require_grad();
        let options = ConvTransposeOptions::new(
            case.stride,
            padding,
            padding_out,
            case.dilation,
            case.groups,
        );
        let y = conv_transpose2d(x.clone(), w.clone(), None, options);
        assert_eq!(y.dims(), case.input, "case {n}: output shape");
        let upstream = random(case.input, &device);
        let grads = (y.clone() * upstream.clone()).sum().backward();

        let (xv, wv, gv) = (values(&x), values(&w), values(&upstream));
        let mut want_y = vec![0.0; gv.len()];
        let (mut want_input_grad, mut want_weight_grad) =
            (vec![0.0; xv.len()], vec![0.0; wv.len()]);
        for (big, little, k) in case.taps() {
            want_y[big] += xv[little] * wv[k];
            want_input_grad[little] += gv[big] * wv[k];
            want_weight_grad[k] += gv[big] * xv[little];
        }
        assert_close(&values(&y), &want_y, &format!("case {n}: conv_transpose2d"));
        let grad = |t: &Tensor<4>| values(&t.grad(&grads).expect("gradient"));
        assert_close(
            &grad(&x),
            &want_input_grad,
            &format!("case {n}: transposed input gradient"),
        );
        assert_close(
            &grad(&w),
            &want_weight_grad,
            &format!("case {n}: transposed weight gradient"),
        );
    }
}
