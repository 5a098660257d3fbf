//! Atelier: a desktop studio that trains GANs on a designer's product photos.
//!
//! Module map (domain code never touches egui, eframe or rfd):
//! - [`data`]: import a folder or IDX files (decode, validate, square, resize, labels, split).
//! - [`model`]: generator/discriminator families (seed MLP, DCGAN, class-conditional DCGAN
//!   with a projection discriminator), device-agnostic.
//! - [`train`]: the GAN step, EMA, metrics, checkpoints, fine-tuning from a base, the run
//!   driver, and the class-fidelity check.
//! - [`base`]: the base models shipped inside the binary (`base-28`).
//! - [`latent`], [`sample`]: latent vectors and rendering shots from a checkpoint.
//! - [`export`]: pictures to files (PNG, grids), atomically.
//! - [`preset`]: the TOML training recipes under `presets/`.
//! - [`quality`]: held-out quality figures (multi-scale SWD, memorisation).
//! - [`device`]: picking a GPU through wgpu or the CPU backend; the wgpu error log.
//! - [`protocol`]: the typed commands and events between a front end and the worker.
//! - [`worker`]: the one background thread that owns the device, training and sampling.
//! - [`project`]: a studio project folder (settings, curation, runs, pinned generators).
//! - [`studio`]: the egui window (the only module that knows egui, eframe or rfd).
//! - [`cli`]: the command line (headless commands, and `studio`).

pub mod base;
pub mod cli;
pub mod data;
pub mod demo;
pub mod device;
pub mod export;
pub mod fsutil;
pub mod latent;
pub mod model;
pub mod preset;
pub mod project;
pub mod protocol;
pub mod quality;
pub mod rng;
pub mod sample;
pub mod studio;
pub mod train;
pub mod worker;
