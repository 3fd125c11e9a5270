//! The audit sample end to end: draws, manifests, verify, extend, sizes and estimates.

use assert_cmd::Command;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn csc() -> Command {
    Command::cargo_bin("csc-audit").unwrap()
}

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// Draws the shipped monthly plan on sample_data for March 2025.
fn draw(out: &Path, seed: u64, plan: &Path, data: &Path) -> assert_cmd::assert::Assert {
    csc()
        .arg("sample")
        .arg("--plan")
        .arg(plan)
        .arg("--data")
        .arg(data)
        .args(["--period", "2025-03", "--seed", &seed.to_string(), "--out"])
        .arg(out)
        .assert()
}

fn manifest(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

/// sample.csv as maps from header to value.
fn rows(dir: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(dir.join("sample.csv")).unwrap();
    let h: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            h.iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

fn selected(m: &Value) -> Vec<String> {
    m["selected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["case_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn same_seed_gives_identical_files_and_another_seed_another_sample() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let plan = repo("audits/monthly.toml");
    let data = repo("sample_data");
    for d in [&a, &b] {
        draw(d.path(), 7, &plan, &data).success();
    }
    draw(c.path(), 8, &plan, &data).success();
    for f in ["sample.csv", "sample.xlsx", "manifest.json"] {
        assert_eq!(
            std::fs::read(a.path().join(f)).unwrap(),
            std::fs::read(b.path().join(f)).unwrap(),
            "{f}"
        );
    }
    let (sa, sc) = (selected(&manifest(a.path())), selected(&manifest(c.path())));
    assert_eq!(sa.len(), sc.len());
    assert_ne!(sa, sc);
}

#[test]
fn sizes_add_up_within_bounds_census_whole_and_auditors_off_their_team() {
    let dir = tempfile::tempdir().unwrap();
    draw(
        dir.path(),
        7,
        &repo("audits/monthly.toml"),
        &repo("sample_data"),
    )
    .success();
    let m = manifest(dir.path());
    assert_eq!(m["seed"], 7);
    assert_eq!(m["period"], "2025-03");
    assert_eq!(
        m["plan"]["text"],
        std::fs::read_to_string(repo("audits/monthly.toml")).unwrap()
    );
    let strata = m["strata"].as_array().unwrap();
    let mut sampled = 0;
    let mut census = 0;
    let mut population = 0;
    for s in strata {
        let (big, n) = (
            s["population"].as_u64().unwrap(),
            s["sample"].as_u64().unwrap(),
        );
        population += big;
        assert_eq!(s["cases"].as_array().unwrap().len() as u64, big);
        if s["census"].as_bool().unwrap() {
            assert_eq!(n, big, "a census stratum is taken whole");
            census += n;
        } else {
            assert!(n >= 2.min(big) && n <= 12, "{s}");
            sampled += n;
        }
    }
    assert_eq!(sampled, 40, "the plan's size, exactly");
    assert_eq!(population, m["population"].as_u64().unwrap());
    assert!(
        census > 0,
        "sample_data has disabled children aged 14+ on plans"
    );
    let rows = rows(dir.path());
    assert_eq!(rows.len() as u64, sampled + census);
    // Inclusion probability n_h / N_h and weight N_h / n_h, on every row.
    let by_name: BTreeMap<&str, &Value> = strata
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s))
        .collect();
    let auditor_team: BTreeMap<&str, &str> = [
        ("Advanced Practitioner A", "North"),
        ("Advanced Practitioner B", "South"),
        ("Advanced Practitioner C", "East"),
        ("QA Manager", ""),
    ]
    .into();
    let mut load: BTreeMap<String, usize> = BTreeMap::new();
    let children = std::fs::read_to_string(repo("sample_data/children.csv")).unwrap();
    for r in &rows {
        let s = by_name[r["stratum"].as_str()];
        let p = s["sample"].as_f64().unwrap() / s["population"].as_f64().unwrap();
        let got: f64 = r["inclusion_probability"].parse().unwrap();
        assert!((got - p).abs() < 1e-6, "{r:?}");
        let w: f64 = r["design_weight"].parse().unwrap();
        assert!((w - 1.0 / p).abs() < 1e-5, "{r:?}");
        let a = r["auditor"].as_str();
        assert_ne!(auditor_team[a], r["team"], "{r:?}");
        *load.entry(a.to_string()).or_default() += 1;
        // Strata on breaches agree with the breaches listed.
        if r["stratum"].ends_with("/ breach") {
            assert!(!r["breached"].is_empty(), "{r:?}");
        } else if r["stratum"].ends_with("/ no breach") {
            assert!(r["breached"].is_empty(), "{r:?}");
        } else {
            // Census: disabled and 14 or over on 31 March 2025.
            let line = children
                .lines()
                .find(|l| l.starts_with(&format!("{},", r["child_id"])))
                .unwrap();
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f[4], "Y", "{line}");
            assert!(f[1] <= "2011-03-31", "{line}");
        }
    }
    // Balanced: no auditor more than one case ahead of another who could take the cases.
    let loads: Vec<usize> = load.values().copied().collect();
    assert_eq!(loads.iter().sum::<usize>(), rows.len());
    assert!(
        loads.iter().max().unwrap() - loads.iter().min().unwrap() <= 1,
        "{load:?}"
    );
}

#[test]
fn the_draw_is_reproducible_from_the_manifest_alone() {
    let dir = tempfile::tempdir().unwrap();
    draw(
        dir.path(),
        11,
        &repo("audits/monthly.toml"),
        &repo("sample_data"),
    )
    .success();
    let m = manifest(dir.path());
    let seed = m["seed"].as_u64().unwrap();
    let mut redrawn = Vec::new();
    for s in m["strata"].as_array().unwrap() {
        let cases: Vec<&str> = s["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let mut sorted = cases.clone();
        sorted.sort();
        assert_eq!(cases, sorted, "recorded in key order");
        let n = s["sample"].as_u64().unwrap() as usize;
        for p in csc_audit::sampling::select(seed, s["name"].as_str().unwrap(), cases.len(), n) {
            redrawn.push(cases[p].to_string());
        }
    }
    assert_eq!(redrawn, selected(&m));
}

#[test]
fn cases_audited_recently_are_never_drawn() {
    let first = tempfile::tempdir().unwrap();
    draw(
        first.path(),
        7,
        &repo("audits/monthly.toml"),
        &repo("sample_data"),
    )
    .success();
    let drawn = rows(first.path());
    // A history: every child drawn, audited in February (within 6 months), and one more
    // child audited long ago (outside the window).
    let plans = tempfile::tempdir().unwrap();
    let m = manifest(first.path());
    let pop: Vec<String> = m["strata"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["cases"].as_array().unwrap().iter())
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let not_drawn_case = pop.iter().find(|c| !selected(&m).contains(c)).unwrap();
    let mut history = String::from("child_id,case_id,audit_date\n");
    for r in &drawn {
        history.push_str(&format!("{},,15/02/2025\n", r["child_id"]));
    }
    history.push_str(&format!(",{not_drawn_case},2024-08-31\n"));
    std::fs::write(plans.path().join("history.csv"), history).unwrap();
    std::fs::copy(
        repo("audits/monthly.toml"),
        plans.path().join("monthly.toml"),
    )
    .unwrap();
    let second = tempfile::tempdir().unwrap();
    draw(
        second.path(),
        7,
        &plans.path().join("monthly.toml"),
        &repo("sample_data"),
    )
    .success();
    let again = rows(second.path());
    let before: Vec<&str> = drawn.iter().map(|r| r["child_id"].as_str()).collect();
    assert!(!again.is_empty());
    for r in &again {
        assert!(
            !before.contains(&r["child_id"].as_str()),
            "{r:?} was audited in February"
        );
    }
    let m2 = manifest(second.path());
    let excluded = m2["excluded"].as_array().unwrap();
    assert_eq!(excluded.len(), drawn.len());
    assert!(excluded.iter().all(|e| e["reason"]
        .as_str()
        .unwrap()
        .starts_with("audited on 2025-02-15")));
    // Audited on 31 August 2024: before 1 September, outside the 6 months; still drawable.
    assert!(!excluded
        .iter()
        .any(|e| e["case_id"] == not_drawn_case.as_str()));
    assert_eq!(
        m2["population"].as_u64().unwrap() + drawn.len() as u64,
        m["population"].as_u64().unwrap()
    );
    assert!(m2["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["role"] == "history"));
}

#[test]
fn verify_extend_and_never_overwrite() {
    let data = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(repo("sample_data")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), data.path().join(e.file_name())).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("2025-03");
    draw(&out, 7, &repo("audits/monthly.toml"), data.path()).success();
    let verify = || csc().args(["sample", "verify"]).arg(&out).assert();
    verify()
        .success()
        .stdout(predicates::str::contains("verified"));

    // Never replaced silently.
    let before = std::fs::read(out.join("sample.csv")).unwrap();
    draw(&out, 8, &repo("audits/monthly.toml"), data.path())
        .code(2)
        .stderr(predicates::str::contains("never replaced silently"));
    assert_eq!(std::fs::read(out.join("sample.csv")).unwrap(), before);

    // Extend: the first cases stay, in order; the new ones are round 2.
    let first = rows(&out);
    csc()
        .args(["sample", "extend"])
        .arg(&out)
        .args(["--add", "10"])
        .assert()
        .success();
    let ext = rows(&out);
    assert_eq!(ext.len(), first.len() + 10);
    for r in &first {
        let same = ext
            .iter()
            .find(|x| x["case_id"] == r["case_id"])
            .unwrap_or_else(|| panic!("{r:?} dropped"));
        assert_eq!(
            (&same["stratum"], &same["order"], &same["round"]),
            (&r["stratum"], &r["order"], &r["round"])
        );
    }
    assert_eq!(ext.iter().filter(|r| r["round"] == "2").count(), 10);
    assert_eq!(manifest(&out)["extensions"], serde_json::json!([10]));
    verify().success();

    // An edited sample is named.
    let text = std::fs::read_to_string(out.join("sample.csv")).unwrap();
    std::fs::write(
        out.join("sample.csv"),
        text.replacen("QA Manager", "Someone Else", 1),
    )
    .unwrap();
    verify().code(1).stdout(predicates::str::contains(
        "sample.csv is not the file the draw wrote",
    ));
    std::fs::write(out.join("sample.csv"), text).unwrap();
    verify().success();

    // Changed data is named.
    let visits = data.path().join("visits.csv");
    let mut v = std::fs::read_to_string(&visits).unwrap();
    v.push_str("V9999999,C0000001,2025-03-03,cp,Y,Somebody\n");
    std::fs::write(&visits, v).unwrap();
    verify().code(1).stdout(predicates::str::contains(
        "data file visits.csv has changed since the draw",
    ));
}

#[test]
fn sample_size_matches_the_reference_values() {
    csc()
        .args([
            "sample",
            "size",
            "--population",
            "300",
            "--margin",
            "0.05",
            "--tolerable-rate",
            "0.05",
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "169 cases from a population of 300 (385 for a large population)",
        ))
        .stdout(predicates::str::contains("discovery: 59 cases"));
}

#[test]
fn audit_results_give_estimates_and_name_bad_rows() {
    // The results and estimates beside the sample folder: nothing writes inside a sample.
    let dir = tempfile::tempdir().unwrap();
    let sample_dir = dir.path().join("sample");
    draw(
        &sample_dir,
        7,
        &repo("audits/monthly.toml"),
        &repo("sample_data"),
    )
    .success();
    let sample = rows(&sample_dir);
    // Audits of every case but the last three: "plan_reviewed" yes everywhere; "seen_alone"
    // no for every second case; grades cycle good, requires improvement.
    let mut results = String::from("case_id,grade,plan_reviewed,seen_alone,comments\n");
    let audited = &sample[..sample.len() - 3];
    for (i, r) in audited.iter().enumerate() {
        results.push_str(&format!(
            "{},{},Yes,{},looked at the file\n",
            r["case_id"],
            if i % 2 == 0 {
                "Good"
            } else {
                "Requires improvement"
            },
            if i % 2 == 0 { "N" } else { "Y" }
        ));
    }
    let file = dir.path().join("results.csv");
    std::fs::write(&file, &results).unwrap();
    let out = dir.path().join("estimates");
    csc()
        .args(["audit-results", "--sample"])
        .arg(&sample_dir)
        .arg("--results")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(predicates::str::contains("3 sampled cases not audited yet"))
        .stdout(predicates::str::contains(
            "Not yes/no questions, not estimated: comments",
        ));
    let mut est = csv::Reader::from_path(out.join("estimates.csv")).unwrap();
    let recs: Vec<csv::StringRecord> = est.records().map(|r| r.unwrap()).collect();
    let all = |m: &str, a: &str| {
        recs.iter()
            .find(|r| &r[0] == m && &r[1] == a && &r[2] == "all")
            .unwrap()
            .clone()
    };
    let r = all("plan_reviewed", "yes");
    assert_eq!(
        (&r[4], &r[5], &r[6], &r[8]),
        (
            audited.len().to_string().as_str(),
            audited.len().to_string().as_str(),
            "100",
            "100"
        )
    );
    let r = all("seen_alone", "yes");
    assert_eq!(&r[5], (audited.len() / 2).to_string().as_str());
    let r = all("grade", "good_or_better");
    assert_eq!(&r[5], audited.len().div_ceil(2).to_string().as_str());
    let not = std::fs::read_to_string(out.join("not_audited.csv")).unwrap();
    assert_eq!(not.lines().count(), 4);

    // The same results in a workbook (a title row above the header, as people make them)
    // give the same estimates.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let sheet = wb.add_worksheet();
    sheet.write_string(0, 0, "March audits").unwrap();
    for (r, line) in results.lines().enumerate() {
        for (c, v) in line.split(',').enumerate() {
            sheet.write_string(r as u32 + 2, c as u16, v).unwrap();
        }
    }
    let xlsx = dir.path().join("results.xlsx");
    wb.save(&xlsx).unwrap();
    let out2 = dir.path().join("estimates-xlsx");
    csc()
        .args(["audit-results", "--sample"])
        .arg(&sample_dir)
        .arg("--results")
        .arg(&xlsx)
        .arg("--out")
        .arg(&out2)
        .assert()
        .success();
    assert_eq!(
        std::fs::read(out.join("estimates.csv")).unwrap(),
        std::fs::read(out2.join("estimates.csv")).unwrap()
    );

    // A case not in the sample and a value that is not yes/no: named with the line; nothing
    // estimated.
    let bad = results
        .replacen(&format!("{},", audited[1]["case_id"]), "P9999999,", 1)
        .replacen(",Yes,N,", ",Yes,maybe,", 1);
    std::fs::write(&file, bad).unwrap();
    csc()
        .args(["audit-results", "--sample"])
        .arg(&sample_dir)
        .arg("--results")
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "line 3: case `P9999999` is not in the sample",
        ))
        .stderr(predicates::str::contains(
            "line 2, column seen_alone: `maybe` is not yes/no",
        ));
}

/// Draws a plan written in the test on sample_data (loaded once per call) for a period.
fn draw_plan(text: &str, period: &str, seed: u64) -> Result<csc_audit::sampling::Sample, String> {
    use csc_audit::sampling::{draw, DrawInputs, SamplePlan};
    let plan = SamplePlan::parse(text, "test.toml", Path::new(".")).map_err(|e| e.to_string())?;
    let ex = crate::load_dir(&repo("sample_data"));
    let lib = csc_audit::metrics::Library::builtin();
    let cal = csc_audit::calendar::Calendar::england_and_wales();
    let period = csc_audit::periods::Period::parse(plan.population.period, period)?;
    draw(
        &plan,
        &DrawInputs {
            extracts: &ex,
            library: &lib,
            calendar: &cal,
            period,
            seed,
            extensions: &[],
        },
    )
    .map_err(|e| e.to_string())
}

fn sizes(s: &csc_audit::sampling::Sample) -> BTreeMap<String, (u64, u64)> {
    s.strata
        .iter()
        .map(|st| (st.name.clone(), (st.population(), st.size())))
        .collect()
}

#[test]
fn allocations_units_and_populations() {
    // Referrals received in a quarter, every referral a unit, a fixed size per team.
    let fixed = r#"
        id = "front_door"
        unit = "case"
        size = 1
        allocation = "fixed"
        strata = ["team"]
        [fixed]
        MASH = 7
        default = 3
        [population]
        table = "referrals"
        rows = "started"
        period = "quarter"
        filter = "outcome = 'nfa'"
    "#;
    let s = draw_plan(fixed, "2024-25 Q3", 1).unwrap();
    let z = sizes(&s);
    assert_eq!(z["MASH"].1, 7.min(z["MASH"].0), "{z:?}");
    for (name, (big, n)) in &z {
        if name != "MASH" {
            assert_eq!(*n, 3.min(*big), "{name}");
        }
    }
    // Every unit an NFA referral received in October-December 2024.
    let received = s
        .date_columns
        .iter()
        .position(|c| *c == "received_at")
        .unwrap();
    for c in &s.cases {
        let d = c.dates[received].unwrap();
        assert!(d >= chrono::NaiveDate::from_ymd_opt(2024, 10, 1).unwrap());
        assert!(d <= chrono::NaiveDate::from_ymd_opt(2024, 12, 31).unwrap());
    }
    let nfa = std::fs::read_to_string(repo("sample_data/referrals.csv"))
        .unwrap()
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split(',').collect();
            f[5] == "nfa" && f[2] >= "2024-10-01" && f[2] < "2025-01-01"
        })
        .count();
    assert_eq!(
        s.cases.len(),
        nfa,
        "one unit per NFA referral in the quarter"
    );

    // Equal allocation of 20 over the teams of open CP plans at the end of March 2025.
    let equal = r#"
        id = "equal"
        size = 20
        allocation = "equal"
        strata = ["team"]
        [population]
        table = "cp_plans"
        rows = "open_at_end"
    "#;
    let s = draw_plan(equal, "2025-03", 1).unwrap();
    let n: Vec<u64> = sizes(&s).values().map(|v| v.1).collect();
    assert_eq!(n, [5, 5, 5, 5]);
    // Open on 31 March: started by then and not ended by then.
    let (start, end) = (0, 1);
    let last = chrono::NaiveDate::from_ymd_opt(2025, 3, 31).unwrap();
    for c in &s.cases {
        assert!(c.dates[start].unwrap() <= last);
        assert!(c.dates[end].is_none_or(|e| e > last), "{c:?}");
    }

    // Neyman: a stratum expected always to pass gets only its minimum.
    let neyman = r#"
        id = "neyman"
        size = 20
        allocation = "neyman"
        strata = ["team"]
        min_per_stratum = 1
        [prior]
        "Disabled Children" = 0.0
        default = 0.3
        [population]
        table = "cp_plans"
        rows = "open_at_end"
    "#;
    let z = sizes(&draw_plan(neyman, "2025-03", 1).unwrap());
    assert_eq!(z["Disabled Children"].1, 1);
    assert_eq!(z.values().map(|v| v.1).sum::<u64>(), 20);
}

#[test]
fn plan_mistakes_name_the_line_and_what_to_write() {
    let base = |extra: &str, population: &str| {
        format!("id = \"p\"\nsize = 10\n{extra}\n[population]\n{population}\n")
    };
    for (text, want) in [
        (
            base("", "table = \"plans\"\nrows = \"open\""),
            "test.toml:5: population.table: no table `plans`",
        ),
        (
            base("", "table = \"cp_plans\"\nrows = \"opened\""),
            "`opened` is not a kind of population",
        ),
        (
            base(
                "strata = [\"colour\"]",
                "table = \"cp_plans\"\nrows = \"open\"",
            ),
            "`colour` is not a column of cp_plans",
        ),
        (
            base(
                "strata = [\"breached:icpc_15wd\"]",
                "table = \"cp_plans\"\nrows = \"open\"",
            ),
            "list `icpc_15wd` in [breaches] measures first",
        ),
        (
            base(
                "allocation = \"neyman\"",
                "table = \"cp_plans\"\nrows = \"open\"",
            ),
            "neyman needs [prior]",
        ),
        (
            base(
                "",
                "table = \"cp_plans\"\nrows = \"open\"\nfilter = \"shoe_size > 3\"",
            ),
            "`shoe_size` is not a column",
        ),
        (
            base("sise = 3", "table = \"cp_plans\"\nrows = \"open\""),
            "test.toml:3: plan: unknown field `sise`",
        ),
        (
            base("unit = \"child\"", "table = \"workers\"\nrows = \"open\""),
            "workers has no child_id",
        ),
        (
            base(
                "max_per_stratum = 1\nmin_per_stratum = 2",
                "table = \"cp_plans\"\nrows = \"open\"",
            ),
            "below min_per_stratum",
        ),
    ] {
        let e = draw_plan(&text, "2025-03", 1).unwrap_err();
        assert!(e.contains(want), "{e}\nwanted: {want}");
    }
    // A size the strata minimums cannot fit, and a period of the wrong grain.
    let tight = base(
        "strata = [\"team\"]\nmin_per_stratum = 3\nsize = 5",
        "table = \"cp_plans\"\nrows = \"open\"",
    )
    .replacen("size = 10\n", "", 1);
    assert!(draw_plan(&tight, "2025-03", 1)
        .unwrap_err()
        .contains("lower min_per_stratum or raise size"));
    let e = draw_plan(
        &base("", "table = \"cp_plans\"\nrows = \"open\""),
        "2024-25 Q3",
        1,
    )
    .unwrap_err();
    assert!(e.contains("is not a month period"), "{e}");
}
