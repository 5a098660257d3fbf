//! `atelier`: the studio's command line. See `atelier --help`.

use clap::Parser;

use atelier::cli::Cli;

fn main() {
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
