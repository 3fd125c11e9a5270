//! Sample plans: which cases make up the population, how they are stratified and how many
//! are drawn, written as TOML (`audits/monthly.toml`). Every mistake names the file, the
//! line and the field.

use std::collections::BTreeMap;

use polars::prelude::Expr;
use serde::Deserialize;

use crate::periods::Grain;
use crate::schema::{self, Kind, TableSpec};

#[derive(Debug, Clone)]
pub struct SamplePlan {
    pub id: String,
    pub title: String,
    /// The plan exactly as written (recorded in the manifest and re-read by `verify`).
    pub text: String,
    pub file: String,
    pub population: Population,
    pub unit: Unit,
    pub size: u64,
    pub allocation: Allocation,
    pub strata: Vec<StratumBy>,
    pub min_per_stratum: u64,
    pub max_per_stratum: Option<u64>,
    /// Neyman: the expected failure rate per stratum (keyed by stratum name or by one of
    /// its values; `default` otherwise).
    pub prior: BTreeMap<String, f64>,
    /// Fixed allocation: the size per stratum (same keys as `prior`).
    pub fixed: BTreeMap<String, u64>,
    pub breaches: Breaches,
    pub census: Vec<Census>,
    pub exclude: Option<Exclude>,
    pub auditors: Vec<Auditor>,
    /// The audit tool: what each auditor answers about each case (`forms/`).
    pub questions: Vec<super::questions::Question>,
    /// Forms are due this many working days after the draw's as-of date.
    pub due_working_days: Option<u32>,
    /// A share of the sample audited a second time, by a moderator.
    pub moderation: Option<Moderation>,
}

/// `[moderation]`: how many of the sample's cases a moderator audits again, and who.
#[derive(Debug, Clone, PartialEq)]
pub struct Moderation {
    /// A share of the cases drawn (0.1: one in ten, rounded up)...
    pub share: Option<f64>,
    /// ...or a number of them.
    pub count: Option<u64>,
    pub moderators: Vec<Auditor>,
}

impl Moderation {
    /// How many of `n` cases drawn are moderated.
    pub fn wanted(&self, n: usize) -> usize {
        match (self.share, self.count) {
            (Some(s), _) => ((s * n as f64).ceil() as usize).min(n),
            (None, Some(c)) => (c as usize).min(n),
            (None, None) => 0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Population {
    pub table: &'static TableSpec,
    pub rows: Rows,
    pub filter: Option<(String, Expr)>,
    /// The grain of `--period`.
    pub period: Grain,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rows {
    /// Open at any time in the period: started by its end, not ended before its start.
    Open {
        start: &'static str,
        end: Option<&'static str>,
    },
    /// Open on the last day of the period (or the as-of date, if earlier).
    OpenAtEnd {
        start: &'static str,
        end: Option<&'static str>,
    },
    /// Rows whose date falls in the period.
    Started { date: &'static str },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// One sampling unit per child (their latest case in the population).
    Child,
    /// Every row of the population table is a unit.
    Case,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    Proportional,
    Equal,
    Neyman,
    Fixed,
}

impl Allocation {
    pub fn name(self) -> &'static str {
        match self {
            Allocation::Proportional => "proportional",
            Allocation::Equal => "equal",
            Allocation::Neyman => "neyman",
            Allocation::Fixed => "fixed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StratumBy {
    /// A column of the population table, of the child (sex, ethnicity, disability), `age`
    /// or `age_band`.
    Column(String),
    /// Whether the case was counted against this measure (`breached:icpc_15wd`).
    Breached(String),
    /// Whether the case was counted against any of the plan's breach measures.
    AnyBreach,
}

impl StratumBy {
    pub fn label(&self) -> String {
        match self {
            StratumBy::Column(c) => c.clone(),
            StratumBy::Breached(m) => format!("breached:{m}"),
            StratumBy::AnyBreach => "breached".into(),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Breaches {
    /// Measures whose breaches are shown beside each case (and may stratify).
    pub measures: Vec<String>,
    /// Look-back: breaches in the period and the months before it, `months` in all.
    pub months: u32,
    /// Weight of strata of breaching cases in the allocation (1 = no oversampling).
    pub oversample: f64,
}

#[derive(Debug, Clone)]
pub struct Census {
    pub name: String,
    pub filter: (String, Expr),
}

#[derive(Debug, Clone)]
pub struct Exclude {
    /// The audit history file, as written and resolved beside the plan.
    pub history: String,
    pub path: std::path::PathBuf,
    pub months: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Auditor {
    pub name: String,
    pub team: Option<String>,
    pub max: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {field}: {message}")]
pub struct PlanError {
    pub file: String,
    pub line: usize,
    pub field: String,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    population: RawPopulation,
    #[serde(default)]
    unit: Option<String>,
    size: u64,
    #[serde(default)]
    allocation: Option<String>,
    #[serde(default)]
    strata: Vec<String>,
    #[serde(default)]
    min_per_stratum: Option<u64>,
    #[serde(default)]
    max_per_stratum: Option<u64>,
    #[serde(default)]
    prior: BTreeMap<String, f64>,
    #[serde(default)]
    fixed: BTreeMap<String, u64>,
    #[serde(default)]
    breaches: Option<RawBreaches>,
    #[serde(default)]
    census: Vec<RawCensus>,
    #[serde(default)]
    exclude: Option<RawExclude>,
    #[serde(default)]
    auditors: Vec<RawAuditor>,
    #[serde(default)]
    questions: Vec<super::questions::RawQuestion>,
    #[serde(default)]
    due_working_days: Option<u32>,
    #[serde(default)]
    moderation: Option<RawModeration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModeration {
    #[serde(default)]
    share: Option<f64>,
    #[serde(default)]
    count: Option<u64>,
    moderators: Vec<RawAuditor>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPopulation {
    table: String,
    rows: String,
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    period: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBreaches {
    measures: Vec<String>,
    #[serde(default)]
    months: Option<u32>,
    #[serde(default)]
    oversample: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCensus {
    name: String,
    filter: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExclude {
    history: String,
    months: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuditor {
    name: String,
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    max: Option<u64>,
}

/// Columns a plan may use besides the population table's own: the child's (joined from
/// children.csv) and the age at the end of the period.
pub const CHILD_COLUMNS: &[&str] = &["sex", "ethnicity", "disability", "age", "age_band"];

/// Reads `[moderation]`: a share from 0 to 1 or a count (not both), and moderators, each
/// once, whose forms have names of their own.
fn moderation(
    m: &RawModeration,
    questions: &[super::questions::Question],
) -> Result<Moderation, String> {
    if questions.is_empty() {
        return Err("moderation audits the same questions again: add [[questions]]".into());
    }
    match (m.share, m.count) {
        (Some(s), None) if s > 0.0 && s <= 1.0 => {}
        (None, Some(c)) if c >= 1 => {}
        _ => {
            return Err(
                "give `share` (a proportion above 0, at most 1: 0.1 for one case in ten) or \
                 `count` (1 or more), not both"
                    .into(),
            )
        }
    }
    let mut moderators: Vec<Auditor> = Vec::new();
    for a in &m.moderators {
        if a.name.trim().is_empty() || moderators.iter().any(|x| x.name == a.name) {
            return Err(format!("moderator `{}` is empty or listed twice", a.name));
        }
        moderators.push(Auditor {
            name: a.name.clone(),
            team: a.team.clone(),
            max: a.max,
        });
    }
    if moderators.is_empty() {
        return Err("list the moderators: [[moderation.moderators]] with name and team".into());
    }
    super::forms::check_names(&moderators)?;
    Ok(Moderation {
        share: m.share,
        count: m.count,
        moderators,
    })
}

/// The line of `key` in the `qi`-th `[[questions]]` table (its header when the key is not
/// written there), for messages.
fn line_of_question(text: &str, qi: usize, key: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let Some(head) = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("[[questions]]"))
        .nth(qi)
        .map(|(i, _)| i)
    else {
        return line_of_key(text, "questions");
    };
    lines[head + 1..]
        .iter()
        .take_while(|l| !l.trim_start().starts_with('['))
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map_or(head + 1, |i| head + 2 + i)
}

/// The first line of `text` that sets `key` (`key =` or `[key]`), for messages.
fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
                || l.starts_with(&format!("[{key}]"))
                || l.starts_with(&format!("[[{key}]]"))
        })
        .map_or(1, |i| i + 1)
}

impl SamplePlan {
    /// Reads a plan. `dir` is the plan's folder (an audit history is found beside it).
    pub fn parse(text: &str, file: &str, dir: &std::path::Path) -> Result<SamplePlan, PlanError> {
        let err = |field: &str, message: String| PlanError {
            file: file.to_string(),
            line: line_of_key(text, field.rsplit('.').next().unwrap_or(field)),
            field: field.to_string(),
            message,
        };
        let raw: RawPlan = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map_or(1, |s| crate::metrics::definition::line_of(text, s.start));
            PlanError {
                file: file.to_string(),
                line,
                field: "plan".into(),
                message: e.message().to_string(),
            }
        })?;
        let _ = raw.description;
        // Every number in the plan (size, weights, priors, caps) is finite and in range.
        crate::limits::toml_numbers(text).map_err(|r| PlanError {
            file: file.to_string(),
            line: crate::metrics::definition::line_of(text, r.offset),
            field: r.field,
            message: r.message,
        })?;
        let names: Vec<&str> = schema::TABLES.iter().map(|t| t.name).collect();
        let table = schema::table(&raw.population.table).ok_or_else(|| {
            err(
                "population.table",
                format!(
                    "no table `{}`; tables: {}",
                    raw.population.table,
                    names.join(", ")
                ),
            )
        })?;
        let date_column = |field: &str, name: &str| -> Result<&'static str, PlanError> {
            match table.column(name) {
                Some(c) if matches!(c.kind, Kind::Date | Kind::DateTime) => Ok(c.name),
                Some(_) => Err(err(field, format!("{}.{name} is not a date", table.name))),
                None => Err(err(
                    field,
                    format!(
                        "{} has no column `{name}`; its dates: {}",
                        table.name,
                        date_columns(table).join(", ")
                    ),
                )),
            }
        };
        let rp = &raw.population;
        let open = |end_default: bool| -> Result<(&'static str, Option<&'static str>), PlanError> {
            let start = date_column(
                "population.start",
                rp.start.as_deref().unwrap_or("start_date"),
            )?;
            let end = match (&rp.end, end_default && table.column("end_date").is_some()) {
                (Some(e), _) => Some(date_column("population.end", e)?),
                (None, true) => Some("end_date"),
                (None, false) => None,
            };
            Ok((start, end))
        };
        let rows = match rp.rows.as_str() {
            "open" => {
                let (start, end) = open(true)?;
                Rows::Open { start, end }
            }
            "open_at_end" => {
                let (start, end) = open(true)?;
                Rows::OpenAtEnd { start, end }
            }
            "started" => {
                let date = match &rp.date {
                    Some(d) => date_column("population.date", d)?,
                    None => *date_columns(table).first().ok_or_else(|| {
                        err("population.date", format!("{} has no date", table.name))
                    })?,
                };
                Rows::Started { date }
            }
            other => {
                return Err(err(
                    "population.rows",
                    format!(
                        "`{other}` is not a kind of population; use `open` (open at any time \
                         in the period), `open_at_end` or `started` (dated in the period)"
                    ),
                ))
            }
        };
        let usable = |c: &str| table.column(c).is_some() || CHILD_COLUMNS.contains(&c);
        let sql = |field: &str, text: &str| -> Result<(String, Expr), PlanError> {
            let expr = crate::limits::sql_filter(text).map_err(|e| err(field, e))?;
            for name in expr.clone().meta().root_names() {
                if !usable(name.as_str()) {
                    return Err(err(
                        field,
                        format!(
                            "`{name}` is not a column of {} nor of the child ({})",
                            table.name,
                            CHILD_COLUMNS.join(", ")
                        ),
                    ));
                }
            }
            Ok((text.to_string(), expr))
        };
        let filter = rp
            .filter
            .as_deref()
            .map(|f| sql("population.filter", f))
            .transpose()?;
        let period = match rp.period.as_deref() {
            None => Grain::Month,
            Some(p) => Grain::parse(p).ok_or_else(|| {
                err(
                    "population.period",
                    format!("`{p}` is not a period; use month, quarter or year"),
                )
            })?,
        };
        let unit = match raw.unit.as_deref() {
            None | Some("child") => Unit::Child,
            Some("case") => Unit::Case,
            Some(other) => {
                return Err(err(
                    "unit",
                    format!("`{other}` is not a unit; use `child` or `case`"),
                ))
            }
        };
        if unit == Unit::Child && table.column(schema::CHILD_ID).is_none() {
            return Err(err(
                "unit",
                format!("{} has no child_id; use unit = \"case\"", table.name),
            ));
        }
        let allocation = match raw.allocation.as_deref() {
            None | Some("proportional") => Allocation::Proportional,
            Some("equal") => Allocation::Equal,
            Some("neyman") => Allocation::Neyman,
            Some("fixed") => Allocation::Fixed,
            Some(other) => {
                return Err(err(
                    "allocation",
                    format!(
                        "`{other}` is not an allocation; use proportional, equal, neyman or fixed"
                    ),
                ))
            }
        };
        let breaches = match &raw.breaches {
            Some(b) => {
                let oversample = b.oversample.unwrap_or(1.0);
                if !(oversample.is_finite() && oversample > 0.0) {
                    return Err(err(
                        "breaches.oversample",
                        format!("{oversample} must be a positive number (1 = no oversampling)"),
                    ));
                }
                Breaches {
                    measures: b.measures.clone(),
                    months: b.months.unwrap_or(1).max(1),
                    oversample,
                }
            }
            None => Breaches {
                months: 1,
                oversample: 1.0,
                ..Breaches::default()
            },
        };
        let mut strata = Vec::new();
        for s in &raw.strata {
            let by = match s.split_once(':') {
                Some(("breached", m)) => {
                    if !breaches.measures.iter().any(|x| x == m) {
                        return Err(err(
                            "strata",
                            format!("`{s}`: list `{m}` in [breaches] measures first"),
                        ));
                    }
                    StratumBy::Breached(m.to_string())
                }
                None if s == "breached" => {
                    if breaches.measures.is_empty() {
                        return Err(err(
                            "strata",
                            "`breached` needs the measures listed in [breaches]".into(),
                        ));
                    }
                    StratumBy::AnyBreach
                }
                None if usable(s) => StratumBy::Column(s.clone()),
                _ => {
                    return Err(err(
                        "strata",
                        format!(
                            "`{s}` is not a column of {} nor of the child ({}), nor \
                             `breached` / `breached:<measure>`",
                            table.name,
                            CHILD_COLUMNS.join(", ")
                        ),
                    ))
                }
            };
            if strata.contains(&by) {
                return Err(err("strata", format!("`{s}` is listed twice")));
            }
            strata.push(by);
        }
        if breaches.oversample != 1.0 && !strata.iter().any(|s| !matches!(s, StratumBy::Column(_)))
        {
            strata.push(StratumBy::AnyBreach);
        }
        if raw.size == 0 && raw.census.is_empty() {
            return Err(err(
                "size",
                "the sample size must be at least 1 (or list census strata)".into(),
            ));
        }
        let min_per_stratum = raw.min_per_stratum.unwrap_or(0);
        if let Some(max) = raw.max_per_stratum {
            if max < min_per_stratum.max(1) {
                return Err(err(
                    "max_per_stratum",
                    format!("{max} is below min_per_stratum ({min_per_stratum}) or 1"),
                ));
            }
        }
        for (k, p) in &raw.prior {
            if !(0.0..=1.0).contains(p) {
                return Err(err(
                    "prior",
                    format!("`{k}` = {p}: a prior failure rate is a proportion from 0 to 1"),
                ));
            }
        }
        match allocation {
            Allocation::Neyman if raw.prior.is_empty() => {
                return Err(err(
                    "allocation",
                    "neyman needs [prior]: the expected failure rate per stratum (and \
                     `default`)"
                        .into(),
                ))
            }
            Allocation::Fixed if raw.fixed.is_empty() => {
                return Err(err(
                    "allocation",
                    "fixed needs [fixed]: the size per stratum (and `default`)".into(),
                ))
            }
            _ => {}
        }
        let mut census = Vec::new();
        for c in &raw.census {
            if c.name.trim().is_empty() || census.iter().any(|x: &Census| x.name == c.name) {
                return Err(err(
                    "census",
                    format!("each census stratum needs its own name (`{}`)", c.name),
                ));
            }
            census.push(Census {
                name: c.name.clone(),
                filter: sql("census.filter", &c.filter)?,
            });
        }
        let exclude = raw.exclude.as_ref().map(|e| Exclude {
            history: e.history.clone(),
            path: dir.join(&e.history),
            months: e.months,
        });
        let mut auditors: Vec<Auditor> = Vec::new();
        for a in &raw.auditors {
            if auditors.iter().any(|x| x.name == a.name) {
                return Err(err("auditors", format!("`{}` is listed twice", a.name)));
            }
            auditors.push(Auditor {
                name: a.name.clone(),
                team: a.team.clone(),
                max: a.max,
            });
        }
        if !raw
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            || raw.id.is_empty()
        {
            return Err(err(
                "id",
                format!("`{}`: use letters, digits, `_` and `-`", raw.id),
            ));
        }
        let question_err = |field: &str, qi: usize, message: String| PlanError {
            file: file.to_string(),
            line: line_of_question(text, qi, field.rsplit('.').next().unwrap_or(field)),
            field: field.to_string(),
            message,
        };
        let questions = super::questions::read(&raw.questions, &date_columns(table), question_err)?;
        let due_working_days = match raw.due_working_days {
            Some(d) if d == 0 || d > 260 => {
                return Err(err(
                    "due_working_days",
                    format!("{d}: forms are due 1 to 260 working days after the draw"),
                ))
            }
            d => d,
        };
        super::forms::check_names(&auditors).map_err(|m| err("auditors", m))?;
        let moderation = match &raw.moderation {
            Some(m) => Some(moderation(m, &questions).map_err(|msg| err("moderation", msg))?),
            None => None,
        };
        Ok(SamplePlan {
            title: if raw.title.is_empty() {
                raw.id.clone()
            } else {
                raw.title.clone()
            },
            id: raw.id,
            text: text.to_string(),
            file: file.to_string(),
            population: Population {
                table,
                rows,
                filter,
                period,
            },
            unit,
            size: raw.size,
            allocation,
            strata,
            min_per_stratum,
            max_per_stratum: raw.max_per_stratum,
            prior: raw.prior,
            fixed: raw.fixed,
            breaches,
            census,
            exclude,
            auditors,
            questions,
            due_working_days,
            moderation,
        })
    }

    /// Reads a plan file.
    pub fn load(path: &std::path::Path) -> Result<SamplePlan, PlanError> {
        let file = path.display().to_string();
        let text = crate::fsutil::read_definition(path).map_err(|e| PlanError {
            file: file.clone(),
            line: 0,
            field: "plan".into(),
            message: format!("cannot read the plan: {e}"),
        })?;
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        SamplePlan::parse(&text, &file, dir)
    }

    /// The value for a stratum from a map keyed by stratum name, by one of its values, or
    /// `default`.
    pub fn lookup<'a, T>(map: &'a BTreeMap<String, T>, stratum: &str) -> Option<&'a T> {
        map.get(stratum)
            .or_else(|| stratum.split(" / ").find_map(|part| map.get(part.trim())))
            .or_else(|| map.get("default"))
    }
}

/// The table's date columns, for messages.
fn date_columns(t: &TableSpec) -> Vec<&'static str> {
    t.columns
        .iter()
        .filter(|c| matches!(c.kind, Kind::Date | Kind::DateTime))
        .map(|c| c.name)
        .collect()
}
