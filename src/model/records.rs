//! Networks to bytes and back (burnpack records), seeded initialisation, and value dumps.

use burn::module::{Module, ModuleVisitor, Param};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Tensor};
use thiserror::Error;

/// A record that cannot be read or does not fit its network.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{0}")]
pub struct RecordError(pub String);

/// Serialises seeding and weight initialisation: the backend's RNG is process-wide and burn
/// initialises parameters lazily, so another thread drawing random numbers between a run's
/// `seed` and the first use of a weight would change the run's initial weights.
pub static INIT_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Forces lazy parameter initialisation now (reading a value initialises it).
pub struct Materialise;

impl ModuleVisitor for Materialise {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// A network's weights (and running statistics) as burnpack bytes.
pub fn module_bytes<M: Module>(module: M) -> Result<Vec<u8>, RecordError> {
    module
        .into_record()
        .into_bytes()
        .map(|b| b.to_vec())
        .map_err(|e| RecordError(e.to_string()))
}

/// Loads burnpack bytes into `module`. A record of a format-1 checkpoint whose paths all
/// begin with `legacy_prefix` (`"Dcgan."`) is renamed first, so old files keep loading.
pub fn module_from_bytes<M: Module>(
    module: M,
    bytes: &[u8],
    legacy_prefix: Option<&str>,
) -> Result<M, RecordError> {
    let bytes = match legacy_prefix {
        Some(prefix) => strip_legacy_prefix(bytes, &format!("{prefix}."))?,
        None => bytes.to_vec(),
    };
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| RecordError(e.to_string()))?;
    module
        .try_load_record(record)
        .map_err(|e| RecordError(e.to_string()))
}

/// The record with `prefix` removed from every tensor path, when every path has it;
/// otherwise the record unchanged.
fn strip_legacy_prefix(bytes: &[u8], prefix: &str) -> Result<Vec<u8>, RecordError> {
    let reader = burn_pack::Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| RecordError(e.to_string()))?;
    let names = reader.tensor_names();
    if names.is_empty() || !names.iter().all(|n| n.starts_with(prefix)) {
        return Ok(bytes.to_vec());
    }
    let tensors = reader
        .into_tensors()
        .map_err(|e| RecordError(e.to_string()))?
        .into_iter()
        .map(|t| {
            let (name, dtype, shape, id, data) =
                t.into_parts().map_err(|e| RecordError(e.to_string()))?;
            let name = name.strip_prefix(prefix).unwrap_or(&name).to_string();
            Ok(burn_pack::Tensor::new(name, dtype, shape, id, data))
        })
        .collect::<Result<Vec<_>, RecordError>>()?;
    burn_pack::Writer::new(tensors)
        .into_bytes()
        .map(|b| b.to_vec())
        .map_err(|e| RecordError(e.to_string()))
}

/// Every float value of a module (weights and running statistics) in its fixed visiting order:
/// lets tests and tools compare two models value for value, independent of parameter ids.
#[must_use]
pub fn flat_values<M: Module>(module: &M) -> Vec<f32> {
    struct Flatten(Vec<f32>);
    impl ModuleVisitor for Flatten {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Ok(values) = param
                .val()
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
            {
                self.0.extend(values);
            }
        }
    }
    let mut flatten = Flatten(Vec::new());
    module.visit(&mut flatten);
    flatten.0
}
