//! csc-audit: audit sampling and compliance metrics for children's social care in England.
//!
//! The modules follow the data's journey: [`schema`] (the extract format, written once) ->
//! [`values`] and [`ingest`] (reading and checking every row) -> [`calendar`] (working days)
//! -> [`report`] (the data-quality report) -> [`metrics`] -> [`sampling`] (the audit sample
//! and its estimates) with [`stats`] -> [`pack`], [`charts`] and [`worklist`] (the
//! managers' list of cases due, from `metrics::due`). [`synth`] makes a synthetic council
//! to try it on.

pub mod calendar;
pub mod chart_text;
pub mod charts;
pub mod disclosure;
pub mod fsutil;
pub mod import;
// No function in the loader or the engine over the threshold of clippy.toml: they must
// stay readable.
#[deny(clippy::too_many_lines)]
pub mod ingest;
pub mod limits;
pub mod memory;
#[deny(clippy::too_many_lines)]
pub mod metrics;
pub mod pack;
pub mod par;
pub mod periods;
pub mod report;
pub mod sampling;
pub mod schema;
pub mod spc;
pub mod stats;
pub mod synth;
pub mod tabular;
#[deny(clippy::too_many_lines)]
pub mod values;
pub mod worklist;
