//! The rows of the long output table: one per metric, period, breakdown group (and bucket
//! of a distribution), every group seen in any period listed in every period.

use chrono::NaiveDate;

use super::breakdowns::ordered;
use super::rag::rag;
use super::tally::{Tallied, Tally};
use super::{EvalOptions, Library, Metric, OutRow};
use crate::periods::Period;
use crate::stats;

/// The output rows of one metric from its tallies; each kind fills in its own columns.
pub(super) fn out_rows(
    m: &Metric,
    t: &Tallied,
    periods: &[Period],
    as_of: NaiveDate,
    lib: &Library,
    opts: &EvalOptions,
) -> Vec<OutRow> {
    let mut rows = Vec::new();
    let per_10k = lib.standards.child_population.filter(|&p| p > 0.0);
    for (bi, tallies) in t.tallies.iter().enumerate() {
        let breakdown = if bi == 0 {
            "all".to_string()
        } else {
            m.breakdowns[bi - 1].0.clone()
        };
        if bi > 0 && !opts.by.contains(&breakdown) {
            continue;
        }
        let groups = ordered(&t.groups[bi]);
        for (pi, period) in periods.iter().enumerate() {
            for &(g, group) in &groups {
                let empty = Tally {
                    buckets: vec![0; m.buckets.len()],
                    ..Tally::default()
                };
                let tl = tallies.get(&(pi as u32, g)).unwrap_or(&empty);
                let base = OutRow {
                    metric_id: m.id.clone(),
                    period: period.label(),
                    period_start: period.start(),
                    period_end: period.end(),
                    breakdown: breakdown.clone(),
                    group: group.to_string(),
                    category: "all".into(),
                    numerator: None,
                    denominator: None,
                    value: None,
                    pending: tl.pending,
                    excluded: tl.excluded,
                    target: m.target,
                    rag: None,
                    ci_low: None,
                    ci_high: None,
                    rate_per_10k: None,
                    p25: None,
                    p75: None,
                    unit: m.kind.unit().into(),
                    polarity: m.polarity.name().into(),
                    complete: period.end() <= as_of,
                };
                let overall = per_10k.filter(|_| bi == 0);
                m.kind.rules().out_rows(m, tl, base, overall, &mut rows);
            }
        }
    }
    rows
}

/// The row of a rate (a ratio, repeat or snapshot): rows met of those met or breached, with
/// its Wilson 95% interval.
pub(super) fn rate_row(m: &Metric, tl: &Tally, base: OutRow) -> OutRow {
    let (x, n) = (tl.met, tl.met + tl.breach);
    let value = (n > 0).then(|| 100.0 * x as f64 / n as f64);
    let ci = stats::wilson(x, n, stats::Z95);
    OutRow {
        numerator: Some(x as f64),
        denominator: Some(n as f64),
        value,
        rag: rag(m, value),
        ci_low: ci.map(|c| 100.0 * c.0),
        ci_high: ci.map(|c| 100.0 * c.1),
        ..base
    }
}
