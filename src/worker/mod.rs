//! The one background thread that owns the compute device, the training run and the samplers.
//!
//! It takes [`Command`]s and emits [`Event`]s. While training it interleaves: each turn it
//! drains all commands, renders the newest live-slider request (older ones are dropped, so
//! dragging never builds a queue), renders one queued gallery request, then runs one training
//! step. Knows nothing of egui; the CLI or tests can drive it as well as the studio.

mod encoder;
mod import;
mod inversion;
mod nearest;
mod outbox;
mod remote_run;
mod rendering;
mod runner;
mod samplers;
mod sliders;
mod upscaler;

pub use import::{ImportSource, spawn_import};
pub use outbox::{Outbox, Wake};
pub use remote_run::RemoteTraining;

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::thread::JoinHandle;
use std::time::Instant;

use burn::tensor::Device;
use crossbeam_channel::{Receiver, Sender, bounded};

use crate::device::GpuErrorLog;
use crate::export::Picture;
use crate::protocol::{
    Command, Control, Event, RenderKind, RenderRequest, TrainRequest, TrainingState, WorkerError,
};
use crate::train::{Checkpoint, LATEST, StepOutcome, TrainEvent, TrainRun, estimate_run};
use runner::{Runner, Training};
use samplers::SamplerCache;

/// The worker thread's name; GPU errors raised on it are attributed to training.
pub const WORKER_THREAD: &str = "atelier-worker";

/// Capacity of the command and event channels.
const CHANNEL_CAPACITY: usize = 256;
/// Gallery render requests the worker queues at most; more are answered with an error
/// (their tiles offer Retry) rather than held without bound.
pub const GALLERY_QUEUE_CAP: usize = 1024;
/// Capacity of the control channel: the worker reads it between any two commands, renders or
/// steps, so it only fills if the worker is stuck.
pub const CONTROL_CAPACITY: usize = 64;

/// Timed steps of a run estimate's warm-up (plus a few untimed ones and one of each kind of
/// periodic work): long enough to average a step, short enough not to keep renders waiting.
const ESTIMATE_TIMED: std::time::Duration = std::time::Duration::from_secs(2);

/// The front end's ends of the worker's channels.
pub struct WorkerHandle {
    pub commands: Sender<Command>,
    /// Read before every command, so it holds at most the clicks of one busy turn.
    control: Sender<Control>,
    pub events: Receiver<Event>,
    thread: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    /// Sends a control message without waiting; `false` only when the worker has ended (or
    /// left [`CONTROL_CAPACITY`] clicks unread: it is stuck).
    #[must_use]
    pub fn control(&self, message: Control) -> bool {
        self.control.try_send(message).is_ok()
    }

    /// Asks the worker to stop (checkpointing a run in progress) and waits for it.
    pub fn shutdown(&mut self) {
        let _ = self.control.send(Control::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// How the worker treats its device.
#[derive(Clone, Debug)]
pub struct WorkerDevice {
    pub device: Device,
    /// The window renders on this device too: flush after each step so the renderer's
    /// submissions interleave with training, and watch `gpu_errors` for the worker's thread.
    pub shared_with_renderer: bool,
    pub gpu_errors: Option<GpuErrorLog>,
    /// Cap on the CPU threads the worker's tensor work may use (CPU device). The studio
    /// leaves a core to the window so it keeps its frame rate while training.
    pub cpu_threads: Option<usize>,
    /// Train on this server instead (in a child process); `device` still renders.
    pub remote: Option<RemoteTraining>,
}

/// Starts the worker thread.
pub fn spawn_worker(device: WorkerDevice, wake: Wake) -> std::io::Result<WorkerHandle> {
    let (command_tx, command_rx) = bounded(CHANNEL_CAPACITY);
    let (control_tx, control_rx) = bounded(CONTROL_CAPACITY);
    let (event_tx, event_rx) = bounded(CHANNEL_CAPACITY);
    let thread = std::thread::Builder::new()
        .name(WORKER_THREAD.into())
        .spawn(move || {
            let pool = device.cpu_threads.and_then(|n| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n.max(1))
                    .thread_name(|i| format!("atelier-compute-{i}"))
                    .build()
                    .ok()
            });
            let mut worker =
                Worker::new(device, Outbox::new(event_tx, wake), command_rx, control_rx);
            match pool {
                // burn's CPU backend (and its GEMM) use the current rayon pool.
                Some(pool) => pool.install(|| worker.run()),
                None => worker.run(),
            }
        })?;
    Ok(WorkerHandle {
        commands: command_tx,
        control: control_tx,
        events: event_rx,
        thread: Some(thread),
    })
}

struct Worker {
    device: WorkerDevice,
    out: Outbox,
    commands: Receiver<Command>,
    control: Receiver<Control>,
    samplers: SamplerCache,
    training: Option<Training>,
    live: Option<RenderRequest>,
    morph: Option<RenderRequest>,
    completion: Option<RenderRequest>,
    gallery: VecDeque<RenderRequest>,
    reference: nearest::Reference,
    nearest: Option<(crate::protocol::Ticket, Picture)>,
    /// The project's upscaler being learnt, between training steps.
    upscaler: Option<upscaler::UpscalerJob>,
    /// A photo being brought into a generator, a few steps per turn.
    inversion: Option<inversion::Active>,
    /// The newest generator's encoder being taught (see `encoder`), and the turns so far.
    encoder: Option<encoder::EncoderJob>,
    turns: u64,
    /// Until when training waits: a slider is being dragged (see `rendering::SLIDER_FOCUS`).
    slider_focus: Option<Instant>,
    /// Renders being drawn, a slice per turn (at most one of each kind).
    drawings: Vec<rendering::ActiveRender>,
    /// How long the last training step took: a render being drawn gets as long per turn.
    last_step: std::time::Duration,
    shutting_down: bool,
}

pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

impl Worker {
    fn new(
        device: WorkerDevice,
        out: Outbox,
        commands: Receiver<Command>,
        control: Receiver<Control>,
    ) -> Self {
        Self {
            samplers: SamplerCache::new(device.device.clone()),
            device,
            out,
            commands,
            control,
            training: None,
            live: None,
            morph: None,
            completion: None,
            gallery: VecDeque::new(),
            reference: nearest::Reference::default(),
            nearest: None,
            upscaler: None,
            inversion: None,
            encoder: None,
            turns: 0,
            slider_focus: None,
            drawings: Vec::new(),
            last_step: std::time::Duration::ZERO,
            shutting_down: false,
        }
    }

    fn has_work(&self) -> bool {
        self.live.is_some()
            || self.morph.is_some()
            || self.completion.is_some()
            || !self.gallery.is_empty()
            || !self.drawings.is_empty()
            || self.nearest.is_some()
            || self.upscaler.is_some()
            || self.inversion.is_some()
            || self.encoder_may_step()
            || self.training.as_ref().is_some_and(|t| !t.paused)
    }

    fn run(&mut self) {
        while !self.shutting_down {
            if !self.has_work() && !self.out.has_held() {
                // Idle: sleep until the next control message or command.
                crossbeam_channel::select! {
                    recv(self.control) -> message => match message {
                        Ok(message) => self.obey(message),
                        Err(_) => break,
                    },
                    recv(self.commands) -> command => match command {
                        Ok(command) => self.handle_guarded(command),
                        Err(_) => break,
                    },
                }
            }
            self.obey_all();
            while let Ok(command) = self.commands.try_recv() {
                self.handle_guarded(command);
                // A click waits for at most one command, never for the whole queue.
                self.obey_all();
                if self.shutting_down {
                    break;
                }
            }
            if self.commands.is_empty() && self.out.is_closed() {
                // Nobody listens any more: checkpoint and leave.
                self.shutting_down = true;
            }
            if self.shutting_down {
                break;
            }
            self.out.flush();
            if self.out.has_held() && !self.has_work() {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            for kind in [RenderKind::Live, RenderKind::Morph, RenderKind::Completion] {
                let request = match kind {
                    RenderKind::Live => self.live.take(),
                    RenderKind::Completion => self.completion.take(),
                    _ => self.morph.take(),
                };
                if let Some(request) = request {
                    self.render(request);
                }
            }
            if !self.drawing_gallery()
                && let Some(request) = self.gallery.pop_front()
            {
                self.render(request);
            }
            // Renders and training share the device about half and half while a render
            // takes many passes.
            self.draw_for(self.last_step.max(rendering::MIN_SLICE));
            self.find_nearest_asked();
            match self.slider_focus.filter(|until| Instant::now() < *until) {
                Some(until) => self.wait_for_the_slider(until),
                None => self.train_one_step(),
            }
            self.upscaler_one_step();
            self.invert_a_little();
            self.encoder_one_step();
        }
        self.stop_training();
        self.stop_upscaler();
        self.out.flush();
    }

    /// Runs a command; a panic in it (a bad file, a backend bug) becomes a reported error
    /// instead of ending the worker and the run in memory.
    fn handle_guarded(&mut self, command: Command) {
        let result = catch_unwind(AssertUnwindSafe(|| self.handle(command)));
        if let Err(panic) = result {
            self.out
                .send(Event::Failed(WorkerError::Panicked(panic_message(&*panic))));
        }
    }

    /// Every control message waiting, in order.
    pub(super) fn obey_all(&mut self) {
        while let Ok(message) = self.control.try_recv() {
            self.obey(message);
        }
    }

    fn obey(&mut self, message: Control) {
        let result = catch_unwind(AssertUnwindSafe(|| match message {
            Control::Pause if self.training.as_ref().is_some_and(|t| t.run.is_remote()) => {
                // A remote run's child cannot hold its session open idle for long: it
                // checkpoints and stops instead, and Resume continues from there.
                self.out.send(Event::Train(TrainEvent::Notice(
                    "A remote run stops at a checkpoint instead of pausing; Resume continues it."
                        .into(),
                )));
                self.stop_training();
            }
            Control::Pause => {
                if let Some(t) = self.training.as_mut() {
                    t.paused = true;
                    self.out.send(Event::TrainingState(TrainingState::Paused));
                }
            }
            Control::Continue => {
                if let Some(t) = self.training.as_mut() {
                    t.paused = false;
                    self.out.send(Event::TrainingState(TrainingState::Running));
                }
            }
            Control::Stop => self.stop_training(),
            Control::StopUpscaler => self.stop_upscaler(),
            Control::CancelRender(ticket) => self.cancel_render(ticket),
            Control::Shutdown => self.shutting_down = true,
        }));
        if let Err(panic) = result {
            self.out
                .send(Event::Failed(WorkerError::Panicked(panic_message(&*panic))));
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::LoadGenerator { path, pin_dir } => {
                if let Err(error) = self.load_generator(&path, &pin_dir) {
                    self.out.send(Event::Failed(error));
                }
            }
            Command::StartTraining(request) => self.start_training(*request),
            Command::Render(request) => match request.kind {
                RenderKind::Live => self.live = Some(request),
                RenderKind::Morph => self.morph = Some(request),
                RenderKind::Completion => self.completion = Some(request),
                RenderKind::Gallery if self.gallery.len() >= GALLERY_QUEUE_CAP => {
                    self.out.send(Event::RenderFailed {
                        ticket: request.ticket,
                        error: WorkerError::Busy(self.gallery.len()),
                    });
                }
                RenderKind::Gallery => self.gallery.push_back(request),
            },
            Command::SetReference(set) => self.reference.set(*set),
            Command::FindNearest { ticket, picture } => self.nearest = Some((ticket, picture)),
            Command::TrainUpscaler { data, out, minutes } => {
                self.start_upscaler(&data, &out, minutes);
            }
            Command::EstimateRun { key, options } => {
                let result = if self.training.is_some() {
                    Err("a run is training; its progress shows the time left".to_string())
                } else {
                    estimate_run(&options, &self.device.device, ESTIMATE_TIMED)
                        .map_err(|e| e.to_string())
                };
                self.out.send(Event::RunEstimated { key, result });
            }
            Command::InvertPhoto(request) => {
                self.inversion = None;
                match inversion::start(*request, &self.device.device) {
                    Ok(active) => self.inversion = Some(active),
                    Err(answer) => self.out.send(*answer),
                }
            }
            Command::LearnSlider(request) => {
                let result = sliders::learn_slider(&mut self.samplers, &request);
                self.out.send(Event::SliderLearnt {
                    key: request.key,
                    result,
                });
            }
        }
    }

    fn load_generator(&mut self, path: &Path, pin_dir: &Path) -> Result<(), WorkerError> {
        let checkpoint = Checkpoint::load(path)?;
        let info = self.samplers.pin(&checkpoint, path, pin_dir)?;
        self.teach_encoder_for(&info.pinned);
        self.out.send(Event::GeneratorReady(info));
        Ok(())
    }

    fn start_training(&mut self, request: TrainRequest) {
        if self.training.is_some() {
            self.out.send(Event::Failed(WorkerError::AlreadyTraining));
            return;
        }
        self.out
            .send(Event::TrainingState(TrainingState::Preparing));
        let opened = match &self.device.remote {
            Some(target) => remote_run::RemoteRun::start(&request.options, target)
                .map(Runner::Remote)
                .map_err(WorkerError::Train),
            None => self.open_run(&request).map(|run| {
                // A 64 px class judge takes minutes on a CPU: off this thread, shots keep
                // rendering. Without a thread it trains in line at the first evaluation.
                if let Err(e) = run.train_judge_in_background() {
                    self.out.send(Event::Train(TrainEvent::Notice(format!(
                        "The class judge could not get a thread of its own ({e}); it trains at \
                         the first evaluation, and shots wait for it then."
                    ))));
                }
                Runner::Here(Box::new(run))
            }),
        };
        match opened {
            Ok(run) => {
                self.training = Some(Training {
                    run,
                    request,
                    paused: false,
                });
                self.out.send(Event::TrainingState(TrainingState::Running));
            }
            Err(error) => {
                self.out.send(Event::Failed(error));
                self.out.send(Event::TrainingState(TrainingState::Idle));
            }
        }
    }

    fn open_run(&mut self, request: &TrainRequest) -> Result<TrainRun, WorkerError> {
        let out = &mut self.out;
        let import_progress = |_p: crate::data::ImportProgress| {};
        let mut events = Vec::new();
        let result = catch_unwind(AssertUnwindSafe(|| {
            TrainRun::start(
                &request.options,
                &self.device.device,
                &import_progress,
                &mut |e| events.push(e),
            )
        }));
        for event in events {
            out.send(Event::Train(event));
        }
        match result {
            Ok(run) => Ok(run?),
            Err(panic) => Err(WorkerError::Panicked(panic_message(&*panic))),
        }
    }

    fn train_one_step(&mut self) {
        let Some(training) = self.training.as_mut().filter(|t| !t.paused) else {
            return;
        };
        let errors_before = self
            .device
            .gpu_errors
            .as_ref()
            .map_or(0, |log| log.on_thread(WORKER_THREAD));
        let mut events = Vec::new();
        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| {
            let outcome = training.run.step(&mut |e| events.push(e));
            if self.device.shared_with_renderer {
                // Short submissions: let the renderer's frame in between two steps.
                let _ = self.device.device.flush();
            }
            outcome
        }));
        self.last_step = started.elapsed();
        let step = training.run.progress().0;
        let gpu_error = self.device.gpu_errors.as_ref().and_then(|log| {
            (log.on_thread(WORKER_THREAD) > errors_before).then(|| log.last().unwrap_or_default())
        });
        if let Some(message) = gpu_error {
            self.roll_back(step, message);
            return;
        }
        let mut finished = None;
        match result {
            Ok(Ok(StepOutcome::Continue)) => {}
            Ok(Ok(_)) => finished = Some(()),
            Ok(Err(error)) => {
                self.forward(events);
                self.fail_training(WorkerError::Train(error));
                return;
            }
            Err(panic) => {
                self.forward(events);
                self.fail_training(WorkerError::Panicked(panic_message(&*panic)));
                return;
            }
        }
        self.forward(events);
        if finished.is_some()
            && let Some(t) = self.training.take()
        {
            self.out.send(Event::TrainingEnded(t.run.summary(false)));
        }
    }

    /// Passes engine events on; a new checkpoint also becomes the sampling generator.
    fn forward(&mut self, events: Vec<TrainEvent>) {
        for event in events {
            match &event {
                TrainEvent::Stepped { .. } => {
                    self.out.send_progress(Event::Train(event));
                    continue;
                }
                TrainEvent::Preview { step, path } => {
                    if let Ok(image) = image::open(path) {
                        self.out.send(Event::PreviewGrid {
                            step: *step,
                            picture: Picture::from_dynamic(&image),
                        });
                    }
                }
                TrainEvent::Checkpoint { path, .. } => {
                    let pin_dir = self
                        .training
                        .as_ref()
                        .map(|t| t.request.pin_dir.clone())
                        .unwrap_or_default();
                    let path = path.clone();
                    if let Err(error) = self.load_generator(&path, &pin_dir) {
                        self.out.send(Event::Failed(error));
                    }
                }
                _ => {}
            }
            self.out.send(Event::Train(event));
        }
    }

    /// A GPU error was raised while the worker stepped: the step's result cannot be trusted.
    /// Drop the run in memory and continue from the last checkpoint on disk.
    fn roll_back(&mut self, step: u64, message: String) {
        let Some(old) = self.training.take() else {
            return;
        };
        let request = old.request.clone();
        drop(old);
        let mut resumed = request.clone();
        resumed.options.resume = request.options.run_dir.join(LATEST).exists();
        match self.open_run(&resumed) {
            Ok(run) => {
                let restored = run.progress().0;
                self.out.send(Event::Failed(WorkerError::RolledBack {
                    step,
                    restored,
                    message,
                }));
                self.training = Some(Training {
                    run: Runner::Here(Box::new(run)),
                    request: resumed,
                    paused: false,
                });
            }
            Err(error) => self.fail_training(error),
        }
    }

    fn fail_training(&mut self, error: WorkerError) {
        self.out.send(Event::Failed(error));
        match self.training.take() {
            Some(t) => self.out.send(Event::TrainingEnded(t.run.summary(true))),
            None => self.out.send(Event::TrainingState(TrainingState::Idle)),
        }
    }

    fn stop_training(&mut self) {
        let Some(mut training) = self.training.take() else {
            return;
        };
        self.out.send(Event::TrainingState(TrainingState::Stopping));
        let mut events = Vec::new();
        let result = catch_unwind(AssertUnwindSafe(|| {
            training.run.stop(&mut |e| events.push(e))
        }));
        self.training = Some(training);
        self.forward(events);
        let training = self.training.take();
        match result {
            Ok(Ok(())) => {}
            Ok(Err(error)) => self.out.send(Event::Failed(WorkerError::Train(error))),
            Err(panic) => self
                .out
                .send(Event::Failed(WorkerError::Panicked(panic_message(&*panic)))),
        }
        if let Some(t) = training {
            self.out.send(Event::TrainingEnded(t.run.summary(true)));
        }
    }
}
