//! End-to-end tests.
mod reliability;
