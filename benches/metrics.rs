//! The whole metric library, the monthly audit sample and the quarterly pack over one
//! council (criterion), and, when `CSC_AUDIT_BENCH_DATA` names a folder (for example
//! `synth --scale 190 --years 6`, England), one timed run over it that reports load time,
//! evaluation time and peak memory:
//!
//! ```sh
//! target/release/csc-audit synth --out /tmp/england --scale 190 --years 6 --seed 1
//! CSC_AUDIT_BENCH_DATA=/tmp/england cargo bench --bench metrics
//! ```

use chrono::NaiveDate;
use criterion::Criterion;
use csc_audit::calendar::Calendar;
use csc_audit::ingest::{load, LoadOptions};
use csc_audit::metrics::{evaluate, EvalOptions, Library};
use csc_audit::periods::{Grain, Period};
use csc_audit::sampling::{draw, DrawInputs, SamplePlan};
use csc_audit::synth::{write, SynthOptions};
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

// As the binary: mimalloc, so the figures are what `csc-audit metrics` does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn load_opts() -> LoadOptions {
    LoadOptions {
        as_of: None,
        today: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        columns: Default::default(),
    }
}

fn monthly() -> EvalOptions {
    EvalOptions {
        grain: Grain::Month,
        from: None,
        to: None,
        by: vec!["team".into()],
        cases: false,
    }
}

/// Peak resident memory of this process so far (Linux), in MB.
fn peak_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn national(dir: &Path) {
    let cal = Calendar::england_and_wales();
    let lib = Library::builtin();
    let t0 = Instant::now();
    let ex = load(dir, &load_opts()).unwrap();
    let loaded = t0.elapsed();
    let rows: u64 = ex.report.tables.iter().map(|t| t.rows_read).sum();
    let t1 = Instant::now();
    let ev = evaluate(&ex, &lib, &cal, &monthly()).unwrap();
    let evaluated = t1.elapsed();
    println!(
        "national: {} rows read; load and check {:.1} s; {} measures x {} months by team \
         ({} output rows) {:.1} s; total {:.1} s; peak memory {:.0} MB",
        rows,
        loaded.as_secs_f64(),
        lib.metrics.len(),
        ev.periods.len(),
        ev.rows.len(),
        evaluated.as_secs_f64(),
        t0.elapsed().as_secs_f64(),
        peak_mb().unwrap_or(f64::NAN)
    );
}

fn main() {
    if let Ok(dir) = std::env::var("CSC_AUDIT_BENCH_DATA") {
        national(Path::new(&dir));
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    let cal = Calendar::england_and_wales();
    let lib = Library::builtin();
    let dir = tempfile::tempdir().unwrap();
    let synth = SynthOptions {
        seed: 7,
        ..SynthOptions::default()
    };
    write(dir.path(), &synth, false).unwrap();
    let ex = load(dir.path(), &load_opts()).unwrap();
    let mut g = c.benchmark_group("council");
    g.sample_size(10);
    g.bench_function("evaluate every measure, 24 months by team", |b| {
        b.iter(|| evaluate(black_box(&ex), &lib, &cal, &monthly()).unwrap())
    });
    g.bench_function("load, check and evaluate every measure", |b| {
        b.iter(|| {
            let ex = load(black_box(dir.path()), &load_opts()).unwrap();
            evaluate(&ex, &lib, &cal, &monthly()).unwrap()
        })
    });
    // The monthly audit sample of audits/monthly.toml: population, breaches (three measures
    // over three months, case by case), strata, allocation, draw and auditors.
    let plan_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("audits/monthly.toml");
    let plan = SamplePlan::load(&plan_path).unwrap();
    let period = Period::parse(Grain::Month, &ex.as_of.format("%Y-%m").to_string()).unwrap();
    g.bench_function("draw the monthly audit sample", |b| {
        b.iter(|| {
            draw(
                black_box(&plan),
                &DrawInputs {
                    extracts: &ex,
                    library: &lib,
                    calendar: &cal,
                    period,
                    seed: 1,
                    extensions: &[],
                },
            )
            .unwrap()
        })
    });
    // The quarterly pack: measures by month and quarter, 150 charts in SVG and PNG, the
    // workbook, CSV, Parquet and the report (the audit sample is benched above).
    let quarter = csc_audit::pack::latest_complete_quarter(ex.as_of);
    g.bench_function("build the quarterly pack", |b| {
        b.iter(|| {
            csc_audit::pack::build(
                &csc_audit::pack::PackInputs {
                    extracts: black_box(&ex),
                    library: &lib,
                    calendar: &cal,
                    quarter,
                    profile: csc_audit::pack::Profile::Internal,
                    sample: None,
                },
                &|_| {},
            )
            .unwrap()
        })
    });
    g.finish();
    c.final_summary();
}
