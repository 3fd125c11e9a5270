//! The `[within]` rule: how long from one date (or the first of several alternatives) to
//! another, against a limit. A row is met, breached, or pending while its deadline has not
//! passed; its span is also what a summary or distribution of `span` measures.

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Deserialize;
use toml::Spanned;

use super::definition::{source_kind, DefinitionError, Reader, Scope, Source};
use super::plan::col_of;
use super::plan::{from_col, ms_expr, to_col};
use super::tally::{Judge, Status};
use super::value::Value;
use super::windows::{Unit, Why, Window, MS_PER_DAY, UNITS};
use crate::schema::Kind;

#[derive(Debug, Clone)]
pub struct Within {
    /// Alternatives: the first with a date is used, with its own limit.
    pub from: Vec<(Source, Option<Window>)>,
    pub to: Source,
    pub unit: Unit,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWithin {
    /// A column, or a list of `{ column = .., limit = { .. } }`: the first with a date wins.
    pub(super) from: Spanned<toml::Value>,
    pub(super) to: Spanned<String>,
    #[serde(default)]
    pub(super) limit: Option<Spanned<BTreeMap<String, toml::Value>>>,
    #[serde(default)]
    pub(super) unit: Option<Spanned<String>>,
}

/// Reads `[within]`: `from` (a date column, or a list of alternatives each with its own
/// limit), `to`, and the unit (from the limits, else `unit` for a summary of spans).
pub(super) fn read(
    cx: &Reader,
    scope: &Scope,
    within: Option<&RawWithin>,
) -> Result<Option<Within>, DefinitionError> {
    Ok(match within {
        None => None,
        Some(w) => {
            let default_limit = match &w.limit {
                Some(l) => Some(cx.window(l, "within.limit")?),
                None => None,
            };
            let mut from = Vec::new();
            let span = w.from.span();
            let shape = "write `from = \"<date column>\"`, or a list of `{ column = \"..\", limit = { months = 3 } }`";
            match w.from.get_ref() {
                toml::Value::String(s) => from.push((
                    scope.date(&Spanned::new(span.clone(), s.clone()), "within.from")?,
                    default_limit,
                )),
                toml::Value::Array(alts) if !alts.is_empty() => {
                    for a in alts {
                        let Some(t) = a.as_table() else {
                            return cx.err(span, "within.from", shape.into());
                        };
                        if let Some(k) = t.keys().find(|k| *k != "column" && *k != "limit") {
                            return cx.err(
                                span,
                                "within.from",
                                format!("unknown field `{k}`: {shape}"),
                            );
                        }
                        let (Some(toml::Value::String(c)), Some(toml::Value::Table(l))) =
                            (t.get("column"), t.get("limit"))
                        else {
                            return cx.err(span, "within.from", shape.into());
                        };
                        let limit: BTreeMap<String, toml::Value> =
                            l.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                        from.push((
                            scope.date(
                                &Spanned::new(span.clone(), c.clone()),
                                "within.from.column",
                            )?,
                            Some(
                                cx.window(&Spanned::new(span.clone(), limit), "within.from.limit")?,
                            ),
                        ));
                    }
                }
                _ => return cx.err(span, "within.from", shape.into()),
            }
            let to = scope.date(&w.to, "within.to")?;
            let unit =
                match (&w.unit, from.iter().find_map(|(_, l)| *l)) {
                    (_, Some(l)) => l.unit,
                    (Some(u), None) => match UNITS.iter().find(|(n, _)| n == u.get_ref()) {
                        Some((_, u)) => *u,
                        None => {
                            return cx.err(
                                u.span(),
                                "within.unit",
                                format!("unknown unit `{}`", u.get_ref()),
                            )
                        }
                    },
                    (None, None) => return cx.err(
                        w.to.span(),
                        "within",
                        "give `limit = { working_days = N }` (or `unit` for a summary of spans)"
                            .into(),
                    ),
                };
            if from.iter().any(|(_, l)| l.is_some_and(|l| l.unit != unit)) {
                return cx.err(
                    w.from.span(),
                    "within",
                    "every limit must use the same unit".into(),
                );
            }
            if unit == Unit::Hours
                && !(std::iter::once(&to).chain(from.iter().map(|(s, _)| s)))
                    .all(|s| source_kind(s) == Kind::DateTime)
            {
                return cx.err(w.to.span(), "within", "hours need date-and-time columns on both sides; use working_days or days for dates".into());
            }
            Some(Within { from, to, unit })
        }
    })
}

// ---- Evaluation ------------------------------------------------------------------------

/// Selects the rule's dates that are columns of the row frame.
pub(super) fn plan_columns(w: &Within, select: &mut Vec<Expr>) {
    for (i, (s, _)) in w.from.iter().enumerate() {
        if let Some(c) = col_of(s) {
            select.push(ms_expr(c).alias(from_col(i)));
        }
    }
    if let Some(c) = col_of(&w.to) {
        select.push(ms_expr(c).alias(to_col()));
    }
}

impl Judge<'_> {
    /// Where a row's clock starts (ms) and its limit: the first alternative with a date,
    /// with its index.
    pub(super) fn clock(
        &self,
        w: &Within,
        row: usize,
        at: i32,
    ) -> Option<(usize, i64, Option<Window>)> {
        w.from.iter().enumerate().find_map(|(i, (s, l))| {
            self.source_ms(row, at, s, self.d.from[i].as_ref())
                .map(|v| (i, v, *l))
        })
    }

    /// Times a row against the rule, given whether its condition holds: met, breached,
    /// pending or excluded, and the span when the metric measures `span`.
    pub(super) fn within_status(
        &self,
        w: &Within,
        row: usize,
        at: i32,
        ok: bool,
        mut value: Option<f64>,
    ) -> (Status, Option<f64>) {
        let (m, d, cx) = (self.m, self.d, self.cx);
        let Some((_, start, limit)) = self.clock(w, row, at) else {
            return (Status::Excluded(Why::NoStart), value);
        };
        let end = self.source_ms(row, at, &w.to, d.to.as_ref());
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
    }
}
