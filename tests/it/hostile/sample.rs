//! Hostile inputs: sample (see mod.rs).
