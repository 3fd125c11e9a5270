//! `kind = "snapshot"`: of the cases open at each period end, how many meet a `[numerator]`
//! condition (a plan reviewed on time, a child visited recently), as a percentage.

use super::{Draft, Kind, Reads};
use crate::metrics::definition::DefinitionError;
use crate::metrics::out_rows::rate_row;
use crate::metrics::tally::Tally;
use crate::metrics::{Metric, OutRow};

pub(crate) struct Rules;

impl Kind for Rules {
    fn unit(&self) -> &'static str {
        "percent"
    }

    fn reads(&self) -> Reads {
        Reads {
            numerator: true,
            ..Reads::default()
        }
    }

    fn check(&self, d: &Draft) -> Result<(), DefinitionError> {
        d.need(
            d.is_open,
            "population.open",
            "needs `population.open = { start = .., end = .. }`",
        )?;
        d.need(
            d.condition.is_given(),
            "numerator",
            "needs a [numerator] condition",
        )
    }

    fn is_rate(&self) -> bool {
        true
    }

    fn out_rows(
        &self,
        m: &Metric,
        t: &Tally,
        base: OutRow,
        _: Option<f64>,
        rows: &mut Vec<OutRow>,
    ) {
        rows.push(rate_row(m, t, base));
    }
}
