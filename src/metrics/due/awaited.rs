//! Cases waiting for a ratio's own event, `[awaiting]`: the rows of one looked-up table (an
//! S47 enquiry, a CP plan) seen as the population would see them through the lookup, timed
//! by the `[within]` rule as if the event were held on the as-of date. A one-off event (an
//! ICPC after the S47 start) is done once a population row links to the case; a recurring
//! one (a review after the previous review) is always due again while the case is open.

use polars::prelude::*;

use super::{last_within, Out};
use crate::ingest::Extracts;
use crate::metrics::awaiting::readable_column;
use crate::metrics::definition::{Breakdown, Metric, Rows, Source};
use crate::metrics::plan::{
    by_col, col_of, from_col, ms_expr, on_col, table_frame, Plan, CHILD, END, KEY, NUM,
};
use crate::metrics::related::{join_lookup, lookup_columns, plan_series};
use crate::metrics::tally::Judge;
use crate::metrics::windows::{day_of, Why, MS_PER_DAY, NULL};
use crate::schema;

/// The frame of the waiting table's rows, under the names the metric's sources use.
pub(super) fn plan(m: &Metric, ex: &Extracts) -> Result<Plan, String> {
    let aw = m
        .awaiting
        .as_ref()
        .expect("an awaited shape has [awaiting]");
    let l = &m.lookups[aw.lookup];
    let t = table_frame(ex, l.table.name)?;
    table_frame(ex, m.population.table.name)?;
    let mut lf = t.clone().lazy();
    if let Some(f) = &aw.filter {
        lf = lf.filter(f.expr.clone().fill_null(lit(false)));
    }
    // Each row as the population sees it through the lookup: `{rel}.{column}`, and `on`
    // holding its key.
    let mut cols = lookup_columns(t, l);
    cols.push(col(l.table.key).alias(l.on.as_str()));
    lf = lf.select(cols);
    for o in m.lookups.iter() {
        if o.name != l.name && readable_column(&o.on, l, &m.lookups) {
            lf = join_lookup(ex, lf, o)?;
        }
    }
    let w = m.within.as_ref().expect("an awaited shape has [within]");
    let mut select = vec![
        lit(true).alias(NUM),
        col(l.on.as_str()).cast(DataType::String).alias(KEY),
        col(format!("{}.{}", l.name, schema::CHILD_ID))
            .cast(DataType::String)
            .alias(CHILD),
    ];
    for (i, (s, _)) in w.from.iter().enumerate() {
        if let Some(c) = col_of(s) {
            select.push(ms_expr(c).alias(from_col(i)));
        }
    }
    if let Some(end) = schema::case_end(l.table.name) {
        select.push(ms_expr(&format!("{}.{end}", l.name)).alias(END));
    }
    for (bi, (name, b)) in m.breakdowns.iter().enumerate() {
        if let (true, Breakdown::Column(Source::Column { name: c, .. })) =
            (name == "team" || name == "worker", b)
        {
            if readable_column(c, l, &m.lookups) {
                select.push(col(c.as_str()).cast(DataType::String).alias(by_col(bi)));
            }
        }
    }
    let mut unused = Vec::new();
    let series = plan_series(m, ex, chrono::NaiveDate::MIN, &mut unused)?;
    for (i, (_, s)) in series.iter().enumerate() {
        let on = if readable_column(&s.on, l, &m.lookups) {
            col(s.on.as_str()).cast(DataType::String)
        } else {
            lit(Null {}).cast(DataType::String)
        };
        select.push(on.alias(on_col(i)));
    }
    Ok(Plan {
        frame: lf.select(select),
        series,
        self_series: None,
    })
}

/// The keys of the waiting table that a population row (on or before the as-of date)
/// links to: those are done, for a one-off event.
fn done_keys(j: &Judge, ex: &Extracts) -> PolarsResult<PlHashSet<String>> {
    let Some(lf) = done_query(j.m, ex, j.cx.as_of as i64) else {
        return Ok(PlHashSet::new());
    };
    let keys = lf.collect()?;
    Ok(keys
        .column("k")?
        .str()?
        .iter()
        .flatten()
        .map(str::to_string)
        .collect())
}

/// The query behind [`done_keys`] (column `k`), as of the day number `as_of`; `None` when
/// the population is not of dated events or its table is absent.
pub(super) fn done_query(m: &Metric, ex: &Extracts, as_of: i64) -> Option<LazyFrame> {
    let aw = m.awaiting.as_ref().expect("checked");
    let l = &m.lookups[aw.lookup];
    let p = &m.population;
    let Rows::Events {
        date: Source::Column { name: date, .. },
    } = &p.rows
    else {
        return None;
    };
    let mut lf = ex.frame(p.table.name)?.clone().lazy();
    if let Some(f) = &p.filter {
        lf = lf.filter(f.expr.clone().fill_null(lit(false)));
    }
    let until = (as_of + 1) * MS_PER_DAY;
    Some(
        lf.filter(ms_expr(date).lt(lit(until)))
            .select([col(l.on.as_str()).cast(DataType::String).alias("k")]),
    )
}

pub(super) fn list(j: &Judge, ex: &Extracts, out: &mut Out) -> PolarsResult<()> {
    let (m, d, cx) = (j.m, j.d, j.cx);
    let w = m.within.as_ref().expect("checked");
    let done = done_keys(j, ex)?;
    // Events up to and including the as-of date are history: the next one is timed from
    // the latest of them.
    let at = cx.as_of + 1;
    for row in 0..d.n {
        let end = d.end.get(row).copied().unwrap_or(NULL);
        if end != NULL && day_of(end) <= cx.as_of {
            continue;
        }
        let key = d.key.as_ref().and_then(|k| k[row]);
        let held = key.is_some_and(|k| done.contains(k));
        let Some((alt, start, limit)) = j.clock(w, row, at) else {
            if !held {
                out.exclude(row, super::waiting::no_start(m, w));
            }
            continue;
        };
        // A clock started by an earlier event of the same kind (the previous review) runs
        // again after every one; any other is stopped by the event.
        let recurring = match w.from[alt].0 {
            Source::Series(i) => is_previous_event(m, i),
            Source::Column { .. } => false,
        };
        if !recurring && held {
            continue;
        }
        let limit = limit.expect("an awaited shape has limits");
        let overdue = match cx.within(w.unit, start, cx.as_of as i64 * MS_PER_DAY, limit.n) {
            Ok(ok) => !ok,
            // Started after the as-of date: not open yet.
            Err(Why::Negative) => continue,
            Err(_) => {
                out.exclude(row, "a date falls outside the working-day calendar".into());
                continue;
            }
        };
        let last = last_within(cx, w.unit, start, limit.n);
        out.case(row, day_of(start), last, overdue);
    }
    Ok(())
}

/// Whether series `i` holds earlier events of the population's own kind (the previous
/// review conference): the same table and filter.
fn is_previous_event(m: &Metric, i: usize) -> bool {
    let s = &m.series[i];
    let text = |f: &Option<crate::metrics::definition::Filter>| f.as_ref().map(|f| f.text.clone());
    s.table.name == m.population.table.name && text(&s.filter) == text(&m.population.filter)
}
