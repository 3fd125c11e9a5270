//! The metric language: one TOML file per measure, read and checked against the extract
//! schema before anything is evaluated. Every mistake names the file, the line, the field
//! and what would be valid.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::Expr;
use serde::Deserialize;
use toml::Spanned;

use crate::schema::{self, Kind, TableSpec};

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
pub enum MetricKind {
    /// Numerator / denominator of rows in the period (a `within` rule and/or a condition).
    Ratio,
    /// Rows whose child had an earlier row of the same kind (within a window).
    Repeat,
    /// Cases open at the end of each period, and how many meet a condition.
    Snapshot,
    /// Rows in the period (or open at its end) by bucket of a value.
    Distribution,
    /// How many rows, and the rate per 10,000 children.
    Count,
    /// Median and quartiles of a value.
    Summary,
}

const KINDS: &[(&str, MetricKind)] = &[
    ("ratio", MetricKind::Ratio),
    ("repeat", MetricKind::Repeat),
    ("snapshot", MetricKind::Snapshot),
    ("distribution", MetricKind::Distribution),
    ("count", MetricKind::Count),
    ("summary", MetricKind::Summary),
];

impl MetricKind {
    pub fn name(self) -> &'static str {
        KINDS.iter().find(|(_, k)| *k == self).expect("listed").0
    }
    /// What the `value` column holds for this kind.
    pub fn unit(self) -> &'static str {
        match self {
            MetricKind::Ratio | MetricKind::Repeat | MetricKind::Snapshot => "percent",
            MetricKind::Distribution => "percent",
            MetricKind::Count => "count",
            MetricKind::Summary => "median",
        }
    }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    WorkingDays,
    Days,
    Hours,
    Months,
}

const UNITS: &[(&str, Unit)] = &[
    ("working_days", Unit::WorkingDays),
    ("days", Unit::Days),
    ("hours", Unit::Hours),
    ("months", Unit::Months),
];

impl Unit {
    pub fn name(self) -> &'static str {
        UNITS.iter().find(|(_, u)| *u == self).expect("listed").0
    }
}

/// A length of time: `{ working_days = 15 }`, `{ months = "cp_review_months" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub unit: Unit,
    pub n: i64,
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

/// A many-to-one lookup: the row's `on` value is the key of one row of `table`.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub name: String,
    pub table: &'static TableSpec,
    /// The frame column holding the key.
    pub on: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    First,
    Last,
    /// The last strictly before the row's date (or the period end for snapshots).
    Previous,
    /// The last on or before the row's date (or the period end).
    Latest,
    /// Whether there is one (any date).
    Any,
    /// How many, on or before the row's date, within `window` before it.
    Count,
}

const PICKS: &[(&str, Pick)] = &[
    ("first", Pick::First),
    ("last", Pick::Last),
    ("previous", Pick::Previous),
    ("latest", Pick::Latest),
    ("any", Pick::Any),
    ("count", Pick::Count),
];

/// A one-to-many relation: the rows of `table` whose `match_col` equals the row's `on`.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub table: &'static TableSpec,
    pub on: String,
    pub match_col: &'static str,
    pub date_col: &'static str,
    pub filter: Option<Filter>,
    pub pick: Pick,
    pub window: Option<Window>,
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

/// Another table whose open cases join an open population.
#[derive(Debug, Clone)]
pub struct Also {
    pub table: &'static TableSpec,
    pub filter: Option<Filter>,
    pub start: &'static str,
    pub end: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub struct Within {
    /// Alternatives: the first with a date is used, with its own limit.
    pub from: Vec<(Source, Option<Window>)>,
    pub to: Source,
    pub unit: Unit,
}

#[derive(Debug, Clone)]
pub struct Recent {
    pub series: usize,
    pub window: Window,
    pub not_before: Option<Source>,
}

#[derive(Debug, Clone, Default)]
pub struct Condition {
    pub filter: Option<Filter>,
    /// Related rows that must exist (`true`) or must not (`false`).
    pub exists: Vec<(Source, bool)>,
    pub open_for_at_least: Option<Window>,
    pub recent: Option<Recent>,
}

#[derive(Debug, Clone, Copy)]
pub struct Repeat {
    pub window: Option<Window>,
    pub at_least: u32,
}

#[derive(Debug, Clone)]
pub enum Value {
    /// Elapsed time of the `within` rule (rows not yet ended are left out).
    Span,
    /// Whole calendar months from the start to the period end (open rows).
    MonthsOpen,
    /// 1 for the child's first row, 2 for the second, ...
    Sequence,
    /// The number picked by a `count` relation.
    RelatedCount(usize),
    /// How many distinct children each value of this column holds at the period end
    /// (a caseload): the summary is over those values.
    PerGroup(Source),
}

#[derive(Debug, Clone)]
pub struct Bucket {
    pub label: String,
    /// Values below this fall in this bucket (the last bucket has none).
    pub below: Option<f64>,
}

#[derive(Debug, Clone)]
pub enum Breakdown {
    Column(Source),
    /// The child's age at the row's date (or the period end), in the DfE's bands.
    AgeBand,
}

#[derive(Debug, Clone, Copy)]
pub struct Rag {
    pub green: f64,
    pub amber: f64,
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
struct RawMetric {
    id: Spanned<String>,
    kind: Spanned<String>,
    title: String,
    description: String,
    source: String,
    polarity: Spanned<String>,
    #[serde(default)]
    target: Option<f64>,
    #[serde(default)]
    rag: Option<Spanned<RawRag>>,
    #[serde(default)]
    breakdowns: Vec<Spanned<String>>,
    #[serde(default)]
    breakdown: BTreeMap<String, Spanned<String>>,
    population: RawPopulation,
    #[serde(default)]
    related: BTreeMap<String, Spanned<RawRelated>>,
    #[serde(default)]
    within: Option<RawWithin>,
    #[serde(default)]
    numerator: Option<RawCondition>,
    #[serde(default)]
    repeat: Option<Spanned<RawRepeat>>,
    #[serde(default)]
    value: Option<Spanned<RawValue>>,
    #[serde(default)]
    buckets: Vec<Spanned<RawBucket>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRag {
    green: f64,
    amber: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPopulation {
    table: Spanned<String>,
    #[serde(default)]
    date: Option<Spanned<String>>,
    #[serde(default)]
    open: Option<Spanned<RawOpen>>,
    #[serde(default)]
    filter: Option<Spanned<String>>,
    #[serde(default)]
    require: Vec<Spanned<String>>,
    /// More tables whose open cases join the population (a caseload counts assessments,
    /// S47 enquiries and plans).
    #[serde(default)]
    also: Vec<Spanned<RawAlso>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlso {
    table: Spanned<String>,
    open: Spanned<RawOpen>,
    #[serde(default)]
    filter: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOpen {
    start: Spanned<String>,
    #[serde(default)]
    end: Option<Spanned<String>>,
    #[serde(default)]
    at_least: Option<Spanned<BTreeMap<String, toml::Value>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelated {
    table: Spanned<String>,
    on: Spanned<String>,
    #[serde(default, rename = "match")]
    match_col: Option<Spanned<String>>,
    #[serde(default)]
    date: Option<Spanned<String>>,
    #[serde(default)]
    pick: Option<Spanned<String>>,
    #[serde(default)]
    filter: Option<Spanned<String>>,
    #[serde(default)]
    window: Option<Spanned<BTreeMap<String, toml::Value>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWithin {
    /// A column, or a list of `{ column = .., limit = { .. } }`: the first with a date wins.
    from: Spanned<toml::Value>,
    to: Spanned<String>,
    #[serde(default)]
    limit: Option<Spanned<BTreeMap<String, toml::Value>>>,
    #[serde(default)]
    unit: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    #[serde(default)]
    filter: Option<Spanned<String>>,
    #[serde(default)]
    exists: Vec<Spanned<String>>,
    #[serde(default)]
    absent: Vec<Spanned<String>>,
    #[serde(default)]
    open_for_at_least: Option<Spanned<BTreeMap<String, toml::Value>>>,
    #[serde(default)]
    recent: Option<Spanned<RawRecent>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecent {
    related: Spanned<String>,
    within: Spanned<BTreeMap<String, toml::Value>>,
    #[serde(default)]
    not_before: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRepeat {
    #[serde(default)]
    within: Option<Spanned<BTreeMap<String, toml::Value>>>,
    #[serde(default)]
    at_least: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValue {
    measure: Spanned<String>,
    #[serde(default)]
    related: Option<Spanned<String>>,
    #[serde(default)]
    per: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBucket {
    label: String,
    #[serde(default)]
    below: Option<f64>,
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

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
    standards: &'a Standards,
}

impl Ctx<'_> {
    fn err<T>(
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

    fn window(
        &self,
        raw: &Spanned<BTreeMap<String, toml::Value>>,
        field: &str,
    ) -> Result<Window, DefinitionError> {
        let units = UNITS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
        let map = raw.get_ref();
        if map.len() != 1 {
            return self.err(
                raw.span(),
                field,
                format!(
                    "write one unit and an amount, like `{{ working_days = 15 }}`; units: {units}"
                ),
            );
        }
        let (name, v) = map.iter().next().expect("one entry");
        let Some(unit) = UNITS.iter().find(|(n, _)| n == name).map(|(_, u)| *u) else {
            return self.err(
                raw.span(),
                field,
                format!("unknown unit `{name}`; valid units: {units}"),
            );
        };
        let n = match v {
            toml::Value::Integer(i) => *i as f64,
            toml::Value::Float(f) => *f,
            toml::Value::String(s) => match self.standards.values.get(s) {
                Some(n) => *n,
                None => {
                    let known: Vec<&str> =
                        self.standards.values.keys().map(String::as_str).collect();
                    return self.err(
                        raw.span(),
                        field,
                        format!(
                            "no local standard named `{s}` in {}; known standards: {}",
                            if self.standards.file.is_empty() {
                                "the standards file"
                            } else {
                                &self.standards.file
                            },
                            if known.is_empty() {
                                "(none)".to_string()
                            } else {
                                known.join(", ")
                            }
                        ),
                    );
                }
            },
            _ => {
                return self.err(
                    raw.span(),
                    field,
                    "the amount must be a whole number or the name of a local standard".into(),
                )
            }
        };
        if n < 0.0 || n.fract() != 0.0 {
            return self.err(
                raw.span(),
                field,
                format!("the amount must be a whole number of {name}, not {n}"),
            );
        }
        let max = crate::limits::max_window(unit);
        if n > max as f64 {
            return self.err(
                raw.span(),
                field,
                format!(
                    "{n} {name} is longer than any standard: a window is at most {} years ({max} {name})",
                    crate::limits::MAX_WINDOW_YEARS
                ),
            );
        }
        Ok(Window { unit, n: n as i64 })
    }

    fn filter(
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

fn column_names(t: &TableSpec) -> String {
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

fn is_date(kind: Kind) -> bool {
    matches!(kind, Kind::Date | Kind::DateTime)
}

/// Names a metric can refer to: the population's columns, `lookup.column`, `series.date`.
struct Scope<'a> {
    population: &'static TableSpec,
    lookups: &'a [Lookup],
    series: &'a [Series],
}

impl Scope<'_> {
    fn resolve(&self, r: &str) -> Result<Source, String> {
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
}

fn source_kind(s: &Source) -> Kind {
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
    let cx = Ctx {
        file,
        text,
        standards,
    };

    let id = raw.id.get_ref().trim().to_string();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return cx.err(
            raw.id.span(),
            "id",
            format!("`{id}` is not a valid id: use lower-case letters, digits and `_`"),
        );
    }
    if let Some(stem) = Path::new(file).file_stem().and_then(|s| s.to_str()) {
        if stem != id {
            return cx.err(raw.id.span(), "id", format!("the id `{id}` differs from the file name `{stem}.toml`: name the file after the id"));
        }
    }
    let kind = match KINDS.iter().find(|(n, _)| n == raw.kind.get_ref()) {
        Some((_, k)) => *k,
        None => {
            let valid: Vec<&str> = KINDS.iter().map(|(n, _)| *n).collect();
            return cx.err(
                raw.kind.span(),
                "kind",
                format!(
                    "unknown kind `{}`; valid kinds: {}",
                    raw.kind.get_ref(),
                    valid.join(", ")
                ),
            );
        }
    };
    let polarity = match raw.polarity.get_ref().as_str() {
        "higher" | "higher_is_better" => Polarity::Higher,
        "lower" | "lower_is_better" => Polarity::Lower,
        "neutral" | "none" => Polarity::Neutral,
        other => {
            return cx.err(
                raw.polarity.span(),
                "polarity",
                format!("unknown polarity `{other}`; valid: higher, lower, neutral"),
            )
        }
    };
    let rag = match &raw.rag {
        None => None,
        Some(r) => {
            let v = r.get_ref();
            let ordered = match polarity {
                Polarity::Higher => v.green >= v.amber,
                Polarity::Lower => v.green <= v.amber,
                Polarity::Neutral => false,
            };
            if !ordered {
                return cx.err(
                    r.span(),
                    "rag",
                    match polarity {
                        Polarity::Neutral => {
                            "a neutral measure has no RAG: remove `rag` or set a polarity".into()
                        }
                        Polarity::Higher => format!(
                            "higher is better, so green ({}) must be at least amber ({})",
                            v.green, v.amber
                        ),
                        Polarity::Lower => format!(
                            "lower is better, so green ({}) must be at most amber ({})",
                            v.green, v.amber
                        ),
                    },
                );
            }
            Some(Rag {
                green: v.green,
                amber: v.amber,
            })
        }
    };

    // Population table.
    let Some(population_table) = schema::table(raw.population.table.get_ref()) else {
        return cx.err(
            raw.population.table.span(),
            "population.table",
            format!(
                "unknown table `{}`; valid tables: {}",
                raw.population.table.get_ref(),
                table_names()
            ),
        );
    };
    let population_filter = match &raw.population.filter {
        Some(f) => Some(cx.filter(f, "population.filter", population_table)?),
        None => None,
    };

    // Related tables: lookups (many-to-one) first, in an order where each `on` is known.
    let mut lookups: Vec<Lookup> = Vec::new();
    let mut series: Vec<Series> = Vec::new();
    let mut pending: Vec<(&String, &Spanned<RawRelated>)> = raw.related.iter().collect();
    // Names of all related entries, so an `on` can name one declared later.
    while !pending.is_empty() {
        let before = pending.len();
        let mut left = Vec::new();
        for (name, r) in pending {
            let rr = r.get_ref();
            let field = format!("related.{name}");
            if name.contains('.') || name.starts_with('_') {
                return cx.err(
                    r.span(),
                    &field,
                    "a related name is a plain word like `s47`".into(),
                );
            }
            let Some(table) = schema::table(rr.table.get_ref()) else {
                return cx.err(
                    rr.table.span(),
                    &format!("{field}.table"),
                    format!(
                        "unknown table `{}`; valid tables: {}",
                        rr.table.get_ref(),
                        table_names()
                    ),
                );
            };
            let scope = Scope {
                population: population_table,
                lookups: &lookups,
                series: &series,
            };
            let on = match scope.resolve(rr.on.get_ref()) {
                Ok(Source::Column { name, .. }) => name,
                Ok(Source::Series(_)) => {
                    return cx.err(
                        rr.on.span(),
                        &format!("{field}.on"),
                        "`on` must be a column holding a key, not a picked date".into(),
                    )
                }
                Err(e) => {
                    // It may name a lookup declared later: try again on the next round.
                    if rr.on.get_ref().contains('.')
                        && raw
                            .related
                            .contains_key(rr.on.get_ref().split('.').next().unwrap_or(""))
                    {
                        left.push((name, r));
                        continue;
                    }
                    return cx.err(rr.on.span(), &format!("{field}.on"), e);
                }
            };
            match &rr.match_col {
                None => {
                    // Many-to-one: `on` holds the key of `table`.
                    for (what, v) in [
                        ("date", &rr.date),
                        ("pick", &rr.pick),
                        ("filter", &rr.filter),
                    ] {
                        if let Some(v) = v {
                            return cx.err(v.span(), &format!("{field}.{what}"), format!("`{what}` applies to a one-to-many relation: add `match = \"<column of {}>\"`, or remove `{what}`", table.name));
                        }
                    }
                    lookups.push(Lookup {
                        name: name.clone(),
                        table,
                        on,
                    });
                }
                Some(m) => {
                    let Some(match_spec) = table.column(m.get_ref()) else {
                        return cx.err(
                            m.span(),
                            &format!("{field}.match"),
                            format!(
                                "`{}` is not a column of {}; valid columns: {}",
                                m.get_ref(),
                                table.name,
                                column_names(table)
                            ),
                        );
                    };
                    let date_col = match &rr.date {
                        Some(d) => match table.column(d.get_ref()) {
                            Some(c) if is_date(c.kind) => c.name,
                            _ => {
                                let dates: Vec<&str> = table.columns.iter().filter(|c| is_date(c.kind)).map(|c| c.name).collect();
                                return cx.err(d.span(), &format!("{field}.date"), format!("`{}` is not a date column of {}; date columns: {}", d.get_ref(), table.name, dates.join(", ")));
                            }
                        },
                        None => {
                            return cx.err(r.span(), &format!("{field}.date"), format!("a one-to-many relation needs `date`: the column of {} that orders its rows", table.name))
                        }
                    };
                    let pick = match &rr.pick {
                        None => Pick::First,
                        Some(p) => match PICKS.iter().find(|(n, _)| n == p.get_ref()) {
                            Some((_, k)) => *k,
                            None => {
                                let valid: Vec<&str> = PICKS.iter().map(|(n, _)| *n).collect();
                                return cx.err(
                                    p.span(),
                                    &format!("{field}.pick"),
                                    format!(
                                        "unknown pick `{}`; valid: {}",
                                        p.get_ref(),
                                        valid.join(", ")
                                    ),
                                );
                            }
                        },
                    };
                    let window = match &rr.window {
                        Some(w) if pick == Pick::Count => {
                            Some(cx.window(w, &format!("{field}.window"))?)
                        }
                        Some(w) => {
                            return cx.err(
                                w.span(),
                                &format!("{field}.window"),
                                "`window` applies to `pick = \"count\"` only".into(),
                            )
                        }
                        None => None,
                    };
                    let filter = match &rr.filter {
                        Some(f) => Some(cx.filter(f, &format!("{field}.filter"), table)?),
                        None => None,
                    };
                    series.push(Series {
                        name: name.clone(),
                        table,
                        on,
                        match_col: match_spec.name,
                        date_col,
                        filter,
                        pick,
                        window,
                    });
                }
            }
        }
        if left.len() == before {
            let (name, r) = left[0];
            return cx.err(
                r.get_ref().on.span(),
                &format!("related.{name}.on"),
                "these related tables refer to each other in a circle".into(),
            );
        }
        pending = left;
    }
    let scope = Scope {
        population: population_table,
        lookups: &lookups,
        series: &series,
    };
    let resolve = |s: &Spanned<String>, field: &str| -> Result<Source, DefinitionError> {
        scope
            .resolve(s.get_ref().trim())
            .or_else(|e| cx.err(s.span(), field, e))
    };
    let resolve_date = |s: &Spanned<String>, field: &str| -> Result<Source, DefinitionError> {
        let src = resolve(s, field)?;
        if !is_date(source_kind(&src)) {
            return cx.err(s.span(), field, format!("`{}` is not a date", s.get_ref()));
        }
        Ok(src)
    };

    let mut require = Vec::new();
    for r in &raw.population.require {
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

    let rows = match (&raw.population.date, &raw.population.open) {
        (Some(d), None) => Rows::Events { date: resolve_date(d, "population.date")? },
        (None, Some(o)) => {
            let o2 = o.get_ref();
            Rows::Open {
                start: resolve_date(&o2.start, "population.open.start")?,
                end: match &o2.end {
                    Some(e) => Some(resolve_date(e, "population.open.end")?),
                    None => None,
                },
                open_for_at_least: match &o2.at_least {
                    Some(w) => Some(cx.window(w, "population.open.at_least")?),
                    None => None,
                },
            }
        }
        (Some(d), Some(_)) => return cx.err(d.span(), "population", "give either `date` (rows in the period) or `open` (cases open at the period end), not both".into()),
        (None, None) => return cx.err(raw.population.table.span(), "population", "give `date = \"<date column>\"` (rows belong to the period of that date) or `open = { start = .., end = .. }` (cases open at the period end)".into()),
    };
    let is_open = matches!(rows, Rows::Open { .. });

    let mut also = Vec::new();
    for a in &raw.population.also {
        let ar = a.get_ref();
        let field = "population.also";
        if !is_open {
            return cx.err(
                a.span(),
                field,
                "`also` joins open cases: the population needs `open`".into(),
            );
        }
        if !raw.related.is_empty() || raw.within.is_some() || raw.numerator.is_some() {
            return cx.err(a.span(), field, "a population with `also` counts open cases only: it cannot have [related], [within] or [numerator]".into());
        }
        let Some(table) = schema::table(ar.table.get_ref()) else {
            return cx.err(
                ar.table.span(),
                "population.also.table",
                format!(
                    "unknown table `{}`; valid tables: {}",
                    ar.table.get_ref(),
                    table_names()
                ),
            );
        };
        let date = |s: &Spanned<String>, f: &str| -> Result<&'static str, DefinitionError> {
            match table.column(s.get_ref()) {
                Some(c) if is_date(c.kind) => Ok(c.name),
                _ => cx.err(
                    s.span(),
                    f,
                    format!("`{}` is not a date column of {}", s.get_ref(), table.name),
                ),
            }
        };
        let o = ar.open.get_ref();
        if o.at_least.is_some() {
            return cx.err(
                ar.open.span(),
                "population.also.open",
                "`at_least` belongs to the main `population.open`".into(),
            );
        }
        // Every column the measure reads from a row must exist under the same name.
        let mut needed: Vec<&Spanned<String>> = raw
            .breakdowns
            .iter()
            .filter(|b| b.get_ref() != "age_band")
            .collect();
        if let Some(v) = &raw.value {
            needed.extend(v.get_ref().per.iter());
        }
        for n in needed {
            let name = raw
                .breakdown
                .get(n.get_ref())
                .map_or(n.get_ref().as_str(), |m| m.get_ref().as_str());
            if table.column(name).is_none() {
                return cx.err(
                    a.span(),
                    field,
                    format!(
                        "{} has no column `{name}`, which this measure reads from every row",
                        table.name
                    ),
                );
            }
        }
        if table.column(schema::CHILD_ID).is_none() {
            return cx.err(
                ar.table.span(),
                "population.also.table",
                format!("{} has no child_id", table.name),
            );
        }
        also.push(Also {
            table,
            filter: match &ar.filter {
                Some(f) => Some(cx.filter(f, "population.also.filter", table)?),
                None => None,
            },
            start: date(&o.start, "population.also.open.start")?,
            end: match &o.end {
                Some(e) => Some(date(e, "population.also.open.end")?),
                None => None,
            },
        });
    }

    let within = match &raw.within {
        None => None,
        Some(w) => {
            let default_limit = match &w.limit {
                Some(l) => Some(cx.window(l, "within.limit")?),
                None => None,
            };
            let mut from = Vec::new();
            let span = w.from.span();
            let shape = "write `from = \"<date column>\"`, or a list of `{ column = \"..\", limit = { months = 3 } }`";
            match w.from.get_ref() {
                toml::Value::String(s) => from.push((
                    resolve_date(&Spanned::new(span.clone(), s.clone()), "within.from")?,
                    default_limit,
                )),
                toml::Value::Array(alts) if !alts.is_empty() => {
                    for a in alts {
                        let Some(t) = a.as_table() else {
                            return cx.err(span, "within.from", shape.into());
                        };
                        if let Some(k) = t.keys().find(|k| *k != "column" && *k != "limit") {
                            return cx.err(
                                span,
                                "within.from",
                                format!("unknown field `{k}`: {shape}"),
                            );
                        }
                        let (Some(toml::Value::String(c)), Some(toml::Value::Table(l))) =
                            (t.get("column"), t.get("limit"))
                        else {
                            return cx.err(span, "within.from", shape.into());
                        };
                        let limit: BTreeMap<String, toml::Value> =
                            l.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                        from.push((
                            resolve_date(
                                &Spanned::new(span.clone(), c.clone()),
                                "within.from.column",
                            )?,
                            Some(
                                cx.window(&Spanned::new(span.clone(), limit), "within.from.limit")?,
                            ),
                        ));
                    }
                }
                _ => return cx.err(span, "within.from", shape.into()),
            }
            let to = resolve_date(&w.to, "within.to")?;
            let unit =
                match (&w.unit, from.iter().find_map(|(_, l)| *l)) {
                    (_, Some(l)) => l.unit,
                    (Some(u), None) => match UNITS.iter().find(|(n, _)| n == u.get_ref()) {
                        Some((_, u)) => *u,
                        None => {
                            return cx.err(
                                u.span(),
                                "within.unit",
                                format!("unknown unit `{}`", u.get_ref()),
                            )
                        }
                    },
                    (None, None) => return cx.err(
                        w.to.span(),
                        "within",
                        "give `limit = { working_days = N }` (or `unit` for a summary of spans)"
                            .into(),
                    ),
                };
            if from.iter().any(|(_, l)| l.is_some_and(|l| l.unit != unit)) {
                return cx.err(
                    w.from.span(),
                    "within",
                    "every limit must use the same unit".into(),
                );
            }
            if unit == Unit::Hours
                && !(std::iter::once(&to).chain(from.iter().map(|(s, _)| s)))
                    .all(|s| source_kind(s) == Kind::DateTime)
            {
                return cx.err(w.to.span(), "within", "hours need date-and-time columns on both sides; use working_days or days for dates".into());
            }
            Some(Within { from, to, unit })
        }
    };

    let mut condition = Condition::default();
    if let Some(n) = &raw.numerator {
        if let Some(f) = &n.filter {
            condition.filter = Some(cx.filter(f, "numerator.filter", population_table)?);
        }
        let listed = n.exists.iter().map(|e| (e, true, "numerator.exists"));
        for (e, present, field) in
            listed.chain(n.absent.iter().map(|e| (e, false, "numerator.absent")))
        {
            let name = e.get_ref().trim();
            if let Some(l) = lookups.iter().find(|l| l.name == name) {
                let key = Source::Column {
                    name: format!("{}.{}", l.name, l.table.key),
                    kind: Kind::Id,
                };
                condition.exists.push((key, present));
            } else if let Some(i) = series.iter().position(|s| s.name == name) {
                condition.exists.push((Source::Series(i), present));
            } else {
                return cx.err(
                    e.span(),
                    field,
                    format!("`{name}` is not a related table of this file"),
                );
            }
        }
        if let Some(w) = &n.open_for_at_least {
            if !is_open {
                return cx.err(
                    w.span(),
                    "numerator.open_for_at_least",
                    "applies to cases open at the period end (`population.open`)".into(),
                );
            }
            condition.open_for_at_least = Some(cx.window(w, "numerator.open_for_at_least")?);
        }
        if let Some(r) = &n.recent {
            let rr = r.get_ref();
            let Some(i) = series.iter().position(|s| s.name == *rr.related.get_ref()) else {
                return cx.err(
                    rr.related.span(),
                    "numerator.recent.related",
                    format!(
                        "`{}` is not a one-to-many related table of this file",
                        rr.related.get_ref()
                    ),
                );
            };
            if series[i].pick != Pick::Latest {
                return cx.err(
                    rr.related.span(),
                    "numerator.recent.related",
                    format!("`{}` must use `pick = \"latest\"`", rr.related.get_ref()),
                );
            }
            condition.recent = Some(Recent {
                series: i,
                window: cx.window(&rr.within, "numerator.recent.within")?,
                not_before: match &rr.not_before {
                    Some(s) => Some(resolve_date(s, "numerator.recent.not_before")?),
                    None => None,
                },
            });
        }
    }
    let has_condition = condition.filter.is_some()
        || !condition.exists.is_empty()
        || condition.open_for_at_least.is_some()
        || condition.recent.is_some();

    let repeat = match &raw.repeat {
        Some(r) => Some(Repeat {
            window: match &r.get_ref().within {
                Some(w) => Some(cx.window(w, "repeat.within")?),
                None => None,
            },
            at_least: r.get_ref().at_least.unwrap_or(1).max(1),
        }),
        None => None,
    };

    let value = match &raw.value {
        None => None,
        Some(v) => {
            let vr = v.get_ref();
            let m = vr.measure.get_ref().as_str();
            Some(match m {
                "span" if within.is_some() => Value::Span,
                "span" => return cx.err(vr.measure.span(), "value.measure", "`span` measures the [within] rule: add one".into()),
                "months_open" if is_open => Value::MonthsOpen,
                "months_open" => return cx.err(vr.measure.span(), "value.measure", "`months_open` needs `population.open`".into()),
                "sequence" if !is_open => Value::Sequence,
                "sequence" => {
                    return cx.err(
                        vr.measure.span(),
                        "value.measure",
                        "`sequence` numbers rows in the period: use `population.date`".into(),
                    )
                }
                "related_count" => {
                    let Some(r) = &vr.related else {
                        return cx.err(vr.measure.span(), "value.related", "name the related table to count: `related = \"contacts\"`".into());
                    };
                    match series.iter().position(|s| s.name == *r.get_ref() && s.pick == Pick::Count) {
                        Some(i) => Value::RelatedCount(i),
                        None => return cx.err(r.span(), "value.related", format!("`{}` is not a related table with `pick = \"count\"`", r.get_ref())),
                    }
                }
                "per_group" => {
                    let Some(p) = &vr.per else {
                        return cx.err(vr.measure.span(), "value.per", "name the column to group by: `per = \"worker\"`".into());
                    };
                    if !is_open || kind != MetricKind::Summary {
                        return cx.err(p.span(), "value.per", "`per_group` is a summary of cases open at the period end: use `kind = \"summary\"` and `population.open`".into());
                    }
                    Value::PerGroup(resolve(p, "value.per")?)
                }
                other => return cx.err(vr.measure.span(), "value.measure", format!("unknown measure `{other}`; valid: span, months_open (open cases), sequence (rows in the period), related_count, per_group (open cases)")),
            })
        }
    };

    let mut buckets = Vec::new();
    for (i, b) in raw.buckets.iter().enumerate() {
        let br = b.get_ref();
        let last = i + 1 == raw.buckets.len();
        match (br.below, last) {
            (None, false) => {
                return cx.err(
                    b.span(),
                    "buckets",
                    "every bucket but the last needs `below`".into(),
                )
            }
            (Some(_), true) => {
                return cx.err(
                    b.span(),
                    "buckets",
                    "the last bucket takes everything left: remove its `below`".into(),
                )
            }
            _ => {}
        }
        if let (Some(x), Some(prev)) = (br.below, buckets.last().and_then(|p: &Bucket| p.below)) {
            if x <= prev {
                return cx.err(
                    b.span(),
                    "buckets",
                    "`below` must increase from one bucket to the next".into(),
                );
            }
        }
        buckets.push(Bucket {
            label: br.label.clone(),
            below: br.below,
        });
    }

    // What each kind needs.
    let need = |ok: bool, field: &str, msg: &str| -> Result<(), DefinitionError> {
        if ok {
            Ok(())
        } else {
            cx.err(
                raw.kind.span(),
                field,
                format!("a `{}` measure {msg}", kind.name()),
            )
        }
    };
    match kind {
        MetricKind::Ratio => {
            need(
                !is_open,
                "population",
                "counts rows in the period: use `population.date` (a `snapshot` counts open cases)",
            )?;
            need(
                within
                    .as_ref()
                    .is_some_and(|w| w.from.iter().all(|(_, l)| l.is_some()))
                    || has_condition,
                "within",
                "needs a [within] rule with a limit, or a [numerator] condition",
            )?;
        }
        MetricKind::Snapshot => {
            need(
                is_open,
                "population.open",
                "needs `population.open = { start = .., end = .. }`",
            )?;
            need(has_condition, "numerator", "needs a [numerator] condition")?;
        }
        MetricKind::Repeat => {
            need(
                !is_open,
                "population.date",
                "counts rows in the period: use `population.date`",
            )?;
            need(
                repeat.is_some(),
                "repeat",
                "needs a [repeat] table (`within = { months = 12 }`, optional)",
            )?;
        }
        MetricKind::Distribution => {
            need(value.is_some(), "value", "needs [value] `measure`")?;
            need(
                !buckets.is_empty(),
                "buckets",
                "needs [[buckets]] with `label` and `below`",
            )?;
        }
        MetricKind::Summary => need(value.is_some(), "value", "needs [value] `measure`")?,
        MetricKind::Count => {}
    }
    if !matches!(kind, MetricKind::Ratio | MetricKind::Snapshot) {
        if let Some(n) = &raw.numerator {
            let span = n
                .filter
                .as_ref()
                .map(|f| f.span())
                .unwrap_or(raw.kind.span());
            return cx.err(
                span,
                "numerator",
                format!("a `{}` measure has no numerator condition", kind.name()),
            );
        }
    }
    if kind != MetricKind::Repeat {
        if let Some(r) = &raw.repeat {
            return cx.err(
                r.span(),
                "repeat",
                "[repeat] belongs to a `repeat` measure".into(),
            );
        }
    }
    let has_value = matches!(kind, MetricKind::Distribution | MetricKind::Summary);
    if let (false, Some(v)) = (has_value, &raw.value) {
        return cx.err(
            v.span(),
            "value",
            format!(
                "a `{}` measure has no [value]; use `distribution` or `summary`",
                kind.name()
            ),
        );
    }

    let mut breakdowns = Vec::new();
    for b in &raw.breakdowns {
        let name = b.get_ref().trim().to_string();
        let bd = if let Some(over) = raw.breakdown.get(&name) {
            Breakdown::Column(resolve(over, &format!("breakdown.{name}"))?)
        } else if name == "age_band" {
            if population_table.column(schema::CHILD_ID).is_none() {
                return cx.err(
                    b.span(),
                    "breakdowns",
                    format!("{} has no child_id, so no age band", population_table.name),
                );
            }
            Breakdown::AgeBand
        } else {
            match scope.resolve(&name) {
                Ok(s) => Breakdown::Column(s),
                Err(e) => {
                    return cx.err(
                        b.span(),
                        "breakdowns",
                        format!("{e}; or map it in [breakdown] (`{name} = \"related.column\"`)"),
                    )
                }
            }
        };
        if name == "all" || breakdowns.iter().any(|(n, _)| *n == name) {
            return cx.err(
                b.span(),
                "breakdowns",
                format!("`{name}` is listed twice or reserved"),
            );
        }
        breakdowns.push((name, bd));
    }
    for (name, s) in &raw.breakdown {
        if !breakdowns.iter().any(|(n, _)| n == name) {
            return cx.err(
                s.span(),
                &format!("breakdown.{name}"),
                format!("`{name}` is not in `breakdowns`: add it there"),
            );
        }
    }

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
    })
}
