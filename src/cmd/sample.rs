//! `csc-audit sample` (draw, verify, extend, size) and `csc-audit audit-results`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use csc_audit::metrics::Library;
use csc_audit::periods::Period;
use csc_audit::sampling::{self, folder, manifest, results, DrawInputs, Sample, SamplePlan};

use super::Sources;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SampleArgs {
    #[command(subcommand)]
    action: Option<SampleAction>,
    #[command(flatten)]
    draw: DrawArgs,
}

#[derive(clap::Args)]
struct DrawArgs {
    /// The sample plan (TOML).
    #[arg(long, default_value = "audits/monthly.toml")]
    plan: PathBuf,
    /// Folder of extracts, an Annex A workbook or a CIN census file.
    #[arg(long, default_value = "sample_data")]
    data: PathBuf,
    /// The period to sample, as the plan's grain writes it: `2024-11`, `2024-25 Q3`.
    #[arg(long)]
    period: Option<String>,
    /// The seed (record it: with the same data and plan it gives the same sample).
    #[arg(long)]
    seed: Option<u64>,
    /// Folder to write sample.csv, sample.xlsx and manifest.json into.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Extract date; default: the latest event date in the data.
    #[arg(long, value_parser = crate::parse_cli_date)]
    as_of: Option<NaiveDate>,
    #[command(flatten)]
    common: Sources,
    /// Replace a sample already in --out.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Subcommand)]
enum SampleAction {
    /// Re-draws a sample from its manifest and the data: exit 0 when identical, 1 naming
    /// each difference (changed data, changed plan, edited sample), 2 on an error.
    Verify {
        /// The sample folder (holding manifest.json).
        dir: PathBuf,
        /// The data to re-draw from; default: the path recorded in the manifest.
        #[arg(long)]
        data: Option<PathBuf>,
        #[command(flatten)]
        common: Sources,
    },
    /// Adds cases to a sample by continuing each stratum's stream: the cases already drawn
    /// stay, in the same order; the new ones are `round` 2, 3, ...
    Extend {
        /// The sample folder (holding manifest.json).
        dir: PathBuf,
        /// How many cases to add (allocated to strata as the plan allocates).
        #[arg(long)]
        add: u64,
        /// The data the sample was drawn from; default: the path recorded in the manifest.
        #[arg(long)]
        data: Option<PathBuf>,
        #[command(flatten)]
        common: Sources,
    },
    /// Sample sizes: for estimating a proportion within a margin, and for discovery (how
    /// many cases with no failure show the failure rate is below a tolerable rate).
    Size {
        /// Cases in the population (finite population correction); omit for a large one.
        #[arg(long)]
        population: Option<u64>,
        /// Margin of error, as a proportion (0.05 = +/- 5 points).
        #[arg(long, default_value_t = 0.05)]
        margin: f64,
        #[arg(long, default_value_t = 0.95)]
        confidence: f64,
        /// The proportion expected (0.5 when unknown gives the largest size).
        #[arg(long, default_value_t = 0.5)]
        expected: f64,
        /// Also the discovery size for this tolerable failure rate (0.05 = 5%).
        #[arg(long)]
        tolerable_rate: Option<f64>,
    },
}

#[derive(clap::Args)]
pub struct AuditResultsArgs {
    /// The sample folder the audits were drawn into.
    #[arg(long)]
    sample: PathBuf,
    /// Completed audits (CSV or xlsx): case_id, grade, and yes/no answers per question.
    #[arg(long)]
    results: PathBuf,
    /// Folder to write estimates.csv and not_audited.csv into.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, default_value_t = 0.95)]
    confidence: f64,
}

/// Everything a draw reads, loaded once.
struct Loaded {
    extracts: csc_audit::ingest::Extracts,
    calendar: csc_audit::calendar::Calendar,
    calendar_name: String,
    library: Library,
}

fn load(data: &Path, as_of: Option<NaiveDate>, common: &Sources) -> Result<Loaded> {
    let library = crate::load_library(common.metrics.as_deref())?;
    let (extracts, calendar) = crate::load_usable(data, as_of, common.calendar.as_deref())?;
    Ok(Loaded {
        extracts,
        calendar_name: calendar.name.clone(),
        calendar,
        library,
    })
}

/// A sample folder's manifest, the data to re-draw from (the recorded path unless given),
/// its plan, and the input files as they are now.
fn recorded(
    dir: &Path,
    data: Option<PathBuf>,
    common: &Sources,
) -> Result<(
    manifest::Recorded,
    PathBuf,
    SamplePlan,
    Vec<manifest::InputFile>,
)> {
    let r = manifest::read(dir)?;
    let data = data.unwrap_or_else(|| r.data.clone());
    let plan = folder::recorded_plan(&r)?;
    let now = manifest::input_files(
        &data,
        folder::history_path(&plan).as_deref(),
        common.calendar.as_deref(),
    )?;
    Ok((r, data, plan, now))
}

fn draw_with(
    plan: &SamplePlan,
    l: &Loaded,
    period: &str,
    seed: u64,
    extensions: &[u64],
) -> Result<Sample> {
    let period = Period::parse(plan.population.period, period).map_err(anyhow::Error::msg)?;
    Ok(sampling::draw(
        plan,
        &DrawInputs {
            extracts: &l.extracts,
            library: &l.library,
            calendar: &l.calendar,
            period,
            seed,
            extensions,
        },
    )?)
}

fn summary(s: &Sample, out: &Path) {
    eprintln!(
        "{} ({}): {} cases in the population, {} excluded, {} drawn in {} strata, seed {}",
        s.plan.title,
        s.period.label(),
        s.cases.len(),
        s.excluded.len(),
        s.selected.len(),
        s.strata.len(),
        s.seed
    );
    for st in &s.strata {
        eprintln!(
            "  {:<40} N = {:>5}  n = {:>4}{}",
            st.name,
            st.population(),
            st.size(),
            if st.census { "  (census)" } else { "" }
        );
    }
    for n in &s.notes {
        eprintln!("note: {n}");
    }
    eprintln!(
        "wrote {}, {} and {} to {}; `csc-audit sample verify {}` re-draws it",
        manifest::SAMPLE_CSV,
        manifest::SAMPLE_XLSX,
        manifest::MANIFEST,
        out.display(),
        out.display()
    );
}

pub fn run(args: SampleArgs) -> Result<ExitCode> {
    match args.action {
        None => {
            let d = args.draw;
            let (Some(period), Some(seed), Some(out)) = (&d.period, d.seed, &d.out) else {
                anyhow::bail!(
                    "a draw needs --period, --seed and --out, for example: csc-audit sample \
                     --plan {} --period 2024-11 --seed 20241201 --out audits/2024-11",
                    d.plan.display()
                );
            };
            let plan = SamplePlan::load(&d.plan)?;
            folder::refuse_existing(out, d.force)?;
            let l = load(&d.data, d.as_of, &d.common)?;
            let s = draw_with(&plan, &l, period, seed, &[])?;
            folder::write_new(
                out,
                &s,
                &folder::Provenance {
                    data: &d.data,
                    calendar_file: d.common.calendar.as_deref(),
                    calendar_name: &l.calendar_name,
                    metrics_origin: &l.library.origin,
                },
                d.force,
            )?;
            summary(&s, out);
            Ok(ExitCode::SUCCESS)
        }
        Some(SampleAction::Verify { dir, data, common }) => {
            let (r, data, plan, now) = recorded(&dir, data, &common)?;
            let mut diffs = folder::changed_inputs(&r, &now);
            let l = load(&data, Some(r.as_of), &common)?;
            let s = draw_with(&plan, &l, &r.period, r.seed, &r.extensions)?;
            diffs.extend(folder::compare(
                &dir,
                &r,
                &s,
                &folder::Provenance {
                    data: &data,
                    calendar_file: common.calendar.as_deref(),
                    calendar_name: &l.calendar_name,
                    metrics_origin: &l.library.origin,
                },
            )?);
            if diffs.is_empty() {
                println!(
                    "verified: {} re-drawn from {} with seed {} gives the same {} cases and \
                     the same files",
                    dir.display(),
                    data.display(),
                    r.seed,
                    s.selected.len()
                );
                Ok(ExitCode::SUCCESS)
            } else {
                println!("NOT verified: {} differs from its re-draw:", dir.display());
                for d in diffs {
                    println!("  - {d}");
                }
                Ok(ExitCode::from(1))
            }
        }
        Some(SampleAction::Extend {
            dir,
            add,
            data,
            common,
        }) => {
            let (r, data, plan, now) = recorded(&dir, data, &common)?;
            let changed = folder::changed_inputs(&r, &now);
            if !changed.is_empty() {
                anyhow::bail!(
                    "cannot extend {}: the streams continue only from the same data and \
                     plan:\n  {}",
                    dir.display(),
                    changed.join("\n  ")
                );
            }
            let l = load(&data, Some(r.as_of), &common)?;
            let before = draw_with(&plan, &l, &r.period, r.seed, &r.extensions)?;
            let prov = folder::Provenance {
                data: &data,
                calendar_file: common.calendar.as_deref(),
                calendar_name: &l.calendar_name,
                metrics_origin: &l.library.origin,
            };
            let diffs = folder::compare(&dir, &r, &before, &prov)?;
            if !diffs.is_empty() {
                anyhow::bail!(
                    "cannot extend {}: it is not what its manifest re-draws:\n  {}",
                    dir.display(),
                    diffs.join("\n  ")
                );
            }
            let mut ext = r.extensions.clone();
            ext.push(add);
            let s = draw_with(&plan, &l, &r.period, r.seed, &ext)?;
            folder::write_extended(&dir, &s, &prov, &r.inputs)?;
            eprintln!(
                "added {} cases to {} (round {}); {} in all",
                s.selected.len() - before.selected.len(),
                dir.display(),
                ext.len() + 1,
                s.selected.len()
            );
            for n in &s.notes {
                eprintln!("note: {n}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(SampleAction::Size {
            population,
            margin,
            confidence,
            expected,
            tolerable_rate,
        }) => {
            for (name, v) in [
                ("margin", margin),
                ("confidence", confidence),
                ("expected", expected),
            ] {
                if !(v > 0.0 && v < 1.0) {
                    anyhow::bail!("--{name} {v}: give a proportion between 0 and 1");
                }
            }
            let (n0, n) = csc_audit::stats::sample_size(margin, confidence, expected, population);
            println!(
                "to estimate a proportion near {:.0}% within +/- {:.1} points at {:.0}% \
                 confidence:",
                expected * 100.0,
                margin * 100.0,
                confidence * 100.0
            );
            match (population, n) {
                (Some(pop), Some(n)) => {
                    println!("  {n} cases from a population of {pop} ({n0} for a large population)")
                }
                _ => println!("  {n0} cases (a large population; give --population N)"),
            }
            if let Some(rate) = tolerable_rate {
                if !(rate > 0.0 && rate < 1.0) {
                    anyhow::bail!("--tolerable-rate {rate}: give a proportion between 0 and 1");
                }
                let d = csc_audit::stats::discovery_size(rate, confidence);
                println!(
                    "discovery: {d} cases with no failure show at {:.0}% confidence that \
                     fewer than {:.1}% of cases fail",
                    confidence * 100.0,
                    rate * 100.0
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn audit_results(a: AuditResultsArgs) -> Result<ExitCode> {
    if !(a.confidence > 0.0 && a.confidence < 1.0) {
        anyhow::bail!(
            "--confidence {}: give a proportion between 0 and 1",
            a.confidence
        );
    }
    let sample = results::SampleFrame::read(&a.sample)?;
    let r = results::estimate(&sample, &a.results, a.confidence)?;
    print!("{}", results::to_text(&r));
    if let Some(out) = &a.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        for (name, bytes) in [
            ("estimates.csv", results::estimates_csv(&r)),
            ("not_audited.csv", results::not_audited_csv(&r)),
        ] {
            let p = out.join(name);
            csc_audit::fsutil::write_atomic(&p, &bytes)
                .with_context(|| format!("writing {}", p.display()))?;
        }
        eprintln!(
            "wrote estimates.csv and not_audited.csv (child-level: keep it internal) to {}",
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
