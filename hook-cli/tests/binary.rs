//! A smoke test of the built binary. The end-to-end tests of `virt-hook` live in the `tests`
//! crate (`tests/tests/e2e/cli.rs`); this file also makes `cargo test --workspace` build
//! `target/<profile>/virt-hook` for them, since cargo builds a package's binaries for its
//! integration tests (a dev-dependency on hook-cli cannot: it has no library).

use std::path::Path;

use hook_core::{Ending, Invocation, Runner};

#[test]
fn the_binary_prints_its_version() {
    let bin = Path::new(env!("CARGO_BIN_EXE_virt-hook"));
    let report = Runner::default()
        .run(&Invocation {
            script: bin,
            args: &["--version"],
            stdin: None,
            capture_stdout: true,
        })
        .expect("virt-hook starts");
    assert_eq!(report.ending, Ending::Exited(0));
    assert_eq!(
        String::from_utf8_lossy(&report.stdout),
        format!("virt-hook {}\n", env!("CARGO_PKG_VERSION"))
    );
}
