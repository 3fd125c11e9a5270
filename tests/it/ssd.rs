//! The Standard Safeguarding Dataset: a hand-made export with every quirk of real ones,
//! value by value; a round trip from native extracts to SSD tables (written by the writer
//! below, as SystemC, Eclipse and Mosaic would) and back gives the same measures; native
//! extracts beside SSD tables switch on what the SSD lacks.

use std::collections::HashMap;
use std::path::Path;

use crate::import::{read_csv, rows};
use csc_audit::import::{load_data, ssd, DataKind};
use csc_audit::ingest::LoadOptions;

fn quirks() -> std::path::PathBuf {
    crate::fixture("ssd/quirks")
}

fn rules(report: &csc_audit::import::ImportReport) -> Vec<String> {
    report.issues.iter().map(|i| i.rule.clone()).collect()
}

#[test]
fn an_export_with_every_quirk_imports_value_by_value() {
    let (t, report) = ssd::import(&quirks()).unwrap();
    // Ids shared by siblings become id-child; a datetime's time is dropped from a date; the
    // CIN source code 6 is kept, an empty code gives the description; COMMENTS never kept.
    assert_eq!(
        rows(&t, "contacts"),
        [
            "K1,C1,2024-03-01,6,new_referral",
            "K2-C1,C1,2024-03-05,Anonymous,advice",
            "K2-C2,C2,2024-03-05,Anonymous,advice",
        ]
    );
    // DOB from pers_dob, else pers_expected_dob; DD/MM/YYYY after Excel; sex from
    // pers_gender when pers_sex is NULL; disability Y for any code but NONE.
    assert_eq!(
        rows(&t, "children"),
        [
            "C1,2015-06-01,F,WBRI,N",
            "C2,2024-05-10,M,WBRI,Y",
            "C3,2012-02-14,F,MWBC,",
        ]
    );
    // Teams named through ssd_department (an unknown id kept and counted); workers matched
    // by name (R1), staff id (R3), never carried when unmatched (R2); a source column
    // holding SystemC lookup ids (1234) gives the description on every row, even where an
    // id looks like a CIN code (6, 2A); outcomes from SystemC and Eclipse JSON.
    assert_eq!(
        rows(&t, "referrals"),
        [
            "R1,C1,2024-03-01 00:00:00,Police,,assessment,,MASH,101",
            "R2,C2,2024-04-02 10:30:00,Police,,nfa,,South,",
            "R3,C3,2024-04-29 00:00:00,Schools,,s47,,D9,101",
        ]
    );
    // 1900-01-01 is no date; -1 is no team or worker.
    assert_eq!(
        rows(&t, "assessments"),
        [
            "A1,C1,R1,2024-03-04,,,,South,101",
            "A2,C3,R3,2024-04-30,,2024-06-10,strategy_discussion,,",
        ]
    );
    // The native strategy discussion of the same child and referral is linked; NFA means
    // no ICPC was needed, a CP conference flag that one was.
    assert_eq!(
        rows(&t, "s47_enquiries"),
        [
            "S1,C3,SD1,2024-05-02,2024-05-20,N,cp_conference,South,101",
            "S2,C1,,2024-03-11,2024-03-25,Y,,South,102",
        ]
    );
    // The other authority's plan is left out; team and worker from the open CW
    // involvement (its 1900-01-01 end is open), not the team manager's.
    assert_eq!(
        rows(&t, "cp_plans"),
        ["P1,C3,2024-05-22,,neglect,emotional,,MASH,102"]
    );
    // Initial and review ids that collide are prefixed; unheld meetings and the review of
    // the other authority's plan are left out; the ICPC's plan found from cppl_icpc_id; a
    // review whose plan is -1 is kept, with no plan.
    assert_eq!(
        rows(&t, "conferences"),
        [
            "ICPC-7,C3,initial,2024-05-22,S1,P1,plan",
            "RCPC-7,C3,review,2024-08-20,,P1,continue",
            "RCPC-11,C3,review,2024-09-02,,,continue",
        ]
    );
    // The CIN visit that repeats a CP visit is counted once; Mosaic's CP visit with no
    // person gets the plan's child; a visit where the child was not seen is left out.
    assert_eq!(
        rows(&t, "visits"),
        [
            "CP-V1,C3,2024-05-29,cp,N,",
            "CP-V2,C3,2024-06-05,cp,Y,",
            "CIN-V3,C1,2024-03-20,cin,Y,",
        ]
    );
    assert_eq!(
        rows(&t, "workers"),
        [
            "101,South,social_worker,1.0,,",
            "102,South,team_manager,0.8,,",
            "103,MASH,,,,"
        ]
    );
    assert_eq!(
        rows(&t, "strategy_discussions"),
        ["SD1,C3,R3,2024-05-02,2024-05-03,Y,Y,s47,MASH"]
    );
    // Every row accounted for.
    let block = |name: &str| report.blocks[name].clone();
    let count = |read, loaded, rejected| csc_audit::import::BlockCount {
        read,
        loaded,
        rejected,
    };
    assert_eq!(block("ssd_contacts"), count(4, 3, 1));
    assert_eq!(block("ssd_cp_plans"), count(2, 1, 1));
    assert_eq!(block("ssd_cp_reviews"), count(4, 2, 2));
    assert_eq!(block("ssd_initial_cp_conference"), count(2, 1, 1));
    assert_eq!(block("ssd_cin_visits"), count(3, 1, 2));
    // The team manager's involvement is read but not an allocation.
    assert_eq!(block("ssd_involvements"), count(3, 2, 1));
    for (name, c) in &report.blocks {
        assert_eq!(c.read, c.loaded + c.rejected, "{name}");
    }
    let r = rules(&report);
    for rule in [
        "bad_row",
        "shared_id",
        "other_authority",
        "not_held",
        "repeats_cp_visit",
        "identifier_dropped",
        "placeholder_date",
        "worker_not_matched",
        "team_not_matched",
        "strategy_linked",
        "role_not_matched",
        "not_in_ssd",
        "not_seen",
        "transfer_in",
        "not_allocated_worker",
    ] {
        assert!(r.iter().any(|x| x == rule), "{rule}: {r:?}");
    }
    let placeholder = report
        .issues
        .iter()
        .find(|i| i.rule == "placeholder_date")
        .unwrap();
    assert!(placeholder
        .message
        .starts_with("1 values of cina_assessment_auth_date"));
    assert!(report
        .ignored
        .contains_key("ssd_address.csv (an SSD table csc-audit does not use)"));
}

#[test]
fn names_upns_and_nhs_numbers_never_reach_the_native_tables() {
    let (t, report) = ssd::import(&quirks()).unwrap();
    let all: String = ssd::tables(&quirks())
        .iter()
        .flat_map(|s| rows(&t, s.name))
        .collect::<Vec<_>>()
        .join("\n");
    let json = report.to_json();
    // Whole words: "Annex A" is not "Ann".
    let has = |text: &str, secret: &str| {
        let words: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).collect();
        let s: Vec<&str> = secret.split(' ').collect();
        words.windows(s.len()).any(|w| w == s.as_slice())
    };
    for secret in [
        "Ann",
        "Ben",
        "Cara",
        "Example",
        "Sample",
        "Alex",
        "A123456789012",
        "9990000001",
        "Unknown Person",
        "SW001",
        "mum rang",
    ] {
        assert!(!has(&all, secret), "{secret} in the tables");
        assert!(!has(&json, secret), "{secret} in the report");
    }
    assert!(
        has("the Sam Sample row", "Sam Sample"),
        "the check itself finds a name"
    );
    let dropped = report
        .issues
        .iter()
        .find(|i| i.rule == "identifier_dropped" && i.table == "ssd_person")
        .unwrap();
    assert!(dropped.message.contains("pers_upn"), "{}", dropped.message);
    assert!(
        dropped.message.contains("pers_single_unique_id"),
        "{}",
        dropped.message
    );
}

#[test]
fn an_ssd_folder_is_read_by_data_and_issues_name_the_ssd_file_and_line() {
    let opts = LoadOptions {
        as_of: None,
        today: crate::today(),
        columns: Default::default(),
    };
    let (ex, kind) = load_data(&quirks(), &opts).unwrap();
    assert_eq!(kind, DataKind::Ssd);
    let bad = ex
        .report
        .issues
        .iter()
        .find(|i| i.rule == "bad_row")
        .unwrap();
    assert_eq!((bad.file.as_str(), bad.line), ("ssd_contacts.csv", Some(5)));
    // Nothing made from the SSD is rejected by the checks.
    assert_eq!(ex.report.rows_rejected(), 0, "{}", ex.report.to_text(50));
    assert_eq!(ex.frame("conferences").unwrap().height(), 3);
    // Missing tables are said once, with the file that would add them.
    let core: Vec<_> = ex
        .report
        .issues
        .iter()
        .filter(|i| i.message.contains("core_groups"))
        .collect();
    assert_eq!(core.len(), 1, "{core:?}");
    assert!(core[0].message.contains("add core_groups.csv"));
}

#[test]
fn native_files_of_tables_the_ssd_fills_are_refused_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(quirks()).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        dir.path().join("referrals.csv"),
        "referral_id,child_id,received_at\n",
    )
    .unwrap();
    let err = ssd::import(dir.path()).unwrap_err().to_string();
    assert!(err.contains("native referrals.csv"), "{err}");
    let out = assert_cmd::Command::cargo_bin("csc-audit")
        .unwrap()
        .args(["check", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

// ---- the round trip -----------------------------------------------------------------

/// A table written as an SSMS export: `NULL` for empty.
fn write(dir: &Path, table: &str, header: &[&str], rows: Vec<Vec<String>>) {
    let mut w = csv::Writer::from_path(dir.join(format!("{table}.csv"))).unwrap();
    w.write_record(header).unwrap();
    for r in rows {
        let r: Vec<String> = r
            .into_iter()
            .map(|v| if v.is_empty() { "NULL".into() } else { v })
            .collect();
        w.write_record(&r).unwrap();
    }
    w.flush().unwrap();
}

/// A date as SQL Server writes a DATETIME.
fn dt(d: &str) -> String {
    match d.len() {
        0 => String::new(),
        10 => format!("{d} 00:00:00.000"),
        _ => format!("{}.000", d.replace('T', " ")),
    }
}

fn yn(v: &str) -> String {
    match v.to_ascii_lowercase().as_str() {
        "y" | "yes" | "true" | "1" => "Y".into(),
        "n" | "no" | "false" | "0" => "N".into(),
        _ => String::new(),
    }
}

struct Depts(HashMap<String, String>);

impl Depts {
    fn id(&self, team: &str) -> String {
        self.0.get(team).cloned().unwrap_or_default()
    }
}

/// Writes the native extracts in `native` as SSD tables: SystemC's quirks throughout
/// (department ids, a referral's worker as a name, an S47's as a staff id, 1900-01-01 for
/// no authorisation date, an open involvement's end), Eclipse and Mosaic outcomes on some
/// rows, CIN visits that repeat CP visits, an other authority's plan, unheld meetings.
fn write_ssd(native: &Path, out: &Path) {
    let workers = read_csv(native, "workers");
    let mut teams: Vec<String> = workers.iter().map(|w| w["team"].clone()).collect();
    for t in ["referrals", "assessments", "s47_enquiries", "cp_plans"] {
        teams.extend(read_csv(native, t).into_iter().map(|r| r["team"].clone()));
    }
    teams.retain(|t| !t.is_empty());
    teams.sort();
    teams.dedup();
    let depts = Depts(
        teams
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), format!("{}", 9000 + i)))
            .collect(),
    );
    write(
        out,
        "ssd_department",
        &["dept_team_id", "dept_team_name"],
        teams.iter().map(|t| vec![depts.id(t), t.clone()]).collect(),
    );
    let title = |role: &str| match role {
        "social_worker" => "Social Worker",
        "advanced_practitioner" => "Advanced Practitioner",
        "practice_manager" => "Practice Manager",
        "team_manager" => "Team Manager",
        _ => "",
    };
    write(
        out,
        "ssd_professionals",
        &[
            "prof_professional_id",
            "prof_staff_id",
            "prof_professional_name",
            "prof_professional_job_title",
            "prof_professional_department",
            "prof_full_time_equivalency",
        ],
        workers
            .iter()
            .map(|w| {
                let id = w["worker"].clone();
                vec![
                    id.clone(),
                    format!("ST{id}"),
                    format!("Name Of {id}"),
                    title(&w["role"]).into(),
                    w["team"].clone(),
                    w["fte"].clone(),
                ]
            })
            .collect(),
    );
    write_people(native, out);
    write_front_door(native, out, &depts);
    write_protection(native, out, &depts);
}

fn write_people(native: &Path, out: &Path) {
    let children = read_csv(native, "children");
    write(
        out,
        "ssd_person",
        &[
            "pers_person_id",
            "pers_forename",
            "pers_sex",
            "pers_ethnicity",
            "pers_dob",
            "pers_upn",
        ],
        children
            .iter()
            .map(|c| {
                let id = c["child_id"].clone();
                vec![
                    id,
                    "Forename".into(),
                    c["sex"].clone(),
                    c["ethnicity"].clone(),
                    dt(&c["date_of_birth"]),
                    "UPN".into(),
                ]
            })
            .collect(),
    );
    write(
        out,
        "ssd_disability",
        &["disa_table_id", "disa_person_id", "disa_disability_code"],
        children
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let code = match yn(&c["disability"]).as_str() {
                    "Y" => "AUT",
                    "N" => "NONE",
                    _ => return None,
                };
                Some(vec![i.to_string(), c["child_id"].clone(), code.into()])
            })
            .collect(),
    );
}

fn write_front_door(native: &Path, out: &Path, depts: &Depts) {
    write(
        out,
        "ssd_contacts",
        &[
            "cont_contact_id",
            "cont_person_id",
            "cont_contact_date",
            "cont_contact_source_desc",
        ],
        read_csv(native, "contacts")
            .iter()
            .map(|c| {
                vec![
                    c["contact_id"].clone(),
                    c["child_id"].clone(),
                    dt(&c["contact_date"]),
                    c["source"].clone(),
                ]
            })
            .collect(),
    );
    let referrals = read_csv(native, "referrals");
    write(
        out,
        "ssd_cin_episodes",
        &[
            "cine_referral_id",
            "cine_person_id",
            "cine_referral_date",
            "cine_referral_source_desc",
            "cine_referral_outcome_json",
            "cine_referral_nfa",
            "cine_referral_team",
            "cine_referral_worker_id",
        ],
        referrals
            .iter()
            .enumerate()
            .map(|(i, r)| {
                // The three dialects in turn.
                let json = match (r["outcome"].as_str(), i % 3) {
                    ("s47", 0) => r#"{"STRATEGY_DISCUSSION_FLAG":"Y","COMMENTS":"x"}"#.into(),
                    ("s47", 1) => r#"{"OUTCOME_CP_CONFERENCE_FLAG": "Yes"}"#.into(),
                    ("s47", _) => "Strategy Discussion".into(),
                    ("assessment", 0) => r#"{"SINGLE_ASSESSMENT_FLAG":"Y"}"#.into(),
                    ("assessment", _) => "Single Assessment, Information Sharing".into(),
                    ("early_help", _) => "Step down to Early Help".into(),
                    ("other", _) => r#"{"OTHER_OUTCOMES_EXIST_FLAG":"Y"}"#.into(),
                    _ => String::new(),
                };
                let nfa = if r["outcome"] == "nfa" { "Y" } else { "N" };
                let worker = r["worker"].clone();
                let worker = if worker.is_empty() {
                    worker
                } else {
                    format!("Name Of {worker}")
                };
                vec![
                    r["referral_id"].clone(),
                    r["child_id"].clone(),
                    dt(&r["received_at"]),
                    r["source"].clone(),
                    json,
                    nfa.into(),
                    depts.id(&r["team"]),
                    worker,
                ]
            })
            .collect(),
    );
    write(
        out,
        "ssd_cin_assessments",
        &[
            "cina_assessment_id",
            "cina_person_id",
            "cina_referral_id",
            "cina_assessment_start_date",
            "cina_assessment_auth_date",
            "cina_assessment_team",
            "cina_assessment_worker_id",
        ],
        read_csv(native, "assessments")
            .iter()
            .map(|a| {
                let auth = if a["authorised_date"].is_empty() {
                    "1900-01-01".into()
                } else {
                    a["authorised_date"].clone()
                };
                vec![
                    a["assessment_id"].clone(),
                    a["child_id"].clone(),
                    a["referral_id"].clone(),
                    dt(&a["start_date"]),
                    dt(&auth),
                    depts.id(&a["team"]),
                    a["worker"].clone(),
                ]
            })
            .collect(),
    );
}

fn write_protection(native: &Path, out: &Path, depts: &Depts) {
    let strategy_referral: HashMap<String, String> = read_csv(native, "strategy_discussions")
        .into_iter()
        .map(|s| (s["strategy_id"].clone(), s["referral_id"].clone()))
        .collect();
    write(
        out,
        "ssd_s47_enquiry",
        &[
            "s47e_s47_enquiry_id",
            "s47e_referral_id",
            "s47e_person_id",
            "s47e_s47_start_date",
            "s47e_s47_end_date",
            "s47e_s47_nfa",
            "s47e_s47_outcome_json",
            "s47e_s47_completed_by_team",
            "s47e_s47_completed_by_worker_id",
        ],
        read_csv(native, "s47_enquiries")
            .iter()
            .map(|s| {
                let (nfa, json) = match yn(&s["icpc_not_required"]).as_str() {
                    "Y" => ("Y", String::new()),
                    "N" => ("N", r#"{"CP_CONFERENCE_FLAG":"Y"}"#.to_string()),
                    _ => ("", String::new()),
                };
                let worker = if s["worker"].is_empty() {
                    String::new()
                } else {
                    format!("ST{}", s["worker"])
                };
                vec![
                    s["s47_id"].clone(),
                    strategy_referral
                        .get(&s["strategy_id"])
                        .cloned()
                        .unwrap_or_default(),
                    s["child_id"].clone(),
                    dt(&s["start_date"]),
                    dt(&s["end_date"]),
                    nfa.into(),
                    json,
                    depts.id(&s["team"]),
                    worker,
                ]
            })
            .collect(),
    );
    let plans = read_csv(native, "cp_plans");
    let category = |c: &str| match c {
        "neglect" => "Neglect".to_string(),
        "emotional" => "Emotional abuse".into(),
        "physical" => "PHY".into(),
        "sexual" => "Sexual Abuse".into(),
        "multiple" => "MUL".into(),
        other => other.into(),
    };
    let mut plan_rows: Vec<Vec<String>> = plans
        .iter()
        .map(|p| {
            vec![
                p["plan_id"].clone(),
                format!("PR-{}", p["plan_id"]),
                p["child_id"].clone(),
                dt(&p["start_date"]),
                dt(&p["end_date"]),
                "N".into(),
                category(&p["initial_category"]),
                category(&p["latest_category"]),
            ]
        })
        .collect();
    let child = plans[0]["child_id"].clone();
    plan_rows.push(vec![
        "OLA-1".into(),
        String::new(),
        child.clone(),
        dt("2024-01-10"),
        String::new(),
        "Y".into(),
        "Neglect".into(),
        "Neglect".into(),
    ]);
    write(
        out,
        "ssd_cp_plans",
        &[
            "cppl_cp_plan_id",
            "cppl_referral_id",
            "cppl_person_id",
            "cppl_cp_plan_start_date",
            "cppl_cp_plan_end_date",
            "cppl_cp_plan_ola",
            "cppl_cp_plan_initial_category",
            "cppl_cp_plan_latest_category",
        ],
        plan_rows,
    );
    let mut invos = Vec::new();
    for p in &plans {
        let end = if p["end_date"].is_empty() {
            "1900-01-01".to_string()
        } else {
            p["end_date"].clone()
        };
        let referral = format!("PR-{}", p["plan_id"]);
        invos.push(vec![
            p["worker"].clone(),
            "CW".into(),
            depts.id(&p["team"]),
            p["child_id"].clone(),
            dt(&p["start_date"]),
            dt(&end),
            referral.clone(),
        ]);
        // A team manager's involvement, open and latest: not the allocated worker.
        invos.push(vec![
            "TM".into(),
            "TM".into(),
            "1".into(),
            p["child_id"].clone(),
            dt(&p["start_date"]),
            String::new(),
            referral,
        ]);
    }
    write(
        out,
        "ssd_involvements",
        &[
            "invo_professional_id",
            "invo_professional_role_id",
            "invo_professional_team",
            "invo_person_id",
            "invo_involvement_start_date",
            "invo_involvement_end_date",
            "invo_referral_id",
        ],
        invos,
    );
    write_conferences(native, out, &child);
    write_visits(native, out);
}

fn write_conferences(native: &Path, out: &Path, ola_child: &str) {
    let conferences = read_csv(native, "conferences");
    let outcome = |o: &str, yes: &str, no: &str| match o {
        x if x == yes => "Y".to_string(),
        x if x == no => "N".to_string(),
        _ => String::new(),
    };
    let mut initial: Vec<Vec<String>> = conferences
        .iter()
        .filter(|c| c["conference_type"] == "initial")
        .map(|c| {
            vec![
                c["conference_id"].clone(),
                c["s47_id"].clone(),
                c["child_id"].clone(),
                c["plan_id"].clone(),
                dt(&c["date"]),
                outcome(&c["outcome"], "plan", "no_plan"),
            ]
        })
        .collect();
    initial.push(vec![
        "UNHELD".into(),
        String::new(),
        ola_child.into(),
        String::new(),
        String::new(),
        String::new(),
    ]);
    write(
        out,
        "ssd_initial_cp_conference",
        &[
            "icpc_icpc_id",
            "icpc_s47_enquiry_id",
            "icpc_person_id",
            "icpc_cp_plan_id",
            "icpc_icpc_date",
            "icpc_icpc_outcome_cp_flag",
        ],
        initial,
    );
    let mut reviews: Vec<Vec<String>> = conferences
        .iter()
        .filter(|c| c["conference_type"] == "review")
        .map(|c| {
            vec![
                c["conference_id"].clone(),
                c["child_id"].clone(),
                c["plan_id"].clone(),
                dt(&c["date"]),
                outcome(&c["outcome"], "continue", "end"),
            ]
        })
        .collect();
    reviews.push(vec![
        "OLA-R".into(),
        ola_child.into(),
        "OLA-1".into(),
        dt("2024-03-01"),
        "Y".into(),
    ]);
    write(
        out,
        "ssd_cp_reviews",
        &[
            "cppr_cp_review_id",
            "cppr_person_id",
            "cppr_cp_plan_id",
            "cppr_cp_review_date",
            "cppr_cp_review_outcome_continue_cp",
        ],
        reviews,
    );
}

fn write_visits(native: &Path, out: &Path) {
    let visits = read_csv(native, "visits");
    let of = |kind: &str| -> Vec<Vec<String>> {
        visits
            .iter()
            .filter(|v| v["visit_type"] == kind)
            .map(|v| {
                vec![
                    v["visit_id"].clone(),
                    v["child_id"].clone(),
                    dt(&v["visit_date"]),
                    v["seen_alone"].clone(),
                ]
            })
            .collect()
    };
    let cp = of("cp");
    // SystemC's CIN visits include the CP visits (same case-note ids).
    let mut cin = of("cin");
    cin.extend(cp.iter().take(5).cloned());
    write(
        out,
        "ssd_cp_visits",
        &[
            "cppv_cp_visit_id",
            "cppv_person_id",
            "cppv_cp_visit_date",
            "cppv_cp_visit_seen_alone",
        ],
        cp,
    );
    write(
        out,
        "ssd_cin_visits",
        &[
            "cinv_cin_visit_id",
            "cinv_person_id",
            "cinv_cin_visit_date",
            "cinv_cin_visit_seen_alone",
        ],
        cin,
    );
    write(
        out,
        "ssd_cla_visits",
        &[
            "clav_cla_visit_id",
            "clav_person_id",
            "clav_cla_visit_date",
            "clav_cla_visit_seen_alone",
        ],
        of("cla"),
    );
}

/// The measures the SSD alone supports.
const SUPPORTED: &[&str] = &[
    "referrals",
    "referral_nfa",
    "re_referral_12m",
    "contacts_before_referral",
    "assessment_45wd",
    "assessment_working_days",
    "s47_started",
    "s47_to_icpc",
    "s47_icpc_overdue",
    "icpc_held",
    "icpc_15wd",
    "icpc_to_plan",
    "cp_plans_started",
    "cp_plans_open",
    "cp_repeat_plan",
    "cp_plan_number",
    "cp_open_2y",
    "cp_open_duration",
    "cp_review_on_time",
    "cp_visits_timely",
];

fn opts() -> LoadOptions {
    LoadOptions {
        as_of: Some(chrono::NaiveDate::from_ymd_opt(2025, 3, 31).unwrap()),
        today: crate::today(),
        columns: Default::default(),
    }
}

#[test]
fn synth_to_ssd_and_back_gives_the_same_measures() {
    let sample = crate::sample_data();
    let dir = tempfile::tempdir().unwrap();
    write_ssd(&sample, dir.path());
    let native = csc_audit::ingest::load(&sample, &opts()).unwrap();
    let (from_ssd, kind) = load_data(dir.path(), &opts()).unwrap();
    assert_eq!(kind, DataKind::Ssd);
    assert_eq!(
        from_ssd.report.rows_rejected(),
        0,
        "{}",
        from_ssd.report.to_text(30)
    );
    for by in [&[][..], &["team", "worker", "source", "category"][..]] {
        let (a, b) = (
            crate::quarterly(&native, by),
            crate::quarterly(&from_ssd, by),
        );
        crate::assert_same_measures(&a, &b, SUPPORTED);
        // What the SSD does not hold is not available, never 0%.
        for id in [
            "referral_decision_1wd",
            "referral_feedback_1wd",
            "core_group_10wd",
            "cp_supervision_2m",
            "supervision_recorded",
            "s47_with_strategy",
            "strategy_minutes_timely",
        ] {
            crate::assert_not_available(&b, id);
        }
    }
}

#[test]
fn native_supervision_and_strategy_files_beside_the_ssd_switch_those_measures_on() {
    let sample = crate::sample_data();
    let dir = tempfile::tempdir().unwrap();
    write_ssd(&sample, dir.path());
    for t in ["strategy_discussions", "supervisions", "core_groups"] {
        let name = format!("{t}.csv");
        std::fs::copy(sample.join(&name), dir.path().join(&name)).unwrap();
    }
    let native = csc_audit::ingest::load(&sample, &opts()).unwrap();
    let (from_ssd, _) = load_data(dir.path(), &opts()).unwrap();
    assert_eq!(
        from_ssd.report.rows_rejected(),
        0,
        "{}",
        from_ssd.report.to_text(30)
    );
    let linked = from_ssd
        .report
        .issues
        .iter()
        .find(|i| i.rule == "strategy_linked")
        .unwrap();
    assert!(
        linked.message.contains("same child and referral"),
        "{}",
        linked.message
    );
    let (a, b) = (
        crate::quarterly(&native, &[]),
        crate::quarterly(&from_ssd, &[]),
    );
    crate::assert_same_measures(
        &a,
        &b,
        &[
            "cp_supervision_2m",
            "supervision_recorded",
            "core_group_10wd",
            "s47_with_strategy",
            "icpc_15wd_strategy",
            "strategy_police_present",
            "strategy_minutes_timely",
        ],
    );
}

#[test]
fn import_ssd_writes_the_native_tables_and_its_report() {
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("native");
    let run = assert_cmd::Command::cargo_bin("csc-audit")
        .unwrap()
        .args(["import", "ssd"])
        .arg(quirks())
        .arg("--out")
        .arg(&target)
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let plans = std::fs::read_to_string(target.join("cp_plans.csv")).unwrap();
    assert!(
        plans.ends_with("P1,C3,2024-05-22,,neglect,emotional,,MASH,102\n"),
        "{plans}"
    );
    assert!(target.join("strategy_discussions.csv").exists());
    assert!(target.join("import.json").exists());
    // --strict: the contact row that could not be read was not loaded.
    let strict = assert_cmd::Command::cargo_bin("csc-audit")
        .unwrap()
        .args(["import", "ssd", "--strict", "--force"])
        .arg(quirks())
        .arg("--out")
        .arg(&target)
        .output()
        .unwrap();
    assert_eq!(strict.status.code(), Some(1));
}
