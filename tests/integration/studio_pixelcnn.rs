//! The autoregressive family in the studio: a `tiny-pixelcnn` run trains from dropped photos,
//! the gallery fills with shots drawn pixel by pixel, the slider panel says in one line why it
//! has no sliders, the loss plot is the likelihood, and "Complete the lower half" draws
//! completions of the selected shot that keep its top half.

#![allow(clippy::unwrap_used)]

use atelier::preset::Preset;
use atelier::project::Project;
use egui_kittest::kittest::{By, Queryable};

use crate::studio_ui::{
    drop_and_import, harness, product_photos, settle, studio, train_until_generator, wait_for,
};

#[test]
fn pixelcnn_walk_through_train_draw_and_complete_a_shot() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("mugs");
    product_photos(&photos, 30, |_| false);
    let root = dir.path().join("project");
    let mut project = Project::create(&root, "PixelCNN").unwrap();
    project.settings.preset = Preset::load("tiny-pixelcnn").unwrap();
    project.settings.preset.train.steps = Some(20);
    project.settings.preset.train.checkpoint_every = 20;
    project.settings.train_minutes = None;
    project.save_settings().unwrap();
    let mut h = harness(studio(&root));
    h.step();

    let report = drop_and_import(&mut h, &photos);
    assert_eq!(report.imported, 30);
    assert_eq!(h.state().project.settings.preset.name, "tiny-pixelcnn");
    h.state_mut().import.window_open = false;
    settle(&mut h);
    train_until_generator(&mut h, &root, None);
    let info = h.state().generator.clone().unwrap();
    assert_eq!(info.model.kind(), "pixelcnn");
    assert!(
        info.directions.vectors.is_empty(),
        "no latent space to explore"
    );
    assert!(
        h.state()
            .training
            .metrics
            .iter()
            .all(|m| m.get("nll_bits").is_some_and(|b| b > 0.0 && b.is_finite())),
        "the loss plot is the likelihood"
    );
    wait_for(&mut h, "shots drawn pixel by pixel", |s| {
        s.gallery.textures.len() >= 12
    });

    let first = h.state().visible_ids()[0];
    h.get_by_label(&format!("Shot {first}")).click();
    settle(&mut h);
    let _ = h.get(By::new().label_contains("No sliders or morphs: a PixelCNN has no latent space"));
    h.get_by_label("Complete the lower half").click();
    settle(&mut h);
    wait_for(&mut h, "the completions", |s| {
        s.shot
            .completions
            .as_ref()
            .is_some_and(|(shot, _)| *shot == first)
    });
    let (_, strip) = h.state().shot.completions.clone().unwrap();
    assert_eq!(strip.len(), atelier::studio::COMPLETIONS);
    let _ = h.get_by_label("Top half kept, the rest drawn by the model");
    h.state_mut().shutdown();
}
