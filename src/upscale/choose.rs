//! Which upscaler enlarges an export: the one a designer named (or their project trained),
//! else the shipped one; a damaged or missing file falls back to Lanczos, with a notice.

use std::path::Path;

use burn::tensor::Device;

use super::{LearntUpscaler, UpscalerFile};

/// The file name of a run's or project's own upscaler.
pub const UPSCALER_FILE: &str = "upscaler.atl";

/// An upscaler, or none (Lanczos), and what the designer should be told about the choice.
pub struct ChosenUpscaler {
    pub upscaler: Option<LearntUpscaler>,
    pub notice: Option<String>,
}

impl ChosenUpscaler {
    /// What export metadata records for this choice.
    #[must_use]
    pub fn provenance(&self) -> String {
        self.upscaler
            .as_ref()
            .map_or_else(|| "lanczos3".to_string(), LearntUpscaler::provenance)
    }
}

/// `file` when given (a missing or damaged one means Lanczos, with a notice), else the
/// shipped upscaler.
#[must_use]
pub fn choose_upscaler(file: Option<&Path>, device: &Device) -> ChosenUpscaler {
    let loaded = match file {
        Some(path) => UpscalerFile::load(path)
            .and_then(|f| LearntUpscaler::new(&f, device))
            .map_err(|e| format!("the upscaler {} cannot be used ({e})", path.display())),
        None => UpscalerFile::shipped()
            .and_then(|f| LearntUpscaler::new(&f, device))
            .map_err(|e| format!("the shipped upscaler cannot be used ({e})")),
    };
    match loaded {
        Ok(upscaler) => ChosenUpscaler {
            upscaler: Some(upscaler),
            notice: None,
        },
        Err(why) => ChosenUpscaler {
            upscaler: None,
            notice: Some(format!("{why}; enlarging with Lanczos instead")),
        },
    }
}

/// The upscaler of a run or project folder: its own `upscaler.atl` when it has one, else the
/// shipped one.
#[must_use]
pub fn upscaler_of_folder(folder: &Path, device: &Device) -> ChosenUpscaler {
    let own = folder.join(UPSCALER_FILE);
    choose_upscaler(own.exists().then_some(own.as_path()), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_without_its_own_upscaler_gets_the_shipped_one_and_a_damaged_one_lanczos() {
        let device = Device::flex();
        let dir = tempfile::tempdir().unwrap();
        let shipped = upscaler_of_folder(dir.path(), &device);
        assert!(shipped.notice.is_none());
        let id = UpscalerFile::shipped().unwrap().id();
        assert_eq!(shipped.provenance(), format!("learnt-4x:{id}"));

        let mut bytes = super::super::SHIPPED_UPSCALER.to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(dir.path().join(UPSCALER_FILE), bytes).unwrap();
        let damaged = upscaler_of_folder(dir.path(), &device);
        assert!(damaged.upscaler.is_none());
        assert_eq!(damaged.provenance(), "lanczos3");
        let notice = damaged.notice.unwrap();
        assert!(notice.contains("damaged"), "{notice}");
        assert!(
            notice.ends_with("enlarging with Lanczos instead"),
            "{notice}"
        );
    }
}
