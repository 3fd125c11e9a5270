//! `kind = "ratio"`: of the rows in each period, how many meet the measure (a `[within]`
//! rule with a limit, a `[numerator]` condition, or both), as a percentage.

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
            !d.is_open,
            "population",
            "counts rows in the period: use `population.date` (a `snapshot` counts open cases)",
        )?;
        d.need(
            d.within
                .is_some_and(|w| w.from.iter().all(|(_, l)| l.is_some()))
                || d.condition.is_given(),
            "within",
            "needs a [within] rule with a limit, or a [numerator] condition",
        )
    }

    fn is_rate(&self) -> bool {
        true
    }
}
