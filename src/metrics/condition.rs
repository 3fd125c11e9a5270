//! The `[numerator]` condition of a ratio or snapshot: a filter on the row, related rows
//! that must exist or must not, how long a case has been open, and a recent related event.

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Deserialize;
use toml::Spanned;

use super::definition::{DefinitionError, Filter, Reader, Scope, Source};
use super::plan::{col_of, exists_col, ms_expr, not_before_col, NUM};
use super::related::Pick;
use super::tally::Judge;
use super::windows::{day_of, Window, NULL};
use crate::schema::{Kind, TableSpec};

#[derive(Debug, Clone)]
pub struct Recent {
    pub series: usize,
    pub window: Window,
    pub not_before: Option<Source>,
}

#[derive(Debug, Clone, Default)]
pub struct Condition {
    pub filter: Option<Filter>,
    /// Related rows that must exist (`true`) or must not (`false`).
    pub exists: Vec<(Source, bool)>,
    pub open_for_at_least: Option<Window>,
    pub recent: Option<Recent>,
}

impl Condition {
    /// Whether the file gave any condition (a ratio needs one without a `within` limit).
    pub(super) fn is_given(&self) -> bool {
        self.filter.is_some()
            || !self.exists.is_empty()
            || self.open_for_at_least.is_some()
            || self.recent.is_some()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCondition {
    #[serde(default)]
    pub(super) filter: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) exists: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) absent: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) open_for_at_least: Option<Spanned<BTreeMap<String, toml::Value>>>,
    #[serde(default)]
    pub(super) recent: Option<Spanned<RawRecent>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRecent {
    pub(super) related: Spanned<String>,
    pub(super) within: Spanned<BTreeMap<String, toml::Value>>,
    #[serde(default)]
    pub(super) not_before: Option<Spanned<String>>,
}

/// Reads `[numerator]`, its names checked against the population and related tables.
pub(super) fn read(
    cx: &Reader,
    scope: &Scope,
    numerator: Option<&RawCondition>,
    population_table: &'static TableSpec,
    is_open: bool,
) -> Result<Condition, DefinitionError> {
    let (lookups, series) = (scope.lookups, scope.series);
    let mut condition = Condition::default();
    if let Some(n) = numerator {
        if let Some(f) = &n.filter {
            condition.filter = Some(cx.filter(f, "numerator.filter", population_table)?);
        }
        let listed = n.exists.iter().map(|e| (e, true, "numerator.exists"));
        for (e, present, field) in
            listed.chain(n.absent.iter().map(|e| (e, false, "numerator.absent")))
        {
            let name = e.get_ref().trim();
            if let Some(l) = lookups.iter().find(|l| l.name == name) {
                let key = Source::Column {
                    name: format!("{}.{}", l.name, l.table.key),
                    kind: Kind::Id,
                };
                condition.exists.push((key, present));
            } else if let Some(i) = series.iter().position(|s| s.name == name) {
                condition.exists.push((Source::Series(i), present));
            } else {
                return cx.err(
                    e.span(),
                    field,
                    format!("`{name}` is not a related table of this file"),
                );
            }
        }
        if let Some(w) = &n.open_for_at_least {
            if !is_open {
                return cx.err(
                    w.span(),
                    "numerator.open_for_at_least",
                    "applies to cases open at the period end (`population.open`)".into(),
                );
            }
            condition.open_for_at_least = Some(cx.window(w, "numerator.open_for_at_least")?);
        }
        if let Some(r) = &n.recent {
            let rr = r.get_ref();
            let Some(i) = series.iter().position(|s| s.name == *rr.related.get_ref()) else {
                return cx.err(
                    rr.related.span(),
                    "numerator.recent.related",
                    format!(
                        "`{}` is not a one-to-many related table of this file",
                        rr.related.get_ref()
                    ),
                );
            };
            if series[i].pick != Pick::Latest {
                return cx.err(
                    rr.related.span(),
                    "numerator.recent.related",
                    format!("`{}` must use `pick = \"latest\"`", rr.related.get_ref()),
                );
            }
            condition.recent = Some(Recent {
                series: i,
                window: cx.window(&rr.within, "numerator.recent.within")?,
                not_before: match &rr.not_before {
                    Some(s) => Some(scope.date(s, "numerator.recent.not_before")?),
                    None => None,
                },
            });
        }
    }
    Ok(condition)
}

// ---- Evaluation ------------------------------------------------------------------------

/// Selects the condition's columns: the filter's result as `NUM`, each looked-up row's
/// presence, and the `not_before` date.
pub(super) fn plan_columns(c: &Condition, select: &mut Vec<Expr>) {
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
}

impl Judge<'_> {
    /// Whether a row timed at `at` meets the condition (the `within` rule aside).
    pub(super) fn condition_holds(&self, row: usize, at: i32, open_start: Option<i32>) -> bool {
        let (m, d, cx) = (self.m, self.d, self.cx);
        let pick = |si: usize| self.pick(row, si, at);
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
            let found = self.recent_event(r, row, at);
            ok &= found.is_some_and(|f| cx.recent(f, at, r.window));
        }
        ok
    }

    /// The latest related event on or before `at` that can count as recent (not before
    /// the `not_before` date), if any.
    pub(super) fn recent_event(&self, r: &Recent, row: usize, at: i32) -> Option<i32> {
        let d = self.d;
        let found = self.pick(row, r.series, at).date;
        let floor = r.not_before.as_ref().and_then(|s| match s {
            Source::Column { .. } => d
                .not_before
                .as_ref()
                .map(|v| v[row])
                .filter(|&x| x != NULL)
                .map(day_of),
            Source::Series(i) => self.pick(row, *i, at).date,
        });
        found.filter(|&f| floor.is_none_or(|fl| f >= fl))
    }
}
