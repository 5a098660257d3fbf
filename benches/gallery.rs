//! Frame time of the studio with a large gallery while training, side by side with a small
//! one: `cargo bench --bench gallery [-- SHOTS...]` (default 100 and 10,000 shots).
//!
//! Drives the real `Studio` through `egui_kittest` (the UI's CPU work: layout, tiles, event
//! handling; no GPU drawing), with the worker training `tiny-test` on the CPU and every shot
//! rendered by the demo generator. Prints the p50 / p95 of the time to build one frame.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atelier::device::GpuErrorLog;
use atelier::latent::latent_for_seed;
use atelier::preset::Preset;
use atelier::project::{DEMO_GENERATOR, Project, Shot};
use atelier::studio::{Background, Studio, load_project, percentile};
use atelier::worker::{Wake, WorkerDevice, spawn_worker};
use burn::tensor::Device;
use eframe::egui;
use egui_kittest::Harness;

const FRAMES: usize = 300;

/// A project of `shots` shots of the demo generator, with a folder of demo shirts to train on.
fn project(root: &Path, shots: usize) {
    let mut project = Project::create(root, "gallery-bench").unwrap();
    let mut preset = Preset::load("tiny-test").unwrap();
    preset.train.steps = Some(1_000_000);
    project.settings.preset = preset;
    let generators = project.generators_dir();
    std::fs::create_dir_all(&generators).unwrap();
    std::fs::write(project.generator_path("demo"), DEMO_GENERATOR).unwrap();
    for seed in 0..shots as u64 {
        project.curation.add(Shot::from_seed(
            seed,
            latent_for_seed(seed, 64),
            1.0,
            "demo".into(),
        ));
    }
    let data = root.join("shirts");
    std::fs::create_dir_all(&data).unwrap();
    for i in 0..64u64 {
        let shirt = atelier::demo::demo_shirt(i);
        atelier::export::save_png_atomic(&shirt, &data.join(format!("{i}.png"))).unwrap();
    }
    project.settings.data_dir = Some(data);
    project.save_settings().unwrap();
    project.save_curation().unwrap();
}

fn studio(root: &Path) -> Studio {
    let mut loaded = load_project(root, false).unwrap();
    loaded.recent_file = None;
    let wake: Wake = Arc::new(|| {});
    let device = WorkerDevice {
        device: Device::flex(),
        shared_with_renderer: false,
        gpu_errors: None,
        cpu_threads: Some(1),
        remote: None,
    };
    let worker = spawn_worker(device, wake.clone()).unwrap();
    let background = Background::new(wake.clone()).unwrap();
    Studio::new(
        loaded,
        worker,
        background,
        wake,
        GpuErrorLog::default(),
        "CPU (bench)".into(),
    )
}

/// (p50, p95) of the frame build time in ms, and the shots on screen.
fn measure(shots: usize) -> (f32, f32, usize) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("project");
    project(&root, shots);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, s: &mut Studio| s.ui(ui), studio(&root));
    // Every shot rendered, then training under way.
    let start = Instant::now();
    while h.state().gallery.textures.len() < shots && start.elapsed() < Duration::from_secs(600) {
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    h.state_mut().start_training(false);
    while h.state().training.step < 5 && start.elapsed() < Duration::from_secs(900) {
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut times = Vec::with_capacity(FRAMES);
    for _ in 0..FRAMES {
        let t = Instant::now();
        h.step();
        times.push(t.elapsed().as_secs_f32() * 1000.0);
    }
    let on_screen = h.state().gallery.textures.len();
    (
        percentile(&times, 0.5).unwrap_or_default(),
        percentile(&times, 0.95).unwrap_or_default(),
        on_screen,
    )
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![100, 10_000]
    } else {
        sizes
    };
    println!("shots   frame p50 ms   frame p95 ms   (training tiny-test on one core meanwhile)");
    for shots in sizes {
        let (p50, p95, rendered) = measure(shots);
        println!("{shots:>6}   {p50:>12.2}   {p95:>12.2}   ({rendered} shots rendered)");
    }
}
