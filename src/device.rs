//! Choosing where tensors live: a real GPU through wgpu when there is one, else burn's `flex`
//! CPU backend (measured fastest on CPUs; see the README).

use std::fmt;
use std::str::FromStr;

use burn::tensor::wgpu::wgpu;
use burn::tensor::{Device, DeviceKind};
use thiserror::Error;

/// Runs `work` on one of rayon's worker threads (in place when already on one) when `device`
/// is the CPU backend; other devices keep the caller's thread.
///
/// burn-flex spreads its kernels over rayon's pool. Called from a thread outside the pool,
/// each parallel pass hands its job to the workers and puts the caller to sleep until they
/// finish: a wake-up and a sleep per pass, hundreds per training step, and one thread more
/// than there are cores. On a worker, a pass runs on that thread and lends its other halves
/// to idle workers. The results are the same: the work is split by the pool's size alone.
///
/// Wrap a whole run (every step, render and checkpoint of it), never one step at a time:
/// burn's `RunningState` (BatchNorm's statistics, spectral norm's power-iteration vector)
/// files each update under the updating thread and reads back only its own thread's entry,
/// so steps that landed on different workers read stale values and broke exact resume.
/// A GPU device stays on the caller's thread, where its queues were made.
pub fn on_compute_pool<R: Send>(device: &Device, work: impl FnOnce() -> R + Send) -> R {
    if is_cpu(device) {
        rayon::scope(|_| work())
    } else {
        work()
    }
}

/// Whether `device` (with or without autodiff) is burn-flex, the CPU backend.
#[must_use]
fn is_cpu(device: &Device) -> bool {
    device.clone().without_autodiff() == Device::flex()
}

/// What the user asked for with `--device`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    /// A real GPU when wgpu finds one; software adapters (lavapipe) do not count.
    #[default]
    Auto,
    /// wgpu, whatever adapter it finds (software adapters included).
    Wgpu,
    /// burn's `flex` CPU backend.
    Cpu,
    /// A training server's device (`atelier serve`), given by `--host` and `--token-file`.
    Remote,
}

impl FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "wgpu" | "gpu" => Ok(Self::Wgpu),
            "cpu" | "flex" => Ok(Self::Cpu),
            "remote" => Ok(Self::Remote),
            other => Err(format!(
                "unknown device '{other}' (use auto, wgpu, cpu or remote)"
            )),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Wgpu => "wgpu",
            Self::Cpu => "cpu",
            Self::Remote => "remote",
        })
    }
}

#[derive(Debug, Error)]
pub enum DeviceError {
    #[error("wgpu could not start a device: {0}")]
    Wgpu(String),
    #[error("--device remote needs --host (where `atelier serve` runs) and --token-file")]
    NoRemoteHost,
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
}

/// A training server to train on: where it is, and the token it wants.
#[derive(Clone, Debug)]
pub struct RemoteTarget {
    pub host: crate::remote::HostAddress,
    pub token: String,
}

/// A resolved device and a human description of it.
#[derive(Clone, Debug)]
pub struct ChosenDevice {
    pub device: Device,
    pub description: String,
    pub is_gpu: bool,
}

/// The first hardware GPU adapter wgpu can see, if any: (kind, name).
fn hardware_gpu() -> Option<(DeviceKind, String)> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY));
    let mut best: Option<(DeviceKind, String)> = None;
    for adapter in adapters {
        let info = adapter.get_info();
        match info.device_type {
            wgpu::DeviceType::DiscreteGpu => return Some((DeviceKind::DiscreteGpu(0), info.name)),
            wgpu::DeviceType::IntegratedGpu if best.is_none() => {
                best = Some((DeviceKind::IntegratedGpu(0), info.name));
            }
            _ => {}
        }
    }
    best
}

/// Resolves `choice` to a device (without autodiff); `Remote` needs [`resolve_with`].
pub fn resolve(choice: DeviceChoice) -> Result<ChosenDevice, DeviceError> {
    resolve_with(choice, None)
}

/// Resolves `choice`, connecting to `remote` for [`DeviceChoice::Remote`].
pub fn resolve_with(
    choice: DeviceChoice,
    remote: Option<&RemoteTarget>,
) -> Result<ChosenDevice, DeviceError> {
    let cpu = || ChosenDevice {
        device: Device::flex(),
        description: "CPU (burn flex)".into(),
        is_gpu: false,
    };
    match choice {
        DeviceChoice::Cpu => Ok(cpu()),
        DeviceChoice::Auto => match hardware_gpu() {
            Some((kind, name)) => init_wgpu(kind, &name),
            None => Ok(cpu()),
        },
        DeviceChoice::Wgpu => {
            let (kind, name) =
                hardware_gpu().unwrap_or((DeviceKind::DefaultDevice, "default adapter".into()));
            init_wgpu(kind, &name)
        }
        DeviceChoice::Remote => {
            let target = remote.ok_or(DeviceError::NoRemoteHost)?;
            connect_remote(target)
        }
    }
}

#[cfg(feature = "remote")]
fn connect_remote(target: &RemoteTarget) -> Result<ChosenDevice, DeviceError> {
    let device = crate::remote::connect(&target.host, &target.token)?;
    Ok(ChosenDevice {
        device,
        description: format!(
            "the training server {} (over {})",
            target.host,
            target.host.transport()
        ),
        // A server is where big runs go: it gets the GPU recipes.
        is_gpu: true,
    })
}

#[cfg(not(feature = "remote"))]
fn connect_remote(_target: &RemoteTarget) -> Result<ChosenDevice, DeviceError> {
    Err(crate::remote::RemoteError::NotBuilt.into())
}

fn init_wgpu(kind: DeviceKind, name: &str) -> Result<ChosenDevice, DeviceError> {
    let device = Device::wgpu_options()
        .device_kind(kind)
        .init()
        .map_err(|e| DeviceError::Wgpu(format!("{e:?}")))?;
    Ok(ChosenDevice {
        device,
        description: format!("GPU via wgpu ({name})"),
        is_gpu: true,
    })
}

/// wgpu errors seen on a device, by the thread that raised them.
///
/// Installed as the device's uncaptured-error handler in place of cubecl's panicking one
/// (see the README): a renderer hiccup during a resize must not kill a training run, and a
/// training step that raised an error must be noticed and rolled back, not trusted.
#[derive(Clone, Debug, Default)]
pub struct GpuErrorLog {
    inner: std::sync::Arc<std::sync::Mutex<GpuErrorState>>,
}

#[derive(Debug, Default)]
struct GpuErrorState {
    total: u64,
    by_thread: std::collections::HashMap<String, u64>,
    last: Option<String>,
}

impl GpuErrorLog {
    pub fn record(&self, message: &str) {
        let thread = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_string();
        if let Ok(mut s) = self.inner.lock() {
            s.total += 1;
            *s.by_thread.entry(thread).or_default() += 1;
            // wgpu's text is "Validation Error\n\nCaused by:\n  In ...": keep it on one line.
            let one_line: Vec<&str> = message
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            s.last = Some(one_line.join(" ").chars().take(240).collect());
        }
    }

    #[must_use]
    pub fn total(&self) -> u64 {
        self.inner.lock().map_or(0, |s| s.total)
    }

    /// Errors raised on the thread called `thread`.
    #[must_use]
    pub fn on_thread(&self, thread: &str) -> u64 {
        self.inner
            .lock()
            .map_or(0, |s| s.by_thread.get(thread).copied().unwrap_or(0))
    }

    /// (thread name, errors raised on it), sorted by name.
    #[must_use]
    pub fn by_thread(&self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self
            .inner
            .lock()
            .map(|s| s.by_thread.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    #[must_use]
    pub fn last(&self) -> Option<String> {
        self.inner.lock().ok().and_then(|s| s.last.clone())
    }

    /// Replaces `device`'s uncaptured-error handler with one that records into this log.
    pub fn install(&self, device: &wgpu::Device) {
        let log = self.clone();
        device.on_uncaptured_error(std::sync::Arc::new(move |error| {
            log.record(&error.to_string());
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_work_runs_on_a_pool_thread_and_returns_its_value() {
        assert_eq!(
            rayon::current_thread_index(),
            None,
            "the test thread is not a worker"
        );
        let cpu = Device::flex().autodiff();
        assert!(is_cpu(&cpu) && is_cpu(&Device::flex()));
        let (on_worker, value) = on_compute_pool(&cpu, || (rayon::current_thread_index(), 7));
        assert!(on_worker.is_some(), "CPU work ran on the calling thread");
        assert_eq!(value, 7);
        // Already on a worker: in place, on the same thread.
        let nested = on_compute_pool(&cpu, || {
            let outer = rayon::current_thread_index();
            on_compute_pool(&cpu, || rayon::current_thread_index() == outer)
        });
        assert!(nested);
    }
}
