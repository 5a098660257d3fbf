//! Atelier: a desktop studio that trains GANs on a designer's product photos.
//!
//! Module map (domain code never touches egui, eframe or rfd):
//! - [`data`]: import a folder or IDX files (decode, validate, square, resize, labels, split).
//! - [`model`]: the model families, one folder each (seed MLP, DCGAN, FastGAN; conditional
//!   variants with a projection discriminator), and the seam the rest knows them through.
//!   Device-agnostic.
//! - [`train`]: the trainer side of the seam, the shared GAN step (EMA, augmentation, LeCam,
//!   bCR, losses), the session that steps any family, metrics and the run driver.
//! - [`checkpoint`]: the checkpoint file format (named records, checksummed).
//! - [`base`]: the base models shipped inside the binary (`base-28`).
//! - [`latent`], [`sample`]: latent vectors and rendering shots from a checkpoint.
//! - [`export`]: pictures to files (PNG, grids), atomically.
//! - [`preset`]: the TOML training recipes under `presets/`.
//! - [`quality`]: held-out quality figures (SWD, memorisation, feature FD, precision/recall,
//!   density/coverage) and the evaluation of a generator with them.
//! - [`device`]: picking a GPU through wgpu or the CPU backend; the wgpu error log.
//! - [`protocol`]: the typed commands and events between a front end and the worker.
//! - [`worker`]: the one background thread that owns the device, training and sampling.
//! - [`project`]: a studio project folder (settings, curation, runs, pinned generators).
//! - [`studio`]: the egui window (the only module that knows egui, eframe or rfd).
//! - [`cli`]: the command line (headless commands, and `studio`).

pub mod base;
pub mod checkpoint;
pub mod cli;
pub mod data;
pub mod demo;
pub mod device;
pub mod export;
pub mod folder_lock;
pub mod fsutil;
pub mod fuzz;
pub mod invert;
pub mod latent;
pub mod model;
pub mod preset;
pub mod project;
pub mod protocol;
pub mod quality;
pub mod remote;
pub mod rng;
pub mod sample;
pub mod studio;
pub mod train;
pub mod upscale;
pub mod worker;
