//! Training metrics: one JSON object per line in `metrics.jsonl` inside the run folder.
//!
//! Each family names its own values (a GAN logs `d_loss`, `g_loss`, `d_real`, `d_fake`,
//! `r_t`, `augment_p`; FastGAN adds `reconstruction`); they sit beside the counters as
//! top-level keys, so logs written before families named their metrics read the same.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Averages over the steps since the previous record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricsRecord {
    pub step: u64,
    pub epoch: u64,
    /// Training images per second over the window (real images through one step).
    pub images_per_sec: f32,
    /// Wall-clock seconds of training so far, across resumes.
    pub train_seconds: f64,
    /// The family's named values: means over the window, or settings at its end.
    #[serde(flatten)]
    pub values: BTreeMap<String, f64>,
}

impl MetricsRecord {
    #[must_use]
    pub fn new(step: u64, epoch: u64, images_per_sec: f32, train_seconds: f64) -> Self {
        Self {
            step,
            epoch,
            images_per_sec,
            train_seconds,
            values: BTreeMap::new(),
        }
    }

    pub fn set(&mut self, name: &str, value: f64) {
        self.values.insert(name.to_string(), value);
    }

    /// A named value, if this record has it.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.get(name).copied()
    }

    /// A named value as `f32` for plots and lines, `NaN` when absent.
    #[must_use]
    pub fn value(&self, name: &str) -> f32 {
        self.get(name).map_or(f32::NAN, |v| v as f32)
    }

    /// Every value is finite (a NaN or Inf loss means training diverged).
    #[must_use]
    pub fn is_finite(&self) -> bool {
        self.values.values().all(|v| v.is_finite())
    }

    /// The losses and scores in one line, as the CLI and the studio print them.
    #[must_use]
    pub fn summary(&self) -> String {
        use std::fmt::Write;
        let mut line = String::new();
        for (key, label, precision) in [
            ("d_loss", "D", 3),
            ("g_loss", "G", 3),
            ("d_real", "D(x)", 2),
            ("d_fake", "D(G(z))", 2),
            ("reconstruction", "recon", 3),
            ("nll_bits", "NLL bits/dim", 3),
        ] {
            if let Some(v) = self.get(key) {
                // Writing to a String cannot fail.
                let _ = write!(line, "{label} {v:.precision$} ");
            }
        }
        let _ = write!(line, "{:.0} img/s", self.images_per_sec);
        line
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_written_before_metrics_were_named_reads_the_same() {
        let old = r#"{"step":20,"epoch":0,"d_loss":1.2,"g_loss":0.8,"d_real":0.6,"d_fake":0.4,"images_per_sec":100.0,"train_seconds":3.5,"r_t":0.1,"augment_p":0.0}"#;
        let record: MetricsRecord = serde_json::from_str(old).unwrap();
        assert_eq!(record.step, 20);
        assert!((record.value("d_loss") - 1.2).abs() < 1e-6);
        assert_eq!(record.get("augment_p"), Some(0.0));
        let again: MetricsRecord =
            serde_json::from_str(&serde_json::to_string(&record).unwrap()).unwrap();
        assert_eq!(again, record);
        assert!(
            record.summary().starts_with("D 1.200 G 0.800"),
            "{}",
            record.summary()
        );
    }
}
