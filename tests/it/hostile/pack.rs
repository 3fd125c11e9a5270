//! Hostile inputs: pack (see mod.rs). Issue #11, section A and D14: a pack is built beside
//! its folder and moved into place whole; a published pack shows no identifier breakdown or
//! stratum, no count from 1 to 5 in any count column nor one that follows from a total; and
//! a guard reads every file back and refuses the pack otherwise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use assert_cmd::Command;
use csc_audit::disclosure::{self, Counts};
use csc_audit::metrics::{MetricKind, OutRow};
use csc_audit::pack::guard::{self, Identifiers};
use proptest::prelude::*;

use super::assert_no_crash;

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// The binary, run in `cwd` (a folder without `audits/monthly.toml` unless it is the repo).
fn csc(cwd: &Path) -> Command {
    let mut c = Command::cargo_bin("csc-audit").unwrap();
    c.current_dir(cwd);
    c
}

/// Every file under `dir`, by relative path.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// sample_data's internal pack (with the monthly audit plan) in `P`, then the published pack
/// with --force into the same `P`: the one pair of full sample_data runs, shared.
struct Shared {
    parent: PathBuf,
    out: PathBuf,
    internal: BTreeMap<String, Vec<u8>>,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let parent = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("hostile-pack-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&parent);
        std::fs::create_dir_all(&parent).unwrap();
        let out = parent.join("P");
        let run = |profile: &str, force: bool| {
            let mut c = csc(&repo("."));
            c.args([
                "pack",
                "--plan",
                "audits/monthly.toml",
                "--profile",
                profile,
                "--out",
            ])
            .arg(&out);
            if force {
                c.arg("--force");
            }
            c.assert().success();
        };
        run("internal", false);
        let internal = files(&out);
        run("published", true);
        Shared {
            parent,
            out,
            internal,
        }
    })
}

fn sample_ids() -> &'static Identifiers {
    static IDS: OnceLock<Identifiers> = OnceLock::new();
    IDS.get_or_init(|| Identifiers::from_extracts(&crate::load_dir(&repo("sample_data"))))
}

/// A small extract folder: 40 children, 120 referrals over 2024-25 in `teams` (in turn),
/// each by the worker `Ben Green`, who is in the workers table.
fn tiny(dir: &Path, teams: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    let kids: Vec<String> = (1..=40).map(|i| format!("C{i:07}")).collect();
    let mut children = String::from("child_id,date_of_birth,sex,ethnicity,disability\n");
    for k in &kids {
        children.push_str(&format!("{k},2015-01-01,F,WBRI,N\n"));
    }
    std::fs::write(dir.join("children.csv"), children).unwrap();
    std::fs::write(
        dir.join("workers.csv"),
        "worker,team,role,fte,start_date,end_date\nBen Green,North,social_worker,1.0,2015-01-01,\n",
    )
    .unwrap();
    let mut w = csv::Writer::from_path(dir.join("referrals.csv")).unwrap();
    w.write_record([
        "referral_id",
        "child_id",
        "received_at",
        "source",
        "decision_at",
        "outcome",
        "feedback_sent_at",
        "team",
        "worker",
    ])
    .unwrap();
    let start = chrono::NaiveDate::from_ymd_opt(2024, 4, 1).unwrap();
    for i in 0..120 {
        let d = start + chrono::Duration::days(3 * i as i64);
        w.write_record([
            format!("R{i:07}"),
            kids[i % 40].clone(),
            format!("{d} 10:00"),
            "Schools".into(),
            format!("{d} 12:00"),
            "assessment".into(),
            format!("{d} 15:00"),
            teams[i % teams.len()].to_string(),
            "Ben Green".into(),
        ])
        .unwrap();
    }
    w.flush().unwrap();
}

/// Two measures of referrals (a count and a ratio), both broken down by team.
fn tiny_metrics(dir: &Path, team_reads: Option<&str>) {
    std::fs::create_dir_all(dir).unwrap();
    for m in ["referrals.toml", "referral_decision_1wd.toml"] {
        let mut t = std::fs::read_to_string(repo("metrics").join(m)).unwrap();
        if let (Some(col), "referrals.toml") = (team_reads, m) {
            t.push_str(&format!("\n[breakdown]\nteam = \"{col}\"\n"));
        }
        std::fs::write(dir.join(m), t).unwrap();
    }
}

fn read_csv(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(bytes);
    let head = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    (head, rows)
}

// A.1: --force replaces the whole folder; nothing of the internal run survives.
#[test]
fn published_force_after_internal_leaves_nothing_of_the_internal_pack() {
    let s = shared();
    assert!(s
        .internal
        .contains_key("audit-sample-child-level/sample.csv"));
    assert!(s.internal.keys().any(|k| k.ends_with("-funnel.svg")));
    assert!(s.internal.keys().any(|k| k.ends_with("-by-team.png")));
    let published = files(&s.out);
    assert!(!s.out.join("audit-sample-child-level").exists());
    let team_charts: Vec<&String> = published
        .keys()
        .filter(|k| k.contains("-funnel.") || k.contains("-by-team."))
        .collect();
    assert!(team_charts.is_empty(), "{team_charts:?}");
    // Built beside the target and moved in: nothing else beside it, no temporary file in it.
    assert_eq!(names_in(&s.parent), ["P"]);
    assert!(!published
        .keys()
        .any(|k| k.contains(".tmp") || k.starts_with('.')));
    // And what is there passes the guard, read back from disk.
    guard::check_folder(&s.out, sample_ids()).unwrap();
}

// A.1: a failed build (here the guard refusing) leaves the old pack byte for byte, and
// without --force a folder that holds anything is refused.
#[test]
fn a_refused_build_leaves_the_old_pack_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let (good, bad, m) = (
        dir.path().join("good"),
        dir.path().join("bad"),
        dir.path().join("m"),
    );
    tiny(&good, &["North", "South"]);
    // A team named like a worker: a person in the published data set.
    tiny(&bad, &["North", "Ben Green"]);
    tiny_metrics(&m, None);
    let parent = dir.path().join("packs");
    std::fs::create_dir(&parent).unwrap();
    let out = parent.join("P");
    csc(dir.path())
        .args(["pack", "--data"])
        .arg(&good)
        .arg("--metrics")
        .arg(&m)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let before = files(&out);
    let o = csc(dir.path())
        .args(["pack", "--profile", "published", "--force", "--data"])
        .arg(&bad)
        .arg("--metrics")
        .arg(&m)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_no_crash(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("nothing was moved into place")
            && err.contains("dataset.csv row")
            && err.contains("`Ben Green`, an identifier"),
        "{err}"
    );
    assert_eq!(files(&out), before, "the old pack, byte for byte");
    assert_eq!(names_in(&parent), ["P"], "no half-built folder beside it");
    let o = csc(dir.path())
        .args(["pack", "--profile", "published", "--data"])
        .arg(&good)
        .arg("--metrics")
        .arg(&m)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("add --force to replace the whole folder"));
    assert_eq!(files(&out), before);
}

// A.2: a breakdown mapped to an identifier, and strata by worker, are left out of the
// published pack with a note; the internal pack shows them.
#[test]
fn identifier_breakdowns_and_strata_are_left_out_of_published() {
    let dir = tempfile::tempdir().unwrap();
    let (data, m) = (dir.path().join("data"), dir.path().join("m"));
    tiny(&data, &["North", "South"]);
    tiny_metrics(&m, Some("child_id"));
    let plan = dir.path().join("by-worker.toml");
    std::fs::write(
        &plan,
        "id = \"w\"\ntitle = \"Referrals by worker\"\nunit = \"case\"\nsize = 10\n\
         allocation = \"proportional\"\nstrata = [\"worker\"]\n\n[population]\n\
         table = \"referrals\"\nrows = \"started\"\ndate = \"received_at\"\nperiod = \"month\"\n",
    )
    .unwrap();
    let mut packs = BTreeMap::new();
    for profile in ["internal", "published"] {
        let out = dir.path().join(profile);
        csc(dir.path())
            .args(["pack", "--profile", profile, "--data"])
            .arg(&data)
            .arg("--metrics")
            .arg(&m)
            .arg("--plan")
            .arg(&plan)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        packs.insert(profile, files(&out));
    }
    let text = |p: &str, f: &str| String::from_utf8_lossy(&packs[p][f]).into_owned();
    let child_ids = |s: &str| s.matches("C00000").count();
    assert_eq!(
        child_ids(&text("internal", "dataset.csv")),
        40,
        "internal: by child"
    );
    assert!(text("internal", "report.html").contains("Ben Green"));
    let (head, rows) = read_csv(&packs["published"]["dataset.csv"]);
    let col = |n: &str| head.iter().position(|h| h == n).unwrap();
    assert!(rows
        .iter()
        .all(|r| !(r[col("metric_id")] == "referrals" && r[col("breakdown")] == "team")));
    assert!(rows
        .iter()
        .any(|r| r[col("metric_id")] == "referral_decision_1wd" && r[col("group")] == "North"));
    let report = text("published", "report.html");
    assert_eq!(
        child_ids(&report) + child_ids(&text("published", "dataset.csv")),
        0
    );
    assert!(!report.contains("Ben Green"));
    assert!(report.contains(
        "referrals: the breakdown `team` reads `child_id`, which holds identifiers a published pack never shows"
    ));
    assert!(report.contains("stratifies by `worker`, which holds identifiers"));
    assert!(!report.contains("<h2>Audit sample"));
    // The allow-list, directly: identifiers never, other columns only when listed.
    use csc_audit::pack::published_column;
    use csc_audit::schema::Kind;
    assert!(published_column("team", Some(Kind::Text)).is_ok());
    assert!(published_column("referral.team", Some(Kind::Text)).is_ok());
    assert!(published_column("team", Some(Kind::Id)).is_err());
    assert!(published_column("child_id", Some(Kind::Id)).is_err());
    assert!(published_column("outcome", Some(Kind::Text)).is_err());
}

/// Whether a count column's text is hidden, or its number.
fn count(s: &str) -> Option<f64> {
    if s == "c" {
        None
    } else {
        Some(s.parse().unwrap_or_else(|_| panic!("{s:?} is not a count")))
    }
}

/// Checks a total and its parts as printed: no part from 1 to 5, and never exactly one
/// hidden cell beside a shown total.
#[track_caller]
fn assert_protected(what: &str, total: Option<f64>, parts: &[Option<f64>]) {
    for v in std::iter::once(&total).chain(parts).flatten() {
        assert!(!disclosure::is_small(*v), "{what}: {v} shown");
    }
    let hidden = parts.iter().filter(|p| p.is_none()).count();
    assert!(
        total.is_none() || hidden != 1,
        "{what}: one hidden cell and a shown total: {total:?} {parts:?}"
    );
}

// A.3: pending, excluded, medians' denominators, the strata and every total are suppressed.
#[test]
fn every_count_column_of_the_published_pack_is_suppressed() {
    let s = shared();
    let published = files(&s.out);
    let (head, rows) = read_csv(&published["dataset.csv"]);
    let col = |n: &str| head.iter().position(|h| h == n).unwrap();
    let (ihead, irows) = read_csv(&s.internal["dataset.csv"]);
    let icol = |n: &str| ihead.iter().position(|h| h == n).unwrap();
    let find = |rows: &[Vec<String>], c: &dyn Fn(&str) -> usize, m: &str, g: &str| {
        rows.iter()
            .find(|r| r[c("metric_id")] == m && r[c("group")] == g && r[c("category")] == "all")
            .unwrap_or_else(|| panic!("{m} {g}"))
            .clone()
    };
    // The figures the issue names, shown internally and hidden in the published pack.
    let int = find(&irows, &icol, "referral_decision_1wd", "MASH");
    assert_eq!(int[icol("pending")], "4");
    assert_eq!(
        find(&rows, &col, "referral_decision_1wd", "MASH")[col("pending")],
        "c"
    );
    let int = find(&irows, &icol, "strategy_minutes_timely", "all");
    assert_eq!(int[icol("pending")], "1");
    assert_eq!(
        find(&rows, &col, "strategy_minutes_timely", "all")[col("pending")],
        "c"
    );
    // Every group set against its total, for every count column.
    let mut sets: BTreeMap<(String, String, String), (Option<f64>, Vec<Option<f64>>)> =
        BTreeMap::new();
    for r in &rows {
        for f in ["numerator", "denominator", "pending", "excluded"] {
            if r[col(f)].is_empty() {
                continue;
            }
            let v = count(&r[col(f)]);
            let key = (
                r[col("metric_id")].clone(),
                r[col("category")].clone(),
                f.to_string(),
            );
            let e = sets.entry(key).or_default();
            if r[col("breakdown")] == "all" {
                e.0 = v;
            } else {
                e.1.push(v);
            }
        }
    }
    for ((m, cat, f), (total, parts)) in &sets {
        assert_protected(&format!("{m} {cat} {f}"), *total, parts);
    }
    let caseload = &sets[&(
        "caseload_per_worker".into(),
        "all".into(),
        "denominator".into(),
    )];
    assert_eq!(caseload.0, Some(35.0));
    assert!(caseload.1.iter().filter(|v| v.is_none()).count() >= 2);
    // The audit strata and the data quality, as the report prints them.
    let report = String::from_utf8_lossy(&published["report.html"]).into_owned();
    let table_after = |heading: &str| -> Vec<Vec<String>> {
        let at = report.find(heading).unwrap();
        let end = at + report[at..].find("</table>").unwrap();
        report[at..end]
            .split("<tr>")
            .skip(2)
            .map(|row| {
                row.split("<td")
                    .skip(1)
                    .map(|c| {
                        let c = &c[c.find('>').unwrap() + 1..];
                        c[..c.find('<').unwrap()].to_string()
                    })
                    .collect()
            })
            .collect()
    };
    let strata = table_after("<h2>Audit sample");
    let last = strata.last().unwrap();
    assert_eq!(last[0], "all strata");
    assert!(!report.contains("cases drawn from"));
    for c in [1, 2] {
        let parts: Vec<Option<f64>> = strata[..strata.len() - 1]
            .iter()
            .map(|r| count(&r[c]))
            .collect();
        assert_protected("strata", count(&last[c]), &parts);
        assert!(
            parts.iter().any(Option::is_none),
            "sample_data has small strata"
        );
    }
    for r in table_after("<h2>Data quality") {
        assert_protected(&r[0], count(&r[1]), &[count(&r[2]), count(&r[3])]);
    }
}

// A.4: the guard reads files back and names each file and cell it refuses.
#[test]
fn the_guard_refuses_planted_identifiers_and_small_counts() {
    let s = shared();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("P");
    for (rel, bytes) in files(&s.out) {
        let p = copy.join(&rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    guard::check_folder(&copy, sample_ids()).unwrap();
    // An identifier in the report's text.
    let mut html = std::fs::read_to_string(copy.join("report.html")).unwrap();
    html = html.replace("</footer>", "<p>child C0000017</p></footer>");
    std::fs::write(copy.join("report.html"), &html).unwrap();
    // A small count in the data set's pending column.
    let (head, mut rows) = read_csv(&std::fs::read(copy.join("dataset.csv")).unwrap());
    let pending = head.iter().position(|h| h == "pending").unwrap();
    rows[0][pending] = "3".into();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&head).unwrap();
    for r in &rows {
        w.write_record(r).unwrap();
    }
    std::fs::write(copy.join("dataset.csv"), w.into_inner().unwrap()).unwrap();
    // A worker's name in a PNG text chunk.
    let mut png_bytes = Vec::new();
    {
        let mut e = png::Encoder::new(&mut png_bytes, 1, 1);
        e.set_color(png::ColorType::Grayscale);
        e.add_text_chunk("Author".into(), "Rhys Nowak".into())
            .unwrap();
        e.write_header().unwrap().write_image_data(&[0]).unwrap();
    }
    std::fs::write(copy.join("charts/planted.png"), png_bytes).unwrap();
    // A workbook with a small denominator, and Parquet with a child id.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let sh = wb.add_worksheet().set_name("front door").unwrap();
    sh.write_string(0, 0, "metric_id").unwrap();
    sh.write_string(0, 1, "denominator").unwrap();
    sh.write_string(1, 0, "referrals").unwrap();
    sh.write_number(1, 1, 2.0).unwrap();
    std::fs::write(copy.join("dataset.xlsx"), wb.save_to_buffer().unwrap()).unwrap();
    {
        use polars::prelude::*;
        let mut df = df!("group" => ["North", "C0000099"], "numerator" => [10.0, 20.0]).unwrap();
        let mut out = Vec::new();
        ParquetWriter::new(&mut out).finish(&mut df).unwrap();
        std::fs::write(copy.join("dataset.parquet"), out).unwrap();
    }
    std::fs::write(copy.join("extra.bin"), b"?").unwrap();
    let err = guard::check_folder(&copy, sample_ids()).unwrap_err();
    for want in [
        "report.html line",
        "`C0000017`, an identifier",
        "dataset.csv row 2, cell P, column `pending`: 3",
        "charts/planted.png text chunk `Author`: `Rhys Nowak`",
        "dataset.xlsx sheet `front door` row 2, cell B, column `denominator`: 2",
        "dataset.parquet row 3, cell A: `C0000099`",
        "extra.bin: a kind of file the guard cannot read back",
    ] {
        assert!(err.contains(want), "{want} not in:\n{err}");
    }
}

// D14: a huge team value (3 MB once made the pack ask for 16 GB) is rejected at load
// (`too_long`), and a long one that loads (400 characters) is cut for display: the pack
// finishes and no file is sized by either.
#[test]
fn a_huge_team_value_is_cut_not_laid_out() {
    let dir = tempfile::tempdir().unwrap();
    let (data, m) = (dir.path().join("data"), dir.path().join("m"));
    let (huge, long) = ("T".repeat(3_000_000), "L".repeat(400));
    tiny(&data, &["North", &huge, &long]);
    tiny_metrics(&m, None);
    for profile in ["internal", "published"] {
        let out = dir.path().join(profile);
        let o = csc(dir.path())
            .args(["pack", "--profile", profile, "--data"])
            .arg(&data)
            .arg("--metrics")
            .arg(&m)
            .arg("--out")
            .arg(&out)
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .unwrap();
        assert_no_crash(&o);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{err}");
        assert!(
            err.contains("referrals.team: values longer than 100 characters (the longest 400)"),
            "{err}"
        );
        let all = files(&out);
        let csv = String::from_utf8_lossy(&all["dataset.csv"]);
        assert!(csv.contains("… (cut from 400 characters, #"), "{profile}");
        assert!(
            !csv.contains("TTTT"),
            "{profile}: the rejected value is shown"
        );
        for (name, bytes) in &all {
            assert!(bytes.len() < 1_000_000, "{name}: {} bytes", bytes.len());
        }
    }
}

/// Rows of one ratio measure by team: `all` the sum of the groups.
fn ratio_rows(groups: &[(u64, u64, u64, u64)]) -> Vec<OutRow> {
    let d = chrono::NaiveDate::from_ymd_opt(2024, 10, 1).unwrap();
    let row = |g: &str, b: &str, x: u64, n: u64, p: u64, e: u64| OutRow {
        metric_id: "m".into(),
        period: "2024-25 Q3".into(),
        period_start: d,
        period_end: d,
        breakdown: b.into(),
        group: g.into(),
        category: "all".into(),
        numerator: Some(x as f64),
        denominator: Some(n as f64),
        value: (n > 0).then(|| 100.0 * x as f64 / n as f64),
        pending: p,
        excluded: e,
        target: None,
        rag: None,
        ci_low: None,
        ci_high: None,
        rate_per_10k: None,
        p25: None,
        p75: None,
        unit: "percent".into(),
        polarity: String::new(),
        complete: true,
    };
    let sum = |f: &dyn Fn(&(u64, u64, u64, u64)) -> u64| groups.iter().map(f).sum::<u64>();
    let mut rows = vec![row(
        "all",
        "all",
        sum(&|g| g.0),
        sum(&|g| g.0 + g.1),
        sum(&|g| g.2),
        sum(&|g| g.3),
    )];
    for (i, g) in groups.iter().enumerate() {
        rows.push(row(&format!("T{i}"), "team", g.0, g.0 + g.1, g.2, g.3));
    }
    rows
}

proptest! {
    #![proptest_config(ProptestConfig { cases: super::cases(256), ..ProptestConfig::default() })]

    /// Random tables of a ratio by team: after suppression no count from 1 to 5 is shown,
    /// none of the failed cases is 1 to 5 where numerator and denominator are shown, and no
    /// hidden cell is the only hidden part of a shown total (nor the failed cases of a team
    /// whose numerator is the only hidden one).
    #[test]
    fn suppressed_tables_show_no_small_count_and_hide_nothing_recoverable(
        groups in prop::collection::vec((0u64..25, 0u64..25, 0u64..8, 0u64..8), 1..6)
    ) {
        let rows = ratio_rows(&groups);
        let h = disclosure::suppress(&rows, |_| Some(MetricKind::Ratio));
        let shown = |i: usize, f: &str| -> Option<f64> {
            let r = &rows[i];
            match f {
                "numerator" => (!h[i].numerator).then_some(r.numerator.unwrap()),
                "denominator" => (!h[i].denominator).then_some(r.denominator.unwrap()),
                "pending" => (!h[i].pending).then_some(r.pending as f64),
                _ => (!h[i].excluded).then_some(r.excluded as f64),
            }
        };
        for i in 0..rows.len() {
            for f in ["numerator", "denominator", "pending", "excluded"] {
                prop_assert!(!shown(i, f).is_some_and(disclosure::is_small), "{f} of row {i}");
            }
            if let (Some(x), Some(n)) = (shown(i, "numerator"), shown(i, "denominator")) {
                prop_assert!(!disclosure::is_small(n - x), "failed cases of row {i}");
            }
            prop_assert!(!(h[i].numerator || h[i].denominator) || h[i].value);
        }
        for f in ["numerator", "denominator", "pending", "excluded"] {
            let parts: Vec<Option<f64>> = (1..rows.len()).map(|i| shown(i, f)).collect();
            let hidden = parts.iter().filter(|p| p.is_none()).count();
            prop_assert!(shown(0, f).is_none() || hidden != 1, "{f}: {parts:?}");
        }
        // The failed cases: known for every team with both shown, and for the total.
        let failed = |i: usize| shown(i, "denominator").zip(shown(i, "numerator")).map(|(n, x)| n - x);
        let unknown: Vec<usize> = (1..rows.len()).filter(|&i| failed(i).is_none()).collect();
        if let ([i], Some(total)) = (unknown.as_slice(), failed(0)) {
            // That team's failed cases follow from the total, and from them its numerator.
            let rest: f64 = (1..rows.len()).filter(|j| j != i).filter_map(failed).sum();
            let recovered = total - rest;
            prop_assert!(!disclosure::is_small(recovered), "team {i}: failed {recovered}");
            if shown(*i, "denominator").is_some() {
                prop_assert!(!disclosure::is_small(rows[*i].numerator.unwrap()), "team {i}");
            }
        }
    }

    /// The engine on its own: a random total of random parts, some derived.
    #[test]
    fn no_small_part_follows_from_a_shown_total(
        parts in prop::collection::vec((0u64..12, any::<bool>()), 2..7)
    ) {
        let mut c = Counts::default();
        let total: u64 = parts.iter().map(|p| p.0).sum();
        let t = c.count(total as f64);
        let ids: Vec<usize> = parts
            .iter()
            .map(|&(v, derived)| if derived { c.derived(v as f64) } else { c.count(v as f64) })
            .collect();
        c.sum(t, ids.clone());
        c.suppress();
        // What a reader knows: shown printed cells; derived cells are unknown.
        let unknown: Vec<usize> = ids
            .iter()
            .enumerate()
            .filter(|(i, &id)| parts[*i].1 || c.hidden(id))
            .map(|(i, _)| i)
            .collect();
        for (i, &id) in ids.iter().enumerate() {
            if !parts[i].1 && !c.hidden(id) {
                prop_assert!(!disclosure::is_small(parts[i].0 as f64));
            }
        }
        if !c.hidden(t) && unknown.len() == 1 {
            prop_assert!(!disclosure::is_small(parts[unknown[0]].0 as f64), "{parts:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: super::cases(4), ..ProptestConfig::default() })]

    /// Small generated extract folders (team names that are people, codes or long text):
    /// the published pack never crashes, and when it is written it passes the guard.
    #[test]
    fn a_published_pack_of_generated_extracts_passes_the_guard(
        teams in prop::collection::vec(
            prop_oneof![
                Just("North".to_string()),
                Just("Ben Green".to_string()),
                Just("C0000007".to_string()),
                "[A-Za-z ]{1,12}",
                "[a-z]{150,200}",
            ],
            1..4,
        )
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (data, m) = (dir.path().join("data"), dir.path().join("m"));
        let teams: Vec<&str> = teams.iter().map(String::as_str).collect();
        tiny(&data, &teams);
        tiny_metrics(&m, None);
        let out = dir.path().join("P");
        let o = csc(dir.path())
            .args(["pack", "--profile", "published", "--data"])
            .arg(&data)
            .arg("--metrics")
            .arg(&m)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_no_crash(&o);
        if o.status.success() {
            let ids = Identifiers::from_extracts(&crate::load_dir(&data));
            prop_assert!(guard::check_folder(&out, &ids).is_ok());
        } else {
            prop_assert!(!out.exists(), "a refused pack leaves nothing");
            let err = String::from_utf8_lossy(&o.stderr);
            prop_assert!(err.contains("an identifier from the extracts"), "{}", err);
        }
    }
}

/// C10 for the pack: `--out` is replaced whole, so it may not hold or sit inside what the
/// pack reads, nor be an audit sample folder, even with --force; nothing is touched.
#[test]
fn a_pack_never_replaces_its_inputs_or_a_sample() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    tiny(&data, &["North", "South", "East"]);
    let sample = d.path().join("sample");
    std::fs::create_dir(&sample).unwrap();
    std::fs::write(
        sample.join("manifest.json"),
        "{\"tool\": \"csc-audit 0.1.0\"}",
    )
    .unwrap();
    std::fs::write(sample.join("sample.csv"), "case_id\nX1\n").unwrap();
    let before = (files(&data), files(&sample));
    for (out, says) in [
        (data.clone(), "which this command reads"),
        (data.join("pack"), "which this command reads"),
        (d.path().to_path_buf(), "does not contain the inputs"),
        (sample.clone(), "audit sample folder"),
        (sample.join("pack"), "audit sample folder"),
    ] {
        let o = csc(d.path())
            .args(["pack", "--force", "--data"])
            .arg(&data)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        super::assert_no_crash(&o);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{}: {err}", out.display());
        assert!(err.contains(says), "{}: {err}", out.display());
    }
    assert!(
        before == (files(&data), files(&sample)),
        "an input was touched"
    );
}

/// A pack tidies what a killed run of its own left beside `--out`, and nothing else: an
/// input named like a staging folder is never deleted, and `--force` never deletes a
/// sample inside the folder it replaces.
#[test]
fn a_pack_never_deletes_an_input_named_like_its_staging_or_a_sample_inside_out() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join(".pk.old-4000000");
    tiny(&data, &["North", "South", "East"]);
    let before = files(&data);
    let wrap = d.path().join("wrap");
    let sample = wrap.join("s0");
    std::fs::create_dir_all(&sample).unwrap();
    std::fs::write(
        sample.join("manifest.json"),
        "{\"tool\": \"csc-audit 0.1.0\"}",
    )
    .unwrap();
    std::fs::write(sample.join("sample.csv"), "case_id\nX1\n").unwrap();
    std::fs::create_dir(d.path().join("pk")).unwrap();
    let o = csc(d.path())
        .args(["pack", "--force", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&wrap)
        .output()
        .unwrap();
    assert_no_crash(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("holds the audit sample"), "{err}");
    assert!(sample.join("sample.csv").is_file());
    let o = csc(d.path())
        .args(["pack", "--force", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(d.path().join("pk"))
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    assert_no_crash(&o);
    assert!(files(&data) == before, "the data folder was touched");
}
