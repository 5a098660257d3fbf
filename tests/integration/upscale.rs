//! The learnt upscaler end to end: taught from photos by the CLI and by the worker, resumed,
//! used by `upscale` and `sample --size`, and replaced by Lanczos (with a notice) when its
//! file is damaged or missing.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use atelier::protocol::{Command as WorkerCommand, Control, Event, UpscalerEvent};
use atelier::worker::{WorkerDevice, spawn_worker};
use burn::tensor::Device;

use crate::common::atelier;

/// Four 120 × 100 colour "photos" with stripes and checks: detail a 4× shrink loses.
fn photo_folder(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for k in 0..4u32 {
        let photo = image::RgbImage::from_fn(120, 100, |x, y| {
            let on = ((x + 3 * k) / 3 + (y / 5)) % 2 == 0;
            image::Rgb([
                if on { 230 } else { 20 },
                (x * 2) as u8,
                (y * 2 + k * 40) as u8,
            ])
        });
        photo.save(dir.join(format!("photo-{k}.png"))).unwrap();
    }
}

/// `atelier train-upscaler --data DATA --steps N` on the CPU into `target` (`--out FILE` or
/// `--run DIR`), with `extra` flags; a tiny network unless `extra` says otherwise.
fn train_upscaler(
    data: &Path,
    target: (&str, &Path),
    steps: &str,
    extra: &[&str],
) -> (i32, String, String) {
    let mut args = vec![
        "train-upscaler",
        "--data",
        data.to_str().unwrap(),
        target.0,
        target.1.to_str().unwrap(),
        "--steps",
        steps,
        "--batch",
        "2",
        "--device",
        "cpu",
    ];
    if !extra.contains(&"--init") {
        args.extend(["--width", "8", "--blocks", "1"]);
    }
    args.extend_from_slice(extra);
    atelier(&args)
}

fn tiny_upscaler(data: &Path, out: &Path, steps: &str, resume: bool) -> (i32, String, String) {
    let extra: &[&str] = if resume { &["--resume"] } else { &[] };
    train_upscaler(data, ("--out", out), steps, extra)
}

/// `atelier upscale --upscaler FILE --image PHOTO --factor F --out BIG` on the CPU.
fn upscale_with(upscaler: &Path, photo: &Path, factor: &str, big: &Path) -> (i32, String, String) {
    atelier(&[
        "upscale",
        "--upscaler",
        upscaler.to_str().unwrap(),
        "--image",
        photo.to_str().unwrap(),
        "--factor",
        factor,
        "--out",
        big.to_str().unwrap(),
        "--device",
        "cpu",
    ])
}

#[test]
fn train_an_upscaler_resume_it_and_enlarge_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("photos");
    photo_folder(&data);
    let file = tmp.path().join("mine.atl");
    let (code, out, err) = tiny_upscaler(&data, &file, "2", false);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("after 2 steps"), "{out}");
    assert!(err.contains("photos: 4 used"), "{err}");
    // An existing upscaler is never overwritten; --resume goes on from it.
    let (code, _, err) = tiny_upscaler(&data, &file, "3", false);
    assert_ne!(code, 0);
    assert!(err.contains("already exists"), "{err}");
    let (code, out, err) = tiny_upscaler(&data, &file, "3", true);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("after 3 steps"), "{out}");

    // Fine-tuning the shipped upscaler keeps its shape, whatever the flags for a new one say.
    let tuned = tmp.path().join("tuned.atl");
    let (code, out, err) = train_upscaler(&data, ("--out", &tuned), "1", &["--init", "shipped"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("4 residual blocks of 32 channels"), "{err}");
    let tuned = atelier::upscale::UpscalerFile::load(&tuned).unwrap();
    let shipped = atelier::upscale::UpscalerFile::shipped().unwrap();
    assert_eq!(tuned.recipe.upscaler, shipped.recipe.upscaler);
    assert!((tuned.recipe.training.lr - shipped.recipe.training.lr / 5.0).abs() < 1e-12);

    // 4× per pass; 8× chains two passes and shrinks the last to size.
    let photo = data.join("photo-0.png");
    for (factor, side) in [("4", (480, 400)), ("8", (960, 800))] {
        let big = tmp.path().join(format!("big-{factor}.png"));
        let (code, out, err) = upscale_with(&file, &photo, factor, &big);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("learnt-4x:"), "{out}");
        assert_eq!(image::image_dimensions(&big).unwrap(), side);
    }

    // The shipped upscaler, judged against Lanczos on these photos.
    let (code, out, err) = atelier(&[
        "eval-upscaler",
        "--data",
        data.to_str().unwrap(),
        "--export-side",
        "128",
        "--device",
        "cpu",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("4 photos"), "{out}");
    assert!(out.contains("learnt − lanczos"), "{out}");
}

#[test]
fn a_damaged_or_missing_upscaler_falls_back_to_lanczos_with_a_notice() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("photos");
    photo_folder(&data);
    let file = tmp.path().join("mine.atl");
    assert_eq!(tiny_upscaler(&data, &file, "1", false).0, 0);
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&file, bytes).unwrap();
    let photo = data.join("photo-1.png");
    for upscaler in [file.clone(), tmp.path().join("missing.atl")] {
        let big = tmp.path().join("big.png");
        let (code, out, err) = upscale_with(&upscaler, &photo, "2", &big);
        assert_eq!(code, 0, "{out}{err}");
        assert!(err.contains("enlarging with Lanczos instead"), "{err}");
        assert!(out.contains("lanczos3"), "{out}");
        assert_eq!(image::image_dimensions(&big).unwrap(), (240, 200));
    }
}

#[test]
fn sample_at_print_size_uses_the_runs_own_upscaler() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("shirts");
    crate::common::two_class_folder(&data, 8, 1);
    let run = tmp.path().join("run");
    crate::common::train_tiny_run(&data, &run, "2");
    let photos = tmp.path().join("photos");
    photo_folder(&photos);
    let (code, out, err) = train_upscaler(&photos, ("--run", &run), "1", &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(run.join("upscaler.atl").exists());
    let shots = tmp.path().join("shots");
    let (code, out, err) = atelier(&[
        "sample",
        "--run",
        run.to_str().unwrap(),
        "--count",
        "2",
        "--size",
        "200",
        "--out",
        shots.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("learnt-4x:"), "{err}");
    for entry in std::fs::read_dir(&shots).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(image::image_dimensions(&path).unwrap(), (200, 200));
    }
}

#[test]
fn the_worker_learns_the_projects_upscaler_and_saves_it_when_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("photos");
    photo_folder(&data);
    let device = WorkerDevice {
        device: Device::flex(),
        shared_with_renderer: false,
        gpu_errors: None,
        cpu_threads: None,
        remote: None,
    };
    let w = spawn_worker(device, Arc::new(|| {})).unwrap();
    let next = || loop {
        if let Event::Upscaler(event) = w.events.recv_timeout(Duration::from_secs(120)).unwrap() {
            break event;
        }
    };
    // Photos smaller than one training crop: a clear error, nothing written.
    let small = tmp.path().join("small");
    crate::common::two_class_folder(&small, 2, 1);
    let out = tmp.path().join("upscaler.atl");
    w.commands
        .send(WorkerCommand::TrainUpscaler {
            data: small,
            out: out.clone(),
            minutes: 1.0,
        })
        .unwrap();
    match next() {
        UpscalerEvent::Failed(why) => assert!(why.contains("smaller than one"), "{why}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(!out.exists());

    w.commands
        .send(WorkerCommand::TrainUpscaler {
            data: data.clone(),
            out: out.clone(),
            minutes: 10.0,
        })
        .unwrap();
    assert_eq!(
        next(),
        UpscalerEvent::Started {
            photos: 4,
            resumed_at: None
        }
    );
    assert!(w.control(Control::StopUpscaler));
    let steps = match next() {
        UpscalerEvent::Progress { .. } => match next() {
            UpscalerEvent::Finished { steps, .. } => steps,
            other => panic!("{other:?}"),
        },
        UpscalerEvent::Finished { path, steps } => {
            assert_eq!(path, out);
            steps
        }
        other => panic!("{other:?}"),
    };
    let saved = atelier::upscale::UpscalerFile::load(&out).unwrap();
    assert_eq!(saved.checkpoint.state.step, steps);
    // Asked again, it goes on from the saved file.
    w.commands
        .send(WorkerCommand::TrainUpscaler {
            data,
            out,
            minutes: 10.0,
        })
        .unwrap();
    assert_eq!(
        next(),
        UpscalerEvent::Started {
            photos: 4,
            resumed_at: Some(steps)
        }
    );
    assert!(w.control(Control::StopUpscaler));
}

/// One upscaler step on wgpu (software Vulkan here, so tiny), and the network it leaves
/// enlarging a picture there as it does on the CPU.
#[test]
fn one_tiny_upscaler_step_on_wgpu_enlarges_as_on_the_cpu() {
    use atelier::model::upscaler::UpscalerConfig;
    use atelier::upscale::{
        LearntUpscaler, PhotoPool, UpscalerRecipe, UpscalerTrainSettings, UpscalerTraining,
    };
    let tmp = tempfile::tempdir().unwrap();
    photo_folder(tmp.path());
    let (pool, _) = PhotoPool::from_folder(tmp.path(), 32, 768, 1).unwrap();
    let recipe = UpscalerRecipe {
        upscaler: UpscalerConfig {
            factor: 4,
            channels: 3,
            width: 8,
            blocks: 1,
        },
        training: UpscalerTrainSettings {
            batch: 2,
            patch: 8,
            ..UpscalerTrainSettings::default()
        },
    };
    let wgpu = Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
    let mut training = UpscalerTraining::new(recipe, &pool, &wgpu).unwrap();
    let loss = training.step(&pool).unwrap().into_scalar::<f32>();
    assert!(loss.is_finite() && loss > 0.0, "{loss}");
    let file = training.to_file().unwrap();
    let picture = atelier::export::Picture {
        width: 12,
        height: 10,
        channels: 3,
        pixels: (0..360).map(|i| (i * 53 % 256) as u8).collect(),
    };
    let by_wgpu = LearntUpscaler::new(&file, &wgpu)
        .unwrap()
        .enlarge(&picture)
        .unwrap();
    let by_flex = LearntUpscaler::new(&file, &Device::flex())
        .unwrap()
        .enlarge(&picture)
        .unwrap();
    assert_eq!((by_wgpu.width, by_wgpu.height), (48, 40));
    let worst = by_wgpu
        .pixels
        .iter()
        .zip(&by_flex.pixels)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    assert!(worst <= 2, "wgpu and CPU differ by up to {worst} levels");
}
