//! `cargo bench --bench ops`: forward + backward time of the building blocks the model
//! families are made of, at the shapes `fastgan-64-rgb` and `dcgan-64-rgb-sn` use, on burn's
//! CPU backend. Alternatives are timed side by side (nearest up-sampling as expand + reshape
//! against burn's interpolate; 2× pooling as reshape + means against `avg_pool2d`), so model
//! code can pick the faster one. Figures are printed, never asserted.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

use atelier::model::layers::{glu, leaky_relu, pool2x, upsample2x};
use atelier::model::{
    CriticPass, FamilyConfig, FamilyVisitor, GanDiscriminator, GanFamily, GanGenerator,
    LikelihoodFamily, LikelihoodNet,
};
use burn::module::Module;
use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
use burn::nn::{BatchNormConfig, PaddingConfig2d};
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use burn::tensor::{Device, Distribution, Tensor};

const ROUNDS: usize = 20;

/// Median milliseconds of `f` (forward, sum, backward) over `ROUNDS` runs after one warm-up.
fn time(name: &str, mut f: impl FnMut()) {
    f();
    let mut ms: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    println!("{name:<58} {:>8.3} ms", ms[ROUNDS / 2]);
}

fn input(device: &Device, shape: [usize; 4]) -> Tensor<4> {
    Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), device).require_grad()
}

/// A batch of images of `config`'s size, taking gradients.
fn images(device: &Device, batch: usize, config: &dyn FamilyConfig) -> Tensor<4> {
    let side = config.resolution();
    input(device, [batch, config.channels(), side, side])
}

fn main() {
    let device = Device::flex().autodiff();
    let batch = 32;
    println!("burn flex, batch {batch}, forward + backward, median of {ROUNDS}");
    for (c, side) in [(64, 16), (32, 32), (16, 64)] {
        let x = input(&device, [batch, c, side, side]);
        time(&format!("upsample2x expand+reshape {c}×{side}²"), || {
            let y = x
                .clone()
                .reshape([batch, c, side, 1, side, 1])
                .expand([batch, c, side, 2, side, 2])
                .reshape([batch, c, 2 * side, 2 * side]);
            let _ = y.sum().backward();
        });
        time(
            &format!("upsample2x (interpolate nearest) {c}×{side}²"),
            || {
                let _ = upsample2x(x.clone()).sum().backward();
            },
        );
        time(&format!("pool2x reshape+mean {c}×{side}²"), || {
            let _ = pool2x(x.clone()).sum().backward();
        });
        time(&format!("pool2x avg_pool2d {c}×{side}²"), || {
            let _ = avg_pool2d(x.clone(), AvgPoolOptions::new([2, 2]))
                .sum()
                .backward();
        });
        time(&format!("leaky_relu burn {c}×{side}²"), || {
            let _ = burn::tensor::activation::leaky_relu(x.clone(), 0.2)
                .sum()
                .backward();
        });
        time(
            &format!("leaky_relu x·scale (layers) {c}×{side}²"),
            || {
                let _ = leaky_relu(x.clone(), 0.2).sum().backward();
            },
        );
        time(&format!("glu {c}×{side}²"), || {
            let _ = glu(x.clone()).sum().backward();
        });
        let bn = BatchNormConfig::new(c).init(&device);
        time(&format!("batchnorm {c}×{side}²"), || {
            let _ = bn.forward(x.clone()).sum().backward();
        });
        let conv = Conv2dConfig::new([c, c], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(&device);
        time(&format!("conv3x3 {c}→{c} at {side}²"), || {
            let _ = conv.forward(x.clone()).sum().backward();
        });
        let down = Conv2dConfig::new([c, 2 * c], [4, 4])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(&device);
        time(&format!("conv4x4/2 {c}→{} from {side}²", 2 * c), || {
            let _ = down.forward(x.clone()).sum().backward();
        });
        let up = ConvTranspose2dConfig::new([c, c / 2], [4, 4])
            .with_stride([2, 2])
            .with_padding([1, 1])
            .init(&device);
        time(
            &format!("convT4x4×2 {c}→{} from {side}²", c / 2),
            || {
                let _ = up.forward(x.clone()).sum().backward();
            },
        );
        let _ = conv.num_params();
    }
    networks(&device, batch);
}

/// Whole networks of the 64 px colour presets: G forward + backward, D forward + backward.
fn networks(device: &Device, batch: usize) {
    struct Time<'a>(&'a Device, usize, &'static str);
    impl FamilyVisitor for Time<'_> {
        type Output = ();
        fn gan<F: GanFamily>(self, config: &F::Config) {
            let Time(device, batch, name) = self;
            let g = F::generator(config, device);
            let d = F::discriminator(config, device);
            let z = Tensor::<2>::random(
                [batch, config.latent_dim()],
                Distribution::Normal(0.0, 1.0),
                device,
            );
            time(&format!("{name}: G forward + backward"), || {
                let _ = g.forward(z.clone(), None).sum().backward();
            });
            let x = images(device, batch, config);
            time(&format!("{name}: D forward + backward"), || {
                let _ = d.forward(x.clone(), None).sum().backward();
            });
            time(
                &format!("{name}: D reconstructing forward + backward"),
                || {
                    let out = d.critic(x.clone(), None, CriticPass::Reconstruct { crop: 1 });
                    let loss = out.logits.sum();
                    let loss = match out.reconstruction {
                        Some(r) => loss + r,
                        None => loss,
                    };
                    let _ = loss.backward();
                },
            );
        }
        fn likelihood<F: LikelihoodFamily>(self, config: &F::Config) {
            let Time(device, batch, name) = self;
            let net = F::network(config, device);
            let x = images(device, batch, config);
            let x = x.clamp(-1.0, 1.0);
            time(&format!("{name}: NLL forward + backward"), || {
                let _ = net.nll_bits(x.clone(), None).backward();
            });
        }
    }
    for name in ["dcgan-64-rgb-sn", "fastgan-64-rgb", "pixelcnn-28"] {
        let preset = atelier::preset::Preset::load(name).unwrap_or_default();
        preset.model.visit(Time(device, batch, name));
    }
}
