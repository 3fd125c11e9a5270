//! `synth --dirty`: the faults councils' exports really have, injected into clean extracts,
//! each listed in `faults.csv` with the file, line and column, and what `check` must say.
//!
//! Which faults a table can get is read from the schema (a table with a flag column can get a
//! bad flag, one with a same-row order rule an event out of order, ...), so a new column or
//! rule is covered without a change here.

use crate::schema::{
    ColumnSpec, DateRole, Earlier, Kind, TableSpec, ASSESSMENTS, CONTACTS, REFERRALS, SUPERVISIONS,
    WORKERS,
};
use crate::values;
use chrono::{Datelike, Duration, NaiveDate};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// One injected fault and what `check` must report for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub table: &'static str,
    pub file: String,
    /// Line of the row in the file (1 = header); 0 for a whole-file fault.
    pub line: u64,
    pub column: String,
    pub fault: &'static str,
    /// The report's `rule` that catches it.
    pub expected_rule: &'static str,
    /// `rejected` (the row is rejected), `warning` (loaded with a warning), `info` (a note on
    /// the file) or `loads` (a format quirk that must load cleanly).
    pub expected: &'static str,
    pub detail: String,
}

const FAULTS_PER_THOUSAND: f64 = 1.5;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind2 {
    BadDate,
    UsDate,
    ExcelSerial,
    FutureDate,
    TooOld,
    Order,
    MissingRequired,
    Duplicate,
    BadFlag,
    BadCode,
    FieldCount,
    DanglingLink,
}

impl Kind2 {
    fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Kind2::BadDate => ("impossible date", "bad_date", "rejected"),
            Kind2::UsDate => ("US date order", "us_date", "rejected"),
            Kind2::ExcelSerial => ("Excel serial number for a date", "excel_serial", "rejected"),
            Kind2::FutureDate => ("date after the extract date", "future_date", "rejected"),
            Kind2::TooOld => ("date before 1990", "too_old", "rejected"),
            Kind2::Order => ("events out of order", "order", "rejected"),
            Kind2::MissingRequired => ("required value missing", "missing_required", "rejected"),
            Kind2::Duplicate => ("duplicate row", "duplicate_key", "rejected"),
            Kind2::BadFlag => ("unreadable flag", "bad_flag", "rejected"),
            Kind2::BadCode => ("unknown code", "bad_code", "rejected"),
            Kind2::FieldCount => ("stray comma", "field_count", "rejected"),
            Kind2::DanglingLink => ("link to a missing row", "dangling_link", "warning"),
        }
    }
}

fn is_date(c: &ColumnSpec) -> bool {
    matches!(c.kind, Kind::Date | Kind::DateTime)
}

/// The faults this table can carry, from its schema.
fn applicable(spec: &TableSpec) -> Vec<Kind2> {
    let mut kinds = vec![Kind2::Duplicate, Kind2::FieldCount];
    if spec.columns.iter().any(is_date) {
        kinds.extend([Kind2::BadDate, Kind2::UsDate, Kind2::ExcelSerial]);
    }
    if spec
        .columns
        .iter()
        .any(|c| is_date(c) && c.date_role == DateRole::Event)
    {
        kinds.extend([Kind2::FutureDate, Kind2::TooOld]);
    }
    if spec
        .order
        .iter()
        .any(|r| matches!(r.earlier, Earlier::SameRow(_)))
    {
        kinds.push(Kind2::Order);
    }
    if spec.columns.iter().skip(1).any(|c| c.required) {
        kinds.push(Kind2::MissingRequired);
    }
    if spec.columns.iter().any(|c| c.kind == Kind::Flag) {
        kinds.push(Kind2::BadFlag);
    }
    if spec.columns.iter().any(|c| matches!(c.kind, Kind::Code(_))) {
        kinds.push(Kind2::BadCode);
    }
    if spec
        .columns
        .iter()
        .any(|c| c.refers_to.is_some() && !c.required)
    {
        kinds.push(Kind2::DanglingLink);
    }
    kinds
}

fn pick_col<'a>(
    rng: &mut ChaCha8Rng,
    spec: &'a TableSpec,
    rec: &[String],
    ok: impl Fn(&ColumnSpec, &str) -> bool,
) -> Option<(usize, &'a ColumnSpec)> {
    let cands: Vec<usize> = spec
        .columns
        .iter()
        .enumerate()
        .filter(|(i, c)| ok(c, &rec[*i]))
        .map(|(i, _)| i)
        .collect();
    if cands.is_empty() {
        return None;
    }
    let i = cands[rng.random_range(0..cands.len())];
    Some((i, &spec.columns[i]))
}

fn parse(v: &str) -> Option<NaiveDate> {
    values::parse_date(v).ok().flatten()
}

/// Applies `kind` to a record; returns the column name and a detail, or `None` when this row
/// cannot take this fault.
fn apply(
    kind: Kind2,
    spec: &TableSpec,
    rec: &mut Vec<String>,
    as_of: NaiveDate,
    rng: &mut ChaCha8Rng,
) -> Option<(String, String)> {
    let time_of = |v: &str| v.find(' ').map(|i| v[i..].to_string()).unwrap_or_default();
    match kind {
        Kind2::BadDate | Kind2::ExcelSerial | Kind2::FutureDate | Kind2::TooOld | Kind2::UsDate => {
            let (i, c) = pick_col(rng, spec, rec, |c, v| {
                is_date(c)
                    && !v.is_empty()
                    && match kind {
                        Kind2::FutureDate => c.date_role == DateRole::Event,
                        Kind2::TooOld => c.date_role == DateRole::Event,
                        Kind2::UsDate => parse(v).is_some_and(|d| d.day() > 12),
                        _ => true,
                    }
            })?;
            let d = parse(&rec[i])?;
            let t = time_of(&rec[i]);
            let new = match kind {
                Kind2::BadDate => format!("{}-02-30", d.year()),
                Kind2::UsDate => format!("{:02}/{:02}/{}{t}", d.month(), d.day(), d.year()),
                Kind2::ExcelSerial => format!(
                    "{}",
                    (d - NaiveDate::from_ymd_opt(1899, 12, 30).expect("date")).num_days()
                ),
                // A decade out: a typing slip, and far enough ahead not to be taken for the
                // extract date.
                Kind2::FutureDate => format!(
                    "{}{t}",
                    d.with_year(as_of.year() + 10)
                        .unwrap_or(d + Duration::days(3653))
                        .format("%Y-%m-%d")
                ),
                _ => format!("{}{t}", d.with_year(1902).unwrap_or(d).format("%Y-%m-%d")),
            };
            let detail = format!("{} '{}' -> '{}'", c.name, rec[i], new);
            rec[i] = new;
            Some((c.name.to_string(), detail))
        }
        Kind2::Order => {
            let rules: Vec<(usize, usize)> = spec
                .order
                .iter()
                .filter(|r| r.when.is_none())
                .filter_map(|r| match r.earlier {
                    Earlier::SameRow(e) => {
                        Some((spec.column_index(r.later)?, spec.column_index(e)?))
                    }
                    _ => None,
                })
                .filter(|(l, e)| !rec[*l].is_empty() && parse(&rec[*e]).is_some())
                .collect();
            if rules.is_empty() {
                return None;
            }
            let (l, e) = rules[rng.random_range(0..rules.len())];
            let earlier = parse(&rec[e])?;
            let new = format!(
                "{}{}",
                (earlier - Duration::days(3)).format("%Y-%m-%d"),
                time_of(&rec[l])
            );
            let detail = format!(
                "{} '{}' -> '{}' (before {} {})",
                spec.columns[l].name, rec[l], new, spec.columns[e].name, rec[e]
            );
            rec[l] = new;
            Some((spec.columns[l].name.to_string(), detail))
        }
        Kind2::MissingRequired => {
            let (i, c) = pick_col(rng, spec, rec, |c, v| {
                c.required && c.name != spec.key && !v.is_empty()
            })?;
            let detail = format!("{} '{}' blanked", c.name, rec[i]);
            rec[i].clear();
            Some((c.name.to_string(), detail))
        }
        Kind2::BadFlag => {
            let (i, c) = pick_col(rng, spec, rec, |c, _| c.kind == Kind::Flag)?;
            let detail = format!("{} '{}' -> '?'", c.name, rec[i]);
            rec[i] = "?".into();
            Some((c.name.to_string(), detail))
        }
        Kind2::BadCode => {
            let (i, c) = pick_col(rng, spec, rec, |c, _| {
                matches!(c.kind, Kind::Code(_)) && !c.required
            })?;
            let detail = format!("{} '{}' -> 'Closed - see notes'", c.name, rec[i]);
            rec[i] = "Closed - see notes".into();
            Some((c.name.to_string(), detail))
        }
        Kind2::DanglingLink => {
            let (i, c) = pick_col(rng, spec, rec, |c, v| {
                c.refers_to.is_some() && !c.required && !v.is_empty()
            })?;
            let detail = format!("{} '{}' -> 'ZZ9999999'", c.name, rec[i]);
            rec[i] = "ZZ9999999".into();
            Some((c.name.to_string(), detail))
        }
        Kind2::FieldCount => {
            let i = rng.random_range(1..rec.len());
            let detail = format!("a comma inside unquoted {}", spec.columns[i].name);
            rec.insert(i, String::new());
            Some((String::new(), detail))
        }
        Kind2::Duplicate => Some((
            spec.key.to_string(),
            format!("{} '{}' written twice", spec.key, rec[0]),
        )),
    }
}

pub fn inject(
    spec: &'static TableSpec,
    clean: Vec<u8>,
    as_of: NaiveDate,
    rng: &mut ChaCha8Rng,
    faults: &mut Vec<Fault>,
) -> Vec<u8> {
    let file = spec.file_name();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(clean.as_slice());
    let header: Vec<String> = reader
        .headers()
        .expect("our own csv")
        .iter()
        .map(str::to_string)
        .collect();
    let mut records: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("our own csv").iter().map(str::to_string).collect())
        .collect();

    // Choose the rows: about 1.5 in 1,000, at least one of each kind the table can take
    // where it is big enough (at most 2% of a small table, such as workers, so that the
    // rejections it causes downstream do not swamp the report).
    let mut kinds = applicable(spec);
    for i in (1..kinds.len()).rev() {
        kinds.swap(i, rng.random_range(0..=i));
    }
    let n = records.len();
    let total = ((n as f64 * FAULTS_PER_THOUSAND / 1000.0).round() as usize)
        .max(kinds.len().min(n / 50))
        .max(1)
        .min(n);
    let mut plan: Vec<Option<Kind2>> = vec![None; n];
    let mut placed = 0;
    for &k in kinds.iter().cycle().take(total * 4) {
        if placed == total {
            break;
        }
        // A few tries to find a row this fault fits (a US date needs a day after the 12th).
        for _ in 0..20 {
            let r = rng.random_range(0..n);
            if plan[r].is_some() {
                continue;
            }
            let mut trial = records[r].clone();
            let mut trial_rng = rng.clone();
            if apply(k, spec, &mut trial, as_of, &mut trial_rng).is_some() {
                plan[r] = Some(k);
                placed += 1;
                break;
            }
        }
    }
    // One quoted newline in free text, which must load (and shifts every later line).
    let quoted_newline = (spec.name == ASSESSMENTS && !records.is_empty())
        .then(|| rng.random_range(0..records.len()))
        .filter(|r| plan[*r].is_none());

    // The files "saved from Excel on Windows" also get Windows line endings.
    let excel_windows = spec.name == WORKERS || spec.name == SUPERVISIONS;
    let mut w = csv::WriterBuilder::new()
        .terminator(if excel_windows {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .flexible(true)
        .from_writer(Vec::new());
    w.write_record(&header).expect("memory");
    let mut line: u64 = 2;
    let lines_of = |rec: &[String]| {
        1 + rec
            .iter()
            .map(|f| f.matches('\n').count() as u64)
            .sum::<u64>()
    };
    for (r, mut rec) in records.drain(..).enumerate() {
        let original = rec.clone();
        if Some(r) == quoted_newline {
            if let Some(i) = spec.column_index("outcome") {
                rec[i] = format!("{}\n(see case notes)", rec[i]);
                faults.push(Fault {
                    table: spec.name,
                    file: file.clone(),
                    line,
                    column: "outcome".into(),
                    fault: "line break inside a quoted value",
                    expected_rule: "",
                    expected: "loads",
                    detail: "outcome spans two lines".into(),
                });
            }
        }
        let mut duplicate = false;
        if let Some(k) = plan[r] {
            let (name, rule, expected) = k.names();
            if let Some((column, detail)) = apply(k, spec, &mut rec, as_of, rng) {
                duplicate = k == Kind2::Duplicate;
                let at = if duplicate {
                    line + lines_of(&rec)
                } else {
                    line
                };
                faults.push(Fault {
                    table: spec.name,
                    file: file.clone(),
                    line: at,
                    column,
                    fault: name,
                    expected_rule: rule,
                    expected,
                    detail,
                });
            }
        }
        w.write_record(&rec).expect("memory");
        line += lines_of(&rec);
        if duplicate {
            w.write_record(&original).expect("memory");
            line += lines_of(&original);
        }
    }
    let mut bytes = w.into_inner().expect("memory");

    // Whole-file quirks: how Excel saves files.
    if excel_windows {
        let text = String::from_utf8(bytes).expect("utf-8");
        let (encoded, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
        assert!(!unmappable, "synthetic names are all in Windows-1252");
        bytes = encoded.into_owned();
        faults.push(Fault {
            table: spec.name,
            file: file.clone(),
            line: 0,
            column: String::new(),
            fault: "saved as Windows-1252 with CRLF line endings",
            expected_rule: "encoding",
            expected: "info",
            detail: "accented names in Excel's ANSI encoding".into(),
        });
    }
    if spec.name == REFERRALS {
        bytes.splice(0..0, *b"\xEF\xBB\xBF");
        faults.push(Fault {
            table: spec.name,
            file: file.clone(),
            line: 0,
            column: String::new(),
            fault: "UTF-8 byte order mark",
            expected_rule: "",
            expected: "loads",
            detail: "Excel's CSV UTF-8".into(),
        });
    }
    if spec.name == CONTACTS {
        bytes.extend_from_slice(b",,,,\n\n\n");
        faults.push(Fault {
            table: spec.name,
            file: file.clone(),
            line: 0,
            column: String::new(),
            fault: "blank trailing lines",
            expected_rule: "",
            expected: "loads",
            detail: "an empty row of commas and two blank lines at the end".into(),
        });
    }
    bytes
}

pub fn faults_csv(faults: &[Fault]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "table",
        "file",
        "line",
        "column",
        "fault",
        "expected_rule",
        "expected",
        "detail",
    ])
    .expect("memory");
    for f in faults {
        w.write_record([
            f.table,
            &f.file,
            &f.line.to_string(),
            &f.column,
            f.fault,
            f.expected_rule,
            f.expected,
            &f.detail,
        ])
        .expect("memory");
    }
    w.into_inner().expect("memory")
}
