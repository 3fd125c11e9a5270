//! The audit tool sent to each auditor: `forms/<auditor>.xlsx` (sheet `cases`: the facts
//! of each of their cases, locked, and a column per question with a drop-down list of the
//! answers allowed; sheets `questions` and `instructions`) and the same form as CSV for
//! councils that use other tools. Written with the sample, recorded in its manifest and
//! checked by `sample verify` like every other file of the sample.

use std::collections::BTreeMap;

use rust_xlsxwriter::{DataValidation, DocProperties, ExcelDateTime, Format, Workbook, XlsxError};

use super::questions::{Kind, Question};
use super::{invalid, Sample, SampleError};
use crate::tabular::{self, Cell};

/// The folder of a sample that holds the forms.
pub const FORMS_DIR: &str = "forms";

/// The form of cases with no auditor.
pub const UNASSIGNED: &str = "unassigned";

/// One auditor's (or moderator's) cases: the form's rows, in the sample's order.
struct Form<'a> {
    auditor: &'a str,
    /// Whether the form is a moderator's: the cases audited a second time.
    moderation: bool,
    file: String,
    rows: Vec<Vec<String>>,
}

/// The prefix of a moderator's form (`forms/moderation-NAME.xlsx`).
pub const MODERATION_PREFIX: &str = "moderation-";

/// The facts of the `cases` sheet, before the questions.
fn facts(s: &Sample) -> Vec<&str> {
    let mut h = vec!["case_id", "child_id", "team", "worker", "stratum"];
    h.extend(s.date_columns.iter().copied());
    h.push("breached");
    h
}

/// The file name of an auditor's form: letters and digits lower-cased, `-` for the rest.
pub fn form_name(auditor: &str) -> String {
    let name: String = auditor
        .chars()
        .flat_map(|c| {
            if c.is_alphanumeric() {
                c.to_lowercase().collect::<Vec<_>>()
            } else {
                vec!['-']
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let name: String = name.chars().take(60).collect();
    if name.is_empty() {
        "auditor".into()
    } else {
        name
    }
}

/// Names Windows keeps for devices: no file may be called so.
const RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// Refuses auditors whose forms would share a file (two names that differ only in case or
/// punctuation, or the name of the form of cases with no auditor) or take a device's name.
pub fn check_names(auditors: &[super::plan::Auditor]) -> Result<(), String> {
    let mut seen: Vec<(String, &str)> = vec![(UNASSIGNED.to_string(), "cases with no auditor")];
    for a in auditors {
        let f = form_name(&a.name);
        if RESERVED.contains(&f.as_str()) {
            return Err(format!("`{}`: its form would be {f}.xlsx, a name Windows keeps for a device; give another name", a.name));
        }
        if let Some((_, other)) = seen.iter().find(|(g, _)| *g == f) {
            return Err(format!(
                "`{}` and {other} would share the form {f}.xlsx: give names that differ in \
                 more than case or punctuation",
                a.name
            ));
        }
        seen.push((f, a.name.as_str()));
    }
    Ok(())
}

/// A form's rows: the facts of each case, in the sample's order.
fn rows_of(s: &Sample, mut sel: Vec<&super::Selected>) -> Vec<Vec<String>> {
    sel.sort_by_key(|x| (x.stratum, x.order));
    sel.iter()
        .map(|x| {
            let c = &s.cases[x.case];
            let mut r = vec![
                c.case_id.clone(),
                c.child_id.clone().unwrap_or_default(),
                c.team.clone().unwrap_or_default(),
                c.worker.clone().unwrap_or_default(),
                s.strata[x.stratum].name.clone(),
            ];
            r.extend(
                c.dates
                    .iter()
                    .map(|d| d.map(|d| d.to_string()).unwrap_or_default()),
            );
            r.push(c.breached.join("; "));
            r
        })
        .collect()
}

/// Each auditor's cases (those with none on the `unassigned` form), by auditor name, then
/// each moderator's.
fn forms(s: &Sample) -> Vec<Form<'_>> {
    let mut by: BTreeMap<&str, Vec<&super::Selected>> = BTreeMap::new();
    for x in &s.selected {
        by.entry(x.auditor.as_deref().unwrap_or(UNASSIGNED))
            .or_default()
            .push(x);
    }
    let mut out: Vec<Form> = by
        .into_iter()
        .map(|(auditor, sel)| Form {
            auditor,
            moderation: false,
            file: form_name(auditor),
            rows: rows_of(s, sel),
        })
        .collect();
    let mut by: BTreeMap<&str, Vec<&super::Selected>> = BTreeMap::new();
    for m in &s.moderated {
        by.entry(m.moderator.as_str())
            .or_default()
            .push(&s.selected[m.selected]);
    }
    out.extend(by.into_iter().map(|(moderator, sel)| Form {
        auditor: moderator,
        moderation: true,
        file: format!("{MODERATION_PREFIX}{}", form_name(moderator)),
        rows: rows_of(s, sel),
    }));
    out
}

/// The forms as files (`forms/NAME.xlsx`, `forms/NAME.csv`); none when the plan asks no
/// questions.
pub fn files(s: &Sample) -> Result<Vec<(String, Vec<u8>)>, SampleError> {
    if s.plan.questions.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for f in forms(s) {
        out.push((format!("{FORMS_DIR}/{}.xlsx", f.file), workbook(s, &f)?));
        out.push((format!("{FORMS_DIR}/{}.csv", f.file), csv(s, &f)));
    }
    Ok(out)
}

fn headers<'a>(s: &'a Sample) -> Vec<&'a str> {
    let mut h = facts(s);
    h.extend(s.plan.questions.iter().map(|q| q.id.as_str()));
    h
}

fn csv(s: &Sample, f: &Form) -> Vec<u8> {
    let blank = vec![String::new(); s.plan.questions.len()];
    tabular::to_csv(
        &headers(s),
        f.rows
            .iter()
            .map(|r| r.iter().chain(&blank).map(|v| Cell::Text(v)).collect()),
    )
}

fn workbook(s: &Sample, f: &Form) -> Result<Vec<u8>, SampleError> {
    let xerr = |e: XlsxError| invalid(format!("writing a form: {e}"));
    let mut wb = Workbook::new();
    // A fixed creation time: the same draw gives the same bytes.
    let made = ExcelDateTime::parse_from_str(&s.as_of.to_string()).map_err(xerr)?;
    wb.set_properties(
        &DocProperties::new()
            .set_title(format!("{}: {}", s.plan.title, f.auditor))
            .set_creation_datetime(&made),
    );
    cases_sheet(&mut wb, s, f).map_err(xerr)?;
    questions_sheet(&mut wb, &s.plan.questions).map_err(xerr)?;
    instructions_sheet(&mut wb, s, f).map_err(xerr)?;
    wb.save_to_buffer().map_err(xerr)
}

/// The cases: facts locked, one answer column per question (unlocked), each closed
/// question with its drop-down list; the sheet protected so only answers can be typed.
fn cases_sheet(wb: &mut Workbook, s: &Sample, f: &Form) -> Result<(), XlsxError> {
    let sheet = wb.add_worksheet().set_name("cases")?;
    let bold = Format::new().set_bold();
    let answer = Format::new().set_unlocked().set_background_color(0xFFF9DB);
    let fact_cols = facts(s).len();
    for (c, h) in headers(s).iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    let n = f.rows.len() as u32;
    for (i, r) in f.rows.iter().enumerate() {
        for (c, v) in r.iter().enumerate() {
            sheet.write_string(i as u32 + 1, c as u16, v)?;
        }
        for q in 0..s.plan.questions.len() {
            sheet.write_blank(i as u32 + 1, (fact_cols + q) as u16, &answer)?;
        }
    }
    for (qi, q) in s.plan.questions.iter().enumerate() {
        let col = (fact_cols + qi) as u16;
        sheet.set_column_width(col, 18)?;
        let allowed = q.kind.allowed();
        if n == 0 || allowed.is_empty() {
            continue;
        }
        let dv = DataValidation::new()
            .allow_list_strings(&allowed)?
            .set_input_title(tabular::utf16_cut(&q.id, 32))?
            .set_input_message(tabular::utf16_cut(&q.text, 255))?
            .set_error_title("Not an answer on the list")?
            .set_error_message(tabular::utf16_cut(
                &format!("Choose one of: {}", allowed.join(", ")),
                255,
            ))?;
        sheet.add_data_validation(1, col, n, col, &dv)?;
    }
    sheet.set_column_width(0, 16)?;
    sheet.set_freeze_panes(1, 1)?;
    sheet.protect();
    Ok(())
}

fn questions_sheet(wb: &mut Workbook, questions: &[Question]) -> Result<(), XlsxError> {
    let sheet = wb.add_worksheet().set_name("questions")?;
    let rows: Vec<[String; 6]> = questions
        .iter()
        .map(|q| {
            [
                q.id.clone(),
                q.text.clone(),
                q.kind.name().to_string(),
                match &q.kind {
                    Kind::Text => "free text".to_string(),
                    k => k.allowed().join(" / "),
                },
                if q.required { "yes" } else { "no" }.to_string(),
                q.help.clone().unwrap_or_default(),
            ]
        })
        .collect();
    tabular::write_sheet(
        sheet,
        &["id", "text", "kind", "allowed answers", "required", "help"],
        rows.iter()
            .map(|r| r.iter().map(|v| Cell::Text(v)).collect()),
        "0",
    )?;
    sheet.set_column_width(1, 60)?;
    sheet.set_column_width(3, 40)?;
    sheet.set_column_width(5, 50)?;
    Ok(())
}

fn instructions_sheet(wb: &mut Workbook, s: &Sample, f: &Form) -> Result<(), XlsxError> {
    let sheet = wb.add_worksheet().set_name("instructions")?;
    let bold = Format::new().set_bold();
    let due = match s.forms_due {
        Some(d) => d.format("%A %-d %B %Y").to_string(),
        None => "no due date set (the plan has no due_working_days)".to_string(),
    };
    let lines = [
        ("audit", s.plan.title.clone()),
        ("sample", format!("{} (seed {})", s.period.label(), s.seed)),
        (
            if f.moderation { "moderator" } else { "auditor" },
            f.auditor.to_string(),
        ),
        (
            "role",
            if f.moderation {
                "moderation: audit these cases again, on your own, without the first \
                 auditor's answers; differences are settled at the moderation meeting"
            } else {
                "first audit"
            }
            .to_string(),
        ),
        ("cases", f.rows.len().to_string()),
        ("due", due),
        (
            "how to answer",
            "In the `cases` sheet, answer every question for every case: the yellow cells, \
             one answer each, from the drop-down list where there is one. Questions marked \
             required in the `questions` sheet must be answered. The facts (the white \
             columns) are locked: do not change them, the sheet names or the file name."
                .to_string(),
        ),
        (
            "how to return",
            "Save the workbook (or the CSV beside it) under the same name and send it to \
             the QA manager by the due date, who reads every returned form with \
             `csc-audit audit-results --forms`."
                .to_string(),
        ),
    ];
    for (i, (k, v)) in lines.iter().enumerate() {
        sheet.write_string_with_format(i as u32, 0, *k, &bold)?;
        sheet.write_string(i as u32, 1, v)?;
    }
    sheet.set_column_width(0, 16)?;
    sheet.set_column_width(1, 100)?;
    Ok(())
}
