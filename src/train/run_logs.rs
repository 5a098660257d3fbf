//! The run folder's JSON files: `run.json`, and the JSON-lines logs (`metrics.jsonl`,
//! `quality.jsonl`) appended as a run goes and cut back to the checkpoint on resume.

use std::path::{Path, PathBuf};

use crate::fsutil::write_atomic;

/// `run.json`: where a run's data came from, so `atelier eval` can find its held-out images.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RunInfo {
    pub data_dir: PathBuf,
    pub app_version: String,
}

/// On resume: drops JSON lines whose `step` is after the checkpoint, so the logs match the
/// weights (a torn last line from a kill goes too).
pub(super) fn truncate_json_lines(path: &Path, step: u64) -> std::io::Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut kept = String::new();
    for line in text.lines().filter(|l| {
        serde_json::from_str::<serde_json::Value>(l)
            .ok()
            .and_then(|v| v.get("step").and_then(serde_json::Value::as_u64))
            .is_some_and(|s| s <= step)
    }) {
        kept.push_str(line);
        kept.push('\n');
    }
    write_atomic(path, kept.as_bytes())
}

/// Appends one JSON line.
pub(super) fn append_json_line<T: serde::Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    use std::io::Write;
    let line = serde_json::to_string(value).map_err(std::io::Error::other)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(file, "{line}")
}
