//! Hostile inputs: pack (see mod.rs).
