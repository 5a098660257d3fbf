//! Turning generated pixels into files: PNG encoding, sample grids, shot exports with metadata.
//!
//! Never overwrites a user's file silently; writes atomically.

mod grid;
mod picture;
mod shot;

pub use grid::grid;
pub use picture::{ExportError, Picture, save_png_atomic};
pub use shot::{
    ExportFormat, ExportOutcome, ExportSettings, SHOT_CHUNK, ShotExportError, ShotMeta,
    ShotToExport, encode_png_with_meta, export_contact_sheet, export_shots, file_safe,
    read_shot_meta, upscale, write_new_file,
};
