//! The one integration-test binary (each extra binary would re-link polars).

mod charts;
mod cli;
mod history;
mod hostile;
mod import;
mod ingest;
mod map;
mod metrics;
mod pack;
mod sample;
mod ssd;
mod synth;

use chrono::NaiveDate;
use csc_audit::ingest::{load, Extracts, LoadOptions};
use std::path::{Path, PathBuf};

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A fixed "today" for the default as-of date, so that tests do not depend on the clock.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

/// Loads a folder as `check` does without `--as-of`.
pub fn load_dir(dir: &Path) -> Extracts {
    load(
        dir,
        &LoadOptions {
            as_of: None,
            today: today(),
        },
    )
    .unwrap()
}
