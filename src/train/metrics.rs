//! Training metrics: one JSON object per line in `metrics.jsonl` inside the run folder.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Averages over the steps since the previous record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricsRecord {
    pub step: u64,
    pub epoch: u64,
    pub d_loss: f32,
    pub g_loss: f32,
    /// Mean D(x): the discriminator's probability that real images are real.
    pub d_real: f32,
    /// Mean D(G(z)): its probability that generated images are real.
    pub d_fake: f32,
    /// Training images per second over the window (real images through one D+G step).
    pub images_per_sec: f32,
    /// Wall-clock seconds of training so far, across resumes.
    pub train_seconds: f64,
    /// D's over-fitting signal `r_t = E[sign(D(real))]` (ADA): near 1 = D is sure of reals.
    #[serde(default)]
    pub r_t: f32,
    /// Augmentation probability at the end of the window.
    #[serde(default)]
    pub augment_p: f64,
}

impl MetricsRecord {
    #[must_use]
    pub fn is_finite(&self) -> bool {
        [self.d_loss, self.g_loss, self.d_real, self.d_fake]
            .iter()
            .all(|v| v.is_finite())
    }
}

/// Reads every well-formed record (a torn last line from a kill is ignored).
pub fn read_all(path: &Path) -> io::Result<Vec<MetricsRecord>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect())
}
