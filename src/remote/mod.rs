//! Training on another machine's device through burn's own remote backend (`burn-remote`).
//!
//! A remote device is an ordinary `burn::tensor::Device`: the model code does not change, its
//! operations run on the server, and only what the client reads comes back. This module knows
//! where a server is ([`HostAddress`]), the token both sides share ([`token`]), how to connect
//! one of its devices ([`connect`]) and how to serve this machine's device ([`server`]).
//!
//! burn's remote features pull in Iroh (QUIC, TLS, relays: about 230 crates), so they sit
//! behind Atelier's `remote` cargo feature, on by default and built and tested in CI. Without
//! it, `--device remote` and `atelier serve` say so instead of connecting.

mod host;
mod token;

#[cfg(feature = "remote")]
mod client;
#[cfg(feature = "remote")]
pub mod server;

pub use host::HostAddress;
pub use token::{
    default_token_file, load_or_create_token, read_token, readable_by_others, save_token,
};

#[cfg(feature = "remote")]
pub use client::{ConnectionReport, connect, probe};

use thiserror::Error;

/// What went wrong reaching, or serving, a training server.
#[derive(Debug, Error)]
pub enum RemoteError {
    #[error("cannot use the host '{host}': {why}")]
    BadHost { host: String, why: String },
    #[error("cannot read the token file {path}: {source}")]
    TokenFile {
        path: String,
        source: std::io::Error,
    },
    #[error("the token file {path} is empty")]
    EmptyToken { path: String },
    #[error("no randomness for a new token: {0}")]
    NoRandomness(String),
    #[error("cannot connect to the {transport} server {host}: {why}")]
    Connect {
        transport: &'static str,
        host: String,
        why: String,
    },
    #[error(
        "the server {host} refused the token: --token-file must hold a copy of the server's token file"
    )]
    Refused { host: String },
    #[error("the server {host} stopped answering: {why}")]
    Lost { host: String, why: String },
    #[error("cannot serve: {0}")]
    Serve(String),
    #[error(
        "this build of Atelier has no remote training: build it with the `remote` cargo feature (on by default)"
    )]
    NotBuilt,
}
