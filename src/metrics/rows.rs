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

/// A text column as its distinct values and each row's place among them: a breakdown's
/// group is found once a value, not once a row at every period end it is counted at.
pub(super) struct Coded<'a> {
    pub(super) codes: Vec<u32>,
    pub(super) values: Vec<Option<&'a str>>,
}

impl<'a> Coded<'a> {
    fn read(df: &'a DataFrame, name: &str) -> PolarsResult<Self> {
        let cells = df.column(name)?.str()?;
        let mut index: PlHashMap<Option<&'a str>, u32> = PlHashMap::new();
        let mut values = Vec::new();
        let codes = cells
            .iter()
            .map(|v| {
                *index.entry(v).or_insert_with(|| {
                    values.push(v);
                    values.len() as u32 - 1
                })
            })
            .collect();
        Ok(Coded { codes, values })
    }

    pub(super) fn get(&self, row: usize) -> Option<&'a str> {
        self.values[self.codes[row] as usize]
    }
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
    /// A caseload's holder and child of each row, as codes (only a `per_group` value).
    pub(super) per: Option<(Coded<'a>, Coded<'a>)>,
    pub(super) child: Option<Vec<Option<&'a str>>>,
    pub(super) key: Option<Vec<Option<&'a str>>>,
    pub(super) by: Vec<Option<Coded<'a>>>,
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
        per: has(PER)
            .then(|| PolarsResult::Ok((Coded::read(df, PER)?, Coded::read(df, CHILD)?)))
            .transpose()?,
        child: opt_str(CHILD)?,
        key: opt_str(KEY)?,
        by: (0..m.breakdowns.len())
            .map(|i| {
                let c = by_col(i);
                has(&c).then(|| Coded::read(df, &c)).transpose()
            })
            .collect::<PolarsResult<_>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each distinct value (a missing one too) is held once, in the order rows first show
    /// it, and each row reads back its own value.
    #[test]
    fn a_coded_column_reads_back_every_row() {
        let cells = [
            Some("North"),
            None,
            Some("South"),
            Some("North"),
            Some(""),
            None,
        ];
        let df = df!("team" => cells).unwrap();
        let c = Coded::read(&df, "team").unwrap();
        assert_eq!(c.values, vec![Some("North"), None, Some("South"), Some("")]);
        assert_eq!(c.codes, vec![0, 1, 2, 0, 3, 1]);
        let back: Vec<Option<&str>> = (0..cells.len()).map(|r| c.get(r)).collect();
        assert_eq!(back, cells);
        assert!(Coded::read(&df, "worker").is_err());
    }
}
