//! Any other export, through a column map: the sample council written with other file
//! names, headers, codes and dates reads back exactly; `map init` guesses and marks; a
//! required column the map leaves out is fatal with the fix named.

use std::collections::HashMap;
use std::path::Path;

use csc_audit::import::load_mapped;
use csc_audit::import::map::ColumnMap;
use csc_audit::ingest::LoadOptions;
use csc_audit::schema::{Kind, TABLES};

fn read_csv_rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

fn title(column: &str) -> String {
    column
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map_or(String::new(), |f| {
                f.to_uppercase().collect::<String>() + c.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Their codes for ours.
const CODES: &[(&str, &str, &[(&str, &str)])] = &[
    (
        "referrals",
        "outcome",
        &[
            ("nfa", "No Further Action"),
            ("assessment", "Single Assessment"),
            ("s47", "Section 47"),
            ("early_help", "Step Down to Early Help"),
            ("other", "Other Outcome"),
        ],
    ),
    (
        "visits",
        "visit_type",
        &[
            ("cp", "CP Visit"),
            ("cin", "CIN Visit"),
            ("cla", "LAC Visit"),
            ("other", "Other Visit"),
        ],
    ),
    (
        "conferences",
        "conference_type",
        &[("initial", "ICPC"), ("review", "RCPC")],
    ),
];

/// A date of ours as the export writes it: DD-MM-YYYY, with HH:MM:SS after a datetime's.
fn their_date(v: &str) -> String {
    let (d, t) = v.split_once(' ').unwrap_or((v, ""));
    let p: Vec<&str> = d.split('-').collect();
    let date = format!("{}-{}-{}", p[2], p[1], p[0]);
    match t.len() {
        0 => date,
        5 => format!("{date} {t}:00"),
        _ => format!("{date} {t}"),
    }
}

/// Writes the native folder as another system's export, and the map that reads it.
fn export(native: &Path, out: &Path) -> String {
    let mut map = String::new();
    for spec in TABLES.iter() {
        let path = native.join(spec.file_name());
        if !path.exists() {
            continue;
        }
        let file = format!("LA {} Export.csv", title(spec.name));
        map.push_str(&format!(
            "[{}]\nfile = {file:?}\ndate_format = \"DD-MM-YYYY HH:MM:SS\"\n\n[{}.columns]\n",
            spec.name, spec.name
        ));
        for c in spec.columns {
            map.push_str(&format!("{} = \"{} Field\"\n", c.name, title(c.name)));
        }
        let codes: HashMap<&str, HashMap<&str, &str>> = CODES
            .iter()
            .filter(|(t, _, _)| *t == spec.name)
            .map(|(_, c, list)| (*c, list.iter().copied().collect()))
            .collect();
        for (column, list) in &codes {
            map.push_str(&format!("\n[{}.codes.{column}]\n", spec.name));
            for (ours, theirs) in list {
                map.push_str(&format!("{theirs:?} = {ours:?}\n"));
            }
        }
        map.push('\n');
        let (header, rows) = read_csv_rows(&path);
        let mut w = csv::Writer::from_path(out.join(&file)).unwrap();
        // Their column order is their own: reversed.
        let order: Vec<usize> = (0..header.len()).rev().collect();
        w.write_record(
            order
                .iter()
                .map(|i| format!("{} Field", title(&header[*i]))),
        )
        .unwrap();
        for row in rows {
            let cells: Vec<String> = order
                .iter()
                .map(|i| {
                    let (name, v) = (header[*i].as_str(), row[*i].as_str());
                    let kind = spec.columns.iter().find(|c| c.name == name).map(|c| c.kind);
                    match (kind, codes.get(name)) {
                        _ if v.is_empty() => String::new(),
                        (_, Some(list)) => list.get(v).map_or(v.to_string(), |t| t.to_string()),
                        (Some(Kind::Date | Kind::DateTime), _) => their_date(v),
                        _ => v.to_string(),
                    }
                })
                .collect();
            w.write_record(&cells).unwrap();
        }
        w.flush().unwrap();
    }
    map
}

fn opts() -> LoadOptions {
    LoadOptions {
        as_of: Some(chrono::NaiveDate::from_ymd_opt(2025, 3, 31).unwrap()),
        today: crate::today(),
        columns: Default::default(),
    }
}

fn sample() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_data")
}

#[test]
fn an_export_with_other_names_codes_and_dates_reads_exactly_through_its_map() {
    let dir = tempfile::tempdir().unwrap();
    let map = ColumnMap::from_toml(&export(&sample(), dir.path())).unwrap();
    let native = csc_audit::ingest::load(&sample(), &opts()).unwrap();
    let mapped = load_mapped(dir.path(), &map, &opts());
    for spec in TABLES.iter() {
        let (Some(a), Some(b)) = (native.frame(spec.name), mapped.frame(spec.name)) else {
            panic!("{} missing", spec.name);
        };
        assert!(a.equals_missing(b), "{}:\n{a}\n{b}", spec.name);
    }
    assert_eq!(mapped.report.rows_rejected(), native.report.rows_rejected());
    let rules: Vec<&str> = mapped
        .report
        .issues
        .iter()
        .map(|i| i.rule.as_str())
        .collect();
    assert!(!rules.contains(&"code_not_mapped"), "{rules:?}");
    // Every mapped column is said.
    let said = mapped
        .report
        .issues
        .iter()
        .find(|i| i.rule == "mapped" && i.table == "referrals")
        .unwrap();
    assert!(
        said.message.contains("received_at <- 'Received At Field'"),
        "{}",
        said.message
    );
}

#[test]
fn a_required_column_the_map_leaves_out_is_fatal_with_the_fix_and_unmapped_codes_are_said() {
    let dir = tempfile::tempdir().unwrap();
    let text = export(&sample(), dir.path())
        .replace("received_at = \"Received At Field\"\n", "")
        .replace("\"Section 47\" = \"s47\"\n", "");
    std::fs::write(dir.path().join("map.toml"), &text).unwrap();
    let out = assert_cmd::Command::cargo_bin("csc-audit")
        .unwrap()
        .args(["check", "--data"])
        .arg(dir.path())
        .arg("--map")
        .arg(dir.path().join("map.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("add `received_at = \"<its header>\"` under [referrals.columns]"),
        "{stdout}"
    );
    let map = ColumnMap::from_toml(&text.replace(
        "[referrals.columns]\n",
        "[referrals.columns]\nreceived_at = \"Received At Field\"\n",
    ))
    .unwrap();
    let ex = load_mapped(dir.path(), &map, &opts());
    let unmapped = ex
        .report
        .issues
        .iter()
        .find(|i| i.rule == "code_not_mapped")
        .unwrap();
    assert!(
        unmapped.message.starts_with("'Section 47' ("),
        "{}",
        unmapped.message
    );
    // A map that names what is not there is refused before anything is read.
    let err = ColumnMap::from_toml("[referals]\nfile = \"x.csv\"\n").unwrap_err();
    assert!(err.contains("[referals] is not a native table"), "{err}");
    let err = ColumnMap::from_toml("[referrals]\nfile = \"x.csv\"\ndate_format = \"MM/DD\"\n")
        .unwrap_err();
    assert!(err.contains("needs a day"), "{err}");
}

#[test]
fn map_init_guesses_tables_and_columns_and_marks_every_guess() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("export");
    std::fs::create_dir_all(&data).unwrap();
    export(&sample(), &data);
    std::fs::write(data.join("Other Thing.csv"), "a,b\n1,2\n").unwrap();
    let out = dir.path().join("map.toml");
    let run = assert_cmd::Command::cargo_bin("csc-audit")
        .unwrap()
        .args(["map", "init"])
        .arg(&data)
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
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("[referrals]\nfile = \"LA Referrals Export.csv\"  # guess"),
        "{text}"
    );
    assert!(
        text.contains("referral_id = \"Referral Id Field\"  # guess"),
        "{text}"
    );
    assert!(
        text.contains("# Other Thing.csv: which table it holds could not be guessed"),
        "{text}"
    );
    // What it writes is a map csc-audit reads.
    ColumnMap::from_toml(&text).unwrap();
    // Never over an existing map without --force.
    let again = assert_cmd::Command::cargo_bin("csc-audit")
        .unwrap()
        .args(["map", "init"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
}
