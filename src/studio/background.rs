//! The studio's helpers off the UI thread: file dialogs, atomic saves, exports, project loads.
//!
//! Each job runs on its own short-lived named thread (or the one saver thread) and reports back
//! through one bounded channel that the UI drains every frame, so a frame never waits on the
//! disk or on a dialog (rfd's portal dialogs can take seconds, or fail without a portal).

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::export::{ExportOutcome, ExportSettings, ShotExportError, ShotToExport};
use crate::project::{Project, ProjectError};
use crate::quality::QualityRecord;
use crate::train::MetricsRecord;

/// Which question a file dialog answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogPurpose {
    ImportFolder,
    OpenProject,
    NewProject,
    ExportFolder,
}

/// A project read from disk with the logs of its current run.
#[derive(Debug)]
pub struct LoadedProject {
    pub project: Project,
    pub metrics: Vec<MetricsRecord>,
    pub quality: Vec<QualityRecord>,
    /// Saved checkpoints, for the Checkpoint menu (kept current from training events).
    pub checkpoints: Vec<crate::project::CheckpointEntry>,
    pub recent: crate::project::RecentProjects,
    /// Where the recent list is kept (the user's config folder); `None` keeps it in memory,
    /// as tests do so that they never touch the user's list.
    pub recent_file: Option<PathBuf>,
    /// The project folder's lock: one studio writes a project at a time.
    pub lock: Option<crate::folder_lock::FolderLock>,
    /// Whether the project has learnt its own upscaler.
    pub has_upscaler: bool,
}

#[derive(Debug)]
pub enum Message {
    Picked(DialogPurpose, Option<PathBuf>),
    DialogFailed(String),
    Exported(Result<(ExportOutcome, Option<PathBuf>), ShotExportError>),
    ProjectLoaded(Result<Box<LoadedProject>, ProjectError>),
    SaveFailed(String),
}

/// A file to write atomically.
pub struct SaveJob {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

pub struct Background {
    tx: Sender<Message>,
    pub rx: Receiver<Message>,
    /// `None` once [`Background::finish`] has run.
    saves: Option<Sender<SaveJob>>,
    saver: Option<std::thread::JoinHandle<()>>,
    wake: Arc<dyn Fn() + Send + Sync>,
    /// Export and project-load threads still running (joined by [`Background::finish`], so
    /// an export under way completes before the app exits). File dialogs are not here: a
    /// dialog the user left open cannot be joined, and ends with the process.
    jobs: RefCell<Vec<(String, JoinHandle<()>)>>,
}

impl Background {
    pub fn new(wake: Arc<dyn Fn() + Send + Sync>) -> std::io::Result<Self> {
        let (tx, rx) = bounded(64);
        let (saves, save_rx) = bounded::<SaveJob>(64);
        let report = tx.clone();
        let save_wake = wake.clone();
        let saver_thread = std::thread::Builder::new()
            .name("atelier-saver".into())
            .spawn(move || {
                while let Ok(job) = save_rx.recv() {
                    // Only the newest version of each file matters.
                    let mut jobs = vec![job];
                    while let Ok(more) = save_rx.try_recv() {
                        jobs.retain(|j: &SaveJob| j.path != more.path);
                        jobs.push(more);
                    }
                    for job in jobs {
                        if let Err(e) = crate::fsutil::write_atomic(&job.path, &job.bytes) {
                            let _ = report.try_send(Message::SaveFailed(format!(
                                "cannot save {}: {e}",
                                job.path.display()
                            )));
                            save_wake();
                        }
                    }
                }
            })?;
        Ok(Self {
            tx,
            rx,
            saves: Some(saves),
            saver: Some(saver_thread),
            wake,
            jobs: RefCell::new(Vec::new()),
        })
    }

    /// Queues an atomic write. Returns false when the saver is gone or swamped.
    #[must_use]
    pub fn save(&self, path: PathBuf, bytes: Vec<u8>) -> bool {
        self.saves
            .as_ref()
            .is_some_and(|s| s.try_send(SaveJob { path, bytes }).is_ok())
    }

    /// Waits for the exports and project loads under way, then closes the save queue and
    /// waits until everything queued is written.
    pub fn finish(&mut self) {
        for (name, job) in self.jobs.take() {
            if job.join().is_err() {
                self.report_panic(&name);
            }
        }
        self.saves = None;
        if let Some(saver) = self.saver.take() {
            let _ = saver.join();
        }
    }

    /// Threads still running (exports, project loads).
    #[must_use]
    pub fn jobs_running(&self) -> usize {
        self.reap();
        self.jobs.borrow().len()
    }

    /// Joins the jobs that have ended; one that panicked is reported.
    fn reap(&self) {
        let mut jobs = self.jobs.borrow_mut();
        let (done, running): (Vec<_>, Vec<_>) =
            jobs.drain(..).partition(|(_, job)| job.is_finished());
        *jobs = running;
        drop(jobs);
        for (name, job) in done {
            if job.join().is_err() {
                self.report_panic(&name);
            }
        }
    }

    fn report_panic(&self, name: &str) {
        let _ = self.tx.try_send(Message::DialogFailed(format!(
            "{name} stopped on an internal error; nothing was lost that was saved"
        )));
    }

    /// Runs `job` on its own thread; its answer comes back as a [`Message`]. `owned` jobs
    /// are joined at [`Background::finish`]; dialogs are not (see `jobs`).
    fn spawn(&self, name: &str, owned: bool, job: impl FnOnce() -> Message + Send + 'static) {
        self.reap();
        let tx = self.tx.clone();
        let wake = self.wake.clone();
        let spawned = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let _ = tx.send(job());
                wake();
            });
        match spawned {
            Ok(handle) if owned => self.jobs.borrow_mut().push((name.to_string(), handle)),
            Ok(_) => {}
            Err(e) => {
                let _ = self
                    .tx
                    .try_send(Message::DialogFailed(format!("cannot start {name}: {e}")));
            }
        }
    }

    /// Opens a folder picker without blocking the frame.
    pub fn pick_folder(&self, purpose: DialogPurpose, title: &str) {
        let title = title.to_string();
        self.spawn("atelier-dialog", false, move || {
            let picked =
                pollster::block_on(rfd::AsyncFileDialog::new().set_title(title).pick_folder());
            Message::Picked(purpose, picked.map(|h| h.path().to_path_buf()))
        });
    }

    /// Exports on its own thread. A sharp export enlarges on the CPU with the project's own
    /// upscaler (else the shipped one), leaving the shared GPU to the worker.
    pub fn export(
        &self,
        shots: Vec<ShotToExport>,
        settings: ExportSettings,
        contact_sheet: bool,
        project_root: PathBuf,
    ) {
        self.spawn("atelier-export", true, move || {
            let chosen = match settings.upscaling {
                crate::upscale::Upscaling::Sharp => Some(crate::upscale::upscaler_of_folder(
                    &project_root,
                    &burn::tensor::Device::flex(),
                )),
                crate::upscale::Upscaling::Smooth => None,
            };
            let upscaler = chosen.as_ref().and_then(|c| c.upscaler.as_ref());
            let notice = chosen.as_ref().and_then(|c| c.notice.clone());
            let exported =
                crate::export::export_shots(&shots, &settings, upscaler).map(|mut outcome| {
                    outcome.notices.extend(notice);
                    outcome
                });
            let result = exported.and_then(|outcome| {
                let sheet = if contact_sheet && shots.len() > 1 {
                    Some(crate::export::export_contact_sheet(
                        &shots,
                        256,
                        &settings.folder,
                        "contact-sheet",
                    )?)
                } else {
                    None
                };
                Ok((outcome, sheet))
            });
            Message::Exported(result)
        });
    }

    /// Opens (or, with `create`, creates) a project and reads its current run's logs.
    pub fn load_project(&self, root: PathBuf, create: bool) {
        self.spawn("atelier-open", true, move || {
            Message::ProjectLoaded(load_project(&root, create).map(Box::new))
        });
    }
}

/// Opens or creates the project in `root` and reads its current run's logs.
/// A project open in another window is refused, naming that window's process.
pub fn load_project(root: &std::path::Path, create: bool) -> Result<LoadedProject, ProjectError> {
    use crate::project::PROJECT_FILE;
    let exists = root.join(PROJECT_FILE).exists();
    if !create && !exists {
        return Err(ProjectError::NotAProject(root.display().to_string()));
    }
    if root.is_dir() {
        // Before the lock file is made: a folder of someone else's files stays untouched.
        crate::folder_lock::ensure_ours(root, &[PROJECT_FILE])?;
    }
    let lock = crate::folder_lock::claim(root, &[PROJECT_FILE], "studio")?;
    let project = if exists {
        Project::open(root)?
    } else {
        let name = root
            .file_name()
            .map_or_else(|| "Untitled".into(), |n| n.to_string_lossy().into_owned());
        Project::create(root, &name)?
    };
    let (metrics, quality) = project
        .settings
        .current_run
        .as_ref()
        .map(|run| {
            let dir = project.run_dir(run);
            (
                read_lines(&dir.join("metrics.jsonl")),
                read_lines(&dir.join("quality.jsonl")),
            )
        })
        .unwrap_or_default();
    let checkpoints = project.checkpoint_entries();
    let recent_file = crate::project::RecentProjects::default_path();
    let recent = recent_file
        .as_deref()
        .map(crate::project::RecentProjects::load)
        .unwrap_or_default();
    let has_upscaler = project.root.join(crate::upscale::UPSCALER_FILE).exists();
    Ok(LoadedProject {
        has_upscaler,
        project,
        metrics,
        quality,
        checkpoints,
        recent,
        recent_file,
        lock: Some(lock),
    })
}

fn read_lines<T: for<'de> serde::Deserialize<'de>>(path: &std::path::Path) -> Vec<T> {
    std::fs::read_to_string(path)
        .map(|text| {
            text.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default()
}
