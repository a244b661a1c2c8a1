//! End-to-end tests.
mod dispatch;
