//! The synthetic council: reproducible, clean when asked, and every injected fault caught.

use crate::load_dir;
use chrono::NaiveDate;
use csc_audit::calendar::Calendar;
use csc_audit::report::Severity;
use csc_audit::synth::{generate, write, SynthOptions};
use std::collections::BTreeSet;

fn opts(seed: u64, scale: f64, dirty: bool) -> SynthOptions {
    SynthOptions {
        seed,
        scale,
        dirty,
        ..SynthOptions::default()
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_data() {
    let cal = Calendar::england_and_wales();
    let (a, _) = generate(&cal, &opts(7, 0.1, false)).unwrap();
    let (b, _) = generate(&cal, &opts(7, 0.1, false)).unwrap();
    let (c, _) = generate(&cal, &opts(8, 0.1, false)).unwrap();
    assert_eq!(a, b);
    let referrals = |files: &[(String, Vec<u8>)]| {
        files
            .iter()
            .find(|(n, _)| n == "referrals.csv")
            .unwrap()
            .1
            .clone()
    };
    assert_ne!(referrals(&a), referrals(&c));
    let names: Vec<&str> = a.iter().map(|(n, _)| n.as_str()).collect();
    for t in csc_audit::schema::TABLES {
        assert!(
            names.contains(&t.file_name().as_str()),
            "{} written",
            t.name
        );
    }
}

#[test]
fn clean_output_loads_without_a_single_issue() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &opts(7, 0.3, false), false).unwrap();
    let ex = load_dir(dir.path());
    assert_eq!(ex.as_of, NaiveDate::from_ymd_opt(2025, 3, 31).unwrap());
    let problems: Vec<_> = ex
        .report
        .issues
        .iter()
        .filter(|i| i.severity > Severity::Info)
        .collect();
    assert!(
        problems.is_empty(),
        "{:#?}",
        &problems[..problems.len().min(5)]
    );
    for t in &ex.report.tables {
        assert!(
            t.present && t.rows_read > 0 && t.rows_rejected == 0,
            "{t:?}"
        );
    }
}

#[test]
fn every_injected_fault_is_caught_and_nothing_else_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let summary = write(dir.path(), &opts(11, 0.3, true), false).unwrap();
    let ex = load_dir(dir.path());
    assert!(!ex.report.has_fatal());
    let mut faults = csv::Reader::from_path(dir.path().join("faults.csv")).unwrap();
    let faults: Vec<csv::StringRecord> = faults.records().map(|r| r.unwrap()).collect();
    assert_eq!(faults.len(), summary.faults);
    let kinds: BTreeSet<&str> = faults.iter().map(|f| f.get(5).unwrap()).collect();
    for rule in [
        "bad_date",
        "us_date",
        "excel_serial",
        "future_date",
        "too_old",
        "order",
        "missing_required",
        "duplicate_key",
        "bad_flag",
        "bad_code",
        "field_count",
        "dangling_link",
        "encoding",
    ] {
        assert!(kinds.contains(rule), "no {rule} fault injected");
    }
    let mut expected_rejected = BTreeSet::new();
    for f in &faults {
        let (table, line, rule, expected) = (
            f.get(0).unwrap(),
            f.get(2).unwrap().parse::<u64>().unwrap(),
            f.get(5).unwrap(),
            f.get(6).unwrap(),
        );
        let at_line = |i: &&csc_audit::report::Issue| {
            i.table == table && i.line == (line > 0).then_some(line)
        };
        let found: Vec<_> = ex.report.issues.iter().filter(at_line).collect();
        match expected {
            "rejected" => {
                assert!(
                    found
                        .iter()
                        .any(|i| i.rule == rule && i.severity == Severity::Error),
                    "{f:?} not caught: {found:?}"
                );
                expected_rejected.insert((table.to_string(), line));
            }
            "warning" => assert!(
                found
                    .iter()
                    .any(|i| i.rule == rule && i.severity == Severity::Warning),
                "{f:?}: {found:?}"
            ),
            "info" => assert!(
                found
                    .iter()
                    .any(|i| i.rule == rule && i.severity == Severity::Info),
                "{f:?}: {found:?}"
            ),
            "loads" => assert!(
                found.iter().all(|i| i.severity < Severity::Warning),
                "{f:?}: {found:?}"
            ),
            other => panic!("unknown expectation {other}"),
        }
    }
    // Rejected rows are exactly the rows a fault was put in: nothing lost, nothing extra.
    let rejected: BTreeSet<(String, u64)> = ex
        .report
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .map(|i| (i.table.clone(), i.line.unwrap()))
        .collect();
    assert_eq!(rejected, expected_rejected);
    for t in &ex.report.tables {
        assert_eq!(t.rows_read, t.rows_loaded + t.rows_rejected, "{}", t.table);
        let faults_here = expected_rejected
            .iter()
            .filter(|(tb, _)| *tb == t.table)
            .count() as u64;
        assert_eq!(t.rows_rejected, faults_here, "{}", t.table);
    }
    // The Windows-1252 names of workers.csv decode to exactly the names the clean run wrote
    // in UTF-8 (the dirty run uses the same seed, so the same workers).
    let clean = tempfile::tempdir().unwrap();
    write(clean.path(), &opts(11, 0.3, false), false).unwrap();
    let utf8 = std::fs::read_to_string(clean.path().join("workers.csv")).unwrap();
    let workers = ex
        .frame("workers")
        .unwrap()
        .column("worker")
        .unwrap()
        .str()
        .unwrap()
        .clone();
    let names: Vec<&str> = workers.iter().flatten().collect();
    assert!(
        names.iter().any(|n| !n.is_ascii()),
        "no accented names to test with"
    );
    for n in names {
        assert!(
            utf8.lines().any(|l| l.starts_with(&format!("{n},"))),
            "{n} garbled"
        );
    }
}

#[test]
fn a_median_council_lands_near_the_national_figures() {
    // Ranges from shared/domain.md: about 3,400 referrals and 1,300 S47s a year, re-referrals
    // about 22% (councils' IQR 16.9-23.0), ICPC within 15 working days about 80% (IQR
    // 76.1-89.3, wider here because one year holds the bad winter), repeat plans about 24%.
    let (_, s) = generate(&Calendar::england_and_wales(), &opts(7, 1.0, false)).unwrap();
    assert_eq!(s.years.len(), 3);
    for (year, c) in &s.years {
        assert!(
            (2_900..=4_000).contains(&c.referrals),
            "{year} referrals {}",
            c.referrals
        );
        assert!((1_000..=1_600).contains(&c.s47), "{year} s47 {}", c.s47);
        assert!(
            (17.0..=27.0).contains(&c.re_referral_pct()),
            "{year} re-referrals {}",
            c.re_referral_pct()
        );
        assert!(
            (4.0..=10.0).contains(&c.nfa_pct()),
            "{year} nfa {}",
            c.nfa_pct()
        );
        assert!(
            (65.0..=92.0).contains(&c.icpc_15wd_pct()),
            "{year} icpc {}",
            c.icpc_15wd_pct()
        );
    }
    let (_, last) = &s.years[2];
    assert!(
        (15.0..=32.0).contains(&last.repeat_plan_pct()),
        "repeat plans {}",
        last.repeat_plan_pct()
    );
    // The bad winter shows: the middle year is the worst for ICPC timeliness.
    let icpc: Vec<f64> = s.years.iter().map(|(_, c)| c.icpc_15wd_pct()).collect();
    assert!(icpc[1] < icpc[0] && icpc[1] < icpc[2], "{icpc:?}");
}

#[test]
fn sample_data_is_the_generator_output_and_loads_cleanly() {
    // README: sample_data was made by `csc-audit synth --out sample_data --seed 2025`.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    let (files, _) = generate(&Calendar::england_and_wales(), &opts(2025, 1.0, false)).unwrap();
    for (name, bytes) in &files {
        let committed = std::fs::read(root.join(name)).unwrap_or_default();
        assert!(
            committed == *bytes,
            "sample_data/{name} differs from the generator: regenerate it (README)"
        );
    }
    let ex = load_dir(&root);
    assert_eq!(ex.report.rows_rejected(), 0);
    assert!(ex
        .report
        .issues
        .iter()
        .all(|i| i.severity == Severity::Info));
    assert_eq!(ex.as_of, NaiveDate::from_ymd_opt(2025, 3, 31).unwrap());
}
