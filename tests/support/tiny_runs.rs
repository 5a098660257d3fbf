//! Fixtures shared by the integration binary and `tests/timing.rs`: a folder of demo images
//! and the tiny preset trained for a fixed number of steps.

#![allow(clippy::unwrap_used)]

use atelier::demo::write_demo_set;
use atelier::preset::Preset;

/// `n` demo product images in a temporary folder.
pub fn demo_folder(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_demo_set(dir.path(), n).unwrap();
    dir
}

/// The `tiny-test` preset, trained for `steps` steps.
pub fn tiny(steps: u64) -> Preset {
    let mut p = Preset::load("tiny-test").unwrap();
    p.train.steps = Some(steps);
    p
}
