//! The `csc-audit` command line: argument parsing and exit codes over the library.

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};
use csc_audit::calendar::Calendar;
use csc_audit::ingest::{self, LoadOptions};
use std::path::PathBuf;
use std::process::ExitCode;

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

#[derive(Subcommand)]
enum Command {
    /// Data-quality report: every row of every extract loaded or rejected with its reason.
    ///
    /// Exit codes: 0 the data could be read (row problems are reported); 1 with --strict when
    /// any row was rejected; 2 when a required file or column is missing or a file cannot be read.
    Check {
        /// Folder holding the extract CSV files (children.csv, referrals.csv, ...).
        #[arg(long, default_value = "sample_data")]
        data: PathBuf,
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

fn parse_cli_date(s: &str) -> Result<NaiveDate, String> {
    csc_audit::values::parse_date(s)
        .map_err(|e| e.message)?
        .ok_or_else(|| "an empty date".to_string())
}

fn load_calendar(path: Option<&std::path::Path>) -> Result<(Calendar, String)> {
    Ok(match path {
        Some(p) => (Calendar::from_file(p)?, p.display().to_string()),
        None => (Calendar::england_and_wales(), "built-in".to_string()),
    })
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode> {
    match Cli::parse().command {
        Command::Check {
            data,
            as_of,
            format,
            strict,
            limit,
            calendar,
        } => {
            let (cal, source) = load_calendar(calendar.as_deref())?;
            let today = chrono::Local::now().date_naive();
            let mut extracts = ingest::load(&data, &LoadOptions { as_of, today })?;
            extracts.note_calendar(&cal, &source);
            let report = &extracts.report;
            match format {
                ReportFormat::Text => print!("{}", report.to_text(limit)),
                ReportFormat::Json => println!("{}", report.to_json()),
            }
            Ok(if report.has_fatal() {
                ExitCode::from(2)
            } else if strict && report.rows_rejected() > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
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
                    println!(
                        "{n} working days from {from_s} to {} ({on})",
                        to.format("%a %d %b %Y")
                    );
                    let (lo, hi) = if from <= to { (from, to) } else { (to, from) };
                    for d in lo.iter_days().skip(1).take_while(|d| *d <= hi) {
                        if let Some(name) = cal.holiday_name(d) {
                            println!("  not counted: {} {name}", d.format("%a %d %b %Y"));
                        }
                    }
                    if n < 0 {
                        println!("  negative: the end is before the start");
                    }
                }
                (None, Some(n)) => {
                    let due = cal.add_working_days(from, n)?;
                    println!(
                        "{n} working days after {from_s} is {} ({on})",
                        due.format("%a %d %b %Y")
                    );
                }
                (None, None) => unreachable!("clap requires --to or --add"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Synth {
            out,
            seed,
            years,
            last_year,
            scale,
            dirty,
            force,
        } => {
            let opts = csc_audit::synth::SynthOptions {
                seed,
                years,
                last_year,
                scale,
                dirty,
            };
            let summary = csc_audit::synth::write(&out, &opts, force)
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
