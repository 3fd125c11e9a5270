//! The monthly audit sample: a plan ([`plan`]) says which cases, how stratified and how
//! many; [`draw`] builds the population from the extracts, allocates the sample to strata and
//! draws each stratum from its own seeded stream; [`manifest`] records everything an
//! inspector needs to re-draw it; [`results`] turns completed audits into estimates.
//!
//! The draw is defined without reference to any library's sampling routine, so that anyone
//! can reproduce it: each stratum's units are sorted by their key (byte order); the stream is
//! ChaCha20 keyed with SHA-256(`csc-audit/sample/v1`, seed, stratum name); the first n units
//! of a Fisher-Yates shuffle are the sample, each swap index drawn without bias from the
//! stream's 64-bit words (Lemire's multiply-and-reject). Extending a sample continues the same
//! shuffle, so the cases already drawn stay, in the same order.

pub mod folder;
pub mod forms;
pub mod manifest;
pub mod moderation;
pub mod plan;
pub mod questions;
pub mod results;
pub mod returns;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Months, NaiveDate};
use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

use crate::calendar::Calendar;
use crate::ingest::Extracts;
use crate::metrics::{EvalOptions, Library};
use crate::periods::Period;
use crate::schema::{self, Kind};
use crate::values::epoch_days;
use plan::Rows;
pub use plan::{Allocation, SamplePlan, StratumBy, Unit};

/// Written in the manifest: how the cases were drawn.
pub const RNG_NAME: &str = "ChaCha20 (rand_chacha 0.10), one stream per stratum keyed by \
    SHA-256(\"csc-audit/sample/v1\" NUL seed NUL stratum); Fisher-Yates over the stratum \
    sorted by key, indices by Lemire's unbiased multiply-and-reject on 64-bit words";

#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("{0}")]
    Plan(#[from] plan::PlanError),
    #[error("{0}")]
    Invalid(String),
    #[error("building the population failed: {0}")]
    Polars(#[from] PolarsError),
}

fn invalid(s: impl Into<String>) -> SampleError {
    SampleError::Invalid(s.into())
}

/// One sampling unit: a case, or a child (their latest case).
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub case_id: String,
    pub child_id: Option<String>,
    pub team: Option<String>,
    pub worker: Option<String>,
    /// The population table's dates, in its column order.
    pub dates: Vec<Option<NaiveDate>>,
    /// Measures this case (or child) was counted against in the look-back.
    pub breached: Vec<String>,
    pub stratum: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stratum {
    pub name: String,
    pub census: bool,
    /// Indices into [`Sample::cases`], sorted by case key.
    pub units: Vec<usize>,
    /// The allocation weight (N_h, times the prior's standard deviation for Neyman, times
    /// the oversampling factor for breaches).
    pub weight: f64,
    /// Sizes drawn in each round (the first draw, then each extension).
    pub rounds: Vec<u64>,
}

impl Stratum {
    pub fn population(&self) -> u64 {
        self.units.len() as u64
    }
    pub fn size(&self) -> u64 {
        self.rounds.iter().sum()
    }
    pub fn inclusion_probability(&self) -> f64 {
        if self.units.is_empty() {
            0.0
        } else {
            self.size() as f64 / self.units.len() as f64
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    pub case: usize,
    pub stratum: usize,
    /// 1-based selection order within the stratum.
    pub order: u64,
    /// 1 for the first draw, 2 for the first extension, ...
    pub round: usize,
    pub auditor: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Excluded {
    pub case_id: String,
    pub child_id: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct Sample {
    pub plan: SamplePlan,
    pub period: Period,
    pub seed: u64,
    pub as_of: NaiveDate,
    /// The names of the population table's date columns (`Case::dates`).
    pub date_columns: Vec<&'static str>,
    pub cases: Vec<Case>,
    pub strata: Vec<Stratum>,
    pub excluded: Vec<Excluded>,
    pub selected: Vec<Selected>,
    pub notes: Vec<String>,
    /// When the auditors' forms are due: the plan's `due_working_days` after the as-of date.
    pub forms_due: Option<NaiveDate>,
    /// The cases audited a second time, in the order drawn ([`moderation`]).
    pub moderated: Vec<moderation::Moderated>,
}

/// What a draw needs besides the plan.
pub struct DrawInputs<'a> {
    pub extracts: &'a Extracts,
    /// The measures named in the plan's `[breaches]`.
    pub library: &'a Library,
    pub calendar: &'a Calendar,
    pub period: Period,
    pub seed: u64,
    /// Sizes added by each extension, in order.
    pub extensions: &'a [u64],
}

/// Draws the sample of `plan` for a period.
pub fn draw(plan: &SamplePlan, inp: &DrawInputs) -> Result<Sample, SampleError> {
    if inp.period.grain != plan.population.period {
        return Err(invalid(format!(
            "the plan samples by {}; give --period like `{}`",
            plan.population.period.name(),
            plan.population.period.example()
        )));
    }
    let ex = inp.extracts;
    let as_of = ex.as_of;
    if inp.period.start() > as_of {
        return Err(invalid(format!(
            "the period {} starts after the data's as-of date {as_of}",
            inp.period.label()
        )));
    }
    let mut notes = Vec::new();
    if inp.period.end() > as_of {
        notes.push(format!(
            "the period {} had not ended on the as-of date {as_of}: the population is the \
             cases up to {as_of}",
            inp.period.label()
        ));
    }
    let pop = population(plan, ex, inp.period)?;
    let mut excluded = pop.excluded;
    let (mut cases, mut census) = (pop.cases, pop.census);
    let mut values = pop.values;
    // The audit history: cases audited recently are not audited again.
    if let Some(exc) = &plan.exclude {
        let history = read_history(&exc.path)?;
        let since = inp
            .period
            .start()
            .checked_sub_months(Months::new(exc.months))
            .unwrap_or(NaiveDate::MIN);
        let mut keep = Vec::with_capacity(cases.len());
        for (i, c) in cases.iter().enumerate() {
            let hit = history.iter().find(|h| {
                h.date >= since
                    && (h.case_id.as_deref() == Some(c.case_id.as_str())
                        || (h.child_id.is_some() && h.child_id == c.child_id))
            });
            match hit {
                Some(h) => excluded.push(Excluded {
                    case_id: c.case_id.clone(),
                    child_id: c.child_id.clone(),
                    reason: format!(
                        "audited on {} ({} line {}), within {} months before {}",
                        h.date,
                        exc.history,
                        h.line,
                        exc.months,
                        inp.period.start()
                    ),
                }),
                None => keep.push(i),
            }
        }
        cases = keep.iter().map(|&i| cases[i].clone()).collect();
        census = keep.iter().map(|&i| census[i]).collect();
        for v in values.values_mut() {
            *v = keep.iter().map(|&i| v[i].clone()).collect();
        }
    }
    finish(
        plan, inp, as_of, cases, census, values, excluded, notes, pop.dates,
    )
}

#[allow(clippy::too_many_arguments)]
fn finish(
    plan: &SamplePlan,
    inp: &DrawInputs,
    as_of: NaiveDate,
    mut cases: Vec<Case>,
    census: Vec<Option<usize>>,
    values: BTreeMap<String, Vec<Option<String>>>,
    excluded: Vec<Excluded>,
    mut notes: Vec<String>,
    date_columns: Vec<&'static str>,
) -> Result<Sample, SampleError> {
    // Breaches of the plan's measures, matched on the case when the measure counts the
    // population's own table, else on the child.
    if !plan.breaches.measures.is_empty() {
        let flags = breaches(plan, inp)?;
        for c in cases.iter_mut() {
            let mut hit: Vec<String> = plan
                .breaches
                .measures
                .iter()
                .filter(|m| {
                    flags.get(m.as_str()).is_some_and(|(same_table, keys)| {
                        if *same_table {
                            keys.contains(&c.case_id)
                                || (plan.unit == Unit::Child
                                    && c.child_id.as_ref().is_some_and(|ch| keys.contains(ch)))
                        } else {
                            c.child_id.as_ref().is_some_and(|ch| keys.contains(ch))
                        }
                    })
                })
                .cloned()
                .collect();
            hit.sort();
            c.breached = hit;
        }
    }
    // Strata: census strata first (in plan order), then the sampled ones by name.
    let mut names: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut census_units: Vec<Vec<usize>> = vec![Vec::new(); plan.census.len()];
    for (i, c) in cases.iter().enumerate() {
        if let Some(ci) = census[i] {
            census_units[ci].push(i);
            continue;
        }
        let parts: Vec<String> = plan
            .strata
            .iter()
            .map(|s| match s {
                StratumBy::Column(col) => values[col][i]
                    .clone()
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| "unknown".into()),
                StratumBy::Breached(m) => {
                    if c.breached.contains(m) {
                        format!("{m} breached")
                    } else {
                        format!("{m} not breached")
                    }
                }
                StratumBy::AnyBreach => {
                    if c.breached.is_empty() {
                        "no breach".into()
                    } else {
                        "breach".into()
                    }
                }
            })
            .collect();
        let name = if parts.is_empty() {
            "all".to_string()
        } else {
            parts.join(" / ")
        };
        names.entry(name).or_default().push(i);
    }
    let key_order = |units: &mut Vec<usize>| {
        units.sort_by(|&a, &b| cases[a].case_id.as_bytes().cmp(cases[b].case_id.as_bytes()))
    };
    let mut strata: Vec<Stratum> = Vec::new();
    for (ci, mut units) in census_units.into_iter().enumerate() {
        key_order(&mut units);
        strata.push(Stratum {
            name: format!("census: {}", plan.census[ci].name),
            census: true,
            weight: 0.0,
            rounds: vec![units.len() as u64],
            units,
        });
    }
    for (name, mut units) in names {
        key_order(&mut units);
        let big = units.len() as f64;
        let mut weight = match plan.allocation {
            Allocation::Proportional | Allocation::Fixed => big,
            Allocation::Equal => 1.0,
            Allocation::Neyman => {
                let p = *SamplePlan::lookup(&plan.prior, &name).ok_or_else(|| {
                    invalid(format!(
                        "{}: [prior] has no rate for stratum `{name}` and no `default`",
                        plan.file
                    ))
                })?;
                big * (p * (1.0 - p)).sqrt()
            }
        };
        if plan.breaches.oversample != 1.0 && is_breach_stratum(plan, &name) {
            weight *= plan.breaches.oversample;
        }
        strata.push(Stratum {
            name,
            census: false,
            units,
            weight,
            rounds: Vec::new(),
        });
    }
    for (si, s) in strata.iter().enumerate() {
        for &u in &s.units {
            cases[u].stratum = si;
        }
    }
    // Allocation: the first draw, then each extension from what is left.
    let sampled: Vec<usize> = (0..strata.len()).filter(|&i| !strata[i].census).collect();
    let first = match plan.allocation {
        Allocation::Fixed => sampled
            .iter()
            .map(|&i| {
                let s = &strata[i];
                let want = *SamplePlan::lookup(&plan.fixed, &s.name).ok_or_else(|| {
                    invalid(format!(
                        "{}: [fixed] has no size for stratum `{}` and no `default`",
                        plan.file, s.name
                    ))
                })?;
                let cap = plan.max_per_stratum.unwrap_or(u64::MAX).min(s.population());
                if want > cap {
                    notes.push(format!(
                        "stratum `{}`: {want} asked for, {cap} drawn (all it has, or the cap)",
                        s.name
                    ));
                }
                Ok(want.min(cap))
            })
            .collect::<Result<Vec<u64>, SampleError>>()?,
        _ => {
            let bounds: Vec<(u64, u64)> = sampled
                .iter()
                .map(|&i| {
                    let n = strata[i].population();
                    (
                        plan.min_per_stratum.min(n),
                        plan.max_per_stratum.unwrap_or(u64::MAX).min(n),
                    )
                })
                .collect();
            let weights: Vec<f64> = sampled.iter().map(|&i| strata[i].weight).collect();
            let (sizes, note) = allocate(plan.size, &weights, &bounds)?;
            notes.extend(note);
            sizes
        }
    };
    for (k, &i) in sampled.iter().enumerate() {
        strata[i].rounds.push(first[k]);
    }
    for (r, &add) in inp.extensions.iter().enumerate() {
        for s in strata.iter_mut().filter(|s| s.census) {
            s.rounds.push(0);
        }
        let bounds: Vec<(u64, u64)> = sampled
            .iter()
            .map(|&i| {
                let s = &strata[i];
                let cap = plan.max_per_stratum.unwrap_or(u64::MAX).min(s.population());
                (0, cap.saturating_sub(s.size()))
            })
            .collect();
        let weights: Vec<f64> = sampled
            .iter()
            .map(|&i| {
                let s = &strata[i];
                // What is left of the stratum carries the weight of the plan's allocation.
                let left = s.population().saturating_sub(s.size()) as f64;
                if s.population() == 0 {
                    0.0
                } else {
                    s.weight * left / s.population() as f64
                }
            })
            .collect();
        let (sizes, note) = allocate(add, &weights, &bounds)?;
        notes.extend(note.map(|n| format!("extension {}: {n}", r + 1)));
        for (k, &i) in sampled.iter().enumerate() {
            strata[i].rounds.push(sizes[k]);
        }
    }
    // Each stratum from its own stream.
    let mut selected = Vec::new();
    for (si, s) in strata.iter().enumerate() {
        let order = select(inp.seed, &s.name, s.units.len(), s.size() as usize);
        let mut round_end = s.rounds.iter().scan(0u64, |acc, r| {
            *acc += r;
            Some(*acc)
        });
        let mut round = 1;
        let mut end = round_end.next().unwrap_or(0);
        for (k, pos) in order.into_iter().enumerate() {
            while k as u64 >= end {
                round += 1;
                end = round_end.next().unwrap_or(u64::MAX);
            }
            selected.push(Selected {
                case: s.units[pos],
                stratum: si,
                order: k as u64 + 1,
                round,
                auditor: None,
            });
        }
    }
    let unassigned = assign_auditors(&plan.auditors, &cases, &mut selected);
    if unassigned > 0 {
        notes.push(format!(
            "{unassigned} cases have no auditor: every auditor is from the case's team or \
             has reached their maximum"
        ));
    }
    // Only forms are due: a plan without questions needs no date (nor the calendar's year).
    let forms_due = match plan.due_working_days.filter(|_| !plan.questions.is_empty()) {
        Some(n) => Some(
            inp.calendar
                .add_working_days(as_of, n)
                .map_err(|e| invalid(format!("the forms' due date: {e}")))?,
        ),
        None => None,
    };
    let moderated = match &plan.moderation {
        Some(m) => {
            let (picked, note) = moderation::draw(m, &cases, &selected, inp.seed);
            notes.extend(note);
            picked
        }
        None => Vec::new(),
    };
    Ok(Sample {
        plan: plan.clone(),
        period: inp.period,
        seed: inp.seed,
        as_of,
        date_columns,
        cases,
        strata,
        excluded,
        selected,
        notes,
        forms_due,
        moderated,
    })
}

fn is_breach_stratum(plan: &SamplePlan, name: &str) -> bool {
    name.split(" / ").any(|part| {
        part == "breach"
            || plan
                .breaches
                .measures
                .iter()
                .any(|m| part == format!("{m} breached"))
    })
}

/// The population after the plan's filter: the cases, each one's census stratum (if any),
/// the values of the stratifying columns, and the cases left out with the reason.
struct PopulationFrame {
    cases: Vec<Case>,
    census: Vec<Option<usize>>,
    values: BTreeMap<String, Vec<Option<String>>>,
    excluded: Vec<Excluded>,
    dates: Vec<&'static str>,
}

const DOB: &str = "__dob";
const CENSUS: &str = "__census";

fn population(
    plan: &SamplePlan,
    ex: &Extracts,
    period: Period,
) -> Result<PopulationFrame, SampleError> {
    let p = &plan.population;
    let t = p.table;
    let df = ex.frame(t.name).ok_or_else(|| {
        invalid(format!(
            "the plan samples {}, but {} is not in the data",
            t.name,
            t.file_name()
        ))
    })?;
    let first = epoch_days(period.start());
    let last = epoch_days(period.end().min(ex.as_of));
    let day = |c: &str| col(c).cast(DataType::Date).cast(DataType::Int32);
    let mut lf = df.clone().lazy();
    lf = match &p.rows {
        Rows::Open { start, end } => {
            let f = day(start).lt_eq(lit(last));
            lf.filter(match end {
                Some(e) => f.and(day(e).is_null().or(day(e).gt_eq(lit(first)))),
                None => f,
            })
        }
        Rows::OpenAtEnd { start, end } => {
            let f = day(start).lt_eq(lit(last));
            lf.filter(match end {
                Some(e) => f.and(day(e).is_null().or(day(e).gt(lit(last)))),
                None => f,
            })
        }
        Rows::Started { date } => {
            lf.filter(day(date).gt_eq(lit(first)).and(day(date).lt_eq(lit(last))))
        }
    };
    // The child's columns, and the team of the worker where the table has no team.
    let has_child = t.column(schema::CHILD_ID).is_some();
    if has_child && t.name != schema::CHILDREN {
        if let Some(ch) = ex.frame(schema::CHILDREN) {
            let mut cols = vec![col(schema::CHILD_ID).alias("__cid")];
            for c in ["sex", "ethnicity", "disability"] {
                cols.push(col(c));
            }
            cols.push(day(schema::DATE_OF_BIRTH).alias(DOB));
            lf = lf.left_join(
                ch.clone().lazy().select(cols),
                col(schema::CHILD_ID),
                col("__cid"),
            );
        }
    } else if t.name == schema::CHILDREN {
        lf = lf.with_column(day(schema::DATE_OF_BIRTH).alias(DOB));
    }
    let has_team = t.column("team").is_some();
    if !has_team && t.column("worker").is_some() {
        if let Some(w) = ex.frame(schema::WORKERS) {
            lf = lf.left_join(
                w.clone()
                    .lazy()
                    .select([col("worker").alias("__w"), col("team")]),
                col("worker"),
                col("__w"),
            );
        }
    }
    let mut df = lf.collect()?;
    // Ages at the end of the period, by the same rule as the measures' age bands.
    let at = last;
    let dobs: Vec<Option<i32>> = match df.column(DOB) {
        Ok(c) => c.i32()?.iter().collect(),
        Err(_) => vec![None; df.height()],
    };
    let ages: Vec<Option<i64>> = dobs
        .iter()
        .map(|d| {
            d.filter(|&d| d <= at)
                .map(|d| crate::metrics::engine::whole_months(d, at) / 12)
        })
        .collect();
    let bands: Vec<&str> = dobs
        .iter()
        .map(|d| crate::metrics::engine::age_band(*d, at))
        .collect();
    df.with_column(Column::new("age".into(), ages))?;
    df.with_column(Column::new("age_band".into(), bands))?;
    for c in ["sex", "ethnicity", "disability"] {
        if df.column(c).is_err() {
            df.with_column(Column::full_null(c.into(), df.height(), &DataType::String))?;
        }
    }
    if df.column("team").is_err() {
        df.with_column(Column::full_null(
            "team".into(),
            df.height(),
            &DataType::String,
        ))?;
    }
    let mut lf = df.lazy();
    if let Some((_, f)) = &p.filter {
        lf = lf.filter(f.clone().fill_null(lit(false)));
    }
    // The first census stratum whose condition a case meets.
    let mut census = lit(NULL).cast(DataType::Int32);
    for (i, c) in plan.census.iter().enumerate().rev() {
        census = when(c.filter.1.clone().fill_null(lit(false)))
            .then(lit(i as i32))
            .otherwise(census);
    }
    let df = lf.with_column(census.alias(CENSUS)).collect()?;

    let text = |name: &str| -> Result<Vec<Option<String>>, SampleError> {
        let c = df.column(name)?.cast(&DataType::String)?;
        Ok(c.str()?
            .iter()
            .map(|v| {
                v.map(|s| match s {
                    "true" => "Y".to_string(),
                    "false" => "N".to_string(),
                    s => s.to_string(),
                })
            })
            .collect())
    };
    let keys = text(t.key)?;
    let children = if has_child {
        text(schema::CHILD_ID)?
    } else {
        vec![None; df.height()]
    };
    let teams = text("team")?;
    let workers = if df.column("worker").is_ok() {
        text("worker")?
    } else {
        vec![None; df.height()]
    };
    let date_cols: Vec<&'static str> = t
        .columns
        .iter()
        .filter(|c| matches!(c.kind, Kind::Date | Kind::DateTime))
        .map(|c| c.name)
        .collect();
    let mut dates: Vec<Vec<Option<i32>>> = Vec::new();
    for c in &date_cols {
        let s = df
            .column(c)?
            .cast(&DataType::Date)?
            .cast(&DataType::Int32)?;
        dates.push(s.i32()?.iter().collect());
    }
    let census_of: Vec<Option<usize>> = df
        .column(CENSUS)?
        .i32()?
        .iter()
        .map(|v| v.map(|v| v as usize))
        .collect();
    let mut values: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    for s in &plan.strata {
        if let StratumBy::Column(c) = s {
            values.insert(c.clone(), text(c)?);
        }
    }
    // The date that makes a case a child's latest: its start, else its own date.
    let order_date = match &p.rows {
        Rows::Open { start, .. } | Rows::OpenAtEnd { start, .. } => *start,
        Rows::Started { date } => *date,
    };
    let order_ix = date_cols.iter().position(|c| *c == order_date).unwrap_or(0);
    let mut excluded = Vec::new();
    let mut rows: Vec<usize> = Vec::new();
    for i in 0..df.height() {
        match (&keys[i], plan.unit, &children[i]) {
            (None, _, _) => excluded.push(Excluded {
                case_id: String::new(),
                child_id: children[i].clone(),
                reason: format!("no {} (the case key)", t.key),
            }),
            (Some(_), Unit::Child, None) => excluded.push(Excluded {
                case_id: keys[i].clone().unwrap_or_default(),
                child_id: None,
                reason: "no child_id (the unit is the child)".into(),
            }),
            _ => rows.push(i),
        }
    }
    if plan.unit == Unit::Child {
        // One unit per child: their latest case (latest date, then highest key).
        let mut latest: BTreeMap<&str, usize> = BTreeMap::new();
        for &i in &rows {
            let child = children[i].as_deref().expect("checked");
            let better = |j: usize| {
                (dates.get(order_ix).and_then(|d| d[i]), keys[i].as_deref())
                    > (dates.get(order_ix).and_then(|d| d[j]), keys[j].as_deref())
            };
            match latest.get(child) {
                Some(&j) if !better(j) => {}
                _ => {
                    latest.insert(child, i);
                }
            }
        }
        let chosen: BTreeSet<usize> = latest.values().copied().collect();
        rows.retain(|i| chosen.contains(i));
    }
    let cases = rows
        .iter()
        .map(|&i| Case {
            case_id: keys[i].clone().expect("checked"),
            child_id: children[i].clone(),
            team: teams[i].clone(),
            worker: workers[i].clone(),
            dates: dates
                .iter()
                .map(|d| d[i].map(crate::metrics::engine::date_of))
                .collect(),
            breached: Vec::new(),
            stratum: 0,
        })
        .collect();
    let census = rows.iter().map(|&i| census_of[i]).collect();
    let values = values
        .into_iter()
        .map(|(k, v)| (k, rows.iter().map(|&i| v[i].clone()).collect()))
        .collect();
    Ok(PopulationFrame {
        cases,
        census,
        values,
        excluded,
        dates: date_cols,
    })
}

/// Measure id -> (whether it counts the plan's own table, the keys counted against it: case
/// keys for the plan's table, else child ids).
fn breaches(
    plan: &SamplePlan,
    inp: &DrawInputs,
) -> Result<BTreeMap<String, (bool, BTreeSet<String>)>, SampleError> {
    let mut lib = inp.library.clone();
    lib.select(&plan.breaches.measures)
        .map_err(|e| invalid(format!("{}: [breaches]: {e}", plan.file)))?;
    let to = Period::containing(
        crate::periods::Grain::Month,
        inp.period.end().min(inp.extracts.as_of),
    );
    let from = Period {
        grain: crate::periods::Grain::Month,
        index: Period::containing(crate::periods::Grain::Month, inp.period.start()).index
            - (plan.breaches.months as i32 - 1),
    };
    let ev = crate::metrics::evaluate(
        inp.extracts,
        &lib,
        inp.calendar,
        &EvalOptions {
            grain: crate::periods::Grain::Month,
            from: Some(from),
            to: Some(to),
            by: Vec::new(),
            cases: true,
        },
    )
    .map_err(|e| invalid(e.to_string()))?;
    for m in &lib.metrics {
        if let Some(n) = ev
            .notes
            .iter()
            .find(|n| n.starts_with(&format!("{}: not available", m.id)))
        {
            return Err(invalid(format!(
                "{}: [breaches] measure {n}; remove it from the plan",
                plan.file
            )));
        }
    }
    let mut out: BTreeMap<String, (bool, BTreeSet<String>)> = lib
        .metrics
        .iter()
        .map(|m| {
            (
                m.id.clone(),
                (
                    m.population.table.name == plan.population.table.name,
                    BTreeSet::new(),
                ),
            )
        })
        .collect();
    for f in ev.cases {
        let Some((same, keys)) = out.get_mut(&f.metric_id) else {
            continue;
        };
        if *same {
            keys.insert(f.key);
            if let Some(c) = f.child_id {
                if plan.unit == Unit::Child {
                    keys.insert(c);
                }
            }
        } else if let Some(c) = f.child_id {
            keys.insert(c);
        }
    }
    Ok(out)
}

/// Integer sizes in proportion to `weights`, adding up to `total`, each within its
/// `(min, max)` bounds: bounded strata are fixed at their bound and the rest shared again
/// until none crosses a bound; then whole numbers by largest remainder (ties to the first
/// stratum). Returns a note when the strata cannot hold `total`.
pub fn allocate(
    total: u64,
    weights: &[f64],
    bounds: &[(u64, u64)],
) -> Result<(Vec<u64>, Option<String>), SampleError> {
    let k = weights.len();
    let min_sum: u64 = bounds.iter().map(|b| b.0).sum();
    if min_sum > total {
        return Err(invalid(format!(
            "the minimum per stratum needs {min_sum} cases over {k} strata, more than the \
             sample size {total}: lower min_per_stratum or raise size"
        )));
    }
    let max_sum: u64 = bounds
        .iter()
        .map(|b| b.1)
        .fold(0u64, |a, b| a.saturating_add(b));
    if max_sum <= total {
        let note = (max_sum < total).then(|| {
            format!("{total} asked for but the strata hold only {max_sum} (after caps): all drawn")
        });
        return Ok((bounds.iter().map(|b| b.1).collect(), note));
    }
    // Real-valued shares within bounds.
    let mut share = vec![0.0f64; k];
    let mut fixed = vec![false; k];
    loop {
        let left = total as f64 - (0..k).filter(|&i| fixed[i]).map(|i| share[i]).sum::<f64>();
        let w: f64 = (0..k).filter(|&i| !fixed[i]).map(|i| weights[i]).sum();
        let free: Vec<usize> = (0..k).filter(|&i| !fixed[i]).collect();
        for &i in &free {
            share[i] = if w > 0.0 {
                left * weights[i] / w
            } else {
                left / free.len() as f64
            };
        }
        let mut changed = false;
        for &i in &free {
            let (lo, hi) = (bounds[i].0 as f64, bounds[i].1 as f64);
            if share[i] < lo {
                share[i] = lo;
                fixed[i] = true;
                changed = true;
            } else if share[i] > hi {
                share[i] = hi;
                fixed[i] = true;
                changed = true;
            }
        }
        if !changed || free.is_empty() {
            break;
        }
    }
    let mut sizes: Vec<u64> = (0..k)
        .map(|i| (share[i].floor() as u64).clamp(bounds[i].0, bounds[i].1))
        .collect();
    let mut left = total.saturating_sub(sizes.iter().sum());
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| {
        let ra = share[a] - share[a].floor();
        let rb = share[b] - share[b].floor();
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    while left > 0 {
        let mut gave = false;
        for &i in &order {
            if left == 0 {
                break;
            }
            if sizes[i] < bounds[i].1 {
                sizes[i] += 1;
                left -= 1;
                gave = true;
            }
        }
        if !gave {
            break;
        }
    }
    Ok((sizes, None))
}

/// The stream of one stratum.
pub fn stream(seed: u64, stratum: &str) -> ChaCha20Rng {
    let mut h = Sha256::new();
    h.update(b"csc-audit/sample/v1\0");
    h.update(seed.to_string().as_bytes());
    h.update(b"\0");
    h.update(stratum.as_bytes());
    ChaCha20Rng::from_seed(h.finalize().into())
}

/// An unbiased integer in 0..n from the stream (Lemire 2019, "Fast random integer generation
/// in an interval", ACM TOMACS 29(1)).
pub(crate) fn below(rng: &mut ChaCha20Rng, n: u64) -> u64 {
    let threshold = n.wrapping_neg() % n;
    loop {
        let m = rng.next_u64() as u128 * n as u128;
        if (m as u64) >= threshold {
            return (m >> 64) as u64;
        }
    }
}

/// The positions (in key order) of the first `n` of `len` units in the stratum's shuffle.
pub fn select(seed: u64, stratum: &str, len: usize, n: usize) -> Vec<usize> {
    let mut rng = stream(seed, stratum);
    let mut perm: Vec<usize> = (0..len).collect();
    let n = n.min(len);
    for i in 0..n {
        let j = i + below(&mut rng, (len - i) as u64) as usize;
        perm.swap(i, j);
    }
    perm.truncate(n);
    perm
}

/// Gives each selected case to the auditor with the fewest cases so far who is not from the
/// case's team and has room (ties to the first listed), then evens out the workloads: while
/// one auditor has two or more cases more than another who may take one of them, the last
/// such case moves. Returns how many cases got no one.
fn assign_auditors(auditors: &[plan::Auditor], cases: &[Case], selected: &mut [Selected]) -> usize {
    if auditors.is_empty() {
        return 0;
    }
    let can = |a: usize, case: usize| {
        auditors[a].team.is_none() || auditors[a].team.as_deref() != cases[case].team.as_deref()
    };
    let mut load = vec![0u64; auditors.len()];
    let mut who: Vec<Option<usize>> = vec![None; selected.len()];
    for (i, s) in selected.iter().enumerate() {
        let pick = (0..auditors.len())
            .filter(|&a| can(a, s.case) && auditors[a].max.is_none_or(|m| load[a] < m))
            .min_by_key(|&a| (load[a], a));
        if let Some(a) = pick {
            load[a] += 1;
            who[i] = Some(a);
        }
    }
    // Each move lowers the sum of squared workloads, so this ends.
    'even: loop {
        let mut pairs: Vec<(usize, usize)> = (0..auditors.len())
            .flat_map(|a| (0..auditors.len()).map(move |b| (a, b)))
            .filter(|&(a, b)| load[a] >= load[b] + 2)
            .filter(|&(_, b)| auditors[b].max.is_none_or(|m| load[b] < m))
            .collect();
        pairs.sort_by_key(|&(a, b)| (std::cmp::Reverse(load[a] - load[b]), a, b));
        for (a, b) in pairs {
            if let Some(i) = (0..selected.len())
                .rev()
                .find(|&i| who[i] == Some(a) && can(b, selected[i].case))
            {
                who[i] = Some(b);
                load[a] -= 1;
                load[b] += 1;
                continue 'even;
            }
        }
        break;
    }
    let mut unassigned = 0;
    for (s, w) in selected.iter_mut().zip(who) {
        s.auditor = w.map(|a| auditors[a].name.clone());
        unassigned += usize::from(w.is_none());
    }
    unassigned
}

/// One earlier audit: the case or child, and when.
#[derive(Debug, Clone)]
struct Audited {
    line: u64,
    case_id: Option<String>,
    child_id: Option<String>,
    date: NaiveDate,
}

/// Reads an audit history (CSV: `child_id` and/or `case_id`, and `audit_date`). Every bad
/// row is reported with its line.
fn read_history(path: &std::path::Path) -> Result<Vec<Audited>, SampleError> {
    let name = path.display().to_string();
    let bytes = crate::fsutil::read_input(path, crate::fsutil::MAX_INPUT_BYTES)
        .map_err(|e| invalid(format!("cannot read the audit history {name}: {e}")))?;
    let (text, _) = crate::ingest::decode(&bytes).map_err(|e| invalid(format!("{name}: {e}")))?;
    // Read as the extracts are: each row with the physical line it starts on.
    let mut records = crate::ingest::rows::Records::new(&text);
    let mut rec = crate::ingest::rows::Record::default();
    if !records.read(&mut rec) {
        return Err(invalid(format!("{name}: empty; it needs a header row")));
    }
    let headers: Vec<String> = rec.iter().map(schema::normalise_header).collect();
    let find = |n: &str| headers.iter().position(|h| h == n);
    let (case_col, child_col, date_col) = (find("case_id"), find("child_id"), find("audit_date"));
    let date_col = date_col.ok_or_else(|| {
        invalid(format!("{name}: no `audit_date` column (the audit history needs audit_date and child_id or case_id)"))
    })?;
    if case_col.is_none() && child_col.is_none() {
        return Err(invalid(format!(
            "{name}: no `child_id` or `case_id` column"
        )));
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    while records.read(&mut rec) {
        let line = rec.first_line;
        if rec.unclosed {
            errors.push(format!("{name} line {line}: a quote opened on this line is never closed, so every line after it would be read as one value: close the quote or remove it"));
            break;
        }
        if rec.is_blank() {
            continue;
        }
        let get = |c: Option<usize>| {
            c.and_then(|c| rec.get(c))
                .map(|v| crate::values::normalise_id(v).0.to_string())
                .filter(|s| !s.is_empty())
        };
        let raw_date = rec.get(date_col).unwrap_or("").trim();
        let date = match crate::values::parse_date(raw_date) {
            Ok(Some(d)) => d,
            Ok(None) => {
                errors.push(format!("{name} line {line}, column audit_date: empty"));
                continue;
            }
            Err(e) => {
                errors.push(format!(
                    "{name} line {line}, column audit_date: {}",
                    e.message
                ));
                continue;
            }
        };
        let (case_id, child_id) = (get(case_col), get(child_col));
        if case_id.is_none() && child_id.is_none() {
            errors.push(format!("{name} line {line}: no case_id or child_id"));
            continue;
        }
        out.push(Audited {
            line,
            case_id,
            child_id,
            date,
        });
    }
    if !errors.is_empty() {
        return Err(invalid(format!(
            "the audit history has {} bad rows; fix them so that no audited case is drawn \
             again:\n  {}",
            errors.len(),
            errors.join("\n  ")
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alloc(total: u64, w: &[f64], b: &[(u64, u64)]) -> Vec<u64> {
        allocate(total, w, b).unwrap().0
    }

    #[test]
    fn allocation_adds_up_within_bounds() {
        let free = |k| vec![(0, u64::MAX); k];
        assert_eq!(alloc(10, &[50.0, 30.0, 20.0], &free(3)), [5, 3, 2]);
        // Thirds: 3.33 each, the spare one to the first stratum.
        assert_eq!(alloc(10, &[1.0, 1.0, 1.0], &free(3)), [4, 3, 3]);
        // Minimum 2: the small strata are raised and the large one gives way.
        assert_eq!(alloc(10, &[90.0, 5.0, 5.0], &[(2, 100); 3]), [6, 2, 2]);
        // A cap of 3 sends the rest to the other stratum.
        assert_eq!(alloc(10, &[100.0, 1.0], &[(0, 3), (0, 100)]), [3, 7]);
        // A stratum smaller than its share is taken whole.
        assert_eq!(alloc(10, &[10.0, 10.0], &[(0, 2), (0, 50)]), [2, 8]);
        // Largest remainders: 40 x (14, 4, 41, 70, 46, 80, 62, 45) / 362 = 1.547, 0.442,
        // 4.530, 7.735, 5.083, 8.840, 6.851, 4.972: floors add to 35, and the 5 left go to
        // the largest remainders .972, .851, .840, .735, .547.
        let w = [14.0, 4.0, 41.0, 70.0, 46.0, 80.0, 62.0, 45.0];
        let a = alloc(40, &w, &free(8));
        assert_eq!(a, [2, 0, 4, 8, 5, 9, 7, 5]);
        assert_eq!(a.iter().sum::<u64>(), 40);
        // Too small for the minimum: an error that says what to change.
        let e = allocate(3, &[1.0, 1.0], &[(2, 9), (2, 9)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("min_per_stratum"), "{e}");
        // Strata too small for the size: all of them, with a note.
        let (s, note) = allocate(30, &[1.0, 1.0], &[(0, 4), (0, 5)]).unwrap();
        assert_eq!(s, [4, 5]);
        assert!(note.unwrap().contains("only 9"));
    }

    #[test]
    fn streams_are_keyed_by_seed_and_stratum() {
        let a = select(7, "North", 50, 10);
        assert_eq!(a, select(7, "North", 50, 10));
        assert_ne!(a, select(8, "North", 50, 10));
        assert_ne!(a, select(7, "South", 50, 10));
        // Distinct positions inside the stratum.
        let set: BTreeSet<usize> = a.iter().copied().collect();
        assert_eq!(set.len(), 10);
        assert!(a.iter().all(|&p| p < 50));
        // Extending continues the same shuffle.
        assert_eq!(select(7, "North", 50, 15)[..10], a[..]);
        assert_eq!(select(7, "North", 5, 9).len(), 5);
        // Pinned draws, computed independently by audits/redraw.py (Python's `cryptography`
        // ChaCha20, no Rust): a change to the method would break every recorded sample.
        assert_eq!(select(1, "all", 10, 3), [6, 3, 0]);
        assert_eq!(
            select(7, "North", 50, 10),
            [23, 26, 16, 22, 32, 14, 48, 21, 44, 17]
        );
    }

    /// Over 4,000 seeds each unit is drawn about 4000 x n_h / N_h times. The statistic
    /// sum (O - E)^2 / (E (1 - pi)) over the units is close to chi-square with
    /// sum (N_h - 1) = 25 degrees of freedom; it must stay below the 99.9% point, 52.62
    /// (scipy.stats.chi2.ppf(0.999, 25)), and no unit may be more than 4.5 standard
    /// deviations from its expected count. A biased draw (say modulo bias, or a first unit
    /// never drawn) fails.
    #[test]
    fn selection_frequencies_match_inclusion_probabilities() {
        let strata = [("North", 20usize, 5usize), ("South", 7, 3)];
        let seeds = 4000u64;
        let mut chi = 0.0;
        for (name, big, n) in strata {
            let mut count = vec![0u64; big];
            for seed in 0..seeds {
                for p in select(seed, name, big, n) {
                    count[p] += 1;
                }
            }
            let pi = n as f64 / big as f64;
            let e = seeds as f64 * pi;
            for (unit, &o) in count.iter().enumerate() {
                let z = (o as f64 - e) / (e * (1.0 - pi)).sqrt();
                assert!(z.abs() < 4.5, "{name} unit {unit}: {o} draws, {e} expected");
                chi += z * z;
            }
        }
        assert!(
            chi < 52.62,
            "chi-square {chi:.2} over 25 degrees of freedom"
        );
    }

    #[test]
    fn auditors_are_balanced_and_never_from_the_case_team() {
        let auditors = vec![
            plan::Auditor {
                name: "A".into(),
                team: Some("North".into()),
                max: None,
            },
            plan::Auditor {
                name: "B".into(),
                team: Some("South".into()),
                max: None,
            },
            plan::Auditor {
                name: "C".into(),
                team: None,
                max: Some(1),
            },
        ];
        let case = |team: &str| Case {
            case_id: String::new(),
            child_id: None,
            team: Some(team.into()),
            worker: None,
            dates: vec![],
            breached: vec![],
            stratum: 0,
        };
        let cases: Vec<Case> = ["North", "North", "South", "East", "North", "South"]
            .iter()
            .map(|t| case(t))
            .collect();
        let mut sel: Vec<Selected> = (0..cases.len())
            .map(|i| Selected {
                case: i,
                stratum: 0,
                order: i as u64 + 1,
                round: 1,
                auditor: None,
            })
            .collect();
        assert_eq!(assign_auditors(&auditors, &cases, &mut sel), 0);
        let got: Vec<&str> = sel.iter().map(|s| s.auditor.as_deref().unwrap()).collect();
        assert_eq!(got, ["B", "C", "A", "A", "B", "A"]);
        for s in &sel {
            let a = auditors
                .iter()
                .find(|a| a.name == *s.auditor.as_ref().unwrap())
                .unwrap();
            assert_ne!(a.team, cases[s.case].team);
        }
        // No one left for a North case once C is full and B is the only other.
        let only_north = vec![auditors[0].clone()];
        let mut one = vec![sel[0].clone()];
        one[0].auditor = None;
        assert_eq!(assign_auditors(&only_north, &cases, &mut one), 1);
        assert_eq!(one[0].auditor, None);
    }
}
