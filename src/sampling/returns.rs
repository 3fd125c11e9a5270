//! The returned audit forms (`audit-results --forms DIR`): every workbook or CSV in the
//! folder read against the sample it was sent with. Each problem is named with its file,
//! sheet, cell and what is allowed; what is not back yet is the chasing list; the
//! moderated cases give the agreement between auditors and moderators; the estimates use
//! the moderator's answer where there is one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::forms::{form_name, MODERATION_PREFIX, UNASSIGNED};
use super::questions::{Kind, Question};
use super::results::{read_table, Table};
use super::{invalid, Sample, SampleError};
use crate::calendar::Calendar;
use crate::stats::{cohen_kappa, Kappa};
use crate::tabular::{self, Cell};

/// Who a form is for: an auditor's first audits or a moderator's second ones.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Audit,
    Moderation,
}

impl Role {
    pub fn name(&self) -> &'static str {
        match self {
            Role::Audit => "audit",
            Role::Moderation => "moderation",
        }
    }
}

/// One case's answers on one form: question id -> answer (canonical label or text).
pub type Answers = BTreeMap<String, String>;

/// A returned form, read.
#[derive(Debug, Clone)]
pub struct Returned {
    pub file: String,
    pub holder: String,
    pub role: Role,
    /// Case id -> answers, for the cases answered on it.
    pub answers: BTreeMap<String, Answers>,
    /// Each problem: file, sheet, cell, what is wrong and what is allowed.
    pub problems: Vec<String>,
    /// What was read other than as written (a case id whose leading zeros a spreadsheet
    /// dropped).
    pub notes: Vec<String>,
}

/// What the forms sent out expect: form name -> (holder, role, its case ids).
fn expected(s: &Sample) -> BTreeMap<String, (String, Role, Vec<String>)> {
    let mut out: BTreeMap<String, (String, Role, Vec<String>)> = BTreeMap::new();
    for x in &s.selected {
        let who = x.auditor.clone().unwrap_or_else(|| UNASSIGNED.to_string());
        out.entry(form_name(&who))
            .or_insert_with(|| (who, Role::Audit, Vec::new()))
            .2
            .push(s.cases[x.case].case_id.clone());
    }
    for m in &s.moderated {
        out.entry(format!("{MODERATION_PREFIX}{}", form_name(&m.moderator)))
            .or_insert_with(|| (m.moderator.clone(), Role::Moderation, Vec::new()))
            .2
            .push(s.cases[s.selected[m.selected].case].case_id.clone());
    }
    out
}

/// An answer in the list a question allows (ignoring case and spaces around it; yes/no
/// and grades also as `audit-results --results` reads them: `Y`, `RI`, `Requires
/// improvement`). `Some(None)`: written as not answered (`n/a`).
fn allowed(q: &Question, v: &str) -> Option<Option<String>> {
    match &q.kind {
        Kind::Text => Some(Some(v.to_string())),
        Kind::YesNo => super::results::yes_no(v)
            .ok()
            .map(|b| b.map(|b| if b { "yes" } else { "no" }.to_string())),
        Kind::Grade => super::results::grade(v).ok().map(|g| g.map(str::to_string)),
        k => k
            .allowed()
            .into_iter()
            .find(|a| a.eq_ignore_ascii_case(v.trim()))
            .map(Some),
    }
}

/// The one sent case id that `written` is once leading zeros are dropped from both, when
/// `written` is all digits and not itself sent.
fn unzeroed<'a>(written: &str, cases: &'a [String]) -> Option<&'a str> {
    if written.is_empty() || !written.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if cases.iter().any(|c| c == written) {
        return None;
    }
    let bare = |s: &str| s.trim_start_matches('0').to_string();
    let mut hits = cases
        .iter()
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()) && bare(c) == bare(written));
    match (hits.next(), hits.next()) {
        (Some(c), None) => Some(c.as_str()),
        _ => None,
    }
}

/// The largest returned form read: a month's cases are kilobytes.
const MAX_FORM_BYTES: u64 = 16 << 20;

/// Problems listed per form before the rest are counted.
const MAX_PROBLEMS: usize = 50;

/// Reads one returned form against what was sent.
fn read_form(
    path: &Path,
    stem: &str,
    sent: &(String, Role, Vec<String>),
    questions: &[Question],
) -> Returned {
    let (holder, role, cases) = sent;
    let mut r = Returned {
        file: path.display().to_string(),
        holder: holder.clone(),
        role: role.clone(),
        answers: BTreeMap::new(),
        problems: Vec::new(),
        notes: Vec::new(),
    };
    if std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_FORM_BYTES) {
        r.problems.push(format!(
            "{}: over {} MiB, far more than a form of this sample: return the form as it was sent",
            path.display(),
            MAX_FORM_BYTES >> 20
        ));
        return r;
    }
    let t: Table = match read_table(path) {
        Ok(t) => t,
        Err(e) => {
            r.problems.push(e.to_string());
            return r;
        }
    };
    let col = |id: &str| t.headers.iter().position(|h| h.trim() == id);
    let Some(case_col) = col("case_id") else {
        r.problems.push(format!(
            "{}: no `case_id` column: return the form as it was sent",
            t.name
        ));
        return r;
    };
    let qcols: Vec<(usize, &Question)> = match questions
        .iter()
        .map(|q| col(&q.id).map(|c| (c, q)).ok_or(&q.id))
        .collect::<Result<_, _>>()
    {
        Ok(v) => v,
        Err(id) => {
            r.problems.push(format!(
                "{}: no column `{id}`: return the form as it was sent",
                t.name
            ));
            return r;
        }
    };
    for (line, row) in &t.rows {
        let get = |c: usize| row.get(c).map(|s| s.trim()).unwrap_or("");
        let at = |c: usize| {
            format!(
                "{}, cell {}{line}",
                t.name,
                crate::import::workbook::column_name(c as u32)
            )
        };
        let written = get(case_col);
        // A spreadsheet reads `00123` as the number 123: the one sent id it can be.
        let case = match unzeroed(written, cases) {
            Some(id) => {
                r.notes.push(format!(
                    "{}: case `{written}` read as `{id}` (its leading zeros were dropped)",
                    at(case_col)
                ));
                id
            }
            None => written,
        };
        if !cases.iter().any(|x| x == case) {
            r.problems.push(format!(
                "{}: case `{case}` is not one of this form's ({stem}: {holder}'s {}): answer only \
                 the cases sent",
                at(case_col),
                role.name()
            ));
            continue;
        }
        if qcols.iter().all(|(c, _)| get(*c).is_empty()) {
            continue; // Not answered yet: outstanding.
        }
        let mut a = Answers::new();
        for (c, q) in &qcols {
            let v = get(*c);
            if v.is_empty() {
                if q.required {
                    r.problems.push(format!(
                        "{}: `{}` is required and not answered",
                        at(*c),
                        q.id
                    ));
                }
                continue;
            }
            match allowed(q, v) {
                Some(Some(x)) => {
                    a.insert(q.id.clone(), x);
                }
                Some(None) if q.required => r.problems.push(format!(
                    "{}: `{}` is required; `{v}` does not answer it",
                    at(*c),
                    q.id
                )),
                Some(None) => {}
                None => r.problems.push(format!(
                    "{}: `{v}` is not an answer to `{}`; allowed: {}",
                    at(*c),
                    q.id,
                    q.kind.allowed().join(", ")
                )),
            }
        }
        if r.answers.insert(case.to_string(), a).is_some() {
            r.problems
                .push(format!("{}: case `{case}` is answered twice", at(case_col)));
        }
    }
    if r.problems.len() > MAX_PROBLEMS {
        let more = r.problems.len() - MAX_PROBLEMS;
        r.problems.truncate(MAX_PROBLEMS);
        r.problems
            .push(format!("{}: and {more} more problems", t.name));
    }
    r
}

/// Every form returned in `dir`: a workbook or CSV named as sent (an Excel lock file `~$..`
/// and hidden files are passed over); a file that is no form of this sample, or a form
/// returned twice, is a problem of its own.
pub fn read_returns(s: &Sample, dir: &Path) -> Result<(Vec<Returned>, Vec<String>), SampleError> {
    let sent = expected(s);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| invalid(format!("cannot read {}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let ext = p
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase());
            !n.starts_with('.')
                && !n.starts_with("~$")
                && matches!(ext.as_deref(), Some("xlsx" | "csv"))
        })
        .collect();
    files.sort();
    let mut by_form: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let mut problems = Vec::new();
    for p in files {
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let key = stem.to_lowercase();
        if sent.contains_key(&key) {
            by_form.entry(key).or_default().push(p);
        } else {
            problems.push(format!(
                "{}: not a form of this sample; its forms are {}",
                p.display(),
                sent.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    let mut out: Vec<Returned> = Vec::new();
    for (key, paths) in by_form {
        // Two copies of one form (a filled workbook beside the blank CSV): neither is read,
        // since either could be the one meant.
        if paths.len() > 1 {
            let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            problems.push(format!(
                "the form `{key}` is returned twice ({}): keep the one filled in, move the other out",
                shown.join(" and ")
            ));
            continue;
        }
        out.push(read_form(&paths[0], &key, &sent[&key], &s.plan.questions));
    }
    Ok((out, problems))
}

fn form_key(file: &str) -> String {
    Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

/// A case not returned yet, for the chasing list.
#[derive(Debug, Clone, PartialEq)]
pub struct Outstanding {
    pub case_id: String,
    pub role: Role,
    pub holder: String,
    pub due: Option<NaiveDate>,
    pub working_days_overdue: Option<i64>,
}

/// Every case whose form has not come back (or came back without it), each with the due
/// date and the working days since it, on `today`.
pub fn outstanding(
    s: &Sample,
    used: &[Returned],
    cal: &Calendar,
    today: NaiveDate,
) -> Result<Vec<Outstanding>, SampleError> {
    // Blank before the due date (not overdue yet), 0 on it.
    let overdue = match s.forms_due {
        Some(d) if today >= d => Some(i64::from(
            cal.working_days_between(d, today)
                .map_err(|e| invalid(format!("the chasing list: {e}")))?,
        )),
        _ => None,
    };
    let mut out = Vec::new();
    for (form, (holder, role, cases)) in expected(s) {
        let back = used.iter().find(|r| form_key(&r.file) == form);
        for c in cases {
            if back.is_some_and(|r| r.answers.contains_key(&c)) {
                continue;
            }
            out.push(Outstanding {
                case_id: c,
                role: role.clone(),
                holder: holder.clone(),
                due: s.forms_due,
                working_days_overdue: overdue,
            });
        }
    }
    out.sort_by(|a, b| (&a.holder, &a.role, &a.case_id).cmp(&(&b.holder, &b.role, &b.case_id)));
    Ok(out)
}

/// Agreement on one question over the moderated cases both answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    pub question: String,
    pub cases: u64,
    pub kappa: Option<Kappa>,
    pub agreement: Option<f64>,
    /// The counts: first auditor's answer (rows) by moderator's (columns), in the
    /// question's order of answers.
    pub table: Vec<Vec<u64>>,
}

/// A moderated case and question where the two answers differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Disagreement {
    pub case_id: String,
    pub question: String,
    pub auditor: String,
    pub auditor_answer: String,
    pub moderator: String,
    pub moderator_answer: String,
}

/// The pairs (first audit, moderation) of each moderated case that both came back.
fn pairs<'a>(s: &'a Sample, used: &'a [Returned]) -> Vec<(&'a str, &'a Returned, &'a Returned)> {
    let mut out = Vec::new();
    for m in &s.moderated {
        let sel = &s.selected[m.selected];
        let id = s.cases[sel.case].case_id.as_str();
        let who = sel
            .auditor
            .clone()
            .unwrap_or_else(|| UNASSIGNED.to_string());
        let first = used
            .iter()
            .find(|r| r.role == Role::Audit && form_key(&r.file) == form_name(&who));
        let second = used.iter().find(|r| {
            r.role == Role::Moderation
                && form_key(&r.file) == format!("{MODERATION_PREFIX}{}", form_name(&m.moderator))
        });
        if let (Some(a), Some(b)) = (first, second) {
            if a.answers.contains_key(id) && b.answers.contains_key(id) {
                out.push((id, a, b));
            }
        }
    }
    out
}

/// Per closed question: observed agreement and Cohen's kappa (unweighted for yes/no, linear
/// weights for grades and scales) with its interval; and every disagreement.
pub fn agreement(
    s: &Sample,
    used: &[Returned],
    confidence: f64,
) -> (Vec<Agreement>, Vec<Disagreement>) {
    let pairs = pairs(s, used);
    let mut rows = Vec::new();
    let mut apart = Vec::new();
    for q in s.plan.questions.iter().filter(|q| q.kind != Kind::Text) {
        let cats = q.kind.allowed();
        let k = cats.len();
        let mut table = vec![vec![0.0; k]; k];
        let mut n = 0u64;
        for (id, a, b) in &pairs {
            let (Some(x), Some(y)) = (a.answers[*id].get(&q.id), b.answers[*id].get(&q.id)) else {
                continue;
            };
            let (i, j) = (
                cats.iter().position(|c| c == x).expect("checked"),
                cats.iter().position(|c| c == y).expect("checked"),
            );
            table[i][j] += 1.0;
            n += 1;
            if i != j {
                apart.push(Disagreement {
                    case_id: id.to_string(),
                    question: q.id.clone(),
                    auditor: a.holder.clone(),
                    auditor_answer: x.clone(),
                    moderator: b.holder.clone(),
                    moderator_answer: y.clone(),
                });
            }
        }
        let linear = !matches!(q.kind, Kind::YesNo);
        let kappa = cohen_kappa(&table, linear, confidence);
        let same: f64 = (0..k).map(|i| table[i][i]).sum();
        rows.push(Agreement {
            question: q.id.clone(),
            cases: n,
            agreement: (n > 0).then(|| same / n as f64),
            kappa,
            table: table
                .iter()
                .map(|r| r.iter().map(|&v| v as u64).collect())
                .collect(),
        });
    }
    (rows, apart)
}

/// The answers the estimates use, one row per case returned: the moderator's answer where
/// there is one (whether or not the first audit came back), else the first auditor's; with
/// how many answers were moderated and how many of those differ from the first audit.
pub fn final_answers(used: &[Returned]) -> (BTreeMap<String, Answers>, u64, u64) {
    let mut out: BTreeMap<String, Answers> = BTreeMap::new();
    for r in used.iter().filter(|r| r.role == Role::Audit) {
        for (c, a) in &r.answers {
            out.insert(c.clone(), a.clone());
        }
    }
    let (mut moderated, mut changed) = (0, 0);
    for r in used.iter().filter(|r| r.role == Role::Moderation) {
        for (id, answers) in &r.answers {
            let first = out.entry(id.clone()).or_default();
            for (q, v) in answers {
                moderated += 1;
                if first.get(q).is_some_and(|f| f != v) {
                    changed += 1;
                }
                first.insert(q.clone(), v.clone());
            }
        }
    }
    (out, moderated, changed)
}

/// The final answers as a results table for the estimates: `case_id`, each yes/no
/// question, and `grade` (the plan's question `grade`, else its first grade question).
pub(super) fn estimate_table(
    s: &Sample,
    answers: &BTreeMap<String, Answers>,
) -> (Table, Vec<String>) {
    let yes_no: Vec<&Question> = s
        .plan
        .questions
        .iter()
        .filter(|q| q.kind == Kind::YesNo)
        .collect();
    let grade = s
        .plan
        .questions
        .iter()
        .find(|q| q.kind == Kind::Grade && q.id == "grade")
        .or_else(|| s.plan.questions.iter().find(|q| q.kind == Kind::Grade));
    let not_estimated = s
        .plan
        .questions
        .iter()
        .filter(|q| q.kind != Kind::YesNo && grade.is_none_or(|g| g.id != q.id))
        .map(|q| q.id.clone())
        .collect();
    let mut headers = vec!["case_id".to_string()];
    headers.extend(yes_no.iter().map(|q| q.id.clone()));
    if grade.is_some() {
        headers.push("grade".into());
    }
    let rows = answers
        .iter()
        .enumerate()
        .map(|(i, (case, a))| {
            let mut r = vec![case.clone()];
            r.extend(
                yes_no
                    .iter()
                    .map(|q| a.get(&q.id).cloned().unwrap_or_default()),
            );
            if let Some(g) = grade {
                r.push(a.get(&g.id).cloned().unwrap_or_default());
            }
            (i as u64 + 2, r)
        })
        .collect();
    (
        Table {
            name: "the returned forms".into(),
            headers,
            rows,
        },
        not_estimated,
    )
}

/// `outstanding.csv`.
pub fn outstanding_csv(rows: &[Outstanding]) -> Vec<u8> {
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|o| {
            [
                o.case_id.clone(),
                o.role.name().to_string(),
                o.holder.clone(),
                o.due.map(|d| d.to_string()).unwrap_or_default(),
                o.working_days_overdue
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    tabular::to_csv(
        &["case_id", "role", "auditor", "due", "working_days_overdue"],
        cells
            .iter()
            .map(|r| r.iter().map(|v| Cell::Text(v)).collect()),
    )
}

/// `agreement.csv`, with exactly the columns question,cases,agreement,kappa,kappa_low,
/// kappa_high (proportions to 6 decimal places; kappa empty where it is not defined).
pub fn agreement_csv(rows: &[Agreement]) -> Vec<u8> {
    let r6 = |v: Option<f64>| v.map_or(String::new(), |v| format!("{}", (v * 1e6).round() / 1e6));
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|a| {
            [
                a.question.clone(),
                a.cases.to_string(),
                r6(a.agreement),
                r6(a.kappa.map(|k| k.kappa)),
                r6(a.kappa.map(|k| k.low)),
                r6(a.kappa.map(|k| k.high)),
            ]
        })
        .collect();
    tabular::to_csv(
        &[
            "question",
            "cases",
            "agreement",
            "kappa",
            "kappa_low",
            "kappa_high",
        ],
        cells
            .iter()
            .map(|r| r.iter().map(|v| Cell::Text(v)).collect()),
    )
}

/// `disagreements.csv` (child-level: for the moderation meeting).
pub fn disagreements_csv(rows: &[Disagreement]) -> Vec<u8> {
    tabular::to_csv(
        &[
            "case_id",
            "question",
            "auditor",
            "auditor_answer",
            "moderator",
            "moderator_answer",
        ],
        rows.iter().map(|d| {
            vec![
                Cell::Text(&d.case_id),
                Cell::Text(&d.question),
                Cell::Text(&d.auditor),
                Cell::Text(&d.auditor_answer),
                Cell::Text(&d.moderator),
                Cell::Text(&d.moderator_answer),
            ]
        }),
    )
}

/// Everything `audit-results --forms` reports.
#[derive(Debug, Clone)]
pub struct FormsResults {
    pub estimates: super::results::AuditResults,
    pub outstanding: Vec<Outstanding>,
    pub agreement: Vec<Agreement>,
    pub disagreements: Vec<Disagreement>,
    /// Answers of moderated cases, and how many the moderator changed.
    pub moderated: u64,
    pub changed: u64,
    /// Questions the estimates do not cover (scales, text, a second grade question).
    pub not_estimated: Vec<String>,
    /// With `skip_invalid`: each form (or file) left out, and why.
    pub skipped: Vec<String>,
    /// Forms read and used.
    pub used: Vec<Returned>,
}

/// Reads the returned forms in `dir` against the sample and reports. A form with a problem
/// stops everything (every problem listed) unless `skip_invalid`, which leaves such forms
/// out and lists them.
pub fn forms_results(
    s: &Sample,
    dir: &Path,
    cal: &Calendar,
    today: NaiveDate,
    confidence: f64,
    skip_invalid: bool,
) -> Result<FormsResults, SampleError> {
    if s.plan.questions.is_empty() {
        return Err(invalid(
            "this sample's plan asks no questions, so it sent no forms: use --results".to_string(),
        ));
    }
    let (returned, mut problems) = read_returns(s, dir)?;
    problems.extend(returned.iter().flat_map(|r| r.problems.iter().cloned()));
    if !problems.is_empty() && !skip_invalid {
        return Err(invalid(format!(
            "the returned forms have {} problems; nothing was estimated (fix them, or give \
             --skip-invalid to leave those forms out):\n  {}",
            problems.len(),
            problems.join("\n  ")
        )));
    }
    let skipped: Vec<String> = problems;
    let used: Vec<Returned> = returned
        .into_iter()
        .filter(|r| r.problems.is_empty())
        .collect();
    let (answers, moderated, changed) = final_answers(&used);
    if answers.is_empty() {
        return Err(invalid(format!(
            "no answers in the forms returned to {} yet ({} forms read, {} left out): nothing \
             to estimate; all {} cases are outstanding",
            dir.display(),
            used.len(),
            skipped.len(),
            s.selected.len()
        )));
    }
    let (table, not_estimated) = estimate_table(s, &answers);
    let frame = super::results::SampleFrame::from_sample(s);
    let estimates = super::results::estimate_table(&frame, table, confidence)?;
    let (agreement, disagreements) = agreement(s, &used, confidence);
    Ok(FormsResults {
        estimates,
        outstanding: outstanding(s, &used, cal, today)?,
        agreement,
        disagreements,
        moderated,
        changed,
        not_estimated,
        skipped,
        used,
    })
}

#[cfg(test)]
mod tests {
    use super::unzeroed;

    #[test]
    fn a_case_id_that_lost_its_leading_zeros_is_the_one_sent_id_it_can_be() {
        let sent: Vec<String> = ["00123", "0456", "P0001", "789"].map(String::from).to_vec();
        assert_eq!(unzeroed("123", &sent), Some("00123"));
        assert_eq!(unzeroed("456", &sent), Some("0456"));
        // Written as sent, not digits, or no such id: as written.
        assert_eq!(unzeroed("789", &sent), None);
        assert_eq!(unzeroed("P1", &sent), None);
        assert_eq!(unzeroed("999", &sent), None);
        // Two sent ids it could be: neither.
        let both: Vec<String> = ["0123", "00123"].map(String::from).to_vec();
        assert_eq!(unzeroed("123", &both), None);
    }
}
