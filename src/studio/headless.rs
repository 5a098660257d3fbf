//! `atelier bench-ui`: the studio's frame time and slider latency, measured offscreen.
//!
//! The real `StudioApp` (menu, panels, gallery, sliders) runs frame after frame through egui's
//! wgpu renderer into an offscreen texture of the window's size, on the device that the worker
//! trains on, exactly as the window shares it. Each frame is timed from its start until the
//! GPU has finished drawing it, so a frame queued behind training work counts in full: what a
//! designer would wait for. No window and no display are needed, which is what a bare GPU
//! server offers (`benches/gpu-check.sh`); a software-rendered window would measure the
//! software rasteriser instead.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use eframe::egui;
use eframe::egui_wgpu::{
    RenderState, RendererOptions, ScreenDescriptor, WgpuConfiguration, WgpuSetup, wgpu,
};
use serde::Serialize;

use super::{AppSettings, ComputeSetting, StatsReport, StudioApp, percentile};
use crate::device::GpuErrorLog;
use crate::export::{Picture, save_png_atomic};
use crate::latent::latent_for_seed;
use crate::preset::Preset;
use crate::project::{DEMO_GENERATOR, Project, Shot};
use crate::worker::Wake;

/// A display's refresh: frames are paced to it, as vsync would.
const FRAME_BUDGET: Duration = Duration::from_micros(16_667);
/// Synthetic photos to train on when no folder is given.
const SYNTHETIC_PHOTOS: usize = 96;
/// The run checkpoints this often at most, so its first generator (and the sliders on it)
/// arrive early in the bench.
const BENCH_CHECKPOINT_EVERY: u64 = 50;
/// The embedded demo generator's latent size.
const DEMO_LATENT_DIM: usize = 64;

#[derive(Debug, Args, Clone)]
pub struct FrameBenchArgs {
    /// The recipe the worker trains meanwhile; the sliders render at its resolution.
    #[arg(long, default_value = "fastgan-128-rgb")]
    pub preset: String,
    /// Where training and sampling run: `shared` is the product's shape (one wgpu device for
    /// the window and the worker); `cpu` is the baseline.
    #[arg(long, default_value = "shared")]
    pub compute: ComputeSetting,
    /// Seconds of measured frames, counted from the run's first generator.
    #[arg(long, default_value_t = 30.0)]
    pub seconds: f64,
    /// Give up when the run has no generator after this many seconds.
    #[arg(long, default_value_t = 600.0)]
    pub warm_up_limit: f64,
    /// Extra shots in the gallery (rendered by the embedded demo generator): a full gallery.
    #[arg(long, default_value_t = 0)]
    pub shots: usize,
    /// Photos to train on; default: synthetic colour products in a temporary folder.
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    #[arg(long, default_value_t = 820)]
    pub height: u32,
    /// Also write the figures here as JSON.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// What `bench-ui` measured. Frame figures are from a frame's start until the GPU finished
/// it; `studio` holds the studio's own series (UI build time, slider latency).
#[derive(Debug, Serialize)]
pub struct FrameBenchReport {
    pub adapter: String,
    pub adapter_type: String,
    pub backend: String,
    pub compute: String,
    pub preset: String,
    pub resolution: usize,
    pub width: u32,
    pub height: u32,
    pub seconds: f64,
    pub frames: usize,
    pub frame_ms_p50: Option<f32>,
    pub frame_ms_p95: Option<f32>,
    pub frame_ms_p99: Option<f32>,
    /// Of the above: from submitting the frame until the GPU finished it.
    pub gpu_wait_ms_p50: Option<f32>,
    pub gpu_wait_ms_p95: Option<f32>,
    pub training_steps: u64,
    pub training_images_per_s: f64,
    pub shots: usize,
    /// Shots with a picture in memory (the gallery renders what comes into view).
    pub shots_rendered: usize,
    /// The process's peak resident memory (`VmHWM`), MB.
    pub peak_rss_mb: Option<f64>,
    pub studio: StatsReport,
}

/// Runs the bench and returns its figures (also written to `args.out`).
pub fn bench_frames(args: &FrameBenchArgs) -> Result<FrameBenchReport> {
    let scratch = Scratch::new()?;
    let preset = bench_preset(&args.preset)?;
    let data = match &args.data {
        Some(dir) => dir.clone(),
        None => synthetic_photos(&scratch.path.join("photos"), preset.model.channels())?,
    };
    let root = scratch.path.join("project");
    seed_project(&root, preset.clone(), &data, args.shots)?;

    let gpu_errors = GpuErrorLog::default();
    let started = Instant::now();
    let (choice, render_state) = render_device(args.compute, &gpu_errors)?;
    let info = render_state.adapter.get_info();
    // Progress on stderr: a bench stopped from outside still says how far it got.
    eprintln!(
        "bench-ui: device on {} ({:?}) after {:.1} s",
        info.name,
        info.backend,
        started.elapsed().as_secs_f64()
    );
    if let Some(notice) = &choice.fallback_notice {
        eprintln!("bench-ui: {notice}");
    }
    eprintln!("bench-ui: training on {}", choice.description);
    let mut loaded = super::load_project(&root, false)?;
    loaded.recent_file = None;
    let wake: Wake = Arc::new(|| {});
    let settings = AppSettings {
        compute: args.compute,
        ..AppSettings::default()
    };
    let mut app = StudioApp::on_compute(loaded, choice, wake, gpu_errors, settings)?;
    app.drive_sliders = true;
    app.studio.start_training(false);

    let mut frames = OffscreenFrames::new(&render_state, args.width, args.height);
    let measured = frames.run(&mut app, args)?;
    app.studio.shutdown();
    let studio = app
        .studio
        .stats
        .report(&app.studio.gpu_errors, &app.studio.compute_description);
    let steps = studio
        .training_steps_last_seen
        .saturating_sub(studio.training_steps_first_seen.unwrap_or(0));
    let report = FrameBenchReport {
        adapter: info.name,
        adapter_type: format!("{:?}", info.device_type),
        backend: format!("{:?}", info.backend),
        compute: studio.compute.clone(),
        preset: preset.name.clone(),
        resolution: preset.model.resolution(),
        width: args.width,
        height: args.height,
        seconds: measured.seconds,
        frames: measured.frame_ms.len(),
        frame_ms_p50: percentile(&measured.frame_ms, 0.5),
        frame_ms_p95: percentile(&measured.frame_ms, 0.95),
        frame_ms_p99: percentile(&measured.frame_ms, 0.99),
        gpu_wait_ms_p50: percentile(&measured.gpu_wait_ms, 0.5),
        gpu_wait_ms_p95: percentile(&measured.gpu_wait_ms, 0.95),
        training_steps: steps,
        training_images_per_s: (steps as usize * preset.train.batch) as f64
            / measured.seconds.max(1e-9),
        shots: app.studio.project.curation.shots.len(),
        shots_rendered: app.studio.gallery.pictures.len(),
        peak_rss_mb: peak_rss_mb(),
        studio,
    };
    if let Some(out) = &args.out {
        let bytes = serde_json::to_vec_pretty(&report)?;
        crate::fsutil::write_atomic(out, &bytes)
            .with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(report)
}

/// The renderer's device and the worker's compute. burn creates the wgpu device where it
/// can (see `burn_created_render_device`); where this process already runs burn's default
/// wgpu runtime (the test binary), eframe creates it instead and burn shares it, as in the
/// window.
fn render_device(
    compute: ComputeSetting,
    gpu_errors: &GpuErrorLog,
) -> Result<(super::ComputeChoice, RenderState)> {
    let (choice, config) = match super::gpu::burn_created_render_device(compute, gpu_errors) {
        Ok((choice, existing)) => (
            Some(choice),
            WgpuConfiguration {
                wgpu_setup: WgpuSetup::Existing(existing),
                ..Default::default()
            },
        ),
        Err(error) => {
            eprintln!("bench-ui: burn could not create a wgpu device ({error}); eframe creates it");
            (None, super::gpu::wgpu_configuration())
        }
    };
    let instance = pollster::block_on(config.wgpu_setup.new_instance());
    let render_state = pollster::block_on(RenderState::create(
        &config,
        &instance,
        None,
        RendererOptions::default(),
    ))
    .context("creating the renderer's wgpu device")?;
    let choice =
        choice.unwrap_or_else(|| super::choose_compute(compute, Some(&render_state), gpu_errors));
    Ok((choice, render_state))
}

/// The preset, set to train without end, checkpoint early and skip held-out evaluations
/// (their one-off class judge would time something else than the studio).
fn bench_preset(name: &str) -> Result<Preset> {
    let mut preset = Preset::load(name).with_context(|| format!("loading preset {name}"))?;
    preset.train.steps = Some(1_000_000_000);
    preset.train.epochs = 1_000_000;
    preset.train.checkpoint_every = preset.train.checkpoint_every.min(BENCH_CHECKPOINT_EVERY);
    preset.train.eval_every = 0;
    Ok(preset)
}

/// A new project training `preset` on `data`, with `shots` shots of the demo generator.
fn seed_project(root: &Path, preset: Preset, data: &Path, shots: usize) -> Result<()> {
    let mut project = Project::create(root, "frame-bench")?;
    project.settings.preset = preset;
    project.settings.data_dir = Some(data.to_path_buf());
    if shots > 0 {
        std::fs::create_dir_all(project.generators_dir())?;
        std::fs::write(project.generator_path("demo"), DEMO_GENERATOR)?;
        for seed in 0..shots as u64 {
            project.curation.add(Shot::from_seed(
                seed,
                latent_for_seed(seed, DEMO_LATENT_DIM),
                1.0,
                "demo".into(),
            ));
        }
        project.save_curation()?;
    }
    project.save_settings()?;
    Ok(())
}

/// Procedural products (the demo's T-shirts, tinted one colour each) at 96 px.
fn synthetic_photos(dir: &Path, channels: usize) -> Result<PathBuf> {
    const SIDE: usize = 96;
    std::fs::create_dir_all(dir)?;
    for i in 0..SYNTHETIC_PHOTOS {
        let shirt = crate::demo::demo_shirt(i as u64);
        let tint = [
            (i * 37 % 255) as f32 / 255.0,
            (i * 91 % 255) as f32 / 255.0,
            (i * 53 % 255) as f32 / 255.0,
        ];
        let mut pixels = Vec::with_capacity(SIDE * SIDE * channels);
        for y in 0..SIDE {
            for x in 0..SIDE {
                let v = f32::from(
                    shirt.pixels[(y * shirt.height / SIDE) * shirt.width + x * shirt.width / SIDE],
                ) / 255.0;
                for t in tint.iter().take(channels) {
                    // Shirt pixels take the tint; the background stays white.
                    pixels.push((255.0 * (1.0 - v * (1.0 - t))) as u8);
                }
            }
        }
        let picture = Picture {
            width: SIDE,
            height: SIDE,
            channels,
            pixels,
        };
        save_png_atomic(&picture, &dir.join(format!("product-{i:03}.png")))?;
    }
    Ok(dir.to_path_buf())
}

/// Frame series of the measured phase.
struct Measured {
    seconds: f64,
    frame_ms: Vec<f32>,
    gpu_wait_ms: Vec<f32>,
}

/// egui's renderer drawing into a texture the size of the window.
struct OffscreenFrames<'a> {
    render_state: &'a RenderState,
    view: wgpu::TextureView,
    screen: ScreenDescriptor,
    ctx: egui::Context,
    started: Instant,
}

impl<'a> OffscreenFrames<'a> {
    fn new(render_state: &'a RenderState, width: u32, height: u32) -> Self {
        let texture = render_state
            .device
            .create_texture(&wgpu::TextureDescriptor {
                label: Some("atelier offscreen window"),
                size: wgpu::Extent3d {
                    width,
                    height,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: render_state.target_format,
                usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
                view_formats: &[],
            });
        Self {
            render_state,
            view: texture.create_view(&wgpu::TextureViewDescriptor::default()),
            screen: ScreenDescriptor {
                size_in_pixels: [width, height],
                pixels_per_point: 1.0,
            },
            ctx: egui::Context::default(),
            started: Instant::now(),
        }
    }

    /// Frames until the run's first generator is there (the warm-up), then `args.seconds`
    /// of measured frames, with the studio's own figures restarted at that point.
    fn run(&mut self, app: &mut StudioApp, args: &FrameBenchArgs) -> Result<Measured> {
        let warm_up_until = Instant::now() + Duration::from_secs_f64(args.warm_up_limit);
        let warm_up = Instant::now();
        let mut next_report = Duration::ZERO;
        let mut frames = 0_usize;
        while !run_generator_ready(app) {
            if warm_up.elapsed() >= next_report {
                eprintln!(
                    "bench-ui: warming up, {:.0} s, {frames} frames, training {:?}",
                    warm_up.elapsed().as_secs_f64(),
                    app.studio.training.state
                );
                next_report += Duration::from_secs(10);
            }
            frames += 1;
            if Instant::now() > warm_up_until {
                bail!(
                    "the run had no generator after {:.0} s (raise --warm-up-limit on a slow device)",
                    args.warm_up_limit
                );
            }
            if app.studio.training.state.is_none() && app.studio.training.last_summary.is_some() {
                bail!("the bench's training run ended before its first generator");
            }
            self.frame(app)?;
        }
        eprintln!(
            "bench-ui: the run's generator is up after {:.0} s; measuring",
            warm_up.elapsed().as_secs_f64()
        );
        pick_a_run_shot(app);
        app.studio.stats = super::Stats::default();
        let mut measured = Measured {
            seconds: 0.0,
            frame_ms: Vec::new(),
            gpu_wait_ms: Vec::new(),
        };
        let start = Instant::now();
        while start.elapsed().as_secs_f64() < args.seconds {
            let (frame_ms, gpu_wait_ms) = self.frame(app)?;
            measured.frame_ms.push(frame_ms);
            measured.gpu_wait_ms.push(gpu_wait_ms);
        }
        measured.seconds = start.elapsed().as_secs_f64();
        Ok(measured)
    }

    /// One paced frame: events, UI, tessellation, drawing, and the wait for the GPU. Returns
    /// (frame ms, GPU wait ms).
    fn frame(&mut self, app: &mut StudioApp) -> Result<(f32, f32)> {
        let begin = Instant::now();
        let rs = self.render_state;
        let size = egui::vec2(
            self.screen.size_in_pixels[0] as f32,
            self.screen.size_in_pixels[1] as f32,
        );
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, size)),
            time: Some(self.started.elapsed().as_secs_f64()),
            ..Default::default()
        };
        app.tick(&self.ctx);
        let output = self.ctx.run_ui(input, |ui| app.frame_ui(ui));
        let jobs = self.ctx.tessellate(output.shapes, output.pixels_per_point);
        let mut renderer = rs.renderer.write();
        for (id, deltas) in &output.textures_delta.set {
            for delta in deltas {
                renderer.update_texture(&rs.device, &rs.queue, *id, delta);
            }
        }
        let mut encoder = rs
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("atelier offscreen frame"),
            });
        let mut commands =
            renderer.update_buffers(&rs.device, &rs.queue, &mut encoder, &jobs, &self.screen);
        {
            let pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("atelier offscreen ui"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &self.view,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: wgpu::StoreOp::Store,
                    },
                    depth_slice: None,
                })],
                depth_stencil_attachment: None,
                occlusion_query_set: None,
                timestamp_writes: None,
                multiview_mask: None,
            });
            renderer.render(&mut pass.forget_lifetime(), &jobs, &self.screen);
        }
        commands.push(encoder.finish());
        let submitted = Instant::now();
        let index = rs.queue.submit(commands);
        rs.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: Some(Duration::from_secs(60)),
            })
            .map_err(|e| anyhow::anyhow!("the GPU did not finish a frame: {e}"))?;
        for id in &output.textures_delta.free {
            renderer.free_texture(id);
        }
        drop(renderer);
        let gpu_wait = submitted.elapsed();
        let elapsed = begin.elapsed();
        if let Some(rest) = FRAME_BUDGET.checked_sub(elapsed) {
            std::thread::sleep(rest);
        }
        Ok((
            elapsed.as_secs_f32() * 1000.0,
            gpu_wait.as_secs_f32() * 1000.0,
        ))
    }
}

/// The running run has written a generator, and the studio shows it.
fn run_generator_ready(app: &StudioApp) -> bool {
    let studio = &app.studio;
    studio.generator.as_ref().is_some_and(|g| g.id != "demo")
        && matches!(
            studio.training.state,
            Some(crate::protocol::TrainingState::Running)
        )
}

/// Selects a shot of the run's generator for the slider drive (a seeded gallery holds demo
/// shots only: ask for some of the run's first).
fn pick_a_run_shot(app: &mut StudioApp) {
    let studio = &mut app.studio;
    let Some(id) = studio.generator.as_ref().map(|g| g.id.clone()) else {
        return;
    };
    if !studio
        .project
        .curation
        .shots
        .iter()
        .any(|s| s.generator_id == id)
    {
        studio.generate(8);
    }
    if let Some(shot) = studio
        .project
        .curation
        .shots
        .iter()
        .rev()
        .find(|s| s.generator_id == id)
        .map(|s| s.id)
    {
        studio.gallery.selected.clear();
        studio.click_shot(shot, egui::Modifiers::NONE);
    }
}

/// Peak resident memory of this process (Linux `VmHWM`), MB.
#[must_use]
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// A temporary folder removed on drop.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn new() -> Result<Self> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path =
            std::env::temp_dir().join(format!("atelier-bench-ui-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self { path })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
