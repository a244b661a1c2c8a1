//! `cargo xtask soak`: the full-size reliability runs, in release mode: 10,000 sequential hook
//! calls mixing success, failure, signal death, timeout and large output, then 64 threads x 100
//! calls across three drivers with a rescan every millisecond. Both check every result and
//! compare the process's open fds, child processes and resident memory before and after; the
//! figures are printed. The runs themselves are `#[ignore]`d tests of the `isolated` test
//! binary (`tests/tests/isolated`), which call hook-core in-process.

use std::process::{Command, ExitCode};

/// The command this task runs, as a user would type it.
pub(crate) const COMMAND: &str = "cargo test --release -p tests --test isolated -- --ignored --nocapture --test-threads=1 _full_";

/// Runs the full soak and concurrency tests and returns their exit status.
pub(crate) fn run() -> ExitCode {
    eprintln!("xtask soak: {COMMAND}");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(COMMAND.split_whitespace().skip(1))
        .status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => {
            eprintln!("xtask soak: failed ({s})");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("xtask soak: cannot run cargo: {e}");
            ExitCode::FAILURE
        }
    }
}
