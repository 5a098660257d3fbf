//! Closed-form (SeFa) and learnt sliders on the embedded demo generator (28 px grey), through
//! the worker as the studio uses it, and the studio's form for teaching a slider.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use atelier::export::Picture;
use atelier::latent::latent_for_seed;
use atelier::project::DEMO_GENERATOR;
use atelier::protocol::{
    Command, Event, GeneratorInfo, LearntDirection, RenderKind, RenderRequest, ShotsToRender,
    SliderRequest, SliderSource,
};
use atelier::worker::WorkerHandle;

fn worker() -> WorkerHandle {
    super::common::cpu_worker()
}

fn next_event(w: &WorkerHandle) -> Event {
    w.events.recv_timeout(Duration::from_secs(120)).unwrap()
}

fn demo_generator(w: &WorkerHandle, dir: &std::path::Path) -> GeneratorInfo {
    let file = dir.join("demo.atl");
    std::fs::write(&file, DEMO_GENERATOR).unwrap();
    w.commands
        .send(Command::LoadGenerator {
            path: file,
            pin_dir: dir.join("generators"),
        })
        .unwrap();
    loop {
        if let Event::GeneratorReady(info) = next_event(w) {
            return info;
        }
    }
}

fn render(w: &WorkerHandle, info: &GeneratorInfo, latents: Vec<Vec<f32>>) -> Vec<Picture> {
    w.commands
        .send(Command::Render(RenderRequest {
            ticket: 7,
            kind: RenderKind::Gallery,
            generator: info.pinned.clone(),
            latents,
            classes: Vec::new(),
            completion: None,
        }))
        .unwrap();
    loop {
        match next_event(w) {
            Event::Rendered { pictures, .. } => return pictures,
            Event::RenderFailed { error, .. } => panic!("{error}"),
            _ => {}
        }
    }
}

fn brightness(p: &Picture) -> f32 {
    p.pixels.iter().map(|&v| f32::from(v)).sum::<f32>() / p.pixels.len() as f32
}

fn learn(w: &WorkerHandle, request: SliderRequest) -> LearntDirection {
    w.commands
        .send(Command::LearnSlider(Box::new(request)))
        .unwrap();
    loop {
        if let Event::SliderLearnt { result, .. } = next_event(w) {
            return result.unwrap();
        }
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

/// The check on a known attribute: shots picked by brightness teach a slider that
/// brightens monotonically and points where 500 labelled shots say brightness grows.
#[test]
fn a_slider_learnt_from_brightness_picks_brightens_and_matches_500_labelled_shots() {
    let dir = tempfile::tempdir().unwrap();
    let w = worker();
    let info = demo_generator(&w, dir.path());
    let dim = info.model.latent_dim();

    // The designer's picks: the 6 brightest and the 6 darkest of 40 shots.
    let latents: Vec<Vec<f32>> = (0..40).map(|s| latent_for_seed(s, dim)).collect();
    let pictures = render(&w, &info, latents.clone());
    let mut order: Vec<usize> = (0..40).collect();
    order.sort_by(|&a, &b| brightness(&pictures[a]).total_cmp(&brightness(&pictures[b])));
    let pick = |ids: &[usize]| {
        vec![ShotsToRender {
            generator: info.pinned.clone(),
            latents: ids.iter().map(|&i| latents[i].clone()).collect(),
            classes: Vec::new(),
        }]
    };
    let learnt = learn(
        &w,
        SliderRequest {
            key: 1,
            generator: info.pinned.clone(),
            source: SliderSource::Picks {
                with: pick(&order[34..]),
                without: pick(&order[..6]),
            },
            others: Vec::new(),
        },
    );
    assert_eq!(learnt.generator_id, info.id);
    assert!(
        learnt.held_out_accuracy.unwrap() >= 0.8,
        "held-out accuracy {:?}",
        learnt.held_out_accuracy
    );
    let norm: f32 = learnt.vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);

    // Monotonic along the slider, from a few bases.
    for seed in [1000, 1001, 1002] {
        let base = latent_for_seed(seed, dim);
        let steps: Vec<Vec<f32>> = [-2.0f32, -1.0, 0.0, 1.0, 2.0]
            .iter()
            .map(|a| {
                base.iter()
                    .zip(&learnt.vector)
                    .map(|(z, v)| z + a * v)
                    .collect()
            })
            .collect();
        let b: Vec<f32> = render(&w, &info, steps).iter().map(brightness).collect();
        assert!(b.windows(2).all(|p| p[1] > p[0]), "seed {seed}: {b:?}");
    }

    // The direction 500 labelled shots give: brightness regressed onto their latents.
    let labelled: Vec<Vec<f32>> = (5000..5500).map(|s| latent_for_seed(s, dim)).collect();
    let levels: Vec<f32> = render(&w, &info, labelled.clone())
        .iter()
        .map(brightness)
        .collect();
    let mean = levels.iter().sum::<f32>() / levels.len() as f32;
    let mut truth = vec![0f32; dim];
    for (z, l) in labelled.iter().zip(&levels) {
        for (t, zi) in truth.iter_mut().zip(z) {
            *t += zi * (l - mean);
        }
    }
    let c = cosine(&learnt.vector, &truth);
    assert!(c > 0.8, "cosine with the labelled direction: {c}");
    eprintln!(
        "learnt slider: held-out accuracy {:?}, cosine with 500 labelled shots {c:.3}",
        learnt.held_out_accuracy
    );

    // The same taste, found again with another slider active: orthogonal to it.
    let relearnt = learn(
        &w,
        SliderRequest {
            key: 2,
            generator: info.pinned.clone(),
            source: SliderSource::Taste(learnt.taste.clone()),
            others: vec![info.directions.vectors[0].clone()],
        },
    );
    assert_eq!(relearnt.held_out_accuracy, None);
    assert!(cosine(&relearnt.vector, &info.directions.vectors[0]).abs() < 1e-3);
    assert!(relearnt.kept > 0.0 && relearnt.kept <= 1.0);
}

/// SeFa on the demo generator: unit, mutually orthogonal directions, strongest first, named,
/// and each moves the shots.
#[test]
fn closed_form_directions_come_with_every_generator() {
    let dir = tempfile::tempdir().unwrap();
    let w = worker();
    let info = demo_generator(&w, dir.path());
    let sefa = &info.closed_form;
    assert_eq!(sefa.vectors.len(), 8);
    assert_eq!(sefa.labels.len(), 8);
    assert!(sefa.explained.windows(2).all(|e| e[0] >= e[1] - 1e-6));
    assert!(sefa.explained.iter().sum::<f32>() <= 1.0 + 1e-4);
    for (i, a) in sefa.vectors.iter().enumerate() {
        for (j, b) in sefa.vectors.iter().enumerate() {
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let want = if i == j { 1.0 } else { 0.0 };
            assert!((dot - want).abs() < 1e-3, "{i}·{j} = {dot}");
        }
    }
    let base = latent_for_seed(3, info.model.latent_dim());
    let moved: Vec<f32> = base
        .iter()
        .zip(&sefa.vectors[0])
        .map(|(z, v)| z + 3.0 * v)
        .collect();
    let pictures = render(&w, &info, vec![base, moved]);
    let change: f32 = pictures[0]
        .pixels
        .iter()
        .zip(&pictures[1].pixels)
        .map(|(a, b)| (f32::from(*a) - f32::from(*b)).abs())
        .sum::<f32>()
        / pictures[0].pixels.len() as f32;
    assert!(
        change > 2.0,
        "the strongest direction moved pixels by {change} on average"
    );
}

/// A slider move is recorded by name, and an export's metadata says how the shot was made.
fn assert_the_move_is_recorded(studio: &atelier::studio::Studio, shot: u64) {
    let edits = studio.project.curation.get(shot).unwrap().edits.clone();
    assert_eq!(
        edits,
        vec![atelier::latent::SliderEdit {
            slider: "Brighter".into(),
            amount: 2.5
        }]
    );
    let exported = studio.selection_for_export();
    assert_eq!(exported.len(), 1);
    assert_eq!(exported[0].meta.edits, edits);
}

/// The studio's side: favourite the brightest shots and reject the darkest, teach "Brighter"
/// in the form, move it,
/// switch the computed directions to closed-form, and find the slider saved in the project.
#[test]
fn the_studio_teaches_a_slider_from_favourites_and_offers_closed_form_directions() {
    use super::studio_ui::{harness, settle, studio, wait_for};
    use atelier::project::{Project, SliderSet};
    use egui_kittest::kittest::Queryable;

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("demo");
    atelier::project::open_or_create_demo(&root).unwrap();
    let mut h = harness(studio(&root));
    wait_for(&mut h, "the demo generator and its first shots", |s| {
        s.generator.is_some() && s.gallery.pictures.len() >= 24
    });
    let mut shots: Vec<(u64, f32)> = h
        .state()
        .gallery
        .pictures
        .iter()
        .map(|(id, p)| (*id, brightness(p)))
        .collect();
    shots.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (id, _) in &shots[..6] {
        h.state_mut()
            .project
            .curation
            .get_mut(*id)
            .unwrap()
            .favourite = true;
    }
    // The contrast: the 6 darkest, rejected (6 against 6, so chance is a half).
    for (id, _) in &shots[18..] {
        h.state_mut()
            .project
            .curation
            .get_mut(*id)
            .unwrap()
            .rejected = true;
    }
    let (shot, before) = shots[12];
    h.state_mut()
        .click_shot(shot, eframe::egui::Modifiers::NONE);
    // The nearest training photo adds a row to the panel: let the layout settle first.
    wait_for(&mut h, "the nearest training photo", |s| {
        s.shot.nearest.is_some()
    });
    h.get_by_label("Make a slider from my picks…").click();
    settle(&mut h);
    {
        let form = h.state_mut().shot.teaching.form.as_mut().unwrap();
        form.name = "Brighter".into();
        form.contrast = atelier::studio::Contrast::Rejected;
    }
    settle(&mut h);
    assert!(h.query_by_label("6 shots with it, 6 without").is_some());
    h.get_by_label("Learn the slider").click();
    settle(&mut h);
    assert!(
        !h.state().shot.teaching.learning.is_empty()
            || !h.state().project.settings.learnt_sliders.is_empty(),
        "the click started it"
    );
    wait_for(&mut h, "the learnt slider", |s| {
        s.project.settings.learnt_sliders.len() == 1
    });
    let generator_id = h.state().generator.as_ref().unwrap().id.clone();
    let learnt = h.state().project.settings.learnt_sliders[0].clone();
    assert_eq!(learnt.name, "Brighter");
    assert_eq!(learnt.generator_id, generator_id);
    assert_eq!(learnt.picks, [6, 6]);
    assert!(learnt.held_out_accuracy >= 0.8, "{learnt:?}");
    assert_eq!(h.state().shot.editor.amounts.len(), 9);
    assert!(
        h.query_all_by_label_contains("Brighter (learnt)")
            .next()
            .is_some()
    );

    // Moving it renders the shot brighter.
    h.state_mut().shot.editor.amounts[8] = 2.5;
    h.state_mut().slider_moved();
    wait_for(&mut h, "the live render", |s| {
        s.gallery
            .pictures
            .get(&shot)
            .is_some_and(|p| (brightness(p) - before).abs() > 1e-3)
    });
    let after = brightness(&h.state().gallery.pictures[&shot]);
    assert!(after > before + 2.0, "{before} → {after}");
    assert_the_move_is_recorded(h.state(), shot);

    // The closed-form set, from the Directions menu.
    h.get_by_label("Directions").click();
    settle(&mut h);
    h.get_by_label("Closed-form (SeFa)").click();
    settle(&mut h);
    assert_eq!(h.state().project.settings.slider_set, SliderSet::ClosedForm);
    assert!(h.query_all_by_label_contains("% stretch)").next().is_some());
    assert_eq!(
        h.state().shot.editor.amounts.len(),
        9,
        "8 closed-form + the learnt one"
    );

    h.state_mut().shutdown();
    drop(h);
    let saved = Project::open(&root).unwrap();
    assert_eq!(saved.settings.learnt_sliders, vec![learnt]);
    assert_eq!(saved.settings.slider_set, SliderSet::ClosedForm);
}
