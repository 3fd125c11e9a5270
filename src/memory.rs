//! Handing freed memory back to the system at the points of a run where much has just been
//! freed. The allocator is the binary's choice, so the binary says how (`set_release`);
//! the library only says when (`release`).

use std::sync::OnceLock;

static RELEASE: OnceLock<fn()> = OnceLock::new();

/// Sets what [`release`] calls: once, before the work starts; later calls are ignored.
pub fn set_release(f: fn()) {
    let _ = RELEASE.set(f);
}

/// Hands back what the allocator can of the memory freed so far (the large blocks, from
/// any thread; small blocks stay with the threads that hold them). Called where a step has
/// freed far more than the next one needs (the parsed tables once the frames are built,
/// the measures' intermediate frames once collected), so the allocator's delay before it
/// returns memory does not add the two steps together at the peak. Does nothing unless
/// the binary set how.
pub fn release() {
    if let Some(f) = RELEASE.get() {
        f();
    }
}
