//! Hostile inputs: CSV bytes (issue #11, B4-B6 and D13). Every physical line of a file is
//! accounted for at its own line number: a data line (after the header) that is not blank
//! starts a row, or is inside a row whose quoted value runs over lines, which the report
//! names with its first and last line (`multiline_row`). So for every table
//! `rows_read = rows_loaded + rows_rejected` = the non-blank data lines, less the lines a
//! multi-line row adds. A run-away quote never swallows a row: its line is rejected
//! (`unclosed_quote`) and each line after it is read as a row of its own.

use crate::{fixture, load_dir};
use csc_audit::ingest::{LINE_COLUMN, MAX_COLUMNS};
use csc_audit::report::{Issue, Severity, TableStats};
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::path::Path;

const REFERRALS_HEADER: &str =
    "referral_id,child_id,received_at,source,decision_at,outcome,feedback_sent_at,team,worker";

fn children(dir: &Path) {
    std::fs::write(
        dir.join("children.csv"),
        "child_id,date_of_birth\nC1,2015-01-01\nC2,2016-02-02\nC3,2017-03-03\n",
    )
    .unwrap();
}

/// A valid referral row with key `R{i}`.
fn referral(i: usize) -> String {
    format!(
        "R{i},C{},2024-01-{:02} 09:00,Police,2024-01-{:02} 10:00,nfa,,North,Ann Smith",
        i % 3 + 1,
        i % 28 + 1,
        i % 28 + 1
    )
}

/// A folder with children.csv and a referrals.csv of these bytes.
fn folder(referrals: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    children(dir.path());
    std::fs::write(dir.path().join("referrals.csv"), referrals).unwrap();
    dir
}

fn stats<'a>(ex: &'a csc_audit::ingest::Extracts, table: &str) -> &'a TableStats {
    ex.report.tables.iter().find(|t| t.table == table).unwrap()
}

fn issues<'a>(ex: &'a csc_audit::ingest::Extracts, rule: &str) -> Vec<&'a Issue> {
    ex.report.issues.iter().filter(|i| i.rule == rule).collect()
}

fn loaded_lines(ex: &csc_audit::ingest::Extracts, table: &str) -> Vec<u32> {
    ex.frame(table)
        .map(|f| {
            f.column(LINE_COLUMN)
                .unwrap()
                .u32()
                .unwrap()
                .iter()
                .flatten()
                .collect()
        })
        .unwrap_or_default()
}

/// (read, loaded, rejected) of a table.
fn counts(ex: &csc_audit::ingest::Extracts, table: &str) -> (u64, u64, u64) {
    let t = stats(ex, table);
    (t.rows_read, t.rows_loaded, t.rows_rejected)
}

// ---- B4: a quote that is never closed swallows nothing ----

#[test]
fn b4_a_stray_quote_on_line_3_of_1001_lines_swallows_no_row() {
    let mut text = format!("{REFERRALS_HEADER}\n");
    for i in 1..=1000 {
        let mut row = referral(i);
        if i == 2 {
            // Line 3: the worker's value opens a quote that nothing closes.
            row = row.replace("Ann Smith", "\"Ann Smith");
        }
        text.push_str(&row);
        text.push('\n');
    }
    let dir = folder(text.as_bytes());
    let ex = load_dir(dir.path());
    assert_eq!(counts(&ex, "referrals"), (1000, 999, 1));
    let unclosed = issues(&ex, "unclosed_quote");
    assert_eq!(unclosed.len(), 1);
    assert_eq!(
        (unclosed[0].line, unclosed[0].severity),
        (Some(3), Severity::Error)
    );
    assert!(
        unclosed[0].message.contains("never closed"),
        "{}",
        unclosed[0].message
    );
    let lines = loaded_lines(&ex, "referrals");
    assert_eq!(lines.len(), 999);
    assert_eq!((lines[0], lines[1], lines[998]), (2, 4, 1001));
}

#[test]
fn b4_an_unterminated_quote_near_the_top_of_199_lines() {
    let mut text = format!("{REFERRALS_HEADER}\n");
    for i in 1..=198 {
        let mut row = referral(i);
        if i == 1 {
            row = row.replace(",Police,", ",\"Police,");
        }
        text.push_str(&row);
        text.push('\n');
    }
    let ex = load_dir(folder(text.as_bytes()).path());
    assert_eq!(counts(&ex, "referrals"), (198, 197, 1));
    assert_eq!(issues(&ex, "unclosed_quote")[0].line, Some(2));
}

#[test]
fn b4_a_run_away_quote_closed_lines_below_is_rejected_not_a_row_of_many_lines() {
    // Line 3 opens a quote in the last field; line 8's `O"Brien` closes it. Read as csv
    // reads it, lines 3-8 are one row of the right width whose worker is six lines long.
    let mut text = format!("{REFERRALS_HEADER}\n");
    for i in 1..=9 {
        let row = match i {
            2 => referral(i).replace("Ann Smith", "\"Ann Smith"),
            7 => referral(i).replace("Ann Smith", "Ann O\"Brien"),
            _ => referral(i),
        };
        text.push_str(&row);
        text.push('\n');
    }
    let ex = load_dir(folder(text.as_bytes()).path());
    assert_eq!(counts(&ex, "referrals"), (9, 8, 1));
    let unclosed = issues(&ex, "unclosed_quote");
    assert_eq!(unclosed.len(), 1);
    assert_eq!(unclosed[0].line, Some(3));
    assert!(
        unclosed[0].message.contains("runs on to line 8")
            && unclosed[0].message.contains("line 4 inside it"),
        "{}",
        unclosed[0].message
    );
    assert!(issues(&ex, "multiline_row").is_empty());
    assert_eq!(loaded_lines(&ex, "referrals"), [2, 4, 5, 6, 7, 8, 9, 10]);
}

#[test]
fn b4_a_value_over_lines_is_one_row_named_with_its_first_and_last_line() {
    let text = format!(
        "{REFERRALS_HEADER}\n{}\nR2,C1,2024-01-02,\"Health\nvisitor\nteam\",2024-01-03,nfa,,North,Ann\n{}\nR4,C1,2024-13-01,Police,,,,,\n",
        referral(1),
        referral(3)
    );
    let ex = load_dir(folder(text.as_bytes()).path());
    assert_eq!(counts(&ex, "referrals"), (4, 3, 1));
    let multi = issues(&ex, "multiline_row");
    assert_eq!(multi.len(), 1);
    assert_eq!(
        (multi[0].line, multi[0].column.as_deref(), multi[0].severity),
        (Some(3), Some("source"), Severity::Info)
    );
    assert!(
        multi[0].message.contains("lines 3 to 5"),
        "{}",
        multi[0].message
    );
    // The rows after it keep their own lines.
    assert_eq!(loaded_lines(&ex, "referrals"), [2, 3, 6]);
    assert_eq!(issues(&ex, "bad_date")[0].line, Some(7));
    let source = ex
        .frame("referrals")
        .unwrap()
        .column("source")
        .unwrap()
        .clone();
    assert_eq!(source.str().unwrap().get(1), Some("Health\nvisitor\nteam"));
}

#[test]
fn b4_a_value_over_lines_that_then_cannot_be_read_is_split_back_into_its_lines() {
    // The quote in `received_at` runs to line 3; the date it would hold is not a date.
    let text = format!(
        "{REFERRALS_HEADER}\nR1,C1,\"2024-01-02\nx\",Police,,,,,\n{}\n",
        referral(3)
    );
    let ex = load_dir(folder(text.as_bytes()).path());
    let unclosed = issues(&ex, "unclosed_quote");
    assert_eq!(unclosed.len(), 1, "{:?}", ex.report.issues);
    assert!(
        unclosed[0]
            .message
            .contains("'received_at' then cannot be read"),
        "{}",
        unclosed[0].message
    );
    // Line 2 rejected, line 3 read (and rejected: 6 fields), line 4 loads.
    assert_eq!(counts(&ex, "referrals"), (3, 1, 2));
    assert_eq!(loaded_lines(&ex, "referrals"), [4]);
}

// ---- B5: line numbers are physical lines, whatever the line ends ----

#[test]
fn b5_a_cr_only_file_with_a_line_feed_inside_a_value_reports_line_10_as_10() {
    let mut lines = vec![REFERRALS_HEADER.to_string()];
    for i in 1..=7 {
        lines.push(referral(i));
    }
    // Line 3's source holds an LF: lines 3 and 4 are one row.
    lines[2] = lines[2].replace(",Police,", ",\"Police\nstation\",");
    lines.push("R99,C1,not a date,Police,,,,,".into());
    let text = lines.join("\r") + "\r";
    let ex = load_dir(folder(text.as_bytes()).path());
    assert_eq!(issues(&ex, "bad_date")[0].line, Some(10));
    assert!(issues(&ex, "multiline_row")[0]
        .message
        .contains("lines 3 to 4"));
}

#[test]
fn b5_mixed_cr_lf_and_crlf_line_ends_each_count_once() {
    let mut text = format!("{REFERRALS_HEADER}\r\n");
    let ends = ["\r", "\n", "\r\n"];
    for i in 1..=8 {
        text.push_str(&referral(i));
        text.push_str(ends[i % 3]);
    }
    text.push_str("R99,C1,not a date,Police,,,,,\r\n");
    let ex = load_dir(folder(text.as_bytes()).path());
    assert_eq!(issues(&ex, "bad_date")[0].line, Some(10));
    assert_eq!(
        loaded_lines(&ex, "referrals"),
        (2..=9).collect::<Vec<u32>>()
    );
}

#[test]
fn b5_audit_results_name_the_line_after_a_multiline_cell() {
    use csc_audit::sampling::results::{estimate, SampleFrame, SampledCase};
    let frame = SampleFrame {
        cases: vec![SampledCase {
            stratum: "all".into(),
            case_id: "K1".into(),
            child_id: "C1".into(),
            auditor: "A".into(),
        }],
        strata: vec![("all".into(), 10)],
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.csv");
    std::fs::write(
        &path,
        "case_id,comment,seen\r\nK1,\"two\r\nlines\",yes\r\nK9,,yes\r\n",
    )
    .unwrap();
    let err = estimate(&frame, &path, 0.95).unwrap_err().to_string();
    assert!(err.contains("line 4: case `K9`"), "{err}");
    std::fs::write(&path, "case_id,seen\nK1,\"yes\nK9,no\n").unwrap();
    let err = estimate(&frame, &path, 0.95).unwrap_err().to_string();
    assert!(
        err.contains("line 2: a quote") && err.contains("never closed"),
        "{err}"
    );
}

#[test]
fn b5_the_audit_history_names_the_line_after_a_multiline_cell() {
    let repo = |p: &str| Path::new(env!("CARGO_MANIFEST_DIR")).join(p);
    let plans = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo("audits/monthly.toml"),
        plans.path().join("monthly.toml"),
    )
    .unwrap();
    // CR line ends, and an LF inside the note of the row on lines 2-3.
    std::fs::write(
        plans.path().join("history.csv"),
        "child_id,case_id,audit_date,note\rC0000001,,15/02/2025,\"two\nlines\"\rC0000002,,not a date,\r",
    )
    .unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::cargo_bin("csc-audit")
        .unwrap()
        .arg("sample")
        .arg("--plan")
        .arg(plans.path().join("monthly.toml"))
        .arg("--data")
        .arg(repo("sample_data"))
        .args(["--period", "2025-03", "--seed", "7", "--out"])
        .arg(out_dir.path().join("s"))
        .output()
        .unwrap();
    super::assert_no_crash(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("history.csv line 4, column audit_date"),
        "{err}"
    );
}

// ---- B6: headers, invisible characters, things that are not files ----

#[test]
fn b6_repeated_unknown_columns_get_names_unique_against_every_header() {
    let dir = folder(REFERRALS_HEADER.as_bytes());
    std::fs::write(
        dir.path().join("children.csv"),
        "child_id,a,a_column_4,a,,_line\nC1,x,y,z,w,v\n",
    )
    .unwrap();
    let ex = load_dir(dir.path());
    assert!(!ex.report.has_fatal(), "{:?}", ex.report.issues);
    assert_eq!(
        stats(&ex, "children").unknown_columns,
        [
            "a",
            "a_column_4",
            "a_column_4_2",
            "_column_5",
            "_line_column_6"
        ]
    );
    let frame = ex.frame("children").unwrap();
    let z = frame.column("a_column_4_2").unwrap().str().unwrap().get(0);
    assert_eq!(z, Some("z"));
    assert_eq!(loaded_lines(&ex, "children"), [2]);
}

#[test]
fn b6_invisible_characters_in_a_value_do_not_make_a_second_team() {
    let text = format!(
        "{REFERRALS_HEADER}\n{}\n{}\n{}\n{}\n{}\n",
        referral(1),
        referral(2).replace("North", "\u{feff}North"),
        referral(3).replace("North", "North\u{200b}"),
        referral(4).replace("North", "\u{a0}North\u{2060}"),
        referral(5).replace("C3", "\u{feff}C3"),
    );
    let ex = load_dir(folder(text.as_bytes()).path());
    assert_eq!(counts(&ex, "referrals"), (5, 5, 0));
    let teams: BTreeSet<String> = ex
        .frame("referrals")
        .unwrap()
        .column("team")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(str::to_string)
        .collect();
    assert_eq!(teams, BTreeSet::from(["North".to_string()]));
    // The child id with a BOM still links to C3.
    assert!(issues(&ex, "dangling_link").is_empty());
}

#[test]
fn b6_a_control_character_or_a_tab_in_an_id_is_rejected_with_a_reason() {
    let text = format!(
        "{REFERRALS_HEADER}\n{}\n{}\n{}\n",
        referral(1).replace("North", "No\u{7}rth"),
        referral(2).replace("R2,", "R\t2,"),
        referral(3)
    );
    let ex = load_dir(folder(text.as_bytes()).path());
    let control = issues(&ex, "control_character");
    assert_eq!(
        (control[0].line, control[0].column.as_deref()),
        (Some(2), Some("team"))
    );
    assert!(
        control[0].message.contains("U+0007"),
        "{}",
        control[0].message
    );
    let id = issues(&ex, "bad_id");
    assert_eq!(
        (id[0].line, id[0].column.as_deref()),
        (Some(3), Some("referral_id"))
    );
    assert_eq!(counts(&ex, "referrals"), (3, 1, 2));
    assert_eq!(loaded_lines(&ex, "referrals"), [4]);
}

#[test]
fn b6_a_folder_or_dangling_link_named_visits_csv_is_unreadable_not_absent() {
    let dir = folder(format!("{REFERRALS_HEADER}\n{}\n", referral(1)).as_bytes());
    std::fs::create_dir(dir.path().join("visits.csv")).unwrap();
    let ex = load_dir(dir.path());
    let fatal: Vec<&Issue> = ex
        .report
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Fatal)
        .collect();
    assert_eq!(fatal.len(), 1, "{fatal:?}");
    assert_eq!(
        (fatal[0].table.as_str(), fatal[0].rule.as_str()),
        ("visits", "unreadable_file")
    );
    assert!(
        fatal[0].message.contains("visits.csv is a folder"),
        "{}",
        fatal[0].message
    );
    assert!(stats(&ex, "visits").present);

    #[cfg(unix)]
    {
        std::fs::remove_dir(dir.path().join("visits.csv")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("gone.csv"), dir.path().join("visits.csv"))
            .unwrap();
        let ex = load_dir(dir.path());
        let fatal = issues(&ex, "unreadable_file");
        assert_eq!(fatal[0].severity, Severity::Fatal);
        assert!(
            fatal[0].message.contains("a symbolic link to")
                && fatal[0].message.contains("gone.csv"),
            "{}",
            fatal[0].message
        );
        // A FIFO would make a plain read wait for ever: it is named, not opened.
        std::fs::remove_file(dir.path().join("visits.csv")).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(dir.path().join("visits.csv"))
            .status()
            .is_ok_and(|s| s.success());
        if made {
            let ex = load_dir(dir.path());
            assert!(issues(&ex, "unreadable_file")[0]
                .message
                .contains("named pipe"));
        }
    }
    // Absent is still just "not supplied".
    let ex = load_dir(&fixture("golden"));
    assert_eq!(issues(&ex, "missing_file")[0].severity, Severity::Info);
}

// ---- D13: header matching is linear, and the width has a stated limit ----

#[test]
fn d13_a_header_as_wide_as_excel_allows_loads_and_a_wider_one_is_refused() {
    let dir = folder(REFERRALS_HEADER.as_bytes());
    // Every unknown column is called `x`: each needs a name made for it (the quadratic case).
    let header = format!("child_id{}", ",x".repeat(MAX_COLUMNS - 1));
    let row = format!("C1{}", ",1".repeat(MAX_COLUMNS - 1));
    std::fs::write(
        dir.path().join("children.csv"),
        format!("{header}\n{row}\n"),
    )
    .unwrap();
    let ex = load_dir(dir.path());
    assert!(!ex.report.has_fatal());
    let unknown = &stats(&ex, "children").unknown_columns;
    assert_eq!(unknown.len(), MAX_COLUMNS - 1);
    assert_eq!(
        unknown.iter().collect::<BTreeSet<_>>().len(),
        MAX_COLUMNS - 1
    );
    // One issue a column for the first few, then one for the rest.
    assert_eq!(issues(&ex, "unknown_column").len(), 21);

    let header = format!("child_id{}", ",x".repeat(200_000));
    std::fs::write(dir.path().join("children.csv"), format!("{header}\nC1\n")).unwrap();
    let ex = load_dir(dir.path());
    let wide = issues(&ex, "too_wide");
    assert_eq!(wide[0].severity, Severity::Fatal);
    assert!(
        wide[0].message.contains("200001 columns") && wide[0].message.contains("16384"),
        "{}",
        wide[0].message
    );
}

// ---- The corpus, through the binary ----

/// D14 at its root: a value no column can hold (50 MB in a team name once made `pack`
/// ask for 16 GB) is rejected at load with its length, not its text, in the report; the
/// rows around it load.
#[test]
fn d14_a_value_longer_than_any_column_holds_is_rejected_at_load() {
    let huge = "N".repeat(1 << 20);
    let limit = csc_audit::values::MAX_VALUE_CHARS;
    let at_limit = "é".repeat(limit);
    let rows = [
        referral(1),
        referral(2).replace("North", &huge),
        referral(3).replace("North", &at_limit),
        referral(4),
    ];
    let text = format!("{REFERRALS_HEADER}\n{}\n", rows.join("\n"));
    let dir = folder(text.as_bytes());
    let ex = load_dir(dir.path());
    assert_eq!(counts(&ex, "referrals"), (4, 3, 1));
    let long = issues(&ex, "too_long");
    assert_eq!(long.len(), 1, "{long:?}");
    assert_eq!(long[0].line, Some(3));
    assert_eq!(long[0].column.as_deref(), Some("team"));
    assert!(
        long[0].message.contains("1048576 characters"),
        "{}",
        long[0].message
    );
    assert!(long[0].message.len() < 300, "the message quotes the value");
    assert_eq!(loaded_lines(&ex, "referrals"), vec![2, 4, 5]);
}

#[test]
fn the_corpus_is_checked_without_a_crash_and_every_row_accounted_for() {
    let out = assert_cmd::Command::cargo_bin("csc-audit")
        .unwrap()
        .args(["check", "--format", "json", "--data"])
        .arg(fixture("hostile/csv/runaway"))
        .output()
        .unwrap();
    super::assert_no_crash(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let table = |name: &str| {
        let t = v["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == name)
            .unwrap()
            .clone();
        (
            t["rows_read"].as_u64(),
            t["rows_loaded"].as_u64(),
            t["rows_rejected"].as_u64(),
        )
    };
    assert_eq!(table("referrals"), (Some(20), Some(19), Some(1)));
    assert_eq!(table("children"), (Some(4), Some(3), Some(1)));
    let at = |rule: &str| -> Vec<(String, u64)> {
        v["issues"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["rule"] == rule)
            .map(|i| {
                (
                    i["table"].as_str().unwrap().to_string(),
                    i["line"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(at("unclosed_quote"), [("referrals".to_string(), 3)]);
    assert_eq!(at("multiline_row"), [("children".to_string(), 3)]);
    assert_eq!(at("bad_date"), [("children".to_string(), 6)]);
}

// ---- Generated files: every physical line is accounted for ----

/// One generated data line (before its line end), or a blank line.
#[derive(Debug, Clone)]
enum Line {
    Valid,
    /// A `"` put at the start of field `n` (1..9): it opens a quote.
    StrayQuote(usize),
    /// A `"` inside the worker's name: it closes a quote left open above.
    MidQuote,
    /// A quoted source over two lines.
    Multiline,
    Blank(&'static str),
    /// Fields dropped (negative) or added.
    Width(i8),
    Long(usize),
    Empty,
    Bom,
    /// Windows-1252 bytes in the worker's name (the file is then read as Windows-1252).
    Cp1252,
}

fn line_kind() -> impl Strategy<Value = Line> {
    prop_oneof![
        6 => Just(Line::Valid),
        2 => (1usize..9).prop_map(Line::StrayQuote),
        1 => Just(Line::MidQuote),
        2 => Just(Line::Multiline),
        1 => prop_oneof![Just(""), Just(",,,,,,,,"), Just("   ")].prop_map(Line::Blank),
        1 => (-3i8..4).prop_map(Line::Width),
        1 => (0usize..3000).prop_map(Line::Long),
        1 => Just(Line::Empty),
        1 => Just(Line::Bom),
        1 => Just(Line::Cp1252),
    ]
}

fn render(i: usize, kind: &Line) -> Vec<u8> {
    let row = referral(i);
    let mut fields: Vec<String> = row.split(',').map(str::to_string).collect();
    match kind {
        Line::Valid => {}
        Line::StrayQuote(n) => fields[*n].insert(0, '"'),
        Line::MidQuote => fields[8] = "Ann O\"Brien".into(),
        Line::Multiline => fields[3] = "\"Health\nvisitor\"".into(),
        Line::Blank(s) => return s.as_bytes().to_vec(),
        Line::Width(d) if *d < 0 => fields.truncate(9 - d.unsigned_abs() as usize),
        Line::Width(d) => fields.extend((0..*d).map(|_| "extra".to_string())),
        Line::Long(n) => fields[8] = "w".repeat(*n),
        Line::Empty => {
            for f in &mut fields[2..] {
                f.clear();
            }
        }
        Line::Bom => fields[7].insert(0, '\u{feff}'),
        Line::Cp1252 => {
            let mut bytes = fields[..8].join(",").into_bytes();
            bytes.extend_from_slice(b",Zo\xEB Br\xEEn");
            return bytes;
        }
    }
    fields.join(",").into_bytes()
}

/// The physical lines of a file (CR, LF and CRLF each end one), worked out here on their
/// own, not with the crate's reader.
fn physical_lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' | b'\n' => {
                lines.push(&bytes[start..i]);
                i += if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < bytes.len() {
        lines.push(&bytes[start..]);
    }
    lines
}

/// "lines A to B" in a multiline_row message.
fn span(message: &str) -> (u64, u64) {
    let rest = &message[message.find("lines ").unwrap() + 6..];
    let mut words = rest.split([' ', ':']);
    let a = words.next().unwrap().parse().unwrap();
    assert_eq!(words.next(), Some("to"));
    (a, words.next().unwrap().parse().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: super::cases(48), ..ProptestConfig::default() })]

    #[test]
    fn every_physical_line_is_a_row_or_inside_one(
        kinds in prop::collection::vec(line_kind(), 0..25),
        ends in prop::collection::vec(prop_oneof![Just("\n"), Just("\r\n"), Just("\r")], 25),
        bom in any::<bool>(),
        last_end in any::<bool>(),
    ) {
        let mut bytes = Vec::new();
        if bom {
            bytes.extend_from_slice(b"\xEF\xBB\xBF");
        }
        bytes.extend_from_slice(REFERRALS_HEADER.as_bytes());
        bytes.extend_from_slice(b"\n");
        for (i, kind) in kinds.iter().enumerate() {
            bytes.extend(render(i + 1, kind));
            if i + 1 < kinds.len() || last_end {
                bytes.extend_from_slice(ends[i].as_bytes());
            }
        }
        let dir = folder(&bytes);
        let ex = load_dir(dir.path());
        prop_assert!(!ex.report.has_fatal(), "{:?}", ex.report.issues);

        let lines = physical_lines(&bytes);
        let total = lines.len() as u64;
        let blank = |l: &[u8]| l.iter().all(|b| b.is_ascii_whitespace() || *b == b',');
        let mut spans: Vec<(u64, u64)> = issues(&ex, "multiline_row")
            .iter()
            .map(|i| span(&i.message))
            .collect();
        spans.sort();
        // Row starts expected: the non-blank data lines not inside a multi-line row.
        let inside = |n: u64| spans.iter().any(|(a, b)| *a < n && n <= *b);
        let expected: BTreeSet<u64> = (2..=total)
            .filter(|n| !blank(lines[*n as usize - 1]) && !inside(*n))
            .collect();
        for (a, b) in &spans {
            prop_assert!(a < b && *b <= total && expected.contains(a), "{spans:?}");
        }
        let t = stats(&ex, "referrals");
        prop_assert_eq!(t.rows_read, t.rows_loaded + t.rows_rejected);
        prop_assert_eq!(t.rows_read, expected.len() as u64);
        // Each row is found at its own line: loaded ones in the frame, rejected ones by an
        // error on that line.
        let loaded: BTreeSet<u64> = loaded_lines(&ex, "referrals").iter().map(|l| *l as u64).collect();
        let rejected: BTreeSet<u64> = ex
            .report
            .issues
            .iter()
            .filter(|i| i.table == "referrals" && i.severity == Severity::Error)
            .filter_map(|i| i.line)
            .collect();
        prop_assert_eq!(loaded.len() as u64, t.rows_loaded);
        prop_assert_eq!(rejected.len() as u64, t.rows_rejected);
        prop_assert!(loaded.is_disjoint(&rejected));
        let found: BTreeSet<u64> = loaded.union(&rejected).copied().collect();
        prop_assert_eq!(found, expected);
        for i in &ex.report.issues {
            if let Some(l) = i.line {
                prop_assert!(l >= 1 && l <= total.max(1), "{i:?} beyond {total} lines");
            }
        }
        if let Some(f) = ex.frame("referrals") {
            prop_assert_eq!(f.height() as u64, t.rows_loaded);
        }
    }
}

/// Everything a load gives that a later step reads: the report and every frame.
fn same_load(
    a: &csc_audit::ingest::Extracts,
    b: &csc_audit::ingest::Extracts,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(&a.report.issues, &b.report.issues);
    prop_assert_eq!(&a.report.tables, &b.report.tables);
    prop_assert_eq!(a.as_of, b.as_of);
    prop_assert_eq!(
        a.frames.keys().collect::<Vec<_>>(),
        b.frames.keys().collect::<Vec<_>>()
    );
    for (name, f) in &a.frames {
        prop_assert!(
            f.equals_missing(&b.frames[name]),
            "{name}:\n{f}\n{}",
            b.frames[name]
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: super::cases(48), ..ProptestConfig::default() })]

    /// Files are cut into chunks read on every core; a cut can fall anywhere, inside a
    /// quoted value over lines or a run-away quote. Whatever the chunk size, the load is
    /// the one a single reader makes: the same rows, issues, line numbers and frames.
    #[test]
    fn a_file_read_in_chunks_of_any_size_loads_as_read_whole(
        kinds in prop::collection::vec(line_kind(), 0..25),
        ends in prop::collection::vec(prop_oneof![Just("\n"), Just("\r\n"), Just("\r")], 25),
        chunk in prop_oneof![Just(1usize), 2usize..40, 40usize..400],
    ) {
        let mut bytes = REFERRALS_HEADER.as_bytes().to_vec();
        bytes.extend_from_slice(b"\n");
        for (i, kind) in kinds.iter().enumerate() {
            bytes.extend(render(i + 1, kind));
            bytes.extend_from_slice(ends[i].as_bytes());
        }
        let dir = folder(&bytes);
        let whole = load_dir(dir.path());
        let opts = csc_audit::ingest::LoadOptions { as_of: None, today: crate::today(), columns: Default::default() };
        let chunked = csc_audit::ingest::load_in_chunks(dir.path(), &opts, chunk).unwrap();
        same_load(&whole, &chunked)?;
        // Frames narrowed to a few columns: the same report, and those columns, as they were.
        let few = ["received_at", "source", "worker", csc_audit::ingest::LINE_COLUMN];
        let columns = csc_audit::ingest::FrameColumns::Only(
            [("referrals", few.iter().map(|c| c.to_string()).collect())].into_iter().collect(),
        );
        let opts = csc_audit::ingest::LoadOptions { columns, ..opts };
        let narrow = csc_audit::ingest::load_in_chunks(dir.path(), &opts, chunk).unwrap();
        prop_assert_eq!(&narrow.report, &whole.report);
        if let Some(f) = whole.frame("referrals") {
            let n = &narrow.frames["referrals"];
            prop_assert_eq!(n.height(), f.height());
            prop_assert_eq!(n.width(), few.len());
            for c in few {
                prop_assert!(n.column(c).unwrap().as_materialized_series().equals_missing(f.column(c).unwrap().as_materialized_series()), "{c}");
            }
        }
    }
}

/// A council's extracts, clean and with the faults real exports have (`synth --dirty`:
/// UK dates, datetimes, stray quotes, bad codes, duplicates), read in chunks of 1 kB and
/// 64 kB: every table of both is read in many chunks.
#[test]
fn a_council_read_in_small_chunks_loads_as_read_whole() {
    let opts = csc_audit::ingest::LoadOptions {
        as_of: None,
        today: crate::today(),
        columns: Default::default(),
    };
    for dirty in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let synth = csc_audit::synth::SynthOptions {
            scale: 0.3,
            dirty,
            ..Default::default()
        };
        csc_audit::synth::write(dir.path(), &synth, false).unwrap();
        let whole = load_dir(dir.path());
        assert!(whole.report.tables.iter().all(|t| t.rows_read > 0));
        for chunk in [1000, 65_536] {
            let chunked = csc_audit::ingest::load_in_chunks(dir.path(), &opts, chunk).unwrap();
            same_load(&whole, &chunked).unwrap();
        }
    }
}
