//! Real runs of the `csc-audit` binary: exit codes, output shape, reproducible files.

use crate::fixture;
use assert_cmd::Command;

fn csc() -> Command {
    Command::cargo_bin("csc-audit").unwrap()
}

#[test]
fn synth_twice_gives_identical_files() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for dir in [&a, &b] {
        csc()
            .args(["synth", "--seed", "7", "--scale", "0.1", "--out"])
            .arg(dir.path())
            .assert()
            .success();
    }
    let mut names: Vec<_> = std::fs::read_dir(a.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), 13, "{names:?}"); // 12 tables and synth.json
    for name in names {
        assert_eq!(
            std::fs::read(a.path().join(&name)).unwrap(),
            std::fs::read(b.path().join(&name)).unwrap(),
            "{name:?}"
        );
    }
}

#[test]
fn check_json_has_the_documented_shape_and_exit_codes() {
    let out = csc()
        .args(["check", "--format", "json", "--data"])
        .arg(fixture("golden"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["as_of"], "2024-04-08");
    let referrals = v["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "referrals")
        .unwrap();
    assert_eq!(referrals["file"], "referrals.csv");
    assert_eq!(
        (
            referrals["rows_read"].as_u64(),
            referrals["rows_loaded"].as_u64(),
            referrals["rows_rejected"].as_u64()
        ),
        (Some(10), Some(4), Some(6))
    );
    assert_eq!(referrals["unknown_columns"], serde_json::json!([]));
    let us = v["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["rule"] == "us_date")
        .unwrap();
    assert_eq!(
        (
            us["table"].as_str(),
            us["line"].as_u64(),
            us["column"].as_str(),
            us["severity"].as_str()
        ),
        (
            Some("referrals"),
            Some(6),
            Some("received_at"),
            Some("error")
        )
    );
    assert!(us["message"].as_str().unwrap().contains("03/28/2024"));

    csc()
        .args(["check", "--strict", "--data"])
        .arg(fixture("golden"))
        .assert()
        .code(1);
    csc()
        .args(["check", "--data", "/no/such/folder"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--data"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("children.csv"), "child_id\n1\n").unwrap();
    csc()
        .args(["check", "--data"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stdout(predicates::str::contains("referrals.csv is required"));
}

#[test]
fn check_text_report_summarises_tables_and_issues() {
    let out = csc()
        .args(["check", "--as-of", "08/04/2024", "--limit", "3", "--data"])
        .arg(fixture("golden"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("As-of date: 2024-04-08 (given with --as-of)"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["referrals", "10", "4", "6"]),
        "{text}"
    );
    assert!(text.contains("read as windows-1252"), "{text}");
    // 29 issues: the 3 shown, then the rest (one is the multi-line row of referrals.csv).
    assert!(text.contains("and 26 more: use --format json"), "{text}");
}

#[test]
fn days_counts_working_days_and_deadlines() {
    // Thu 28 Mar 2024 -> Fri 19 Apr 2024: Easter (29 Mar, 1 Apr) skipped; 2-5, 8-12, 15-19 Apr.
    let out = csc()
        .args(["days", "--from", "2024-03-28", "--to", "19/04/2024"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("14 working days from Thu 28 Mar 2024 to Fri 19 Apr 2024"),
        "{text}"
    );
    assert!(
        text.contains("not counted: Fri 29 Mar 2024 Good Friday"),
        "{text}"
    );
    let out = csc()
        .args(["days", "--from", "2024-03-28", "--add", "15"])
        .output()
        .unwrap();
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("is Mon 22 Apr 2024"));
    // A local calendar where Wed 24 Dec 2025 is a closure day (and, being a test calendar,
    // 25-26 Dec are not holidays).
    let cal = fixture("anytown-2025.toml");
    let out = csc()
        .args([
            "days",
            "--from",
            "2025-12-23",
            "--to",
            "2025-12-29",
            "--calendar",
        ])
        .arg(&cal)
        .output()
        .unwrap();
    // Counted: Thu 25, Fri 26, Mon 29 (this calendar has no Christmas holidays); Wed 24 closed.
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .starts_with("3 working days"));
    csc()
        .args(["days", "--from", "2031-01-01", "--to", "2031-02-01"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--calendar"));
}

#[test]
fn check_says_when_the_calendar_does_not_cover_the_data() {
    let out = csc()
        .args(["check", "--format", "json", "--data"])
        .arg(fixture("golden"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["calendar"]["covers_data"], true);
    assert_eq!(v["calendar"]["source"], "built-in");
    // The golden events run from 28 March to 8 April 2024; a 2025-only calendar cannot count them.
    assert_eq!(
        (
            v["first_event_date"].as_str(),
            v["last_event_date"].as_str()
        ),
        (Some("2024-03-28"), Some("2024-04-08"))
    );
    let out = csc()
        .args(["check", "--data"])
        .arg(fixture("golden"))
        .arg("--calendar")
        .arg(fixture("anytown-2025.toml"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Working days: Anytown 2025") && text.contains("WARNING"),
        "{text}"
    );
}

#[test]
fn synth_never_overwrites_a_real_extract_by_accident() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("referrals.csv"),
        "referral_id,child_id,received_at\nR1,C1,2024-01-02\n",
    )
    .unwrap();
    csc()
        .args(["synth", "--scale", "0.05", "--out"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--force"));
    assert!(std::fs::read_to_string(dir.path().join("referrals.csv"))
        .unwrap()
        .contains("R1,C1"));
    csc()
        .args(["synth", "--scale", "0.05", "--force", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    // A folder synth wrote itself is simply refreshed.
    csc()
        .args(["synth", "--scale", "0.05", "--seed", "3", "--out"])
        .arg(dir.path())
        .assert()
        .success();
}
