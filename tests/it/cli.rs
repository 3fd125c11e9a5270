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
    assert!(text.contains("and 25 more: use --format json"), "{text}");
}
