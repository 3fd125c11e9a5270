//! Native extract files read as rows of text (not checked: the loader checks them), for the
//! imports that combine them with other sources: beside SSD tables, or as one return of a
//! history.

use std::path::{Path, PathBuf};

use super::{BlockCount, ImportReport, Tables};
use crate::report::{Issue, Severity};
use crate::schema::{self, normalise_header};

/// A row of a native table: its line and its `(column, value)` pairs.
pub type Row = (u64, Vec<(&'static str, String)>);

/// The native extract files in `dir` (names matched ignoring case), by table.
pub fn files_in(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(&'static str, PathBuf)> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().to_lowercase();
            let t = schema::TABLES.iter().find(|t| t.file_name() == name)?;
            Some((t.name, p))
        })
        .collect();
    out.sort();
    out
}

/// A CSV file's text (decoded as the loader decodes it), within the input size limit.
pub(crate) fn read_text(path: &Path) -> Result<String, String> {
    let bytes = crate::fsutil::read_input(path, crate::fsutil::MAX_INPUT_BYTES)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    Ok(crate::ingest::decode(&bytes)?.0.into_owned())
}

/// A reader of CSV records, the header among them, rows of any width.
pub(crate) fn records_of(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
}

/// Reads one native table file: its rows, every row that cannot be read reported, its
/// columns csc-audit does not know listed, the count in `report.blocks` under `file`.
pub fn read_table(
    table: &'static str,
    path: &Path,
    file: &str,
    report: &mut ImportReport,
) -> Result<Vec<Row>, String> {
    let spec = schema::table(table).expect("a schema table");
    let text = read_text(path)?;
    let mut reader = records_of(&text);
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        _ => return Err("the file has no header row".into()),
    };
    let columns: Vec<Option<&'static str>> = header
        .iter()
        .map(|h| {
            let n = normalise_header(h);
            spec.columns.iter().find(|c| c.name == n).map(|c| c.name)
        })
        .collect();
    for (h, c) in header.iter().zip(&columns) {
        if c.is_none() {
            report
                .ignored
                .insert(format!("{file}.{h} (not a {table} column)"), 1);
        }
    }
    let (mut rows, mut bad) = (Vec::new(), 0u64);
    for record in records {
        let line = match &record {
            Ok(r) => r.position().map_or(0, |p| p.line()),
            Err(e) => e.position().map_or(0, |p| p.line()),
        };
        let problem = match &record {
            Ok(r) if r.len() == header.len() => None,
            Ok(r) => Some(format!(
                "the row has {} fields, the header {}: row not read",
                r.len(),
                header.len()
            )),
            Err(e) => Some(format!("the row cannot be read: {e}")),
        };
        match (record, problem) {
            (Ok(r), None) => rows.push((
                line,
                columns
                    .iter()
                    .zip(r.iter())
                    .filter_map(|(c, v)| Some(((*c)?, v.to_string())))
                    .collect(),
            )),
            (_, message) => {
                bad += 1;
                report.issues.push(Issue {
                    table: table.into(),
                    file: file.into(),
                    line: Some(line),
                    column: None,
                    rule: "bad_row".into(),
                    severity: Severity::Error,
                    message: message.unwrap_or_default(),
                });
            }
        }
    }
    let read = rows.len() as u64 + bad;
    report.blocks.insert(
        file.into(),
        BlockCount {
            read,
            loaded: read - bad,
            rejected: bad,
        },
    );
    report.block_order.push(file.into());
    Ok(rows)
}

/// Every native table file of a folder, as rows; `label` prefixes the file names in the
/// origins (`extracts-2024/referrals.csv`).
pub fn read_folder(dir: &Path, label: &str) -> (Tables, ImportReport) {
    let mut tables = Tables::default();
    let mut report = ImportReport {
        source: dir.display().to_string(),
        format: "native extract folder".into(),
        ..Default::default()
    };
    for (table, path) in files_in(dir) {
        let file = path
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        let part = if label.is_empty() {
            file.clone()
        } else {
            format!("{label}/{file}")
        };
        match read_table(table, &path, &part, &mut report) {
            Ok(rows) => {
                for (line, values) in rows {
                    tables.push_from(table, &part, line, &values);
                }
            }
            Err(message) => report.issues.push(Issue {
                table: table.into(),
                file: part,
                line: None,
                column: None,
                rule: "unreadable".into(),
                severity: Severity::Fatal,
                message,
            }),
        }
    }
    (tables, report)
}
