//! The presets shipped with Atelier, embedded in the binary so `--preset NAME` works from any
//! directory.

/// Presets shipped with Atelier, embedded at build time: (name, TOML text).
pub const BUILTIN_PRESETS: &[(&str, &str)] = &[
    (
        "tshirt-mlp-28",
        include_str!("../../presets/tshirt-mlp-28.toml"),
    ),
    ("dcgan-28", include_str!("../../presets/dcgan-28.toml")),
    (
        "dcgan-28-grow",
        include_str!("../../presets/dcgan-28-grow.toml"),
    ),
    ("cdcgan-28", include_str!("../../presets/cdcgan-28.toml")),
    ("base-28", include_str!("../../presets/base-28.toml")),
    (
        "finetune-28",
        include_str!("../../presets/finetune-28.toml"),
    ),
    (
        "dcgan-32-rgb",
        include_str!("../../presets/dcgan-32-rgb.toml"),
    ),
    (
        "dcgan-64-rgb",
        include_str!("../../presets/dcgan-64-rgb.toml"),
    ),
    (
        "dcgan-64-rgb-sn",
        include_str!("../../presets/dcgan-64-rgb-sn.toml"),
    ),
    (
        "fastgan-64-rgb",
        include_str!("../../presets/fastgan-64-rgb.toml"),
    ),
    (
        "fastgan-64-rgb-grow",
        include_str!("../../presets/fastgan-64-rgb-grow.toml"),
    ),
    (
        "fastgan-128-rgb",
        include_str!("../../presets/fastgan-128-rgb.toml"),
    ),
    (
        "fastgan-256-rgb",
        include_str!("../../presets/fastgan-256-rgb.toml"),
    ),
    (
        "cfastgan-64-rgb",
        include_str!("../../presets/cfastgan-64-rgb.toml"),
    ),
    ("tiny-test", include_str!("../../presets/tiny-test.toml")),
    (
        "tiny-fastgan",
        include_str!("../../presets/tiny-fastgan.toml"),
    ),
    ("demo-28", include_str!("../../presets/demo-28.toml")),
    (
        "pixelcnn-28",
        include_str!("../../presets/pixelcnn-28.toml"),
    ),
    (
        "pixelcnn-32-rgb",
        include_str!("../../presets/pixelcnn-32-rgb.toml"),
    ),
    (
        "tiny-pixelcnn",
        include_str!("../../presets/tiny-pixelcnn.toml"),
    ),
];
