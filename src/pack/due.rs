//! The pack's page of cases due: how many open cases each measure has overdue, due today
//! and due soon, by team, from the same worklist as `csc-audit due`. Counts only, never a
//! list: the published profile passes them through the one suppression engine.

use super::{count_cell, count_text, esc, Profile};
use crate::disclosure::Tied;
use crate::metrics::due::Worklist;
use crate::tabular::{self, Cell};
use crate::worklist::{self, By};

/// Working days ahead the pack counts as due soon (`csc-audit due`'s default).
pub const WITHIN: i64 = 5;

/// One row of the page: a measure and team (or "all"), its counts (`None`: suppressed).
pub struct DueRow {
    pub title: String,
    pub team: String,
    pub counts: Vec<Option<u64>>,
}

/// The rows of the page: per measure its "all" row and a row per team. A published pack
/// shows the cases overdue only, and only for teams with some.
fn summary(list: &Worklist, profile: Profile) -> Vec<(String, String, worklist::Counts)> {
    worklist::summary(list, By::Team)
        .into_iter()
        .filter(|(_, team, n)| profile == Profile::Internal || team == "all" || n.overdue > 0)
        .collect()
}

/// For a published pack: each measure's overdue cases by team, to be suppressed together
/// with the data set (they are a snapshot's failed cases on the as-of date), in `periods`.
pub fn tied(list: &Worklist, periods: &[String]) -> Vec<Tied> {
    let rows = summary(list, Profile::Published);
    list.measures
        .iter()
        .map(|(id, _)| Tied {
            periods: periods.to_vec(),
            cells: rows
                .iter()
                .filter(|(m, _, _)| m == id)
                .map(|(_, team, n)| {
                    let b = if team == "all" { "all" } else { "team" };
                    (b.to_string(), team.clone(), n.overdue as f64)
                })
                .collect(),
        })
        .collect()
}

/// The rows shown: every count in the internal pack; in a published one the overdue
/// cases, hidden where the joint suppression (`hidden`, in [`tied`]'s order) says.
pub fn rows(list: &Worklist, profile: Profile, hidden: &[Vec<bool>]) -> Vec<DueRow> {
    let title = |id: &str| {
        list.measures
            .iter()
            .find(|(m, _)| m == id)
            .map_or(id.to_string(), |(_, t)| t.clone())
    };
    let mut at: Vec<usize> = vec![0; list.measures.len()];
    summary(list, profile)
        .into_iter()
        .map(|(m, team, n)| {
            let counts = match profile {
                Profile::Internal => [n.overdue, n.due_today, n.due_soon, n.total()]
                    .map(Some)
                    .to_vec(),
                Profile::Published => {
                    let mi = list
                        .measures
                        .iter()
                        .position(|(id, _)| *id == m)
                        .unwrap_or(0);
                    let i = at[mi];
                    at[mi] += 1;
                    let hide = hidden
                        .get(mi)
                        .and_then(|h| h.get(i))
                        .copied()
                        .unwrap_or(true);
                    vec![(!hide).then_some(n.overdue)]
                }
            };
            DueRow {
                title: title(&m),
                team,
                counts,
            }
        })
        .collect()
}

/// The column headings (each a count column the publication guard checks).
pub fn headings(profile: Profile) -> &'static [&'static str] {
    match profile {
        Profile::Internal => &["overdue", "due today", "due soon", "cases"],
        Profile::Published => &["overdue"],
    }
}

/// The report's section.
pub fn html(list: &Worklist, rows: &[DueRow], profile: Profile) -> String {
    let mut h = format!(
        "<section id=\"due\"><h2>Cases due, as of {}</h2><p>{}</p><table><thead><tr>\
         <th>Measure</th><th>Team</th>",
        list.as_of.format("%-d %B %Y"),
        describe(list, profile)
    );
    for head in headings(profile) {
        h.push_str(&format!("<th>{}</th>", super::capitalise(head)));
    }
    h.push_str("</tr></thead><tbody>\n");
    for r in rows {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td>",
            esc(&r.title),
            esc(&r.team)
        ));
        for &v in &r.counts {
            h.push_str(&format!("<td class=\"num\">{}</td>", count_text(v)));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></section>\n");
    h
}

/// What the page counts, in words (also the workbook's contents line).
pub fn describe(list: &Worklist, profile: Profile) -> String {
    match profile {
        Profile::Internal => format!(
            "Open cases each measure would count against the service once their deadline \
             passes: overdue, due on the as-of date, and due within {} working days, by team. \
             csc-audit due lists them for the team managers.",
            list.within
        ),
        Profile::Published => "Open cases overdue on the as-of date, by measure and team \
             (suppressed together with the data set, since they are counted there too)."
            .to_string(),
    }
}

/// The workbook's sheet.
pub fn sheet(
    wb: &mut rust_xlsxwriter::Workbook,
    rows: &[DueRow],
    profile: Profile,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let s = wb.add_worksheet().set_name("cases due")?;
    let mut heads = vec!["measure", "team"];
    heads.extend(headings(profile));
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
