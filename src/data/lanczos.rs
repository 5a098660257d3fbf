//! Lanczos3 resizing of RGB photos, bit for bit what `image::imageops::resize` with
//! `FilterType::Lanczos3` gives, several times faster. The import spends half its time
//! resizing: `image`'s generic path reads the columns of the vertical pass one pixel at a
//! time, through four-channel conversions. Here each pass walks rows of contiguous `f32`s,
//! with the same weights, the same order of additions and the same rounding, so imported
//! datasets (and every run trained on them) stay exactly as they were.

use image::RgbImage;

const SUPPORT: f32 = 3.0;

/// `image`'s windowed sinc, computed the same way (same `f32` operations).
fn lanczos3(x: f32) -> f32 {
    fn sinc(t: f32) -> f32 {
        let a = t * std::f32::consts::PI;
        if t == 0.0 { 1.0 } else { a.sin() / a }
    }
    if x.abs() < SUPPORT {
        sinc(x) * sinc(x / SUPPORT)
    } else {
        0.0
    }
}

/// For each output index along an axis of `from` pixels resized to `to`: the first input
/// index and the normalised weights of the inputs from there.
fn taps(from: u32, to: u32) -> Vec<(usize, Vec<f32>)> {
    let ratio = from as f32 / to as f32;
    let sratio = if ratio < 1.0 { 1.0 } else { ratio };
    let src_support = SUPPORT * sratio;
    (0..to)
        .map(|out| {
            let centre = (out as f32 + 0.5) * ratio;
            let left = ((centre - src_support).floor() as i64).clamp(0, i64::from(from) - 1);
            let right = ((centre + src_support).ceil() as i64).clamp(left + 1, i64::from(from));
            let centre = centre - 0.5;
            let mut weights: Vec<f32> = (left..right)
                .map(|i| lanczos3((i as f32 - centre) / sratio))
                .collect();
            let sum: f32 = weights.iter().fold(0.0, |s, w| s + w);
            for w in &mut weights {
                *w /= sum;
            }
            (left as usize, weights)
        })
        .collect()
}

/// `image` to `width`×`height` with Lanczos3, equal to `image::imageops::resize`.
#[must_use]
pub fn resize_lanczos3(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 || (w, h) == (width, height) {
        return image::imageops::resize(image, width, height, image::imageops::Lanczos3);
    }
    let src = image.as_raw();
    let row = w as usize * 3;
    // Vertical pass first, as `image` does: h rows to `height`, in f32.
    let mut tall = vec![0.0f32; row * height as usize];
    for (out_row, (left, weights)) in tall.chunks_exact_mut(row).zip(taps(h, height)) {
        for (i, weight) in weights.iter().enumerate() {
            let input = &src[(left + i) * row..(left + i + 1) * row];
            for (acc, &value) in out_row.iter_mut().zip(input) {
                *acc += f32::from(value) * weight;
            }
        }
    }
    horizontal(&tall, w, width, height)
}

/// `photo` centred on a `side`×`side` square of `fill`, resized to `r`×`r`: equal to
/// pasting it on such a canvas and calling [`resize_lanczos3`], without the canvas. The
/// columns of plain fill get the same sums in every output row: computed once per row.
#[must_use]
pub fn resize_padded(photo: &RgbImage, fill: image::Rgb<u8>, side: u32, r: u32) -> RgbImage {
    let (pw, ph) = photo.dimensions();
    let (x0, y0) = (((side - pw) / 2) as usize, ((side - ph) / 2) as usize);
    let (row, photo_row) = (side as usize * 3, pw as usize * 3);
    let src = photo.as_raw();
    let fill_f = fill.0.map(f32::from);
    let mut tall = vec![0.0f32; row * r as usize];
    for (out_row, (left, weights)) in tall.chunks_exact_mut(row).zip(taps(side, r)) {
        let mut plain = [0.0f32; 3];
        let inside = &mut out_row[x0 * 3..x0 * 3 + photo_row];
        for (i, weight) in weights.iter().enumerate() {
            for c in 0..3 {
                plain[c] += fill_f[c] * weight;
            }
            let y = left + i;
            if (y0..y0 + ph as usize).contains(&y) {
                let input = &src[(y - y0) * photo_row..(y - y0 + 1) * photo_row];
                for (acc, &value) in inside.iter_mut().zip(input) {
                    *acc += f32::from(value) * weight;
                }
            } else {
                for (acc, value) in inside.iter_mut().zip(fill_f.iter().cycle()) {
                    *acc += value * weight;
                }
            }
        }
        let (before, rest) = out_row.split_at_mut(x0 * 3);
        let after = &mut rest[photo_row..];
        for pixel in before.chunks_exact_mut(3).chain(after.chunks_exact_mut(3)) {
            pixel.copy_from_slice(&plain);
        }
    }
    horizontal(&tall, side, r, r)
}

/// The horizontal pass: rows of `w` f32 pixels to `width`, rounded to u8 as `image` rounds.
fn horizontal(tall: &[f32], w: u32, width: u32, height: u32) -> RgbImage {
    let row = w as usize * 3;
    let columns = taps(w, width);
    let mut out = vec![0u8; width as usize * 3 * height as usize];
    for (out_row, in_row) in out
        .chunks_exact_mut(width as usize * 3)
        .zip(tall.chunks_exact(row))
    {
        for (pixel, (left, weights)) in out_row.chunks_exact_mut(3).zip(&columns) {
            let mut t = [0.0f32; 3];
            for (i, weight) in weights.iter().enumerate() {
                let p = &in_row[(left + i) * 3..(left + i) * 3 + 3];
                for c in 0..3 {
                    t[c] += p[c] * weight;
                }
            }
            for c in 0..3 {
                pixel[c] = t[c].clamp(0.0, 255.0).round() as u8;
            }
        }
    }
    RgbImage::from_raw(width, height, out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn noise(w: u32, h: u32, seed: u64) -> RgbImage {
        let mut rng = Rng::new(seed);
        RgbImage::from_fn(w, h, |x, y| {
            // Smooth parts and noise: rounding is tested near .5 and at the clamps.
            let n = (rng.next_u64() & 0xff) as u8;
            image::Rgb([
                n,
                ((x * 7 + y * 3) % 256) as u8,
                if x % 5 == 0 { 255 } else { 0 },
            ])
        })
    }

    #[test]
    fn padding_without_a_canvas_equals_the_canvas_resized() {
        for (i, &(w, h, side, r)) in [
            (192, 256, 256, 64),
            (256, 100, 256, 64),
            (31, 7, 32, 28),
            (200, 200, 200, 64),
            (3, 90, 90, 128),
        ]
        .iter()
        .enumerate()
        {
            let photo = noise(w, h, 10 + i as u64);
            let fill = image::Rgb([17, 140, 251]);
            let mut canvas = RgbImage::from_pixel(side, side, fill);
            image::imageops::overlay(
                &mut canvas,
                &photo,
                i64::from((side - w) / 2),
                i64::from((side - h) / 2),
            );
            let expected = image::imageops::resize(&canvas, r, r, image::imageops::Lanczos3);
            let ours = resize_padded(&photo, fill, side, r);
            assert!(ours == expected, "{w}×{h} padded to {side}, to {r}");
        }
    }

    #[test]
    fn equals_image_crates_lanczos3_bit_for_bit() {
        for (i, &(w, h, nw, nh)) in [
            (256, 256, 64, 64),
            (192, 256, 64, 64),
            (300, 117, 28, 28),
            (64, 64, 256, 256),
            (5, 3, 64, 64),
            (1000, 750, 128, 128),
            (97, 61, 97, 30),
        ]
        .iter()
        .enumerate()
        {
            let img = noise(w, h, i as u64);
            let ours = resize_lanczos3(&img, nw, nh);
            let theirs = image::imageops::resize(&img, nw, nh, image::imageops::Lanczos3);
            assert_eq!(ours.dimensions(), theirs.dimensions());
            assert!(
                ours.as_raw() == theirs.as_raw(),
                "{w}×{h} → {nw}×{nh} differs"
            );
        }
    }
}
