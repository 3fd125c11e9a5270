//! `kind = "repeat"`: of the rows in each period, how many are a repeat, the child having
//! had an earlier row of the same table (at least `at_least` of them, within a window): a
//! re-referral, a second plan.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::{Draft, Kind, Reads};
use crate::metrics::definition::{DefinitionError, Reader};
use crate::metrics::tally::Judge;
use crate::metrics::windows::Window;

#[derive(Debug, Clone, Copy)]
pub struct Repeat {
    pub window: Option<Window>,
    pub at_least: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRepeat {
    #[serde(default)]
    pub(crate) within: Option<Spanned<BTreeMap<String, toml::Value>>>,
    #[serde(default)]
    pub(crate) at_least: Option<u32>,
}

/// Reads `[repeat]` (wherever it is: a kind other than `repeat` refuses it after its own
/// checks).
pub(crate) fn read(
    cx: &Reader,
    repeat: Option<&Spanned<RawRepeat>>,
) -> Result<Option<Repeat>, DefinitionError> {
    Ok(match repeat {
        Some(r) => Some(Repeat {
            window: match &r.get_ref().within {
                Some(w) => Some(cx.window(w, "repeat.within")?),
                None => None,
            },
            at_least: r.get_ref().at_least.unwrap_or(1).max(1),
        }),
        None => None,
    })
}

pub(crate) struct Rules;

impl Kind for Rules {
    fn unit(&self) -> &'static str {
        "percent"
    }

    fn reads(&self) -> Reads {
        Reads {
            repeat: true,
            ..Reads::default()
        }
    }

    fn check(&self, d: &Draft) -> Result<(), DefinitionError> {
        d.need(
            !d.is_open,
            "population.date",
            "counts rows in the period: use `population.date`",
        )?;
        d.need(
            d.has_repeat,
            "repeat",
            "needs a [repeat] table (`within = { months = 12 }`, optional)",
        )
    }

    fn is_rate(&self) -> bool {
        true
    }
}

impl Judge<'_> {
    /// Whether a row dated `at` is a repeat: its child has at least `at_least` earlier rows
    /// (the population's own rows, planned as one more series), the last of those needed
    /// inside the window.
    pub(crate) fn is_repeat(&self, rep: &Repeat, row: usize, at: i32) -> bool {
        let dates = self.dates_of(row, self.p.self_series.expect("planned"));
        let earlier = dates.partition_point(|&x| x < at);
        earlier >= rep.at_least as usize
            && match rep.window {
                None => true,
                Some(w) => {
                    let from = self.cx.window_start(at, w);
                    // The at_least-th latest earlier date must be inside the window.
                    dates[earlier - rep.at_least as usize] >= from
                }
            }
    }
}
