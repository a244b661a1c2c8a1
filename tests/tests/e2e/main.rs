//! End-to-end tests.

mod dispatch;
mod drivers;
