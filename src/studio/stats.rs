//! Measured responsiveness: UI frame times and slider-to-image latency.
//!
//! Shown in the status bar and, with `--stats-out`, written as JSON at exit, so a benchmark
//! under Xvfb (or on a GPU machine) reports real figures instead of a timed test asserting them.

use serde::Serialize;

/// Samples kept per series (the most recent ones).
const KEEP: usize = 20_000;

#[derive(Debug, Default)]
pub struct Stats {
    /// CPU time spent building each frame's UI, ms.
    pub frame_ms: Vec<f32>,
    /// Wall time between the starts of consecutive frames while training ran, ms.
    pub frame_interval_training_ms: Vec<f32>,
    /// The same while no training ran (a baseline for the figure above).
    pub frame_interval_idle_ms: Vec<f32>,
    /// Slider move to new image on screen, ms (while no training ran).
    pub slider_latency_ms: Vec<f32>,
    /// The same while training ran (a request waits for the step in progress).
    pub slider_latency_training_ms: Vec<f32>,
    /// Worker-side render time of live slider requests, ms.
    pub slider_render_ms: Vec<f32>,
    /// Live requests that a newer one replaced before they were shown.
    pub live_superseded: u64,
    pub steps_seen_first: Option<u64>,
    pub steps_seen_last: u64,
    pub frames: u64,
}

/// Appends `x`; past twice [`KEEP`] samples the oldest half goes in one move (amortised
/// O(1), where dropping the oldest one by one shifted 20,000 floats every frame).
fn push(v: &mut Vec<f32>, x: f32) {
    if v.len() >= 2 * KEEP {
        v.drain(..KEEP);
    }
    v.push(x);
}

/// The newest `n` samples of a series.
#[must_use]
pub fn recent(values: &[f32], n: usize) -> &[f32] {
    &values[values.len().saturating_sub(n)..]
}

/// The `q`-quantile (0–1) of `values`, nearest rank.
#[must_use]
pub fn percentile(values: &[f32], q: f32) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    let rank = ((q * sorted.len() as f32).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

#[derive(Debug, Serialize)]
pub struct StatsReport {
    pub frames: u64,
    pub frame_ms_p50: Option<f32>,
    pub frame_ms_p95: Option<f32>,
    pub frame_interval_training_ms_p50: Option<f32>,
    pub frame_interval_training_ms_p95: Option<f32>,
    pub frame_interval_idle_ms_p50: Option<f32>,
    pub frame_interval_idle_ms_p95: Option<f32>,
    pub slider_latency_ms_p50: Option<f32>,
    pub slider_latency_ms_p95: Option<f32>,
    pub slider_latency_training_ms_p50: Option<f32>,
    pub slider_latency_training_ms_p95: Option<f32>,
    pub slider_render_ms_p50: Option<f32>,
    pub slider_samples: usize,
    pub live_superseded: u64,
    pub training_steps_first_seen: Option<u64>,
    pub training_steps_last_seen: u64,
    pub gpu_errors: u64,
    /// GPU errors per thread that raised them (`main` = the renderer, `atelier-worker` =
    /// training and sampling).
    pub gpu_errors_by_thread: Vec<(String, u64)>,
    pub last_gpu_error: Option<String>,
    pub compute: String,
}

impl Stats {
    pub fn frame(&mut self, build_ms: f32) {
        self.frames += 1;
        push(&mut self.frame_ms, build_ms);
    }

    pub fn interval(&mut self, ms: f32, training: bool) {
        if training {
            push(&mut self.frame_interval_training_ms, ms);
        } else {
            push(&mut self.frame_interval_idle_ms, ms);
        }
    }

    pub fn slider(&mut self, latency_ms: f32, render_ms: f32, training: bool) {
        if training {
            push(&mut self.slider_latency_training_ms, latency_ms);
        } else {
            push(&mut self.slider_latency_ms, latency_ms);
        }
        push(&mut self.slider_render_ms, render_ms);
    }

    pub fn step(&mut self, step: u64) {
        self.steps_seen_first.get_or_insert(step);
        self.steps_seen_last = self.steps_seen_last.max(step);
    }

    #[must_use]
    pub fn report(&self, gpu_errors: &crate::device::GpuErrorLog, compute: &str) -> StatsReport {
        StatsReport {
            frames: self.frames,
            frame_ms_p50: percentile(&self.frame_ms, 0.5),
            frame_ms_p95: percentile(&self.frame_ms, 0.95),
            frame_interval_training_ms_p50: percentile(&self.frame_interval_training_ms, 0.5),
            frame_interval_training_ms_p95: percentile(&self.frame_interval_training_ms, 0.95),
            frame_interval_idle_ms_p50: percentile(&self.frame_interval_idle_ms, 0.5),
            frame_interval_idle_ms_p95: percentile(&self.frame_interval_idle_ms, 0.95),
            slider_latency_ms_p50: percentile(&self.slider_latency_ms, 0.5),
            slider_latency_ms_p95: percentile(&self.slider_latency_ms, 0.95),
            slider_latency_training_ms_p50: percentile(&self.slider_latency_training_ms, 0.5),
            slider_latency_training_ms_p95: percentile(&self.slider_latency_training_ms, 0.95),
            slider_render_ms_p50: percentile(&self.slider_render_ms, 0.5),
            slider_samples: self.slider_latency_ms.len() + self.slider_latency_training_ms.len(),
            live_superseded: self.live_superseded,
            training_steps_first_seen: self.steps_seen_first,
            training_steps_last_seen: self.steps_seen_last,
            gpu_errors: gpu_errors.total(),
            gpu_errors_by_thread: gpu_errors.by_thread(),
            last_gpu_error: gpu_errors.last(),
            compute: compute.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f32> = (1..=100).map(|x| x as f32).collect();
        assert_eq!(percentile(&v, 0.5), Some(50.0));
        assert_eq!(percentile(&v, 0.95), Some(95.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
