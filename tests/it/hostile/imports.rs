//! Hostile inputs: imports (see mod.rs).
