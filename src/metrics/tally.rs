//! Times and tallies each row of a metric's frame: each row (or each case at each period
//! end) is judged met, breached, pending or excluded, with the value it carries, then
//! counted in its period for every wanted breakdown group.

use polars::prelude::*;

use super::breakdowns::{age_band, group_name, Breakdown, Groups};
use super::definition::{Polarity, Rows, Source};
use super::engine::Ctx;
use super::kinds::distribution::bucket_of;
use super::plan::Plan;
use super::related::{KeyedDates, Picked};
use super::rows::{Coded, RowData};
use super::value::Value;
use super::windows::{date_of, day_of, Why, MS_PER_DAY, NULL};
use super::{EvalOptions, Metric};
use crate::periods::Period;
use crate::values::epoch_days;

/// How a row came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Met,
    Breach,
    Pending,
    /// Could not be timed (no start date, a negative span, or a date outside the calendar).
    Excluded(Why),
}
/// Tallies of one (period, breakdown group).
#[derive(Default, Clone)]
pub(super) struct Tally {
    pub met: u64,
    pub breach: u64,
    pub pending: u64,
    pub excluded: u64,
    pub buckets: Vec<u64>,
    pub values: Vec<f64>,
}

pub(super) struct Tallied {
    /// breakdown index (0 = all) -> (period index, group id) -> tally
    pub tallies: Vec<PlHashMap<(u32, u32), Tally>>,
    pub groups: Vec<Groups>,
    /// Rows excluded because they had no start, ran backwards, or fell outside the calendar
    /// (counted once per row and period).
    pub excluded: [u64; 3],
    /// With `cases`: (row, period index) of each case counted against the measure.
    pub flags: Vec<(u32, u32)>,
}

/// Whether a row with this status counts against the measure: a breach where higher is
/// better, a counted case where lower is better (a re-referral, a repeat plan).
fn counts_against(m: &Metric, status: Status) -> bool {
    m.kind.is_rate()
        && match m.polarity {
            Polarity::Higher => status == Status::Breach,
            Polarity::Lower => status == Status::Met,
            Polarity::Neutral => false,
        }
}

/// What judging one row of a metric needs: the metric, its plan, its frame's columns, the
/// shared date lists and the clock.
pub(super) struct Judge<'a> {
    pub m: &'a Metric,
    pub p: &'a Plan,
    pub d: &'a RowData<'a>,
    /// The metric's series -> index into `keyed`.
    pub series_ix: &'a [usize],
    pub keyed: &'a [KeyedDates<'a>],
    pub cx: &'a Ctx<'a>,
    /// Per series, the last row asked and its dates: an open case is judged at every period
    /// end, and each judgement asks for the same row's dates again.
    last: Vec<std::cell::Cell<(usize, &'a [i32])>>,
}

impl<'a> Judge<'a> {
    pub(super) fn new(
        m: &'a Metric,
        p: &'a Plan,
        d: &'a RowData<'a>,
        series_ix: &'a [usize],
        keyed: &'a [KeyedDates<'a>],
        cx: &'a Ctx<'a>,
    ) -> Self {
        let last = (0..d.on.len())
            .map(|_| std::cell::Cell::new((usize::MAX, &[][..])))
            .collect();
        Judge {
            m,
            p,
            d,
            series_ix,
            keyed,
            cx,
            last,
        }
    }

    /// The sorted dates series `si` holds for a row.
    pub(super) fn dates_of(&self, row: usize, si: usize) -> &'a [i32] {
        let (last_row, dates) = self.last[si].get();
        if last_row == row {
            return dates;
        }
        let dates = match &self.d.on[si][row] {
            Some(k) => self.keyed[self.series_ix[si]].of(k),
            None => &[],
        };
        self.last[si].set((row, dates));
        dates
    }

    /// What series `si` picks for a row timed at `at`.
    pub(super) fn pick(&self, row: usize, si: usize, at: i32) -> Picked {
        self.cx
            .pick(&self.p.series[si].1, self.dates_of(row, si), at)
    }

    /// A date of the row in ms: a column's cell (`col`), or the date a series picks.
    pub(super) fn source_ms(
        &self,
        row: usize,
        at: i32,
        s: &Source,
        col: Option<&Vec<i64>>,
    ) -> Option<i64> {
        match s {
            Source::Series(i) => self.pick(row, *i, at).date.map(|x| x as i64 * MS_PER_DAY),
            Source::Column { .. } => col.map(|v| v[row]).filter(|&x| x != NULL),
        }
    }

    /// The status and value of one row at one point (its own date, or a period end).
    fn judge(&self, row: usize, at: i32, open_start: Option<i32>) -> (Status, Option<f64>) {
        let mut ok = self.condition_holds(row, at, open_start);
        if let Some(rep) = &self.m.repeat {
            ok &= self.is_repeat(rep, row, at);
        }
        let value = self.row_value(row, at, open_start);
        match &self.m.within {
            Some(w) => self.within_status(w, row, at, ok, value),
            None => (if ok { Status::Met } else { Status::Breach }, value),
        }
    }
}

/// The cases of one period a caseload counts: (holder code << 32 | child code, row) each.
/// `finish` sorts them and counts each holder's distinct children in one walk, where a
/// set of children per holder missed the cache on every case.
#[derive(Default)]
struct Held {
    at: i32,
    cases: Vec<(u64, u32)>,
}

/// The child code of a case with no child: it makes its holder count, with no child.
const NO_CHILD: u32 = u32::MAX;

/// A distinct value whose group is not yet known.
const UNSEEN: u32 = u32::MAX;

/// Counts judged rows into the tallies of every wanted breakdown group.
struct Recorder<'a> {
    m: &'a Metric,
    d: &'a RowData<'a>,
    cx: &'a Ctx<'a>,
    opts: &'a EvalOptions,
    /// Which breakdowns are wanted (index into m.breakdowns).
    wanted: Vec<usize>,
    out: Tallied,
    /// Caseloads, by period index.
    per_group: Vec<Held>,
    /// The (breakdown, group) pairs of the row being recorded.
    targets: Vec<(usize, u32)>,
    /// For each column breakdown, the group of each of its distinct values, once seen
    /// (`UNSEEN` before): groups are numbered in the order rows first show them.
    group_of: Vec<Vec<u32>>,
    nbuckets: usize,
}

impl<'a> Recorder<'a> {
    fn new(m: &'a Metric, d: &'a RowData<'a>, cx: &'a Ctx<'a>, opts: &'a EvalOptions) -> Self {
        let nb = m.breakdowns.len();
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
        Recorder {
            m,
            d,
            cx,
            opts,
            wanted,
            out,
            per_group: Vec::new(),
            targets: Vec::with_capacity(nb + 1),
            group_of: (d.by.iter())
                .map(|c| {
                    c.as_ref()
                        .map_or(Vec::new(), |c| vec![UNSEEN; c.values.len()])
                })
                .collect(),
            nbuckets: m.buckets.len(),
        }
    }

    /// The group of column breakdown `bi` a row is in.
    fn column_group(&mut self, bi: usize, row: usize) -> u32 {
        let groups = &mut self.out.groups[bi + 1];
        let Some(coded) = &self.d.by[bi] else {
            return groups.id(group_name(None));
        };
        let code = coded.codes[row] as usize;
        let g = &mut self.group_of[bi][code];
        if *g == UNSEEN {
            *g = groups.id(group_name(coded.values[code]));
        }
        *g
    }

    fn record(&mut self, row: usize, pi: u32, at: i32, status: Status, value: Option<f64>) {
        let (m, opts) = (self.m, self.opts);
        if let Status::Excluded(why) = status {
            self.out.excluded[why as usize] += 1;
        }
        if opts.cases && counts_against(m, status) {
            self.out.flags.push((row as u32, pi));
        }
        let targets = self.targets_of(row, at);
        self.count(row, pi, at, status, value, &targets);
        self.targets = targets;
    }

    /// The (breakdown, group) pairs a row counts in at `at`: "all" and each wanted group.
    fn targets_of(&mut self, row: usize, at: i32) -> Vec<(usize, u32)> {
        let (m, d, cx) = (self.m, self.d, self.cx);
        let mut targets = std::mem::take(&mut self.targets);
        targets.clear();
        targets.push((0, 0));
        for wi in 0..self.wanted.len() {
            let bi = self.wanted[wi];
            let g = match &m.breakdowns[bi].1 {
                Breakdown::AgeBand => {
                    let child = d.child.as_ref().and_then(|c| c[row]);
                    let band = age_band(child.and_then(|c| cx.dob.get(c).copied()), at);
                    self.out.groups[bi + 1].id(band)
                }
                Breakdown::Column(_) => self.column_group(bi, row),
            };
            targets.push((bi + 1, g));
        }
        targets
    }

    /// Counts a judged row in each of its (breakdown, group) tallies.
    fn count(
        &mut self,
        row: usize,
        pi: u32,
        at: i32,
        status: Status,
        value: Option<f64>,
        targets: &[(usize, u32)],
    ) {
        let (m, d, nbuckets) = (self.m, self.d, self.nbuckets);
        if let (Some(Value::PerGroup(_)), Some((per, child))) = (&m.value, &d.per) {
            self.hold(row, pi, at, per, child);
            return;
        }
        let out = &mut self.out;
        for &(bi, g) in targets.iter() {
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
                    t.buckets[bucket_of(&m.buckets, v)] += 1;
                } else {
                    t.values.push(v);
                }
            }
        }
    }

    /// Notes a case of a caseload; a case with no holder is no one's.
    fn hold(&mut self, row: usize, pi: u32, at: i32, per: &Coded, child: &Coded) {
        let w = per.codes[row];
        if per.values[w as usize].is_none() {
            return;
        }
        let c = child.codes[row];
        let c = if child.values[c as usize].is_none() {
            NO_CHILD
        } else {
            c
        };
        let pi = pi as usize;
        if self.per_group.len() <= pi {
            self.per_group.resize_with(pi + 1, Held::default);
        }
        let held = &mut self.per_group[pi];
        held.at = at;
        held.cases
            .push(((u64::from(w) << 32) | u64::from(c), row as u32));
    }

    /// Caseloads become one value per holder: its distinct children, counted in the
    /// groups of its first case.
    fn finish(mut self) -> Tallied {
        for (pi, held) in std::mem::take(&mut self.per_group).into_iter().enumerate() {
            let mut cases = held.cases;
            cases.sort_unstable();
            for one in cases.chunk_by(|a, b| a.0 >> 32 == b.0 >> 32) {
                let first = one.iter().map(|h| h.1).min().unwrap_or(0);
                let children = one
                    .chunk_by(|a, b| a.0 == b.0)
                    .filter(|c| c[0].0 as u32 != NO_CHILD)
                    .count();
                let targets = self.targets_of(first as usize, held.at);
                for &(bi, g) in &targets {
                    let t = self.out.tallies[bi].entry((pi as u32, g)).or_default();
                    t.met += 1;
                    t.values.push(children as f64);
                }
                self.targets = targets;
            }
        }
        self.out
    }
}

/// The reported period of each day (as a day number) from the first period's start to the
/// last one's end: one lookup per row, where finding its period costs a calendar sum.
struct PeriodOfDay {
    first_day: i32,
    /// Each day's period, when the range is short enough to list (every real report).
    period: Option<Vec<u32>>,
    first: Option<Period>,
    count: usize,
}

impl PeriodOfDay {
    /// Days listed at most: 1,000 years, 1.5 MB.
    const MOST_DAYS: i64 = 366_000;

    fn new(periods: &[Period]) -> Self {
        let first_day = periods.first().map_or(0, |p| epoch_days(p.start()));
        let last_day = periods.last().map_or(0, |p| epoch_days(p.end()));
        let table =
            (i64::from(last_day) - i64::from(first_day) < PeriodOfDay::MOST_DAYS).then(|| {
                let days = |p: &Period| epoch_days(p.end()) - epoch_days(p.start()) + 1;
                (periods.iter().enumerate())
                    .flat_map(|(i, p)| std::iter::repeat_n(i as u32, days(p).max(0) as usize))
                    .collect()
            });
        PeriodOfDay {
            first_day,
            period: table,
            first: periods.first().copied(),
            count: periods.len(),
        }
    }

    /// The index of the period holding `day`, if one does.
    fn get(&self, day: i32) -> Option<u32> {
        let Some(table) = &self.period else {
            // A range too long for a table (`--from` centuries back): the calendar sum.
            let first = self.first?;
            let pi = Period::containing(first.grain, date_of(day)).index - first.index;
            return u32::try_from(pi)
                .ok()
                .filter(|pi| (*pi as usize) < self.count);
        };
        let at = usize::try_from(i64::from(day) - i64::from(self.first_day)).ok()?;
        table.get(at).copied()
    }
}

/// One evaluation's periods and options: the grain a tally counts into.
pub(super) type Reported<'a> = (&'a [Period], &'a EvalOptions);

/// Judges every row of a metric (each case at each period end, for an open population)
/// and counts it in its period and groups, for each grain at once: a row is judged once
/// however many grains count it, and each grain's tally is what it would be alone.
pub(super) fn tally(j: &Judge, grains: &[Reported]) -> Vec<Tallied> {
    let (m, d) = (j.m, j.d);
    let mut recs: Vec<Recorder> = grains
        .iter()
        .map(|(_, opts)| Recorder::new(m, d, j.cx, opts))
        .collect();
    let required: Vec<usize> = m
        .population
        .require
        .iter()
        .filter_map(|r| m.series.iter().position(|s| s.name == *r))
        .collect();
    let required_found = |row: usize| required.iter().all(|&si| !j.dates_of(row, si).is_empty());
    match &m.population.rows {
        Rows::Events { .. } => {
            let period_of: Vec<PeriodOfDay> =
                grains.iter().map(|(p, _)| PeriodOfDay::new(p)).collect();
            let mut pis: Vec<Option<u32>> = vec![None; grains.len()];
            for row in 0..d.n {
                let ms = d.period_date[row];
                if ms == NULL {
                    continue;
                }
                let day = day_of(ms);
                for (pi, table) in pis.iter_mut().zip(&period_of) {
                    *pi = table.get(day);
                }
                if pis.iter().all(Option::is_none) || !required_found(row) {
                    continue;
                }
                let (status, value) = j.judge(row, day, None);
                for (rec, pi) in recs.iter_mut().zip(&pis) {
                    if let Some(pi) = *pi {
                        rec.record(row, pi, day, status, value);
                    }
                }
            }
        }
        Rows::Open { .. } => tally_open(j, grains, &mut recs, &required_found),
    }
    recs.into_iter().map(Recorder::finish).collect()
}

/// The points an open population is judged at: each period's end (the as-of date for the
/// last, when it is later), every grain's in one ascending list, each with the
/// (grain, period) pairs it stands for.
fn open_points(grains: &[Reported], as_of: i32) -> Vec<(i32, Vec<(usize, u32)>)> {
    let mut points: Vec<(i32, Vec<(usize, u32)>)> = Vec::new();
    for (gi, (periods, _)) in grains.iter().enumerate() {
        for (pi, p) in periods.iter().enumerate() {
            let at = epoch_days(p.end()).min(as_of);
            match points.binary_search_by_key(&at, |(a, _)| *a) {
                Ok(i) => points[i].1.push((gi, pi as u32)),
                Err(i) => points.insert(i, (at, vec![(gi, pi as u32)])),
            }
        }
    }
    points
}

/// Each open case at each point it is open at, judged once and counted in every grain
/// whose period ends there.
fn tally_open(
    j: &Judge,
    grains: &[Reported],
    recs: &mut [Recorder],
    required_found: &dyn Fn(usize) -> bool,
) {
    let (d, cx) = (j.d, j.cx);
    let Rows::Open {
        open_for_at_least,
        until,
        ..
    } = &j.m.population.rows
    else {
        unreachable!("an open population");
    };
    // Closed by a related row on or before the point (an S47 by its conference).
    let closed = |row: usize, at: i32| {
        until.is_some_and(|si| j.dates_of(row, si).first().is_some_and(|&d| d <= at))
    };
    let points = open_points(grains, cx.as_of);
    for row in 0..d.n {
        let start = day_of(d.start[row]);
        let end = (d.end[row] != NULL).then(|| day_of(d.end[row]));
        for (at, pairs) in &points {
            let at = *at;
            if start > at || end.is_some_and(|e| e <= at) {
                continue;
            }
            if open_for_at_least.is_some_and(|w| !cx.open_at_least(start, at, w)) {
                continue;
            }
            if !required_found(row) || closed(row, at) {
                continue;
            }
            let (status, value) = j.judge(row, at, Some(start));
            for &(gi, pi) in pairs {
                recs[gi].record(row, pi, at, status, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::periods::Grain;

    /// The day table gives each day the period the calendar puts it in, for every grain,
    /// across a leap day and April-March years, and no period outside the range.
    #[test]
    fn each_day_is_in_the_period_the_calendar_says() {
        let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        for grain in [Grain::Month, Grain::Quarter, Grain::Year] {
            let from = Period::containing(grain, day(2023, 2, 10));
            let to = Period::containing(grain, day(2025, 3, 31));
            let periods = crate::periods::range(from, to);
            let table = PeriodOfDay::new(&periods);
            let (lo, hi) = (epoch_days(from.start()) - 40, epoch_days(to.end()) + 40);
            for n in lo..=hi {
                let d = chrono::NaiveDate::from_num_days_from_ce_opt(n + 719_163).unwrap();
                let pi = Period::containing(grain, d).index - from.index;
                let expected = (pi >= 0 && (pi as usize) < periods.len()).then_some(pi as u32);
                assert_eq!(table.get(n), expected, "{grain:?} {d}");
            }
        }
        let months = crate::periods::range(
            Period::containing(Grain::Month, day(2024, 2, 1)),
            Period::containing(Grain::Month, day(2024, 3, 1)),
        );
        let table = PeriodOfDay::new(&months);
        assert_eq!(table.get(epoch_days(day(2024, 2, 29))), Some(0));
        assert_eq!(table.get(epoch_days(day(2024, 3, 1))), Some(1));
        assert_eq!(table.get(epoch_days(day(2024, 1, 31))), None);
        assert_eq!(table.get(i32::MIN), None);
        assert_eq!(table.get(i32::MAX), None);
        // A range too long to list gives the same periods by the calendar.
        let long = crate::periods::range(
            Period::containing(Grain::Year, day(1000, 6, 1)),
            Period::containing(Grain::Year, day(2025, 3, 31)),
        );
        let table = PeriodOfDay::new(&long);
        assert!(table.period.is_none());
        assert_eq!(table.get(epoch_days(day(1000, 4, 1))), Some(0));
        assert_eq!(table.get(epoch_days(day(1000, 3, 31))), None);
        assert_eq!(
            table.get(epoch_days(day(2025, 3, 31))),
            Some(long.len() as u32 - 1)
        );
        assert_eq!(table.get(epoch_days(day(2025, 4, 1))), None);
    }

    /// The open population's points: every grain's period ends in one ascending list, a
    /// day shared by grains listed once with each (grain, period) it stands for, and ends
    /// after the as-of date judged at the as-of date.
    #[test]
    fn open_points_merge_the_grains_period_ends() {
        let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let opts = |grain| EvalOptions {
            grain,
            from: None,
            to: None,
            by: vec![],
            cases: false,
        };
        let (mo, qo, yo) = (opts(Grain::Month), opts(Grain::Quarter), opts(Grain::Year));
        // January to May 2024; 2023-24 Q4 and 2024-25 Q1; the year 2023-24 and 2024-25.
        let months = crate::periods::range(
            Period::containing(Grain::Month, day(2024, 1, 1)),
            Period::containing(Grain::Month, day(2024, 5, 1)),
        );
        let quarters = crate::periods::range(
            Period::containing(Grain::Quarter, day(2024, 1, 1)),
            Period::containing(Grain::Quarter, day(2024, 4, 1)),
        );
        let years = crate::periods::range(
            Period::containing(Grain::Year, day(2024, 1, 1)),
            Period::containing(Grain::Year, day(2024, 4, 1)),
        );
        let grains: Vec<Reported> = vec![(&months, &mo), (&quarters, &qo), (&years, &yo)];
        let as_of = epoch_days(day(2024, 5, 20));
        let got = open_points(&grains, as_of);
        let d = |y, m, dd| epoch_days(day(y, m, dd));
        let expected: Vec<(i32, Vec<(usize, u32)>)> = vec![
            (d(2024, 1, 31), vec![(0, 0)]),
            (d(2024, 2, 29), vec![(0, 1)]),
            // The end of March ends a month, 2023-24 Q4 and the year 2023-24.
            (d(2024, 3, 31), vec![(0, 2), (1, 0), (2, 0)]),
            (d(2024, 4, 30), vec![(0, 3)]),
            // May, 2024-25 Q1 and the year 2024-25 are still running: judged on 20 May.
            (as_of, vec![(0, 4), (1, 1), (2, 1)]),
        ];
        assert_eq!(got, expected);
        // One grain alone is its own period ends.
        let alone = open_points(&grains[..1], as_of);
        assert_eq!(alone.len(), 5);
        assert!(alone
            .iter()
            .enumerate()
            .all(|(i, (_, p))| p == &[(0, i as u32)]));
        assert!(open_points(&[], as_of).is_empty());
    }
}
