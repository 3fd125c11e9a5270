//! Commands with enough glue to deserve a file of their own.

pub mod chart;
pub mod due;
pub mod pack;
pub mod sample;
pub mod spc;

use std::path::PathBuf;

/// How the SPC charts and funnels are drawn, for `chart` and `pack`.
#[derive(clap::Args)]
pub struct Drawing {
    /// SPC: leave moving ranges of 3.267 x their mean or more out of the limits.
    #[arg(long)]
    pub screen_outliers: bool,
    /// SPC: periods where a new phase, with its own limits, starts (`2024-04,2025-01`).
    #[arg(long, value_delimiter = ',')]
    pub rebase: Vec<String>,
    /// Funnel: the two limit levels in percent, the inner first.
    #[arg(long, value_delimiter = ',', default_values_t = [95.0, 99.8], value_parser = crate::parse_level)]
    pub funnel_limits: Vec<f64>,
}

impl Drawing {
    /// The two funnel levels, the inner first.
    pub fn funnel_levels(&self) -> anyhow::Result<[f64; 2]> {
        match self.funnel_limits.as_slice() {
            [a, b] if a < b => Ok([*a, *b]),
            _ => anyhow::bail!("--funnel-limits takes two levels, the inner first: 95,99.8"),
        }
    }
}

/// Where the measures and working days come from, for every command that evaluates them.
#[derive(clap::Args)]
pub struct Sources {
    /// Folder of metric definitions; default: ./metrics if present, else the built-in
    /// library.
    #[arg(long)]
    pub metrics: Option<PathBuf>,
    /// Working-day calendar (TOML); default: England and Wales, built in.
    #[arg(long)]
    pub calendar: Option<PathBuf>,
}
