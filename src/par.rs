//! Work spread over the machine's cores with scoped threads (no thread pool to set up).
//!
//! Calls may nest (a table's checks run beside other tables', and split their own rows):
//! helper threads are taken from one budget of a core each, and the calling thread works
//! too, so nesting never starts more helpers than the machine has cores (polars' own
//! threads aside), and a thread the system refuses only means less help, never a failure.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Helper slots taken now, across every call: a helper holds its slot while it works.
static HELPERS: AtomicUsize = AtomicUsize::new(0);

/// The cores this process may use, asked of the system once (on Linux the answer reads the
/// cgroup files, too slow to ask before every item).
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Takes a helper slot from the budget (one per core, less the calling thread), if one is
/// free.
fn take_helper() -> bool {
    let budget = cores().saturating_sub(1);
    HELPERS
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |busy| {
            (busy < budget).then_some(busy + 1)
        })
        .is_ok()
}

/// Runs `f` over `items` on the calling thread and on helpers while the budget has them,
/// heaviest first, and returns the results in the items' order. The caller takes on a
/// helper whenever a slot is free and more than one item waits, so a nested call picks up
/// a core an outer call has finished with.
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
    let run = |i: usize| {
        let item = inputs[i].lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(item) = item {
            let result = f(item);
            *outputs[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
        }
    };
    let work = || {
        while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
            run(i);
        }
    };
    std::thread::scope(|scope| {
        let mut recruit = true;
        loop {
            while recruit
                && order.len().saturating_sub(next.load(Ordering::Relaxed)) > 1
                && take_helper()
            {
                // The slot is given back when the helper stops, even by a panic.
                let helper = || {
                    let _slot = Slot;
                    work();
                };
                if std::thread::Builder::new()
                    .spawn_scoped(scope, helper)
                    .is_err()
                {
                    // The system would not start a thread: the caller carries on alone.
                    HELPERS.fetch_sub(1, Ordering::AcqRel);
                    recruit = false;
                }
            }
            let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) else {
                break;
            };
            run(i);
        }
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

/// A helper's slot, given back to the budget when the helper stops.
struct Slot;

impl Drop for Slot {
    fn drop(&mut self) {
        HELPERS.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order_and_nesting_stays_within_the_budget() {
        let out = par_map((0..50u64).collect(), |x| x % 7, |x| x * x);
        assert_eq!(out, (0..50u64).map(|x| x * x).collect::<Vec<_>>());
        let cores = cores();
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
        let expected: Vec<Vec<u64>> = (0..8)
            .map(|x| (0..8).map(|y| x * 10 + y).collect())
            .collect();
        assert_eq!(nested, expected);
        assert!(
            most.load(Ordering::Relaxed) < cores.max(2),
            "helpers beyond the cores"
        );
        assert_eq!(par_map(Vec::<u8>::new(), |_| 0, |x| x), Vec::<u8>::new());
    }
}
