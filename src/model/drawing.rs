//! Renders that take many network passes. A GAN draws a batch of shots in one pass; an
//! autoregressive model needs one pass per pixel, hundreds in all. Whoever owns the device
//! (the studio's worker, a training run's preview) advances a [`Drawing`] a few passes at a
//! time, so it can answer a click, a Stop or a Cancel between two passes.

use burn::tensor::Tensor;

/// Images being drawn, a few network passes at a time.
pub trait Drawing: Send {
    /// Runs at most `passes` more network passes (at least one when any is left); returns
    /// whether the images are complete.
    fn advance(&mut self, passes: usize) -> bool;
    /// Passes done, and passes in all.
    fn progress(&self) -> (usize, usize);
    /// The images `[B, C, H, W]` in `[-1, 1]`, as far as drawn.
    fn images(&self) -> Tensor<4>;
}

/// Images drawn in the one pass that made them (a GAN's render).
pub struct Drawn(pub Tensor<4>);

impl Drawing for Drawn {
    fn advance(&mut self, _passes: usize) -> bool {
        true
    }

    fn progress(&self) -> (usize, usize) {
        (1, 1)
    }

    fn images(&self) -> Tensor<4> {
        self.0.clone()
    }
}
