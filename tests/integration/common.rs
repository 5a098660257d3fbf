//! Fixtures shared by the integration tests.

use std::path::Path;

/// Runs the `atelier` binary quietly: exit code, stdout, stderr.
pub fn atelier(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_atelier"))
        .args(args)
        .arg("--quiet")
        .output()
        .expect("running the atelier binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Two class folders of 28 px demo shirts: `light` (light on dark) and `dark` (the same shirts
/// drawn dark on light), `per_class` each, from seed `first_seed` on. A classifier tells them
/// apart at once, so class-aware checks have a known answer.
pub fn two_class_folder(dir: &Path, per_class: usize, first_seed: u64) {
    for (class, invert) in [("light", false), ("dark", true)] {
        let folder = dir.join(class);
        std::fs::create_dir_all(&folder).expect("creating a class folder");
        for i in 0..per_class as u64 {
            let mut shirt = atelier::demo::demo_shirt(first_seed + i);
            if invert {
                shirt.pixels.iter_mut().for_each(|p| *p = 255 - *p);
            }
            atelier::export::save_png_atomic(&shirt, &folder.join(format!("{i:04}.png")))
                .expect("writing a fixture image");
        }
    }
}

/// The DCGAN config of a DCGAN recipe, to edit its family's fields.
pub fn dcgan(preset: &mut atelier::preset::Preset) -> &mut atelier::model::dcgan::DcganConfig {
    match &mut preset.model {
        atelier::model::ModelConfig::Dcgan(config) => config,
        other => panic!("{} is not a DCGAN", other.kind()),
    }
}

/// A worker thread on the CPU device, as the studio's tests run it.
pub fn cpu_worker() -> atelier::worker::WorkerHandle {
    let device = atelier::worker::WorkerDevice {
        device: burn::tensor::Device::flex(),
        shared_with_renderer: false,
        gpu_errors: None,
        cpu_threads: None,
        remote: None,
    };
    atelier::worker::spawn_worker(device, std::sync::Arc::new(|| {}))
        .expect("the worker thread starts")
}

/// `atelier train` of `tiny-test` on `data` into `run` for `steps` steps on the CPU; panics
/// with the output when it fails.
pub fn train_tiny_run(data: &Path, run: &Path, steps: &str) {
    let (code, out, err) = atelier(&[
        "train",
        "--data",
        data.to_str().unwrap_or_default(),
        "--preset",
        "tiny-test",
        "--out",
        run.to_str().unwrap_or_default(),
        "--steps",
        steps,
        "--device",
        "cpu",
    ]);
    assert_eq!(code, 0, "{out}{err}");
}
