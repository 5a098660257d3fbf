//! The demo project a fresh install opens into: the embedded generator (trained by Atelier on
//! the procedural demo T-shirts, recipe `demo-28`) and the demo image set itself, drawn on
//! first use, so the gallery, the sliders and training all work with no download.

use std::path::{Path, PathBuf};

use super::{Project, ProjectError};
use crate::checkpoint::Checkpoint;
use crate::preset::Preset;

/// The embedded generator-only checkpoint (see `assets/README.md`).
pub const DEMO_GENERATOR: &[u8] = include_bytes!("../../assets/demo-generator.atl");

/// `$XDG_DATA_HOME/atelier/demo-project` (or `~/.local/share/...`).
#[must_use]
pub fn default_demo_root() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("share")))
        .unwrap_or_else(std::env::temp_dir)
        .join("atelier")
        .join("demo-project")
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> ProjectError {
    let path = path.display().to_string();
    move |source| ProjectError::Write { path, source }
}

/// Opens the demo project in `root`, creating it on first use.
pub fn open_or_create_demo(root: &Path) -> Result<Project, ProjectError> {
    if root.join(super::PROJECT_FILE).exists() {
        return Project::open(root);
    }
    let mut project = Project::create(root, "Demo: T-shirts")?;
    let checkpoint =
        Checkpoint::from_bytes(DEMO_GENERATOR, "embedded demo generator").map_err(|e| {
            ProjectError::Damaged {
                path: "embedded demo generator".into(),
                message: e.to_string(),
            }
        })?;
    let id = crate::sample::generator_id(&checkpoint).map_err(|e| ProjectError::Damaged {
        path: "embedded demo generator".into(),
        message: e.to_string(),
    })?;
    let pinned = project.generator_path(&id);
    crate::fsutil::write_atomic(&pinned, DEMO_GENERATOR).map_err(write_err(&pinned))?;
    let images = root.join("images").join("demo-shirts");
    crate::demo::write_demo_set(&images, crate::demo::DEMO_SET_SIZE).map_err(|e| {
        ProjectError::Write {
            path: images.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        }
    })?;
    project.settings.data_dir = Some(images);
    project.settings.generator_id = Some(id);
    project.settings.preset = Preset::load("demo-28").unwrap_or_default();
    // The demo's small recipe trains in minutes: its own steps, not an hour.
    project.settings.train_minutes = None;
    project.save_settings()?;
    Ok(project)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_project_is_ready_to_sample_and_train() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("demo");
        let p = open_or_create_demo(&root).unwrap();
        let id = p.settings.generator_id.clone().unwrap();
        let generator = Checkpoint::load(&p.generator_path(&id)).unwrap();
        assert_eq!(crate::sample::generator_id(&generator).unwrap(), id);
        let sampler =
            crate::sample::Sampler::from_checkpoint(&generator, &burn::tensor::Device::flex())
                .unwrap();
        assert_eq!(sampler.model.resolution(), 28);
        let count = std::fs::read_dir(p.settings.data_dir.unwrap())
            .unwrap()
            .count();
        assert_eq!(count, crate::demo::DEMO_SET_SIZE);
        // Re-opening keeps what the user changed.
        let mut again = open_or_create_demo(&root).unwrap();
        again.settings.truncation = 0.5;
        again.save_settings().unwrap();
        let reopened = open_or_create_demo(&root).unwrap();
        assert!((reopened.settings.truncation - 0.5).abs() < 1e-6);
    }
}
