//! Hostile inputs: definitions (see mod.rs).
