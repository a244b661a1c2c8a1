//! Shared helpers for the end-to-end tests.

pub mod cli_support;
pub mod drivers_support;
pub mod hookdir;
