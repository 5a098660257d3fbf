//! Principal directions of a generator's latent space, GANSpace style (Härkönen et al. 2020).
//!
//! Render many random shots, take PCA of their (downsampled) pixels, then regress each
//! principal component back onto the latents that made it. Moving a latent along direction k
//! by one σ moves the shot by about one standard deviation along the k-th main way the
//! generator's pictures vary (brightness, size, sleeve length, …). Pure CPU maths, no device.

use crate::export::Picture;

/// Directions in latent space, strongest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Directions {
    /// One latent-space vector per direction: the latent move for a +1σ change.
    pub vectors: Vec<Vec<f32>>,
    /// Share of the pixel variance each direction explains, in [0, 1].
    pub explained: Vec<f32>,
    /// What each direction changes, for the slider's name.
    pub labels: Vec<DirectionLabel>,
}

/// What a direction changes: its main kind, and a second one when that carries at least
/// 0.6 of the main one's energy (`ALSO_SHARE`; principal directions often mix two).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirectionLabel {
    pub main: DirectionKind,
    pub also: Option<DirectionKind>,
}

/// A second kind is named when its energy is at least this share of the main kind's.
pub const ALSO_SHARE: f64 = 0.6;

impl DirectionLabel {
    /// "Shape", or "Style + shape" for a mixed direction.
    #[must_use]
    pub fn text(self) -> String {
        match self.also {
            None => self.main.name().to_string(),
            Some(also) => format!("{} + {}", self.main.name(), also.name().to_lowercase()),
        }
    }
}

/// What a direction mostly changes, read from where its pixel-space component puts its energy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectionKind {
    /// Hue and saturation: the part across colour channels at equal luma.
    Colour,
    /// The product (or the backdrop) lighter or darker as a whole.
    Brightness,
    /// Light and dark moving off the product's area: outline, sleeves, size, pose.
    Shape,
    /// Light and dark moving on the product's area: print, stripes, pockets, folds.
    Style,
}

impl DirectionKind {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Colour => "Colour",
            Self::Brightness => "Brightness",
            Self::Shape => "Shape",
            Self::Style => "Style",
        }
    }

    /// Labels a pixel-space component, `side`×`side` pixels × `channels` interleaved as
    /// [`image_features`] lays them out, given the shots' `mean` picture in the same layout.
    /// The product is where the mean picture stands out from its border. The component's
    /// energy splits into four parts that add up: colour (off the grey axis), brightness (a
    /// uniform luma change on the product and one off it), shape (the rest of the luma off
    /// the product: outline, sleeves, size) and style (the rest on it: print, stripes).
    #[must_use]
    pub fn label(component: &[f64], mean: &[f64], channels: usize) -> DirectionLabel {
        let luma_of = |v: &[f64]| -> Vec<f64> {
            let norm = (channels as f64).sqrt();
            v.chunks(channels)
                .map(|p| p.iter().sum::<f64>() / norm)
                .collect()
        };
        let fallback = DirectionLabel {
            main: Self::Shape,
            also: None,
        };
        if channels == 0 {
            return fallback;
        }
        let (luma, picture) = (luma_of(component), luma_of(mean));
        let pixels = luma.len();
        let side = (pixels as f64).sqrt().round() as usize;
        if side < 3 || side * side != pixels || picture.len() != pixels {
            return fallback;
        }
        let product = product_area(&picture, side);
        let total: f64 = component.iter().map(|v| v * v).sum();
        let luma_energy: f64 = luma.iter().map(|l| l * l).sum();
        let mut parts = [
            ((total - luma_energy).max(0.0), Self::Colour),
            (0.0, Self::Brightness),
            (0.0, Self::Shape),
            (0.0, Self::Style),
        ];
        for on_product in [true, false] {
            let values: Vec<f64> = (0..pixels)
                .filter(|&i| product[i] == on_product)
                .map(|i| luma[i])
                .collect();
            if values.is_empty() {
                continue;
            }
            let m = values.iter().sum::<f64>() / values.len() as f64;
            parts[1].0 += m * m * values.len() as f64;
            let rest: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
            parts[if on_product { 3 } else { 2 }].0 += rest;
        }
        parts.sort_by(|a, b| b.0.total_cmp(&a.0));
        DirectionLabel {
            main: parts[0].1,
            also: (parts[1].0 >= ALSO_SHARE * parts[0].0 && parts[1].0 > 0.0).then_some(parts[1].1),
        }
    }
}

/// The product in a mean picture's luma: pixels off the outer ring that differ from the
/// ring's mean by over a third of the largest difference.
fn product_area(picture: &[f64], side: usize) -> Vec<bool> {
    let on_ring = |i: usize| {
        let (x, y) = (i % side, i / side);
        x == 0 || y == 0 || x == side - 1 || y == side - 1
    };
    let ring: Vec<f64> = (0..side * side)
        .filter(|&i| on_ring(i))
        .map(|i| picture[i])
        .collect();
    let backdrop = ring.iter().sum::<f64>() / ring.len() as f64;
    let strongest = picture
        .iter()
        .map(|p| (p - backdrop).abs())
        .fold(0.0, f64::max);
    (0..side * side)
        .map(|i| !on_ring(i) && (picture[i] - backdrop).abs() > strongest / 3.0)
        .collect()
}

impl Directions {
    /// `base` moved by `amounts[k]` σ along each direction.
    #[must_use]
    pub fn apply(&self, base: &[f32], amounts: &[f32]) -> Vec<f32> {
        let mut z = base.to_vec();
        for (v, a) in self.vectors.iter().zip(amounts) {
            for (zi, vi) in z.iter_mut().zip(v) {
                *zi += a * vi;
            }
        }
        z
    }
}

/// A picture box-averaged down to at most `side`×`side` (all channels), as f32 in [0, 1]: PCA
/// on full 64 px RGB pixels would be 12,288-dimensional for no better directions.
#[must_use]
pub fn image_features(picture: &Picture, side: usize) -> Vec<f32> {
    let (w, h, c) = (picture.width, picture.height, picture.channels);
    let side = side.min(w).min(h).max(1);
    let mut out = vec![0f32; side * side * c];
    for oy in 0..side {
        let (y0, y1) = (oy * h / side, ((oy + 1) * h / side).max(oy * h / side + 1));
        for ox in 0..side {
            let (x0, x1) = (ox * w / side, ((ox + 1) * w / side).max(ox * w / side + 1));
            let n = ((y1 - y0) * (x1 - x0)) as f32;
            for ch in 0..c {
                let mut sum = 0f32;
                for y in y0..y1 {
                    for x in x0..x1 {
                        sum += f32::from(picture.pixels[(y * w + x) * c + ch]);
                    }
                }
                out[(oy * side + ox) * c + ch] = sum / n / 255.0;
            }
        }
    }
    out
}

/// The `k` principal directions, from `latents[i]` and the `features[i]` of the shot it made
/// ([`image_features`] of pictures with `channels` channels).
#[must_use]
pub fn principal_directions(
    latents: &[Vec<f32>],
    features: &[Vec<f32>],
    channels: usize,
    k: usize,
) -> Directions {
    let n = latents.len().min(features.len());
    let Some(d) = features.first().map(Vec::len) else {
        return Directions::default();
    };
    if n < 2 || d == 0 {
        return Directions::default();
    }
    let k = k.min(d).min(n - 1);
    let (mean, centred) = centre(&features[..n]);
    let cov = covariance(&centred, d);
    let total_var: f64 = (0..d).map(|i| cov[i * d + i]).sum::<f64>().max(1e-12);
    let basis = top_eigenvectors(&cov, d, k);

    let mut vectors = Vec::with_capacity(k);
    let mut explained = Vec::with_capacity(k);
    let labels = basis
        .iter()
        .map(|v| DirectionKind::label(v, &mean, channels))
        .collect();
    let dim = latents[0].len();
    for v in &basis {
        // PCA coordinates of each shot along v, then the least-squares latent direction that
        // predicts them (coordinates are uncorrelated across components, so each is 1-D).
        let coords: Vec<f64> = centred
            .iter()
            .map(|x| x.iter().zip(v).map(|(a, b)| a * b).sum())
            .collect();
        let var = coords.iter().map(|c| c * c).sum::<f64>() / n as f64;
        let sigma = var.sqrt().max(1e-12);
        let mut u = vec![0f64; dim];
        for (z, c) in latents[..n].iter().zip(&coords) {
            for (ui, zi) in u.iter_mut().zip(z) {
                *ui += f64::from(*zi) * c;
            }
        }
        // u·c regression slope is Σ z c / Σ c²; one σ of c is σ × that.
        let scale = sigma / (var * n as f64).max(1e-12);
        vectors.push(u.iter().map(|x| (x * scale) as f32).collect());
        explained.push((var / total_var) as f32);
    }
    Directions {
        vectors,
        explained,
        labels,
    }
}

/// The mean of `features` and each one minus it, in f64.
pub(crate) fn centre(features: &[Vec<f32>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = features.len().max(1) as f64;
    let mut mean = vec![0f64; features.first().map_or(0, Vec::len)];
    for f in features {
        for (m, v) in mean.iter_mut().zip(f) {
            *m += f64::from(*v) / n;
        }
    }
    let centred = features
        .iter()
        .map(|f| {
            f.iter()
                .zip(&mean)
                .map(|(v, m)| f64::from(*v) - m)
                .collect()
        })
        .collect();
    (mean, centred)
}

fn covariance(centred: &[Vec<f64>], d: usize) -> Vec<f64> {
    let n = centred.len() as f64;
    let mut cov = vec![0f64; d * d];
    for x in centred {
        for i in 0..d {
            let xi = x[i];
            if xi == 0.0 {
                continue;
            }
            let row = &mut cov[i * d..(i + 1) * d];
            for (c, xj) in row.iter_mut().zip(x) {
                *c += xi * xj;
            }
        }
    }
    for c in &mut cov {
        *c /= n;
    }
    cov
}

/// Top-`k` eigenvectors of a symmetric d×d matrix by orthogonal (subspace) iteration.
pub(crate) fn top_eigenvectors(m: &[f64], d: usize, k: usize) -> Vec<Vec<f64>> {
    let mut rng = crate::rng::Rng::derived(7, "pca");
    let mut q: Vec<Vec<f64>> = (0..k)
        .map(|_| (0..d).map(|_| f64::from(rng.normal())).collect())
        .collect();
    orthonormalise(&mut q);
    for _ in 0..200 {
        let mut next: Vec<Vec<f64>> = q
            .iter()
            .map(|v| {
                (0..d)
                    .map(|i| {
                        m[i * d..(i + 1) * d]
                            .iter()
                            .zip(v)
                            .map(|(a, b)| a * b)
                            .sum()
                    })
                    .collect()
            })
            .collect();
        orthonormalise(&mut next);
        let settled = q
            .iter()
            .zip(&next)
            .all(|(a, b)| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>().abs() > 1.0 - 1e-10);
        q = next;
        if settled {
            break;
        }
    }
    q
}

/// Gram–Schmidt, in place.
pub(crate) fn orthonormalise(vs: &mut [Vec<f64>]) {
    for i in 0..vs.len() {
        let (done, rest) = vs.split_at_mut(i);
        let v = &mut rest[0];
        for u in done.iter() {
            let dot: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
            for (a, b) in v.iter_mut().zip(u) {
                *a -= dot * b;
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt().max(1e-300);
        for a in v.iter_mut() {
            *a /= norm;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// A 16 × 16 picture or component built by `f(x, y, channel)`.
    fn picture(channels: usize, f: impl Fn(f64, usize) -> f64) -> Vec<f64> {
        let mut v = Vec::new();
        for y in 0..16 {
            for x in 0..16 {
                let r = (f64::from(x) - 7.5).hypot(f64::from(y) - 7.5);
                for c in 0..channels {
                    v.push(f(r, c));
                }
            }
        }
        v
    }

    #[test]
    fn directions_are_named_by_what_they_change() {
        use DirectionKind::{Brightness, Colour, Shape, Style};
        // The shots' mean: a light product (radius 5) on a dark backdrop.
        let mean = picture(3, |r, _| if r < 5.0 { 0.8 } else { 0.1 });
        let kind = |component: &[f64]| DirectionKind::label(component, &mean, 3).main;
        // Redder at equal luma: colour. The product lighter: brightness. A ring at its
        // outline (it grows): shape. Stripes inside it: style.
        assert_eq!(
            kind(&picture(3, |r, c| if r < 5.0 {
                [1.0, 0.0, -1.0][c]
            } else {
                0.0
            })),
            Colour
        );
        assert_eq!(
            kind(&picture(3, |r, _| if r < 5.0 { 1.0 } else { 0.0 })),
            Brightness
        );
        assert_eq!(
            kind(&picture(3, |r, _| if (4.5..6.5).contains(&r) {
                1.0
            } else {
                0.0
            })),
            Shape
        );
        let stripes = |r: f64, _| {
            if r < 3.5 {
                [1.0, -1.0][(r * 2.0) as usize % 2]
            } else {
                0.0
            }
        };
        assert_eq!(kind(&picture(3, stripes)), Style);
        // Grey pictures have no colour part.
        let grey = picture(1, |r, _| if r < 5.0 { 0.8 } else { 0.1 });
        let stripes = picture(1, |r, _| if r < 5.0 { 1.0 } else { 0.0 });
        assert_eq!(DirectionKind::label(&stripes, &grey, 1).main, Brightness);
        // Half the energy on the product, half off it: both named.
        let both = picture(1, |r, _| {
            if (3.0..4.0).contains(&r) {
                1.0
            } else if (6.0..6.6).contains(&r) {
                -1.0
            } else {
                0.0
            }
        });
        let label = DirectionKind::label(&both, &grey, 1);
        assert!(label.also.is_some(), "{label:?}");
        assert!(label.text().contains(" + "), "{}", label.text());
    }

    #[test]
    fn finds_the_latent_axis_that_drives_the_main_variation() {
        // Features depend mostly on z[3], a little on z[0]: direction 1 must point along z[3].
        let mut rng = Rng::new(1);
        let latents: Vec<Vec<f32>> = (0..400)
            .map(|_| (0..6).map(|_| rng.normal()).collect())
            .collect();
        let features: Vec<Vec<f32>> = latents
            .iter()
            .map(|z| vec![3.0 * z[3], 3.0 * z[3] + 0.5 * z[0], 0.5 * z[0]])
            .collect();
        let dirs = principal_directions(&latents, &features, 1, 2);
        let v = &dirs.vectors[0];
        let strongest = (0..6)
            .max_by(|&a, &b| v[a].abs().total_cmp(&v[b].abs()))
            .unwrap();
        assert_eq!(strongest, 3);
        assert!(
            (v[3].abs() - 1.0).abs() < 0.15,
            "one σ ≈ one unit of z[3]: {v:?}"
        );
        assert!(dirs.explained[0] > 0.9);
        let moved = dirs.apply(&[0.0; 6], &[2.0, 0.0]);
        assert!((moved[3].abs() - 2.0 * v[3].abs()).abs() < 1e-6);
    }

    #[test]
    fn features_average_boxes() {
        let p = Picture {
            width: 4,
            height: 4,
            channels: 1,
            pixels: vec![255, 255, 0, 0, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        };
        assert_eq!(image_features(&p, 2), vec![1.0, 0.0, 0.0, 0.0]);
    }
}
