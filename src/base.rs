//! Base models shipped inside the binary, to fine-tune from with no download.
//!
//! Each is a [`crate::train::Checkpoint::base_model`] file (EMA generator and discriminator)
//! trained by this project's own code; `assets/README.md` says on what and how.

/// (name, checkpoint bytes) of every shipped base model.
pub const SHIPPED_BASES: &[(&str, &[u8])] = &[];
