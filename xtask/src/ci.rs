//! `cargo xtask ci`: runs `bash .ci/run` from the workspace root, so the local check and CI are
//! the same script (fmt, clippy, the README's test command, the benchmark build, stray
//! snapshots), in the same order.

/// Runs `.ci/run`; its failure is this task's failure.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
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
