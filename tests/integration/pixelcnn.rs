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

#[test]
fn pixelcnn_completes_the_lower_half_of_an_image_keeping_the_top() {
    let data = tempfile::tempdir().unwrap();
    two_class_folder(data.path(), 6, 3);
    let out = tempfile::tempdir().unwrap();
    let mut preset = Preset::load("tiny-pixelcnn").unwrap();
    preset.train.steps = Some(2);
    run(data.path(), out.path(), preset, false);
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
