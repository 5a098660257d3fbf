//! The `[model]` table: one config type per family, tagged by `kind`, and the list of families.
//!
//! Each family's config validates itself, naming the field at fault. Older recipes (runs,
//! projects and checkpoints written before the families split) held every family's fields in
//! one flat table; [`ModelConfig`]'s reader drops another family's field when it still holds
//! the old default, which is all an old file can carry, and refuses it otherwise.

use burn::module::Module as _;
use burn::tensor::Device;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;

use super::gan::{Critic, GanCritic, GanFamily, GanRenderer, RENDER_RECORDS, Render};
use super::likelihood::{Likelihood, LikelihoodFamily, LikelihoodRenderer};
use super::records::{RecordError, module_from_bytes};
use super::{dcgan, fastgan, mlp, pixelcnn};

/// A `[model]` field out of range, named as in the recipe file (`model.resolution`).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("preset field `{field}`: {message}")]
pub struct ConfigError {
    pub field: &'static str,
    pub message: String,
}

impl ConfigError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Stages that fine-tuning can freeze (input side first); zero where a family has none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Freezable {
    pub generator_stages: usize,
    pub discriminator_blocks: usize,
}

/// What every family's config tells the rest of Atelier (object-safe: reached through
/// [`ModelConfig::family`]).
pub trait FamilyConfig: std::fmt::Debug + Send + Sync {
    /// The `kind` that selects this family in a recipe.
    fn kind(&self) -> &'static str;
    /// Square image side in pixels.
    fn resolution(&self) -> usize;
    /// 1 = grey, 3 = RGB.
    fn channels(&self) -> usize;
    /// Length of the latent vector a shot is rendered from.
    fn latent_dim(&self) -> usize;
    /// Class-conditional: labels come from the data's sub-folders.
    fn conditional(&self) -> bool {
        false
    }
    /// The class names a conditional model was trained on, in label order.
    fn classes(&self) -> &[String] {
        &[]
    }
    /// Fills in the class list from the data when a conditional run starts.
    fn set_classes(&mut self, classes: Vec<String>);
    /// Whether the family has a class-conditional form.
    fn can_condition(&self) -> bool {
        false
    }
    /// Turns class conditioning on or off (refused by name where the family has none).
    fn set_conditional(&mut self, on: bool) -> Result<(), ConfigError> {
        if on {
            return Err(ConfigError::new(
                "model.conditional",
                format!("the {} family has no class-conditional form", self.kind()),
            ));
        }
        Ok(())
    }
    /// Checks ranges that serde cannot express.
    fn validate(&self) -> Result<(), ConfigError>;
    /// What fine-tuning may freeze.
    fn freezable(&self) -> Freezable {
        Freezable::default()
    }
    /// Dropout after each discriminator block, where the family has it.
    fn d_dropout(&self) -> Option<f64> {
        None
    }
    /// Sets D dropout (refused by name where the family has none).
    fn set_d_dropout(&mut self, p: f64) -> Result<(), ConfigError> {
        if p > 0.0 {
            return Err(ConfigError::new(
                "model.d_dropout",
                format!("the {} family has no D dropout", self.kind()),
            ));
        }
        Ok(())
    }
    /// One line for designers: what the networks are.
    fn architecture(&self) -> &'static str;
    /// Whether latent sliders, morphs and projection apply; `Err` says why not, in one line
    /// the studio shows where they would be.
    fn latent_tools(&self) -> Result<(), &'static str> {
        Ok(())
    }
    /// Whether the model gives each image an exact likelihood (autoregressive families).
    fn has_likelihood(&self) -> bool {
        false
    }
    /// The progressive-growing schedule of a GAN that grows (`None`: it trains at its full
    /// side from the start).
    fn growth(&self) -> Option<super::growth::GrowthSchedule> {
        None
    }
    /// Network passes to draw one shot: 1 for a GAN, one per pixel for an autoregressive
    /// model (evaluations then sample fewer shots).
    fn sampling_passes(&self) -> usize {
        1
    }
    /// The records that render shots, in order of preference.
    fn render_records(&self) -> &'static [&'static str] {
        RENDER_RECORDS
    }
    /// The records a base model keeps to be fine-tuned from.
    fn base_records(&self) -> &'static [&'static str] {
        &["ema", "g", "d"]
    }
}

/// Generic behaviour over the families (building trainers, renderers…): [`ModelConfig::visit`]
/// calls the method of the config's family with its concrete types.
pub trait FamilyVisitor {
    type Output;
    fn gan<F: GanFamily>(self, config: &F::Config) -> Self::Output;
    fn likelihood<F: LikelihoodFamily>(self, config: &F::Config) -> Self::Output;
}

/// Declares the families: the enum of their configs, its dispatch and its reader. Adding a
/// family is one line in the invocation below.
macro_rules! families {
    ($( $variant:ident => $family:ty : $seam:ident / $method:ident, $kind:literal; )*) => {
        /// The `[model]` table: one family's config, tagged by `kind`.
        #[derive(Clone, Debug, PartialEq, Serialize)]
        #[serde(tag = "kind")]
        pub enum ModelConfig {
            $(
                #[serde(rename = $kind)]
                $variant(<$family as $seam>::Config),
            )*
        }

        impl ModelConfig {
            /// Every family's `kind`, as recipes spell it.
            pub const KINDS: &'static [&'static str] = &[$($kind),*];

            /// The family's config behind the common interface.
            #[must_use]
            pub fn family(&self) -> &dyn FamilyConfig {
                match self {
                    $(Self::$variant(c) => c,)*
                }
            }

            /// Mutable access to the common interface.
            pub fn family_mut(&mut self) -> &mut dyn FamilyConfig {
                match self {
                    $(Self::$variant(c) => c,)*
                }
            }

            /// Runs `visitor` with this config's family types.
            pub fn visit<V: FamilyVisitor>(&self, visitor: V) -> V::Output {
                match self {
                    $(Self::$variant(c) => visitor.$method::<$family>(c),)*
                }
            }

            fn from_kind(kind: &str, table: toml::Table) -> Result<Self, String> {
                match kind {
                    $($kind => parse::<<$family as $seam>::Config>(table).map(Self::$variant),)*
                    other => Err(format!(
                        "unknown model kind '{other}' (use one of: {})",
                        Self::KINDS.join(", ")
                    )),
                }
            }
        }
    };
}

families! {
    SeedMlp => mlp::SeedMlp: GanFamily / gan, "seed-mlp";
    Dcgan => dcgan::Dcgan: GanFamily / gan, "dcgan";
    Fastgan => fastgan::Fastgan: GanFamily / gan, "fastgan";
    Pixelcnn => pixelcnn::PixelCnn: LikelihoodFamily / likelihood, "pixelcnn";
}

fn parse<C: DeserializeOwned>(table: toml::Table) -> Result<C, String> {
    C::deserialize(toml::Value::Table(table)).map_err(|e| e.to_string().trim().to_string())
}

/// The families whose recipes were written as one flat table of every field.
const LEGACY_KINDS: &[&str] = &["seed-mlp", "dcgan"];

/// Fields of the flat table every recipe had before the families split, with the default an
/// old file holds when the field was not its family's.
const LEGACY_FIELDS: &[(&str, LegacyDefault)] = &[
    ("g_width", LegacyDefault::Int(128)),
    ("d_width", LegacyDefault::Int(64)),
    ("hidden", LegacyDefault::Int(256)),
    ("spectral_norm", LegacyDefault::Bool(false)),
    ("d_dropout", LegacyDefault::Float(0.0)),
    ("conditional", LegacyDefault::Bool(false)),
    ("classes", LegacyDefault::EmptyList),
];

#[derive(Clone, Copy)]
enum LegacyDefault {
    Int(i64),
    Float(f64),
    Bool(bool),
    EmptyList,
}

impl LegacyDefault {
    fn matches(self, value: &toml::Value) -> bool {
        match (self, value) {
            (Self::Int(d), toml::Value::Integer(v)) => *v == d,
            (Self::Float(d), toml::Value::Float(v)) => v.total_cmp(&d).is_eq(),
            (Self::Float(d), toml::Value::Integer(v)) => (*v as f64).total_cmp(&d).is_eq(),
            (Self::Bool(d), toml::Value::Boolean(v)) => *v == d,
            (Self::EmptyList, toml::Value::Array(v)) => v.is_empty(),
            _ => false,
        }
    }
}

/// Removes another family's fields that an old flat table carried at their defaults.
fn drop_legacy_fields(table: &mut toml::Table, known: &[&str]) -> Result<(), String> {
    for (field, default) in LEGACY_FIELDS {
        if known.contains(field) {
            continue;
        }
        if let Some(value) = table.get(*field) {
            if !default.matches(value) {
                return Err(format!(
                    "model.kind: this kind has no field `{field}` (its value {value} would be ignored; remove the line or change the kind)"
                ));
            }
            table.remove(*field);
        }
    }
    Ok(())
}

impl ModelConfig {
    /// Reads a `[model]` table; a missing `kind` means `dcgan`, as in every recipe before
    /// the families split.
    pub fn from_table(mut table: toml::Table) -> Result<Self, String> {
        let kind = match table.remove("kind") {
            None => "dcgan".to_string(),
            Some(toml::Value::String(kind)) => kind,
            Some(other) => return Err(format!("`kind` must be a string, not {other}")),
        };
        // Only the families that existed before the split can meet an old flat table.
        if LEGACY_KINDS.contains(&kind.as_str()) {
            let defaults = Self::from_kind(&kind, toml::Table::new())?;
            drop_legacy_fields(&mut table, &own_fields(&defaults))?;
        }
        Self::from_kind(&kind, table)
    }

    /// Reads a `[model]` value of any serde format (TOML recipes, JSON projects).
    pub fn deserialize_value(value: toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::Table(table) => Self::from_table(table),
            other => Err(format!("[model] must be a table, not {other}")),
        }
    }

    /// The family's `kind`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        self.family().kind()
    }

    #[must_use]
    pub fn resolution(&self) -> usize {
        self.family().resolution()
    }

    #[must_use]
    pub fn channels(&self) -> usize {
        self.family().channels()
    }

    #[must_use]
    pub fn latent_dim(&self) -> usize {
        self.family().latent_dim()
    }

    #[must_use]
    pub fn conditional(&self) -> bool {
        self.family().conditional()
    }

    #[must_use]
    pub fn classes(&self) -> &[String] {
        self.family().classes()
    }

    /// Classes the networks condition on: 0 for an unconditional model.
    #[must_use]
    pub fn class_count(&self) -> usize {
        if self.conditional() {
            self.classes().len()
        } else {
            0
        }
    }

    pub fn set_classes(&mut self, classes: Vec<String>) {
        self.family_mut().set_classes(classes);
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let f = self.family();
        if !(f.channels() == 1 || f.channels() == 3) {
            return Err(ConfigError::new(
                "model.channels",
                format!("{} (use 1 for grey, 3 for RGB)", f.channels()),
            ));
        }
        if !(8..=1024).contains(&f.resolution()) {
            return Err(ConfigError::new(
                "model.resolution",
                format!("{} (8 to 1024)", f.resolution()),
            ));
        }
        if !(1..=4096).contains(&f.latent_dim()) {
            return Err(ConfigError::new(
                "model.latent_dim",
                format!("{} (1 to 4096)", f.latent_dim()),
            ));
        }
        if !f.conditional() && !f.classes().is_empty() {
            return Err(ConfigError::new(
                "model.classes",
                "set only for conditional models (filled in from the data)",
            ));
        }
        f.validate()
    }

    /// In words, for messages: "28 px grey", "64 px RGB".
    #[must_use]
    pub fn describe_size(&self) -> String {
        let colour = if self.channels() == 1 { "grey" } else { "RGB" };
        format!("{} px {colour}", self.resolution())
    }

    /// The records that render shots, in order of preference (the EMA generator, else the
    /// trained one).
    #[must_use]
    pub fn render_records(&self) -> &'static [&'static str] {
        self.family().render_records()
    }

    /// The records a base model keeps to be fine-tuned from: the rendering generator and D.
    #[must_use]
    pub fn base_records(&self) -> &'static [&'static str] {
        self.family().base_records()
    }

    /// A renderer for a generator record (burnpack bytes) of this architecture on `device`.
    pub fn renderer(&self, record: &[u8], device: &Device) -> Result<Box<dyn Render>, RecordError> {
        self.build_renderer(record, device, false)
    }

    /// A renderer that gradients flow through to its inputs: on an autodiff `device`, with its
    /// weights frozen and every layer in inference mode (BatchNorm on its running statistics).
    /// For tools that optimise a latent against a picture (projection).
    pub fn frozen_renderer(
        &self,
        record: &[u8],
        device: &Device,
    ) -> Result<Box<dyn Render>, RecordError> {
        self.build_renderer(record, device, true)
    }

    fn build_renderer(
        &self,
        record: &[u8],
        device: &Device,
        frozen: bool,
    ) -> Result<Box<dyn Render>, RecordError> {
        struct Build<'a> {
            record: &'a [u8],
            device: &'a Device,
            frozen: bool,
        }
        impl FamilyVisitor for Build<'_> {
            type Output = Result<Box<dyn Render>, RecordError>;
            fn gan<F: GanFamily>(self, config: &F::Config) -> Self::Output {
                let g = module_from_bytes(
                    F::generator(config, self.device),
                    self.record,
                    F::LEGACY_PREFIX,
                )?;
                Ok(if self.frozen {
                    Box::new(GanRenderer::frozen(g))
                } else {
                    Box::new(GanRenderer::new(g))
                })
            }
            fn likelihood<F: LikelihoodFamily>(self, config: &F::Config) -> Self::Output {
                let net = module_from_bytes(F::network(config, self.device), self.record, None)?;
                // Sampling takes no gradient: frozen or not, it renders the same.
                Ok(Box::new(LikelihoodRenderer::new(net)))
            }
        }
        self.visit(Build {
            record,
            device,
            frozen,
        })
    }

    /// A likelihood family's network from its record, on `device`, to score images; an
    /// error names the family where it has no likelihood (GANs).
    pub fn likelihood(
        &self,
        record: &[u8],
        device: &Device,
    ) -> Result<Box<dyn Likelihood>, RecordError> {
        struct Build<'a> {
            record: &'a [u8],
            device: &'a Device,
        }
        impl FamilyVisitor for Build<'_> {
            type Output = Result<Box<dyn Likelihood>, RecordError>;
            fn gan<F: GanFamily>(self, config: &F::Config) -> Self::Output {
                Err(RecordError(format!(
                    "the {} family is a GAN: it has no likelihood to score images with",
                    config.kind()
                )))
            }
            fn likelihood<F: LikelihoodFamily>(self, config: &F::Config) -> Self::Output {
                let net = module_from_bytes(F::network(config, self.device), self.record, None)?;
                Ok(Box::new(LikelihoodRenderer::new(net)))
            }
        }
        self.visit(Build { record, device })
    }

    /// A critic (a GAN's discriminator) from its record, on `device`. `frozen`: weights that
    /// take no gradient and layers in inference mode, for feature losses.
    pub fn critic(
        &self,
        record: &[u8],
        device: &Device,
        frozen: bool,
    ) -> Result<Box<dyn Critic>, RecordError> {
        struct Build<'a> {
            record: &'a [u8],
            device: &'a Device,
            frozen: bool,
        }
        impl FamilyVisitor for Build<'_> {
            type Output = Result<Box<dyn Critic>, RecordError>;
            fn gan<F: GanFamily>(self, config: &F::Config) -> Self::Output {
                let d = module_from_bytes(
                    F::discriminator(config, self.device),
                    self.record,
                    F::LEGACY_PREFIX,
                )?;
                let d = if self.frozen { d.freeze() } else { d };
                Ok(Box::new(GanCritic(d)))
            }
            fn likelihood<F: LikelihoodFamily>(self, config: &F::Config) -> Self::Output {
                Err(RecordError(format!(
                    "the {} family has no discriminator",
                    config.kind()
                )))
            }
        }
        self.visit(Build {
            record,
            device,
            frozen,
        })
    }
}

/// The names of a family config's own fields (serialised keys, `kind` left out).
fn own_fields(config: &ModelConfig) -> Vec<&'static str> {
    let Ok(toml::Value::Table(table)) = toml::Value::try_from(config) else {
        return Vec::new();
    };
    LEGACY_FIELDS
        .iter()
        .map(|(f, _)| *f)
        .filter(|f| table.contains_key(*f))
        .collect()
}

impl<'de> Deserialize<'de> for ModelConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = toml::Value::deserialize(deserializer)?;
        Self::deserialize_value(value).map_err(D::Error::custom)
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self::Dcgan(dcgan::DcganConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn a_missing_kind_is_dcgan_and_another_familys_default_fields_are_dropped() {
        let old_dcgan = table(
            "kind = \"dcgan\"\nresolution = 64\nchannels = 3\nlatent_dim = 100\ng_width = 32\nd_width = 32\nhidden = 256\nspectral_norm = true\nd_dropout = 0.0\nconditional = false\nclasses = []\n",
        );
        let c = ModelConfig::from_table(old_dcgan).unwrap();
        assert_eq!(c.kind(), "dcgan");
        assert_eq!(c.resolution(), 64);
        let old_mlp = table(
            "kind = \"seed-mlp\"\nresolution = 28\nchannels = 1\nlatent_dim = 100\ng_width = 128\nd_width = 64\nhidden = 256\nspectral_norm = false\nd_dropout = 0.0\nconditional = false\nclasses = []\n",
        );
        assert_eq!(ModelConfig::from_table(old_mlp).unwrap().kind(), "seed-mlp");
        let no_kind = ModelConfig::from_table(table("resolution = 32\nchannels = 3\n")).unwrap();
        assert_eq!(no_kind.kind(), "dcgan");
    }

    #[test]
    fn a_foreign_field_with_a_real_value_is_refused_by_name() {
        let err =
            ModelConfig::from_table(table("kind = \"seed-mlp\"\ng_width = 32\n")).unwrap_err();
        assert!(err.contains("g_width"), "{err}");
        let err = ModelConfig::from_table(table("kind = \"dcgan\"\nwidth = 3\n")).unwrap_err();
        assert!(err.contains("width"), "{err}");
        let err = ModelConfig::from_table(table("kind = \"vae\"\n")).unwrap_err();
        assert!(err.contains("unknown model kind 'vae'"), "{err}");
    }

    #[test]
    fn the_kind_tag_round_trips_through_toml_and_json() {
        for config in [
            ModelConfig::default(),
            ModelConfig::SeedMlp(mlp::MlpConfig::default()),
            ModelConfig::Fastgan(fastgan::FastganConfig::default()),
        ] {
            let text = toml::to_string(&config).unwrap();
            assert!(
                text.starts_with(&format!("kind = \"{}\"", config.kind())),
                "{text}"
            );
            assert_eq!(toml::from_str::<ModelConfig>(&text).unwrap(), config);
            let json = serde_json::to_string(&config).unwrap();
            assert_eq!(serde_json::from_str::<ModelConfig>(&json).unwrap(), config);
        }
    }
}
