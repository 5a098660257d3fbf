//! Self-attention over a feature map's positions (SAGAN, Zhang et al. 2019).

use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};

/// Self-attention over a map's positions (SAGAN, Zhang et al. 2019): every position mixes in
/// the features of the positions most like it, so far-apart parts of one picture (two
/// sleeves, two trouser legs) can agree, which 3×3 convolutions at a coarse side see only
/// through many layers. The block starts as the identity: its gain is learnt from 0.
#[derive(Module, Debug)]
pub struct SelfAttention {
    query: Conv2d,
    key: Conv2d,
    value: Conv2d,
    out: Conv2d,
    gain: Param<Tensor<1>>,
}

impl SelfAttention {
    /// Queries and keys of `channels / 8` (at least 1), values of `channels / 2`.
    #[must_use]
    pub fn new(channels: usize, device: &Device) -> Self {
        let (qk, v) = ((channels / 8).max(1), (channels / 2).max(1));
        let conv1x1 = |from: usize, to: usize| {
            Conv2dConfig::new([from, to], [1, 1])
                .with_bias(false)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: 0.02,
                })
                .init(device)
        };
        Self {
            query: conv1x1(channels, qk),
            key: conv1x1(channels, qk),
            value: conv1x1(channels, v),
            out: conv1x1(v, channels),
            gain: Param::from_tensor(Tensor::zeros([1], device)),
        }
    }

    #[must_use]
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [batch, _, h, w] = x.dims();
        let n = h * w;
        let flat = |t: Tensor<4>| {
            let c = t.dims()[1];
            t.reshape([batch, c, n])
        };
        let query = flat(self.query.forward(x.clone())).swap_dims(1, 2);
        let key = flat(self.key.forward(x.clone()));
        // attention[b, i, j]: how much position i reads from position j.
        let attention = softmax(query.matmul(key), 2);
        let value = flat(self.value.forward(x.clone()));
        let mixed = value.matmul(attention.swap_dims(1, 2));
        let v = mixed.dims()[1];
        let out = self.out.forward(mixed.reshape([batch, v, h, w]));
        x + out * self.gain.val().reshape([1, 1, 1, 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn attention_starts_as_the_identity_and_mixes_far_positions_once_it_has_gain() {
        let device = Device::flex();
        let mut attention = SelfAttention::new(16, &device);
        let x = Tensor::<4>::random([2, 16, 8, 8], Distribution::Normal(0.0, 1.0), &device);
        let start = attention.forward(x.clone());
        let diff = (start - x.clone()).abs().max().into_scalar::<f32>();
        assert!(diff == 0.0, "{diff}");
        attention.gain = Param::from_tensor(Tensor::ones([1], &device));
        // A change at one corner moves the output at the opposite corner: no convolution
        // of this block reaches that far.
        let base = attention.forward(x.clone());
        let poked = x.clone().slice_assign(
            [0..1, 0..16, 0..1, 0..1],
            Tensor::<4>::full([1, 16, 1, 1], 5.0, &device),
        );
        let moved = attention.forward(poked);
        let far = |t: Tensor<4>| t.slice([0..1, 0..16, 7..8, 7..8]);
        let change = (far(moved) - far(base)).abs().max().into_scalar::<f32>();
        assert!(change > 1e-6, "{change}");
    }
}
