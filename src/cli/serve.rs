//! `atelier serve`: lends this machine's device to training clients.

use anyhow::{Result, bail};

use super::args::{CheckServerArgs, ServeArgs};
use crate::device::DeviceChoice;
use crate::remote::{default_token_file, load_or_create_token, readable_by_others};

pub(super) fn serve(args: &ServeArgs) -> Result<()> {
    if args.device == DeviceChoice::Remote {
        bail!("`atelier serve` serves this machine's own device: use --device wgpu, cpu or auto");
    }
    let token_file = args.token_file.clone().unwrap_or_else(default_token_file);
    let (token, created) = load_or_create_token(&token_file)?;
    if created {
        println!(
            "created the token file {} (readable by you only): copy it to each machine that trains here",
            token_file.display()
        );
    } else if readable_by_others(&token_file) {
        eprintln!(
            "warning: {} can be read by other users: `chmod 600` it",
            token_file.display()
        );
    }
    serve_with(args, token, token_file)
}

#[cfg(feature = "remote")]
fn serve_with(args: &ServeArgs, token: String, token_file: std::path::PathBuf) -> Result<()> {
    use anyhow::Context;

    let chosen = super::resolve_device(args.device)?;
    let key_file = args
        .key_file
        .clone()
        .unwrap_or_else(|| token_file.with_file_name("server.key"));
    let options = crate::remote::server::ServeOptions {
        device: chosen.device,
        device_description: chosen.description,
        transport: args.transport,
        port: args.port,
        listen: args.listen,
        relays: args.relays.clone(),
        token,
        key_file,
    };
    crate::remote::server::serve(options, &mut std::io::stdout()).context("serving")?;
    eprintln!("server stopped");
    Ok(())
}

#[cfg(not(feature = "remote"))]
fn serve_with(_args: &ServeArgs, _token: String, _token_file: std::path::PathBuf) -> Result<()> {
    Err(crate::remote::RemoteError::NotBuilt.into())
}

/// `atelier check-server`: connect, then time round trips and a matrix product.
#[cfg(feature = "remote")]
pub(super) fn check_server(args: &CheckServerArgs) -> Result<()> {
    let host: crate::remote::HostAddress = args.host.parse()?;
    let token = crate::remote::read_token(&args.token_file)?;
    let started = std::time::Instant::now();
    let device = crate::remote::connect(&host, &token)?;
    let connect_ms = started.elapsed().as_secs_f64() * 1e3;
    let report = crate::remote::probe(&device)?;
    let round_trip_ms = report.round_trip.as_secs_f64() * 1e3;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "host": host.to_string(),
                "transport": host.transport(),
                "connect_ms": connect_ms,
                "round_trip_ms": round_trip_ms,
                "matmul_gflops": report.matmul_gflops,
            })
        );
    } else {
        println!(
            "connected to {host} over {} in {connect_ms:.0} ms: round trip {round_trip_ms:.1} ms, the server's device does a 512×512 matrix product at {:.1} GFLOP/s",
            host.transport(),
            report.matmul_gflops
        );
    }
    Ok(())
}

#[cfg(not(feature = "remote"))]
pub(super) fn check_server(_args: &CheckServerArgs) -> Result<()> {
    Err(crate::remote::RemoteError::NotBuilt.into())
}
