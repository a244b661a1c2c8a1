//! What the built `virt-hook` needs from the C library to load (issue #10, item 5). hook-core
//! looks `posix_spawn_file_actions_addclosefrom_np` (glibc >= 2.34) up at run time, so the
//! binary does not import it: built against an older glibc (RHEL 8's 2.28, Debian 11's 2.31) it
//! loads there and closes inherited fds through `/proc/self/fd` instead (that path runs in the
//! `runner::*::on_fallbacks` tests). Before, the import was a hard requirement of every build.
//!
//! Reads the dynamic symbol table with `objdump -T` (binutils; `.ci/run` installs it).

use std::path::Path;

use hook_core::{Invocation, Limits, Runner, ScriptEnv};
use tests::cli_support::virt_hook;

/// `objdump -T virt-hook`.
fn dynamic_symbols(binary: &Path) -> String {
    let objdump = ["/usr/bin/objdump", "/bin/objdump", "/usr/local/bin/objdump"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .expect("objdump (binutils) is needed for this test: apt-get install binutils");
    let binary = binary.to_str().expect("a UTF-8 path");
    let runner = Runner::new(
        ScriptEnv::libvirt(),
        Limits {
            stdout_cap: 64 << 20,
            ..Limits::default()
        },
    );
    let _running = tests::exec_guard();
    let report = runner
        .run(&Invocation {
            script: objdump,
            args: &["-T", binary],
            stdin: None,
            capture_stdout: true,
        })
        .unwrap()
        .check()
        .unwrap();
    String::from_utf8(report.stdout).expect("objdump prints text")
}

#[test]
fn virt_hook_does_not_import_glibc_2_34_closefrom() {
    let symbols = dynamic_symbols(&virt_hook());
    assert!(
        symbols.contains("posix_spawn"),
        "not a dynamic symbol table:\n{symbols}"
    );
    let imports: Vec<&str> = symbols
        .lines()
        .filter(|l| l.contains("posix_spawn_file_actions_addclosefrom_np"))
        .collect();
    assert!(
        imports.is_empty(),
        "virt-hook imports glibc 2.34's close-from action, so it cannot load on an older glibc: {imports:?}"
    );
    // What the build needs anyway comes from the glibc it was linked against (Rust's std
    // imports `__libc_start_main` and the pthread functions at the version of the build
    // machine's glibc): shown, not judged.
    let mut newest: Vec<&str> = symbols
        .split(|c: char| c == '(' || c == ')' || c.is_whitespace())
        .filter(|w| w.starts_with("GLIBC_2."))
        .collect();
    newest.sort_by_key(|v| {
        v.trim_start_matches("GLIBC_")
            .split('.')
            .map(|n| n.parse::<u32>().unwrap_or(0))
            .collect::<Vec<_>>()
    });
    eprintln!(
        "virt-hook needs glibc {} as built here; this process's C library {} the close-from action",
        newest.last().unwrap_or(&"?"),
        if hook_core::testing::has_closefrom() {
            "has"
        } else {
            "lacks"
        }
    );
}
