//! Compliance measures from declarative definitions: [`definition`] reads the metric files,
//! [`engine`] evaluates them all from one load of the extracts, [`output`] writes the long
//! table.
//!
//! Each kind of measure (ratio, repeat, snapshot, distribution, count, summary) has its
//! file in `kinds/`. The parts measures share each have a module, holding both how a file
//! writes the part and how it is evaluated: `windows` (lengths of time and date
//! arithmetic), `related` (lookups and series), `open` (open cases and `also`),
//! `within`, `condition` (the `[numerator]`), `value`, `breakdowns` and `rag`.
//! The engine's steps: `plan` (the polars row frame) -> `rows` (its columns read out) ->
//! `tally` (each row judged and counted) -> `out_rows` (the long table's rows).

mod awaiting;
mod breakdowns;
mod condition;
pub mod definition;
pub mod due;
pub mod engine;
mod kinds;
pub mod library;
mod open;
mod out_rows;
pub mod output;
mod plan;
mod rag;
mod reads;
mod related;
mod rows;
mod tally;
mod value;
mod windows;
mod within;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

pub(crate) use breakdowns::group_name;
pub use definition::{DefinitionError, Metric, MetricKind, Standards};
pub use engine::{evaluate, evaluate_each};
pub use reads::{columns_read, due_columns_read};

use crate::periods::{Grain, Period};

/// The file, in a metrics folder, that holds local standards rather than a measure.
pub const STANDARDS_FILE: &str = "standards.toml";

/// Every measure to evaluate, with the local standards they were read with.
#[derive(Debug, Clone)]
pub struct Library {
    pub metrics: Vec<Metric>,
    pub standards: Standards,
    /// Where the definitions came from: a folder, or "built-in".
    pub origin: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{} metric file error(s):\n{}", .0.len(), .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Definitions(Vec<DefinitionError>),
    #[error("no metric files (*.toml) in {0}")]
    Empty(String),
}

impl Library {
    /// Reads every `*.toml` in `dir` (`standards.toml` holds the local standards). All
    /// mistakes are reported together, each with its file and line.
    pub fn load_dir(dir: &Path) -> Result<Library, LibraryError> {
        let io = |path: &Path, source| LibraryError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            // Every *.toml, whatever it is: one that cannot be read (a dangling link, a
            // device) is an error below, never left out in silence.
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && !p.is_dir())
            .collect();
        files.sort();
        let mut texts = Vec::new();
        for f in &files {
            let text = crate::fsutil::read_definition(f).map_err(|e| io(f, e))?;
            texts.push((f.display().to_string(), text));
        }
        Library::from_texts(&texts, &dir.display().to_string())
    }

    /// The measures shipped with csc-audit (a copy of the `metrics/` folder).
    pub fn builtin() -> Library {
        let texts: Vec<(String, String)> = library::FILES
            .iter()
            .map(|(n, t)| (format!("metrics/{n}"), t.to_string()))
            .collect();
        Library::from_texts(&texts, "built-in").expect("the built-in library is valid (tested)")
    }

    /// Builds a library from `(file name, text)` pairs.
    pub fn from_texts(texts: &[(String, String)], origin: &str) -> Result<Library, LibraryError> {
        let mut errors = Vec::new();
        let standards = match texts.iter().find(|(n, _)| {
            Path::new(n)
                .file_name()
                .is_some_and(|f| f == STANDARDS_FILE)
        }) {
            Some((name, text)) => match Standards::parse(text, name) {
                Ok(s) => s,
                Err(e) => {
                    errors.push(e);
                    Standards::default()
                }
            },
            None => Standards::default(),
        };
        let mut metrics: Vec<Metric> = Vec::new();
        for (name, text) in texts {
            if Path::new(name)
                .file_name()
                .is_some_and(|f| f == STANDARDS_FILE)
            {
                continue;
            }
            match definition::parse_metric(text, name, &standards) {
                Ok(m) => {
                    if let Some(other) = metrics.iter().find(|o| o.id == m.id) {
                        errors.push(DefinitionError {
                            file: name.clone(),
                            line: 1,
                            field: "id".into(),
                            message: format!("`{}` is already defined in {}", m.id, other.file),
                        });
                    } else {
                        metrics.push(m);
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(LibraryError::Definitions(errors));
        }
        if metrics.is_empty() {
            return Err(LibraryError::Empty(origin.to_string()));
        }
        // The child's journey order: front door first, workforce last.
        metrics.sort_by_key(|m| {
            (
                crate::schema::position(m.population.table.name),
                m.id.clone(),
            )
        });
        Ok(Library {
            metrics,
            standards,
            origin: origin.to_string(),
        })
    }

    /// Keeps only the named measures; an unknown id is an error that lists the known ones.
    pub fn select(&mut self, ids: &[String]) -> Result<(), String> {
        for id in ids {
            if !self.metrics.iter().any(|m| m.id == *id) {
                let known: Vec<&str> = self.metrics.iter().map(|m| m.id.as_str()).collect();
                return Err(format!(
                    "no metric `{id}` in {}; known: {}",
                    self.origin,
                    known.join(", ")
                ));
            }
        }
        self.metrics.retain(|m| ids.contains(&m.id));
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub grain: Grain,
    pub from: Option<Period>,
    pub to: Option<Period>,
    /// Breakdowns wanted besides `all`.
    pub by: Vec<String>,
    /// Also list every case counted against a measure ([`Evaluation::cases`]): what the
    /// audit sample shows beside each case and can stratify by.
    pub cases: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// What was asked cannot be evaluated: a period range, a breakdown no measure allows,
    /// or evaluations asked together with different options. The message says what to change.
    #[error("{0}")]
    Request(String),
    #[error("evaluating the measures failed: {0}")]
    Polars(polars::prelude::PolarsError),
}

/// One row of the long output table.
#[derive(Debug, Clone, PartialEq)]
pub struct OutRow {
    pub metric_id: String,
    pub period: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub breakdown: String,
    pub group: String,
    /// The bucket of a distribution; `all` otherwise.
    pub category: String,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub value: Option<f64>,
    /// Cases still waiting whose deadline has not passed: in neither numerator nor
    /// denominator.
    pub pending: u64,
    /// Rows that could not be timed (no start date, a span that runs backwards, a date
    /// outside the calendar).
    pub excluded: u64,
    pub target: Option<f64>,
    pub rag: Option<&'static str>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub rate_per_10k: Option<f64>,
    pub p25: Option<f64>,
    pub p75: Option<f64>,
    pub unit: String,
    pub polarity: String,
    /// Whether the period had ended by the as-of date.
    pub complete: bool,
}

#[derive(Debug, Clone)]
pub struct Evaluation {
    pub as_of: NaiveDate,
    pub grain: Grain,
    pub periods: Vec<Period>,
    pub rows: Vec<OutRow>,
    /// Measures not available, breakdowns not allowed, rows not timed.
    pub notes: Vec<String>,
    /// With [`EvalOptions::cases`]: each case counted against a measure (a breach of a
    /// higher-is-better measure, a counted case of a lower-is-better one), once per period.
    pub cases: Vec<CaseFlag>,
}

/// A case (a row of the measure's population table) counted against a measure in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFlag {
    pub metric_id: String,
    /// The population table and the row's key there.
    pub table: &'static str,
    pub key: String,
    pub child_id: Option<String>,
    pub period: String,
}

/// The rows of one measure by period, breakdown, group and category, each found in one
/// step: a chart of every team asks for every group of every period.
pub struct MetricRows<'a> {
    rows: std::collections::HashMap<(&'a str, &'a str, &'a str, &'a str), &'a OutRow>,
}

impl<'a> MetricRows<'a> {
    /// The row [`Evaluation::find`] gives for this measure.
    pub fn get(
        &self,
        period: &str,
        breakdown: &str,
        group: &str,
        category: &str,
    ) -> Option<&'a OutRow> {
        self.rows
            .get(&(period, breakdown, group, category))
            .copied()
    }
}

impl Evaluation {
    /// One measure's rows, looked up by key; the first row of a key, as [`Evaluation::find`].
    pub fn rows_of(&self, metric: &str) -> MetricRows<'_> {
        let mut rows = std::collections::HashMap::new();
        for r in self.rows.iter().filter(|r| r.metric_id == metric) {
            let key = (&*r.period, &*r.breakdown, &*r.group, &*r.category);
            rows.entry(key).or_insert(r);
        }
        MetricRows { rows }
    }

    /// The row of one metric, period, breakdown group and category.
    pub fn find(
        &self,
        metric: &str,
        period: &str,
        breakdown: &str,
        group: &str,
        category: &str,
    ) -> Option<&OutRow> {
        self.rows.iter().find(|r| {
            r.metric_id == metric
                && r.period == period
                && r.breakdown == breakdown
                && r.group == group
                && r.category == category
        })
    }
}
