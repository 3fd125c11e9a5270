//! The hostile-input suite: every behaviour a hostile tester found broken (issue #11), each
//! reproduced, plus generated inputs (proptest) that assert the promises for the whole class:
//! the binary never panics (exit 101) or is killed, every physical row is loaded or reported,
//! a published pack passes the guard, a sample that was touched does not verify.
//! Hand-made inputs that are easier to read as files live in `tests/fixtures/hostile/`.

mod csv;
mod definitions;
mod imports;
mod inputs;
mod pack;
mod sample;

use std::process::Output;

/// Asserts the binary ended on its own terms: an exit code, not a panic (101) or a signal.
#[track_caller]
pub fn assert_no_crash(out: &Output) {
    let code = out.status.code();
    assert!(
        code.is_some() && code != Some(101),
        "the binary crashed (status {:?})\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Cases per property: small in CI; `CSC_AUDIT_SOAK=5000 cargo test --release --test it
/// hostile` is the long soak.
pub fn cases(ci: u32) -> u32 {
    std::env::var("CSC_AUDIT_SOAK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ci)
}
