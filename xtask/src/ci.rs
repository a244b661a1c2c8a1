//! `cargo xtask ci`: runs `bash .ci/run` from the workspace root, so the local check and CI are
//! the same script (fmt, clippy, the README's test command, `cargo doc` without warnings, the
//! benchmark build, the packages (`cargo xtask dist`), the VM test (`tests/vm`), stray
//! snapshots), in the same order.

/// Runs `.ci/run`; its failure is this task's failure.
// xtask is developer automation, not the library: starting bash is its job. The "only hook-core
// starts processes" rule (clippy.toml) is about the shipped crates.
#[allow(clippy::disallowed_methods)]
pub fn run(mut args: impl Iterator<Item = String>) -> Result<(), String> {
    if let Some(extra) = args.next() {
        return Err(format!("ci takes no arguments (got {extra:?})"));
    }
    let root = crate::workspace_root();
    let status = std::process::Command::new("bash")
        .arg(".ci/run")
        .current_dir(&root)
        .status()
        .map_err(|e| format!("cannot run bash .ci/run: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(".ci/run failed ({status})"))
    }
}
