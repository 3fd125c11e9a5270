//! Breakdowns (`breakdowns = ["team", "age_band"]`): the groups each measure is also
//! reported by. How a file names them, the DfE's age bands, and the group names rows carry.

use std::collections::BTreeMap;

use polars::prelude::*;
use toml::Spanned;

use super::definition::{DefinitionError, Reader, Scope, Source};
use super::windows::whole_months;
use super::EvalError;
use crate::ingest::Extracts;
use crate::schema::{self, TableSpec};

#[derive(Debug, Clone)]
pub enum Breakdown {
    Column(Source),
    /// The child's age at the row's date (or the period end), in the DfE's bands.
    AgeBand,
}

/// Reads `breakdowns` (each a column, `related.column`, `age_band`, or a name mapped in
/// `[breakdown]`) and checks every `[breakdown]` entry is listed.
pub(super) fn read(
    cx: &Reader,
    scope: &Scope,
    listed: &[Spanned<String>],
    mapped: &BTreeMap<String, Spanned<String>>,
    population_table: &'static TableSpec,
) -> Result<Vec<(String, Breakdown)>, DefinitionError> {
    let mut breakdowns = Vec::new();
    for b in listed {
        let name = b.get_ref().trim().to_string();
        let bd = if let Some(over) = mapped.get(&name) {
            Breakdown::Column(scope.source(over, &format!("breakdown.{name}"))?)
        } else if name == "age_band" {
            if population_table.column(schema::CHILD_ID).is_none() {
                return cx.err(
                    b.span(),
                    "breakdowns",
                    format!("{} has no child_id, so no age band", population_table.name),
                );
            }
            Breakdown::AgeBand
        } else {
            match scope.resolve(&name) {
                Ok(s) => Breakdown::Column(s),
                Err(e) => {
                    return cx.err(
                        b.span(),
                        "breakdowns",
                        format!("{e}; or map it in [breakdown] (`{name} = \"related.column\"`)"),
                    )
                }
            }
        };
        if name == "all" || breakdowns.iter().any(|(n, _)| *n == name) {
            return cx.err(
                b.span(),
                "breakdowns",
                format!("`{name}` is listed twice or reserved"),
            );
        }
        breakdowns.push((name, bd));
    }
    for (name, s) in mapped {
        if !breakdowns.iter().any(|(n, _)| n == name) {
            return cx.err(
                s.span(),
                &format!("breakdown.{name}"),
                format!("`{name}` is not in `breakdowns`: add it there"),
            );
        }
    }
    Ok(breakdowns)
}

// ---- Evaluation ------------------------------------------------------------------------

/// The age bands in their natural order (the order output rows list them in).
pub(super) const AGE_BANDS: &[&str] = &[
    "unborn",
    "under 1",
    "1 to 4",
    "5 to 9",
    "10 to 15",
    "16 and over",
];

/// The DfE's age bands, at a date.
pub(crate) fn age_band(dob: Option<i32>, at: i32) -> &'static str {
    let Some(dob) = dob else { return "unknown" };
    if dob > at {
        return "unborn";
    }
    let years = whole_months(dob, at) / 12;
    match years {
        0 => "under 1",
        1..=4 => "1 to 4",
        5..=9 => "5 to 9",
        10..=15 => "10 to 15",
        _ => "16 and over",
    }
}

/// Interns a breakdown's group names.
#[derive(Default)]
pub(super) struct Groups {
    index: PlHashMap<String, u32>,
    pub names: Vec<String>,
}

impl Groups {
    pub(super) fn id(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.index.insert(name.to_string(), i);
        self.names.push(name.to_string());
        i
    }
}

/// A breakdown group's name as every output shows it (an empty value is `unknown`).
pub(crate) fn group_name(v: Option<&str>) -> &str {
    match v {
        None | Some("") => "unknown",
        Some("true") => "yes",
        Some("false") => "no",
        Some(s) => s,
    }
}

/// Group ids in the order output rows list them: age bands youngest first, other groups
/// alphabetically, "unknown" last.
pub(super) fn ordered(groups: &Groups) -> Vec<(u32, &str)> {
    let mut groups: Vec<(u32, &str)> = groups
        .names
        .iter()
        .enumerate()
        .map(|(i, n)| (i as u32, n.as_str()))
        .collect();
    groups.sort_by_key(|(_, n)| {
        let band = AGE_BANDS.iter().position(|b| b == n).unwrap_or(usize::MAX);
        (*n == "unknown", band, n.to_string())
    });
    groups
}

/// Each child's date of birth (days since 1970), when ages are asked for: one table shared
/// by every metric.
pub(super) fn dates_of_birth<'a>(
    ex: &'a Extracts,
    by: &[String],
) -> Result<PlHashMap<&'a str, i32>, EvalError> {
    let mut dob = PlHashMap::new();
    if let (true, Some(children)) = (
        by.iter().any(|b| b == "age_band"),
        ex.frame(crate::schema::CHILDREN),
    ) {
        let ids = children.column(schema::CHILD_ID).and_then(|c| c.str());
        let days = children
            .column(schema::DATE_OF_BIRTH)
            .and_then(|c| c.cast(&DataType::Int32));
        if let (Ok(ids), Ok(days)) = (ids, days) {
            let days = days.i32().map_err(EvalError::Polars)?.clone();
            dob.reserve(ids.len());
            for (id, d) in ids.iter().zip(days.iter()) {
                if let (Some(id), Some(d)) = (id, d) {
                    dob.insert(id, d);
                }
            }
        }
    }
    Ok(dob)
}
