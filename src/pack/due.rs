//! The pack's page of cases due: how many open cases each measure has overdue, due today
//! and due soon, by team, from the same worklist as `csc-audit due`. Counts only, never a
//! list: the published profile passes them through the one suppression engine.

use super::{count_cell, count_text, esc, Profile};
use crate::disclosure::Counts;
use crate::metrics::due::Worklist;
use crate::tabular::{self, Cell};
use crate::worklist::{self, By};

/// Working days ahead the pack counts as due soon (`csc-audit due`'s default).
pub const WITHIN: i64 = 5;

/// One row of the page: a measure and team (or "all"), counts by status and in total
/// (`None`: suppressed).
pub struct DueRow {
    pub title: String,
    pub team: String,
    pub counts: [Option<u64>; 4],
}

/// The rows, with every measure's teams adding up to its "all" row and each row's
/// statuses to its total.
pub fn rows(list: &Worklist, profile: Profile) -> Vec<DueRow> {
    let summary = worklist::summary(list, By::Team);
    let mut c = Counts::default();
    let mut cells: Vec<[usize; 4]> = Vec::new();
    for (_, _, n) in &summary {
        let ids = [n.overdue, n.due_today, n.due_soon, n.total()].map(|v| c.count(v as f64));
        c.sum(ids[3], ids[..3].to_vec());
        cells.push(ids);
    }
    // Each measure's "all" row (first of its rows) is the sum of its teams.
    let mut i = 0;
    while i < summary.len() {
        let j = (i + 1..summary.len())
            .find(|&j| summary[j].0 != summary[i].0)
            .unwrap_or(summary.len());
        for s in 0..4 {
            c.sum(cells[i][s], (i + 1..j).map(|k| cells[k][s]).collect());
        }
        i = j;
    }
    if profile == Profile::Published {
        c.suppress();
    }
    let title = |id: &str| {
        list.measures
            .iter()
            .find(|(m, _)| m == id)
            .map_or(id.to_string(), |(_, t)| t.clone())
    };
    summary
        .iter()
        .zip(&cells)
        .map(|((m, team, n), ids)| {
            let v = [n.overdue, n.due_today, n.due_soon, n.total()];
            DueRow {
                title: title(m),
                team: team.clone(),
                counts: std::array::from_fn(|s| {
                    (profile == Profile::Internal || !c.hidden(ids[s])).then_some(v[s])
                }),
            }
        })
        .collect()
}

/// The column headings (each a count column the publication guard checks).
pub const HEADINGS: [&str; 4] = ["overdue", "due today", "due soon", "cases"];

/// The report's section.
pub fn html(list: &Worklist, rows: &[DueRow]) -> String {
    let mut h = format!(
        "<section id=\"due\"><h2>Cases due, as of {}</h2><p>Open cases each measure would count \
         against the service once their deadline passes: overdue, due on the as-of date, and \
         due within {} working days, by team. <code>csc-audit due</code> lists them for the \
         team managers.</p><table><thead><tr><th>Measure</th><th>Team</th>",
        list.as_of.format("%-d %B %Y"),
        list.within
    );
    for head in HEADINGS {
        h.push_str(&format!("<th>{}</th>", capital(head)));
    }
    h.push_str("</tr></thead><tbody>\n");
    for r in rows {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td>",
            esc(&r.title),
            esc(&r.team)
        ));
        for v in r.counts {
            h.push_str(&format!("<td class=\"num\">{}</td>", count_text(v)));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></section>\n");
    h
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or(String::new(), |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}

/// The workbook's sheet.
pub fn sheet(
    wb: &mut rust_xlsxwriter::Workbook,
    rows: &[DueRow],
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let s = wb.add_worksheet().set_name("cases due")?;
    let mut heads = vec!["measure", "team"];
    heads.extend(HEADINGS);
    tabular::write_sheet(
        s,
        &heads,
        rows.iter().map(|r| {
            let mut v = vec![Cell::Text(&r.title), Cell::Text(&r.team)];
            v.extend(r.counts.iter().map(|&c| count_cell(c)));
            v
        }),
        "0",
    )?;
    s.set_column_width(0, 60)?;
    s.set_column_width(1, 24)?;
    Ok(())
}
