//! Cases open at each period end (`population.open`), and the other tables whose open cases
//! join them (`population.also`: a caseload counts assessments, S47 enquiries and plans).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;
use serde::Deserialize;
use toml::Spanned;

use super::breakdowns::Breakdown;
use super::definition::{
    is_date, DefinitionError, Filter, Metric, RawMetric, Reader, Rows, Source,
};
use super::plan::{by_col, ms_expr, table_frame, Plan, CHILD, END, NUM, PER, START};
use super::value::Value;
use super::windows::{MS_PER_DAY, NULL};
use crate::ingest::Extracts;
use crate::schema::{self, TableSpec};
use crate::values::epoch_days;

/// Another table whose open cases join an open population.
#[derive(Debug, Clone)]
pub struct Also {
    pub table: &'static TableSpec,
    pub filter: Option<Filter>,
    pub start: &'static str,
    pub end: Option<&'static str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlso {
    pub(super) table: Spanned<String>,
    pub(super) open: Spanned<RawOpen>,
    #[serde(default)]
    pub(super) filter: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOpen {
    pub(super) start: Spanned<String>,
    #[serde(default)]
    pub(super) end: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) at_least: Option<Spanned<BTreeMap<String, toml::Value>>>,
    /// A related table whose first row closes the case (`until = "icpc"`).
    #[serde(default)]
    pub(super) until: Option<Spanned<String>>,
}

/// Reads `population.also`: each table, its open span and filter, and that it holds every
/// column the measure reads from a row.
pub(super) fn read_also(
    cx: &Reader,
    raw: &RawMetric,
    is_open: bool,
) -> Result<Vec<Also>, DefinitionError> {
    let mut also = Vec::new();
    for a in &raw.population.also {
        let ar = a.get_ref();
        let field = "population.also";
        if !is_open {
            return cx.err(
                a.span(),
                field,
                "`also` joins open cases: the population needs `open`".into(),
            );
        }
        if !raw.related.is_empty() || raw.within.is_some() || raw.numerator.is_some() {
            return cx.err(a.span(), field, "a population with `also` counts open cases only: it cannot have [related], [within] or [numerator]".into());
        }
        let table = cx.table(&ar.table, "population.also.table")?;
        let date = |s: &Spanned<String>, f: &str| -> Result<&'static str, DefinitionError> {
            match table.column(s.get_ref()) {
                Some(c) if is_date(c.kind) => Ok(c.name),
                _ => cx.err(
                    s.span(),
                    f,
                    format!("`{}` is not a date column of {}", s.get_ref(), table.name),
                ),
            }
        };
        let o = ar.open.get_ref();
        if o.at_least.is_some() || o.until.is_some() {
            return cx.err(
                ar.open.span(),
                "population.also.open",
                "`at_least` and `until` belong to the main `population.open`".into(),
            );
        }
        // Every column the measure reads from a row must exist under the same name.
        let mut needed: Vec<&Spanned<String>> = raw
            .breakdowns
            .iter()
            .filter(|b| b.get_ref() != "age_band")
            .collect();
        if let Some(v) = &raw.value {
            needed.extend(v.get_ref().per.iter());
        }
        for n in needed {
            let name = raw
                .breakdown
                .get(n.get_ref())
                .map_or(n.get_ref().as_str(), |m| m.get_ref().as_str());
            if table.column(name).is_none() {
                return cx.err(
                    a.span(),
                    field,
                    format!(
                        "{} has no column `{name}`, which this measure reads from every row",
                        table.name
                    ),
                );
            }
        }
        if table.column(schema::CHILD_ID).is_none() {
            return cx.err(
                ar.table.span(),
                "population.also.table",
                format!("{} has no child_id", table.name),
            );
        }
        also.push(Also {
            table,
            filter: match &ar.filter {
                Some(f) => Some(cx.filter(f, "population.also.filter", table)?),
                None => None,
            },
            start: date(&o.start, "population.also.open.start")?,
            end: match &o.end {
                Some(e) => Some(date(e, "population.also.open.end")?),
                None => None,
            },
        });
    }
    Ok(also)
}

// ---- Evaluation ------------------------------------------------------------------------

/// Keeps the cases that can be open at some period end between `from` and `to` (started by
/// `to`; not ended, or ended after `from`), with their start and end as `START` and `END`.
pub(super) fn open_cases(
    lf: LazyFrame,
    start: &str,
    end: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
    select: &mut Vec<Expr>,
) -> LazyFrame {
    let first_ms = epoch_days(from) as i64 * MS_PER_DAY;
    let last_ms = epoch_days(to) as i64 * MS_PER_DAY;
    let mut lf = lf.filter(ms_expr(start).lt_eq(lit(last_ms)));
    select.push(ms_expr(start).alias(START));
    match end {
        Some(e) => {
            lf = lf.filter(ms_expr(e).is_null().or(ms_expr(e).gt(lit(first_ms))));
            select.push(ms_expr(e).alias(END));
        }
        None => select.push(lit(NULL).alias(END)),
    }
    lf
}

/// An open population drawn from several tables (a caseload): the same columns from each,
/// one under the other. The definition allows no related tables or conditions here.
pub(super) fn plan_union(
    m: &Metric,
    ex: &Extracts,
    from: NaiveDate,
    to: NaiveDate,
    by: &[String],
) -> Result<Plan, String> {
    let p = &m.population;
    let Rows::Open {
        start: Source::Column { name: start, .. },
        end,
        ..
    } = &p.rows
    else {
        return Err("`also` needs an open population whose start is a column".into());
    };
    let end = match end {
        Some(Source::Column { name, .. }) => Some(name.as_str()),
        Some(Source::Series(_)) => return Err("an open case's end must be a column".into()),
        None => None,
    };
    let mut sources = vec![(p.table, p.filter.as_ref(), start.as_str(), end)];
    sources.extend(
        p.also
            .iter()
            .map(|a| (a.table, a.filter.as_ref(), a.start, a.end)),
    );
    let mut frames = Vec::new();
    for (table, filter, start, end) in sources {
        let mut lf = table_frame(ex, table.name)?.clone().lazy();
        if let Some(f) = filter {
            lf = lf.filter(f.expr.clone().fill_null(lit(false)));
        }
        let mut select = Vec::new();
        lf = open_cases(lf, start, end, from, to, &mut select);
        select.push(lit(true).alias(NUM));
        if let Some(Value::PerGroup(Source::Column { name, .. })) = &m.value {
            select.push(col(name.as_str()).cast(DataType::String).alias(PER));
        }
        select.push(col(schema::CHILD_ID).cast(DataType::String).alias(CHILD));
        for (i, (name, b)) in m.breakdowns.iter().enumerate() {
            if let (true, Breakdown::Column(Source::Column { name: c, .. })) =
                (by.contains(name), b)
            {
                select.push(col(c.as_str()).cast(DataType::String).alias(by_col(i)));
            }
        }
        frames.push(lf.select(select));
    }
    Ok(Plan {
        frame: concat(frames, UnionArgs::default()).map_err(|e| e.to_string())?,
        series: Vec::new(),
        self_series: None,
    })
}
