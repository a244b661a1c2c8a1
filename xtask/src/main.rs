//! Developer automation, run as `cargo xtask <task>`.
//!
//! Tasks:
//! - `bench [--quick]`: runs hook-core's cost benchmark and writes `docs/performance.md`.

// xtask is developer automation, not the library: it starts cargo, strace and the benchmark
// binary. The "only hook-core starts processes" rule (clippy.toml) is about the shipped crates.
#![allow(clippy::disallowed_methods)]

mod bench;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("bench") => bench::run(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\ntasks:\n  bench [--quick]   measure the cost model, write docs/performance.md"
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("xtask: {e}");
        std::process::exit(1);
    }
}
