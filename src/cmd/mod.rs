//! Commands with enough glue to deserve a file of their own.

pub mod chart;
pub mod pack;
pub mod sample;
pub mod spc;

use std::path::PathBuf;

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
