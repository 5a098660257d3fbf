//! The presets shipped with Atelier, embedded in the binary so `--preset NAME` works from any
//! directory.

/// `(name, text of presets/NAME.toml)` for each name, so a name is written once.
macro_rules! shipped {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../presets/", $name, ".toml")))),*]
    };
}

/// Presets shipped with Atelier, embedded at build time: (name, TOML text).
pub const BUILTIN_PRESETS: &[(&str, &str)] = shipped![
    "tshirt-mlp-28",
    "dcgan-28",
    "dcgan-28-grow",
    "cdcgan-28",
    "base-28",
    "finetune-28",
    "dcgan-32-rgb",
    "dcgan-64-rgb",
    "dcgan-64-rgb-sn",
    "fastgan-64-rgb",
    "fastgan-64-rgb-grow",
    "fastgan-128-rgb",
    "fastgan-256-rgb",
    "cfastgan-64-rgb",
    "tiny-test",
    "tiny-fastgan",
    "demo-28",
    "pixelcnn-28",
    "pixelcnn-32-rgb",
    "tiny-pixelcnn",
];
