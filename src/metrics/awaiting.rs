//! `[awaiting]`: the cases still waiting for a ratio's event. When a ratio's clock stops at
//! its population's own event (an initial conference, a review conference), the cases not
//! yet done are rows of another table: S47 enquiries with no conference yet, open plans due
//! their next review. `related` names that table (one of the file's lookups), `filter`
//! narrows it; the `[within]` rule times each case as it would time the event.
//!
//! ```toml
//! [awaiting]
//! related = "s47"
//! filter = "icpc_not_required IS NULL OR NOT icpc_not_required"
//! ```

use serde::Deserialize;
use toml::Spanned;

use super::definition::{DefinitionError, Filter, Lookup, Reader, Rows, Series, Source};
use super::kinds::MetricKind;
use super::within::Within;

/// The cases still waiting for a ratio's event.
#[derive(Debug, Clone)]
pub struct Awaiting {
    /// Index into `Metric::lookups`: the table whose rows wait.
    pub lookup: usize,
    pub filter: Option<Filter>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAwaiting {
    pub(super) related: Spanned<String>,
    #[serde(default)]
    pub(super) filter: Option<Spanned<String>>,
}

/// What a ratio's file needs for `[awaiting]`, checked before its sources.
struct Shape<'a> {
    kind: MetricKind,
    rows: &'a Rows,
    within: Option<&'a Within>,
}

/// Reads `[awaiting]`: a lookup of the file, and that every date the `[within]` rule starts
/// from can be read from that table's rows (its columns, lookups through it, series keyed
/// by it).
pub(super) fn read(
    cx: &Reader,
    raw: Option<&Spanned<RawAwaiting>>,
    (kind, rows, within): (MetricKind, &Rows, Option<&Within>),
    lookups: &[Lookup],
    series: &[Series],
) -> Result<Option<Awaiting>, DefinitionError> {
    let Some(raw) = raw else { return Ok(None) };
    let shape = Shape { kind, rows, within };
    let span = raw.span();
    let field = "awaiting";
    let r = raw.get_ref();
    let Some(w) = shape
        .within
        .filter(|w| w.from.iter().all(|(_, l)| l.is_some()))
    else {
        return cx.err(
            span,
            field,
            "[awaiting] needs a [within] rule with a limit".into(),
        );
    };
    if shape.kind != MetricKind::Ratio || !matches!(shape.rows, Rows::Events { .. }) {
        return cx.err(
            span,
            field,
            "[awaiting] belongs to a `ratio` of events (`population.date`)".into(),
        );
    }
    let Some(lookup) = lookups.iter().position(|l| l.name == *r.related.get_ref()) else {
        return cx.err(
            r.related.span(),
            "awaiting.related",
            format!(
                "`{}` is not a many-to-one related table of this file (one with `on` and no `match`)",
                r.related.get_ref()
            ),
        );
    };
    let l = &lookups[lookup];
    if l.on.contains('.') || l.table.column(crate::schema::CHILD_ID).is_none() {
        return cx.err(
            r.related.span(),
            "awaiting.related",
            format!(
                "`{}` must be looked up by a column of the population (not through another \
                 lookup) and hold child_id",
                l.name
            ),
        );
    }
    for (s, _) in &w.from {
        if !readable(s, l, lookups, series) {
            return cx.err(
                span,
                field,
                format!(
                    "the [within] rule starts from {}, which a row of {} (`{}`) does not hold: \
                     start from `{}.<column>`, a table looked up through it, or a series \
                     matched on `{}`",
                    shown(s, series),
                    l.table.name,
                    l.name,
                    l.name,
                    l.on
                ),
            );
        }
    }
    let filter = match &r.filter {
        Some(f) => Some(cx.filter(f, "awaiting.filter", l.table)?),
        None => None,
    };
    Ok(Some(Awaiting { lookup, filter }))
}

fn shown(s: &Source, series: &[Series]) -> String {
    match s {
        Source::Column { name, .. } => format!("`{name}`"),
        Source::Series(i) => format!("`{}`", series[*i].name),
    }
}

/// Whether a frame column name can be read from the waiting table's rows: `L.column`, or
/// a column of a lookup whose `on` is itself readable.
pub(super) fn readable_column(name: &str, l: &Lookup, lookups: &[Lookup]) -> bool {
    match name.split_once('.') {
        Some((rel, _)) if rel == l.name => true,
        Some((rel, _)) => lookups
            .iter()
            .find(|o| o.name == rel)
            .is_some_and(|o| o.on != l.on && readable_column(&o.on, l, lookups)),
        None => name == l.on,
    }
}

/// Whether a source can be read from the waiting table's rows.
pub(super) fn readable(s: &Source, l: &Lookup, lookups: &[Lookup], series: &[Series]) -> bool {
    match s {
        Source::Column { name, .. } => readable_column(name, l, lookups),
        Source::Series(i) => readable_column(&series[*i].on, l, lookups),
    }
}
