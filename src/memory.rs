//! Handing freed memory back to the system at the points of a run where much has just been
//! freed. The allocator is the binary's choice, so the binary says how (`set_release`);
//! the library only says when (`release`).

use std::sync::OnceLock;

static RELEASE: OnceLock<fn()> = OnceLock::new();

/// Sets what [`release`] calls: once, before the work starts; later calls are ignored.
pub fn set_release(f: fn()) {
    let _ = RELEASE.set(f);
}

/// Below this much data, [`release`] hands nothing back: a council's run frees a few
/// megabytes at each point, which the next step (as small) reuses, where each page handed
/// back would be faulted in and zeroed again when taken. Skipping it took a scale-1
/// council's `metrics` from 0.100-0.103 s to 0.091-0.097 s (3,000 of its 13,000 page
/// faults) for 13 MB more at its peak.
pub const RELEASE_FROM_BYTES: usize = 16 << 20;

/// Whether data of `data_bytes` is large enough for [`release`] to hand memory back.
fn pays(data_bytes: usize) -> bool {
    data_bytes >= RELEASE_FROM_BYTES
}

/// Hands back what the allocator can of the memory freed so far (the large blocks, from
/// any thread; small blocks stay with the threads that hold them), when `data_bytes` (the
/// parsed tables just freed, or the frames the measures were gathered from) is at least
/// [`RELEASE_FROM_BYTES`]. Called where a step has freed far more than the next one needs
/// (the parsed tables once the frames are built, the measures' intermediate frames once
/// collected), so the allocator's delay before it returns memory does not add the two
/// steps together at the peak. Does nothing unless the binary set how.
pub fn release(data_bytes: usize) {
    if !pays(data_bytes) {
        return;
    }
    if let Some(f) = RELEASE.get() {
        f();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A council's few megabytes are not handed back; from the threshold on, they are.
    #[test]
    fn memory_is_handed_back_only_for_large_data() {
        assert!(!pays(0));
        assert!(!pays(3 << 20));
        assert!(!pays(RELEASE_FROM_BYTES - 1));
        assert!(pays(RELEASE_FROM_BYTES));
        assert!(pays(1 << 30));
    }
}
