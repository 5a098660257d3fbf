//! Enlarging a picture: with a learnt upscaler (passes chained, tile by tile so memory stays
//! bounded at print size), or with Lanczos.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use image::imageops::FilterType;
use serde::{Deserialize, Serialize};

use super::{UpscaleError, UpscalerFile};
use crate::export::Picture;
use crate::model::module_from_bytes;
use crate::model::upscaler::{Upscaler, UpscalerConfig};

/// How an export is made larger: what a designer picks, and what its metadata records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Upscaling {
    /// The learnt upscaler: sharp edges and texture.
    #[default]
    Sharp,
    /// Lanczos3 interpolation: smooth, never invents detail.
    Smooth,
}

impl Upscaling {
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Sharp => "Sharp (learnt upscaler)",
            Self::Smooth => "Smooth (Lanczos)",
        }
    }
}

/// Side of the input tiles a pass works on: memory stays about
/// `(TILE + 2·overlap)² · factor² · 4 · width · 4` bytes whatever the picture's size.
const TILE: usize = 96;
/// Input pixels each tile borrows from its neighbours: more than the network's reach (one
/// per 3×3 convolution at the input's side, under one for the later ones, two for bicubic),
/// so tiles join without seams.
fn overlap(config: &UpscalerConfig) -> usize {
    2 * config.blocks + 8
}

/// A learnt upscaler ready to enlarge pictures on a device.
pub struct LearntUpscaler {
    net: Upscaler,
    config: UpscalerConfig,
    id: String,
    device: Device,
}

impl LearntUpscaler {
    /// Loads `file`'s network onto `device`.
    pub fn new(file: &UpscalerFile, device: &Device) -> Result<Self, UpscaleError> {
        let config = file.recipe.upscaler.clone();
        let bytes = file
            .checkpoint
            .blob(super::NETWORK_RECORD)
            .ok_or_else(|| UpscaleError::Record("no network record".into()))?;
        let net = module_from_bytes(Upscaler::new(&config, device), bytes, None)
            .map_err(|e| UpscaleError::Record(e.0))?;
        Ok(Self {
            net,
            config,
            id: file.id(),
            device: device.clone(),
        })
    }

    /// The network's content id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    #[must_use]
    pub fn factor(&self) -> usize {
        self.config.factor
    }

    /// What export metadata records for a picture this upscaler enlarged.
    #[must_use]
    pub fn provenance(&self) -> String {
        format!("learnt-{}x:{}", self.config.factor, self.id)
    }

    /// One pass: `factor` times larger. Grey pictures go through a colour network as three
    /// equal channels and come back grey.
    pub fn enlarge(&self, picture: &Picture) -> Result<Picture, UpscaleError> {
        let channels = self.config.channels;
        if picture.channels != channels && !(picture.channels == 1 && channels == 3) {
            return Err(UpscaleError::Channels {
                channels: picture.channels,
                model: channels,
            });
        }
        let (w, h) = (picture.width, picture.height);
        let f = self.config.factor;
        let overlap = overlap(&self.config);
        let input = planes(picture, channels);
        let mut out = vec![0f32; channels * w * f * h * f];
        for ty in (0..h).step_by(TILE) {
            for tx in (0..w).step_by(TILE) {
                let (x0, y0) = (tx.saturating_sub(overlap), ty.saturating_sub(overlap));
                let (x1, y1) = ((tx + TILE + overlap).min(w), (ty + TILE + overlap).min(h));
                let (tw, th) = (x1 - x0, y1 - y0);
                let mut tile = Vec::with_capacity(channels * tw * th);
                for c in 0..channels {
                    for y in y0..y1 {
                        let row = c * w * h + y * w;
                        tile.extend_from_slice(&input[row + x0..row + x1]);
                    }
                }
                let x = Tensor::<4>::from_data(
                    TensorData::new(tile, [1, channels, th, tw]),
                    &self.device,
                );
                let y = self
                    .net
                    .forward(x)
                    .into_data()
                    .try_to_vec::<f32>()
                    .map_err(|e| UpscaleError::Device(format!("{e:?}")))?;
                // Copy back the part this tile owns.
                let (ow, oh) = (tw * f, th * f);
                let (own_x, own_y) = ((tx - x0) * f, (ty - y0) * f);
                let own_w = (TILE.min(w - tx)) * f;
                let own_h = (TILE.min(h - ty)) * f;
                for c in 0..channels {
                    for yy in 0..own_h {
                        let src = c * ow * oh + (own_y + yy) * ow + own_x;
                        let dst = c * w * f * h * f + (ty * f + yy) * w * f + tx * f;
                        out[dst..dst + own_w].copy_from_slice(&y[src..src + own_w]);
                    }
                }
            }
        }
        Ok(from_planes(&out, channels, w * f, h * f, picture.channels))
    }

    /// Enlarged to `width` × `height`: learnt passes while the picture is smaller than asked,
    /// then Lanczos to the exact size (a shrink, or none).
    pub fn upscale_to(
        &self,
        picture: &Picture,
        width: usize,
        height: usize,
    ) -> Result<Picture, UpscaleError> {
        let mut current = picture.clone();
        while current.width < width || current.height < height {
            current = self.enlarge(&current)?;
        }
        Ok(enlarge_lanczos(&current, width, height))
    }

    /// The network (for tools that compare its weights).
    #[must_use]
    pub fn network(&self) -> &Upscaler {
        &self.net
    }

    /// The same upscaler on another device.
    #[must_use]
    pub fn to_device(&self, device: &Device) -> Self {
        Self {
            net: self.net.clone().to_device(device),
            config: self.config.clone(),
            id: self.id.clone(),
            device: device.clone(),
        }
    }
}

/// Lanczos3 resize to `width` × `height` (no-op at the same size).
#[must_use]
pub fn enlarge_lanczos(picture: &Picture, width: usize, height: usize) -> Picture {
    if picture.width == width && picture.height == height {
        return picture.clone();
    }
    let image =
        picture
            .to_dynamic()
            .resize_exact(width as u32, height as u32, FilterType::Lanczos3);
    Picture::from_dynamic(&image)
}

/// Channel-major `[0, 1]` planes of `picture` for a `channels`-channel network.
fn planes(picture: &Picture, channels: usize) -> Vec<f32> {
    let plane = picture.width * picture.height;
    let mut out = vec![0f32; channels * plane];
    for c in 0..channels {
        let from = c.min(picture.channels - 1);
        for i in 0..plane {
            out[c * plane + i] = f32::from(picture.pixels[i * picture.channels + from]) / 255.0;
        }
    }
    out
}

/// Interleaved 8-bit pixels from `[0, 1]` planes; `want` = 1 averages the channels.
fn from_planes(planes: &[f32], channels: usize, w: usize, h: usize, want: usize) -> Picture {
    let plane = w * h;
    let to_u8 = |v: f32| (v * 255.0).round().clamp(0.0, 255.0) as u8;
    let mut pixels = vec![0u8; plane * want];
    for i in 0..plane {
        if want == 1 {
            let mean = (0..channels).map(|c| planes[c * plane + i]).sum::<f32>() / channels as f32;
            pixels[i] = to_u8(mean);
        } else {
            for c in 0..want {
                pixels[i * want + c] = to_u8(planes[c.min(channels - 1) * plane + i]);
            }
        }
    }
    Picture {
        width: w,
        height: h,
        channels: want,
        pixels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tiles overlap past the network's reach: the tiled result is the whole-picture one.
    #[test]
    fn tiles_join_without_seams() {
        let device = Device::flex();
        let upscaler = LearntUpscaler::new(&UpscalerFile::shipped().unwrap(), &device).unwrap();
        let (w, h) = (TILE + 57, TILE + 23);
        let picture = Picture {
            width: w,
            height: h,
            channels: 3,
            pixels: (0..w * h * 3).map(|i| ((i * 7919) % 251) as u8).collect(),
        };
        let tiled = upscaler.enlarge(&picture).unwrap();
        let whole = upscaler
            .network()
            .forward(Tensor::<4>::from_data(
                TensorData::new(planes(&picture, 3), [1, 3, h, w]),
                &device,
            ))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let f = upscaler.factor();
        let whole = from_planes(&whole, 3, w * f, h * f, 3);
        let worst = tiled
            .pixels
            .iter()
            .zip(&whole.pixels)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        assert!(
            worst <= 1,
            "tiles differ from the whole picture by {worst} levels"
        );
    }
}
