//! Spectral normalisation (Miyato et al. 2018): a convolution whose weight is divided by its
//! largest singular value, estimated by one power-iteration step per training pass. It keeps D
//! 1-Lipschitz-ish without gradient penalties (burn has no double backward).

use burn::module::{Module, Param, RunningState};
use burn::nn::Initializer;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor};

const EPS: f32 = 1e-12;

fn unit<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    let norm = t.clone().powf_scalar(2.0).sum().sqrt().add_scalar(EPS);
    let dims = [1; D];
    t / norm.reshape(dims)
}

#[derive(Module, Debug)]
pub struct SpectralConv2d {
    weight: Param<Tensor<4>>,
    bias: Param<Tensor<1>>,
    /// Left singular vector estimate, carried between passes (a buffer, not trained).
    u: RunningState<Tensor<1>>,
    stride: usize,
    padding: usize,
}

impl SpectralConv2d {
    #[must_use]
    pub fn new(
        channels: [usize; 2],
        kernel: usize,
        stride: usize,
        padding: usize,
        device: &Device,
    ) -> Self {
        let [c_in, c_out] = channels;
        let fan_in = c_in * kernel * kernel;
        let weight = Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        }
        .init_with(
            [c_out, c_in, kernel, kernel],
            Some(fan_in),
            Some(c_out * kernel * kernel),
            device,
        );
        let bias = Initializer::Zeros.init([c_out], device);
        let u = unit(Tensor::<1>::random(
            [c_out],
            Distribution::Normal(0.0, 1.0),
            device,
        ));
        Self {
            weight,
            bias,
            u: RunningState::new(u),
            stride,
            padding,
        }
    }

    /// The weight's largest singular value as estimated now (differentiable in the weight).
    fn sigma(&self, update: bool) -> Tensor<1> {
        let w = self.weight.val();
        let [o, i, kh, kw] = w.dims();
        let w_mat: Tensor<2> = w.reshape([o, i * kh * kw]);
        let w_fixed = w_mat.clone().detach();
        let u0 = self
            .u
            .value_sync()
            .to_device(&w_mat.device())
            .detach()
            .reshape([o, 1]);
        let v = unit(w_fixed.clone().transpose().matmul(u0));
        let u1 = unit(w_fixed.matmul(v.clone()));
        if update {
            self.u.update(u1.clone().reshape([o]).without_autodiff());
        }
        u1.transpose().matmul(w_mat.matmul(v)).reshape([1])
    }

    #[must_use]
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let training = x.device().is_autodiff();
        let sigma = self.sigma(training).reshape([1, 1, 1, 1]);
        let weight = self.weight.val() / sigma;
        let (s, p) = (self.stride, self.padding);
        conv2d(
            x,
            weight,
            Some(self.bias.val()),
            ConvOptions::new([s, s], [p, p], [1, 1], 1),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_iteration_converges_to_the_largest_singular_value_and_output_is_normalised() {
        let device = Device::flex().autodiff();
        let conv = SpectralConv2d::new([3, 8], 3, 1, 1, &device);
        let mut sigma = 0.0;
        // Power iteration converges as (σ₂/σ₁)^k; the weights are random (the backend's RNG
        // is shared by parallel tests), so give it enough steps for any close gap.
        for _ in 0..400 {
            sigma = conv.sigma(true).into_scalar::<f32>();
        }
        // The true largest singular value of W, by a long power iteration on the CPU.
        let w = conv
            .weight
            .val()
            .without_autodiff()
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap();
        let (o, n) = (8, 27);
        let mut v = vec![1.0f32; n];
        let mut s = 0.0f32;
        for _ in 0..2000 {
            let u: Vec<f32> = (0..o)
                .map(|r| (0..n).map(|c| w[r * n + c] * v[c]).sum())
                .collect();
            let nu = u.iter().map(|x| x * x).sum::<f32>().sqrt();
            let vv: Vec<f32> = (0..n)
                .map(|c| (0..o).map(|r| w[r * n + c] * u[r] / nu).sum())
                .collect();
            s = vv.iter().map(|x| x * x).sum::<f32>().sqrt();
            v = vv.iter().map(|x| x / s).collect();
        }
        assert!((sigma - s).abs() / s < 1e-3, "estimate {sigma} vs true {s}");
        let x = Tensor::<4>::random([2, 3, 6, 6], Distribution::Normal(0.0, 1.0), &device);
        assert_eq!(conv.forward(x).dims(), [2, 8, 6, 6]);
    }
}
