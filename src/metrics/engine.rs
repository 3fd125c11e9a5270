//! Evaluates every metric from the loaded frames in one pass: polars builds one row frame
//! per metric (population, filters, parent lookups) and one sorted date list per related
//! table; all of them are collected together, then each row is timed and tallied here,
//! where working days, calendar months and periods follow one set of rules.

use chrono::{Datelike, Months, NaiveDate};
use polars::prelude::*;

use super::definition::{
    Breakdown, Metric, MetricKind, Pick, Rows, Series, Source, Unit, Value, Window,
};
use super::{CaseFlag, EvalError, EvalOptions, Evaluation, Library, OutRow};
use crate::calendar::Calendar;
use crate::ingest::Extracts;
use crate::periods::{self, Grain, Period};
use crate::schema;
use crate::stats;
use crate::values::epoch_days;

const NULL: i64 = i64::MIN;
const MS_PER_DAY: i64 = 86_400_000;

fn day_of(ms: i64) -> i32 {
    ms.div_euclid(MS_PER_DAY) as i32
}

pub(crate) fn date_of(day: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day + 719_163).expect("a date polars can hold")
}

fn add_months(day: i32, n: i64) -> i32 {
    let d = date_of(day);
    let m = Months::new(n.unsigned_abs() as u32);
    let r = if n >= 0 {
        d.checked_add_months(m)
    } else {
        d.checked_sub_months(m)
    };
    r.map(epoch_days)
        .unwrap_or(if n >= 0 { i32::MAX } else { i32::MIN })
}

/// Whole calendar months from `a` to `b` (the largest m with a + m months <= b).
pub(crate) fn whole_months(a: i32, b: i32) -> i64 {
    let (da, db) = (date_of(a), date_of(b));
    let mut m =
        (db.year() as i64 * 12 + db.month0() as i64) - (da.year() as i64 * 12 + da.month0() as i64);
    while m > 0 && add_months(a, m) > b {
        m -= 1;
    }
    m
}

/// How a row came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Met,
    Breach,
    Pending,
    /// Could not be timed (no start date, a negative span, or a date outside the calendar).
    Excluded(Why),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
enum Why {
    NoStart,
    Negative,
    OutsideCalendar,
}

/// The dates (days since 1970) of each key of a related table, sorted.
struct KeyedDates<'a> {
    ranges: PlHashMap<&'a str, (u32, u32)>,
    dates: Vec<i32>,
}

impl<'a> KeyedDates<'a> {
    fn from_frame(df: &'a DataFrame) -> PolarsResult<KeyedDates<'a>> {
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

    fn of(&self, key: &str) -> &[i32] {
        match self.ranges.get(key) {
            Some(&(a, b)) => &self.dates[a as usize..b as usize],
            None => &[],
        }
    }
}

/// The result of a one-to-many pick for one row.
#[derive(Clone, Copy)]
struct Picked {
    date: Option<i32>,
    count: u32,
}

struct Ctx<'a> {
    cal: &'a Calendar,
    as_of: i32,
    /// Children's dates of birth (days since 1970), when ages are asked for.
    dob: PlHashMap<&'a str, i32>,
}

impl Ctx<'_> {
    /// The earliest date still inside a window that ends on `at` (inclusive).
    fn window_start(&self, at: i32, w: Window) -> i32 {
        match w.unit {
            Unit::Months => add_months(at, -w.n),
            Unit::Days => at - w.n as i32,
            Unit::Hours => at - (w.n as i32).div_euclid(24),
            Unit::WorkingDays => {
                // The smallest d with working days in (d, at] <= n.
                let (mut d, mut c) = (at, 0i64);
                loop {
                    let c2 = c + i64::from(self.cal.is_working_day(date_of(d)));
                    if c2 > w.n {
                        return d;
                    }
                    c = c2;
                    d -= 1;
                    if at - d > 3660 {
                        return d;
                    }
                }
            }
        }
    }

    fn pick(&self, s: &Series, dates: &[i32], at: i32) -> Picked {
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

    /// Whether `to` is within `n` units after `from` (both in ms); `None` when it cannot be
    /// told (outside the calendar), `Some(Err)` for a negative span.
    fn within(&self, unit: Unit, from: i64, to: i64, n: i64) -> Result<bool, Why> {
        let (a, b) = (day_of(from), day_of(to));
        let negative = match unit {
            Unit::Hours => to < from,
            _ => b < a,
        };
        if negative {
            return Err(Why::Negative);
        }
        Ok(match unit {
            Unit::WorkingDays => {
                i64::from(
                    self.cal
                        .working_days_between_epoch(a, b)
                        .ok_or(Why::OutsideCalendar)?,
                ) <= n
            }
            Unit::Days => i64::from(b - a) <= n,
            Unit::Hours => to - from <= n * 3_600_000,
            Unit::Months => b <= add_months(a, n),
        })
    }

    /// The elapsed span in the unit (for summaries and distributions).
    fn elapsed(&self, unit: Unit, from: i64, to: i64) -> Result<f64, Why> {
        let (a, b) = (day_of(from), day_of(to));
        let v = match unit {
            Unit::WorkingDays => f64::from(
                self.cal
                    .working_days_between_epoch(a, b)
                    .ok_or(Why::OutsideCalendar)?,
            ),
            Unit::Days => f64::from(b - a),
            Unit::Hours => (to - from) as f64 / 3_600_000.0,
            Unit::Months => whole_months(a, b) as f64,
        };
        if v < 0.0 {
            return Err(Why::Negative);
        }
        Ok(v)
    }

    /// Whether a case that started on `start` has been open at least `w` by `at`.
    fn open_at_least(&self, start: i32, at: i32, w: Window) -> bool {
        match w.unit {
            Unit::Months => start <= add_months(at, -w.n),
            Unit::Days | Unit::Hours => {
                i64::from(at - start) >= w.n / if w.unit == Unit::Hours { 24 } else { 1 }
            }
            Unit::WorkingDays => self
                .cal
                .working_days_between_epoch(start, at)
                .is_some_and(|d| i64::from(d) >= w.n),
        }
    }

    /// Whether `d` lies inside the look-back window that ends on `at`: after `at - N months`,
    /// or at most N (working) days before `at`.
    fn recent(&self, d: i32, at: i32, w: Window) -> bool {
        if d > at {
            return false;
        }
        match w.unit {
            Unit::Months => d > add_months(at, -w.n),
            Unit::Days | Unit::Hours => {
                i64::from(at - d) <= w.n / if w.unit == Unit::Hours { 24 } else { 1 }
            }
            Unit::WorkingDays => self
                .cal
                .working_days_between_epoch(d, at)
                .is_some_and(|x| i64::from(x) <= w.n),
        }
    }
}

/// The age bands in their natural order (the order output rows list them in).
const AGE_BANDS: &[&str] = &[
    "unborn",
    "under 1",
    "1 to 4",
    "5 to 9",
    "10 to 15",
    "16 and over",
];

/// The DfE's age bands, at a date.
pub(crate) fn age_band(dob: Option<i32>, at: i32) -> &'static str {
    let Some(dob) = dob else { return "unknown" };
    if dob > at {
        return "unborn";
    }
    let years = whole_months(dob, at) / 12;
    match years {
        0 => "under 1",
        1..=4 => "1 to 4",
        5..=9 => "5 to 9",
        10..=15 => "10 to 15",
        _ => "16 and over",
    }
}

fn ms_expr(name: &str) -> Expr {
    col(name)
        .cast(DataType::Datetime(TimeUnit::Milliseconds, None))
        .cast(DataType::Int64)
}

/// One related date list, shared by every metric that asks for the same rows.
#[derive(Clone, PartialEq, Eq, Hash)]
struct SeriesKey {
    table: &'static str,
    match_col: &'static str,
    date_col: &'static str,
    filter: Option<String>,
    /// Dates before this (days since 1970) cannot matter to the metric: they are older than
    /// the longest look-back window from the first period. `None`: all history matters.
    since: Option<i32>,
}

/// How far back a window can reach, in calendar days (an over-estimate).
fn reach_days(w: Window) -> i32 {
    let n = w.n.min(100_000) as i32;
    match w.unit {
        Unit::Months => n * 31 + 1,
        Unit::Days => n,
        Unit::Hours => n / 24 + 1,
        // Five working days a week, plus room for the longest run of bank holidays.
        Unit::WorkingDays => n * 7 / 5 + 20,
    }
}

/// What a metric's row frame holds, by column name.
struct Plan {
    frame: LazyFrame,
    /// Series used by this metric (its own list, then the repeat/sequence one), as keys
    /// into the shared series.
    series: Vec<(SeriesKey, Series)>,
    self_series: Option<usize>,
}

const PERIOD_DATE: &str = "__date";
const START: &str = "__start";
const END: &str = "__end";
const NUM: &str = "__num";
const CHILD: &str = "__child";
const PER: &str = "__per";
const KEY: &str = "__key";

fn from_col(i: usize) -> String {
    format!("__from{i}")
}
fn to_col() -> &'static str {
    "__to"
}
fn on_col(i: usize) -> String {
    format!("__on{i}")
}
fn exists_col(i: usize) -> String {
    format!("__exists{i}")
}
fn by_col(i: usize) -> String {
    format!("__by{i}")
}
fn not_before_col() -> &'static str {
    "__not_before"
}

fn col_of(s: &Source) -> Option<&str> {
    match s {
        Source::Column { name, .. } => Some(name.as_str()),
        Source::Series(_) => None,
    }
}

/// A table's frame, or why the metric cannot be evaluated without it.
fn table_frame<'a>(ex: &'a Extracts, t: &str) -> Result<&'a DataFrame, String> {
    ex.frame(t)
        .ok_or_else(|| format!("needs {t}.csv, which is not in the data folder"))
}

/// Keeps the cases that can be open at some period end between `from` and `to` (started by
/// `to`; not ended, or ended after `from`), with their start and end as `START` and `END`.
fn open_cases(
    lf: LazyFrame,
    start: &str,
    end: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
    select: &mut Vec<Expr>,
) -> LazyFrame {
    let first_ms = epoch_days(from) as i64 * MS_PER_DAY;
    let last_ms = epoch_days(to) as i64 * MS_PER_DAY;
    let mut lf = lf.filter(ms_expr(start).lt_eq(lit(last_ms)));
    select.push(ms_expr(start).alias(START));
    match end {
        Some(e) => {
            lf = lf.filter(ms_expr(e).is_null().or(ms_expr(e).gt(lit(first_ms))));
            select.push(ms_expr(e).alias(END));
        }
        None => select.push(lit(NULL).alias(END)),
    }
    lf
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

/// The row frame of one metric, with the breakdown columns of `by` only (at national scale
/// every unused breakdown column is millions of strings copied for nothing).
fn plan(
    m: &Metric,
    ex: &Extracts,
    from: NaiveDate,
    to: NaiveDate,
    by: &[String],
    cases: bool,
) -> Result<Plan, String> {
    let frame_of = |t: &str| table_frame(ex, t);
    let p = &m.population;
    check_supplied(m, ex)?;
    if !p.also.is_empty() {
        return plan_union(m, ex, from, to, by);
    }
    let mut lf = frame_of(p.table.name)?.clone().lazy();
    if let Some(f) = &p.filter {
        lf = lf.filter(f.expr.clone().fill_null(lit(false)));
    }
    for l in &m.lookups {
        let t = frame_of(l.table.name)?;
        let mut cols: Vec<Expr> = t
            .get_column_names()
            .iter()
            .filter(|c| l.table.column(c.as_str()).is_some())
            .map(|c| col(c.as_str()).alias(format!("{}.{}", l.name, c)))
            .collect();
        // Joined on a copy of the key, so that `{rel}.{key}` stays and is empty when no
        // row matched (what `exists` and `require` test).
        cols.push(col(l.table.key).alias(format!("{}.__joinkey", l.name)));
        lf = lf.left_join(
            t.clone().lazy().select(cols),
            col(l.on.as_str()),
            col(format!("{}.__joinkey", l.name)),
        );
    }
    for r in &p.require {
        if m.lookups.iter().any(|l| l.name == *r) {
            let l = m.lookups.iter().find(|l| l.name == *r).expect("found");
            lf = lf.filter(col(format!("{}.{}", l.name, l.table.key)).is_not_null());
        }
    }
    let mut select: Vec<Expr> = Vec::new();
    match &p.rows {
        Rows::Events { date } => {
            let name = col_of(date).ok_or("the population date must be a column")?;
            // Only rows whose date falls in the reported periods.
            let (a, b) = (epoch_days(from) as i64, epoch_days(to) as i64 + 1);
            lf = lf.filter(
                ms_expr(name)
                    .gt_eq(lit(a * MS_PER_DAY))
                    .and(ms_expr(name).lt(lit(b * MS_PER_DAY))),
            );
            select.push(ms_expr(name).alias(PERIOD_DATE));
        }
        Rows::Open { start, end, .. } => {
            let s = col_of(start).ok_or("an open case's start must be a column")?;
            let e = match end {
                Some(e) => Some(col_of(e).ok_or("an open case's end must be a column")?),
                None => None,
            };
            lf = open_cases(lf, s, e, from, to, &mut select);
        }
    }
    if let Some(w) = &m.within {
        for (i, (s, _)) in w.from.iter().enumerate() {
            if let Some(c) = col_of(s) {
                select.push(ms_expr(c).alias(from_col(i)));
            }
        }
        if let Some(c) = col_of(&w.to) {
            select.push(ms_expr(c).alias(to_col()));
        }
    }
    let c = &m.condition;
    select.push(match &c.filter {
        Some(f) => f.expr.clone().fill_null(lit(false)).alias(NUM),
        None => lit(true).alias(NUM),
    });
    for (i, (s, _)) in c.exists.iter().enumerate() {
        if let Some(name) = col_of(s) {
            select.push(col(name).is_not_null().alias(exists_col(i)));
        }
    }
    if let Some(r) = &c.recent {
        if let Some(Source::Column { name, .. }) = &r.not_before {
            select.push(ms_expr(name).alias(not_before_col()));
        }
    }
    // Series whose every use looks back a bounded window need only recent rows.
    let first_day = epoch_days(from);
    let used_unbounded = |i: usize| {
        let is = |src: &Source| *src == Source::Series(i);
        m.within
            .as_ref()
            .is_some_and(|w| is(&w.to) || w.from.iter().any(|(f, _)| is(f)))
            || m.condition.exists.iter().any(|(s, _)| is(s))
            || m.population.require.iter().any(|r| *r == m.series[i].name)
            || m.condition
                .recent
                .as_ref()
                .and_then(|r| r.not_before.as_ref())
                .is_some_and(is)
    };
    let mut series: Vec<(SeriesKey, Series)> = m
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
        frame_of(s.table.name)?;
        select.push(col(s.on.as_str()).cast(DataType::String).alias(on_col(i)));
    }
    // Repeat and sequence look at the population's own earlier rows of the same child.
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
    Ok(Plan {
        frame: lf.select(select),
        series,
        self_series,
    })
}

/// An open population drawn from several tables (a caseload): the same columns from each,
/// one under the other. The definition allows no related tables or conditions here.
fn plan_union(
    m: &Metric,
    ex: &Extracts,
    from: NaiveDate,
    to: NaiveDate,
    by: &[String],
) -> Result<Plan, String> {
    let p = &m.population;
    let Rows::Open {
        start: Source::Column { name: start, .. },
        end,
        ..
    } = &p.rows
    else {
        return Err("`also` needs an open population whose start is a column".into());
    };
    let end = match end {
        Some(Source::Column { name, .. }) => Some(name.as_str()),
        Some(Source::Series(_)) => return Err("an open case's end must be a column".into()),
        None => None,
    };
    let mut sources = vec![(p.table, p.filter.as_ref(), start.as_str(), end)];
    sources.extend(
        p.also
            .iter()
            .map(|a| (a.table, a.filter.as_ref(), a.start, a.end)),
    );
    let mut frames = Vec::new();
    for (table, filter, start, end) in sources {
        let mut lf = table_frame(ex, table.name)?.clone().lazy();
        if let Some(f) = filter {
            lf = lf.filter(f.expr.clone().fill_null(lit(false)));
        }
        let mut select = Vec::new();
        lf = open_cases(lf, start, end, from, to, &mut select);
        select.push(lit(true).alias(NUM));
        if let Some(Value::PerGroup(Source::Column { name, .. })) = &m.value {
            select.push(col(name.as_str()).cast(DataType::String).alias(PER));
        }
        select.push(col(schema::CHILD_ID).cast(DataType::String).alias(CHILD));
        for (i, (name, b)) in m.breakdowns.iter().enumerate() {
            if let (true, Breakdown::Column(Source::Column { name: c, .. })) =
                (by.contains(name), b)
            {
                select.push(col(c.as_str()).cast(DataType::String).alias(by_col(i)));
            }
        }
        frames.push(lf.select(select));
    }
    Ok(Plan {
        frame: concat(frames, UnionArgs::default()).map_err(|e| e.to_string())?,
        series: Vec::new(),
        self_series: None,
    })
}

fn series_frame(ex: &Extracts, k: &SeriesKey, s: &Series) -> Option<LazyFrame> {
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

fn i64_column(df: &DataFrame, name: &str) -> PolarsResult<Vec<i64>> {
    let c = df.column(name)?.cast(&DataType::Int64)?;
    Ok(c.i64()?.iter().map(|v| v.unwrap_or(NULL)).collect())
}

fn bool_column(df: &DataFrame, name: &str) -> PolarsResult<Vec<bool>> {
    let c = df.column(name)?.cast(&DataType::Boolean)?;
    Ok(c.bool()?.iter().map(|v| v.unwrap_or(false)).collect())
}

/// Text cells borrowed from the frame (the plan casts these columns to text).
fn str_column<'a>(df: &'a DataFrame, name: &str) -> PolarsResult<Vec<Option<&'a str>>> {
    Ok(df.column(name)?.str()?.iter().collect())
}

/// Tallies of one (period, breakdown group).
#[derive(Default, Clone)]
struct Tally {
    met: u64,
    breach: u64,
    pending: u64,
    excluded: u64,
    buckets: Vec<u64>,
    values: Vec<f64>,
}

/// Interns a breakdown's group names.
#[derive(Default)]
struct Groups {
    index: PlHashMap<String, u32>,
    names: Vec<String>,
}

impl Groups {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.index.insert(name.to_string(), i);
        self.names.push(name.to_string());
        i
    }
}

fn group_name(v: Option<&str>) -> &str {
    match v {
        None | Some("") => "unknown",
        Some("true") => "yes",
        Some("false") => "no",
        Some(s) => s,
    }
}

/// The per-row inputs of one metric, read out of its collected frame.
struct RowData<'a> {
    n: usize,
    period_date: Vec<i64>,
    start: Vec<i64>,
    end: Vec<i64>,
    from: Vec<Option<Vec<i64>>>,
    to: Option<Vec<i64>>,
    num: Vec<bool>,
    exists: Vec<Option<Vec<bool>>>,
    not_before: Option<Vec<i64>>,
    on: Vec<Vec<Option<&'a str>>>,
    per: Option<Vec<Option<&'a str>>>,
    child: Option<Vec<Option<&'a str>>>,
    key: Option<Vec<Option<&'a str>>>,
    by: Vec<Option<Vec<Option<&'a str>>>>,
}

fn read_rows<'a>(m: &Metric, plan: &Plan, df: &'a DataFrame) -> PolarsResult<RowData<'a>> {
    let has = |c: &str| df.get_column_names().iter().any(|n| n.as_str() == c);
    let opt_i64 = |c: &str| -> PolarsResult<Option<Vec<i64>>> {
        if has(c) {
            i64_column(df, c).map(Some)
        } else {
            Ok(None)
        }
    };
    let opt_str = |c: &str| -> PolarsResult<Option<Vec<Option<&'a str>>>> {
        if has(c) {
            str_column(df, c).map(Some)
        } else {
            Ok(None)
        }
    };
    let n = df.height();
    let from = match &m.within {
        Some(w) => (0..w.from.len())
            .map(|i| opt_i64(&from_col(i)))
            .collect::<PolarsResult<_>>()?,
        None => Vec::new(),
    };
    Ok(RowData {
        n,
        period_date: opt_i64(PERIOD_DATE)?.unwrap_or_default(),
        start: opt_i64(START)?.unwrap_or_default(),
        end: opt_i64(END)?.unwrap_or_default(),
        from,
        to: opt_i64(to_col())?,
        num: bool_column(df, NUM)?,
        exists: (0..m.condition.exists.len())
            .map(|i| {
                if has(&exists_col(i)) {
                    bool_column(df, &exists_col(i)).map(Some)
                } else {
                    Ok(None)
                }
            })
            .collect::<PolarsResult<_>>()?,
        not_before: opt_i64(not_before_col())?,
        on: (0..plan.series.len())
            .map(|i| str_column(df, &on_col(i)))
            .collect::<PolarsResult<_>>()?,
        per: opt_str(PER)?,
        child: opt_str(CHILD)?,
        key: opt_str(KEY)?,
        by: (0..m.breakdowns.len())
            .map(|i| opt_str(&by_col(i)))
            .collect::<PolarsResult<_>>()?,
    })
}

/// Evaluates every metric of the library.
pub fn evaluate(
    ex: &Extracts,
    lib: &Library,
    cal: &Calendar,
    opts: &EvalOptions,
) -> Result<Evaluation, EvalError> {
    let as_of = ex.as_of;
    let last = Period::containing(opts.grain, as_of);
    let to = opts.to.unwrap_or(last);
    if to > last {
        return Err(EvalError::Period(format!(
            "--to {} is after the period of the as-of date {as_of} ({})",
            to.label(),
            last.label()
        )));
    }
    let from = opts.from.unwrap_or(Period {
        grain: opts.grain,
        index: to.index
            - match opts.grain {
                Grain::Month => 23,
                Grain::Quarter => 7,
                Grain::Year => 2,
            },
    });
    if from > to {
        return Err(EvalError::Period(format!(
            "--from {} is after --to {}",
            from.label(),
            to.label()
        )));
    }
    let periods = periods::range(from, to);
    let range_start = from.start();
    let range_end = to.end().min(as_of);

    let mut notes = Vec::new();
    for b in &opts.by {
        let without: Vec<&str> = lib
            .metrics
            .iter()
            .filter(|m| !m.breakdowns.iter().any(|(n, _)| n == b))
            .map(|m| m.id.as_str())
            .collect();
        if without.len() == lib.metrics.len() {
            let mut known: Vec<&str> = lib
                .metrics
                .iter()
                .flat_map(|m| m.breakdowns.iter().map(|(n, _)| n.as_str()))
                .collect();
            known.sort_unstable();
            known.dedup();
            return Err(EvalError::Period(format!(
                "no metric can be broken down by `{b}`; breakdowns in use: {}",
                known.join(", ")
            )));
        }
        if !without.is_empty() {
            notes.push(format!(
                "not broken down by {b} (the measure does not allow it): {}",
                without.join(", ")
            ));
        }
    }

    // Plans, and the related date lists they share.
    let mut plans: Vec<(usize, Plan)> = Vec::new();
    let mut shared: Vec<SeriesKey> = Vec::new();
    let mut lazies: Vec<LazyFrame> = Vec::new();
    for (mi, m) in lib.metrics.iter().enumerate() {
        match plan(m, ex, range_start, range_end, &opts.by, opts.cases) {
            Ok(p) => {
                for (k, s) in &p.series {
                    if !shared.contains(k) {
                        if let Some(lf) = series_frame(ex, k, s) {
                            shared.push(k.clone());
                            lazies.push(lf);
                        }
                    }
                }
                plans.push((mi, p));
            }
            Err(why) => notes.push(format!("{}: not available: {why}", m.id)),
        }
    }
    let n_series = lazies.len();
    lazies.extend(plans.iter().map(|(_, p)| p.frame.clone()));
    let frames = LazyFrame::collect_all_with_engine(
        lazies.into_iter().map(|lf| lf.logical_plan).collect(),
        Engine::Auto,
        OptFlags::default(),
    )
    .map_err(EvalError::Polars)?;
    let (series_frames, metric_frames) = frames.split_at(n_series);
    let keyed: Vec<KeyedDates> = series_frames
        .iter()
        .map(KeyedDates::from_frame)
        .collect::<PolarsResult<_>>()
        .map_err(EvalError::Polars)?;

    let mut dob = PlHashMap::new();
    if let (true, Some(children)) = (
        opts.by.iter().any(|b| b == "age_band"),
        ex.frame(crate::schema::CHILDREN),
    ) {
        let ids = children.column(schema::CHILD_ID).and_then(|c| c.str());
        let days = children
            .column(schema::DATE_OF_BIRTH)
            .and_then(|c| c.cast(&DataType::Int32));
        if let (Ok(ids), Ok(days)) = (ids, days) {
            let days = days.i32().map_err(EvalError::Polars)?.clone();
            dob.reserve(ids.len());
            for (id, d) in ids.iter().zip(days.iter()) {
                if let (Some(id), Some(d)) = (id, d) {
                    dob.insert(id, d);
                }
            }
        }
    }
    let cx = Ctx {
        cal,
        as_of: epoch_days(as_of),
        dob,
    };
    // Each metric is timed and tallied on its own: spread them over the cores.
    let work: Vec<(&Metric, &Plan, &DataFrame)> = plans
        .iter()
        .zip(metric_frames)
        .map(|((mi, p), df)| (&lib.metrics[*mi], p, df))
        .collect();
    let results = crate::par::par_map(
        work,
        |(_, _, df)| df.height() as u64,
        |(m, p, df)| -> PolarsResult<(Vec<OutRow>, [u64; 3], Vec<CaseFlag>)> {
            let data = read_rows(m, p, df)?;
            let series_ix: Vec<usize> = p
                .series
                .iter()
                .map(|(k, _)| shared.iter().position(|s| s == k).expect("planned"))
                .collect();
            let result = tally(m, p, &data, &series_ix, &keyed, &cx, &periods, opts);
            let flags = match &data.key {
                Some(keys) => result
                    .flags
                    .iter()
                    .filter_map(|&(row, pi)| {
                        Some(CaseFlag {
                            metric_id: m.id.clone(),
                            table: m.population.table.name,
                            key: keys[row as usize]?.to_string(),
                            child_id: data
                                .child
                                .as_ref()
                                .and_then(|c| c[row as usize])
                                .map(str::to_string),
                            period: periods[pi as usize].label(),
                        })
                    })
                    .collect(),
                None => Vec::new(),
            };
            Ok((
                out_rows(m, &result, &periods, as_of, lib, opts),
                result.excluded,
                flags,
            ))
        },
    );
    let mut rows = Vec::new();
    let mut cases = Vec::new();
    let (first, last) = cal.range();
    for ((mi, _), r) in plans.iter().zip(results) {
        let (out, [no_start, negative, outside], flags) = r.map_err(EvalError::Polars)?;
        cases.extend(flags);
        let id = &lib.metrics[*mi].id;
        if no_start > 0 {
            notes.push(format!(
                "{id}: {no_start} rows have no start date to time from; counted as excluded"
            ));
        }
        if negative > 0 {
            notes.push(format!(
                "{id}: {negative} rows end before they start (a data error); counted as \
                 excluded, never as within"
            ));
        }
        if outside > 0 {
            notes.push(format!(
                "{id}: {outside} rows could not be timed because a date falls outside the \
                 calendar ({first} to {last}); counted as excluded. Pass --calendar with a \
                 calendar that covers them"
            ));
        }
        rows.extend(out);
    }
    Ok(Evaluation {
        as_of,
        grain: opts.grain,
        periods,
        rows,
        notes,
        cases,
    })
}

struct Tallied {
    /// breakdown index (0 = all) -> (period index, group id) -> tally
    tallies: Vec<PlHashMap<(u32, u32), Tally>>,
    groups: Vec<Groups>,
    /// Rows excluded because they had no start, ran backwards, or fell outside the calendar
    /// (counted once per row and period).
    excluded: [u64; 3],
    /// With `cases`: (row, period index) of each case counted against the measure.
    flags: Vec<(u32, u32)>,
}

/// Whether a row with this status counts against the measure: a breach where higher is
/// better, a counted case where lower is better (a re-referral, a repeat plan).
fn counts_against(m: &Metric, status: Status) -> bool {
    use super::definition::Polarity;
    matches!(
        m.kind,
        MetricKind::Ratio | MetricKind::Repeat | MetricKind::Snapshot
    ) && match m.polarity {
        Polarity::Higher => status == Status::Breach,
        Polarity::Lower => status == Status::Met,
        Polarity::Neutral => false,
    }
}

#[allow(clippy::too_many_arguments)]
fn tally(
    m: &Metric,
    p: &Plan,
    d: &RowData<'_>,
    series_ix: &[usize],
    keyed: &[KeyedDates<'_>],
    cx: &Ctx,
    periods: &[Period],
    opts: &EvalOptions,
) -> Tallied {
    let nb = m.breakdowns.len();
    // Which breakdowns are wanted (index into m.breakdowns).
    let wanted: Vec<usize> = m
        .breakdowns
        .iter()
        .enumerate()
        .filter(|(_, (n, _))| opts.by.iter().any(|b| b == n))
        .map(|(i, _)| i)
        .collect();
    let mut out = Tallied {
        tallies: vec![PlHashMap::new(); nb + 1],
        groups: (0..=nb).map(|_| Groups::default()).collect(),
        excluded: [0; 3],
        flags: Vec::new(),
    };
    out.groups[0].id("all");
    let nbuckets = m.buckets.len();
    let first = periods[0];
    let dates_of = |row: usize, si: usize| -> &[i32] {
        match &d.on[si][row] {
            Some(k) => keyed[series_ix[si]].of(k),
            None => &[],
        }
    };
    // Caseloads: (period, holder) -> the holder's children, and the groups of its first row.
    type Holders<'a> = PlHashMap<(u32, &'a str), (PlHashSet<&'a str>, Vec<u32>)>;
    let mut per_group: Holders = PlHashMap::new();
    let mut targets: Vec<(usize, u32)> = Vec::with_capacity(nb + 1);

    let mut record =
        |out: &mut Tallied, row: usize, pi: u32, at: i32, status: Status, value: Option<f64>| {
            if let Status::Excluded(why) = status {
                out.excluded[why as usize] += 1;
            }
            if opts.cases && counts_against(m, status) {
                out.flags.push((row as u32, pi));
            }
            targets.clear();
            targets.push((0, 0));
            for &bi in &wanted {
                let name = match &m.breakdowns[bi].1 {
                    Breakdown::AgeBand => {
                        let child = d.child.as_ref().and_then(|c| c[row]);
                        age_band(child.and_then(|c| cx.dob.get(c).copied()), at)
                    }
                    Breakdown::Column(_) => group_name(d.by[bi].as_ref().and_then(|v| v[row])),
                };
                let g = out.groups[bi + 1].id(name);
                targets.push((bi + 1, g));
            }
            if let (Some(Value::PerGroup(_)), Some(per), Some(child)) = (&m.value, &d.per, &d.child)
            {
                let Some(w) = per[row] else { return };
                let e = per_group
                    .entry((pi, w))
                    .or_insert_with(|| (PlHashSet::new(), targets.iter().map(|t| t.1).collect()));
                if let Some(c) = child[row] {
                    e.0.insert(c);
                }
                return;
            }
            for &(bi, g) in &targets {
                let t = out.tallies[bi].entry((pi, g)).or_insert_with(|| Tally {
                    buckets: vec![0; nbuckets],
                    ..Tally::default()
                });
                match status {
                    Status::Met => t.met += 1,
                    Status::Breach => t.breach += 1,
                    Status::Pending => t.pending += 1,
                    Status::Excluded(_) => t.excluded += 1,
                }
                if let Some(v) = value {
                    if nbuckets > 0 {
                        let b = m
                            .buckets
                            .iter()
                            .position(|b| b.below.is_none_or(|x| v < x))
                            .unwrap_or(nbuckets - 1);
                        t.buckets[b] += 1;
                    } else {
                        t.values.push(v);
                    }
                }
            }
        };

    // The status and value of one row at one point (its own date, or a period end).
    let judge = |row: usize, at: i32, open_start: Option<i32>| -> (Status, Option<f64>) {
        let pick = |si: usize| -> Picked { cx.pick(&p.series[si].1, dates_of(row, si), at) };
        let source_ms = |s: &Source, col: Option<&Vec<i64>>| -> Option<i64> {
            match s {
                Source::Series(i) => pick(*i).date.map(|x| x as i64 * MS_PER_DAY),
                Source::Column { .. } => col.map(|v| v[row]).filter(|&x| x != NULL),
            }
        };
        // The numerator condition (without the `within` rule).
        let mut ok = d.num[row];
        for (i, (s, present)) in m.condition.exists.iter().enumerate() {
            let found = match s {
                Source::Series(si) => pick(*si).count > 0,
                Source::Column { .. } => d.exists[i].as_ref().is_some_and(|v| v[row]),
            };
            ok &= found == *present;
        }
        if let (Some(w), Some(start)) = (m.condition.open_for_at_least, open_start) {
            ok &= cx.open_at_least(start, at, w);
        }
        if let Some(r) = &m.condition.recent {
            let found = pick(r.series).date;
            let floor = r.not_before.as_ref().and_then(|s| match s {
                Source::Column { .. } => d
                    .not_before
                    .as_ref()
                    .map(|v| v[row])
                    .filter(|&x| x != NULL)
                    .map(day_of),
                Source::Series(i) => pick(*i).date,
            });
            ok &=
                found.is_some_and(|f| cx.recent(f, at, r.window) && floor.is_none_or(|fl| f >= fl));
        }
        if let Some(rep) = &m.repeat {
            let si = p.self_series.expect("planned");
            let dates = dates_of(row, si);
            let earlier = dates.partition_point(|&x| x < at);
            ok &= earlier >= rep.at_least as usize
                && match rep.window {
                    None => true,
                    Some(w) => {
                        let from = cx.window_start(at, w);
                        // The at_least-th latest earlier date must be inside the window.
                        dates[earlier - rep.at_least as usize] >= from
                    }
                };
        }
        let mut value = None;
        match &m.value {
            Some(Value::Sequence) => {
                let si = p.self_series.expect("planned");
                value = Some((dates_of(row, si).partition_point(|&x| x < at) + 1) as f64);
            }
            Some(Value::RelatedCount(si)) => value = Some(f64::from(pick(*si).count)),
            Some(Value::MonthsOpen) => value = open_start.map(|s| whole_months(s, at) as f64),
            _ => {}
        }
        let Some(w) = &m.within else {
            return (if ok { Status::Met } else { Status::Breach }, value);
        };
        let Some((start, limit)) = w
            .from
            .iter()
            .enumerate()
            .find_map(|(i, (s, l))| source_ms(s, d.from[i].as_ref()).map(|v| (v, *l)))
        else {
            return (Status::Excluded(Why::NoStart), value);
        };
        let end = source_ms(&w.to, d.to.as_ref());
        if matches!(m.value, Some(Value::Span)) {
            value = match end {
                Some(e) => match cx.elapsed(w.unit, start, e) {
                    Ok(v) => Some(v),
                    Err(why) => return (Status::Excluded(why), None),
                },
                None => None,
            };
        }
        let Some(limit) = limit else {
            return (if ok { Status::Met } else { Status::Breach }, value);
        };
        let status = match end {
            Some(e) => match cx.within(w.unit, start, e, limit.n) {
                Ok(true) if ok => Status::Met,
                Ok(_) => Status::Breach,
                Err(why) => Status::Excluded(why),
            },
            // Still waiting: a breach once the deadline has passed, else pending.
            None => match cx.within(w.unit, start, cx.as_of as i64 * MS_PER_DAY, limit.n) {
                Ok(true) if ok => Status::Pending,
                Ok(_) => Status::Breach,
                Err(why) => Status::Excluded(why),
            },
        };
        (status, value)
    };

    let required: Vec<usize> = m
        .population
        .require
        .iter()
        .filter_map(|r| m.series.iter().position(|s| s.name == *r))
        .collect();
    let required_found = |row: usize| required.iter().all(|&si| !dates_of(row, si).is_empty());
    match &m.population.rows {
        Rows::Events { .. } => {
            for row in 0..d.n {
                let ms = d.period_date[row];
                if ms == NULL {
                    continue;
                }
                let day = day_of(ms);
                let pi = Period::containing(first.grain, date_of(day)).index - first.index;
                if pi < 0 || pi as usize >= periods.len() {
                    continue;
                }
                if !required_found(row) {
                    continue;
                }
                let (status, value) = judge(row, day, None);
                record(&mut out, row, pi as u32, day, status, value);
            }
        }
        Rows::Open {
            open_for_at_least, ..
        } => {
            let points: Vec<i32> = periods
                .iter()
                .map(|p| epoch_days(p.end()).min(cx.as_of))
                .collect();
            for row in 0..d.n {
                let start = day_of(d.start[row]);
                let end = (d.end[row] != NULL).then(|| day_of(d.end[row]));
                for (pi, &at) in points.iter().enumerate() {
                    if start > at || end.is_some_and(|e| e <= at) {
                        continue;
                    }
                    if open_for_at_least.is_some_and(|w| !cx.open_at_least(start, at, w)) {
                        continue;
                    }
                    if !required_found(row) {
                        continue;
                    }
                    let (status, value) = judge(row, at, Some(start));
                    record(&mut out, row, pi as u32, at, status, value);
                }
            }
        }
    }
    // Caseloads become one value per holder.
    for ((pi, _), (children, groups)) in per_group {
        let mut targets = vec![(0usize, 0u32)];
        targets.extend(
            wanted
                .iter()
                .zip(groups.iter().skip(1))
                .map(|(&bi, &g)| (bi + 1, g)),
        );
        for (bi, g) in targets {
            let t = out.tallies[bi].entry((pi, g)).or_default();
            t.met += 1;
            t.values.push(children.len() as f64);
        }
    }
    out
}

fn out_rows(
    m: &Metric,
    t: &Tallied,
    periods: &[Period],
    as_of: NaiveDate,
    lib: &Library,
    opts: &EvalOptions,
) -> Vec<OutRow> {
    let mut rows = Vec::new();
    let per_10k = lib.standards.child_population.filter(|&p| p > 0.0);
    for (bi, tallies) in t.tallies.iter().enumerate() {
        let breakdown = if bi == 0 {
            "all".to_string()
        } else {
            m.breakdowns[bi - 1].0.clone()
        };
        if bi > 0 && !opts.by.contains(&breakdown) {
            continue;
        }
        // Every group seen in any period, in a stable order, "unknown" last.
        let mut groups: Vec<(u32, &str)> = t.groups[bi]
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| (i as u32, n.as_str()))
            .collect();
        // Age bands youngest first; other groups alphabetically; "unknown" last.
        groups.sort_by_key(|(_, n)| {
            let band = AGE_BANDS.iter().position(|b| b == n).unwrap_or(usize::MAX);
            (*n == "unknown", band, n.to_string())
        });
        for (pi, period) in periods.iter().enumerate() {
            for &(g, group) in &groups {
                let empty = Tally {
                    buckets: vec![0; m.buckets.len()],
                    ..Tally::default()
                };
                let tl = tallies.get(&(pi as u32, g)).unwrap_or(&empty);
                let base = OutRow {
                    metric_id: m.id.clone(),
                    period: period.label(),
                    period_start: period.start(),
                    period_end: period.end(),
                    breakdown: breakdown.clone(),
                    group: group.to_string(),
                    category: "all".into(),
                    numerator: None,
                    denominator: None,
                    value: None,
                    pending: tl.pending,
                    excluded: tl.excluded,
                    target: m.target,
                    rag: None,
                    ci_low: None,
                    ci_high: None,
                    rate_per_10k: None,
                    p25: None,
                    p75: None,
                    unit: m.kind.unit().into(),
                    polarity: m.polarity.name().into(),
                    complete: period.end() <= as_of,
                };
                match m.kind {
                    MetricKind::Ratio | MetricKind::Repeat | MetricKind::Snapshot => {
                        let (x, n) = (tl.met, tl.met + tl.breach);
                        let value = (n > 0).then(|| 100.0 * x as f64 / n as f64);
                        let ci = stats::wilson(x, n, stats::Z95);
                        rows.push(OutRow {
                            numerator: Some(x as f64),
                            denominator: Some(n as f64),
                            value,
                            rag: rag(m, value),
                            ci_low: ci.map(|c| 100.0 * c.0),
                            ci_high: ci.map(|c| 100.0 * c.1),
                            ..base
                        });
                    }
                    MetricKind::Count => {
                        let x = tl.met + tl.breach;
                        rows.push(OutRow {
                            numerator: Some(x as f64),
                            value: Some(x as f64),
                            rag: rag(m, Some(x as f64)),
                            rate_per_10k: per_10k
                                .filter(|_| bi == 0)
                                .map(|p| 10_000.0 * x as f64 / p),
                            ..base
                        });
                    }
                    MetricKind::Summary => {
                        let mut v = tl.values.clone();
                        v.sort_by(f64::total_cmp);
                        let median = stats::quantile(&v, 0.5);
                        rows.push(OutRow {
                            denominator: Some(v.len() as f64),
                            value: median,
                            rag: rag(m, median),
                            p25: stats::quantile(&v, 0.25),
                            p75: stats::quantile(&v, 0.75),
                            ..base
                        });
                    }
                    MetricKind::Distribution => {
                        let n: u64 = tl.buckets.iter().sum();
                        for (b, bucket) in m.buckets.iter().enumerate() {
                            let x = tl.buckets[b];
                            let ci = stats::wilson(x, n, stats::Z95);
                            rows.push(OutRow {
                                category: bucket.label.clone(),
                                numerator: Some(x as f64),
                                denominator: Some(n as f64),
                                value: (n > 0).then(|| 100.0 * x as f64 / n as f64),
                                ci_low: ci.map(|c| 100.0 * c.0),
                                ci_high: ci.map(|c| 100.0 * c.1),
                                ..base.clone()
                            });
                        }
                    }
                }
            }
        }
    }
    rows
}

/// Red, amber or green from the thresholds (or the target alone), respecting polarity.
pub fn rag(m: &Metric, value: Option<f64>) -> Option<&'static str> {
    use super::definition::Polarity::*;
    let v = value?;
    let better_or_equal = |a: f64, b: f64| match m.polarity {
        Higher => a >= b,
        Lower => a <= b,
        Neutral => false,
    };
    if m.polarity == Neutral {
        return None;
    }
    match (m.rag, m.target) {
        (Some(r), _) => Some(if better_or_equal(v, r.green) {
            "green"
        } else if better_or_equal(v, r.amber) {
            "amber"
        } else {
            "red"
        }),
        (None, Some(t)) => Some(if better_or_equal(v, t) {
            "green"
        } else {
            "red"
        }),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> i32 {
        epoch_days(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    #[test]
    fn whole_months_clamp_at_month_ends_and_leap_days() {
        assert_eq!(whole_months(day(2024, 1, 31), day(2024, 2, 29)), 1);
        assert_eq!(whole_months(day(2024, 1, 31), day(2024, 2, 28)), 0);
        assert_eq!(whole_months(day(2024, 2, 29), day(2025, 2, 28)), 12);
        assert_eq!(whole_months(day(2023, 4, 1), day(2025, 3, 31)), 23);
        assert_eq!(whole_months(day(2023, 4, 1), day(2025, 4, 1)), 24);
        assert_eq!(whole_months(day(2025, 3, 31), day(2025, 3, 31)), 0);
    }

    #[test]
    fn age_bands_follow_birthdays() {
        let at = day(2025, 3, 31);
        assert_eq!(age_band(Some(day(2024, 4, 1)), at), "under 1");
        assert_eq!(age_band(Some(day(2024, 3, 31)), at), "1 to 4");
        assert_eq!(age_band(Some(day(2009, 4, 1)), at), "10 to 15");
        assert_eq!(age_band(Some(day(2009, 3, 31)), at), "16 and over");
        assert_eq!(age_band(Some(day(2025, 6, 1)), at), "unborn");
        assert_eq!(age_band(None, at), "unknown");
    }

    #[test]
    fn working_day_windows_end_where_the_count_passes_n() {
        let cal = Calendar::england_and_wales();
        let cx = Ctx {
            cal: &cal,
            as_of: 0,
            dob: PlHashMap::new(),
        };
        let w = Window {
            unit: Unit::WorkingDays,
            n: 1,
        };
        // Tuesday 2 January 2024 (Monday 1 January is a bank holiday): the window of 1
        // working day ending on it starts on Friday 29 December, since (29 Dec, 2 Jan] holds
        // one working day and (28 Dec, 2 Jan] two.
        assert_eq!(cx.window_start(day(2024, 1, 2), w), day(2023, 12, 29));
        assert_eq!(
            cal.working_days_between_epoch(day(2023, 12, 29), day(2024, 1, 2)),
            Some(1)
        );
        assert!(cx.recent(day(2023, 12, 29), day(2024, 1, 2), w));
        assert!(!cx.recent(day(2023, 12, 28), day(2024, 1, 2), w));
        let two = Window {
            unit: Unit::Months,
            n: 2,
        };
        // "After the period end minus 2 months": 31 Aug is not after 31 Aug.
        assert!(!cx.recent(day(2024, 8, 31), day(2024, 10, 31), two));
        assert!(cx.recent(day(2024, 9, 1), day(2024, 10, 31), two));
    }
}
