//! Settings → Compute → Remote server: the server's address, its token, and a Test
//! connection that reports the round trip and the server device's speed.
//!
//! The test runs `atelier check-server` in a child process on a thread of its own: the window
//! never waits on the network, and no remote session stays open in the studio's process (burn
//! keeps one per server for the life of a process, and could not reopen it after the server
//! restarts).

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use eframe::egui;

use super::{AppSettings, ComputeChoice, ComputeSetting};
use crate::worker::RemoteTraining;

/// Where the studio keeps the remote server's token: beside `atelier serve`'s own, owner-only.
#[must_use]
pub fn remote_token_file() -> PathBuf {
    crate::remote::default_token_file().with_file_name("remote.token")
}

/// `choice` with training sent to the remote server when the settings ask for it; the local
/// device keeps rendering. Without a host or a token, training stays here, and says why.
#[must_use]
pub fn apply_remote(settings: &AppSettings, mut choice: ComputeChoice) -> ComputeChoice {
    if settings.compute != ComputeSetting::Remote {
        return choice;
    }
    let host = settings.remote_host.trim();
    let token_file = remote_token_file();
    let problem = if host.is_empty() {
        Some("no server is set".to_string())
    } else if let Err(e) = host.parse::<crate::remote::HostAddress>() {
        Some(e.to_string())
    } else if let Err(e) = crate::remote::read_token(&token_file) {
        Some(e.to_string())
    } else {
        None
    };
    if let Some(problem) = problem {
        choice.fallback_notice = Some(format!(
            "Remote training is chosen, but {problem}: training here on {}. Set the server in Settings → Compute.",
            choice.description
        ));
        return choice;
    }
    choice.worker.remote = Some(RemoteTraining {
        host: host.to_string(),
        token_file,
        program: None,
    });
    choice.description = format!("training on {host}; renders here on {}", choice.description);
    // Where the local device fell back (a software adapter), renders still work: no notice.
    choice.fallback_notice = None;
    choice
}

/// The Remote server window: its fields, and the Test connection under way or its answer.
pub struct RemotePanel {
    /// Whether the window shows.
    pub open: bool,
    token: String,
    token_loaded: bool,
    check: Option<Arc<Mutex<Check>>>,
    /// Where the token is kept ([`remote_token_file`]).
    token_file: PathBuf,
    /// The `atelier` program that runs the test (default: this one).
    program: Option<PathBuf>,
}

impl Default for RemotePanel {
    fn default() -> Self {
        Self::with_files(remote_token_file(), None)
    }
}

#[derive(Clone, Debug)]
enum Check {
    Running,
    Passed(String),
    Failed(String),
}

impl RemotePanel {
    /// A panel keeping its token in `token_file` and testing with `program` (tests name their
    /// own; the studio uses [`RemotePanel::default`]).
    #[must_use]
    pub fn with_files(token_file: PathBuf, program: Option<PathBuf>) -> Self {
        Self {
            open: false,
            token: String::new(),
            token_loaded: false,
            check: None,
            token_file,
            program,
        }
    }

    /// The Remote server window, when open. Returns an error to report.
    pub fn window(&mut self, ctx: &egui::Context, settings: &mut AppSettings) -> Option<String> {
        let mut open = self.open;
        let mut error = None;
        egui::Window::new("Remote server")
            .open(&mut open)
            .default_width(420.0)
            .show(ctx, |ui| error = self.ui(ui, settings));
        self.open = open;
        error
    }

    /// The host and token fields, Test connection and its answer. Returns an error to report
    /// when a setting could not be saved.
    pub fn ui(&mut self, ui: &mut egui::Ui, settings: &mut AppSettings) -> Option<String> {
        if !self.token_loaded {
            self.token = crate::remote::read_token(&self.token_file).unwrap_or_default();
            self.token_loaded = true;
        }
        let mut error = None;
        ui.label(
            "Train on another machine's GPU: run `atelier serve` there, then give its address \
             and token here. Training runs there; shots render here. Applies at the next start.",
        );
        let host = ui
            .horizontal(|ui| {
                let label = ui.label("Server");
                ui.add(
                    egui::TextEdit::singleline(&mut settings.remote_host)
                        .hint_text("ws://gpu-box:3000, or the server id it printed"),
                )
                .labelled_by(label.id)
            })
            .inner;
        if host.lost_focus()
            && let Err(e) = settings.save()
        {
            error = Some(format!("Cannot save the settings: {e}"));
        }
        let token = ui
            .horizontal(|ui| {
                let label = ui.label("Token");
                ui.add(
                    egui::TextEdit::singleline(&mut self.token)
                        .password(true)
                        .hint_text("the server's token (its server.token file)"),
                )
                .labelled_by(label.id)
            })
            .inner;
        if token.lost_focus()
            && let Err(e) = self.save_token()
        {
            error = Some(e);
        }
        let running = self
            .check
            .as_ref()
            .is_some_and(|c| c.lock().is_ok_and(|c| matches!(*c, Check::Running)));
        if ui
            .add_enabled(!running, egui::Button::new("Test connection"))
            .clicked()
        {
            match self.save_token() {
                Ok(()) => {
                    let test = CheckServer {
                        host: settings.remote_host.trim().to_string(),
                        token_file: self.token_file.clone(),
                        program: self.program.clone(),
                    };
                    self.check = Some(start_check(test));
                }
                Err(e) => error = Some(e),
            }
        }
        if let Some(check) = self
            .check
            .as_ref()
            .and_then(|c| c.lock().ok().map(|c| c.clone()))
        {
            match check {
                Check::Running => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("connecting…");
                    });
                }
                Check::Passed(text) => {
                    ui.label(text);
                }
                Check::Failed(text) => {
                    ui.colored_label(egui::Color32::LIGHT_RED, text);
                }
            }
        }
        error
    }

    fn save_token(&self) -> Result<(), String> {
        let token = self.token.trim();
        if token.is_empty() {
            return Ok(());
        }
        crate::remote::save_token(&self.token_file, token)
            .map_err(|e| format!("Cannot save the token: {e}"))
    }
}

/// What `atelier check-server` is run with.
struct CheckServer {
    host: String,
    token_file: PathBuf,
    program: Option<PathBuf>,
}

/// `atelier check-server` on a thread: its answer lands in the returned cell.
fn start_check(check: CheckServer) -> Arc<Mutex<Check>> {
    let cell = Arc::new(Mutex::new(Check::Running));
    let answer = cell.clone();
    let spawned = std::thread::Builder::new()
        .name("remote-check".into())
        .spawn(move || {
            let result = check_server(&check);
            if let Ok(mut cell) = answer.lock() {
                *cell = match result {
                    Ok(text) => Check::Passed(text),
                    Err(text) => Check::Failed(text),
                };
            }
        });
    if let Err(e) = spawned
        && let Ok(mut c) = cell.lock()
    {
        *c = Check::Failed(format!("cannot start the test: {e}"));
    }
    cell
}

fn check_server(test: &CheckServer) -> Result<String, String> {
    let exe = match &test.program {
        Some(program) => program.clone(),
        None => std::env::current_exe().map_err(|e| e.to_string())?,
    };
    let output = Command::new(exe)
        .args([
            "check-server",
            "--json",
            "--host",
            &test.host,
            "--token-file",
        ])
        .arg(&test.token_file)
        .output()
        .map_err(|e| format!("cannot start the test: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let line = stderr
            .lines()
            .rev()
            .find(|l| l.starts_with("error"))
            .or(stderr.lines().last())
            .unwrap_or("the test failed");
        return Err(line.trim_start_matches("error: ").to_string());
    }
    let figures: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("unexpected answer: {e}"))?;
    let number = |key: &str| figures.get(key).and_then(serde_json::Value::as_f64);
    Ok(format!(
        "Connected over {}: round trip {:.1} ms; the server's device: {:.1} GFLOP/s on a 512×512 matrix product",
        figures
            .get("transport")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("?"),
        number("round_trip_ms").unwrap_or(f64::NAN),
        number("matmul_gflops").unwrap_or(f64::NAN),
    ))
}
