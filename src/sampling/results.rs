//! Completed audits -> estimates for the whole population: per question and per grade, the
//! stratified proportion with a Korn-Graubard interval, per stratum with Clopper-Pearson,
//! the cases not audited yet, and the questions ranked by estimated failure rate.

use std::collections::BTreeMap;
use std::path::Path;

use super::manifest::{self, SAMPLE_CSV};
use super::{invalid, SampleError};
use crate::stats::{self, StratumCount};
use crate::tabular::{self, Cell};

pub const GRADES: &[&str] = &["outstanding", "good", "requires_improvement", "inadequate"];

/// Columns of `sample.csv` that are facts about the case, not audit answers.
const SAMPLE_COLUMNS: &[&str] = &[
    "stratum",
    "order",
    "round",
    "child_id",
    "inclusion_probability",
    "design_weight",
    "auditor",
    "team",
    "worker",
    "breached",
];

/// One sampled case, as `sample.csv` lists it.
#[derive(Debug, Clone)]
pub struct SampledCase {
    pub stratum: String,
    pub case_id: String,
    pub child_id: String,
    pub auditor: String,
}

/// The sample a results file is read against: its cases and each stratum's population.
#[derive(Debug, Clone)]
pub struct SampleFrame {
    pub cases: Vec<SampledCase>,
    /// Stratum name -> N_h, in the manifest's order.
    pub strata: Vec<(String, u64)>,
}

impl SampleFrame {
    /// The frame of a sample as drawn (or re-drawn by `verify`): what `sample.csv` and the
    /// manifest of a sample that verifies hold.
    pub fn from_sample(s: &super::Sample) -> SampleFrame {
        let mut sel: Vec<&super::Selected> = s.selected.iter().collect();
        sel.sort_by_key(|x| (x.stratum, x.order));
        SampleFrame {
            cases: sel
                .iter()
                .map(|x| {
                    let c = &s.cases[x.case];
                    SampledCase {
                        stratum: s.strata[x.stratum].name.clone(),
                        case_id: c.case_id.clone(),
                        child_id: c.child_id.clone().unwrap_or_default(),
                        auditor: x.auditor.clone().unwrap_or_default(),
                    }
                })
                .collect(),
            strata: s
                .strata
                .iter()
                .map(|st| (st.name.clone(), st.population()))
                .collect(),
        }
    }

    /// The frame as a sample folder's files hold it. Use it only on a folder that verified:
    /// `audit-results` builds its frame from the re-draw ([`SampleFrame::from_sample`]).
    pub fn read(dir: &Path) -> Result<SampleFrame, SampleError> {
        let r = manifest::read(dir)?;
        let strata: Vec<(String, u64)> = r.doc["strata"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| {
                        (
                            s["name"].as_str().unwrap_or("").to_string(),
                            s["population"].as_u64().unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let path = dir.join(SAMPLE_CSV);
        let mut rd = csv::Reader::from_path(&path)
            .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
        let h: Vec<String> = rd
            .headers()
            .map_err(|e| invalid(format!("{}: {e}", path.display())))?
            .iter()
            .map(str::to_string)
            .collect();
        let ix = |n: &str| {
            h.iter()
                .position(|x| x == n)
                .ok_or_else(|| invalid(format!("{}: no `{n}` column", path.display())))
        };
        let (s, c, ch, a) = (
            ix("stratum")?,
            ix("case_id")?,
            ix("child_id")?,
            ix("auditor")?,
        );
        let mut cases = Vec::new();
        for rec in rd.records() {
            let rec = rec.map_err(|e| invalid(format!("{}: {e}", path.display())))?;
            cases.push(SampledCase {
                stratum: rec.get(s).unwrap_or("").to_string(),
                case_id: rec.get(c).unwrap_or("").to_string(),
                child_id: rec.get(ch).unwrap_or("").to_string(),
                auditor: rec.get(a).unwrap_or("").to_string(),
            });
        }
        Ok(SampleFrame { cases, strata })
    }
}

/// One estimate: of a question's `yes` or of a grade, over all strata or in one.
#[derive(Debug, Clone, PartialEq)]
pub struct EstimateRow {
    /// The question, or `grade`.
    pub measure: String,
    /// `yes`, or the grade (`good_or_better` for outstanding and good together).
    pub answer: String,
    /// `all`, or a stratum's name.
    pub scope: String,
    pub population: u64,
    pub answered: u64,
    pub count: u64,
    /// Proportions from 0 to 1.
    pub estimate: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub effective_n: Option<f64>,
    pub method: &'static str,
}

#[derive(Debug, Clone)]
pub struct AuditResults {
    pub rows: Vec<EstimateRow>,
    /// Questions by estimated failure (`no`) rate, highest first: (question, rate, low,
    /// high, answered).
    pub themes: Vec<(String, f64, f64, f64, u64)>,
    pub not_audited: Vec<SampledCase>,
    pub questions: Vec<String>,
    /// Columns read as neither grade nor yes/no question.
    pub ignored: Vec<String>,
    pub confidence: f64,
}

/// A results table: a header and text rows, with the line each row came from.
pub(super) struct Table {
    pub(super) name: String,
    pub(super) headers: Vec<String>,
    pub(super) rows: Vec<(u64, Vec<String>)>,
}

/// Reads a table of answers: a CSV, or the first sheet with rows of a workbook, its header
/// the first row naming the case.
pub(super) fn read_table(path: &Path) -> Result<Table, SampleError> {
    let name = path.display().to_string();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    // Every non-empty row with its line (row number in a sheet).
    let (name, raw): (String, Vec<(u64, Vec<String>)>) = if ext == "xlsx" || ext == "xlsm" {
        use crate::import::annex_a::{read_workbook, Cell as X};
        let sheets = read_workbook(path).map_err(|e| invalid(e.to_string()))?;
        let sheet = sheets
            .into_iter()
            .find(|s| !s.rows.is_empty())
            .ok_or_else(|| invalid(format!("{name}: every sheet is empty")))?;
        let text = |c: &X| match c {
            X::Empty | X::Error => String::new(),
            X::Text(s) => s.trim().to_string(),
            X::Number(v) | X::Date(v) => tabular::num(Some(*v), 6),
        };
        // Columns are filled in only up to each row's last cell, within a stated bound.
        let rows = sheet
            .dense_rows(crate::import::workbook::MAX_CELLS)
            .map_err(|e| invalid(format!("{name}: {e}")))?
            .into_iter()
            .map(|(line, r)| (line, r.into_iter().map(text).collect()))
            .collect();
        (format!("{name} (sheet {})", sheet.name), rows)
    } else {
        let bytes = crate::fsutil::read_input(path, crate::fsutil::MAX_INPUT_BYTES)
            .map_err(|e| invalid(format!("cannot read {name}: {e}")))?;
        let (text, _) =
            crate::ingest::decode(&bytes).map_err(|e| invalid(format!("{name}: {e}")))?;
        // Read as the extracts are: each row with the physical line it starts on.
        let mut records = crate::ingest::rows::Records::new(&text);
        let mut rec = crate::ingest::rows::Record::default();
        let mut rows = Vec::new();
        while records.read(&mut rec) {
            if rec.unclosed {
                return Err(invalid(format!(
                    "{name} line {}: a quote opened on this line is never closed, so every \
                     line after it would be read as one value: close the quote or remove it",
                    rec.first_line
                )));
            }
            rows.push((
                rec.first_line,
                rec.iter().map(|s| s.trim().to_string()).collect(),
            ));
        }
        (name, rows)
    };
    let mut rows: Vec<(u64, Vec<String>)> = raw
        .into_iter()
        .filter(|(_, r)| r.iter().any(|c| !c.is_empty()))
        .collect();
    // The header: the first of the first ten rows that names the case (a title row above
    // it is common), else the first row.
    let is_key = |c: &String| {
        let n = crate::import::annex_a::normalise(c).replace(' ', "_");
        n == "case_id" || n == "child_id"
    };
    let h = rows
        .iter()
        .take(10)
        .position(|(_, r)| r.iter().any(is_key))
        .unwrap_or(0);
    if rows.is_empty() {
        return Err(invalid(format!("{name}: no rows")));
    }
    let headers = rows[h].1.clone();
    rows.drain(..=h);
    Ok(Table {
        name,
        headers,
        rows,
    })
}

/// `Some(true)` yes, `Some(false)` no, `None` not answered (empty, `n/a`); `Err` otherwise.
pub(super) fn yes_no(v: &str) -> Result<Option<bool>, ()> {
    match v.trim().to_ascii_lowercase().as_str() {
        "" | "n/a" | "na" | "not applicable" | "-" => Ok(None),
        "y" | "yes" | "true" | "1" | "met" | "pass" => Ok(Some(true)),
        "n" | "no" | "false" | "0" | "not met" | "fail" => Ok(Some(false)),
        _ => Err(()),
    }
}

pub(super) fn grade(v: &str) -> Result<Option<&'static str>, ()> {
    let k: String = v
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    match k.trim_matches('_') {
        "" | "n_a" => Ok(None),
        "outstanding" => Ok(Some("outstanding")),
        "good" => Ok(Some("good")),
        "requires_improvement" | "requires_improvement_to_be_good" | "ri" => {
            Ok(Some("requires_improvement"))
        }
        "inadequate" => Ok(Some("inadequate")),
        _ => Err(()),
    }
}

/// Reads completed audits against a sample and estimates every question and grade.
pub fn estimate(
    sample: &SampleFrame,
    results: &Path,
    confidence: f64,
) -> Result<AuditResults, SampleError> {
    estimate_table(sample, read_table(results)?, confidence)
}

/// [`estimate`] from a table already read (the answers of the returned forms).
pub(super) fn estimate_table(
    sample: &SampleFrame,
    t: Table,
    confidence: f64,
) -> Result<AuditResults, SampleError> {
    let norm: Vec<String> = t
        .headers
        .iter()
        .map(|h| crate::import::annex_a::normalise(h).replace(' ', "_"))
        .collect();
    let col = |n: &str| norm.iter().position(|h| h == n);
    let case_col = col("case_id");
    let child_col = col("child_id");
    if case_col.is_none() && child_col.is_none() {
        return Err(invalid(format!(
            "{}: no `case_id` column (nor `child_id`): the results must say which sampled \
             case each row is",
            t.name
        )));
    }
    let grade_col = col("grade");
    let mut errors = Vec::new();
    // Which sampled case each row is.
    let mut answers: Vec<(usize, u64)> = Vec::new(); // (sample index, row index)
    let mut seen: BTreeMap<usize, u64> = BTreeMap::new();
    for (ri, (line, row)) in t.rows.iter().enumerate() {
        let get = |c: Option<usize>| c.and_then(|c| row.get(c)).map(|s| s.as_str()).unwrap_or("");
        let (case, child) = (get(case_col), get(child_col));
        let found = if !case.is_empty() {
            sample.cases.iter().position(|c| c.case_id == case)
        } else {
            let hits: Vec<usize> = (0..sample.cases.len())
                .filter(|&i| !child.is_empty() && sample.cases[i].child_id == child)
                .collect();
            (hits.len() == 1).then(|| hits[0])
        };
        match found {
            None => errors.push(format!(
                "{} line {line}: case `{}` is not in the sample",
                t.name,
                if case.is_empty() { child } else { case }
            )),
            Some(i) => {
                if let Some(first) = seen.insert(i, *line) {
                    errors.push(format!(
                        "{} line {line}: case {} was already given at line {first}",
                        t.name, sample.cases[i].case_id
                    ));
                } else {
                    answers.push((i, ri as u64));
                }
            }
        }
    }
    // Questions: columns answered yes/no; other free-text columns are listed as ignored.
    let skip: Vec<usize> = [case_col, child_col, grade_col]
        .into_iter()
        .flatten()
        .collect();
    let mut questions: Vec<(usize, String)> = Vec::new();
    let mut ignored = Vec::new();
    for (c, h) in t.headers.iter().enumerate() {
        if skip.contains(&c) || SAMPLE_COLUMNS.contains(&norm[c].as_str()) || h.is_empty() {
            continue;
        }
        let values: Vec<(u64, &str)> = t
            .rows
            .iter()
            .map(|(l, r)| (*l, r.get(c).map(|s| s.as_str()).unwrap_or("")))
            .collect();
        let answered = values
            .iter()
            .filter(|(_, v)| matches!(yes_no(v), Ok(Some(_))))
            .count();
        let bad: Vec<&(u64, &str)> = values.iter().filter(|(_, v)| yes_no(v).is_err()).collect();
        if answered == 0 {
            ignored.push(h.clone());
        } else if !bad.is_empty() {
            for (l, v) in bad {
                errors.push(format!(
                    "{} line {l}, column {h}: `{v}` is not yes/no (or empty / n/a for not \
                     answered)",
                    t.name
                ));
            }
        } else {
            questions.push((c, h.clone()));
        }
    }
    if let Some(gc) = grade_col {
        for (l, r) in &t.rows {
            let v = r.get(gc).map(|s| s.as_str()).unwrap_or("");
            if grade(v).is_err() {
                errors.push(format!(
                    "{} line {l}, column grade: `{v}` is not a grade ({})",
                    t.name,
                    GRADES.join(", ")
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(invalid(format!(
            "the audit results have {} problems; nothing was estimated:\n  {}",
            errors.len(),
            errors.join("\n  ")
        )));
    }
    // Tallies per measure and stratum.
    type Key = (String, String); // (measure, answer)
    let mut measures: Vec<Key> = questions
        .iter()
        .map(|(_, q)| (q.clone(), "yes".to_string()))
        .collect();
    if grade_col.is_some() {
        measures.extend(GRADES.iter().map(|g| ("grade".to_string(), g.to_string())));
        measures.push(("grade".into(), "good_or_better".into()));
    }
    let stratum_ix: BTreeMap<&str, usize> = sample
        .strata
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.as_str(), i))
        .collect();
    let mut counts: Vec<Vec<StratumCount>> = measures
        .iter()
        .map(|_| {
            sample
                .strata
                .iter()
                .map(|(_, n)| StratumCount {
                    population: *n,
                    answered: 0,
                    yes: 0,
                })
                .collect()
        })
        .collect();
    for &(ci, ri) in &answers {
        let row = &t.rows[ri as usize].1;
        let Some(&si) = stratum_ix.get(sample.cases[ci].stratum.as_str()) else {
            continue;
        };
        for (mi, (m, a)) in measures.iter().enumerate() {
            let v: Option<bool> = if m == "grade" {
                let g =
                    grade(row.get(grade_col.expect("grade")).map_or("", |s| s)).expect("checked");
                g.map(|g| {
                    if a == "good_or_better" {
                        g == "outstanding" || g == "good"
                    } else {
                        g == a
                    }
                })
            } else {
                let c = questions
                    .iter()
                    .find(|(_, q)| q == m)
                    .expect("a question")
                    .0;
                yes_no(row.get(c).map_or("", |s| s)).expect("checked")
            };
            if let Some(v) = v {
                let s = &mut counts[mi][si];
                s.answered += 1;
                s.yes += u64::from(v);
            }
        }
    }
    let mut rows = Vec::new();
    let mut themes = Vec::new();
    for (mi, (m, a)) in measures.iter().enumerate() {
        let c = &counts[mi];
        let est = stats::stratified_proportion(c, confidence);
        rows.push(EstimateRow {
            measure: m.clone(),
            answer: a.clone(),
            scope: "all".into(),
            population: c
                .iter()
                .filter(|s| s.answered > 0)
                .map(|s| s.population)
                .sum(),
            answered: c.iter().map(|s| s.answered).sum(),
            count: c.iter().map(|s| s.yes).sum(),
            estimate: est.map(|e| e.proportion),
            ci_low: est.map(|e| e.low),
            ci_high: est.map(|e| e.high),
            effective_n: est.map(|e| e.effective_n),
            method: "stratified, Korn-Graubard",
        });
        if m != "grade" {
            if let Some(e) = est {
                // The failure rate and its interval are the complements of the yes rate's.
                themes.push((
                    m.clone(),
                    1.0 - e.proportion,
                    1.0 - e.high,
                    1.0 - e.low,
                    e.answered,
                ));
            }
        }
        for (si, (name, n)) in sample.strata.iter().enumerate() {
            let s = c[si];
            let ci = stats::clopper_pearson(s.yes as f64, s.answered as f64, confidence);
            rows.push(EstimateRow {
                measure: m.clone(),
                answer: a.clone(),
                scope: name.clone(),
                population: *n,
                answered: s.answered,
                count: s.yes,
                estimate: (s.answered > 0).then(|| s.yes as f64 / s.answered as f64),
                ci_low: ci.map(|c| c.0),
                ci_high: ci.map(|c| c.1),
                effective_n: None,
                method: "Clopper-Pearson",
            });
        }
    }
    themes.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let not_audited = (0..sample.cases.len())
        .filter(|i| !seen.contains_key(i))
        .map(|i| sample.cases[i].clone())
        .collect();
    Ok(AuditResults {
        rows,
        themes,
        not_audited,
        questions: questions.into_iter().map(|(_, q)| q).collect(),
        ignored,
        confidence,
    })
}

pub const ESTIMATE_COLUMNS: &[&str] = &[
    "measure",
    "answer",
    "scope",
    "population",
    "answered",
    "count",
    "estimate_pct",
    "ci_low_pct",
    "ci_high_pct",
    "effective_n",
    "method",
];

fn pct(v: Option<f64>) -> Option<f64> {
    v.map(|x| (x * 1000.0).round() / 10.0)
}

pub fn estimates_csv(r: &AuditResults) -> Vec<u8> {
    tabular::to_csv(
        ESTIMATE_COLUMNS,
        r.rows.iter().map(|e| {
            vec![
                Cell::Text(&e.measure),
                Cell::Text(&e.answer),
                Cell::Text(&e.scope),
                Cell::Number(Some(e.population as f64)),
                Cell::Number(Some(e.answered as f64)),
                Cell::Number(Some(e.count as f64)),
                Cell::Number(pct(e.estimate)),
                Cell::Number(pct(e.ci_low)),
                Cell::Number(pct(e.ci_high)),
                Cell::Number(e.effective_n.map(|n| (n * 10.0).round() / 10.0)),
                Cell::Text(e.method),
            ]
        }),
    )
}

pub fn not_audited_csv(r: &AuditResults) -> Vec<u8> {
    tabular::to_csv(
        &["stratum", "case_id", "child_id", "auditor"],
        r.not_audited.iter().map(|c| {
            vec![
                Cell::Text(&c.stratum),
                Cell::Text(&c.case_id),
                Cell::Text(&c.child_id),
                Cell::Text(&c.auditor),
            ]
        }),
    )
}

/// The summary printed for the QA manager.
pub fn to_text(r: &AuditResults) -> String {
    use std::fmt::Write;
    let conf = r.confidence * 100.0;
    let mut s = String::new();
    let show = |e: &EstimateRow| match (e.estimate, e.ci_low, e.ci_high) {
        (Some(p), Some(l), Some(h)) => format!(
            "{:>5.1}%  ({:.1}% to {:.1}%)  {} of {} answered",
            100.0 * p,
            100.0 * l,
            100.0 * h,
            e.count,
            e.answered
        ),
        _ => "not answered".into(),
    };
    let _ = writeln!(
        s,
        "Estimates for the whole population ({conf:.0}% intervals, Korn-Graubard):"
    );
    for e in r.rows.iter().filter(|e| e.scope == "all") {
        let label = if e.measure == "grade" {
            format!("grade: {}", e.answer)
        } else {
            format!("{}: yes", e.measure)
        };
        let _ = writeln!(s, "  {label:<40} {}", show(e));
    }
    if !r.themes.is_empty() {
        let _ = writeln!(
            s,
            "\nThemes (questions by estimated failure rate, highest first):"
        );
        for (i, (q, p, l, h, n)) in r.themes.iter().enumerate() {
            let _ = writeln!(
                s,
                "  {}. {q:<36} {:>5.1}% fail ({:.1}% to {:.1}%), {n} answered",
                i + 1,
                100.0 * p,
                100.0 * l,
                100.0 * h
            );
        }
    }
    if !r.ignored.is_empty() {
        let _ = writeln!(
            s,
            "\nNot yes/no questions, not estimated: {}",
            r.ignored.join(", ")
        );
    }
    let _ = writeln!(s, "\n{} sampled cases not audited yet", r.not_audited.len());
    for c in r.not_audited.iter().take(20) {
        let _ = writeln!(
            s,
            "  {} ({}){}",
            c.case_id,
            c.stratum,
            if c.auditor.is_empty() {
                String::new()
            } else {
                format!(", auditor {}", c.auditor)
            }
        );
    }
    if r.not_audited.len() > 20 {
        let _ = writeln!(
            s,
            "  ... {} more in not_audited.csv",
            r.not_audited.len() - 20
        );
    }
    s
}
