//! Training end to end on burn's CPU backend with the tiny preset: losses move, checkpoints
//! round-trip exactly, and resume continues the same run.

// Exact float comparison is the point here: resumed state must be bit-identical.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::many_single_char_names,
    clippy::float_cmp
)]

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use atelier::data::{ImportOptions, Split, import_folder};
use atelier::preset::Preset;
use atelier::sample::{Sampler, load_generator};
use atelier::train::{
    Checkpoint, LATEST, RunOptions, TrainEvent, TrainSession, read_metrics, train_run,
};
use burn::tensor::Device;

pub(crate) use crate::tiny_runs::{demo_folder, tiny};

fn try_run(
    data: &Path,
    out: &Path,
    preset: Preset,
    resume: bool,
) -> Result<atelier::train::RunSummary, atelier::train::TrainError> {
    let options = RunOptions {
        data_dir: data.to_path_buf(),
        run_dir: out.to_path_buf(),
        preset,
        resume,
        minutes: None,
        imported: None,
    };
    train_run(
        &options,
        &Device::flex(),
        &AtomicBool::new(false),
        &|_| {},
        &mut |_: TrainEvent| {},
    )
}

pub(crate) fn run(
    data: &Path,
    out: &Path,
    preset: Preset,
    resume: bool,
) -> atelier::train::RunSummary {
    try_run(data, out, preset, resume).unwrap()
}

/// The error a new run in a fresh folder ends with.
fn run_error(data: &Path, preset: Preset) -> String {
    let out = tempfile::tempdir().unwrap();
    try_run(data, &out.path().join("x"), preset, false)
        .err()
        .unwrap()
        .to_string()
}

/// The values a checkpoint record holds (burn does not persist the ids of BatchNorm running
/// statistics, so module records are compared by value; optimiser records by bytes).
fn values(c: &Checkpoint, name: &str) -> Vec<f32> {
    let preset = Preset::from_toml("c", &c.preset_toml).unwrap().model;
    let bytes = c.blob(name).unwrap();
    let device = Device::flex();
    if name == "d" {
        // D only ever runs in training mode (batch statistics), so its BatchNorm running
        // statistics are never used; compare what D computes instead: its logits on a fixed
        // batch, on an autodiff device so BatchNorm takes its training path.
        let ad = device.autodiff();
        let d = preset.critic(bytes, &ad, false).unwrap();
        let (c, r) = (preset.channels(), preset.resolution());
        let n = 4 * c * r * r;
        let x: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
            .collect();
        let x = burn::tensor::Tensor::<4>::from_data(
            burn::tensor::TensorData::new(x, [4, c, r, r]),
            &ad,
        );
        d.logits(x)
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap()
    } else {
        load_generator(&preset, bytes, &device).unwrap().values()
    }
}

/// Counters, RNG, and every weight and statistic of G, D and EMA-G (optimiser moments show
/// up in the weights of the next step).
pub(crate) fn assert_same_training_state(a: &Checkpoint, b: &Checkpoint, context: &str) {
    assert_eq!(a.state, b.state, "{context}: counters/RNG");
    for name in ["g", "d", "ema"] {
        let (x, y) = (values(a, name), values(b, name));
        assert_eq!(x, y, "{context}: {name} values");
    }
}

/// The held-out evaluations a run logged.
fn quality_log(run: &Path) -> Vec<atelier::quality::QualityRecord> {
    std::fs::read_to_string(run.join("quality.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub(crate) fn latest(run: &Path) -> Checkpoint {
    Checkpoint::load(&run.join(LATEST)).unwrap()
}

#[test]
fn tiny_run_moves_losses_writes_previews_and_checkpoints() {
    let data = demo_folder(64);
    let out = tempfile::tempdir().unwrap();
    let run_dir = out.path().join("r");
    let mut preset = tiny(40);
    preset.train.lr_d = 1e-3;
    preset.train.lr_g = 1e-3;
    let summary = run(data.path(), &run_dir, preset, false);
    assert_eq!(summary.step, 40);
    let metrics = read_metrics(&run_dir.join("metrics.jsonl")).unwrap();
    // Every 2nd step, plus every checkpoint (every 5th): 20 + 8 - 4.
    assert_eq!(metrics.len(), 24);
    let (first, last) = (&metrics[0], &metrics[metrics.len() - 1]);
    assert!(metrics.iter().all(atelier::train::MetricsRecord::is_finite));
    assert!(
        (first.value("d_loss") - last.value("d_loss")).abs() > 1e-3,
        "D loss did not move: {first:?} {last:?}"
    );
    assert!(
        (first.value("g_loss") - last.value("g_loss")).abs() > 1e-3,
        "G loss did not move: {first:?} {last:?}"
    );
    assert!(run_dir.join("preview.png").exists());
    assert!(run_dir.join("previews/step-0000040.png").exists());
    assert!(run_dir.join("import-report.txt").exists());
    let c = Checkpoint::load(&run_dir.join(LATEST)).unwrap();
    assert_eq!(c.state.step, 40);
    for name in ["g", "d", "ema", "opt_g", "opt_d"] {
        assert!(
            c.blob(name).is_some_and(|b| !b.is_empty()),
            "{name} missing"
        );
    }
}

#[test]
fn checkpoint_round_trip_keeps_weights_and_optimiser_state() {
    let data_dir = demo_folder(32);
    let preset = tiny(6);
    let opts = ImportOptions {
        resolution: 28,
        channels: 1,
        square: preset.data.square,
    };
    let (data, _) = import_folder(data_dir.path(), opts, &|_| {}).unwrap();
    let split = Split::new(&data, preset.data.split, preset.data.split_seed);
    let data = Arc::new(data);
    let device = Device::flex();
    let mut session =
        TrainSession::new(preset.clone(), data.clone(), split.train.clone(), &device).unwrap();
    for _ in 0..3 {
        session.step().unwrap();
    }
    let saved = session.checkpoint().unwrap();
    let bytes = saved.to_bytes();
    let loaded = Checkpoint::from_bytes(&bytes, "mem").unwrap();
    let restored = TrainSession::resume(&loaded, preset, data, split.train, &device).unwrap();
    let again = restored.checkpoint().unwrap();
    assert_eq!(again.state, saved.state);
    for name in ["g", "d", "ema"] {
        assert_eq!(
            values(&saved, name),
            values(&again, name),
            "{name} after save/load"
        );
    }
    assert_ne!(
        values(&saved, "g"),
        values(&saved, "ema"),
        "EMA is its own copy"
    );
    // Optimiser records list parameters in hash order, so compare them by what they do: the
    // next step from the original and from the restored session must be identical.
    let (mut original, mut restored) = (session, restored);
    original.step().unwrap();
    restored.step().unwrap();
    assert_same_training_state(
        &original.checkpoint().unwrap(),
        &restored.checkpoint().unwrap(),
        "one step after restore",
    );
}

#[test]
fn resume_continues_the_step_count_and_the_same_trajectory() {
    let data = demo_folder(48);
    let out = tempfile::tempdir().unwrap();
    let straight: PathBuf = out.path().join("straight");
    let split_run: PathBuf = out.path().join("split");
    run(data.path(), &straight, tiny(12), false);

    let first = run(data.path(), &split_run, tiny(7), false);
    assert_eq!(first.step, 7);
    let second = run(data.path(), &split_run, tiny(12), true);
    assert_eq!(second.step, 12, "resume continues from step 7 to 12");
    let c = Checkpoint::load(&split_run.join(LATEST)).unwrap();
    assert_eq!(c.state.step, 12);
    assert_eq!(c.state.images_seen, 12 * 8);
    // Same data order, latents and optimiser moments: the resumed run is the straight run.
    let (mut a, b) = (latest(&straight), latest(&split_run));
    a.state.train_seconds = b.state.train_seconds;
    assert_same_training_state(&a, &b, "straight vs resumed");
    let steps: Vec<u64> = read_metrics(&split_run.join("metrics.jsonl"))
        .unwrap()
        .iter()
        .map(|m| m.step)
        .collect();
    assert_eq!(steps, vec![2, 4, 5, 6, 7, 8, 10, 12]);
}

#[test]
fn starting_over_an_existing_run_or_resuming_nothing_is_refused() {
    let data = demo_folder(16);
    let out = tempfile::tempdir().unwrap();
    let r = out.path().join("r");
    let err = try_run(data.path(), &r, tiny(2), true).unwrap_err();
    assert!(err.to_string().contains("no checkpoint"), "{err}");
    run(data.path(), &r, tiny(2), false);
    let err = try_run(data.path(), &r, tiny(2), false).unwrap_err();
    assert!(err.to_string().contains("already holds a run"), "{err}");
}

#[test]
fn cancelling_saves_a_checkpoint_first() {
    let data = demo_folder(16);
    let out = tempfile::tempdir().unwrap();
    let options = RunOptions {
        data_dir: data.path().to_path_buf(),
        run_dir: out.path().join("r"),
        preset: tiny(1000),
        resume: false,
        minutes: None,
        imported: None,
    };
    let cancel = AtomicBool::new(false);
    let mut steps = 0;
    let summary = train_run(&options, &Device::flex(), &cancel, &|_| {}, &mut |e| {
        if let TrainEvent::Stepped { step, .. } = e {
            steps = step;
            if step == 3 {
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    })
    .unwrap();
    assert!(summary.cancelled);
    assert_eq!(summary.step, 3);
    assert_eq!(steps, 3);
    assert_eq!(
        Checkpoint::load(&out.path().join("r").join(LATEST))
            .unwrap()
            .state
            .step,
        3
    );
}

#[test]
fn sampling_is_deterministic_per_seed_and_batch_independent() {
    let data = demo_folder(16);
    let out = tempfile::tempdir().unwrap();
    let r = out.path().join("r");
    run(data.path(), &r, tiny(4), false);
    let c = Checkpoint::load(&r.join(LATEST)).unwrap();
    let sampler = Sampler::from_checkpoint(&c, &Device::flex()).unwrap();
    let dim = sampler.model.latent_dim();
    let z = |s| atelier::latent::latent_for_seed(s, dim);
    let alone = sampler.render(&[z(3)]).unwrap();
    let in_batch = sampler.render(&[z(1), z(2), z(3)]).unwrap();
    assert_eq!(alone[0], in_batch[2]);
    assert_ne!(in_batch[0], in_batch[1]);
    let err = sampler.render(&[vec![0.0; dim + 1]]).err().unwrap();
    assert!(err.to_string().contains("latent vector"), "{err}");

    // The trained generator (`--raw`) draws other shots and says so in its id; a
    // generator-only file has none, and says where it is.
    let raw = Sampler::from_checkpoint_weights(&c, true, &Device::flex()).unwrap();
    assert_eq!(raw.checkpoint_id, format!("{}-raw", sampler.checkpoint_id));
    assert_ne!(raw.render(&[z(3)]).unwrap(), alone);
    let shared = atelier::sample::generator_file(&c).unwrap();
    let err = Sampler::from_checkpoint_weights(&shared, true, &Device::flex())
        .err()
        .unwrap();
    assert!(err.to_string().contains("checkpoint.atl"), "{err}");
}

#[test]
fn damaged_checkpoint_is_a_clear_error() {
    let data = demo_folder(16);
    let out = tempfile::tempdir().unwrap();
    let r = out.path().join("r");
    run(data.path(), &r, tiny(2), false);
    let path = r.join(LATEST);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 100] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let err = try_run(data.path(), &r, tiny(4), true).unwrap_err();
    assert!(err.to_string().contains("damaged"), "{err}");
}

#[test]
fn evaluations_log_quality_keep_the_best_checkpoint_and_can_stop_early() {
    let data = demo_folder(48);
    let out = tempfile::tempdir().unwrap();
    let r = out.path().join("r");
    let mut preset = tiny(12);
    preset.train.eval_every = 4;
    let summary = run(data.path(), &r, preset, false);
    let lines = quality_log(&r);
    assert_eq!(lines.iter().map(|q| q.step).collect::<Vec<_>>(), [4, 8, 12]);
    assert!(
        lines
            .iter()
            .all(|q| q.swd.is_finite() && q.swd > 0.0 && q.real_images > 0)
    );
    // Every evaluation also runs the data-copying test against the held-out images, in the
    // shipped network's features (28 px grey), even with too few images for a feature FD.
    assert!(lines.iter().all(|q| {
        q.copying
            .is_some_and(|c| (0.0..=1.0).contains(&c.closer) && c.z.is_finite())
            && q.copying_space.as_deref() == Some(atelier::quality::SHIPPED_FEATURE_JUDGE)
            && q.feature_fd.is_none()
    }));
    let best = lines.iter().min_by(|a, b| a.swd.total_cmp(&b.swd)).unwrap();
    assert_eq!(summary.best_swd, Some(best.swd));
    let best_ckpt = Checkpoint::load(&r.join(atelier::train::BEST)).unwrap();
    assert_eq!(best_ckpt.state.step, best.step);

    let r2 = out.path().join("r2");
    let mut preset = tiny(400);
    preset.train.eval_every = 2;
    preset.train.patience = 2;
    let summary = run(data.path(), &r2, preset, false);
    assert!(summary.early_stopped && summary.step < 400, "{summary:?}");
    assert_eq!(latest(&r2).state.evals_since_best, 2);
}

/// Colour runs with class folders get a feature distance too: the first evaluation trains a
/// class judge on the training images, and each record names the network it used.
#[test]
fn colour_runs_with_classes_log_a_class_judge_feature_distance() {
    let data = tempfile::tempdir().unwrap();
    common::two_class_folder(data.path(), 110, 0);
    let out = tempfile::tempdir().unwrap();
    let r = out.path().join("r");
    let mut preset = tiny(4);
    common::dcgan(&mut preset).resolution = 32;
    common::dcgan(&mut preset).channels = 3;
    // 132 validation images: enough for a feature distance (one per feature).
    preset.data.split = [0.35, 0.6, 0.05];
    preset.train.eval_every = 2;
    run(data.path(), &r, preset, false);
    let lines = quality_log(&r);
    assert_eq!(lines.len(), 2);
    for q in &lines {
        assert!(q.real_images >= 128, "{q:?}");
        assert!(
            q.feature_fd.is_some_and(|fd| fd.is_finite() && fd >= 0.0),
            "{q:?}"
        );
        assert_eq!(q.feature_judge.as_deref(), Some("run's class judge"));
        assert_eq!(q.copying_space.as_deref(), Some("run's class judge"));
    }
}

#[test]
fn hinge_loss_and_adaptive_augmentation_train_and_resume_their_strength() {
    let data = demo_folder(32);
    let out = tempfile::tempdir().unwrap();
    let r = out.path().join("r");
    let mut preset = tiny(20);
    preset.train.loss = atelier::preset::LossKind::Hinge;
    preset.train.augment = atelier::preset::AugmentMode::Adaptive;
    preset.train.augment_p = 0.5;
    preset.train.lr_d = 2e-3;
    run(data.path(), &r, preset.clone(), false);
    let metrics = read_metrics(&r.join("metrics.jsonl")).unwrap();
    assert!(metrics.iter().all(atelier::train::MetricsRecord::is_finite));
    assert!(
        metrics
            .iter()
            .all(|m| (-1.0..=1.0).contains(&m.value("r_t")))
    );
    let ps: Vec<f64> = metrics
        .iter()
        .map(|m| m.get("augment_p").unwrap())
        .collect();
    assert!(
        ps.windows(2).any(|w| w[0] != w[1]),
        "adaptive p never moved: {ps:?}"
    );
    let saved_p = latest(&r).state.family["augment_p"].as_f64().unwrap();
    assert_eq!(saved_p, *ps.last().unwrap());
    // Resume keeps the strength it had reached (not the preset's starting value).
    preset.train.steps = Some(22);
    run(data.path(), &r, preset, true);
    let m = read_metrics(&r.join("metrics.jsonl")).unwrap();
    let resumed = m.iter().find(|m| m.step == 22).unwrap();
    assert!(
        (resumed.get("augment_p").unwrap() - saved_p).abs()
            <= 2.0 * 16.0 / atelier::train::ADA_SPEED_IMAGES + 1e-12
    );
}

#[test]
fn spectral_norm_discriminator_trains_and_resumes() {
    let data = demo_folder(48);
    let out = tempfile::tempdir().unwrap();
    let mut preset = tiny(10);
    common::dcgan(&mut preset).spectral_norm = true;
    preset.train.loss = atelier::preset::LossKind::Hinge;
    let r = out.path().join("r");
    let mut first = preset.clone();
    first.train.steps = Some(6);
    run(data.path(), &r, first, false);
    let summary = run(data.path(), &r, preset.clone(), true);
    assert_eq!(summary.step, 10);
    // The power iteration's vector u is state too: a resumed run is the straight run.
    let straight = out.path().join("straight");
    run(data.path(), &straight, preset, false);
    let (mut a, b) = (latest(&straight), latest(&r));
    a.state.train_seconds = b.state.train_seconds;
    assert_same_training_state(&a, &b, "spectral norm: straight vs resumed");
    let metrics = read_metrics(&r.join("metrics.jsonl")).unwrap();
    assert!(metrics.iter().all(atelier::train::MetricsRecord::is_finite));
    assert!(metrics.iter().all(|m| m.value("d_loss") > 0.0));
}

/// LeCam's moving averages as a checkpoint saves them (in the GAN's part of the state).
fn lecam_anchors(c: &Checkpoint) -> Option<[f32; 2]> {
    serde_json::from_value(c.state.family["lecam_anchors"].clone()).unwrap()
}

#[test]
fn lecam_regulariser_trains_and_resumes_its_anchors() {
    let data = demo_folder(48);
    let out = tempfile::tempdir().unwrap();
    let mut preset = tiny(10);
    preset.train.lecam = 0.3;
    let r = out.path().join("r");
    let mut first = preset.clone();
    first.train.steps = Some(6);
    run(data.path(), &r, first, false);
    let anchors = lecam_anchors(&latest(&r)).expect("a LeCam run saves its anchors");
    assert!(anchors.iter().all(|a| a.is_finite()), "{anchors:?}");
    run(data.path(), &r, preset.clone(), true);
    // The anchors are state: a resumed run is the straight run, and LeCam changes the run.
    let straight = out.path().join("straight");
    run(data.path(), &straight, preset.clone(), false);
    let (mut a, b) = (latest(&straight), latest(&r));
    a.state.train_seconds = b.state.train_seconds;
    assert_same_training_state(&a, &b, "LeCam: straight vs resumed");
    let plain = out.path().join("plain");
    preset.train.lecam = 0.0;
    run(data.path(), &plain, preset, false);
    let without = latest(&plain);
    assert_eq!(lecam_anchors(&without), None);
    assert_ne!(
        values(&without, "d"),
        values(&a, "d"),
        "the penalty moves D"
    );
}

#[test]
fn consistency_regularisation_and_mirroring_change_the_run_and_resume_exactly() {
    let data = demo_folder(48);
    let out = tempfile::tempdir().unwrap();
    let plain_preset = tiny(8);
    let plain = out.path().join("plain");
    run(data.path(), &plain, plain_preset.clone(), false);
    let plain = latest(&plain);

    let mut bcr = plain_preset.clone();
    bcr.train.consistency = 10.0;
    let mut mirror = plain_preset;
    mirror.data.mirror = true;
    for (name, preset) in [("bCR", bcr), ("mirror", mirror)] {
        let r = out.path().join(name);
        let mut first = preset.clone();
        first.train.steps = Some(5);
        run(data.path(), &r, first, false);
        run(data.path(), &r, preset.clone(), true);
        let straight = out.path().join(format!("{name}-straight"));
        run(data.path(), &straight, preset, false);
        let (mut a, b) = (latest(&straight), latest(&r));
        a.state.train_seconds = b.state.train_seconds;
        assert_same_training_state(&a, &b, &format!("{name}: straight vs resumed"));
        assert_ne!(values(&plain, "d"), values(&a, "d"), "{name} moves D");
        let metrics = read_metrics(&r.join("metrics.jsonl")).unwrap();
        assert!(metrics.iter().all(atelier::train::MetricsRecord::is_finite));
    }
}

/// The stored weights of a record, in visiting order (input-side layers first).
fn weights(c: &Checkpoint, name: &str) -> Vec<f32> {
    let preset = Preset::from_toml("c", &c.preset_toml).unwrap().model;
    let bytes = c.blob(name).unwrap();
    let device = Device::flex();
    if name == "d" {
        preset.critic(bytes, &device, false).unwrap().values()
    } else {
        load_generator(&preset, bytes, &device).unwrap().values()
    }
}

/// The first `n` weights of a record.
fn prefix(c: &Checkpoint, name: &str, n: usize) -> Vec<f32> {
    weights(c, name)[..n].to_vec()
}

#[test]
fn fine_tuning_starts_from_the_base_keeps_frozen_layers_and_refuses_a_mismatch() {
    let data = demo_folder(40);
    let base_run = tempfile::tempdir().unwrap();
    run(data.path(), base_run.path(), tiny(3), false);
    let base = atelier::sample::base_model_file(&latest(base_run.path())).unwrap();
    assert!(base.blob("opt_g").is_none() && base.blob("d").is_some());
    let base_file = base_run.path().join("base.atl");
    base.save(&base_file).unwrap();

    // Fine-tune with SGD, D's first block and G's first stage frozen.
    let mut preset = tiny(2);
    preset.train.init = Some(base_file.display().to_string());
    preset.train.freeze_d_blocks = 1;
    preset.train.freeze_g_blocks = 1;
    preset.train.optimizer = atelier::preset::OptimizerKind::Sgd;
    preset.train.lr_g = 0.05;
    preset.train.lr_d = 0.05;
    common::dcgan(&mut preset).g_width = 32; // replaced by the base's architecture
    let tuned_run = tempfile::tempdir().unwrap();
    let summary = run(data.path(), tuned_run.path(), preset.clone(), false);
    assert_eq!(summary.step, 2, "a fine-tune counts its own steps from 0");
    let tuned = latest(tuned_run.path());
    let mut tuned_preset = Preset::from_toml("t", &tuned.preset_toml).unwrap();
    assert_eq!(
        common::dcgan(&mut tuned_preset).g_width,
        8,
        "the base's networks replace the preset's model"
    );

    // tiny-test: D block 0 is Conv(1→8, 4×4) + bias; G's first stage is ConvT(16→16, 7×7).
    let d_block0 = 8 * 16 + 8;
    let g_project = 16 * 16 * 7 * 7;
    assert_eq!(prefix(&tuned, "d", d_block0), prefix(&base, "d", d_block0));
    assert_eq!(
        prefix(&tuned, "g", g_project),
        prefix(&base, "ema", g_project)
    );
    assert_ne!(
        weights(&tuned, "d"),
        weights(&base, "d"),
        "unfrozen D layers train"
    );
    assert_ne!(
        weights(&tuned, "g")[g_project..],
        weights(&base, "ema")[g_project..]
    );

    // A run folder works as a base too (its best or latest checkpoint).
    let mut from_dir = tiny(1);
    from_dir.train.init = Some(base_run.path().display().to_string());
    run(
        data.path(),
        tempfile::tempdir().unwrap().path(),
        from_dir,
        false,
    );

    // A 32 px RGB recipe cannot start from a 28 px grey base: the error names the fix.
    let mut rgb = Preset::load("dcgan-32-rgb").unwrap();
    rgb.train.init = Some(base_file.display().to_string());
    let err = run_error(data.path(), rgb);
    assert!(
        err.contains("28 px grey") && err.contains("model.resolution = 28"),
        "{err}"
    );
}

/// Two classes of distinct shapes: light squares and dark rings.
fn two_class_folder() -> tempfile::TempDir {
    use atelier::export::{Picture, save_png_atomic};
    let dir = tempfile::tempdir().unwrap();
    for (class, k) in [("squares", 0u8), ("rings", 1u8)] {
        std::fs::create_dir(dir.path().join(class)).unwrap();
        for i in 0..20u32 {
            let pixels: Vec<u8> = (0..28 * 28u32)
                .map(|p| {
                    let (x, y) = ((p % 28) as i32 - 14, (p / 28) as i32 - 14);
                    let r2 = x * x + y * y;
                    let on = if k == 0 {
                        x.abs() < 6 + (i % 4) as i32 && y.abs() < 6
                    } else {
                        (60..140 + i as i32).contains(&r2)
                    };
                    if on { 230 - i as u8 } else { 10 + i as u8 }
                })
                .collect();
            let picture = Picture::from_chw_u8(&pixels, 1, 28);
            save_png_atomic(
                &picture,
                &dir.path().join(class).join(format!("{i:03}.png")),
            )
            .unwrap();
        }
    }
    dir
}

#[test]
fn auxiliary_class_loss_is_logged_moves_the_run_and_resumes_exactly() {
    let data = two_class_folder();
    let out = tempfile::tempdir().unwrap();
    let mut preset = tiny(6);
    common::dcgan(&mut preset).conditional = true;
    preset.train.class_loss = 1.0;
    let r = out.path().join("r");
    let mut first = preset.clone();
    first.train.steps = Some(3);
    run(data.path(), &r, first, false);
    run(data.path(), &r, preset.clone(), true);
    let straight = out.path().join("straight");
    run(data.path(), &straight, preset.clone(), false);
    let (mut a, b) = (latest(&straight), latest(&r));
    a.state.train_seconds = b.state.train_seconds;
    assert_same_training_state(&a, &b, "class loss: straight vs resumed");
    let metrics = read_metrics(&r.join("metrics.jsonl")).unwrap();
    let logged: Vec<f64> = metrics.iter().filter_map(|m| m.get("class_loss")).collect();
    assert!(!logged.is_empty(), "the class loss is logged");
    assert!(
        logged.iter().all(|l| l.is_finite() && *l >= 0.0),
        "{logged:?}"
    );
    let plain = out.path().join("plain");
    preset.train.class_loss = 0.0;
    run(data.path(), &plain, preset, false);
    let without = latest(&plain);
    let plain_metrics = read_metrics(&plain.join("metrics.jsonl")).unwrap();
    assert!(plain_metrics.iter().all(|m| m.get("class_loss").is_none()));
    assert_ne!(
        values(&without, "d"),
        values(&a, "d"),
        "the class loss moves D"
    );
    assert_ne!(values(&without, "g"), values(&a, "g"), "and G");
}

#[test]
fn conditional_model_learns_its_classes_and_samples_each_by_name() {
    let data = two_class_folder();
    let out = tempfile::tempdir().unwrap();
    let mut preset = tiny(3);
    common::dcgan(&mut preset).conditional = true;
    common::dcgan(&mut preset).d_dropout = 0.2;
    preset.train.mode_seeking = 1.0;
    run(data.path(), out.path(), preset.clone(), false);
    let checkpoint = latest(out.path());
    let sampler = Sampler::from_checkpoint(&checkpoint, &Device::flex()).unwrap();
    assert_eq!(sampler.model.classes(), ["rings", "squares"]);
    assert_eq!(sampler.class_index("SQUARES").unwrap(), 1);
    let err = sampler.class_index("mugs").unwrap_err().to_string();
    assert!(err.contains("rings, squares"), "{err}");
    let z = vec![atelier::latent::latent_for_seed(7, 16)];
    let rings = sampler.render_classes(&z, &[Some(0)]).unwrap();
    let squares = sampler.render_classes(&z, &[Some(1)]).unwrap();
    assert_ne!(rings[0], squares[0], "the class changes the picture");
    assert_eq!(
        sampler.render_classes(&z, &[Some(1)]).unwrap()[0],
        squares[0]
    );
    assert!(sampler.render_classes(&z, &[Some(2)]).is_err());

    // The class-fidelity check: its classifier tells the real classes apart on held-out images.
    let (dataset, _) = import_folder(
        data.path(),
        ImportOptions {
            resolution: 28,
            channels: 1,
            square: atelier::preset::SquareMode::Pad,
        },
        &|_| {},
    )
    .unwrap();
    let split = Split::new(&dataset, preset.data.split, preset.data.split_seed);
    let judge =
        atelier::quality::ClassJudge::train(&dataset, &split.train, &Device::flex()).unwrap();
    let held: Vec<usize> = split
        .validation
        .iter()
        .chain(&split.test)
        .copied()
        .collect();
    let scores = judge.score(&sampler, &dataset, &held, 16).unwrap();
    assert_eq!(scores.len(), 2);
    for s in &scores {
        assert_eq!(s.real_accuracy, 1.0, "{s:?}");
        assert_eq!(s.shots, 16);
        assert!((0.0..=1.0).contains(&s.shot_accuracy));
    }
    // Resume keeps the classes.
    let mut longer = preset.clone();
    longer.train.steps = Some(4);
    run(data.path(), out.path(), longer, true);

    // One class folder cannot train a conditional model.
    let one = demo_folder(20);
    let err = run_error(one.path(), preset);
    assert!(err.contains("model.conditional"), "{err}");
}

#[test]
fn the_shipped_base_model_fine_tunes_with_the_finetune_preset() {
    let base = atelier::train::load_base("base-28").unwrap();
    let model = Preset::from_toml("base", &base.preset_toml).unwrap().model;
    assert_eq!((model.resolution(), model.channels()), (28, 1));
    for shipped in atelier::base::SHIPPED_BASES {
        let c = atelier::train::load_base(shipped.name).unwrap();
        let m = Preset::from_toml("base", &c.preset_toml).unwrap().model;
        assert_eq!(
            (m.resolution(), m.channels()),
            (shipped.resolution, shipped.channels)
        );
    }
    assert!(base.blob("d").is_some() && base.blob("ema").is_some());
    let data = demo_folder(40);
    let out = tempfile::tempdir().unwrap();
    let mut preset = Preset::load("finetune-28").unwrap();
    assert_eq!(preset.train.init.as_deref(), Some("base-28"));
    preset.train.steps = Some(2);
    preset.train.batch = 8;
    let summary = run(data.path(), out.path(), preset, false);
    assert_eq!(summary.step, 2);
    let tuned = latest(out.path());
    // Started from the base: the frozen first D block is the base's, bit for bit.
    let d_block0 = 48 * 16 + 48;
    assert_eq!(prefix(&tuned, "d", d_block0), prefix(&base, "d", d_block0));

    // Any recipe can start from it: the base's latent size (64) replaces tiny-test's (16),
    // previews and evaluations included.
    let mut other = tiny(2);
    other.train.init = Some("base-28".into());
    other.train.preview_every = 1;
    let out = tempfile::tempdir().unwrap();
    run(data.path(), out.path(), other, false);
    let model = Preset::from_toml("t", &latest(out.path()).preset_toml)
        .unwrap()
        .model;
    assert_eq!(model.latent_dim(), 64);
}

/// Checkpoints written before the model families split (format 1, records named by the old
/// closed enums) still resume, and continue exactly as the build that wrote them did.
#[test]
fn a_format_one_checkpoint_resumes_exactly_as_the_old_build_did() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format-1");
    let data = tempfile::tempdir().unwrap();
    let tshirts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/fmnist-tshirt-train");
    for i in 0..24 {
        let name = format!("{i:05}.png");
        std::fs::copy(tshirts.join(&name), data.path().join(&name)).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let r = out.path().join("r");
    std::fs::create_dir_all(&r).unwrap();
    std::fs::copy(fixture.join("checkpoint.atl"), r.join(LATEST)).unwrap();
    let old = latest(&r);
    assert_eq!(old.format, 1);
    assert_eq!(old.state.step, 4);

    let mut preset = Preset::from_toml(
        "fixture",
        &std::fs::read_to_string(fixture.join("preset.toml")).unwrap(),
    )
    .unwrap();
    preset.train.steps = Some(8);
    run(data.path(), &r, preset, true);
    let resumed = latest(&r);
    assert_eq!(resumed.format, atelier::train::FORMAT_VERSION);
    assert_eq!(resumed.state.step, 8);
    let sampler = Sampler::from_checkpoint(&resumed, &Device::flex()).unwrap();
    let latents: Vec<Vec<f32>> = (0..4)
        .map(|s| atelier::latent::latent_for_seed(s, sampler.model.latent_dim()))
        .collect();
    for (k, shot) in sampler.render(&latents).unwrap().iter().enumerate() {
        let expected = image::open(fixture.join(format!("expected/seed-{k:08}.png"))).unwrap();
        assert_eq!(
            shot.pixels,
            expected.to_luma8().into_raw(),
            "shot {k} differs from the old build's"
        );
    }
}

/// `n` real colour product photos from clothing-small, half dresses and half shoes.
pub(crate) fn colour_folder(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/clothing-small/train");
    for class in ["dress", "shoes"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(class))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        std::fs::create_dir_all(dir.path().join(class)).unwrap();
        for f in files.iter().take(n / 2) {
            std::fs::copy(f, dir.path().join(class).join(f.file_name().unwrap())).unwrap();
        }
    }
    dir
}

/// The FastGAN family through the same seam: it trains (D's reconstruction loss is logged),
/// renders 64 px colour shots, and a resumed run is the straight run, bit for bit.
#[test]
fn fastgan_trains_renders_and_resumes_exactly() {
    let data = colour_folder(24);
    let out = tempfile::tempdir().unwrap();
    let mut preset = Preset::load("tiny-fastgan").unwrap();
    preset.train.steps = Some(6);
    let straight = out.path().join("straight");
    run(data.path(), &straight, preset.clone(), false);
    let split = out.path().join("split");
    let mut first = preset.clone();
    first.train.steps = Some(3);
    run(data.path(), &split, first, false);
    run(data.path(), &split, preset, true);
    let (mut a, b) = (latest(&straight), latest(&split));
    a.state.train_seconds = b.state.train_seconds;
    assert_same_training_state(&a, &b, "fastgan: straight vs resumed");

    let metrics = read_metrics(&split.join("metrics.jsonl")).unwrap();
    assert!(metrics.iter().all(atelier::train::MetricsRecord::is_finite));
    assert!(metrics.iter().all(|m| m.value("reconstruction") > 0.0));
    let sampler = Sampler::from_checkpoint(&b, &Device::flex()).unwrap();
    assert_eq!(sampler.model.kind(), "fastgan");
    let shots = sampler
        .render(&[atelier::latent::latent_for_seed(
            1,
            sampler.model.latent_dim(),
        )])
        .unwrap();
    assert_eq!(shots[0].pixels.len(), 3 * 64 * 64);
}

/// A run handed the folder as the studio imported it trains on those images without reading
/// the folder again (here the folder has since been emptied: a second import would fail).
#[test]
fn a_run_reuses_the_studios_import_instead_of_reading_the_folder_again() {
    use atelier::data::{ImportOptions, import_folder};
    use atelier::train::Imported;
    let data = tempfile::tempdir().unwrap();
    crate::common::two_class_folder(data.path(), 8, 1);
    let preset = tiny(2);
    let options = ImportOptions {
        resolution: preset.model.resolution(),
        channels: preset.model.channels(),
        square: preset.data.square,
    };
    let (dataset, report) = import_folder(data.path(), options, &|_| {}).unwrap();
    for class in ["light", "dark"] {
        std::fs::remove_dir_all(data.path().join(class)).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let run = RunOptions {
        data_dir: data.path().to_path_buf(),
        run_dir: out.path().join("r"),
        preset,
        resume: false,
        minutes: None,
        imported: Some(Imported {
            dataset: std::sync::Arc::new(dataset),
            report,
            options,
        }),
    };
    let summary = train_run(
        &run,
        &Device::flex(),
        &AtomicBool::new(false),
        &|_| {},
        &mut |_: TrainEvent| {},
    )
    .unwrap();
    assert!(summary.step > 0);
}
