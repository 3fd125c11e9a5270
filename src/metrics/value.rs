//! The `[value]` a distribution buckets or a summary takes the median of: a span, how long
//! a case has been open, which of the child's rows this is, a related count, or a caseload.

use serde::Deserialize;
use toml::Spanned;

use super::definition::{DefinitionError, Reader, Scope, Source};
use super::kinds::MetricKind;
use super::related::Pick;
use super::tally::Judge;
use super::windows::whole_months;

#[derive(Debug, Clone)]
pub enum Value {
    /// Elapsed time of the `within` rule (rows not yet ended are left out).
    Span,
    /// Whole calendar months from the start to the period end (open rows).
    MonthsOpen,
    /// 1 for the child's first row, 2 for the second, ...
    Sequence,
    /// The number picked by a `count` relation.
    RelatedCount(usize),
    /// How many distinct children each value of this column holds at the period end
    /// (a caseload): the summary is over those values.
    PerGroup(Source),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawValue {
    pub(super) measure: Spanned<String>,
    #[serde(default)]
    pub(super) related: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) per: Option<Spanned<String>>,
}

/// Reads `[value]`; each measure needs its own shape of population (or a related count).
pub(super) fn read(
    cx: &Reader,
    scope: &Scope,
    value: Option<&Spanned<RawValue>>,
    has_within: bool,
    is_open: bool,
    kind: MetricKind,
) -> Result<Option<Value>, DefinitionError> {
    let series = scope.series;
    Ok(match value {
        None => None,
        Some(v) => {
            let vr = v.get_ref();
            let m = vr.measure.get_ref().as_str();
            Some(match m {
                "span" if has_within => Value::Span,
                "span" => return cx.err(vr.measure.span(), "value.measure", "`span` measures the [within] rule: add one".into()),
                "months_open" if is_open => Value::MonthsOpen,
                "months_open" => return cx.err(vr.measure.span(), "value.measure", "`months_open` needs `population.open`".into()),
                "sequence" if !is_open => Value::Sequence,
                "sequence" => {
                    return cx.err(
                        vr.measure.span(),
                        "value.measure",
                        "`sequence` numbers rows in the period: use `population.date`".into(),
                    )
                }
                "related_count" => {
                    let Some(r) = &vr.related else {
                        return cx.err(vr.measure.span(), "value.related", "name the related table to count: `related = \"contacts\"`".into());
                    };
                    match series.iter().position(|s| s.name == *r.get_ref() && s.pick == Pick::Count) {
                        Some(i) => Value::RelatedCount(i),
                        None => return cx.err(r.span(), "value.related", format!("`{}` is not a related table with `pick = \"count\"`", r.get_ref())),
                    }
                }
                "per_group" => {
                    let Some(p) = &vr.per else {
                        return cx.err(vr.measure.span(), "value.per", "name the column to group by: `per = \"worker\"`".into());
                    };
                    if !is_open || kind != MetricKind::Summary {
                        return cx.err(p.span(), "value.per", "`per_group` is a summary of cases open at the period end: use `kind = \"summary\"` and `population.open`".into());
                    }
                    Value::PerGroup(scope.source(p, "value.per")?)
                }
                other => return cx.err(vr.measure.span(), "value.measure", format!("unknown measure `{other}`; valid: span, months_open (open cases), sequence (rows in the period), related_count, per_group (open cases)")),
            })
        }
    })
}

impl Judge<'_> {
    /// The value of a row timed at `at`, where the row alone gives it (a span comes with the
    /// `within` rule, a caseload once the period's rows are all in).
    pub(super) fn row_value(&self, row: usize, at: i32, open_start: Option<i32>) -> Option<f64> {
        match &self.m.value {
            Some(Value::Sequence) => {
                let own = self.dates_of(row, self.p.self_series.expect("planned"));
                Some((own.partition_point(|&x| x < at) + 1) as f64)
            }
            Some(Value::RelatedCount(si)) => Some(f64::from(self.pick(row, *si, at).count)),
            Some(Value::MonthsOpen) => open_start.map(|s| whole_months(s, at) as f64),
            _ => None,
        }
    }
}
