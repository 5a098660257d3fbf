//! Checkpoint files: everything a run needs to continue exactly, in one atomically written file.
//!
//! Layout: magic `ATELIER-CKPT\0`, format version (u32 LE), header length (u64 LE), a JSON
//! header (training state, preset TOML, a table of named records with SHA-256 each), the
//! records (burnpack bytes, or an optimiser's state), and, from format 2 on, a SHA-256 of
//! every byte before it: a flipped bit anywhere, header included, is refused. Format 1 files
//! (no trailer) still load: their records are checked by their own hashes and their header
//! by the training state's consistency checks on resume.
//!
//! The file knows records only by name; which names a model family writes, and which render
//! shots, is the family's business (`model::ModelConfig::render_records`).

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::fsutil::write_atomic;
use crate::rng::Rng;

const MAGIC: &[u8; 13] = b"ATELIER-CKPT\0";
/// Bump when the layout or the meaning of a field changes.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest format this Atelier still reads.
pub const OLDEST_FORMAT: u32 = 1;
/// Length of format 2's whole-file SHA-256 trailer.
const TRAILER_LEN: usize = 32;
/// The file name of the latest checkpoint inside a run folder.
pub const LATEST: &str = "checkpoint.atl";
/// The checkpoint with the best held-out SWD so far.
pub const BEST: &str = "best.atl";

#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error("cannot read checkpoint {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write checkpoint {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{0} is not an Atelier checkpoint")]
    NotACheckpoint(String),
    #[error(
        "{path} is checkpoint format v{found}; this Atelier reads v{OLDEST_FORMAT} to v{FORMAT_VERSION}"
    )]
    WrongVersion { path: String, found: u32 },
    #[error("checkpoint {path} is damaged: {what}")]
    Damaged { path: String, what: String },
}

/// Counters and random state: with the records, enough to resume bit-for-bit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimiser steps done (one D and one G update each, for a GAN).
    pub step: u64,
    /// Epochs completed.
    pub epoch: u64,
    /// Position inside the current epoch's order.
    pub epoch_pos: usize,
    /// The current epoch's order of training indices.
    pub order: Vec<u32>,
    pub batch_rng: Rng,
    /// Images seen in total (for images/s and ETA after resume).
    pub images_seen: u64,
    /// Seconds of training so far, across resumes.
    pub train_seconds: f64,
    /// Best held-out SWD so far (the `best.atl` checkpoint's).
    #[serde(default)]
    pub best_swd: Option<f64>,
    /// Evaluations since the best one (for early stopping).
    #[serde(default)]
    pub evals_since_best: u32,
    /// The model family's own state (a GAN's latent and augmentation random state, its
    /// augmentation strength, LeCam's moving averages…), by name. Flattened, so format-1
    /// headers, which held the GAN's fields beside the counters, read the same.
    #[serde(flatten)]
    pub family: serde_json::Map<String, serde_json::Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct BlobEntry {
    name: String,
    len: u64,
    sha256: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Header {
    state: TrainState,
    preset_toml: String,
    /// Identifies the training images; resume refuses another folder's contents.
    dataset_fingerprint: String,
    blobs: Vec<BlobEntry>,
    app_version: String,
}

/// A checkpoint in memory: state plus named binary records.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// The format the file was read in ([`FORMAT_VERSION`] for checkpoints made here).
    pub format: u32,
    pub state: TrainState,
    pub preset_toml: String,
    pub dataset_fingerprint: String,
    pub app_version: String,
    pub blobs: Vec<(String, Vec<u8>)>,
}

impl Checkpoint {
    #[must_use]
    pub fn blob(&self, name: &str) -> Option<&[u8]> {
        self.blobs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_slice())
    }

    /// Serialises to bytes (see the module docs for the layout).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            state: self.state.clone(),
            preset_toml: self.preset_toml.clone(),
            dataset_fingerprint: self.dataset_fingerprint.clone(),
            app_version: self.app_version.clone(),
            blobs: self
                .blobs
                .iter()
                .map(|(name, bytes)| BlobEntry {
                    name: name.clone(),
                    len: bytes.len() as u64,
                    sha256: hex(&Sha256::digest(bytes)),
                })
                .collect(),
        };
        // A struct of plain data always serialises.
        let json = serde_json::to_vec(&header).unwrap_or_default();
        let total: usize = self.blobs.iter().map(|(_, b)| b.len()).sum();
        let mut out = Vec::with_capacity(MAGIC.len() + 12 + json.len() + total);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(json.len() as u64).to_le_bytes());
        out.extend_from_slice(&json);
        for (_, bytes) in &self.blobs {
            out.extend_from_slice(bytes);
        }
        let trailer = Sha256::digest(&out);
        out.extend_from_slice(&trailer);
        out
    }

    /// Parses and verifies bytes; `path` only names the file in errors.
    pub fn from_bytes(bytes: &[u8], path: &str) -> Result<Self, CheckpointError> {
        let damaged = |what: &str| CheckpointError::Damaged {
            path: path.to_string(),
            what: what.to_string(),
        };
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(CheckpointError::NotACheckpoint(path.to_string()));
        }
        let mut at = MAGIC.len();
        let version = read_u32(bytes, at).ok_or_else(|| damaged("truncated header"))?;
        if !(OLDEST_FORMAT..=FORMAT_VERSION).contains(&version) {
            return Err(CheckpointError::WrongVersion {
                path: path.to_string(),
                found: version,
            });
        }
        let bytes = if version >= 2 {
            let body_len = bytes
                .len()
                .checked_sub(TRAILER_LEN)
                .ok_or_else(|| damaged("truncated file"))?;
            let (body, trailer) = bytes.split_at(body_len);
            if Sha256::digest(body).as_slice() != trailer {
                return Err(damaged(
                    "its checksum does not match: the file was changed or truncated",
                ));
            }
            body
        } else {
            bytes
        };
        at += 4;
        let header_len = read_u64(bytes, at).ok_or_else(|| damaged("truncated header"))? as usize;
        at += 8;
        let json = bytes
            .get(at..at.saturating_add(header_len))
            .ok_or_else(|| damaged("truncated header"))?;
        let header: Header =
            serde_json::from_slice(json).map_err(|e| damaged(&format!("header: {e}")))?;
        at += header_len;
        let mut blobs = Vec::with_capacity(header.blobs.len());
        for entry in &header.blobs {
            let end = at.saturating_add(entry.len as usize);
            let blob = bytes
                .get(at..end)
                .ok_or_else(|| damaged(&format!("record '{}' is truncated", entry.name)))?;
            if hex(&Sha256::digest(blob)) != entry.sha256 {
                return Err(damaged(&format!(
                    "record '{}' fails its checksum",
                    entry.name
                )));
            }
            blobs.push((entry.name.clone(), blob.to_vec()));
            at = end;
        }
        if at != bytes.len() {
            return Err(damaged("trailing bytes after the last record"));
        }
        Ok(Self {
            format: version,
            state: header.state,
            preset_toml: header.preset_toml,
            dataset_fingerprint: header.dataset_fingerprint,
            app_version: header.app_version,
            blobs,
        })
    }

    /// The training state of a checkpoint file without reading its records (the header is a
    /// few kilobytes; the records can be hundreds of megabytes): for menus and listings.
    pub fn peek_state(path: &Path) -> Result<TrainState, CheckpointError> {
        use std::io::Read;
        let shown = path.display().to_string();
        let damaged = |what: &str| CheckpointError::Damaged {
            path: shown.clone(),
            what: what.to_string(),
        };
        let read_err = |source| CheckpointError::Read {
            path: path.display().to_string(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(read_err)?;
        let mut start = [0u8; 25];
        file.read_exact(&mut start)
            .map_err(|_| CheckpointError::NotACheckpoint(shown.clone()))?;
        if &start[..MAGIC.len()] != MAGIC {
            return Err(CheckpointError::NotACheckpoint(shown.clone()));
        }
        let version = read_u32(&start, MAGIC.len()).ok_or_else(|| damaged("truncated header"))?;
        if !(OLDEST_FORMAT..=FORMAT_VERSION).contains(&version) {
            return Err(CheckpointError::WrongVersion {
                path: shown.clone(),
                found: version,
            });
        }
        let len = read_u64(&start, MAGIC.len() + 4).ok_or_else(|| damaged("truncated header"))?;
        // A header is kilobytes (the epoch order of 50,000 images is well under 1 MiB).
        if len > 64 << 20 {
            return Err(damaged("header length out of range"));
        }
        let mut json = Vec::new();
        file.take(len)
            .read_to_end(&mut json)
            .map_err(|_| damaged("truncated header"))?;
        let header: Header =
            serde_json::from_slice(&json).map_err(|e| damaged(&format!("header: {e}")))?;
        Ok(header.state)
    }

    /// Writes atomically: a kill mid-write leaves the previous checkpoint intact.
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        write_atomic(path, &self.to_bytes()).map_err(|source| CheckpointError::Write {
            path: path.display().to_string(),
            source,
        })
    }

    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    /// Short content id (first 12 hex digits of SHA-256) of the first of `records` present:
    /// the weights that render shots, for exports and the gallery to say which weights made a
    /// shot. A copy made with [`Self::keep_records`] keeps the id of the checkpoint it came
    /// from, since the record's bytes are copied as they are.
    #[must_use]
    pub fn content_id(&self, records: &[&str]) -> String {
        let mut h = Sha256::new();
        if let Some(bytes) = records.iter().find_map(|name| self.blob(name)) {
            h.update(bytes);
        }
        hex(&h.finalize())[..12].to_string()
    }

    /// A copy with only the named records (and the rest of the header): a generator-only
    /// file that pins the weights behind curated shots, or a base model to fine-tune from.
    /// `keep_order` keeps the epoch order (a base model starts its own).
    #[must_use]
    pub fn keep_records(&self, records: &[&str], keep_order: bool) -> Self {
        let mut copy = Self {
            format: FORMAT_VERSION,
            state: self.state.clone(),
            preset_toml: self.preset_toml.clone(),
            dataset_fingerprint: self.dataset_fingerprint.clone(),
            app_version: self.app_version.clone(),
            blobs: self
                .blobs
                .iter()
                .filter(|(n, _)| records.contains(&n.as_str()))
                .cloned()
                .collect(),
        };
        if !keep_order {
            copy.state.order.clear();
        }
        copy
    }
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        let family = serde_json::json!({
            "latent_rng": Rng::new(2),
            "augment_p": 0.25,
            "augment_rng": Rng::new(3),
        });
        Checkpoint {
            format: FORMAT_VERSION,
            state: TrainState {
                step: 7,
                epoch: 1,
                epoch_pos: 3,
                order: vec![2, 0, 1],
                batch_rng: Rng::new(1),
                images_seen: 448,
                train_seconds: 1.5,
                best_swd: Some(12.5),
                evals_since_best: 2,
                family: family.as_object().cloned().unwrap(),
            },
            preset_toml: "name = \"x\"".into(),
            dataset_fingerprint: "abc".into(),
            app_version: "0.1.0".into(),
            blobs: vec![("g".into(), vec![1, 2, 3]), ("d".into(), vec![4; 100])],
        }
    }

    #[test]
    fn peeking_reads_the_state_alone_and_refuses_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.atl");
        sample().save(&path).unwrap();
        assert_eq!(Checkpoint::peek_state(&path).unwrap(), sample().state);
        std::fs::write(&path, b"not a checkpoint at all, but long enough").unwrap();
        assert!(matches!(
            Checkpoint::peek_state(&path),
            Err(CheckpointError::NotACheckpoint(_))
        ));
    }

    #[test]
    fn round_trip_and_damage_detection() {
        let c = sample();
        let bytes = c.to_bytes();
        let back = Checkpoint::from_bytes(&bytes, "t").unwrap();
        assert_eq!(back.state, c.state);
        assert_eq!(back.blobs, c.blobs);

        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let err = Checkpoint::from_bytes(&flipped, "t").unwrap_err();
        assert!(matches!(err, CheckpointError::Damaged { .. }), "{err}");

        let err = Checkpoint::from_bytes(&bytes[..bytes.len() - 10], "t").unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");

        let mut other = bytes.clone();
        other[MAGIC.len()] = 99;
        let err = Checkpoint::from_bytes(&other, "t").unwrap_err();
        assert!(
            matches!(err, CheckpointError::WrongVersion { found: 99, .. }),
            "{err}"
        );

        let err = Checkpoint::from_bytes(b"PNG....", "t").unwrap_err();
        assert!(matches!(err, CheckpointError::NotACheckpoint(_)));
    }

    #[test]
    fn every_flipped_byte_is_refused_header_included() {
        let bytes = sample().to_bytes();
        for at in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x10;
            assert!(
                Checkpoint::from_bytes(&flipped, "t").is_err(),
                "a flip at byte {at} of {} was accepted",
                bytes.len()
            );
        }
    }

    #[test]
    fn format_one_files_still_load_with_their_state_in_the_family_map() {
        let c = sample();
        let mut v1 = c.to_bytes();
        v1.truncate(v1.len() - TRAILER_LEN);
        v1[MAGIC.len()..MAGIC.len() + 4].copy_from_slice(&1u32.to_le_bytes());
        let back = Checkpoint::from_bytes(&v1, "old").unwrap();
        assert_eq!(back.format, 1);
        assert_eq!(back.state, c.state);
        assert_eq!(back.blobs, c.blobs);
        assert_eq!(back.state.family["augment_p"], serde_json::json!(0.25));
    }

    #[test]
    fn kept_records_keep_their_bytes_and_so_their_id() {
        let c = sample();
        let copy = c.keep_records(&["g"], false);
        assert_eq!(copy.blobs.len(), 1);
        assert!(copy.state.order.is_empty());
        assert_eq!(copy.content_id(&["g"]), c.content_id(&["ema", "g"]));
    }
}
