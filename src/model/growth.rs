//! Progressive growing (Karras et al. 2018, "Progressive Growing of GANs"), as a training
//! schedule on a GAN family's own networks and losses: G and D start at a small side, and
//! each doubling is faded in over a number of images, blending the new, finer output with the
//! up-sampled output of the side below (and, in D, the new input block with the pooled input
//! of the block below). A family that grows gives its networks small to-image and
//! from-image heads at each side; `ProGAN`'s WGAN-GP loss is not used (burn has no double
//! backward).

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::config::ConfigError;
use super::layers::{pool2x, upsample2x};

/// The side a growing run trains at, and how far its newest doubling has faded in: at
/// `alpha` 0 the images are the side below's, up-sampled; at 1, the new side's own.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Growth {
    pub side: usize,
    pub alpha: f32,
}

impl Growth {
    /// Whether this is a network's full side, faded in: the networks' plain pass.
    #[must_use]
    pub fn is_full(&self, resolution: usize) -> bool {
        self.side >= resolution && self.alpha >= 1.0
    }

    /// Whether the newest doubling is still fading in.
    #[must_use]
    pub fn fading(&self) -> bool {
        self.alpha < 1.0
    }

    /// `alpha · new + (1 − alpha) · old`.
    #[must_use]
    pub fn blend(&self, new: Tensor<4>, old: Tensor<4>) -> Tensor<4> {
        new.mul_scalar(self.alpha) + old.mul_scalar(1.0 - self.alpha)
    }
}

/// A growing run's schedule: from `from` px up to the model's side, `images` per side. Each
/// new side fades in over the first half of its images and trains alone for the second half
/// (`ProGAN`'s 600k + 600k, scaled to the images of small folders).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrowthSchedule {
    pub from: usize,
    pub to: usize,
    pub images: u64,
}

impl GrowthSchedule {
    /// Checks a family's `grow_from` / `grow_images` (`grow_from` 0: no growing).
    pub fn checked(
        from: usize,
        images: u64,
        resolution: usize,
        smallest: usize,
    ) -> Result<Option<Self>, ConfigError> {
        if from == 0 {
            return Ok(None);
        }
        let reachable = (0..8).any(|k| from << k == resolution);
        if from < smallest || from >= resolution || !reachable {
            return Err(ConfigError::new(
                "model.grow_from",
                format!(
                    "{from} (0 for no growing, else a side from {smallest} below {resolution} that doubles up to it)"
                ),
            ));
        }
        if images == 0 {
            return Err(ConfigError::new(
                "model.grow_images",
                "0 (images per side while growing: at least 1)".to_string(),
            ));
        }
        Ok(Some(Self {
            from,
            to: resolution,
            images,
        }))
    }

    /// Where a run is after `seen` training images.
    #[must_use]
    pub fn at(&self, seen: u64) -> Growth {
        let stage = seen / self.images;
        let into = seen % self.images;
        let doublings = u64::from((self.to / self.from).trailing_zeros());
        if stage > doublings {
            return Growth {
                side: self.to,
                alpha: 1.0,
            };
        }
        let side = self.from << stage;
        let fade = self.images / 2;
        let alpha = if stage == 0 || into >= fade || fade == 0 {
            1.0
        } else {
            into as f32 / fade as f32
        };
        Growth { side, alpha }
    }
}

/// Real images as a growing run shows them to D: pooled to `growth.side`, and while a side
/// fades in, blended with the side below's up-sampled, as G's images are.
#[must_use]
pub fn grown_images(mut images: Tensor<4>, growth: Growth) -> Tensor<4> {
    while images.dims()[2] > growth.side {
        images = pool2x(images);
    }
    if growth.fading() {
        let coarse = upsample2x(pool2x(images.clone()));
        growth.blend(images, coarse)
    } else {
        images
    }
}

/// Up-samples images to `side` (nearest): a growing generator's shots at full size.
#[must_use]
pub fn to_side(mut images: Tensor<4>, side: usize) -> Tensor<4> {
    while images.dims()[2] < side {
        images = upsample2x(images);
    }
    images
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_doubles_fades_in_over_half_a_stage_and_stays_full() {
        let s = GrowthSchedule::checked(8, 100, 32, 4).unwrap().unwrap();
        let at = |seen| {
            let g = s.at(seen);
            (g.side, g.alpha)
        };
        assert_eq!(at(0), (8, 1.0));
        assert_eq!(at(99), (8, 1.0));
        assert_eq!(at(100), (16, 0.0));
        assert_eq!(at(125), (16, 0.5));
        assert_eq!(at(150), (16, 1.0));
        assert_eq!(at(225), (32, 0.5));
        assert_eq!(at(300), (32, 1.0));
        assert_eq!(at(1_000_000), (32, 1.0));
        assert!(s.at(1_000_000).is_full(32));
        assert!(GrowthSchedule::checked(0, 0, 32, 4).unwrap().is_none());
        for (from, images) in [(12, 10), (32, 10), (2, 10), (8, 0)] {
            let e = GrowthSchedule::checked(from, images, 32, 4).unwrap_err();
            assert!(e.to_string().contains("model.grow_"), "{e}");
        }
    }

    /// For both families: at α 0 a new side is exactly the side below, up-sampled (G) or
    /// pooled (D); grown, the networks' plain pass.
    #[test]
    fn a_fade_in_starts_from_the_side_below_and_ends_at_the_networks_plain_pass() {
        use crate::model::dcgan::{DcganConfig, DcganDiscriminator, DcganGenerator};
        use crate::model::fastgan::{FastganConfig, FastganDiscriminator, FastganGenerator};
        use crate::model::gan::{GanDiscriminator, GanGenerator};
        use burn::tensor::{Device, Distribution};

        fn check<G: GanGenerator, D: GanDiscriminator>(g: &G, d: &D, side: usize, full: usize) {
            let (latent, channels) = (8, if full == 64 { 3 } else { 1 });
            let device = Device::flex();
            let values = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
            let logits = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap();
            let z = Tensor::<2>::random([2, latent], Distribution::Normal(0.0, 1.0), &device);
            let at = |side, alpha| Growth { side, alpha };
            let below = g.forward_grown(z.clone(), None, at(side / 2, 1.0));
            let fading = g.forward_grown(z.clone(), None, at(side, 0.0));
            assert_eq!(fading.dims()[2], side);
            assert_eq!(
                values(fading),
                values(upsample2x(below.clone())),
                "G at α 0"
            );
            let faded = g.forward_grown(z.clone(), None, at(side, 0.5));
            assert_ne!(values(faded), values(upsample2x(below)), "G at α 0.5");
            let grown = g.forward_grown(z.clone(), None, at(full, 1.0));
            assert_eq!(values(grown), values(g.forward(z, None)), "G grown");

            let x = Tensor::<4>::random(
                [2, channels, side, side],
                Distribution::Uniform(-1.0, 1.0),
                &device,
            );
            let pass = crate::model::CriticPass::Score;
            let fading = d.critic_grown(x.clone(), None, pass, at(side, 0.0)).logits;
            let below = d
                .critic_grown(pool2x(x), None, pass, at(side / 2, 1.0))
                .logits;
            assert_eq!(logits(fading), logits(below), "D at α 0");
        }

        let device = Device::flex();
        let dcgan = DcganConfig {
            g_width: 8,
            d_width: 8,
            latent_dim: 8,
            grow_from: 7,
            ..DcganConfig::default()
        };
        let (g, d) = (
            DcganGenerator::new(&dcgan, &device),
            DcganDiscriminator::new(&dcgan, &device),
        );
        check(&g, &d, 14, 28);
        check(&g, &d, 28, 28);
        let fastgan = FastganConfig {
            g_width: 4,
            d_width: 4,
            latent_dim: 8,
            grow_from: 16,
            ..FastganConfig::default()
        };
        let (g, d) = (
            FastganGenerator::new(&fastgan, &device),
            FastganDiscriminator::new(&fastgan, &device),
        );
        check(&g, &d, 32, 64);
        check(&g, &d, 64, 64);
    }
}
