//! One writer per folder, and never a folder Atelier did not make.
//!
//! A run or project folder is claimed by an exclusive OS lock on its `.atelier.lock` file. The
//! OS drops the lock when the process ends, however it ends, so a crash or `kill -9` never
//! leaves a folder locked; the file stays as the mark that Atelier made the folder. Its text
//! names the holder, so a second writer can be told who it is waiting for.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// The lock file in every claimed folder.
pub const LOCK_FILE: &str = ".atelier.lock";

#[derive(Debug, Error)]
pub enum FolderError {
    #[error("{path} is not a folder")]
    NotAFolder { path: PathBuf },
    #[error(
        "{path} holds files Atelier did not create ({examples}); Atelier never writes into such a folder: choose an empty or new folder"
    )]
    NotOurs { path: PathBuf, examples: String },
    #[error("{path} is in use by {holder}; wait for it to finish, or choose another folder")]
    InUse { path: PathBuf, holder: String },
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// An exclusive claim on a folder, held until dropped.
#[derive(Debug)]
pub struct FolderLock {
    _file: File,
    path: PathBuf,
    /// Whether this claim created the folder, or only its lock file (so a start that fails
    /// can leave no trace).
    created: bool,
    created_lock_file: bool,
}

impl FolderLock {
    /// The claimed folder.
    #[must_use]
    pub fn folder(&self) -> &Path {
        &self.path
    }

    /// Removes the folder again if this claim created it and nothing but Atelier's own
    /// files are in it: a refused start writes nothing.
    pub fn abandon(self) {
        let (path, created, created_lock_file) =
            (self.path.clone(), self.created, self.created_lock_file);
        drop(self);
        if created {
            let _ = std::fs::remove_dir_all(path);
        } else if created_lock_file {
            let _ = std::fs::remove_file(path.join(LOCK_FILE));
        }
    }
}

/// Names of files a folder may hold and still count as Atelier's: `marks` are the files that
/// only Atelier writes there (say `run.json` or `checkpoint.atl`), besides the lock file.
fn foreign_entries(dir: &Path, marks: &[&str]) -> Result<Vec<String>, FolderError> {
    let entries = std::fs::read_dir(dir).map_err(|source| FolderError::Io {
        what: "read",
        path: dir.to_path_buf(),
        source,
    })?;
    let names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let ours = names
        .iter()
        .any(|n| n == LOCK_FILE || marks.contains(&n.as_str()));
    if ours {
        return Ok(Vec::new());
    }
    let mut names = names;
    names.sort();
    Ok(names)
}

/// Refuses an existing folder that holds files but none of Atelier's marks (`marks`, or a
/// lock file): Atelier never writes beside a user's own files.
pub fn ensure_ours(dir: &Path, marks: &[&str]) -> Result<(), FolderError> {
    let foreign = foreign_entries(dir, marks)?;
    if foreign.is_empty() {
        return Ok(());
    }
    let mut examples: Vec<String> = foreign.iter().take(3).cloned().collect();
    if foreign.len() > 3 {
        examples.push(format!("and {} more", foreign.len() - 3));
    }
    Err(FolderError::NotOurs {
        path: dir.to_path_buf(),
        examples: examples.join(", "),
    })
}

/// Claims `dir` for writing: creates it when missing; refuses a folder that holds files but
/// none of Atelier's marks (`marks`, or an earlier lock file); refuses a folder another
/// process holds, naming it. `what` says what the holder is doing ("train", "studio").
pub fn claim(dir: &Path, marks: &[&str], what: &str) -> Result<FolderLock, FolderError> {
    let created = !dir.exists();
    if created {
        std::fs::create_dir_all(dir).map_err(|source| FolderError::Io {
            what: "create",
            path: dir.to_path_buf(),
            source,
        })?;
    } else if !dir.is_dir() {
        return Err(FolderError::NotAFolder {
            path: dir.to_path_buf(),
        });
    }
    ensure_ours(dir, marks)?;
    let lock_path = dir.join(LOCK_FILE);
    let io = |what: &'static str| {
        let path = lock_path.clone();
        move |source| FolderError::Io { what, path, source }
    };
    let created_lock_file = !lock_path.exists();
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&lock_path)
        .map_err(io("open"))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(FolderError::InUse {
                path: dir.to_path_buf(),
                holder: if holder.is_empty() {
                    "another Atelier process".into()
                } else {
                    holder.to_string()
                },
            });
        }
        Err(TryLockError::Error(source)) => {
            return Err(FolderError::Io {
                what: "lock",
                path: lock_path,
                source,
            });
        }
    }
    let holder = format!("Atelier process {} ({what})", std::process::id());
    file.set_len(0).map_err(io("write"))?;
    file.seek(SeekFrom::Start(0)).map_err(io("write"))?;
    file.write_all(holder.as_bytes()).map_err(io("write"))?;
    Ok(FolderLock {
        _file: file,
        path: dir.to_path_buf(),
        created,
        created_lock_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_or_empty_folder_is_claimed_and_a_second_claim_names_the_first() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("run");
        let lock = claim(&dir, &[], "train").unwrap();
        assert!(dir.join(LOCK_FILE).is_file());
        let err = claim(&dir, &[], "train").unwrap_err().to_string();
        assert!(
            err.contains(&format!("Atelier process {}", std::process::id())),
            "{err}"
        );
        drop(lock);
        // Released with its holder; the lock file marks the folder as Atelier's.
        std::fs::write(dir.join("metrics.jsonl"), b"").unwrap();
        let again = claim(&dir, &[], "train").unwrap();
        drop(again);
    }

    #[test]
    fn a_folder_of_someone_elses_files_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("preview.png"), b"mine").unwrap();
        let err = claim(dir.path(), &["run.json"], "train")
            .unwrap_err()
            .to_string();
        assert!(err.contains("preview.png"), "{err}");
        assert!(!dir.path().join(LOCK_FILE).exists());
        assert_eq!(
            std::fs::read(dir.path().join("preview.png")).unwrap(),
            b"mine"
        );
        // A folder with one of Atelier's marks is Atelier's.
        std::fs::write(dir.path().join("run.json"), b"{}").unwrap();
        assert!(claim(dir.path(), &["run.json"], "train").is_ok());
    }

    #[test]
    fn abandoning_a_fresh_claim_leaves_no_folder() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("new");
        claim(&dir, &[], "train").unwrap().abandon();
        assert!(!dir.exists());
        std::fs::create_dir(&dir).unwrap();
        claim(&dir, &[], "train").unwrap().abandon();
        assert!(dir.exists(), "a folder the claim did not create stays");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "and holds nothing new"
        );
    }
}
