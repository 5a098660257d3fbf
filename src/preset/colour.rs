//! Which shipped recipe suits a folder of colour photos on this machine, and why in words.

use super::Preset;

impl Preset {
    /// The shipped colour recipe for a folder whose images show colour, when this recipe
    /// trains grey (it would keep only their luma); `None` otherwise. It fits the photos and
    /// the hardware: photos under 48 px get 32 px shots rather than upscaled ones; otherwise
    /// the measured-best 64 px recipe on a CPU, FastGAN at 128 px on a GPU when the photos are
    /// that large.
    #[must_use]
    pub fn colour_recipe_for(
        &self,
        folder_is_colour: bool,
        median_side: u32,
        hardware: Hardware,
    ) -> Option<ColourRecipe> {
        if !folder_is_colour || self.model.channels() != 1 {
            return None;
        }
        Some(if median_side < 48 {
            ColourRecipe {
                name: "dcgan-32-rgb",
                why: format!(
                    "the photos are small (median side {median_side} px), so 32 px shots rather than upscaled ones"
                ),
            }
        } else if hardware == Hardware::Gpu && median_side >= 128 {
            ColourRecipe {
                name: "fastgan-128-rgb",
                why: "training runs on a GPU, which trains 128 px FastGAN shots in good time"
                    .into(),
            }
        } else {
            ColourRecipe {
                name: COLOUR_RECIPE,
                why: match hardware {
                    Hardware::Cpu => "training runs on the CPU, where in equal time (25 minutes) it came closer to unseen photos than the SN DCGAN".into(),
                    Hardware::Gpu => format!(
                        "the photos are {median_side} px (median side), too small for 128 px shots"
                    ),
                },
            }
        })
    }
}

/// Where training computes, as far as choosing a recipe goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hardware {
    /// burn's CPU backend (also the default where the only adapter is software Vulkan).
    Cpu,
    /// A real GPU through wgpu.
    Gpu,
}

/// A shipped recipe chosen for a folder, and why, in words for the designer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColourRecipe {
    pub name: &'static str,
    pub why: String,
}

/// The shipped recipe for colour product photos on a CPU. FastGAN (with the mode-seeking
/// term), not the SN DCGAN: on clothing-small, 25 minutes on one core each, two seeds, it
/// scored better held-out feature FD, density and coverage (docs/quality-experiments.md).
pub const COLOUR_RECIPE: &str = "fastgan-64-rgb";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_folders_get_a_colour_recipe_that_fits_the_photos_and_the_hardware() {
        let grey = Preset::load("dcgan-28").unwrap();
        let name = |colour, side, hardware| {
            grey.colour_recipe_for(colour, side, hardware)
                .map(|r| r.name)
        };
        assert_eq!(name(true, 400, Hardware::Cpu), Some(COLOUR_RECIPE));
        assert_eq!(name(true, 400, Hardware::Gpu), Some("fastgan-128-rgb"));
        assert_eq!(name(true, 100, Hardware::Gpu), Some(COLOUR_RECIPE));
        assert_eq!(name(true, 32, Hardware::Gpu), Some("dcgan-32-rgb"));
        assert_eq!(name(false, 400, Hardware::Cpu), None);
        let why = grey
            .colour_recipe_for(true, 400, Hardware::Cpu)
            .unwrap()
            .why;
        assert!(why.contains("CPU"), "{why}");
        let colour = Preset::load(COLOUR_RECIPE).unwrap();
        assert_eq!(colour.model.channels(), 3);
        assert_eq!(colour.colour_recipe_for(true, 400, Hardware::Cpu), None);
        assert_eq!(
            Preset::load("fastgan-128-rgb").unwrap().model.resolution(),
            128
        );
        assert_eq!(Preset::load("dcgan-32-rgb").unwrap().model.channels(), 3);
    }
}
