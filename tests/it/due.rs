//! The managers' worklist (`csc-audit due`) on `tests/fixtures/due/`, a hand-made folder
//! whose every deadline and count of working days was worked out by hand (the working is in
//! tests/fixtures/due/README.md), and on synthetic councils against the measures.
//!
//! As of Friday 24 May 2024; Monday 27 May 2024 is the Spring bank holiday, so the working
//! days after the as-of date are Tue 28 (1), Wed 29 (2), Thu 30 (3), Fri 31 May (4) and
//! Mon 3 June (5). 2024 is a leap year (Thursday 29 February); Good Friday 29 March, Easter
//! Monday 1 April and the Early May bank holiday 6 May 2024 are not working days.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use chrono::NaiveDate;
use csc_audit::calendar::Calendar;
use csc_audit::ingest::{load, Extracts, LoadOptions};
use csc_audit::metrics::due::{due, DueCase, DueOptions, DueStatus, Worklist};
use csc_audit::metrics::{evaluate, EvalOptions, Library};
use csc_audit::periods::{Grain, Period};

use crate::{fixture, today};

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn extracts_at(dir: &Path, as_of: NaiveDate) -> Extracts {
    load(
        dir,
        &LoadOptions {
            as_of: Some(as_of),
            today: today(),
            columns: Default::default(),
        },
    )
    .unwrap()
}

fn worklist(dir: &Path, as_of: NaiveDate, lib: &Library, within: i64) -> Worklist {
    let cal = Calendar::england_and_wales();
    let opts = DueOptions {
        within,
        since: None,
    };
    due(&extracts_at(dir, as_of), lib, &cal, &opts).unwrap()
}

fn lines(list: &Worklist) -> Vec<String> {
    String::from_utf8(csc_audit::worklist::to_csv(list))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn every_deadline_matches_the_hand_worked_folder() {
    let list = worklist(&fixture("due"), day(2024, 5, 24), &Library::builtin(), 5);
    let expected = [
        "measure,case_id,child_id,team,worker,started,deadline,working_days_left,status",
        // Received on the leap day, no feedback: due Fri 1 March; 57 working days since
        // (60 weekdays from 4 March to 24 May less Good Friday, Easter Monday, 6 May).
        "referral_feedback_1wd,R4,C04,Front Door,Bo Khan,2024-02-29,2024-03-01,-57,overdue",
        // Latest supervision Mon 25 March: recorded within a month up to Wed 24 April;
        // 21 working days from 25 April to 24 May.
        "supervision_recorded,P2,C16,South,Di Rao,2024-03-25,2024-04-24,-21,overdue",
        // Started on the leap day, not authorised: the 45th working day after is Tue 7 May.
        "assessment_45wd,A1,C06,North,Cy Ward,2024-02-29,2024-05-07,-13,overdue",
        // S47 started Mon 29 April, no conference: the 15th working day is Tue 21 May.
        "icpc_15wd,S2,C10,South,Di Rao,2024-04-29,2024-05-21,-3,overdue",
        // Overdue by one day: the visit of Thu 9 May was due again on Thu 23 May.
        "cp_visits_timely,P3,C17,North,Cy Ward,2024-05-09,2024-05-23,-1,overdue",
        // From the strategy discussion of Wed 1 May: the 15th working day is Thu 23 May.
        "icpc_15wd_strategy,S1,C09,North,Cy Ward,2024-05-01,2024-05-23,-1,overdue",
        "referral_decision_1wd,R2,C02,Front Door,Ann Lee,2024-05-22,2024-05-23,-1,overdue",
        "referral_feedback_1wd,R2,C02,Front Door,Ann Lee,2024-05-22,2024-05-23,-1,overdue",
        // Due today: 6 months after the review of Fri 24 November 2023.
        "cp_review_on_time,P3,C17,North,Cy Ward,2023-11-24,2024-05-24,0,due_today",
        // Reviewed in supervision Mon 25 March: after (at - 2 months) until Fri 24 May.
        "cp_supervision_2m,P2,C16,South,Di Rao,2024-03-25,2024-05-24,0,due_today",
        "cp_visits_timely,P2,C16,South,Di Rao,2024-05-10,2024-05-24,0,due_today",
        // 15 working days after Thu 2 May (6 May not counted) is today.
        "icpc_15wd,S1,C09,North,Cy Ward,2024-05-02,2024-05-24,0,due_today",
        "referral_decision_1wd,R1,C01,Front Door,Ann Lee,2024-05-23,2024-05-24,0,due_today",
        "strategy_minutes_timely,SD2,C14,South,,2024-05-23,2024-05-24,0,due_today",
        // Across the bank holiday: 10 working days after Mon 13 May is Tue 28 May.
        "core_group_10wd,P1,C15,North,Cy Ward,2024-05-13,2024-05-28,1,due_soon",
        // Received on the as-of Friday: 1 working day after it is Tue 28 May.
        "referral_decision_1wd,R3,C03,Front Door,Bo Khan,2024-05-24,2024-05-28,1,due_soon",
        // First review 3 calendar months after the leap day: Wed 29 May.
        "cp_review_on_time,P2,C16,South,Di Rao,2024-02-29,2024-05-29,2,due_soon",
        "supervision_recorded,P3,C17,North,Cy Ward,2024-04-30,2024-05-29,2,due_soon",
        "assessment_45wd,A2,C07,South,Di Rao,2024-03-25,2024-05-31,4,due_soon",
        // Reviewed in supervision Wed 3 April: on time up to Sun 2 June, shown as the last
        // working day before it, Fri 31 May.
        "cp_supervision_2m,P3,C17,North,Cy Ward,2024-04-03,2024-05-31,4,due_soon",
        "cp_visits_timely,P1,C15,North,Cy Ward,2024-05-16,2024-05-31,4,due_soon",
    ];
    assert_eq!(lines(&list), expected);
    let apart: Vec<String> = String::from_utf8(csc_audit::worklist::excluded_csv(&list))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        apart,
        [
            "measure,case_id,child_id,team,worker,reason",
            "core_group_10wd,P4,C18,South,Di Rao,closed on 2024-04-15 with no first_core_group",
            // No strategy discussion linked: nothing to time from (S3 had its ICPC: done).
            "icpc_15wd_strategy,S2,C10,South,Di Rao,no start date (strategy.held_date)",
        ]
    );
    // Not listed: R5 (decided and fed back), A3 (authorised), S3 (conference held), S4
    // (icpc_not_required), S5 (ended), P4 (ended); P1's first review (13 August) and
    // supervisions (from 13 June and 13 July) are due later than 5 working days.
    assert_eq!(list.measures.len(), 11);
}

/// The same folder as of other days: a weekend or bank holiday counts as the working day
/// before it, and a case is overdue exactly when its measure counts a breach.
#[test]
fn a_weekend_or_bank_holiday_counts_as_the_working_day_before() {
    let lib = Library::builtin();
    let status = |as_of: NaiveDate, measure: &str, case: &str| {
        let list = worklist(&fixture("due"), as_of, &lib, 5);
        list.cases
            .iter()
            .find(|c| c.metric_id == measure && c.case_id == case)
            .map(|c| (c.working_days_left, c.status))
    };
    // R1's decision was due Fri 24 May: due today on Sat 25, Sun 26 and Mon 27 (the bank
    // holiday), overdue by one working day on Tue 28.
    for d in [24, 25, 26, 27] {
        assert_eq!(
            status(day(2024, 5, d), "referral_decision_1wd", "R1"),
            Some((0, DueStatus::DueToday)),
            "{d} May"
        );
    }
    assert_eq!(
        status(day(2024, 5, 28), "referral_decision_1wd", "R1"),
        Some((-1, DueStatus::Overdue))
    );
    // P3's supervision review is on time up to Sun 2 June (calendar months): due today on
    // Sat 1 and Sun 2 June, overdue on Mon 3 June, as the measure counts it.
    for d in [1, 2] {
        assert_eq!(
            status(day(2024, 6, d), "cp_supervision_2m", "P3"),
            Some((0, DueStatus::DueToday)),
            "{d} June"
        );
    }
    assert_eq!(
        status(day(2024, 6, 3), "cp_supervision_2m", "P3"),
        Some((-1, DueStatus::Overdue))
    );
    // Thursday 23 May: R1 (received that day) has one working day left.
    assert_eq!(
        status(day(2024, 5, 23), "referral_decision_1wd", "R1"),
        Some((1, DueStatus::DueSoon))
    );
}

/// The snapshot of one measure at the as-of date: (numerator, denominator).
fn snapshot_at(ex: &Extracts, id: &str) -> (i64, i64) {
    let mut lib = Library::builtin();
    lib.select(&[id.to_string()]).unwrap();
    let month = Period::containing(Grain::Month, ex.as_of);
    let opts = EvalOptions {
        grain: Grain::Month,
        from: Some(month),
        to: Some(month),
        by: Vec::new(),
        cases: false,
    };
    let ev = evaluate(ex, &lib, &Calendar::england_and_wales(), &opts).unwrap();
    let r = ev
        .find(id, &month.label(), "all", "all", "all")
        .unwrap_or_else(|| panic!("{id}: {:?}", ev.notes));
    (r.numerator.unwrap() as i64, r.denominator.unwrap() as i64)
}

fn overdue(list: &Worklist, id: &str) -> i64 {
    list.cases
        .iter()
        .filter(|c| c.metric_id == id && c.status == DueStatus::Overdue)
        .count() as i64
}

#[test]
fn the_overdue_snapshots_count_the_worklists_overdue_cases() {
    let dir = fixture("due");
    let ex = extracts_at(&dir, day(2024, 5, 24));
    let list = due(
        &ex,
        &Library::builtin(),
        &Calendar::england_and_wales(),
        &DueOptions {
            within: 5,
            since: None,
        },
    )
    .unwrap();
    // Waiting for an ICPC: S1 and S2 (S3 has had its conference, S4 needs none, S5 ended);
    // past 15 working days: S2 (18 working days since Mon 29 April).
    assert_eq!(snapshot_at(&ex, "s47_icpc_overdue"), (1, 2));
    assert_eq!(overdue(&list, "icpc_15wd"), 1);
    // Open: A1 and A2; past 45 working days: A1 (58 since the leap day).
    assert_eq!(snapshot_at(&ex, "assessment_open_overdue"), (1, 2));
    assert_eq!(overdue(&list, "assessment_45wd"), 1);
}

#[test]
fn a_new_metric_file_of_a_deadline_kind_joins_the_worklist_with_no_code_change() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in csc_audit::metrics::library::FILES {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let one = std::fs::read_to_string(dir.path().join("referral_decision_1wd.toml")).unwrap();
    let two = one
        .replace("referral_decision_1wd", "referral_decision_2wd")
        .replace("working_days = 1", "working_days = 2");
    std::fs::write(dir.path().join("referral_decision_2wd.toml"), two).unwrap();
    let hours = one
        .replace("referral_decision_1wd", "referral_decision_24h")
        .replace("working_days = 1", "hours = 24");
    std::fs::write(dir.path().join("referral_decision_24h.toml"), hours).unwrap();
    let lib = Library::load_dir(dir.path()).unwrap();
    let list = worklist(&fixture("due"), day(2024, 5, 24), &lib, 5);
    let rows: Vec<String> = lines(&list)
        .into_iter()
        .filter(|l| l.starts_with("referral_decision_2wd,"))
        .collect();
    assert_eq!(
        rows,
        [
            // Wed 22 May + 2 working days = Fri 24 May; Thu 23 May + 2 = Tue 28 (27 May is
            // a bank holiday); Fri 24 May + 2 = Wed 29 May.
            "referral_decision_2wd,R2,C02,Front Door,Ann Lee,2024-05-22,2024-05-24,0,due_today",
            "referral_decision_2wd,R1,C01,Front Door,Ann Lee,2024-05-23,2024-05-28,1,due_soon",
            "referral_decision_2wd,R3,C03,Front Door,Bo Khan,2024-05-24,2024-05-29,2,due_soon",
        ]
    );
    // In hours, as the measure times a case still waiting: at the start of the as-of day.
    // R1 (Thu 10:00) is within 24 hours at Fri 00:00, not at Sat 00:00: due today; R2 (Wed
    // 09:00) was within at Thu 00:00 only: overdue; R3 arrived after Fri 00:00: not yet.
    let rows: Vec<String> = lines(&list)
        .into_iter()
        .filter(|l| l.starts_with("referral_decision_24h,"))
        .collect();
    assert_eq!(
        rows,
        [
            "referral_decision_24h,R2,C02,Front Door,Ann Lee,2024-05-22,2024-05-23,-1,overdue",
            "referral_decision_24h,R1,C01,Front Door,Ann Lee,2024-05-23,2024-05-24,0,due_today",
        ]
    );
}

#[test]
fn since_leaves_out_only_rows_waiting_for_their_own_event() {
    let cal = Calendar::england_and_wales();
    let ex = extracts_at(&fixture("due"), day(2024, 5, 24));
    let opts = DueOptions {
        within: 5,
        since: Some(day(2024, 5, 1)),
    };
    let list = due(&ex, &Library::builtin(), &cal, &opts).unwrap();
    let has = |m: &str, c: &str| {
        list.cases
            .iter()
            .any(|x| x.metric_id == m && x.case_id == c)
    };
    // R4's feedback (29 Feb) and A1 (29 Feb), A2 (25 Mar) wait for their own event: left
    // out and counted.
    assert!(!has("referral_feedback_1wd", "R4"));
    assert!(!has("assessment_45wd", "A1"));
    assert_eq!(list.older, 3);
    // An open plan's supervision last seen on 25 March, and its review due from a plan of
    // 29 February, are still listed.
    assert!(has("supervision_recorded", "P2"));
    assert!(has("cp_review_on_time", "P2"));
    assert_eq!(list.cases.len(), 21 - 3);
}

#[test]
fn awaiting_is_refused_where_its_cases_cannot_be_read() {
    let icpc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("metrics/icpc_15wd_strategy.toml"),
    )
    .unwrap();
    let refused = |text: String| -> String {
        let texts = vec![("m/icpc_15wd_strategy.toml".to_string(), text)];
        match Library::from_texts(&texts, "m") {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        }
    };
    // Looked up through another lookup: its rows cannot be linked to the conferences.
    let e = refused(icpc.replace("related = \"s47\"", "related = \"strategy\""));
    assert!(
        e.contains("awaiting.related") && e.contains("through another lookup"),
        "{e}"
    );
    let e = refused(icpc.replace("related = \"s47\"", "related = \"nothing\""));
    assert!(
        e.contains("`nothing` is not a many-to-one related table"),
        "{e}"
    );
    let e = refused(icpc.replace("icpc_not_required IS NULL", "no_such_column IS NULL"));
    assert!(
        e.contains("awaiting.filter") && e.contains("no_such_column"),
        "{e}"
    );
}

/// Every open S47 on a synthetic council, found from the CSV files with the calendar alone.
fn waiting_s47s(dir: &Path, as_of: NaiveDate, cal: &Calendar) -> Vec<String> {
    let s47 = crate::import::read_csv(dir, "s47_enquiries");
    let conferences = crate::import::read_csv(dir, "conferences");
    let held: std::collections::HashSet<&str> = conferences
        .iter()
        .filter(|c| {
            c["conference_type"] == "initial" && c["date"].as_str() <= as_of.to_string().as_str()
        })
        .map(|c| c["s47_id"].as_str())
        .collect();
    let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let mut ids: Vec<String> = s47
        .iter()
        .filter(|s| {
            let start = date(&s["start_date"]);
            start <= as_of
                && (s["end_date"].is_empty() || date(&s["end_date"]) > as_of)
                && s["icpc_not_required"] != "Y"
                && !held.contains(s["s47_id"].as_str())
                && cal.working_days_between(start, as_of).unwrap() > 15
        })
        .map(|s| s["s47_id"].clone())
        .collect();
    ids.sort();
    ids
}

#[test]
fn on_a_synthetic_council_every_s47_past_15_working_days_is_listed_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let opts = csc_audit::synth::SynthOptions {
        seed: 11,
        scale: 0.5,
        years: 1,
        ..Default::default()
    };
    csc_audit::synth::write(dir.path(), &opts, false).unwrap();
    let cal = Calendar::england_and_wales();
    // The extract date (a Monday), a Friday, Christmas Day and a Saturday.
    for as_of in [
        day(2025, 3, 31),
        day(2025, 2, 14),
        day(2024, 12, 25),
        day(2024, 11, 30),
    ] {
        let ex = extracts_at(dir.path(), as_of);
        let list = due(
            &ex,
            &Library::builtin(),
            &cal,
            &DueOptions {
                within: 5,
                since: None,
            },
        )
        .unwrap();
        let mut listed: Vec<String> = list
            .cases
            .iter()
            .filter(|c| c.metric_id == "icpc_15wd" && c.status == DueStatus::Overdue)
            .map(|c| c.case_id.clone())
            .collect();
        listed.sort();
        let expected = waiting_s47s(dir.path(), as_of, &cal);
        assert_eq!(listed, expected, "as of {as_of}");
        assert_eq!(
            snapshot_at(&ex, "s47_icpc_overdue").0,
            overdue(&list, "icpc_15wd"),
            "as of {as_of}"
        );
        assert_eq!(
            snapshot_at(&ex, "assessment_open_overdue").0,
            overdue(&list, "assessment_45wd"),
            "as of {as_of}"
        );
    }
}

fn csc() -> Command {
    Command::cargo_bin("csc-audit").unwrap()
}

#[test]
fn the_due_command_writes_csv_json_and_xlsx_with_the_same_rows() {
    let out = tempfile::tempdir().unwrap();
    let data = fixture("due");
    let run = |file: &str| {
        csc()
            .args(["due", "--data"])
            .arg(&data)
            .args(["--as-of", "2024-05-24", "--out"])
            .arg(out.path().join(file))
            .assert()
            .success()
    };
    run("due.csv").stderr(predicates::str::contains(
        "wrote 21 cases for 11 measures as of Fri 24 May 2024",
    ));
    let csv = std::fs::read_to_string(out.path().join("due.csv")).unwrap();
    let excluded = std::fs::read_to_string(out.path().join("due.excluded.csv")).unwrap();
    assert_eq!(excluded.lines().count(), 3);
    run("due.json");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("due.json")).unwrap()).unwrap();
    let from_json: Vec<String> = json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            csc_audit::worklist::COLUMNS
                .iter()
                .map(|k| match &c[*k] {
                    serde_json::Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    assert_eq!(from_json, csv.lines().skip(1).collect::<Vec<_>>());
    assert_eq!(json["excluded"].as_array().unwrap().len(), 2);
    run("due.xlsx");
    check_workbook(&out.path().join("due.xlsx"), &csv);
}

/// The workbook: the summary's counts, one sheet per team holding that team's rows of the
/// CSV, frozen headers and filters, and overdue rows filled.
fn check_workbook(path: &Path, csv: &str) {
    use calamine::{open_workbook, Data, Reader, Xlsx};
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    let names = wb.sheet_names();
    assert_eq!(
        names,
        [
            "summary",
            "Front Door",
            "North",
            "South",
            "excluded",
            "notes"
        ]
    );
    let text = |d: &Data| match d {
        Data::String(s) => s.clone(),
        Data::Float(f) => format!("{}", *f as i64),
        // An Excel serial day: days since 30 December 1899.
        Data::DateTime(t) => (day(1899, 12, 30) + chrono::Days::new(t.as_f64() as u64)).to_string(),
        Data::Empty => String::new(),
        other => format!("{other}"),
    };
    let summary = wb.worksheet_range("summary").unwrap();
    let row_of = |measure: &str, team: &str| -> Vec<String> {
        summary
            .rows()
            .find(|r| text(&r[0]) == measure && text(&r[2]) == team)
            .unwrap_or_else(|| panic!("{measure} {team}"))
            .iter()
            .skip(3)
            .map(text)
            .collect()
    };
    // referral_decision_1wd: R2 overdue, R1 due today, R3 due soon, all Front Door.
    assert_eq!(row_of("referral_decision_1wd", "all"), ["1", "1", "1", "3"]);
    assert_eq!(
        row_of("referral_decision_1wd", "Front Door"),
        ["1", "1", "1", "3"]
    );
    // cp_visits_timely: P3 overdue (North), P2 today (South), P1 soon (North).
    assert_eq!(row_of("cp_visits_timely", "North"), ["1", "0", "1", "2"]);
    assert_eq!(row_of("cp_visits_timely", "South"), ["0", "1", "0", "1"]);
    for team in ["Front Door", "North", "South"] {
        let got: Vec<String> = wb
            .worksheet_range(team)
            .unwrap()
            .rows()
            .skip(1)
            .map(|r| r.iter().map(text).collect::<Vec<_>>().join(","))
            .collect();
        let want: Vec<&str> = csv
            .lines()
            .skip(1)
            .filter(|l| l.split(',').nth(3) == Some(team))
            .collect();
        assert_eq!(got, want, "{team}");
    }
    // The XML: frozen header and filter on each team sheet, overdue rows filled.
    let file = std::fs::File::open(path).unwrap();
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let mut read = |name: &str| {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut zip.by_name(name).unwrap(), &mut s).unwrap();
        s
    };
    let styles = read("xl/styles.xml");
    assert!(styles.contains("FFF4CCCC"), "the overdue fill is defined");
    let front_door = read("xl/worksheets/sheet2.xml");
    assert!(front_door.contains(r#"state="frozen""#));
    assert!(front_door.contains("<autoFilter"));
    // Rows 2-4 (R4, R2, R2: overdue) are filled; row 5 (R1, due today) is not.
    let style_of = |cell: &str| {
        let at = front_door.find(&format!(r#"<c r="{cell}""#)).unwrap();
        let tail = &front_door[at..at + 60];
        tail.split("s=\"")
            .nth(1)
            .map(|s| s.split('"').next().unwrap().to_string())
    };
    assert_eq!(style_of("A2"), style_of("A4"));
    assert_ne!(style_of("A2"), style_of("A5"));
    assert_eq!(
        style_of("I2"),
        style_of("A2"),
        "the whole row, status included"
    );
}

#[test]
fn the_worklist_is_child_level_never_written_into_the_data_or_a_sample() {
    let data = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(fixture("due")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), data.path().join(e.file_name())).unwrap();
    }
    csc()
        .args(["due", "--data"])
        .arg(data.path())
        .arg("--out")
        .arg(data.path().join("due.csv"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "never writes into its own inputs",
        ));
    // A sample folder (a csc-audit manifest beside a sample).
    let sample = tempfile::tempdir().unwrap();
    std::fs::write(sample.path().join("sample.csv"), "case_id\n").unwrap();
    std::fs::write(
        sample.path().join("manifest.json"),
        "{\"tool\": \"csc-audit 0\"}",
    )
    .unwrap();
    csc()
        .args(["due", "--data"])
        .arg(data.path())
        .arg("--out")
        .arg(sample.path().join("due.xlsx"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("audit sample folder"));
    assert!(!sample.path().join("due.xlsx").exists());
    // --out is required: nothing child-level goes to standard output.
    csc()
        .args(["due", "--data"])
        .arg(data.path())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--out"));
}

/// The rows of the report's table of cases due: (measure, team, four counts as shown).
fn due_section(report: &str) -> Vec<(String, String, Vec<String>)> {
    let at = report
        .find("<section id=\"due\"")
        .expect("a section of cases due");
    let section = &report[at..at + report[at..].find("</section>").unwrap()];
    crate::html_rows(section)
        .into_iter()
        .map(|cells| (cells[0].clone(), cells[1].clone(), cells[2..].to_vec()))
        .collect()
}

#[test]
fn the_pack_counts_the_cases_due_by_team_and_publishes_only_suppressed_counts() {
    let out = tempfile::tempdir().unwrap();
    let pack = |profile: &str| {
        let dir = out.path().join(profile);
        csc()
            .args(["pack", "--data"])
            .arg(fixture("due"))
            .args(["--as-of", "2024-05-24", "--profile", profile, "--out"])
            .arg(&dir)
            .assert()
            .success();
        std::fs::read_to_string(dir.join("report.html")).unwrap()
    };
    let internal = due_section(&pack("internal"));
    let row = |rows: &[(String, String, Vec<String>)], title: &str, team: &str| {
        rows.iter()
            .find(|(m, t, _)| m == title && t == team)
            .unwrap_or_else(|| panic!("{title} {team}"))
            .2
            .clone()
    };
    let visits = "Children on CP plans visited within the visit standard";
    // As the hand-worked list: P3 overdue and P1 due soon (North), P2 due today (South).
    assert_eq!(row(&internal, visits, "all"), ["1", "1", "1", "3"]);
    assert_eq!(row(&internal, visits, "North"), ["1", "0", "1", "2"]);
    assert_eq!(row(&internal, visits, "South"), ["0", "1", "0", "1"]);
    let icpc = "Initial conferences within 15 working days of the S47 start";
    assert_eq!(row(&internal, icpc, "South"), ["1", "0", "0", "1"]);
    // 11 measures, each with its "all" row and a row per team with cases.
    assert_eq!(internal.len(), 28);
    let published = pack("published");
    let rows = due_section(&published);
    // Published: the overdue cases only, for each measure and the teams with some, every
    // one of them 1 to 5 here: suppressed (together with the data set, which counts the
    // same cases as snapshots' failed cases on the as-of date).
    let overdue_rows = |rows: &[(String, String, Vec<String>)]| {
        rows.iter()
            .filter(|(_, t, c)| t == "all" || c[0] != "0")
            .map(|(m, t, _)| (m.clone(), t.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        rows.iter()
            .map(|(m, t, _)| (m.clone(), t.clone()))
            .collect::<Vec<_>>(),
        overdue_rows(&internal)
    );
    assert!(rows.iter().all(|(_, _, c)| c.len() == 1));
    assert_eq!(row(&rows, visits, "all"), ["c"]);
    assert_eq!(row(&rows, visits, "North"), ["c"]);
    for (m, t, counts) in &rows {
        for c in counts {
            assert!(
                c == "c" || c.parse::<u64>().is_ok_and(|n| n == 0 || n > 5),
                "{m} {t}: {c}"
            );
        }
    }
    // Counts only: no case, child or worker appears anywhere in the report.
    for id in [
        "C09", "C16", "Cy Ward", "Di Rao", "Bo Khan", ">R1<", ">S2<", ">P3<",
    ] {
        assert!(!published.contains(id), "{id}");
    }
}

/// Generated councils: whatever the dates, a case is overdue exactly when its measure
/// counts it as a breach on the as-of date, and every other case still waiting is listed
/// as due (with `--within` wide enough).
mod generated {
    use super::*;
    use proptest::prelude::*;

    type Referral = (i64, Option<i64>);
    type Plan = (i64, Option<i64>, Vec<i64>);

    fn folder(dir: &Path, as_of: NaiveDate, referrals: &[Referral], plans: &[Plan]) {
        let at = as_of.and_hms_opt(23, 0, 0).unwrap();
        let mut children = String::from("child_id\n");
        let mut refs = String::from("referral_id,child_id,received_at,decision_at\n");
        for (i, (back, decided)) in referrals.iter().enumerate() {
            let received = at - chrono::Duration::minutes(*back);
            // Nothing after the as-of date (a future date is rejected, not waiting).
            let last = as_of.and_hms_opt(23, 30, 0).unwrap();
            let decision = decided.map(|m| (received + chrono::Duration::minutes(m)).min(last));
            children.push_str(&format!("R{i}\n"));
            refs.push_str(&format!(
                "R{i},R{i},{},{}\n",
                received.format("%Y-%m-%d %H:%M"),
                decision.map_or(String::new(), |d| d.format("%Y-%m-%d %H:%M").to_string())
            ));
        }
        let mut cp = String::from("plan_id,child_id,start_date,end_date\n");
        let mut visits = String::from("visit_id,child_id,visit_date,visit_type\n");
        for (i, (back, ends, seen)) in plans.iter().enumerate() {
            let start = as_of - chrono::Days::new(*back as u64);
            let end = ends
                .map(|d| start + chrono::Days::new(d as u64 + 1))
                .filter(|e| *e <= as_of);
            children.push_str(&format!("P{i}\n"));
            cp.push_str(&format!(
                "P{i},P{i},{start},{}\n",
                end.map_or(String::new(), |e| e.to_string())
            ));
            for (v, d) in seen.iter().enumerate().filter(|(_, d)| **d <= *back) {
                let day = start + chrono::Days::new(*d as u64);
                visits.push_str(&format!("V{i}-{v},P{i},{day},cp\n"));
            }
        }
        for (name, text) in [
            ("children", children),
            ("referrals", refs),
            ("cp_plans", cp),
            ("visits", visits),
        ] {
            std::fs::write(dir.join(format!("{name}.csv")), text).unwrap();
        }
    }

    /// (breached, waiting but on time) keys of one measure, by the measure on the as-of
    /// date and by the worklist.
    fn verdicts(ex: &Extracts, id: &str, waiting: &[String]) -> [(Vec<String>, Vec<String>); 2] {
        let mut lib = Library::builtin();
        lib.select(&[id.to_string()]).unwrap();
        let cal = Calendar::england_and_wales();
        let month = Period::containing(Grain::Month, ex.as_of);
        let opts = EvalOptions {
            grain: Grain::Month,
            from: Some(Period {
                grain: Grain::Month,
                index: month.index - 4,
            }),
            to: Some(month),
            by: Vec::new(),
            cases: true,
        };
        let ev = evaluate(ex, &lib, &cal, &opts).unwrap();
        // Not available (no referral has a decision at all): nothing is waiting for it.
        let waiting: &[String] = if ev.rows.iter().any(|r| r.metric_id == id) {
            waiting
        } else {
            &[]
        };
        // A snapshot flags a case at every period end: the as-of date's is the one.
        let snapshot = lib.metrics[0].kind == csc_audit::metrics::MetricKind::Snapshot;
        let mut breached: Vec<String> = ev
            .cases
            .iter()
            .filter(|c| !snapshot || c.period == month.label())
            .map(|c| c.key.clone())
            .filter(|k| waiting.contains(k))
            .collect();
        breached.sort();
        breached.dedup();
        let on_time: Vec<String> = waiting
            .iter()
            .filter(|k| !breached.contains(k))
            .cloned()
            .collect();
        let list = due(
            ex,
            &lib,
            &cal,
            &DueOptions {
                within: 260,
                since: None,
            },
        )
        .unwrap();
        let keys = |overdue: bool| {
            let mut k: Vec<String> = list
                .cases
                .iter()
                .filter(|c| (c.status == DueStatus::Overdue) == overdue)
                .map(|c| c.case_id.clone())
                .collect();
            k.sort();
            k
        };
        [(breached, keys(true)), (on_time, keys(false))]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: crate::hostile::cases(24), ..ProptestConfig::default() })]

        #[test]
        fn a_case_is_overdue_exactly_when_its_measure_counts_a_breach(
            offset in 0u64..366,
            referrals in prop::collection::vec((0i64..60 * 24 * 60, prop::option::weighted(0.4, 0i64..4 * 24 * 60)), 0..10),
            plans in prop::collection::vec((0i64..120, prop::option::weighted(0.3, 0i64..150), prop::collection::vec(0i64..120, 0..4)), 0..6),
        ) {
            let as_of = day(2024, 1, 1) + chrono::Days::new(offset);
            let dir = tempfile::tempdir().unwrap();
            folder(dir.path(), as_of, &referrals, &plans);
            let ex = extracts_at(dir.path(), as_of);
            // Waiting: a referral with no decision; a plan open on the as-of date.
            let undecided: Vec<String> = referrals
                .iter()
                .enumerate()
                .filter(|(_, (_, d))| d.is_none())
                .map(|(i, _)| format!("R{i}"))
                .collect();
            let open: Vec<String> = plans
                .iter()
                .enumerate()
                .filter(|(_, (back, ends, _))| ends.is_none_or(|e| e + 1 > *back))
                .map(|(i, _)| format!("P{i}"))
                .collect();
            for (id, waiting) in [("referral_decision_1wd", &undecided), ("cp_visits_timely", &open)] {
                let [(breached, overdue), (on_time, due)] = verdicts(&ex, id, waiting);
                prop_assert_eq!(&breached, &overdue, "{} as of {}", id, as_of);
                let mut on_time = on_time;
                on_time.sort();
                prop_assert_eq!(&on_time, &due, "{} as of {}", id, as_of);
            }
        }
    }
}

/// Frames of only the columns the worklist reads (as `due` loads them) give the worklist of
/// full frames, on the hand-worked folder and on the sample council, and leave columns out.
#[test]
fn frames_of_only_the_columns_the_worklist_reads_give_the_same_worklist() {
    let lib = Library::builtin();
    let columns = csc_audit::metrics::due_columns_read(&lib);
    let csc_audit::ingest::FrameColumns::Only(read) = &columns else {
        panic!("the built-in measures' queries can be read");
    };
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    for (dir, as_of) in [(fixture("due"), Some(day(2024, 5, 24))), (sample, None)] {
        let [full, narrow] = [Default::default(), columns.clone()].map(|columns| {
            let opts = LoadOptions {
                as_of,
                today: today(),
                columns,
            };
            load(&dir, &opts).unwrap()
        });
        let held = |ex: &Extracts| -> usize { ex.frames.values().map(|f| f.width()).sum() };
        assert!(held(&narrow) < held(&full), "{}", dir.display());
        for (table, f) in &narrow.frames {
            assert!(
                f.columns()
                    .iter()
                    .all(|c| read[table].contains(c.name().as_str())),
                "{table}"
            );
        }
        let cal = Calendar::england_and_wales();
        let opts = DueOptions {
            within: 10,
            since: None,
        };
        let [a, b] = [&full, &narrow].map(|ex| due(ex, &lib, &cal, &opts).unwrap());
        assert!(a.cases.len() > 3, "{}: {}", dir.display(), a.cases.len());
        assert_eq!(lines(&a), lines(&b), "{}", dir.display());
        assert_eq!(a.excluded, b.excluded);
        assert_eq!(a.notes, b.notes);
        assert_eq!(a.measures, b.measures);
    }
}

/// A measure whose query fails as the worklist collects them all (here a column its rows
/// are timed by is missing from the frames) is a note saying so; every other measure's cases
/// are listed exactly as from full frames.
#[test]
fn a_measure_whose_query_fails_is_a_note_and_the_others_are_listed() {
    let lib = Library::builtin();
    let csc_audit::ingest::FrameColumns::Only(mut read) =
        csc_audit::metrics::due_columns_read(&lib)
    else {
        panic!("the built-in measures' queries can be read");
    };
    assert!(read.get_mut("referrals").unwrap().remove("decision_at"));
    let as_of = Some(day(2024, 5, 24));
    let [full, narrow] = [
        Default::default(),
        csc_audit::ingest::FrameColumns::Only(read),
    ]
    .map(|columns| {
        let opts = LoadOptions {
            as_of,
            today: today(),
            columns,
        };
        load(&fixture("due"), &opts).unwrap()
    });
    let cal = Calendar::england_and_wales();
    let opts = DueOptions {
        within: 10,
        since: None,
    };
    let [a, b] = [&full, &narrow].map(|ex| due(ex, &lib, &cal, &opts).unwrap());
    let failed = "referral_decision_1wd";
    assert!(a.cases.iter().any(|c| c.metric_id == failed));
    assert!(
        b.notes
            .iter()
            .any(|n| n.starts_with(&format!("{failed}: not available:"))
                && n.contains("decision_at")),
        "{:?}",
        b.notes
    );
    let others = |l: &Worklist| -> Vec<DueCase> {
        l.cases
            .iter()
            .filter(|c| c.metric_id != failed)
            .cloned()
            .collect()
    };
    assert!(others(&a).len() > 3);
    assert_eq!(others(&a), others(&b));
    assert_eq!(b.measures.len() + 1, a.measures.len());
}
