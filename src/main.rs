//! The `csc-audit` command line: argument parsing and exit codes over the library.

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};
use csc_audit::calendar::Calendar;
use csc_audit::ingest::{self, FrameColumns, LoadOptions};
use csc_audit::metrics::{output, EvalOptions, Library, STANDARDS_FILE};
use csc_audit::periods::{Grain, Period};
use std::path::PathBuf;
use std::process::ExitCode;

/// Writes to standard output: a write error (a full disk, a closed pipe) is an error of the
/// command (exit 2), never a panic. `say!` ends the line, `say_raw!` does not.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        write!(out, $($arg)*)
            .and_then(|()| out.flush())
            .map_err(|e| anyhow::anyhow!("writing to standard output: {e}"))?;
    }};
}
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        writeln!(out, $($arg)*)
            .and_then(|()| out.flush())
            .map_err(|e| anyhow::anyhow!("writing to standard output: {e}"))?;
    }};
}
/// Writes to standard error. Messages and errors go there; when it cannot be written (a
/// full disk, a closed pipe) there is no one left to tell, so the error is dropped, never
/// a panic, and the exit code still says what happened.
macro_rules! tell {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
macro_rules! tell_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

mod cmd;

// A national extract allocates and frees gigabytes of column buffers; mimalloc reuses them
// where the system allocator hands pages back and faults them in again.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `allow_thp` option: its place in `mi_option_e` in the mimalloc.h of the one
/// version it was read from, which the crate does not export.
const ALLOW_THP: std::ffi::c_int = 43;
const ALLOW_THP_VERSION: std::ffi::c_int = 30302;

extern "C" {
    fn mi_version() -> std::ffi::c_int;
    fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
    fn mi_option_set_default(option: std::ffi::c_int, value: std::ffi::c_long);
    fn mi_collect(force: bool);
}

// Linux's `prctl` and its `PR_SET_THP_DISABLE` (linux/prctl.h).
#[cfg(target_os = "linux")]
extern "C" {
    fn prctl(option: std::ffi::c_int, ...) -> std::ffi::c_int;
}
#[cfg(target_os = "linux")]
const PR_SET_THP_DISABLE: std::ffi::c_int = 41;

/// Tunes the allocator for a run that loads a folder, frees the parsed copy and builds
/// frames, measures and outputs on top (measured in the README's Performance section):
/// - no transparent huge pages: each new 2 MiB page was zeroed whole when first touched,
///   which was most of a small council's run and 50-60 MB of any run's memory;
/// - freed memory is handed back at once where the library says a step has freed much
///   (`memory::release`, for data large enough to pay), not a second later when the next
///   step has grown on top of it;
///   handing it back always sooner (`MIMALLOC_PURGE_DELAY=10`) saved 30-50 MB more at
///   300 MB but took a third more time.
///
/// The huge pages are left alone for a mimalloc other than the version the option's place
/// was read from (another may have moved it), and when the user set `MIMALLOC_ALLOW_THP`
/// (only the default is changed, and the kernel told only when the option is then off).
/// Leaves a finished run's data to the system, which takes it back at exit whole: freeing
/// each frame and row first took a quarter of a second at 1.1 GB, after the output was out.
/// Only for what the command no longer reads, just before it returns.
fn leave_to_exit<T>(done: T) {
    std::mem::forget(done);
}

fn tune_allocator() {
    csc_audit::memory::set_release(|| {
        // SAFETY: mimalloc's collection may run on any thread at any time.
        unsafe { mi_collect(true) }
    });
    // SAFETY: plain calls into the linked allocator and the kernel (prctl takes its four
    // further arguments as unsigned longs), before any other thread starts; mimalloc reads
    // the option when it next maps memory.
    unsafe {
        if mi_version() != ALLOW_THP_VERSION {
            return;
        }
        mi_option_set_default(ALLOW_THP, 0);
        if mi_option_get(ALLOW_THP) != 0 {
            return;
        }
        // mimalloc asks this of the kernel only as it starts, before main: the pages it
        // has mapped already are faulted in small from now on too.
        #[cfg(target_os = "linux")]
        prctl(
            PR_SET_THP_DISABLE,
            1 as std::ffi::c_ulong,
            0 as std::ffi::c_ulong,
            0 as std::ffi::c_ulong,
            0 as std::ffi::c_ulong,
        );
    }
}

#[derive(Parser)]
#[command(
    name = "csc-audit",
    version,
    about = "Audit sampling and compliance metrics for children's social care"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TableFormat {
    Csv,
    Json,
    Xlsx,
}

#[derive(Subcommand)]
enum Command {
    /// Data-quality report: every row of every extract loaded or rejected with its reason.
    ///
    /// Exit codes: 0 the data could be read (row problems are reported); 1 with --strict when
    /// any row was rejected; 2 when a required file or column is missing or a file cannot be read.
    Check {
        /// Folder holding the extract CSV files (children.csv, referrals.csv, ...), a folder
        /// of SSD tables, an Annex A workbook, a CIN census, or a folder of such returns;
        /// given more than once, the returns are merged into one history.
        #[arg(long, default_value = "sample_data", action = clap::ArgAction::Append)]
        data: Vec<PathBuf>,
        /// A column map (TOML): read --data, a council's own export, through it
        /// (`csc-audit map init` writes a first one).
        #[arg(long)]
        map: Option<PathBuf>,
        /// Extract date (YYYY-MM-DD or DD/MM/YYYY); default: the latest event date in the data.
        #[arg(long, value_parser = parse_cli_date)]
        as_of: Option<NaiveDate>,
        #[arg(long, value_enum, default_value = "text")]
        format: ReportFormat,
        /// Exit 1 when any row was rejected.
        #[arg(long)]
        strict: bool,
        /// How many issues the text report lists in full.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Working-day calendar (TOML, as calendars/england-and-wales.toml); default: built in.
        #[arg(long)]
        calendar: Option<PathBuf>,
    },
    /// Every measure, for every period, as one long table (CSV, JSON or xlsx).
    ///
    /// Columns: metric_id, period, period_start, period_end, breakdown, group, numerator,
    /// denominator, value, pending, target, rag, ci_low, ci_high, then category, excluded,
    /// rate_per_10k, p25, p75, unit, polarity, complete.
    Metrics {
        /// Folder holding the extract CSV files (or any input `check` reads); given more
        /// than once, the returns are merged into one history.
        #[arg(long, default_value = "sample_data", action = clap::ArgAction::Append)]
        data: Vec<PathBuf>,
        /// A column map (TOML): read --data, a council's own export, through it.
        #[arg(long)]
        map: Option<PathBuf>,
        /// Folder of metric definitions (*.toml, with standards.toml); default: ./metrics if
        /// it exists, else the measures built into csc-audit.
        #[arg(long)]
        metrics: Option<PathBuf>,
        #[arg(long, default_value = "month", value_parser = ["month", "quarter", "year"])]
        grain: String,
        /// First period: 2024-11 (month), 2024-25 Q1 (financial quarter), 2024-25 (year).
        /// Default: 24 months, 8 quarters or 3 years back from --to.
        #[arg(long)]
        from: Option<String>,
        /// Last period; default: the period holding the as-of date.
        #[arg(long)]
        to: Option<String>,
        /// Extract date; cases still waiting are judged against it. Default: the latest event
        /// date in the data.
        #[arg(long, value_parser = parse_cli_date)]
        as_of: Option<NaiveDate>,
        /// Breakdowns besides `all`, comma-separated: team, worker, source, age_band, category.
        #[arg(long, value_delimiter = ',')]
        by: Vec<String>,
        /// Only these measures (comma-separated ids).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Output format; default: from the --out extension, else csv.
        #[arg(long, value_enum)]
        format: Option<TableFormat>,
        /// File to write (atomically); default: standard output (not for xlsx).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Working-day calendar (TOML); default: England and Wales, built in.
        #[arg(long)]
        calendar: Option<PathBuf>,
        /// List the measures (id, kind, title) and stop.
        #[arg(long)]
        list: bool,
    },
    /// Reads a standard return (Ofsted Annex A, the DfE CIN census) or the Standard
    /// Safeguarding Dataset into native extract tables.
    Import {
        #[command(subcommand)]
        source: ImportSource,
    },
    /// Column maps, for exports in a council's own layout: `map init DIR --out map.toml`
    /// writes a first map from the headers it finds, every guess marked.
    Map {
        #[command(subcommand)]
        action: MapAction,
    },
    /// Working days between two dates, or the date N working days after one (a deadline).
    Days {
        /// The starting event's date (day 0).
        #[arg(long, value_parser = parse_cli_date)]
        from: NaiveDate,
        /// Count the working days d with from < d <= to.
        #[arg(long, value_parser = parse_cli_date, conflicts_with = "add", required_unless_present = "add")]
        to: Option<NaiveDate>,
        /// Give the last date still "within N working days" of --from.
        #[arg(long)]
        add: Option<u32>,
        /// Working-day calendar (TOML); default: England and Wales, built in.
        #[arg(long)]
        calendar: Option<PathBuf>,
    },
    /// Draws the monthly audit sample from a plan (stratified, seeded, re-drawable), or
    /// verifies, extends or sizes one.
    ///
    /// `csc-audit sample --plan audits/monthly.toml --period 2024-11 --seed N --out DIR`
    Sample(cmd::sample::SampleArgs),
    /// Completed audits -> estimates for the whole population, per question and grade,
    /// with 95% intervals that behave near 0% and 100%.
    AuditResults(cmd::sample::AuditResultsArgs),
    /// The quarterly pack: data quality, every measure, the charts, the data set (xlsx,
    /// CSV) and one HTML report, with disclosure control for publication.
    Pack(cmd::pack::PackArgs),
    /// One chart of one measure (trend, SPC, funnel, distribution, small multiples), SVG or
    /// PNG.
    Chart(cmd::chart::ChartArgs),
    /// An SPC chart of any series (`period,value[,denominator]`), as NHSRplotthedots draws
    /// it: XmR or p-chart, outlier screening, rebasing, a baseline, trial limits; the
    /// points as a table and the readings.
    Spc(cmd::spc::SpcArgs),
    /// The managers' worklist: every open case due or overdue, by team and worker, from
    /// the measures' own definitions (child-level: CSV, JSON or xlsx, written only to --out).
    ///
    /// Columns: measure, case_id, child_id, team, worker, started, deadline,
    /// working_days_left, status (overdue, due_today, due_soon).
    Due(cmd::due::DueArgs),
    /// Writes a synthetic council's extracts: realistic, internally consistent, seeded.
    Synth {
        /// Folder to write (created if missing; existing extract files are replaced).
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Full financial years of data (April-March), ending with --last-year.
        #[arg(long, default_value_t = 3)]
        years: u32,
        /// Financial year the data ends in, by its end: 2025 means April 2024 - March 2025.
        #[arg(long, default_value_t = 2025)]
        last_year: i32,
        /// Size: 1 is a median council (about 3,400 referrals a year); 190 is England.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Inject the faults real exports have, and list them in faults.csv.
        #[arg(long)]
        dirty: bool,
        /// Replace extract files in --out even if synth did not write them.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum MapAction {
    /// Writes a starting column map for the CSV files of an export: the table each file
    /// holds and the column of each native column, guessed from names, each guess marked.
    Init {
        /// The export's folder.
        dir: PathBuf,
        /// The map to write (TOML).
        #[arg(long)]
        out: PathBuf,
        /// Replace --out if it exists.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum ImportSource {
    /// An Ofsted ILACS Annex A workbook (xlsx): Lists 1, 3, 4, 5, 6, 7 and 8 into contacts,
    /// referrals, assessments, S47 enquiries, conferences, CP plans, visits and children.
    ///
    /// Exit codes: 0 written (rows that could not be used are reported); 1 with --strict
    /// when any row was not loaded; 2 when the file cannot be read as a workbook.
    AnnexA {
        /// The Annex A workbook, or a folder of its lists saved as CSV (`List 1.csv`, ...).
        file: PathBuf,
        #[command(flatten)]
        out: ImportOut,
    },
    /// A DfE children in need census XML file: children, referrals (CINdetails),
    /// assessments, S47 enquiries, conferences and CP plans.
    ///
    /// Exit codes: 0 written (blocks that could not be used are reported); 1 with --strict
    /// when any block was not loaded; 2 when the file cannot be read as a census.
    CinCensus {
        /// The census XML file.
        file: PathBuf,
        #[command(flatten)]
        out: ImportOut,
    },
    /// A folder of Standard Safeguarding Dataset tables exported to CSV (`ssd_person.csv`,
    /// `ssd_cin_episodes.csv`, ...; v1.4.x field names), with any native
    /// strategy_discussions.csv, core_groups.csv and supervisions.csv beside them.
    ///
    /// Exit codes: 0 written (rows that could not be used are reported); 1 with --strict
    /// when any row was not loaded; 2 when the folder cannot be read as SSD tables.
    Ssd {
        /// The folder of SSD CSV files.
        file: PathBuf,
        #[command(flatten)]
        out: ImportOut,
    },
    /// Several returns (CIN census files, Annex A workbooks, folders of native extracts or
    /// SSD tables) merged into one history: the same row in several returns is one row, the
    /// later return wins, and every value it changed is written to history_changes.csv.
    ///
    /// Exit codes: 0 written; 1 with --strict when any row was not loaded; 2 when a return
    /// cannot be read.
    History {
        /// The returns, in any order (they are ordered by reference date, else file date).
        #[arg(required = true)]
        sources: Vec<PathBuf>,
        #[command(flatten)]
        out: ImportOut,
    },
}

#[derive(clap::Args)]
struct ImportOut {
    /// Folder to write the native tables and import.json into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Replace extract files in --out even if an import did not write them.
    #[arg(long)]
    force: bool,
    /// Exit 1 when anything read was not loaded.
    #[arg(long)]
    strict: bool,
    #[arg(long, value_enum, default_value = "text")]
    format: ReportFormat,
}

/// A funnel limit level in percent, above 50 and below 100.
fn parse_level(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a percentage"))?;
    if v > 50.0 && v < 100.0 {
        Ok(v)
    } else {
        Err(format!(
            "{v}: a limit level is a percentage above 50 and below 100, as 95 or 99.8"
        ))
    }
}

fn parse_cli_date(s: &str) -> Result<NaiveDate, String> {
    csc_audit::values::parse_date(s)
        .map_err(|e| e.message)?
        .ok_or_else(|| "an empty date".to_string())
}

/// Loads `--data` (a folder, or a CIN census file) and says on stderr which it found.
fn load_data(
    data: &[PathBuf],
    map: Option<&std::path::Path>,
    as_of: Option<NaiveDate>,
    today: NaiveDate,
    columns: FrameColumns,
) -> Result<ingest::Extracts> {
    let opts = LoadOptions {
        as_of,
        today,
        columns,
    };
    if let Some(m) = map {
        let [dir] = data else {
            anyhow::bail!("--map reads one export: give --data once, with the export's folder");
        };
        let map = csc_audit::import::map::ColumnMap::from_file(m)?;
        tell!(
            "reading {} through the column map {}",
            dir.display(),
            m.display()
        );
        return Ok(csc_audit::import::load_mapped(dir, &map, &opts));
    }
    let (extracts, kind) = match data {
        [one] => csc_audit::import::load_data(one, &opts)?,
        several => csc_audit::import::load_history(several, &opts)?,
    };
    tell!("reading {}: {}", shown(data), kind.describe());
    Ok(extracts)
}

/// `--data` as the user gave it.
fn shown(data: &[PathBuf]) -> String {
    data.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `--data` with its working-day calendar, ready for the measures: data with a fatal problem
/// is refused with its report; rejected rows are pointed out. The frames hold `columns`.
fn load_usable(
    data: &[PathBuf],
    map: Option<&std::path::Path>,
    as_of: Option<NaiveDate>,
    calendar: Option<&std::path::Path>,
    columns: FrameColumns,
) -> Result<(ingest::Extracts, Calendar)> {
    let (cal, source) = load_calendar(calendar)?;
    let today = chrono::Local::now().date_naive();
    let mut extracts = load_data(data, map, as_of, today, columns)?;
    extracts.note_calendar(&cal, &source);
    if extracts.report.has_fatal() {
        tell_raw!("{}", extracts.report.to_text(20));
        anyhow::bail!("the data cannot be used as it is: see the report above");
    }
    let rejected = extracts.report.rows_rejected();
    if rejected > 0 {
        tell!(
            "note: {rejected} rows were rejected and are not used; `csc-audit check {}` lists \
             them",
            data.iter()
                .map(|d| format!("--data {}", d.display()))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    Ok((extracts, cal))
}

/// `--metrics`, else `./metrics` when it holds a library, else the built-in measures.
fn load_library(dir: Option<&std::path::Path>) -> Result<Library> {
    Ok(match metrics_dir(dir) {
        Some(dir) => Library::load_dir(&dir)?,
        None => Library::builtin(),
    })
}

/// The folder [`load_library`] reads (`None`: the built-in measures): an input of every
/// command that evaluates measures, so never written into.
pub(crate) fn metrics_dir(dir: Option<&std::path::Path>) -> Option<PathBuf> {
    let local = std::path::Path::new("metrics");
    match dir {
        Some(dir) => Some(dir.to_path_buf()),
        None if local.join(STANDARDS_FILE).is_file() => Some(local.to_path_buf()),
        None => None,
    }
}

fn load_calendar(path: Option<&std::path::Path>) -> Result<(Calendar, String)> {
    Ok(match path {
        Some(p) => (Calendar::from_file(p)?, p.display().to_string()),
        None => (Calendar::england_and_wales(), "built-in".to_string()),
    })
}

fn main() -> ExitCode {
    tune_allocator();
    match run() {
        Ok(code) => code,
        Err(e) => {
            tell!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode> {
    match Cli::parse().command {
        Command::Check {
            data,
            map,
            as_of,
            format,
            strict,
            limit,
            calendar,
        } => {
            let (cal, source) = load_calendar(calendar.as_deref())?;
            let today = chrono::Local::now().date_naive();
            // The report is all `check` shows: no frame column is built.
            let none = FrameColumns::Only(Default::default());
            let mut extracts = load_data(&data, map.as_deref(), as_of, today, none)?;
            extracts.note_calendar(&cal, &source);
            let report = &extracts.report;
            match format {
                ReportFormat::Text => say_raw!("{}", report.to_text(limit)),
                ReportFormat::Json => say!("{}", report.to_json()),
            }
            let code = if report.has_fatal() {
                ExitCode::from(2)
            } else if strict && report.rows_rejected() > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
            leave_to_exit(extracts);
            Ok(code)
        }
        Command::Metrics {
            data,
            map,
            metrics,
            grain,
            from,
            to,
            as_of,
            by,
            only,
            format,
            out,
            calendar,
            list,
        } => {
            // Before anything runs: never into an input or a sample, never over a device.
            if let Some(path) = &out {
                let defs = metrics_dir(metrics.as_deref());
                let mut inputs: Vec<&std::path::Path> = data.iter().map(PathBuf::as_path).collect();
                inputs.extend(defs.as_deref());
                inputs.extend(calendar.as_deref());
                csc_audit::fsutil::check_output(path, &inputs).map_err(anyhow::Error::msg)?;
                csc_audit::fsutil::refuse_irregular(path)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            let mut lib = load_library(metrics.as_deref())?;
            if !only.is_empty() {
                lib.select(&only).map_err(anyhow::Error::msg)?;
            }
            if list {
                for m in &lib.metrics {
                    say!("{:<30} {:<13} {}", m.id, m.kind.name(), m.title);
                }
                return Ok(ExitCode::SUCCESS);
            }
            let grain = Grain::parse(&grain).expect("clap checks the grain");
            let period = |s: Option<String>| -> Result<Option<Period>> {
                s.map(|s| Period::parse(grain, &s).map_err(anyhow::Error::msg))
                    .transpose()
            };
            let opts = EvalOptions {
                grain,
                from: period(from)?,
                to: period(to)?,
                by,
                cases: false,
            };
            let format = match (format, &out) {
                (Some(f), _) => f,
                (None, Some(p)) => match p.extension().and_then(|e| e.to_str()) {
                    Some("json") => TableFormat::Json,
                    Some("xlsx") => TableFormat::Xlsx,
                    _ => TableFormat::Csv,
                },
                (None, None) => TableFormat::Csv,
            };
            if format == TableFormat::Xlsx && out.is_none() {
                anyhow::bail!("an xlsx workbook needs a file: add --out measures.xlsx");
            }
            let started = std::time::Instant::now();
            let columns = csc_audit::metrics::columns_read(&lib, &opts);
            csc_audit::ingest::trace_step(started, "measures: columns read planned");
            let (extracts, cal) =
                load_usable(&data, map.as_deref(), as_of, calendar.as_deref(), columns)?;
            let loaded = started.elapsed();
            let ev = csc_audit::metrics::evaluate(&extracts, &lib, &cal, &opts)?;
            let evaluated = started.elapsed() - loaded;
            for n in &ev.notes {
                tell!("note: {n}");
            }
            let bytes = match format {
                TableFormat::Csv => output::to_csv(&ev),
                TableFormat::Json => output::to_json(&ev, &lib),
                TableFormat::Xlsx => output::to_xlsx(&ev, &lib)?,
            };
            match out {
                Some(path) => {
                    csc_audit::fsutil::write_atomic(&path, &bytes)
                        .with_context(|| format!("writing {}", path.display()))?;
                    tell!(
                        "wrote {} rows for {} measures, {} to {} (as of {}), to {} \
                         (load and check {:.1} s, measures {:.1} s)",
                        ev.rows.len(),
                        lib.metrics.len(),
                        ev.periods.first().map(|p| p.label()).unwrap_or_default(),
                        ev.periods.last().map(|p| p.label()).unwrap_or_default(),
                        ev.as_of,
                        path.display(),
                        loaded.as_secs_f64(),
                        evaluated.as_secs_f64()
                    );
                }
                None => {
                    use std::io::Write;
                    std::io::stdout().write_all(&bytes)?;
                }
            }
            leave_to_exit((extracts, ev, bytes));
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { source } => {
            use csc_audit::import::{self, annex_a, cin_census, history, ssd};
            let (inputs, opts): (Vec<&std::path::Path>, _) = match &source {
                ImportSource::AnnexA { file, out }
                | ImportSource::CinCensus { file, out }
                | ImportSource::Ssd { file, out } => (vec![file.as_path()], out),
                ImportSource::History { sources, out } => {
                    (sources.iter().map(PathBuf::as_path).collect(), out)
                }
            };
            let file = inputs[0];
            // Before the import's work: never into the file imported, never into a sample.
            csc_audit::fsutil::check_output(&opts.out.join(import::IMPORT_REPORT), &inputs)
                .map_err(anyhow::Error::msg)?;
            csc_audit::fsutil::guard_extract_folder(
                &opts.out,
                import::IMPORT_REPORT,
                "an import",
                opts.force,
            )
            .map_err(anyhow::Error::msg)?;
            let mut extra: Vec<(String, Vec<u8>)> = Vec::new();
            let (tables, report, specs) = match &source {
                ImportSource::AnnexA { .. } => {
                    let (t, r) = annex_a::import(file)?;
                    (t, r, annex_a::tables())
                }
                ImportSource::CinCensus { .. } => {
                    let (t, r) = cin_census::import(file)?;
                    (t, r, cin_census::tables())
                }
                ImportSource::Ssd { .. } => {
                    let (t, r) = ssd::import(file)?;
                    (t, r, ssd::tables(file))
                }
                ImportSource::History { sources, .. } => {
                    let h = history::read(sources)?;
                    extra.push((
                        history::CHANGES_FILE.into(),
                        history::changes_csv(&h.changes),
                    ));
                    (h.tables, h.report, h.specs)
                }
            };
            let out = &opts.out;
            let mut files = tables.to_csv_files(&specs);
            files.push((import::IMPORT_REPORT.into(), report.to_json().into_bytes()));
            files.append(&mut extra);
            // Every file checked before any is written: never over the file imported, never
            // into a sample folder.
            for (name, _) in &files {
                csc_audit::fsutil::check_output(&out.join(name), &inputs)
                    .map_err(anyhow::Error::msg)?;
            }
            std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
            for (name, bytes) in files {
                let path = out.join(name);
                csc_audit::fsutil::write_atomic(&path, &bytes)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            match opts.format {
                ReportFormat::Text => say_raw!("{}", report.to_text()),
                ReportFormat::Json => say!("{}", report.to_json()),
            }
            tell!(
                "wrote the native tables to {}; `csc-audit check --data {}` checks them",
                out.display(),
                out.display()
            );
            let rejected = report.blocks.values().any(|b| b.rejected > 0);
            Ok(if opts.strict && rejected {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Map {
            action: MapAction::Init { dir, out, force },
        } => {
            csc_audit::fsutil::check_output(&out, &[dir.as_path()]).map_err(anyhow::Error::msg)?;
            if out.exists() && !force {
                anyhow::bail!("{} exists: give --force to replace it", out.display());
            }
            let text = csc_audit::import::map::init(&dir).map_err(anyhow::Error::msg)?;
            csc_audit::fsutil::write_atomic(&out, text.as_bytes())
                .with_context(|| format!("writing {}", out.display()))?;
            tell!(
                "wrote {}: check every line marked `# guess`, then `csc-audit check --data {} --map {}`",
                out.display(),
                dir.display(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Days {
            from,
            to,
            add,
            calendar,
        } => {
            let (cal, _) = load_calendar(calendar.as_deref())?;
            let (from_s, on) = (from.format("%a %d %b %Y"), cal.name.as_str());
            match (to, add) {
                (Some(to), _) => {
                    let n = cal.working_days_between(from, to)?;
                    say!(
                        "{n} working days from {from_s} to {} ({on})",
                        to.format("%a %d %b %Y")
                    );
                    let (lo, hi) = if from <= to { (from, to) } else { (to, from) };
                    for d in lo.iter_days().skip(1).take_while(|d| *d <= hi) {
                        if let Some(name) = cal.holiday_name(d) {
                            say!("  not counted: {} {name}", d.format("%a %d %b %Y"));
                        }
                    }
                    if n < 0 {
                        say!("  negative: the end is before the start");
                    }
                }
                (None, Some(n)) => {
                    let due = cal.add_working_days(from, n)?;
                    say!(
                        "{n} working days after {from_s} is {} ({on})",
                        due.format("%a %d %b %Y")
                    );
                }
                (None, None) => unreachable!("clap requires --to or --add"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Sample(args) => cmd::sample::run(args),
        Command::Chart(args) => cmd::chart::run(args),
        Command::Spc(args) => cmd::spc::run(args),
        Command::Due(args) => cmd::due::run(args),
        Command::Pack(args) => cmd::pack::run(args),
        Command::AuditResults(args) => cmd::sample::audit_results(args),
        Command::Synth {
            out,
            seed,
            years,
            last_year,
            scale,
            dirty,
            force,
        } => {
            csc_audit::fsutil::check_output(&out.join("synth.json"), &[])
                .map_err(anyhow::Error::msg)?;
            let opts = csc_audit::synth::SynthOptions {
                seed,
                years,
                last_year,
                scale,
                dirty,
            };
            let summary = csc_audit::synth::write(&out, &opts, force)
                .with_context(|| format!("writing {}", out.display()))?;
            tell!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
