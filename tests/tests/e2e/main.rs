//! End-to-end tests.

mod cli;
mod dispatch;
mod drivers;
