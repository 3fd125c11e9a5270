//! `csc-audit sample` (draw, verify, extend, size) and `csc-audit audit-results`.

use std::collections::BTreeMap;
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
    /// Folder to write sample.csv, sample.xlsx, manifest.json and the auditors' forms/ into.
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
    /// each difference (changed data, changed plan, edited sample or manifest), 2 on an
    /// error. The whole manifest is re-rendered from the re-draw and compared byte for byte;
    /// --data, --metrics and --calendar default to the locations it records.
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
    #[arg(long, required_unless_present = "forms", conflicts_with = "forms")]
    results: Option<PathBuf>,
    /// The folder of returned audit forms (the workbooks or CSVs `sample` wrote into
    /// forms/, filled in): read against the sample, with the chasing list and the
    /// agreement between auditors and moderators.
    #[arg(long)]
    forms: Option<PathBuf>,
    /// With --forms: leave out the forms with problems (listed) instead of stopping.
    #[arg(long, requires = "forms")]
    skip_invalid: bool,
    /// With --forms: the day the chasing list is for (default: today).
    #[arg(long, value_parser = crate::parse_cli_date, requires = "forms")]
    as_of: Option<NaiveDate>,
    /// Folder to write estimates.csv and not_audited.csv into (with --forms also
    /// outstanding.csv, agreement.csv and disagreements.csv); not the sample folder.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, default_value_t = 0.95)]
    confidence: f64,
    /// The data the sample was drawn from, to verify it first; default: the path recorded
    /// in its manifest.
    #[arg(long)]
    data: Option<PathBuf>,
    #[command(flatten)]
    sources: Sources,
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
    load_with(data, as_of, common.calendar.as_deref(), library)
}

fn load_with(
    data: &Path,
    as_of: Option<NaiveDate>,
    calendar: Option<&Path>,
    library: Library,
) -> Result<Loaded> {
    let (extracts, calendar) = crate::load_usable(
        &[data.to_path_buf()],
        None,
        as_of,
        calendar,
        csc_audit::ingest::FrameColumns::All,
    )?;
    Ok(Loaded {
        extracts,
        calendar_name: calendar.name.clone(),
        calendar,
        library,
    })
}

/// A sample folder that verified: its manifest, the re-draw (the same sample, file for
/// file), and what it was re-drawn from.
struct Verified {
    recorded: manifest::Recorded,
    plan: SamplePlan,
    data: PathBuf,
    calendar_file: Option<PathBuf>,
    loaded: Loaded,
    sample: Sample,
    /// The input files now, named as the manifest names them (equal to those recorded).
    inputs: Vec<manifest::InputFile>,
}

impl Verified {
    /// Where the draw read from, as the manifest records it.
    fn provenance(&self) -> folder::Provenance<'_> {
        folder::Provenance {
            data: &self.recorded.data,
            calendar_file: self.calendar_file.as_deref(),
            calendar_name: &self.loaded.calendar_name,
            metrics_origin: &self.recorded.metrics,
        }
    }
}

/// Why a sample folder did not verify.
enum NotVerified {
    /// It differs from its re-draw (or its manifest is damaged): each difference.
    Differs(Vec<String>),
    /// It could not be re-drawn (no manifest, the data or plan cannot be read).
    Failed(anyhow::Error),
}

impl NotVerified {
    /// The refusal of a command that needs a verified sample.
    fn refuse(self, dir: &Path, doing: &str) -> anyhow::Error {
        match self {
            NotVerified::Differs(d) => anyhow::anyhow!(
                "{doing}: {} does not verify (it is not what its plan, seed and data give):\n  \
                 - {}\n`csc-audit sample verify {}` re-draws it; if the data or plan changed, \
                 draw a new sample",
                dir.display(),
                d.join("\n  - "),
                dir.display()
            ),
            NotVerified::Failed(e) => {
                e.context(format!("{doing}: {} cannot be verified", dir.display()))
            }
        }
    }
}

/// The one check that `sample verify`, `sample extend` and `audit-results` share: reads the
/// manifest, hashes the input files now (never trusting the manifest's hashes), re-draws
/// from the plan text, period, seed, as-of date and extensions recorded, and compares every
/// file of the folder, the manifest re-rendered from the re-draw included, byte for byte
/// (see `manifest::manifest` for the fields that are locations). `data` and `common` override
/// the recorded locations.
fn verified(dir: &Path, data: Option<PathBuf>, common: &Sources) -> Result<Verified, NotVerified> {
    let damaged = |e: csc_audit::sampling::SampleError| {
        if dir.join(manifest::MANIFEST).is_file() {
            NotVerified::Differs(vec![e.to_string()])
        } else {
            NotVerified::Failed(e.into())
        }
    };
    let recorded = manifest::read(dir).map_err(damaged)?;
    let plan = folder::recorded_plan(&recorded).map_err(damaged)?;
    let data = data.unwrap_or_else(|| recorded.data.clone());
    let calendar_file = common
        .calendar
        .clone()
        .or_else(|| recorded.input("calendar").map(|f| PathBuf::from(&f.name)));
    let failed = NotVerified::Failed;
    let mut now = manifest::input_files(
        &data,
        folder::history_path(&plan).as_deref(),
        calendar_file.as_deref(),
    )
    .map_err(|e| failed(e.into()))?;
    // A calendar given instead of the recorded one is named as recorded (see
    // manifest::manifest on locations); its hash must still match.
    if common.calendar.is_some() {
        if let (Some(f), Some(rec)) = (
            now.iter_mut().find(|f| f.role == "calendar"),
            recorded.input("calendar"),
        ) {
            f.name = rec.name.clone();
        }
    }
    let library = match (&common.metrics, recorded.metrics.as_str()) {
        (Some(dir), _) => Library::load_dir(dir),
        (None, "built-in") => Ok(Library::builtin()),
        (None, origin) => Library::load_dir(Path::new(origin)),
    }
    .map_err(|e| failed(e.into()))?;
    let loaded = load_with(
        &data,
        Some(recorded.as_of),
        calendar_file.as_deref(),
        library,
    )
    .map_err(failed)?;
    let sample = draw_with(
        &plan,
        &loaded,
        &recorded.period,
        recorded.seed,
        &recorded.extensions,
    )
    .map_err(|e| NotVerified::Differs(vec![format!("the manifest does not re-draw: {e:#}")]))?;
    let v = Verified {
        inputs: now,
        recorded,
        plan,
        data,
        calendar_file,
        loaded,
        sample,
    };
    let diffs = folder::compare(dir, &v.recorded, &v.sample, &v.provenance(), &v.inputs)
        .map_err(|e| failed(e.into()))?;
    if !diffs.is_empty() {
        return Err(NotVerified::Differs(diffs));
    }
    Ok(v)
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
    tell!(
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
        tell!(
            "  {:<40} N = {:>5}  n = {:>4}{}",
            st.name,
            st.population(),
            st.size(),
            if st.census { "  (census)" } else { "" }
        );
    }
    for n in &s.notes {
        tell!("note: {n}");
    }
    tell!(
        "wrote {}, {} and {} to {}; `csc-audit sample verify {}` re-draws it",
        manifest::SAMPLE_CSV,
        manifest::SAMPLE_XLSX,
        manifest::MANIFEST,
        out.display(),
        out.display()
    );
    if !s.plan.questions.is_empty() {
        let auditors: std::collections::BTreeSet<&str> = s
            .selected
            .iter()
            .filter_map(|x| x.auditor.as_deref())
            .collect();
        let unassigned = s.selected.iter().filter(|x| x.auditor.is_none()).count();
        tell!(
            "wrote the audit forms to {}: one workbook (and CSV) for each of {} auditors{}, {} questions, due {}",
            out.join(sampling::forms::FORMS_DIR).display(),
            auditors.len(),
            if unassigned > 0 {
                format!(" and one of the {unassigned} cases with no auditor")
            } else {
                String::new()
            },
            s.plan.questions.len(),
            s.forms_due
                .map_or("on no set date".to_string(), |d| d.format("%a %-d %b %Y").to_string())
        );
        if !s.moderated.is_empty() {
            let moderators: std::collections::BTreeSet<&str> =
                s.moderated.iter().map(|m| m.moderator.as_str()).collect();
            tell!(
                "{} cases to moderate, on a form for each of {} moderators (forms/{}*)",
                s.moderated.len(),
                moderators.len(),
                sampling::forms::MODERATION_PREFIX
            );
        }
    }
}

/// The inputs a draw reads, which its --out may not be inside or hold.
fn draw_inputs(d: &DrawArgs, plan: &SamplePlan) -> Vec<PathBuf> {
    let mut v = vec![d.data.clone(), d.plan.clone()];
    v.extend(folder::history_path(plan));
    v.extend(crate::metrics_dir(d.common.metrics.as_deref()));
    v.extend(d.common.calendar.clone());
    v
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
            let inputs = draw_inputs(&d, &plan);
            let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
            csc_audit::fsutil::check_output_dir(out, &inputs).map_err(anyhow::Error::msg)?;
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
        Some(SampleAction::Verify { dir, data, common }) => match verified(&dir, data, &common) {
            Ok(v) => {
                say!(
                    "verified: {} re-drawn from {} with seed {} gives the same {} cases and \
                     the same files, the manifest byte for byte",
                    dir.display(),
                    v.data.display(),
                    v.recorded.seed,
                    v.sample.selected.len()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(NotVerified::Differs(diffs)) => {
                say!("NOT verified: {} differs from its re-draw:", dir.display());
                for d in diffs {
                    say!("  - {d}");
                }
                Ok(ExitCode::from(1))
            }
            Err(NotVerified::Failed(e)) => {
                Err(e.context(format!("{} cannot be verified", dir.display())))
            }
        },
        Some(SampleAction::Extend {
            dir,
            add,
            data,
            common,
        }) => {
            // Held until the extension is in place: two extensions never interleave.
            let _lock = csc_audit::fsutil::Lock::take(&dir).map_err(anyhow::Error::msg)?;
            let v = verified(&dir, data, &common).map_err(|e| e.refuse(&dir, "cannot extend"))?;
            let r = &v.recorded;
            let mut ext = r.extensions.clone();
            ext.push(add);
            let s = draw_with(&v.plan, &v.loaded, &r.period, r.seed, &ext)?;
            folder::write_extended(&dir, &s, &v.provenance(), &v.inputs)?;
            tell!(
                "added {} cases to {} (round {}); {} in all",
                s.selected.len() - v.sample.selected.len(),
                dir.display(),
                ext.len() + 1,
                s.selected.len()
            );
            for n in &s.notes {
                tell!("note: {n}");
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
            let (n0, n) = csc_audit::stats::sample_size(margin, confidence, expected, population)
                .map_err(anyhow::Error::msg)?;
            let discovery = tolerable_rate
                .map(|rate| {
                    csc_audit::stats::discovery_size(rate, confidence)
                        .map(|d| (rate, d))
                        .map_err(anyhow::Error::msg)
                })
                .transpose()?;
            say!(
                "to estimate a proportion near {:.0}% within +/- {:.1} points at {:.0}% \
                 confidence:",
                expected * 100.0,
                margin * 100.0,
                confidence * 100.0
            );
            match (population, n) {
                (Some(pop), Some(n)) => {
                    say!("  {n} cases from a population of {pop} ({n0} for a large population)")
                }
                _ => say!("  {n0} cases (a large population; give --population N)"),
            }
            if let Some((rate, d)) = discovery {
                // No sample is larger than its population: all of a small one is read.
                let cases = match population {
                    Some(pop) if d >= pop => format!("all {pop} cases (the whole population)"),
                    _ => format!("{d} cases"),
                };
                say!(
                    "discovery: {cases} with no failure show at {:.0}% confidence that \
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
    let outputs: &[&str] = match a.forms {
        Some(_) => &[
            "estimates.csv",
            "not_audited.csv",
            "outstanding.csv",
            "agreement.csv",
            "disagreements.csv",
        ],
        None => &["estimates.csv", "not_audited.csv"],
    };
    // Estimates rest on each stratum's population and the cases drawn: only from a sample
    // that is exactly what its plan, seed and data give.
    let v = verified(&a.sample, a.data.clone(), &a.sources)
        .map_err(|e| e.refuse(&a.sample, "no estimates"))?;
    let answers = a.results.as_deref().or(a.forms.as_deref()).expect("clap");
    if let Some(out) = &a.out {
        // Checked against what the verification read: the recorded data folder included.
        let plan_file = PathBuf::from(&v.recorded.plan_file);
        let mut inputs = vec![
            a.sample.as_path(),
            answers,
            v.data.as_path(),
            plan_file.as_path(),
        ];
        inputs.extend(v.calendar_file.as_deref());
        if v.recorded.metrics != "built-in" {
            inputs.push(Path::new(&v.recorded.metrics));
        }
        for name in outputs {
            csc_audit::fsutil::check_output(&out.join(name), &inputs)
                .map_err(anyhow::Error::msg)?;
        }
    }
    let (r, extra) = match &a.forms {
        None => {
            let sample = results::SampleFrame::from_sample(&v.sample);
            (
                results::estimate(&sample, answers, a.confidence)?,
                Vec::new(),
            )
        }
        Some(dir) => {
            let today = a.as_of.unwrap_or_else(|| chrono::Local::now().date_naive());
            let f = csc_audit::sampling::returns::forms_results(
                &v.sample,
                dir,
                &v.loaded.calendar,
                today,
                a.confidence,
                a.skip_invalid,
            )?;
            say_raw!("{}", forms_summary(&f, &v.sample));
            use csc_audit::sampling::returns as rt;
            let extra = vec![
                rt::outstanding_csv(&f.outstanding),
                rt::agreement_csv(&f.agreement),
                rt::disagreements_csv(&f.disagreements),
            ];
            (f.estimates, extra)
        }
    };
    say_raw!("{}", results::to_text(&r));
    if let Some(out) = &a.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let mut bytes = vec![results::estimates_csv(&r), results::not_audited_csv(&r)];
        bytes.extend(extra);
        for (name, bytes) in outputs.iter().zip(bytes) {
            let p = out.join(name);
            csc_audit::fsutil::write_atomic(&p, &bytes)
                .with_context(|| format!("writing {}", p.display()))?;
        }
        tell!(
            "wrote {} (child-level: keep it internal) to {}",
            outputs.join(", "),
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The returned forms of a sample folder, for the pack: the sample verified first; forms
/// with problems are left out (and listed in `skipped`).
pub(crate) fn returned_forms(
    dir: &Path,
    forms: &Path,
    sources: &Sources,
    today: NaiveDate,
) -> Result<(Sample, csc_audit::sampling::returns::FormsResults)> {
    let v = verified(dir, None, sources).map_err(|e| e.refuse(dir, "no audit findings"))?;
    let f = csc_audit::sampling::returns::forms_results(
        &v.sample,
        forms,
        &v.loaded.calendar,
        today,
        0.95,
        true,
    )?;
    Ok((v.sample, f))
}

/// What the forms brought back, in words: returned and outstanding by auditor, the
/// moderation, agreement per question, and what was left out.
fn forms_summary(f: &csc_audit::sampling::returns::FormsResults, s: &Sample) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let returned: usize = f
        .used
        .iter()
        .filter(|r| r.role == csc_audit::sampling::returns::Role::Audit)
        .map(|r| r.answers.len())
        .sum();
    let _ = writeln!(
        t,
        "Forms: {returned} of {} cases returned, {} outstanding (due {}); {} of {} moderated \
         cases back, {} answers moderated, {} changed by the moderator",
        s.selected.len(),
        f.outstanding.len(),
        s.forms_due.map_or("-".to_string(), |d| d.to_string()),
        f.used
            .iter()
            .filter(|r| r.role == csc_audit::sampling::returns::Role::Moderation)
            .map(|r| r.answers.len())
            .sum::<usize>(),
        s.moderated.len(),
        f.moderated,
        f.changed
    );
    let mut by: BTreeMap<(String, &str), usize> = BTreeMap::new();
    for o in &f.outstanding {
        *by.entry((o.holder.clone(), o.role.name())).or_default() += 1;
    }
    for ((who, role), n) in by {
        let _ = writeln!(t, "  outstanding: {who} ({role}): {n}");
    }
    for a in &f.agreement {
        let _ = match a.kappa {
            Some(k) => writeln!(
                t,
                "  agreement {:<28} {} cases, {:.0}% the same, kappa {:.2} ({:.2} to {:.2})",
                a.question,
                a.cases,
                100.0 * k.agreement,
                k.kappa,
                k.low,
                k.high
            ),
            None => writeln!(
                t,
                "  agreement {:<28} {} cases: kappa not defined",
                a.question, a.cases
            ),
        };
    }
    if !f.not_estimated.is_empty() {
        let _ = writeln!(
            t,
            "  not estimated (scales and text): {}",
            f.not_estimated.join(", ")
        );
    }
    for sk in &f.skipped {
        let _ = writeln!(t, "  skipped: {sk}");
    }
    for n in f.used.iter().flat_map(|r| &r.notes) {
        let _ = writeln!(t, "  note: {n}");
    }
    t
}
