//! Work spread over the machine's cores with scoped threads (no thread pool to set up).
//!
//! Calls may nest (a table's checks run beside other tables', and split their own rows):
//! helper threads are taken from one budget of a core each, and the calling thread works
//! too, so nesting never starts more threads than the machine has cores, and a thread the
//! system refuses only means less help, never a failure.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Helper threads running now, across every call.
static HELPERS: AtomicUsize = AtomicUsize::new(0);

/// Takes up to `want` helpers from the budget (one per core, less the calling thread).
fn take_helpers(want: usize) -> usize {
    let budget = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(1);
    let mut taken = 0;
    let _ = HELPERS.fetch_update(Ordering::AcqRel, Ordering::Acquire, |busy| {
        taken = want.min(budget.saturating_sub(busy));
        Some(busy + taken)
    });
    taken
}

/// Runs `f` over `items` on the calling thread and as many helpers as the budget allows,
/// heaviest first, and returns the results in the items' order.
pub fn par_map<T: Send, R: Send>(
    items: Vec<T>,
    weight: impl Fn(&T) -> u64,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(weight(&items[*i])));
    let inputs: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
    let outputs: Vec<Mutex<Option<R>>> = inputs.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
            let item = inputs[i].lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(item) = item {
                let result = f(item);
                *outputs[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
            }
        }
    };
    // Given back once every helper has finished (the scope waits for them), even if a job
    // panics.
    let held = Release(std::cell::Cell::new(take_helpers(
        inputs.len().saturating_sub(1),
    )));
    std::thread::scope(|scope| {
        for started in 0..held.0.get() {
            if std::thread::Builder::new()
                .spawn_scoped(scope, work)
                .is_err()
            {
                // Helpers the system would not start go back to the budget at once.
                HELPERS.fetch_sub(held.0.get() - started, Ordering::AcqRel);
                held.0.set(started);
                break;
            }
        }
        work();
    });
    outputs
        .into_iter()
        .map(|o| {
            o.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every item mapped")
        })
        .collect()
}

/// Helpers taken from the budget, given back when dropped.
struct Release(std::cell::Cell<usize>);

impl Drop for Release {
    fn drop(&mut self) {
        HELPERS.fetch_sub(self.0.get(), Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order_and_nesting_stays_within_the_budget() {
        let out = par_map((0..50u64).collect(), |x| x % 7, |x| x * x);
        assert_eq!(out, (0..50u64).map(|x| x * x).collect::<Vec<_>>());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let most = AtomicUsize::new(0);
        let nested = par_map(
            (0..8u64).collect(),
            |_| 1,
            |x| {
                par_map(
                    (0..8u64).collect(),
                    |_| 1,
                    |y| {
                        most.fetch_max(HELPERS.load(Ordering::Acquire), Ordering::Relaxed);
                        x * 10 + y
                    },
                )
            },
        );
        assert_eq!(nested[3][4], 34);
        assert!(
            most.load(Ordering::Relaxed) < cores.max(2),
            "helpers beyond the cores"
        );
        assert_eq!(par_map(Vec::<u8>::new(), |_| 0, |x| x), Vec::<u8>::new());
    }
}
