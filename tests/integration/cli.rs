//! The `atelier` binary as scripts use it: exit codes, one-line errors, files written.

#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::many_single_char_names
)]

use crate::common;

use std::path::Path;
use std::process::Command;

use crate::common::atelier;

/// `atelier sample` of `count` shots from `run` into `out` on the CPU, plus `extra` flags.
fn sample_on_cpu(run: &Path, out: &Path, count: u32, extra: &[&str]) -> (i32, String, String) {
    let (run, out, count) = (
        run.to_str().unwrap(),
        out.to_str().unwrap(),
        count.to_string(),
    );
    let mut args = vec![
        "sample", "--run", run, "--count", &count, "--out", out, "--device", "cpu",
    ];
    args.extend_from_slice(extra);
    atelier(&args)
}

/// `atelier train` of `preset` on `data` into `out` for `steps` steps on the CPU.
fn train_on_cpu(data: &Path, preset: &str, out: &Path, steps: u32) -> (i32, String, String) {
    atelier(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--preset",
        preset,
        "--out",
        out.to_str().unwrap(),
        "--steps",
        &steps.to_string(),
        "--device",
        "cpu",
    ])
}

#[test]
fn train_then_sample_then_refuse_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("shirts");
    atelier::demo::write_demo_set(&data, 24).unwrap();
    std::fs::write(data.join("broken.png"), b"\x89PNG\r\n\x1a\nbroken").unwrap();
    let run = tmp.path().join("run");
    let p = |x: &Path| x.to_str().unwrap().to_string();
    let (code, stdout, stderr) = train_on_cpu(&data, "tiny-test", &run, 4);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("step 4/4"), "{stdout}");
    assert!(stderr.contains("1 skipped"), "{stderr}");
    assert!(!stderr.contains("show colour"), "{stderr}");

    let shots = tmp.path().join("shots");
    let (code, stdout, stderr) = sample_on_cpu(&run, &shots, 5, &["--seed", "10"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let files: Vec<_> = std::fs::read_dir(&shots).unwrap().collect();
    assert_eq!(files.len(), 5);
    assert!(shots.join("seed-00000014.png").exists());
    let img = image::open(shots.join("seed-00000010.png")).unwrap();
    assert_eq!((img.width(), img.height()), (28, 28));

    let (code, _, stderr) = sample_on_cpu(&run, &shots, 5, &["--seed", "12"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("already exists"), "{stderr}");

    // An unconditional model has no classes to pick.
    let (code, _, stderr) = sample_on_cpu(&run, &tmp.path().join("c"), 2, &["--class", "sneaker"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("no class named 'sneaker'"), "{stderr}");

    // Fine-tune from the run as a base: SGD, FreezeD, a new run folder.
    let tuned = tmp.path().join("tuned");
    let (code, stdout, stderr) = atelier(&[
        "train",
        "--data",
        &p(&data),
        "--preset",
        "tiny-test",
        "--out",
        &p(&tuned),
        "--steps",
        "2",
        "--device",
        "cpu",
        "--init",
        &p(&run),
        "--freeze-d",
        "1",
        "--optimizer",
        "sgd",
        "--lr",
        "0.01",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let recipe = std::fs::read_to_string(tuned.join("preset.toml")).unwrap();
    assert!(recipe.contains("optimizer = \"sgd\"") && recipe.contains("freeze_d_blocks = 1"));
    let (code, _, stderr) = atelier(&[
        "train",
        "--data",
        &p(&data),
        "--preset",
        "tiny-test",
        "--out",
        &p(&tmp.path().join("t2")),
        "--device",
        "cpu",
        "--init",
        "/no/base.atl",
    ]);
    assert_ne!(code, 0);
    assert!(stderr.contains("train.init"), "{stderr}");
}

/// Real colour photos trained with a grey preset: the run goes ahead as asked, and a note names
/// the colour preset (the studio switches a fresh project instead).
#[test]
fn a_grey_preset_on_colour_photos_names_the_colour_preset() {
    let tmp = tempfile::tempdir().unwrap();
    let hats =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/clothing-small/validation/hat");
    let (code, stdout, stderr) = train_on_cpu(&hats, "tiny-test", &tmp.path().join("run"), 1);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains("images show colour, but preset tiny-test trains 28 px grey shots; for colour shots use --preset fastgan-64-rgb (training runs on the CPU"),
        "{stderr}"
    );
}

#[test]
fn errors_are_one_line_with_non_zero_exit() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x");
    let (code, _, stderr) = atelier(&[
        "train",
        "--data",
        "/no/such/folder",
        "--preset",
        "tiny-test",
        "--out",
        out.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("error:") && stderr.contains("/no/such/folder"),
        "{stderr}"
    );
    assert_eq!(
        stderr
            .trim()
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count(),
        1,
        "{stderr}"
    );

    let (code, _, stderr) = atelier(&["eval", "--run", ".", "--truncation", "0"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("--truncation must be above 0 and at most 2"),
        "{stderr}"
    );

    let (code, _, stderr) = atelier(&["import", "--data", ".", "--preset", "no-such-preset"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("unknown preset 'no-such-preset'"),
        "{stderr}"
    );
}

#[test]
fn import_prints_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    atelier::demo::write_demo_set(tmp.path(), 6).unwrap();
    std::fs::write(tmp.path().join("empty.png"), b"").unwrap();
    let (code, stdout, stderr) = atelier(&[
        "import",
        "--data",
        tmp.path().to_str().unwrap(),
        "--preset",
        "dcgan-28",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Imported 6 of 7 files"), "{stdout}");
    assert!(stdout.contains("empty.png: empty file"), "{stdout}");
}

/// Sends `signal` (e.g. "-INT", "-KILL") to a child process with the system's `kill`.
fn signal(child: &std::process::Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !ready() {
        assert!(
            started.elapsed().as_secs() < 120,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn interrupt_checkpoints_and_resume_continues_even_after_a_kill() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("shirts");
    atelier::demo::write_demo_set(&data, 32).unwrap();
    let run = tmp.path().join("run");
    let (d, r) = (data.to_str().unwrap(), run.to_str().unwrap());
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--data",
            d,
            "--preset",
            "tiny-test",
            "--out",
            r,
            "--device",
            "cpu",
            "--quiet",
        ];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_atelier"))
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let ckpt = run.join("checkpoint.atl");
    let step_of = |path: &Path| atelier::train::Checkpoint::load(path).map(|c| c.state.step);

    // Ctrl-C: the run saves a checkpoint at the step it reached and exits cleanly.
    let child = train(&["--steps", "1000000"]);
    wait_for("a first checkpoint", || {
        step_of(&ckpt).is_ok_and(|s| s >= 5)
    });
    signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stopped: u64 = stdout
        .split("stopped at step ")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no 'stopped at step' in {stdout}"));
    assert_eq!(step_of(&ckpt).unwrap(), stopped);

    // SIGKILL: nothing can be saved, so at most the steps since the last checkpoint are lost.
    let child = train(&["--steps", "1000000", "--resume"]);
    wait_for("a checkpoint after the resume", || {
        step_of(&ckpt).is_ok_and(|s| s >= stopped + 10)
    });
    signal(&child, "-KILL");
    let _ = child.wait_with_output().unwrap();
    let kept = step_of(&ckpt).expect("the checkpoint survives a kill intact");
    assert!(kept >= stopped + 10);

    // Resume continues from the kept checkpoint to the new budget.
    let target = (kept + 3).to_string();
    let out = train(&["--steps", &target, "--resume"])
        .wait_with_output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("step {target}/{target}")));
    assert_eq!(step_of(&ckpt).unwrap(), kept + 3);
}

/// `atelier eval` on a colour run, against a folder the run never saw: the shipped feature
/// network reads only 28 px grey, so a class judge trained on the run's photos gives the
/// feature distance; a best checkpoint of the latest step is scored once.
#[test]
fn eval_scores_a_colour_run_with_its_class_judge() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |x: &Path| x.to_str().unwrap().to_string();
    let (data, unseen) = (tmp.path().join("data"), tmp.path().join("unseen"));
    common::two_class_folder(&data, 40, 0);
    common::two_class_folder(&unseen, 70, 1000);
    let mut recipe = atelier::preset::Preset::load("tiny-test").unwrap();
    common::dcgan(&mut recipe).resolution = 32;
    common::dcgan(&mut recipe).channels = 3;
    recipe.train.eval_every = 4;
    let preset = tmp.path().join("tiny-32-rgb.toml");
    std::fs::write(&preset, recipe.to_toml()).unwrap();
    let run = tmp.path().join("run");
    let (code, stdout, stderr) = train_on_cpu(&data, &p(&preset), &run, 4);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, stderr) = atelier(&[
        "eval",
        "--run",
        &p(&run),
        "--against",
        &p(&unseen),
        "--device",
        "cpu",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("held-out images: 140 (2 classes)"),
        "{stdout}"
    );
    let accuracy: f64 = stdout
        .split("training images): ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no class judge line: {stdout}"));
    assert!(
        accuracy > 90.0,
        "light and dark shirts are easy to tell apart: {stdout}"
    );
    assert!(
        stdout.contains("feature FD (run's class judge)"),
        "{stdout}"
    );
    assert!(stdout.contains("best = latest (step 4)"), "{stdout}");
    assert_eq!(stdout.matches("step       4: SWD").count(), 1, "{stdout}");
    // Precision and recall in the same features, each a share, with the real-vs-real pair.
    let figures = stdout
        .split("precision / recall (k = 3) ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("no precision / recall line: {stdout}"));
    let shares: Vec<f64> = figures
        .split(['/', ';', ')'])
        .filter_map(|f| f.trim().parse().ok())
        .collect();
    assert_eq!(shares.len(), 4, "{stdout}");
    assert!(shares.iter().all(|s| (0.0..=1.0).contains(s)), "{stdout}");
    assert!(
        shares[2] > 0.5 && shares[3] > 0.5,
        "new photos of the same two classes cover each other: {stdout}"
    );
}

/// The reliability classes a probe of the binary found, each on the real binary: a folder of
/// someone else's files, two writers on one run, a resume with another recipe, a flipped byte
/// in a checkpoint's header, a huge `--count`.
#[test]
fn user_files_second_writers_recipe_conflicts_flipped_bytes_and_huge_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("shirts");
    atelier::demo::write_demo_set(&data, 24).unwrap();
    let d = data.to_str().unwrap();

    // A folder holding a user's own files is refused, and left exactly as it was.
    let theirs = tmp.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("preview.png"), b"my preview").unwrap();
    std::fs::write(theirs.join("metrics.jsonl"), b"my notes\n").unwrap();
    let (code, _, stderr) = train_on_cpu(&data, "tiny-test", &theirs, 2);
    assert_ne!(code, 0);
    assert!(stderr.contains("did not create"), "{stderr}");
    assert_eq!(
        std::fs::read(theirs.join("preview.png")).unwrap(),
        b"my preview"
    );
    assert_eq!(
        std::fs::read(theirs.join("metrics.jsonl")).unwrap(),
        b"my notes\n"
    );
    assert_eq!(std::fs::read_dir(&theirs).unwrap().count(), 2);
    let (code, _, stderr) = atelier(&["demo", "--out", theirs.to_str().unwrap(), "--steps", "1"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("did not create"), "{stderr}");
    assert_eq!(std::fs::read_dir(&theirs).unwrap().count(), 2);
    // A refused start into a new folder leaves no folder behind.
    let never = tmp.path().join("never");
    let (code, _, _) = atelier(&[
        "train",
        "--data",
        "/no/such/folder",
        "--preset",
        "tiny-test",
        "--out",
        never.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert_ne!(code, 0);
    assert!(!never.exists());

    // Two writers: the second is refused and told which process holds the run.
    let run = tmp.path().join("run");
    let r = run.to_str().unwrap();
    let first = Command::new(env!("CARGO_BIN_EXE_atelier"))
        .args(["train", "--data", d, "--preset", "tiny-test", "--out", r])
        .args(["--steps", "1000000", "--device", "cpu", "--quiet"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ckpt = run.join("checkpoint.atl");
    wait_for("the first writer's checkpoint", || ckpt.exists());
    let (code, _, stderr) = atelier(&[
        "train",
        "--data",
        d,
        "--preset",
        "tiny-test",
        "--out",
        r,
        "--steps",
        "3",
        "--resume",
        "--device",
        "cpu",
    ]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("in use by Atelier process") && stderr.contains(&first.id().to_string()),
        "{stderr}"
    );
    signal(&first, "-INT");
    let _ = first.wait_with_output().unwrap();

    // Resume with another recipe: architecture fields refused by name, schedule obeyed.
    let (code, _, stderr) = atelier(&[
        "train",
        "--data",
        d,
        "--preset",
        "tiny-fastgan",
        "--out",
        r,
        "--steps",
        "3",
        "--resume",
        "--device",
        "cpu",
    ]);
    assert_ne!(code, 0);
    assert!(stderr.contains("model.kind"), "{stderr}");
    let recipe_before = std::fs::read(run.join("preset.toml")).unwrap();
    let report_before = std::fs::metadata(run.join("import-report.txt"))
        .unwrap()
        .modified()
        .unwrap();
    let (code, _, stderr) = atelier(&[
        "train",
        "--data",
        d,
        "--preset",
        "tiny-test",
        "--out",
        r,
        "--steps",
        "3",
        "--resume",
        "--batch",
        "6",
        "--device",
        "cpu",
    ]);
    assert_ne!(code, 0);
    assert!(stderr.contains("train.batch"), "{stderr}");
    // A refused resume writes nothing.
    assert_eq!(
        std::fs::read(run.join("preset.toml")).unwrap(),
        recipe_before
    );
    assert_eq!(
        std::fs::metadata(run.join("import-report.txt"))
            .unwrap()
            .modified()
            .unwrap(),
        report_before
    );
    let step = atelier::train::Checkpoint::load(&ckpt).unwrap().state.step;
    let target = (step + 2).to_string();
    let (code, stdout, stderr) = atelier(&[
        "train",
        "--data",
        d,
        "--preset",
        "tiny-test",
        "--out",
        r,
        "--steps",
        &target,
        "--resume",
        "--lr",
        "0.0001",
        "--device",
        "cpu",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains("train.lr_g") && stderr.contains("0.0001"),
        "{stderr}"
    );
    let recipe = std::fs::read_to_string(run.join("preset.toml")).unwrap();
    assert!(recipe.contains("lr_g = 0.0001"), "{recipe}");

    // One flipped byte in the checkpoint's JSON header: a clear error, for sample and resume.
    let mut bytes = std::fs::read(&ckpt).unwrap();
    let at = bytes
        .windows(6)
        .position(|w| w == b"\"step\"")
        .expect("the header names the step");
    bytes[at + 1] ^= 0x20;
    let flipped = tmp.path().join("flipped");
    std::fs::create_dir(&flipped).unwrap();
    std::fs::write(flipped.join("checkpoint.atl"), &bytes).unwrap();
    let (code, _, stderr) = sample_on_cpu(&flipped, &tmp.path().join("s"), 2, &[]);
    assert_ne!(code, 0);
    assert!(stderr.contains("checksum"), "{stderr}");

    // A huge count streams: shots appear at once and memory stays flat.
    let shots = tmp.path().join("many");
    let mut child = Command::new(env!("CARGO_BIN_EXE_atelier"))
        .args([
            "sample", "--run", r, "--count", "10000000", "--device", "cpu", "--quiet",
        ])
        .arg("--out")
        .arg(&shots)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the first streamed shots", || {
        std::fs::read_dir(&shots).is_ok_and(|d| d.count() >= 600)
    });
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    child.kill().unwrap();
    let _ = child.wait();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    assert!(
        peak_kib < 400 * 1024,
        "sample's peak memory grew to {peak_kib} KiB"
    );
}
