use burn::tensor::{Device, Distribution, Tensor, TensorData};

use super::*;
use crate::model::likelihood::LikelihoodNet;

fn tiny(channels: usize, side: usize) -> (PixelCnnConfig, GatedPixelCnn) {
    tiny_with(channels, side, 5)
}

fn tiny_with(channels: usize, side: usize, kernel: usize) -> (PixelCnnConfig, GatedPixelCnn) {
    let config = PixelCnnConfig {
        resolution: side,
        channels,
        width: 8,
        layers: 3,
        kernel,
        ..PixelCnnConfig::default()
    };
    let device = Device::flex();
    device.seed(3);
    let net = GatedPixelCnn::new(&config, &device);
    (config, net)
}

/// Images on the 256 levels, from a seed.
fn levels_image(b: usize, c: usize, side: usize, device: &Device) -> Tensor<4> {
    Tensor::<4>::random(
        [b, c, side, side],
        Distribution::Uniform(0.0, 255.0),
        device,
    )
    .round()
    .div_scalar(127.5)
    .sub_scalar(1.0)
}

/// `[sub-pixel][level]` logits in raster order (row, column, channel).
fn logits_by_sub_pixel(net: &GatedPixelCnn, x: Tensor<4>) -> Vec<Vec<f32>> {
    let [_, c, h, w] = x.dims();
    let per_channel: Vec<Vec<f32>> = net
        .logits(x, None)
        .into_iter()
        .map(|t| t.into_data().try_to_vec::<f32>().unwrap())
        .collect();
    let mut out = Vec::new();
    for i in 0..h {
        for j in 0..w {
            for (ch, values) in per_channel.iter().enumerate().take(c) {
                let _ = ch;
                out.push(
                    (0..network::LEVELS)
                        .map(|l| values[(l * h + i) * w + j])
                        .collect(),
                );
            }
        }
    }
    out
}

/// The masked convolutions' causality, checked directly: changing sub-pixel p changes no
/// prediction for sub-pixels up to p, and does change some later one.
#[test]
fn a_prediction_never_sees_its_own_sub_pixel_or_later_ones() {
    for channels in [1, 3] {
        let side = 7;
        let (_, net) = tiny(channels, side);
        let device = Device::flex();
        let x = levels_image(1, channels, side, &device);
        let before = logits_by_sub_pixel(&net, x.clone());
        let sub_pixels = channels * side * side;
        for p in [
            0,
            1,
            channels,
            side * channels + 2,
            sub_pixels / 2,
            sub_pixels - 1,
        ] {
            let (pixel, ch) = (p / channels, p % channels);
            let (i, j) = (pixel / side, pixel % side);
            let changed = x.clone().slice_assign(
                [0..1, ch..ch + 1, i..i + 1, j..j + 1],
                Tensor::<4>::from_data(TensorData::new(vec![0.77f32], [1, 1, 1, 1]), &device),
            );
            let after = logits_by_sub_pixel(&net, changed);
            for q in 0..=p {
                let same = before[q]
                    .iter()
                    .zip(&after[q])
                    .all(|(a, b)| (a - b).abs() < 1e-5);
                assert!(
                    same,
                    "{channels} channels: sub-pixel {q} saw sub-pixel {p} change"
                );
            }
            if p + 1 < sub_pixels {
                let later_moved = (p + 1..sub_pixels).any(|q| {
                    before[q]
                        .iter()
                        .zip(&after[q])
                        .any(|(a, b)| (a - b).abs() > 1e-6)
                });
                assert!(
                    later_moved,
                    "{channels} channels: nothing after {p} reads it"
                );
            }
        }
    }
}

/// Sampling computes each pass on a window of rows: every drawn level must be the
/// inverse-CDF pick of its uniform number under the full image's predictions.
#[test]
fn windowed_sampling_draws_what_the_full_image_predicts() {
    let (config, net) = tiny_with(3, 11, 3);
    let device = Device::flex();
    assert!(
        net.rows_seen() < config.resolution / 2 && 2 * net.columns_seen() + 1 < config.resolution,
        "the window must crop rows and columns"
    );
    let u = Tensor::<4>::random([2, 3, 11, 11], Distribution::Uniform(0.0, 1.0), &device)
        .clamp(1e-4, 1.0 - 1e-4);
    let x = net.sample(u.clone(), None, None);
    let u = u.into_data().try_to_vec::<f32>().unwrap();
    let drawn = x.clone().into_data().try_to_vec::<f32>().unwrap();
    let logits: Vec<Vec<f32>> = net
        .logits(x, None)
        .into_iter()
        .map(|t| t.into_data().try_to_vec::<f32>().unwrap())
        .collect();
    let (c, side, levels) = (3, 11, network::LEVELS);
    for b in 0..2 {
        for (ch, channel_logits) in logits.iter().enumerate() {
            for p in 0..side * side {
                let at = (b * c + ch) * side * side + p;
                let row: Vec<f32> = (0..levels)
                    .map(|l| channel_logits[(b * levels + l) * side * side + p])
                    .collect();
                let max = row.iter().copied().fold(f32::MIN, f32::max);
                let total: f32 = row.iter().map(|v| (v - max).exp()).sum();
                let mut cdf = 0.0;
                let mut pick = levels - 1;
                for (l, v) in row.iter().enumerate() {
                    cdf += (v - max).exp() / total;
                    if cdf >= u[at] {
                        pick = l;
                        break;
                    }
                }
                let got = ((drawn[at] + 1.0) * 127.5).round() as usize;
                assert!(
                    got.abs_diff(pick) <= 1,
                    "image {b} channel {ch} pixel {p}: drew {got}, the full image says {pick}"
                );
            }
        }
    }
}

/// The windows sampling computes on (rows above, columns either side) hold everything a
/// pixel's prediction depends on: its features there equal the whole image's, everywhere.
#[test]
fn a_pixels_window_gives_the_whole_images_features() {
    let (config, net) = tiny_with(3, 13, 3);
    assert!(
        2 * net.columns_seen() + 1 < config.resolution,
        "the window must crop"
    );
    let device = Device::flex();
    let x = levels_image(2, 3, 13, &device);
    let full = net.trunk(x.clone(), None);
    let [_, width, side, _] = full.dims();
    let full = full.into_data().try_to_vec::<f32>().unwrap();
    for i in 0..side {
        for j in 0..side {
            let local = net
                .pixel_features(&x, None, i, j)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            for b in 0..2 {
                for f in 0..width {
                    let whole = full[((b * width + f) * side + i) * side + j];
                    let here = local[b * width + f];
                    assert!(
                        (whole - here).abs() < 1e-5,
                        "pixel ({i}, {j}) feature {f}: {here} in its window, {whole} in the image"
                    );
                }
            }
        }
    }
}

#[test]
fn completion_keeps_the_marked_pixels_and_draws_the_rest() {
    let (_, net) = tiny(1, 6);
    let device = Device::flex();
    let known = levels_image(2, 1, 6, &device);
    let keep: Vec<bool> = (0..36).map(|p| p < 18).collect();
    let u = Tensor::<4>::random([2, 1, 6, 6], Distribution::Uniform(0.0, 1.0), &device);
    let out = net.sample(u, None, Some((known.clone(), keep.clone())));
    let (a, b) = (
        known.into_data().try_to_vec::<f32>().unwrap(),
        out.into_data().try_to_vec::<f32>().unwrap(),
    );
    for img in 0..2 {
        for (p, &kept) in keep.iter().enumerate() {
            let i = img * 36 + p;
            if kept {
                assert!((a[i] - b[i]).abs() < 1e-6, "kept pixel {p} changed");
            }
        }
    }
    assert!(
        (18..36).any(|p| (a[p] - b[p]).abs() > 1e-3),
        "the lower half was not drawn"
    );
}

#[test]
fn an_untrained_model_is_near_eight_bits_and_configs_are_checked_by_field() {
    let (_, net) = tiny(1, 6);
    let x = levels_image(4, 1, 6, &Device::flex());
    let bits = net.nll_bits(x, None).into_scalar::<f32>();
    assert!((6.0..11.0).contains(&bits), "{bits} bits per sub-pixel");
    for (config, field) in [
        (
            PixelCnnConfig {
                resolution: 64,
                channels: 3,
                ..PixelCnnConfig::default()
            },
            "model.resolution",
        ),
        (
            PixelCnnConfig {
                kernel: 4,
                ..PixelCnnConfig::default()
            },
            "model.kernel",
        ),
        (
            PixelCnnConfig {
                width: 0,
                ..PixelCnnConfig::default()
            },
            "model.width",
        ),
    ] {
        assert_eq!(config.validate().unwrap_err().field, field);
    }
}

/// A drawing advanced a few passes at a time (as the worker draws between two commands)
/// makes exactly the images drawn in one piece, and counts its passes: one per pixel, none
/// for the pixels a completion keeps.
#[test]
fn a_drawing_advanced_in_slices_equals_one_drawn_whole() {
    use crate::model::Drawing;
    use crate::model::likelihood::PixelDrawing;
    let (_, net) = tiny(3, 6);
    let device = Device::flex();
    let u = Tensor::<4>::random([2, 3, 6, 6], Distribution::Uniform(0.0, 1.0), &device)
        .clamp(1e-4, 1.0 - 1e-4);
    let whole = net.sample(u.clone(), None, None);
    let mut drawing = PixelDrawing::new(net.clone(), u.clone(), None, None);
    assert_eq!(drawing.progress(), (0, 36));
    let mut calls = 0;
    for passes in [1, 0, 5, 3].into_iter().cycle() {
        calls += 1;
        let before = drawing.progress().0;
        let done = drawing.advance(passes);
        // Zero asks for one pass: a call always moves on.
        assert_eq!(
            drawing.progress().0 - before,
            passes.max(1).min(36 - before)
        );
        if done {
            break;
        }
    }
    assert!(calls > 10, "{calls}");
    assert_eq!(drawing.progress(), (36, 36));
    let sliced = drawing.images().into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(sliced, whole.into_data().try_to_vec::<f32>().unwrap());

    let known = levels_image(2, 3, 6, &device);
    let keep: Vec<bool> = (0..36).map(|p| p < 12).collect();
    let completion = PixelDrawing::new(net, u, None, Some((known, keep)));
    assert_eq!(completion.progress(), (0, 24), "kept pixels take no pass");
}
