//! The metric language: one TOML file per measure, read and checked against the extract
//! schema before anything is evaluated. Every mistake names the file, the line, the field
//! and what would be valid.
//!
//! This file holds what every measure has (its population, its related tables, where each
//! value comes from) and reads a file in a fixed order, so that a file with several
//! mistakes always hears of the same one first. Each part has its own module (windows,
//! related tables, open cases, `[within]`, `[numerator]`, `[value]`, breakdowns, RAG); what
//! only one kind reads and checks is in that kind's file under `kinds/`.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::Expr;
use serde::Deserialize;
use toml::Spanned;

use super::awaiting::RawAwaiting;
use super::condition::RawCondition;
use super::kinds::distribution::{self, RawBucket};
use super::kinds::repeat::{self, RawRepeat};
use super::kinds::{Draft, KINDS};
use super::open::{RawAlso, RawOpen};
use super::rag::RawRag;
use super::related::RawRelated;
use super::value::RawValue;
use super::within::RawWithin;
use super::{awaiting, breakdowns, condition, open, rag, related, value, within};
use crate::schema::{self, Kind, TableSpec};

// The parts of a metric, each defined beside the code that reads and evaluates it.
pub use super::awaiting::Awaiting;
pub use super::breakdowns::Breakdown;
pub use super::condition::{Condition, Recent};
pub use super::kinds::distribution::Bucket;
pub use super::kinds::repeat::Repeat;
pub use super::kinds::MetricKind;
pub use super::open::Also;
pub use super::rag::Rag;
pub use super::related::{Lookup, Pick, Series};
pub use super::value::Value;
pub use super::windows::{Unit, Window};
pub use super::within::Within;

/// A metric file (or the standards file) that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {field}: {message}")]
pub struct DefinitionError {
    pub file: String,
    pub line: usize,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polarity {
    Higher,
    Lower,
    Neutral,
}

impl Polarity {
    pub fn name(self) -> &'static str {
        match self {
            Polarity::Higher => "higher_is_better",
            Polarity::Lower => "lower_is_better",
            Polarity::Neutral => "neutral",
        }
    }
}

/// Where a date (or another value) of a row comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A column of the population frame (its own, or `rel.col` of a looked-up parent row),
    /// named as it is in the frame.
    Column { name: String, kind: Kind },
    /// The date picked from a one-to-many relation (index into `Metric::series`).
    Series(usize),
}

#[derive(Debug, Clone)]
pub struct Filter {
    pub text: String,
    pub expr: Expr,
}

#[derive(Debug, Clone)]
pub enum Rows {
    /// Rows belong to the period that contains this date.
    Events { date: Source },
    /// Rows open at each period end: `start <= end of period` and `end` empty or later.
    Open {
        start: Source,
        end: Option<Source>,
        open_for_at_least: Option<Window>,
        /// A series (index into `Metric::series`) whose first row on or before the period
        /// end closes the case: an S47 waits for its conference only until one is held.
        until: Option<usize>,
    },
}

#[derive(Debug, Clone)]
pub struct Population {
    pub table: &'static TableSpec,
    pub filter: Option<Filter>,
    /// Lookups or series that must be found, else the row is not in the population.
    pub require: Vec<String>,
    pub rows: Rows,
    /// Open cases of other tables counted with these (columns of the same names).
    pub also: Vec<Also>,
}

#[derive(Debug, Clone)]
pub struct Metric {
    pub id: String,
    pub file: String,
    pub kind: MetricKind,
    pub title: String,
    pub description: String,
    pub source: String,
    pub polarity: Polarity,
    pub target: Option<f64>,
    pub rag: Option<Rag>,
    pub breakdowns: Vec<(String, Breakdown)>,
    pub population: Population,
    pub lookups: Vec<Lookup>,
    pub series: Vec<Series>,
    pub within: Option<Within>,
    pub condition: Condition,
    pub repeat: Option<Repeat>,
    pub value: Option<Value>,
    pub buckets: Vec<Bucket>,
    /// The cases still waiting for the event (`[awaiting]`), for the worklist.
    pub awaiting: Option<Awaiting>,
}

impl Metric {
    /// Every table the metric reads.
    pub fn tables(&self) -> Vec<&'static str> {
        let mut t = vec![self.population.table.name];
        t.extend(self.population.also.iter().map(|a| a.table.name));
        t.extend(self.lookups.iter().map(|l| l.table.name));
        t.extend(self.series.iter().map(|s| s.table.name));
        if self
            .breakdowns
            .iter()
            .any(|(_, b)| matches!(b, Breakdown::AgeBand))
        {
            t.push(schema::CHILDREN);
        }
        t.sort_unstable();
        t.dedup();
        t
    }
}

/// Local standards (`standards.toml`): values that metric files name instead of a number.
#[derive(Debug, Clone, Default)]
pub struct Standards {
    pub values: BTreeMap<String, f64>,
    /// Children aged 0-17 in the area, for rates per 10,000.
    pub child_population: Option<f64>,
    pub file: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStandards {
    #[serde(default)]
    standards: BTreeMap<String, f64>,
    #[serde(default)]
    child_population: Option<f64>,
}

impl Standards {
    pub fn parse(text: &str, file: &str) -> Result<Standards, DefinitionError> {
        let raw: RawStandards = toml::from_str(text).map_err(|e| toml_error(file, text, e))?;
        check_numbers(file, text)?;
        if let Some(n) = raw.child_population.filter(|n| *n < 1.0) {
            return Err(DefinitionError {
                file: file.to_string(),
                line: text
                    .find("child_population")
                    .map_or(1, |o| line_of(text, o)),
                field: "child_population".into(),
                message: format!(
                    "child_population is the number of children aged 0-17 in the area, at least                      1, not {n}"
                ),
            });
        }
        Ok(Standards {
            values: raw.standards,
            child_population: raw.child_population,
            file: file.to_string(),
        })
    }
}

// ---- The raw TOML shapes -------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetric {
    pub(super) id: Spanned<String>,
    pub(super) kind: Spanned<String>,
    pub(super) title: String,
    pub(super) description: String,
    pub(super) source: String,
    pub(super) polarity: Spanned<String>,
    #[serde(default)]
    pub(super) target: Option<f64>,
    #[serde(default)]
    pub(super) rag: Option<Spanned<RawRag>>,
    #[serde(default)]
    pub(super) breakdowns: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) breakdown: BTreeMap<String, Spanned<String>>,
    pub(super) population: RawPopulation,
    #[serde(default)]
    pub(super) related: BTreeMap<String, Spanned<RawRelated>>,
    #[serde(default)]
    pub(super) within: Option<RawWithin>,
    #[serde(default)]
    pub(super) numerator: Option<RawCondition>,
    #[serde(default)]
    pub(super) repeat: Option<Spanned<RawRepeat>>,
    #[serde(default)]
    pub(super) value: Option<Spanned<RawValue>>,
    #[serde(default)]
    pub(super) buckets: Vec<Spanned<RawBucket>>,
    #[serde(default)]
    pub(super) awaiting: Option<Spanned<RawAwaiting>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPopulation {
    pub(super) table: Spanned<String>,
    #[serde(default)]
    pub(super) date: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) open: Option<Spanned<RawOpen>>,
    #[serde(default)]
    pub(super) filter: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) require: Vec<Spanned<String>>,
    /// More tables whose open cases join the population (a caseload counts assessments,
    /// S47 enquiries and plans).
    #[serde(default)]
    pub(super) also: Vec<Spanned<RawAlso>>,
}

// ---- Errors with lines ----------------------------------------------------------------

pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Refuses a definition holding a number no measure can use (see [`crate::limits`]).
fn check_numbers(file: &str, text: &str) -> Result<(), DefinitionError> {
    crate::limits::toml_numbers(text).map_err(|r| DefinitionError {
        file: file.to_string(),
        line: line_of(text, r.offset),
        field: r.field,
        message: r.message,
    })
}

fn toml_error(file: &str, text: &str, e: toml::de::Error) -> DefinitionError {
    let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
    // toml's message repeats the position and quotes the line; keep its first sentence.
    let message = e.message().trim().to_string();
    // The field: named in the message, else the key written on the offending line.
    let key_on_line = || {
        let l = text.lines().nth(line - 1)?;
        let (k, _) = l.split_once('=')?;
        let k = k.trim().trim_matches('"');
        (!k.is_empty() && !k.starts_with('[')).then(|| k.to_string())
    };
    let field = message
        .split('`')
        .nth(1)
        .filter(|_| message.starts_with("unknown field") || message.starts_with("missing field"))
        .map(str::to_string)
        .or_else(key_on_line)
        .unwrap_or_else(|| "syntax".to_string());
    DefinitionError {
        file: file.to_string(),
        line,
        field,
        message,
    }
}

/// Where a metric file came from, to word its mistakes, and the standards it may name.
pub(super) struct Reader<'a> {
    pub file: &'a str,
    pub text: &'a str,
    pub standards: &'a Standards,
}

impl Reader<'_> {
    pub(super) fn err<T>(
        &self,
        span: std::ops::Range<usize>,
        field: &str,
        message: String,
    ) -> Result<T, DefinitionError> {
        Err(DefinitionError {
            file: self.file.to_string(),
            line: line_of(self.text, span.start),
            field: field.to_string(),
            message,
        })
    }

    /// A table of the extract schema, by the name the file gives it.
    pub(super) fn table(
        &self,
        raw: &Spanned<String>,
        field: &str,
    ) -> Result<&'static TableSpec, DefinitionError> {
        match schema::table(raw.get_ref()) {
            Some(t) => Ok(t),
            None => self.err(
                raw.span(),
                field,
                format!(
                    "unknown table `{}`; valid tables: {}",
                    raw.get_ref(),
                    table_names()
                ),
            ),
        }
    }

    pub(super) fn filter(
        &self,
        raw: &Spanned<String>,
        field: &str,
        table: &TableSpec,
    ) -> Result<Filter, DefinitionError> {
        let text = raw.get_ref().trim().to_string();
        let expr = crate::limits::sql_filter(&text).map_err(|message| DefinitionError {
            file: self.file.to_string(),
            line: line_of(self.text, raw.span().start),
            field: field.to_string(),
            message,
        })?;
        for name in expr.clone().meta().root_names() {
            if table.column(name.as_str()).is_none() {
                return self.err(
                    raw.span(),
                    field,
                    format!(
                        "`{name}` is not a column of {}; valid columns: {}",
                        table.name,
                        column_names(table)
                    ),
                );
            }
        }
        Ok(Filter { text, expr })
    }
}

pub(super) fn column_names(t: &TableSpec) -> String {
    t.columns
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn table_names() -> String {
    schema::TABLES
        .iter()
        .map(|t| t.name)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn is_date(kind: Kind) -> bool {
    matches!(kind, Kind::Date | Kind::DateTime)
}

/// Names a metric can refer to: the population's columns, `lookup.column`, `series.date`.
pub(super) struct Scope<'a> {
    pub population: &'static TableSpec,
    pub lookups: &'a [Lookup],
    pub series: &'a [Series],
    pub(super) cx: &'a Reader<'a>,
}

impl Scope<'_> {
    pub(super) fn resolve(&self, r: &str) -> Result<Source, String> {
        if let Some((rel, c)) = r.split_once('.') {
            if let Some(l) = self.lookups.iter().find(|l| l.name == rel) {
                return match l.table.column(c) {
                    Some(spec) => Ok(Source::Column {
                        name: format!("{rel}.{c}"),
                        kind: spec.kind,
                    }),
                    None => Err(format!(
                        "`{c}` is not a column of {} (related `{rel}`); valid columns: {}",
                        l.table.name,
                        column_names(l.table)
                    )),
                };
            }
            if let Some(i) = self.series.iter().position(|s| s.name == rel) {
                let s = &self.series[i];
                return if c == s.date_col {
                    Ok(Source::Series(i))
                } else {
                    Err(format!(
                        "related `{rel}` picks one date from {}: write `{rel}.{}`",
                        s.table.name, s.date_col
                    ))
                };
            }
            let mut names: Vec<&str> = self.lookups.iter().map(|l| l.name.as_str()).collect();
            names.extend(self.series.iter().map(|s| s.name.as_str()));
            return Err(format!(
                "no related table named `{rel}` in this file; declare it as [related.{rel}]{}",
                if names.is_empty() {
                    String::new()
                } else {
                    format!(" (declared: {})", names.join(", "))
                }
            ));
        }
        match self.population.column(r) {
            Some(spec) => Ok(Source::Column {
                name: r.to_string(),
                kind: spec.kind,
            }),
            None => Err(format!(
                "`{r}` is not a column of {}; valid columns: {}, or `related.column`",
                self.population.name,
                column_names(self.population)
            )),
        }
    }

    /// Resolves a name written at `s`, refusing it in the file's words.
    pub(super) fn source(
        &self,
        s: &Spanned<String>,
        field: &str,
    ) -> Result<Source, DefinitionError> {
        self.resolve(s.get_ref().trim())
            .or_else(|e| self.cx.err(s.span(), field, e))
    }

    /// Resolves a name that must be a date (or date-time).
    pub(super) fn date(&self, s: &Spanned<String>, field: &str) -> Result<Source, DefinitionError> {
        let src = self.source(s, field)?;
        if !is_date(source_kind(&src)) {
            return self
                .cx
                .err(s.span(), field, format!("`{}` is not a date", s.get_ref()));
        }
        Ok(src)
    }
}

pub(super) fn source_kind(s: &Source) -> Kind {
    match s {
        Source::Column { kind, .. } => *kind,
        Source::Series(_) => Kind::Date,
    }
}

/// Reads and checks one metric file.
pub fn parse_metric(
    text: &str,
    file: &str,
    standards: &Standards,
) -> Result<Metric, DefinitionError> {
    let raw: RawMetric = toml::from_str(text).map_err(|e| toml_error(file, text, e))?;
    check_numbers(file, text)?;
    let cx = Reader {
        file,
        text,
        standards,
    };

    let id = read_id(&cx, &raw.id)?;
    let kind = read_kind(&cx, &raw.kind)?;
    let polarity = read_polarity(&cx, &raw.polarity)?;
    let rag = rag::read(&cx, raw.rag.as_ref(), polarity)?;

    let population_table = cx.table(&raw.population.table, "population.table")?;
    let population_filter = match &raw.population.filter {
        Some(f) => Some(cx.filter(f, "population.filter", population_table)?),
        None => None,
    };
    let (lookups, series) = related::read(&cx, &raw.related, population_table)?;
    let scope = Scope {
        population: population_table,
        lookups: &lookups,
        series: &series,
        cx: &cx,
    };
    let require = read_require(&scope, &raw.population.require)?;
    let rows = read_rows(&scope, &raw.population)?;
    let is_open = matches!(rows, Rows::Open { .. });
    let also = open::read_also(&cx, &raw, is_open)?;
    let within = within::read(&cx, &scope, raw.within.as_ref())?;
    let condition = condition::read(
        &cx,
        &scope,
        raw.numerator.as_ref(),
        population_table,
        is_open,
    )?;
    let repeat = repeat::read(&cx, raw.repeat.as_ref())?;
    let value = value::read(
        &cx,
        &scope,
        raw.value.as_ref(),
        within.is_some(),
        is_open,
        kind,
    )?;
    let buckets = distribution::read_buckets(&cx, &raw.buckets)?;
    let awaiting = awaiting::read(
        &cx,
        raw.awaiting.as_ref(),
        (kind, &rows, within.as_ref()),
        &lookups,
        &series,
    )?;

    // What the kind needs, then the tables it does not read.
    let draft = Draft {
        cx: &cx,
        raw: &raw,
        kind,
        is_open,
        within: within.as_ref(),
        condition: &condition,
        has_repeat: repeat.is_some(),
        has_value: value.is_some(),
        has_buckets: !buckets.is_empty(),
    };
    kind.rules().check(&draft)?;
    draft.refuse_unread(kind.rules().reads())?;

    let breakdowns = breakdowns::read(
        &cx,
        &scope,
        &raw.breakdowns,
        &raw.breakdown,
        population_table,
    )?;

    Ok(Metric {
        id,
        file: file.to_string(),
        kind,
        title: raw.title,
        description: raw.description,
        source: raw.source,
        polarity,
        target: raw.target,
        rag,
        breakdowns,
        population: Population {
            table: population_table,
            filter: population_filter,
            require,
            rows,
            also,
        },
        lookups,
        series,
        within,
        condition,
        repeat,
        value,
        buckets,
        awaiting,
    })
}

/// The id: lower-case letters, digits and `_`, and the file named after it.
fn read_id(cx: &Reader, raw: &Spanned<String>) -> Result<String, DefinitionError> {
    let file = cx.file;
    let id = raw.get_ref().trim().to_string();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return cx.err(
            raw.span(),
            "id",
            format!("`{id}` is not a valid id: use lower-case letters, digits and `_`"),
        );
    }
    if let Some(stem) = Path::new(file).file_stem().and_then(|s| s.to_str()) {
        if stem != id {
            return cx.err(raw.span(), "id", format!("the id `{id}` differs from the file name `{stem}.toml`: name the file after the id"));
        }
    }
    Ok(id)
}

fn read_kind(cx: &Reader, raw: &Spanned<String>) -> Result<MetricKind, DefinitionError> {
    Ok(match KINDS.iter().find(|(n, _)| n == raw.get_ref()) {
        Some((_, k)) => *k,
        None => {
            let valid: Vec<&str> = KINDS.iter().map(|(n, _)| *n).collect();
            return cx.err(
                raw.span(),
                "kind",
                format!(
                    "unknown kind `{}`; valid kinds: {}",
                    raw.get_ref(),
                    valid.join(", ")
                ),
            );
        }
    })
}

fn read_polarity(cx: &Reader, raw: &Spanned<String>) -> Result<Polarity, DefinitionError> {
    Ok(match raw.get_ref().as_str() {
        "higher" | "higher_is_better" => Polarity::Higher,
        "lower" | "lower_is_better" => Polarity::Lower,
        "neutral" | "none" => Polarity::Neutral,
        other => {
            return cx.err(
                raw.span(),
                "polarity",
                format!("unknown polarity `{other}`; valid: higher, lower, neutral"),
            )
        }
    })
}

/// `population.require`: related tables a row must have.
fn read_require(scope: &Scope, raw: &[Spanned<String>]) -> Result<Vec<String>, DefinitionError> {
    let (cx, lookups, series) = (scope.cx, scope.lookups, scope.series);
    let mut require = Vec::new();
    for r in raw {
        let name = r.get_ref().trim();
        if !lookups.iter().any(|l| l.name == name) && !series.iter().any(|s| s.name == name) {
            return cx.err(
                r.span(),
                "population.require",
                format!("`{name}` is not a related table of this file"),
            );
        }
        require.push(name.to_string());
    }
    Ok(require)
}

/// `population.date` (rows belong to the period of that date) or `population.open` (cases
/// open at each period end).
fn read_rows(scope: &Scope, raw: &RawPopulation) -> Result<Rows, DefinitionError> {
    let cx = scope.cx;
    Ok(match (&raw.date, &raw.open) {
        (Some(d), None) => Rows::Events { date: scope.date(d, "population.date")? },
        (None, Some(o)) => {
            let o2 = o.get_ref();
            Rows::Open {
                start: scope.date(&o2.start, "population.open.start")?,
                end: match &o2.end {
                    Some(e) => Some(scope.date(e, "population.open.end")?),
                    None => None,
                },
                open_for_at_least: match &o2.at_least {
                    Some(w) => Some(cx.window(w, "population.open.at_least")?),
                    None => None,
                },
                until: match &o2.until {
                    Some(u) => Some(until_series(scope, u)?),
                    None => None,
                },
            }
        }
        (Some(d), Some(_)) => return cx.err(d.span(), "population", "give either `date` (rows in the period) or `open` (cases open at the period end), not both".into()),
        (None, None) => return cx.err(raw.table.span(), "population", "give `date = \"<date column>\"` (rows belong to the period of that date) or `open = { start = .., end = .. }` (cases open at the period end)".into()),
    })
}

/// `population.open.until`: a one-to-many related table whose rows close the case.
fn until_series(scope: &Scope, u: &Spanned<String>) -> Result<usize, DefinitionError> {
    match scope.series.iter().position(|s| s.name == *u.get_ref()) {
        Some(i) => Ok(i),
        None => scope.cx.err(
            u.span(),
            "population.open.until",
            format!(
                "`{}` is not a one-to-many related table of this file: declare it as \
                 [related.{}] with `match` and `date`",
                u.get_ref(),
                u.get_ref()
            ),
        ),
    }
}
