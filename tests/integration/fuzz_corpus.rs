//! Replays the fuzz corpus (seed files and every input that ever failed) through the same
//! targets as `cargo bench --bench fuzz`: each must return, never panic.

#![allow(clippy::unwrap_used)]

use atelier::fuzz::{Target, run, seeds};

#[test]
fn every_seed_and_kept_input_returns_without_panicking() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus");
    let mut replayed = 0;
    for target in Target::ALL {
        let mut inputs: Vec<(String, Vec<u8>)> = seeds(target);
        assert!(!inputs.is_empty(), "{} has seeds", target.name());
        // The seeds are valid files: each target accepts them.
        for (name, bytes) in &inputs {
            let scratch = tempfile::tempdir().unwrap();
            let outcome = run(target, bytes, scratch.path());
            assert!(
                outcome.starts_with("ok"),
                "{} seed {name}: {outcome}",
                target.name()
            );
        }
        if let Ok(entries) = std::fs::read_dir(root.join(target.name())) {
            inputs.extend(entries.flatten().map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            }));
        }
        for (name, bytes) in &inputs {
            let scratch = tempfile::tempdir().unwrap();
            let result = std::panic::catch_unwind(|| run(target, bytes, scratch.path()));
            assert!(result.is_ok(), "{} input {name} panics", target.name());
            replayed += 1;
        }
    }
    assert!(replayed >= Target::ALL.len());
}
