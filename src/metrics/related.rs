//! Related tables, `[related.<name>]`: a lookup (many-to-one, the row's `on` is the key of
//! one row of another table) or a series (one-to-many, the rows of another table that match
//! the row, of which one date or a count is picked). How a file declares them, and the
//! sorted date lists polars builds for the series.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;
use serde::Deserialize;
use toml::Spanned;

use super::definition::{
    column_names, is_date, DefinitionError, Filter, Metric, Reader, Rows, Scope, Source,
};
use super::engine::Ctx;
use super::kinds::MetricKind;
use super::plan::{on_col, table_frame};
use super::value::Value;
use super::windows::{reach_days, Window};
use crate::ingest::Extracts;
use crate::schema::{self, TableSpec};
use crate::values::epoch_days;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRelated {
    pub(super) table: Spanned<String>,
    pub(super) on: Spanned<String>,
    #[serde(default, rename = "match")]
    pub(super) match_col: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) date: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) pick: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) filter: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) window: Option<Spanned<BTreeMap<String, toml::Value>>>,
}

/// Reads `[related.*]`: lookups and series, in an order where each `on` is known (an `on`
/// may name a lookup declared later in the file).
pub(super) fn read(
    cx: &Reader,
    related: &BTreeMap<String, Spanned<RawRelated>>,
    population_table: &'static TableSpec,
) -> Result<(Vec<Lookup>, Vec<Series>), DefinitionError> {
    let mut lookups: Vec<Lookup> = Vec::new();
    let mut series: Vec<Series> = Vec::new();
    let mut pending: Vec<(&String, &Spanned<RawRelated>)> = related.iter().collect();
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
            let table = cx.table(&rr.table, &format!("{field}.table"))?;
            let scope = Scope {
                cx,
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
                        && related.contains_key(rr.on.get_ref().split('.').next().unwrap_or(""))
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
                Some(m) => series.push(read_series(cx, name, r, m, table, on)?),
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
    Ok((lookups, series))
}

/// A one-to-many relation: `match`, `date`, `pick`, and the `window` and `filter` it takes.
fn read_series(
    cx: &Reader,
    name: &String,
    r: &Spanned<RawRelated>,
    m: &Spanned<String>,
    table: &'static TableSpec,
    on: String,
) -> Result<Series, DefinitionError> {
    let rr = r.get_ref();
    let field = format!("related.{name}");
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
                let dates: Vec<&str> = table
                    .columns
                    .iter()
                    .filter(|c| is_date(c.kind))
                    .map(|c| c.name)
                    .collect();
                return cx.err(
                    d.span(),
                    &format!("{field}.date"),
                    format!(
                        "`{}` is not a date column of {}; date columns: {}",
                        d.get_ref(),
                        table.name,
                        dates.join(", ")
                    ),
                );
            }
        },
        None => {
            return cx.err(
                r.span(),
                &format!("{field}.date"),
                format!(
                    "a one-to-many relation needs `date`: the column of {} that orders its rows",
                    table.name
                ),
            )
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
        Some(w) if pick == Pick::Count => Some(cx.window(w, &format!("{field}.window"))?),
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
    Ok(Series {
        name: name.clone(),
        table,
        on,
        match_col: match_spec.name,
        date_col,
        filter,
        pick,
        window,
    })
}

// ---- Evaluation ------------------------------------------------------------------------

/// The dates (days since 1970) of each key of a related table, sorted.
pub(super) struct KeyedDates<'a> {
    ranges: PlHashMap<&'a str, (u32, u32)>,
    dates: Vec<i32>,
}

impl<'a> KeyedDates<'a> {
    pub(super) fn from_frame(df: &'a DataFrame) -> PolarsResult<KeyedDates<'a>> {
        let keys = df.column("k")?.str()?;
        let days = df.column("d")?.cast(&DataType::Int32)?;
        let days = days.i32()?;
        let mut ranges = PlHashMap::new();
        let mut dates = Vec::with_capacity(df.height());
        let mut current: Option<&str> = None;
        let mut start = 0u32;
        for (k, d) in keys.iter().zip(days.iter()) {
            let (Some(k), Some(d)) = (k, d) else { continue };
            if current != Some(k) {
                if let Some(c) = current {
                    ranges.insert(c, (start, dates.len() as u32));
                }
                current = Some(k);
                start = dates.len() as u32;
            }
            dates.push(d);
        }
        if let Some(c) = current {
            ranges.insert(c, (start, dates.len() as u32));
        }
        Ok(KeyedDates { ranges, dates })
    }

    pub(super) fn of(&self, key: &str) -> &[i32] {
        match self.ranges.get(key) {
            Some(&(a, b)) => &self.dates[a as usize..b as usize],
            None => &[],
        }
    }
}

/// The result of a one-to-many pick for one row.
#[derive(Clone, Copy)]
pub(super) struct Picked {
    pub date: Option<i32>,
    pub count: u32,
}

impl Ctx<'_> {
    /// The date (or count) a series picks for a row timed at `at`, from its sorted dates.
    pub(super) fn pick(&self, s: &Series, dates: &[i32], at: i32) -> Picked {
        let count = dates.len() as u32;
        match s.pick {
            Pick::First | Pick::Any => Picked {
                date: dates.first().copied(),
                count,
            },
            Pick::Last => Picked {
                date: dates.last().copied(),
                count,
            },
            Pick::Previous => {
                let i = dates.partition_point(|&d| d < at);
                Picked {
                    date: i.checked_sub(1).map(|j| dates[j]),
                    count: i as u32,
                }
            }
            Pick::Latest => {
                let i = dates.partition_point(|&d| d <= at);
                Picked {
                    date: i.checked_sub(1).map(|j| dates[j]),
                    count: i as u32,
                }
            }
            Pick::Count => {
                let hi = dates.partition_point(|&d| d <= at);
                let lo = match s.window {
                    Some(w) => {
                        let from = self.window_start(at, w);
                        dates.partition_point(|&d| d < from)
                    }
                    None => 0,
                };
                Picked {
                    date: None,
                    count: (hi - lo.min(hi)) as u32,
                }
            }
        }
    }
}

/// One related date list, shared by every metric that asks for the same rows.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct SeriesKey {
    table: &'static str,
    match_col: &'static str,
    date_col: &'static str,
    filter: Option<String>,
    /// Dates before this (days since 1970) cannot matter to the metric: they are older than
    /// the longest look-back window from the first period. `None`: all history matters.
    since: Option<i32>,
}

/// Joins each lookup's table on the population rows, its columns named `{rel}.{column}`.
pub(super) fn join_lookups(
    m: &Metric,
    ex: &Extracts,
    mut lf: LazyFrame,
) -> Result<LazyFrame, String> {
    for l in &m.lookups {
        lf = join_lookup(ex, lf, l)?;
    }
    Ok(lf)
}

/// A lookup table's columns as the population sees them: `{rel}.{column}`.
pub(super) fn lookup_columns(t: &DataFrame, l: &Lookup) -> Vec<Expr> {
    t.get_column_names()
        .iter()
        .filter(|c| l.table.column(c.as_str()).is_some())
        .map(|c| col(c.as_str()).alias(format!("{}.{}", l.name, c)))
        .collect()
}

/// Joins one lookup's table, its columns named `{rel}.{column}`.
pub(super) fn join_lookup(ex: &Extracts, lf: LazyFrame, l: &Lookup) -> Result<LazyFrame, String> {
    let t = table_frame(ex, l.table.name)?;
    let mut cols = lookup_columns(t, l);
    // Joined on a copy of the key, so that `{rel}.{key}` stays and is empty when no
    // row matched (what `exists` and `require` test).
    cols.push(col(l.table.key).alias(format!("{}.__joinkey", l.name)));
    Ok(lf.left_join(
        t.clone().lazy().select(cols),
        col(l.on.as_str()),
        col(format!("{}.__joinkey", l.name)),
    ))
}

/// The metric's series as keys into the shared date lists, each row's `on` value selected
/// as `on_col(i)`.
pub(super) fn plan_series(
    m: &Metric,
    ex: &Extracts,
    from: NaiveDate,
    select: &mut Vec<Expr>,
) -> Result<Vec<(SeriesKey, Series)>, String> {
    // Series whose every use looks back a bounded window need only recent rows.
    let first_day = epoch_days(from);
    let used_unbounded = |i: usize| {
        let is = |src: &Source| *src == Source::Series(i);
        m.within
            .as_ref()
            .is_some_and(|w| is(&w.to) || w.from.iter().any(|(f, _)| is(f)))
            || m.condition.exists.iter().any(|(s, _)| is(s))
            || m.population.require.iter().any(|r| *r == m.series[i].name)
            || matches!(m.population.rows, Rows::Open { until: Some(u), .. } if u == i)
            || m.condition
                .recent
                .as_ref()
                .and_then(|r| r.not_before.as_ref())
                .is_some_and(is)
    };
    let series: Vec<(SeriesKey, Series)> = m
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let window = match (s.pick, s.window, &m.condition.recent) {
                (Pick::Count, Some(w), _) => Some(w),
                (Pick::Latest, _, Some(r)) if r.series == i => Some(r.window),
                _ => None,
            };
            (
                SeriesKey {
                    table: s.table.name,
                    match_col: s.match_col,
                    date_col: s.date_col,
                    filter: s.filter.as_ref().map(|f| f.text.clone()),
                    since: window
                        .filter(|_| !used_unbounded(i))
                        .map(|w| first_day - reach_days(w)),
                },
                s.clone(),
            )
        })
        .collect();
    for (i, (_, s)) in series.iter().enumerate() {
        table_frame(ex, s.table.name)?;
        select.push(col(s.on.as_str()).cast(DataType::String).alias(on_col(i)));
    }
    Ok(series)
}

/// Repeat and sequence look at the population's own earlier rows of the same child: one
/// more series, of the population table by child. Returns its index when the metric has it.
pub(super) fn plan_own_rows(
    m: &Metric,
    from: NaiveDate,
    series: &mut Vec<(SeriesKey, Series)>,
    select: &mut Vec<Expr>,
) -> Result<Option<usize>, String> {
    let p = &m.population;
    let first_day = epoch_days(from);
    let mut self_series = None;
    if m.kind == MetricKind::Repeat || matches!(m.value, Some(Value::Sequence)) {
        let Rows::Events {
            date: Source::Column { name, .. },
        } = &p.rows
        else {
            return Err("a repeat needs the population's own date column".into());
        };
        if name.contains('.') || p.table.column(schema::CHILD_ID).is_none() {
            return Err("a repeat needs the population's own date column and child_id".into());
        }
        let s = Series {
            name: "__self".into(),
            table: p.table,
            on: schema::CHILD_ID.into(),
            match_col: schema::CHILD_ID,
            date_col: p.table.column(name).expect("checked").name,
            filter: p.filter.clone(),
            pick: Pick::Previous,
            window: None,
        };
        let i = series.len();
        select.push(
            col(schema::CHILD_ID)
                .cast(DataType::String)
                .alias(on_col(i)),
        );
        series.push((
            SeriesKey {
                table: p.table.name,
                match_col: schema::CHILD_ID,
                date_col: s.date_col,
                filter: p.filter.as_ref().map(|f| f.text.clone()),
                since: m
                    .repeat
                    .and_then(|r| r.window)
                    .filter(|_| m.value.is_none())
                    .map(|w| first_day - reach_days(w)),
            },
            s,
        ));
        self_series = Some(i);
    }
    Ok(self_series)
}

pub(super) fn series_frame(ex: &Extracts, k: &SeriesKey, s: &Series) -> Option<LazyFrame> {
    let mut lf = ex.frame(k.table)?.clone().lazy();
    if let Some(f) = &s.filter {
        lf = lf.filter(f.expr.clone().fill_null(lit(false)));
    }
    Some(
        lf.select([
            col(k.match_col).cast(DataType::String).alias("k"),
            col(k.date_col).cast(DataType::Date).alias("d"),
        ])
        .filter(
            col("k")
                .is_not_null()
                .and(col("d").is_not_null())
                .and(match k.since {
                    Some(day) => col("d").cast(DataType::Int32).gt_eq(lit(day)),
                    None => lit(true),
                }),
        )
        .sort(["k", "d"], SortMultipleOptions::default()),
    )
}
