//! A cap on the memory that parallel decodes hold at once.
//!
//! Each decode reserves its estimated peak before it reads the file and returns it when done;
//! a decode that would exceed the cap waits for others to finish. One image larger than the
//! whole cap runs alone (the per-image pixel limit bounds it). So an import's peak is about
//! the dataset plus the cap, however many cores decode and whatever the folder holds.

use std::sync::{Condvar, Mutex, PoisonError};

pub struct MemoryBudget {
    capacity: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

/// Memory held for one decode; given back when dropped.
pub struct Reservation<'a> {
    budget: &'a MemoryBudget,
    bytes: u64,
}

impl MemoryBudget {
    #[must_use]
    pub fn new(capacity: u64) -> Self {
        Self {
            capacity,
            used: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// Waits until `bytes` (at most the whole capacity) fit, then holds them.
    pub fn reserve(&self, bytes: u64) -> Reservation<'_> {
        let bytes = bytes.min(self.capacity);
        // The guarded value is a plain counter: a panic elsewhere cannot leave it torn.
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        while *used + bytes > self.capacity {
            used = self
                .freed
                .wait(used)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *used += bytes;
        Reservation {
            budget: self,
            bytes,
        }
    }

    /// Bytes held now.
    #[cfg(test)]
    #[must_use]
    pub fn in_use(&self) -> u64 {
        *self.used.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut used = self
            .budget
            .used
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *used -= self.bytes;
        self.budget.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn holders_never_exceed_the_capacity_and_a_huge_request_runs_alone() {
        let budget = MemoryBudget::new(100);
        let peak = AtomicU64::new(0);
        std::thread::scope(|scope| {
            for i in 0..8u64 {
                let (budget, peak) = (&budget, &peak);
                scope.spawn(move || {
                    for _ in 0..50 {
                        let want = if i == 0 { 1_000 } else { 30 + i };
                        let _held = budget.reserve(want);
                        peak.fetch_max(budget.in_use(), Ordering::Relaxed);
                        std::thread::yield_now();
                    }
                });
            }
        });
        assert!(peak.load(Ordering::Relaxed) <= 100);
        assert_eq!(budget.in_use(), 0);
    }
}
