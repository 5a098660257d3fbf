//! A studio project: one folder with its settings, dataset reference, import report, runs,
//! pinned generators and curation, each saved atomically as it changes.
//!
//! ```text
//! project.json        settings: data folder, recipe, current run and generator, export options
//! curation.json       every shot: latent, seed, truncation, generator id, favourite/reject/tags
//! import-report.txt   the last import's report
//! runs/run-NNN/       engine run folders (checkpoints, logs, previews)
//! generators/ID.atl   generator-only snapshots that shots were rendered from
//! ```
//! Knows nothing of egui; the studio and tests use it alike.

mod curation;
mod demo;
mod recent;
mod sliders;

pub use curation::{Curation, Shot, ShotId};
pub use demo::{DEMO_GENERATOR, default_demo_root, open_or_create_demo};
pub use recent::RecentProjects;
pub use sliders::{LearntSlider, SliderSet};

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::export::ExportSettings;
use crate::fsutil::write_atomic;
use crate::preset::Preset;
use crate::quality::QualityRecord;

/// A saved checkpoint and what was measured at its step: one line of the Checkpoint menu.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointEntry {
    pub path: PathBuf,
    /// Training step the checkpoint holds (`None` when its header cannot be read).
    pub step: Option<u64>,
    /// The held-out evaluation at that step, when one ran.
    pub quality: Option<QualityRecord>,
}

impl CheckpointEntry {
    /// The menu text: the file under `runs/`, its step, SWD, near-copy share, (28 px grey
    /// runs) feature distance, precision and recall, and the data-copying share (50 % = no copying).
    #[must_use]
    pub fn label(&self, runs_dir: &Path) -> String {
        use std::fmt::Write;
        let short = self.path.strip_prefix(runs_dir).unwrap_or(&self.path);
        let mut text = short.display().to_string();
        // Writing to a String cannot fail.
        if let Some(step) = self.step {
            let _ = write!(text, " · step {step}");
        }
        if let Some(q) = &self.quality {
            let _ = write!(
                text,
                " · held-out SWD {:.1} · near-copies {:.1} %",
                q.swd,
                100.0 * q.near_copy_fraction
            );
            if let Some(fd) = q.feature_fd {
                let _ = write!(text, " · feature FD {fd:.1}");
            }
            if let Some(pr) = q.fidelity {
                let _ = write!(
                    text,
                    " · precision {:.2} · recall {:.2}",
                    pr.precision, pr.recall
                );
            }
            if let Some(c) = q.copying {
                let _ = write!(
                    text,
                    " · nearer the training set than new photos {:.0} %",
                    100.0 * c.closer
                );
            }
            if let Some(v) = q.variety {
                let _ = write!(text, " · variety {v:.2}");
            }
        }
        text
    }
}

pub const PROJECT_FILE: &str = "project.json";
pub const CURATION_FILE: &str = "curation.json";
pub const IMPORT_REPORT_FILE: &str = "import-report.txt";

#[derive(Debug, Error)]
pub enum ProjectError {
    #[error("cannot create the project folder {path}: {source}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is damaged ({message}); the file is left as it is")]
    Damaged { path: String, message: String },
    #[error("cannot save {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{0} is not an Atelier project (no project.json)")]
    NotAProject(String),
    #[error(transparent)]
    Folder(#[from] crate::folder_lock::FolderError),
}

/// What a project remembers. Every field has a default, so older files still load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectSettings {
    pub format_version: u32,
    pub name: String,
    /// The imported image folder (absolute).
    pub data_dir: Option<PathBuf>,
    /// The recipe as edited in the training panel.
    pub preset: Preset,
    /// Folder name under `runs/` of the current run.
    pub current_run: Option<String>,
    /// Id of the generator the gallery samples new shots from (`generators/ID.atl`).
    pub generator_id: Option<String>,
    pub export: ExportSettings,
    /// Truncation ψ for new shots.
    pub truncation: f32,
    /// Show rejected shots in the gallery.
    pub show_rejected: bool,
    /// Conditional generators: the class new shots are drawn from (`None`: every class in
    /// turn).
    pub sample_class: Option<String>,
    /// Show only shots of this class in the gallery (`None`: all).
    pub class_filter: Option<String>,
    /// How long a new run trains, in minutes (the training panel's first choice); `None`:
    /// the recipe's steps or epochs (Advanced).
    #[serde(default)]
    pub train_minutes: Option<f64>,
    /// Which computed directions the shot panel's sliders follow.
    #[serde(default)]
    pub slider_set: SliderSet,
    /// Sliders the designer taught from picks, after the computed ones.
    #[serde(default)]
    pub learnt_sliders: Vec<LearntSlider>,
    /// How far "More like this" moves from the selected shot (latent-space σ per dimension).
    #[serde(default = "default_variation_distance")]
    pub variation_distance: f32,
}

fn default_variation_distance() -> f32 {
    0.35
}

/// How long a new project trains unless the designer chooses otherwise ("Good", 1 hour).
pub const NEW_PROJECT_TRAIN_MINUTES: f64 = 60.0;

impl Default for ProjectSettings {
    fn default() -> Self {
        Self {
            format_version: 1,
            name: "Untitled".into(),
            data_dir: None,
            preset: Preset::load("dcgan-28").unwrap_or_default(),
            current_run: None,
            generator_id: None,
            export: ExportSettings::default(),
            truncation: 0.8,
            show_rejected: false,
            sample_class: None,
            class_filter: None,
            train_minutes: None,
            slider_set: SliderSet::default(),
            learnt_sliders: Vec::new(),
            variation_distance: default_variation_distance(),
        }
    }
}

/// An open project: its folder plus what is saved in it.
#[derive(Clone, Debug)]
pub struct Project {
    pub root: PathBuf,
    pub settings: ProjectSettings,
    pub curation: Curation,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, ProjectError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ProjectError::Damaged {
                path: path.display().to_string(),
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ProjectError::Read {
            path: path.display().to_string(),
            source,
        }),
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), ProjectError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| ProjectError::Write {
        path: path.display().to_string(),
        source: std::io::Error::other(e),
    })?;
    write_atomic(path, &bytes).map_err(|source| ProjectError::Write {
        path: path.display().to_string(),
        source,
    })
}

impl Project {
    /// Creates a project in `root` (made if missing) and saves it.
    pub fn create(root: &Path, name: &str) -> Result<Self, ProjectError> {
        if root.is_dir() {
            crate::folder_lock::ensure_ours(root, &[PROJECT_FILE])?;
        }
        for dir in [
            root.to_path_buf(),
            root.join("runs"),
            root.join("generators"),
        ] {
            std::fs::create_dir_all(&dir).map_err(|source| ProjectError::Create {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let project = Self {
            root: root.to_path_buf(),
            settings: ProjectSettings {
                name: name.to_string(),
                export: ExportSettings {
                    folder: root.join("exports"),
                    ..ExportSettings::default()
                },
                // A designer's first choice is by time; "Good" is what a first real run wants.
                train_minutes: Some(NEW_PROJECT_TRAIN_MINUTES),
                ..ProjectSettings::default()
            },
            curation: Curation::default(),
        };
        project.save_settings()?;
        project.save_curation()?;
        Ok(project)
    }

    /// Opens the project in `root`.
    pub fn open(root: &Path) -> Result<Self, ProjectError> {
        let settings: ProjectSettings = read_json(&root.join(PROJECT_FILE))?
            .ok_or_else(|| ProjectError::NotAProject(root.display().to_string()))?;
        let curation = read_json(&root.join(CURATION_FILE))?.unwrap_or_default();
        for dir in [root.join("runs"), root.join("generators")] {
            std::fs::create_dir_all(&dir).map_err(|source| ProjectError::Create {
                path: dir.display().to_string(),
                source,
            })?;
        }
        Ok(Self {
            root: root.to_path_buf(),
            settings,
            curation,
        })
    }

    pub fn save_settings(&self) -> Result<(), ProjectError> {
        write_json(&self.root.join(PROJECT_FILE), &self.settings)
    }

    pub fn save_curation(&self) -> Result<(), ProjectError> {
        write_json(&self.root.join(CURATION_FILE), &self.curation)
    }

    #[must_use]
    pub fn generators_dir(&self) -> PathBuf {
        self.root.join("generators")
    }

    /// The pinned generator file for `id`.
    #[must_use]
    pub fn generator_path(&self, id: &str) -> PathBuf {
        self.generators_dir().join(format!("{id}.atl"))
    }

    #[must_use]
    pub fn run_dir(&self, name: &str) -> PathBuf {
        self.root.join("runs").join(name)
    }

    #[must_use]
    pub fn import_report_path(&self) -> PathBuf {
        self.root.join(IMPORT_REPORT_FILE)
    }

    /// A fresh run folder name: `run-001`, `run-002`, …
    #[must_use]
    pub fn next_run_name(&self) -> String {
        (1..100_000)
            .map(|n| format!("run-{n:03}"))
            .find(|name| !self.run_dir(name).exists())
            .unwrap_or_else(|| "run-new".into())
    }

    /// Every saved checkpoint with its step and the held-out figures measured at that step
    /// (from the run's `quality.jsonl`). Reads only checkpoint headers.
    #[must_use]
    pub fn checkpoint_entries(&self) -> Vec<CheckpointEntry> {
        self.checkpoint_files()
            .into_iter()
            .map(|path| {
                let step = crate::checkpoint::Checkpoint::peek_state(&path)
                    .ok()
                    .map(|s| s.step);
                let quality = step.and_then(|step| {
                    let log = path.parent()?.join("quality.jsonl");
                    let text = std::fs::read_to_string(log).ok()?;
                    text.lines()
                        .filter_map(|l| serde_json::from_str::<QualityRecord>(l).ok())
                        .find(|q| q.step == step)
                });
                CheckpointEntry {
                    path,
                    step,
                    quality,
                }
            })
            .collect()
    }

    /// Every saved checkpoint (`checkpoint.atl`, `best.atl`) of every run, by run name.
    #[must_use]
    pub fn checkpoint_files(&self) -> Vec<PathBuf> {
        self.runs()
            .iter()
            .flat_map(|run| {
                [crate::checkpoint::LATEST, crate::checkpoint::BEST]
                    .map(|file| self.run_dir(run).join(file))
            })
            .filter(|p| p.exists())
            .collect()
    }

    /// Run folders that hold a checkpoint, newest name last.
    #[must_use]
    pub fn runs(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.root.join("runs"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().join(crate::checkpoint::LATEST).exists())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_reopens_with_its_settings_and_curation() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Project::create(dir.path(), "Shirts").unwrap();
        p.settings.data_dir = Some("/data/shirts".into());
        p.settings.preset.train.epochs = 3;
        let id = p
            .curation
            .add(Shot::from_seed(5, vec![0.5; 4], 0.7, "gen1".into()));
        p.curation.get_mut(id).unwrap().favourite = true;
        p.save_settings().unwrap();
        p.save_curation().unwrap();
        let q = Project::open(dir.path()).unwrap();
        assert_eq!(q.settings, p.settings);
        assert_eq!(q.curation, p.curation);
        assert_eq!(q.next_run_name(), "run-001");
    }

    #[test]
    fn checkpoint_entries_carry_their_step_and_the_figures_measured_there() {
        use crate::checkpoint::{BEST, Checkpoint, LATEST, TrainState};
        let dir = tempfile::tempdir().unwrap();
        let p = Project::create(dir.path(), "Figures").unwrap();
        let run = p.run_dir("run-001");
        std::fs::create_dir_all(&run).unwrap();
        let checkpoint = |step| Checkpoint {
            format: crate::checkpoint::FORMAT_VERSION,
            state: TrainState {
                step,
                epoch: 0,
                epoch_pos: 0,
                order: Vec::new(),
                batch_rng: crate::rng::Rng::new(1),
                images_seen: 0,
                train_seconds: 0.0,
                best_swd: None,
                evals_since_best: 0,
                family: serde_json::Map::new(),
            },
            preset_toml: String::new(),
            dataset_fingerprint: String::new(),
            app_version: String::new(),
            blobs: Vec::new(),
        };
        checkpoint(700).save(&run.join(LATEST)).unwrap();
        checkpoint(500).save(&run.join(BEST)).unwrap();
        let q = |step, swd| QualityRecord {
            step,
            swd,
            swd_levels: Vec::new(),
            near_copy_fraction: 0.01,
            copying: Some(crate::quality::DataCopying {
                closer: 0.514,
                z: -0.6,
            }),
            real_images: 10,
            feature_fd: Some(swd / 2.0),
            feature_judge: None,
            fidelity: Some(crate::quality::PrecisionRecall {
                precision: 0.714,
                recall: 0.6,
            }),
            density_coverage: None,
            copying_space: None,
            variety: Some(0.93),
            judge_pending: false,
            nll_bits: None,
        };
        let log: String = [q(500, 20.5), q(1000, 30.0)]
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        std::fs::write(run.join("quality.jsonl"), log).unwrap();
        let entries = p.checkpoint_entries();
        let runs = dir.path().join("runs");
        let labels: Vec<String> = entries.iter().map(|e| e.label(&runs)).collect();
        assert_eq!(
            labels,
            [
                "run-001/checkpoint.atl · step 700".to_string(),
                "run-001/best.atl · step 500 · held-out SWD 20.5 · near-copies 1.0 % · feature FD 10.2 · precision 0.71 · recall 0.60 · nearer the training set than new photos 51 % · variety 0.93"
                    .to_string(),
            ]
        );
    }

    #[test]
    fn a_damaged_project_file_is_a_named_error_and_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PROJECT_FILE), b"{ not json").unwrap();
        let err = Project::open(dir.path()).unwrap_err();
        assert!(matches!(err, ProjectError::Damaged { .. }), "{err}");
        assert_eq!(
            std::fs::read(dir.path().join(PROJECT_FILE)).unwrap(),
            b"{ not json"
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            Project::open(empty.path()),
            Err(ProjectError::NotAProject(_))
        ));
    }
}
