//! The list of recently opened projects, kept in the user's config folder.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const KEEP: usize = 10;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecentProjects {
    pub paths: Vec<PathBuf>,
}

impl RecentProjects {
    /// `$XDG_CONFIG_HOME/atelier/recent.json` (or `~/.config/...`).
    #[must_use]
    pub fn default_path() -> Option<PathBuf> {
        std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
            .map(|base| base.join("atelier").join("recent.json"))
    }

    /// Loads the list; a missing or damaged file is an empty list (it is only a convenience).
    #[must_use]
    pub fn load(path: &Path) -> Self {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn push(&mut self, project: &Path) {
        self.paths.retain(|p| p != project);
        self.paths.insert(0, project.to_path_buf());
        self.paths.truncate(KEEP);
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::fsutil::write_atomic(path, &bytes)
    }
}
