//! UI tests: drive the real studio state with `egui_kittest`, find controls by their labels,
//! and check the state and the files it writes. The worker trains `tiny-test` on the CPU
//! device.

// Helpers unwrap like the tests; the walk-through is one long user story on purpose; exported
// metadata must round-trip bit for bit.
#![allow(clippy::unwrap_used, clippy::too_many_lines, clippy::float_cmp)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atelier::device::GpuErrorLog;
use atelier::export::read_shot_meta;
use atelier::preset::Preset;
use atelier::project::{CURATION_FILE, Curation, Project, ProjectSettings};
use atelier::studio::{Background, Studio, load_project};
use atelier::worker::{Wake, WorkerDevice, spawn_worker};
use burn::tensor::Device;
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::{By, Queryable};

pub(crate) fn studio(root: &Path) -> Studio {
    let mut loaded = load_project(root, false).unwrap();
    // Parallel tests must neither race on nor fill the user's recent-projects list.
    loaded.recent_file = None;
    let wake: Wake = Arc::new(|| {});
    let device = WorkerDevice {
        device: Device::flex(),
        shared_with_renderer: false,
        gpu_errors: None,
        cpu_threads: None,
        remote: None,
    };
    let worker = spawn_worker(device, wake.clone()).unwrap();
    let background = Background::new(wake.clone()).unwrap();
    Studio::new(
        loaded,
        worker,
        background,
        wake,
        GpuErrorLog::default(),
        "CPU (test)".into(),
    )
}

/// Creates a project at `root` on the `tiny-test` recipe, with `edit`'s settings.
fn tiny_test_project(root: &Path, name: &str, edit: impl FnOnce(&mut ProjectSettings)) {
    let mut project = Project::create(root, name).unwrap();
    project.settings.preset = Preset::load("tiny-test").unwrap();
    // The tests train by the recipe's steps; a new project would train for an hour.
    project.settings.train_minutes = None;
    edit(&mut project.settings);
    project.save_settings().unwrap();
}

pub(crate) fn harness(studio: Studio) -> Harness<'static, Studio> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, s: &mut Studio| s.ui(ui), studio)
}

/// Panels drawn before the one that handled a click show its effect a frame later.
pub(crate) fn settle(h: &mut Harness<'_, Studio>) {
    h.step();
    h.step();
}

/// The studio's notices, for failure messages.
fn notice_texts(s: &Studio) -> Vec<&str> {
    s.notices.iter().map(|n| n.text.as_str()).collect()
}

/// Clicks Train and checks the click started something: a miss fails here, by name, instead
/// of as a long wait for steps that never come.
pub(crate) fn click_train(h: &mut Harness<'_, Studio>) {
    h.get_by_label("Train").click();
    settle(h);
    assert!(
        h.state().training.state.is_some(),
        "the click on Train started nothing; notices: {:?}",
        notice_texts(h.state())
    );
}

/// Steps frames until `done` holds (the worker answers asynchronously).
pub(crate) fn wait_for(h: &mut Harness<'_, Studio>, what: &str, done: impl Fn(&Studio) -> bool) {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "timed out waiting for {what}; notices: {:?}",
            notice_texts(h.state())
        );
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.step();
}

#[test]
fn import_train_select_slide_favourite_export() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("shirts");
    atelier::demo::write_demo_set(&images, 40).unwrap();
    std::fs::write(images.join("broken.png"), b"not a png").unwrap();
    let root = dir.path().join("project");
    tiny_test_project(&root, "UI test", |s| {
        s.preset.train.epochs = 3;
        s.export.folder = dir.path().join("exports");
    });

    let mut h = harness(studio(&root));
    h.step();

    // Import by dropping the folder: the report counts the images and names the bad file.
    h.state_mut().dropped(vec![images.clone()]);
    wait_for(&mut h, "the import", |s| s.import.report.is_some());
    let report = h.state().import.report.clone().unwrap();
    assert_eq!(report.imported, 40);
    assert_eq!(report.skipped.len(), 1);
    assert!(report.skipped[0].path.ends_with("broken.png"));
    assert_eq!(
        h.state().project.settings.data_dir.as_deref(),
        Some(images.as_path())
    );
    assert!(!h.state().import.thumbnails.is_empty());
    assert_eq!(
        h.state().project.settings.preset.train.augment,
        atelier::preset::AugmentMode::Adaptive,
        "a 40-image folder turns adaptive augmentation on"
    );
    // Three epochs of 32 training images (split 0.8) at batch 8 would be 12 steps.
    assert_eq!(
        h.state().project.settings.preset.train.steps,
        Some(atelier::studio::SMALL_FOLDER_MIN_STEPS),
        "an epoch-counted run on a small folder gets enough steps"
    );
    h.get_by_label_contains("Small folder: 3 epochs would be only");
    assert!(
        h.state()
            .notices
            .iter()
            .any(|n| n.text.contains("Start from: base-28")),
        "a small 28 px grey folder is pointed at the shipped base"
    );
    h.get_by_label("Close report").click();
    settle(&mut h);
    assert!(!h.state().import.window_open);

    // Train: the first checkpoint becomes the generator and fills the gallery.
    click_train(&mut h);
    wait_for(&mut h, "a generator from training", |s| {
        s.generator.is_some()
    });
    wait_for(&mut h, "rendered gallery shots", |s| {
        s.gallery.textures.len() >= 24
    });
    assert!(h.state().training.step >= 5);
    assert!(
        !h.state().training.metrics.is_empty(),
        "loss plots have data"
    );
    if h.state().training.state.is_some() {
        h.get_by_label("Stop").click();
    }
    wait_for(&mut h, "training to end", |s| {
        s.training.state.is_none() && s.training.last_summary.is_some()
    });
    let run = h.state().project.settings.current_run.clone().unwrap();
    assert!(root.join("runs").join(&run).join("checkpoint.atl").exists());

    // Select a shot, move a slider: the shot's latent changes and a new image arrives.
    let first = h.state().visible_ids()[0];
    h.get_by_label(&format!("Shot {first}")).click();
    settle(&mut h);
    assert_eq!(h.state().gallery.selected, vec![first]);
    wait_for(&mut h, "the nearest training image", |s| {
        s.shot.nearest.as_ref().is_some_and(|n| n.shot == first)
    });
    let nearest = h.state().shot.nearest.as_ref().unwrap();
    assert!(nearest.distance.is_finite() && nearest.threshold > 0.0);
    h.get_by_label("Nearest training image");
    let before = h
        .state()
        .project
        .curation
        .get(first)
        .unwrap()
        .latent
        .clone();
    let picture_before = h.state().gallery.pictures.get(&first).cloned();
    h.get(
        By::new()
            .role(egui::accesskit::Role::Slider)
            .label_contains("1 · "),
    )
    .set_value_accesskit(2.0);
    settle(&mut h);
    wait_for(&mut h, "the slider render", |s| {
        !s.stats.slider_latency_ms.is_empty()
    });
    let shot = h.state().project.curation.get(first).unwrap().clone();
    assert_ne!(shot.latent, before, "the slider moved the latent");
    assert!(shot.edited);
    assert_ne!(
        h.state().gallery.pictures.get(&first).cloned(),
        picture_before
    );

    // A drag faster than the worker answers: 20 moves before it can reply. One live render
    // is in flight at a time; the moves made meanwhile wait, and only the newest of them is
    // rendered when it answers.
    let renders_before = h.state().stats.slider_latency_ms.len();
    for k in 0..20 {
        let s = h.state_mut();
        s.shot.editor.amounts[0] = -2.0 + 0.2 * k as f32;
        s.slider_moved();
        assert_eq!(s.live_in_flight(), 1);
    }
    let last = h
        .state()
        .project
        .curation
        .get(first)
        .unwrap()
        .latent
        .clone();
    wait_for(&mut h, "the drag's last render", |s| {
        s.live_in_flight() == 0
    });
    let rendered = h.state().stats.slider_latency_ms.len() - renders_before;
    assert_eq!(rendered, 2, "the first move and the newest waiting one");
    assert_eq!(h.state().project.curation.get(first).unwrap().latent, last);

    // Shift-click selects a range; arrow keys move the selection.
    let ids = h.state().visible_ids();
    h.get_by_label(&format!("Shot {}", ids[3]))
        .click_modifiers(egui::Modifiers::SHIFT);
    settle(&mut h);
    assert_eq!(h.state().gallery.selected.len(), 4);
    h.get_by_label(&format!("Shot {first}")).click();
    settle(&mut h);
    h.key_press(egui::Key::ArrowRight);
    settle(&mut h);
    assert_eq!(h.state().gallery.selected, vec![ids[1]]);
    h.get_by_label(&format!("Shot {first}")).click();
    settle(&mut h);

    // Favourite and tag it; reject another (it disappears from the gallery).
    h.get_by_label("Favourite").click();
    settle(&mut h);
    assert!(h.state().project.curation.get(first).unwrap().favourite);
    h.get_by_label("Tag").focus();
    settle(&mut h);
    h.get_by_label("Tag").type_text("hero");
    settle(&mut h);
    h.get_by_label("Add tag").click();
    settle(&mut h);
    assert_eq!(
        h.state().project.curation.get(first).unwrap().tags,
        ["hero"]
    );
    h.get_by_label(&format!("Shot {}", ids[2])).click();
    settle(&mut h);
    h.get_by_label("Reject").click();
    settle(&mut h);
    assert!(!h.state().visible_ids().contains(&ids[2]));

    // Export the favourite at 256 px: the PNG carries the metadata that regenerates it.
    let (exported, meta, shot) = export_favourite_at_256(&mut h, first);
    assert_eq!(meta.latent, shot.latent);
    assert_eq!(meta.truncation, shot.truncation);
    assert_eq!(meta.checkpoint_id, shot.generator_id);
    let image = image::open(&exported).unwrap();
    assert_eq!((image.width(), image.height()), (256, 256));
    // Sharp by default (the shipped upscaler), or smooth by choice; the file says which.
    let upscaler = meta.upscaler.clone().unwrap_or_default();
    assert!(upscaler.starts_with("learnt-4x:"), "{upscaler}");
    h.get_by_label("Smooth (Lanczos)").click();
    settle(&mut h);
    h.state_mut().export.last.clear();
    h.get_by_label("Export now").click();
    wait_for(&mut h, "the smooth export", |s| !s.export.last.is_empty());
    let smooth = read_shot_meta(&h.state().export.last[0]).unwrap();
    assert_eq!(smooth.upscaler.as_deref(), Some("lanczos3"));
    assert_eq!(smooth.latent, meta.latent);
    // 28 px photos are too small to learn an upscaler from: the studio says so.
    h.get_by_label("Learn an upscaler from this project's photos")
        .click();
    wait_for(&mut h, "the upscaler's refusal", |s| {
        s.notices
            .iter()
            .any(|n| n.text.contains("are smaller than one 96 px training crop"))
    });

    // Dropping the export back restores the shot with the same latent.
    let count = h.state().project.curation.shots.len();
    h.state_mut().dropped(vec![exported.clone(), exported]);
    wait_for(&mut h, "restored shots", |s| {
        s.project.curation.shots.len() == count + 2
    });
    let restored = h.state().project.curation.shots.last().unwrap().clone();
    assert_eq!(restored.latent, shot.latent);

    // Curation is saved (atomically, off the UI thread) and reopens as it was.
    h.state_mut().flush_saves();
    let expected = h.state().project.curation.clone();
    let start = Instant::now();
    loop {
        let saved: Option<Curation> = std::fs::read(root.join(CURATION_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if saved.as_ref() == Some(&expected) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "curation not saved"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    h.state_mut().shutdown();
    let reopened = Project::open(&root).unwrap();
    assert!(reopened.curation.get(first).unwrap().favourite);
    assert_eq!(reopened.settings.current_run, Some(run));
}

#[test]
fn a_bad_recipe_value_is_reported_by_field_and_nothing_starts() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("project");
    tiny_test_project(&root, "Bad", |s| {
        s.data_dir = Some(dir.path().to_path_buf());
        s.preset.train.batch = 0;
    });
    let mut h = harness(studio(&root));
    h.step();
    h.get_by_label("Train").click();
    settle(&mut h);
    // Other notices (from the worker or the background thread) may land in the same frames:
    // look for the error, not at the last line.
    let notices: Vec<_> = h
        .state()
        .notices
        .iter()
        .map(|n| (n.is_error, n.text.clone()))
        .collect();
    assert!(
        notices
            .iter()
            .any(|(error, text)| *error && text.contains("batch")),
        "{notices:?}"
    );
    assert!(h.state().training.state.is_none());

    // A start the worker cannot do (the folder holds no image) ends as an error, not as a
    // panel stuck in "Preparing".
    h.state_mut().project.settings.preset.train.batch = 8;
    h.get_by_label("Train").click();
    settle(&mut h);
    wait_for(&mut h, "the failed start to settle", |s| {
        s.training.state.is_none() && s.notices.last().is_some_and(|n| n.is_error)
    });
    h.get_by_label("Train");
    h.state_mut().shutdown();
}

/// `studio --import DIR --auto-train`: the run starts once the import has ended, on the
/// folder just imported, instead of failing at once with "import a folder first".
#[test]
fn auto_train_waits_for_the_import_under_way() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("shirts");
    atelier::demo::write_demo_set(&images, 12).unwrap();
    let root = dir.path().join("project");
    tiny_test_project(&root, "Auto", |_| {});
    let mut h = harness(studio(&root));
    h.step();
    h.state_mut().dropped(vec![images.clone()]);
    h.state_mut().auto_train();
    assert!(
        h.state().training.state.is_none(),
        "nothing to train on yet"
    );
    wait_for(&mut h, "the run to start after the import", |s| {
        s.training.state.is_some()
    });
    assert_eq!(
        h.state().project.settings.data_dir.as_deref(),
        Some(images.as_path())
    );
    assert!(
        !h.state().notices.iter().any(|n| n.is_error),
        "{:?}",
        notice_texts(h.state())
    );
    h.state_mut().shutdown();
}

/// Selecting a shot in a reopened project reads the project's folder quietly (to find
/// near-copies). A folder the user drops meanwhile is imported after it, not refused; and a
/// quiet read that fails (the folder moved) leaves the user's next import a real one.
#[test]
fn a_folder_dropped_during_the_quiet_read_of_the_project_folder_is_imported_next() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old-shirts");
    atelier::demo::write_demo_set(&old, 12).unwrap();
    let new = dir.path().join("new-shirts");
    atelier::demo::write_demo_set(&new, 14).unwrap();
    for (project_folder, quiet_ends) in [(old.clone(), "ends"), (dir.path().join("moved"), "fails")]
    {
        let root = dir.path().join(format!("project-{quiet_ends}"));
        tiny_test_project(&root, "Reopened", |s| {
            s.data_dir = Some(project_folder.clone());
        });
        let mut h = harness(studio(&root));
        h.step();
        h.state_mut().import.quiet = true;
        h.state_mut()
            .import_source(atelier::worker::ImportSource::Folder(project_folder));
        h.state_mut().dropped(vec![new.clone()]);
        h.state_mut().auto_train();
        wait_for(&mut h, "the run on the dropped folder to start", |s| {
            s.training.state.is_some()
        });
        let s = h.state();
        assert_eq!(
            s.project.settings.data_dir.as_deref(),
            Some(new.as_path()),
            "quiet read {quiet_ends}"
        );
        assert!(
            noticed(&h, &["Imported 14 images", "new-shirts"]),
            "quiet read {quiet_ends}: {:?}",
            notice_texts(s)
        );
        assert!(
            !notice_texts(s)
                .iter()
                .any(|n| n.contains("already running")),
            "{:?}",
            notice_texts(s)
        );
        h.state_mut().shutdown();
    }
}

/// Two class folders of distinct shapes (light squares, dark rings), 20 images each.
fn two_class_folder(root: &Path) {
    for (class, rings) in [("squares", false), ("rings", true)] {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for i in 0..20i32 {
            let pixels: Vec<u8> = (0..28 * 28i32)
                .map(|p| {
                    let (x, y) = (p % 28 - 14, p / 28 - 14);
                    let on = if rings {
                        (60..140 + i).contains(&(x * x + y * y))
                    } else {
                        x.abs() < 6 + i % 4 && y.abs() < 6
                    };
                    if on { 230 - i as u8 } else { 10 + i as u8 }
                })
                .collect();
            let picture = atelier::export::Picture::from_chw_u8(&pixels, 1, 28);
            atelier::export::save_png_atomic(&picture, &root.join(class).join(format!("{i}.png")))
                .unwrap();
        }
    }
}

/// Exports the favourite shot `first` (selected by its tile) at 256 px; returns the file, the
/// metadata read back from it, and the shot as curated.
fn export_favourite_at_256(
    h: &mut Harness<'_, Studio>,
    first: atelier::project::ShotId,
) -> (
    std::path::PathBuf,
    atelier::export::ShotMeta,
    atelier::project::Shot,
) {
    h.get_by_label(&format!("Shot {first} fav")).click();
    settle(h);
    h.get_by_label("Export…").click();
    settle(h);
    h.state_mut().project.settings.export.size_px = 256;
    h.get_by_label("Export now").click();
    wait_for(h, "the export", |s| !s.export.last.is_empty());
    let exported = h.state().export.last[0].clone();
    let meta = read_shot_meta(&exported).unwrap();
    let shot = h.state().project.curation.get(first).unwrap().clone();
    (exported, meta, shot)
}

/// Clicks Train and waits for a generator from the new run's checkpoint, then stops.
pub(crate) fn train_until_generator(
    h: &mut Harness<'_, Studio>,
    root: &Path,
    previous: Option<&str>,
) {
    click_train(h);
    wait_for(h, "a generator from the new run", |s| {
        let run = s.project.settings.current_run.as_deref();
        run.is_some_and(|r| Some(r) != previous)
            && s.generator.as_ref().is_some_and(|g| {
                run.is_some_and(|r| g.source.starts_with(root.join("runs").join(r)))
            })
    });
    if h.state().training.state.is_some() {
        h.get_by_label("Stop").click();
    }
    wait_for(h, "training to end", |s| s.training.state.is_none());
}

#[test]
fn conditional_training_class_picker_filter_export_then_fine_tune() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("products");
    two_class_folder(&images);
    let root = dir.path().join("project");
    tiny_test_project(&root, "Classes", |s| {
        s.data_dir = Some(images.clone());
        s.preset.train.epochs = 2;
        s.export.folder = dir.path().join("exports");
    });
    let mut h = harness(studio(&root));
    h.step();

    // Dropping a folder of class sub-folders suggests a conditional model.
    h.state_mut().dropped(vec![images.clone()]);
    wait_for(&mut h, "the import", |s| s.import.report.is_some());
    assert!(
        h.state()
            .notices
            .iter()
            .any(|n| n.text.contains("2 class folders") && n.text.contains("Conditional")),
        "no conditional tip"
    );
    h.get_by_label_contains("Tip: 2 class folders. Conditional");
    h.state_mut().import.window_open = false;
    settle(&mut h);

    // A conditional run: the generator knows the sub-folders as classes.
    h.get_by_label("Conditional: one class per sub-folder")
        .click();
    settle(&mut h);
    assert!(h.state().project.settings.preset.model.conditional());
    // The mode-seeking term and the class loss come with it: without the first G drew one
    // image per class, without the second the weakest class was drawn less faithfully.
    assert_eq!(h.state().project.settings.preset.train.mode_seeking, 1.0);
    assert_eq!(h.state().project.settings.preset.train.class_loss, 1.0);
    h.get_by_label_contains("Class loss 1: shots are drawn as the class asked for.");
    // Unticked, the class loss goes (an unconditional model has no class to name), so the
    // recipe stays valid; ticked again, it comes back.
    h.get_by_label("Conditional: one class per sub-folder")
        .click();
    settle(&mut h);
    let preset = &h.state().project.settings.preset;
    assert!(!preset.model.conditional());
    assert_eq!(preset.train.class_loss, 0.0);
    preset.validate().unwrap();
    h.get_by_label("Conditional: one class per sub-folder")
        .click();
    settle(&mut h);
    assert_eq!(h.state().project.settings.preset.train.class_loss, 1.0);
    train_until_generator(&mut h, &root, None);
    let classes = h
        .state()
        .generator
        .as_ref()
        .unwrap()
        .model
        .classes()
        .to_vec();
    assert_eq!(classes, ["rings", "squares"]);
    let first_run = h.state().project.settings.current_run.clone().unwrap();

    // Draw only squares: new shots carry the class, in their accessible name too.
    h.get_by_label("Draw class").click();
    settle(&mut h);
    h.get_by_label("squares").click();
    settle(&mut h);
    assert_eq!(
        h.state().project.settings.sample_class.as_deref(),
        Some("squares")
    );
    let before = h.state().project.curation.shots.len();
    h.get_by_label("Generate").click();
    settle(&mut h);
    let new: Vec<_> = h.state().project.curation.shots[before..].to_vec();
    assert!(!new.is_empty());
    assert!(new.iter().all(|s| s.class.as_deref() == Some("squares")));
    let id = new[0].id;
    wait_for(&mut h, "the new shot's render", |s| {
        s.gallery.pictures.contains_key(&id)
    });
    h.get_by_label(&format!("Shot {id} squares")).click();
    settle(&mut h);

    // Class swap: the same latent (style) drawn as the other class.
    let count = h.state().project.curation.shots.len();
    h.get_by_label("Every class").click();
    settle(&mut h);
    let swapped = h.state().project.curation.shots[count..].to_vec();
    assert_eq!(swapped.len(), 1, "one other class");
    assert_eq!(swapped[0].class.as_deref(), Some("rings"));
    assert_eq!(swapped[0].latent, new[0].latent);
    assert_eq!(swapped[0].parent, Some(id));
    let swapped_id = swapped[0].id;
    wait_for(&mut h, "the swapped shot's render", |s| {
        s.gallery.pictures.contains_key(&swapped_id)
    });
    h.state_mut().gallery.selected = vec![id];
    settle(&mut h);

    // The gallery filter shows one class at a time.
    h.get_by_label("Show class").click();
    settle(&mut h);
    h.get_by_label("rings").click();
    settle(&mut h);
    let shown = h.state().visible_ids();
    assert!(!shown.is_empty());
    assert!(shown.iter().all(|i| {
        h.state().project.curation.get(*i).unwrap().class.as_deref() == Some("rings")
    }));
    h.state_mut().project.settings.class_filter = None;
    settle(&mut h);

    // Exported names and metadata carry the class.
    h.state_mut().gallery.selected = vec![id];
    h.state_mut().project.settings.export.size_px = 256;
    h.state_mut().export_selection();
    wait_for(&mut h, "the export", |s| !s.export.last.is_empty());
    let exported = h.state().export.last[0].clone();
    let name = exported.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("squares-"), "{name}");
    assert_eq!(
        read_shot_meta(&exported).unwrap().class.as_deref(),
        Some("squares")
    );

    // Fine-tune from the first run: base path typed, FreezeD 1, SGD, dropout.
    h.get_by_label("Start from").click();
    settle(&mut h);
    h.get_by_label("A checkpoint or run folder").click();
    settle(&mut h);
    let base = root.join("runs").join(&first_run);
    h.get_by_label("Base model path").focus();
    settle(&mut h);
    h.get_by_label("Base model path")
        .type_text(&base.display().to_string());
    settle(&mut h);
    h.get(
        By::new()
            .role(egui::accesskit::Role::SpinButton)
            .label("Freeze D blocks"),
    )
    .set_value_accesskit(1.0);
    h.get(
        By::new()
            .role(egui::accesskit::Role::SpinButton)
            .label("D dropout"),
    )
    .set_value_accesskit(0.1);
    settle(&mut h);
    // The optimiser is a raw field: under Advanced.
    h.get_by_label("Advanced").click();
    settle(&mut h);
    h.get_by_label("Optimizer").click();
    settle(&mut h);
    h.get_by_label("Sgd").click();
    settle(&mut h);
    h.get_by_label("Momentum");
    let t = &h.state().project.settings.preset.train;
    assert_eq!(t.init.as_deref(), Some(base.display().to_string().as_str()));
    assert_eq!(t.freeze_d_blocks, 1);
    // Folded again: with the raw fields open, Train is below the window's edge.
    h.get_by_label("Advanced").click();
    settle(&mut h);
    train_until_generator(&mut h, &root, Some(&first_run));
    let second_run = h.state().project.settings.current_run.clone().unwrap();
    assert_ne!(second_run, first_run);
    let recipe =
        std::fs::read_to_string(root.join("runs").join(&second_run).join("preset.toml")).unwrap();
    let recipe = Preset::from_toml("run", &recipe).unwrap();
    assert_eq!(recipe.train.freeze_d_blocks, 1);
    assert_eq!(recipe.train.optimizer, atelier::preset::OptimizerKind::Sgd);
    assert_eq!(recipe.model.family().d_dropout(), Some(0.1));
    assert_eq!(
        recipe.model.classes(),
        ["rings", "squares"],
        "the base's classes"
    );
    h.state_mut().shutdown();
}

/// The training panel plots a run's held-out figures from its logs: SWD always, and the
/// feature distance, precision and recall when the run recorded them (28 px grey data).
#[test]
fn the_training_panel_plots_held_out_swd_and_feature_fd_from_the_run_logs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("project");
    let mut project = Project::create(&root, "Plots").unwrap();
    project.settings.current_run = Some("run-001".into());
    project.save_settings().unwrap();
    let run = project.run_dir("run-001");
    std::fs::create_dir_all(&run).unwrap();
    let metrics: String = (1..=3u32)
        .map(|k| {
            let line = serde_json::json!({
                "step": k * 500, "epoch": 1, "d_loss": 1.2, "g_loss": 0.9, "d_real": 0.6,
                "d_fake": 0.4, "images_per_sec": 150.0, "train_seconds": f64::from(k),
            });
            line.to_string() + "\n"
        })
        .collect();
    std::fs::write(run.join("metrics.jsonl"), metrics).unwrap();
    let quality: String = [(500, 48.8, 31.5), (1000, 31.6, 17.25), (1500, 21.7, 12.75)]
        .iter()
        .map(|&(step, swd, fd)| {
            // Early shots are alike (variety 0.2); the last evaluation's are varied.
            let variety = if step == 1500 { 0.91 } else { 0.2 };
            let record = atelier::quality::QualityRecord {
                step,
                swd,
                swd_levels: Vec::new(),
                near_copy_fraction: 0.0,
                copying: None,
                real_images: 300,
                feature_fd: Some(fd),
                feature_judge: None,
                fidelity: Some(atelier::quality::PrecisionRecall {
                    precision: 0.3 + step as f64 / 5000.0,
                    recall: 0.5,
                }),
                density_coverage: Some(atelier::quality::DensityCoverage {
                    density: 0.84,
                    coverage: 0.62,
                }),
                copying_space: None,
                variety: Some(variety),
                judge_pending: false,
                nll_bits: None,
            };
            serde_json::to_string(&record).unwrap() + "\n"
        })
        .collect();
    std::fs::write(run.join("quality.jsonl"), quality).unwrap();

    let mut h = harness(studio(&root));
    settle(&mut h);
    // The plots sit under a collapsed header: the preview grid is the main progress view.
    assert!(
        h.query_by_label("Held-out SWD ×10³ (lower is better)")
            .is_none()
    );
    h.get_by_label("Loss and quality plots").click();
    settle(&mut h);
    h.get_by_label("Held-out SWD ×10³ (lower is better)");
    h.get_by_label("Held-out feature FD (lower is better)");
    h.get_by_label("Held-out precision and recall (higher is better)");

    // The progress lines (as while training) give the last evaluation's variety, and warn
    // while shots are far more alike than real photos.
    h.state_mut().training.total_steps = 2000;
    h.state_mut().training.step = 1500;
    settle(&mut h);
    h.get_by_label_contains("variety 0.91");
    h.get_by_label("precision 0.60 · recall 0.50");
    h.get_by_label("density 0.84 · coverage 0.62");
    assert!(
        h.query_by_label_contains("Shots are far more alike")
            .is_none()
    );
    h.state_mut().training.quality.last_mut().unwrap().variety = Some(0.2);
    settle(&mut h);
    h.get_by_label_contains("Shots are far more alike than real photos");
    // An evaluation made while the class judge was still training says so.
    let last = h.state_mut().training.quality.last_mut().unwrap();
    (last.feature_fd, last.judge_pending) = (None, true);
    settle(&mut h);
    h.get_by_label_contains("feature FD: the run's class judge is still training");
}

/// A folder of `count` 96 × 80 photos, named in sorted order; `colour(k)` says which show
/// colour (a red product on blue), the others are grey.
pub(crate) fn product_photos(dir: &Path, count: usize, colour: impl Fn(usize) -> bool) {
    std::fs::create_dir_all(dir).unwrap();
    for k in 0..count {
        let tint = colour(k);
        let picture = image::RgbImage::from_fn(96, 80, |x, y| {
            let inside = (20..76).contains(&x) && (16..64).contains(&y);
            // The top row carries the photo's number, so no two files are duplicates.
            let v = match (y, inside) {
                (0, _) => k as u8,
                (_, true) => 200 - (k % 50) as u8,
                (_, false) => 60 + (y % 40) as u8,
            };
            match (tint, inside) {
                (false, _) => image::Rgb([v, v, v]),
                (true, true) => image::Rgb([v, (k * 8 % 200) as u8, 40]),
                (true, false) => image::Rgb([30, 90, v.saturating_add(100)]),
            }
        });
        picture.save(dir.join(format!("{k:04}.png"))).unwrap();
    }
}

/// Waits for a dropped folder's import (and any re-read) to end.
pub(crate) fn drop_and_import(
    h: &mut Harness<'_, Studio>,
    folder: &Path,
) -> atelier::data::ImportReport {
    h.state_mut().import.report = None;
    h.state_mut().dropped(vec![folder.to_path_buf()]);
    wait_for(h, "the import", |s| {
        s.import.report.is_some() && !s.import.running
    });
    h.state().import.report.clone().unwrap()
}

fn noticed(h: &Harness<'_, Studio>, parts: &[&str]) -> bool {
    h.state()
        .notices
        .iter()
        .any(|n| parts.iter().all(|p| n.text.contains(p)))
}

/// Colour photos dropped on a fresh project (default recipe: 28 px grey) switch it to the
/// colour recipe: from a probe of the folder before importing, or, when the probe saw only
/// grey files, from the full count (the photos are then read again). Once the project has
/// runs, it only says so.
#[test]
fn colour_photos_switch_a_fresh_project_to_the_colour_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let mugs = dir.path().join("mugs");
    product_photos(&mugs, 30, |_| true);
    let root = dir.path().join("project");
    Project::create(&root, "Mugs").unwrap();
    let mut h = harness(studio(&root));
    h.step();
    assert_eq!(h.state().project.settings.preset.model.channels(), 1);

    // The probe sees colour: imported once, at the colour recipe's size.
    let report = drop_and_import(&mut h, &mugs);
    let preset = &h.state().project.settings.preset;
    // On the CPU (the tests' worker), colour photos get the 64 px FastGAN, and it says why.
    assert_eq!(preset.name, "fastgan-64-rgb");
    assert_eq!(
        (preset.model.resolution(), preset.model.channels()),
        (64, 3)
    );
    assert_eq!((report.imported, report.colour_images), (30, 30));
    assert_eq!(report.median_side, 80);
    assert!(
        noticed(
            &h,
            &[
                "Colour photos (30 of 30 show colour)",
                "they were imported at that size"
            ]
        ),
        "no notice of the switch"
    );
    h.get_by_label_contains(
        "30 of 30 show colour; median shorter side 80 px. Recipe fastgan-64-rgb: 64 px colour.",
    );
    // The switch stays readable in the import window (the status line moves on).
    h.get_by_label_contains(
        "the recipe is now fastgan-64-rgb (64 px colour, FastGAN) instead of dcgan-28 (28 px grey), because training runs on the CPU",
    );
    assert!(
        h.state()
            .notices
            .last()
            .unwrap()
            .text
            .starts_with("Imported 30 images"),
        "the status line moved on"
    );
    h.state_mut().import.window_open = false;
    settle(&mut h);

    // Ticking Conditional on this recipe brings the terms cfastgan-64-rgb was measured with:
    // the preset's own mode-seeking 0.5 was measured unconditional only, and its class
    // loss is 0.25 (1.0 drew each class as a few prototypes).
    assert_eq!(h.state().project.settings.preset.train.mode_seeking, 0.5);
    h.get_by_label("Conditional: one class per sub-folder")
        .click();
    settle(&mut h);
    h.get_by_label_contains("Mode-seeking term (MSGAN) 1: keeps each class's shots varied.");
    h.get_by_label_contains("Class loss 0.25: shots are drawn as the class asked for.");
    h.get_by_label("Conditional: one class per sub-folder")
        .click();
    settle(&mut h);
    assert!(!h.state().project.settings.preset.model.conditional());

    // Eleven colour photos among 211, all where the probe does not look: the full count
    // still makes it a colour folder (11 · 20 ≥ 211), and the photos are read again.
    let total = 211;
    let probed: Vec<usize> = (0..atelier::data::PROBE_FILES)
        .map(|i| i * total / atelier::data::PROBE_FILES)
        .collect();
    let hidden: Vec<usize> = (0..total)
        .filter(|k| !probed.contains(k))
        .take(11)
        .collect();
    let mixed = dir.path().join("mixed");
    product_photos(&mixed, total, |k| hidden.contains(&k));
    h.state_mut().project.settings.preset = Preset::load("dcgan-28").unwrap();
    let report = drop_and_import(&mut h, &mixed);
    assert_eq!((report.imported, report.colour_images), (211, 11));
    assert_eq!(h.state().project.settings.preset.name, "fastgan-64-rgb");
    assert!(
        noticed(
            &h,
            &[
                "Colour photos (11 of 211 show colour)",
                "they are read again at that size"
            ]
        ),
        "no notice of the re-read"
    );
    h.state_mut().import.window_open = false;
    settle(&mut h);

    // A project that has trained keeps its recipe: a tip names the colour one.
    h.state_mut().project.settings.preset = Preset::load("dcgan-28").unwrap();
    h.state_mut().project.settings.current_run = Some("run-001".into());
    drop_and_import(&mut h, &mugs);
    assert_eq!(h.state().project.settings.preset.name, "dcgan-28");
    assert!(
        noticed(
            &h,
            &["Tip: 30 of 30 photos are in colour", "Pick fastgan-64-rgb"]
        ),
        "no tip"
    );
    h.state_mut().shutdown();
}

/// The FastGAN family in the studio, through the same seam as DCGAN: colour photos, a
/// `tiny-fastgan` run, the gallery, a slider, more like this, a morph, the nearest training
/// image, export with metadata and drop-back, then a fine-tune that starts from the run.
#[test]
fn fastgan_walk_through_train_slide_morph_export_fine_tune() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("mugs");
    product_photos(&photos, 40, |_| true);
    let root = dir.path().join("project");
    let mut project = Project::create(&root, "FastGAN").unwrap();
    project.settings.preset = Preset::load("tiny-fastgan").unwrap();
    // The first checkpoint (the first generator) at step 60: before that a tiny FastGAN draws
    // near-flat shots (its BatchNorm statistics are still settling), which no slider moves.
    project.settings.preset.train.steps = Some(60);
    project.settings.preset.train.checkpoint_every = 60;
    project.settings.preset.train.eval_every = 0;
    project.settings.train_minutes = None;
    project.settings.export.folder = dir.path().join("exports");
    project.save_settings().unwrap();
    let mut h = harness(studio(&root));
    h.step();

    let report = drop_and_import(&mut h, &photos);
    assert_eq!(report.imported, 40);
    assert_eq!(h.state().project.settings.preset.name, "tiny-fastgan");
    h.state_mut().import.window_open = false;
    settle(&mut h);
    train_until_generator(&mut h, &root, None);
    let info = h.state().generator.clone().unwrap();
    assert_eq!(info.model.kind(), "fastgan");
    assert_eq!(
        info.directions.vectors.len(),
        8,
        "directions recomputed for the checkpoint"
    );
    wait_for(&mut h, "rendered gallery shots", |s| {
        s.gallery.textures.len() >= 24
    });
    assert!(
        !h.state().project.checkpoint_entries().is_empty(),
        "the Checkpoint menu lists the run's checkpoints"
    );
    assert!(
        h.state()
            .training
            .metrics
            .iter()
            .all(|m| m.get("reconstruction").is_some_and(f64::is_finite)),
        "the loss plot has FastGAN's reconstruction loss"
    );

    // A slider moves the shot and a new image arrives.
    let first = h.state().visible_ids()[0];
    h.get_by_label(&format!("Shot {first}")).click();
    settle(&mut h);
    wait_for(&mut h, "the nearest training image", |s| {
        s.shot.nearest.as_ref().is_some_and(|n| n.shot == first)
    });
    let before = h
        .state()
        .project
        .curation
        .get(first)
        .unwrap()
        .latent
        .clone();
    h.get(
        By::new()
            .role(egui::accesskit::Role::Slider)
            .label_contains("1 · "),
    )
    .set_value_accesskit(2.0);
    settle(&mut h);
    wait_for(&mut h, "the slider render", |s| {
        !s.stats.slider_latency_ms.is_empty()
    });
    assert_ne!(
        h.state().project.curation.get(first).unwrap().latent,
        before
    );

    // More like this adds variations of the selected shot; two selected shots morph.
    let count = h.state().project.curation.shots.len();
    h.get_by_label("More like this").click();
    wait_for(&mut h, "variations", |s| {
        s.project.curation.shots.len() > count
    });
    // The Shot panel's distance sets how far they stray: twice the distance, nearly twice
    // the latent move (less for a short latent: variations keep the latent's length).
    let parent = h
        .state()
        .project
        .curation
        .get(first)
        .unwrap()
        .latent
        .clone();
    let moved = |latent: &[f32]| {
        latent
            .iter()
            .zip(&parent)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f32>()
            .sqrt()
    };
    let mean_move = |h: &Harness<'_, Studio>, from: usize| {
        let shots = &h.state().project.curation.shots[from..];
        shots.iter().map(|s| moved(&s.latent)).sum::<f32>() / shots.len() as f32
    };
    let near = mean_move(&h, count);
    h.get(By::new().role(egui::accesskit::Role::Slider).label("apart"))
        .set_value_accesskit(0.7);
    settle(&mut h);
    assert_eq!(h.state().project.settings.variation_distance, 0.7);
    let wider = h.state().project.curation.shots.len();
    h.get_by_label("Variations").click();
    settle(&mut h);
    let far = mean_move(&h, wider);
    // Eight shots of a 16-dimensional latent are a noisy sample: their mean move is checked
    // against what `perturb` gives this parent on average (within ±30 %, which eight shots
    // leave about once in 10⁵ runs), not against a fixed ratio of the two means, which the
    // parent's length moves and the noise crossed about once in fifty runs.
    let expected = |distance: f32| {
        let seeds = 4000u64;
        (0..seeds)
            .map(|seed| moved(&atelier::latent::perturb(&parent, seed, distance)))
            .sum::<f32>()
            / seeds as f32
    };
    let (expected_near, expected_far) = (expected(0.35), expected(0.7));
    assert!(
        expected_far > 1.3 * expected_near,
        "{expected_near} → {expected_far}"
    );
    for (seen, mean) in [(near, expected_near), (far, expected_far)] {
        assert!(
            seen > 0.7 * mean && seen < 1.35 * mean,
            "mean move {seen} against {mean} expected ({near} → {far})"
        );
    }
    // Let the new shots render and the gallery stop scrolling before clicking in it.
    wait_for(&mut h, "the wider variations' renders", |s| {
        s.project.curation.shots[wider..]
            .iter()
            .all(|shot| s.gallery.pictures.contains_key(&shot.id))
    });
    settle(&mut h);
    // The newest two: the gallery scrolled to them.
    let ids = h.state().visible_ids();
    let (a, b) = (ids[ids.len() - 2], ids[ids.len() - 1]);
    h.get_by_label(&format!("Shot {a}")).click();
    settle(&mut h);
    h.get_by_label(&format!("Shot {b}"))
        .click_modifiers(egui::Modifiers::COMMAND);
    settle(&mut h);
    assert_eq!(h.state().gallery.selected.len(), 2);
    let start = Instant::now();
    while h
        .query_by_label_contains("Morph between the two selected shots")
        .is_none()
    {
        assert!(start.elapsed() < Duration::from_secs(60), "no morph strip");
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }

    // Export at 256 px with its metadata, and drop it back.
    h.state_mut().reveal(first);
    settle(&mut h);
    h.get_by_label(&format!("Shot {first}")).click();
    settle(&mut h);
    h.get_by_label("Favourite").click();
    settle(&mut h);
    let (exported, meta, shot) = export_favourite_at_256(&mut h, first);
    assert_eq!(meta.latent, shot.latent);
    assert_eq!(meta.checkpoint_id, shot.generator_id);
    let count = h.state().project.curation.shots.len();
    h.state_mut().dropped(vec![exported]);
    wait_for(&mut h, "the restored shot", |s| {
        s.project.curation.shots.len() == count + 1
    });
    assert!(
        !h.state().import.running,
        "restoring dropped exports ends the import it started"
    );

    // Fine-tune from the run: a new run starts from its networks.
    h.state_mut().export.open = false;
    settle(&mut h);
    let first_run = h.state().project.settings.current_run.clone().unwrap();
    let base = root.join("runs").join(&first_run);
    let preset = &mut h.state_mut().project.settings.preset;
    preset.train.init = Some(base.display().to_string());
    preset.train.freeze_d_blocks = 1;
    // The panel grows a line about the base: lay it out before clicking below it.
    settle(&mut h);
    train_until_generator(&mut h, &root, Some(&first_run));
    let second_run = h.state().project.settings.current_run.clone().unwrap();
    let recipe =
        std::fs::read_to_string(root.join("runs").join(&second_run).join("preset.toml")).unwrap();
    let recipe = Preset::from_toml("run", &recipe).unwrap();
    assert_eq!(recipe.model.kind(), "fastgan");
    assert_eq!(recipe.train.freeze_d_blocks, 1);
    h.state_mut().shutdown();
}

/// Two studio windows on one project are two writers: the second is refused and told which
/// process has it open; a folder of someone else's files never becomes a project.
#[test]
fn a_project_open_in_one_studio_is_refused_by_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mugs");
    Project::create(&root, "Mugs").unwrap();
    let first = atelier::studio::load_project(&root, false).unwrap();
    let err = atelier::studio::load_project(&root, false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("in use by Atelier process {}", std::process::id())),
        "{err}"
    );
    drop(first);
    let again = atelier::studio::load_project(&root, false).unwrap();
    assert_eq!(again.project.settings.name, "Mugs");

    let theirs = dir.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("notes.txt"), b"mine").unwrap();
    let err = atelier::studio::load_project(&theirs, true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("did not create"), "{err}");
    assert_eq!(std::fs::read_dir(&theirs).unwrap().count(), 1);
}

/// A render that fails (its generator file is damaged) leaves Retry on its tiles, not "…"
/// for ever; once the file is whole again, Retry renders the shot.
#[test]
fn a_failed_render_offers_retry_and_retry_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("project");
    tiny_test_project(&root, "retry", |_| {});
    let mut project = Project::open(&root).unwrap();
    let generator = project.generator_path("demo0000");
    std::fs::create_dir_all(generator.parent().unwrap()).unwrap();
    let mut damaged = atelier::project::DEMO_GENERATOR.to_vec();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x10;
    std::fs::write(&generator, &damaged).unwrap();
    let latent = atelier::latent::latent_for_seed(5, 64);
    let id = project.curation.add(atelier::project::Shot::from_seed(
        5,
        latent,
        1.0,
        "demo0000".into(),
    ));
    project.save_curation().unwrap();

    let mut h = harness(studio(&root));
    wait_for(&mut h, "the failed render", |s| {
        s.render_failure(id).is_some()
    });
    assert!(noticed(&h, &["Rendering failed", "Click a tile to retry"]));
    assert!(h.state().render_failure(id).unwrap().contains("damaged"));

    std::fs::write(&generator, atelier::project::DEMO_GENERATOR).unwrap();
    h.get_by_label(&format!("Shot {id}")).click();
    settle(&mut h);
    wait_for(&mut h, "the retried render", |s| {
        s.gallery.textures.contains_key(&id)
    });
    assert!(h.state().render_failure(id).is_none());
    assert_eq!(h.state().requests_in_flight(), 0, "nothing left pending");

    // Closing the window right after Export waits for the export: its file is written.
    let exports = dir.path().join("exports");
    h.state_mut().project.settings.export.folder = exports.clone();
    h.get_by_label(&format!("Shot {id}")).click();
    settle(&mut h);
    h.state_mut().export_selection();
    h.state_mut().shutdown();
    let written = std::fs::read_dir(&exports).unwrap().count();
    assert_eq!(written, 1, "the export finished before the studio closed");
}

/// Opening another project while an import runs cancels the import: nothing of the first
/// project's folder reaches the second, and the studio says so.
#[test]
fn opening_another_project_cancels_the_running_import() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let second = dir.path().join("second");
    tiny_test_project(&first, "first", |_| {});
    tiny_test_project(&second, "second", |_| {});
    // 3,068 colour photos: seconds to import, so the switch lands while it runs.
    let photos = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/clothing-small/train");
    assert!(photos.is_dir(), "tests need ../shared/data");
    let mut h = harness(studio(&first));
    h.state_mut().dropped(vec![photos]);
    h.step();
    assert!(h.state().import.running);
    h.state().open_project(second.clone());
    wait_for(&mut h, "the second project", |s| s.project.root == second);
    assert!(noticed(&h, &["The import into", "was cancelled"]));
    assert!(!h.state().import.running);
    // Long enough for the import to have finished had it gone on.
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    let s = h.state();
    assert_eq!(s.project.settings.data_dir, None);
    assert!(s.import.report.is_none());
    assert!(!noticed(&h, &["Imported"]));
    assert!(!second.join("import-report.txt").exists());
}

/// A project on `data` whose run goes on far past any test and schedules no checkpoint in a
/// test's time: a checkpoint on disk can only come from stopping it.
fn long_run_without_scheduled_checkpoints(root: &Path, data: &Path) {
    tiny_test_project(root, "long run", |s| {
        s.preset.train.steps = Some(1_000_000);
        s.preset.train.checkpoint_every = 1_000_000;
        s.data_dir = Some(data.to_path_buf());
    });
}

/// Opening another project while a run trains stops the run with a checkpoint in its own
/// project: nothing of it (progress, plots, checkpoints, its generator) reaches the second
/// project, and the studio says where it stopped.
#[test]
fn opening_another_project_stops_the_running_run_with_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let second = dir.path().join("second");
    let data = dir.path().join("shirts");
    two_class_folder(&data);
    long_run_without_scheduled_checkpoints(&first, &data);
    tiny_test_project(&second, "second", |_| {});
    let mut h = harness(studio(&first));
    click_train(&mut h);
    wait_for(&mut h, "some training steps", |s| s.training.step >= 20);
    let seen = h.state().training.step;
    let run = h.state().project.settings.current_run.clone().unwrap();
    h.state().open_project(second.clone());
    wait_for(&mut h, "the run to stop", |s| {
        s.project.root == second && s.training.left_behind.is_none()
    });
    assert!(noticed(
        &h,
        &["The run in", "stopped at step", "with a checkpoint"]
    ));
    // Long enough for any late event of the first project's run to land.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    let s = h.state();
    assert!(s.training.state.is_none());
    assert!(s.training.metrics.is_empty() && s.training.preview.is_none());
    assert_eq!(s.training.step, 0);
    assert!(s.generator.is_none() && s.project.settings.generator_id.is_none());
    assert!(!s.can_resume(), "the second project has no run to resume");
    let checkpoint = first.join("runs").join(run).join("checkpoint.atl");
    let state = atelier::checkpoint::Checkpoint::peek_state(&checkpoint).unwrap();
    assert!(
        state.step >= seen,
        "checkpoint at {} after {seen}",
        state.step
    );
    h.state_mut().shutdown();
}

/// Closing the window while a run trains checkpoints it where it got to: a Resume goes on
/// from there, not from the last scheduled checkpoint.
#[test]
fn closing_the_window_while_training_leaves_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("project");
    let data = dir.path().join("shirts");
    two_class_folder(&data);
    long_run_without_scheduled_checkpoints(&root, &data);
    let mut h = harness(studio(&root));
    click_train(&mut h);
    wait_for(&mut h, "some training steps", |s| s.training.step >= 20);
    let seen = h.state().training.step;
    let run = h.state().project.settings.current_run.clone().unwrap();
    h.state_mut().shutdown();
    let checkpoint = root.join("runs").join(run).join("checkpoint.atl");
    let state = atelier::checkpoint::Checkpoint::peek_state(&checkpoint).unwrap();
    assert!(
        state.step >= seen,
        "checkpoint at {} after {seen} steps",
        state.step
    );
}

/// The training panel speaks a designer's language: what the recipe makes, how long to train
/// (by time), and the raw fields under a collapsed Advanced.
#[test]
fn the_designer_panel_trains_by_time_with_raw_fields_under_advanced() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("project");
    let data = dir.path().join("shirts");
    two_class_folder(&data);
    // A new project trains for "Good (1 hour)" unless the designer chooses otherwise.
    let fresh = Project::create(&dir.path().join("fresh"), "fresh").unwrap();
    assert_eq!(fresh.settings.train_minutes, Some(60.0));
    tiny_test_project(&root, "by-time", |s| s.train_minutes = Some(60.0));
    let mut h = harness(studio(&root));
    settle(&mut h);
    h.get_by_label_contains("shots of products, trained on the CPU.");
    // Once the photos are in, a short warm-up tells what the chosen time buys, before Train.
    drop_and_import(&mut h, &data);
    h.state_mut().import.window_open = false;
    wait_for(&mut h, "the time estimate", |s| {
        s.current_estimate().is_some()
    });
    let estimate = h.state().current_estimate().unwrap().clone();
    assert!(estimate.step_secs > 0.0 && estimate.train_images > 0);
    let in_an_hour = estimate.steps_within(Duration::from_secs(3600));
    h.get_by_label_contains(&format!(
        "About {} steps in that time",
        atelier::studio::grouped(in_an_hour)
    ));
    assert!(
        h.query_by_label("Epochs").is_none(),
        "raw fields start hidden"
    );
    h.get_by_label("Advanced").click();
    settle(&mut h);
    h.get_by_label("Epochs");
    h.get_by_label("How long").click();
    settle(&mut h);
    h.get_by_label("Quick look (10 min)").click();
    settle(&mut h);
    assert_eq!(h.state().project.settings.train_minutes, Some(10.0));
    // The same measurement, for the new choice: no second warm-up.
    let in_ten = estimate.steps_within(Duration::from_secs(600));
    h.get_by_label_contains(&format!(
        "About {} steps in that time",
        atelier::studio::grouped(in_ten)
    ));
    click_train(&mut h);
    wait_for(&mut h, "the timed run", |s| {
        s.training.state == Some(atelier::protocol::TrainingState::Running) && s.training.step > 3
    });
    h.get_by_label_contains("of 10m 00s");
    // The clock ends the run, not a step count.
    assert!(h.state().training.total_steps >= 1 << 40);
    h.get_by_label("Stop").click();
    wait_for(&mut h, "the run to stop", |s| s.training.state.is_none());
    h.state_mut().shutdown();
}
