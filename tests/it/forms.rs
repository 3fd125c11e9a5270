//! The audit tool sent out with the sample (issue #16, first part): `sample` writes one form
//! per auditor into `forms/`, with the facts locked and a drop-down list for every closed
//! question, recorded in the manifest and checked by `sample verify`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use calamine::{open_workbook, Data, Reader, Xlsx};

fn csc() -> Command {
    Command::cargo_bin("csc-audit").unwrap()
}

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn draw(out: &Path) {
    csc()
        .args(["sample", "--plan"])
        .arg(repo("audits/monthly.toml"))
        .arg("--data")
        .arg(repo("sample_data"))
        .args(["--period", "2025-03", "--seed", "20250401", "--out"])
        .arg(out)
        .assert()
        .success()
        .stderr(predicates::str::contains(
            "one workbook (and CSV) for each of 4 auditors, 5 questions, due Mon 14 Apr 2025",
        ));
}

fn csv_rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    (h, rows)
}

fn text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => format!("{other}"),
    }
}

fn xml(path: &Path, entry: &str) -> String {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut s = String::new();
    std::io::Read::read_to_string(&mut zip.by_name(entry).unwrap(), &mut s).unwrap();
    s
}

#[test]
fn each_auditor_gets_a_form_of_their_cases_with_drop_downs_and_locked_facts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("2025-03");
    draw(&out);
    // The sample's cases by auditor.
    let (h, sample) = csv_rows(&out.join("sample.csv"));
    let col = |name: &str| h.iter().position(|x| x == name).unwrap();
    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &sample {
        by.entry(r[col("auditor")].clone())
            .or_default()
            .push(r[col("case_id")].clone());
    }
    let files: Vec<String> = {
        let mut f: Vec<String> = std::fs::read_dir(out.join("forms"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        f.sort();
        f
    };
    assert_eq!(
        files,
        [
            "advanced-practitioner-a.csv",
            "advanced-practitioner-a.xlsx",
            "advanced-practitioner-b.csv",
            "advanced-practitioner-b.xlsx",
            "advanced-practitioner-c.csv",
            "advanced-practitioner-c.xlsx",
            "moderation-principal-social-worker.csv",
            "moderation-principal-social-worker.xlsx",
            "moderation-qa-manager.csv",
            "moderation-qa-manager.xlsx",
            "qa-manager.csv",
            "qa-manager.xlsx",
        ]
    );
    let heads = [
        "case_id",
        "child_id",
        "team",
        "worker",
        "stratum",
        "start_date",
        "end_date",
        "breached",
        "child_seen_alone",
        "plan_is_smart",
        "voice",
        "grade",
        "learning",
    ];
    for (auditor, file) in [
        ("Advanced Practitioner A", "advanced-practitioner-a"),
        ("QA Manager", "qa-manager"),
    ] {
        let (fh, rows) = csv_rows(&out.join(format!("forms/{file}.csv")));
        assert_eq!(fh, heads);
        let mut ids: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
        let mut want = by[auditor].clone();
        ids.sort();
        want.sort();
        assert_eq!(ids, want, "{auditor}'s cases");
        assert!(rows.iter().all(|r| r[8..].iter().all(String::is_empty)));
        // The workbook holds the same facts.
        let path = out.join(format!("forms/{file}.xlsx"));
        let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
        assert_eq!(wb.sheet_names(), ["cases", "questions", "instructions"]);
        let cases = wb.worksheet_range("cases").unwrap();
        let got: Vec<Vec<String>> = cases.rows().map(|r| r.iter().map(text).collect()).collect();
        assert_eq!(got[0], heads);
        let csv_facts: Vec<Vec<String>> = rows.iter().map(|r| r[..8].to_vec()).collect();
        let xlsx_facts: Vec<Vec<String>> = got[1..].iter().map(|r| r[..8].to_vec()).collect();
        assert_eq!(xlsx_facts, csv_facts);
        // Drop-downs on the closed questions' columns (I to L), none on free text (M).
        let sheet = xml(&path, "xl/worksheets/sheet1.xml");
        let last = rows.len() + 1;
        for (c, list) in [
            ("I", "yes,no"),
            ("J", "yes,no"),
            ("K", "not at all,partly,well,very well"),
            ("L", "outstanding,good,requires_improvement,inadequate"),
        ] {
            let at = sheet
                .find(&format!(r#"sqref="{c}2:{c}{last}""#))
                .unwrap_or_else(|| panic!("{file}: no list on {c}"));
            let before = &sheet[..at];
            let tag = &before[before.rfind("<dataValidation ").unwrap()..];
            assert!(tag.contains(r#"type="list""#), "{tag}");
            let after = &sheet[at..];
            assert!(
                after.contains(&format!("<formula1>\"{list}\"</formula1>")),
                "{c}"
            );
        }
        assert!(!sheet.contains(&format!(r#"sqref="M2:M{last}""#)));
        // The sheet is protected; the answer cells (and only they) are unlocked.
        assert!(sheet.contains("<sheetProtection"));
        let styles = xml(&path, "xl/styles.xml");
        assert_eq!(styles.matches(r#"<protection locked="0"/>"#).count(), 1);
        let style_of = |cell: &str| {
            let at = sheet.find(&format!(r#"<c r="{cell}""#)).unwrap();
            sheet[at..at + 40]
                .split("s=\"")
                .nth(1)
                .map(|s| s.split('"').next().unwrap().to_string())
        };
        assert_ne!(style_of("I2"), style_of("A2"));
        assert_eq!(style_of("I2"), style_of("M2"));
        // The questions and the instructions.
        let q = wb.worksheet_range("questions").unwrap();
        let qrows: Vec<Vec<String>> = q.rows().map(|r| r.iter().map(text).collect()).collect();
        assert_eq!(
            qrows[0],
            ["id", "text", "kind", "allowed answers", "required", "help"]
        );
        assert_eq!(
            qrows[3][..5],
            [
                "voice".to_string(),
                "How well is the child's voice heard in the plan and the record?".into(),
                "scale".into(),
                "not at all / partly / well / very well".into(),
                "yes".into()
            ]
        );
        assert_eq!(
            qrows[5][2..5],
            ["text".to_string(), "free text".into(), "no".into()]
        );
        let i = wb.worksheet_range("instructions").unwrap();
        let irows: BTreeMap<String, String> =
            i.rows().map(|r| (text(&r[0]), text(&r[1]))).collect();
        assert_eq!(irows["auditor"], auditor);
        assert_eq!(irows["cases"], rows.len().to_string());
        // 10 working days after Monday 31 March 2025: 1-4 April (4), 7-11 (9), 14 (10).
        assert_eq!(irows["due"], "Monday 14 April 2025");
    }
    // The manifest records every form, and verify checks them byte for byte.
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let outputs: Vec<&str> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(
        outputs.contains(&"forms/qa-manager.xlsx") && outputs.contains(&"forms/qa-manager.csv")
    );
    let verify = || csc().args(["sample", "verify"]).arg(&out).assert();
    verify().success();
    let form = out.join("forms/qa-manager.csv");
    let edited = std::fs::read_to_string(&form)
        .unwrap()
        .replace(",,,,,\n", ",yes,,,,\n");
    std::fs::write(&form, edited).unwrap();
    verify().code(1).stdout(predicates::str::contains(
        "forms/qa-manager.csv is not the file the draw wrote",
    ));
}

#[test]
fn question_mistakes_name_the_field_and_what_to_write() {
    use csc_audit::sampling::SamplePlan;
    let plan = |extra: &str| {
        format!(
            "id = \"p\"\nsize = 10\n{extra}\n[population]\ntable = \"cp_plans\"\nrows = \"open\"\n"
        )
    };
    let q = |body: &str| format!("[[questions]]\n{body}\n");
    for (text, want) in [
        (
            plan(&q("id = \"Voice\"\ntext = \"t\"\nkind = \"yes_no\"")),
            "`Voice` is not a plain id",
        ),
        (
            plan(&q("id = \"team\"\ntext = \"t\"\nkind = \"yes_no\"")),
            "names a fact of the form",
        ),
        (
            plan(
                &(q("id = \"a\"\ntext = \"t\"\nkind = \"yes_no\"")
                    + &q("id = \"a\"\ntext = \"u\"\nkind = \"grade\"")),
            ),
            "`a` is used twice",
        ),
        (
            plan(&q("id = \"a\"\ntext = \"t\"\nkind = \"stars\"")),
            "`stars` is not a kind of question",
        ),
        (
            plan(&q("id = \"a\"\ntext = \"t\"\nkind = \"scale\"")),
            "a scale lists its labels",
        ),
        (
            plan(&q(
                "id = \"a\"\ntext = \"t\"\nkind = \"yes_no\"\nlabels = [\"y\", \"n\"]",
            )),
            "only a `scale` has labels",
        ),
        (
            plan(&q(
                "id = \"a\"\ntext = \"t\"\nkind = \"scale\"\nlabels = [\"low, very\", \"high\"]",
            )),
            "none empty or holding a comma",
        ),
        (
            plan(&q("id = \"a\"\ntext = \" \"\nkind = \"text\"")),
            "needs its question's text",
        ),
        (
            plan("due_working_days = 400"),
            "forms are due 1 to 260 working days",
        ),
        (
            plan("due_working_days = 0"),
            "forms are due 1 to 260 working days",
        ),
        (
            plan(&q("id = \"team_\"\ntext = \"t\"\nkind = \"yes_no\"")),
            "no `_` at either end",
        ),
        (
            plan(&q("id = \"grade\"\ntext = \"t\"\nkind = \"yes_no\"")),
            "`grade` only for a grade question",
        ),
        (
            plan(&q("id = \"start_date\"\ntext = \"t\"\nkind = \"yes_no\"")),
            "names a fact of the form",
        ),
        (
            plan(&q("id = \"order\"\ntext = \"t\"\nkind = \"yes_no\"")),
            "names a fact of the form",
        ),
        (
            plan(&q(
                "id = \"a\"\ntext = \"t\"\nkind = \"scale\"\nlabels = [\"Well\", \"well\"]",
            )),
            "each once (ignoring case)",
        ),
        (
            plan(&q("id = \"a\"\ntext = \"ring\\u0007\"\nkind = \"text\"")),
            "no control characters",
        ),
    ] {
        let e = SamplePlan::parse(&text, "test.toml", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{e}\n{text}");
        assert!(e.starts_with("test.toml:"), "{e}");
    }
}

#[test]
fn a_plan_without_questions_sends_no_forms() {
    let dir = tempfile::tempdir().unwrap();
    let plan_text = std::fs::read_to_string(repo("audits/monthly.toml")).unwrap();
    let cut = plan_text.find("# The audit tool").unwrap();
    let plan = dir.path().join("plan.toml");
    std::fs::write(&plan, &plan_text[..cut]).unwrap();
    std::fs::write(
        dir.path().join("history.csv"),
        std::fs::read(repo("audits/history.csv")).unwrap(),
    )
    .unwrap();
    let out = dir.path().join("s");
    csc()
        .args(["sample", "--plan"])
        .arg(&plan)
        .arg("--data")
        .arg(repo("sample_data"))
        .args(["--period", "2025-03", "--seed", "1", "--out"])
        .arg(&out)
        .assert()
        .success()
        .stderr(predicates::prelude::PredicateBooleanExt::not(
            predicates::str::contains("audit forms"),
        ));
    assert!(!out.join("forms").exists());
}

#[test]
fn a_mistake_in_a_question_names_its_own_line() {
    use csc_audit::sampling::SamplePlan;
    let text = "id = \"p\"\nsize = 10\n\n[population]\ntable = \"cp_plans\"\nrows = \"open\"\n\n\
        [[questions]]\nid = \"a\"\ntext = \"t\"\nkind = \"yes_no\"\n\n\
        [[questions]]\nid = \"b\"\ntext = \"t\"\nkind = \"yes_no\"\n\n\
        [[questions]]\nid = \"B c\"\ntext = \"t\"\nkind = \"stars\"\n";
    let e = SamplePlan::parse(text, "p.toml", Path::new(".")).unwrap_err();
    // The third question's id is on line 19.
    assert_eq!((e.line, e.field.as_str()), (19, "questions.id"), "{e}");
}

#[test]
fn auditors_whose_forms_would_share_a_file_are_refused() {
    use csc_audit::sampling::SamplePlan;
    let plan = |names: &[&str]| {
        let mut t =
            "id = \"p\"\nsize = 10\n\n[population]\ntable = \"cp_plans\"\nrows = \"open\"\n"
                .to_string();
        for n in names {
            t.push_str(&format!("\n[[auditors]]\nname = \"{n}\"\n"));
        }
        SamplePlan::parse(&t, "p.toml", Path::new("."))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    assert!(plan(&["Émile Roy", "Sam Lee"]).is_ok());
    let e = plan(&["Émile Roy", "émile roy"]).unwrap_err();
    assert!(e.contains("would share the form émile-roy.xlsx"), "{e}");
    assert!(plan(&["Sam Lee", "Sam-Lee"])
        .unwrap_err()
        .contains("sam-lee.xlsx"));
    assert!(plan(&["Unassigned"])
        .unwrap_err()
        .contains("cases with no auditor"));
    assert!(plan(&["CON"])
        .unwrap_err()
        .contains("Windows keeps for a device"));
}

#[test]
fn extending_a_sample_rewrites_its_forms_and_keeps_the_users_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("2025-03");
    draw(&out);
    let mine = out.join("forms/returned/ann.csv");
    std::fs::create_dir_all(mine.parent().unwrap()).unwrap();
    std::fs::write(&mine, "case_id\nP1\n").unwrap();
    std::fs::write(out.join("forms/notes.txt"), "chased Ann on Tuesday").unwrap();
    let before = csv_rows(&out.join("forms/qa-manager.csv")).1.len();
    csc()
        .args(["sample", "extend"])
        .arg(&out)
        .args(["--add", "8"])
        .assert()
        .success();
    let after: usize = std::fs::read_dir(out.join("forms"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .filter(|p| {
            !p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("moderation-")
        })
        .map(|p| csv_rows(&p).1.len())
        .sum();
    // 45 cases drawn, 8 more: the auditors' forms hold all 53.
    assert_eq!(after, 53);
    assert!(csv_rows(&out.join("forms/qa-manager.csv")).1.len() >= before);
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "case_id\nP1\n");
    assert!(out.join("forms/notes.txt").is_file());
    csc()
        .args(["sample", "verify"])
        .arg(&out)
        .assert()
        .success();
}

#[test]
fn moderation_is_drawn_from_its_own_stream_spread_and_never_by_the_first_auditor() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("2025-03");
    draw(&out);
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let cases = m["moderation"]["cases"].as_array().unwrap();
    // One in ten of the 45 drawn, rounded up.
    assert_eq!(cases.len(), 5);
    let (h, sample) = csv_rows(&out.join("sample.csv"));
    let col = |name: &str| h.iter().position(|x| x == name).unwrap();
    let mut per_auditor: BTreeMap<String, usize> = BTreeMap::new();
    for c in cases {
        let id = c["case_id"].as_str().unwrap();
        let row = sample.iter().find(|r| r[col("case_id")] == id).unwrap();
        let (auditor, moderator) = (
            c["auditor"].as_str().unwrap(),
            c["moderator"].as_str().unwrap(),
        );
        assert_eq!(row[col("auditor")], auditor);
        assert_ne!(auditor, moderator, "{id}");
        *per_auditor.entry(auditor.to_string()).or_default() += 1;
        // On the moderator's form, with the same facts as the auditor's.
        let form = out.join(format!(
            "forms/moderation-{}.csv",
            moderator.to_lowercase().replace(' ', "-")
        ));
        assert!(
            csv_rows(&form).1.iter().any(|r| r[0] == id),
            "{id} on {form:?}"
        );
    }
    // Spread: 5 cases over 4 auditors, none with more than 2, and every auditor has one.
    assert_eq!(per_auditor.len(), 4, "{per_auditor:?}");
    assert!(per_auditor.values().all(|&n| n <= 2));
    // The same seed gives the same moderation; the manifest records it, verify checks it.
    let again = dir.path().join("again");
    draw(&again);
    let m2: serde_json::Value =
        serde_json::from_slice(&std::fs::read(again.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["moderation"], m2["moderation"]);
    let text = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    let first = cases[0]["moderator"].as_str().unwrap();
    let other = if first == "QA Manager" {
        "Principal Social Worker"
    } else {
        "QA Manager"
    };
    let tampered = text.replacen(
        &format!("\"moderator\": \"{first}\""),
        &format!("\"moderator\": \"{other}\""),
        1,
    );
    assert_ne!(tampered, text);
    std::fs::write(out.join("manifest.json"), tampered).unwrap();
    csc().args(["sample", "verify"]).arg(&out).assert().code(1);
}

/// A plan with 12 cases moderated, drawn into `dir/s`.
fn draw_moderated(dir: &Path) -> PathBuf {
    let plan = std::fs::read_to_string(repo("audits/monthly.toml"))
        .unwrap()
        .replace("share = 0.1", "count = 12");
    std::fs::write(dir.join("plan.toml"), plan).unwrap();
    std::fs::copy(repo("audits/history.csv"), dir.join("history.csv")).unwrap();
    let out = dir.join("s");
    csc()
        .args(["sample", "--plan"])
        .arg(dir.join("plan.toml"))
        .arg("--data")
        .arg(repo("sample_data"))
        .args(["--period", "2025-03", "--seed", "20250401", "--out"])
        .arg(&out)
        .assert()
        .success();
    out
}

/// The first auditors' and the moderators' answers to plan_is_smart and grade for the 12
/// moderated cases, in the order drawn. plan_is_smart: first (rows) against moderator
/// (columns), yes/no: [[6, 1], [2, 3]]; grades: [[1, 1, 0, 0], [1, 4, 1, 0], [0, 0, 2, 1],
/// [0, 0, 1, 0]] (outstanding, good, requires_improvement, inadequate).
const FIRST_SMART: [&str; 12] = [
    "yes", "yes", "yes", "yes", "yes", "yes", "no", "no", "no", "no", "yes", "no",
];
const MOD_SMART: [&str; 12] = [
    "yes", "yes", "yes", "yes", "yes", "no", "no", "no", "no", "yes", "yes", "yes",
];
const FIRST_GRADE: [&str; 12] = [
    "good",
    "good",
    "outstanding",
    "requires_improvement",
    "good",
    "inadequate",
    "good",
    "requires_improvement",
    "good",
    "good",
    "outstanding",
    "requires_improvement",
];
const MOD_GRADE: [&str; 12] = [
    "good",
    "requires_improvement",
    "outstanding",
    "requires_improvement",
    "good",
    "requires_improvement",
    "good",
    "inadequate",
    "outstanding",
    "good",
    "good",
    "requires_improvement",
];

/// Fills every form as its holder would: moderated cases as above, the others yes / good;
/// Advanced Practitioner B leaves two cases blank (late). Auditors A and the QA Manager
/// save workbooks (answers typed in another case), the rest CSV.
fn fill(sample: &Path, back: &Path) {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sample.join("manifest.json")).unwrap()).unwrap();
    let moderated: Vec<String> = m["moderation"]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["case_id"].as_str().unwrap().to_string())
        .collect();
    std::fs::create_dir_all(back).unwrap();
    for e in std::fs::read_dir(sample.join("forms")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "csv") {
            continue;
        }
        let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
        let is_mod = stem.starts_with("moderation-");
        let (h, rows) = csv_rows(&p);
        let mut blank = if stem == "advanced-practitioner-b" {
            2
        } else {
            0
        };
        let filled: Vec<Vec<String>> = rows
            .into_iter()
            .map(|mut r| {
                let i = moderated.iter().position(|c| *c == r[0]);
                let (smart, grade) = match (i, is_mod) {
                    (Some(i), false) => (FIRST_SMART[i], FIRST_GRADE[i]),
                    (Some(i), true) => (MOD_SMART[i], MOD_GRADE[i]),
                    (None, _) => ("yes", "good"),
                };
                if i.is_none() && blank > 0 {
                    blank -= 1;
                    return r;
                }
                // C types the short forms `audit-results --results` also reads.
                r[8] = if stem == "advanced-practitioner-c" {
                    "Y"
                } else {
                    "yes"
                }
                .into();
                r[9] = smart.into();
                r[10] = "well".into();
                r[11] = grade.into();
                r
            })
            .collect();
        if stem == "advanced-practitioner-a" || stem == "qa-manager" {
            let mut wb = rust_xlsxwriter::Workbook::new();
            let sheet = wb.add_worksheet().set_name("cases").unwrap();
            for (c, v) in h.iter().enumerate() {
                sheet.write_string(0, c as u16, v).unwrap();
            }
            for (ri, r) in filled.iter().enumerate() {
                for (c, v) in r.iter().enumerate() {
                    // Typed as people type: "Yes", "Good".
                    let v = if c >= 8 { capitalise(v) } else { v.clone() };
                    if !v.is_empty() {
                        sheet.write_string(ri as u32 + 1, c as u16, &v).unwrap();
                    }
                }
            }
            wb.save(back.join(format!("{stem}.xlsx"))).unwrap();
        } else {
            let mut w = csv::Writer::from_path(back.join(format!("{stem}.csv"))).unwrap();
            w.write_record(&h).unwrap();
            for r in &filled {
                w.write_record(r).unwrap();
            }
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or(String::new(), |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}

#[test]
fn returned_forms_give_the_chasing_list_the_agreement_and_moderated_estimates() {
    let dir = tempfile::tempdir().unwrap();
    let sample = draw_moderated(dir.path());
    let back = dir.path().join("returned");
    fill(&sample, &back);
    let out = dir.path().join("results");
    let run = |extra: &[&str]| {
        csc()
            .args(["audit-results", "--sample"])
            .arg(&sample)
            .arg("--forms")
            .arg(&back)
            .args(["--as-of", "2025-04-16", "--out"])
            .arg(&out)
            .args(extra)
            .assert()
    };
    // Nothing back yet: nothing to estimate, said plainly.
    let empty = dir.path().join("nothing");
    std::fs::create_dir_all(&empty).unwrap();
    csc()
        .args(["audit-results", "--sample"])
        .arg(&sample)
        .arg("--forms")
        .arg(&empty)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "no answers in the forms returned",
        ));
    // A form returned twice (a blank copy beside the filled one): neither is read.
    std::fs::copy(
        sample.join("forms/advanced-practitioner-a.csv"),
        back.join("Advanced-Practitioner-A.csv"),
    )
    .unwrap();
    let err = run(&[]).code(2).get_output().stderr.clone();
    let err = String::from_utf8_lossy(&err);
    assert!(
        err.contains("the form `advanced-practitioner-a` is returned twice"),
        "{err}"
    );
    std::fs::remove_file(back.join("Advanced-Practitioner-A.csv")).unwrap();
    // A stray file and a value not on the list stop everything, each named.
    std::fs::write(back.join("notes.csv"), "case_id\n").unwrap();
    let c_form = back.join("advanced-practitioner-c.csv");
    let good = std::fs::read_to_string(&c_form).unwrap();
    let bad = good.replacen(",Y,yes,well,", ",Y,maybe,well,", 1);
    assert_ne!(bad, good);
    std::fs::write(&c_form, &bad).unwrap();
    let err = run(&[]).code(2).get_output().stderr.clone();
    let err = String::from_utf8_lossy(&err);
    assert!(
        err.contains("notes.csv: not a form of this sample"),
        "{err}"
    );
    assert!(
        err.contains("advanced-practitioner-c.csv, cell J")
            && err.contains("`maybe` is not an answer to `plan_is_smart`; allowed: yes, no"),
        "{err}"
    );
    assert!(!out.join("estimates.csv").exists());
    // --skip-invalid leaves C's form out and says so: its cases are outstanding.
    let said = run(&["--skip-invalid"])
        .success()
        .get_output()
        .stdout
        .clone();
    let said = String::from_utf8_lossy(&said);
    assert!(
        said.contains("skipped:") && said.contains("notes.csv"),
        "{said}"
    );
    let outstanding = std::fs::read_to_string(out.join("outstanding.csv")).unwrap();
    assert!(outstanding.contains(",audit,Advanced Practitioner C,2025-04-14,2"));
    // Mended: every form back but two of B's cases.
    std::fs::write(&c_form, &good).unwrap();
    std::fs::remove_file(back.join("notes.csv")).unwrap();
    let said = run(&[]).success().get_output().stdout.clone();
    let said = String::from_utf8_lossy(&said);
    assert!(
        said.contains("43 of 45 cases returned, 2 outstanding (due 2025-04-14); 12 of 12 moderated cases back, 48 answers moderated, 8 changed by the moderator"),
        "{said}"
    );
    // The chasing list: due Monday 14 April 2025; on Wednesday 16 April, 2 working days late.
    let (h, rows) = csv_rows(&out.join("outstanding.csv"));
    assert_eq!(
        h,
        ["case_id", "role", "auditor", "due", "working_days_overdue"]
    );
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .all(|r| r[1..] == ["audit", "Advanced Practitioner B", "2025-04-14", "2"]));
    // Agreement, against statsmodels 0.15.0 `cohens_kappa` on the tables above
    // (plan_is_smart unweighted: kappa 0.47058823529411764, interval -0.035196526127146965
    // to 0.9763729967153822; grade, wt="linear": 0.5384615384615384, 0.27333934199607324 to
    // 0.8035837349270036). Everyone said yes and "well" to the others: agreement 1, kappa
    // not defined.
    let agreement = std::fs::read_to_string(out.join("agreement.csv")).unwrap();
    assert_eq!(
        agreement.lines().collect::<Vec<_>>(),
        [
            "question,cases,agreement,kappa,kappa_low,kappa_high",
            "child_seen_alone,12,1,,,",
            "plan_is_smart,12,0.75,0.470588,-0.035197,0.976373",
            "voice,12,1,,,",
            "grade,12,0.583333,0.538462,0.273339,0.803584",
        ]
    );
    // Each disagreement for the moderation meeting: 3 on plan_is_smart, 5 on the grade.
    let (dh, drows) = csv_rows(&out.join("disagreements.csv"));
    assert_eq!(
        dh,
        [
            "case_id",
            "question",
            "auditor",
            "auditor_answer",
            "moderator",
            "moderator_answer"
        ]
    );
    let per: Vec<(&str, &str, &str)> = drows
        .iter()
        .map(|r| (r[1].as_str(), r[3].as_str(), r[5].as_str()))
        .collect();
    assert_eq!(
        per,
        [
            ("plan_is_smart", "yes", "no"),
            ("plan_is_smart", "no", "yes"),
            ("plan_is_smart", "no", "yes"),
            ("grade", "good", "requires_improvement"),
            ("grade", "inadequate", "requires_improvement"),
            ("grade", "requires_improvement", "inadequate"),
            ("grade", "good", "outstanding"),
            ("grade", "outstanding", "good"),
        ]
    );
    // The estimates use the moderator's answers: plan_is_smart yes for the 31 other cases
    // returned and 8 of the 12 moderated.
    let (eh, erows) = csv_rows(&out.join("estimates.csv"));
    let col = |n: &str| eh.iter().position(|h| h == n).unwrap();
    let smart = erows
        .iter()
        .find(|r| {
            r[col("measure")] == "plan_is_smart"
                && r[col("answer")] == "yes"
                && r[col("scope")] == "all"
        })
        .unwrap();
    assert_eq!(
        (
            smart[col("answered")].as_str(),
            smart[col("count")].as_str()
        ),
        ("43", "39")
    );
    assert!(
        said.contains("not estimated (scales and text): voice, learning"),
        "{said}"
    );
    findings_in_the_pack(dir.path(), &sample, &back);
}

/// The rows of a table of the report's audit findings, after its heading.
fn findings_table(report: &str, heading: &str) -> Vec<Vec<String>> {
    let at = report
        .find("<section id=\"findings\"")
        .expect("a findings section");
    let section = &report[at..at + report[at..].find("</section>").unwrap()];
    let Some(t) = section.find(&format!("<h3>{heading}</h3>")) else {
        return Vec::new();
    };
    crate::html_rows(&section[t..t + section[t..].find("</table>").unwrap()])
}

fn findings_in_the_pack(dir: &Path, sample: &Path, back: &Path) {
    let pack = |profile: &str| {
        let out = dir.join(format!("pack-{profile}"));
        csc()
            .args(["pack", "--data"])
            .arg(repo("sample_data"))
            .args(["--plan"])
            .arg(dir.join("plan.toml"))
            .args(["--profile", profile, "--audit-sample"])
            .arg(sample)
            .arg("--audit-forms")
            .arg(back)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        std::fs::read_to_string(out.join("report.html")).unwrap()
    };
    let internal = pack("internal");
    let returns = findings_table(&internal, "Forms returned");
    let b = returns
        .iter()
        .find(|r| r[0] == "Advanced Practitioner B" && r[1] == "audit")
        .unwrap();
    let cases: u64 = b[2].parse().unwrap();
    assert_eq!(b[4], "2");
    assert_eq!(b[3], (cases - 2).to_string());
    let est = findings_table(&internal, "Estimates");
    let smart = est
        .iter()
        .find(|r| r[0] == "plan_is_smart" && r[1] == "yes")
        .unwrap();
    assert_eq!(smart[2], "43");
    let agree = findings_table(&internal, "Agreement between auditors and moderators");
    let smart = agree.iter().find(|r| r[0] == "plan_is_smart").unwrap();
    assert_eq!(smart[1..], ["12", "75%", "0.47", "-0.04 to 0.98"]);
    let seen = agree.iter().find(|r| r[0] == "child_seen_alone").unwrap();
    assert_eq!(seen[1..], ["12", "100%", "not defined", "not defined"]);
    // Published: no list of auditors; 3 disagreements on plan_is_smart and 5 on the grade
    // are small counts, so their agreement and kappa are suppressed.
    let published = pack("published");
    assert!(findings_table(&published, "Forms returned").is_empty());
    assert!(!published.contains("Advanced Practitioner"));
    let agree = findings_table(&published, "Agreement between auditors and moderators");
    let smart = agree.iter().find(|r| r[0] == "plan_is_smart").unwrap();
    assert_eq!(smart[1..], ["12", "c", "c", "c"]);
    let seen = agree.iter().find(|r| r[0] == "child_seen_alone").unwrap();
    assert_eq!(seen[1..], ["12", "100%", "not defined", "not defined"]);
}

/// Generated returns: whatever a form holds (any header order, any cells, any case ids,
/// quotes, commas, line breaks, other scripts), reading it never panics, every answer read
/// is on a case that form was sent and is an answer its question allows, and a form with a
/// value not allowed is never used silently.
mod generated {
    use super::*;
    use csc_audit::sampling::returns::read_returns;
    use csc_audit::sampling::{draw, DrawInputs, Sample, SamplePlan};
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn sample() -> &'static Sample {
        static S: OnceLock<Sample> = OnceLock::new();
        S.get_or_init(|| {
            let plan = SamplePlan::load(&repo("audits/monthly.toml")).unwrap();
            let ex = crate::load_dir(&repo("sample_data"));
            let lib = csc_audit::metrics::Library::builtin();
            let cal = csc_audit::calendar::Calendar::england_and_wales();
            let period =
                csc_audit::periods::Period::parse(plan.population.period, "2025-03").unwrap();
            draw(
                &plan,
                &DrawInputs {
                    extracts: &ex,
                    library: &lib,
                    calendar: &cal,
                    period,
                    seed: 20250401,
                    extensions: &[],
                },
            )
            .unwrap()
        })
    }

    fn cell() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("yes".to_string()),
            Just("No".to_string()),
            Just("good".to_string()),
            Just("RI".to_string()),
            Just("well".to_string()),
            Just("n/a".to_string()),
            "[a-zA-Z0-9 ,\"\n\u{e9}\u{4e2d}]{0,12}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: crate::hostile::cases(48), ..ProptestConfig::default() })]

        #[test]
        fn any_returned_form_is_read_or_refused_never_misread(
            form in 0usize..4,
            columns in prop::collection::vec(0usize..16, 0..16),
            rows in prop::collection::vec((0usize..60, prop::collection::vec(cell(), 16)), 0..12),
        ) {
            let s = sample();
            let names = ["advanced-practitioner-a", "advanced-practitioner-b", "qa-manager", "moderation-qa-manager"];
            let all: Vec<&str> = ["case_id", "child_id", "team", "worker", "stratum", "start_date", "end_date", "breached", "child_seen_alone", "plan_is_smart", "voice", "grade", "learning", "other", "", "case_id"].to_vec();
            let header: Vec<&str> = columns.iter().map(|&c| all[c]).collect();
            let ids: Vec<String> = s.selected.iter().map(|x| s.cases[x.case].case_id.clone()).collect();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(format!("{}.csv", names[form]));
            let mut w = csv::Writer::from_path(&path).unwrap();
            w.write_record(&header).unwrap();
            for (id, cells) in &rows {
                let mut r: Vec<String> = cells[..header.len()].to_vec();
                for (i, h) in header.iter().enumerate() {
                    if *h == "case_id" {
                        r[i] = ids.get(*id).cloned().unwrap_or_else(|| format!("X{id}"));
                    }
                }
                w.write_record(&r).unwrap();
            }
            w.flush().unwrap();
            let (read, _) = read_returns(s, dir.path()).unwrap();
            for r in &read {
                let sent: Vec<String> = s
                    .selected
                    .iter()
                    .enumerate()
                    .filter(|(i, x)| if r.file.contains("moderation-") {
                        s.moderated.iter().any(|m| m.selected == *i && m.moderator == r.holder)
                    } else {
                        x.auditor.as_deref() == Some(r.holder.as_str())
                    })
                    .map(|(_, x)| s.cases[x.case].case_id.clone())
                    .collect();
                for (case, answers) in &r.answers {
                    prop_assert!(sent.contains(case), "{case} not sent on {}", r.file);
                    for (q, v) in answers {
                        let question = s.plan.questions.iter().find(|x| x.id == *q).unwrap();
                        let allowed = question.kind.allowed();
                        prop_assert!(allowed.is_empty() || allowed.contains(v), "{q} = {v}");
                    }
                }
                // A value that is no answer makes a problem, so the form is not used.
                let bad = rows.iter().any(|(_, cells)| header.iter().enumerate().any(|(i, h)| {
                    matches!(*h, "child_seen_alone" | "plan_is_smart") && {
                        let v = cells[i].trim().to_ascii_lowercase();
                        !v.is_empty() && !["yes", "no", "n/a", "y", "n", "true", "false", "1", "0", "met", "not met", "pass", "fail", "na", "not applicable", "-"].contains(&v.as_str())
                    }
                }));
                let all_listed = header.iter().filter(|h| **h == "case_id").count() == 1;
                if bad && all_listed && !r.answers.is_empty() {
                    prop_assert!(!r.problems.is_empty(), "{:?}", r.answers);
                }
            }
        }
    }
}
