//! Training on a remote server from the studio: `atelier train --device remote --events-json`
//! in a child process, followed through its JSON event lines.
//!
//! Why a child process: burn's remote client keeps one session per server for the life of the
//! process, and a session whose server went away cannot be reopened. A child that ends with
//! its connection lets Resume connect afresh, without restarting the studio. The child writes
//! the run folder; the worker loads each new checkpoint's generator onto the local device, so
//! renders for the sliders never cross the network.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, bounded};

use crate::train::{RunOptions, RunSummary, StepOutcome, TrainError, TrainEvent};

/// How long one turn of the worker waits for the child's next event: short, so a slider's
/// render or Stop waits at most this long behind it.
const TURN: Duration = Duration::from_millis(10);
/// How long Stop waits for the child's last checkpoint before killing it.
const STOP_GRACE: Duration = Duration::from_secs(120);
/// Events read ahead of the worker; a full queue holds the reader, and the child's output
/// pipe then holds the child: back-pressure, nothing dropped.
const EVENT_QUEUE: usize = 4096;
/// Lines of the child's stderr kept for the error message.
const STDERR_LINES: usize = 20;

/// Where the studio trains remotely (Settings → Compute → Remote server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteTraining {
    /// As `--host` takes it: `ws://HOST:PORT`, `ID` or `ID@IP:PORT`.
    pub host: String,
    /// The file holding the server's token.
    pub token_file: PathBuf,
    /// The `atelier` program that trains (default: this one; tests name the built binary).
    pub program: Option<PathBuf>,
}

/// A run trained by a child `atelier train` on a remote device.
pub struct RemoteRun {
    child: Child,
    stdin: Option<ChildStdin>,
    events: Receiver<TrainEvent>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    recipe_file: PathBuf,
    step: u64,
    total: u64,
    last_metrics: Option<crate::train::MetricsRecord>,
    best_swd: Option<f64>,
    /// The step of the last checkpoint the child wrote (where Resume continues).
    last_checkpoint: u64,
    /// The child ended with an error: the steps after its last checkpoint are lost.
    failed: bool,
}

impl RemoteRun {
    /// Starts the child. The recipe travels as a TOML file beside the run folder.
    pub fn start(options: &RunOptions, target: &RemoteTraining) -> Result<Self, TrainError> {
        let io = |what: &'static str, path: &std::path::Path| {
            let path = path.display().to_string();
            move |source| TrainError::Io { what, path, source }
        };
        let recipe_file = recipe_path(&options.run_dir);
        crate::fsutil::write_atomic(&recipe_file, options.preset.to_toml().as_bytes())
            .map_err(io("cannot write", &recipe_file))?;
        let exe = match &target.program {
            Some(program) => program.clone(),
            None => std::env::current_exe().map_err(io("cannot find", "atelier".as_ref()))?,
        };
        let mut command = Command::new(&exe);
        command
            .arg("train")
            .arg("--data")
            .arg(&options.data_dir)
            .arg("--out")
            .arg(&options.run_dir)
            .arg("--preset")
            .arg(&recipe_file)
            .args(["--device", "remote", "--host", &target.host, "--token-file"])
            .arg(&target.token_file)
            .arg("--events-json");
        if options.resume {
            command.arg("--resume");
        }
        if let Some(minutes) = options.minutes {
            command.arg("--minutes").arg(minutes.to_string());
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io("cannot start", &exe))?;
        let (sender, events) = bounded(EVENT_QUEUE);
        if let Some(stdout) = child.stdout.take() {
            spawn_named("remote-run-events", move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    // Other lines are the final summary, for people.
                    if let Ok(event) = serde_json::from_str::<TrainEvent>(&line)
                        && sender.send(event).is_err()
                    {
                        break;
                    }
                }
            });
        }
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(pipe) = child.stderr.take() {
            let kept = stderr.clone();
            spawn_named("remote-run-stderr", move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Ok(mut kept) = kept.lock() {
                        if kept.len() == STDERR_LINES {
                            kept.pop_front();
                        }
                        kept.push_back(line);
                    }
                }
            });
        }
        Ok(Self {
            stdin: child.stdin.take(),
            child,
            events,
            stderr,
            recipe_file,
            step: 0,
            total: 0,
            last_metrics: None,
            best_swd: None,
            last_checkpoint: 0,
            failed: false,
        })
    }

    /// Passes on what the child reported since the last turn (waiting up to [`TURN`] for
    /// something); ends when the child does.
    pub fn step(
        &mut self,
        on_event: &mut dyn FnMut(TrainEvent),
    ) -> Result<StepOutcome, TrainError> {
        match self.events.recv_timeout(TURN) {
            Ok(event) => {
                self.note(&event);
                on_event(event);
                while let Ok(event) = self.events.try_recv() {
                    self.note(&event);
                    on_event(event);
                }
                Ok(StepOutcome::Continue)
            }
            Err(RecvTimeoutError::Timeout) => Ok(StepOutcome::Continue),
            // The child closed its output: it has ended, or is about to.
            Err(RecvTimeoutError::Disconnected) => self.ended(),
        }
    }

    /// Asks the child to checkpoint and stop, and waits for it (killing it past
    /// [`STOP_GRACE`]); its last events are passed on.
    pub fn stop(&mut self, on_event: &mut dyn FnMut(TrainEvent)) -> Result<(), TrainError> {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = writeln!(stdin, "stop");
        }
        let deadline = Instant::now() + STOP_GRACE;
        loop {
            match self.events.recv_timeout(TURN) {
                Ok(event) => {
                    self.note(&event);
                    on_event(event);
                }
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) if Instant::now() > deadline => {
                    let _ = self.child.kill();
                    break;
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        self.ended().map(drop)
    }

    /// The last step the child reported, and its budget.
    #[must_use]
    pub fn progress(&self) -> (u64, u64) {
        (self.step, self.total)
    }

    #[must_use]
    pub fn summary(&self, cancelled: bool) -> RunSummary {
        RunSummary {
            // After a failure, what is kept is the last checkpoint.
            step: if self.failed {
                self.last_checkpoint
            } else {
                self.step
            },
            total_steps: self.total,
            cancelled,
            early_stopped: false,
            time_up: false,
            best_swd: self.best_swd,
            last_metrics: self.last_metrics.clone(),
        }
    }

    fn note(&mut self, event: &TrainEvent) {
        match event {
            TrainEvent::Started {
                step, total_steps, ..
            } => {
                // A run starts from its checkpoint (0 when new).
                (self.step, self.total, self.last_checkpoint) = (*step, *total_steps, *step);
            }
            TrainEvent::Stepped { step, total_steps } => {
                (self.step, self.total) = (*step, *total_steps);
            }
            TrainEvent::Metrics(m) => self.last_metrics = Some(m.clone()),
            TrainEvent::Quality { record, best: true } => self.best_swd = Some(record.swd),
            TrainEvent::Checkpoint { step, .. } => self.last_checkpoint = *step,
            _ => {}
        }
    }

    /// The child's exit: `Finished` when it succeeded, else its last error line.
    fn ended(&mut self) -> Result<StepOutcome, TrainError> {
        let status = self.child.wait().map_err(|source| TrainError::Io {
            what: "cannot wait for",
            path: "the remote training process".into(),
            source,
        })?;
        let _ = std::fs::remove_file(&self.recipe_file);
        if status.success() {
            return Ok(StepOutcome::Finished);
        }
        let said = self
            .stderr
            .lock()
            .map(|lines| {
                lines
                    .iter()
                    .rev()
                    .find(|l| l.starts_with("error"))
                    .or(lines.back())
                    .cloned()
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        self.failed = true;
        let lost = said
            .rfind("the server ")
            .filter(|_| said.contains("stopped answering"));
        Err(TrainError::Remote(match lost {
            // The studio's words, not the command line's `--resume`.
            Some(at) => format!(
                "{}; the run keeps its checkpoint at step {}: start the server again, then Resume run",
                said[at..].trim_end(),
                self.last_checkpoint
            ),
            None if said.is_empty() => format!("the remote training process ended ({status})"),
            None => said.trim_start_matches("error: ").to_string(),
        }))
    }
}

impl Drop for RemoteRun {
    fn drop(&mut self) {
        // A run dropped without Stop (the studio closing): closing stdin asks the child to
        // checkpoint and stop on its own; it is not killed, so nothing is lost.
        self.stdin.take();
    }
}

/// A named reader thread; one that cannot start leaves its pipe unread, and the child ends
/// on a closed pipe, which the run then reports.
fn spawn_named(name: &str, body: impl FnOnce() + Send + 'static) {
    let _ = std::thread::Builder::new().name(name.into()).spawn(body);
}

/// The recipe file for a run in `run_dir`: beside it, never inside (a new run's folder must
/// be new or empty).
fn recipe_path(run_dir: &std::path::Path) -> PathBuf {
    let name = run_dir
        .file_name()
        .map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned());
    run_dir.with_file_name(format!(".{name}.remote-recipe.toml"))
}
