//! `cargo xtask soak`: the full-size reliability runs, in release mode: 10,000 sequential hook
//! calls mixing success, failure, signal death, timeout and large output, then 64 threads x 100
//! calls across three drivers with a rescan every millisecond. Both check every result and
//! compare the process's open fds, child processes and resident memory before and after; the
//! figures are printed. The runs themselves are `#[ignore]`d tests of the `isolated` test
//! binary (`tests/tests/isolated`), which call hook-core in-process.

use std::process::Command;

/// The command this task runs, as a user would type it.
pub const COMMAND: &str = "cargo test --release -p tests --test isolated -- --ignored --nocapture --test-threads=1 _full_";

/// Runs the full soak and concurrency tests; `Err` when they fail or cargo cannot start.
#[allow(clippy::disallowed_methods)] // xtask drives cargo; the rule is for the shipped crates
pub fn run(mut args: impl Iterator<Item = String>) -> Result<(), String> {
    if let Some(extra) = args.next() {
        return Err(format!("xtask soak takes no arguments (got {extra:?})"));
    }
    eprintln!("xtask soak: {COMMAND}");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(crate::workspace_root())
        .args(COMMAND.split_whitespace().skip(1))
        .status()
        .map_err(|e| format!("xtask soak: cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("xtask soak: failed ({status})"))
    }
}
