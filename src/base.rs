//! Base models shipped inside the binary, to fine-tune from with no download.
//!
//! Each is a base-model checkpoint (its rendering generator and its discriminator, see
//! `sample::base_model_file`) trained by this project's own code; `assets/README.md` says on
//! what and how.

/// A base model shipped in the binary.
pub struct ShippedBase {
    /// What `train.init` calls it.
    pub name: &'static str,
    /// Image side and channels it makes (fine-tuning needs the same).
    pub resolution: usize,
    pub channels: usize,
    /// The checkpoint file's bytes.
    pub bytes: &'static [u8],
}

/// Every shipped base model.
pub const SHIPPED_BASES: &[ShippedBase] = &[ShippedBase {
    name: "base-28",
    resolution: 28,
    channels: 1,
    bytes: BASE_28,
}];

/// `presets/base-28.toml` trained 2,800 steps on the 10,000 images of Fashion-MNIST's t10k
/// file (all ten classes), the best held-out checkpoint (SWD 19.3), as a base model (1.8 MB).
pub const BASE_28: &[u8] = include_bytes!("../assets/base-28.atl");
