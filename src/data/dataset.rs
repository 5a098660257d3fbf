//! The imported images: `u8`, channel-major, one fixed size.

use std::path::PathBuf;

/// Images of one size and channel count, with class labels and where each came from.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub resolution: usize,
    pub channels: usize,
    /// `len · channels · resolution²` bytes, each image channel-major (C, H, W).
    pub pixels: Vec<u8>,
    /// Index into `class_names`, one per image.
    pub labels: Vec<u32>,
    pub class_names: Vec<String>,
    /// Source file of each image (for reports and the nearest-neighbour view).
    pub sources: Vec<PathBuf>,
    /// SHA-256 of each source file: stable identity for splits and duplicates.
    pub content_hashes: Vec<[u8; 32]>,
}

impl Dataset {
    #[must_use]
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes of one image.
    #[must_use]
    pub fn image_len(&self) -> usize {
        self.channels * self.resolution * self.resolution
    }

    /// The `u8` pixels of image `index` (C, H, W).
    #[must_use]
    pub fn image(&self, index: usize) -> &[u8] {
        let n = self.image_len();
        &self.pixels[index * n..(index + 1) * n]
    }

    /// Images at `indices` as f32 in `[-1, 1]`, concatenated (B, C, H, W): the generator's
    /// tanh range.
    #[must_use]
    pub fn batch_f32(&self, indices: &[usize]) -> Vec<f32> {
        let mut out = Vec::with_capacity(indices.len() * self.image_len());
        for &i in indices {
            out.extend(self.image(i).iter().map(|&p| f32::from(p) / 127.5 - 1.0));
        }
        out
    }

    /// A dataset holding only `indices` (in that order), e.g. the first k images for a
    /// small-data experiment.
    #[must_use]
    pub fn subset(&self, indices: &[usize]) -> Self {
        let mut pixels = Vec::with_capacity(indices.len() * self.image_len());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        Self {
            resolution: self.resolution,
            channels: self.channels,
            pixels,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            class_names: self.class_names.clone(),
            sources: indices.iter().map(|&i| self.sources[i].clone()).collect(),
            content_hashes: indices.iter().map(|&i| self.content_hashes[i]).collect(),
        }
    }
}
