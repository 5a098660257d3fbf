//! A render under way: shots drawn a few network passes at a time, so whoever owns the
//! device can answer a click, a Stop or a Cancel between two passes (an autoregressive
//! model needs one pass per pixel; a GAN's render is one pass).

use std::collections::VecDeque;
use std::ops::Deref;
use std::time::{Duration, Instant};

use burn::tensor::{Tensor, TensorData};

use super::{SampleError, Sampler, one_hot};
use crate::export::Picture;

/// Shots drawn per device call.
const CHUNK: usize = 64;

/// One device call's worth of shots, not begun yet.
struct Chunk {
    z: Tensor<2>,
    classes: Option<Tensor<2>>,
    /// A completion's known images and the row-major mask of the pixels kept.
    keep: Option<(Tensor<4>, Vec<bool>)>,
}

/// Pictures being drawn by a sampler (`S` is `&Sampler` or `Arc<Sampler>`), a chunk of shots
/// at a time; each chunk is read back to pictures as soon as it is done.
pub struct Drawing<S: Deref<Target = Sampler>> {
    sampler: S,
    waiting: VecDeque<Chunk>,
    current: Option<Box<dyn crate::model::Drawing>>,
    pictures: Vec<Picture>,
    /// Passes of the chunks finished, and of every chunk.
    passes_done: usize,
    passes_total: usize,
    /// Passes per [`Self::advance_for`], paced to its slice of time.
    pace: usize,
}

impl<S: Deref<Target = Sampler>> Drawing<S> {
    /// Shots of `latents`, each with its class (`classes` is empty, or one class index per
    /// latent; `None` is the mix of every class). Unconditional models ignore the classes.
    pub fn render(
        sampler: S,
        latents: &[Vec<f32>],
        classes: &[Option<u32>],
    ) -> Result<Self, SampleError> {
        sampler.check_classes(classes, latents.len())?;
        let count = sampler.model.class_count();
        let mut waiting = VecDeque::new();
        for (n, chunk) in latents.chunks(CHUNK).enumerate() {
            let z = sampler.latent_tensor(chunk)?;
            let classes = (count > 0 && !classes.is_empty()).then(|| {
                let picked = &classes[n * CHUNK..n * CHUNK + chunk.len()];
                one_hot(picked, count, sampler.device())
            });
            waiting.push_back(Chunk {
                z,
                classes,
                keep: None,
            });
        }
        let passes_total = waiting.len() * sampler.model.family().sampling_passes();
        Ok(Self::new(sampler, waiting, passes_total))
    }

    /// Completions of one image (`chw`, the dataset's `u8` layout at the model's size): the
    /// sub-pixels of the pixels `keep` marks (row-major) stay, the rest is drawn, one
    /// completion per latent. Only autoregressive models can.
    pub fn completion(
        sampler: S,
        chw: &[u8],
        keep: &[bool],
        latents: &[Vec<f32>],
        class: Option<u32>,
    ) -> Result<Self, SampleError> {
        let (c, r) = (sampler.model.channels(), sampler.model.resolution());
        if chw.len() != c * r * r || keep.len() != r * r {
            return Err(SampleError::ImageSize {
                expected: c * r * r,
                found: chw.len(),
            });
        }
        if !sampler.model.family().has_likelihood() {
            return Err(SampleError::CannotComplete(sampler.model.kind()));
        }
        sampler.check_classes(&[class], 1)?;
        let n = latents.len();
        let z = sampler.latent_tensor(latents)?;
        let known: Vec<f32> = (0..n)
            .flat_map(|_| chw.iter().map(|&v| f32::from(v) / 127.5 - 1.0))
            .collect();
        let known = Tensor::<4>::from_data(TensorData::new(known, [n, c, r, r]), sampler.device());
        let count = sampler.model.class_count();
        let classes = (count > 0).then(|| one_hot(&vec![class; n], count, sampler.device()));
        let passes_total = keep.iter().filter(|&&k| !k).count();
        let chunk = Chunk {
            z,
            classes,
            keep: Some((known, keep.to_vec())),
        };
        Ok(Self::new(sampler, VecDeque::from([chunk]), passes_total))
    }

    fn new(sampler: S, waiting: VecDeque<Chunk>, passes_total: usize) -> Self {
        Self {
            sampler,
            waiting,
            current: None,
            pictures: Vec::new(),
            passes_done: 0,
            passes_total,
            pace: 1,
        }
    }

    /// Draws for about `slice` (at least one pass); returns whether every picture is drawn.
    /// The number of passes is paced from the earlier calls' timing.
    pub fn advance_for(&mut self, slice: Duration) -> Result<bool, SampleError> {
        let (passes, started) = (self.pace, Instant::now());
        let done = self.advance(passes)?;
        let per_pass = started.elapsed().as_secs_f64() / passes as f64;
        let fit = (slice.as_secs_f64() / per_pass.max(1e-6)).floor() as usize;
        // At most double per call: one quick pass does not prove the next thousand are.
        self.pace = fit.clamp(1, passes.saturating_mul(2));
        Ok(done)
    }

    /// Runs at most `passes` more network passes (at least one when any is left); returns
    /// whether every picture is drawn. When it returns `Ok(false)` the device has finished
    /// the work asked of it, so the time it took is the work's own.
    pub fn advance(&mut self, passes: usize) -> Result<bool, SampleError> {
        let mut left = passes.max(1);
        while left > 0 {
            let Some(current) = self.current.as_mut() else {
                match self.waiting.pop_front() {
                    Some(chunk) => self.current = Some(self.begin(chunk)?),
                    None => return Ok(true),
                }
                continue;
            };
            let before = current.progress().0;
            let done = current.advance(left);
            let (after, total) = current.progress();
            left = left.saturating_sub((after - before).max(1));
            if done {
                let images = current.images();
                self.passes_done += total;
                self.current = None;
                self.read_back(images)?;
            }
        }
        if self.is_done() {
            return Ok(true);
        }
        self.sampler
            .device()
            .sync()
            .map_err(|e| SampleError::Readback(format!("{e:?}")))?;
        Ok(false)
    }

    fn begin(&self, chunk: Chunk) -> Result<Box<dyn crate::model::Drawing>, SampleError> {
        let generator = &self.sampler.generator;
        match chunk.keep {
            None => Ok(generator.begin(chunk.z, chunk.classes)),
            Some((known, keep)) => generator
                .begin_completion(chunk.z, chunk.classes, known, keep)
                .ok_or(SampleError::CannotComplete(self.sampler.model.kind())),
        }
    }

    fn read_back(&mut self, images: Tensor<4>) -> Result<(), SampleError> {
        let (c, r) = (
            self.sampler.model.channels(),
            self.sampler.model.resolution(),
        );
        let values = images
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| SampleError::Readback(format!("{e:?}")))?;
        self.pictures.extend(
            values
                .chunks(c * r * r)
                .map(|chw| Picture::from_chw_f32(chw, c, r)),
        );
        Ok(())
    }

    /// Whether every picture is drawn.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.current.is_none() && self.waiting.is_empty()
    }

    /// Network passes done, and in all.
    #[must_use]
    pub fn progress(&self) -> (usize, usize) {
        let current = self.current.as_ref().map_or(0, |d| d.progress().0);
        let done = self.passes_done + current;
        (done, self.passes_total.max(done))
    }

    /// Draws what is left and returns the pictures, in the order asked.
    pub fn finish(mut self) -> Result<Vec<Picture>, SampleError> {
        while !self.advance(usize::MAX)? {}
        Ok(self.pictures)
    }

    /// The sampler drawing the pictures.
    #[must_use]
    pub fn sampler(&self) -> &Sampler {
        &self.sampler
    }
}
