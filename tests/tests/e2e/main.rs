//! End-to-end tests.

mod drivers;
