//! The polars side of a metric: its row frame (population, filters, lookups, and one
//! column per thing the tally reads, under the names below) and the series it shares.
//! Nothing is collected here; the engine collects every plan together.

use chrono::NaiveDate;
use polars::prelude::*;

use super::breakdowns::Breakdown;
use super::condition;
use super::definition::{Rows, Source};
use super::open::{open_cases, plan_union};
use super::related::{self, SeriesKey};
use super::value::Value;
use super::windows::MS_PER_DAY;
use super::within;
use super::{definition::Series, Metric};
use crate::ingest::Extracts;
use crate::schema;
use crate::values::epoch_days;

/// What a metric's row frame holds, by column name.
pub(super) struct Plan {
    pub frame: LazyFrame,
    /// Series used by this metric (its own list, then the repeat/sequence one), as keys
    /// into the shared series.
    pub series: Vec<(SeriesKey, Series)>,
    pub self_series: Option<usize>,
}

pub(super) const PERIOD_DATE: &str = "__date";
pub(super) const START: &str = "__start";
pub(super) const END: &str = "__end";
pub(super) const NUM: &str = "__num";
pub(super) const CHILD: &str = "__child";
pub(super) const PER: &str = "__per";
pub(super) const KEY: &str = "__key";

pub(super) fn from_col(i: usize) -> String {
    format!("__from{i}")
}
pub(super) fn to_col() -> &'static str {
    "__to"
}
pub(super) fn on_col(i: usize) -> String {
    format!("__on{i}")
}
pub(super) fn exists_col(i: usize) -> String {
    format!("__exists{i}")
}
pub(super) fn by_col(i: usize) -> String {
    format!("__by{i}")
}
pub(super) fn not_before_col() -> &'static str {
    "__not_before"
}

/// A date or date-time column as milliseconds since 1970.
pub(super) fn ms_expr(name: &str) -> Expr {
    col(name)
        .cast(DataType::Datetime(TimeUnit::Milliseconds, None))
        .cast(DataType::Int64)
}

pub(super) fn col_of(s: &Source) -> Option<&str> {
    match s {
        Source::Column { name, .. } => Some(name.as_str()),
        Source::Series(_) => None,
    }
}

/// A table's frame, or why the metric cannot be evaluated without it.
pub(super) fn table_frame<'a>(ex: &'a Extracts, t: &str) -> Result<&'a DataFrame, String> {
    ex.frame(t)
        .ok_or_else(|| format!("needs {t}.csv, which is not in the data folder"))
}

/// A measure cannot be computed when a column it times or tests is empty in every row: a
/// source that does not record it (the CIN census has no decision times) must give "not
/// available", never 0%.
fn check_supplied(m: &Metric, ex: &Extracts) -> Result<(), String> {
    let table_of = |name: &str| -> (&'static str, String) {
        match name.split_once('.') {
            Some((rel, c)) => {
                let t = m
                    .lookups
                    .iter()
                    .find(|l| l.name == rel)
                    .map_or("", |l| l.table.name);
                (t, c.to_string())
            }
            None => (m.population.table.name, name.to_string()),
        }
    };
    let empty = |name: &str| -> Option<String> {
        let (table, column) = table_of(name);
        let df = ex.frame(table)?;
        let c = df.column(&column).ok()?;
        match df.height() {
            0 => Some(format!("{table}.csv has no rows")),
            n if c.null_count() == n => Some(format!(
                "{table}.{column} is empty in every row of {table}.csv"
            )),
            _ => None,
        }
    };
    let mut needed: Vec<String> = Vec::new();
    if let Some(w) = &m.within {
        if let Some(c) = col_of(&w.to) {
            needed.push(c.to_string());
        }
        // Alternatives: not available only when every one of them is empty.
        let froms: Vec<&str> = w.from.iter().filter_map(|(s, _)| col_of(s)).collect();
        if froms.len() == w.from.len() && froms.iter().all(|f| empty(f).is_some()) {
            needed.extend(froms.iter().map(|f| f.to_string()));
        }
    }
    for f in [&m.population.filter, &m.condition.filter]
        .into_iter()
        .flatten()
    {
        needed.extend(
            f.expr
                .clone()
                .meta()
                .root_names()
                .iter()
                .map(|n| n.to_string()),
        );
    }
    match needed.iter().find_map(|n| empty(n)) {
        Some(why) => Err(why),
        None => Ok(()),
    }
}

/// Which rows a plan keeps: those of the reported periods, or (for the worklist) every
/// row, open cases as of one date, and rows whose required link is missing (marked).
#[derive(Clone, Copy)]
pub(super) enum Span {
    Periods { from: NaiveDate, to: NaiveDate },
    Due { as_of: NaiveDate },
}

/// Whether the required lookup `i` of the population was found (the worklist's plans).
pub(super) fn required_col(i: usize) -> String {
    format!("__req{i}")
}

/// The row frame of one metric, with the breakdown columns of `by` only (at national scale
/// every unused breakdown column is millions of strings copied for nothing).
pub(super) fn plan(
    m: &Metric,
    ex: &Extracts,
    span: Span,
    by: &[String],
    cases: bool,
) -> Result<Plan, String> {
    let frame_of = |t: &str| table_frame(ex, t);
    let p = &m.population;
    check_supplied(m, ex)?;
    // Series reach back from `from`; the worklist's reach back to every row.
    let (from, to) = match span {
        Span::Periods { from, to } => (from, to),
        Span::Due { as_of } => (NaiveDate::from_ymd_opt(1900, 1, 1).expect("a date"), as_of),
    };
    if !p.also.is_empty() {
        return plan_union(m, ex, from, to, by);
    }
    let mut lf = frame_of(p.table.name)?.clone().lazy();
    if let Some(f) = &p.filter {
        lf = lf.filter(f.expr.clone().fill_null(lit(false)));
    }
    lf = related::join_lookups(m, ex, lf)?;
    let mut select: Vec<Expr> = Vec::new();
    for (i, r) in p.require.iter().enumerate() {
        if let Some(l) = m.lookups.iter().find(|l| l.name == *r) {
            let found = col(format!("{}.{}", l.name, l.table.key)).is_not_null();
            match span {
                Span::Periods { .. } => lf = lf.filter(found),
                Span::Due { .. } => select.push(found.alias(required_col(i))),
            }
        }
    }
    match &p.rows {
        Rows::Events { date } => {
            let name = col_of(date).ok_or("the population date must be a column")?;
            // Only rows whose date falls in the reported periods.
            if let Span::Periods { from, to } = span {
                let (a, b) = (epoch_days(from) as i64, epoch_days(to) as i64 + 1);
                lf = lf.filter(
                    ms_expr(name)
                        .gt_eq(lit(a * MS_PER_DAY))
                        .and(ms_expr(name).lt(lit(b * MS_PER_DAY))),
                );
            } else if let Some(end) = schema::case_end(p.table.name) {
                select.push(ms_expr(end).alias(END));
            }
            select.push(ms_expr(name).alias(PERIOD_DATE));
        }
        Rows::Open { start, end, .. } => {
            let s = col_of(start).ok_or("an open case's start must be a column")?;
            let e = match end {
                Some(e) => Some(col_of(e).ok_or("an open case's end must be a column")?),
                None => None,
            };
            let from = if let Span::Due { as_of } = span {
                as_of
            } else {
                from
            };
            lf = open_cases(lf, s, e, from, to, &mut select);
        }
    }
    if let Some(w) = &m.within {
        within::plan_columns(w, &mut select);
    }
    condition::plan_columns(&m.condition, &mut select);
    let mut series = related::plan_series(m, ex, from, &mut select)?;
    let self_series = related::plan_own_rows(m, from, &mut series, &mut select)?;
    plan_groups(m, ex, by, cases, &mut select)?;
    Ok(Plan {
        frame: lf.select(select),
        series,
        self_series,
    })
}

/// Selects what groups a row: its caseload holder and child, its breakdown columns (only
/// those of `by`), its child for age bands or the cases list, and its key.
fn plan_groups(
    m: &Metric,
    ex: &Extracts,
    by: &[String],
    cases: bool,
    select: &mut Vec<Expr>,
) -> Result<(), String> {
    let p = &m.population;
    let frame_of = |t: &str| table_frame(ex, t);
    if let Some(Value::PerGroup(s)) = &m.value {
        let name = col_of(s).ok_or("`per` must be a column")?;
        select.push(col(name).cast(DataType::String).alias(PER));
        select.push(col(schema::CHILD_ID).cast(DataType::String).alias(CHILD));
    }
    let mut needs_dob = false;
    for (i, (name, b)) in m.breakdowns.iter().enumerate() {
        if !by.contains(name) {
            continue;
        }
        match b {
            Breakdown::Column(s) => {
                let name = col_of(s).ok_or("a breakdown must be a column")?;
                select.push(col(name).cast(DataType::String).alias(by_col(i)));
            }
            Breakdown::AgeBand => needs_dob = true,
        }
    }
    let per_group = matches!(m.value, Some(Value::PerGroup(_)));
    // Ages come from one child -> date of birth table shared by every metric.
    if needs_dob && !per_group {
        frame_of(crate::schema::CHILDREN)?;
    }
    let has_child = p.table.column(schema::CHILD_ID).is_some();
    if (needs_dob || cases && has_child) && !per_group {
        select.push(col(schema::CHILD_ID).cast(DataType::String).alias(CHILD));
    }
    if cases {
        select.push(col(p.table.key).cast(DataType::String).alias(KEY));
    }
    Ok(())
}
