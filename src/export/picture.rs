//! An 8-bit picture (grey or RGB) and its encoding.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, GrayImage, ImageFormat, RgbImage};
use thiserror::Error;

use crate::fsutil::write_atomic;

#[derive(Debug, Error)]
pub enum ExportError {
    #[error("cannot encode {path}: {message}")]
    Encode { path: String, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// Interleaved 8-bit pixels (HWC), 1 or 3 channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    pub pixels: Vec<u8>,
}

impl Picture {
    /// From a generator output in `[-1, 1]`, channel-major (C, H, W).
    #[must_use]
    pub fn from_chw_f32(chw: &[f32], channels: usize, side: usize) -> Self {
        let plane = side * side;
        let mut pixels = vec![0u8; plane * channels];
        for c in 0..channels {
            for i in 0..plane {
                let v = (chw[c * plane + i] + 1.0) * 127.5;
                pixels[i * channels + c] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
        Self {
            width: side,
            height: side,
            channels,
            pixels,
        }
    }

    /// From dataset pixels, channel-major u8.
    #[must_use]
    pub fn from_chw_u8(chw: &[u8], channels: usize, side: usize) -> Self {
        let plane = side * side;
        let mut pixels = vec![0u8; plane * channels];
        for c in 0..channels {
            for i in 0..plane {
                pixels[i * channels + c] = chw[c * plane + i];
            }
        }
        Self {
            width: side,
            height: side,
            channels,
            pixels,
        }
    }

    /// Channel-major `u8` (C, H, W), the dataset's layout.
    #[must_use]
    pub fn to_chw_u8(&self) -> Vec<u8> {
        let plane = self.width * self.height;
        let mut out = vec![0u8; plane * self.channels];
        for i in 0..plane {
            for c in 0..self.channels {
                out[c * plane + i] = self.pixels[i * self.channels + c];
            }
        }
        out
    }

    /// From any decoded image: grey stays grey, everything else becomes RGB.
    #[must_use]
    pub fn from_dynamic(image: &DynamicImage) -> Self {
        let (width, height) = (image.width() as usize, image.height() as usize);
        match image {
            DynamicImage::ImageLuma8(g) => Self {
                width,
                height,
                channels: 1,
                pixels: g.as_raw().clone(),
            },
            other => Self {
                width,
                height,
                channels: 3,
                pixels: other.to_rgb8().into_raw(),
            },
        }
    }

    #[must_use]
    pub fn to_dynamic(&self) -> DynamicImage {
        let (w, h) = (self.width as u32, self.height as u32);
        if self.channels == 1 {
            GrayImage::from_raw(w, h, self.pixels.clone())
                .map_or_else(|| DynamicImage::new_luma8(w, h), DynamicImage::ImageLuma8)
        } else {
            RgbImage::from_raw(w, h, self.pixels.clone())
                .map_or_else(|| DynamicImage::new_rgb8(w, h), DynamicImage::ImageRgb8)
        }
    }

    pub fn encode_png(&self) -> Result<Vec<u8>, image::ImageError> {
        let mut out = Cursor::new(Vec::new());
        self.to_dynamic().write_to(&mut out, ImageFormat::Png)?;
        Ok(out.into_inner())
    }
}

/// Encodes `picture` as PNG and writes it atomically to `path`.
pub fn save_png_atomic(picture: &Picture, path: &Path) -> Result<(), ExportError> {
    let bytes = picture.encode_png().map_err(|e| ExportError::Encode {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    write_atomic(path, &bytes).map_err(|source| ExportError::Write {
        path: path.display().to_string(),
        source,
    })
}
