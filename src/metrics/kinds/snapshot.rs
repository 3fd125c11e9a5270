//! `kind = "snapshot"`: of the cases open at each period end, how many meet a `[numerator]`
//! condition (a plan reviewed on time, a child visited recently), as a percentage.

use super::{Draft, Kind, Reads};
use crate::metrics::definition::DefinitionError;

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
}
