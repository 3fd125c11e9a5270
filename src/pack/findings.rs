//! The pack's audit page: what the month's audits found, from the returned forms of a
//! sample that verifies (`pack --audit-sample DIR --audit-forms DIR`). Internal: forms
//! returned and outstanding by auditor, the estimates with their intervals, the agreement
//! between auditors and moderators. Published: the estimates and the agreement only, a
//! count from 1 to 5 (and any figure from which one could be worked out) shown as `c`.

use std::collections::BTreeMap;

use super::{esc, Profile};
use crate::disclosure::is_small;
use crate::sampling::returns::FormsResults;
use crate::sampling::Sample;
use crate::tabular::{self, Cell};

/// What the page shows, each count or figure `None` where it is suppressed.
pub struct Findings {
    pub period: String,
    /// (auditor, role, cases, returned, outstanding): internal only.
    pub returns: Vec<(String, &'static str, u64, u64, u64)>,
    /// (question, answer, answered, estimate %, low %, high %).
    pub estimates: Vec<(String, String, Option<u64>, [Option<f64>; 3])>,
    /// (question, cases, agreement %, kappa, low, high; `None` suppressed, NaN where kappa
    /// is not defined: both said the same thing every time).
    pub agreement: Vec<(String, Option<u64>, Option<f64>, [Option<f64>; 3])>,
}

fn small(v: u64) -> bool {
    is_small(v as f64)
}

/// The page's figures for `profile`.
pub fn findings(s: &Sample, f: &FormsResults, profile: Profile) -> Findings {
    let published = profile == Profile::Published;
    let mut returns: BTreeMap<(String, &'static str), (u64, u64)> = BTreeMap::new();
    for r in &f.used {
        let e = returns
            .entry((r.holder.clone(), r.role.name()))
            .or_default();
        e.1 += r.answers.len() as u64;
    }
    for o in &f.outstanding {
        let e = returns
            .entry((o.holder.clone(), o.role.name()))
            .or_default();
        e.0 += 1;
    }
    let returns = if published {
        Vec::new()
    } else {
        returns
            .into_iter()
            .map(|((who, role), (out, back))| (who, role, out + back, back, out))
            .collect()
    };
    // Published: a measure (a question, or the grades) is shown only when none of its
    // counts, nor what each leaves of the cases answered, is from 1 to 5: its rows differ
    // from each other and from 100% by exactly those. The numbers answered are not shown.
    let mut hide_measure: BTreeMap<&str, bool> = BTreeMap::new();
    for e in f.estimates.rows.iter().filter(|e| e.scope == "all") {
        let bad = small(e.answered) || small(e.count) || small(e.answered - e.count);
        *hide_measure.entry(e.measure.as_str()).or_default() |= bad;
    }
    let estimates = f
        .estimates
        .rows
        .iter()
        .filter(|e| e.scope == "all")
        .map(|e| {
            let hide = published && hide_measure[e.measure.as_str()];
            let pct = |v: Option<f64>| if hide { None } else { v.map(|x| 100.0 * x) };
            (
                e.measure.clone(),
                e.answer.clone(),
                (!published).then_some(e.answered),
                [pct(e.estimate), pct(e.ci_low), pct(e.ci_high)],
            )
        })
        .collect();
    // Published: kappa and agreement give the table's margins away; shown only when every
    // cell and margin of the table is 0 or more than 5.
    let agreement = f
        .agreement
        .iter()
        .map(|a| {
            let k = a.table.len();
            let rows = a.table.iter().map(|r| r.iter().sum::<u64>());
            let cols = (0..k).map(|j| a.table.iter().map(|r| r[j]).sum::<u64>());
            let same: u64 = (0..k).map(|i| a.table[i][i]).sum();
            let any_small = a
                .table
                .iter()
                .flatten()
                .copied()
                .chain(rows)
                .chain(cols)
                .chain([same, a.cases - same])
                .any(small);
            let hide = published && (a.cases == 0 || any_small);
            let kv = |v: fn(&crate::stats::Kappa) -> f64| match (&a.kappa, hide) {
                (_, true) => None,
                (Some(k), false) => Some(v(k)),
                (None, false) => Some(f64::NAN),
            };
            (
                a.question.clone(),
                (!(published && small(a.cases))).then_some(a.cases),
                a.agreement.filter(|_| !hide).map(|p| 100.0 * p),
                [kv(|k| k.kappa), kv(|k| k.low), kv(|k| k.high)],
            )
        })
        .collect();
    Findings {
        period: s.period.label(),
        returns,
        estimates,
        agreement,
    }
}

fn num(v: Option<f64>, d: usize) -> String {
    match v {
        None => "c".to_string(),
        Some(x) if x.is_nan() => "not defined".to_string(),
        Some(x) => format!("{x:.d$}"),
    }
}

/// The report's section.
pub fn html(f: &Findings) -> String {
    let mut h = format!(
        "<section id=\"findings\"><h2>Audit findings, {}</h2><p>From the returned audit \
         forms: the estimates for the whole population (95% intervals), using the \
         moderator's answer where a case was moderated, and how far auditors and \
         moderators agreed (Cohen's kappa).</p>\n",
        esc(&f.period)
    );
    if !f.returns.is_empty() {
        h.push_str("<h3>Forms returned</h3><table><thead><tr><th>Auditor</th><th>Role</th><th>Cases</th><th>Returned</th><th>Outstanding</th></tr></thead><tbody>\n");
        for (who, role, n, back, out) in &f.returns {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{role}</td><td class=\"num\">{n}</td><td class=\"num\">{back}</td><td class=\"num\">{out}</td></tr>\n",
                esc(who)
            ));
        }
        h.push_str("</tbody></table>\n");
    }
    h.push_str("<h3>Estimates</h3><table><thead><tr><th>Question</th><th>Answer</th><th>Answered</th><th>Estimate</th><th>95% interval</th></tr></thead><tbody>\n");
    for (q, a, n, [e, lo, hi]) in &f.estimates {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
            esc(q),
            esc(a),
            super::count_text(*n),
            e.map_or("c".into(), |x| format!("{x:.1}%")),
            match (lo, hi) {
                (Some(l), Some(u)) => format!("{l:.1}% to {u:.1}%"),
                _ => "c".into(),
            }
        ));
    }
    h.push_str("</tbody></table>\n<h3>Agreement between auditors and moderators</h3><table><thead><tr><th>Question</th><th>Cases</th><th>Agreement</th><th>Kappa</th><th>95% interval</th></tr></thead><tbody>\n");
    for (q, n, a, [k, lo, hi]) in &f.agreement {
        h.push_str(&format!(
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
            esc(q),
            super::count_text(*n),
            a.map_or("c".into(), |x| format!("{x:.0}%")),
            num(*k, 2),
            match (lo, hi) {
                (Some(l), Some(u)) if l.is_nan() || u.is_nan() => "not defined".into(),
                (Some(l), Some(u)) => format!("{l:.2} to {u:.2}"),
                _ => "c".into(),
            }
        ));
    }
    h.push_str("</tbody></table></section>\n");
    h
}

/// The workbook's sheets: `audit estimates`, `audit agreement` (and, internal, `audit
/// returns`).
pub fn sheets(
    wb: &mut rust_xlsxwriter::Workbook,
    f: &Findings,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let cnt = |v: Option<u64>| v.map_or(Cell::Text("c"), |x| Cell::Number(Some(x as f64)));
    let fig = |v: Option<f64>| {
        v.map_or(Cell::Text("c"), |x| {
            Cell::Number(Some((x * 10.0).round() / 10.0))
        })
    };
    let s = wb.add_worksheet().set_name("audit estimates")?;
    tabular::write_sheet(
        s,
        &[
            "question",
            "answer",
            "answered",
            "estimate %",
            "low %",
            "high %",
        ],
        f.estimates.iter().map(|(q, a, n, [e, lo, hi])| {
            vec![
                Cell::Text(q),
                Cell::Text(a),
                cnt(*n),
                fig(*e),
                fig(*lo),
                fig(*hi),
            ]
        }),
        "0.0",
    )?;
    let k2 = |v: Option<f64>| {
        v.map_or(Cell::Text("c"), |x| {
            Cell::Number(Some((x * 100.0).round() / 100.0))
        })
    };
    let s = wb.add_worksheet().set_name("audit agreement")?;
    tabular::write_sheet(
        s,
        &[
            "question",
            "cases",
            "agreement %",
            "kappa",
            "kappa_low",
            "kappa_high",
        ],
        f.agreement.iter().map(|(q, n, a, [k, lo, hi])| {
            vec![Cell::Text(q), cnt(*n), fig(*a), k2(*k), k2(*lo), k2(*hi)]
        }),
        "0.00",
    )?;
    if !f.returns.is_empty() {
        let s = wb.add_worksheet().set_name("audit returns")?;
        tabular::write_sheet(
            s,
            &["auditor", "role", "cases", "returned", "outstanding"],
            f.returns.iter().map(|(w, r, n, b, o)| {
                vec![
                    Cell::Text(w),
                    Cell::Text(r),
                    Cell::Number(Some(*n as f64)),
                    Cell::Number(Some(*b as f64)),
                    Cell::Number(Some(*o as f64)),
                ]
            }),
            "0",
        )?;
    }
    Ok(())
}
