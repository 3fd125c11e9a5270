//! The one integration-test binary (each extra binary would re-link polars).

mod charts;
mod cli;
mod due;
mod forms;
mod history;
mod hostile;
mod import;
mod ingest;
mod map;
mod metrics;
mod pack;
mod sample;
mod spc;
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
            columns: Default::default(),
        },
    )
    .unwrap()
}

/// The sample council of the repository.
pub fn sample_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_data")
}

/// Every built-in measure by financial quarter, broken down `by` these.
pub fn quarterly(ex: &Extracts, by: &[&str]) -> csc_audit::metrics::Evaluation {
    use csc_audit::metrics::{evaluate, EvalOptions, Library};
    let eval = EvalOptions {
        grain: csc_audit::periods::Grain::Quarter,
        from: None,
        to: None,
        by: by.iter().map(|b| b.to_string()).collect(),
        cases: false,
    };
    let cal = csc_audit::calendar::Calendar::england_and_wales();
    evaluate(ex, &Library::builtin(), &cal, &eval).unwrap()
}

/// A measure's output rows, as text to compare.
pub fn measure_rows(ev: &csc_audit::metrics::Evaluation, id: &str) -> Vec<String> {
    ev.rows
        .iter()
        .filter(|r| r.metric_id == id)
        .map(|r| {
            format!(
                "{} {}={} {} {:?} {:?} {:?} {}",
                r.period,
                r.breakdown,
                r.group,
                r.category,
                r.numerator,
                r.denominator,
                r.value,
                r.pending
            )
        })
        .collect()
}

/// The measure has no rows, and a note says it is not available.
#[track_caller]
pub fn assert_not_available(ev: &csc_audit::metrics::Evaluation, id: &str) {
    assert!(measure_rows(ev, id).is_empty(), "{id}");
    let prefix = format!("{id}: not available");
    assert!(
        ev.notes.iter().any(|n| n.starts_with(&prefix)),
        "{id}: {:?}",
        ev.notes
    );
}

/// Each measure gives the same rows from both sources, and has rows.
#[track_caller]
pub fn assert_same_measures(
    a: &csc_audit::metrics::Evaluation,
    b: &csc_audit::metrics::Evaluation,
    ids: &[&str],
) {
    for id in ids {
        let expected = measure_rows(a, id);
        assert!(!expected.is_empty(), "{id}");
        assert_eq!(measure_rows(b, id), expected, "{id}");
    }
}

/// The cells of each body row of an HTML table (its first row, the header, left out).
pub fn html_rows(table: &str) -> Vec<Vec<String>> {
    table
        .split("<tr>")
        .skip(2)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|c| {
                    let v = &c[c.find('>').unwrap() + 1..];
                    v[..v.find("</td>").unwrap()].to_string()
                })
                .collect()
        })
        .collect()
}
