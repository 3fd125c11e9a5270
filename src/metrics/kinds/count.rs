//! `kind = "count"`: how many rows in each period (or cases open at its end), and overall
//! the rate per 10,000 children of the area.

use super::{Draft, Kind};
use crate::metrics::definition::DefinitionError;
use crate::metrics::rag::rag;
use crate::metrics::tally::Tally;
use crate::metrics::{Metric, OutRow};

pub(crate) struct Rules;

impl Kind for Rules {
    fn unit(&self) -> &'static str {
        "count"
    }

    fn check(&self, _: &Draft) -> Result<(), DefinitionError> {
        Ok(())
    }

    fn out_rows(
        &self,
        m: &Metric,
        tl: &Tally,
        base: OutRow,
        per_10k: Option<f64>,
        rows: &mut Vec<OutRow>,
    ) {
        let x = tl.met + tl.breach;
        rows.push(OutRow {
            numerator: Some(x as f64),
            value: Some(x as f64),
            rag: rag(m, Some(x as f64)),
            rate_per_10k: per_10k.map(|p| 10_000.0 * x as f64 / p),
            ..base
        });
    }
}
