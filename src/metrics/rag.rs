//! Red, amber and green: the `rag` thresholds a file may give, and the colour of a value.

use serde::Deserialize;
use toml::Spanned;

use super::definition::{DefinitionError, Metric, Polarity, Reader};

#[derive(Debug, Clone, Copy)]
pub struct Rag {
    pub green: f64,
    pub amber: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRag {
    pub(super) green: f64,
    pub(super) amber: f64,
}

/// Reads `rag`: green must be at least as good as amber, in the measure's polarity.
pub(super) fn read(
    cx: &Reader,
    rag: Option<&Spanned<RawRag>>,
    polarity: Polarity,
) -> Result<Option<Rag>, DefinitionError> {
    Ok(match rag {
        None => None,
        Some(r) => {
            let v = r.get_ref();
            let ordered = match polarity {
                Polarity::Higher => v.green >= v.amber,
                Polarity::Lower => v.green <= v.amber,
                Polarity::Neutral => false,
            };
            if !ordered {
                return cx.err(
                    r.span(),
                    "rag",
                    match polarity {
                        Polarity::Neutral => {
                            "a neutral measure has no RAG: remove `rag` or set a polarity".into()
                        }
                        Polarity::Higher => format!(
                            "higher is better, so green ({}) must be at least amber ({})",
                            v.green, v.amber
                        ),
                        Polarity::Lower => format!(
                            "lower is better, so green ({}) must be at most amber ({})",
                            v.green, v.amber
                        ),
                    },
                );
            }
            Some(Rag {
                green: v.green,
                amber: v.amber,
            })
        }
    })
}

/// Red, amber or green from the thresholds (or the target alone), respecting polarity.
pub fn rag(m: &Metric, value: Option<f64>) -> Option<&'static str> {
    use super::definition::Polarity::*;
    let v = value?;
    let better_or_equal = |a: f64, b: f64| match m.polarity {
        Higher => a >= b,
        Lower => a <= b,
        Neutral => false,
    };
    if m.polarity == Neutral {
        return None;
    }
    match (m.rag, m.target) {
        (Some(r), _) => Some(if better_or_equal(v, r.green) {
            "green"
        } else if better_or_equal(v, r.amber) {
            "amber"
        } else {
            "red"
        }),
        (None, Some(t)) => Some(if better_or_equal(v, t) {
            "green"
        } else {
            "red"
        }),
        (None, None) => None,
    }
}
