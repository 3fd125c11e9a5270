//! What a sample folder holds: `sample.csv` and `sample.xlsx` for the auditors, and
//! `manifest.json` with everything needed to re-draw the sample and prove it unchanged.

use std::path::{Path, PathBuf};

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Workbook};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{Sample, SampleError};
use crate::tabular::{self, Cell};

pub const MANIFEST: &str = "manifest.json";
pub const SAMPLE_CSV: &str = "sample.csv";
pub const SAMPLE_XLSX: &str = "sample.xlsx";

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An input file and its hash, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// `data`, `history` or `calendar`.
    pub role: String,
    /// The name within the data folder, or the path as given.
    pub name: String,
    pub sha256: String,
}

/// The files a draw read: every extract table in a data folder (or the one import file),
/// the audit history and a calendar file.
pub fn input_files(
    data: &Path,
    history: Option<&Path>,
    calendar: Option<&Path>,
) -> Result<Vec<InputFile>, SampleError> {
    // Only regular files are read: a FIFO or device named as an input would hang the
    // hash or never end.
    let hash = |p: &Path| -> Result<String, SampleError> {
        let regular = std::fs::metadata(p).map(|m| m.is_file()).unwrap_or(false);
        if p.exists() && !regular {
            return Err(super::invalid(format!(
                "{} is not a regular file; an input is read from a file",
                p.display()
            )));
        }
        crate::fsutil::read_input(p, crate::fsutil::MAX_INPUT_BYTES)
            .map(|b| sha256_hex(&b))
            .map_err(|e| super::invalid(format!("cannot read {}: {e}", p.display())))
    };
    let mut out = Vec::new();
    if data.is_dir() {
        for t in crate::schema::TABLES {
            let p = data.join(t.file_name());
            if p.is_file() {
                out.push(InputFile {
                    role: "data".into(),
                    name: t.file_name(),
                    sha256: hash(&p)?,
                });
            }
        }
    } else {
        out.push(InputFile {
            role: "data".into(),
            name: data
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256: hash(data)?,
        });
    }
    for (role, p) in [("history", history), ("calendar", calendar)] {
        if let Some(p) = p {
            out.push(InputFile {
                role: role.into(),
                name: location(&p.display().to_string()),
                sha256: hash(p)?,
            });
        }
    }
    Ok(out)
}

/// The columns of `sample.csv`, before the population table's dates and `breached`.
/// The columns of `sample.csv` before the population's dates.
pub(super) const FIRST_COLUMNS: &[&str] = &[
    "stratum",
    "order",
    "round",
    "case_id",
    "child_id",
    "inclusion_probability",
    "design_weight",
    "auditor",
    "team",
    "worker",
];

fn headers(s: &Sample) -> Vec<&str> {
    let mut h: Vec<&str> = FIRST_COLUMNS.to_vec();
    h.extend(s.date_columns.iter().copied());
    h.push("breached");
    h
}

/// A selected case's text fields, its dates, and its inclusion probability and weight.
type SampleRow = (Vec<String>, Vec<Option<chrono::NaiveDate>>, [f64; 2]);

/// The selected cases, stratum by stratum, in selection order.
fn rows(s: &Sample) -> Vec<SampleRow> {
    let mut sel: Vec<&super::Selected> = s.selected.iter().collect();
    sel.sort_by_key(|x| (x.stratum, x.order));
    sel.iter()
        .map(|x| {
            let c = &s.cases[x.case];
            let st = &s.strata[x.stratum];
            let p = st.inclusion_probability();
            (
                vec![
                    st.name.clone(),
                    x.order.to_string(),
                    x.round.to_string(),
                    c.case_id.clone(),
                    c.child_id.clone().unwrap_or_default(),
                    x.auditor.clone().unwrap_or_default(),
                    c.team.clone().unwrap_or_default(),
                    c.worker.clone().unwrap_or_default(),
                    c.breached.join("; "),
                ],
                c.dates.clone(),
                [p, if p > 0.0 { 1.0 / p } else { 0.0 }],
            )
        })
        .collect()
}

fn cells<'a>((t, dates, [p, w]): &'a SampleRow) -> Vec<Cell<'a>> {
    let mut c = vec![
        Cell::Text(&t[0]),
        Cell::Text(&t[1]),
        Cell::Text(&t[2]),
        Cell::Text(&t[3]),
        Cell::Text(&t[4]),
        Cell::Number(Some(round6(*p))),
        Cell::Number(Some(round6(*w))),
        Cell::Text(&t[5]),
        Cell::Text(&t[6]),
        Cell::Text(&t[7]),
    ];
    c.extend(dates.iter().map(|d| Cell::Date(*d)));
    c.push(Cell::Text(&t[8]));
    c
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

pub fn sample_csv(s: &Sample) -> Vec<u8> {
    let r = rows(s);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(headers(s)).expect("memory");
    for row in &r {
        w.write_record(cells(row).iter().map(|c| match c {
            // Probabilities and weights to 6 places, as the manifest's.
            Cell::Number(v) => tabular::num(*v, 6),
            other => other.text(),
        }))
        .expect("memory");
    }
    w.into_inner().expect("memory")
}

pub fn sample_xlsx(s: &Sample) -> Result<Vec<u8>, SampleError> {
    let r = rows(s);
    let mut wb = Workbook::new();
    // A fixed creation time, so that the same draw gives the same bytes.
    let made = ExcelDateTime::parse_from_str(&s.as_of.to_string())
        .map_err(|e| super::invalid(e.to_string()))?;
    wb.set_properties(
        &DocProperties::new()
            .set_title(&s.plan.title)
            .set_creation_datetime(&made),
    );
    let xerr = |e: rust_xlsxwriter::XlsxError| super::invalid(format!("writing xlsx: {e}"));
    let sheet = wb.add_worksheet().set_name("sample").map_err(xerr)?;
    tabular::write_sheet(sheet, &headers(s), r.iter().map(cells), "0.000000").map_err(xerr)?;
    sheet.set_column_width(0, 28).map_err(xerr)?;
    let strata = wb.add_worksheet().set_name("strata").map_err(xerr)?;
    let srows: Vec<(String, f64, f64, f64)> = s
        .strata
        .iter()
        .map(|st| {
            (
                st.name.clone(),
                st.population() as f64,
                st.size() as f64,
                st.inclusion_probability(),
            )
        })
        .collect();
    tabular::write_sheet(
        strata,
        &["stratum", "population", "sample", "inclusion_probability"],
        srows.iter().map(|(n, a, b, p)| {
            vec![
                Cell::Text(n),
                Cell::Number(Some(*a)),
                Cell::Number(Some(*b)),
                Cell::Number(Some(round6(*p))),
            ]
        }),
        "0.000000",
    )
    .map_err(xerr)?;
    strata.set_column_width(0, 28).map_err(xerr)?;
    wb.save_to_buffer().map_err(xerr)
}

/// A location as the manifest writes it: the path as given, in its normal form (no `//`,
/// no `/./`, no trailing `/`), so that one folder has one spelling and an edit that only
/// respells it is still a difference.
pub fn location(path: &str) -> String {
    Path::new(path)
        .components()
        .collect::<PathBuf>()
        .display()
        .to_string()
}

/// Everything needed to re-draw the sample: the one rendering of a manifest, used by the
/// draw and by `verify` (which compares its bytes with the file's).
///
/// Which fields depend on where and how the command ran, and how `verify` re-derives them:
///
/// - `data`, `metrics`, `plan.file` and the names of the `history` and `calendar` inputs are
///   locations: paths as given (relative to where the command ran), written in normal form
///   ([`location`]). `verify` reads from them (the history beside the plan file, as the plan
///   says), so an edited location reads something else or nothing; it must find the plan
///   file with the text recorded. Only a location replaced by `verify --data`, `--metrics`
///   or `--calendar` is taken from the manifest as recorded (a copy of the data elsewhere is
///   the same evidence); what was read there still has to hash and re-draw the same.
/// - `tool` is re-derived: the version of csc-audit verifying. A sample drawn by another
///   version does not verify with this one (it may draw differently); verify it with the
///   version it names.
/// - Everything else (strata, populations, cases, weights, probabilities, exclusions,
///   selections, notes, totals, the RNG, the plan's text and hash, the inputs' and outputs'
///   hashes) is re-derived from the plan text, period, seed, as-of date and extensions
///   recorded and the files read now (hashed now, never taken from the manifest).
pub fn manifest(
    s: &Sample,
    data: &Path,
    inputs: &[InputFile],
    metrics_origin: &str,
    calendar: &str,
    outputs: &[(&str, &[u8])],
) -> Vec<u8> {
    let strata: Vec<Value> = s
        .strata
        .iter()
        .map(|st| {
            json!({
                "name": st.name,
                "census": st.census,
                "population": st.population(),
                "sample": st.size(),
                "rounds": st.rounds,
                "weight": round6(st.weight),
                "inclusion_probability": round6(st.inclusion_probability()),
                // The stratum's cases in the order the shuffle runs over (by key): with the
                // seed, enough to re-draw it by other means (audits/redraw.py).
                "cases": st.units.iter().map(|&u| s.cases[u].case_id.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut sel: Vec<&super::Selected> = s.selected.iter().collect();
    sel.sort_by_key(|x| (x.stratum, x.order));
    let selected: Vec<Value> = sel
        .iter()
        .map(|x| {
            json!({
                "stratum": s.strata[x.stratum].name,
                "order": x.order,
                "round": x.round,
                "case_id": s.cases[x.case].case_id,
                "child_id": s.cases[x.case].child_id,
            })
        })
        .collect();
    let excluded: Vec<Value> = s
        .excluded
        .iter()
        .map(|e| json!({"case_id": e.case_id, "child_id": e.child_id, "reason": e.reason}))
        .collect();
    let extensions: Vec<u64> = s.strata.iter().fold(Vec::new(), |mut acc: Vec<u64>, st| {
        for (r, n) in st.rounds.iter().enumerate().skip(1) {
            if acc.len() < r {
                acc.resize(r, 0);
            }
            if !st.census {
                acc[r - 1] += n;
            }
        }
        acc
    });
    let doc = json!({
        "tool": format!("csc-audit {}", env!("CARGO_PKG_VERSION")),
        "plan": {
            "id": s.plan.id,
            "title": s.plan.title,
            "file": location(&s.plan.file),
            "sha256": sha256_hex(s.plan.text.as_bytes()),
            "text": s.plan.text,
        },
        "period": s.period.label(),
        "seed": s.seed,
        "rng": super::RNG_NAME,
        "as_of": s.as_of.to_string(),
        "data": location(&data.display().to_string()),
        "inputs": inputs.iter().map(|f| json!({"role": f.role, "name": f.name, "sha256": f.sha256})).collect::<Vec<_>>(),
        "metrics": location(metrics_origin),
        "calendar": calendar,
        "unit": match s.plan.unit { super::Unit::Child => "child", super::Unit::Case => "case" },
        "allocation": s.plan.allocation.name(),
        "size": s.plan.size,
        "extensions": extensions,
        "population": s.cases.len(),
        "strata": strata,
        "excluded": excluded,
        "selected": selected,
        "notes": s.notes,
        "outputs": outputs.iter().map(|(n, b)| json!({"name": n, "sha256": sha256_hex(b)})).collect::<Vec<_>>(),
    });
    let mut doc = doc;
    if s.plan.moderation.is_some() {
        doc["moderation"] = moderation(s);
    }
    let mut out = serde_json::to_vec_pretty(&doc).expect("json");
    out.push(b'\n');
    out
}

/// The moderated cases as the manifest records them: the method, and each case with its
/// first auditor and its moderator, in the order drawn.
fn moderation(s: &Sample) -> Value {
    let cases: Vec<Value> = s
        .moderated
        .iter()
        .map(|m| {
            let sel = &s.selected[m.selected];
            json!({
                "case_id": s.cases[sel.case].case_id,
                "auditor": sel.auditor,
                "moderator": m.moderator,
            })
        })
        .collect();
    json!({"method": super::moderation::METHOD, "cases": cases})
}

/// A manifest read back: what `verify` and `extend` need.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: PathBuf,
    pub doc: Value,
    pub plan_text: String,
    pub plan_file: String,
    pub period: String,
    pub seed: u64,
    pub as_of: chrono::NaiveDate,
    pub data: PathBuf,
    /// Where the measures came from: `built-in` or the folder given to `--metrics`.
    pub metrics: String,
    pub extensions: Vec<u64>,
    pub inputs: Vec<InputFile>,
}

impl Recorded {
    /// The recorded input of a role (`history`, `calendar`): at most one each.
    pub fn input(&self, role: &str) -> Option<&InputFile> {
        self.inputs.iter().find(|f| f.role == role)
    }
}

pub fn read(dir: &Path) -> Result<Recorded, SampleError> {
    let path = dir.join(MANIFEST);
    let bytes = crate::fsutil::read_input(&path, crate::fsutil::MAX_INPUT_BYTES).map_err(|e| {
        super::invalid(format!(
            "cannot read {}: {e} (is {} a sample folder?)",
            path.display(),
            dir.display()
        ))
    })?;
    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|e| super::invalid(format!("{}: not a manifest: {e}", path.display())))?;
    let text = |v: &Value, what: &str| -> Result<String, SampleError> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| super::invalid(format!("{}: no `{what}`", path.display())))
    };
    let inputs = doc["inputs"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| InputFile {
                    role: f["role"].as_str().unwrap_or("").into(),
                    name: f["name"].as_str().unwrap_or("").into(),
                    sha256: f["sha256"].as_str().unwrap_or("").into(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Recorded {
        plan_text: text(&doc["plan"]["text"], "plan.text")?,
        plan_file: text(&doc["plan"]["file"], "plan.file")?,
        period: text(&doc["period"], "period")?,
        seed: doc["seed"]
            .as_u64()
            .ok_or_else(|| super::invalid(format!("{}: no `seed`", path.display())))?,
        as_of: text(&doc["as_of"], "as_of")?
            .parse()
            .map_err(|e| super::invalid(format!("{}: as_of: {e}", path.display())))?,
        data: PathBuf::from(text(&doc["data"], "data")?),
        metrics: text(&doc["metrics"], "metrics")?,
        extensions: doc["extensions"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default(),
        inputs,
        path,
        doc,
    })
}

/// The recorded output hash of `name`.
pub fn recorded_output(r: &Recorded, name: &str) -> Option<String> {
    r.doc["outputs"].as_array()?.iter().find_map(|o| {
        (o["name"].as_str() == Some(name)).then(|| o["sha256"].as_str().unwrap_or("").to_string())
    })
}
