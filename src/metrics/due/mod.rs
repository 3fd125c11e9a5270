//! The managers' worklist (`csc-audit due`): every case a measure would count against the
//! service once its deadline passes, with that deadline, read from the same definitions and
//! timed by the same rules as the measures.
//!
//! Three shapes of deadline, each in its own file:
//! - `waiting`: a row waits for its own event (a referral for its decision, a plan for its
//!   first core group): a ratio whose `[within]` ends at a date the row has not got yet;
//! - `awaited`: a ratio whose clock stops at the population's own event (a conference) lists
//!   the rows of its `[awaiting]` table that have not had it (S47s with no ICPC yet, plans
//!   due their next review);
//! - `recurring`: a snapshot whose numerator asks for a recent event (a visit, a
//!   supervision) lists the open cases, due when the latest event falls out of the window.

mod awaited;
mod recurring;
mod waiting;

use chrono::NaiveDate;
use polars::prelude::*;

use super::definition::{Breakdown, Polarity, Source};
use super::engine::Ctx;
use super::kinds::MetricKind;
use super::plan::Plan;
use super::related::{series_frame, KeyedDates, SeriesKey};
use super::rows::{read_rows, RowData};
use super::tally::Judge;
use super::windows::{date_of, reach_days, Unit, MS_PER_DAY};
use super::within::Within;
use super::{EvalError, Library, Metric};
use crate::calendar::Calendar;
use crate::ingest::Extracts;
use crate::values::epoch_days;

/// Where a case stands on the as-of date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DueStatus {
    /// The measure counts it as a breach already.
    Overdue,
    /// The deadline is the as-of date (or the working day it counts as).
    DueToday,
    /// Due within `--within` working days.
    DueSoon,
}

impl DueStatus {
    pub const ALL: [DueStatus; 3] = [DueStatus::Overdue, DueStatus::DueToday, DueStatus::DueSoon];
    pub fn name(self) -> &'static str {
        match self {
            DueStatus::Overdue => "overdue",
            DueStatus::DueToday => "due_today",
            DueStatus::DueSoon => "due_soon",
        }
    }
}

/// One case not yet done, with its deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueCase {
    pub metric_id: String,
    pub case_id: String,
    pub child_id: String,
    pub team: String,
    pub worker: String,
    /// When the clock started.
    pub started: NaiveDate,
    /// The last working day that still counts as on time (the last day, when the standard
    /// is in calendar units and no working day is left before it).
    pub deadline: NaiveDate,
    pub working_days_left: i64,
    pub status: DueStatus,
}

/// A case the measure cannot time, listed apart with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueExcluded {
    pub metric_id: String,
    pub case_id: String,
    pub child_id: String,
    pub team: String,
    pub worker: String,
    pub reason: String,
}

/// The worklist as of one date.
#[derive(Debug, Clone)]
pub struct Worklist {
    pub as_of: NaiveDate,
    /// Cases due within this many working days are `due_soon`.
    pub within: i64,
    /// Sorted by deadline, then measure, then case.
    pub cases: Vec<DueCase>,
    pub excluded: Vec<DueExcluded>,
    /// The measures the list covers (id, title), in the library's order.
    pub measures: Vec<(String, String)>,
    /// Measures with no deadline on an open case, or not available, and why.
    pub notes: Vec<String>,
    /// Cases left out because their clock started before [`DueOptions::since`].
    pub older: u64,
}

/// What to list.
#[derive(Debug, Clone)]
pub struct DueOptions {
    /// Cases due up to this many working days ahead are listed (`due_soon`); later ones
    /// are left out.
    pub within: i64,
    /// Leave out the cases whose clock started before this date (counted in
    /// [`Worklist::older`]).
    pub since: Option<NaiveDate>,
}

/// The shape of a measure's deadline on open cases, if it sets one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Waiting,
    Awaited,
    Recurring,
}

fn shape_of(m: &Metric) -> Result<Shape, &'static str> {
    let limited = |w: &Within| w.from.iter().all(|(_, l)| l.is_some());
    match (m.kind, &m.within) {
        (MetricKind::Ratio, Some(w)) if limited(w) && m.polarity == Polarity::Higher => {
            if m.awaiting.is_some() {
                Ok(Shape::Awaited)
            } else if can_wait(m, w) {
                Ok(Shape::Waiting)
            } else {
                Err("its clock stops at the row's own event: add [awaiting] to list the cases still waiting for it")
            }
        }
        (MetricKind::Snapshot, None)
            if m.condition.recent.is_some() && m.polarity == Polarity::Higher =>
        {
            Ok(Shape::Recurring)
        }
        (MetricKind::Snapshot, Some(_)) if m.condition.recent.is_some() => {
            Err("a snapshot timed by [within] as well as a recent event: no single deadline")
        }
        _ => Err("no deadline on an open case"),
    }
}

/// Whether a row can wait for the date the rule ends at: a picked date, a looked-up one,
/// or a column of its own that may be empty.
fn can_wait(m: &Metric, w: &Within) -> bool {
    match &w.to {
        Source::Series(_) => true,
        Source::Column { name, .. } => match m.population.table.column(name) {
            Some(c) => !c.required,
            None => true,
        },
    }
}

/// The worklist of every measure of `lib` that sets a deadline on open cases.
pub fn due(
    ex: &Extracts,
    lib: &Library,
    cal: &Calendar,
    opts: &DueOptions,
) -> Result<Worklist, EvalError> {
    let cx = Ctx {
        cal,
        as_of: epoch_days(ex.as_of),
        dob: PlHashMap::new(),
    };
    let mut list = Worklist {
        as_of: ex.as_of,
        within: opts.within,
        cases: Vec::new(),
        excluded: Vec::new(),
        measures: Vec::new(),
        notes: Vec::new(),
        older: 0,
    };
    let mut without: Vec<(&str, Vec<&str>)> = Vec::new();
    let mut planned: Vec<(&Metric, Shape, Plan)> = Vec::new();
    // In the library's order, each measure's place in `planned`, or why it has none.
    let mut order: Vec<(&Metric, Result<usize, String>)> = Vec::new();
    for m in &lib.metrics {
        let shape = match shape_of(m) {
            Ok(s) => s,
            Err(why) => {
                match without.iter_mut().find(|(w, _)| *w == why) {
                    Some((_, ids)) => ids.push(&m.id),
                    None => without.push((why, vec![&m.id])),
                }
                continue;
            }
        };
        match plan_of(m, ex, shape) {
            Ok(p) => {
                order.push((m, Ok(planned.len())));
                planned.push((m, shape, p));
            }
            Err(why) => order.push((m, Err(why))),
        }
    }
    let found = match together(ex, &planned, &cx, opts) {
        Some(found) => found,
        // Something failed in one query of them all: each measure alone, to say which.
        None => planned
            .iter()
            .map(|(m, shape, p)| one(m, ex, p, &cx, *shape, opts))
            .collect(),
    };
    let mut found: Vec<Option<PolarsResult<Found>>> = found.into_iter().map(Some).collect();
    for (m, at) in order {
        // One measure that cannot be evaluated is a note, never the end of the list.
        let found = match at.map(|i| found[i].take().expect("judged once")) {
            Ok(Ok(f)) => f,
            Err(why) => {
                list.notes.push(format!("{}: not available: {why}", m.id));
                continue;
            }
            Ok(Err(e)) => {
                list.notes.push(format!("{}: not available: {e}", m.id));
                continue;
            }
        };
        list.measures.push((m.id.clone(), m.title.clone()));
        list.cases.extend(found.0);
        list.excluded.extend(found.1);
        list.older += found.2;
    }
    for (why, ids) in without {
        list.notes
            .push(format!("not in the worklist ({why}): {}", ids.join(", ")));
    }
    list.cases.sort_by(|a, b| {
        (a.deadline, &a.metric_id, &a.case_id).cmp(&(b.deadline, &b.metric_id, &b.case_id))
    });
    Ok(list)
}

/// The rows of `m` the worklist judges, by its shape.
fn plan_of(m: &Metric, ex: &Extracts, shape: Shape) -> Result<Plan, String> {
    match shape {
        Shape::Awaited => awaited::plan(m, ex),
        _ => super::plan::plan(
            m,
            ex,
            super::plan::Span::Due { as_of: ex.as_of },
            &people(m),
            true,
        ),
    }
}

/// Every query [`due`] makes of `ex`'s frames for `m`, uncollected (none for a measure
/// without a deadline on open cases): what [`super::due_columns_read`] reads the columns of.
pub(super) fn queries(m: &Metric, ex: &Extracts) -> Result<Vec<LazyFrame>, String> {
    let Ok(shape) = shape_of(m) else {
        return Ok(Vec::new());
    };
    let plan = plan_of(m, ex, shape)?;
    let mut lfs = vec![plan.frame];
    lfs.extend(
        plan.series
            .iter()
            .filter_map(|(k, s)| series_frame(ex, k, s)),
    );
    if shape == Shape::Awaited {
        lfs.extend(awaited::done_query(m, ex, epoch_days(ex.as_of) as i64));
    }
    Ok(lfs)
}

/// The breakdowns that name the case's team and worker.
fn people(m: &Metric) -> Vec<String> {
    ["team", "worker"]
        .iter()
        .filter(|n| m.breakdowns.iter().any(|(b, _)| b == *n))
        .map(|n| n.to_string())
        .collect()
}

/// Cases, cases listed apart, and cases left out as older than `since`.
type Found = (Vec<DueCase>, Vec<DueExcluded>, u64);

/// Every planned measure's cases, as the measures are evaluated: the rows and the related
/// date lists collected together (a list two measures read, once), the lists keyed side by
/// side, then the measures judged side by side. `None` when a query or a list fails.
fn together(
    ex: &Extracts,
    planned: &[(&Metric, Shape, Plan)],
    cx: &Ctx,
    opts: &DueOptions,
) -> Option<Vec<PolarsResult<Found>>> {
    let mut shared: Vec<&SeriesKey> = Vec::new();
    let mut lazies: Vec<Option<LazyFrame>> = Vec::new();
    for (k, s) in planned.iter().flat_map(|(_, _, p)| &p.series) {
        if !shared.contains(&k) {
            shared.push(k);
            lazies.push(series_frame(ex, k, s));
        }
    }
    let mut plans: Vec<DslPlan> = lazies
        .iter()
        .flatten()
        .map(|lf| lf.logical_plan.clone())
        .collect();
    plans.extend(planned.iter().map(|(_, _, p)| p.frame.logical_plan.clone()));
    let collected =
        LazyFrame::collect_all_with_engine(plans, Engine::Auto, OptFlags::default()).ok()?;
    let (mut lists, frames) = {
        let n = lazies.iter().flatten().count();
        let mut c = collected.into_iter();
        let lists: Vec<DataFrame> = c.by_ref().take(n).collect();
        (lists.into_iter(), c.collect::<Vec<DataFrame>>())
    };
    // A list with no table to read is empty.
    let lists: Vec<DataFrame> = lazies
        .iter()
        .map(|lf| match lf {
            Some(_) => lists.next().expect("one list a query"),
            None => no_dates(),
        })
        .collect();
    let keyed: Vec<KeyedDates> = crate::par::par_map(
        lists.iter().collect(),
        |df| df.height() as u64,
        KeyedDates::from_frame,
    )
    .into_iter()
    .collect::<PolarsResult<_>>()
    .ok()?;
    let work: Vec<(&(&Metric, Shape, Plan), &DataFrame)> = planned.iter().zip(&frames).collect();
    Some(crate::par::par_map(
        work,
        |(_, df)| df.height() as u64,
        |((m, shape, p), df)| {
            let series_ix: Vec<usize> = (p.series.iter())
                .map(|(k, _)| shared.iter().position(|s| *s == k).expect("shared"))
                .collect();
            judge(m, ex, p, df, (&series_ix, &keyed), cx, *shape, opts)
        },
    ))
}

/// An empty related date list.
fn no_dates() -> DataFrame {
    DataFrame::empty_with_schema(&Schema::from_iter([
        Field::new("k".into(), DataType::String),
        Field::new("d".into(), DataType::Date),
    ]))
}

/// One measure's cases: its frame and series collected, each row judged by its shape.
fn one(
    m: &Metric,
    ex: &Extracts,
    p: &Plan,
    cx: &Ctx,
    shape: Shape,
    opts: &DueOptions,
) -> PolarsResult<Found> {
    let df = p.frame.clone().collect()?;
    let frames: Vec<DataFrame> = p
        .series
        .iter()
        .map(|(k, s)| match series_frame(ex, k, s) {
            Some(lf) => lf.collect(),
            None => Ok(no_dates()),
        })
        .collect::<PolarsResult<_>>()?;
    let keyed: Vec<KeyedDates> = frames
        .iter()
        .map(KeyedDates::from_frame)
        .collect::<PolarsResult<_>>()?;
    let series_ix: Vec<usize> = (0..p.series.len()).collect();
    judge(m, ex, p, &df, (&series_ix, &keyed), cx, shape, opts)
}

/// One measure's rows `df` judged by its shape; its related date lists are
/// `keyed[series_ix[i]]`.
#[allow(clippy::too_many_arguments)]
fn judge(
    m: &Metric,
    ex: &Extracts,
    p: &Plan,
    df: &DataFrame,
    (series_ix, keyed): (&[usize], &[KeyedDates]),
    cx: &Ctx,
    shape: Shape,
    opts: &DueOptions,
) -> PolarsResult<Found> {
    let d = read_rows(m, p, df)?;
    let j = Judge::new(m, p, &d, series_ix, keyed, cx);
    let mut out = Out {
        m,
        d: &d,
        cx,
        opts,
        found: (Vec::new(), Vec::new(), 0),
        since_applies: shape == Shape::Waiting,
    };
    match shape {
        Shape::Waiting => waiting::list(&j, df, &mut out)?,
        Shape::Awaited => awaited::list(&j, ex, &mut out)?,
        Shape::Recurring => recurring::list(&j, df, &mut out)?,
    }
    Ok(out.found)
}

/// Collects one measure's cases, filling the columns every shape fills alike.
struct Out<'a> {
    m: &'a Metric,
    d: &'a RowData<'a>,
    cx: &'a Ctx<'a>,
    opts: &'a DueOptions,
    found: Found,
    /// Whether `--since` leaves out old cases of this measure (rows waiting for their own
    /// event only).
    since_applies: bool,
}

impl Out<'_> {
    fn text(v: Option<&Vec<Option<&str>>>, row: usize) -> String {
        v.and_then(|v| v[row]).unwrap_or("").to_string()
    }

    /// The row's team or worker: its breakdown column, when the measure has one.
    fn person(&self, row: usize, name: &str) -> String {
        let Some(bi) = self.m.breakdowns.iter().position(|(b, _)| b == name) else {
            return String::new();
        };
        if !matches!(self.m.breakdowns[bi].1, Breakdown::Column(_)) {
            return String::new();
        }
        let coded = self.d.by.get(bi).and_then(|v| v.as_ref());
        coded.and_then(|c| c.get(row)).unwrap_or("").to_string()
    }

    fn ids(&self, row: usize) -> (String, String, String, String) {
        (
            Self::text(self.d.key.as_ref(), row),
            Self::text(self.d.child.as_ref(), row),
            self.person(row, "team"),
            self.person(row, "worker"),
        )
    }

    /// Lists a row apart: the measure cannot time it.
    fn exclude(&mut self, row: usize, reason: String) {
        let (case_id, child_id, team, worker) = self.ids(row);
        self.found.1.push(DueExcluded {
            metric_id: self.m.id.clone(),
            case_id,
            child_id,
            team,
            worker,
            reason,
        });
    }

    /// Lists a case started on `started` whose last on-time day is `last` (days since 1970;
    /// `None` when the calendar does not reach it), overdue exactly when the measure counts
    /// it as a breach on the as-of date. A case not overdue whose deadline the calendar
    /// cannot count to is not due within `--within` working days: left out.
    fn case(&mut self, row: usize, started: i32, last: Option<i32>, overdue: bool) {
        let Some((deadline, left)) = last.and_then(|l| deadline(self.cx, started, l, overdue))
        else {
            if overdue {
                self.exclude(row, "a date falls outside the working-day calendar".into());
            }
            return;
        };
        let status = if overdue {
            DueStatus::Overdue
        } else if left == 0 {
            DueStatus::DueToday
        } else if left <= self.opts.within {
            DueStatus::DueSoon
        } else {
            return;
        };
        // Only rows waiting for their own event go stale (a feedback date never recorded);
        // an open case's visits, reviews and conferences are always listed.
        if self.since_applies && self.opts.since.is_some_and(|s| date_of(started) < s) {
            self.found.2 += 1;
            return;
        }
        let (case_id, child_id, team, worker) = self.ids(row);
        self.found.0.push(DueCase {
            metric_id: self.m.id.clone(),
            case_id,
            child_id,
            team,
            worker,
            started: date_of(started),
            deadline: date_of(deadline),
            working_days_left: left,
            status,
        });
    }
}

/// The deadline shown (the last working day on or before the last on-time day `last`, when
/// there is one since the start) and the working days from the as-of date to it, counted as
/// the measures count: an as-of date on a weekend counts as the working day before it.
/// A standard in calendar units can fall due on a weekend: the count is then kept on the
/// side of the measure's verdict (at least 1 overdue, never below 0 while on time).
fn deadline(cx: &Ctx, started: i32, last: i32, overdue: bool) -> Option<(i32, i64)> {
    let mut shown = last;
    while shown > started && !cx.cal.is_working_day(date_of(shown)) {
        shown -= 1;
    }
    if !cx.cal.is_working_day(date_of(shown)) {
        shown = last;
    }
    let left = i64::from(cx.cal.working_days_between_epoch(cx.as_of, shown)?);
    Some((shown, if overdue { left.min(-1) } else { left.max(0) }))
}

/// The last day still within `n` units of `start` (ms), by the rule the measures time
/// with; `None` when the calendar does not reach.
fn last_within(cx: &Ctx, unit: Unit, start: i64, n: i64) -> Option<i32> {
    let ok = |d: i32| matches!(cx.within(unit, start, d as i64 * MS_PER_DAY, n), Ok(true));
    let day = start.div_euclid(MS_PER_DAY) as i32;
    // The measures time an open case at the start of the as-of day; in hours, from a time
    // of day, the first such point is the next midnight.
    let lo = if unit == Unit::Hours && start.rem_euclid(MS_PER_DAY) != 0 {
        day + 1
    } else {
        day
    };
    if !ok(lo) {
        // In hours, a deadline before the next midnight: on time through the start's day.
        return (unit == Unit::Hours && lo > day).then_some(day);
    }
    let w = super::windows::Window { unit, n };
    let hi = lo + reach_days(w) + 31;
    last_true(lo, hi, ok)
}

/// The largest d in [lo, hi] with `ok(d)`, for `ok` true at `lo` and then false from some
/// day on (binary search); `None` if it is still true at `hi`.
fn last_true(lo: i32, hi: i32, ok: impl Fn(i32) -> bool) -> Option<i32> {
    if ok(hi) {
        return None;
    }
    let (mut a, mut b) = (lo, hi);
    while b - a > 1 {
        let mid = a + (b - a) / 2;
        if ok(mid) {
            a = mid;
        } else {
            b = mid;
        }
    }
    Some(a)
}
