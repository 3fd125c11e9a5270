//! The data-quality report: what was read, loaded and rejected from every table, and every
//! issue with its file, line, column, rule and severity.

use serde::Serialize;
use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Noted; nothing in the data changed.
    Info,
    /// The row loaded, but something was changed or dropped (a dangling link, a `10.0` ID).
    Warning,
    /// The row was rejected.
    Error,
    /// The file or table cannot be used at all.
    Fatal,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    pub table: String,
    pub file: String,
    /// 1-based line in the file where the row starts; `None` for file-level issues.
    pub line: Option<u64>,
    pub column: Option<String>,
    pub rule: String,
    pub severity: Severity,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TableStats {
    pub table: String,
    pub file: String,
    /// Whether the file was found.
    pub present: bool,
    /// Data rows read: every line after the header that is not blank starts a row or is
    /// inside one whose quoted value runs over lines (reported as `multiline_row` with its
    /// first and last line). So `rows_read = rows_loaded + rows_rejected` = the non-blank
    /// lines after the header, less the lines multi-line rows add.
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_rejected: u64,
    /// Rows of empty fields (`,,,` as Excel leaves); empty lines are not counted.
    pub blank_lines: u64,
    pub encoding: String,
    pub unknown_columns: Vec<String>,
}

/// Issues are summarised by severity (worst first), table (in the journey's order) and rule.
type SummaryKey<'a> = (Reverse<Severity>, Option<usize>, &'a str, &'a str);

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalendarNote {
    pub name: String,
    /// `built-in` or the file given with `--calendar`.
    pub source: String,
    pub first_year: i32,
    pub last_year: i32,
    /// Whether every event date of the data falls inside the calendar's years.
    pub covers_data: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub as_of: String,
    /// How the as-of date was chosen.
    pub as_of_source: String,
    /// First and last event dates of the loaded rows.
    pub first_event_date: Option<String>,
    pub last_event_date: Option<String>,
    /// The working-day calendar, once one is chosen.
    pub calendar: Option<CalendarNote>,
    pub data: String,
    pub tables: Vec<TableStats>,
    pub issues: Vec<Issue>,
}

impl Report {
    pub fn has_fatal(&self) -> bool {
        self.issues.iter().any(|i| i.severity == Severity::Fatal)
    }

    pub fn rows_rejected(&self) -> u64 {
        self.tables.iter().map(|t| t.rows_rejected).sum()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serialises")
    }

    /// A summary a person reads: one line per table, issues counted by rule, then the
    /// first `limit` issues in full.
    pub fn to_text(&self, limit: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Data quality report for {}", self.data);
        let _ = writeln!(out, "As-of date: {} ({})", self.as_of, self.as_of_source);
        if let (Some(first), Some(last)) = (&self.first_event_date, &self.last_event_date) {
            let _ = writeln!(out, "Events from {first} to {last}");
        }
        if let Some(c) = &self.calendar {
            let _ = write!(
                out,
                "Working days: {} ({}, {}-{})",
                c.name, c.source, c.first_year, c.last_year
            );
            if !c.covers_data {
                let _ = write!(out, ": WARNING, the data has dates outside these years; supply a calendar that covers them with --calendar");
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<22} {:>10} {:>10} {:>10}  notes",
            "table", "read", "loaded", "rejected"
        );
        for t in &self.tables {
            let mut notes = Vec::new();
            if !t.present {
                notes.push("file not supplied".to_string());
            }
            if t.present && t.encoding != "utf-8" {
                notes.push(format!("read as {}", t.encoding));
            }
            if !t.unknown_columns.is_empty() {
                notes.push(format!(
                    "extra columns kept: {}",
                    t.unknown_columns.join(", ")
                ));
            }
            let _ = writeln!(
                out,
                "{:<22} {:>10} {:>10} {:>10}  {}",
                t.table,
                t.rows_read,
                t.rows_loaded,
                t.rows_rejected,
                notes.join("; ")
            );
        }
        if self.issues.is_empty() {
            let _ = writeln!(out, "\nNo issues.");
            return out;
        }
        // Worst first; then the tables in the order of the journey.

        let mut counts: BTreeMap<SummaryKey, usize> = BTreeMap::new();
        for i in &self.issues {
            let key = (
                Reverse(i.severity),
                crate::schema::position(&i.table),
                i.table.as_str(),
                i.rule.as_str(),
            );
            *counts.entry(key).or_default() += 1;
        }
        let _ = writeln!(out, "\nIssues by rule:");
        for ((Reverse(sev), _, table, rule), n) in &counts {
            let _ = writeln!(
                out,
                "  {:<8} {:<22} {:<20} {n}",
                format!("{sev:?}").to_lowercase(),
                table,
                rule
            );
        }
        let _ = writeln!(out, "\nIssues:");
        for i in self.issues.iter().take(limit) {
            let place = match (&i.line, &i.column) {
                (Some(l), Some(c)) => format!("{}:{l} [{c}]", i.file),
                (Some(l), None) => format!("{}:{l}", i.file),
                (None, Some(c)) => format!("{} [{c}]", i.file),
                (None, None) => i.file.clone(),
            };
            let _ = writeln!(
                out,
                "  {:<7} {place}: {} ({})",
                format!("{:?}", i.severity).to_lowercase(),
                i.message,
                i.rule
            );
        }
        if self.issues.len() > limit {
            let _ = writeln!(
                out,
                "  ... and {} more: use --format json for the full list",
                self.issues.len() - limit
            );
        }
        out
    }
}
