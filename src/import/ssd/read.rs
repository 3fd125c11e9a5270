//! Reading the SSD tables as exported to CSV: one file per table (`ssd_person.csv`), the
//! header the SSD's field names. Every physical row is kept with its line, or reported.

use std::collections::HashMap;
use std::path::Path;

use crate::report::{Issue, Severity};
use crate::schema::normalise_header;

/// The SSD tables csc-audit reads, in the order they are converted.
pub const TABLES: &[&str] = &[
    "ssd_department",
    "ssd_professionals",
    "ssd_person",
    "ssd_disability",
    "ssd_contacts",
    "ssd_cin_episodes",
    "ssd_cin_assessments",
    "ssd_s47_enquiry",
    "ssd_initial_cp_conference",
    "ssd_cp_plans",
    "ssd_involvements",
    "ssd_cp_reviews",
    "ssd_cp_visits",
    "ssd_cin_visits",
    "ssd_cla_visits",
];

/// Fields that identify a person directly: dropped on read, never written out.
pub const IDENTIFIERS: &[&str] = &[
    "pers_upn",
    "pers_forename",
    "pers_surname",
    "pers_single_unique_id",
    "pers_common_child_id",
    "pers_legacy_id",
    "prof_professional_name",
    "prof_social_worker_registration_no",
];

/// One SSD table as read from its CSV file.
#[derive(Debug, Default)]
pub struct SsdFile {
    pub table: &'static str,
    pub file: String,
    /// Normalised field name -> its column.
    columns: HashMap<String, usize>,
    pub header: Vec<String>,
    /// The columns a conversion asked for (the rest are reported as not used).
    used: std::cell::RefCell<std::collections::BTreeSet<usize>>,
    pub rows: Vec<SsdRow>,
    /// Rows that could not be read as rows (reported).
    pub bad_rows: u64,
}

/// A row's cells in one buffer (a cell each would cost 24 bytes more than its text).
#[derive(Debug)]
pub struct SsdRow {
    pub line: u64,
    text: String,
    ends: Vec<u32>,
}

/// The most cells read from one SSD file: about 2 GB of memory. A council's largest SSD
/// table (case notes as visits) is a few million rows of a few dozen fields.
pub const MAX_CELLS: u64 = 200_000_000;

/// A field of an SSD table, found by the first of its names present in the header.
#[derive(Debug, Clone, Copy)]
pub struct Field(Option<usize>);

impl SsdFile {
    /// The field named `names[0]` (or one of its aliases).
    pub fn field(&self, names: &[&str]) -> Field {
        let at = names.iter().find_map(|n| self.columns.get(*n).copied());
        if let Some(i) = at {
            self.used.borrow_mut().insert(i);
        }
        Field(at)
    }
    /// The header's fields no conversion asked for, with how many rows have a value.
    pub fn unused(&self) -> Vec<(&str, u64)> {
        let used = self.used.borrow();
        (0..self.header.len())
            .filter(|i| !used.contains(i))
            .map(|i| {
                let n = self.rows.iter().filter(|r| r.get(Field(Some(i))).is_some());
                (self.header[i].as_str(), n.count() as u64)
            })
            .collect()
    }
}

impl SsdRow {
    /// A cell's value: `None` when empty or the literal `NULL` (as SSMS writes it).
    pub fn get(&self, f: Field) -> Option<&str> {
        let i = f.0?;
        let end = *self.ends.get(i)? as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        let v = &self.text[start..end];
        (!v.is_empty() && !v.eq_ignore_ascii_case("null")).then_some(v)
    }
    pub fn text(&self, f: Field) -> String {
        self.get(f).map_or(String::new(), str::to_string)
    }
}

/// Reads every SSD table file present in `dir` (names matched ignoring case). Files named
/// `ssd_*.csv` that csc-audit does not use are listed in `unused`.
pub fn read_folder(
    dir: &Path,
    issues: &mut Vec<Issue>,
) -> std::io::Result<(Vec<SsdFile>, Vec<String>)> {
    let mut found: HashMap<String, std::path::PathBuf> = HashMap::new();
    let mut unused = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    names.sort();
    for path in names {
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().to_lowercase()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".csv").filter(|s| s.starts_with("ssd_")) else {
            continue;
        };
        match TABLES.iter().find(|t| **t == stem) {
            Some(t) if found.contains_key(*t) => issues.push(Issue {
                table: t.to_string(),
                file: path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into(),
                line: None,
                column: None,
                rule: "duplicate_file".into(),
                severity: Severity::Fatal,
                message: format!(
                    "a second file for {t} (names differing only in case): not read; keep one"
                ),
            }),
            Some(t) => {
                found.insert(t.to_string(), path);
            }
            None => unused.push(
                path.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into(),
            ),
        }
    }
    let mut files = Vec::new();
    for table in TABLES {
        if let Some(path) = found.get(*table) {
            files.push(read_file(table, path, issues));
        }
    }
    Ok((files, unused))
}

/// True when `dir` holds at least one SSD table file.
pub fn is_ssd_folder(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.filter_map(|e| e.ok()).any(|e| {
            let n = e.file_name().to_string_lossy().to_lowercase();
            n.strip_suffix(".csv").is_some_and(|s| TABLES.contains(&s))
        })
    })
}

fn row_of(line: u64, r: &csv::StringRecord) -> SsdRow {
    let mut text = String::with_capacity(r.as_slice().len());
    let mut ends = Vec::with_capacity(r.len());
    for c in r.iter() {
        text.push_str(&crate::values::tidy(c));
        ends.push(text.len() as u32);
    }
    SsdRow { line, text, ends }
}

fn read_file(table: &'static str, path: &Path, issues: &mut Vec<Issue>) -> SsdFile {
    let file = path
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned());
    let mut out = SsdFile {
        table,
        file: file.clone(),
        ..Default::default()
    };
    let fatal = |message: String| Issue {
        table: table.into(),
        file: file.clone(),
        line: None,
        column: None,
        rule: "unreadable".into(),
        severity: Severity::Fatal,
        message,
    };
    let text = match crate::import::native::read_text(path) {
        Ok(t) => t,
        Err(e) => {
            issues.push(fatal(e));
            return out;
        }
    };
    let mut reader = crate::import::native::records_of(&text);
    let mut records = reader.records();
    let Some(Ok(header)) = records.next() else {
        issues.push(fatal("the file has no header row".into()));
        return out;
    };
    if header.len() > crate::ingest::MAX_COLUMNS {
        issues.push(fatal(format!(
            "the header has {} fields; an SSD table has a few dozen: check the file",
            header.len()
        )));
        return out;
    }
    out.header = header.iter().map(normalise_header).collect();
    for (i, name) in out.header.iter().enumerate() {
        out.columns.entry(name.clone()).or_insert(i);
    }
    let width = header.len();
    let mut cells = 0u64;
    for record in records {
        let row_issue = |line: u64, message: String| Issue {
            table: table.into(),
            file: file.clone(),
            line: Some(line),
            column: None,
            rule: "bad_row".into(),
            severity: Severity::Error,
            message,
        };
        match record {
            Ok(r) => {
                let line = r.position().map_or(0, |p| p.line());
                if r.len() != width {
                    out.bad_rows += 1;
                    issues.push(row_issue(
                        line,
                        format!(
                            "the row has {} fields, the header {width}: row not read",
                            r.len()
                        ),
                    ));
                    continue;
                }
                cells += width as u64;
                if cells > MAX_CELLS || r.as_slice().len() > u32::MAX as usize / 2 {
                    issues.push(fatal(format!(
                        "the file holds more than {MAX_CELLS} cells; rows from line {line} on \
                         are not read: export the table in parts (by year)"
                    )));
                    out.bad_rows += 1;
                    break;
                }
                out.rows.push(row_of(line, &r));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                out.bad_rows += 1;
                issues.push(row_issue(line, format!("the row cannot be read: {e}")));
            }
        }
    }
    out
}
