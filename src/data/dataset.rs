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

/// A pixel in the generator's tanh range `[-1, 1]`; device uploads apply the same two
/// operations (divide, then subtract), so a batch is the same wherever it is mapped.
#[must_use]
pub fn u8_to_unit_range(p: u8) -> f32 {
    f32::from(p) / 127.5 - 1.0
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
        self.batch_f32_mirrored(indices, &[])
    }

    /// As [`Dataset::batch_f32`], with image `k` mirrored left to right where `mirrored[k]`
    /// (missing flags count as `false`).
    #[must_use]
    pub fn batch_f32_mirrored(&self, indices: &[usize], mirrored: &[bool]) -> Vec<f32> {
        self.batch_u8_mirrored(indices, mirrored)
            .into_iter()
            .map(u8_to_unit_range)
            .collect()
    }

    /// As [`Dataset::batch_f32_mirrored`], the pixels left as `u8`: a quarter of the bytes to
    /// send to a device (a remote one above all), which maps them with [`u8_to_unit_range`].
    #[must_use]
    pub fn batch_u8_mirrored(&self, indices: &[usize], mirrored: &[bool]) -> Vec<u8> {
        let mut out = Vec::with_capacity(indices.len() * self.image_len());
        for (k, &i) in indices.iter().enumerate() {
            let image = self.image(i);
            if mirrored.get(k).copied().unwrap_or(false) {
                for row in image.chunks_exact(self.resolution) {
                    out.extend(row.iter().rev());
                }
            } else {
                out.extend_from_slice(image);
            }
        }
        out
    }

    /// Renumbers the labels to index `classes` (a model's class list), matching by name: the
    /// data may hold any subset of them, in any order. Returns the data's class names that
    /// `classes` lacks (and changes nothing) when there are any.
    pub fn relabel_to(&mut self, classes: &[String]) -> Result<(), Vec<String>> {
        let mapping: Vec<Option<u32>> = self
            .class_names
            .iter()
            .map(|name| classes.iter().position(|k| k == name).map(|i| i as u32))
            .collect();
        let unknown: Vec<String> = self
            .class_names
            .iter()
            .zip(&mapping)
            .filter(|(_, m)| m.is_none())
            .map(|(n, _)| n.clone())
            .collect();
        if !unknown.is_empty() {
            return Err(unknown);
        }
        for label in &mut self.labels {
            *label = mapping[*label as usize].unwrap_or(0);
        }
        self.class_names = classes.to_vec();
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relabelling_matches_classes_by_name_and_names_the_unknown() {
        let mut data = Dataset {
            resolution: 1,
            channels: 1,
            pixels: vec![0, 1, 2],
            labels: vec![0, 1, 1],
            class_names: vec!["bag".into(), "sneaker".into()],
            sources: vec![PathBuf::new(); 3],
            content_hashes: vec![[0; 32]; 3],
        };
        let model: Vec<String> = ["t-shirt", "sneaker", "bag"].map(String::from).to_vec();
        data.relabel_to(&model).unwrap();
        assert_eq!(data.labels, [2, 1, 1]);
        assert_eq!(data.class_names, model);
        let err = data.relabel_to(&["bag".to_string()]).unwrap_err();
        assert_eq!(err, ["t-shirt", "sneaker"]);
        assert_eq!(data.labels, [2, 1, 1], "unchanged after a refusal");
    }

    #[test]
    fn mirrored_images_reverse_each_row_of_each_channel() {
        // Two 2×2 RGB images: channel c, row y, column x holds 100·image + 10·c + 2·y + x.
        let pixels: Vec<u8> = (0..2u8)
            .flat_map(|i| (0..3u8).flat_map(move |c| (0..4u8).map(move |p| 100 * i + 10 * c + p)))
            .collect();
        let data = Dataset {
            resolution: 2,
            channels: 3,
            pixels,
            labels: vec![0, 0],
            class_names: vec!["mug".into()],
            sources: vec![PathBuf::new(); 2],
            content_hashes: vec![[0; 32]; 2],
        };
        let as_u8 = |v: Vec<f32>| -> Vec<u8> {
            v.iter()
                .map(|&x| ((x + 1.0) * 127.5).round() as u8)
                .collect()
        };
        let batch = as_u8(data.batch_f32_mirrored(&[1, 0], &[true, false]));
        let first: Vec<u8> = [1, 0, 3, 2, 11, 10, 13, 12, 21, 20, 23, 22]
            .iter()
            .map(|p| 100 + p)
            .collect();
        assert_eq!(batch[..12], first[..], "image 1, mirrored");
        assert_eq!(batch[12..], data.image(0)[..], "image 0, as it is");
        assert_eq!(
            as_u8(data.batch_f32_mirrored(&[0, 1], &[])),
            as_u8(data.batch_f32(&[0, 1])),
            "no flags: nothing mirrored"
        );
    }
}
