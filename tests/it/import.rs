//! Importing the DfE CIN census: the public samples in ../shared/samples (copied into
//! tests/fixtures/cin_census/, nobody here wrote them) and hand-written messy files.

use csc_audit::import::cin_census::{parse, tables};
use csc_audit::import::{BlockCount, Tables};
use csc_audit::report::Severity;

use crate::fixture;

/// A native table's rows as comma-joined text, to compare value by value.
pub(crate) fn rows(t: &Tables, table: &str) -> Vec<String> {
    t.rows(table).iter().map(|r| r.join(",")).collect()
}

fn count(read: u64, loaded: u64, rejected: u64) -> BlockCount {
    BlockCount {
        read,
        loaded,
        rejected,
    }
}

#[test]
fn the_specification_example_fills_every_table() {
    let path = fixture("cin_census/cin_census_2022_spec_example.xml");
    let (t, report) = csc_audit::import::cin_census::import(&path).unwrap();
    // One child with every block (values read off the XML by hand).
    assert_eq!(rows(&t, "children"), ["DfEX0000001,1966-03-24,male,WBRI,Y"]);
    assert_eq!(
        rows(&t, "referrals"),
        ["DfEX0000001-R1,DfEX0000001,1970-10-06,1A,,,,,"]
    );
    assert_eq!(
        rows(&t, "assessments"),
        ["DfEX0000001-R1-A1,DfEX0000001,DfEX0000001-R1,1970-06-03,,1971-07-18,,,"]
    );
    assert_eq!(
        rows(&t, "s47_enquiries"),
        ["DfEX0000001-R1-S1,DfEX0000001,,1970-06-02,,N,,,"]
    );
    assert_eq!(
        rows(&t, "cp_plans"),
        ["DfEX0000001-R1-P1,DfEX0000001,1970-02-17,1971-03-14,physical,physical,,,"]
    );
    // The review; the S47's ICPC; and the episode's own DateOfInitialCPC, which differs
    // from the S47's, as a second initial conference.
    assert_eq!(
        rows(&t, "conferences"),
        [
            "DfEX0000001-R1-P1-RCPC1,DfEX0000001,review,1971-02-15,,DfEX0000001-R1-P1,",
            "DfEX0000001-R1-S1-ICPC,DfEX0000001,initial,1970-06-17,DfEX0000001-R1-S1,,",
            "DfEX0000001-R1-ICPC,DfEX0000001,initial,1970-12-06,,,",
        ]
    );
    for b in [
        "Child",
        "CINdetails",
        "Assessments",
        "Section47",
        "ChildProtectionPlans",
    ] {
        assert_eq!(report.blocks[b], count(1, 1, 0), "{b}");
    }
    assert_eq!(report.details["Year"], "2022");
    assert_eq!(report.details["ReferenceDate"], "2022-03-31");
    assert_eq!(report.ignored["Section47/InitialCPCtarget"], 1);
    assert_eq!(
        report.ignored["FactorsIdentifiedAtAssessment/AssessmentFactors"],
        2
    );
    assert!(report.issues.is_empty(), "{:?}", report.issues);
}

#[test]
fn the_fake_332_children_are_all_accounted_for() {
    let path = fixture("cin_census/cin_census_fake_332_children.xml");
    let (t, report) = csc_audit::import::cin_census::import(&path).unwrap();
    // grep -c: 332 <Child>, 402 <CINdetails>, 350 <DateOfInitialCPC> (all at episode
    // level: the file has no Section47 blocks), 74 <Disabilities>.
    assert_eq!(report.blocks["Child"], count(332, 332, 0));
    assert_eq!(report.blocks["CINdetails"], count(402, 402, 0));
    assert_eq!(t.rows("children").len(), 332);
    assert_eq!(t.rows("referrals").len(), 402);
    assert_eq!(t.rows("conferences").len(), 350);
    assert!(t.rows("s47_enquiries").is_empty());
    let with_disability_flag = t
        .rows("children")
        .iter()
        .filter(|r| !r[4].is_empty())
        .count();
    assert_eq!(with_disability_flag, 74);
    // The first child, by hand: RND000215205141, born 2019-12-06, gender 1, WIRT; one
    // episode referred 2020-07-13 from source 4, NFA, ICPC 2020-09-29.
    assert_eq!(
        t.rows("children")[0].join(","),
        "RND000215205141,2019-12-06,male,WIRT,"
    );
    assert_eq!(
        t.rows("referrals")[0].join(","),
        "RND000215205141-R1,RND000215205141,2020-07-13,4,,nfa,,,"
    );
    assert_eq!(
        t.rows("conferences")[0].join(","),
        "RND000215205141-R1-ICPC,RND000215205141,initial,2020-09-29,,,"
    );
}

#[test]
fn imported_tables_load_and_every_row_is_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cin");
    assert_cmd::Command::cargo_bin("csc-audit")
        .unwrap()
        .args(["import", "cin-census"])
        .arg(fixture("cin_census/cin_census_fake_332_children.xml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "CINdetails                     402       402         0",
        ));
    for spec in tables() {
        assert!(out.join(spec.file_name()).is_file(), "{}", spec.name);
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("import.json")).unwrap()).unwrap();
    assert_eq!(report["blocks"]["Child"]["loaded"], 332);
    let ex = crate::load_dir(&out);
    for t in &ex.report.tables {
        assert_eq!(t.rows_read, t.rows_loaded + t.rows_rejected, "{}", t.table);
    }
    // The fake file is partly self-contradictory: two referrals (and their ICPCs) are dated
    // after every other event, so they are in the future of the as-of date.
    let rejected: Vec<(&str, &str)> = ex
        .report
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .map(|i| (i.table.as_str(), i.rule.as_str()))
        .collect();
    assert_eq!(
        rejected,
        [
            ("referrals", "future_date"),
            ("referrals", "future_date"),
            ("conferences", "future_date"),
            ("conferences", "future_date"),
        ]
    );
    // A folder of extracts nothing imported is not overwritten without --force.
    let synth = dir.path().join("synth");
    std::fs::create_dir_all(&synth).unwrap();
    std::fs::write(synth.join("children.csv"), "child_id\nC1\n").unwrap();
    assert_cmd::Command::cargo_bin("csc-audit")
        .unwrap()
        .args(["import", "cin-census"])
        .arg(fixture("cin_census/cin_census_2022_spec_example.xml"))
        .arg("--out")
        .arg(&synth)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--force"));
    assert_eq!(
        std::fs::read_to_string(synth.join("children.csv")).unwrap(),
        "child_id\nC1\n"
    );
}

const MESSY: &str = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>
<Message>
  <Header><CollectionDetails><Year>2024</Year></CollectionDetails></Header>
  <Children>
    <Child>
      <ChildIdentifiers><UPN>A1</UPN></ChildIdentifiers>
      <CINdetails><CINreferralDate>2023-05-01</CINreferralDate></CINdetails>
    </Child>
    <Child>
      <ChildIdentifiers>
        <LAchildID>B&amp;2</LAchildID>
        <PersonBirthDate>2015-02-30</PersonBirthDate>
        <GenderCurrent>2</GenderCurrent>
      </ChildIdentifiers>
      <ChildCharacteristics>
        <Ethnicity>WBRI\u{a0}</Ethnicity>
        <Disabilities><Disability>NONE</Disability></Disabilities>
      </ChildCharacteristics>
      <CINdetails>
        <ReferralSource>1A</ReferralSource>
      </CINdetails>
      <CINdetails>
        <CINreferralDate>2023-06-01</CINreferralDate>
        <ReferralNFA>maybe</ReferralNFA>
        <DateOfInitialCPC>2023-07-03</DateOfInitialCPC>
        <Section47>
          <S47ActualStartDate>2023-13-01</S47ActualStartDate>
        </Section47>
        <Section47>
          <S47ActualStartDate>2023-06-12</S47ActualStartDate>
          <DateOfInitialCPC>2023-07-03</DateOfInitialCPC>
          <ICPCnotRequired>0</ICPCnotRequired>
        </Section47>
        <ChildProtectionPlans>
          <CPPstartDate>2023-07-03</CPPstartDate>
          <InitialCategoryOfAbuse>NEG</InitialCategoryOfAbuse>
          <Reviews><CPPreviewDate>2023-10-02</CPPreviewDate><CPPreviewDate>2024-03-28</CPPreviewDate></Reviews>
        </ChildProtectionPlans>
        <Colour>blue</Colour>
      </CINdetails>
    </Child>
  </Children>
</Message>
";

#[test]
fn a_messy_census_loads_what_it_can_and_says_why_for_the_rest() {
    let (t, report) = parse(MESSY, "messy.xml").unwrap();
    // The first child has no LAchildID: it and its episode are not loaded.
    assert_eq!(report.blocks["Child"], count(2, 1, 1));
    // Of B&2's two episodes, the first has no referral date.
    assert_eq!(report.blocks["CINdetails"], count(3, 1, 2));
    // One S47 has a 13th month.
    assert_eq!(report.blocks["Section47"], count(2, 1, 1));
    assert_eq!(report.blocks["ChildProtectionPlans"], count(1, 1, 0));
    let issues: Vec<String> = report
        .issues
        .iter()
        .map(|i| {
            format!(
                "{}:{} {}.{} {}",
                i.line.unwrap(),
                i.rule,
                i.table,
                i.column.clone().unwrap_or_default(),
                i.message
            )
        })
        .collect();
    assert_eq!(
        issues,
        [
            "5:missing_required Child.LAchildID a child with no LAchildID: not loaded, with its 1 CINdetails block(s)",
            "12:bad_date Child.PersonBirthDate '2015-02-30' is not a date: expected YYYY-MM-DD or DD/MM/YYYY (UK order): left empty",
            "19:missing_required CINdetails.CINreferralDate no CINreferralDate: the referral episode and the blocks inside it not loaded",
            "24:bad_flag CINdetails.ReferralNFA 'maybe' is not a flag: expected Y/N, yes/no, true/false or 1/0: outcome left empty",
            "27:bad_date Section47.S47ActualStartDate '2023-13-01' is not a date: expected YYYY-MM-DD or DD/MM/YYYY (UK order): the S47 enquiry not loaded",
        ]
    );
    // Entities are decoded, non-breaking spaces trimmed, "NONE" is no disability.
    assert_eq!(rows(&t, "children"), ["B&2,,female,WBRI,N"]);
    // The ICPC given on both the S47 and the episode is one conference; it started the
    // plan that starts the same day.
    assert_eq!(
        rows(&t, "conferences"),
        [
            "B&2-R2-P1-RCPC1,B&2,review,2023-10-02,,B&2-R2-P1,",
            "B&2-R2-P1-RCPC2,B&2,review,2024-03-28,,B&2-R2-P1,",
            "B&2-R2-S2-ICPC,B&2,initial,2023-07-03,B&2-R2-S2,B&2-R2-P1,plan",
        ]
    );
    assert_eq!(
        rows(&t, "s47_enquiries"),
        ["B&2-R2-S2,B&2,,2023-06-12,,N,,,"]
    );
    assert_eq!(report.ignored["CINdetails/Colour"], 1);
}

#[test]
fn files_that_are_not_a_census_are_refused_with_the_reason() {
    let e = parse("<Root><Child/></Root>", "x.xml").unwrap_err();
    assert!(e.contains("no <Message> element"), "{e}");
    let e = parse("<Message>\n<Children>\n<Child>\n</Children>", "x.xml").unwrap_err();
    assert!(e.starts_with("line 4: not well-formed XML"), "{e}");
}

#[test]
fn measures_the_census_cannot_support_are_not_available_never_zero() {
    use csc_audit::calendar::Calendar;
    use csc_audit::ingest::{load, LoadOptions};
    use csc_audit::metrics::{evaluate, EvalOptions, Library};
    use csc_audit::periods::{Grain, Period};
    let dir = tempfile::tempdir().unwrap();
    let (tables, _) = csc_audit::import::cin_census::import(&fixture(
        "cin_census/cin_census_fake_332_children.xml",
    ))
    .unwrap();
    for (name, bytes) in tables.to_csv_files(&csc_audit::import::cin_census::tables()) {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    // As of the census' reference date.
    let as_of = chrono::NaiveDate::from_ymd_opt(2022, 7, 21).unwrap();
    let ex = load(
        dir.path(),
        &LoadOptions {
            as_of: Some(as_of),
            today: crate::today(),
            columns: Default::default(),
        },
    )
    .unwrap();
    let opts = EvalOptions {
        grain: Grain::Year,
        from: Some(Period::parse(Grain::Year, "2020-21").unwrap()),
        to: Some(Period::parse(Grain::Year, "2022-23").unwrap()),
        by: vec![],
        cases: false,
    };
    let ev = evaluate(
        &ex,
        &Library::builtin(),
        &Calendar::england_and_wales(),
        &opts,
    )
    .unwrap();
    // The census has no decision or feedback times: not available, not 0%.
    assert!(ev
        .rows
        .iter()
        .all(|r| r.metric_id != "referral_decision_1wd"));
    assert!(ev.notes.contains(
        &"referral_decision_1wd: not available: referrals.decision_at is empty in every row of \
          referrals.csv"
            .to_string()
    ));
    assert!(ev
        .notes
        .iter()
        .any(|n| n.starts_with("cp_visits_timely: not available: needs visits.csv")));
    // It does say which referrals ended in no further action: in 2021-22 all 54 of them
    // (counted from the XML with Python's ElementTree: CINdetails with a CINreferralDate
    // from 2021-04-01 to 2022-03-31, and ReferralNFA true).
    let r = ev
        .find("referral_nfa", "2021-22", "all", "all", "all")
        .unwrap();
    assert_eq!((r.numerator, r.denominator), (Some(54.0), Some(54.0)));
}

#[test]
fn a_census_file_can_be_given_to_data_directly() {
    let xml = fixture("cin_census/cin_census_fake_332_children.xml");
    let out = assert_cmd::Command::cargo_bin("csc-audit")
        .unwrap()
        .args(["check", "--format", "json", "--data"])
        .arg(&xml)
        .assert()
        .success()
        .stderr(predicates::str::contains(
            "a DfE CIN census XML file (read as `import cin-census` does)",
        ))
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    // As at the census' ReferenceDate, 2022-07-21.
    assert_eq!(report["as_of"], "2022-07-21");
    assert_eq!(report["as_of_source"], "the census ReferenceDate");
    // Counted from the XML with Python's ElementTree: 8 CINdetails with a CINreferralDate
    // after 2022-07-21, and 6 with a DateOfInitialCPC after it.
    let table = |name: &str| {
        report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(table("referrals")["rows_rejected"], 8);
    assert_eq!(table("referrals")["rows_loaded"], 394);
    assert_eq!(table("conferences")["rows_rejected"], 6);
    // Rejections name the census file and the line of the block the row came from: the
    // first is the episode referred on 2025-02-08, whose <CINdetails> is on line 1967.
    let first = report["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["rule"] == "future_date")
        .unwrap();
    assert_eq!(first["file"], "cin_census_fake_332_children.xml");
    assert_eq!(first["line"], 1967);

    // Other files are refused with what csc-audit can read.
    assert_cmd::Command::cargo_bin("csc-audit")
        .unwrap()
        .args(["check", "--data"])
        .arg(fixture("cin_census/README.md"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "is neither a folder of extract CSV files, an Annex A workbook (.xlsx) nor a CIN \
             census (.xml)",
        ));
}

/// Reads a CSV file of a folder into rows keyed by column name.
pub(crate) fn read_csv(
    dir: &std::path::Path,
    table: &str,
) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(dir.join(format!("{table}.csv"))).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// A small CIN census writer for the round trip: each referral is a `CINdetails`; an
/// assessment goes in its referral's episode; an S47 (with its initial conference) and a
/// plan (with its reviews) go in the child's latest episode that began on or before them.
fn census_xml(dir: &std::path::Path) -> String {
    census_xml_at(dir, "2025", "2025-03-31")
}

/// [`census_xml`] with the collection year and reference date of its header.
pub(crate) fn census_xml_at(dir: &std::path::Path, year: &str, reference: &str) -> String {
    use std::collections::HashMap;
    use std::fmt::Write as _;
    let day = |s: &str| s.get(..10).unwrap_or("").to_string();
    let children = read_csv(dir, "children");
    let mut referrals: HashMap<String, Vec<HashMap<String, String>>> = HashMap::new();
    for r in read_csv(dir, "referrals") {
        referrals.entry(r["child_id"].clone()).or_default().push(r);
    }
    for v in referrals.values_mut() {
        v.sort_by(|a, b| a["received_at"].cmp(&b["received_at"]));
    }
    let episode_of = |child: &str, date: &str| -> Option<String> {
        referrals
            .get(child)?
            .iter()
            .rfind(|r| day(&r["received_at"]).as_str() <= date)
            .map(|r| r["referral_id"].clone())
    };
    // referral_id -> XML of the blocks inside its episode.
    let mut inside: HashMap<String, String> = HashMap::new();
    for a in read_csv(dir, "assessments") {
        let mut x = format!(
            "<Assessments><AssessmentActualStartDate>{}</AssessmentActualStartDate>",
            a["start_date"]
        );
        if !a["authorised_date"].is_empty() {
            let _ = write!(
                x,
                "<AssessmentAuthorisationDate>{}</AssessmentAuthorisationDate>",
                a["authorised_date"]
            );
        }
        x.push_str("</Assessments>");
        inside
            .entry(a["referral_id"].clone())
            .or_default()
            .push_str(&x);
    }
    // Conference dates by the S47 (initial) or plan (review) they belong to.
    let mut icpc: HashMap<String, Vec<String>> = HashMap::new();
    let mut reviews: HashMap<String, Vec<String>> = HashMap::new();
    for c in read_csv(dir, "conferences") {
        match c["conference_type"].as_str() {
            "initial" => icpc
                .entry(c["s47_id"].clone())
                .or_default()
                .push(c["date"].clone()),
            _ => reviews
                .entry(c["plan_id"].clone())
                .or_default()
                .push(c["date"].clone()),
        }
    }
    for s in read_csv(dir, "s47_enquiries") {
        let Some(ep) = episode_of(&s["child_id"], &s["start_date"]) else {
            continue;
        };
        let mut x = format!(
            "<Section47><S47ActualStartDate>{}</S47ActualStartDate>",
            s["start_date"]
        );
        for d in icpc.get(&s["s47_id"]).into_iter().flatten() {
            let _ = write!(x, "<DateOfInitialCPC>{d}</DateOfInitialCPC>");
        }
        let flag = match s["icpc_not_required"].as_str() {
            "Y" => "true",
            "N" => "false",
            _ => "",
        };
        if !flag.is_empty() {
            let _ = write!(x, "<ICPCnotRequired>{flag}</ICPCnotRequired>");
        }
        x.push_str("</Section47>");
        inside.entry(ep).or_default().push_str(&x);
    }
    for p in read_csv(dir, "cp_plans") {
        let Some(ep) = episode_of(&p["child_id"], &p["start_date"]) else {
            continue;
        };
        let mut x = format!(
            "<ChildProtectionPlans><CPPstartDate>{}</CPPstartDate>",
            p["start_date"]
        );
        if !p["end_date"].is_empty() {
            let _ = write!(x, "<CPPendDate>{}</CPPendDate>", p["end_date"]);
        }
        x.push_str("<Reviews>");
        for d in reviews.get(&p["plan_id"]).into_iter().flatten() {
            let _ = write!(x, "<CPPreviewDate>{d}</CPPreviewDate>");
        }
        x.push_str("</Reviews></ChildProtectionPlans>");
        inside.entry(ep).or_default().push_str(&x);
    }
    let mut xml = format!(
        "<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>{year}</Year>\
         <ReferenceDate>{reference}</ReferenceDate></CollectionDetails></Header><Children>\n",
    );
    for c in &children {
        let id = &c["child_id"];
        let _ = write!(
            xml,
            "<Child><ChildIdentifiers><LAchildID>{id}</LAchildID><PersonBirthDate>{}</PersonBirthDate></ChildIdentifiers>",
            c["date_of_birth"]
        );
        for r in referrals.get(id).into_iter().flatten() {
            let _ = write!(
                xml,
                "<CINdetails><CINreferralDate>{}</CINreferralDate><ReferralNFA>{}</ReferralNFA>{}</CINdetails>",
                day(&r["received_at"]),
                r["outcome"] == "nfa",
                inside.get(&r["referral_id"]).map_or("", String::as_str)
            );
        }
        xml.push_str("</Child>\n");
    }
    xml.push_str("</Children></Message>\n");
    xml
}

#[test]
fn synth_to_census_and_back_gives_the_same_measures() {
    use csc_audit::ingest::{load, LoadOptions};
    let sample = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("census.xml");
    std::fs::write(&xml, census_xml(&sample)).unwrap();
    let opts = LoadOptions {
        as_of: Some(chrono::NaiveDate::from_ymd_opt(2025, 3, 31).unwrap()),
        today: crate::today(),
        columns: Default::default(),
    };
    let native = load(&sample, &opts).unwrap();
    let (census, kind) = csc_audit::import::load_data(&xml, &opts).unwrap();
    assert_eq!(kind, csc_audit::import::DataKind::CinCensus);
    let (a, b) = (
        crate::quarterly(&native, &[]),
        crate::quarterly(&census, &[]),
    );
    // The measures the census supports: the same numbers from either source.
    crate::assert_same_measures(&a, &b, CENSUS_SUPPORTED);
    // And the ones it cannot support are not available, never 0%.
    for id in [
        "referral_decision_1wd",
        "core_group_10wd",
        "cp_visits_timely",
        "s47_with_strategy",
    ] {
        crate::assert_not_available(&b, id);
    }
}

/// The measures a CIN census supports.
pub(crate) const CENSUS_SUPPORTED: &[&str] = &[
    "referrals",
    "referral_nfa",
    "re_referral_12m",
    "assessment_45wd",
    "assessment_working_days",
    "s47_started",
    "s47_to_icpc",
    "icpc_held",
    "icpc_15wd",
    "icpc_to_plan",
    "cp_plans_started",
    "cp_repeat_plan",
    "cp_plan_number",
    "cp_plans_open",
    "cp_open_2y",
    "cp_open_duration",
    "cp_review_on_time",
];

// ---- Ofsted Annex A -------------------------------------------------------------------

use csc_audit::import::annex_a::{self, import_sheets, Cell, Sheet};

fn row_of(t: &Tables, table: &str, key: &str) -> String {
    t.rows(table)
        .iter()
        .find(|r| r[0] == key)
        .unwrap_or_else(|| panic!("no {table} row {key}"))
        .join(",")
}

#[test]
fn the_liia_workbook_loads_or_explains_every_row_of_lists_1_to_8() {
    let (t, report) = annex_a::import(&fixture("annex_a/annex_a_liia_sample.xlsx")).unwrap();
    // Rows per list, from the samples' README; List 2 (early help) has no native table.
    for (list, read, loaded) in [
        (1, 5, 5),
        (2, 5, 0),
        (3, 6, 6),
        (4, 5, 5),
        (5, 5, 5),
        (6, 5, 5),
        (7, 7, 7),
        (8, 5, 5),
    ] {
        assert_eq!(
            report.blocks[&format!("List {list}")],
            count(read, loaded, read - loaded),
            "List {list}"
        );
    }
    // 38 rows name a child in Lists 1 and 3-8, 37 different children (counted with
    // openpyxl); each child is written once.
    assert_eq!(t.rows("children").len(), 37);
    // Values read off the workbook by hand. List 1, row 2: 'Female' (no letter), 'a) WBRI',
    // born 25/01/2015, contact 16/09/2020 from 'q) 6: Police'.
    assert_eq!(
        row_of(&t, "contacts", "L1-2"),
        "L1-2,9212044,2020-09-16,6: Police,"
    );
    assert_eq!(
        row_of(&t, "children", "9212044"),
        "9212044,2015-01-25,Female,WBRI,"
    );
    // Row 3: 'b) Female', no date of birth.
    assert_eq!(row_of(&t, "children", "11973218"), "11973218,,Female,APKN,");
    // List 3, row 2: source 's) 8: Other', NFA 'No', a worker's name with a non-breaking
    // space.
    assert_eq!(
        row_of(&t, "referrals", "L3-2"),
        "L3-2,6537810,2020-09-16,8: Other,,,,Multi Agency Safeguarding Hub,Dustin Hazlett"
    );
    // List 5: row 2 had an ICPC that made a plan; row 4 an ICPC deemed unnecessary.
    assert_eq!(
        row_of(&t, "s47_enquiries", "L5-4"),
        "L5-4,10273003,,2020-09-16,,Y,,Locality 3 Unit 2,Franciszek Hampton"
    );
    assert_eq!(
        row_of(&t, "conferences", "L5-2-ICPC"),
        "L5-2-ICPC,11641472,initial,2020-10-05,L5-2,,plan"
    );
    // List 7, row 2: plan 23/11/2020 to 16/02/2021, 'Physical abuse', last visit 22/01/2021
    // seen alone 'a) Yes', latest review 16/02/2021.
    assert_eq!(
        row_of(&t, "cp_plans", "L7-2"),
        "L7-2,10721552,2020-11-23,2021-02-16,physical,physical,,Locality 4 Unit 1,Ezra Leigh"
    );
    assert_eq!(
        row_of(&t, "visits", "L7-2-V"),
        "L7-2-V,10721552,2021-01-22,cp,Y,Ezra Leigh"
    );
    assert_eq!(
        row_of(&t, "conferences", "L7-2-RCPC"),
        "L7-2-RCPC,10721552,review,2021-02-16,,L7-2,"
    );
    // List 6, row 2: last seen 21/01/2021; team and worker '#N/A'.
    assert_eq!(
        row_of(&t, "visits", "L6-2-V"),
        "L6-2-V,12598894,2021-01-21,cin,,"
    );
    // Headers say how they were matched.
    let said = |list: &str, header: &str| -> String {
        report
            .issues
            .iter()
            .find(|i| i.table == list && i.column.as_deref() == Some(header))
            .map(|i| i.message.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        said("List 1", "Age"),
        "'Age' read as age (a known variant of 'age of child years')"
    );
    assert_eq!(
        said("List 3", "Date of Referral"),
        "'Date of Referral' read as referral_date (as written)"
    );
    assert_eq!(
        said("List 8", "Placement postcode"),
        "'Placement postcode' is not used: the native tables have no place for it"
    );
    assert!(
        report.issues.iter().all(|i| i.severity < Severity::Error),
        "{:?}",
        report
            .issues
            .iter()
            .filter(|i| i.severity >= Severity::Error)
            .collect::<Vec<_>>()
    );
}

#[test]
fn ofsteds_template_has_the_lists_and_no_rows() {
    let (t, report) = annex_a::import(&fixture("annex_a/annex_a_ofsted_template.xlsx")).unwrap();
    for list in 1..=8 {
        assert_eq!(
            report.blocks[&format!("List {list}")],
            count(0, 0, 0),
            "List {list}"
        );
    }
    assert!(t.rows("children").is_empty());
    // Title on row 1, headers on row 2: every List 1-7 header is known.
    assert!(report
        .issues
        .iter()
        .filter(|i| i.rule == "header_matched")
        .all(|i| i.line == Some(2)));
    assert!(!report
        .issues
        .iter()
        .any(|i| i.rule == "unknown_column" && i.table != "List 8"));
    assert!(report.issues.iter().all(|i| i.severity < Severity::Error));
}

fn s(v: &str) -> Cell {
    Cell::Text(v.into())
}

#[test]
fn a_messy_list_loads_what_it_can_and_says_why_for_the_rest() {
    let sheet = Sheet::dense(
        "List_3 ",
        vec![
            vec![s("List 3: Referrals")],
            vec![
                s("Child Unique ID"),
                s("Gender"),
                s("Ethnicity"),
                s("Date of Birth"),
                s("Age of Child (Years)"),
                s("Date of referral"),
                s("Referral  Source"),
                s("Referral NFA?"),
                s("Allocated Team"),
                s("Allocated Worker"),
                s("Colour"),
            ],
            // An ID typed as 10.0, an Excel date cell (serial 44197 = 1 Jan 2021), a coded
            // source, NFA 'a) Yes', '#N/A' for the worker.
            vec![
                Cell::Number(10.0),
                s("b) Female"),
                s("a) WBRI"),
                Cell::Date(40179.0),
                Cell::Number(11.0),
                Cell::Date(44197.0),
                s("b) 1B: Individual"),
                s("a) Yes"),
                s("North\u{a0}Team"),
                Cell::Error,
                s("blue"),
            ],
            // DD/MM/YYYY text and an ID as text with '.0'.
            vec![
                s("11.0"),
                s("Male"),
                s(""),
                s("05/03/2012"),
                Cell::Empty,
                s("02/01/2021"),
                s("2A: Schools"),
                s("No"),
                Cell::Empty,
                s("#N/A"),
            ],
            // No child ID.
            vec![
                Cell::Empty,
                s("Male"),
                s(""),
                Cell::Empty,
                Cell::Empty,
                s("02/01/2021"),
            ],
            // A referral date that is not a date; a date of birth in US order.
            vec![
                s("12"),
                s("Male"),
                s(""),
                s("12/25/2010"),
                Cell::Empty,
                s("31/02/2021"),
            ],
            // A bad date of birth only: the row loads, the date is left empty.
            vec![
                s("13"),
                s("Male"),
                s(""),
                s("12/25/2010"),
                Cell::Empty,
                s("03/01/2021"),
                Cell::Empty,
                s("maybe"),
            ],
            vec![Cell::Empty, Cell::Empty],
        ],
    );
    let (t, report) = import_sheets(&[sheet], "messy.xlsx");
    assert_eq!(report.blocks["List 3"], count(5, 3, 2));
    assert_eq!(
        rows(&t, "referrals"),
        [
            "L3-3,10,2021-01-01,1B: Individual,,nfa,,North Team,",
            "L3-4,11,2021-01-02,2A: Schools,,,,,",
            "L3-7,13,2021-01-03,,,,,,",
        ]
    );
    assert_eq!(
        rows(&t, "children"),
        [
            "10,2010-01-01,Female,WBRI,",
            "11,2012-03-05,Male,,",
            "13,,Male,,"
        ]
    );
    let problems: Vec<String> = report
        .issues
        .iter()
        .filter(|i| i.severity >= Severity::Warning)
        .map(|i| {
            format!(
                "{}:{} {} {}",
                i.line.unwrap_or(0),
                i.column.clone().unwrap_or_default(),
                i.rule,
                i.message
            )
        })
        .collect();
    assert_eq!(
        problems,
        [
            "5:Child Unique ID missing_required no Child Unique ID: the row is not loaded",
            "6:Date of referral bad_date '31/02/2021' is not a date: no such day; expected YYYY-MM-DD or DD/MM/YYYY (UK order): the row is not loaded",
            "7:Referral NFA? bad_flag 'maybe' is not a flag: expected Y/N, yes/no, true/false or 1/0: left empty",
            "7:Date of Birth bad_date '12/25/2010' looks like a US date (month/day/year); dates must be DD/MM/YYYY (UK order) or YYYY-MM-DD: left empty",
        ]
    );
    assert_eq!(report.ignored["List 3/Colour"], 1);
    // 'Referral  Source' (two spaces) and 'Age of Child (Years)' are matched as written.
    assert!(report
        .issues
        .iter()
        .any(|i| i.message == "'Referral  Source' read as referral_source (as written)"));
    // Lists that are not there are named.
    assert!(report
        .issues
        .iter()
        .any(|i| i.rule == "missing_list" && i.message == "no List 7 sheet in the workbook"));
}

#[test]
fn a_workbook_can_be_given_to_data_directly() {
    assert_cmd::Command::cargo_bin("csc-audit")
        .unwrap()
        .args(["check", "--data"])
        .arg(fixture("annex_a/annex_a_liia_sample.xlsx"))
        .assert()
        .success()
        .stderr(predicates::str::contains(
            "an Ofsted Annex A workbook (read as `import annex-a` does)",
        ))
        .stdout(predicates::str::contains(
            "Annex A has no supervisions: measures that need it are not available",
        ));
}

#[test]
fn the_lists_can_come_as_a_folder_of_csv_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("List 3.csv"),
        "Child Unique ID,Gender,Ethnicity,Date of Birth,Age,Date of Referral,Referral Source,Referral NFA?,Allocated Team,Allocated Worker\r\n\
         101,b) Female,a) WBRI,05/03/2012,8,16/09/2020,q) 6: Police,b) No,North,W1\r\n\
         102,a) Male,,,,17/09/2020,2A: Schools,a) Yes,#N/A,#N/A\r\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.csv"), "anything\r\n").unwrap();
    let (t, report) = annex_a::import(dir.path()).unwrap();
    assert_eq!(report.blocks["List 3"], count(2, 2, 0));
    assert_eq!(
        rows(&t, "referrals"),
        [
            "L3-2,101,2020-09-16,6: Police,,,,North,W1",
            "L3-3,102,2020-09-17,2A: Schools,,nfa,,,",
        ]
    );
    assert_eq!(report.ignored["sheet 'notes'"], 1);
    let empty = tempfile::tempdir().unwrap();
    let e = annex_a::import(empty.path()).unwrap_err().to_string();
    assert!(e.contains("no CSV file named after a list"), "{e}");
}

#[test]
fn headers_worded_another_way_are_matched_by_their_words_and_said_so() {
    let sheet = Sheet::dense(
        "List 1",
        vec![
            vec![
                s("Child ID"),
                s("Contact Date (DD/MM/YYYY)"),
                s("Source of the contact"),
                s("Notes"),
            ],
            vec![s("7"), s("01/02/2021"), s("6: Police"), s("x")],
        ],
    );
    let (t, report) = import_sheets(&[sheet], "other.xlsx");
    assert_eq!(rows(&t, "contacts"), ["L1-2,7,2021-02-01,6: Police,"]);
    let said: Vec<&str> = report
        .issues
        .iter()
        .filter(|i| i.table == "List 1" && i.line == Some(1))
        .map(|i| i.message.as_str())
        .collect();
    assert_eq!(
        said,
        [
            "'Child ID' read as child_id (a known variant of 'child unique id')",
            "'Contact Date (DD/MM/YYYY)' read as contact_date (by its words 'date contact': check it is the right column)",
            "'Source of the contact' read as contact_source (by its words 'contact source': check it is the right column)",
            "'Notes' is not used: the native tables have no place for it",
        ]
    );
}

#[test]
fn a_census_with_sex_instead_of_gender_current_keeps_it() {
    let xml = "<Message><Children><Child><ChildIdentifiers><LAchildID>Z1</LAchildID>\
               <Sex>F</Sex></ChildIdentifiers></Child></Children></Message>";
    let (t, _) = parse(xml, "x.xml").unwrap();
    assert_eq!(rows(&t, "children"), ["Z1,,F,,"]);
}
