//! Nearest training image to a shot: the memorisation check behind the gallery's side-by-side.
//!
//! The baseline (how close held-out real images come to the training set) depends only on the
//! data, so it is computed once per reference set and reused for every lookup.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{Worker, panic_message};
use crate::data::Split;
use crate::export::Picture;
use crate::protocol::{Event, ReferenceSet, WorkerError};
use crate::quality::held_out;
use crate::quality::{PixelIndex, near_copy_threshold};

#[derive(Default)]
pub struct Reference {
    set: Option<ReferenceSet>,
    train: Vec<usize>,
    /// Half the median held-out → nearest-train distance, once computed.
    threshold: Option<f32>,
    /// The training images prepared for search, built at the first lookup.
    index: Option<PixelIndex>,
}

impl Reference {
    pub fn set(&mut self, set: ReferenceSet) {
        let split = Split::new(&set.dataset, set.split, set.split_seed);
        self.train.clone_from(&split.train);
        self.set = Some(set);
        self.threshold = None;
        self.index = None;
    }

    fn threshold(&mut self) -> f32 {
        if let Some(t) = self.threshold {
            return t;
        }
        let Some(set) = &self.set else { return 0.0 };
        let split = Split::new(&set.dataset, set.split, set.split_seed);
        let data = &set.dataset;
        let held: Vec<&[u8]> = held_out(&split).iter().map(|&i| data.image(i)).collect();
        let train: Vec<&[u8]> = self.train.iter().map(|&i| data.image(i)).collect();
        let t = near_copy_threshold(&train, &held);
        self.threshold = Some(t);
        t
    }

    /// The training image nearest to `shot`, its distance and the near-copy threshold; `None`
    /// when no images were imported yet.
    pub fn nearest(&mut self, shot: &Picture) -> Result<Option<(Picture, f32, f32)>, WorkerError> {
        let Some(set) = &self.set else {
            return Ok(None);
        };
        let data = &set.dataset;
        if shot.width != data.resolution || shot.channels != data.channels {
            return Err(WorkerError::ReferenceMismatch {
                shot: shot.width,
                shot_channels: shot.channels,
                data: data.resolution,
                data_channels: data.channels,
            });
        }
        let query = shot.to_chw_u8();
        let pool: Vec<&[u8]> = self.train.iter().map(|&i| data.image(i)).collect();
        if pool.is_empty() {
            return Ok(None);
        }
        let index = self.index.get_or_insert_with(|| PixelIndex::new(&pool));
        let Some(&(k, distance)) = index.nearest(&[&query], &pool).first() else {
            return Ok(None);
        };
        let index = self.train[k];
        let picture = Picture::from_chw_u8(data.image(index), data.channels, data.resolution);
        let threshold = self.threshold();
        Ok(Some((picture, distance, threshold)))
    }
}

impl Worker {
    /// Answers the nearest-training-image lookup asked for, if any.
    pub(super) fn find_nearest_asked(&mut self) {
        let Some((ticket, picture)) = self.nearest.take() else {
            return;
        };
        let found = catch_unwind(AssertUnwindSafe(|| self.reference.nearest(&picture)))
            .unwrap_or_else(|panic| Err(WorkerError::Panicked(panic_message(&*panic))));
        match found {
            Ok(Some((picture, distance, threshold))) => self.out.send(Event::Nearest {
                ticket,
                picture,
                distance,
                threshold,
            }),
            Ok(None) => {}
            Err(error) => self.out.send(Event::Failed(error)),
        }
    }
}
