//! The DfE children in need census (XML) into the native tables: children, referrals (one
//! per `CINdetails`), assessments, S47 enquiries, conferences (initial ones from
//! `DateOfInitialCPC`, reviews from `CPPreviewDate`) and CP plans.
//!
//! The file is read once into memory and streamed with quick-xml, one child at a time.
//! Every block element (`Child`, `CINdetails`, ...) is counted wherever it is: one in a
//! place the census does not have it (a Child inside a Child or outside `<Children>`) is
//! reported with its line and rejected with what it holds, never merged or dropped; a second
//! Child with the same `LAchildID` is rejected as the checks would; a file cut short is
//! refused.
//! The census has no keys below the child, so rows get keys from the child's
//! `LAchildID` and their position: `X123-R2` is the child's second referral episode,
//! `X123-R2-S1` its first S47, `X123-R2-P1-RCPC2` the second review of its first plan.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use quick_xml::events::Event;
use quick_xml::Reader;

use super::{ImportReport, Tables};
use crate::report::{Issue, Severity};
use crate::schema::{self, ASSESSMENTS, CHILDREN, CONFERENCES, CP_PLANS, REFERRALS, S47_ENQUIRIES};
use crate::values;

pub const FORMAT: &str = "DfE CIN census (XML)";

/// The largest census file read.
pub const MAX_CENSUS_BYTES: u64 = 1 << 30;

/// The native tables the census fills, in the journey's order.
pub fn tables() -> Vec<&'static schema::TableSpec> {
    [
        CHILDREN,
        REFERRALS,
        ASSESSMENTS,
        S47_ENQUIRIES,
        CP_PLANS,
        CONFERENCES,
    ]
    .iter()
    .map(|t| schema::table(t).expect("a schema table"))
    .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum CinError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: String, message: String },
}

/// A value read from the file, with the line it was on.
#[derive(Debug, Clone, Default)]
struct Field {
    text: String,
    line: u64,
}

#[derive(Debug, Default)]
struct Plan {
    line: u64,
    fields: BTreeMap<&'static str, Field>,
    reviews: Vec<Field>,
}

#[derive(Debug, Default)]
struct Block {
    line: u64,
    fields: BTreeMap<&'static str, Field>,
}

#[derive(Debug, Default)]
struct Episode {
    line: u64,
    fields: BTreeMap<&'static str, Field>,
    assessments: Vec<Block>,
    s47s: Vec<Block>,
    plans: Vec<Plan>,
}

#[derive(Debug, Default)]
struct Child {
    line: u64,
    fields: BTreeMap<&'static str, Field>,
    disabilities: Vec<String>,
    episodes: Vec<Episode>,
}

/// Elements whose text is kept, by the block they belong to.
const CHILD_FIELDS: &[&str] = &[
    "LAchildID",
    "PersonBirthDate",
    "ExpectedPersonBirthDate",
    "GenderCurrent",
    // Later census years may carry `Sex` instead of `GenderCurrent`.
    "Sex",
    "Ethnicity",
];
const EPISODE_FIELDS: &[&str] = &[
    "CINreferralDate",
    "ReferralSource",
    "ReferralNFA",
    "DateOfInitialCPC",
];
const ASSESSMENT_FIELDS: &[&str] = &["AssessmentActualStartDate", "AssessmentAuthorisationDate"];
const S47_FIELDS: &[&str] = &["S47ActualStartDate", "DateOfInitialCPC", "ICPCnotRequired"];
const PLAN_FIELDS: &[&str] = &[
    "CPPstartDate",
    "CPPendDate",
    "InitialCategoryOfAbuse",
    "LatestCategoryOfAbuse",
];
/// The blocks accounted for, outermost first.
const BLOCKS: &[&str] = &[
    "Child",
    "CINdetails",
    "Assessments",
    "Section47",
    "ChildProtectionPlans",
];
/// Containers: elements that hold others and no value of their own.
const CONTAINERS: &[&str] = &[
    "Message",
    "Header",
    "CollectionDetails",
    "Source",
    "Children",
    "ChildIdentifiers",
    "ChildCharacteristics",
    "Disabilities",
    "FactorsIdentifiedAtAssessment",
    "CINPlanDates",
    "Reviews",
];

/// Reads a CIN census file into native tables, accounting for every child and every
/// `CINdetails` block (and the blocks inside it).
pub fn import(path: &std::path::Path) -> Result<(Tables, ImportReport), CinError> {
    let shown = path.display().to_string();
    let io = |source| CinError::Io {
        path: shown.clone(),
        source,
    };
    // The file is read whole: its size is the bound on the memory it takes.
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_CENSUS_BYTES {
        return Err(CinError::Format {
            path: shown,
            message: format!(
                "the file is {} MiB; csc-audit reads census files of at most {} MiB (a \
                 national census of every child is smaller): check it is the census",
                size >> 20,
                MAX_CENSUS_BYTES >> 20
            ),
        });
    }
    let bytes = crate::fsutil::read_input(path, MAX_CENSUS_BYTES).map_err(io)?;
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes)).map_err(
        |e| CinError::Format {
            path: shown.clone(),
            message: format!(
                "not UTF-8 (byte {}): the CIN census is UTF-8 XML; re-export it from the \
                 case-management system",
                e.valid_up_to()
            ),
        },
    )?;
    let file = path
        .file_name()
        .map_or(shown.clone(), |n| n.to_string_lossy().into_owned());
    parse(text, &file).map_err(|message| CinError::Format {
        path: shown,
        message,
    })
}

/// Counts lines up to byte offsets that only move forward.
struct Lines<'a> {
    text: &'a [u8],
    at: usize,
    line: u64,
}

impl Lines<'_> {
    fn line_at(&mut self, offset: usize) -> u64 {
        let offset = offset.min(self.text.len());
        if offset > self.at {
            self.line += self.text[self.at..offset]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64;
            self.at = offset;
        }
        self.line
    }
}

/// Parses the text of a census file (`file` names it in the report).
pub fn parse(text: &str, file: &str) -> Result<(Tables, ImportReport), String> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut lines = Lines {
        text: text.as_bytes(),
        at: 0,
        line: 1,
    };
    let mut out = Output {
        tables: Tables::default(),
        report: ImportReport {
            format: FORMAT.into(),
            block_order: BLOCKS.iter().map(|b| b.to_string()).collect(),
            ..ImportReport::default()
        },
        file: file.to_string(),
        children: BTreeMap::new(),
    };
    let mut st = State::default();
    loop {
        let start = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| {
            format!(
                "line {}: not well-formed XML: {e}",
                lines.line_at(reader.error_position() as usize)
            )
        })?;
        // An element starts after any whitespace before its `<`.
        let mut element_line = || lines.line_at(start + text[start..].find('<').unwrap_or(0));
        match event {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                st.start(name, element_line(), &mut out);
            }
            Event::Empty(e) => {
                // `<UPN/>`, `<Child/>`: an element with no value, read as one opened and
                // closed at once (an empty block is still a block to account for).
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                st.start(name, element_line(), &mut out);
                st.end(&mut out)?;
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| format!("bad text: {e}"))?;
                st.value.push_str(&s);
            }
            Event::CData(t) => st.value.push_str(&String::from_utf8_lossy(&t)),
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| format!("bad reference: {e}"))?;
                // An entity the XML does not define would change the value silently if
                // dropped: the file is not well-formed.
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    Ok(None) => {
                        quick_xml::escape::resolve_predefined_entity(&name).map(str::to_string)
                    }
                    Err(_) => None,
                };
                match c {
                    Some(c) => st.value.push_str(&c),
                    None => {
                        return Err(format!(
                            "line {}: not well-formed XML: '&{name};' is not a character or \
                             entity XML defines; export the file again",
                            element_line()
                        ))
                    }
                }
            }
            Event::End(_) => st.end(&mut out)?,
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some((name, line)) = st.open.last() {
        return Err(format!(
            "line {}: the file ends inside <{name}> (opened on line {line}): it is cut short; \
             export it again",
            lines.line_at(text.len())
        ));
    }
    if !st.seen_message {
        return Err(
            "no <Message> element: this is not a CIN census file (expected \
             <Message><Header>..</Header><Children><Child>..)"
                .into(),
        );
    }
    let mut report = out.report;
    for spec in tables() {
        report.rows_written.insert(
            spec.name.to_string(),
            out.tables.rows(spec.name).len() as u64,
        );
    }
    report.source = file.to_string();
    Ok((out.tables, report))
}

/// Where the reading is: the open elements, the value being read, the child being built,
/// and the block being skipped, if any.
#[derive(Default)]
struct State {
    /// The open elements, outermost first, with the line each started on.
    open: Vec<(String, u64)>,
    value: String,
    value_line: u64,
    child: Option<Child>,
    /// A block in a place the census does not have it: its depth in `open`; what it holds
    /// is counted as rejected, not read.
    skip: Option<usize>,
    seen_message: bool,
}

impl State {
    fn start(&mut self, name: String, line: u64, out: &mut Output) {
        self.seen_message |= name == "Message";
        if self.skip.is_some() {
            skipped_block(&name, line, &self.open, out);
        } else if let Some(why) = misplaced(&name, &self.open, self.child.as_ref()) {
            let block = if name == "Child" {
                "Child"
            } else {
                name.as_str()
            };
            out.issue(block, line, None, "misplaced_block", Severity::Error, why);
            out.count(block, false);
            self.skip = Some(self.open.len() + 1);
        } else {
            open(&mut self.child, parent_of(&self.open), &name, line);
        }
        self.open.push((name, line));
        self.value.clear();
        self.value_line = line;
    }

    fn end(&mut self, out: &mut Output) -> Result<(), String> {
        let Some((name, _)) = self.open.pop() else {
            return Err("an end tag with no start".into());
        };
        match self.skip {
            Some(depth) if self.open.len() < depth => self.skip = None,
            Some(_) => {}
            None => {
                let v = self.value.trim().replace('\u{a0}', " ");
                let parent = parent_of(&self.open).unwrap_or("");
                close(&mut self.child, parent, &name, &v, self.value_line, out);
            }
        }
        self.value.clear();
        Ok(())
    }
}

/// The element the next one opens inside.
fn parent_of(open: &[(String, u64)]) -> Option<&str> {
    open.last().map(|(p, _)| p.as_str())
}

/// Why a block cannot be read where it is (`None`: it is where the census has it). Each
/// block is read only directly inside its parent, so that a block in the wrong place can
/// neither replace the one being read nor be lost without a word.
fn misplaced(name: &str, open: &[(String, u64)], child: Option<&Child>) -> Option<String> {
    let expected = match name {
        "Child" => "Children",
        "CINdetails" => "Child",
        "Assessments" | "Section47" | "ChildProtectionPlans" => "CINdetails",
        _ => return None,
    };
    let parent = parent_of(open);
    if name == "Child" {
        if let Some(c) = child {
            return Some(format!(
                "a Child nested inside another Child (the one on line {}): not loaded, with \
                 what it holds; the outer child is read without it. Each Child belongs \
                 directly in <Children>: fix the export",
                c.line
            ));
        }
    }
    if parent == Some(expected) {
        return None;
    }
    let inside = parent.map_or("outside every element".to_string(), |p| {
        format!("inside <{p}>")
    });
    Some(format!(
        "a {name} {inside}, not directly inside <{expected}>: not loaded, with what it holds. \
         The census has {name} only in <{expected}>: fix the export"
    ))
}

/// A block inside a block that is not read: counted as rejected; each Child also reported
/// with its line, since every child must be loaded or reported.
fn skipped_block(name: &str, line: u64, open: &[(String, u64)], out: &mut Output) {
    if !BLOCKS.contains(&name) {
        return;
    }
    if name == "Child" {
        let (outer, outer_line) = open
            .iter()
            .rev()
            .find(|(n, _)| BLOCKS.contains(&n.as_str()))
            .map_or(("block", 0), |(n, l)| (n.as_str(), *l));
        out.issue(
            "Child",
            line,
            None,
            "misplaced_block",
            Severity::Error,
            format!(
                "a Child inside a {outer} that is not loaded (the one on line {outer_line}): \
                 not loaded"
            ),
        );
    }
    out.count(name, false);
}

struct Output {
    tables: Tables,
    report: ImportReport,
    file: String,
    /// Each child loaded, by its ID as the checks read it, with its line.
    children: BTreeMap<String, u64>,
}

impl Output {
    fn issue(
        &mut self,
        block: &str,
        line: u64,
        column: Option<&str>,
        rule: &str,
        sev: Severity,
        message: String,
    ) {
        self.report.issues.push(Issue {
            table: block.to_string(),
            file: self.file.clone(),
            line: Some(line),
            column: column.map(str::to_string),
            rule: rule.to_string(),
            severity: sev,
            message,
        });
    }

    fn count(&mut self, block: &str, loaded: bool) {
        let c = self.report.blocks.entry(block.to_string()).or_default();
        c.read += 1;
        if loaded {
            c.loaded += 1;
        } else {
            c.rejected += 1;
        }
    }
}

fn note_ignored(parent: &str, name: &str, out: &mut Output) {
    *out.report
        .ignored
        .entry(format!("{parent}/{name}"))
        .or_default() += 1;
}

/// A new block starts.
fn open(child: &mut Option<Child>, parent: Option<&str>, name: &str, line: u64) {
    match (name, parent) {
        ("Child", Some("Children")) => {
            *child = Some(Child {
                line,
                ..Child::default()
            })
        }
        ("CINdetails", _) => {
            if let Some(c) = child {
                c.episodes.push(Episode {
                    line,
                    ..Episode::default()
                });
            }
        }
        ("Assessments", Some("CINdetails")) | ("Section47", Some("CINdetails")) => {
            if let Some(e) = child.as_mut().and_then(|c| c.episodes.last_mut()) {
                let b = Block {
                    line,
                    ..Block::default()
                };
                if name == "Assessments" {
                    e.assessments.push(b);
                } else {
                    e.s47s.push(b);
                }
            }
        }
        ("ChildProtectionPlans", Some("CINdetails")) => {
            if let Some(e) = child.as_mut().and_then(|c| c.episodes.last_mut()) {
                e.plans.push(Plan {
                    line,
                    ..Plan::default()
                });
            }
        }
        _ => {}
    }
}

/// An element ends: keep its value in the block it belongs to, or finish a block.
fn close(
    child: &mut Option<Child>,
    parent: &str,
    name: &str,
    v: &str,
    line: u64,
    out: &mut Output,
) {
    let field = || Field {
        text: v.to_string(),
        line,
    };
    let keep = |fields: &mut BTreeMap<&'static str, Field>, list: &[&'static str]| -> bool {
        match list.iter().find(|f| **f == name) {
            Some(f) => {
                if !v.is_empty() {
                    fields.insert(f, field());
                }
                true
            }
            None => false,
        }
    };
    let kept = match (child.as_mut(), parent) {
        (_, _) if name == "Child" && parent == "Children" => {
            if let Some(c) = child.take() {
                emit(c, out);
            }
            true
        }
        (Some(c), "ChildIdentifiers" | "ChildCharacteristics") => keep(&mut c.fields, CHILD_FIELDS),
        (Some(c), "Disabilities") if name == "Disability" => {
            if !v.is_empty() {
                c.disabilities.push(v.to_string());
            }
            true
        }
        (Some(c), "CINdetails") => match c.episodes.last_mut() {
            Some(e) => keep(&mut e.fields, EPISODE_FIELDS),
            None => false,
        },
        (Some(c), "Assessments") => {
            match c.episodes.last_mut().and_then(|e| e.assessments.last_mut()) {
                Some(b) => keep(&mut b.fields, ASSESSMENT_FIELDS),
                None => false,
            }
        }
        (Some(c), "Section47") => match c.episodes.last_mut().and_then(|e| e.s47s.last_mut()) {
            Some(b) => keep(&mut b.fields, S47_FIELDS),
            None => false,
        },
        (Some(c), "ChildProtectionPlans") => {
            match c.episodes.last_mut().and_then(|e| e.plans.last_mut()) {
                Some(p) => keep(&mut p.fields, PLAN_FIELDS),
                None => false,
            }
        }
        (Some(c), "Reviews") if name == "CPPreviewDate" => {
            if let Some(p) = c.episodes.last_mut().and_then(|e| e.plans.last_mut()) {
                if !v.is_empty() {
                    p.reviews.push(field());
                }
            }
            true
        }
        (_, "CollectionDetails") => {
            out.report.details.insert(name.to_string(), v.to_string());
            true
        }
        (_, "Source") if name == "LEA" => {
            out.report.details.insert("LEA".into(), v.to_string());
            true
        }
        _ => false,
    };
    let is_block = matches!(
        name,
        "Child" | "CINdetails" | "Assessments" | "Section47" | "ChildProtectionPlans"
    ) || CONTAINERS.contains(&name);
    if !kept && !is_block {
        note_ignored(parent, name, out);
    }
}

/// A date of the census, or the reason it cannot be read.
fn date(f: Option<&Field>) -> Result<Option<NaiveDate>, (u64, String)> {
    match f {
        None => Ok(None),
        Some(f) => values::parse_date(&f.text).map_err(|e| (f.line, e.message)),
    }
}

fn show(d: Option<NaiveDate>) -> String {
    d.map_or(String::new(), |d| d.to_string())
}

/// The census' gender codes.
fn gender(code: &str) -> String {
    match code {
        "0" => "not known",
        "1" => "male",
        "2" => "female",
        "9" => "not specified",
        other => other,
    }
    .to_string()
}

/// Categories of abuse, in the words the native extract uses.
fn category(code: &str) -> String {
    super::category_of_abuse(code)
}

/// Reads an optional date of a block; an unreadable one is dropped with a warning.
fn optional_date(
    fields: &BTreeMap<&'static str, Field>,
    name: &str,
    block: &str,
    out: &mut Output,
) -> Option<NaiveDate> {
    match date(fields.get(name)) {
        Ok(d) => d,
        Err((line, why)) => {
            out.issue(
                block,
                line,
                Some(name),
                "bad_date",
                Severity::Warning,
                format!("{why}: left empty"),
            );
            None
        }
    }
}

/// Reads a required date of a block; `None` (with the reason reported) rejects the block.
fn required_date(
    fields: &BTreeMap<&'static str, Field>,
    name: &str,
    block: &str,
    block_line: u64,
    what: &str,
    out: &mut Output,
) -> Option<NaiveDate> {
    match date(fields.get(name)) {
        Ok(Some(d)) => Some(d),
        Ok(None) => {
            out.issue(
                block,
                block_line,
                Some(name),
                "missing_required",
                Severity::Error,
                format!("no {name}: {what} not loaded"),
            );
            None
        }
        Err((line, why)) => {
            out.issue(
                block,
                line,
                Some(name),
                "bad_date",
                Severity::Error,
                format!("{why}: {what} not loaded"),
            );
            None
        }
    }
}

fn text(fields: &BTreeMap<&'static str, Field>, name: &str) -> String {
    fields.get(name).map_or(String::new(), |f| f.text.clone())
}

/// An initial conference, linked to its S47 (if any) and to the plan it started (one of the
/// episode starting that day).
fn push_icpc(
    out: &mut Output,
    conference_id: &str,
    child_id: &str,
    line: u64,
    date: NaiveDate,
    s47_id: &str,
    plan: Option<String>,
) {
    let outcome = if plan.is_some() { "plan" } else { "" };
    out.tables.push(
        CONFERENCES,
        line,
        &[
            ("conference_id", conference_id.to_string()),
            ("child_id", child_id.to_string()),
            ("conference_type", "initial".into()),
            ("date", date.to_string()),
            ("s47_id", s47_id.to_string()),
            ("outcome", outcome.into()),
            ("plan_id", plan.unwrap_or_default()),
        ],
    );
}

/// Counts an episode that is not loaded, and every block inside it, as rejected.
fn reject_episode(e: &Episode, out: &mut Output) {
    out.count("CINdetails", false);
    for _ in &e.assessments {
        out.count("Assessments", false);
    }
    for _ in &e.s47s {
        out.count("Section47", false);
    }
    for _ in &e.plans {
        out.count("ChildProtectionPlans", false);
    }
}

/// Writes one child's rows.
fn emit(c: Child, out: &mut Output) {
    // The ID as the checks read it (`10.0` is `10`), so that two children the checks would
    // take for one are caught here, where the lines are known.
    let id = values::normalise_id(&text(&c.fields, "LAchildID"))
        .0
        .to_string();
    let blocks_inside = c.episodes.len();
    let why = if id.is_empty() {
        Some(("missing_required", "a child with no LAchildID".to_string()))
    } else {
        out.children.get(&id).map(|first| {
            (
                "duplicate_key",
                format!(
                    "a second Child with LAchildID '{id}' (the first is on line {first}; a \
                     child appears once in a census)"
                ),
            )
        })
    };
    if let Some((rule, why)) = why {
        out.issue(
            "Child",
            c.line,
            Some("LAchildID"),
            rule,
            Severity::Error,
            format!("{why}: not loaded, with its {blocks_inside} CINdetails block(s)"),
        );
        out.count("Child", false);
        for e in &c.episodes {
            reject_episode(e, out);
        }
        return;
    }
    out.children.insert(id.clone(), c.line);
    out.count("Child", true);
    let dob = optional_date(&c.fields, "PersonBirthDate", "Child", out)
        .or_else(|| optional_date(&c.fields, "ExpectedPersonBirthDate", "Child", out));
    let disability = if c.disabilities.is_empty() {
        String::new()
    } else if c
        .disabilities
        .iter()
        .all(|d| d.eq_ignore_ascii_case("NONE"))
    {
        "N".into()
    } else {
        "Y".into()
    };
    out.tables.push(
        CHILDREN,
        c.line,
        &[
            ("child_id", id.clone()),
            ("date_of_birth", show(dob)),
            ("sex", {
                let g = text(&c.fields, "GenderCurrent");
                if g.is_empty() {
                    text(&c.fields, "Sex")
                } else {
                    gender(&g)
                }
            }),
            ("ethnicity", text(&c.fields, "Ethnicity")),
            ("disability", disability),
        ],
    );
    for (ei, e) in c.episodes.into_iter().enumerate() {
        let referral_id = format!("{id}-R{}", ei + 1);
        let Some(received) = required_date(
            &e.fields,
            "CINreferralDate",
            "CINdetails",
            e.line,
            "the referral episode and the blocks inside it",
            out,
        ) else {
            reject_episode(&e, out);
            continue;
        };
        out.count("CINdetails", true);
        let nfa = match values::parse_flag(&text(&e.fields, "ReferralNFA")) {
            Ok(Some(true)) => "nfa".to_string(),
            Ok(_) => String::new(),
            Err(err) => {
                let line = e.fields.get("ReferralNFA").map_or(e.line, |f| f.line);
                out.issue(
                    "CINdetails",
                    line,
                    Some("ReferralNFA"),
                    "bad_flag",
                    Severity::Warning,
                    format!("{}: outcome left empty", err.message),
                );
                String::new()
            }
        };
        out.tables.push(
            REFERRALS,
            e.line,
            &[
                ("referral_id", referral_id.clone()),
                ("child_id", id.clone()),
                ("received_at", received.to_string()),
                ("source", text(&e.fields, "ReferralSource")),
                ("outcome", nfa),
            ],
        );
        for (ai, a) in e.assessments.iter().enumerate() {
            let Some(start) = required_date(
                &a.fields,
                "AssessmentActualStartDate",
                "Assessments",
                a.line,
                "the assessment",
                out,
            ) else {
                out.count("Assessments", false);
                continue;
            };
            out.count("Assessments", true);
            let authorised =
                optional_date(&a.fields, "AssessmentAuthorisationDate", "Assessments", out);
            out.tables.push(
                ASSESSMENTS,
                a.line,
                &[
                    ("assessment_id", format!("{referral_id}-A{}", ai + 1)),
                    ("child_id", id.clone()),
                    ("referral_id", referral_id.clone()),
                    ("start_date", start.to_string()),
                    ("authorised_date", show(authorised)),
                ],
            );
        }
        // Plans first, so an initial conference on a plan's start date can name it.
        let mut plans: Vec<(String, NaiveDate)> = Vec::new();
        for (pi, p) in e.plans.iter().enumerate() {
            let Some(start) = required_date(
                &p.fields,
                "CPPstartDate",
                "ChildProtectionPlans",
                p.line,
                "the plan and its reviews",
                out,
            ) else {
                out.count("ChildProtectionPlans", false);
                continue;
            };
            out.count("ChildProtectionPlans", true);
            let plan_id = format!("{referral_id}-P{}", pi + 1);
            let end = optional_date(&p.fields, "CPPendDate", "ChildProtectionPlans", out);
            out.tables.push(
                CP_PLANS,
                p.line,
                &[
                    ("plan_id", plan_id.clone()),
                    ("child_id", id.clone()),
                    ("start_date", start.to_string()),
                    ("end_date", show(end)),
                    (
                        "initial_category",
                        category(&text(&p.fields, "InitialCategoryOfAbuse")),
                    ),
                    (
                        "latest_category",
                        category(&text(&p.fields, "LatestCategoryOfAbuse")),
                    ),
                ],
            );
            for (ri, r) in p.reviews.iter().enumerate() {
                match values::parse_date(&r.text) {
                    Ok(Some(d)) => out.tables.push(
                        CONFERENCES,
                        r.line,
                        &[
                            ("conference_id", format!("{plan_id}-RCPC{}", ri + 1)),
                            ("child_id", id.clone()),
                            ("conference_type", "review".into()),
                            ("date", d.to_string()),
                            ("plan_id", plan_id.clone()),
                        ],
                    ),
                    Ok(None) => {}
                    Err(err) => out.issue(
                        "Reviews",
                        r.line,
                        Some("CPPreviewDate"),
                        "bad_date",
                        Severity::Error,
                        format!("{}: review not loaded", err.message),
                    ),
                }
            }
            plans.push((plan_id, start));
        }
        let plan_on = |d: NaiveDate| plans.iter().find(|(_, s)| *s == d).map(|(p, _)| p.clone());
        let mut icpc_dates: Vec<NaiveDate> = Vec::new();
        for (si, s) in e.s47s.iter().enumerate() {
            let Some(start) = required_date(
                &s.fields,
                "S47ActualStartDate",
                "Section47",
                s.line,
                "the S47 enquiry",
                out,
            ) else {
                out.count("Section47", false);
                continue;
            };
            out.count("Section47", true);
            let s47_id = format!("{referral_id}-S{}", si + 1);
            let not_required = match values::parse_flag(&text(&s.fields, "ICPCnotRequired")) {
                Ok(Some(true)) => "Y",
                Ok(Some(false)) => "N",
                _ => "",
            };
            out.tables.push(
                S47_ENQUIRIES,
                s.line,
                &[
                    ("s47_id", s47_id.clone()),
                    ("child_id", id.clone()),
                    ("start_date", start.to_string()),
                    ("icpc_not_required", not_required.into()),
                ],
            );
            if let Some(d) = optional_date(&s.fields, "DateOfInitialCPC", "Section47", out) {
                icpc_dates.push(d);
                let line = s.fields.get("DateOfInitialCPC").map_or(s.line, |f| f.line);
                let icpc_id = format!("{s47_id}-ICPC");
                push_icpc(out, &icpc_id, &id, line, d, &s47_id, plan_on(d));
            }
        }
        // The episode's own ICPC date, when no S47 of the episode already gave it.
        if let Some(d) = optional_date(&e.fields, "DateOfInitialCPC", "CINdetails", out) {
            if !icpc_dates.contains(&d) {
                let line = e.fields.get("DateOfInitialCPC").map_or(e.line, |f| f.line);
                let icpc_id = format!("{referral_id}-ICPC");
                push_icpc(out, &icpc_id, &id, line, d, "", plan_on(d));
            }
        }
    }
}
