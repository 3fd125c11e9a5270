//! The one integration-test binary (each extra binary would re-link polars).

mod cli;
mod ingest;
mod synth;

use std::path::PathBuf;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}
