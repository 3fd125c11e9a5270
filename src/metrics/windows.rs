//! Lengths of time, `{ working_days = 15 }` or `{ months = "cp_review_months" }`: how a
//! metric file writes one, and the date arithmetic every kind times its rows with. Dates are
//! days since 1970 (`i32`), date-times milliseconds (`i64`), as polars holds them.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};
use toml::Spanned;

use super::definition::{DefinitionError, Reader};
use super::engine::Ctx;
use crate::values::epoch_days;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    WorkingDays,
    Days,
    Hours,
    Months,
}

pub(super) const UNITS: &[(&str, Unit)] = &[
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

/// An empty cell of a date or number column once read out of its frame.
pub(super) const NULL: i64 = i64::MIN;
pub(super) use crate::values::MS_PER_DAY;

pub(super) fn day_of(ms: i64) -> i32 {
    ms.div_euclid(MS_PER_DAY) as i32
}

pub(crate) fn date_of(day: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day + 719_163).expect("a date polars can hold")
}

pub(super) fn add_months(day: i32, n: i64) -> i32 {
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

/// Why a row could not be timed (its place counts the rows in the evaluation's notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(super) enum Why {
    NoStart,
    Negative,
    OutsideCalendar,
}

impl Reader<'_> {
    /// Reads a window, checking its unit, its amount (a number or a local standard) and
    /// that it is no longer than any standard could ask for.
    pub(super) fn window(
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
}

impl Ctx<'_> {
    /// The earliest date still inside a window that ends on `at` (inclusive).
    pub(super) fn window_start(&self, at: i32, w: Window) -> i32 {
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

    /// Whether `to` is within `n` units after `from` (both in ms); `None` when it cannot be
    /// told (outside the calendar), `Some(Err)` for a negative span.
    pub(super) fn within(&self, unit: Unit, from: i64, to: i64, n: i64) -> Result<bool, Why> {
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
    pub(super) fn elapsed(&self, unit: Unit, from: i64, to: i64) -> Result<f64, Why> {
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
    pub(super) fn open_at_least(&self, start: i32, at: i32, w: Window) -> bool {
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
    pub(super) fn recent(&self, d: i32, at: i32, w: Window) -> bool {
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

/// How far back a window can reach, in calendar days (an over-estimate).
pub(super) fn reach_days(w: Window) -> i32 {
    let n = w.n.min(100_000) as i32;
    match w.unit {
        Unit::Months => n * 31 + 1,
        Unit::Days => n,
        Unit::Hours => n / 24 + 1,
        // Five working days a week, plus room for the longest run of bank holidays.
        Unit::WorkingDays => n * 7 / 5 + 20,
    }
}
