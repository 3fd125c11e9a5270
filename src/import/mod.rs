//! Reading the standard returns councils already have into the native extract tables:
//! the DfE CIN census ([`cin_census`]). Every block of the source is written out or
//! reported with its line and the reason.

pub mod annex_a;
pub mod cin_census;
pub mod history;
mod inflate;
pub mod map;
pub mod native;
pub mod ssd;
pub mod workbook;

use std::collections::BTreeMap;

use std::path::Path;

use serde::Serialize;

use crate::report::{Issue, Severity};
use crate::schema::{self, TableSpec};

/// The name of the file an import writes beside the tables: what was read and what became
/// of it. Its presence also marks the folder as written by an import.
pub const IMPORT_REPORT: &str = "import.json";

/// Rows of native tables, each row in the schema's column order.
#[derive(Debug, Default)]
pub struct Tables {
    rows: BTreeMap<&'static str, Vec<Vec<String>>>,
    /// The part (sheet) and line of the source each row came from.
    origin: BTreeMap<&'static str, Vec<(u16, u64)>>,
    /// Names of the parts of the source (`List 3`); part 0 is the whole source.
    parts: Vec<String>,
}

impl Tables {
    /// Adds a row given as `(column, value)` pairs (other columns are empty) that came from
    /// `line` of the source.
    pub fn push(&mut self, table: &'static str, line: u64, values: &[(&str, String)]) {
        self.push_from(table, "", line, values);
    }

    /// [`Tables::push`] for a row from a named part of the source (a sheet).
    pub fn push_from(
        &mut self,
        table: &'static str,
        part: &str,
        line: u64,
        values: &[(&str, String)],
    ) {
        let p = match self.parts.iter().position(|x| x == part) {
            Some(p) => p,
            None => {
                self.parts.push(part.to_string());
                self.parts.len() - 1
            }
        };
        self.origin.entry(table).or_default().push((p as u16, line));
        let spec = schema::table(table).expect("a schema table");
        let mut row = vec![String::new(); spec.columns.len()];
        for (column, value) in values {
            let i = spec
                .column_index(column)
                .unwrap_or_else(|| panic!("{table} has no column {column}"));
            row[i] = value.clone();
        }
        self.rows.entry(table).or_default().push(row);
    }

    /// The source line of a row, given its line in the table's CSV file (the header is
    /// line 1).
    /// Returns the part's name (empty for the whole source) and the line.
    pub fn origin(&self, table: &str, csv_line: u64) -> Option<(&str, u64)> {
        let row = usize::try_from(csv_line.checked_sub(2)?).ok()?;
        let (p, line) = *self.origin.get(table)?.get(row)?;
        Some((self.parts.get(p as usize).map_or("", String::as_str), line))
    }

    /// The part and line row `n` of a table came from.
    pub fn origin_of(&self, table: &str, n: usize) -> Option<(&str, u64)> {
        let (p, line) = *self.origin.get(table)?.get(n)?;
        Some((self.parts.get(p as usize).map_or("", String::as_str), line))
    }

    pub fn rows(&self, table: &str) -> &[Vec<String>] {
        self.rows.get(table).map_or(&[], Vec::as_slice)
    }

    /// One CSV file per table, with the schema's header, in the journey's order.
    pub fn to_csv_files(&self, tables: &[&'static TableSpec]) -> Vec<(String, Vec<u8>)> {
        tables
            .iter()
            .map(|spec| {
                let mut w = csv::Writer::from_writer(Vec::new());
                w.write_record(spec.columns.iter().map(|c| c.name))
                    .expect("writing to memory");
                for row in self.rows(spec.name) {
                    w.write_record(row).expect("writing to memory");
                }
                (spec.file_name(), w.into_inner().expect("writing to memory"))
            })
            .collect()
    }
}

/// A category of abuse in the words the native extract uses, from the census codes
/// (`NEG`), Ofsted's and the SSD's words (`Physical abuse`), in any case; anything else is
/// kept as given.
pub fn category_of_abuse(raw: &str) -> String {
    let words = annex_a::normalise(raw);
    match words.as_str() {
        "neg" | "neglect" => "neglect",
        "phy" | "physical abuse" | "physical" => "physical",
        "emo" | "emotional abuse" | "emotional" => "emotional",
        "sab" | "sexual abuse" | "sexual" => "sexual",
        "mul" | "multiple" | "mixed" | "multiple not recommended" => "multiple",
        _ => return raw.trim().to_string(),
    }
    .to_string()
}

/// What one kind of source block became.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BlockCount {
    pub read: u64,
    pub loaded: u64,
    pub rejected: u64,
}

/// The accounting of an import: every block read was loaded or rejected with a reason.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub source: String,
    pub format: String,
    /// Details of the source (collection year, reference date, ...).
    pub details: BTreeMap<String, String>,
    pub blocks: BTreeMap<String, BlockCount>,
    /// The order to list `blocks` in (outermost first).
    #[serde(skip)]
    pub block_order: Vec<String>,
    /// Rows written per native table.
    pub rows_written: BTreeMap<String, u64>,
    /// Elements the format has that the native tables do not hold, with how often.
    pub ignored: BTreeMap<String, u64>,
    pub issues: Vec<Issue>,
}

impl ImportReport {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serialises")
    }

    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(s, "Import of {} ({})", self.source, self.format);
        for (k, v) in &self.details {
            let _ = writeln!(s, "  {k}: {v}");
        }
        let _ = writeln!(
            s,
            "\n{:<24} {:>9} {:>9} {:>9}",
            "block", "read", "loaded", "rejected"
        );
        let mut blocks: Vec<(&String, &BlockCount)> = self.blocks.iter().collect();
        blocks.sort_by_key(|(name, _)| {
            self.block_order
                .iter()
                .position(|b| b == *name)
                .unwrap_or(usize::MAX)
        });
        for (name, c) in blocks {
            let _ = writeln!(
                s,
                "{name:<24} {:>9} {:>9} {:>9}",
                c.read, c.loaded, c.rejected
            );
        }
        let _ = writeln!(s, "\nrows written:");
        for (table, n) in &self.rows_written {
            let _ = writeln!(s, "  {table:<22} {n:>9}");
        }
        if !self.ignored.is_empty() {
            let _ = writeln!(s, "\nnot in the native tables (ignored):");
            for (name, n) in &self.ignored {
                let _ = writeln!(s, "  {name} ({n})");
            }
        }
        if !self.issues.is_empty() {
            let _ = writeln!(s, "\nissues:");
            for i in &self.issues {
                let sev = match i.severity {
                    Severity::Info => "info",
                    Severity::Warning => "warning",
                    Severity::Error => "error",
                    Severity::Fatal => "fatal",
                };
                let _ = writeln!(
                    s,
                    "  {sev:<7} {}:{} {}{}: {} ({})",
                    i.file,
                    i.line.map_or(String::new(), |l| l.to_string()),
                    i.table,
                    i.column.as_ref().map_or(String::new(), |c| format!(".{c}")),
                    i.message,
                    i.rule
                );
            }
        }
        s
    }
}

/// What `--data` named, once read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// A folder of native extract CSV files.
    Folder,
    /// A DfE CIN census XML file, read as `import cin-census` would.
    CinCensus,
    /// An Ofsted Annex A workbook, read as `import annex-a` would.
    AnnexA,
    /// A folder of Standard Safeguarding Dataset tables, read as `import ssd` would.
    Ssd,
    /// Several returns merged into one history, as `import history` would.
    History,
}

impl DataKind {
    pub fn describe(self) -> &'static str {
        match self {
            DataKind::Folder => "a folder of extract CSV files",
            DataKind::CinCensus => "a DfE CIN census XML file (read as `import cin-census` does)",
            DataKind::AnnexA => "an Ofsted Annex A workbook (read as `import annex-a` does)",
            DataKind::Ssd => {
                "a folder of Standard Safeguarding Dataset tables (read as `import ssd` does)"
            }
            DataKind::History => {
                "several returns merged into one history (read as `import history` does)"
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Load(#[from] crate::ingest::LoadError),
    #[error(transparent)]
    Cin(#[from] cin_census::CinError),
    #[error(transparent)]
    Annex(#[from] annex_a::AnnexError),
    #[error(transparent)]
    Ssd(#[from] ssd::SsdError),
    #[error("{0}")]
    Unknown(String),
}

/// Loads `--data`: a folder of extracts, or a CIN census XML file, an Annex A workbook or
/// a folder of SSD tables converted in memory.
/// Issues about rows made from a census name the census file and the XML line the row came
/// from.
pub fn load_data(
    path: &Path,
    opts: &crate::ingest::LoadOptions,
) -> Result<(crate::ingest::Extracts, DataKind), DataError> {
    if let Some(paths) = history::returns_in(path) {
        return load_history(&paths, opts);
    }
    if path.is_dir() && ssd::is_ssd_folder(path) {
        let (tables, import) = ssd::import(path)?;
        let specs = ssd::tables(path);
        let mut ex = load_imported(
            path,
            &name_of(path),
            &tables,
            import,
            &specs,
            "the SSD",
            None,
            opts,
        );
        // The import has said which native extract would add each missing table.
        ex.report.issues.retain(|i| {
            !(i.rule == "missing_file" && ssd::NATIVE_EXTRAS.contains(&i.table.as_str()))
        });
        return Ok((ex, DataKind::Ssd));
    }
    if path.is_dir() {
        return Ok((crate::ingest::load(path, opts)?, DataKind::Folder));
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("xml") if path.is_file() => {
            let (tables, import) = cin_census::import(path)?;
            // A census is "as at" its reference date, unless told otherwise.
            let reference = import
                .details
                .get("ReferenceDate")
                .and_then(|d| crate::values::parse_date(d).ok().flatten());
            let ex = load_imported(
                path,
                &name_of(path),
                &tables,
                import,
                &cin_census::tables(),
                "the CIN census",
                reference.map(|d| (d, "the census ReferenceDate")),
                opts,
            );
            Ok((ex, DataKind::CinCensus))
        }
        Some("xlsx" | "xlsm") if path.is_file() => {
            let (tables, import) = annex_a::import(path)?;
            let ex = load_imported(
                path,
                &name_of(path),
                &tables,
                import,
                &annex_a::tables(),
                "Annex A",
                None,
                opts,
            );
            Ok((ex, DataKind::AnnexA))
        }
        _ if !path.exists() => Err(DataError::Load(crate::ingest::LoadError::NoFolder(
            path.display().to_string(),
        ))),
        _ => Err(DataError::Unknown(format!(
            "{} is neither a folder of extract CSV files, an Annex A workbook (.xlsx) nor a CIN \
             census (.xml)",
            path.display()
        ))),
    }
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned())
}

/// Loads an export through a column map.
pub fn load_mapped(
    dir: &Path,
    map: &map::ColumnMap,
    opts: &crate::ingest::LoadOptions,
) -> crate::ingest::Extracts {
    let (tables, import) = map::import(dir, map);
    let specs = map::tables(map);
    load_imported(
        dir,
        &name_of(dir),
        &tables,
        import,
        &specs,
        "the mapped export",
        None,
        opts,
    )
}

/// Loads several returns merged into one history (`--data` given more than once, or a
/// folder of returns). The as-of date defaults to the latest census reference date when
/// every return is a census.
pub fn load_history(
    paths: &[std::path::PathBuf],
    opts: &crate::ingest::LoadOptions,
) -> Result<(crate::ingest::Extracts, DataKind), DataError> {
    let h = history::read(paths)?;
    let label = paths
        .first()
        .and_then(|p| p.parent())
        .map_or_else(|| Path::new(".").to_path_buf(), Path::to_path_buf);
    let reference = h.reference.map(|d| (d, "the latest census ReferenceDate"));
    let ex = load_imported(
        &label,
        "",
        &h.tables,
        h.report,
        &h.specs,
        "the history",
        reference,
        opts,
    );
    Ok((ex, DataKind::History))
}

/// Loads an import's tables in memory. Issues about rows name the source file (and sheet)
/// and the line the row came from; the import's own issues come first.
#[allow(clippy::too_many_arguments)]
fn load_imported(
    path: &Path,
    source: &str,
    tables: &Tables,
    import: ImportReport,
    specs: &[&'static TableSpec],
    format: &str,
    default_as_of: Option<(chrono::NaiveDate, &str)>,
    opts: &crate::ingest::LoadOptions,
) -> crate::ingest::Extracts {
    let files: BTreeMap<String, Vec<u8>> = tables.to_csv_files(specs).into_iter().collect();
    let mut load_opts = opts.clone();
    let default_as_of = default_as_of.filter(|_| opts.as_of.is_none());
    if let Some((d, _)) = default_as_of {
        load_opts.as_of = Some(d);
    }
    let mut ex = crate::ingest::load_memory(&files, path, &load_opts);
    if let Some((_, why)) = default_as_of {
        ex.report.as_of_source = why.into();
    }
    for issue in &mut ex.report.issues {
        if !files.contains_key(&issue.file) {
            if issue.rule == "missing_file" {
                issue.message = format!(
                    "{format} has no {}: measures that need it are not available",
                    issue.table
                );
            }
            continue;
        }
        if let Some((part, line)) = issue.line.and_then(|l| tables.origin(&issue.table, l)) {
            issue.message = format!(
                "{} (the {} row made from this line)",
                issue.message, issue.table
            );
            issue.file = match (part.is_empty(), source.is_empty(), path.is_dir()) {
                (true, _, _) => source.to_string(),
                (false, true, _) => part.to_string(),
                (false, false, true) => format!("{source}/{part}"),
                (false, false, false) => format!("{source} {part}"),
            };
            issue.line = Some(line);
        }
    }
    // What the import could not use, then what the checks found; how each header was
    // matched is for `import` to say.
    let mut issues: Vec<Issue> = import
        .issues
        .into_iter()
        .filter(|i| i.rule != "header_matched")
        .collect();
    issues.append(&mut ex.report.issues);
    ex.report.issues = issues;
    ex
}
