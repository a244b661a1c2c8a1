//! End-to-end tests.
mod cli;
