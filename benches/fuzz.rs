//! `cargo bench --bench fuzz -- [MINUTES] [TARGET…]`: mutation fuzzing on stable Rust.
//!
//! Starts from valid seed files (`atelier::fuzz::seeds`) and the kept corpus
//! (`tests/fuzz-corpus/TARGET/`), mutates them (bit flips, interesting integers, cuts,
//! inserts, splices) and runs each through its target's real entry point. A panic is a
//! failure: its input is saved under `tests/fuzz-corpus/TARGET/` for the test suite to replay.
//! Before each run the input is also written to `target/fuzz-current-TARGET.bin`, so an input
//! that aborts or hangs the process is not lost. Prints executions, failures, slowest input
//! and peak memory; the time is shared evenly between the targets.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use atelier::fuzz::{Target, run, seeds};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: [u32; 10] = [
    0,
    1,
    0x7F,
    0x80,
    0xFF,
    0xFFFF,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
    60_000,
];

fn mutate(input: &[u8], pool: &[Vec<u8>], rng: &mut Rng) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let len = out.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = [0, 0xFF, 0x7F, 0x80, b'0', b'9', b'"', b'['][rng.below(8)];
            }
            2 if len >= 4 => {
                let i = rng.below(len - 3);
                let v = INTERESTING[rng.below(INTERESTING.len())];
                let bytes = if rng.below(2) == 0 {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                };
                out[i..i + 4].copy_from_slice(&bytes);
            }
            3 if len > 0 => out.truncate(rng.below(len)),
            4 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                out.splice(i..i, bytes);
            }
            5 if len > 1 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                out.drain(a..b);
            }
            6 if len > 1 => {
                // Duplicate a range (repeated chunks, longer tables).
                let a = rng.below(len);
                let b = (a + 1 + rng.below(256)).min(len);
                let copy = out[a..b].to_vec();
                let at = rng.below(len + 1);
                out.splice(at..at, copy);
            }
            _ if !pool.is_empty() => {
                // Splice: this input's head with another's tail.
                let other = &pool[rng.below(pool.len())];
                let cut = rng.below(out.len() + 1);
                let from = rng.below(other.len() + 1);
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
            _ => {}
        }
    }
    out
}

fn corpus_dir(target: Target) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fuzz-corpus")
        .join(target.name())
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn fuzz(target: Target, budget: Duration, rng: &mut Rng) {
    let mut pool: Vec<Vec<u8>> = seeds(target).into_iter().map(|(_, b)| b).collect();
    if let Ok(entries) = std::fs::read_dir(corpus_dir(target)) {
        pool.extend(
            entries
                .flatten()
                .filter_map(|e| std::fs::read(e.path()).ok()),
        );
    }
    assert!(!pool.is_empty(), "{}: no seeds", target.name());
    let current = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(format!("fuzz-current-{}.bin", target.name()));
    let started = Instant::now();
    let (mut execs, mut failures, mut errors) = (0u64, 0u64, 0u64);
    let mut slowest = Duration::ZERO;
    while started.elapsed() < budget {
        let parent = &pool[rng.below(pool.len())];
        let input = mutate(parent, &pool, rng);
        let _ = std::fs::write(&current, &input);
        let scratch = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| run(target, &input, scratch.path())));
        slowest = slowest.max(t.elapsed());
        execs += 1;
        if let Ok(outcome) = result {
            let accepted = outcome.starts_with("ok") || outcome.contains("re-sealed: ok");
            errors += u64::from(!accepted);
            // Inputs that still decode are better parents than those that fail early.
            if accepted && pool.len() < 4096 && rng.below(8) == 0 {
                pool.push(input);
            }
        } else {
            failures += 1;
            let dir = corpus_dir(target);
            let _ = std::fs::create_dir_all(&dir);
            let name = format!("failure-{:016x}", fxhash(&input));
            let _ = std::fs::write(dir.join(&name), &input);
            println!("{}: PANIC on input saved as {name}", target.name());
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{:<11} {execs:>9} execs  {:>8.0}/s  {failures} failures  {:.0} % refused with an error  slowest {:.0} ms  peak RSS so far {:.0} MiB",
        target.name(),
        execs as f64 / secs,
        100.0 * errors as f64 / execs.max(1) as f64,
        slowest.as_secs_f64() * 1e3,
        peak_rss_mib()
    );
}

fn fxhash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn main() {
    // `cargo bench` passes `--bench`; the rest are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let minutes: f64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(1.0);
    let mut targets: Vec<Target> = args.iter().filter_map(|a| Target::from_name(a)).collect();
    if targets.is_empty() {
        targets = Target::ALL.to_vec();
    }
    // Panics are expected findings: keep their messages short.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("panic: {info}");
    }));
    let each = Duration::from_secs_f64(minutes * 60.0 / targets.len() as f64);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    println!("fuzzing {} targets for {minutes} min in all", targets.len());
    for target in targets {
        fuzz(target, each, &mut rng);
    }
}
