//! Loading a folder of extracts: every row of every file is either loaded into a typed polars
//! frame or rejected with its file, line, column and reason (`rows_read = rows_loaded +
//! rows_rejected`, always). Load once; every later step reads the same frames.
//!
//! Two passes. The first reads each file, parses each cell and applies the checks that need
//! only the row itself. The as-of date is then known (given, or the latest event date). The
//! second walks the schema a level at a time (parents before the tables that link to them)
//! and applies the checks that need the as-of date or another table: dates after the as-of
//! date, events before the event they follow, and links to rows that do not exist.

use crate::report::{CalendarNote, Issue, Report, Severity, TableStats};
use crate::schema::{self, ColumnSpec, DateRole, Earlier, Kind, TableSpec, TABLES};
use crate::values::{self, CellError, Stamp};
use chrono::{Datelike, NaiveDate};
use polars::prelude::{
    BooleanChunked, Column, DataFrame, Float64Chunked, Int32Chunked, Int64Chunked, IntoSeries,
    NamedFrom, NewChunkedArray, PlHashMap, PlSmallStr, Series, StringChunked, TimeUnit,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::par::par_map;

/// Name of the column, added to every frame, that holds the row's line in its file.
pub const LINE_COLUMN: &str = "_line";

/// Event dates before this are rejected as typing errors.
pub fn earliest_plausible_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1990, 1, 1).expect("valid date")
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("data folder {0} does not exist or is not a folder: pass --data with the folder that holds the extract CSV files")]
    NoFolder(String),
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The extract date; `None` means the latest event date not after `today`.
    pub as_of: Option<NaiveDate>,
    pub today: NaiveDate,
}

/// Every table, loaded once.
pub struct Extracts {
    pub dir: PathBuf,
    pub as_of: NaiveDate,
    /// The first and last event dates of the loaded rows.
    pub event_dates: Option<(NaiveDate, NaiveDate)>,
    /// Frames of the tables whose file was present and usable.
    pub frames: BTreeMap<&'static str, DataFrame>,
    pub report: Report,
}

impl Extracts {
    /// Records in the report which working-day calendar the measures will use, and whether
    /// it covers every event date of the data (from its first event to the as-of date).
    pub fn note_calendar(&mut self, cal: &crate::calendar::Calendar, source: &str) {
        let covers = self.event_dates.is_none_or(|(first, _)| {
            first.year() >= cal.first_year() && self.as_of.year() <= cal.last_year()
        });
        self.report.calendar = Some(CalendarNote {
            name: cal.name.clone(),
            source: source.to_string(),
            first_year: cal.first_year(),
            last_year: cal.last_year(),
            covers_data: covers,
        });
    }

    pub fn frame(&self, table: &str) -> Option<&DataFrame> {
        self.frames.get(table)
    }
}

/// One column's parsed values, row-aligned with the file's data rows.
#[derive(Debug)]
enum Values {
    Text(TextCol),
    Date(Vec<Option<NaiveDate>>),
    Stamp(Vec<Option<Stamp>>),
    Flag(Vec<Option<bool>>),
    Number(Vec<Option<f64>>),
}

impl Values {
    fn for_kind(kind: Kind) -> Values {
        match kind {
            Kind::Id | Kind::Text | Kind::Code(_) => Values::Text(TextCol::default()),
            Kind::Date => Values::Date(Vec::new()),
            Kind::DateTime => Values::Stamp(Vec::new()),
            Kind::Flag => Values::Flag(Vec::new()),
            Kind::Number => Values::Number(Vec::new()),
        }
    }

    /// Room for `rows` values (and `bytes` of text), so columns grow without copying.
    fn reserve(&mut self, rows: usize, bytes: usize) {
        match self {
            Values::Text(v) => {
                v.buf.reserve(bytes);
                v.ends.reserve(rows);
                v.present.reserve(rows);
            }
            Values::Date(v) => v.reserve(rows),
            Values::Stamp(v) => v.reserve(rows),
            Values::Flag(v) => v.reserve(rows),
            Values::Number(v) => v.reserve(rows),
        }
    }

    fn push_none(&mut self) {
        match self {
            Values::Text(v) => v.push(None),
            Values::Date(v) => v.push(None),
            Values::Stamp(v) => v.push(None),
            Values::Flag(v) => v.push(None),
            Values::Number(v) => v.push(None),
        }
    }

    fn is_none(&self, row: usize) -> bool {
        match self {
            Values::Text(v) => v.get(row).is_none(),
            Values::Date(v) => v[row].is_none(),
            Values::Stamp(v) => v[row].is_none(),
            Values::Flag(v) => v[row].is_none(),
            Values::Number(v) => v[row].is_none(),
        }
    }

    fn text(&self, row: usize) -> Option<&str> {
        match self {
            Values::Text(v) => v.get(row),
            _ => None,
        }
    }

    /// A date or datetime as a stamp (a date has no time).
    fn stamp(&self, row: usize) -> Option<Stamp> {
        match self {
            Values::Date(v) => v[row].map(|d| Stamp {
                at: d.and_time(chrono::NaiveTime::MIN),
                has_time: false,
            }),
            Values::Stamp(v) => v[row],
            _ => None,
        }
    }

    /// The kept rows as a polars column, built straight from the parsed values.
    fn to_series(&self, name: &str, keep: &[bool]) -> polars::prelude::PolarsResult<Series> {
        fn kept<'a, T: Copy + 'a>(v: &'a [T], keep: &'a [bool]) -> impl Iterator<Item = T> + 'a {
            v.iter().zip(keep).filter(|(_, k)| **k).map(|(x, _)| *x)
        }
        let name: PlSmallStr = name.into();
        Ok(match self {
            Values::Text(v) => v.kept(name, keep).into_series(),
            Values::Flag(v) => BooleanChunked::from_iter_options(name, kept(v, keep)).into_series(),
            Values::Number(v) => {
                Float64Chunked::from_iter_options(name, kept(v, keep)).into_series()
            }
            Values::Date(v) => Int32Chunked::from_iter_options(
                name,
                kept(v, keep).map(|d| d.map(values::epoch_days)),
            )
            .into_date()
            .into_series(),
            Values::Stamp(v) => Int64Chunked::from_iter_options(
                name,
                kept(v, keep).map(|s| s.map(|s| s.at.and_utc().timestamp_millis())),
            )
            .into_datetime(TimeUnit::Milliseconds, None)
            .into_series(),
        })
    }
}

/// Text cells of one column in one buffer: a national extract has hundreds of millions of
/// cells, and a `String` each would not fit in memory.
#[derive(Debug, Default)]
struct TextCol {
    buf: String,
    ends: Vec<usize>,
    present: Vec<bool>,
}

impl TextCol {
    fn push(&mut self, value: Option<&str>) {
        if let Some(v) = value {
            self.buf.push_str(v);
        }
        self.ends.push(self.buf.len());
        self.present.push(value.is_some());
    }
    fn len(&self) -> usize {
        self.ends.len()
    }
    fn get(&self, i: usize) -> Option<&str> {
        if !self.present[i] {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.buf[start..self.ends[i]])
    }
    fn set_none(&mut self, i: usize) {
        self.present[i] = false;
    }
    /// The kept cells as a polars string column.
    fn kept(&self, name: PlSmallStr, keep: &[bool]) -> StringChunked {
        StringChunked::from_iter_options(
            name,
            (0..self.len()).filter(|i| keep[*i]).map(|i| self.get(i)),
        )
    }
}

/// A table after the first pass.
struct Parsed {
    spec: &'static TableSpec,
    file: String,
    stats: TableStats,
    /// One per schema column, in schema order.
    columns: Vec<Values>,
    /// Columns the schema does not know, kept as text.
    extra: Vec<(String, TextCol)>,
    lines: Vec<u64>,
    rejected: Vec<bool>,
    /// Loaded keys -> row, filled in the second pass for the tables after it to link to.
    index: PlHashMap<Box<str>, usize>,
    /// Keys that appear only on rejected rows -> the first such line.
    rejected_keys: PlHashMap<Box<str>, u64>,
}

struct Issues<'a> {
    table: &'a str,
    file: &'a str,
    out: &'a mut Vec<Issue>,
}

impl Issues<'_> {
    fn push(
        &mut self,
        line: Option<u64>,
        column: Option<&str>,
        rule: &str,
        severity: Severity,
        message: String,
    ) {
        self.out.push(Issue {
            table: self.table.to_string(),
            file: self.file.to_string(),
            line,
            column: column.map(str::to_string),
            rule: rule.to_string(),
            severity,
            message,
        });
    }
}

pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Extracts, LoadError> {
    if !dir.is_dir() {
        return Err(LoadError::NoFolder(dir.display().to_string()));
    }
    load_files(Files::Dir(dir), dir, opts)
}

/// Loads extract files held in memory (an import's tables); `label` names their source in
/// the report.
pub fn load_memory(
    files: &BTreeMap<String, Vec<u8>>,
    label: &Path,
    opts: &LoadOptions,
) -> Extracts {
    load_files(Files::Memory(files), label, opts).expect("memory files need no folder")
}

fn load_files(files: Files, dir: &Path, opts: &LoadOptions) -> Result<Extracts, LoadError> {
    let (mut parsed, mut issues) = read_all(files, dir);

    let (as_of, as_of_source) = match opts.as_of {
        Some(d) => (d, "given with --as-of".to_string()),
        None => match event_date_range(&parsed, opts.today) {
            Some((_, d)) => (d, "the latest event date in the extracts".to_string()),
            None => (
                opts.today,
                "today: the extracts hold no event dates".to_string(),
            ),
        },
    };

    // The second pass, a level of the schema at a time: a table's parents are finished
    // before it starts, and the tables of one level (contacts, referrals, visits, ... all
    // link only to children and workers) are checked side by side.
    let mut finished: Vec<Option<Parsed>> = TABLES.iter().map(|_| None).collect();
    for level in 0..=TABLES.len() {
        let batch: Vec<(usize, Parsed)> = (0..TABLES.len())
            .filter(|i| schema::link_depth(&TABLES[*i]) == level)
            .filter_map(|i| parsed[i].take().map(|t| (i, t)))
            .collect();
        let checked = par_map(
            batch,
            |(_, t)| t.lines.len() as u64,
            |(i, mut t)| {
                let mut table_issues = Vec::new();
                check_against_others(&mut t, &finished, as_of, &mut table_issues);
                (i, t, table_issues)
            },
        );
        for (i, t, mut table_issues) in checked {
            finished[i] = Some(t);
            issues.append(&mut table_issues);
        }
    }
    let parsed = finished;

    let event_dates = event_date_range(&parsed, as_of);
    // Frames are built in parallel, and each table's parsed copy is freed once its frame is.
    let built = par_map(
        parsed,
        |t| t.as_ref().map_or(0, |t| t.lines.len() as u64),
        |t| {
            t.map(|mut t| {
                t.stats.rows_rejected = t.rejected.iter().filter(|r| **r).count() as u64;
                t.stats.rows_loaded = t.stats.rows_read - t.stats.rows_rejected;
                let frame = build_frame(&t).map_err(|e| e.to_string());
                (t.stats, t.file, frame)
            })
        },
    );
    let mut frames = BTreeMap::new();
    let mut stats = Vec::new();
    for (spec, table) in TABLES.iter().zip(built) {
        match table {
            Some((table_stats, file, frame)) => {
                match frame {
                    Ok(df) => {
                        frames.insert(spec.name, df);
                    }
                    Err(e) => issues.push(Issue {
                        table: spec.name.into(),
                        file,
                        line: None,
                        column: None,
                        rule: "internal".into(),
                        severity: Severity::Fatal,
                        message: format!("could not build the table: {e}"),
                    }),
                }
                stats.push(table_stats);
            }
            None => stats.push(TableStats {
                table: spec.name.into(),
                file: spec.file_name(),
                present: files.exists(&spec.file_name()),
                encoding: String::new(),
                ..Default::default()
            }),
        }
    }
    issues.sort_by_key(|i| {
        (
            schema::position(&i.table).unwrap_or(usize::MAX),
            i.line.unwrap_or(0),
        )
    });

    Ok(Extracts {
        dir: dir.to_path_buf(),
        as_of,
        event_dates,
        frames,
        report: Report {
            as_of: as_of.to_string(),
            as_of_source,
            first_event_date: event_dates.map(|(d, _)| d.to_string()),
            last_event_date: event_dates.map(|(_, d)| d.to_string()),
            calendar: None,
            data: dir.display().to_string(),
            tables: stats,
            issues,
        },
    })
}

/// Where the extract files come from: a folder, or files made in memory by an import.
#[derive(Clone, Copy)]
pub enum Files<'a> {
    Dir(&'a Path),
    Memory(&'a BTreeMap<String, Vec<u8>>),
}

impl Files<'_> {
    fn size(&self, name: &str) -> u64 {
        match self {
            Files::Dir(d) => std::fs::metadata(d.join(name)).map_or(0, |m| m.len()),
            Files::Memory(m) => m.get(name).map_or(0, |b| b.len() as u64),
        }
    }
    fn exists(&self, name: &str) -> bool {
        match self {
            Files::Dir(d) => d.join(name).is_file(),
            Files::Memory(m) => m.contains_key(name),
        }
    }
    fn read(&self, name: &str) -> std::io::Result<std::borrow::Cow<'_, [u8]>> {
        match self {
            Files::Dir(d) => std::fs::read(d.join(name)).map(std::borrow::Cow::Owned),
            Files::Memory(m) => Ok(std::borrow::Cow::Borrowed(
                m.get(name).map_or(&[][..], Vec::as_slice),
            )),
        }
    }
}

/// The first pass over every table (tables are independent until the second pass).
fn read_all(files: Files, label: &Path) -> (Vec<Option<Parsed>>, Vec<Issue>) {
    let size = |spec: &&'static TableSpec| files.size(&spec.file_name());
    let results = par_map(TABLES.iter().collect(), size, |spec| {
        let mut issues = Vec::new();
        (read_table(files, label, spec, &mut issues), issues)
    });
    let mut parsed = Vec::with_capacity(TABLES.len());
    let mut issues = Vec::new();
    for (table, mut table_issues) in results {
        parsed.push(table);
        issues.append(&mut table_issues);
    }
    (parsed, issues)
}

/// The first and last event dates of the rows not rejected, ignoring dates after `up_to`.
fn event_date_range(parsed: &[Option<Parsed>], up_to: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let mut range: Option<(NaiveDate, NaiveDate)> = None;
    for t in parsed.iter().flatten() {
        for (spec, values) in t.spec.columns.iter().zip(&t.columns) {
            if spec.date_role != DateRole::Event {
                continue;
            }
            for row in (0..t.rejected.len()).filter(|r| !t.rejected[*r]) {
                if let Some(d) = values.stamp(row).map(|s| s.date()).filter(|d| *d <= up_to) {
                    range = Some(match range {
                        None => (d, d),
                        Some((lo, hi)) => (lo.min(d), hi.max(d)),
                    });
                }
            }
        }
    }
    range
}

/// Reads bytes as UTF-8 (a BOM is dropped) or, failing that, Windows-1252 as Excel saves it.
pub(crate) fn decode(bytes: &[u8]) -> Result<(std::borrow::Cow<'_, str>, &'static str), String> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err("the file is UTF-16 (Excel's \"Unicode text\"): save it as \"CSV UTF-8\" or \"CSV (Comma delimited)\"".into());
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(body) {
        Ok(s) => Ok((std::borrow::Cow::Borrowed(s), "utf-8")),
        Err(_) => {
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(body);
            Ok((text, "windows-1252"))
        }
    }
}

fn read_table(
    files: Files,
    dir: &Path,
    spec: &'static TableSpec,
    out: &mut Vec<Issue>,
) -> Option<Parsed> {
    let file = spec.file_name();
    let path = dir.join(&file);
    let mut issues = Issues {
        table: spec.name,
        file: &file,
        out,
    };
    if !files.exists(&file) {
        if spec.required {
            issues.push(
                None,
                None,
                "missing_file",
                Severity::Fatal,
                format!("{file} is required and was not found in {}", dir.display()),
            );
        } else {
            issues.push(
                None,
                None,
                "missing_file",
                Severity::Info,
                format!(
                    "{file} not supplied: measures that need {} are not available",
                    spec.name
                ),
            );
        }
        return None;
    }
    let bytes = match files.read(&file) {
        Ok(b) => b,
        Err(e) => {
            issues.push(
                None,
                None,
                "unreadable_file",
                Severity::Fatal,
                format!("cannot read {}: {e}", path.display()),
            );
            return None;
        }
    };
    let (text, encoding) = match decode(&bytes) {
        Ok(x) => x,
        Err(why) => {
            issues.push(None, None, "encoding", Severity::Fatal, why);
            return None;
        }
    };
    if encoding != "utf-8" {
        issues.push(None, None, "encoding", Severity::Info, "not UTF-8: read as Windows-1252 (Excel's \"CSV (Comma delimited)\"); check accented names read correctly, or save as \"CSV UTF-8\"".into());
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut header = csv::StringRecord::new();
    match reader.read_record(&mut header) {
        Ok(true) => {}
        Err(e) => {
            issues.push(
                Some(1),
                None,
                "unreadable_file",
                Severity::Fatal,
                format!("cannot read the header row: {e}"),
            );
            return None;
        }
        Ok(false) => {
            issues.push(
                None,
                None,
                "missing_header",
                Severity::Fatal,
                format!("{file} is empty: it needs a header row naming its columns"),
            );
            return None;
        }
    }

    // Map each header cell to a schema column, or keep it as an extra column.
    let mut source: Vec<Option<usize>> = vec![None; spec.columns.len()];
    let mut extra_at: Vec<(usize, String)> = Vec::new();
    let mut fatal = false;
    for (pos, raw) in header.iter().enumerate() {
        let name = schema::normalise_header(raw);
        match spec.column_index(&name) {
            Some(c) if source[c].is_some() => {
                issues.push(Some(1), Some(&name), "duplicate_column", Severity::Fatal, format!("column '{name}' appears twice in the header (positions {} and {}); remove one", source[c].unwrap() + 1, pos + 1));
                fatal = true;
            }
            Some(c) => source[c] = Some(pos),
            None => {
                // Extra columns keep their name; a blank or repeated one gets its position.
                let taken = name.is_empty()
                    || name == LINE_COLUMN
                    || extra_at.iter().any(|(_, n)| *n == name);
                extra_at.push((
                    pos,
                    if taken {
                        format!("{name}_column_{}", pos + 1)
                    } else {
                        name
                    },
                ));
            }
        }
    }
    for (c, col) in spec.columns.iter().enumerate() {
        if col.required && source[c].is_none() {
            let found: Vec<String> = header.iter().map(schema::normalise_header).collect();
            // One column holding tabs or semicolons: the file is not comma-separated.
            let hint = match header.get(0) {
                Some(h) if header.len() == 1 && (h.contains('\t') || h.contains(';')) => {
                    "; the file looks tab- or semicolon-separated: save it as CSV (comma delimited)"
                }
                _ => "",
            };
            issues.push(
                Some(1),
                Some(col.name),
                "missing_column",
                Severity::Fatal,
                format!(
                    "required column '{}' is not in the header (found: {}){hint}",
                    col.name,
                    found.join(", ")
                ),
            );
            fatal = true;
        }
    }
    if fatal {
        return None;
    }
    let mut stats = TableStats {
        table: spec.name.into(),
        file: file.clone(),
        present: true,
        encoding: encoding.into(),
        unknown_columns: extra_at.iter().map(|(_, n)| n.clone()).collect(),
        ..Default::default()
    };
    for (_, name) in &extra_at {
        issues.push(
            Some(1),
            Some(name),
            "unknown_column",
            Severity::Info,
            format!("column '{name}' is not part of the extract format: kept, not used"),
        );
    }

    let mut columns: Vec<Values> = spec
        .columns
        .iter()
        .map(|c| Values::for_kind(c.kind))
        .collect();
    // About one row a line; text columns share the bytes of the file.
    let rows_guess = text.bytes().filter(|b| *b == b'\n').count();
    let width_guess = header.len().max(1);
    for v in columns.iter_mut() {
        v.reserve(rows_guess, text.len() / width_guess);
    }
    let mut extra: Vec<(String, TextCol)> = extra_at
        .iter()
        .map(|(_, n)| (n.clone(), TextCol::default()))
        .collect();
    let mut lines = Vec::new();
    let mut rejected = Vec::new();
    let mut ids_fixed: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
    let width = header.len();

    // Line numbers are counted here from each record's byte offset: the csv reader's own
    // count is off on Windows (CRLF) files, which is what Excel writes.
    let terminator = if text.contains('\n') { b'\n' } else { b'\r' };
    let (mut counted_to, mut counted_lines) = (0usize, 1u64);
    let mut line_of = |byte: usize| {
        // A record's offset can point at the end of the line before it: step past that.
        let mut byte = byte.min(text.len());
        while byte < text.len() && matches!(text.as_bytes()[byte], b'\r' | b'\n') {
            byte += 1;
        }
        if byte >= counted_to {
            counted_lines += text.as_bytes()[counted_to..byte]
                .iter()
                .filter(|b| **b == terminator)
                .count() as u64;
            counted_to = byte;
        }
        counted_lines
    };
    // One record, reused: no allocation per row.
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map(|p| p.line());
                issues.push(
                    line,
                    None,
                    "unreadable_file",
                    Severity::Fatal,
                    format!("cannot read past this point: {e}"),
                );
                break;
            }
        }
        if record.iter().all(|f| f.trim().is_empty()) {
            stats.blank_lines += 1;
            continue;
        }
        let line = line_of(record.position().map_or(0, |p| p.byte() as usize));
        stats.rows_read += 1;
        lines.push(line);
        let mut bad = false;
        if record.len() != width {
            issues.push(Some(line), None, "field_count", Severity::Error, format!("the row has {} fields but the header has {width}: a stray comma or an unquoted value?", record.len()));
            for v in columns.iter_mut() {
                v.push_none();
            }
            for (_, v) in extra.iter_mut() {
                v.push(None);
            }
            rejected.push(true);
            continue;
        }
        for (c, col) in spec.columns.iter().enumerate() {
            let raw = source[c].and_then(|p| record.get(p)).unwrap_or("");
            match parse_cell(col, raw, &mut columns[c]) {
                Ok(fixed) => {
                    if fixed {
                        let e = ids_fixed.entry(col.name).or_insert((line, 0));
                        e.1 += 1;
                    }
                }
                Err(e) => {
                    columns[c].push_none();
                    issues.push(
                        Some(line),
                        Some(col.name),
                        e.rule,
                        Severity::Error,
                        e.message,
                    );
                    bad = true;
                    continue;
                }
            }
            let row = lines.len() - 1;
            if col.required && columns[c].is_none(row) {
                issues.push(
                    Some(line),
                    Some(col.name),
                    "missing_required",
                    Severity::Error,
                    format!("'{}' is required and is empty", col.name),
                );
                bad = true;
            }
        }
        for ((pos, _), (_, v)) in extra_at.iter().zip(extra.iter_mut()) {
            let s = record.get(*pos).unwrap_or("").trim();
            v.push((!s.is_empty()).then_some(s));
        }
        let row = lines.len() - 1;
        bad |= check_row(spec, &columns, row, line, &mut issues);
        rejected.push(bad);
    }
    // Duplicate keys: the first row holds the key; later ones are rejected.
    if let Values::Text(keys) = &columns[0] {
        let mut first_line: PlHashMap<&str, u64> = PlHashMap::default();
        first_line.reserve(keys.len());
        for (row, line) in lines.iter().enumerate() {
            let Some(key) = keys.get(row) else { continue };
            match first_line.get(key) {
                Some(first) => {
                    issues.push(
                        Some(*line),
                        Some(spec.key),
                        "duplicate_key",
                        Severity::Error,
                        format!("{} '{key}' already appears on line {first}", spec.key),
                    );
                    rejected[row] = true;
                }
                None => {
                    first_line.insert(key, *line);
                }
            }
        }
    }
    for (col, (first, n)) in ids_fixed {
        issues.push(Some(first), Some(col), "id_normalised", Severity::Warning, format!("{n} ID(s) written as Excel numbers like '10.0' were read without the '.0' (first on line {first}); export IDs as text"));
    }
    Some(Parsed {
        spec,
        file,
        stats,
        columns,
        extra,
        lines,
        rejected,
        index: PlHashMap::default(),
        rejected_keys: PlHashMap::default(),
    })
}

/// Parses one cell into its column. Returns whether an ID was normalised.
fn parse_cell(col: &ColumnSpec, raw: &str, into: &mut Values) -> Result<bool, CellError> {
    let mut fixed = false;
    match (col.kind, into) {
        (Kind::Id, Values::Text(v)) => {
            let (id, changed) = values::normalise_id(raw);
            fixed = changed;
            v.push((!id.is_empty()).then_some(id));
        }
        (Kind::Text, Values::Text(v)) => {
            let s = raw.trim();
            v.push((!s.is_empty()).then_some(s));
        }
        (Kind::Code(codes), Values::Text(v)) => {
            let s = raw.trim();
            if s.is_empty() {
                v.push(None);
            } else {
                let code = schema::match_code(codes, s).ok_or_else(|| CellError {
                    rule: "bad_code",
                    message: format!(
                        "'{s}' is not a valid {}: expected one of {}",
                        col.name,
                        codes.join(", ")
                    ),
                })?;
                v.push(Some(code));
            }
        }
        (Kind::Date, Values::Date(v)) => v.push(values::parse_date(raw)?),
        (Kind::DateTime, Values::Stamp(v)) => v.push(values::parse_stamp(raw)?),
        (Kind::Flag, Values::Flag(v)) => v.push(values::parse_flag(raw)?),
        (Kind::Number, Values::Number(v)) => v.push(values::parse_number(raw)?),
        _ => unreachable!("Values::for_kind matches Kind"),
    }
    Ok(fixed)
}

/// Checks that need only this row: dates before 1990 and same-row event order.
/// Returns whether the row is rejected.
fn check_row(
    spec: &TableSpec,
    columns: &[Values],
    row: usize,
    line: u64,
    issues: &mut Issues,
) -> bool {
    let mut bad = false;
    let floor = earliest_plausible_date();
    for (c, col) in spec.columns.iter().enumerate() {
        if col.date_role == DateRole::Staff {
            continue;
        }
        if let Some(s) = columns[c].stamp(row) {
            if s.date() < floor {
                issues.push(
                    Some(line),
                    Some(col.name),
                    "too_old",
                    Severity::Error,
                    format!(
                        "{} {} is before {floor}: a typing error?",
                        col.name,
                        s.date()
                    ),
                );
                bad = true;
            }
        }
    }
    for rule in spec.order {
        if !rule_applies(spec, columns, row, rule.when) {
            continue;
        }
        if let Earlier::SameRow(earlier) = rule.earlier {
            let later = columns[spec.column_index(rule.later).expect("schema tested")].stamp(row);
            let first = columns[spec.column_index(earlier).expect("schema tested")].stamp(row);
            bad |= out_of_order(issues, line, rule, later, first, || earlier.to_string());
        }
    }
    bad
}

/// Reports `later` before `first` (an order rule broken); `earlier` names what came first.
/// Returns whether the row is rejected.
fn out_of_order(
    issues: &mut Issues,
    line: u64,
    rule: &schema::OrderRule,
    later: Option<Stamp>,
    first: Option<Stamp>,
    earlier: impl FnOnce() -> String,
) -> bool {
    let (Some(l), Some(f)) = (later, first) else {
        return false;
    };
    if !l.before(&f) {
        return false;
    }
    let message = format!(
        "{}: {} {} is before {} {}",
        rule.what,
        rule.later,
        show(&l),
        earlier(),
        show(&f)
    );
    issues.push(
        Some(line),
        Some(rule.later),
        "order",
        Severity::Error,
        message,
    );
    true
}

fn rule_applies(
    spec: &TableSpec,
    columns: &[Values],
    row: usize,
    when: Option<(&str, &str)>,
) -> bool {
    match when {
        None => true,
        Some((col, code)) => {
            spec.column_index(col).and_then(|c| columns[c].text(row)) == Some(code)
        }
    }
}

fn show(s: &Stamp) -> String {
    if s.has_time {
        s.at.format("%Y-%m-%d %H:%M").to_string()
    } else {
        s.date().to_string()
    }
}

/// Second pass for one table, with every table before it finished.
fn check_against_others(
    t: &mut Parsed,
    done: &[Option<Parsed>],
    as_of: NaiveDate,
    out: &mut Vec<Issue>,
) {
    let spec = t.spec;
    let mut issues = Issues {
        table: spec.name,
        file: &t.file,
        out,
    };
    let parent = |name: &str| done.iter().flatten().find(|p| p.spec.name == name);

    // Links to tables that were not supplied cannot be checked: say so once.
    for col in spec.columns {
        if let Some((target, _)) = col.refers_to {
            if parent(target).is_none() {
                issues.push(
                    None,
                    Some(col.name),
                    "unchecked_link",
                    Severity::Info,
                    format!(
                        "{} links to {target}.csv, which was not loaded: links not checked",
                        col.name
                    ),
                );
            }
        }
    }

    // Column by column: each check looks its columns and parent table up once.
    // Future dates are reported on every row, rejected already or not, so that a date typed
    // a decade ahead is named for what it is.
    let mut bad = vec![false; t.rejected.len()];
    for (c, col) in spec.columns.iter().enumerate() {
        if col.date_role != DateRole::Event {
            continue;
        }
        for (row, &line) in t.lines.iter().enumerate() {
            let Some(d) = t.columns[c].stamp(row).map(|s| s.date()) else {
                continue;
            };
            if d > as_of {
                let message = format!("{} {d} is after the as-of date {as_of}", col.name);
                issues.push(
                    Some(line),
                    Some(col.name),
                    "future_date",
                    Severity::Error,
                    message,
                );
                bad[row] = true;
            }
        }
    }
    for rule in spec.order {
        let Earlier::Via { via, column } = rule.earlier else {
            continue;
        };
        let via_c = spec.column_index(via).expect("schema tested");
        let (target, _) = spec.columns[via_c].refers_to.expect("schema tested");
        let Some(p) = parent(target) else { continue };
        let first_c = p.spec.column_index(column).expect("schema tested");
        let later_c = spec.column_index(rule.later).expect("schema tested");
        for (row, &line) in t.lines.iter().enumerate() {
            if t.rejected[row] || !rule_applies(spec, &t.columns, row, rule.when) {
                continue;
            }
            let Some(key) = t.columns[via_c].text(row) else {
                continue;
            };
            let Some(&prow) = p.index.get(key) else {
                continue;
            };
            let first = p.columns[first_c].stamp(prow);
            let later = t.columns[later_c].stamp(row);
            bad[row] |= out_of_order(&mut issues, line, rule, later, first, || {
                format!(
                    "{target}.{column} ({via} {key}, {}:{})",
                    p.file, p.lines[prow]
                )
            });
        }
    }
    for (rejected, bad) in t.rejected.iter_mut().zip(bad) {
        *rejected |= bad;
    }
    for (c, col) in spec.columns.iter().enumerate() {
        let Some((target, target_col)) = col.refers_to else {
            continue;
        };
        let Some(p) = parent(target) else { continue };
        let Values::Text(v) = &mut t.columns[c] else {
            continue;
        };
        let what = if col.required {
            "row kept"
        } else {
            "link dropped"
        };
        for (row, &line) in t.lines.iter().enumerate() {
            if t.rejected[row] {
                continue;
            }
            let Some(key) = v.get(row) else { continue };
            if p.index.contains_key(key) {
                continue;
            }
            let (rule, message) = match p.rejected_keys.get(key) {
                Some(l) => (
                    "link_to_rejected",
                    format!(
                        "{} '{key}' links to a row of {target}.csv that was rejected (line {l}): {what}",
                        col.name
                    ),
                ),
                None => (
                    "dangling_link",
                    format!(
                        "{} '{key}' is not in {target}.csv ({target_col}): {what}",
                        col.name
                    ),
                ),
            };
            issues.push(Some(line), Some(col.name), rule, Severity::Warning, message);
            if !col.required {
                v.set_none(row);
            }
        }
    }
    // Only tables that others link to need an index of their keys.
    if let (true, Values::Text(keys)) = (schema::is_linked_to(spec.name), &t.columns[0]) {
        t.index = (0..keys.len())
            .filter(|i| !t.rejected[*i])
            .filter_map(|i| keys.get(i).map(|k| (Box::from(k), i)))
            .collect();
        // Keys only on rejected rows, so a link to one can say so rather than "missing".
        for i in (0..keys.len()).filter(|i| t.rejected[*i]) {
            if let Some(k) = keys.get(i).filter(|k| !t.index.contains_key(*k)) {
                t.rejected_keys.entry(Box::from(k)).or_insert(t.lines[i]);
            }
        }
    }
}

fn build_frame(t: &Parsed) -> polars::prelude::PolarsResult<DataFrame> {
    let keep: Vec<bool> = t.rejected.iter().map(|r| !r).collect();
    let height = keep.iter().filter(|k| **k).count();
    let mut cols: Vec<Column> = Vec::with_capacity(t.columns.len() + t.extra.len() + 1);
    for (spec, values) in t.spec.columns.iter().zip(&t.columns) {
        cols.push(values.to_series(spec.name, &keep)?.into());
    }
    for (name, v) in &t.extra {
        cols.push(v.kept(name.into(), &keep).into_series().into());
    }
    let lines: Vec<u32> = t
        .lines
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(l, _)| *l as u32)
        .collect();
    cols.push(Series::new(LINE_COLUMN.into(), lines).into());
    DataFrame::new(height, cols)
}
