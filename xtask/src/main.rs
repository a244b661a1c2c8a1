//! Developer automation, run as `cargo xtask <task>`.
//!
//! Tasks:
//! - `ci`: runs `.ci/run`, exactly what CI runs.
//! - `install-samples DIR`: writes the example hooks (`examples/hooks`) into DIR with their modes.

// xtask is developer automation, not the library: it starts bash and cargo. The "only hook-core
// starts processes" rule (clippy.toml) is about the shipped crates.
#![allow(clippy::disallowed_methods)]

mod ci;
mod install_samples;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(&args[1..]),
        Some("install-samples") => install_samples::run(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\ntasks:\n  ci                     run .ci/run (fmt, clippy, tests, bench build, stray snapshots)\n  install-samples DIR    write the example hooks into DIR, with their modes"
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("xtask: {e}");
        std::process::exit(1);
    }
}

/// The workspace root (xtask's parent directory).
fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}
