//! Recurring standards on open cases: a snapshot whose numerator asks for a recent event
//! (a CP visit within 10 working days, a supervision within 2 months). Each case open on
//! the as-of date is due when its latest event falls out of the window, or, with no event
//! that counts, when it enters the measure (a plan open 2 months, for supervision).

use polars::prelude::*;

use super::{last_true, Out};
use crate::metrics::definition::Rows;
use crate::metrics::tally::Judge;
use crate::metrics::windows::{day_of, reach_days};

pub(super) fn list(j: &Judge, df: &DataFrame, out: &mut Out) -> PolarsResult<()> {
    let (m, d, cx) = (j.m, j.d, j.cx);
    let r = m
        .condition
        .recent
        .as_ref()
        .expect("a recurring shape has `recent`");
    let Rows::Open {
        open_for_at_least,
        until,
        ..
    } = &m.population.rows
    else {
        return Ok(());
    };
    let a = cx.as_of;
    let missing = super::waiting::missing_links(j, df)?;
    for row in 0..d.n {
        let start = day_of(d.start[row]);
        if until.is_some_and(|si| j.dates_of(row, si).first().is_some_and(|&x| x <= a)) {
            continue;
        }
        if let Some(why) = &missing[row] {
            out.exclude(row, why.clone());
            continue;
        }
        // The first day the case is in the measure (open long enough).
        let entry = match open_for_at_least {
            Some(w) if !cx.open_at_least(start, start, *w) => {
                let hi = start + reach_days(*w) + 31;
                match last_true(start, hi, |at| !cx.open_at_least(start, at, *w)) {
                    Some(x) => x + 1,
                    None => {
                        out.exclude(row, "a date falls outside the working-day calendar".into());
                        continue;
                    }
                }
            }
            _ => start,
        };
        let event = j.recent_event(r, row, a);
        let met_until = event.and_then(|f| {
            last_true(f, f + reach_days(r.window) + 31, |at| {
                cx.recent(f, at, r.window)
            })
        });
        let overdue = a >= entry && !j.condition_holds(row, a, Some(start));
        let last = (entry - 1).max(met_until.unwrap_or(i32::MIN));
        let last = if overdue {
            last.min(a - 1)
        } else {
            last.max(a)
        };
        out.case(row, event.unwrap_or(start), Some(last), overdue);
    }
    Ok(())
}
