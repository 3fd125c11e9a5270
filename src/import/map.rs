//! Any other export, through a column map: a TOML file that says, per native table, which
//! file of the council's export holds it, which of its columns is each native column, what
//! their codes mean in ours, and how their dates are written.
//!
//! ```toml
//! [referrals]
//! file = "Referrals Export.csv"
//! date_format = "DD-MM-YYYY"
//!
//! [referrals.columns]
//! referral_id = "Ref No"
//! child_id = "Person ID"
//! received_at = "Date Received"
//!
//! [referrals.codes.outcome]
//! "No Further Action" = "nfa"
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::{ImportReport, Tables};
use crate::report::{Issue, Severity};
use crate::schema::{self, normalise_header, Kind, TableSpec};

pub const FORMAT: &str = "an export read through a column map";

/// The most cells read from one file of an export (about 5 GB of memory held as text).
const MAX_CELLS: u64 = 200_000_000;

/// One native table's entry in a map.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableMap {
    /// The export's file that holds the table.
    pub file: String,
    /// How the export writes dates (`DD-MM-YYYY`, `MM/DD/YYYY`, `YYYYMMDD`, `DD MMM YYYY`,
    /// optionally followed by ` HH:MM` or ` HH:MM:SS`); default: the native forms.
    pub date_format: Option<String>,
    /// Native column -> the export's header.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Native column -> (the export's value -> the native code).
    #[serde(default)]
    pub codes: BTreeMap<String, BTreeMap<String, String>>,
}

/// A whole map: native table -> its entry.
#[derive(Debug, Clone, Default)]
pub struct ColumnMap {
    pub tables: BTreeMap<String, TableMap>,
    /// chrono formats, per table, made from `date_format`.
    formats: BTreeMap<String, DateFormat>,
}

#[derive(Debug, Clone)]
struct DateFormat {
    date: String,
    time: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error("cannot read the column map {path}: {message}")]
    Read { path: String, message: String },
    #[error("the column map {path}: {message}")]
    Invalid { path: String, message: String },
}

impl ColumnMap {
    pub fn from_file(path: &Path) -> Result<ColumnMap, MapError> {
        let shown = path.display().to_string();
        let text = crate::fsutil::read_definition(path).map_err(|e| MapError::Read {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        ColumnMap::from_toml(&text).map_err(|message| MapError::Invalid {
            path: shown,
            message,
        })
    }

    pub fn from_toml(text: &str) -> Result<ColumnMap, String> {
        let tables: BTreeMap<String, TableMap> = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut formats = BTreeMap::new();
        for (name, t) in &tables {
            let spec = schema::table(name).ok_or_else(|| {
                format!(
                    "[{name}] is not a native table: the tables are {}",
                    schema::TABLES
                        .iter()
                        .map(|t| t.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            for column in t.columns.keys().chain(t.codes.keys()) {
                if spec.column_index(column).is_none() {
                    return Err(format!(
                        "[{name}] has no column {column}: its columns are {}",
                        spec.columns
                            .iter()
                            .map(|c| c.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            if let Some(f) = &t.date_format {
                formats.insert(
                    name.clone(),
                    date_format(f).map_err(|e| format!("[{name}] date_format: {e}"))?,
                );
            }
        }
        Ok(ColumnMap { tables, formats })
    }
}

/// `DD-MM-YYYY HH:MM` -> chrono's `%d-%m-%Y` and `%H:%M`.
fn date_format(f: &str) -> Result<DateFormat, String> {
    let (date, time) = match f.trim().split_once(' ') {
        Some((d, t)) if t.starts_with("HH") => (d, Some(t)),
        _ => (f.trim(), None),
    };
    let mut out = String::new();
    let mut rest = date;
    while !rest.is_empty() {
        let (token, fmt) = [("YYYY", "%Y"), ("MMM", "%b"), ("MM", "%m"), ("DD", "%d")]
            .into_iter()
            .find(|(t, _)| rest.starts_with(t))
            .unwrap_or(("", ""));
        if token.is_empty() {
            let c = rest.chars().next().expect("not empty");
            if !matches!(c, '-' | '/' | '.' | ' ') {
                return Err(format!(
                    "'{f}' is not a date format: write it with DD, MM (or MMM for Apr), YYYY and \
                     - / . or spaces, as DD-MM-YYYY or YYYYMMDD"
                ));
            }
            out.push(c);
            rest = &rest[c.len_utf8()..];
        } else {
            out.push_str(fmt);
            rest = &rest[token.len()..];
        }
    }
    if !(out.contains("%Y") && (out.contains("%m") || out.contains("%b")) && out.contains("%d")) {
        return Err(format!(
            "'{f}' needs a day (DD), a month (MM or MMM) and a year (YYYY)"
        ));
    }
    let time = match time {
        None => None,
        Some("HH:MM") => Some("%H:%M".to_string()),
        Some("HH:MM:SS") => Some("%H:%M:%S".to_string()),
        Some(t) => {
            return Err(format!(
                "'{t}' is not a time format: write HH:MM or HH:MM:SS"
            ))
        }
    };
    Ok(DateFormat { date: out, time })
}

/// A date or datetime as the export writes it -> the native form; `None` when it is not in
/// the map's format (the value is then passed on for the checks to report).
fn reformat(f: &DateFormat, raw: &str) -> Option<String> {
    use chrono::{NaiveDate, NaiveDateTime};
    let v = raw.trim();
    if let Some(t) = &f.time {
        let full = format!("{} {t}", f.date);
        if let Ok(dt) = NaiveDateTime::parse_from_str(v, &full) {
            return Some(dt.format("%Y-%m-%d %H:%M:%S").to_string());
        }
    }
    NaiveDate::parse_from_str(v, &f.date)
        .ok()
        .map(|d| d.to_string())
}

/// Reads an export through a map into the native tables.
pub fn import(dir: &Path, map: &ColumnMap) -> (Tables, ImportReport) {
    let mut tables = Tables::default();
    let mut report = ImportReport {
        source: dir.display().to_string(),
        format: FORMAT.into(),
        ..Default::default()
    };
    for spec in schema::TABLES.iter() {
        let Some(t) = map.tables.get(spec.name) else {
            continue;
        };
        read_table(
            dir,
            spec,
            t,
            map.formats.get(spec.name),
            &mut tables,
            &mut report,
        );
    }
    (tables, report)
}

/// The native tables a map gives.
pub fn tables(map: &ColumnMap) -> Vec<&'static TableSpec> {
    schema::TABLES
        .iter()
        .filter(|t| map.tables.contains_key(t.name))
        .collect()
}

fn issue(
    table: &str,
    file: &str,
    column: Option<&str>,
    rule: &str,
    severity: Severity,
    message: String,
) -> Issue {
    Issue {
        table: table.into(),
        file: file.into(),
        line: None,
        column: column.map(str::to_string),
        rule: rule.into(),
        severity,
        message,
    }
}

/// The export's file a map entry names, found ignoring case.
fn find_file(dir: &Path, name: &str) -> Option<std::path::PathBuf> {
    let exact = dir.join(name);
    if exact.is_file() {
        return Some(exact);
    }
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().eq_ignore_ascii_case(name))
        })
}

/// For each native column, the export's column that holds it, as the map (or, where the map
/// is silent, the header's own name) says.
fn layout(
    spec: &TableSpec,
    t: &TableMap,
    header: &[String],
    file: &str,
    report: &mut ImportReport,
) -> Option<Vec<Option<usize>>> {
    let find = |name: &str| {
        header
            .iter()
            .position(|h| normalise_header(h) == normalise_header(name))
    };
    let mut at = Vec::new();
    let mut said = Vec::new();
    let mut fatal = false;
    for c in spec.columns {
        let (pos, how) = match t.columns.get(c.name) {
            Some(theirs) => (find(theirs), format!("{} <- '{theirs}'", c.name)),
            None => (
                find(c.name),
                format!("{} <- '{}' (its own name)", c.name, c.name),
            ),
        };
        match (pos, t.columns.get(c.name)) {
            (Some(_), _) => said.push(how),
            (None, Some(theirs)) => {
                fatal |= c.required;
                let sev = if c.required {
                    Severity::Fatal
                } else {
                    Severity::Warning
                };
                report.issues.push(issue(
                    spec.name,
                    file,
                    Some(c.name),
                    "map_column_missing",
                    sev,
                    format!(
                        "the map puts {}.{} in column '{theirs}', and {file} has no such column: \
                     correct `{} = \"...\"` under [{}.columns] (the file's columns are {})",
                        spec.name,
                        c.name,
                        c.name,
                        spec.name,
                        header.join(", ")
                    ),
                ));
            }
            (None, None) if c.required => {
                fatal = true;
                report.issues.push(issue(
                    spec.name,
                    file,
                    Some(c.name),
                    "map_column_missing",
                    Severity::Fatal,
                    format!(
                    "{}.{} is required and the map does not say which column of {file} holds it: \
                     add `{} = \"<its header>\"` under [{}.columns]",
                    spec.name, c.name, c.name, spec.name
                ),
                ));
            }
            (None, None) => {}
        }
        at.push(pos);
    }
    report.issues.push(issue(
        spec.name,
        file,
        None,
        "mapped",
        Severity::Info,
        format!("{}.csv is read from {file}: {}", spec.name, said.join(", ")),
    ));
    for (i, h) in header.iter().enumerate() {
        if !at.contains(&Some(i)) {
            report
                .ignored
                .insert(format!("{file}: {h} (not mapped)"), 1);
        }
    }
    (!fatal).then_some(at)
}

fn read_table(
    dir: &Path,
    spec: &'static TableSpec,
    t: &TableMap,
    format: Option<&DateFormat>,
    tables: &mut Tables,
    report: &mut ImportReport,
) {
    let Some(path) = find_file(dir, &t.file) else {
        report.issues.push(issue(
            spec.name,
            &t.file,
            None,
            "map_file_missing",
            Severity::Fatal,
            format!(
                "the map reads {} from {}, and {} has no such file: correct `file` under [{}]",
                spec.name,
                t.file,
                dir.display(),
                spec.name
            ),
        ));
        return;
    };
    let file = path
        .file_name()
        .map_or(t.file.clone(), |n| n.to_string_lossy().into_owned());
    let rows = match read_rows(&path) {
        Ok(r) => r,
        Err(message) => {
            report.issues.push(issue(
                spec.name,
                &file,
                None,
                "unreadable",
                Severity::Fatal,
                message,
            ));
            return;
        }
    };
    let Some((header, body)) = rows.split_first() else {
        report.issues.push(issue(
            spec.name,
            &file,
            None,
            "unreadable",
            Severity::Fatal,
            "the file has no header row".into(),
        ));
        return;
    };
    let Some(at) = layout(spec, t, &header.1, &file, report) else {
        return;
    };
    let mut unmapped: BTreeMap<(&str, String), u64> = BTreeMap::new();
    let (mut loaded, mut bad) = (0u64, 0u64);
    for (line, cells) in body {
        if cells.len() != header.1.len() {
            bad += 1;
            let mut i = issue(
                spec.name,
                &file,
                None,
                "bad_row",
                Severity::Error,
                format!(
                    "the row has {} fields, the header {}: row not read",
                    cells.len(),
                    header.1.len()
                ),
            );
            i.line = Some(*line);
            report.issues.push(i);
            continue;
        }
        let values: Vec<(&str, String)> = spec
            .columns
            .iter()
            .zip(&at)
            .filter_map(|(c, pos)| {
                let raw = cells[(*pos)?].trim();
                Some((
                    c.name,
                    translate(c.name, c.kind, raw, t, format, &mut unmapped),
                ))
            })
            .collect();
        tables.push_from(spec.name, &file, *line, &values);
        loaded += 1;
    }
    for ((column, value), n) in unmapped {
        report.issues.push(issue(
            spec.name,
            &file,
            Some(column),
            "code_not_mapped",
            Severity::Warning,
            format!(
            "'{value}' ({n} rows) is not under [{}.codes.{column}] and is not a native code: kept \
             as given, for the checks to report",
            spec.name
        ),
        ));
    }
    report.blocks.insert(
        file.clone(),
        super::BlockCount {
            read: loaded + bad,
            loaded,
            rejected: bad,
        },
    );
    report.block_order.push(file);
}

/// A value of the export -> the native value: codes through the map, dates from its format.
fn translate<'a>(
    column: &'a str,
    kind: Kind,
    raw: &str,
    t: &TableMap,
    format: Option<&DateFormat>,
    unmapped: &mut BTreeMap<(&'a str, String), u64>,
) -> String {
    if raw.is_empty() {
        return String::new();
    }
    if let Some(codes) = t.codes.get(column) {
        if let Some(ours) = codes.get(raw).or_else(|| {
            codes
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(raw))
                .map(|(_, v)| v)
        }) {
            return ours.clone();
        }
        let native = matches!(kind, Kind::Code(list) if schema::match_code(list, raw).is_some());
        if !native {
            *unmapped.entry((column, raw.to_string())).or_default() += 1;
        }
        return raw.to_string();
    }
    match (kind, format) {
        (Kind::Date | Kind::DateTime, Some(f)) => {
            reformat(f, raw).unwrap_or_else(|| raw.to_string())
        }
        _ => raw.to_string(),
    }
}

/// The file's records with their lines.
fn read_rows(path: &Path) -> Result<Vec<(u64, Vec<String>)>, String> {
    let text = super::native::read_text(path)?;
    let mut reader = super::native::records_of(&text);
    let mut out = Vec::new();
    let mut cells = 0u64;
    for record in reader.records() {
        let r = record.map_err(|e| format!("the file cannot be read as CSV: {e}"))?;
        cells += r.len() as u64;
        if cells > MAX_CELLS {
            return Err(format!(
                "the file holds more than {MAX_CELLS} cells: export the table in parts (by year)"
            ));
        }
        let line = r.position().map_or(0, |p| p.line());
        out.push((line, r.iter().map(str::to_string).collect()));
    }
    Ok(out)
}

/// Other words exports use for a native column, for `map init`'s guesses.
const SYNONYMS: &[(&str, &[&str])] = &[
    (
        "child_id",
        &[
            "person id",
            "child id",
            "client id",
            "person ref",
            "child ref",
            "la child id",
        ],
    ),
    (
        "worker",
        &[
            "worker id",
            "allocated worker",
            "social worker",
            "worker name",
        ],
    ),
    ("team", &["team name", "allocated team", "team id"]),
    (
        "received_at",
        &[
            "referral date",
            "date received",
            "date of referral",
            "received",
        ],
    ),
    ("contact_date", &["date of contact", "contact date"]),
    ("start_date", &["start", "date started", "start date"]),
    ("end_date", &["end", "date ended", "end date", "closed"]),
    ("date_of_birth", &["dob", "birth date", "date of birth"]),
    ("held_date", &["meeting date", "date held", "strategy date"]),
    ("visit_date", &["date of visit", "visit date"]),
    (
        "authorised_date",
        &["authorisation date", "date authorised", "completed date"],
    ),
];

fn words(s: &str) -> Vec<String> {
    normalise_header(s)
        .split('_')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The native table a file holds, guessed from its name (`Referrals Export.csv`).
fn guess_table(file: &str) -> Option<&'static TableSpec> {
    let stem = words(file.trim_end_matches(".csv"));
    let hits: Vec<&'static TableSpec> = schema::TABLES
        .iter()
        .filter(|t| {
            let name: Vec<String> = t
                .name
                .split('_')
                .map(|w| w.trim_end_matches('s').to_string())
                .collect();
            name.iter()
                .all(|n| stem.iter().any(|w| w.trim_end_matches('s') == n))
        })
        .collect();
    match hits.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

/// The header that holds a native column: (its position, whether it is a guess).
fn guess_column(column: &str, header: &[String]) -> Option<(usize, bool)> {
    let norm: Vec<String> = header.iter().map(|h| normalise_header(h)).collect();
    if let Some(i) = norm.iter().position(|h| h == column) {
        return Some((i, false));
    }
    let synonyms = SYNONYMS
        .iter()
        .find(|(c, _)| *c == column)
        .map_or(&[][..], |(_, s)| *s);
    for s in synonyms {
        if let Some(i) = norm.iter().position(|h| *h == normalise_header(s)) {
            return Some((i, true));
        }
    }
    let want = words(column);
    norm.iter()
        .position(|h| want.iter().all(|w| h.split('_').any(|x| x == w)))
        .map(|i| (i, true))
}

/// A starting map for the export in `dir`: every file's table and every column guessed
/// where it can be, each guess marked for the analyst to confirm, what is left named.
pub fn init(dir: &Path) -> Result<String, String> {
    use std::fmt::Write as _;
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv")))
        .collect();
    files.sort();
    let mut out = format!(
        "# Column map for {} (written by `csc-audit map init`).\n# Every line marked \
         `# guess` is csc-audit's guess: check it. Use with `--data DIR --map THIS.toml`.\n",
        dir.display()
    );
    for path in files {
        let file = path
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        let header = read_rows(&path)?
            .into_iter()
            .next()
            .map(|(_, h)| h)
            .unwrap_or_default();
        let Some(spec) = guess_table(&file) else {
            let _ = writeln!(out, "\n# {file}: which table it holds could not be guessed; name it as\n# [<table>]\n# file = {file:?}");
            continue;
        };
        let _ = writeln!(
            out,
            "\n[{}]\nfile = {file:?}  # guess\n# date_format = \"DD/MM/YYYY\"\n\n[{}.columns]",
            spec.name, spec.name
        );
        let mut used = Vec::new();
        for c in spec.columns {
            match guess_column(c.name, &header) {
                Some((i, guess)) => {
                    used.push(i);
                    let mark = if guess { "  # guess" } else { "" };
                    let _ = writeln!(out, "{} = {:?}{mark}", c.name, header[i]);
                }
                None if c.required => {
                    let _ = writeln!(
                        out,
                        "# {} = \"?\"  # required: name the column that holds it",
                        c.name
                    );
                }
                None => {
                    let _ = writeln!(out, "# {} = \"?\"", c.name);
                }
            }
        }
        let left: Vec<&String> = header
            .iter()
            .enumerate()
            .filter(|(i, _)| !used.contains(i))
            .map(|(_, h)| h)
            .collect();
        if !left.is_empty() {
            let _ = writeln!(
                out,
                "# columns of {file} not mapped: {}",
                left.iter()
                    .map(|h| format!("{h:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(out)
}
