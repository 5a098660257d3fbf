//! Exporting shots: upscaled PNG/JPEG files that carry the metadata to regenerate them.
//!
//! A PNG gets an `atelier:shot` text chunk (JSON: seed, latent, truncation, checkpoint,
//! version) plus human-readable `Software` / `Description` chunks; a JPEG gets a sidecar
//! `NAME.jpg.json`. Files are written to a temp name and then hard-linked into place, so an
//! existing file is never overwritten and a crash never leaves half an image.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{ExportError, Picture, grid};
use crate::latent::SliderEdit;
use crate::upscale::{LearntUpscaler, Upscaling};

/// The PNG text-chunk keyword holding a shot's JSON metadata.
pub const SHOT_CHUNK: &str = "atelier:shot";

/// Everything needed to render a shot again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShotMeta {
    /// The seed that named the latent, when it came from one.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The latent vector actually rendered (after slider moves, before truncation).
    pub latent: Vec<f32>,
    /// Truncation ψ applied to `latent`.
    pub truncation: f32,
    /// Content id of the generator (see `Checkpoint::id`).
    pub checkpoint_id: String,
    /// Product class, for conditional models.
    #[serde(default)]
    pub class: Option<String>,
    pub app_version: String,
    /// How the shot was enlarged to its exported size: `lanczos3`, or `learnt-4x:ID` (the
    /// learnt upscaler's content id). Absent on shots exported before upscalers existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upscaler: Option<String>,
    /// The named slider moves that made the shot from its seed's latent (information only:
    /// `latent` alone regenerates it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<SliderEdit>,
}

#[derive(Debug, Error)]
pub enum ShotExportError {
    #[error("cannot create the export folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    /// Encoding or writing one file (the same errors as any picture export).
    #[error(transparent)]
    File(#[from] ExportError),
    #[error("the file name template '{0}' gives an empty or unsafe name")]
    BadTemplate(String),
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("{0} carries no Atelier shot metadata")]
    NoMetadata(String),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExportFormat {
    #[default]
    Png,
    Jpeg,
}

impl ExportFormat {
    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
        }
    }
}

/// How to export a selection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportSettings {
    pub format: ExportFormat,
    /// Side of the exported square image in pixels.
    pub size_px: u32,
    /// File name without extension; `{seed}`, `{index}`, `{id}`, `{class}`, `{checkpoint}`
    /// are replaced.
    pub template: String,
    pub folder: PathBuf,
    /// JPEG quality, 1–100.
    pub jpeg_quality: u8,
    /// Sharp (learnt upscaler) or smooth (Lanczos) enlargement.
    #[serde(default)]
    pub upscaling: Upscaling,
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self {
            format: ExportFormat::Png,
            size_px: 1024,
            template: "shot-{seed}-{index}".into(),
            folder: PathBuf::from("exports"),
            jpeg_quality: 92,
            upscaling: Upscaling::Sharp,
        }
    }
}

/// One shot to export: its pixels, metadata and a stable id for the file name.
#[derive(Clone, Debug)]
pub struct ShotToExport {
    pub id: u64,
    pub picture: Picture,
    pub meta: ShotMeta,
}

/// Upscales to `size_px` square with a Lanczos filter (Catmull-Rom overshoots less on hard
/// edges, but Lanczos keeps fabric texture sharper at 20–70× scale).
#[must_use]
pub fn upscale(picture: &Picture, size_px: u32) -> DynamicImage {
    let image = picture.to_dynamic();
    if image.width() == size_px && image.height() == size_px {
        return image;
    }
    image.resize_exact(size_px, size_px, FilterType::Lanczos3)
}

/// `text` with everything but letters, digits, `-`, `_` and `.` turned into `-`: safe in a
/// file name on every desktop OS.
#[must_use]
pub fn file_safe(text: &str) -> String {
    // No leading dot: a class named ".hidden" must not give hidden files.
    text.chars()
        .enumerate()
        .map(|(i, c)| {
            if c.is_alphanumeric() || matches!(c, '-' | '_') || (c == '.' && i > 0) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn file_name(asked: &str, shot: &ShotToExport, index: usize) -> Result<String, ShotExportError> {
    let seed = shot
        .meta
        .seed
        .map_or_else(|| format!("edit{}", shot.id), |s| s.to_string());
    let class = shot.meta.class.as_deref().map(file_safe);
    // A conditional model's shots always carry their class in the name.
    let template = match &class {
        Some(_) if !asked.contains("{class}") => format!("{{class}}-{asked}"),
        _ => asked.to_string(),
    };
    let name = template
        .replace("{seed}", &seed)
        .replace("{index}", &format!("{:03}", index + 1))
        .replace("{id}", &shot.id.to_string())
        .replace("{class}", class.as_deref().unwrap_or("all"))
        .replace("{checkpoint}", &shot.meta.checkpoint_id);
    let unsafe_name =
        name.trim().is_empty() || name.contains(['/', '\\', '\0']) || name == "." || name == "..";
    if unsafe_name {
        return Err(ShotExportError::BadTemplate(asked.to_string()));
    }
    Ok(name)
}

/// Encodes a PNG with the shot's metadata in text chunks.
pub fn encode_png_with_meta(image: &DynamicImage, meta: &ShotMeta) -> Result<Vec<u8>, String> {
    let json = serde_json::to_string(meta).map_err(|e| e.to_string())?;
    let (color, data) = match image {
        DynamicImage::ImageLuma8(g) => (png::ColorType::Grayscale, g.as_raw().clone()),
        other => (png::ColorType::Rgb, other.to_rgb8().into_raw()),
    };
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, image.width(), image.height());
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        let describe = |e: png::EncodingError| e.to_string();
        encoder
            .add_text_chunk(SHOT_CHUNK.into(), json)
            .map_err(describe)?;
        encoder
            .add_text_chunk("Software".into(), format!("Atelier {}", meta.app_version))
            .map_err(describe)?;
        let seed = meta
            .seed
            .map_or_else(|| "edited latent".into(), |s| s.to_string());
        encoder
            .add_text_chunk(
                "Description".into(),
                format!(
                    "seed {seed}, truncation {:.2}, checkpoint {}{}",
                    meta.truncation,
                    meta.checkpoint_id,
                    describe_edits(&meta.edits)
                ),
            )
            .map_err(describe)?;
        let mut writer = encoder.write_header().map_err(describe)?;
        writer.write_image_data(&data).map_err(describe)?;
        writer.finish().map_err(describe)?;
    }
    Ok(out)
}

/// ", sliders: colour +1.25, sporty -0.50" (empty without edits).
fn describe_edits(edits: &[SliderEdit]) -> String {
    if edits.is_empty() {
        return String::new();
    }
    let moves: Vec<String> = edits
        .iter()
        .map(|e| format!("{} {:+.2}", e.slider, e.amount))
        .collect();
    format!(", sliders: {}", moves.join(", "))
}

/// Reads the shot metadata back from a PNG exported by Atelier (or its JPEG sidecar).
pub fn read_shot_meta(path: &Path) -> Result<ShotMeta, ShotExportError> {
    let read_err = |message: String| ShotExportError::Read {
        path: path.display().to_string(),
        message,
    };
    let is_png = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if !is_png {
        let sidecar = sidecar_path(path);
        let text = std::fs::read_to_string(&sidecar)
            .map_err(|_| ShotExportError::NoMetadata(path.display().to_string()))?;
        return serde_json::from_str(&text).map_err(|e| read_err(e.to_string()));
    }
    let file = std::fs::File::open(path).map_err(|e| read_err(e.to_string()))?;
    let decoder = png::Decoder::new(std::io::BufReader::new(file));
    let reader = decoder.read_info().map_err(|e| read_err(e.to_string()))?;
    let info = reader.info();
    let text = info
        .uncompressed_latin1_text
        .iter()
        .find(|t| t.keyword == SHOT_CHUNK)
        .map(|t| t.text.clone())
        .or_else(|| {
            info.utf8_text
                .iter()
                .find(|t| t.keyword == SHOT_CHUNK)
                .and_then(|t| t.get_text().ok())
        })
        .or_else(|| {
            info.compressed_latin1_text
                .iter()
                .find(|t| t.keyword == SHOT_CHUNK)
                .and_then(|t| t.get_text().ok())
        })
        .ok_or_else(|| ShotExportError::NoMetadata(path.display().to_string()))?;
    serde_json::from_str(&text).map_err(|e| read_err(e.to_string()))
}

fn sidecar_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".json");
    PathBuf::from(name)
}

/// Writes `bytes` to a fresh file: `path` if free, else `stem-2.ext`, `stem-3.ext`, …
/// Never replaces an existing file. Returns the path written.
pub fn write_new_file(path: &Path, bytes: &[u8]) -> Result<PathBuf, ShotExportError> {
    let write_err = |p: &Path, source| {
        ShotExportError::File(ExportError::Write {
            path: p.display().to_string(),
            source,
        })
    };
    let tmp = crate::fsutil::temp_path(path);
    crate::fsutil::write_atomic(&tmp, bytes).map_err(|e| write_err(&tmp, e))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut result = Err(write_err(path, std::io::Error::other("no free file name")));
    for n in 1..10_000 {
        let candidate = if n == 1 {
            path.to_path_buf()
        } else {
            path.with_file_name(format!("{stem}-{n}.{ext}"))
        };
        // A hard link fails when the target exists: an atomic "create if absent".
        match std::fs::hard_link(&tmp, &candidate) {
            Ok(()) => {
                result = Ok(candidate);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                result = Err(write_err(&candidate, e));
                break;
            }
        }
    }
    let _ = std::fs::remove_file(&tmp);
    result
}

/// What an export wrote.
#[derive(Clone, Debug, Default)]
pub struct ExportOutcome {
    pub written: Vec<PathBuf>,
    /// Files that got another name because the first one was taken: (wanted, written).
    pub renamed: Vec<(PathBuf, PathBuf)>,
    /// What the designer should know about how it went (an upscaler that fell back).
    pub notices: Vec<String>,
}

/// The shot enlarged to `size` square: with `upscaler` when given, else Lanczos; and what
/// the metadata records for it.
fn enlarge(
    picture: &Picture,
    size: u32,
    upscaler: Option<&LearntUpscaler>,
) -> Result<(DynamicImage, String), String> {
    match upscaler {
        Some(u) if (picture.width as u32) < size || (picture.height as u32) < size => {
            let big = u
                .upscale_to(picture, size as usize, size as usize)
                .map_err(|e| e.to_string())?;
            Ok((big.to_dynamic(), u.provenance()))
        }
        _ => Ok((upscale(picture, size), "lanczos3".into())),
    }
}

/// Exports each shot as its own file per `settings`, enlarged with `upscaler` (the learnt
/// one, for [`Upscaling::Sharp`]) or with Lanczos when it is `None`.
pub fn export_shots(
    shots: &[ShotToExport],
    settings: &ExportSettings,
    upscaler: Option<&LearntUpscaler>,
) -> Result<ExportOutcome, ShotExportError> {
    std::fs::create_dir_all(&settings.folder).map_err(|source| ShotExportError::Folder {
        path: settings.folder.display().to_string(),
        source,
    })?;
    let mut outcome = ExportOutcome::default();
    for (index, shot) in shots.iter().enumerate() {
        let name = file_name(&settings.template, shot, index)?;
        let wanted = settings
            .folder
            .join(format!("{name}.{}", settings.format.extension()));
        let encode_err = |message: String| {
            ShotExportError::File(ExportError::Encode {
                path: wanted.display().to_string(),
                message,
            })
        };
        let (image, provenance) =
            enlarge(&shot.picture, settings.size_px.max(1), upscaler).map_err(encode_err)?;
        let meta = ShotMeta {
            upscaler: Some(provenance),
            ..shot.meta.clone()
        };
        let bytes = match settings.format {
            ExportFormat::Png => encode_png_with_meta(&image, &meta).map_err(encode_err)?,
            ExportFormat::Jpeg => {
                let mut out = Cursor::new(Vec::new());
                let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(
                    &mut out,
                    settings.jpeg_quality.clamp(1, 100),
                );
                image
                    .write_with_encoder(encoder)
                    .map_err(|e| encode_err(e.to_string()))?;
                out.into_inner()
            }
        };
        let written = write_new_file(&wanted, &bytes)?;
        if settings.format == ExportFormat::Jpeg {
            let json = serde_json::to_vec_pretty(&meta).unwrap_or_default();
            write_new_file(&sidecar_path(&written), &json)?;
        }
        if written != wanted {
            outcome.renamed.push((wanted, written.clone()));
        }
        outcome.written.push(written);
    }
    Ok(outcome)
}

/// One contact sheet of the selection (each shot at `cell_px`), as a PNG in `folder`.
pub fn export_contact_sheet(
    shots: &[ShotToExport],
    cell_px: u32,
    folder: &Path,
    name: &str,
) -> Result<PathBuf, ShotExportError> {
    let cells: Vec<Picture> = shots
        .iter()
        .map(|s| Picture::from_dynamic(&upscale(&s.picture, cell_px)))
        .collect();
    let columns = (cells.len() as f64).sqrt().ceil() as usize;
    let sheet = grid(&cells, columns.max(1));
    let path = folder.join(format!("{name}.png"));
    std::fs::create_dir_all(folder).map_err(|source| ShotExportError::Folder {
        path: folder.display().to_string(),
        source,
    })?;
    let mut out = Cursor::new(Vec::new());
    sheet
        .to_dynamic()
        .write_to(&mut out, ImageFormat::Png)
        .map_err(|e| {
            ShotExportError::File(ExportError::Encode {
                path: path.display().to_string(),
                message: e.to_string(),
            })
        })?;
    write_new_file(&path, &out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shot(seed: u64) -> ShotToExport {
        ShotToExport {
            id: 7,
            picture: Picture {
                width: 4,
                height: 4,
                channels: 3,
                pixels: (0..48).map(|v| (v * 5) as u8).collect(),
            },
            meta: ShotMeta {
                seed: Some(seed),
                latent: vec![0.25, -1.5, 3.0],
                truncation: 0.7,
                checkpoint_id: "abc123def456".into(),
                class: None,
                app_version: "0.1.0".into(),
                upscaler: None,
                edits: vec![SliderEdit {
                    slider: "Principal 1 · colour".into(),
                    amount: 1.25,
                }],
            },
        }
    }

    /// `shot`'s metadata as an export records it.
    fn exported(shot: &ShotToExport, upscaler: &str) -> ShotMeta {
        ShotMeta {
            upscaler: Some(upscaler.into()),
            ..shot.meta.clone()
        }
    }

    #[test]
    fn png_metadata_round_trips_and_nothing_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let settings = ExportSettings {
            folder: dir.path().to_path_buf(),
            size_px: 32,
            ..ExportSettings::default()
        };
        let first = export_shots(&[shot(42)], &settings, None).unwrap();
        let second = export_shots(&[shot(42)], &settings, None).unwrap();
        assert_eq!(first.written[0].file_name().unwrap(), "shot-42-001.png");
        assert_eq!(second.written[0].file_name().unwrap(), "shot-42-001-2.png");
        assert_eq!(second.renamed.len(), 1);
        let meta = read_shot_meta(&first.written[0]).unwrap();
        assert_eq!(meta, exported(&shot(42), "lanczos3"));
        let image = image::open(&first.written[0]).unwrap();
        assert_eq!((image.width(), image.height()), (32, 32));
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains("tmp")
            })
            .count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn conditional_shots_carry_their_class_in_the_file_name() {
        let mut one = shot(5);
        one.meta.class = Some("ankle boot/2".into());
        assert_eq!(
            file_name("shot-{seed}", &one, 0).unwrap(),
            "ankle-boot-2-shot-5"
        );
        assert_eq!(
            file_name("{class}_{index}", &one, 0).unwrap(),
            "ankle-boot-2_001"
        );
        assert_eq!(file_name("shot-{seed}", &shot(5), 0).unwrap(), "shot-5");
    }

    #[test]
    fn jpeg_gets_a_sidecar_and_bad_templates_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let settings = ExportSettings {
            folder: dir.path().to_path_buf(),
            format: ExportFormat::Jpeg,
            size_px: 16,
            ..ExportSettings::default()
        };
        let out = export_shots(&[shot(3)], &settings, None).unwrap();
        assert_eq!(
            read_shot_meta(&out.written[0]).unwrap(),
            exported(&shot(3), "lanczos3")
        );
        let bad = ExportSettings {
            template: "../escape".into(),
            ..settings
        };
        assert!(matches!(
            export_shots(&[shot(3)], &bad, None),
            Err(ShotExportError::BadTemplate(_))
        ));
    }

    #[test]
    fn a_learnt_export_records_its_upscaler_and_is_print_size() {
        let device = burn::tensor::Device::flex();
        let file = crate::upscale::UpscalerFile::shipped().unwrap();
        let upscaler = LearntUpscaler::new(&file, &device).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let settings = ExportSettings {
            folder: dir.path().to_path_buf(),
            size_px: 48,
            ..ExportSettings::default()
        };
        let out = export_shots(&[shot(9)], &settings, Some(&upscaler)).unwrap();
        let meta = read_shot_meta(&out.written[0]).unwrap();
        assert_eq!(meta, exported(&shot(9), &upscaler.provenance()));
        assert!(meta.upscaler.unwrap().starts_with("learnt-4x:"));
        let image = image::open(&out.written[0]).unwrap();
        assert_eq!((image.width(), image.height()), (48, 48));
    }
}
