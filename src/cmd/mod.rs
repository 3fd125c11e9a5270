//! Commands with enough glue to deserve a file of their own.

pub mod chart;
pub mod pack;
pub mod sample;
