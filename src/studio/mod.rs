//! Everything egui: the window, its panels, and the shared-wgpu-device set-up.
//!
//! The app owns a [`Studio`] (state + panels) that talks to the one worker thread through
//! typed messages only. burn is touched in one place, `gpu`, where the renderer's wgpu
//! device is handed to the worker.

mod app;
mod args;
mod background;
mod broker;
mod completion;
mod dialogs;
mod gallery;
mod gpu;
mod headless;
mod photo_in;
mod plots;
mod remote;
mod shot_panel;
mod sliders;
mod stats;
mod textures;
mod training_panel;

pub use app::{Notice, SMALL_FOLDER_MIN_STEPS, ShotEditor, Studio, grouped};
pub use args::StudioArgs;
pub use background::{Background, LoadedProject, load_project};
pub use completion::COMPLETIONS;
pub use gpu::{ComputeChoice, ComputeSetting, choose_compute};
pub use headless::{FrameBenchArgs, FrameBenchReport, bench_frames};
pub use remote::{RemotePanel, remote_token_file};
pub use sliders::{Contrast, Quality, SliderForm};
pub use stats::{Stats, StatsReport, percentile};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use eframe::egui;
use serde::{Deserialize, Serialize};

use crate::device::GpuErrorLog;
use crate::project::{RecentProjects, default_demo_root, open_or_create_demo};
use crate::worker::{Wake, WorkerDevice, spawn_worker};

/// While training, the window redraws on events and otherwise at this pace.
const TRAINING_TICK: Duration = Duration::from_millis(250);

/// App-wide settings (not per project), in `$XDG_CONFIG_HOME/atelier/settings.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppSettings {
    pub compute: ComputeSetting,
    /// The training server for `ComputeSetting::Remote` (its token is in
    /// [`remote::remote_token_file`], owner-only, not here).
    pub remote_host: String,
}

impl AppSettings {
    fn path() -> Option<PathBuf> {
        RecentProjects::default_path().map(|p| p.with_file_name("settings.json"))
    }

    #[must_use]
    pub fn load() -> Self {
        Self::path()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn save(&self) -> std::io::Result<()> {
        let Some(path) = Self::path() else {
            return Ok(());
        };
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::fsutil::write_atomic(&path, &bytes)
    }
}

/// Which project to open at start: the one asked for, else the last one, else the demo.
fn startup_project(args: &StudioArgs) -> Result<LoadedProject> {
    if let Some(root) = &args.project {
        return load_project(root, true)
            .with_context(|| format!("opening project {}", root.display()));
    }
    let last = RecentProjects::default_path()
        .map(|p| RecentProjects::load(&p))
        .and_then(|r| {
            r.paths
                .into_iter()
                .find(|p| p.join(crate::project::PROJECT_FILE).exists())
        });
    if let Some(root) = last
        && let Ok(loaded) = load_project(&root, false)
    {
        return Ok(loaded);
    }
    let root = default_demo_root();
    open_or_create_demo(&root)
        .with_context(|| format!("creating the demo project in {}", root.display()))?;
    load_project(&root, false).with_context(|| format!("opening {}", root.display()))
}

/// Opens the studio window and runs until it is closed.
pub fn run(args: StudioArgs) -> Result<()> {
    let mut loaded = startup_project(&args)?;
    let mut changed = false;
    if let Some(preset) = &args.preset {
        loaded.project.settings.preset = crate::preset::Preset::load(preset)?;
        changed = true;
    }
    if let Some(data) = &args.data {
        let data = std::fs::canonicalize(data)
            .with_context(|| format!("the image folder {}", data.display()))?;
        loaded.project.settings.data_dir = Some(data);
        changed = true;
    }
    if changed {
        loaded.project.save_settings()?;
    }
    let mut settings = AppSettings::load();
    if let Some(compute) = args.compute {
        settings.compute = compute;
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Atelier")
            .with_inner_size([1280.0, 820.0])
            .with_min_inner_size([720.0, 480.0])
            .with_drag_and_drop(true),
        renderer: eframe::Renderer::Wgpu,
        wgpu_options: gpu::wgpu_configuration(),
        ..Default::default()
    };
    let stats_out = args.stats_out.clone();
    let exit_after = args.exit_after.map(Duration::from_secs_f64);
    let auto_train = args.auto_train;
    let drive_sliders = args.drive_sliders;
    let exit_when_trained = args.exit_when_trained;
    let import = args.import.clone();
    let photo_in = args.photo_in.clone();
    eframe::run_native(
        "Atelier",
        options,
        Box::new(move |cc| {
            let gpu_errors = GpuErrorLog::default();
            let choice =
                choose_compute(settings.compute, cc.wgpu_render_state.as_ref(), &gpu_errors);
            let ctx = cc.egui_ctx.clone();
            let wake: Wake = Arc::new(move || ctx.request_repaint());
            let mut app = StudioApp::on_compute(loaded, choice, wake, gpu_errors, settings)
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })?;
            app.stats_out = stats_out;
            app.exit_at = exit_after.map(|d| Instant::now() + d);
            app.drive_sliders = drive_sliders;
            app.exit_when_trained = exit_when_trained;
            if let Some(folder) = import {
                app.studio.dropped(vec![folder]);
            }
            app.studio.shot.pending_photo = photo_in;
            if auto_train {
                app.studio.auto_train();
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("the window could not start: {e}"))
}

/// The eframe application: a [`Studio`] plus window-level concerns.
pub struct StudioApp {
    pub studio: Studio,
    pub settings: AppSettings,
    stats_out: Option<PathBuf>,
    exit_at: Option<Instant>,
    /// Drag the first shot's first slider, 1.5 s on and 1.5 s off (`--drive-sliders`, the
    /// frame bench).
    pub drive_sliders: bool,
    /// When the first drag began.
    drive_started: Option<Instant>,
    exit_when_trained: bool,
    closing: bool,
    remote_panel: remote::RemotePanel,
}

impl StudioApp {
    pub fn new(
        loaded: LoadedProject,
        device: WorkerDevice,
        wake: Wake,
        gpu_errors: GpuErrorLog,
        compute_description: String,
        settings: AppSettings,
    ) -> Result<Self> {
        let worker = spawn_worker(device, wake.clone()).context("starting the worker thread")?;
        let background = Background::new(wake.clone()).context("starting the saver thread")?;
        Ok(Self {
            studio: Studio::new(
                loaded,
                worker,
                background,
                wake,
                gpu_errors,
                compute_description,
            ),
            settings,
            stats_out: None,
            exit_at: None,
            drive_sliders: false,
            drive_started: None,
            exit_when_trained: false,
            closing: false,
            remote_panel: remote::RemotePanel::default(),
        })
    }

    /// The app on the device `choice` resolved to, with its recipe hardware and any fallback
    /// announced: what the window and the offscreen bench both start from.
    pub fn on_compute(
        loaded: LoadedProject,
        choice: ComputeChoice,
        wake: Wake,
        gpu_errors: GpuErrorLog,
        settings: AppSettings,
    ) -> Result<Self> {
        let choice = remote::apply_remote(&settings, choice);
        let mut app = Self::new(
            loaded,
            choice.worker,
            wake,
            gpu_errors,
            choice.description,
            settings,
        )?;
        app.studio.set_hardware(choice.hardware);
        if let Some(notice) = choice.fallback_notice {
            app.studio.notify(notice);
        }
        Ok(app)
    }

    fn write_stats(&self, path: &Path) {
        let report = self
            .studio
            .stats
            .report(&self.studio.gpu_errors, &self.studio.compute_description);
        if let Ok(bytes) = serde_json::to_vec_pretty(&report) {
            let _ = crate::fsutil::write_atomic(path, &bytes);
        }
    }

    /// Moves the first direction slider back and forth (for `--drive-sliders`).
    fn drive_sliders(&mut self) {
        if self.studio.generator.is_none() {
            return;
        }
        if self.studio.gallery.selected.is_empty()
            && let Some(first) = self.studio.visible_ids().first().copied()
        {
            self.studio.click_shot(first, egui::Modifiers::NONE);
        }
        // Drags of 1.5 s with 1.5 s rests, as a designer moves a slider: training runs in the
        // rests (the worker holds training back while a slider is dragged), and each drag's
        // first render meets whatever training step is under way.
        let started = *self
            .drive_started
            .get_or_insert_with(std::time::Instant::now);
        if started.elapsed().as_secs_f32() % 3.0 >= 1.5 {
            return;
        }
        if let Some(a) = self.studio.shot.editor.amounts.first_mut() {
            let t = self.studio.stats.frames as f32 * 0.05;
            *a = 2.5 * t.sin();
            self.studio.slider_moved();
        }
    }
}

impl Studio {
    /// The whole window's contents.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.pump(&ctx);
        egui::Panel::bottom("status").show(ui, |ui| self.status_ui(ui));
        egui::Panel::left("training")
            .resizable(true)
            .default_size(330.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("training-scroll")
                    .show(ui, |ui| self.training_panel_ui(ui));
            });
        self.shot.rect = Some(
            egui::Panel::right("shot")
                .resizable(true)
                .default_size(340.0)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical()
                        .id_salt("shot-scroll")
                        .show(ui, |ui| self.shot_panel_ui(ui));
                })
                .response
                .rect,
        );
        egui::CentralPanel::default().show(ui, |ui| self.gallery_ui(ui));
        self.windows_ui(&ctx);
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        let on_shot_panel = ctx
            .input(|i| i.pointer.latest_pos())
            .is_some_and(|p| self.shot.rect.is_some_and(|r| r.contains(p)));
        match dropped.as_slice() {
            [] => {}
            [photo] if on_shot_panel && photo.is_file() => self.bring_photo_in(photo.clone()),
            _ => self.dropped(dropped),
        }
        if ctx.input(|i| !i.raw.hovered_files.is_empty()) {
            egui::Area::new(egui::Id::unique("drop-hint"))
                .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
                .show(&ctx, |ui| {
                    ui.heading("Drop a folder of product photos to import it");
                });
        }
        self.shortcuts(&ctx);
    }
}

impl StudioApp {
    /// Work between frames: drain the worker's events. True once the app should close
    /// (`--exit-after` passed, or `--exit-when-trained` and the run ended).
    pub fn tick(&mut self, ctx: &egui::Context) -> bool {
        self.studio.pump(ctx);
        let trained = self.exit_when_trained
            && self.studio.training.state.is_none()
            && self.studio.training.last_summary.is_some();
        trained || self.exit_at.is_some_and(|t| Instant::now() >= t)
    }

    /// One frame of the whole window (menu bar, panels, gallery), timed into the stats.
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        let started = self.studio.frame_started();
        if self.drive_sliders {
            self.drive_sliders();
        }
        egui::Panel::top("menu").show(ui, |ui| {
            self.studio
                .menu_ui(ui, &mut self.settings, &mut self.remote_panel);
        });
        self.studio.ui(ui);
        if let Some(error) = self.remote_panel.window(ui.ctx(), &mut self.settings) {
            self.studio.report_error(error);
        }
        self.studio
            .stats
            .frame(started.elapsed().as_secs_f32() * 1000.0);
    }
}

impl eframe::App for StudioApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        // Runs even while the window is hidden, so events keep flowing when minimised.
        if self.tick(ctx) && !self.closing {
            self.closing = true;
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        if let Some(t) = self.exit_at {
            ctx.request_repaint_after(t.saturating_duration_since(Instant::now()));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame_ui(ui);
        if self.drive_sliders {
            ui.ctx().request_repaint();
        } else if self.studio.training.state.is_some() {
            // Events wake the window (a step's progress at most four times a second, see the
            // worker's outbox); this tick only keeps the clock and ETA moving. Drawing every
            // frame would take the cores training needs on a machine without a GPU.
            ui.ctx().request_repaint_after(TRAINING_TICK);
        }
    }

    fn on_exit(&mut self) {
        self.studio.shutdown();
        if let Some(path) = &self.stats_out {
            self.write_stats(path);
        }
    }
}
