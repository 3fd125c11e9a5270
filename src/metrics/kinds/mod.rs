//! The kinds of measure. Each file here holds what its kind checks in a metric file and how
//! it turns a tally into output rows; the reader and the engine reach a kind only through
//! [`Kind`]. A new kind is a new file, its `mod` line and one line in the list below.

use super::condition::Condition;
use super::definition::{DefinitionError, RawMetric, Reader};
use super::tally::Tally;
use super::within::Within;
use super::{Metric, OutRow};

pub(crate) mod count;
pub(crate) mod distribution;
pub(crate) mod ratio;
pub(crate) mod repeat;
pub(crate) mod snapshot;
pub(crate) mod summary;

/// The list of kinds: each line names a kind's file (also its name in a metric file,
/// `kind = "ratio"`) and its variant of [`MetricKind`].
macro_rules! kinds {
    ($($(#[doc = $doc:literal])* $file:ident => $Kind:ident,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum MetricKind {
            $($(#[doc = $doc])* $Kind,)*
        }

        /// Each kind by the name a metric file gives it.
        pub(crate) const KINDS: &[(&str, MetricKind)] =
            &[$((stringify!($file), MetricKind::$Kind),)*];

        impl MetricKind {
            /// What this kind checks and does.
            pub(super) fn rules(self) -> &'static dyn Kind {
                match self {
                    $(MetricKind::$Kind => &$file::Rules,)*
                }
            }
        }
    };
}

kinds! {
    /// Numerator / denominator of rows in the period (a `within` rule and/or a condition).
    ratio => Ratio,
    /// Rows whose child had an earlier row of the same kind (within a window).
    repeat => Repeat,
    /// Cases open at the end of each period, and how many meet a condition.
    snapshot => Snapshot,
    /// Rows in the period (or open at its end) by bucket of a value.
    distribution => Distribution,
    /// How many rows, and the rate per 10,000 children.
    count => Count,
    /// Median and quartiles of a value.
    summary => Summary,
}

impl MetricKind {
    /// The name a metric file gives the kind (`kind = "ratio"`).
    pub fn name(self) -> &'static str {
        KINDS.iter().find(|(_, k)| *k == self).expect("listed").0
    }
    /// What the `value` column holds for this kind.
    pub fn unit(self) -> &'static str {
        self.rules().unit()
    }
    /// Whether the value is a rate: each row meets the measure or not.
    pub fn is_rate(self) -> bool {
        self.rules().is_rate()
    }
}

/// What one kind of measure checks and does.
pub(super) trait Kind: Sync {
    /// What the `value` column holds.
    fn unit(&self) -> &'static str;

    /// Which of the tables that only some kinds read this kind reads; the others are
    /// refused in its files.
    fn reads(&self) -> Reads {
        Reads::default()
    }

    /// Refuses a file without what the kind needs (`Draft::need` words the message).
    fn check(&self, d: &Draft) -> Result<(), DefinitionError>;

    /// Whether each row meets the measure or not (its value is a rate), so that a case can
    /// count against it: the audit sample lists those.
    fn is_rate(&self) -> bool {
        false
    }

    /// The output rows of one period and group from its tally; `base` carries the columns
    /// every kind fills, `per_10k` the area's child population (overall rows only). A
    /// rate's is one row: numerator over denominator, with its interval.
    fn out_rows(
        &self,
        m: &Metric,
        t: &Tally,
        base: OutRow,
        _per_10k: Option<f64>,
        rows: &mut Vec<OutRow>,
    ) {
        rows.push(super::out_rows::rate_row(m, t, base));
    }
}

/// The optional tables a kind reads: `[numerator]`, `[repeat]`, `[value]`.
#[derive(Default, Clone, Copy)]
pub(super) struct Reads {
    pub numerator: bool,
    pub repeat: bool,
    pub value: bool,
}

/// A metric file as read so far, for its kind to check.
pub(super) struct Draft<'a> {
    pub cx: &'a Reader<'a>,
    pub raw: &'a RawMetric,
    pub kind: MetricKind,
    /// Cases open at each period end (`population.open`), not rows in the period.
    pub is_open: bool,
    pub within: Option<&'a Within>,
    pub condition: &'a Condition,
    pub has_repeat: bool,
    pub has_value: bool,
    pub has_buckets: bool,
}

impl Draft<'_> {
    /// Refuses the file at its `kind` unless `ok`: "a `<kind>` measure <msg>".
    pub fn need(&self, ok: bool, field: &str, msg: &str) -> Result<(), DefinitionError> {
        let (cx, raw, kind) = (self.cx, self.raw, self.kind);
        if ok {
            Ok(())
        } else {
            cx.err(
                raw.kind.span(),
                field,
                format!("a `{}` measure {msg}", kind.name()),
            )
        }
    }

    /// Refuses `[numerator]`, `[repeat]` and `[value]` where the kind does not read them
    /// (in that order, so a file with several mistakes hears of the same one first).
    pub(super) fn refuse_unread(&self, reads: Reads) -> Result<(), DefinitionError> {
        let (cx, raw, kind) = (self.cx, self.raw, self.kind);
        if !reads.numerator {
            if let Some(n) = &raw.numerator {
                let span = n
                    .filter
                    .as_ref()
                    .map(|f| f.span())
                    .unwrap_or(raw.kind.span());
                return cx.err(
                    span,
                    "numerator",
                    format!("a `{}` measure has no numerator condition", kind.name()),
                );
            }
        }
        if !reads.repeat {
            if let Some(r) = &raw.repeat {
                return cx.err(
                    r.span(),
                    "repeat",
                    "[repeat] belongs to a `repeat` measure".into(),
                );
            }
        }
        if let (false, Some(v)) = (reads.value, &raw.value) {
            return cx.err(
                v.span(),
                "value",
                format!(
                    "a `{}` measure has no [value]; use `distribution` or `summary`",
                    kind.name()
                ),
            );
        }
        Ok(())
    }
}
