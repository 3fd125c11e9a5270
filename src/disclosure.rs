//! Disclosure control for published tables, by the DfE's convention: counts from 1 to 5 are
//! shown as `c`; more cells are suppressed where a suppressed count could be worked out
//! from a total and the other cells (secondary suppression); a percentage is suppressed when
//! its numerator or denominator is.

use std::collections::{BTreeMap, BTreeSet};

use crate::metrics::{MetricKind, OutRow};

/// Metric, period, and breakdown (or group) and category: the cells compared together.
type CellSet = (String, String, String, String);

/// The smallest count shown, and the largest suppressed.
pub const SMALLEST_SUPPRESSED: f64 = 1.0;
pub const LARGEST_SUPPRESSED: f64 = 5.0;

/// Which parts of a row are suppressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hidden {
    pub numerator: bool,
    pub denominator: bool,
    /// The value (a percentage, a count, a median) and its interval.
    pub value: bool,
}

/// Whether a count is one the convention suppresses (1 to 5).
pub fn is_small(count: f64) -> bool {
    (SMALLEST_SUPPRESSED..=LARGEST_SUPPRESSED).contains(&count)
}

fn small(v: Option<f64>) -> bool {
    v.is_some_and(is_small)
}

/// Whether the rows' counts add up: the groups of a breakdown to its `all` row (every case
/// is in exactly one group), and the bands of a distribution to their denominator.
fn additive(kind: MetricKind) -> bool {
    !matches!(kind, MetricKind::Summary)
}

/// Suppression for rows of one evaluation; `kind_of` gives each metric's kind. Rows are
/// compared within the same metric, period and category (groups of a breakdown against the
/// `all` total) and within the same metric, period, breakdown and group (bands of a
/// distribution against their total).
pub fn suppress(rows: &[OutRow], kind_of: impl Fn(&str) -> Option<MetricKind>) -> Vec<Hidden> {
    let mut hidden: Vec<Hidden> = rows.iter().map(|_| Hidden::default()).collect();
    // Primary: small counts, and numerators whose complement (the cases that failed) is
    // small, since it is the denominator minus the numerator.
    for (i, r) in rows.iter().enumerate() {
        let h = &mut hidden[i];
        let kind = kind_of(&r.metric_id);
        match kind {
            Some(MetricKind::Summary) => {
                // A median or caseload from 1-5 cases reveals the cases.
                h.denominator = small(r.denominator);
                h.value = h.denominator;
            }
            Some(MetricKind::Count) => {
                h.numerator = small(r.numerator);
            }
            _ => {
                h.numerator =
                    small(r.numerator) || small(r.numerator.zip(r.denominator).map(|(x, n)| n - x));
                h.denominator = small(r.denominator);
            }
        }
    }
    // Secondary: in every set of cells that add up to a shown total, never exactly one
    // suppressed cell; suppress the next smallest non-zero cell until that holds.
    loop {
        let mut changed = false;
        let mut sets: BTreeMap<CellSet, (Option<usize>, Vec<usize>)> = BTreeMap::new();
        for (i, r) in rows.iter().enumerate() {
            if !kind_of(&r.metric_id).is_some_and(additive) {
                continue;
            }
            // Groups of a breakdown against the `all` row of the same category.
            let k = (
                r.metric_id.clone(),
                r.period.clone(),
                r.breakdown.clone(),
                r.category.clone(),
            );
            if r.breakdown == "all" {
                // A total for every breakdown of this metric, period and category.
                for b in rows
                    .iter()
                    .filter(|o| {
                        o.metric_id == r.metric_id && o.period == r.period && o.breakdown != "all"
                    })
                    .map(|o| o.breakdown.clone())
                    .collect::<BTreeSet<_>>()
                {
                    sets.entry((k.0.clone(), k.1.clone(), b, k.3.clone()))
                        .or_default()
                        .0 = Some(i);
                }
            } else {
                sets.entry(k).or_default().1.push(i);
            }
        }
        for field in [Field::Numerator, Field::Denominator] {
            for (total, cells) in sets.values() {
                changed |= protect(rows, &mut hidden, *total, cells, field);
            }
            // Bands of a distribution: numerators add up to the (shared) denominator.
            let mut bands: BTreeMap<CellSet, Vec<usize>> = BTreeMap::new();
            for (i, r) in rows.iter().enumerate() {
                if kind_of(&r.metric_id) == Some(MetricKind::Distribution) {
                    bands
                        .entry((
                            r.metric_id.clone(),
                            r.period.clone(),
                            r.breakdown.clone(),
                            r.group.clone(),
                        ))
                        .or_default()
                        .push(i);
                }
            }
            if field == Field::Numerator {
                for cells in bands.values() {
                    changed |= protect(rows, &mut hidden, None, cells, Field::Numerator);
                }
            }
        }
        if !changed {
            break;
        }
    }
    for (i, r) in rows.iter().enumerate() {
        let h = &mut hidden[i];
        match kind_of(&r.metric_id) {
            Some(MetricKind::Count) => h.value |= h.numerator,
            Some(MetricKind::Summary) => {}
            _ => h.value |= h.numerator || h.denominator,
        }
    }
    hidden
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Numerator,
    Denominator,
}

fn get(r: &OutRow, f: Field) -> Option<f64> {
    match f {
        Field::Numerator => r.numerator,
        Field::Denominator => r.denominator,
    }
}

fn is_hidden(h: &Hidden, f: Field) -> bool {
    match f {
        Field::Numerator => h.numerator,
        Field::Denominator => h.denominator,
    }
}

fn hide(h: &mut Hidden, f: Field) {
    match f {
        Field::Numerator => h.numerator = true,
        Field::Denominator => h.denominator = true,
    }
}

/// Makes sure a set of cells adding up to a total never has exactly one suppressed cell
/// while the total is shown (or, with no total row, while the rest are shown and their sum
/// is known). Returns whether it suppressed anything.
fn protect(
    rows: &[OutRow],
    hidden: &mut [Hidden],
    total: Option<usize>,
    cells: &[usize],
    f: Field,
) -> bool {
    let total_shown = total.is_none_or(|t| !is_hidden(&hidden[t], f));
    let suppressed = cells.iter().filter(|&&i| is_hidden(&hidden[i], f)).count();
    if !total_shown || suppressed != 1 {
        return false;
    }
    // The smallest non-zero cell still shown (zeros reveal nothing; a tie goes to the first).
    let next = cells
        .iter()
        .copied()
        .filter(|&i| !is_hidden(&hidden[i], f) && get(&rows[i], f).is_some_and(|v| v > 0.0))
        .min_by(|&a, &b| {
            get(&rows[a], f)
                .unwrap_or(0.0)
                .total_cmp(&get(&rows[b], f).unwrap_or(0.0))
                .then(a.cmp(&b))
        });
    match next {
        Some(i) => {
            hide(&mut hidden[i], f);
            true
        }
        // Only zeros left beside it: the total itself must go.
        None => match total {
            Some(t) => {
                hide(&mut hidden[t], f);
                true
            }
            None => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(metric: &str, breakdown: &str, group: &str, x: f64, n: Option<f64>) -> OutRow {
        let d = chrono::NaiveDate::from_ymd_opt(2024, 10, 1).unwrap();
        OutRow {
            metric_id: metric.into(),
            period: "2024-25 Q3".into(),
            period_start: d,
            period_end: d,
            breakdown: breakdown.into(),
            group: group.into(),
            category: "all".into(),
            numerator: Some(x),
            denominator: n,
            value: n.map(|n| 100.0 * x / n).or(Some(x)),
            pending: 0,
            excluded: 0,
            target: None,
            rag: None,
            ci_low: None,
            ci_high: None,
            rate_per_10k: None,
            p25: None,
            p75: None,
            unit: String::new(),
            polarity: String::new(),
            complete: true,
        }
    }

    fn kinds(m: &str) -> Option<MetricKind> {
        Some(match m {
            "ratio" => MetricKind::Ratio,
            "count" => MetricKind::Count,
            _ => MetricKind::Summary,
        })
    }

    /// Worked by hand. Ratio, all 47/70; A 3/10, B 20/30, C 24/30. A's numerator is 3
    /// (primary). With the total shown, A's 3 = 47 - 20 - 24, so the next smallest
    /// numerator, B's 20, goes too (secondary); A's and B's percentages go with them. No
    /// denominator is small. Then a team whose failures number 1-5: D 25/27 (2 failed).
    #[test]
    fn primary_and_secondary_suppression_by_hand() {
        let rows = vec![
            row("ratio", "all", "all", 47.0, Some(70.0)),
            row("ratio", "team", "A", 3.0, Some(10.0)),
            row("ratio", "team", "B", 20.0, Some(30.0)),
            row("ratio", "team", "C", 24.0, Some(30.0)),
        ];
        let h = suppress(&rows, kinds);
        let num: Vec<bool> = h.iter().map(|h| h.numerator).collect();
        let den: Vec<bool> = h.iter().map(|h| h.denominator).collect();
        let val: Vec<bool> = h.iter().map(|h| h.value).collect();
        assert_eq!(num, [false, true, true, false]);
        assert_eq!(den, [false, false, false, false]);
        assert_eq!(val, [false, true, true, false]);

        let rows = vec![
            row("ratio", "all", "all", 67.0, Some(87.0)),
            row("ratio", "team", "C", 24.0, Some(30.0)),
            row("ratio", "team", "D", 25.0, Some(27.0)),
            row("ratio", "team", "E", 18.0, Some(30.0)),
        ];
        let h = suppress(&rows, kinds);
        // D: 2 failed (27 - 25) -> numerator hidden; then E's 18, the smallest other.
        assert_eq!(
            h.iter().map(|h| h.numerator).collect::<Vec<_>>(),
            [false, false, true, true]
        );
    }

    #[test]
    fn counts_zeros_and_summaries() {
        // Count: X 4 hidden, Y 8 hidden with it (12 - 8 = 4).
        let rows = vec![
            row("count", "all", "all", 12.0, None),
            row("count", "team", "X", 4.0, None),
            row("count", "team", "Y", 8.0, None),
        ];
        let h = suppress(&rows, kinds);
        assert_eq!(
            h.iter().map(|h| h.value).collect::<Vec<_>>(),
            [false, true, true]
        );
        // 7 = 7 + 0: nothing small, nothing hidden.
        let rows = vec![
            row("count", "all", "all", 7.0, None),
            row("count", "team", "X", 7.0, None),
            row("count", "team", "Y", 0.0, None),
        ];
        assert!(suppress(&rows, kinds).iter().all(|h| !h.value));
        let rows = vec![
            row("count", "all", "all", 9.0, None),
            row("count", "team", "X", 4.0, None),
            row("count", "team", "Y", 0.0, None),
            row("count", "team", "Z", 5.0, None),
        ];
        // X and Z both small: two hidden, the zero stays.
        let h = suppress(&rows, kinds);
        assert_eq!(
            h.iter().map(|h| h.value).collect::<Vec<_>>(),
            [false, true, false, true]
        );
        let rows = vec![
            row("count", "all", "all", 11.0, None),
            row("count", "team", "X", 4.0, None),
            row("count", "team", "Y", 0.0, None),
            row("count", "team", "Z", 7.0, None),
        ];
        // X hidden; Z (7) goes with it; the zero reveals nothing.
        let h = suppress(&rows, kinds);
        assert_eq!(
            h.iter().map(|h| h.value).collect::<Vec<_>>(),
            [false, true, false, true]
        );
        // A median of 3 cases is hidden; of 6, shown.
        let mut s = row("summary", "all", "all", 0.0, Some(3.0));
        s.numerator = None;
        let mut t = s.clone();
        t.denominator = Some(6.0);
        let h = suppress(&[s, t], kinds);
        assert!(h[0].value && !h[1].value);
    }

    #[test]
    fn a_lone_suppressed_cell_beside_zeros_takes_the_total() {
        let rows = vec![
            row("count", "all", "all", 14.0, None),
            row("count", "team", "X", 0.0, None),
            row("count", "team", "Y", 14.0, None),
            row("count", "team", "Z", 0.0, None),
        ];
        assert!(suppress(&rows, kinds).iter().all(|h| !h.value));
        // Y = 3 with a total of 9 and a 6: 6 is hidden with it.
        let rows = vec![
            row("ratio", "all", "all", 9.0, Some(40.0)),
            row("ratio", "team", "X", 0.0, Some(10.0)),
            row("ratio", "team", "Y", 3.0, Some(20.0)),
            row("ratio", "team", "Z", 6.0, Some(10.0)),
        ];
        let h = suppress(&rows, kinds);
        assert_eq!(
            h.iter().map(|h| h.numerator).collect::<Vec<_>>(),
            [false, false, true, true]
        );
    }
}
