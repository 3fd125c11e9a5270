//! Disclosure control for published tables, by the DfE's convention: counts from 1 to 5 are
//! shown as `c`; more cells are suppressed where a suppressed count could be worked out
//! from a total and the other cells (secondary suppression); a percentage is suppressed when
//! its numerator or denominator is.
//!
//! Every published table goes through one engine, [`Counts`]: each count it prints is
//! declared as a cell, each way counts add up as a sum (a total and its parts), and counts
//! the reader could derive without seeing them (the cases that failed a measure: the
//! denominator minus the numerator; the cases of a stratum not drawn) as derived cells. A
//! count of 1 to 5, printed or derived, and a cell shown as `c`, are never left
//! recoverable: the engine works out everything a reader can by subtraction, sum after
//! sum, and hides more cells until neither follows. The columns that hold counts are named once, in
//! [`COUNT_COLUMNS`], for the writers and for the guard that reads the files back.

use std::collections::BTreeMap;

use crate::metrics::{MetricKind, OutRow};

/// The smallest count shown, and the largest suppressed.
pub const SMALLEST_SUPPRESSED: f64 = 1.0;
pub const LARGEST_SUPPRESSED: f64 = 5.0;

/// Every column of a published table (CSV, workbook sheet, Parquet, HTML table) that holds
/// counts, by its heading (matched ignoring case). The writers suppress them through
/// [`Counts`]; `pack::guard` refuses a file where one shows 1 to 5.
pub const COUNT_COLUMNS: &[&str] = &[
    // The data set.
    "numerator",
    "denominator",
    "pending",
    "excluded",
    // The audit strata.
    "population",
    "sample",
    // Data quality.
    "rows read",
    "rows loaded",
    "rows rejected",
    "loaded",
    "rejected",
    // A funnel's cases per group, in its data table; the cases due by team.
    "cases",
    "overdue",
    "due today",
    "due soon",
    // The audit findings.
    "answered",
];

/// Columns that hold a count in the rows whose `unit` column says `count` (a count
/// measure's value is its numerator).
pub const COUNT_WHEN_UNIT_IS_COUNT: &[&str] = &["value", "last quarter"];

/// The unit of a count measure, as the `unit` column writes it.
pub const COUNT_UNIT: &str = "count";

/// Whether a heading names a count column.
pub fn is_count_column(heading: &str) -> bool {
    let h = heading.trim();
    COUNT_COLUMNS.iter().any(|c| c.eq_ignore_ascii_case(h))
}

/// Whether a heading names a column that is a count when the row's unit is `count`.
pub fn is_count_when_unit_is_count(heading: &str) -> bool {
    let h = heading.trim();
    COUNT_WHEN_UNIT_IS_COUNT
        .iter()
        .any(|c| c.eq_ignore_ascii_case(h))
}

/// Columns of prose (the notes) in which a published pack shows no whole number from 1
/// to 5 at all: a note may count rows ("3 rows have no start date").
pub const PROSE_COLUMNS: &[&str] = &["note", "commentary"];

/// Whether a heading names a column of prose.
pub fn is_prose_column(heading: &str) -> bool {
    let h = heading.trim();
    PROSE_COLUMNS.iter().any(|c| c.eq_ignore_ascii_case(h))
}

/// The numbers of a text: runs of letters, digits and points, with where they start and end.
fn numbers(text: &str) -> Vec<(usize, usize, f64)> {
    let mut out = Vec::new();
    let mut start = None;
    let mut push = |s: usize, e: usize| {
        if let Ok(v) = text[s..e].trim_end_matches('.').parse::<f64>() {
            out.push((s, e, v));
        }
    };
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric() || c == '.', start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                push(s, i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        push(s, text.len());
    }
    out
}

/// The first whole number from 1 to 5 in a text.
pub fn small_number_in(text: &str) -> Option<f64> {
    numbers(text)
        .into_iter()
        .map(|(_, _, v)| v)
        .find(|v| is_small(*v) && v.fract() == 0.0)
}

/// A note for a published pack: each whole number from 1 to 5 in it shown as `c`.
pub fn mask_small_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (s, e, v) in numbers(text) {
        if is_small(v) && v.fract() == 0.0 {
            out.push_str(&text[at..s]);
            out.push('c');
            at = e;
        }
    }
    out.push_str(&text[at..]);
    out
}

/// Which parts of a row are suppressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hidden {
    pub numerator: bool,
    pub denominator: bool,
    /// The value (a percentage, a count, a median) and its interval.
    pub value: bool,
    pub pending: bool,
    pub excluded: bool,
}

/// Whether a count is one the convention suppresses (1 to 5).
pub fn is_small(count: f64) -> bool {
    (SMALLEST_SUPPRESSED..=LARGEST_SUPPRESSED).contains(&count)
}

/// A cell of a [`Counts`] table.
pub type CellId = usize;

/// The counts of one published table and how they add up; [`Counts::suppress`] decides
/// which are shown.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    value: Vec<f64>,
    /// False for a derived cell: never printed, but known to a reader who can subtract.
    printed: Vec<bool>,
    hidden: Vec<bool>,
    /// total = sum of parts.
    sums: Vec<(CellId, Vec<CellId>)>,
}

impl Counts {
    /// A count the table prints.
    pub fn count(&mut self, v: f64) -> CellId {
        self.cell(v, true)
    }

    /// A count the table does not print but a reader can work out from the others (the
    /// failed cases of a measure): protected like a printed one when it is small.
    pub fn derived(&mut self, v: f64) -> CellId {
        self.cell(v, false)
    }

    fn cell(&mut self, v: f64, printed: bool) -> CellId {
        self.value.push(v);
        self.printed.push(printed);
        self.hidden.push(false);
        self.value.len() - 1
    }

    /// `total` is the sum of `parts` (a breakdown's groups, a distribution's bands, the
    /// strata of a sample).
    pub fn sum(&mut self, total: CellId, parts: Vec<CellId>) {
        if !parts.is_empty() {
            self.sums.push((total, parts));
        }
    }

    pub fn hidden(&self, c: CellId) -> bool {
        self.hidden.get(c).copied().unwrap_or(true)
    }

    /// Primary suppression (every count of 1 to 5), then secondary: while a reader could
    /// work out a small count or a hidden cell by subtracting, sum after sum, from what is
    /// shown, hide another cell of the sum that gave it away (the smallest non-zero part
    /// first).
    pub fn suppress(&mut self) {
        let primary: Vec<bool> = self.value.iter().map(|&v| is_small(v)).collect();
        for (i, p) in primary.iter().enumerate() {
            self.hidden[i] = *p && self.printed[i];
        }
        for sums in self.components() {
            self.protect(&sums, &primary);
        }
    }

    /// The sums in groups that share no cell: each is settled on its own.
    fn components(&self) -> Vec<Vec<usize>> {
        let mut parent: Vec<usize> = (0..self.value.len()).collect();
        fn root(p: &mut [usize], mut i: usize) -> usize {
            while p[i] != i {
                p[i] = p[p[i]];
                i = p[i];
            }
            i
        }
        for (t, parts) in &self.sums {
            for &c in parts {
                let (a, b) = (root(&mut parent, *t), root(&mut parent, c));
                parent[a] = b;
            }
        }
        let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (s, (t, _)) in self.sums.iter().enumerate() {
            let r = root(&mut parent, *t);
            groups.entry(r).or_default().push(s);
        }
        groups.into_values().collect()
    }

    fn cells_of(&self, s: usize) -> impl Iterator<Item = CellId> + '_ {
        let (t, parts) = &self.sums[s];
        std::iter::once(*t).chain(parts.iter().copied())
    }

    /// What a reader knows: the shown cells, then every cell that is the only unknown of a
    /// sum, until nothing more follows. For each cell worked out, the sum that gave it.
    fn known(&self, sums: &[usize]) -> BTreeMap<CellId, Option<usize>> {
        let mut known: BTreeMap<CellId, Option<usize>> = BTreeMap::new();
        for &s in sums {
            for c in self.cells_of(s) {
                if self.printed[c] && !self.hidden[c] {
                    known.insert(c, None);
                }
            }
        }
        loop {
            let mut more = false;
            for &s in sums {
                let mut unknown = self.cells_of(s).filter(|c| !known.contains_key(c));
                if let (Some(c), None) = (unknown.next(), unknown.next()) {
                    known.insert(c, Some(s));
                    more = true;
                }
            }
            if !more {
                return known;
            }
        }
    }

    fn protect(&mut self, sums: &[usize], primary: &[bool]) {
        loop {
            let known = self.known(sums);
            let Some(given_away) = known
                .iter()
                // A small count, or any cell shown as `c`: a reader must not work either out.
                .find(|(c, by)| (primary[**c] || self.hidden[**c]) && by.is_some())
                .and_then(|(_, by)| *by)
            else {
                return;
            };
            match self.next_to_hide(given_away, &known) {
                Some(c) => self.hidden[c] = true,
                // Nothing shown left to hide behind: the whole group goes.
                None => {
                    for &s in sums {
                        for c in self.cells_of(s).collect::<Vec<_>>() {
                            self.hidden[c] = true;
                        }
                    }
                    return;
                }
            }
        }
    }

    /// The cell to hide so that sum `s` no longer gives its cell away: a shown cell of the
    /// sum or of the sums that gave away its other cells (the chain of subtractions), a
    /// part before a total, nearer before farther, the smallest non-zero first, zeros last.
    fn next_to_hide(&self, s: usize, known: &BTreeMap<CellId, Option<usize>>) -> Option<CellId> {
        let mut queue = std::collections::VecDeque::from([(s, 0usize)]);
        let mut seen = std::collections::BTreeSet::from([s]);
        let mut best: Option<((bool, bool, usize), f64, CellId)> = None;
        while let Some((s, level)) = queue.pop_front() {
            let total = self.sums[s].0;
            for c in self.cells_of(s) {
                if self.printed[c] && !self.hidden[c] {
                    let key = ((self.value[c] == 0.0, c == total, level), self.value[c], c);
                    let better = best.as_ref().is_none_or(|b| {
                        key.0
                            .cmp(&b.0)
                            .then(key.1.total_cmp(&b.1))
                            .then(key.2.cmp(&b.2))
                            .is_lt()
                    });
                    if better {
                        best = Some(key);
                    }
                }
                if let Some(Some(by)) = known.get(&c) {
                    if seen.insert(*by) {
                        queue.push_back((*by, level + 1));
                    }
                }
            }
        }
        best.map(|b| b.2)
    }
}

/// The fields of a measure's row that are counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    Numerator,
    Denominator,
    /// The cases that failed: the denominator minus the numerator (derived).
    Failed,
    Pending,
    Excluded,
}

/// A count of the measures' long table: metric, period, breakdown, group, category (empty
/// for the counts a distribution's bands share) and field.
type Key = (String, String, String, String, String, Field);

/// Suppression for rows of evaluations of the same measures; `kind_of` gives each metric's
/// kind. Every count of a row (numerator, denominator, the failed cases, pending, excluded)
/// is a cell; the groups of each breakdown add up to the `all` row of the same category,
/// a distribution's bands to their denominator, a ratio's numerator and failed cases to
/// its denominator. Rows of different grains may be given together with `periods`, which
/// says that a period's counts are the sum of other periods' (a quarter of its months).
pub fn suppress(rows: &[OutRow], kind_of: impl Fn(&str) -> Option<MetricKind>) -> Vec<Hidden> {
    suppress_with_periods(rows, kind_of, &[])
}

/// [`suppress`], where each `(period, parts)` says the counts of `period` are the sum of
/// those of `parts` (for measures that count events: not snapshots, not medians).
pub fn suppress_with_periods(
    rows: &[OutRow],
    kind_of: impl Fn(&str) -> Option<MetricKind>,
    periods: &[(String, Vec<String>)],
) -> Vec<Hidden> {
    suppress_tied(rows, kind_of, periods, &[]).0
}

/// Counts published beside the long table that count some of the same cases (the cases
/// overdue on the as-of date are a snapshot's failed cases there). Each cell is tied to
/// every cell of the long table in `periods` with the same breakdown and group and the same
/// value, so that one suppression decides both: suppressed apart, one table could give
/// away the other's hidden cell.
#[derive(Debug, Clone)]
pub struct Tied {
    pub periods: Vec<String>,
    /// (breakdown, group, value); each breakdown's groups add up to the (`all`, `all`) cell.
    pub cells: Vec<(String, String, f64)>,
}

/// [`suppress_with_periods`] with [`Tied`] tables suppressed together with the rows:
/// the rows' hidden cells, and each tied table's hidden cells in its order.
pub fn suppress_tied(
    rows: &[OutRow],
    kind_of: impl Fn(&str) -> Option<MetricKind>,
    periods: &[(String, Vec<String>)],
    tied: &[Tied],
) -> (Vec<Hidden>, Vec<Vec<bool>>) {
    let mut counts = Counts::default();
    let mut cells: BTreeMap<Key, CellId> = BTreeMap::new();
    let mut ids: Vec<Vec<(Field, CellId)>> = Vec::with_capacity(rows.len());
    for r in rows {
        let kind = kind_of(&r.metric_id);
        let bands = kind == Some(MetricKind::Distribution);
        let mut mine = Vec::new();
        let mut cell = |f: Field, v: f64, printed: bool, shared: bool| -> CellId {
            let cat = if shared {
                String::new()
            } else {
                r.category.clone()
            };
            let key = (
                r.metric_id.clone(),
                r.period.clone(),
                r.breakdown.clone(),
                r.group.clone(),
                cat,
                f,
            );
            let id = *cells.entry(key).or_insert_with(|| {
                if printed {
                    counts.count(v)
                } else {
                    counts.derived(v)
                }
            });
            mine.push((f, id));
            id
        };
        let num = r.numerator.map(|v| cell(Field::Numerator, v, true, false));
        let den = r
            .denominator
            .map(|v| cell(Field::Denominator, v, true, bands));
        cell(Field::Pending, r.pending as f64, true, bands);
        cell(Field::Excluded, r.excluded as f64, true, bands);
        if let (Some(n), Some(d), false) = (num, den, bands) {
            let failed = r.denominator.unwrap_or(0.0) - r.numerator.unwrap_or(0.0);
            let f = cell(Field::Failed, failed, false, false);
            counts.sum(d, vec![n, f]);
        }
        ids.push(mine);
    }
    add_sums(&mut counts, &cells, &kind_of, periods);
    let tied_ids: Vec<Vec<CellId>> = tied.iter().map(|t| tie(&mut counts, &cells, t)).collect();
    counts.suppress();
    let tied_hidden = tied_ids
        .iter()
        .map(|ids| ids.iter().map(|&c| counts.hidden(c)).collect())
        .collect();
    let hidden = rows
        .iter()
        .zip(&ids)
        .map(|(r, mine)| {
            let hid = |f: Field| mine.iter().any(|(g, c)| *g == f && counts.hidden(*c));
            let mut h = Hidden {
                numerator: hid(Field::Numerator),
                denominator: hid(Field::Denominator),
                pending: hid(Field::Pending),
                excluded: hid(Field::Excluded),
                value: false,
            };
            h.value = match kind_of(&r.metric_id) {
                Some(MetricKind::Count) => h.numerator,
                Some(MetricKind::Summary) => h.denominator,
                _ => h.numerator || h.denominator,
            };
            h
        })
        .collect();
    (hidden, tied_hidden)
}

/// A tied table's cells: its groups summing to its total, each cell equal to every cell of
/// the long table of the same period, breakdown, group and value.
fn tie(counts: &mut Counts, cells: &BTreeMap<Key, CellId>, t: &Tied) -> Vec<CellId> {
    let ids: Vec<CellId> = t.cells.iter().map(|c| counts.count(c.2)).collect();
    let total = t
        .cells
        .iter()
        .position(|(b, g, _)| b == "all" && g == "all");
    if let Some(ti) = total {
        let mut breakdowns: Vec<&str> = t.cells.iter().map(|c| c.0.as_str()).collect();
        breakdowns.sort_unstable();
        breakdowns.dedup();
        for b in breakdowns.into_iter().filter(|b| *b != "all") {
            let parts = t.cells.iter().zip(&ids).filter(|(c, _)| c.0 == b);
            counts.sum(ids[ti], parts.map(|(_, &id)| id).collect());
        }
    }
    for ((b, g, v), &id) in t.cells.iter().zip(&ids) {
        for (key, &other) in cells {
            let same = t.periods.contains(&key.1) && key.2 == *b && key.3 == *g;
            if same && counts.value[other] == *v {
                counts.sum(id, vec![other]);
                counts.sum(other, vec![id]);
            }
        }
    }
    ids
}

/// The sums of the long table: groups to the `all` row, bands to their denominator, a
/// period to its parts.
fn add_sums(
    counts: &mut Counts,
    cells: &BTreeMap<Key, CellId>,
    kind_of: &impl Fn(&str) -> Option<MetricKind>,
    periods: &[(String, Vec<String>)],
) {
    // Groups of each breakdown against the `all` row of the same category and field.
    let mut groups: BTreeMap<(&str, &str, &str, &str, Field), Vec<CellId>> = BTreeMap::new();
    for ((m, p, b, _, cat, f), &c) in cells {
        if b != "all" {
            groups.entry((m, p, b, cat, *f)).or_default().push(c);
        }
    }
    for ((m, p, b, cat, f), parts) in groups {
        let _ = b;
        let total = (
            m.to_string(),
            p.to_string(),
            "all".to_string(),
            "all".to_string(),
            cat.to_string(),
            f,
        );
        if let Some(&t) = cells.get(&total) {
            counts.sum(t, parts);
        }
    }
    // A distribution's bands add up to its denominator.
    let mut bands: BTreeMap<(&str, &str, &str, &str), Vec<CellId>> = BTreeMap::new();
    for ((m, p, b, g, cat, f), &c) in cells {
        if *f == Field::Numerator && kind_of(m) == Some(MetricKind::Distribution) {
            let _ = cat;
            bands.entry((m, p, b, g)).or_default().push(c);
        }
    }
    for ((m, p, b, g), parts) in bands {
        let key = (
            m.to_string(),
            p.to_string(),
            b.to_string(),
            g.to_string(),
            String::new(),
            Field::Denominator,
        );
        if let Some(&t) = cells.get(&key) {
            counts.sum(t, parts);
        }
    }
    // A quarter is its months, for measures of events (a snapshot or a median is not).
    for (period, parts) in periods {
        for ((m, p, b, g, cat, f), &t) in cells {
            if p != period || matches!(kind_of(m), Some(MetricKind::Snapshot | MetricKind::Summary))
            {
                continue;
            }
            let of: Option<Vec<CellId>> = parts
                .iter()
                .map(|q| {
                    cells
                        .get(&(m.clone(), q.clone(), b.clone(), g.clone(), cat.clone(), *f))
                        .copied()
                })
                .collect();
            if let Some(of) = of {
                counts.sum(t, of);
            }
        }
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
        t.period = "2024-25 Q4".into();
        let h = suppress(&[s, t], kinds);
        assert!(h[0].value && !h[1].value);
    }

    #[test]
    fn notes_show_no_small_number() {
        let n = "icpc_15wd: 3 rows have no start date; 12 end before 2024-25 Q3 (1.5 days)";
        assert_eq!(
            mask_small_numbers(n),
            "icpc_15wd: c rows have no start date; 12 end before 2024-25 Q3 (1.5 days)"
        );
        assert_eq!(small_number_in(n), Some(3.0));
        assert_eq!(small_number_in(&mask_small_numbers(n)), None);
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

    /// The cases overdue on the as-of date are a snapshot's failed cases there: East 3 and
    /// West 10 of 13. Suppressed apart, the overdue table would hide West beside East and
    /// show the total, while the data set shows West's numerator and denominator: West = 10
    /// and East = 13 - 10 = 3. Tied, whatever the overdue table shows, a reader can work
    /// out neither East's 3 nor any cell it hides.
    #[test]
    fn tied_tables_are_suppressed_with_the_data_set() {
        let rows = vec![
            row("visits", "all", "all", 20.0, Some(33.0)),
            row("visits", "team", "East", 7.0, Some(10.0)),
            row("visits", "team", "West", 13.0, Some(23.0)),
        ];
        let tied = [Tied {
            periods: vec!["2024-25 Q3".into()],
            cells: vec![
                ("all".into(), "all".into(), 13.0),
                ("team".into(), "East".into(), 3.0),
                ("team".into(), "West".into(), 10.0),
            ],
        }];
        let (hidden, due) = suppress_tied(&rows, |_| Some(MetricKind::Snapshot), &[], &tied);
        let due = &due[0];
        assert!(due[1], "East's 3 is hidden");
        // What a reader knows of each team's failed cases from the data set.
        let failed_known = |i: usize| !hidden[i].numerator && !hidden[i].denominator;
        let known = |c: usize| !due[c] || failed_known(c);
        // East stays unknown: not shown, and not all minus West.
        assert!(!(known(0) && known(2)), "{hidden:?} {due:?}");
        assert!(!failed_known(1));
        // Apart, the overdue table alone would show the total and West (13 and 10).
        let apart = suppress_tied(&rows[..0], |_| None, &[], &tied).1;
        assert_eq!(apart[0], [false, true, true]);
    }
}
