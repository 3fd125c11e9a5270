//! The managers' worklist as files: the cases due or overdue as CSV, JSON or xlsx (a
//! summary sheet, a sheet per team or worker, the cases that cannot be timed), and the
//! counts by team and status that the pack shows. Child-level: written only where the user
//! asks, never into the data or a sample.

use std::collections::BTreeMap;

use rust_xlsxwriter::{Color, Format, Workbook, XlsxError};
use serde_json::json;

use crate::metrics::due::{DueCase, DueExcluded, DueStatus, Worklist};
use crate::tabular::{self, Cell};

/// The columns of the worklist, in order.
pub const COLUMNS: &[&str] = &[
    "measure",
    "case_id",
    "child_id",
    "team",
    "worker",
    "started",
    "deadline",
    "working_days_left",
    "status",
];

/// The columns of the cases listed apart.
pub const EXCLUDED_COLUMNS: &[&str] =
    &["measure", "case_id", "child_id", "team", "worker", "reason"];

/// Overdue rows in the xlsx: a light red fill (with the status in words).
const OVERDUE_FILL: u32 = 0xF4CCCC;

/// How the xlsx and the summary group the cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Team,
    Worker,
}

impl By {
    pub fn name(self) -> &'static str {
        match self {
            By::Team => "team",
            By::Worker => "worker",
        }
    }
    fn of(self, c: &DueCase) -> &str {
        match self {
            By::Team => &c.team,
            By::Worker => &c.worker,
        }
    }
}

fn cells(c: &DueCase) -> Vec<Cell<'_>> {
    vec![
        Cell::Text(&c.metric_id),
        Cell::Text(&c.case_id),
        Cell::Text(&c.child_id),
        Cell::Text(&c.team),
        Cell::Text(&c.worker),
        Cell::Date(Some(c.started)),
        Cell::Date(Some(c.deadline)),
        Cell::Number(Some(c.working_days_left as f64)),
        Cell::Text(c.status.name()),
    ]
}

fn excluded_cells(e: &DueExcluded) -> Vec<Cell<'_>> {
    vec![
        Cell::Text(&e.metric_id),
        Cell::Text(&e.case_id),
        Cell::Text(&e.child_id),
        Cell::Text(&e.team),
        Cell::Text(&e.worker),
        Cell::Text(&e.reason),
    ]
}

/// The worklist as CSV, with exactly [`COLUMNS`].
pub fn to_csv(list: &Worklist) -> Vec<u8> {
    tabular::to_csv_par(COLUMNS, &list.cases, cells)
}

/// The cases that cannot be timed, as CSV.
pub fn excluded_csv(list: &Worklist) -> Vec<u8> {
    tabular::to_csv(EXCLUDED_COLUMNS, list.excluded.iter().map(excluded_cells))
}

/// Counts of one measure and group by status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub overdue: u64,
    pub due_today: u64,
    pub due_soon: u64,
}

impl Counts {
    fn add(&mut self, s: DueStatus) {
        match s {
            DueStatus::Overdue => self.overdue += 1,
            DueStatus::DueToday => self.due_today += 1,
            DueStatus::DueSoon => self.due_soon += 1,
        }
    }
    pub fn total(&self) -> u64 {
        self.overdue + self.due_today + self.due_soon
    }
}

/// Counts by measure (in the list's order) and group (sorted; "all" first), every measure
/// the list covers included, with none due.
pub fn summary(list: &Worklist, by: By) -> Vec<(String, String, Counts)> {
    let mut per: BTreeMap<(usize, String), Counts> = BTreeMap::new();
    let index = |id: &str| {
        list.measures
            .iter()
            .position(|(m, _)| m == id)
            .unwrap_or(usize::MAX)
    };
    for (i, _) in list.measures.iter().enumerate() {
        per.insert((i, String::new()), Counts::default());
    }
    for c in &list.cases {
        let i = index(&c.metric_id);
        per.entry((i, String::new())).or_default().add(c.status);
        per.entry((i, group_name(by.of(c))))
            .or_default()
            .add(c.status);
    }
    per.into_iter()
        .map(|((i, g), n)| {
            let id = list
                .measures
                .get(i)
                .map_or("", |(m, _)| m.as_str())
                .to_string();
            (id, if g.is_empty() { "all".to_string() } else { g }, n)
        })
        .collect()
}

/// A group's name as the lists show it, as the measures' breakdowns name it (an empty team
/// or worker is `unknown`).
pub fn group_name(g: &str) -> String {
    crate::metrics::group_name(Some(g)).to_string()
}

/// The worklist as JSON: the same rows, the cases listed apart, the counts and the notes.
pub fn to_json(list: &Worklist, by: By) -> String {
    let case = |c: &DueCase| {
        json!({
            "measure": c.metric_id, "case_id": c.case_id, "child_id": c.child_id,
            "team": c.team, "worker": c.worker, "started": c.started.to_string(),
            "deadline": c.deadline.to_string(), "working_days_left": c.working_days_left,
            "status": c.status.name(),
        })
    };
    let apart = |e: &DueExcluded| {
        json!({
            "measure": e.metric_id, "case_id": e.case_id, "child_id": e.child_id,
            "team": e.team, "worker": e.worker, "reason": e.reason,
        })
    };
    let counts: Vec<_> = summary(list, by)
        .into_iter()
        .map(|(m, g, n)| {
            json!({"measure": m, by.name(): g, "overdue": n.overdue,
                   "due_today": n.due_today, "due_soon": n.due_soon, "total": n.total()})
        })
        .collect();
    let v = json!({
        "as_of": list.as_of.to_string(),
        "within_working_days": list.within,
        "measures": list.measures.iter().map(|(id, t)| json!({"id": id, "title": t})).collect::<Vec<_>>(),
        "cases": list.cases.iter().map(case).collect::<Vec<_>>(),
        "excluded": list.excluded.iter().map(apart).collect::<Vec<_>>(),
        "summary": counts,
        "notes": list.notes,
    });
    serde_json::to_string_pretty(&v).expect("JSON of plain values") + "\n"
}

/// A worksheet name for a group, as Excel accepts it: at most 31 UTF-16 units, none of
/// `[]:*?/\`, no apostrophe at either end, not `History` (Excel's own), and unique among
/// `taken` ignoring case.
fn sheet_name(group: &str, taken: &mut Vec<String>) -> String {
    let clean: String = group
        .chars()
        .map(|c| {
            if "[]:*?/\\".contains(c) || c.is_control() {
                '-'
            } else {
                c
            }
        })
        .collect();
    let tidy = |s: &str| s.trim().trim_matches('\'').trim().to_string();
    let base = match tidy(&clean) {
        b if b.is_empty() || b.eq_ignore_ascii_case("history") => {
            format!("{b} (team)").trim().to_string()
        }
        b => b,
    };
    let mut n = 1;
    loop {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!(" ({n})")
        };
        let room = 31 - suffix.len();
        let cut = tidy(&tabular::utf16_cut(&base, room));
        let name = if cut.is_empty() {
            "team".to_string()
        } else {
            cut
        } + &suffix;
        if !taken
            .iter()
            .any(|t| t.to_lowercase() == name.to_lowercase())
        {
            taken.push(name.clone());
            return name;
        }
        n += 1;
    }
}

/// The worklist as a workbook: `summary` (counts by measure, group and status), one sheet
/// per team or worker (frozen header, filters, overdue rows filled red and saying so),
/// `excluded` and `notes`.
pub fn to_xlsx(list: &Worklist, by: By) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let mut taken: Vec<String> = ["summary", "excluded", "notes"].map(String::from).to_vec();
    let summary_rows = summary(list, by);
    let title = |id: &str| {
        list.measures
            .iter()
            .find(|(m, _)| m == id)
            .map_or("", |(_, t)| t.as_str())
    };
    let heads = [
        "measure",
        "title",
        by.name(),
        "overdue",
        "due_today",
        "due_soon",
        "total",
    ];
    let sheet = wb.add_worksheet().set_name("summary")?;
    let rows: Vec<[String; 3]> = summary_rows
        .iter()
        .map(|(m, g, _)| [m.clone(), title(m).to_string(), g.clone()])
        .collect();
    tabular::write_sheet(
        sheet,
        &heads,
        rows.iter().zip(&summary_rows).map(|(t, (_, _, n))| {
            vec![
                Cell::Text(&t[0]),
                Cell::Text(&t[1]),
                Cell::Text(&t[2]),
                Cell::Number(Some(n.overdue as f64)),
                Cell::Number(Some(n.due_today as f64)),
                Cell::Number(Some(n.due_soon as f64)),
                Cell::Number(Some(n.total() as f64)),
            ]
        }),
        "0",
    )?;
    sheet.set_column_width(0, 26)?;
    sheet.set_column_width(1, 50)?;
    sheet.set_column_width(2, 24)?;
    let mut groups: BTreeMap<String, Vec<&DueCase>> = BTreeMap::new();
    for c in &list.cases {
        groups.entry(group_name(by.of(c))).or_default().push(c);
    }
    let overdue = |r: &[Cell]| r.last() == Some(&Cell::Text(DueStatus::Overdue.name()));
    for (g, cases) in &groups {
        let name = sheet_name(g, &mut taken);
        let sheet = wb.add_worksheet().set_name(&name)?;
        tabular::write_sheet_marked(
            sheet,
            COLUMNS,
            cases.iter().map(|c| cells(c)),
            "0",
            Some((&overdue, Color::RGB(OVERDUE_FILL))),
        )?;
        sheet.set_column_width(0, 26)?;
        sheet.set_column_range_width(1, 4, 16)?;
        sheet.set_column_range_width(5, 6, 12)?;
    }
    let sheet = wb.add_worksheet().set_name("excluded")?;
    tabular::write_sheet(
        sheet,
        EXCLUDED_COLUMNS,
        list.excluded.iter().map(excluded_cells),
        "0",
    )?;
    sheet.set_column_width(5, 70)?;
    let notes = wb.add_worksheet().set_name("notes")?;
    let bold = Format::new().set_bold();
    notes.write_string_with_format(0, 0, "as of", &bold)?;
    notes.write_string(0, 1, list.as_of.to_string())?;
    notes.write_string_with_format(1, 0, "due soon", &bold)?;
    notes.write_string(1, 1, format!("within {} working days", list.within))?;
    for (i, n) in list.notes.iter().enumerate() {
        notes.write_string(i as u32 + 2, 0, "note")?;
        notes.write_string(i as u32 + 2, 1, n)?;
    }
    wb.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::sheet_name;

    #[test]
    fn sheet_names_are_ones_excel_accepts() {
        let mut taken = vec!["summary".to_string()];
        let mut name = |g: &str| sheet_name(g, &mut taken);
        // Cut to 31, then no apostrophe left at the end.
        assert_eq!(
            name("Children Looked After & Carers' Team"),
            "Children Looked After & Carers"
        );
        assert_eq!(name("North/East [A]"), "North-East -A-");
        assert_eq!(name("History"), "History (team)");
        assert_eq!(name("SUMMARY"), "SUMMARY (2)");
        // Unique ignoring case beyond ASCII, as Excel compares.
        assert_eq!(name("ÉQUIPE"), "ÉQUIPE");
        assert_eq!(name("équipe"), "équipe (2)");
        // 31 UTF-16 units: an emoji takes two.
        let long = "😀".repeat(20);
        let got = name(&long);
        assert_eq!(got.encode_utf16().count(), 30);
        assert_eq!(name(""), "(team)");
    }
}
