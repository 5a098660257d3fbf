//! The autoregressive family (`pixelcnn`) through the same seam as the GANs: training on the
//! likelihood, exact resume, held-out NLL in the quality log, rendering and completion, and
//! the command line's train → sample → eval round trip.

// Exact float comparison is the point: a resumed run must be the straight run.
#![allow(clippy::unwrap_used, clippy::float_cmp, clippy::too_many_lines)]

use atelier::preset::Preset;
use atelier::sample::Sampler;
use atelier::train::{Checkpoint, read_metrics};
use burn::tensor::{Device, Tensor, TensorData};

use crate::common::{atelier, two_class_folder};
use crate::train::{latest, run};

/// The network's weights, value for value.
fn net_values(c: &Checkpoint) -> Vec<f32> {
    let model = Preset::from_toml("c", &c.preset_toml).unwrap().model;
    atelier::sample::load_generator(&model, c.blob("net").unwrap(), &Device::flex())
        .unwrap()
        .values()
}

#[test]
fn pixelcnn_trains_on_the_likelihood_resumes_exactly_and_draws_and_completes_shots() {
    let data = tempfile::tempdir().unwrap();
    two_class_folder(data.path(), 10, 1);
    let out = tempfile::tempdir().unwrap();
    let mut preset = Preset::load("tiny-pixelcnn").unwrap();
    preset.train.steps = Some(6);
    preset.train.eval_every = 3;
    let straight = out.path().join("straight");
    run(data.path(), &straight, preset.clone(), false);
    let split = out.path().join("split");
    let mut first = preset.clone();
    first.train.steps = Some(3);
    run(data.path(), &split, first, false);
    run(data.path(), &split, preset, true);
    let (mut a, b) = (latest(&straight), latest(&split));
    a.state.train_seconds = b.state.train_seconds;
    assert_eq!(a.state, b.state, "counters");
    // Adam's moments show in the weights of the steps after the resume.
    assert!(
        net_values(&a) == net_values(&b),
        "straight vs resumed weights"
    );
    assert!(a.blob("opt").is_some(), "the optimiser's state is saved");
    assert!(
        a.blob("g").is_none() && a.blob("d").is_none(),
        "no GAN records"
    );

    let metrics = read_metrics(&split.join("metrics.jsonl")).unwrap();
    assert!(!metrics.is_empty());
    for m in &metrics {
        let bits = m.value("nll_bits");
        assert!(bits.is_finite() && bits > 0.0 && bits < 12.0, "{m:?}");
    }
    // The held-out likelihood is logged beside the sample figures and picks best.atl.
    let quality: Vec<atelier::quality::QualityRecord> =
        std::fs::read_to_string(split.join("quality.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    assert!(!quality.is_empty());
    assert!(
        quality
            .iter()
            .all(|q| q.nll_bits.is_some_and(|b| b > 0.0 && b.is_finite())),
        "{quality:?}"
    );
    let best = quality
        .iter()
        .map(atelier::quality::QualityRecord::selection_score)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(
        b.state.best_swd,
        Some(best),
        "best is chosen by held-out NLL"
    );

    // A seed names a shot; the same latent redraws it.
    let sampler = Sampler::from_checkpoint(&b, &Device::flex()).unwrap();
    assert_eq!(sampler.model.kind(), "pixelcnn");
    let z = atelier::latent::latent_for_seed(5, sampler.model.latent_dim());
    let once = sampler.render(std::slice::from_ref(&z)).unwrap();
    let again = sampler.render(&[z]).unwrap();
    assert_eq!(once[0].pixels, again[0].pixels);
    assert_eq!(once[0].pixels.len(), 8 * 8);
    let other = sampler
        .render(&[atelier::latent::latent_for_seed(6, 64)])
        .unwrap();
    assert_ne!(once[0].pixels, other[0].pixels, "two seeds, two shots");
}

/// A `tiny-pixelcnn` trained 2 steps on 12 small images: the data folder and the run folder.
fn two_step_run() -> (tempfile::TempDir, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    two_class_folder(data.path(), 6, 3);
    let out = tempfile::tempdir().unwrap();
    let mut preset = Preset::load("tiny-pixelcnn").unwrap();
    preset.train.steps = Some(2);
    run(data.path(), out.path(), preset, false);
    (data, out)
}

#[test]
fn pixelcnn_completes_the_lower_half_of_an_image_keeping_the_top() {
    let (_data, out) = two_step_run();
    let checkpoint = latest(out.path());
    let preset = Preset::from_toml("c", &checkpoint.preset_toml).unwrap();
    let record = checkpoint.blob("net").unwrap();
    let device = Device::flex();
    let renderer = preset.model.renderer(record, &device).unwrap();
    let known: Vec<f32> = (0..2 * 64).map(|i| (i % 7) as f32 / 3.5 - 1.0).collect();
    let known = Tensor::<4>::from_data(TensorData::new(known.clone(), [2, 1, 8, 8]), &device);
    let keep: Vec<bool> = (0..64).map(|p| p < 32).collect();
    let z = Tensor::<2>::from_data(
        TensorData::new(atelier::latent::latent_for_seed(9, 128), [2, 64]),
        &device,
    );
    let done = renderer
        .complete(z, None, known.clone(), keep.clone())
        .expect("an autoregressive model completes images")
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let known = known.into_data().try_to_vec::<f32>().unwrap();
    for img in 0..2 {
        for p in 0..32 {
            assert!((done[img * 64 + p] - known[img * 64 + p]).abs() < 1e-6);
        }
    }
    // A GAN cannot: its renderer says so instead of pretending.
    let gan = Preset::load("tiny-test").unwrap().model;
    assert!(gan.family().latent_tools().is_ok());
    assert!(preset.model.family().latent_tools().is_err());
}

/// `atelier train` → `sample` → `eval` on the autoregressive family, as a designer types it.
#[test]
fn pixelcnn_cli_round_trip_reports_held_out_bits_against_the_independent_baseline() {
    let data = tempfile::tempdir().unwrap();
    two_class_folder(data.path(), 10, 5);
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    let (d, r) = (
        data.path().to_str().unwrap(),
        run.to_str().unwrap().to_string(),
    );
    let (code, stdout, stderr) = atelier(&[
        "train",
        "--data",
        d,
        "--preset",
        "tiny-pixelcnn",
        "--out",
        &r,
        "--steps",
        "4",
        "--device",
        "cpu",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("bits/dim"), "{stdout}");
    let shots = out.path().join("shots");
    let (code, stdout, stderr) = atelier(&[
        "sample",
        "--run",
        &r,
        "--count",
        "3",
        "--out",
        shots.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let pngs = std::fs::read_dir(&shots)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count();
    assert!(pngs >= 3, "{pngs} shots");
    let (code, stdout, stderr) = atelier(&["eval", "--run", &r, "--device", "cpu"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("independent per-pixel histograms") && stdout.contains("held-out NLL"),
        "{stdout}"
    );
}

/// Opens a `tiny-pixelcnn` run of 10 steps with a preview, an evaluation and a checkpoint
/// every 5, drawing their shots for at most `slice` per call of `step` (at least one pass).
fn sliced_run(
    data: &std::path::Path,
    dir: &std::path::Path,
    slice: std::time::Duration,
) -> atelier::train::TrainRun {
    let mut preset = Preset::load("tiny-pixelcnn").unwrap();
    preset.train.steps = Some(10);
    preset.train.preview_every = 5;
    preset.train.eval_every = 5;
    preset.train.checkpoint_every = 5;
    let options = atelier::train::RunOptions {
        data_dir: data.to_path_buf(),
        run_dir: dir.to_path_buf(),
        preset,
        resume: false,
        minutes: None,
        imported: None,
    };
    let mut run =
        atelier::train::TrainRun::start(&options, &Device::flex(), &|_| {}, &mut |_| {}).unwrap();
    run.set_periodic_slice(slice);
    run
}

/// A preview and an evaluation draw 8×8 shots pixel by pixel: a call of `step` draws one
/// pass of them and returns, so the studio's worker can obey a Stop in between. Drawing in
/// slices changes nothing: the same preview, figures and weights as a run that draws each
/// in one piece; and a Stop mid-preview gives it up, keeping the checkpoint.
#[test]
fn pixelcnn_previews_and_evaluations_are_drawn_a_pass_per_call_and_a_stop_gives_them_up() {
    use atelier::train::{StepOutcome, TrainEvent};
    let data = tempfile::tempdir().unwrap();
    two_class_folder(data.path(), 10, 1);
    let out = tempfile::tempdir().unwrap();
    let sliced = out.path().join("sliced");
    let mut run = sliced_run(data.path(), &sliced, std::time::Duration::ZERO);
    // (calls since the step, event) for every event after step 5.
    let mut after_five = Vec::new();
    let mut calls_since_step = 0;
    let mut at_five = false;
    loop {
        let mut events = Vec::new();
        let outcome = run.step(&mut |e| events.push(e)).unwrap();
        calls_since_step += 1;
        for e in events {
            if let TrainEvent::Stepped { step, .. } = e {
                at_five = step == 5;
                calls_since_step = 1;
            } else if at_five {
                after_five.push((calls_since_step, e));
            }
        }
        if outcome != StepOutcome::Continue {
            assert_eq!(outcome, StepOutcome::Finished);
            break;
        }
    }
    let when = |wanted: fn(&TrainEvent) -> bool| {
        after_five
            .iter()
            .find(|(_, e)| wanted(e))
            .map(|(calls, _)| *calls)
            .unwrap()
    };
    let preview = when(|e| matches!(e, TrainEvent::Preview { step: 5, .. }));
    let quality = when(|e| matches!(e, TrainEvent::Quality { .. }));
    let checkpoint = when(|e| matches!(e, TrainEvent::Checkpoint { step: 5, .. }));
    // 64 preview shots in one chunk: 64 passes, one per call.
    assert!(preview >= 64, "the preview came after {preview} calls");
    assert!(
        quality > preview,
        "the evaluation is drawn after the preview"
    );
    assert!(
        checkpoint >= quality,
        "the evaluation's checkpoint follows it"
    );
    assert_eq!(run.progress().0, 10);

    // Each preview and evaluation drawn in one call (a slice far longer than any).
    let whole = out.path().join("whole");
    let mut run = sliced_run(data.path(), &whole, std::time::Duration::from_secs(3600));
    while run.step(&mut |_| {}).unwrap() == StepOutcome::Continue {}
    let png = |dir: &std::path::Path| std::fs::read(dir.join("previews/step-0000005.png")).unwrap();
    assert_eq!(png(&sliced), png(&whole), "the same preview");
    let quality_log = |dir: &std::path::Path| {
        std::fs::read_to_string(dir.join("quality.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["swd"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        quality_log(&sliced),
        quality_log(&whole),
        "the same figures"
    );
    assert!(
        net_values(&latest(&sliced)) == net_values(&latest(&whole)),
        "the same weights"
    );

    // Stopped while the step-5 preview is being drawn: the checkpoint is step 5's, and the
    // preview is given up.
    let stopped = out.path().join("stopped");
    let mut run = sliced_run(data.path(), &stopped, std::time::Duration::ZERO);
    while run.progress().0 < 5 {
        run.step(&mut |_| {}).unwrap();
    }
    for _ in 0..10 {
        let mut events = Vec::new();
        assert_eq!(
            run.step(&mut |e| events.push(e)).unwrap(),
            StepOutcome::Continue
        );
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, TrainEvent::Stepped { .. } | TrainEvent::Preview { .. })),
            "no step while the preview is drawn: {events:?}"
        );
    }
    run.stop(&mut |_| {}).unwrap();
    assert_eq!(latest(&stopped).state.step, 5);
    assert!(!stopped.join("previews/step-0000005.png").exists());
}

/// The studio's worker draws a pixel-by-pixel render a slice per turn: it reports progress,
/// serves a completion asked for meanwhile before the long render ends, gives the long one
/// up at a Cancel between two passes, and goes on serving.
#[test]
fn the_worker_draws_pixel_by_pixel_between_requests_with_progress_and_a_cancel() {
    use atelier::protocol::WorkerError;
    use atelier::protocol::{Command, Completion, Control, Event, RenderKind, RenderRequest};
    let (_data, out) = two_step_run();
    let w = crate::common::cpu_worker();
    w.commands
        .send(Command::LoadGenerator {
            path: out.path().join("checkpoint.atl"),
            pin_dir: out.path().join("generators"),
        })
        .unwrap();
    let next = || {
        w.events
            .recv_timeout(std::time::Duration::from_secs(120))
            .unwrap()
    };
    let info = loop {
        if let Event::GeneratorReady(info) = next() {
            break info;
        }
    };
    let dim = info.model.latent_dim();
    let request = |ticket, kind, count: u64, completion| {
        Command::Render(RenderRequest {
            ticket,
            kind,
            generator: info.pinned.clone(),
            latents: (0..count)
                .map(|s| atelier::latent::latent_for_seed(s, dim))
                .collect(),
            classes: Vec::new(),
            completion,
        })
    };
    // 12,800 shots: 200 chunks of 64 passes each.
    w.commands
        .send(request(1, RenderKind::Gallery, 12_800, None))
        .unwrap();
    let completion = Completion {
        image: vec![200; 64],
        keep: (0..64).map(|p| p < 32).collect(),
    };
    w.commands
        .send(request(2, RenderKind::Completion, 3, Some(completion)))
        .unwrap();
    let (mut progress, mut completed) = (Vec::new(), None);
    while completed.is_none() {
        match next() {
            Event::RenderProgress {
                ticket: 1,
                done,
                total,
            } => progress.push((done, total)),
            Event::Rendered {
                ticket: 2,
                pictures,
                ..
            } => completed = Some(pictures),
            Event::Rendered { ticket: 1, .. } | Event::RenderFailed { ticket: 1, .. } => {
                panic!("the long render ended before the completion was served")
            }
            _ => {}
        }
    }
    let pictures = completed.unwrap();
    assert_eq!(pictures.len(), 3);
    assert!(
        pictures
            .iter()
            .all(|p| p.pixels[..32].iter().all(|&v| v == 200)),
        "the top half is kept"
    );
    assert!(w.control(Control::CancelRender(1)));
    loop {
        match next() {
            Event::RenderProgress {
                ticket: 1,
                done,
                total,
            } => progress.push((done, total)),
            Event::RenderFailed {
                ticket: 1,
                error: WorkerError::Cancelled,
            } => break,
            Event::Rendered { ticket: 1, .. } => panic!("the cancelled render was finished"),
            _ => {}
        }
    }
    assert!(!progress.is_empty(), "progress is reported");
    assert!(
        progress.windows(2).all(|w| w[0].0 <= w[1].0) && progress.iter().all(|p| p.1 == 200 * 64),
        "{progress:?}"
    );
    let (done, total) = *progress.last().unwrap();
    assert!(done < total, "cancelled part way: {done} of {total}");
    w.commands
        .send(request(3, RenderKind::Gallery, 2, None))
        .unwrap();
    loop {
        if let Event::Rendered {
            ticket: 3,
            pictures,
            ..
        } = next()
        {
            assert_eq!(pictures.len(), 2);
            break;
        }
    }
}
