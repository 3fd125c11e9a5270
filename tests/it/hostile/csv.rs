//! Hostile inputs: csv (see mod.rs).
