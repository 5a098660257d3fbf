//! Accessor boilerplate for [`super::FamilyConfig`]: the fields several families' configs
//! spell out alike (serde cannot flatten into a struct that denies unknown fields).

/// The fields every family shares, spelled out in each config (serde cannot flatten into a
/// struct that denies unknown fields): accessor boilerplate for [`FamilyConfig`].
macro_rules! shared_fields {
    () => {
        fn resolution(&self) -> usize {
            self.resolution
        }
        fn channels(&self) -> usize {
            self.channels
        }
        fn latent_dim(&self) -> usize {
            self.latent_dim
        }
    };
}
pub(super) use shared_fields;

/// The class-conditioning fields (`conditional`, `classes`) of a family that has a
/// class-conditional form: accessor boilerplate for [`FamilyConfig`].
macro_rules! conditional_fields {
    () => {
        fn conditional(&self) -> bool {
            self.conditional
        }
        fn classes(&self) -> &[String] {
            &self.classes
        }
        fn set_classes(&mut self, classes: Vec<String>) {
            self.classes = classes;
        }
        fn can_condition(&self) -> bool {
            true
        }
        fn set_conditional(&mut self, on: bool) -> Result<(), ConfigError> {
            self.conditional = on;
            Ok(())
        }
    };
}
pub(super) use conditional_fields;
