//! Several returns as one history: CIN census files of several years, Annex A workbooks,
//! SSD or native folders, merged as liiatools' `la-agg` does. The same child, referral,
//! S47 or plan in several returns is one row: the later return (by its reference date, else
//! its file date) wins, and every value it changed is reported.
//!
//! Returns with keys of their own (native and SSD folders) are matched by key. The census
//! and Annex A have none below the child (their keys are made from a row's place, and the
//! place moves from one year to the next), so their rows are matched by the child and the
//! row's own date: a referral by its date received, an S47 by its start, a conference by
//! its type and date. Keys that two different rows share across returns are told apart
//! (`X12-R1~2`), and every reference follows its row.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;

use super::{DataError, DataKind, ImportReport, Tables};
use crate::report::{Issue, Severity};
use crate::schema::{self, Kind, TableSpec};

pub const FORMAT: &str = "several returns merged into one history";

/// The name of the change report an import of a history writes beside the tables.
pub const CHANGES_FILE: &str = "history_changes.csv";

/// One return, read.
pub struct Return {
    /// How issues and changes name it: its file name.
    pub label: String,
    pub kind: DataKind,
    pub tables: Tables,
    pub report: ImportReport,
    /// The date that orders the returns, and where it came from.
    pub date: NaiveDate,
    pub date_source: &'static str,
}

/// A value a later return changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub source: String,
    pub table: String,
    pub key: String,
    /// The child the row is about: the key alone may be one made by a merge.
    pub child: String,
    pub field: String,
    pub old: String,
    pub new: String,
}

/// The merged tables, the report of every return read, and the changes.
pub struct History {
    pub tables: Tables,
    pub report: ImportReport,
    pub changes: Vec<Change>,
    pub specs: Vec<&'static TableSpec>,
    /// The latest census reference date, when every return is a census.
    pub reference: Option<NaiveDate>,
}

/// The returns a folder holds, when it is a folder of returns: census XML files, Annex A
/// workbooks, and folders of native extracts or SSD tables, and no extract of its own.
pub fn returns_in(dir: &Path) -> Option<Vec<PathBuf>> {
    if !dir.is_dir() || super::ssd::is_ssd_folder(dir) || !super::native::files_in(dir).is_empty() {
        return None;
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let ext = p
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase());
            match ext.as_deref() {
                Some("xml" | "xlsx" | "xlsm") => p.is_file(),
                _ => {
                    p.is_dir()
                        && (super::ssd::is_ssd_folder(p) || !super::native::files_in(p).is_empty())
                }
            }
        })
        .collect();
    found.sort();
    (!found.is_empty()).then_some(found)
}

/// Reads one return of any kind.
pub fn read_return(path: &Path) -> Result<Return, DataError> {
    let label = path.file_name().map_or(path.display().to_string(), |n| {
        n.to_string_lossy().into_owned()
    });
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let (kind, tables, report) = if path.is_dir() && super::ssd::is_ssd_folder(path) {
        let (t, r) = super::ssd::import(path)?;
        (DataKind::Ssd, t, r)
    } else if path.is_dir() {
        let (t, r) = super::native::read_folder(path, "");
        (DataKind::Folder, t, r)
    } else if ext.as_deref() == Some("xml") {
        let (t, r) = super::cin_census::import(path)?;
        (DataKind::CinCensus, t, r)
    } else if matches!(ext.as_deref(), Some("xlsx" | "xlsm")) {
        let (t, r) = super::annex_a::import(path)?;
        (DataKind::AnnexA, t, r)
    } else {
        return Err(DataError::Unknown(format!(
            "{} is not a return csc-audit reads (a census .xml, an Annex A .xlsx, or a folder \
             of native extracts or SSD tables)",
            path.display()
        )));
    };
    let reference = report
        .details
        .get("ReferenceDate")
        .and_then(|d| crate::values::parse_date(d).ok().flatten());
    let (date, date_source) = match reference {
        Some(d) => (d, "its reference date"),
        None => (file_date(path), "its file date"),
    };
    Ok(Return {
        label,
        kind,
        tables,
        report,
        date,
        date_source,
    })
}

/// The day a file (or the newest file of a folder) was last written.
fn file_date(path: &Path) -> NaiveDate {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let newest = if path.is_dir() {
        std::fs::read_dir(path)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().and_then(|e| modified(&e.path())))
            .max()
    } else {
        modified(path)
    };
    newest.map_or(NaiveDate::MIN, |t| {
        chrono::DateTime::<chrono::Utc>::from(t).date_naive()
    })
}

/// The columns that say which row is which, for returns without keys of their own.
fn natural_key(table: &str) -> &'static [&'static str] {
    match table {
        schema::CHILDREN => &["child_id"],
        schema::WORKERS => &["worker"],
        schema::CONTACTS => &["child_id", "contact_date"],
        schema::REFERRALS => &["child_id", "received_at"],
        schema::ASSESSMENTS => &["child_id", "start_date"],
        schema::STRATEGY_DISCUSSIONS => &["child_id", "held_date"],
        schema::S47_ENQUIRIES => &["child_id", "start_date"],
        schema::CP_PLANS => &["child_id", "start_date"],
        schema::CONFERENCES => &["child_id", "conference_type", "date"],
        schema::CORE_GROUPS => &["child_id", "date"],
        schema::VISITS => &["child_id", "visit_date", "visit_type"],
        schema::SUPERVISIONS => &["child_id", "date"],
        _ => &[],
    }
}

/// A value as it is compared, by the column's kind: dates in one form (a census writes
/// ISO, Excel UK order), a datetime's date for matching, flags as Y or N.
fn comparable(kind: Kind, value: &str, for_matching: bool) -> String {
    let v = value.trim();
    match kind {
        Kind::Date | Kind::DateTime => match crate::values::parse_stamp(v) {
            Ok(Some(s)) if for_matching || !s.has_time => s.date().to_string(),
            Ok(Some(s)) => s.at.to_string(),
            _ => v.to_string(),
        },
        Kind::Flag => match crate::values::parse_flag(v) {
            Ok(Some(true)) => "Y".into(),
            Ok(Some(false)) => "N".into(),
            _ => v.to_string(),
        },
        _ => v.to_string(),
    }
}

struct Merged {
    /// Per table: identity -> (output key, row, origin part, origin line, return label).
    rows: BTreeMap<&'static str, Vec<(Vec<String>, String, u64)>>,
    index: HashMap<(&'static str, String), usize>,
    /// (table, key) -> the return that first used it.
    keys_used: HashMap<(&'static str, String), usize>,
    /// (table, key) -> the last `~N` given to it.
    next_suffix: HashMap<(&'static str, String), u32>,
    /// (return, table, key in the return) -> key in the history.
    rekey: HashMap<(usize, &'static str, String), String>,
    changes: Vec<Change>,
}

/// Merges the returns, oldest first, so the later one wins.
pub fn merge(mut returns: Vec<Return>) -> History {
    returns.sort_by(|a, b| (a.date, &a.label).cmp(&(b.date, &b.label)));
    let by_key = returns
        .iter()
        .all(|r| matches!(r.kind, DataKind::Folder | DataKind::Ssd));
    let mut m = Merged {
        rows: BTreeMap::new(),
        index: HashMap::new(),
        keys_used: HashMap::new(),
        next_suffix: HashMap::new(),
        rekey: HashMap::new(),
        changes: Vec::new(),
    };
    let mut specs: Vec<&'static TableSpec> = schema::TABLES.iter().collect();
    specs.sort_by_key(|t| schema::link_depth(t));
    for spec in &specs {
        for (ri, ret) in returns.iter().enumerate() {
            merge_table(&mut m, spec, ri, ret, by_key);
        }
    }
    let mut tables = Tables::default();
    let mut present = Vec::new();
    for spec in schema::TABLES.iter() {
        let Some(rows) = m.rows.get(spec.name) else {
            continue;
        };
        present.push(spec);
        for (row, part, line) in rows {
            let values: Vec<(&str, String)> = spec
                .columns
                .iter()
                .zip(row)
                .map(|(c, v)| (c.name, v.clone()))
                .collect();
            tables.push_from(spec.name, part, *line, &values);
        }
    }
    let reference = returns
        .iter()
        .all(|r| r.kind == DataKind::CinCensus)
        .then(|| returns.iter().map(|r| r.date).max())
        .flatten();
    let report = report_of(&returns, &tables, &m.changes, by_key);
    History {
        tables,
        report,
        changes: m.changes,
        specs: present,
        reference,
    }
}

fn merge_table(m: &mut Merged, spec: &'static TableSpec, ri: usize, ret: &Return, by_key: bool) {
    let table = spec.name;
    let key_at = spec.column_index(spec.key).unwrap_or(0);
    let natural: Vec<usize> = natural_key(table)
        .iter()
        .filter_map(|c| spec.column_index(c))
        .collect();
    let mut seen: HashMap<String, u32> = HashMap::new();
    for (n, row) in ret.tables.rows(table).iter().enumerate() {
        let mut row = row.clone();
        // References follow the rows they point at.
        for (ci, c) in spec.columns.iter().enumerate() {
            if let Some((target, _)) = c.refers_to {
                if let Some(k) = m.rekey.get(&(ri, target, row[ci].clone())) {
                    row[ci] = k.clone();
                }
            }
        }
        let own_key = row[key_at].clone();
        let base = if by_key || natural.is_empty() {
            own_key.clone()
        } else {
            let parts: Vec<String> = natural
                .iter()
                .map(|i| comparable(spec.columns[*i].kind, &row[*i], true))
                .collect();
            parts.join("\u{1f}")
        };
        // The n-th row of a return with this identity: a return's own duplicates (and rows
        // with no key) stay apart, for the checks to report.
        let nth = seen.entry(base.clone()).or_default();
        *nth += 1;
        let identity = if base.is_empty() {
            format!("{ri}\u{1f}{n}")
        } else {
            format!("{base}\u{1f}{nth}")
        };
        let (part, line) = ret
            .tables
            .origin_of(table, n)
            .map_or((ret.label.clone(), 0), |(p, l)| {
                (label_part(&ret.label, p), l)
            });
        let out_key = match m.index.get(&(table, identity.clone())) {
            Some(&at) => update(m, spec, at, row, ret, part, line),
            None => insert(m, spec, ri, identity, row, part, line),
        };
        m.rekey.entry((ri, table, own_key)).or_insert(out_key);
    }
}

/// A row a later return holds again: its values replace the earlier ones, each change said.
fn update(
    m: &mut Merged,
    spec: &'static TableSpec,
    at: usize,
    row: Vec<String>,
    ret: &Return,
    part: String,
    line: u64,
) -> String {
    let key_at = spec.column_index(spec.key).unwrap_or(0);
    let child_at = spec.column_index("child_id");
    let old = &mut m.rows.get_mut(spec.name).expect("the table")[at];
    let out_key = old.0[key_at].clone();
    for (ci, c) in spec.columns.iter().enumerate() {
        let new = row[ci].trim();
        if ci == key_at || new.is_empty() {
            continue;
        }
        let (was, now) = (
            comparable(c.kind, &old.0[ci], false),
            comparable(c.kind, new, false),
        );
        // A date without a time says nothing against the same date with one.
        let same_day = matches!(c.kind, Kind::DateTime)
            && !new.contains(':')
            && comparable(c.kind, &old.0[ci], true) == comparable(c.kind, new, true);
        if was == now || same_day {
            continue;
        }
        m.changes.push(Change {
            source: ret.label.clone(),
            table: spec.name.into(),
            key: out_key.clone(),
            child: child_at.map_or(String::new(), |i| old.0[i].clone()),
            field: c.name.into(),
            old: old.0[ci].clone(),
            new: new.to_string(),
        });
        old.0[ci] = new.to_string();
    }
    old.1 = part;
    old.2 = line;
    out_key
}

/// A row no earlier return holds. Its key is kept unless an earlier return gave it to
/// another row: then it gets the first free `key~N`.
fn insert(
    m: &mut Merged,
    spec: &'static TableSpec,
    ri: usize,
    identity: String,
    mut row: Vec<String>,
    part: String,
    line: u64,
) -> String {
    let table = spec.name;
    let key_at = spec.column_index(spec.key).unwrap_or(0);
    let own_key = row[key_at].clone();
    let mut out_key = own_key.clone();
    match m.keys_used.get(&(table, own_key.clone())) {
        // The same return's duplicate (or no key): kept, for the checks to report.
        Some(&first) if first == ri || own_key.is_empty() => {}
        Some(_) => {
            let next = m.next_suffix.entry((table, own_key.clone())).or_insert(1);
            loop {
                *next += 1;
                out_key = format!("{own_key}~{next}");
                if !m.keys_used.contains_key(&(table, out_key.clone())) {
                    break;
                }
            }
        }
        None => {}
    }
    m.keys_used.entry((table, out_key.clone())).or_insert(ri);
    row[key_at] = out_key.clone();
    let rows = m.rows.entry(table).or_default();
    m.index.insert((table, identity), rows.len());
    rows.push((row, part, line));
    out_key
}

/// Where a row came from, for issues: `census_2024.xml`, `annex.xlsx List 3`,
/// `ssd_2025/ssd_cin_episodes.csv`.
fn label_part(label: &str, part: &str) -> String {
    match part {
        "" => label.to_string(),
        p if p.ends_with(".csv") => format!("{label}/{p}"),
        p => format!("{label} {p}"),
    }
}

fn report_of(
    returns: &[Return],
    tables: &Tables,
    changes: &[Change],
    by_key: bool,
) -> ImportReport {
    let mut report = ImportReport {
        source: returns
            .iter()
            .map(|r| r.label.clone())
            .collect::<Vec<_>>()
            .join(", "),
        format: FORMAT.into(),
        ..Default::default()
    };
    report.details.insert(
        "matched by".into(),
        if by_key {
            "key (every return has keys of its own)".into()
        } else {
            "child and date (a census or Annex A has no keys below the child)".into()
        },
    );
    for (i, r) in returns.iter().enumerate() {
        report.details.insert(
            format!("return {}", i + 1),
            format!(
                "{} ({}, {} {})",
                r.label,
                r.kind.describe(),
                r.date_source,
                r.date
            ),
        );
        for (name, c) in &r.report.blocks {
            let key = format!("{}: {name}", r.label);
            report.blocks.insert(key.clone(), c.clone());
            report.block_order.push(key);
        }
        for (name, n) in &r.report.ignored {
            report.ignored.insert(format!("{}: {name}", r.label), *n);
        }
        for issue in &r.report.issues {
            let mut issue = issue.clone();
            let f = &issue.file;
            let named = f == &r.label
                || f.starts_with(&format!("{}/", r.label))
                || f.starts_with(&format!("{} ", r.label));
            if !named {
                issue.file = label_part(&r.label, &issue.file);
            }
            report.issues.push(issue);
        }
    }
    for spec in schema::TABLES.iter() {
        let n = tables.rows(spec.name).len() as u64;
        if n > 0 {
            report.rows_written.insert(spec.name.into(), n);
        }
    }
    let by_file: Vec<&str> = returns
        .iter()
        .filter(|r| r.date_source == "its file date")
        .map(|r| r.label.as_str())
        .collect();
    if returns.len() > 1 && !by_file.is_empty() {
        report.issues.push(Issue {
            table: String::new(),
            file: String::new(),
            line: None,
            column: None,
            rule: "ordered_by_file_date".into(),
            severity: Severity::Warning,
            message: format!(
                "{} have no reference date, so their file dates decide which return is later (a \
                 copy or an unzip can change them): check the order under `details`",
                by_file.join(", ")
            ),
        });
    }
    let mut by_field: BTreeMap<(String, String), u64> = BTreeMap::new();
    for c in changes {
        *by_field
            .entry((c.table.clone(), c.field.clone()))
            .or_default() += 1;
    }
    for ((table, field), n) in by_field {
        report.issues.push(Issue {
            table: table.clone(),
            file: String::new(),
            line: None,
            column: Some(field.clone()),
            rule: "changed_by_later_return".into(),
            severity: Severity::Info,
            message: format!(
                "{n} values of {table}.{field} were changed by a later return (each one is in \
                 {CHANGES_FILE} with the return, key, old and new value)"
            ),
        });
    }
    report
}

/// The change report as CSV: `source,table,key,child_id,field,old,new`.
pub fn changes_csv(changes: &[Change]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["source", "table", "key", "child_id", "field", "old", "new"])
        .expect("writing to memory");
    for c in changes {
        w.write_record([
            &c.source, &c.table, &c.key, &c.child, &c.field, &c.old, &c.new,
        ])
        .expect("writing to memory");
    }
    w.into_inner().expect("writing to memory")
}

/// Reads and merges every return.
pub fn read(paths: &[PathBuf]) -> Result<History, DataError> {
    let returns = paths
        .iter()
        .map(|p| read_return(p))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(merge(returns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn census(
        label: &str,
        date: &str,
        referrals: &[(&str, &str)],
        assessments: &[(&str, &str, &str)],
    ) -> Return {
        let mut t = Tables::default();
        t.push(schema::CHILDREN, 1, &[("child_id", "X".into())]);
        for (key, received) in referrals {
            t.push(
                schema::REFERRALS,
                2,
                &[
                    ("referral_id", key.to_string()),
                    ("child_id", "X".into()),
                    ("received_at", received.to_string()),
                ],
            );
        }
        for (key, referral, start) in assessments {
            t.push(
                schema::ASSESSMENTS,
                3,
                &[
                    ("assessment_id", key.to_string()),
                    ("child_id", "X".into()),
                    ("referral_id", referral.to_string()),
                    ("start_date", start.to_string()),
                ],
            );
        }
        Return {
            label: label.into(),
            kind: DataKind::CinCensus,
            tables: t,
            report: ImportReport::default(),
            date: date.parse().unwrap(),
            date_source: "its reference date",
        }
    }

    /// A census numbers a child's episodes by place: the 2020 episode is `X-R1` in the
    /// earlier census, and gone from the later one, where `X-R1` is the 2023 episode.
    #[test]
    fn keys_made_by_place_are_told_apart_and_references_follow_them() {
        let early = census(
            "2023.xml",
            "2023-03-31",
            &[("X-R1", "2020-01-06"), ("X-R2", "2023-01-09")],
            &[("X-R2-A1", "X-R2", "2023-01-10")],
        );
        let late = census(
            "2024.xml",
            "2024-03-31",
            &[("X-R1", "2023-01-09"), ("X-R2", "2024-02-05")],
            &[
                ("X-R1-A1", "X-R1", "2023-01-10"),
                ("X-R2-A1", "X-R2", "2024-02-06"),
            ],
        );
        // Given later first: the dates order them.
        let h = merge(vec![late, early]);
        let rows = |t: &str| -> Vec<String> {
            h.tables
                .rows(t)
                .iter()
                .map(|r| {
                    r.iter()
                        .filter(|v| !v.is_empty())
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect()
        };
        assert_eq!(
            rows(schema::REFERRALS),
            [
                "X-R1,X,2020-01-06",
                "X-R2,X,2023-01-09",
                "X-R2~2,X,2024-02-05"
            ]
        );
        // The 2023 assessment is one row, under the key the earlier census gave it; the
        // 2024 one points at the 2024 episode.
        assert_eq!(
            rows(schema::ASSESSMENTS),
            ["X-R2-A1,X,X-R2,2023-01-10", "X-R2-A1~2,X,X-R2~2,2024-02-06"]
        );
        assert!(h.changes.is_empty(), "{:?}", h.changes);
    }

    /// A return's own duplicate key is kept as a second row, for the checks to reject with
    /// its line, never merged into the first; the same key in a later return is the same row.
    #[test]
    fn a_returns_own_duplicates_stay_apart_and_later_returns_update_by_key() {
        let mut early = census(
            "a",
            "2023-03-31",
            &[("K", "2023-01-09"), ("K", "2023-02-01")],
            &[],
        );
        early.kind = DataKind::Folder;
        let mut late = census("b", "2024-03-31", &[("K", "2023-01-09 10:30")], &[]);
        late.kind = DataKind::Folder;
        let h = merge(vec![early, late]);
        let keys: Vec<&str> = h
            .tables
            .rows(schema::REFERRALS)
            .iter()
            .map(|r| r[0].as_str())
            .collect();
        assert_eq!(keys, ["K", "K"]);
        // The later return adds a time to the same day: a change, with the child named.
        assert_eq!(h.changes.len(), 1, "{:?}", h.changes);
        assert_eq!(
            (h.changes[0].child.as_str(), h.changes[0].new.as_str()),
            ("X", "2023-01-09 10:30")
        );
        // A date alone says nothing against the same day with a time.
        let mut a = census("a", "2023-03-31", &[("K", "2023-01-09 10:30")], &[]);
        a.kind = DataKind::Folder;
        let mut b = census("b", "2024-03-31", &[("K", "09/01/2023")], &[]);
        b.kind = DataKind::Folder;
        let h = merge(vec![a, b]);
        assert!(h.changes.is_empty(), "{:?}", h.changes);
        assert_eq!(h.tables.rows(schema::REFERRALS)[0][2], "2023-01-09 10:30");
    }
}
