//! Projection (`atelier invert`): a shot the generator made is found again, the refinement
//! beats the best starting seed, Cancel stops it, and the CLI writes a shot PNG whose
//! metadata regenerates the projection.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::AtomicBool;

use atelier::checkpoint::Checkpoint;
use atelier::export::{Picture, read_shot_meta};
use atelier::invert::{InvertError, InvertOptions, Inverter, pixel_l1};
use atelier::latent::latent_for_seed;
use atelier::project::DEMO_GENERATOR;
use burn::tensor::Device;

fn chw(picture: &Picture) -> Vec<u8> {
    let (c, plane) = (picture.channels, picture.width * picture.height);
    let mut out = vec![0u8; c * plane];
    for i in 0..plane {
        for k in 0..c {
            out[k * plane + i] = picture.pixels[i * c + k];
        }
    }
    out
}

fn options() -> InvertOptions {
    InvertOptions {
        seeds: 64,
        restarts: 3,
        steps: 80,
        ..InvertOptions::default()
    }
}

#[test]
fn a_shot_of_the_generator_is_found_again_closer_than_any_starting_seed() {
    let checkpoint = Checkpoint::from_bytes(DEMO_GENERATOR, "demo").unwrap();
    let inverter = Inverter::new(&checkpoint, &Device::flex()).unwrap();
    assert!(!inverter.has_critic(), "a generator-only file: pixels only");
    let dim = inverter.sampler().model.latent_dim();
    let wanted = latent_for_seed(424_242, dim);
    let target = inverter.sampler().render(&[wanted]).unwrap().remove(0);
    let never = AtomicBool::new(false);
    let mut seen = Vec::new();
    let result = inverter
        .invert(&chw(&target), &options(), &never, |p| seen.push(p))
        .unwrap();
    assert_eq!(seen.len(), 80);
    assert!((seen[79] - 1.0).abs() < 1e-6);
    assert!(
        result.pixel_l1 < 0.7 * result.start_l1,
        "refined {} vs best seed {}",
        result.pixel_l1,
        result.start_l1
    );
    // The reported distance is the gallery's render of the latent returned.
    let again = inverter
        .sampler()
        .render(std::slice::from_ref(&result.latent))
        .unwrap();
    assert!((pixel_l1(&again[0], &target) - result.pixel_l1).abs() < 1e-6);

    let stop = AtomicBool::new(true);
    assert!(matches!(
        inverter.invert(&chw(&target), &options(), &stop, |_| {}),
        Err(InvertError::Cancelled)
    ));
    assert!(matches!(
        inverter.invert(&[0u8; 5], &options(), &never, |_| {}),
        Err(InvertError::PhotoSize { found: 5, .. })
    ));
}

/// The command line on a tiny trained run (generator and discriminator: the feature loss is
/// on), one photo: the projection PNG's metadata renders the same picture with `sample`'s
/// generator.
#[test]
fn the_invert_command_writes_a_shot_that_regenerates() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("shirts");
    atelier::demo::write_demo_set(&data, 16).unwrap();
    let run = tmp.path().join("run");
    super::common::train_tiny_run(&data, &run, "6");
    let out = tmp.path().join("inverted");
    let photo = std::fs::read_dir(&data)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let (code, stdout, err) = super::common::atelier(&[
        "invert",
        "--run",
        run.to_str().unwrap(),
        "--image",
        photo.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--device",
        "cpu",
        "--seeds",
        "32",
        "--restarts",
        "2",
        "--steps",
        "10",
        "--baseline-seeds",
        "32",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !err.contains("matching pixels only"),
        "the run keeps its D: {err}"
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["photos"], 1);
    assert_eq!(summary["feature_loss"], true);
    let stem = photo.file_stem().unwrap().to_string_lossy().into_owned();
    let projection = out.join(format!("{stem}-projection.png"));
    let meta = read_shot_meta(&projection).unwrap();
    let checkpoint = Checkpoint::load(&run.join("checkpoint.atl")).unwrap();
    let sampler = atelier::sample::Sampler::from_checkpoint(&checkpoint, &Device::flex()).unwrap();
    assert_eq!(meta.checkpoint_id, sampler.checkpoint_id);
    let again = sampler.render(&[meta.latent]).unwrap().remove(0);
    let written = image::open(&projection).unwrap();
    assert_eq!(again.to_dynamic().into_bytes(), written.into_bytes());
    assert!(out.join(format!("{stem}-photo.png")).exists());
    assert!(out.join("pairs.png").exists());
}

/// The studio: a photo brought in shows beside its projection with their distance, and the
/// projection joins the gallery as a selected shot; a second one is cancelled from the panel.
#[test]
fn the_studio_brings_a_dropped_photo_in_and_cancel_stops_one() {
    use super::studio_ui::{harness, settle, studio, wait_for};
    use egui_kittest::kittest::Queryable;

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("demo");
    atelier::project::open_or_create_demo(&root).unwrap();
    let photo = dir.path().join("my-shirt.png");
    let shirt = atelier::demo::demo_shirt(77);
    atelier::export::save_png_atomic(&shirt, &photo).unwrap();
    let mut h = harness(studio(&root));
    wait_for(&mut h, "the demo generator", |s| s.generator.is_some());
    let shots_before = h.state().project.curation.shots.len();
    h.state_mut().bring_photo_in(photo.clone());
    wait_for(&mut h, "the projection", |s| {
        s.shot
            .photo_in
            .as_ref()
            .is_some_and(|p| p.outcome.is_some())
    });
    let (shot, l1, start) = {
        let p = h.state().shot.photo_in.as_ref().unwrap();
        let r = p.outcome.as_ref().unwrap().as_ref().unwrap();
        (r.shot, r.pixel_l1, r.start_l1)
    };
    assert!(l1 < start, "refined {l1} vs the best random start {start}");
    assert_eq!(h.state().project.curation.shots.len(), shots_before + 1);
    let added = h.state().project.curation.get(shot).unwrap();
    assert_eq!(added.tags, vec!["photo".to_string()]);
    assert_eq!(
        Some(&added.generator_id),
        h.state().generator.as_ref().map(|g| &g.id)
    );
    assert_eq!(h.state().gallery.selected, vec![shot]);
    settle(&mut h);
    assert!(h.query_by_label("projection").is_some());
    assert!(
        h.query_all_by_label_contains("my-shirt.png: distance")
            .next()
            .is_some()
    );

    h.state_mut().bring_photo_in(photo);
    settle(&mut h);
    assert!(
        h.state().shot.photo_in.as_ref().unwrap().outcome.is_none(),
        "still working"
    );
    h.get_by_label("Cancel bringing it in").click();
    settle(&mut h);
    {
        let p = h.state().shot.photo_in.as_ref().unwrap();
        assert!(p.cancel.load(std::sync::atomic::Ordering::Relaxed));
        assert_eq!(
            p.outcome.as_ref().unwrap().as_ref().err().unwrap(),
            "cancelled"
        );
    }
    // Whatever the worker answers next (it stops at its next step), no shot is added.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < until {
        h.step();
    }
    assert_eq!(h.state().project.curation.shots.len(), shots_before + 1);
    assert!(
        h.query_all_by_label_contains("was not brought in: cancelled")
            .next()
            .is_some()
    );
}

/// A conditional model: the starting search draws every seed as every class, so a photo of
/// one class starts (and ends) in that class, and the projection is a shot of it.
#[test]
fn projecting_into_a_conditional_model_finds_the_photos_class() {
    let data = tempfile::tempdir().unwrap();
    crate::common::two_class_folder(data.path(), 8, 5);
    let out = tempfile::tempdir().unwrap();
    let mut preset = atelier::preset::Preset::load("tiny-test").unwrap();
    preset.train.steps = Some(4);
    crate::common::dcgan(&mut preset).conditional = true;
    crate::train::run(data.path(), out.path(), preset, false);
    let checkpoint = crate::train::latest(out.path());
    let inverter = Inverter::new(&checkpoint, &Device::flex()).unwrap();
    let model = &inverter.sampler().model;
    assert_eq!(model.class_count(), 2);
    let dim = model.latent_dim();
    let never = AtomicBool::new(false);
    let options = InvertOptions {
        seeds: 32,
        restarts: 2,
        steps: 5,
        ..InvertOptions::default()
    };
    for class in 0..2u32 {
        // A shot the search itself draws: seed 7 of the search, as this class.
        let z = latent_for_seed(atelier::invert::INVERT_SEEDS + 7, dim);
        let target = inverter
            .sampler()
            .render_classes(&[z], &[Some(class)])
            .unwrap()
            .remove(0);
        let result = inverter
            .invert(&chw(&target), &options, &never, |_| {})
            .unwrap();
        assert_eq!(result.class, Some(class), "{result:?}");
        assert!(result.start_l1 < 1e-6, "the search drew the photo itself");
    }
}

/// The generator's encoder learns latents from the generator's own renders (far better than
/// guessing 0 on latents it never saw), its guess joins projection's starting points, and
/// the worker teaches and keeps one for a loaded generator while no training runs.
#[test]
fn a_generators_encoder_learns_its_latents_starts_projection_and_is_kept_per_generator() {
    use atelier::latent::{LatentEncoder, teach_encoder};
    let checkpoint = Checkpoint::from_bytes(DEMO_GENERATOR, "demo").unwrap();
    let mut inverter = Inverter::new(&checkpoint, &Device::flex()).unwrap();
    let sampler = inverter.sampler();
    let dim = sampler.model.latent_dim();
    let encoder = teach_encoder(sampler, 300, 5).unwrap();
    // Latents it never trained on: the mean squared error per coordinate, against 1 for 0.
    let latents: Vec<Vec<f32>> = (0..32)
        .map(|s| latent_for_seed(9_000_000 + s, dim))
        .collect();
    let shots = sampler.render(&latents).unwrap();
    let error: f32 = shots
        .iter()
        .zip(&latents)
        .map(|(shot, z)| {
            let guess = encoder.encode(&chw(shot), 1, 28, &Device::flex());
            guess
                .iter()
                .zip(z)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f32>()
                / dim as f32
        })
        .sum::<f32>()
        / 32.0;
    assert!(error < 0.7, "encoder error {error} per coordinate");
    // The same encoder again from its bytes.
    let bytes = encoder.to_bytes().unwrap();
    let again = LatentEncoder::from_bytes(sampler, &bytes).unwrap();
    assert_eq!(
        again.encode(&chw(&shots[0]), 1, 28, &Device::flex()),
        encoder.encode(&chw(&shots[0]), 1, 28, &Device::flex())
    );
    inverter.set_encoder(encoder);
    let never = AtomicBool::new(false);
    let result = inverter
        .invert(&chw(&shots[0]), &options(), &never, |_| {})
        .unwrap();
    assert!(result.encoder_l1.is_some(), "the encoder's start is scored");

    // The studio's worker teaches a loaded generator's encoder and keeps it beside the file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demo.atl");
    std::fs::write(&file, DEMO_GENERATOR).unwrap();
    let w = crate::common::cpu_worker();
    w.commands
        .send(atelier::protocol::Command::LoadGenerator {
            path: file,
            pin_dir: dir.path().join("generators"),
        })
        .unwrap();
    let info = loop {
        if let atelier::protocol::Event::GeneratorReady(info) = w
            .events
            .recv_timeout(std::time::Duration::from_secs(120))
            .unwrap()
        {
            break info;
        }
    };
    let kept = info.pinned.with_extension("encoder");
    let started = std::time::Instant::now();
    while !kept.exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(240),
            "no encoder kept"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let bytes = std::fs::read(&kept).unwrap();
    assert!(LatentEncoder::from_bytes(inverter.sampler(), &bytes).is_ok());
}
