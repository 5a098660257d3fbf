//! Training through `atelier serve` on loopback, over WebSocket: a tiny run, the same result
//! as training here, a refused token, and a server killed mid-run then resumed.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::train::{assert_same_training_state, latest};

/// An `atelier serve --transport websocket` child on a port the system picks, on this
/// machine's CPU; killed when dropped.
struct Server {
    child: Child,
    url: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    fn start(token_file: &Path) -> Self {
        Self::start_on(token_file, 0)
    }

    /// On `port` (0: one the system picks).
    fn start_on(token_file: &Path, port: u16) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_atelier"))
            .args(["serve", "--transport", "websocket", "--device", "cpu"])
            .args(["--port", &port.to_string()])
            .arg("--token-file")
            .arg(token_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let err = child.stderr.take().unwrap();
        let named = std::thread::Builder::new().name("server-stderr".into());
        named
            .spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    let mut s = sink.lock().unwrap();
                    s.push_str(&line);
                    s.push('\n');
                }
            })
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut url = None;
        let mut line = String::new();
        while url.is_none() && out.read_line(&mut line).unwrap() > 0 {
            url = line
                .trim()
                .strip_prefix("listening on ")
                .map(str::to_string);
            line.clear();
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        let named = std::thread::Builder::new().name("server-stdout".into());
        named.spawn(move || for _ in out.lines() {}).unwrap();
        let url = url.unwrap_or_else(|| panic!("the server said: {}", stderr.lock().unwrap()));
        Self { child, url, stderr }
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The server's log once it holds `text` (the reader thread may still be draining it),
    /// or as it is after `seconds`.
    fn log_with(&self, text: &str, seconds: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while !self.log().contains(text) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.log()
    }
}

/// `child`'s exit status, failing the test as `what` when it runs past `seconds`.
fn exit_within(child: &mut Child, seconds: u64, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn train_command(data: &Path, out: &Path, steps: u64) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_atelier"));
    command
        .args(["train", "--preset", "tiny-test", "--quiet", "--steps"])
        .arg(steps.to_string())
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out);
    command
}

fn remote(command: &mut Command, server: &Server, token_file: &Path) -> std::process::Output {
    command
        .args(["--device", "remote", "--host", &server.url, "--token-file"])
        .arg(token_file)
        .output()
        .unwrap()
}

fn said(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn fixture() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    atelier::demo::write_demo_set(&data, 48).unwrap();
    let token = tmp.path().join("server.token");
    (tmp, data, token)
}

#[test]
fn a_tiny_run_through_a_websocket_server_matches_the_same_run_here() {
    let (tmp, data, token) = fixture();
    let server = Server::start(&token);
    let far = tmp.path().join("far");
    let output = remote(&mut train_command(&data, &far, 20), &server, &token);
    assert!(output.status.success(), "{}", said(&output));
    assert!(server.log().contains("session opened"), "{}", server.log());

    let near = tmp.path().join("near");
    let output = train_command(&data, &near, 20)
        .args(["--device", "cpu"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", said(&output));
    let (mut far, mut near) = (latest(&far), latest(&near));
    assert_eq!(far.state.step, 20);
    // Wall time is the one figure that differs.
    (far.state.train_seconds, near.state.train_seconds) = (0.0, 0.0);
    assert_same_training_state(&far, &near, "remote against local");
}

#[test]
fn a_client_without_the_token_is_refused_and_the_server_says_so() {
    let (tmp, data, token) = fixture();
    let server = Server::start(&token);
    let wrong = tmp.path().join("wrong.token");
    std::fs::write(&wrong, "not-the-token\n").unwrap();
    let output = remote(
        &mut train_command(&data, &tmp.path().join("r"), 2),
        &server,
        &wrong,
    );
    assert!(!output.status.success());
    let text = said(&output);
    assert!(
        text.contains("refused") || text.contains("nauthori"),
        "{text}"
    );
    let log = server.log_with("refused a session", 10);
    assert!(log.contains("wrong token"), "{log}");
}

#[test]
fn a_server_killed_mid_run_leaves_the_last_checkpoint_and_resume_completes() {
    let (tmp, data, token) = fixture();
    let run = tmp.path().join("run");
    let server = Server::start(&token);
    let mut client = train_command(&data, &run, 100_000)
        .args(["--device", "remote", "--host", &server.url, "--token-file"])
        .arg(&token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let checkpoint = run.join(atelier::train::LATEST);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !checkpoint.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(checkpoint.exists(), "no checkpoint within two minutes");
    drop(server);

    // The client notices, says what happened, and ends: no hang, no lost checkpoint.
    let status = exit_within(&mut client, 60, "the client hung after the server died");
    let output = client.wait_with_output().unwrap();
    assert!(!status.success());
    let text = said(&output);
    assert!(text.contains("server"), "{text}");
    let saved = latest(&run).state.step;
    assert!(saved >= 5);

    let server = Server::start(&token);
    let output = remote(
        train_command(&data, &run, saved + 6).arg("--resume"),
        &server,
        &token,
    );
    assert!(output.status.success(), "{}", said(&output));
    assert_eq!(latest(&run).state.step, saved + 6);
}

/// The studio's path: its worker trains through a child `atelier train --device remote`,
/// loads each checkpoint's generator here and renders here; when the server dies the run
/// ends with a named error, and Resume (the same worker, the server back) continues it.
#[test]
fn the_studio_worker_trains_remotely_renders_here_and_resumes_after_the_server_dies() {
    use atelier::latent::latent_for_seed;
    use atelier::protocol::{Command as Do, Event, RenderKind, RenderRequest, TrainRequest};
    use atelier::train::{TrainError, TrainEvent};
    use atelier::worker::{RemoteTraining, WorkerDevice, spawn_worker};

    let (tmp, data, token) = fixture();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Server::start_on(&token, port);
    let device = WorkerDevice {
        device: burn::tensor::Device::flex(),
        shared_with_renderer: false,
        gpu_errors: None,
        cpu_threads: None,
        remote: Some(RemoteTraining {
            host: server.url.clone(),
            token_file: token.clone(),
            program: Some(env!("CARGO_BIN_EXE_atelier").into()),
        }),
    };
    let w = spawn_worker(device, Arc::new(|| {})).unwrap();
    let mut preset = atelier::preset::Preset::load("tiny-test").unwrap();
    preset.train.steps = Some(100_000);
    let mut request = TrainRequest {
        options: atelier::train::RunOptions {
            data_dir: data.clone(),
            run_dir: tmp.path().join("run"),
            preset,
            resume: false,
            minutes: None,
            imported: None,
        },
        pin_dir: tmp.path().join("generators"),
    };
    w.commands
        .send(Do::StartTraining(Box::new(request.clone())))
        .unwrap();
    let next = || w.events.recv_timeout(Duration::from_secs(120)).unwrap();
    // A checkpoint's generator, loaded here, renders here while the server trains.
    let info = loop {
        if let Event::GeneratorReady(info) = next() {
            break info;
        }
    };
    w.commands
        .send(Do::Render(RenderRequest {
            ticket: 7,
            kind: RenderKind::Gallery,
            generator: info.pinned.clone(),
            latents: (0..4)
                .map(|s| latent_for_seed(s, info.model.latent_dim()))
                .collect(),
            classes: Vec::new(),
            completion: None,
        }))
        .unwrap();
    let mut rendered = false;
    let mut stepped = 0;
    while !rendered || stepped < 12 {
        match next() {
            Event::Rendered {
                ticket: 7,
                pictures,
                ..
            } => rendered = pictures.len() == 4,
            Event::Train(TrainEvent::Stepped { step, .. }) => stepped = step,
            _ => {}
        }
    }

    drop(server);
    let why = loop {
        match next() {
            Event::Failed(atelier::protocol::WorkerError::Train(TrainError::Remote(why))) => {
                break why;
            }
            Event::TrainingEnded(summary) => panic!("ended without an error: {summary:?}"),
            _ => {}
        }
    };
    assert!(why.contains("stopped answering"), "{why}");
    while !matches!(next(), Event::TrainingEnded(_)) {}
    let saved = latest(&tmp.path().join("run")).state.step;

    // The server is back: Resume, in the same worker, continues past the checkpoint.
    let _server = Server::start_on(&token, port);
    request.options.resume = true;
    w.commands
        .send(Do::StartTraining(Box::new(request)))
        .unwrap();
    loop {
        match next() {
            Event::Train(TrainEvent::Stepped { step, .. }) if step > saved + 5 => break,
            Event::Failed(e) => panic!("resume failed: {e}"),
            _ => {}
        }
    }
    assert!(w.control(atelier::protocol::Control::Stop));
    while !matches!(next(), Event::TrainingEnded(_)) {}
    assert!(latest(&tmp.path().join("run")).state.step > saved + 5);
}

/// Ctrl-C (SIGINT) ends `atelier serve` cleanly: it says so and exits with success.
#[cfg(unix)]
#[test]
fn ctrl_c_ends_the_server_cleanly() {
    let (_tmp, _data, token) = fixture();
    let mut server = Server::start(&token);
    // burn installs its Ctrl-C handler once it serves; a session proves it does.
    let checked = Command::new(env!("CARGO_BIN_EXE_atelier"))
        .args(["check-server", "--host", &server.url, "--token-file"])
        .arg(&token)
        .output()
        .unwrap();
    assert!(checked.status.success(), "{}", said(&checked));
    let interrupted = Command::new("kill")
        .args(["-INT", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = exit_within(&mut server.child, 20, "the server ignored Ctrl-C");
    assert!(status.success(), "{status}");
    let log = server.log_with("server stopped", 5);
    assert!(log.contains("server stopped"), "{log}");
}

/// Settings → Compute → Remote server, driven like a person: type the server and the token,
/// click Test connection, and read the answer; the token lands in its own owner-only file.
#[test]
fn the_remote_server_window_keeps_the_token_and_tests_the_connection() {
    use atelier::studio::{AppSettings, ComputeSetting, RemotePanel};
    use eframe::egui;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    let (tmp, _data, token) = fixture();
    let server = Server::start(&token);
    let token_text = std::fs::read_to_string(&token).unwrap();
    let kept = tmp.path().join("config").join("remote.token");
    let panel = RemotePanel::with_files(kept.clone(), Some(env!("CARGO_BIN_EXE_atelier").into()));
    let settings = AppSettings {
        compute: ComputeSetting::Remote,
        ..AppSettings::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(600.0, 300.0))
        .build_ui_state(
            |ui, (settings, panel): &mut (AppSettings, RemotePanel)| {
                assert!(panel.ui(ui, settings).is_none());
            },
            (settings, panel),
        );
    h.get_by_label("Server").focus();
    h.step();
    h.get_by_label("Server").type_text(&server.url);
    h.step();
    h.get_by_label("Token").focus();
    h.step();
    h.get_by_label("Token").type_text(token_text.trim());
    h.step();
    h.get_by_label("Test connection").click();
    let started = Instant::now();
    while h
        .query_by_label_contains("Connected over WebSocket")
        .is_none()
    {
        assert!(
            h.query_by_label_contains("refused").is_none()
                && started.elapsed() < Duration::from_secs(60),
            "no connection; the server said: {}",
            server.log()
        );
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    h.get_by_label_contains("GFLOP/s");
    assert_eq!(h.state().0.remote_host, server.url);
    assert_eq!(
        atelier::remote::read_token(&kept).unwrap(),
        token_text.trim()
    );
    assert!(!atelier::remote::readable_by_others(&kept));
}
