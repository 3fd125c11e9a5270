//! The audit tool in a sample plan: the questions each auditor answers about each case
//! (`[[questions]]`) and when the forms are due (`due_working_days`).
//!
//! ```toml
//! due_working_days = 10            # forms due 10 working days after the draw's as-of date
//!
//! [[questions]]
//! id = "plan_smart"
//! text = "Is the child protection plan specific, measurable and timely?"
//! kind = "yes_no"                  # yes_no | grade | scale | text
//! required = true                  # default true
//! help = "Look at the outline plan and the latest core group minutes."
//!
//! [[questions]]
//! id = "voice"
//! text = "How well is the child's voice heard?"
//! kind = "scale"
//! labels = ["not at all", "partly", "well", "very well"]
//! ```

use serde::Deserialize;

/// Ofsted's grades, best first: the answers a `grade` question allows.
pub const GRADES: [&str; 4] = ["outstanding", "good", "requires_improvement", "inadequate"];

/// The answers of a `yes_no` question.
pub const YES_NO: [&str; 2] = ["yes", "no"];

/// Names a question may not take besides the columns of `sample.csv`
/// (`manifest::FIRST_COLUMNS`) and the population table's dates: the facts only the forms'
/// `cases` sheet has.
pub const FACTS: &[&str] = &["breached"];

/// The longest question text, and the longest help, in characters.
const MAX_TEXT: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    YesNo,
    Grade,
    /// An ordered scale with its labels, lowest first.
    Scale(Vec<String>),
    Text,
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::YesNo => "yes_no",
            Kind::Grade => "grade",
            Kind::Scale(_) => "scale",
            Kind::Text => "text",
        }
    }
    /// The answers allowed, in order (none for free text).
    pub fn allowed(&self) -> Vec<String> {
        match self {
            Kind::YesNo => YES_NO.map(String::from).to_vec(),
            Kind::Grade => GRADES.map(String::from).to_vec(),
            Kind::Scale(labels) => labels.clone(),
            Kind::Text => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub id: String,
    pub text: String,
    pub kind: Kind,
    pub required: bool,
    pub help: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQuestion {
    id: String,
    text: String,
    kind: String,
    #[serde(default)]
    required: Option<bool>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    help: Option<String>,
}

/// The longest answer label a drop-down list holds (Excel's list is at most 255
/// characters in all).
const MAX_LIST: usize = 255;

/// Reads `[[questions]]`: each id a plain word used once and not a fact's name (nor one of
/// `dates`, the population's date columns), a known kind, a scale's labels (2 or more,
/// each once ignoring case, and no comma: a drop-down list is comma-separated), and text
/// without control characters. `err(field, question, message)` words a mistake.
pub(super) fn read<E>(
    raw: &[RawQuestion],
    dates: &[&str],
    err: impl Fn(&str, usize, String) -> E,
) -> Result<Vec<Question>, E> {
    let mut out: Vec<Question> = Vec::new();
    for (qi, q) in raw.iter().enumerate() {
        let err = |field: &str, message: String| err(field, qi, message);
        let id = q.id.trim();
        let plain = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !plain {
            return Err(err(
                "questions.id",
                format!("`{id}` is not a plain id: use lower-case letters, digits and `_`"),
            ));
        }
        // `_` at either end or twice reads as a fact's name once spaces are normalised.
        let tidy = !id.starts_with('_') && !id.ends_with('_') && !id.contains("__");
        if !tidy || (id == "grade" && q.kind != "grade") {
            return Err(err(
                "questions.id",
                format!(
                    "`{id}`: no `_` at either end or twice, and `grade` only for a grade question"
                ),
            ));
        }
        let sample_columns = super::manifest::FIRST_COLUMNS;
        let taken = FACTS.contains(&id) || sample_columns.contains(&id) || dates.contains(&id);
        if taken || out.iter().any(|o| o.id == id) {
            return Err(err(
                "questions.id",
                format!(
                    "`{id}` is used twice or names a fact of the form ({})",
                    [FACTS, sample_columns, dates].concat().join(", "),
                ),
            ));
        }
        if q.text.trim().is_empty() {
            return Err(err(
                "questions.text",
                format!("`{id}` needs its question's text"),
            ));
        }
        for (field, t) in [
            ("questions.text", Some(&q.text)),
            ("questions.help", q.help.as_ref()),
        ] {
            let Some(t) = t else { continue };
            if t.chars().count() > MAX_TEXT || t.chars().any(|c| c.is_control() && c != '\n') {
                return Err(err(
                    field,
                    format!(
                        "`{id}`: at most {MAX_TEXT} characters, and no control characters \
                         other than line breaks"
                    ),
                ));
            }
        }
        let kind = match (q.kind.as_str(), q.labels.is_empty()) {
            ("yes_no", true) => Kind::YesNo,
            ("grade", true) => Kind::Grade,
            ("text", true) => Kind::Text,
            ("scale", false) => Kind::Scale(labels(id, &q.labels, &err)?),
            ("scale", true) => {
                return Err(err(
                    "questions.labels",
                    format!("`{id}`: a scale lists its labels, lowest first"),
                ))
            }
            ("yes_no" | "grade" | "text", false) => {
                return Err(err(
                    "questions.labels",
                    format!("`{id}`: only a `scale` has labels"),
                ))
            }
            (other, _) => {
                return Err(err(
                    "questions.kind",
                    format!(
                        "`{other}` is not a kind of question; use yes_no, grade, scale or text"
                    ),
                ))
            }
        };
        out.push(Question {
            id: id.to_string(),
            text: q.text.trim().to_string(),
            kind,
            required: q.required.unwrap_or(true),
            help: q.help.clone().filter(|h| !h.trim().is_empty()),
        });
    }
    Ok(out)
}

fn labels<E>(id: &str, raw: &[String], err: &impl Fn(&str, String) -> E) -> Result<Vec<String>, E> {
    let labels: Vec<String> = raw.iter().map(|l| l.trim().to_string()).collect();
    // A drop-down list matches ignoring case: "Well" and "well" are one answer.
    let bad = labels.iter().enumerate().find(|(i, l)| {
        l.is_empty()
            || l.contains(',')
            || l.contains('"')
            || l.chars().any(char::is_control)
            || labels[..*i]
                .iter()
                .any(|o| o.to_lowercase() == l.to_lowercase())
    });
    if labels.len() < 2 || bad.is_some() || labels.join(",").encode_utf16().count() > MAX_LIST {
        return Err(err(
            "questions.labels",
            format!(
                "`{id}`: a scale has 2 or more labels, each once (ignoring case), none empty or \
                 holding a comma, a quote or a control character, {MAX_LIST} characters in all"
            ),
        ));
    }
    Ok(labels)
}
