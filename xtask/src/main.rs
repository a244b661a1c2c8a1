//! `cargo xtask <task>`: developer automation. This file only dispatches on the first argument;
//! each task lives in its own module of the xtask library.

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <task> [args]

tasks:
  bench [--quick]       measure the cost model, write docs/performance.md
  docgen [--check]      write docs/invocations.md from the driver crates
                        (--check: only fail if the committed file is stale)
  ci                    run .ci/run: fmt, clippy, tests, docs, bench build, packages,
                        stray snapshots
  dist [--check]        build target/dist/*.deb and *.rpm (dpkg-deb, rpmbuild) and check
                        them (--check: only check the packages already built)
  install-samples DIR   write the example hooks (examples/hooks) into DIR, with their modes
  man [--check]         write virt-hook's man pages (docs/man) and shell completions
                        (completions/) from its clap definition
  soak                  the full soak (10,000 calls) and concurrency (64 threads x 100) runs";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let task = args.next();
    let result = match task.as_deref() {
        Some("bench") => xtask::bench::run(&args.collect::<Vec<_>>()),
        Some("docgen") => xtask::docgen::run(args),
        Some("ci") => xtask::ci::run(args),
        Some("dist") => xtask::dist::run(args),
        Some("install-samples") => xtask::install_samples::run(args),
        Some("man") => xtask::man::run(args),
        Some("soak") => xtask::soak::run(args),
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown task {other:?}\n\n{USAGE}")),
        None => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
