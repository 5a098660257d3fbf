//! Fuzz targets: every reader of user-controlled bytes, driven through its real entry point
//! (files on disk where the product reads files). `cargo bench --bench fuzz` mutates seed
//! inputs through them for as long as asked; the test suite replays the kept corpus
//! (`tests/fuzz-corpus/`) so every input that ever failed stays fixed.
//!
//! A target must return (an error is a fine answer); a panic, an abort or a hang is a bug.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageBuffer, ImageFormat, Rgb};
use sha2::Digest;

use crate::data::{ImportOptions, import_folder};
use crate::preset::{Preset, SquareMode};

/// One reader under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A folder import of one file, in every format `image` reads here.
    Image,
    /// An MNIST-style IDX images file (with a valid labels file beside it).
    Idx,
    /// `Checkpoint::from_bytes`, then building a generator from what it accepted.
    Checkpoint,
    /// `project.json` and `curation.json` through `Project::open`.
    Project,
    /// An exported shot's PNG metadata through `read_shot_meta`.
    ShotPng,
    /// A preset's TOML through `Preset::from_toml` and `validate`.
    Preset,
}

impl Target {
    pub const ALL: [Self; 6] = [
        Self::Image,
        Self::Idx,
        Self::Checkpoint,
        Self::Project,
        Self::ShotPng,
        Self::Preset,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Idx => "idx",
            Self::Checkpoint => "checkpoint",
            Self::Project => "project",
            Self::ShotPng => "shot-png",
            Self::Preset => "preset",
        }
    }

    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

const IMPORT: ImportOptions = ImportOptions {
    resolution: 16,
    channels: 3,
    square: SquareMode::Pad,
};

/// Image inputs carry their file extension in their first byte (an index into this list), so
/// a mutation can also change what the file claims to be.
pub const IMAGE_EXTENSIONS: [&str; 12] = [
    "png", "jpg", "gif", "bmp", "tiff", "webp", "tga", "qoi", "pnm", "ico", "ff", "hdr",
];

/// Runs `input` through `target` inside `scratch` (an empty folder the target may fill).
/// Returns a short description of the outcome; panics are the caller's to catch.
#[must_use]
pub fn run(target: Target, input: &[u8], scratch: &Path) -> String {
    match target {
        Target::Image => {
            let (ext, body) = input.split_first().map_or(("png", &[][..]), |(e, b)| {
                (
                    IMAGE_EXTENSIONS[usize::from(*e) % IMAGE_EXTENSIONS.len()],
                    b,
                )
            });
            let dir = scratch.join("photos");
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(dir.join(format!("input.{ext}")), body);
            outcome(import_folder(&dir, IMPORT, &|_| {}).map(|(d, _)| d.len()))
        }
        Target::Idx => {
            let _ = std::fs::write(scratch.join("fuzz-images-idx3-ubyte"), input);
            let _ = std::fs::write(scratch.join("fuzz-labels-idx1-ubyte"), idx_labels(4));
            outcome(import_folder(scratch, IMPORT, &|_| {}).map(|(d, _)| d.len()))
        }
        Target::Checkpoint => {
            // As mutated (the whole-file checksum refuses nearly all), then re-sealed with a
            // fresh checksum, so the header and records behind it are read too.
            let raw = load_checkpoint(input);
            let body = &input[..input.len().saturating_sub(32)];
            let mut sealed = body.to_vec();
            sealed.extend_from_slice(&sha2::Sha256::digest(body));
            format!("{raw}; re-sealed: {}", load_checkpoint(&sealed))
        }
        Target::Project => {
            // The input holds both files, split at the first NUL.
            let at = input.iter().position(|&b| b == 0).unwrap_or(input.len());
            let (settings, curation) = (&input[..at], input.get(at + 1..).unwrap_or(&[]));
            let _ = std::fs::write(scratch.join(crate::project::PROJECT_FILE), settings);
            let _ = std::fs::write(scratch.join(crate::project::CURATION_FILE), curation);
            outcome(crate::project::Project::open(scratch).map(|p| p.curation.shots.len()))
        }
        Target::ShotPng => {
            let path = scratch.join("shot.png");
            let _ = std::fs::write(&path, input);
            outcome(crate::export::read_shot_meta(&path).map(|m| m.latent.len()))
        }
        Target::Preset => {
            let text = String::from_utf8_lossy(input);
            outcome(Preset::from_toml("fuzz", &text).and_then(|p| p.validate().map(|()| p)))
        }
    }
}

fn load_checkpoint(bytes: &[u8]) -> String {
    match crate::checkpoint::Checkpoint::from_bytes(bytes, "fuzz") {
        Ok(c) => outcome(
            crate::sample::Sampler::from_checkpoint(&c, &burn::tensor::Device::flex()).map(|_| ()),
        ),
        Err(e) => format!("error: {e}"),
    }
}

fn outcome<T: std::fmt::Debug, E: std::fmt::Display>(r: Result<T, E>) -> String {
    match r {
        Ok(v) => format!("ok: {v:?}"),
        Err(e) => format!("error: {e}"),
    }
}

fn idx_labels(count: u32) -> Vec<u8> {
    let mut out = vec![0, 0, 8, 1];
    out.extend_from_slice(&count.to_be_bytes());
    out.extend((0..count).map(|i| (i % 3) as u8));
    out
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Option<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).ok()?;
    Some(out.into_inner())
}

/// Valid inputs to start mutating from, named.
#[must_use]
pub fn seeds(target: Target) -> Vec<(String, Vec<u8>)> {
    let picture = DynamicImage::ImageRgb8(ImageBuffer::from_fn(24, 18, |x, y| {
        Rgb([(x * 10) as u8, (y * 13) as u8, ((x ^ y) * 7) as u8])
    }));
    match target {
        Target::Image => {
            let formats = [
                ImageFormat::Png,
                ImageFormat::Jpeg,
                ImageFormat::Gif,
                ImageFormat::Bmp,
                ImageFormat::Tiff,
                ImageFormat::WebP,
                ImageFormat::Tga,
                ImageFormat::Qoi,
                ImageFormat::Pnm,
                ImageFormat::Ico,
                ImageFormat::Farbfeld,
                ImageFormat::Hdr,
            ];
            formats
                .iter()
                .enumerate()
                .filter_map(|(i, &format)| {
                    let image = match format {
                        ImageFormat::Ico => DynamicImage::ImageRgba8(picture.to_rgba8()),
                        ImageFormat::Farbfeld => DynamicImage::ImageRgba16(picture.to_rgba16()),
                        ImageFormat::Hdr => DynamicImage::ImageRgb32F(picture.to_rgb32f()),
                        _ => picture.clone(),
                    };
                    let mut bytes = vec![i as u8];
                    bytes.extend(encode(&image, format)?);
                    Some((IMAGE_EXTENSIONS[i].to_string(), bytes))
                })
                .collect()
        }
        Target::Idx => {
            let mut out = vec![0, 0, 8, 3];
            for n in [4u32, 6, 5] {
                out.extend_from_slice(&n.to_be_bytes());
            }
            out.extend((0..4 * 30).map(|i| (i * 37 % 256) as u8));
            vec![("four-6x5".into(), out)]
        }
        Target::Checkpoint => {
            let mut seeds = vec![(
                "demo-generator".to_string(),
                crate::project::DEMO_GENERATOR.to_vec(),
            )];
            if let Ok(base) = crate::train::load_base("base-28") {
                seeds.push(("base-28".into(), base.to_bytes()));
            }
            seeds
        }
        Target::Project => {
            let settings = crate::project::ProjectSettings::default();
            let mut bytes = serde_json::to_vec_pretty(&settings).unwrap_or_default();
            bytes.push(0);
            bytes.extend_from_slice(
                br#"{"next_id":2,"shots":[{"id":1,"seed":7,"latent":[0.5,-1.0],"truncation":1.0,"generator_id":"abc","edited":false,"favourite":true,"rejected":false,"tags":["blue"],"parent":null,"class":null}]}"#,
            );
            vec![("settings-and-curation".into(), bytes)]
        }
        Target::ShotPng => {
            let meta = crate::export::ShotMeta {
                seed: Some(7),
                latent: vec![0.25, -1.5, 2.0],
                truncation: 0.8,
                checkpoint_id: "0123abcd".into(),
                class: Some("sneaker".into()),
                app_version: "0.1.0".into(),
                upscaler: Some("learnt-4x:0123456789ab".into()),
                edits: vec![crate::latent::SliderEdit {
                    slider: "sporty".into(),
                    amount: -0.5,
                }],
            };
            crate::export::encode_png_with_meta(&picture, &meta)
                .map(|png| vec![("exported-shot".to_string(), png)])
                .unwrap_or_default()
        }
        Target::Preset => ["dcgan-28", "fastgan-64-rgb", "cdcgan-28", "finetune-28"]
            .iter()
            .filter_map(|name| Preset::load(name).ok())
            .map(|p| (p.name.clone(), p.to_toml().into_bytes()))
            .collect(),
    }
}
