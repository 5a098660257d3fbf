//! Building blocks several families share: spectrally normalised convolutions, nearest
//! up-sampling, 2× average pooling, the gated linear unit and skip-layer excitation.

mod blocks;
mod spectral;

pub use blocks::{SkipExcitation, glu, pool2x, swish, upsample2x};
pub use spectral::SpectralConv2d;
