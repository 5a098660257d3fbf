//! Building blocks several families share: spectrally normalised convolutions, nearest
//! up-sampling, 2× average pooling, the gated linear unit, a cheaper leaky ReLU, skip-layer
//! excitation, self-attention and the projection discriminator's class term.

mod attention;
mod blocks;
mod projection;
mod spectral;

pub use attention::SelfAttention;
pub use blocks::{
    SkipExcitation, glu, leaky_relu, pool_by, pool2x, swish, upsample2x, upsample2x_conv3x3,
};
pub use projection::{Projection, project, project_logits};
pub use spectral::SpectralConv2d;
