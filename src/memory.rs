//! Handing freed memory back to the system at the points of a run where much has just been
//! freed. The allocator is the binary's choice, so the binary says how (`set_release`);
//! the library only says when (`release`).

use std::sync::OnceLock;

static RELEASE: OnceLock<fn()> = OnceLock::new();

/// Sets what [`release`] calls: once, before the work starts; later calls are ignored.
pub fn set_release(f: fn()) {
    let _ = RELEASE.set(f);
}

/// Below this much loaded data (the frames' estimated size), [`release`] hands nothing
/// back: a council's run frees a few megabytes at each point, and the next step reuses them
/// (each page handed back costs a fault and a zeroed page when it is taken again, about a
/// tenth of a small council's run). A scale-1 council's frames hold about 3 MB, twenty
/// councils' about 63 MB.
pub const RELEASE_FROM_BYTES: usize = 16 << 20;

/// Hands back what the allocator can of the memory freed so far (the large blocks, from
/// any thread; small blocks stay with the threads that hold them), when the run's loaded
/// frames hold at least [`RELEASE_FROM_BYTES`] (`data_bytes`). Called where a step has
/// freed far more than the next one needs (the parsed tables once the frames are built,
/// the measures' intermediate frames once collected), so the allocator's delay before it
/// returns memory does not add the two steps together at the peak. Does nothing unless
/// the binary set how.
pub fn release(data_bytes: usize) {
    if data_bytes < RELEASE_FROM_BYTES {
        return;
    }
    if let Some(f) = RELEASE.get() {
        f();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static CALLS: AtomicUsize = AtomicUsize::new(0);

    /// Nothing is handed back for a council's few megabytes; from the threshold on, every
    /// call hands back. (The only test that sets how: the binary sets it, not the library.)
    #[test]
    fn memory_is_handed_back_only_for_large_data() {
        set_release(|| {
            CALLS.fetch_add(1, Ordering::SeqCst);
        });
        release(0);
        release(3 << 20);
        release(RELEASE_FROM_BYTES - 1);
        assert_eq!(CALLS.load(Ordering::SeqCst), 0);
        release(RELEASE_FROM_BYTES);
        release(1 << 30);
        assert_eq!(CALLS.load(Ordering::SeqCst), 2);
    }
}
