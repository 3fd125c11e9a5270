//! Ofsted ILACS Annex A (an xlsx workbook, one sheet per list) into the native tables:
//! List 1 contacts, List 3 referrals, List 4 assessments, List 5 S47 enquiries and initial
//! conferences, List 6 (children in need: the child and the last time seen), List 7 CP
//! plans (with the last statutory visit and the latest review), List 8 (children looked
//! after: the child and the last social work visit). Every data row of Lists 1-8 is loaded
//! or explained; every header says how it was matched.
//!
//! Annex A has no keys below the child, so rows get keys from their list and row:
//! `L3-12` is row 12 of List 3. A list is read from one sheet only: a second sheet of the
//! same list (`List 3 (2)`, a copy as a rule) is reported and its rows rejected, so no key
//! is made twice and `check` loads what `import` says it loaded. Workbooks are read through
//! [`super::workbook`], by the cells they hold and within its stated limits.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;

use super::{ImportReport, Tables};
use crate::report::{Issue, Severity};
use crate::schema::{
    self, ASSESSMENTS, CHILDREN, CONFERENCES, CONTACTS, CP_PLANS, REFERRALS, S47_ENQUIRIES, VISITS,
};
use crate::values;

pub const FORMAT: &str = "Ofsted ILACS Annex A (xlsx)";

/// The native tables Annex A fills, in the journey's order.
pub fn tables() -> Vec<&'static schema::TableSpec> {
    [
        CHILDREN,
        CONTACTS,
        REFERRALS,
        ASSESSMENTS,
        S47_ENQUIRIES,
        CP_PLANS,
        CONFERENCES,
        VISITS,
    ]
    .iter()
    .map(|t| schema::table(t).expect("a schema table"))
    .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum AnnexError {
    #[error("cannot read {path} as an xlsx workbook: {message}")]
    Workbook { path: String, message: String },
}

pub use super::workbook::{Cell, Sheet, SheetRow};

/// A column Annex A defines: the key the importer uses, and the header names it accepts,
/// written as [`normalise`] leaves them (the first is Ofsted's own).
struct Field {
    key: &'static str,
    names: &'static [&'static str],
}

const fn f(key: &'static str, names: &'static [&'static str]) -> Field {
    Field { key, names }
}

const COMMON: &[Field] = &[
    f(
        "child_id",
        &["child unique id", "child id", "childs unique id"],
    ),
    f("gender", &["gender", "sex"]),
    f("ethnicity", &["ethnicity"]),
    f("dob", &["date of birth", "dob"]),
    f("age", &["age of child years", "age", "age of child"]),
    f(
        "disability",
        &["does the child have a disability", "disability"],
    ),
];
const TEAM: &[Field] = &[
    f("team", &["allocated team"]),
    f("worker", &["allocated worker"]),
];
const LIST1: &[Field] = &[
    f("contact_date", &["date of contact"]),
    f("contact_source", &["contact source", "source of contact"]),
];
const LIST2: &[Field] = &[
    f("eh_start", &["assessment start date"]),
    f("eh_end", &["assessment completion date"]),
    f("eh_org", &["organisation completing assessment"]),
];
const LIST3: &[Field] = &[
    f("referral_date", &["date of referral"]),
    f("referral_source", &["referral source"]),
    f("referral_nfa", &["referral nfa"]),
    f("referrals_12m", &["number of referrals in last 12 months"]),
];
const LIST4: &[Field] = &[
    f(
        "assessment_start",
        &["continuous assessment start date", "assessment start date"],
    ),
    f("child_seen", &["child seen during continuous assessment"]),
    f(
        "assessment_authorised",
        &[
            "continuous assessment date of authorisation",
            "assessment date of authorisation",
        ],
    ),
    f(
        "assessment_outcome",
        &["was the child assessed as requiring la children s social care support"],
    ),
];
const LIST5: &[Field] = &[
    f(
        "s47_start",
        &[
            "strategy discussion initiating section 47 enquiry start date",
            "section 47 enquiry start date",
        ],
    ),
    f(
        "icpc_unnecessary",
        &["was an initial child protection conference deemed unnecessary"],
    ),
    f(
        "icpc_date",
        &["date of initial child protection conference"],
    ),
    f(
        "icpc_plan",
        &["did the initial child protection conference result in a child protection plan"],
    ),
    f(
        "s47s_12m",
        &["number of section 47 enquiries in the last 12 months"],
    ),
    f("icpcs_12m", &["number of icpcs in the last 12 months"]),
];
const LIST6: &[Field] = &[
    f("cin_start", &["cin start date"]),
    f("need", &["primary need code"]),
    f("last_seen", &["date child was last seen"]),
    f("cin_closure", &["cin closure date"]),
    f("closure_reason", &["reason for closure"]),
    f("case_status", &["case status"]),
];
const LIST7: &[Field] = &[
    f("cpp_start", &["child protection plan start date"]),
    f("category_initial", &["initial category of abuse"]),
    f("category_latest", &["latest category of abuse"]),
    f("last_visit", &["date of the last statutory visit", "date of last statutory visit"]),
    f("seen_alone", &["was the child seen alone"]),
    f("last_review", &["date of latest review conference"]),
    f("cpp_end", &["child protection plan end date"]),
    f(
        "epo",
        &["subject to emergency protection order or protected under police powers in last six months y n"],
    ),
    f("previous_cpp", &["number of previous child protection plans"]),
];
const LIST8: &[Field] = &[f("last_sw_visit", &["date of last social work visit"])];

/// Words that identify a field when its header is worded in a way no name above lists.
const KEY_WORDS: &[(&str, &[&str])] = &[
    ("child_id", &["child", "id"]),
    ("dob", &["date", "birth"]),
    ("contact_date", &["date", "contact"]),
    ("contact_source", &["contact", "source"]),
    ("referral_date", &["date", "referral"]),
    ("referral_source", &["referral", "source"]),
    ("referral_nfa", &["nfa"]),
    ("assessment_start", &["assessment", "start"]),
    ("assessment_authorised", &["assessment", "authorisation"]),
    ("s47_start", &["47", "start"]),
    ("icpc_date", &["date", "initial", "conference"]),
    ("cpp_start", &["plan", "start"]),
    ("cpp_end", &["plan", "end"]),
    ("category_initial", &["initial", "category"]),
    ("category_latest", &["latest", "category"]),
    ("last_visit", &["statutory", "visit"]),
    ("last_review", &["review", "conference"]),
    ("last_seen", &["last", "seen"]),
    ("last_sw_visit", &["social", "work", "visit"]),
    ("team", &["team"]),
    ("worker", &["worker"]),
];

fn list_fields(list: u8) -> &'static [Field] {
    match list {
        1 => LIST1,
        2 => LIST2,
        3 => LIST3,
        4 => LIST4,
        5 => LIST5,
        6 => LIST6,
        7 => LIST7,
        8 => LIST8,
        _ => &[],
    }
}

/// Lower case, curly quotes and every non-alphanumeric as one space: `Was the Child Seen
/// Alone?` and `was the child  seen alone` are the same header.
pub fn normalise(header: &str) -> String {
    let mut out = String::with_capacity(header.len());
    let mut space = true;
    for c in header.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    out.trim_end().to_string()
}

/// `List 3`, `List_3`, `list3`, `List 3 - Referrals` -> 3.
fn list_number(sheet: &str) -> Option<u8> {
    let n = normalise(sheet);
    let rest = n.strip_prefix("list")?.trim_start();
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let after = &rest[digits.len()..];
    if !(after.is_empty() || after.starts_with(' ')) {
        return None;
    }
    digits.parse().ok()
}

/// Reads a workbook into sheets, within the limits of [`super::workbook`].
pub fn read_workbook(path: &Path) -> Result<Vec<Sheet>, AnnexError> {
    super::workbook::read(path).map_err(|message| AnnexError::Workbook {
        path: path.display().to_string(),
        message,
    })
}

/// Reads the lists saved as CSV files, one per list (`List 1.csv`, `list_3.csv`, ...).
pub fn read_csv_folder(dir: &Path) -> Result<Vec<Sheet>, AnnexError> {
    let err = |message: String| AnnexError::Workbook {
        path: dir.display().to_string(),
        message,
    };
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| err(e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv")))
        .collect();
    files.sort();
    let mut sheets = Vec::new();
    for f in files {
        let name = f
            .file_stem()
            .map_or(String::new(), |s| s.to_string_lossy().into_owned());
        let bytes = crate::fsutil::read_input(&f, crate::fsutil::MAX_INPUT_BYTES)
            .map_err(|e| err(e.to_string()))?;
        let (text, _) = crate::ingest::decode(&bytes).map_err(&err)?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut rows = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let record = record.map_err(|e| err(format!("{}: {e}", f.display())))?;
            let line = i as u64 + 1;
            let cells: Vec<(u32, Cell)> = record
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.is_empty())
                .map(|(c, v)| {
                    (
                        u32::try_from(c).unwrap_or(u32::MAX),
                        Cell::Text(v.to_string()),
                    )
                })
                .collect();
            if !cells.is_empty() {
                rows.push(SheetRow { line, cells });
            }
        }
        sheets.push(Sheet { name, rows });
    }
    if !sheets.iter().any(|s| list_number(&s.name).is_some()) {
        return Err(err(
            "no CSV file named after a list (List 1.csv, List 3.csv, ...)".into(),
        ));
    }
    Ok(sheets)
}

/// Reads an Annex A workbook, or a folder of its lists as CSV files, into native tables.
pub fn import(path: &Path) -> Result<(Tables, ImportReport), AnnexError> {
    let sheets = if path.is_dir() {
        read_csv_folder(path)?
    } else {
        read_workbook(path)?
    };
    let file = path.file_name().map_or(path.display().to_string(), |n| {
        n.to_string_lossy().into_owned()
    });
    Ok(import_sheets(&sheets, &file))
}

/// The text of a cell: trimmed, non-breaking spaces as spaces, `#N/A` as empty, whole
/// numbers without `.0`.
fn text(c: &Cell) -> Option<String> {
    let s = match c {
        Cell::Empty | Cell::Error => return None,
        Cell::Text(s) => s.replace('\u{a0}', " ").trim().to_string(),
        Cell::Number(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", *x as i64),
        Cell::Number(x) => x.to_string(),
        Cell::Date(x) => serial_date(*x).map_or(x.to_string(), |d| d.to_string()),
    };
    let upper = s.to_ascii_uppercase();
    if s.is_empty() || (upper.starts_with('#') && (upper.ends_with('!') || upper == "#N/A")) {
        return None;
    }
    Some(s)
}

/// `b) Female` -> `Female`; `1A: Individual` stays (the code is the value).
fn strip_letter(s: &str) -> &str {
    match s.split_once(") ") {
        Some((p, rest))
            if !p.is_empty() && p.len() <= 2 && p.chars().all(|c| c.is_ascii_alphabetic()) =>
        {
            rest.trim()
        }
        _ => s,
    }
}

/// An Excel serial (days since 1899-12-30, the 1900 date system) as a date.
fn serial_date(x: f64) -> Option<NaiveDate> {
    if !(1.0..=2_958_465.0).contains(&x) {
        return None;
    }
    NaiveDate::from_ymd_opt(1899, 12, 30)?.checked_add_days(chrono::Days::new(x.floor() as u64))
}

fn category(s: &str) -> String {
    super::category_of_abuse(&normalise(strip_letter(s)))
}

struct Out {
    tables: Tables,
    report: ImportReport,
    file: String,
    children: std::collections::HashSet<String>,
}

impl Out {
    fn issue(
        &mut self,
        list: u8,
        line: Option<u64>,
        column: Option<&str>,
        rule: &str,
        sev: Severity,
        message: String,
    ) {
        self.report.issues.push(Issue {
            table: format!("List {list}"),
            file: self.file.clone(),
            line,
            column: column.map(str::to_string),
            rule: rule.into(),
            severity: sev,
            message,
        });
    }
}

/// One data row, read through the list's header.
struct Row<'a> {
    cells: &'a SheetRow,
    columns: &'a BTreeMap<&'static str, (u32, String)>,
    list: u8,
    line: u64,
}

impl Row<'_> {
    fn cell(&self, key: &str) -> &Cell {
        self.columns
            .get(key)
            .map_or(&Cell::Empty, |(i, _)| self.cells.get(*i))
    }
    fn text(&self, key: &str) -> Option<String> {
        text(self.cell(key))
    }
    fn coded(&self, key: &str) -> String {
        self.text(key)
            .map_or(String::new(), |s| strip_letter(&s).to_string())
    }
    fn header(&self, key: &str) -> String {
        self.columns
            .get(key)
            .map_or(key.to_string(), |(_, h)| h.clone())
    }
    /// A date: an Excel date cell, a serial number, or DD/MM/YYYY or ISO text.
    fn date(&self, key: &str) -> Result<Option<NaiveDate>, String> {
        match self.cell(key) {
            Cell::Date(x) => serial_date(*x)
                .map(Some)
                .ok_or_else(|| format!("{x} is not a date")),
            Cell::Number(x) if (20_000.0..80_000.0).contains(x) => Ok(serial_date(*x)),
            c => match text(c) {
                None => Ok(None),
                Some(s) => values::parse_date(&s).map_err(|e| e.message),
            },
        }
    }
    fn flag(&self, key: &str) -> Result<Option<bool>, String> {
        let s = self.coded(key);
        values::parse_flag(&s).map_err(|e| e.message)
    }
}

/// Reads the sheets of an Annex A workbook (or the lists given as CSV files) into native
/// tables; `file` names the source in the report.
pub fn import_sheets(sheets: &[Sheet], file: &str) -> (Tables, ImportReport) {
    let mut out = Out {
        tables: Tables::default(),
        report: ImportReport {
            format: FORMAT.into(),
            source: file.into(),
            block_order: (1..=8).map(|n| format!("List {n}")).collect(),
            ..ImportReport::default()
        },
        file: file.into(),
        children: Default::default(),
    };
    // The sheet each list was read from.
    let mut found: [Option<String>; 9] = Default::default();
    for sheet in sheets {
        let Some(list) = list_number(&sheet.name) else {
            *out.report
                .ignored
                .entry(format!("sheet '{}'", sheet.name))
                .or_default() += 1;
            continue;
        };
        if !(1..=8).contains(&list) {
            out.issue(
                list,
                None,
                None,
                "list_not_read",
                Severity::Info,
                format!(
                    "List {list} ('{}') is not read: the native tables hold Lists 1-8",
                    sheet.name
                ),
            );
            continue;
        }
        match &found[list as usize] {
            Some(first) => second_sheet(list, sheet, first, &mut out),
            None => {
                found[list as usize] = Some(sheet.name.clone());
                read_list(list, sheet, &mut out);
            }
        }
    }
    for (n, seen) in found.iter().enumerate().skip(1) {
        if seen.is_none() {
            out.issue(
                n as u8,
                None,
                None,
                "missing_list",
                Severity::Info,
                format!("no List {n} sheet in the workbook"),
            );
        }
    }
    for spec in tables() {
        out.report.rows_written.insert(
            spec.name.to_string(),
            out.tables.rows(spec.name).len() as u64,
        );
    }
    (out.tables, out.report)
}

fn has_text(r: &&SheetRow) -> bool {
    r.cells.iter().any(|(_, c)| text(c).is_some())
}

/// The header row: the first of the first ten rows that names the child's ID (Ofsted's
/// template has a title on row 1 and the headers on row 2).
fn header_at(sheet: &Sheet) -> Option<usize> {
    sheet
        .rows
        .iter()
        .take_while(|r| r.line <= 10)
        .position(|r| {
            r.cells
                .iter()
                .filter_map(|(_, c)| text(c))
                .any(|h| COMMON[0].names.contains(&normalise(&h).as_str()))
        })
}

/// A second sheet of a list already read (`List 3 (2)` beside `List 3`): a copy made by
/// accident, as a rule. Its rows are rejected, all in one issue that says where they are,
/// so that no row is counted twice and no generated key (`L3-12`) is made twice.
fn second_sheet(list: u8, sheet: &Sheet, first: &str, out: &mut Out) {
    let data: Vec<&SheetRow> = sheet
        .rows
        .iter()
        .skip(header_at(sheet).map_or(0, |h| h + 1))
        .filter(has_text)
        .collect();
    let lines = match (data.first(), data.last()) {
        (Some(a), Some(b)) if a.line == b.line => format!(" (line {})", a.line),
        (Some(a), Some(b)) => format!(" (lines {}-{})", a.line, b.line),
        _ => String::new(),
    };
    out.issue(
        list,
        data.first().map(|r| r.line),
        None,
        "duplicate_list",
        Severity::Error,
        format!(
            "sheet '{}' is a second List {list} (the list was read from sheet '{first}'): its \
             {} row(s){lines} are not loaded, so that nothing is counted twice; if they are \
             rows the first sheet lacks, move them into '{first}', delete '{}' and import again",
            sheet.name,
            data.len(),
            sheet.name
        ),
    );
    let c = out.report.blocks.entry(format!("List {list}")).or_default();
    c.read += data.len() as u64;
    c.rejected += data.len() as u64;
}

fn read_list(list: u8, sheet: &Sheet, out: &mut Out) {
    let Some(header_at) = header_at(sheet) else {
        out.issue(list, None, None, "missing_header", Severity::Error, format!("'{}': no header row with 'Child Unique ID' in the first 10 rows: the list is not read", sheet.name));
        let rows = sheet.rows.iter().filter(has_text).count() as u64;
        let c = out.report.blocks.entry(format!("List {list}")).or_default();
        c.read += rows;
        c.rejected += rows;
        return;
    };
    let fields: Vec<&Field> = COMMON
        .iter()
        .chain(list_fields(list))
        .chain(if matches!(list, 3..=8) { TEAM } else { &[] })
        .collect();
    let mut columns: BTreeMap<&'static str, (u32, String)> = BTreeMap::new();
    let header_line = sheet.rows[header_at].line;
    let mut unmatched: Vec<(u32, String)> = Vec::new();
    for (i, cell) in &sheet.rows[header_at].cells {
        let i = *i;
        let Some(h) = text(cell) else { continue };
        let n = normalise(&h);
        match fields.iter().find(|f| f.names.contains(&n.as_str())) {
            Some(f) if columns.contains_key(f.key) => {
                out.issue(
                    list,
                    Some(header_line),
                    Some(&h),
                    "duplicate_column",
                    Severity::Warning,
                    format!(
                        "'{h}' is a second '{}' column: the first is used",
                        f.names[0]
                    ),
                );
            }
            Some(f) => {
                let how = if n == f.names[0] {
                    "as written".to_string()
                } else {
                    format!("a known variant of '{}'", f.names[0])
                };
                out.issue(
                    list,
                    Some(header_line),
                    Some(&h),
                    "header_matched",
                    Severity::Info,
                    format!("'{h}' read as {} ({how})", f.key),
                );
                columns.insert(f.key, (i, h));
            }
            None => unmatched.push((i, h)),
        }
    }
    // Headers no name matched: a field whose key words all appear, when exactly one field
    // not yet found does (other years' wordings), said so the analyst can check it.
    for (i, h) in unmatched {
        let words: Vec<String> = normalise(&h).split(' ').map(str::to_string).collect();
        let candidates: Vec<&(&str, &[&str])> = KEY_WORDS
            .iter()
            .filter(|(key, need)| {
                fields.iter().any(|f| f.key == *key)
                    && !columns.contains_key(key)
                    && need.iter().all(|w| words.iter().any(|x| x == w))
            })
            .collect();
        if let [(key, need)] = candidates.as_slice() {
            out.issue(
                list,
                Some(header_line),
                Some(&h),
                "header_matched",
                Severity::Warning,
                format!(
                    "'{h}' read as {key} (by its words '{}': check it is the right column)",
                    need.join(" ")
                ),
            );
            columns.insert(key, (i, h));
            continue;
        }
        out.issue(
            list,
            Some(header_line),
            Some(&h),
            "unknown_column",
            Severity::Info,
            format!("'{h}' is not used: the native tables have no place for it"),
        );
        *out.report
            .ignored
            .entry(format!("List {list}/{h}"))
            .or_default() += 1;
    }
    let block = format!("List {list}");
    out.report.blocks.entry(block.clone()).or_default();
    for cells in sheet.rows.iter().skip(header_at + 1) {
        if !has_text(&cells) {
            continue;
        }
        let row = Row {
            cells,
            columns: &columns,
            list,
            line: cells.line,
        };
        let loaded = read_row(&row, out);
        let c = out.report.blocks.entry(block.clone()).or_default();
        c.read += 1;
        if loaded {
            c.loaded += 1;
        } else {
            c.rejected += 1;
        }
    }
}

/// Maps one row; `false` when it was not loaded (the reason is reported).
fn read_row(row: &Row, out: &mut Out) -> bool {
    let list = row.list;
    let line = row.line;
    let reject = |out: &mut Out, column: Option<&str>, rule: &str, message: String| {
        out.issue(list, Some(line), column, rule, Severity::Error, message);
        false
    };
    let Some(child) = row
        .text("child_id")
        .map(|s| values::normalise_id(&s).0.to_string())
    else {
        return reject(
            out,
            Some("Child Unique ID"),
            "missing_required",
            "no Child Unique ID: the row is not loaded".into(),
        );
    };
    if list == 2 {
        // Not an error in the data: the native tables have no early help.
        out.issue(
            list,
            Some(line),
            None,
            "not_mapped",
            Severity::Info,
            "List 2 (early help assessments) has no native table: the row is not loaded".into(),
        );
        return false;
    }
    // A date that cannot be read: required ones reject the row, others are left empty.
    let date = |out: &mut Out, key: &str, required: bool| -> Result<Option<NaiveDate>, ()> {
        match row.date(key) {
            Ok(Some(d)) => Ok(Some(d)),
            Ok(None) if required => {
                let h = row.header(key);
                out.issue(
                    list,
                    Some(line),
                    Some(&h),
                    "missing_required",
                    Severity::Error,
                    format!("'{h}' is empty: the row is not loaded"),
                );
                Err(())
            }
            Ok(None) => Ok(None),
            Err(why) => {
                let h = row.header(key);
                let sev = if required {
                    Severity::Error
                } else {
                    Severity::Warning
                };
                let what = if required {
                    "the row is not loaded"
                } else {
                    "left empty"
                };
                out.issue(
                    list,
                    Some(line),
                    Some(&h),
                    "bad_date",
                    sev,
                    format!("{why}: {what}"),
                );
                if required {
                    Err(())
                } else {
                    Ok(None)
                }
            }
        }
    };
    let flag = |out: &mut Out, key: &str| -> Option<bool> {
        match row.flag(key) {
            Ok(v) => v,
            Err(why) => {
                let h = row.header(key);
                out.issue(
                    list,
                    Some(line),
                    Some(&h),
                    "bad_flag",
                    Severity::Warning,
                    format!("{why}: left empty"),
                );
                None
            }
        }
    };
    let yn = |v: Option<bool>| match v {
        Some(true) => "Y".to_string(),
        Some(false) => "N".to_string(),
        None => String::new(),
    };
    let id = format!("L{list}-{line}");
    let part = format!("List {list}");
    let team = row.coded("team");
    let worker = row.coded("worker");
    let mut loaded = true;
    match list {
        1 => match date(out, "contact_date", true) {
            Ok(d) => out.tables.push_from(
                CONTACTS,
                &part,
                line,
                &[
                    ("contact_id", id),
                    ("child_id", child.clone()),
                    ("contact_date", show(d)),
                    ("source", row.coded("contact_source")),
                ],
            ),
            Err(()) => loaded = false,
        },
        3 => match date(out, "referral_date", true) {
            Ok(d) => {
                let nfa = flag(out, "referral_nfa");
                out.tables.push_from(
                    REFERRALS,
                    &part,
                    line,
                    &[
                        ("referral_id", id),
                        ("child_id", child.clone()),
                        ("received_at", show(d)),
                        ("source", row.coded("referral_source")),
                        (
                            "outcome",
                            if nfa == Some(true) {
                                "nfa".into()
                            } else {
                                String::new()
                            },
                        ),
                        ("team", team),
                        ("worker", worker),
                    ],
                );
            }
            Err(()) => loaded = false,
        },
        4 => match date(out, "assessment_start", true) {
            Ok(start) => {
                let authorised = date(out, "assessment_authorised", false).unwrap_or(None);
                out.tables.push_from(
                    ASSESSMENTS,
                    &part,
                    line,
                    &[
                        ("assessment_id", id),
                        ("child_id", child.clone()),
                        ("start_date", show(start)),
                        ("authorised_date", show(authorised)),
                        ("outcome", row.coded("assessment_outcome")),
                        ("team", team),
                        ("worker", worker),
                    ],
                );
            }
            Err(()) => loaded = false,
        },
        5 => match date(out, "s47_start", true) {
            Ok(start) => {
                let unnecessary = flag(out, "icpc_unnecessary");
                let icpc = date(out, "icpc_date", false).unwrap_or(None);
                let plan = flag(out, "icpc_plan");
                out.tables.push_from(
                    S47_ENQUIRIES,
                    &part,
                    line,
                    &[
                        ("s47_id", id.clone()),
                        ("child_id", child.clone()),
                        ("start_date", show(start)),
                        ("icpc_not_required", yn(unnecessary)),
                        ("team", team),
                        ("worker", worker),
                    ],
                );
                if let Some(d) = icpc {
                    let outcome = match plan {
                        Some(true) => "plan",
                        Some(false) => "no_plan",
                        None => "",
                    };
                    out.tables.push_from(
                        CONFERENCES,
                        &part,
                        line,
                        &[
                            ("conference_id", format!("{id}-ICPC")),
                            ("child_id", child.clone()),
                            ("conference_type", "initial".into()),
                            ("date", d.to_string()),
                            ("s47_id", id),
                            ("outcome", outcome.into()),
                        ],
                    );
                }
            }
            Err(()) => loaded = false,
        },
        6 | 8 => {
            let key = if list == 6 {
                "last_seen"
            } else {
                "last_sw_visit"
            };
            if let Some(d) = date(out, key, false).unwrap_or(None) {
                let kind = if list == 6 { "cin" } else { "cla" };
                out.tables.push_from(
                    VISITS,
                    &part,
                    line,
                    &[
                        ("visit_id", format!("{id}-V")),
                        ("child_id", child.clone()),
                        ("visit_date", d.to_string()),
                        ("visit_type", kind.into()),
                        ("worker", worker),
                    ],
                );
            }
        }
        7 => match date(out, "cpp_start", true) {
            Ok(start) => {
                let end = date(out, "cpp_end", false).unwrap_or(None);
                out.tables.push_from(
                    CP_PLANS,
                    &part,
                    line,
                    &[
                        ("plan_id", id.clone()),
                        ("child_id", child.clone()),
                        ("start_date", show(start)),
                        ("end_date", show(end)),
                        (
                            "initial_category",
                            row.text("category_initial")
                                .map_or(String::new(), |s| category(&s)),
                        ),
                        (
                            "latest_category",
                            row.text("category_latest")
                                .map_or(String::new(), |s| category(&s)),
                        ),
                        ("team", team),
                        ("worker", worker.clone()),
                    ],
                );
                if let Some(v) = date(out, "last_visit", false).unwrap_or(None) {
                    let alone = flag(out, "seen_alone");
                    out.tables.push_from(
                        VISITS,
                        &part,
                        line,
                        &[
                            ("visit_id", format!("{id}-V")),
                            ("child_id", child.clone()),
                            ("visit_date", v.to_string()),
                            ("visit_type", "cp".into()),
                            ("seen_alone", yn(alone)),
                            ("worker", worker),
                        ],
                    );
                }
                if let Some(r) = date(out, "last_review", false).unwrap_or(None) {
                    out.tables.push_from(
                        CONFERENCES,
                        &part,
                        line,
                        &[
                            ("conference_id", format!("{id}-RCPC")),
                            ("child_id", child.clone()),
                            ("conference_type", "review".into()),
                            ("date", r.to_string()),
                            ("plan_id", id),
                        ],
                    );
                }
            }
            Err(()) => loaded = false,
        },
        _ => {}
    }
    // The child, once, from the first row that names it.
    if loaded && out.children.insert(child.clone()) {
        let dob = date(out, "dob", false).unwrap_or(None);
        let disability = flag(out, "disability");
        out.tables.push_from(
            CHILDREN,
            &part,
            line,
            &[
                ("child_id", child),
                ("date_of_birth", show(dob)),
                ("sex", row.coded("gender")),
                ("ethnicity", row.coded("ethnicity")),
                ("disability", yn(disability)),
            ],
        );
    }
    loaded
}

fn show(d: Option<NaiveDate>) -> String {
    d.map_or(String::new(), |d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_ignoring_case_punctuation_curly_quotes_and_doubled_brackets() {
        assert_eq!(
            normalise(
                "Was the child assessed as requiring LA children\u{2019}s social care support?"
            ),
            "was the child assessed as requiring la children s social care support"
        );
        assert_eq!(
            normalise("Unaccompanied Asylum Seeking Child (UASC) within the Last 12 Months (Y/N))"),
            normalise("unaccompanied asylum seeking child (UASC) within the last 12 months (Y/N)")
        );
        assert_eq!(normalise("  Age of Child (Years) "), "age of child years");
        assert_eq!(normalise("Referral NFA?"), "referral nfa");
    }

    #[test]
    fn sheets_are_found_by_list_number() {
        for (name, n) in [
            ("List 3", Some(3)),
            ("List_10", Some(10)),
            ("list8", Some(8)),
            ("List 3 - Referrals", Some(3)),
            ("Front_Sheet", None),
            ("Listings", None),
            ("List 3a", None),
        ] {
            assert_eq!(list_number(name), n, "{name}");
        }
    }

    #[test]
    fn letter_prefixes_go_and_codes_stay() {
        assert_eq!(strip_letter("b) Female"), "Female");
        assert_eq!(strip_letter("q) 6: Police"), "6: Police");
        assert_eq!(strip_letter("1A: Individual"), "1A: Individual");
        assert_eq!(strip_letter("Physical abuse"), "Physical abuse");
        assert_eq!(category("c) Emotional abuse"), "emotional");
        // Excel's serial 44197 is 1 January 2021 (1900 date system).
        assert_eq!(serial_date(44197.0), NaiveDate::from_ymd_opt(2021, 1, 1));
    }
}
