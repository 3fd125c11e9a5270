//! Rows waiting for their own event: a referral for its decision, an assessment for its
//! authorisation, a plan for its first core group, a strategy discussion for its minutes.
//! Each is timed as the measure times it on the as-of date: pending, or a breach once the
//! deadline has passed.

use polars::prelude::*;

use super::{last_within, Out};
use crate::metrics::definition::Source;
use crate::metrics::plan::required_col;
use crate::metrics::tally::{Judge, Status};
use crate::metrics::windows::{date_of, day_of, Why, NULL};

pub(super) fn list(j: &Judge, df: &DataFrame, out: &mut Out) -> PolarsResult<()> {
    let (m, d, cx) = (j.m, j.d, j.cx);
    let w = m.within.as_ref().expect("a waiting shape has [within]");
    let missing = missing_links(j, df)?;
    for row in 0..d.n {
        // The measure times a row at its own date; one with none yet (an assessment not yet
        // authorised) on the as-of date.
        let own = d.period_date.get(row).copied().unwrap_or(NULL);
        let at = if own == NULL { cx.as_of } else { day_of(own) };
        if j.source_ms(row, at, &w.to, d.to.as_ref()).is_some() {
            continue;
        }
        if let Some(why) = &missing[row] {
            out.exclude(row, why.clone());
            continue;
        }
        let end = d.end.get(row).copied().unwrap_or(NULL);
        if end != NULL && day_of(end) <= cx.as_of {
            let why = format!(
                "closed on {} with no {}",
                date_of(day_of(end)),
                awaited_name(m, &w.to)
            );
            out.exclude(row, why);
            continue;
        }
        let ok = j.condition_holds(row, at, None);
        let (status, _) = j.within_status(w, row, at, ok, None);
        let Some((_, start, limit)) = j.clock(w, row, at) else {
            out.exclude(row, no_start(m, w));
            continue;
        };
        match status {
            Status::Excluded(Why::NoStart) => out.exclude(row, no_start(m, w)),
            // Started after the as-of date: not open yet.
            Status::Excluded(Why::Negative) => continue,
            Status::Excluded(Why::OutsideCalendar) => {
                out.exclude(row, "a date falls outside the working-day calendar".into())
            }
            Status::Met | Status::Pending | Status::Breach => {
                let limit = limit.expect("a waiting shape has limits");
                let overdue = status == Status::Breach;
                let last = last_within(cx, w.unit, start, limit.n).map(|l| {
                    if overdue {
                        l.min(cx.as_of - 1)
                    } else {
                        l
                    }
                });
                out.case(row, day_of(start), last, overdue);
            }
        }
    }
    Ok(())
}

/// What the row waits for, in the file's words.
fn awaited_name(m: &crate::metrics::Metric, to: &Source) -> String {
    match to {
        Source::Column { name, .. } => name.clone(),
        Source::Series(i) => m.series[*i].name.clone(),
    }
}

pub(super) fn no_start(
    m: &crate::metrics::Metric,
    w: &crate::metrics::definition::Within,
) -> String {
    let names: Vec<String> = w.from.iter().map(|(s, _)| awaited_name(m, s)).collect();
    format!("no start date ({})", names.join(" or "))
}

/// Why each row is not in the measure's population because a required link is missing.
pub(super) fn missing_links(j: &Judge, df: &DataFrame) -> PolarsResult<Vec<Option<String>>> {
    let (m, d) = (j.m, j.d);
    let mut why = vec![None; d.n];
    for (i, r) in m.population.require.iter().enumerate() {
        if let Some(l) = m.lookups.iter().find(|l| l.name == *r) {
            let found = df.column(&required_col(i))?.bool()?.clone();
            for (row, f) in found.iter().enumerate() {
                if f != Some(true) && why[row].is_none() {
                    why[row] = Some(format!(
                        "no {} found: its {} is empty or matches no row of {}.csv",
                        l.name, l.on, l.table.name
                    ));
                }
            }
        } else if let Some(si) = m.series.iter().position(|s| s.name == *r) {
            for (row, w) in why.iter_mut().enumerate() {
                if w.is_none() && j.dates_of(row, si).is_empty() {
                    *w = Some(format!("no {} found", r));
                }
            }
        }
    }
    Ok(why)
}
