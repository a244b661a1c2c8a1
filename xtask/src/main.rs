//! Developer automation, run as `cargo xtask <task>`.
// xtask is automation that drives cargo; the "only hook-core starts processes" rule is for the
// shipped crates.
#![allow(clippy::disallowed_methods)]

mod soak;

fn main() -> std::process::ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("soak") => soak::run(),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\ntasks:\n  soak    {}",
                soak::COMMAND
            );
            std::process::ExitCode::from(2)
        }
    }
}
