//! Turning generated pixels into files: PNG encoding, sample grids.
//!
//! Never overwrites a user's file silently; writes atomically.

mod grid;
mod picture;

pub use grid::grid;
pub use picture::{ExportError, Picture, save_png_atomic};
