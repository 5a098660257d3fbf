//! The studio's start-up options (`atelier studio …`): the studio owns them, the command
//! line only parses them.

use std::path::PathBuf;

use clap::Args;

use super::ComputeSetting;

#[derive(Debug, Args, Default)]
pub struct StudioArgs {
    /// Project folder to open (created if it holds no project). Default: the last project,
    /// else the embedded demo project.
    #[arg(long)]
    pub project: Option<PathBuf>,
    /// Where training and sampling run: auto, shared, separate, cpu or remote (training on the server set in Settings, renders here) (default: the saved
    /// setting, else auto).
    #[arg(long)]
    pub compute: Option<ComputeSetting>,
    /// Write frame-time, slider-latency and GPU-error figures as JSON here at exit.
    #[arg(long)]
    pub stats_out: Option<PathBuf>,
    /// Start (or resume) training as soon as the project is open.
    #[arg(long)]
    pub auto_train: bool,
    /// Close the window after this many seconds (for benchmarks and screenshots).
    #[arg(long)]
    pub exit_after: Option<f64>,
    /// Close the window when the training started with `--auto-train` ends.
    #[arg(long)]
    pub exit_when_trained: bool,
    /// Move the sliders of the first shot continuously (measures slider latency).
    #[arg(long)]
    pub drive_sliders: bool,
    /// Set the project's image folder (as if it had been dropped on the window).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Import this folder at start, exactly as if it had been dropped on the window.
    #[arg(long)]
    pub import: Option<PathBuf>,
    /// Bring this photo into the generator once it is loaded, exactly as if it had been
    /// dropped on the Shot panel.
    #[arg(long)]
    pub photo_in: Option<PathBuf>,
    /// Set the project's training recipe (a preset name or a .toml file).
    #[arg(long)]
    pub preset: Option<String>,
}
