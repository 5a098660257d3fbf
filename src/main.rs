//! `atelier`: the studio's command line. See `atelier --help`.

use clap::Parser;

use atelier::cli::Cli;

fn main() {
    keep_freed_memory();
    pin_default_backend();
    let cli = Cli::parse();
    if let Err(error) = atelier::cli::run(cli) {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

/// burn materialises restored optimiser state on `Device::default()`, which prefers wgpu when
/// it is compiled in. That would start a GPU runtime (or fail on a machine without one) just to
/// hold tensors that move to the training device at the next step anyway; every other tensor in
/// Atelier is created on an explicit device. So pin burn's default to the CPU backend.
#[allow(unsafe_code)]
fn pin_default_backend() {
    if std::env::var_os("BURN_DEVICE").is_none() {
        // SAFETY: called first thing in `main`, before any thread exists, so no other thread
        // can read the environment concurrently.
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
}

/// glibc gives every allocation above its mmap threshold (dynamic, from 128 KiB) straight back
/// to the kernel when freed, so each training step's activation buffers page-faulted freshly
/// zeroed memory and flushed TLBs on both cores: 12 % of a `dcgan-28` step in `perf`, and
/// `atelier bench` trains it 1.18× faster without that. Freed memory now stays in the process
/// for the next step; peak RSS is what a step needs either way.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn keep_freed_memory() {
    // SAFETY: mallopt only sets allocator parameters; it runs before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}
