//! Reads a metric's collected row frame into plain vectors, one per column the plan
//! selected, so the tally can walk the rows without polars in the loop.

use polars::prelude::*;

use super::plan::{
    by_col, exists_col, from_col, not_before_col, on_col, to_col, Plan, CHILD, END, KEY, NUM, PER,
    PERIOD_DATE, START,
};
use super::windows::NULL;
use super::Metric;

fn i64_column(df: &DataFrame, name: &str) -> PolarsResult<Vec<i64>> {
    let c = df.column(name)?.cast(&DataType::Int64)?;
    Ok(c.i64()?.iter().map(|v| v.unwrap_or(NULL)).collect())
}

fn bool_column(df: &DataFrame, name: &str) -> PolarsResult<Vec<bool>> {
    let c = df.column(name)?.cast(&DataType::Boolean)?;
    Ok(c.bool()?.iter().map(|v| v.unwrap_or(false)).collect())
}

/// Text cells borrowed from the frame (the plan casts these columns to text).
fn str_column<'a>(df: &'a DataFrame, name: &str) -> PolarsResult<Vec<Option<&'a str>>> {
    Ok(df.column(name)?.str()?.iter().collect())
}

/// The per-row inputs of one metric, read out of its collected frame.
pub(super) struct RowData<'a> {
    pub(super) n: usize,
    pub(super) period_date: Vec<i64>,
    pub(super) start: Vec<i64>,
    pub(super) end: Vec<i64>,
    pub(super) from: Vec<Option<Vec<i64>>>,
    pub(super) to: Option<Vec<i64>>,
    pub(super) num: Vec<bool>,
    pub(super) exists: Vec<Option<Vec<bool>>>,
    pub(super) not_before: Option<Vec<i64>>,
    pub(super) on: Vec<Vec<Option<&'a str>>>,
    pub(super) per: Option<Vec<Option<&'a str>>>,
    pub(super) child: Option<Vec<Option<&'a str>>>,
    pub(super) key: Option<Vec<Option<&'a str>>>,
    pub(super) by: Vec<Option<Vec<Option<&'a str>>>>,
}

pub(super) fn read_rows<'a>(
    m: &Metric,
    plan: &Plan,
    df: &'a DataFrame,
) -> PolarsResult<RowData<'a>> {
    let has = |c: &str| df.get_column_names().iter().any(|n| n.as_str() == c);
    let opt_i64 = |c: &str| -> PolarsResult<Option<Vec<i64>>> {
        if has(c) {
            i64_column(df, c).map(Some)
        } else {
            Ok(None)
        }
    };
    let opt_str = |c: &str| -> PolarsResult<Option<Vec<Option<&'a str>>>> {
        if has(c) {
            str_column(df, c).map(Some)
        } else {
            Ok(None)
        }
    };
    let n = df.height();
    let from = match &m.within {
        Some(w) => (0..w.from.len())
            .map(|i| opt_i64(&from_col(i)))
            .collect::<PolarsResult<_>>()?,
        None => Vec::new(),
    };
    Ok(RowData {
        n,
        period_date: opt_i64(PERIOD_DATE)?.unwrap_or_default(),
        start: opt_i64(START)?.unwrap_or_default(),
        end: opt_i64(END)?.unwrap_or_default(),
        from,
        to: opt_i64(to_col())?,
        num: bool_column(df, NUM)?,
        exists: (0..m.condition.exists.len())
            .map(|i| {
                if has(&exists_col(i)) {
                    bool_column(df, &exists_col(i)).map(Some)
                } else {
                    Ok(None)
                }
            })
            .collect::<PolarsResult<_>>()?,
        not_before: opt_i64(not_before_col())?,
        on: (0..plan.series.len())
            .map(|i| str_column(df, &on_col(i)))
            .collect::<PolarsResult<_>>()?,
        per: opt_str(PER)?,
        child: opt_str(CHILD)?,
        key: opt_str(KEY)?,
        by: (0..m.breakdowns.len())
            .map(|i| opt_str(&by_col(i)))
            .collect::<PolarsResult<_>>()?,
    })
}
