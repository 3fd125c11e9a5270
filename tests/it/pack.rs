//! The quarterly pack end to end: the workbook against the measures, the published profile's
//! disclosure control, and the report in a real browser.

use assert_cmd::Command;
use calamine::{open_workbook, Data, Reader, Xlsx};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn pack(out: &Path, profile: &str) {
    Command::cargo_bin("csc-audit")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "pack",
            "--quarter",
            "2024-25 Q3",
            "--profile",
            profile,
            "--out",
        ])
        .arg(out)
        .assert()
        .success()
        .stderr(predicates::str::contains("report.html"));
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) => format!("{f}"),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        other => format!("{other:?}"),
    }
}

/// Every sheet of a workbook: name, then rows of text.
fn sheets(path: &Path) -> Vec<(String, Vec<Vec<String>>)> {
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    wb.sheet_names()
        .iter()
        .map(|n| {
            let r = wb.worksheet_range(n).unwrap();
            (
                n.clone(),
                r.rows()
                    .map(|row| row.iter().map(cell_text).collect())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn the_workbook_holds_every_measure_of_the_quarter() {
    let dir = tempfile::tempdir().unwrap();
    pack(dir.path(), "internal");
    let book = sheets(&dir.path().join("dataset.xlsx"));
    let names: Vec<&str> = book.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "contents",
            "at a glance",
            "front door",
            "S47 and conferences",
            "child protection",
            "workforce and supervision",
            "cases due",
            "audit",
            "data quality",
            "notes"
        ]
    );
    // The same figures as `csc-audit metrics --grain quarter --by team,source` for the
    // quarter (the internal pack breaks the front door down by referral source too).
    let ex = crate::load_dir(&repo("sample_data"));
    let lib = csc_audit::metrics::Library::builtin();
    let cal = csc_audit::calendar::Calendar::england_and_wales();
    let q = csc_audit::periods::Period::parse(csc_audit::periods::Grain::Quarter, "2024-25 Q3")
        .unwrap();
    let ev = csc_audit::metrics::evaluate(
        &ex,
        &lib,
        &cal,
        &csc_audit::metrics::EvalOptions {
            grain: csc_audit::periods::Grain::Quarter,
            from: Some(q),
            to: Some(q),
            by: vec!["team".into(), "source".into()],
            cases: false,
        },
    )
    .unwrap();
    let mut seen = 0;
    for (name, rows) in &book[2..6] {
        let head = &rows[0];
        assert_eq!(
            head.iter().map(String::as_str).collect::<Vec<_>>(),
            csc_audit::pack::DATASET_COLUMNS,
            "{name}"
        );
        let col = |n: &str| head.iter().position(|h| h == n).unwrap();
        for r in &rows[1..] {
            assert_eq!(r[col("area")], *name);
            assert_eq!(r[col("period")], "2024-25 Q3");
            let want = ev
                .find(
                    &r[col("metric_id")],
                    "2024-25 Q3",
                    &r[col("breakdown")],
                    &r[col("group")],
                    &r[col("category")],
                )
                .unwrap_or_else(|| panic!("{r:?} is not a measure row"));
            let num = |s: &str| {
                if s.is_empty() {
                    None
                } else {
                    Some(s.parse::<f64>().unwrap())
                }
            };
            assert_eq!(num(&r[col("numerator")]), want.numerator, "{r:?}");
            assert_eq!(num(&r[col("denominator")]), want.denominator, "{r:?}");
            let v = num(&r[col("value")]);
            assert_eq!(v.is_some(), want.value.is_some(), "{r:?}");
            if let (Some(a), Some(b)) = (v, want.value) {
                assert!((a - b).abs() < 1e-9, "{r:?}: {b}");
            }
            seen += 1;
        }
    }
    assert_eq!(seen, ev.rows.len(), "every row of the quarter, once");
    // The cases due by measure and team; the audit sheet has the month's strata.
    let due = &book[6].1;
    assert_eq!(
        due[0],
        [
            "measure",
            "team",
            "overdue",
            "due today",
            "due soon",
            "cases"
        ]
    );
    assert!(due.len() > 2);
    let audit = &book[7].1;
    assert_eq!(audit[0][..3], ["stratum", "population", "sample"]);
    assert!(audit.len() > 2);
    assert!(dir
        .path()
        .join("audit-sample-child-level/sample.csv")
        .is_file());
    assert!(dir.path().join("charts/icpc_15wd-spc.svg").is_file());
    assert!(dir.path().join("charts/icpc_15wd-funnel.png").is_file());
    assert!(dir.path().join("charts/icpc_15wd-by-team.svg").is_file());
}

/// Identifiers of people in sample_data: children, cases and workers.
fn identifiers() -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for (file, cols) in [
        ("children.csv", vec![0]),
        ("workers.csv", vec![0]),
        ("cp_plans.csv", vec![0, 8]),
        ("referrals.csv", vec![0, 8]),
        ("supervisions.csv", vec![3, 4]),
    ] {
        let mut r = csv::Reader::from_path(repo("sample_data").join(file)).unwrap();
        for rec in r.records() {
            let rec = rec.unwrap();
            for &c in &cols {
                if let Some(v) = rec.get(c).filter(|v| !v.is_empty()) {
                    ids.insert(v.to_string());
                }
            }
        }
    }
    ids
}

#[test]
fn the_published_pack_has_no_small_counts_and_no_identifiers() {
    let dir = tempfile::tempdir().unwrap();
    pack(dir.path(), "published");
    assert!(!dir.path().join("audit-sample-child-level").exists());
    // No count from 1 to 5 in the data set; and suppression happened.
    let mut r = csv::Reader::from_path(dir.path().join("dataset.csv")).unwrap();
    let head: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let col = |n: &str| head.iter().position(|h| h == n).unwrap();
    let mut suppressed = 0;
    for rec in r.records() {
        let rec = rec.unwrap();
        for c in ["numerator", "denominator"] {
            let v = &rec[col(c)];
            if v == "c" {
                suppressed += 1;
                continue;
            }
            if let Ok(x) = v.parse::<f64>() {
                assert!(!(1.0..=5.0).contains(&x), "{c} {x} in {rec:?}");
            }
        }
        // The failed cases are not small either.
        if let (Ok(x), Ok(n)) = (
            rec[col("numerator")].parse::<f64>(),
            rec[col("denominator")].parse::<f64>(),
        ) {
            assert!(!(1.0..=5.0).contains(&(n - x)), "{rec:?}");
        }
        if rec[col("numerator")] == *"c" || rec[col("denominator")] == *"c" {
            assert_eq!(&rec[col("value")], "c", "{rec:?}");
        }
    }
    assert!(
        suppressed > 0,
        "sample_data has small teams: something must be suppressed"
    );
    // The Parquet copy: the same rows, and a suppressed numerator is null and named.
    let numerator = col("numerator");
    {
        use polars::prelude::*;
        let f = std::fs::File::open(dir.path().join("dataset.parquet")).unwrap();
        let pq = ParquetReader::new(f).finish().unwrap();
        let csv = std::fs::read_to_string(dir.path().join("dataset.csv")).unwrap();
        assert_eq!(pq.height(), csv.lines().count() - 1);
        let sup: Vec<Option<&str>> = pq
            .column("suppressed")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        let num: Vec<Option<f64>> = pq
            .column("numerator")
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect();
        let mut named = 0;
        for (s, n) in sup.iter().zip(&num) {
            if s.is_some_and(|s| s.contains("numerator")) {
                assert_eq!(*n, None);
                named += 1;
            }
        }
        let mut r = csv::Reader::from_reader(csv.as_bytes());
        let c_numerators = r
            .records()
            .filter(|x| &x.as_ref().unwrap()[numerator] == "c")
            .count();
        assert_eq!(named, c_numerators);
        assert!(named > 0);
    }
    // No identifier anywhere: report, charts, CSV, every cell of the workbook.
    let ids = identifiers();
    let mut texts: Vec<(String, String)> = Vec::new();
    for f in ["report.html", "dataset.csv"] {
        texts.push((
            f.into(),
            std::fs::read_to_string(dir.path().join(f)).unwrap(),
        ));
    }
    for e in std::fs::read_dir(dir.path().join("charts")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "svg") {
            texts.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
    for (sheet, rows) in sheets(&dir.path().join("dataset.xlsx")) {
        texts.push((
            sheet,
            rows.iter()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join("\n"),
        ));
    }
    for (name, text) in &texts {
        for id in &ids {
            // Whole words only: "C0000001", a worker's full name.
            let found = text.match_indices(id.as_str()).any(|(i, _)| {
                let before = text[..i].chars().last();
                let after = text[i + id.len()..].chars().next();
                !before.is_some_and(|c| c.is_alphanumeric())
                    && !after.is_some_and(|c| c.is_alphanumeric())
            });
            assert!(!found, "{id} in {name}");
        }
    }
    assert!(ids.len() > 1000);
}

/// The report in headless Chromium (Debian's `chromium`, installed by `.ci/run`): a
/// screenshot is taken and the browser logs no console error. Set CSC_AUDIT_NO_BROWSER=1 to
/// skip on a machine without Chromium.
#[test]
fn the_report_opens_in_a_browser() {
    if std::env::var_os("CSC_AUDIT_NO_BROWSER").is_some() {
        return;
    }
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("Chromium is needed for this test: `apt-get install chromium` (.ci/run does), or set CSC_AUDIT_NO_BROWSER=1");
    let dir = tempfile::tempdir().unwrap();
    pack(dir.path(), "published");
    let shot = dir.path().join("report.png");
    let profile = dir.path().join("chromium-profile");
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1100,1600",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!(
            "file://{}",
            dir.path().join("report.html").display()
        ))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 50_000, "a blank page? {} bytes", png.len());
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    // In colour: the RAG cells of the at-a-glance table, near the top of the page.
    let coloured = coloured_pixels(&png);
    assert!(
        coloured > 2_000,
        "only {coloured} coloured pixels: is the pack grey?"
    );
}

/// Pixels whose channels differ by more than 40: a colour, not a grey.
fn coloured_pixels(png_bytes: &[u8]) -> usize {
    let mut r = png::Decoder::new(std::io::Cursor::new(png_bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    assert!(step >= 3, "{:?}", info.color_type);
    buf[..info.buffer_size()]
        .chunks(step)
        .filter(|p| {
            let (hi, lo) = (p[..3].iter().max().unwrap(), p[..3].iter().min().unwrap());
            hi - lo > 40
        })
        .count()
}

/// axe-core, run in headless Chromium by `tests/a11y/axe.mjs` (npm packages installed by
/// `.ci/run` with `npm ci --prefix tests/a11y`), finds no violation of WCAG 2.2 AA
/// (tags wcag2a, wcag2aa, wcag21a, wcag21aa, wcag22aa) in the report of either profile, for
/// the sample council and for a council of 10 teams; every violation is printed.
#[test]
fn the_report_passes_axe_on_both_profiles_and_a_ten_team_council() {
    if std::env::var_os("CSC_AUDIT_NO_BROWSER").is_some() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("tests/a11y/node_modules/axe-core").exists(),
        "axe-core is needed: `npm ci --prefix tests/a11y` (.ci/run does), or set CSC_AUDIT_NO_BROWSER=1"
    );
    let dir = tempfile::tempdir().unwrap();
    let council = dir.path().join("ten-teams");
    Command::cargo_bin("csc-audit")
        .unwrap()
        .args([
            "synth", "--scale", "2", "--years", "2", "--seed", "3", "--out",
        ])
        .arg(&council)
        .assert()
        .success();
    let teams: std::collections::HashSet<String> =
        csv::Reader::from_path(council.join("workers.csv"))
            .unwrap()
            .records()
            .map(|r| r.unwrap()[1].to_string())
            .collect();
    assert_eq!(teams.len(), 10);
    for (data, profile) in [
        (root.join("sample_data"), "internal"),
        (root.join("sample_data"), "published"),
        (council.clone(), "internal"),
        (council.clone(), "published"),
    ] {
        let out = dir.path().join(format!(
            "{}-{profile}",
            data.file_name().unwrap().to_string_lossy()
        ));
        Command::cargo_bin("csc-audit")
            .unwrap()
            .args(["pack", "--profile", profile, "--data"])
            .arg(&data)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        let run = std::process::Command::new("node")
            .arg(root.join("tests/a11y/axe.mjs"))
            .arg(out.join("report.html"))
            .output()
            .expect("node is needed for the axe test (Debian's nodejs)");
        let said = String::from_utf8_lossy(&run.stdout);
        assert_eq!(
            run.status.code(),
            Some(0),
            "{} {profile}:\n{said}{}",
            data.display(),
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(said.contains("0 violations"), "{said}");
        // No chart that says nothing: the front door is one team, so no funnel of one point
        // and no small multiples of one panel, and a note says so; every chart has a caption.
        let report = std::fs::read_to_string(out.join("report.html")).unwrap();
        if data.ends_with("sample_data") && profile == "internal" {
            // The front door (one team, MASH) is compared by referral source instead, and
            // no funnel has fewer than three groups.
            assert!(report
                .contains("Funnel plot of Re-referrals within 12 months, 2024-25 Q4, by source:"));
            let groups: Vec<usize> = report
                .match_indices("Funnel plot of ")
                .filter_map(|(i, _)| {
                    let rest = &report[i..];
                    let g = rest.find(" groups against")?;
                    rest[..g].rsplit(' ').next()?.parse().ok()
                })
                .collect();
            assert!(
                !groups.is_empty() && groups.iter().all(|g| *g >= 3),
                "{groups:?}"
            );
            // The variation and assurance icons, each named in words.
            assert!(report.contains(
                "<svg class=\"icon\" role=\"img\" aria-label=\"common cause variation\""
            ));
            assert!(report.contains("aria-label=\"special cause variation, higher: improvement\""));
            assert!(report.contains("aria-label=\"assurance: hit and miss against the target\""));
            // A funnel of the teams comes with its outliers, or says there are none.
            assert!(
                report.contains("<caption>Outside the funnel's limits</caption>")
                    || report.contains("No group is outside the 95% limits.")
            );
        }
        assert_eq!(
            report.matches("<figure>").count(),
            report.matches("<figcaption id=").count()
        );
        assert!(report.contains("<a class=\"skip\" href=\"#main\">"));
    }
}

/// The analyst's words and England beside the council: commentary under its measure and
/// area in the report and in the workbook; England's figure beside the council's financial
/// year for the measures defined as England's; a commentary with a small count is refused
/// by the published pack's guard, as a note would be.
#[test]
fn commentary_and_england_appear_in_the_report_and_the_workbook() {
    let dir = tempfile::tempdir().unwrap();
    let words = dir.path().join("commentary.toml");
    std::fs::write(
        &words,
        "[icpc_15wd]\ntext = \"Timeliness rose after the new conference rota.\"\n\n[\"front door\"]\ntext = \"Demand was stable.\"\n",
    )
    .unwrap();
    let out = dir.path().join("pack");
    Command::cargo_bin("csc-audit")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["pack", "--quarter", "2024-25 Q4", "--commentary"])
        .arg(&words)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("<p class=\"commentary\"><b>Commentary:</b> Timeliness rose after the new conference rota.</p>"));
    assert!(report.contains("<b>Commentary:</b> Demand was stable."));
    // England 2025 (DfE): re-referrals 22.6%, beside the council's 2024-25, the figure
    // `metrics --grain year` gives for the year.
    let year =
        csc_audit::periods::Period::parse(csc_audit::periods::Grain::Year, "2024-25").unwrap();
    let council = csc_audit::metrics::evaluate(
        &crate::load_dir(&repo("sample_data")),
        &csc_audit::metrics::Library::builtin(),
        &csc_audit::calendar::Calendar::england_and_wales(),
        &csc_audit::metrics::EvalOptions {
            grain: csc_audit::periods::Grain::Year,
            from: Some(year),
            to: Some(year),
            by: vec![],
            cases: false,
        },
    )
    .unwrap()
    .find("re_referral_12m", "2024-25", "all", "all", "all")
    .and_then(|r| r.value)
    .unwrap();
    assert!(council > 0.0 && council < 100.0, "{council}");
    let beside =
        format!("England, year to 31 March 2025: 22.6%; this council, 2024-25: {council:.1}%");
    assert!(
        report.contains(&beside),
        "{}",
        report
            .lines()
            .filter(|l| l.contains("England"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(report.contains("Open Government Licence v3.0"));
    // Numbers for people: a count with its change as a whole number, a percentage in points.
    let referrals = report
        .lines()
        .find(|l| l.starts_with("<tr>") && l.contains("href=\"#referrals\">Referrals received"))
        .unwrap();
    let cell = referrals.split("<td class=\"num\">").nth(1).unwrap();
    let (value, rest) = cell.split_once(" (").unwrap();
    assert!(
        value
            .trim_start_matches("<span data-count>")
            .trim_end_matches("</span>")
            .parse::<u64>()
            .is_ok(),
        "{cell}"
    );
    assert!(rest.starts_with('+') || rest.starts_with('-'), "{cell}");
    assert!(
        rest.split(' ').next().unwrap()[1..].parse::<u64>().is_ok()
            && rest.contains(" on last quarter)"),
        "{cell}"
    );
    assert!(report.contains(" points on last quarter)</td>"));
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(out.join("dataset.xlsx")).unwrap();
    let g = wb.worksheet_range("at a glance").unwrap();
    let head: Vec<String> = g
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let (e, c) = (
        head.iter().position(|h| h == "england").unwrap(),
        head.iter().position(|h| h == "commentary").unwrap(),
    );
    let row = g.rows().find(|r| r[1].to_string() == "icpc_15wd").unwrap();
    assert_eq!(
        row[c].to_string(),
        "Timeliness rose after the new conference rota."
    );
    assert!(row[e]
        .to_string()
        .starts_with("England, year to 31 March 2025: 81.4%"));
    // A small count in the published commentary is refused, fail-closed.
    std::fs::write(
        &words,
        "[icpc_15wd]\ntext = \"3 children waited longest.\"\n",
    )
    .unwrap();
    Command::cargo_bin("csc-audit")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "pack",
            "--quarter",
            "2024-25 Q4",
            "--profile",
            "published",
            "--commentary",
        ])
        .arg(&words)
        .arg("--out")
        .arg(dir.path().join("published"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("`commentary`: 3"));
}

/// Frames of only the columns the pack reads (as `pack` loads them without a sample plan)
/// make the files of full frames byte for byte, on both profiles, for the sample council and
/// the hand-worked one; the published pack's frames keep every identifier column, which the
/// guard looks for in every file.
#[test]
fn frames_of_only_the_columns_the_pack_reads_make_the_same_pack() {
    use csc_audit::calendar::Calendar;
    use csc_audit::ingest::{load, FrameColumns, LoadOptions};
    use csc_audit::metrics::Library;
    use csc_audit::pack::{self, PackInputs, Profile};
    use csc_audit::periods::{Grain, Period};

    let lib = Library::builtin();
    let cal = Calendar::england_and_wales();
    let cases = [
        (repo("sample_data"), None, "2024-25 Q3"),
        (
            crate::fixture("metrics"),
            chrono::NaiveDate::from_ymd_opt(2024, 4, 10),
            "2023-24 Q4",
        ),
    ];
    for (dir, as_of, quarter) in cases {
        for profile in [Profile::Internal, Profile::Published] {
            let columns = pack::columns_read(&lib, profile);
            let FrameColumns::Only(read) = &columns else {
                panic!("the built-in measures' queries can be read");
            };
            if profile == Profile::Published {
                for t in csc_audit::schema::TABLES {
                    for c in t
                        .columns
                        .iter()
                        .filter(|c| c.kind == csc_audit::schema::Kind::Id)
                    {
                        assert!(read[t.name].contains(c.name), "{}.{}", t.name, c.name);
                    }
                }
            }
            let [full, narrow] = [FrameColumns::All, columns.clone()].map(|columns| {
                let opts = LoadOptions {
                    as_of,
                    today: crate::today(),
                    columns,
                };
                let mut ex = load(&dir, &opts).unwrap();
                pack::bound_labels(&mut ex);
                ex
            });
            let held = |ex: &csc_audit::ingest::Extracts| -> usize {
                ex.frames.values().map(|f| f.width()).sum()
            };
            assert!(held(&narrow) < held(&full), "{}", dir.display());
            if profile == Profile::Published {
                // The guard looks for the same identifiers in what the pack writes.
                let ids = [&full, &narrow].map(pack::guard::Identifiers::from_extracts);
                assert!(ids[0] == ids[1], "{}", dir.display());
                assert!(ids[0] != Default::default());
            }
            let built = [&full, &narrow].map(|ex| {
                let inp = PackInputs {
                    extracts: ex,
                    library: &lib,
                    calendar: &cal,
                    quarter: Period::parse(Grain::Quarter, quarter).unwrap(),
                    profile,
                    sample: None,
                    spc: Default::default(),
                    commentary: Default::default(),
                    findings: None,
                };
                pack::build(&inp, &|_| {}).unwrap()
            });
            let names = |p: &pack::Pack| -> Vec<String> {
                p.files.iter().map(|(n, _)| n.clone()).collect()
            };
            assert!(built[0].files.len() > 10, "{}", dir.display());
            assert_eq!(names(&built[0]), names(&built[1]));
            for ((name, a), (_, b)) in built[0].files.iter().zip(&built[1].files) {
                assert!(a == b, "{} {profile:?}: {name} differs", dir.display());
            }
            assert_eq!(built[0].notes, built[1].notes);
        }
    }
}
