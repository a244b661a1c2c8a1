//! `virt-hook`, the built binary, run through hook-core's `Runner`: every command's human and
//! JSON output as snapshots (temporary paths and durations redacted), exit codes, and each kind
//! of bad input (one line, exit code 2, never a panic).

use insta::assert_snapshot;
use tests::cli_support::{CliRun, HooksTree, virt_hook_run, workspace_root};

const SH_OK: &str = "#!/bin/sh\nexit 0\n";

/// A hooks directory with one of each mistake `check` knows about.
fn messy() -> HooksTree {
    let t = HooksTree::new();
    t.file("hooks/qemu", "#!/bin/sh\necho \"main: $*\" >&2\n", 0o755);
    t.dir("hooks/qemu.d", 0o755);
    t.file("hooks/qemu.d/10-crlf", "#!/bin/sh\r\nexit 0\r\n", 0o755);
    t.file("hooks/qemu.d/20-net", SH_OK, 0o755);
    t.file("hooks/qemu.d/20-net~", SH_OK, 0o755);
    t.file("hooks/qemu.d/.20-net.swp", SH_OK, 0o755);
    t.file("hooks/qemu.d/20-net.rpmsave", SH_OK, 0o755);
    t.file("hooks/qemu.d/20-net.dpkg-old", SH_OK, 0o644);
    t.file("hooks/qemu.d/30-no-shebang", "echo hello\n", 0o755);
    t.file(
        "hooks/qemu.d/40-python",
        "#!/usr/bin/virt-hook-no-such-python\nprint()\n",
        0o755,
    );
    t.file(
        "hooks/qemu.d/45-env",
        "#!/usr/bin/env virt-hook-no-such-interpreter\n",
        0o755,
    );
    t.file(
        "hooks/qemu.d/50-virsh",
        "#!/bin/sh\n# virsh in a comment is fine\nvirsh -c qemu:///system list --all\n",
        0o755,
    );
    t.file("hooks/qemu.d/60-world-writable", SH_OK, 0o777);
    t.file("hooks/qemu.d/70-not-executable", SH_OK, 0o644);
    t.symlink("hooks/qemu.d/80-broken-link", "nowhere");
    t.dir("hooks/qemu.d/my-guest", 0o755);
    t.file("hooks/qemu.d/my-guest/prepare", SH_OK, 0o755);
    t.dir("hooks/qemu.d/empty", 0o755);
    t.file("hooks/network", SH_OK, 0o755);
    t.file(
        "hooks/network.d",
        "a file where a directory belongs\n",
        0o644,
    );
    t.dir("hooks/lxc", 0o755);
    t.file("hooks/qemu.sh", SH_OK, 0o755);
    t.file("hooks/README", "notes\n", 0o644);
    t
}

fn examples() -> String {
    workspace_root()
        .join("examples/hooks")
        .display()
        .to_string()
}

fn in_examples(run: &CliRun) -> String {
    run.snapshot(&workspace_root())
        .replace("[TMP]", "[WORKSPACE]")
}

#[test]
fn list_human() {
    let t = messy();
    let run = t.run(&["list"]);
    assert_eq!(run.code, 0);
    assert_snapshot!(run.snapshot(t.root()));
}

#[test]
fn list_json() {
    let t = messy();
    let run = t.run(&["list", "--json"]);
    assert_eq!(run.code, 0);
    assert_snapshot!(run.snapshot(t.root()));
}

#[test]
fn list_one_driver() {
    let run = virt_hook_run(&["--hooks-dir", &examples(), "list", "qemu"], &[], None);
    assert_eq!(run.code, 0);
    assert_snapshot!(in_examples(&run));
}

#[test]
fn list_a_missing_default_directory() {
    let t = HooksTree::new();
    let xdg = t.root().join("config").display().to_string();
    let run = virt_hook_run(&["--user", "list"], &[("XDG_CONFIG_HOME", &xdg)], None);
    assert_eq!(run.code, 0);
    assert_snapshot!(run.snapshot(t.root()));
}

#[test]
fn check_human() {
    let t = messy();
    let run = t.run(&["check"]);
    assert_eq!(run.code, 1, "errors were found");
    assert_snapshot!(run.snapshot(t.root()));
}

#[test]
fn check_json() {
    let t = messy();
    let run = t.run(&["check", "--json"]);
    assert_eq!(run.code, 1, "errors were found");
    assert_snapshot!(run.snapshot(t.root()));
}

#[test]
fn check_warnings_only_exit_0() {
    let t = HooksTree::new();
    t.file("hooks/daemon", "#!/bin/sh\nvirsh list\n", 0o755);
    t.file("hooks/lxc", SH_OK, 0o644);
    let run = t.run(&["check"]);
    assert_eq!(run.code, 0, "warnings alone are not a failure");
    assert_snapshot!(run.snapshot(t.root()));
}

#[test]
fn check_an_unreadable_d_directory() {
    // A symlink loop: opening it fails for everyone, root included (a chmod 000 would not stop
    // root from reading it).
    let t = HooksTree::new();
    t.symlink("hooks/qemu.d", "qemu.d");
    t.file("hooks/qemu", SH_OK, 0o755);
    t.dir("hooks/lxc.d", 0o777);
    t.file("hooks/lxc.d/start", SH_OK, 0o755);
    let run = t.run(&["check"]);
    assert_eq!(run.code, 1);
    assert_snapshot!(run.snapshot(t.root()));
}

#[test]
fn check_the_examples_is_clean() {
    let run = virt_hook_run(&["--hooks-dir", &examples(), "check"], &[], None);
    assert_eq!(run.code, 0);
    assert_snapshot!(in_examples(&run));
}

#[test]
fn check_a_missing_default_directory() {
    let t = HooksTree::new();
    let xdg = t.root().display().to_string();
    let run = virt_hook_run(
        &["--user", "check", "--json"],
        &[("XDG_CONFIG_HOME", &xdg)],
        None,
    );
    assert_eq!(run.code, 0);
    assert_snapshot!(run.snapshot(t.root()));
}

#[test]
fn help_shows_examples() {
    let run = virt_hook_run(&["--help"], &[], None);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("Examples:"), "{}", run.stdout);
    assert_snapshot!(run.snapshot(std::path::Path::new("/nonexistent")));
}

/// Each bad input: exit code 2 and one line on stderr naming the problem.
fn bad(run: &CliRun) {
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stdout, "", "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(run.stderr.starts_with("virt-hook: "), "{run:?}");
    assert!(!run.stderr.contains("panicked"), "{run:?}");
}

#[test]
fn bad_input_unknown_driver() {
    let t = HooksTree::new();
    let run = t.run(&["list", "kvm"]);
    bad(&run);
    assert_snapshot!(run.snapshot(t.root()));
}

#[test]
fn bad_input_missing_hooks_dir() {
    let t = HooksTree::new();
    let missing = t.root().join("nope").display().to_string();
    let run = virt_hook_run(&["--hooks-dir", &missing, "check"], &[], None);
    bad(&run);
    assert_snapshot!(run.snapshot(t.root()));
}

#[test]
fn bad_input_hooks_dir_is_a_file() {
    let t = HooksTree::new();
    let file = t.file("file", "x", 0o644).display().to_string();
    let run = virt_hook_run(&["--hooks-dir", &file, "list"], &[], None);
    bad(&run);
    assert_snapshot!(run.snapshot(t.root()));
}

#[test]
fn usage_errors_exit_2() {
    let run = virt_hook_run(&["frobnicate"], &[], None);
    assert_eq!(run.code, 2);
    let run = virt_hook_run(&["--hooks-dir", "/tmp", "--user", "list"], &[], None);
    assert_eq!(run.code, 2);
}
