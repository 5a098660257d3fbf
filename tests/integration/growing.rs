//! Progressive growing as a schedule on the DCGAN and FastGAN families: a run starts small,
//! fades each doubling in, keeps its side and fade in the checkpoint (so a resumed run is the
//! straight run, bit for bit, across a fade-in), logs where it is, and draws its shots at the
//! side it trains at.

// Exact float comparison is the point: a resumed run must be the straight run.
#![allow(clippy::unwrap_used, clippy::float_cmp)]

use atelier::model::{Growth, ModelConfig};
use atelier::preset::Preset;
use atelier::sample::{Sampler, growth_of};
use atelier::train::read_metrics;
use burn::tensor::Device;

use crate::train::{assert_same_training_state, colour_folder, demo_folder, latest, run};

/// `preset` growing from `from` px with `images` per side.
fn growing(mut preset: Preset, from: usize, images: u64) -> Preset {
    match &mut preset.model {
        ModelConfig::Dcgan(c) => (c.grow_from, c.grow_images) = (from, images),
        ModelConfig::Fastgan(c) => (c.grow_from, c.grow_images) = (from, images),
        other => panic!("{} does not grow", other.kind()),
    }
    preset
}

/// Runs `preset` for `steps` straight and as `split` + the rest resumed; returns the folders.
fn straight_and_resumed(
    data: &std::path::Path,
    out: &std::path::Path,
    preset: &Preset,
    steps: u64,
    split: u64,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let (straight, resumed) = (out.join("straight"), out.join("resumed"));
    let mut all = preset.clone();
    all.train.steps = Some(steps);
    run(data, &straight, all.clone(), false);
    let mut first = preset.clone();
    first.train.steps = Some(split);
    run(data, &resumed, first, false);
    run(data, &resumed, all, true);
    (straight, resumed)
}

/// Every 2×2 block of a picture holds one colour: drawn at half the side, up-sampled.
fn blocky(pixels: &[u8], channels: usize, side: usize) -> bool {
    (0..channels).all(|c| {
        (0..side).all(|y| {
            (0..side).all(|x| {
                let at = |y: usize, x: usize| pixels[(y * side + x) * channels + c];
                at(y, x) == at(y & !1, x & !1)
            })
        })
    })
}

#[test]
fn a_growing_dcgan_resumes_exactly_through_a_fade_in_and_draws_at_its_side() {
    let data = demo_folder(48);
    let out = tempfile::tempdir().unwrap();
    // Batch 8, 24 images per side, each new side fading in over 12: step k (from 0) sees
    // image 8k on. 7 px for steps 0–2; 14 px fading in over steps 3 (α 0) and 4 (α 8/12),
    // alone for 5; 28 px fading in over 6 and 7, alone for 8; full from step 9.
    let preset = growing(Preset::load("tiny-test").unwrap(), 7, 24);
    let (straight, resumed) = straight_and_resumed(data.path(), out.path(), &preset, 10, 4);
    let (mut a, b) = (latest(&straight), latest(&resumed));
    a.state.train_seconds = b.state.train_seconds;
    assert_same_training_state(&a, &b, "growing: straight vs resumed");
    assert_eq!(
        growth_of(&b),
        Some(Growth {
            side: 28,
            alpha: 1.0
        })
    );
    let metrics = read_metrics(&resumed.join("metrics.jsonl")).unwrap();
    let sides: Vec<(u64, f32, f32)> = metrics
        .iter()
        .map(|m| (m.step, m.value("grow_side"), m.value("grow_alpha")))
        .collect();
    assert_eq!(
        sides,
        vec![
            (2, 7.0, 1.0),
            (4, 14.0, 0.0),
            (5, 14.0, 8.0 / 12.0),
            (6, 14.0, 1.0),
            (8, 28.0, 8.0 / 12.0),
            (10, 28.0, 1.0)
        ],
        "where the run was at each metrics line"
    );

    // Stopped after step 6 (index 5, the last at 14 px alone): its shots are 14 px, shown
    // at 28 px.
    let at_fourteen = out.path().join("fourteen");
    let mut six = preset.clone();
    six.train.steps = Some(6);
    run(data.path(), &at_fourteen, six, false);
    let c = latest(&at_fourteen);
    assert_eq!(
        growth_of(&c),
        Some(Growth {
            side: 14,
            alpha: 1.0
        })
    );
    let sampler = Sampler::from_checkpoint(&c, &Device::flex()).unwrap();
    let shots = sampler
        .render(&[atelier::latent::latent_for_seed(3, 16)])
        .unwrap();
    assert_eq!(shots[0].pixels.len(), 28 * 28);
    assert!(blocky(&shots[0].pixels, 1, 28), "drawn at 14 px");
    // Grown: full-side detail.
    let full = Sampler::from_checkpoint(&b, &Device::flex()).unwrap();
    let shots = full
        .render(&[atelier::latent::latent_for_seed(3, 16)])
        .unwrap();
    assert!(!blocky(&shots[0].pixels, 1, 28), "drawn at 28 px");
}

#[test]
fn a_growing_fastgan_resumes_exactly_and_rebuilds_reals_once_its_d_sees_32_px() {
    let data = colour_folder(16);
    let out = tempfile::tempdir().unwrap();
    // Batch 4, 8 images per side, each new side fading in over 4 (one step, at α 0): 16 px
    // for steps 0–1, 32 px fading in at 2, alone at 3, 64 px fading in at 4, full from 5.
    let preset = growing(Preset::load("tiny-fastgan").unwrap(), 16, 8);
    let mut preset = preset;
    preset.train.metrics_every = 1;
    let (straight, resumed) = straight_and_resumed(data.path(), out.path(), &preset, 6, 3);
    let (mut a, b) = (latest(&straight), latest(&resumed));
    a.state.train_seconds = b.state.train_seconds;
    assert_same_training_state(&a, &b, "growing fastgan: straight vs resumed");
    let metrics = read_metrics(&resumed.join("metrics.jsonl")).unwrap();
    let seen: Vec<(u64, f32, f32, bool)> = metrics
        .iter()
        .map(|m| {
            (
                m.step,
                m.value("grow_side"),
                m.value("grow_alpha"),
                m.value("reconstruction") > 0.0,
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (1, 16.0, 1.0, false),
            (2, 16.0, 1.0, false),
            (3, 32.0, 0.0, true),
            (4, 32.0, 1.0, true),
            (5, 64.0, 0.0, true),
            (6, 64.0, 1.0, true)
        ],
        "D's decoders rebuild reals once it sees 32 px"
    );
    let sampler = Sampler::from_checkpoint(&b, &Device::flex()).unwrap();
    let shots = sampler
        .render(&[atelier::latent::latent_for_seed(
            1,
            sampler.model.latent_dim(),
        )])
        .unwrap();
    assert_eq!(shots[0].pixels.len(), 3 * 64 * 64);
}
