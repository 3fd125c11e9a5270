//! `csc-audit due`: the managers' worklist, every open case due or overdue.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use csc_audit::metrics::due::{self, DueOptions, DueStatus, Worklist};
use csc_audit::worklist::{self, By};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Csv,
    Json,
    Xlsx,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ByArg {
    Team,
    Worker,
}

#[derive(clap::Args)]
pub struct DueArgs {
    /// Folder holding the extract CSV files (or any input `check` reads); given more than
    /// once, the returns are merged into one history.
    #[arg(long, default_value = "sample_data", action = clap::ArgAction::Append)]
    data: Vec<PathBuf>,
    /// A column map (TOML): read --data, a council's own export, through it.
    #[arg(long)]
    map: Option<PathBuf>,
    /// The day the list is for (a weekend or bank holiday counts as the working day before
    /// it); default: the latest event date in the data.
    #[arg(long, value_parser = crate::parse_cli_date)]
    as_of: Option<NaiveDate>,
    /// List the cases due within this many working days (`due_soon`), besides those due
    /// today and overdue.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=260))]
    within: u32,
    /// Leave out cases whose clock started before this date (a referral from years ago
    /// whose feedback was never recorded); they are counted, not listed.
    #[arg(long, value_parser = crate::parse_cli_date)]
    since: Option<NaiveDate>,
    /// Group the xlsx sheets and the summary by team or by worker.
    #[arg(long, value_enum, default_value = "team")]
    by: ByArg,
    /// Only these measures (comma-separated ids).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Output format; default: from the --out extension, else csv.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// The file to write (child-level: never into the data or an audit sample). A CSV is
    /// written with the cases that cannot be timed beside it (`NAME.excluded.csv`).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    sources: super::Sources,
}

/// The file beside a CSV worklist that lists the cases that cannot be timed.
fn excluded_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map_or("due".into(), |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}.excluded.csv"))
}

fn format_of(a: &DueArgs) -> Format {
    match (a.format, a.out.extension().and_then(|e| e.to_str())) {
        (Some(f), _) => f,
        (None, Some("json")) => Format::Json,
        (None, Some("xlsx")) => Format::Xlsx,
        (None, _) => Format::Csv,
    }
}

pub fn run(a: DueArgs) -> Result<ExitCode> {
    let format = format_of(&a);
    let mut outs = vec![a.out.clone()];
    if format == Format::Csv {
        outs.push(excluded_path(&a.out));
    }
    // Before anything runs: a child-level list never goes into an input or a sample.
    let defs = crate::metrics_dir(a.sources.metrics.as_deref());
    let mut inputs: Vec<&Path> = a.data.iter().map(PathBuf::as_path).collect();
    inputs.extend(defs.as_deref());
    inputs.extend(a.sources.calendar.as_deref());
    inputs.extend(a.map.as_deref());
    for o in &outs {
        csc_audit::fsutil::check_output(o, &inputs).map_err(anyhow::Error::msg)?;
        csc_audit::fsutil::refuse_irregular(o)
            .with_context(|| format!("writing {}", o.display()))?;
    }
    let mut lib = crate::load_library(a.sources.metrics.as_deref())?;
    if !a.only.is_empty() {
        lib.select(&a.only).map_err(anyhow::Error::msg)?;
    }
    let (extracts, cal) = crate::load_usable(
        &a.data,
        a.map.as_deref(),
        a.as_of,
        a.sources.calendar.as_deref(),
        csc_audit::metrics::due_columns_read(&lib),
    )?;
    let opts = DueOptions {
        within: i64::from(a.within),
        since: a.since,
    };
    let list = due::due(&extracts, &lib, &cal, &opts)?;
    for n in &list.notes {
        tell!("note: {n}");
    }
    let by = match a.by {
        ByArg::Team => By::Team,
        ByArg::Worker => By::Worker,
    };
    let mut files: Vec<(PathBuf, Vec<u8>)> = vec![(
        a.out.clone(),
        match format {
            Format::Csv => worklist::to_csv(&list),
            Format::Json => worklist::to_json(&list, by).into_bytes(),
            Format::Xlsx => worklist::to_xlsx(&list, by)?,
        },
    )];
    if format == Format::Csv {
        files.push((excluded_path(&a.out), worklist::excluded_csv(&list)));
    }
    for (path, bytes) in &files {
        csc_audit::fsutil::write_atomic(path, bytes)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    tell!("{}", said(&list, &files[0].0));
    if list.older > 0 {
        tell!(
            "{} whose clock started before {} left out (--since)",
            cases(list.older),
            a.since.map(|d| d.to_string()).unwrap_or_default()
        );
    }
    if !list.excluded.is_empty() {
        let place = match format {
            Format::Csv => files[1].0.display().to_string(),
            Format::Json => "its `excluded` list".to_string(),
            Format::Xlsx => "its `excluded` sheet".to_string(),
        };
        tell!(
            "{} cannot be timed (no start date, a missing link, closed without the event): \
             listed apart in {place}, with the reason",
            cases(list.excluded.len() as u64)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What was written, in a line: the counts by status.
fn said(list: &Worklist, path: &Path) -> String {
    let n = |s: DueStatus| list.cases.iter().filter(|c| c.status == s).count();
    format!(
        "wrote {} for {} measures as of {} to {}: {} overdue, {} due today, {} due within {} \
         working days",
        cases(list.cases.len() as u64),
        list.measures.len(),
        list.as_of.format("%a %d %b %Y"),
        path.display(),
        n(DueStatus::Overdue),
        n(DueStatus::DueToday),
        n(DueStatus::DueSoon),
        list.within
    )
}

/// "1 case", "2 cases".
fn cases(n: u64) -> String {
    format!("{n} case{}", if n == 1 { "" } else { "s" })
}
