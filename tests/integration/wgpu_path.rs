//! The GPU code path: one tiny training step and one sample on wgpu. With no GPU this runs on
//! Mesa's software Vulkan (lavapipe, installed by `.ci/run`), which is slow, hence tiny.

#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::many_single_char_names
)]

use std::sync::Arc;

use atelier::data::Dataset;
use atelier::preset::Preset;
use atelier::train::TrainSession;
use burn::tensor::{Device, DeviceKind};

/// One DCGAN step on wgpu.
#[test]
fn one_tiny_step_and_a_sample_on_wgpu() {
    one_step_and_a_sample("tiny-test");
}

/// One FastGAN step on wgpu (its own test, so it compiles its kernels beside the other one:
/// on software Vulkan each new kernel costs seconds).
#[test]
fn one_tiny_fastgan_step_and_a_sample_on_wgpu() {
    one_step_and_a_sample("tiny-fastgan");
}

/// One PixelCNN step and a (pixel-by-pixel) sample on wgpu.
#[test]
fn one_tiny_pixelcnn_step_and_a_sample_on_wgpu() {
    one_step_and_a_sample("tiny-pixelcnn");
}

fn one_step_and_a_sample(name: &str) {
    // The lazy constructor, not `wgpu_options().init()`: the resume tests in this binary bring
    // up the same default runtime (burn restores optimiser state on `Device::default()`), and
    // a second `init` of one runtime is an error. Without an adapter this panics at the first
    // tensor; on Debian install mesa-vulkan-drivers (.ci/run does).
    let device = Device::wgpu(DeviceKind::DefaultDevice);
    let mut preset = Preset::load(name).unwrap();
    preset.train.batch = 4;
    let n = 8;
    let (side, channels) = (preset.model.resolution(), preset.model.channels());
    let latent = preset.model.latent_dim();
    let pixels: Vec<u8> = (0..n * channels * side * side)
        .map(|i| (i * 37 % 251) as u8)
        .collect();
    let data = Dataset {
        resolution: side,
        channels,
        pixels,
        labels: vec![0; n],
        class_names: vec!["t".into()],
        sources: vec![std::path::PathBuf::default(); n],
        content_hashes: (0..n).map(|i| [i as u8; 32]).collect(),
    };
    let mut session = TrainSession::new(preset, Arc::new(data), (0..n).collect(), &device).unwrap();
    session.step().unwrap();
    let m = session.take_metrics().unwrap().unwrap();
    assert!(m.is_finite(), "{name}: {m:?}");
    // A GAN's D loss, or an autoregressive model's likelihood.
    let loss = m.get("d_loss").or_else(|| m.get("nll_bits"));
    assert!(loss.is_some_and(|l| l > 0.0), "{name}: {m:?}");
    assert_eq!(session.state().step, 1);
    let shots = session
        .sampler(&device)
        .unwrap()
        .render(&[vec![0.5; latent]])
        .unwrap();
    assert_eq!(shots[0].pixels.len(), channels * side * side, "{name}");
}

/// The frame bench (`atelier bench-ui`, `benches/gpu-check.sh`): the real studio drawn
/// offscreen by egui's wgpu renderer, frame after frame, while the worker trains (on the CPU
/// here; `--compute shared` is the GPU machine's case) and a slider moves, with a full gallery.
#[test]
fn the_offscreen_frame_bench_draws_the_studio_while_it_trains_and_a_slider_moves() {
    use atelier::studio::{ComputeSetting, FrameBenchArgs, bench_frames};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ui.json");
    let args = FrameBenchArgs {
        preset: "tiny-test".into(),
        compute: ComputeSetting::Cpu,
        seconds: 4.0,
        warm_up_limit: 300.0,
        shots: 300,
        data: None,
        width: 1280,
        height: 820,
        out: Some(out.clone()),
    };
    let report = bench_frames(&args).unwrap();
    assert!(report.frames >= 5, "{report:?}");
    let (p50, p95) = (report.frame_ms_p50.unwrap(), report.frame_ms_p95.unwrap());
    assert!(p50 > 0.0 && p95 >= p50, "{report:?}");
    assert!(report.gpu_wait_ms_p50.unwrap() <= p50, "{report:?}");
    assert!(report.training_steps > 0, "{report:?}");
    assert!(report.studio.slider_samples > 0, "{report:?}");
    assert!(
        report.shots > 300,
        "the run's own shots join the gallery: {report:?}"
    );
    assert!(report.peak_rss_mb.unwrap() > 1.0, "{report:?}");
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(written["frames"], report.frames);
}
