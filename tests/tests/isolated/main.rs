//! Tests that need the whole process to themselves: they count the process's open fds, child
//! processes and resident memory before and after, or change process-wide state (signal
//! dispositions, tracing's dispatchers).
//! In the `e2e` binary other tests run in parallel threads and would disturb the counts, so
//! these live in their own binary, and every test here holds [`exclusive`] for its duration.
//!
//! The full-size soak and concurrency runs are `#[ignore]`d; `cargo xtask soak` runs them in
//! release mode and prints the figures.

use std::sync::{Mutex, MutexGuard};

mod closed_stdio;
mod concurrency;
mod logs;
mod signals;
mod soak;
mod unwinding;

/// Serialises the tests of this binary (a failed test must not block the others: poisoning is
/// ignored).
fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
