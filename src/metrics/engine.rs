//! Evaluates every metric from the loaded frames in one pass: polars builds one row frame
//! per metric (`plan`) and one sorted date list per related table; all of
//! them are collected together, then each metric's rows are timed and tallied
//! (`tally`) on its own core, where working days, calendar months and
//! periods follow one set of rules, and turned into output rows by its kind.

use chrono::NaiveDate;
use polars::prelude::*;

use super::breakdowns::dates_of_birth;
use super::out_rows::out_rows;
use super::plan::{plan, Plan, Span};
use super::related::{series_frame, KeyedDates, SeriesKey};
use super::rows::{read_rows, RowData};
use super::tally::{tally, Judge, Reported, Tallied};
use super::{CaseFlag, EvalError, EvalOptions, Evaluation, Library, Metric, OutRow};
use crate::calendar::Calendar;
use crate::ingest::Extracts;
use crate::periods::{self, Grain, Period};
use crate::values::epoch_days;

pub(crate) use super::breakdowns::age_band;
pub(crate) use super::windows::{date_of, whole_months};
#[cfg(test)]
use super::windows::{Unit, Window};

/// What timing a row needs besides the row: the calendar, the as-of date (days since 1970),
/// and children's dates of birth (days since 1970), when ages are asked for.
pub(super) struct Ctx<'a> {
    pub cal: &'a Calendar,
    pub as_of: i32,
    pub dob: PlHashMap<&'a str, i32>,
}

/// Evaluates every metric of the library.
pub fn evaluate(
    ex: &Extracts,
    lib: &Library,
    cal: &Calendar,
    opts: &EvalOptions,
) -> Result<Evaluation, EvalError> {
    let mut each = evaluate_each(ex, lib, cal, std::slice::from_ref(opts))?;
    Ok(each.pop().expect("one evaluation asked for"))
}

/// Evaluates every metric of the library once for each of `opts` (a pack's months,
/// quarters and year), sharing the plans, the collected frames and the keyed date lists,
/// and judging each row once: each evaluation is what [`evaluate`] gives for its options.
/// The options must break down by the same columns and agree on `cases`.
pub fn evaluate_each(
    ex: &Extracts,
    lib: &Library,
    cal: &Calendar,
    opts: &[EvalOptions],
) -> Result<Vec<Evaluation>, EvalError> {
    let clock = std::time::Instant::now();
    let as_of = ex.as_of;
    let Some(first) = opts.first() else {
        return Ok(Vec::new());
    };
    if opts
        .iter()
        .any(|o| o.by != first.by || o.cases != first.cases)
    {
        return Err(EvalError::Request(
            "evaluations made together must break down by the same columns and all list \
             the cases counted against, or none"
                .into(),
        ));
    }
    let mut periods = Vec::with_capacity(opts.len());
    let mut notes = Vec::with_capacity(opts.len());
    // Rows from the earliest period's start to the latest end: each grain counts its own.
    let (mut range_start, mut range_end) = (NaiveDate::MAX, NaiveDate::MIN);
    for o in opts {
        let (from, to) = period_range(as_of, o)?;
        range_start = range_start.min(from.start());
        range_end = range_end.max(to.end().min(as_of));
        periods.push(periods::range(from, to));
        notes.push(breakdown_notes(lib, o)?);
    }

    // Plans, and the related date lists they share.
    let mut plan_notes = Vec::new();
    let (plans, shared, mut lazies) =
        plan_all(ex, lib, first, range_start, range_end, &mut plan_notes);
    for n in &mut notes {
        n.extend(plan_notes.iter().cloned());
    }
    crate::ingest::trace_step(clock, "measures: planned");
    let n_series = lazies.len();
    lazies.extend(plans.iter().map(|(_, p)| p.frame.clone()));
    let frames = LazyFrame::collect_all_with_engine(
        lazies.into_iter().map(|lf| lf.logical_plan).collect(),
        Engine::Auto,
        OptFlags::default(),
    )
    .map_err(EvalError::Polars)?;
    let (series_frames, metric_frames) = frames.split_at(n_series);
    crate::memory::release(ex.frames_bytes());
    crate::ingest::trace_step(clock, "measures: frames collected");
    if crate::ingest::tracing() {
        let mb = |fs: &[DataFrame]| fs.iter().map(DataFrame::estimated_size).sum::<usize>() >> 20;
        eprintln!(
            "          related date lists hold about {} MB, row frames {} MB, less their string cells' 16 bytes each",
            mb(series_frames),
            mb(metric_frames)
        );
    }
    // The related date lists are keyed side by side: some hold millions of rows.
    let keyed: Vec<KeyedDates> = crate::par::par_map(
        series_frames.iter().collect(),
        |df| df.height() as u64,
        KeyedDates::from_frame,
    )
    .into_iter()
    .collect::<PolarsResult<_>>()
    .map_err(EvalError::Polars)?;
    crate::ingest::trace_step(clock, "measures: related dates keyed");
    let cx = Ctx {
        cal,
        as_of: epoch_days(as_of),
        dob: dates_of_birth(ex, &first.by)?,
    };
    let grains: Vec<Reported> = periods.iter().map(Vec::as_slice).zip(opts).collect();
    // Each metric is timed and tallied on its own: spread them over the cores.
    let work: Vec<(&Metric, &Plan, &DataFrame)> = plans
        .iter()
        .zip(metric_frames)
        .map(|((mi, p), df)| (&lib.metrics[*mi], p, df))
        .collect();
    let results = crate::par::par_map(
        work,
        |(_, _, df)| df.height() as u64,
        |(m, p, df)| evaluate_one(m, p, df, &shared, &keyed, &cx, &grains, as_of, lib),
    );
    crate::ingest::trace_step(clock, "measures: tallied");
    let mut out: Vec<Evaluation> = (opts.iter().zip(periods).zip(notes))
        .map(|((o, periods), notes)| Evaluation {
            as_of,
            grain: o.grain,
            periods,
            rows: Vec::new(),
            notes,
            cases: Vec::new(),
        })
        .collect();
    let (first_day, last_day) = cal.range();
    for ((mi, _), r) in plans.iter().zip(results) {
        let id = &lib.metrics[*mi].id;
        for (ev, (rows, [no_start, negative, outside], flags)) in
            out.iter_mut().zip(r.map_err(EvalError::Polars)?)
        {
            ev.cases.extend(flags);
            note_excluded(
                &mut ev.notes,
                id,
                [no_start, negative, outside],
                (first_day, last_day),
            );
            ev.rows.extend(rows);
        }
    }
    Ok(out)
}

/// The first and last period reported: `--from` and `--to`, by default the two years (8
/// quarters, 3 years) up to the period of the as-of date.
fn period_range(as_of: NaiveDate, opts: &EvalOptions) -> Result<(Period, Period), EvalError> {
    let last = Period::containing(opts.grain, as_of);
    let to = opts.to.unwrap_or(last);
    if to > last {
        return Err(EvalError::Request(format!(
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
        return Err(EvalError::Request(format!(
            "--from {} is after --to {}",
            from.label(),
            to.label()
        )));
    }
    Ok((from, to))
}

/// Notes the breakdowns of `--by` that some measures do not allow; refuses one that no
/// measure allows.
fn breakdown_notes(lib: &Library, opts: &EvalOptions) -> Result<Vec<String>, EvalError> {
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
            return Err(EvalError::Request(format!(
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
    Ok(notes)
}

/// Every metric's plan (a metric that cannot be evaluated gets a note instead), the series
/// they share, and the lazy frames of those series.
pub(super) fn plan_all(
    ex: &Extracts,
    lib: &Library,
    opts: &EvalOptions,
    range_start: NaiveDate,
    range_end: NaiveDate,
    notes: &mut Vec<String>,
) -> (Vec<(usize, Plan)>, Vec<SeriesKey>, Vec<LazyFrame>) {
    let mut plans: Vec<(usize, Plan)> = Vec::new();
    let mut shared: Vec<SeriesKey> = Vec::new();
    let mut lazies: Vec<LazyFrame> = Vec::new();
    for (mi, m) in lib.metrics.iter().enumerate() {
        let span = Span::Periods {
            from: range_start,
            to: range_end,
        };
        match plan(m, ex, span, &opts.by, opts.cases) {
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
    (plans, shared, lazies)
}

/// One metric's output rows, its counts of rows not timed (no start, backwards, outside the
/// calendar), and the cases counted against it.
type MetricResult = (Vec<OutRow>, [u64; 3], Vec<CaseFlag>);

/// One metric's results for each grain.
#[allow(clippy::too_many_arguments)]
fn evaluate_one(
    m: &Metric,
    p: &Plan,
    df: &DataFrame,
    shared: &[SeriesKey],
    keyed: &[KeyedDates],
    cx: &Ctx,
    grains: &[Reported],
    as_of: NaiveDate,
    lib: &Library,
) -> PolarsResult<Vec<MetricResult>> {
    let data = read_rows(m, p, df)?;
    let series_ix: Vec<usize> = p
        .series
        .iter()
        .map(|(k, _)| shared.iter().position(|s| s == k).expect("planned"))
        .collect();
    let judge = Judge::new(m, p, &data, &series_ix, keyed, cx);
    let results = tally(&judge, grains);
    Ok((results.into_iter().zip(grains))
        .map(|(result, (periods, opts))| {
            let flags = case_flags(m, &data, &result, periods);
            (
                out_rows(m, &result, periods, as_of, lib, opts),
                result.excluded,
                flags,
            )
        })
        .collect())
}

/// The cases counted against a measure, when they were asked for (rows with a key).
fn case_flags(m: &Metric, data: &RowData, result: &Tallied, periods: &[Period]) -> Vec<CaseFlag> {
    let Some(keys) = &data.key else {
        return Vec::new();
    };
    result
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
        .collect()
}

/// The notes on a metric's rows that could not be timed.
fn note_excluded(
    notes: &mut Vec<String>,
    id: &str,
    [no_start, negative, outside]: [u64; 3],
    (first, last): (NaiveDate, NaiveDate),
) {
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
