//! The worker thread on the CPU device: slider requests are coalesced (a burst renders once,
//! the newest), gallery requests are all served in order, and bad requests come back as
//! typed failures without stopping the worker.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use atelier::latent::latent_for_seed;
use atelier::project::DEMO_GENERATOR;
use atelier::protocol::{Command, Event, RenderKind, RenderRequest, WorkerError};
use atelier::worker::{WorkerDevice, WorkerHandle, spawn_worker};
use burn::tensor::Device;

fn worker() -> WorkerHandle {
    super::common::cpu_worker()
}

/// Starts a `tiny-test` run of 100,000 steps on `data` in `dir/run` (as `edit` changes it).
fn start_long_tiny_run(
    w: &WorkerHandle,
    data: &std::path::Path,
    dir: &std::path::Path,
    edit: impl FnOnce(&mut atelier::preset::Preset),
) {
    let mut preset = atelier::preset::Preset::load("tiny-test").unwrap();
    preset.train.steps = Some(100_000);
    edit(&mut preset);
    let request = atelier::protocol::TrainRequest {
        options: atelier::train::RunOptions {
            data_dir: data.to_path_buf(),
            run_dir: dir.join("run"),
            preset,
            resume: false,
            minutes: None,
            imported: None,
        },
        pin_dir: dir.join("generators"),
    };
    w.commands
        .send(Command::StartTraining(Box::new(request)))
        .unwrap();
}

fn next_event(w: &WorkerHandle) -> Event {
    w.events.recv_timeout(Duration::from_secs(120)).unwrap()
}

#[test]
fn a_burst_of_slider_requests_renders_once_and_gallery_requests_all_render() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demo.atl");
    std::fs::write(&file, DEMO_GENERATOR).unwrap();
    let w = worker();
    w.commands
        .send(Command::LoadGenerator {
            path: file.clone(),
            pin_dir: dir.path().join("generators"),
        })
        .unwrap();
    let info = loop {
        if let Event::GeneratorReady(info) = next_event(&w) {
            break info;
        }
    };
    assert_eq!(info.directions.vectors.len(), 8);
    let dim = info.model.latent_dim();
    let render = |ticket, kind, count: u64| {
        Command::Render(RenderRequest {
            ticket,
            kind,
            generator: info.pinned.clone(),
            latents: (0..count).map(|s| latent_for_seed(s, dim)).collect(),
            classes: Vec::new(),
            completion: None,
        })
    };
    // Keep the worker busy, then send 50 slider moves and two more gallery requests.
    w.commands
        .send(render(1, RenderKind::Gallery, 3000))
        .unwrap();
    for ticket in 100..150 {
        w.commands
            .send(render(ticket, RenderKind::Live, 1))
            .unwrap();
    }
    w.commands.send(render(2, RenderKind::Gallery, 4)).unwrap();
    w.commands.send(render(3, RenderKind::Gallery, 4)).unwrap();

    let mut live = Vec::new();
    let mut gallery = Vec::new();
    let start = Instant::now();
    while gallery.len() < 3 || live.is_empty() {
        assert!(start.elapsed() < Duration::from_secs(120));
        if let Event::Rendered {
            ticket,
            kind,
            pictures,
            ..
        } = next_event(&w)
        {
            match kind {
                RenderKind::Live => live.push(ticket),
                _ => gallery.push((ticket, pictures.len())),
            }
        }
    }
    // The worker wakes on the first gallery request and may drain a few slider moves with it
    // (the test thread can be preempted mid-burst on a loaded machine); every other move
    // arrives while the 3,000-shot render runs and is coalesced. Without coalescing all 50
    // would render.
    assert_eq!(
        live.last(),
        Some(&149),
        "the newest slider request is rendered"
    );
    assert!(
        live.len() <= 2,
        "older slider requests are dropped, not queued: {live:?}"
    );
    assert_eq!(
        gallery,
        vec![(1, 3000), (2, 4), (3, 4)],
        "gallery requests in order"
    );

    // A latent of the wrong length is a typed error naming its request; the worker keeps
    // serving.
    w.commands
        .send(Command::Render(RenderRequest {
            ticket: 7,
            kind: RenderKind::Gallery,
            generator: info.pinned.clone(),
            latents: vec![vec![0.0; dim + 1]],
            classes: Vec::new(),
            completion: None,
        }))
        .unwrap();
    assert!(matches!(
        next_event(&w),
        Event::RenderFailed {
            ticket: 7,
            error: WorkerError::Render(_)
        }
    ));
    w.commands.send(render(8, RenderKind::Gallery, 1)).unwrap();
    assert!(matches!(next_event(&w), Event::Rendered { ticket: 8, .. }));
}

/// Pause, Continue and Stop reach the worker while its command channel is full of renders:
/// Stop ends the run long before the queue of renders is served.
#[test]
fn control_messages_get_through_a_full_command_channel() {
    use atelier::protocol::{Control, TrainingState};

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shirts");
    crate::common::two_class_folder(&data, 8, 1);
    let file = dir.path().join("demo.atl");
    std::fs::write(&file, DEMO_GENERATOR).unwrap();
    let w = worker();
    w.commands
        .send(Command::LoadGenerator {
            path: file,
            pin_dir: dir.path().join("generators"),
        })
        .unwrap();
    let info = loop {
        if let Event::GeneratorReady(info) = next_event(&w) {
            break info;
        }
    };
    start_long_tiny_run(&w, &data, dir.path(), |_| {});
    let wait_state = |want: TrainingState| loop {
        if let Event::TrainingState(state) = next_event(&w)
            && state == want
        {
            break;
        }
    };
    wait_state(TrainingState::Running);
    assert!(w.control(Control::Pause));
    wait_state(TrainingState::Paused);
    assert!(w.control(Control::Continue));
    wait_state(TrainingState::Running);

    // Fill the command channel with gallery renders until it refuses more.
    let dim = info.model.latent_dim();
    let mut queued = 0u64;
    loop {
        let request = Command::Render(RenderRequest {
            ticket: 1000 + queued,
            kind: RenderKind::Gallery,
            generator: info.pinned.clone(),
            latents: (0..64).map(|s| latent_for_seed(s, dim)).collect(),
            classes: Vec::new(),
            completion: None,
        });
        if w.commands.try_send(request).is_err() {
            break;
        }
        queued += 1;
    }
    assert!(queued >= 200, "only {queued} renders fit");
    assert!(w.control(Control::Stop));
    let mut served_before_stop = 0u64;
    loop {
        match next_event(&w) {
            Event::Rendered { .. } => served_before_stop += 1,
            Event::TrainingEnded(summary) => {
                assert!(summary.cancelled, "{summary:?}");
                break;
            }
            _ => {}
        }
    }
    assert!(
        served_before_stop < queued / 2,
        "Stop waited behind {served_before_stop} of {queued} renders"
    );
}

/// A GPU error raised while the worker steps (wgpu reports it to the device's error log, on
/// the thread that submitted the work) means the step cannot be trusted: the run in memory
/// is dropped and goes on from its last checkpoint, and the studio is told both steps.
#[test]
fn a_gpu_error_during_a_step_rolls_back_to_the_last_checkpoint() {
    use std::sync::atomic::{AtomicBool, Ordering};

    use atelier::device::GpuErrorLog;
    use atelier::protocol::Control;
    use atelier::train::TrainEvent;
    use atelier::worker::WORKER_THREAD;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shirts");
    crate::common::two_class_folder(&data, 8, 1);
    let log = GpuErrorLog::default();
    let device = WorkerDevice {
        device: Device::flex(),
        shared_with_renderer: false,
        gpu_errors: Some(log.clone()),
        cpu_threads: None,
        remote: None,
    };
    let w = spawn_worker(device, Arc::new(|| {})).unwrap();
    start_long_tiny_run(&w, &data, dir.path(), |p| p.train.checkpoint_every = 10);
    // Past a checkpoint, and a few steps beyond it.
    let mut checkpointed = 0;
    loop {
        match next_event(&w) {
            Event::Train(TrainEvent::Checkpoint { step, .. }) => checkpointed = step,
            Event::Train(TrainEvent::Stepped { step, .. }) if checkpointed > 0 && step > 13 => {
                break;
            }
            _ => {}
        }
    }
    // wgpu's handler runs on the submitting thread: errors recorded under the worker's
    // thread name, until one lands inside a step.
    let raising = Arc::new(AtomicBool::new(true));
    let raiser = {
        let (log, raising) = (log.clone(), raising.clone());
        std::thread::Builder::new()
            .name(WORKER_THREAD.into())
            .spawn(move || {
                while raising.load(Ordering::Relaxed) {
                    log.record("Validation Error\n\nCaused by:\n  In a test: buffer lost");
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
            .unwrap()
    };
    let (step, restored, message) = loop {
        if let Event::Failed(WorkerError::RolledBack {
            step,
            restored,
            message,
        }) = next_event(&w)
        {
            break (step, restored, message);
        }
    };
    raising.store(false, Ordering::Relaxed);
    raiser.join().unwrap();
    assert!(
        restored <= step && restored >= 10 && restored % 10 == 0,
        "rolled back from {step} to {restored}"
    );
    assert_eq!(
        message,
        "Validation Error Caused by: In a test: buffer lost"
    );
    // The run goes on from the restored step, without ending.
    loop {
        match next_event(&w) {
            Event::Train(TrainEvent::Stepped { step: now, .. }) if now > step + 5 => break,
            Event::TrainingEnded(summary) => panic!("the run ended: {summary:?}"),
            _ => {}
        }
    }
    assert!(w.control(Control::Stop));
    loop {
        if let Event::TrainingEnded(summary) = next_event(&w) {
            assert!(summary.cancelled);
            break;
        }
    }
}

/// While a run trains, the worker still teaches each new checkpoint's generator an encoder
/// (projection's starting point), a step every few turns, carrying the last one on, and
/// keeps it beside the pinned generator.
#[test]
fn the_worker_teaches_encoders_for_checkpoints_while_a_run_trains() {
    let data = tempfile::tempdir().unwrap();
    atelier::demo::write_demo_set(data.path(), 64).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = worker();
    start_long_tiny_run(&w, data.path(), dir.path(), |p| {
        p.train.checkpoint_every = 20;
    });
    let pins = dir.path().join("generators");
    let started = Instant::now();
    let kept = |pins: &std::path::Path| {
        std::fs::read_dir(pins).map_or(0, |entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "encoder"))
                .count()
        })
    };
    while kept(&pins) < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "encoders kept while training: {}",
            kept(&pins)
        );
        while w.events.try_recv().is_ok() {}
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(w.control(atelier::protocol::Control::Stop));
}
