//! Golden test: a hand-written folder with each kind of bad row, and the exact report.

use crate::{fixture, load_dir, today};
use chrono::NaiveDate;
use csc_audit::ingest::{load, LoadOptions, LINE_COLUMN};
use csc_audit::report::Severity;
use polars::prelude::*;

fn golden() -> csc_audit::ingest::Extracts {
    load_dir(&fixture("golden"))
}

#[test]
fn golden_report_lists_every_issue_with_its_place() {
    let ex = golden();
    let got: Vec<String> = ex
        .report
        .issues
        .iter()
        .map(|i| {
            format!(
                "{} {} {} {} {:?}",
                i.table,
                i.line.map(|l| l.to_string()).unwrap_or("-".into()),
                i.column.clone().unwrap_or("-".into()),
                i.rule,
                i.severity
            )
        })
        .collect();
    let expected = [
        "children 1 notes unknown_column Info",
        "children 4 child_id id_normalised Warning",
        "children 5 date_of_birth too_old Error",
        "children 7 child_id duplicate_key Error",
        "children 8 disability bad_flag Error",
        "children 9 child_id missing_required Error",
        "children 10 - field_count Error",
        "workers - - encoding Info",
        "workers 4 role bad_code Error",
        "contacts - - missing_file Info",
        // R2's source holds a line break (lines 3 to 4): named, and read as one row.
        "referrals 3 source multiline_row Info",
        "referrals 5 decision_at order Error",
        "referrals 6 received_at us_date Error",
        "referrals 7 received_at excel_serial Error",
        "referrals 8 child_id dangling_link Warning",
        "referrals 9 received_at future_date Error",
        "referrals 10 received_at bad_date Error",
        "referrals 11 outcome bad_code Error",
        "assessments - - missing_file Info",
        "strategy_discussions - - missing_file Info",
        "s47_enquiries - strategy_id unchecked_link Info",
        "s47_enquiries 3 end_date order Error",
        "cp_plans - - missing_file Info",
        "conferences - plan_id unchecked_link Info",
        "conferences 2 date order Error",
        "conferences 3 s47_id link_to_rejected Warning",
        "core_groups - - missing_file Info",
        "visits - - missing_file Info",
        "supervisions - - missing_file Info",
    ];
    assert_eq!(got, expected);
    assert!(!ex.report.has_fatal());
}

#[test]
fn golden_messages_say_what_was_expected() {
    let ex = golden();
    let msg = |table: &str, line: u64| {
        ex.report
            .issues
            .iter()
            .find(|i| i.table == table && i.line == Some(line))
            .unwrap()
            .message
            .clone()
    };
    let has = |table: &str, line: u64, needle: &str| {
        let m = msg(table, line);
        assert!(m.contains(needle), "{table}:{line}: {m}");
    };
    has("referrals", 6, "US date");
    // Excel day 45380: 45292 is 2024-01-01, plus 88 days.
    has("referrals", 7, "2024-03-29");
    has("referrals", 10, "YYYY-MM-DD or DD/MM/YYYY");
    has("referrals", 11, "nfa, early_help, assessment, s47, other");
    has("children", 7, "line 2");
    has("children", 10, "5 fields but the header has 6");
    has("conferences", 2, "s47_enquiries.csv:2");
    has("referrals", 9, "after the as-of date 2024-04-08");
    // CF2 links to S2, which is in the file but was rejected: the message says so.
    has(
        "conferences",
        3,
        "links to a row of s47_enquiries.csv that was rejected (line 3)",
    );
    has("referrals", 8, "'999' is not in children.csv");
}

#[test]
fn golden_accounting_holds_for_every_table() {
    let ex = golden();
    let stats: Vec<(String, u64, u64, u64)> = ex
        .report
        .tables
        .iter()
        .filter(|t| t.present)
        .map(|t| (t.table.clone(), t.rows_read, t.rows_loaded, t.rows_rejected))
        .collect();
    assert_eq!(
        stats,
        vec![
            ("children".to_string(), 9, 4, 5),
            ("workers".into(), 3, 2, 1),
            ("referrals".into(), 10, 4, 6),
            ("s47_enquiries".into(), 2, 1, 1),
            ("conferences".into(), 3, 2, 1),
        ]
    );
    for t in &ex.report.tables {
        assert_eq!(t.rows_read, t.rows_loaded + t.rows_rejected, "{}", t.table);
        if let Some(df) = ex.frame(&t.table) {
            assert_eq!(df.height() as u64, t.rows_loaded, "{}", t.table);
        }
    }
    let children = ex
        .report
        .tables
        .iter()
        .find(|t| t.table == "children")
        .unwrap();
    assert_eq!(children.unknown_columns, vec!["notes".to_string()]);
    // The row of empty fields Excel leaves at the end; csv skips truly blank lines itself.
    assert_eq!(children.blank_lines, 1);
    assert_eq!(
        ex.report
            .tables
            .iter()
            .find(|t| t.table == "workers")
            .unwrap()
            .encoding,
        "windows-1252"
    );
    // As-of: the latest event date, CF3's 2024-04-08 (2031 is later than today, so a typo).
    assert_eq!(ex.as_of, NaiveDate::from_ymd_opt(2024, 4, 8).unwrap());
}

#[test]
fn golden_frames_hold_typed_values() {
    let ex = golden();
    let children = ex.frame("children").unwrap();
    let ids: Vec<Option<&str>> = children
        .column("child_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(ids, [Some("001"), Some("002"), Some("10"), Some("004")]);
    assert_eq!(
        children.column("date_of_birth").unwrap().dtype(),
        &DataType::Date
    );
    let disability: Vec<Option<bool>> = children
        .column("disability")
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(disability, [Some(false), Some(true), None, None]);

    let refs = ex.frame("referrals").unwrap();
    let ids: Vec<Option<&str>> = refs
        .column("referral_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(ids, [Some("R1"), Some("R2"), Some("R6"), Some("R10")]);
    let lines: Vec<Option<u32>> = refs
        .column(LINE_COLUMN)
        .unwrap()
        .u32()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(lines, [Some(2), Some(3), Some(8), Some(12)]);
    let source: Vec<Option<&str>> = refs
        .column("source")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(source[1], Some("Health\nvisitor"));
    let outcome: Vec<Option<&str>> = refs
        .column("outcome")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(
        outcome,
        [Some("assessment"), Some("nfa"), Some("other"), None]
    );
    // Windows-1252 names decode to the same text as the UTF-8 file's.
    let worker: Vec<Option<&str>> = refs
        .column("worker")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(worker[..2], [Some("Zoë Hughes"), Some("Siân Morgan")]);
    // 2024-04-02 10:00 in milliseconds since 1970 (19815 days * 86,400,000 + 10 h).
    let decided = refs
        .column("decision_at")
        .unwrap()
        .cast(&DataType::Int64)
        .unwrap();
    assert_eq!(
        decided.i64().unwrap().get(0),
        Some(19815 * 86_400_000 + 10 * 3_600_000)
    );
    // The dangling S47 link of CF2 is dropped, CF3 keeps its own.
    let conf = ex.frame("conferences").unwrap();
    let s47: Vec<Option<&str>> = conf
        .column("s47_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(s47, [None, Some("S1")]);
    let kinds: Vec<Option<&str>> = conf
        .column("conference_type")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(kinds, [Some("initial"), Some("initial")]);
}

#[test]
fn given_as_of_changes_what_is_in_the_future() {
    // With the extract dated 2024-04-02, the events of 3 and 8 April are in its future.
    let ex = load(
        &fixture("golden"),
        &LoadOptions {
            as_of: NaiveDate::from_ymd_opt(2024, 4, 2),
            today: today(),
            columns: Default::default(),
        },
    )
    .unwrap();
    let future: Vec<(String, u64)> = ex
        .report
        .issues
        .iter()
        .filter(|i| i.rule == "future_date")
        .map(|i| (i.table.clone(), i.line.unwrap()))
        .collect();
    assert_eq!(
        future,
        // S2 (s47 line 3) is listed although it was already rejected for ending before it
        // started: every problem of a row is reported.
        // R9 (line 11, a bad code) has two dates on 3 April, each named.
        [
            ("referrals".to_string(), 9),
            ("referrals".into(), 11),
            ("referrals".into(), 11),
            ("referrals".into(), 12),
            ("s47_enquiries".into(), 3),
            ("conferences".into(), 3),
            ("conferences".into(), 4),
        ]
    );
    assert!(ex
        .report
        .issues
        .iter()
        .all(|i| i.severity != Severity::Fatal));
}

#[test]
fn a_missing_required_column_or_file_is_fatal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("children.csv"), "child_id,sex\n1,F\n").unwrap();
    std::fs::write(
        dir.path().join("referrals.csv"),
        "referral_id,child_id\nR1,1\n",
    )
    .unwrap();
    let ex = load_dir(dir.path());
    assert!(ex.report.has_fatal());
    let fatal: Vec<(&str, Option<&str>, &str)> = ex
        .report
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Fatal)
        .map(|i| (i.table.as_str(), i.column.as_deref(), i.rule.as_str()))
        .collect();
    assert_eq!(
        fatal,
        [("referrals", Some("received_at"), "missing_column")]
    );

    std::fs::write(
        dir.path().join("referrals.csv"),
        "referral_id;child_id;received_at\nR1;1;2024-01-02\n",
    )
    .unwrap();
    let ex = load_dir(dir.path());
    let semicolons = ex
        .report
        .issues
        .iter()
        .find(|i| i.rule == "missing_column")
        .unwrap();
    assert!(
        semicolons.message.contains("semicolon-separated"),
        "{}",
        semicolons.message
    );

    std::fs::remove_file(dir.path().join("referrals.csv")).unwrap();
    std::fs::write(dir.path().join("contacts.csv"), b"\xFF\xFEc\x00").unwrap();
    let ex = load_dir(dir.path());
    let fatal: Vec<(&str, &str)> = ex
        .report
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Fatal)
        .map(|i| (i.table.as_str(), i.rule.as_str()))
        .collect();
    assert_eq!(
        fatal,
        [("contacts", "encoding"), ("referrals", "missing_file")]
    );
}
