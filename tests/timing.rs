//! The studio's time estimate against a real run, in a test binary of its own: cargo runs test
//! binaries one after another, so no other test shares the cores while it times. Inside the
//! integration binary, tests running beside it made a warm-up and the run it predicts see
//! different loads (a clean-clone CI measured 0.74× and 11× in three attempts, 1.07× alone).

#![allow(clippy::unwrap_used)]

use std::sync::atomic::AtomicBool;

use atelier::train::{RunOptions, train_run};
use burn::tensor::Device;

#[path = "support/tiny_runs.rs"]
mod tiny_runs;
use tiny_runs::{demo_folder, tiny};

/// The studio's time estimate (a short warm-up of the recipe) is within ±25 % of the time a
/// real run of the recipe takes, evaluations, previews and checkpoints included. Timing on a
/// shared machine is noisy: each attempt measures the estimate and the run back to back, and
/// one of three attempts must land inside the band.
#[test]
fn a_warm_up_estimates_a_runs_time_within_a_quarter() {
    let data = demo_folder(200);
    let mut preset = tiny(400);
    preset.train.eval_every = 200;
    let mut ratios = Vec::new();
    for attempt in 0..3 {
        let out = tempfile::tempdir().unwrap();
        let options = RunOptions {
            data_dir: data.path().to_path_buf(),
            run_dir: out.path().join(format!("run-{attempt}")),
            preset: preset.clone(),
            resume: false,
            minutes: None,
            imported: None,
        };
        let estimate = atelier::train::estimate_run(
            &options,
            &Device::flex(),
            std::time::Duration::from_secs(2),
        )
        .unwrap();
        assert_eq!(estimate.recipe_steps, 400);
        assert_eq!((estimate.eval_every, estimate.checkpoint_every), (200, 5));
        let predicted = estimate.duration_for(400).as_secs_f64();
        let started = std::time::Instant::now();
        let summary = train_run(
            &options,
            &Device::flex(),
            &AtomicBool::new(false),
            &|_| {},
            &mut |_| {},
        )
        .unwrap();
        let measured = started.elapsed().as_secs_f64();
        assert_eq!(summary.step, 400);
        ratios.push((predicted, measured, predicted / measured));
        if (0.75..=1.25).contains(&(predicted / measured)) {
            eprintln!("estimate / measured (s): {ratios:?}");
            return;
        }
    }
    panic!("estimate / measured (s) outside ±25 % in every attempt: {ratios:?}");
}
