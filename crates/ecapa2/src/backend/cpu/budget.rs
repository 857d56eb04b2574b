//! The model's memory budget for activations, shared by its concurrent calls.
//!
//! Each call reserves what its plan needs before it runs and hands it back when done; a call
//! whose reservation does not fit beside the others' waits for them. Two calls together never
//! hold more than the budget (six Python threads no longer each plan against 80 % of memory).
//! Reservations are taken on the caller's thread, never on a pool worker, so a waiting call
//! cannot block the work it waits for.

use std::sync::{Condvar, Mutex, PoisonError};

/// Bytes of activations all calls of one model may hold at once.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: Option<usize>,
    used: Mutex<usize>,
    freed: Condvar,
}

/// A reservation, returned to the budget when dropped.
#[derive(Debug)]
pub(crate) struct Reservation<'a> {
    budget: &'a Budget,
    bytes: usize,
}

impl Budget {
    /// A budget of `limit` bytes (`None`: unlimited).
    pub fn new(limit: Option<usize>) -> Self {
        Self {
            limit,
            used: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// The whole budget.
    pub fn limit(&self) -> Option<usize> {
        self.limit
    }

    /// Reserves `bytes` (at most the whole budget), waiting while other calls hold too much.
    pub fn reserve(&self, bytes: usize) -> Reservation<'_> {
        let Some(limit) = self.limit else {
            return Reservation {
                budget: self,
                bytes: 0,
            };
        };
        let bytes = bytes.min(limit);
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        while *used + bytes > limit {
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

    /// Bytes reserved now.
    #[cfg(test)]
    pub fn in_use(&self) -> usize {
        *self.used.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.bytes > 0 {
            let mut used = self
                .budget
                .used
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            *used -= self.bytes;
            self.budget.freed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Budget;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[test]
    fn two_calls_never_hold_more_than_the_budget() {
        let budget = Budget::new(Some(100));
        let first = budget.reserve(60);
        let second_has_it = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let r = budget.reserve(60);
                second_has_it.store(true, Ordering::SeqCst);
                assert!(budget.in_use() <= 100);
                drop(r);
            });
            // The second call cannot fit beside the first: it must still be waiting.
            std::thread::sleep(Duration::from_millis(100));
            assert!(
                !second_has_it.load(Ordering::SeqCst),
                "planned past the budget"
            );
            assert_eq!(budget.in_use(), 60);
            drop(first);
        });
        assert!(second_has_it.load(Ordering::SeqCst));
        assert_eq!(budget.in_use(), 0);
        // Small reservations share it; more than the whole budget is capped, not a deadlock.
        let (a, b) = (budget.reserve(30), budget.reserve(70));
        assert_eq!(budget.in_use(), 100);
        drop((a, b));
        drop(budget.reserve(1_000));
        assert_eq!(Budget::new(None).reserve(1 << 40).bytes, 0);
    }
}
