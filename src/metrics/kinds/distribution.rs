//! `kind = "distribution"`: the rows of each period (or the cases open at its end) by bucket
//! of a `[value]`, each bucket's share as a percentage.

use serde::Deserialize;
use toml::Spanned;

use super::{Draft, Kind, Reads};
use crate::metrics::definition::{DefinitionError, Reader};
use crate::metrics::tally::Tally;
use crate::metrics::{Metric, OutRow};
use crate::stats;

#[derive(Debug, Clone)]
pub struct Bucket {
    pub label: String,
    /// Values below this fall in this bucket (the last bucket has none).
    pub below: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBucket {
    pub(crate) label: String,
    #[serde(default)]
    pub(crate) below: Option<f64>,
}

/// Reads `[[buckets]]`: each but the last with a `below` larger than the one before.
pub(crate) fn read_buckets(
    cx: &Reader,
    raw: &[Spanned<RawBucket>],
) -> Result<Vec<Bucket>, DefinitionError> {
    let mut buckets = Vec::new();
    for (i, b) in raw.iter().enumerate() {
        let br = b.get_ref();
        let last = i + 1 == raw.len();
        match (br.below, last) {
            (None, false) => {
                return cx.err(
                    b.span(),
                    "buckets",
                    "every bucket but the last needs `below`".into(),
                )
            }
            (Some(_), true) => {
                return cx.err(
                    b.span(),
                    "buckets",
                    "the last bucket takes everything left: remove its `below`".into(),
                )
            }
            _ => {}
        }
        if let (Some(x), Some(prev)) = (br.below, buckets.last().and_then(|p: &Bucket| p.below)) {
            if x <= prev {
                return cx.err(
                    b.span(),
                    "buckets",
                    "`below` must increase from one bucket to the next".into(),
                );
            }
        }
        buckets.push(Bucket {
            label: br.label.clone(),
            below: br.below,
        });
    }
    Ok(buckets)
}

/// The bucket a value falls in: the first whose `below` it is under, else the last.
pub(crate) fn bucket_of(buckets: &[Bucket], v: f64) -> usize {
    buckets
        .iter()
        .position(|b| b.below.is_none_or(|x| v < x))
        .unwrap_or(buckets.len() - 1)
}

pub(crate) struct Rules;

impl Kind for Rules {
    fn unit(&self) -> &'static str {
        "percent"
    }

    fn reads(&self) -> Reads {
        Reads {
            value: true,
            ..Reads::default()
        }
    }

    fn check(&self, d: &Draft) -> Result<(), DefinitionError> {
        d.need(d.has_value, "value", "needs [value] `measure`")?;
        d.need(
            d.has_buckets,
            "buckets",
            "needs [[buckets]] with `label` and `below`",
        )
    }

    fn out_rows(
        &self,
        m: &Metric,
        tl: &Tally,
        base: OutRow,
        _: Option<f64>,
        rows: &mut Vec<OutRow>,
    ) {
        let n: u64 = tl.buckets.iter().sum();
        for (b, bucket) in m.buckets.iter().enumerate() {
            let x = tl.buckets[b];
            let ci = stats::wilson(x, n, stats::Z95);
            rows.push(OutRow {
                category: bucket.label.clone(),
                numerator: Some(x as f64),
                denominator: Some(n as f64),
                value: (n > 0).then(|| 100.0 * x as f64 / n as f64),
                ci_low: ci.map(|c| 100.0 * c.0),
                ci_high: ci.map(|c| 100.0 * c.1),
                ..base.clone()
            });
        }
    }
}
