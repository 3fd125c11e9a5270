//! Hostile definitions (issue #11, D12 and D15): metric files, local standards and sample
//! plans that ask for what no engine can give (numbers that are not finite, windows of
//! millions of years, filters that nest, repeat or pad without bound) are refused with the
//! file, line and field before anything runs; generated definitions never crash the engine.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use csc_audit::calendar::Calendar;
use csc_audit::ingest::{load, LoadOptions};
use csc_audit::metrics::{evaluate, EvalOptions, Library};
use csc_audit::periods::{Grain, Period};
use csc_audit::sampling::plan::SamplePlan;
use proptest::prelude::*;

use super::assert_no_crash;
use crate::{fixture, today};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn shipped(name: &str) -> String {
    std::fs::read_to_string(repo("metrics").join(name)).unwrap()
}

/// A folder with `metrics/` (the shipped standards and one metric file) and room for the
/// output beside it (never inside the definitions a command reads).
fn metric_dir(file: &str, text: &str, standards: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("metrics");
    std::fs::create_dir(&m).unwrap();
    std::fs::write(m.join("standards.toml"), standards).unwrap();
    std::fs::write(m.join(file), text).unwrap();
    dir
}

/// `metrics --format json` on the golden fixture with a metric folder.
fn metrics_json(dir: &Path, out: &Path) -> std::process::Output {
    let out = Command::cargo_bin("csc-audit")
        .unwrap()
        .args(["metrics", "--data"])
        .arg(fixture("metrics"))
        .args([
            "--as-of",
            "2024-04-10",
            "--from",
            "2024-01",
            "--to",
            "2024-03",
        ])
        .args(["--format", "json", "--metrics"])
        .arg(dir.join("metrics"))
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert_no_crash(&out);
    out
}

/// Runs the referral-decision measure with one substitution and expects a definition error
/// (exit 2) naming the file, line and field.
fn refused(from: &str, to: &str, field: &str, says: &str) {
    let text = shipped("referral_decision_1wd.toml");
    assert!(text.contains(from), "the shipped file has no `{from}`");
    let text = text.replacen(from, to, 1);
    let dir = metric_dir(
        "referral_decision_1wd.toml",
        &text,
        &shipped("standards.toml"),
    );
    let out = metrics_json(dir.path(), &dir.path().join("out.json"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "`{to}` accepted: {err}");
    let line = text
        .lines()
        .position(|l| l.contains(to.lines().next().unwrap()))
        .unwrap()
        + 1;
    assert!(
        err.contains(&format!("referral_decision_1wd.toml:{line}: {field}")),
        "`{to}`: the error does not name line {line} and {field}: {err}"
    );
    assert!(
        err.contains(says),
        "`{to}`: the error does not say `{says}`: {err}"
    );
    assert!(!dir.path().join("out.json").exists());
}

#[test]
fn a_target_that_is_not_a_finite_number_is_refused() {
    for bad in ["nan", "inf", "-inf", "+nan"] {
        refused(
            "target = 95",
            &format!("target = {bad}"),
            "target",
            "finite",
        );
    }
    refused("target = 95", "target = 1e300", "target", "out of range");
}

#[test]
fn rag_thresholds_that_are_not_finite_are_refused() {
    refused(
        "rag = { green = 95, amber = 85 }",
        "rag = { green = inf, amber = 85 }",
        "rag.green",
        "finite",
    );
}

#[test]
fn a_window_past_any_standard_is_refused_not_overflowed() {
    // i64::MAX hours once overflowed to 0% (the true value is 100%).
    refused(
        "limit = { working_days = 1 }",
        "limit = { hours = 9223372036854775807 }",
        "within.limit.hours",
        "out of range",
    );
    refused(
        "limit = { working_days = 1 }",
        "limit = { working_days = 1000000 }",
        "within",
        "at most 100 years",
    );
}

#[test]
fn the_longest_window_allowed_counts_every_decided_referral_on_time() {
    // 100 years of hours: every referral with a decision is within it, so 100%.
    let text = shipped("referral_decision_1wd.toml")
        .replace("limit = { working_days = 1 }", "limit = { hours = 878400 }");
    let dir = metric_dir(
        "referral_decision_1wd.toml",
        &text,
        &shipped("standards.toml"),
    );
    let out_file = dir.path().join("out.json");
    let out = metrics_json(dir.path(), &out_file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    let rows: Vec<&serde_json::Value> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["denominator"].as_f64().unwrap_or(0.0) > 0.0)
        .collect();
    assert!(!rows.is_empty());
    for r in rows {
        assert_eq!(r["numerator"], r["denominator"], "{r}");
        assert_eq!(r["value"].as_f64(), Some(100.0), "{r}");
    }
}

#[test]
fn a_child_population_below_one_is_refused() {
    // 1e-320 once made every rate per 10,000 infinite and `--format json` panic.
    for bad in ["1e-320", "0.5", "-60000", "nan"] {
        let standards = shipped("standards.toml").replace(
            "child_population = 60000",
            &format!("child_population = {bad}"),
        );
        let dir = metric_dir("referrals.toml", &shipped("referrals.toml"), &standards);
        let out = metrics_json(dir.path(), &dir.path().join("out.json"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad} accepted: {err}");
        assert!(
            err.contains("standards.toml:6: child_population"),
            "{bad}: {err}"
        );
    }
}

/// The icpc-to-plan measure with its numerator filter replaced.
fn filter_refused(filter: &str, says: &str) {
    let text = shipped("icpc_to_plan.toml");
    let text = text.replace(
        "filter = \"outcome = 'plan'\"",
        &format!("filter = \"{filter}\""),
    );
    let dir = metric_dir("icpc_to_plan.toml", &text, &shipped("standards.toml"));
    let out = metrics_json(dir.path(), &dir.path().join("out.json"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "filter accepted: {err}");
    assert!(err.contains("icpc_to_plan.toml:"), "{err}");
    assert!(err.contains("numerator.filter"), "{err}");
    assert!(err.contains(says), "{says}: {err}");
}

#[test]
fn filters_that_overflow_nest_or_pad_without_bound_are_refused() {
    filter_refused("date + INTERVAL '300000 years' > date", "INTERVAL");
    filter_refused(
        "LPAD(outcome, 2000000000, 'x') = 'plan'",
        "`LPAD` is not a function",
    );
    // 6,000 ORs once overflowed the stack.
    let ors = vec!["outcome = 'plan'"; 6000].join(" OR ");
    filter_refused(&ors, "characters long");
    let ors = vec!["outcome = 'p'"; 105].join(" OR ");
    filter_refused(&ors, "use `column IN");
    let deep = format!("{}outcome = 'plan'{}", "(".repeat(200), ")".repeat(200));
    filter_refused(&deep, "deep");
}

#[test]
fn a_census_filter_that_pads_without_bound_is_refused() {
    let plan = std::fs::read_to_string(repo("audits/monthly.toml"))
        .unwrap()
        .replace(
            "filter = \"disability AND age >= 14\"",
            "filter = \"LPAD(team, 2000000000, 'x') = 'x'\"",
        );
    let err = SamplePlan::parse(&plan, "monthly.toml", &repo("audits")).unwrap_err();
    let line = plan.lines().position(|l| l.contains("LPAD")).unwrap() + 1;
    assert_eq!(err.line, line, "{err}");
    assert!(
        err.to_string().contains("`LPAD` is not a function"),
        "{err}"
    );
}

#[test]
fn plan_numbers_that_are_not_finite_are_refused() {
    let plan = std::fs::read_to_string(repo("audits/monthly.toml"))
        .unwrap()
        .replace("oversample = 2.0", "oversample = nan");
    let err = SamplePlan::parse(&plan, "monthly.toml", &repo("audits")).unwrap_err();
    assert!(err.to_string().contains("breaches.oversample"), "{err}");
    assert!(err.to_string().contains("finite"), "{err}");
}

// ---- Generated definitions ---------------------------------------------------------------

/// Numbers as a hostile author writes them.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("-inf".to_string()),
        Just("1e-320".to_string()),
        Just("1e308".to_string()),
        Just("9223372036854775807".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("0".to_string()),
        (-1000i64..100_000).prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:e}")),
    ]
}

/// Pieces of SQL a filter is built of, safe and hostile.
fn filter() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        Just("outcome = 'plan'".to_string()),
        Just("outcome IS NULL".to_string()),
        Just("LOWER(outcome) = 'plan'".to_string()),
        Just("LENGTH(outcome) > 3".to_string()),
        Just("LPAD(outcome, 2000000000, 'x') = 'a'".to_string()),
        Just("REPEAT(outcome, 1000000) = 'a'".to_string()),
        Just("date + INTERVAL '300000 years' > date".to_string()),
        Just("date > '2024-01-01'".to_string()),
        Just("CAST(outcome AS BIGINT) * 9223372036854775807 > 1".to_string()),
        Just("outcome = 'it''s'".to_string()),
        Just("outcome = 'unterminated".to_string()),
        number().prop_map(|n| format!("LENGTH(outcome) > {n}")),
    ];
    atom.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} AND {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) OR ({b})")),
            inner.clone().prop_map(|a| format!("NOT ({a})")),
            (inner, 1usize..40).prop_map(|(a, n)| format!("{}{a}{}", "(".repeat(n), ")".repeat(n))),
        ]
    })
}

/// A ratio measure (ICPC to plan) with a generated target, window and numerator filter.
fn metric(target: &str, window: &str, filter: &str) -> String {
    shipped("icpc_to_plan.toml")
        .replace("filter = \"outcome = 'plan'\"", &format!("filter = {filter:?}"))
        .replace("polarity = \"neutral\"", &format!("polarity = \"higher\"\ntarget = {target}"))
        .replace(
            "[numerator]",
            &format!("[within]\nfrom = \"date\"\nto = \"date\"\nlimit = {{ days = {window} }}\n\n[numerator]"),
        )
}

/// The generator's safe case is a valid measure with real rows, so the property below
/// exercises the engine and not only the checks.
#[test]
fn the_generated_metric_of_safe_parts_evaluates() {
    let texts = vec![
        (
            "metrics/standards.toml".to_string(),
            shipped("standards.toml"),
        ),
        (
            "metrics/icpc_to_plan.toml".to_string(),
            metric("80", "30", "LOWER(outcome) = 'plan'"),
        ),
    ];
    let lib = Library::from_texts(&texts, "generated").unwrap();
    let ev = evaluate_q4(&lib).unwrap();
    let r = ev
        .rows
        .iter()
        .find(|r| r.group.is_empty() || r.breakdown == "all");
    let r = r.unwrap_or(&ev.rows[0]);
    assert!(r.denominator.unwrap() > 0.0, "{r:?}");
    assert_eq!(r.target, Some(80.0));
}

fn evaluate_q4(
    lib: &Library,
) -> Result<csc_audit::metrics::Evaluation, csc_audit::metrics::EvalError> {
    let extracts = load(
        &fixture("metrics"),
        &LoadOptions {
            as_of: Some(chrono::NaiveDate::from_ymd_opt(2024, 4, 10).unwrap()),
            today: today(),
            columns: Default::default(),
        },
    )
    .unwrap();
    let q4 = Period::parse(Grain::Quarter, "2023-24 Q4").unwrap();
    let opts = EvalOptions {
        grain: Grain::Quarter,
        from: Some(q4.clone()),
        to: Some(q4),
        by: vec![],
        cases: false,
    };
    evaluate(&extracts, lib, &Calendar::england_and_wales(), &opts)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: super::cases(48), ..ProptestConfig::default() })]

    /// Whatever the numbers and the filter, the library either refuses the file with a
    /// line inside it, or evaluates it to finite values: it never panics.
    #[test]
    fn generated_metric_files_are_refused_or_evaluated(
        target in number(),
        window in number(),
        filter in filter(),
    ) {
        let text = metric(&target, &window, &filter);
        let texts = vec![
            ("metrics/standards.toml".to_string(), shipped("standards.toml")),
            ("metrics/icpc_to_plan.toml".to_string(), text.clone()),
        ];
        match Library::from_texts(&texts, "generated") {
            Err(e) => {
                let said = e.to_string();
                prop_assert!(said.contains("icpc_to_plan.toml:"), "{said}");
            }
            Ok(lib) => {
                if let Ok(ev) = evaluate_q4(&lib) {
                    for r in &ev.rows {
                        for v in [r.numerator, r.denominator, r.value, r.target].into_iter().flatten() {
                            prop_assert!(v.is_finite(), "{v} in {r:?}");
                        }
                    }
                }
            }
        }
    }

    /// Every number of the shipped plan replaced by a hostile one: refused or parsed.
    #[test]
    fn generated_plan_numbers_are_refused_or_parsed(size in number(), oversample in number(), min in number()) {
        let plan = std::fs::read_to_string(repo("audits/monthly.toml")).unwrap()
            .replace("size = 40", &format!("size = {size}"))
            .replace("oversample = 2.0", &format!("oversample = {oversample}"))
            .replace("min_per_stratum = 2", &format!("min_per_stratum = {min}"));
        if let Err(e) = SamplePlan::parse(&plan, "monthly.toml", &repo("audits")) {
            prop_assert!(e.line >= 1 && e.line <= plan.lines().count(), "{e}");
        }
    }
}
