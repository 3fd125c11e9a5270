//! `kind = "summary"`: the median and quartiles of a `[value]` over the period's rows (or
//! the cases open at its end, or each worker's caseload).

use super::{Draft, Kind, Reads};
use crate::metrics::definition::DefinitionError;
use crate::metrics::rag::rag;
use crate::metrics::tally::Tally;
use crate::metrics::{Metric, OutRow};
use crate::stats;

pub(crate) struct Rules;

impl Kind for Rules {
    fn unit(&self) -> &'static str {
        "median"
    }

    fn reads(&self) -> Reads {
        Reads {
            value: true,
            ..Reads::default()
        }
    }

    fn check(&self, d: &Draft) -> Result<(), DefinitionError> {
        d.need(d.has_value, "value", "needs [value] `measure`")
    }

    fn out_rows(
        &self,
        m: &Metric,
        tl: &Tally,
        base: OutRow,
        _: Option<f64>,
        rows: &mut Vec<OutRow>,
    ) {
        let mut v = tl.values.clone();
        v.sort_by(f64::total_cmp);
        let median = stats::quantile(&v, 0.5);
        rows.push(OutRow {
            denominator: Some(v.len() as f64),
            value: median,
            rag: rag(m, median),
            p25: stats::quantile(&v, 0.25),
            p75: stats::quantile(&v, 0.75),
            ..base
        });
    }
}
