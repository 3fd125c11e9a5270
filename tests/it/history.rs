//! Several returns as one history: two CIN census files of consecutive years, written from
//! the sample council with a third of the children in both, merge into one history whose
//! measures are those of the native folder; the overlap is one row each, and every value
//! the later census changed is reported.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::import::{census_xml_at, read_csv};
use csc_audit::import::{history, load_history, DataKind};
use csc_audit::ingest::LoadOptions;

/// The census year 2023-24 ends here: the earlier census knows nothing after it.
const CUTOFF: &str = "2024-03-31";

fn write_table(dir: &Path, table: &str, header: &[String], rows: &[HashMap<String, String>]) {
    let mut w = csv::Writer::from_path(dir.join(format!("{table}.csv"))).unwrap();
    w.write_record(header).unwrap();
    for r in rows {
        w.write_record(header.iter().map(|h| r[h].as_str()))
            .unwrap();
    }
    w.flush().unwrap();
}

fn header(dir: &Path, table: &str) -> Vec<String> {
    let mut r = csv::Reader::from_path(dir.join(format!("{table}.csv"))).unwrap();
    r.headers().unwrap().iter().map(str::to_string).collect()
}

/// The date that says when a row happened.
fn when(table: &str, row: &HashMap<String, String>) -> String {
    let column = match table {
        "referrals" => "received_at",
        "conferences" => "date",
        _ => "start_date",
    };
    row[column].get(..10).unwrap_or("").to_string()
}

/// Children 0, 3, 6, ... are in both returns (the earlier one as at the cutoff), 1, 4, ...
/// only in the earlier one (whole), 2, 5, ... only in the later one.
fn split(sample: &Path, early: &Path, late: &Path) -> HashSet<String> {
    let children = read_csv(sample, "children");
    let group: HashMap<String, usize> = children
        .iter()
        .enumerate()
        .map(|(i, c)| (c["child_id"].clone(), i % 3))
        .collect();
    let both: HashSet<String> = group
        .iter()
        .filter(|(_, g)| **g == 0)
        .map(|(c, _)| c.clone())
        .collect();
    for table in [
        "children",
        "referrals",
        "assessments",
        "s47_enquiries",
        "cp_plans",
        "conferences",
    ] {
        let rows = read_csv(sample, table);
        let h = header(sample, table);
        let g = |r: &HashMap<String, String>| group[&r["child_id"]];
        let mut a: Vec<HashMap<String, String>> = Vec::new();
        for r in rows.iter().filter(|r| g(r) != 2) {
            let mut r = r.clone();
            if g(&r) == 0 {
                if table != "children" && when(table, &r).as_str() > CUTOFF {
                    continue;
                }
                for c in ["end_date", "authorised_date"] {
                    if r.get(c).is_some_and(|d| d.as_str() > CUTOFF) {
                        r.insert(c.into(), String::new());
                    }
                }
            }
            a.push(r);
        }
        let b: Vec<HashMap<String, String>> = rows.iter().filter(|r| g(r) != 1).cloned().collect();
        write_table(early, table, &h, &a);
        write_table(late, table, &h, &b);
    }
    both
}

fn returns() -> (tempfile::TempDir, Vec<std::path::PathBuf>, HashSet<String>) {
    let sample = crate::sample_data();
    let dir = tempfile::tempdir().unwrap();
    let (early, late) = (dir.path().join("early"), dir.path().join("late"));
    std::fs::create_dir_all(&early).unwrap();
    std::fs::create_dir_all(&late).unwrap();
    let both = split(&sample, &early, &late);
    let (a, b) = (
        dir.path().join("cin_2024.xml"),
        dir.path().join("cin_2025.xml"),
    );
    std::fs::write(&a, census_xml_at(&early, "2024", CUTOFF)).unwrap();
    std::fs::write(&b, census_xml_at(&late, "2025", "2025-03-31")).unwrap();
    // Given in the wrong order on purpose: the reference dates order them.
    (dir, vec![b, a], both)
}

#[test]
fn two_census_years_merge_into_the_history_of_the_native_folder() {
    let (_dir, paths, both) = returns();
    let opts = LoadOptions {
        as_of: None,
        today: crate::today(),
        columns: Default::default(),
    };
    let (merged, kind) = load_history(&paths, &opts).unwrap();
    assert_eq!(kind, DataKind::History);
    // The as-of date is the later census' reference date.
    assert_eq!(merged.as_of.to_string(), "2025-03-31");
    let sample = crate::sample_data();
    let native = csc_audit::ingest::load(
        &sample,
        &LoadOptions {
            as_of: Some(merged.as_of),
            today: crate::today(),
            columns: Default::default(),
        },
    )
    .unwrap();
    // The overlap is one row each.
    for table in [
        "children",
        "referrals",
        "assessments",
        "s47_enquiries",
        "cp_plans",
    ] {
        assert_eq!(
            merged.frame(table).unwrap().height(),
            native.frame(table).unwrap().height(),
            "{table}"
        );
    }
    let (a, b) = (
        crate::quarterly(&native, &[]),
        crate::quarterly(&merged, &[]),
    );
    crate::assert_same_measures(&a, &b, crate::import::CENSUS_SUPPORTED);
    // Every change is the later census filling in what the earlier one did not know yet:
    // one per plan of an overlap child that was open at the cutoff and ended after it.
    let h = history::read(&paths).unwrap();
    let ended: usize = read_csv(&sample, "cp_plans")
        .iter()
        .filter(|p| both.contains(&p["child_id"]))
        .filter(|p| p["start_date"].as_str() <= CUTOFF && p["end_date"].as_str() > CUTOFF)
        .count();
    assert!(ended > 0);
    let plan_changes: Vec<_> = h.changes.iter().filter(|c| c.table == "cp_plans").collect();
    assert_eq!(plan_changes.len(), ended, "{plan_changes:?}");
    for c in &h.changes {
        assert_eq!(c.source, "cin_2025.xml");
        assert!(c.old.is_empty() && !c.new.is_empty(), "{c:?}");
    }
    assert!(h
        .changes
        .iter()
        .all(|c| c.field == "end_date" || c.field == "authorised_date"));
}

#[test]
fn import_history_writes_the_merged_tables_and_every_change() {
    let (dir, paths, _) = returns();
    let out = dir.path().join("history");
    let run = assert_cmd::Command::cargo_bin("csc-audit")
        .unwrap()
        .args(["import", "history"])
        .args(&paths)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let changes = std::fs::read_to_string(out.join(history::CHANGES_FILE)).unwrap();
    let mut lines = changes.lines();
    assert_eq!(
        lines.next(),
        Some("source,table,key,child_id,field,old,new")
    );
    assert!(
        lines.next().is_some_and(|l| l.starts_with("cin_2025.xml,")),
        "{changes}"
    );
    // --data given twice reads the same history as the folder written.
    let check = |args: &[&std::ffi::OsStr]| {
        let o = assert_cmd::Command::cargo_bin("csc-audit")
            .unwrap()
            .arg("check")
            .args(args)
            .args(["--format", "json"])
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["table"].as_str().unwrap().to_string(),
                    t["rows_loaded"].as_u64().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    // A folder holding only returns is read as their history.
    let folder = dir.path().join("returns");
    std::fs::create_dir_all(&folder).unwrap();
    for p in &paths {
        std::fs::copy(p, folder.join(p.file_name().unwrap())).unwrap();
    }
    let (_, kind) = csc_audit::import::load_data(
        &folder,
        &LoadOptions {
            as_of: None,
            today: crate::today(),
            columns: Default::default(),
        },
    )
    .unwrap();
    assert_eq!(kind, DataKind::History);
    let twice = check(&[
        "--data".as_ref(),
        paths[0].as_os_str(),
        "--data".as_ref(),
        paths[1].as_os_str(),
    ]);
    let written = check(&["--data".as_ref(), out.as_os_str()]);
    assert_eq!(twice, written);
}
