//! Where the worker computes: on the window's own wgpu device (shared), on a second wgpu
//! device, or on the CPU. The only place the studio touches burn.

use std::sync::Arc;

use burn::tensor::Device;
use burn::tensor::wgpu::{WgpuSetup, wgpu};
use serde::{Deserialize, Serialize};

use crate::device::GpuErrorLog;
use crate::preset::Hardware;
use crate::worker::WorkerDevice;

/// The user's choice (settings file or `--compute`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComputeSetting {
    /// Shared device on a real GPU; the CPU when the only adapter is a software one.
    #[default]
    Auto,
    /// Train and sample on the window's wgpu device.
    Shared,
    /// A second wgpu device on the same adapter: the renderer and training never meet.
    Separate,
    /// burn's CPU backend.
    Cpu,
    /// Train on a remote server (`atelier serve`); renders stay on this machine, as Auto.
    Remote,
}

impl std::str::FromStr for ComputeSetting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "shared" => Ok(Self::Shared),
            "separate" => Ok(Self::Separate),
            "cpu" => Ok(Self::Cpu),
            "remote" => Ok(Self::Remote),
            other => Err(format!(
                "unknown compute setting '{other}' (use auto, shared, separate, cpu or remote)"
            )),
        }
    }
}

impl ComputeSetting {
    pub const ALL: [Self; 5] = [
        Self::Auto,
        Self::Shared,
        Self::Separate,
        Self::Cpu,
        Self::Remote,
    ];

    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Auto => "Auto (shared GPU, else CPU)",
            Self::Shared => "Shared with the window (wgpu)",
            Self::Separate => "Separate wgpu device",
            Self::Cpu => "CPU",
            Self::Remote => "Remote server (trains there; renders here)",
        }
    }
}

/// The compute device chosen at start-up, and what the user should be told about it.
pub struct ComputeChoice {
    pub worker: WorkerDevice,
    pub description: String,
    /// A real GPU (not the CPU backend, not a software adapter): colour photos then get the
    /// GPU's recipe.
    pub hardware: Hardware,
    /// Set when the setting could not be honoured and another device is used instead.
    pub fallback_notice: Option<String>,
}

/// The device features and limits burn needs, asked of the adapter when eframe creates the
/// window's device (cubecl reads the adapter's, so the device must enable them). This is the
/// descriptor cubecl-wgpu gives its own devices, experimental features included: NVIDIA's
/// Vulkan driver reports experimental ones (mesh shaders, cooperative matrices), and wgpu
/// refuses to enable them otherwise, so the window could not start on such a GPU (seen on
/// an H200 by `benches/gpu-check.sh`).
#[must_use]
#[allow(unsafe_code)]
pub fn device_descriptor(adapter: &wgpu::Adapter) -> wgpu::DeviceDescriptor<'static> {
    wgpu::DeviceDescriptor {
        label: Some("atelier shared device"),
        required_features: adapter.features() - wgpu::Features::MAPPABLE_PRIMARY_BUFFERS,
        required_limits: adapter.limits(),
        memory_hints: wgpu::MemoryHints::MemoryUsage,
        // SAFETY: the same opt-in as cubecl-wgpu's own device creation (`try_request_device`),
        // whose kernels run on this device; the window's renderer uses no experimental feature.
        experimental_features: unsafe { wgpu::ExperimentalFeatures::enabled() },
        ..Default::default()
    }
}

/// The CPU device, leaving one core to the window (it renders in software on machines
/// without a GPU, and would drop to a few frames per second if training took every core).
fn cpu() -> WorkerDevice {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    WorkerDevice {
        device: Device::flex(),
        shared_with_renderer: false,
        gpu_errors: None,
        cpu_threads: Some(cores.saturating_sub(1).max(1)),
        remote: None,
    }
}

/// Resolves `setting` given the window's render state (absent when eframe runs on glow or
/// headless). Never fails: each fallback is announced in `fallback_notice`.
#[must_use]
pub fn choose_compute(
    setting: ComputeSetting,
    render_state: Option<&eframe::egui_wgpu::RenderState>,
    gpu_errors: &GpuErrorLog,
) -> ComputeChoice {
    let adapter_info = render_state.map(|rs| rs.adapter.get_info());
    let software = adapter_info
        .as_ref()
        .is_some_and(|i| i.device_type == wgpu::DeviceType::Cpu);
    let adapter_name = adapter_info.map_or_else(|| "no wgpu adapter".into(), |i| i.name);
    let cpu_choice = |notice: Option<String>| ComputeChoice {
        worker: cpu(),
        description: "CPU (burn flex)".into(),
        hardware: Hardware::Cpu,
        fallback_notice: notice,
    };
    let gpu = if software {
        Hardware::Cpu
    } else {
        Hardware::Gpu
    };
    let wanted = match setting {
        ComputeSetting::Auto | ComputeSetting::Remote if software || render_state.is_none() => {
            return cpu_choice(Some(format!(
                "Training on the CPU: the window's adapter ({adapter_name}) is a software renderer, where burn's CPU backend is about 10x faster than wgpu. Choose \"Shared\" in Settings to train on it anyway."
            )));
        }
        ComputeSetting::Auto | ComputeSetting::Remote => ComputeSetting::Shared,
        ComputeSetting::Cpu => return cpu_choice(None),
        other => other,
    };
    if wanted == ComputeSetting::Shared {
        match render_state.map(|rs| share(rs, gpu_errors)) {
            Some(Ok(device)) => {
                return ComputeChoice {
                    worker: WorkerDevice {
                        device,
                        shared_with_renderer: true,
                        gpu_errors: Some(gpu_errors.clone()),
                        cpu_threads: None,
                        remote: None,
                    },
                    description: format!("GPU shared with the window ({adapter_name})"),
                    hardware: gpu,
                    fallback_notice: None,
                };
            }
            Some(Err(error)) => {
                let notice = format!(
                    "Could not share the window's GPU device ({error}); using a separate wgpu device."
                );
                return separate(gpu_errors, &adapter_name, gpu, Some(notice));
            }
            None => {
                return cpu_choice(Some(
                    "The window has no wgpu device to share; training on the CPU.".into(),
                ));
            }
        }
    }
    separate(gpu_errors, &adapter_name, gpu, None)
}

/// Registers the window's wgpu handles with burn, then puts our error handler over cubecl's
/// panicking one (a renderer validation error must not abort the app).
fn share(rs: &eframe::egui_wgpu::RenderState, gpu_errors: &GpuErrorLog) -> Result<Device, String> {
    let setup = WgpuSetup {
        instance: rs.instance.clone(),
        adapter: rs.adapter.clone(),
        device: rs.device.clone(),
        queue: rs.queue.clone(),
        backend: rs.adapter.get_info().backend,
    };
    let device = Device::wgpu_options()
        .setup(setup)
        .init()
        .map_err(|e| format!("{e:?}"))?;
    gpu_errors.install(&rs.device);
    Ok(device)
}

/// For a frame loop with no window (`bench-ui`): burn creates the wgpu device (Vulkan only,
/// no GL probing, which is what `try_init_setup` does), and the renderer is then built on
/// those exact handles, as burn asks ("share these handles; do not register them again").
/// eframe's own instance also probes GL/EGL, which on a headless NVIDIA server was seen to
/// hang before any frame. The worker gets the same device (shared), or the CPU/second device
/// the setting asks for, as `choose_compute` would decide for a window on this adapter.
///
/// # Errors
/// When no wgpu adapter is found.
pub fn burn_created_render_device(
    setting: ComputeSetting,
    gpu_errors: &GpuErrorLog,
) -> Result<(ComputeChoice, eframe::egui_wgpu::WgpuSetupExisting), String> {
    let (device, setup) = Device::wgpu_options()
        .init_with_setup()
        .map_err(|e| format!("{e:?}"))?;
    let info = setup.adapter.get_info();
    let software = info.device_type == wgpu::DeviceType::Cpu;
    let hardware = if software {
        Hardware::Cpu
    } else {
        Hardware::Gpu
    };
    gpu_errors.install(&setup.device);
    let choice = match setting {
        ComputeSetting::Cpu => ComputeChoice {
            worker: cpu(),
            description: "CPU (burn flex)".into(),
            hardware: Hardware::Cpu,
            fallback_notice: None,
        },
        ComputeSetting::Auto | ComputeSetting::Remote if software => ComputeChoice {
            worker: cpu(),
            description: "CPU (burn flex)".into(),
            hardware: Hardware::Cpu,
            fallback_notice: Some(format!(
                "Training on the CPU: {} is a software adapter.",
                info.name
            )),
        },
        ComputeSetting::Separate => separate(gpu_errors, &info.name, hardware, None),
        ComputeSetting::Auto | ComputeSetting::Shared | ComputeSetting::Remote => ComputeChoice {
            worker: WorkerDevice {
                device,
                shared_with_renderer: true,
                gpu_errors: Some(gpu_errors.clone()),
                cpu_threads: None,
                remote: None,
            },
            description: format!("GPU shared with the renderer ({})", info.name),
            hardware,
            fallback_notice: None,
        },
    };
    let existing = eframe::egui_wgpu::WgpuSetupExisting {
        instance: setup.instance,
        adapter: setup.adapter,
        device: setup.device,
        queue: setup.queue,
    };
    Ok((choice, existing))
}

fn separate(
    gpu_errors: &GpuErrorLog,
    adapter_name: &str,
    hardware: Hardware,
    notice: Option<String>,
) -> ComputeChoice {
    match Device::wgpu_options().init_with_setup() {
        Ok((device, setup)) => {
            gpu_errors.install(&setup.device);
            ComputeChoice {
                worker: WorkerDevice {
                    device,
                    shared_with_renderer: false,
                    gpu_errors: Some(gpu_errors.clone()),
                    cpu_threads: None,
                    remote: None,
                },
                description: format!("separate wgpu device ({adapter_name})"),
                hardware,
                fallback_notice: notice,
            }
        }
        Err(error) => ComputeChoice {
            worker: cpu(),
            description: "CPU (burn flex)".into(),
            hardware: Hardware::Cpu,
            fallback_notice: Some(format!(
                "{}No separate wgpu device either ({error:?}); training on the CPU.",
                notice.map(|n| format!("{n} ")).unwrap_or_default()
            )),
        },
    }
}

/// A wgpu configuration for eframe that asks for the adapter's full features and limits (so
/// burn can share the device). eframe's default surface handling already skips a frame on a
/// timeout or occlusion and reconfigures on an outdated surface.
#[must_use]
pub fn wgpu_configuration() -> eframe::egui_wgpu::WgpuConfiguration {
    use eframe::egui_wgpu::{WgpuConfiguration, WgpuSetup as EguiSetup, WgpuSetupCreateNew};
    let mut create = WgpuSetupCreateNew::without_display_handle();
    create.device_descriptor = Arc::new(device_descriptor);
    WgpuConfiguration {
        wgpu_setup: EguiSetup::CreateNew(create),
        ..Default::default()
    }
}
