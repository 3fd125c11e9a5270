//! `csc-audit pack`: the quarterly pack in one command.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use chrono::NaiveDate;
use csc_audit::pack::{self, folder as pack_folder, guard, PackInputs, Profile};
use csc_audit::periods::{Grain, Period};
use csc_audit::sampling::{self, folder, DrawInputs, SamplePlan};

#[derive(Clone, Copy, clap::ValueEnum)]
enum ProfileArg {
    Internal,
    Published,
}

#[derive(clap::Args)]
pub struct PackArgs {
    /// Folder of extracts, an Annex A workbook or a CIN census file.
    #[arg(long, default_value = "sample_data")]
    data: PathBuf,
    /// The financial quarter, like `2024-25 Q3`; default: the latest complete quarter.
    #[arg(long)]
    quarter: Option<String>,
    /// Folder to write the pack into: created, or with --force replaced whole (a pack is
    /// built beside it and moved into place only when complete).
    #[arg(long)]
    out: PathBuf,
    /// internal: everything (child-level lists in their own files); published: counts 1-5
    /// suppressed, with secondary suppression, and no identifiers anywhere.
    #[arg(long, value_enum, default_value = "internal")]
    profile: ProfileArg,
    /// The audit sample plan; default: audits/monthly.toml when it exists.
    #[arg(long)]
    plan: Option<PathBuf>,
    /// The audit sample's seed; default: the month as a number (202412 for December 2024).
    #[arg(long)]
    seed: Option<u64>,
    #[command(flatten)]
    sources: super::Sources,
    /// Extract date; default: the latest event date in the data.
    #[arg(long, value_parser = crate::parse_cli_date)]
    as_of: Option<NaiveDate>,
    /// Replace the whole --out folder (never merged with what it held).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    drawing: super::Drawing,
    /// A drawn audit sample folder whose returned forms (--audit-forms) give the audit
    /// findings page: verified first, as `audit-results` does.
    #[arg(long, requires = "audit_forms")]
    audit_sample: Option<PathBuf>,
    /// The folder of that sample's returned audit forms.
    #[arg(long, requires = "audit_sample")]
    audit_forms: Option<PathBuf>,
    /// The analyst's commentary (TOML: `[measure_id]` or `["area"]` with `text = "..."`),
    /// shown under the measure or area in the report and in the workbook.
    #[arg(long)]
    commentary: Option<PathBuf>,
}

/// Where an internal pack keeps this month's audit sample.
const CHILD_LEVEL: &str = "audit-sample-child-level";

/// A pack replaces its whole `--out` folder: never one that holds (or is inside) what the
/// pack reads, and never an audit sample (even with --force).
fn refuse_inputs(a: &PackArgs) -> Result<()> {
    let plan = a
        .plan
        .clone()
        .unwrap_or_else(|| PathBuf::from("audits/monthly.toml"));
    let history = SamplePlan::load(&plan)
        .ok()
        .and_then(|p| folder::history_path(&p));
    let defs = crate::metrics_dir(a.sources.metrics.as_deref());
    let mut inputs = vec![a.data.as_path(), plan.as_path()];
    inputs.extend(defs.as_deref());
    inputs.extend(a.sources.calendar.as_deref());
    inputs.extend(history.as_deref());
    inputs.extend(a.commentary.as_deref());
    inputs.extend(a.audit_sample.as_deref());
    inputs.extend(a.audit_forms.as_deref());
    csc_audit::fsutil::check_output_dir(&a.out, &inputs).map_err(anyhow::Error::msg)?;
    // The pack's own child-level sample is replaced with it; any other sample is not.
    if let Some(s) = csc_audit::fsutil::sample_within(&a.out, &a.out.join(CHILD_LEVEL)) {
        anyhow::bail!(
            "will not replace {}: it holds the audit sample {}, which --force would delete; \
             move the sample or choose another --out",
            a.out.display(),
            s.display()
        );
    }
    if csc_audit::fsutil::is_sample_folder(&a.out) {
        anyhow::bail!(
            "will not write the pack into {}: it is an audit sample folder; choose another --out",
            a.out.display()
        );
    }
    Ok(())
}

pub fn run(a: PackArgs) -> Result<ExitCode> {
    refuse_inputs(&a)?;
    // Refused before any work when the folder is not empty and --force is not given.
    pack_folder::check_target(&a.out, a.force)?;
    let profile = match a.profile {
        ProfileArg::Internal => Profile::Internal,
        ProfileArg::Published => Profile::Published,
    };
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let clock = std::time::Instant::now();
    // Each step's start is also a trace line (`CSC_AUDIT_TRACE`): the time the last one took.
    let step = |s: &str| {
        csc_audit::ingest::trace_step(clock, &format!("pack: {s}"));
        bar.set_message(s.to_string());
    };
    step("reading the data");
    let library = crate::load_library(a.sources.metrics.as_deref())?;
    let commentary = match &a.commentary {
        Some(p) => csc_audit::pack::words::Commentary::from_file(p, &library)
            .map_err(anyhow::Error::msg)?,
        None => csc_audit::pack::words::Commentary::default(),
    };
    // This month's audit sample: the last month of the quarter, when a plan exists.
    let plan_path = a
        .plan
        .clone()
        .or_else(|| Some(PathBuf::from("audits/monthly.toml")).filter(|p| p.is_file()));
    // A sample plan may name any column; without one the frames hold what the pack reads.
    let columns = match plan_path {
        Some(_) => csc_audit::ingest::FrameColumns::All,
        None => pack::columns_read(&library, profile),
    };
    let (mut ex, calendar) = crate::load_usable(
        std::slice::from_ref(&a.data),
        None,
        a.as_of,
        a.sources.calendar.as_deref(),
        columns,
    )
    .inspect_err(|_| bar.finish_and_clear())?;
    for note in pack::bound_labels(&mut ex) {
        bar.suspend(|| tell!("note: {note}"));
    }
    let quarter = match &a.quarter {
        Some(q) => Period::parse(Grain::Quarter, q).map_err(anyhow::Error::msg)?,
        None => pack::latest_complete_quarter(ex.as_of),
    };
    let month = Period::containing(Grain::Month, quarter.end().min(ex.as_of));
    let sample = match &plan_path {
        Some(p) => {
            step("the audit sample");
            let plan = SamplePlan::load(p)?;
            let seed = a
                .seed
                .unwrap_or_else(|| month.label().replace('-', "").parse().unwrap_or(1));
            let period = Period::containing(plan.population.period, month.start());
            Some(sampling::draw(
                &plan,
                &DrawInputs {
                    extracts: &ex,
                    library: &library,
                    calendar: &calendar,
                    period,
                    seed,
                    extensions: &[],
                },
            )?)
        }
        None => None,
    };
    let findings = match (&a.audit_sample, &a.audit_forms) {
        (Some(dir), Some(forms)) => {
            step("the returned audit forms");
            Some(super::sample::returned_forms(
                dir, forms, &a.sources, ex.as_of,
            )?)
        }
        _ => None,
    };
    for n in findings.iter().flat_map(|(_, f)| &f.skipped) {
        bar.suspend(|| tell!("note: audit forms: skipped {n}"));
    }
    let built = pack::build(
        &PackInputs {
            extracts: &ex,
            library: &library,
            calendar: &calendar,
            quarter,
            profile,
            sample: sample.as_ref(),
            spc: csc_audit::pack::SpcChoices {
                screen_outliers: a.drawing.screen_outliers,
                rebase: a.drawing.rebase.clone(),
                funnel_levels: a.drawing.funnel_levels()?,
            },
            commentary,
            findings: findings.as_ref().map(|(s, f)| (s, f)),
        },
        &step,
    )?;
    step("writing");
    let child_level = a.out.join(CHILD_LEVEL);
    let provenance = folder::Provenance {
        data: &a.data,
        calendar_file: a.sources.calendar.as_deref(),
        calendar_name: &calendar.name,
        metrics_origin: &library.origin,
    };
    let fill = |dir: &std::path::Path| -> Result<(), String> {
        for (name, bytes) in &built.files {
            pack_folder::write_file(dir, name, bytes)?;
        }
        if let (Some(s), Profile::Internal) = (&sample, profile) {
            folder::write_new(&dir.join(CHILD_LEVEL), s, &provenance, true)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    };
    // The published pack is read back from disk before it is moved into place.
    let check = |dir: &std::path::Path| -> Result<(), String> {
        match profile {
            Profile::Internal => Ok(()),
            Profile::Published => {
                step("checking every file for identifiers and small counts");
                guard::check_folder(dir, &guard::Identifiers::from_extracts(&ex))
            }
        }
    };
    pack_folder::write_pack(&a.out, a.force, fill, check)
        .inspect_err(|_| bar.finish_and_clear())?;
    let child_level = (sample.is_some() && profile == Profile::Internal).then_some(child_level);
    bar.finish_and_clear();
    let charts = built
        .files
        .iter()
        .filter(|(n, _)| n.starts_with("charts/"))
        .count();
    tell!(
        "the {} pack for {}, as of {}:",
        profile.name(),
        quarter.label(),
        ex.as_of
    );
    tell!(
        "  {}  the report (open in a browser; prints)",
        a.out.join("report.html").display()
    );
    tell!(
        "  {}  the data set, a sheet per area",
        a.out.join("dataset.xlsx").display()
    );
    tell!(
        "  {} and dataset.parquet  the same rows",
        a.out.join("dataset.csv").display()
    );
    tell!(
        "  {}  {charts} charts (SVG and PNG)",
        a.out.join("charts").display()
    );
    if let Some(d) = child_level {
        tell!(
            "  {}  this month's audit sample (CHILD-LEVEL: internal only)",
            d.display()
        );
    }
    tell!(
        "  {} measures; {} note{} (in the report and the workbook)",
        built.glance.len(),
        built.notes.len(),
        if built.notes.len() == 1 { "" } else { "s" }
    );
    crate::leave_to_exit((ex, built));
    Ok(ExitCode::SUCCESS)
}
