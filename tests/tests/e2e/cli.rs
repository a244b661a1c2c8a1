//! `virt-hook`, the built binary, run through hook-core's `Runner`: every command's human and
//! JSON output as snapshots (temporary paths and durations redacted), exit codes, and each kind
//! of bad input (one line, exit code 2, never a panic).

use insta::assert_snapshot;
use tests::cli_support::{CliRun, HooksTree, example_domain, virt_hook_run, workspace_root};

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

/// `check DRIVER`, like `list DRIVER`: that driver's findings (its main hook, `<driver>.d/`,
/// `<driver>.*`) and none of another driver's; a mistyped driver gets "did you mean".
#[test]
fn check_one_driver() {
    let t = messy();
    let all = t.run(&["check"]).snapshot(t.root());
    let findings = |run: &str| -> Vec<String> {
        run.lines()
            .filter(|l| l.starts_with("error") || l.starts_with("warning"))
            .map(str::to_owned)
            .collect()
    };
    let qemu = t.run(&["check", "qemu"]);
    assert_eq!(qemu.code, 1, "{qemu:?}");
    let text = qemu.snapshot(t.root());
    assert!(text.contains("checking [TMP]/hooks for qemu"), "{text}");
    let shown = findings(&text);
    assert!(shown.iter().any(|l| l.contains("qemu.d/10-crlf")), "{text}");
    assert!(shown.iter().any(|l| l.contains("qemu.sh")), "{text}");
    for line in &shown {
        assert!(findings(&all).contains(line), "{line}");
        assert!(
            !line.contains("network.d") && !line.contains(" lxc "),
            "{line}"
        );
    }
    // Another driver: its own error, none of qemu's; exit status from what is shown.
    let network = t.run(&["check", "network", "--json"]);
    assert_eq!(network.code, 1, "{network:?}");
    assert!(
        network.stdout.contains(r#""driver": "network""#),
        "{}",
        network.stdout
    );
    assert!(network.stdout.contains("network.d"), "{}", network.stdout);
    assert!(!network.stdout.contains("qemu.d"), "{}", network.stdout);
    let lxc = t.run(&["check", "lxc"]);
    assert_eq!(lxc.code, 0, "a warning only: {lxc:?}");
    let typo = t.run(&["check", "qmeu"]);
    assert_eq!(typo.code, 2);
    assert_eq!(
        typo.stderr,
        "virt-hook: unknown driver \"qmeu\"; did you mean \"qemu\"?\n"
    );
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

// ---------------------------------------------------------------------------------------------
// run and lifecycle

/// Prints its arguments on stderr and succeeds.
const SAYS_ARGS: &str = "#!/bin/sh\necho \"$(basename \"$0\"): $*\" >&2\n";

#[test]
fn run_the_readme_command() {
    // `cargo run -p hook-cli -- run qemu prepare --hooks-dir examples/hooks --domain examples/domain.xml`
    let run = virt_hook_run(
        &[
            "run",
            "qemu",
            "prepare",
            "--hooks-dir",
            &examples(),
            "--domain",
            &example_domain(),
        ],
        &[],
        None,
    );
    assert_eq!(run.code, 0);
    assert_snapshot!(in_examples(&run));
}

#[test]
fn run_json() {
    let run = virt_hook_run(
        &[
            "--hooks-dir",
            &examples(),
            "run",
            "qemu",
            "prepare",
            "--domain",
            &example_domain(),
            "--json",
        ],
        &[],
        None,
    );
    assert_eq!(run.code, 0);
    assert_snapshot!(in_examples(&run));
}

#[test]
fn run_a_filter_prints_the_resulting_xml() {
    let run = virt_hook_run(
        &[
            "--hooks-dir",
            &examples(),
            "run",
            "qemu",
            "migrate",
            "--domain",
            &example_domain(),
        ],
        &[],
        None,
    );
    assert_eq!(run.code, 0);
    assert!(
        run.stdout
            .contains("<source file='/srv/guests/diskimage1'/>")
    );
    assert_snapshot!(in_examples(&run));
}

#[test]
fn run_a_filter_json() {
    let run = virt_hook_run(
        &[
            "--hooks-dir",
            &examples(),
            "run",
            "qemu",
            "migrate",
            "--domain",
            &example_domain(),
            "--json",
        ],
        &[],
        None,
    );
    assert_eq!(run.code, 0);
    assert_snapshot!(in_examples(&run));
}

/// A qemu.d with a failing script, one the kernel cannot start, one killed by a signal and one
/// that succeeds.
fn failing() -> HooksTree {
    let t = HooksTree::new();
    t.dir("hooks/qemu.d", 0o755);
    t.file(
        "hooks/qemu.d/10-fail",
        "#!/bin/sh\necho \"no hugepages for $1\" >&2\necho 'second line' >&2\nexit 3\n",
        0o755,
    );
    t.file("hooks/qemu.d/20-crlf", "#!/bin/sh\r\nexit 0\r\n", 0o755);
    t.file("hooks/qemu.d/30-killed", "#!/bin/sh\nkill -9 $$\n", 0o755);
    t.file("hooks/qemu.d/40-ok", SAYS_ARGS, 0o755);
    t
}

#[test]
fn run_failures_abort() {
    let t = failing();
    let run = t.run(&["run", "qemu", "prepare", "--domain", &example_domain()]);
    assert_eq!(run.code, 1);
    assert_snapshot!(run.snapshot(t.root()));
}

#[test]
fn run_failures_json() {
    let t = failing();
    let run = t.run(&[
        "run",
        "qemu",
        "prepare",
        "--domain",
        &example_domain(),
        "--json",
    ]);
    assert_eq!(run.code, 1);
    assert_snapshot!(run.snapshot(t.root()));
}

#[test]
fn run_a_failure_libvirt_ignores_still_exits_1() {
    let t = failing();
    let run = t.run(&[
        "run",
        "qemu",
        "release",
        "--extra",
        "from snapshot",
        "--domain",
        &example_domain(),
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("libvirt ignores this failure"));
    assert_snapshot!(run.snapshot(t.root()));
}

#[test]
fn run_with_a_timeout() {
    let t = HooksTree::new();
    t.file(
        "hooks/lxc",
        "#!/bin/sh\necho waiting >&2\nsleep 600\n",
        0o755,
    );
    // The script must have written its line before the timeout for the report to show it; on
    // a loaded machine, try again with more time (the speed decides how long the test takes,
    // never whether it passes; the duration is redacted from the snapshot).
    for timeout in ["0.3", "5", "60"] {
        let run = t.run(&[
            "run",
            "lxc",
            "started",
            "--timeout",
            timeout,
            "--domain",
            &example_domain(),
        ]);
        assert_eq!(run.code, 1, "{run:?}");
        if !run.stdout.contains("stderr: waiting") {
            continue;
        }
        assert_snapshot!(run.snapshot(t.root()));
        return;
    }
    panic!("the script never wrote its line before the timeout, even with 60 s");
}

#[test]
fn run_a_filter_that_renames_the_guest_is_refused() {
    let t = HooksTree::new();
    t.file(
        "hooks/qemu",
        "#!/bin/sh\necho '<domain><name>other</name></domain>'\n",
        0o755,
    );
    let run = t.run(&["run", "qemu", "restore", "--domain", &example_domain()]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "", "no XML when the filter is refused");
    assert_snapshot!(run.snapshot(t.root()));
}

#[test]
fn run_network_port_created() {
    let t = HooksTree::new();
    t.file(
        "hooks/network",
        "#!/bin/sh\necho \"$*\" >&2\ncat >&2\n",
        0o755,
    );
    let port = t.file(
        "port.xml",
        "<networkport>\n  <uuid>5d4b5f5e-2a5b-4c7e-9b1a-0c2f3e4d5a6b</uuid>\n  <owner>\n    <name>test</name>\n  </owner>\n</networkport>\n",
        0o644,
    );
    // What `virsh net-dumpxml default` prints (tests/fixtures/README.md).
    let network = workspace_root()
        .join("tests/fixtures/network-default.xml")
        .display()
        .to_string();
    let run = t.run(&[
        "run",
        "network",
        "port-created",
        "--network",
        &network,
        "--port",
        &port.display().to_string(),
    ]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("<hookData>"), "{}", run.stdout);
    assert!(run.stdout.contains("<networkport>"), "{}", run.stdout);
    assert!(run.stdout.contains("default port-created begin -"));
}

#[test]
fn run_daemon_reload() {
    let t = HooksTree::new();
    t.file(
        "hooks/daemon",
        "#!/bin/sh\necho \"$*; stdin: $(wc -c)\" >&2\n",
        0o755,
    );
    let run = t.run(&["run", "daemon", "reload"]);
    assert_eq!(run.code, 0);
    assert_snapshot!(run.snapshot(t.root()));
}

#[test]
fn run_a_raw_input_with_an_object_and_extra() {
    let t = HooksTree::new();
    t.file(
        "hooks/bhyve",
        "#!/bin/sh\necho \"$*\" >&2\ncat >&2\n",
        0o755,
    );
    let run = t.run_with(
        &[
            "run", "bhyve", "start", "--input", "-", "--object", "vm 1", "--extra", "x",
        ],
        Some(b"not even XML"),
    );
    assert_eq!(run.code, 0);
    assert_snapshot!(run.snapshot(t.root()));
}

#[test]
fn run_the_domain_from_stdin() {
    let t = HooksTree::new();
    t.file("hooks/libxl", SAYS_ARGS, 0o755);
    let xml = std::fs::read(example_domain()).expect("examples/domain.xml");
    let run = t.run_with(&["run", "libxl", "stopped", "--domain", "-"], Some(&xml));
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("libxl: test stopped end -"),
        "{}",
        run.stdout
    );
}

#[test]
fn run_with_nothing_installed() {
    let t = HooksTree::new();
    let run = t.run(&["run", "qemu", "started", "--domain", &example_domain()]);
    assert_eq!(run.code, 0);
    assert_snapshot!(run.snapshot(t.root()));
}

#[test]
fn run_verbose_traces_on_stderr() {
    let t = HooksTree::new();
    t.file("hooks/qemu", SH_OK, 0o755);
    let run = t.run(&[
        "-v",
        "run",
        "qemu",
        "prepare",
        "--domain",
        &example_domain(),
    ]);
    assert_eq!(run.code, 0);
    assert!(
        run.stderr
            .contains("DEBUG hook_event{driver=\"qemu\" op=\"prepare\" object=\"test\"}"),
        "{}",
        run.stderr
    );
    let quiet = t.run(&["run", "qemu", "prepare", "--domain", &example_domain()]);
    assert_eq!(quiet.stderr, "");
}

#[test]
fn lifecycle_of_the_examples() {
    let run = virt_hook_run(
        &[
            "--hooks-dir",
            &examples(),
            "lifecycle",
            "qemu",
            "--domain",
            &example_domain(),
        ],
        &[],
        None,
    );
    assert_eq!(run.code, 0);
    assert_snapshot!(in_examples(&run));
}

#[test]
fn lifecycle_stops_at_an_aborting_failure() {
    let t = HooksTree::new();
    t.file(
        "hooks/qemu",
        "#!/bin/sh\necho \"$*\" >&2\n[ \"$2\" != start ]\n",
        0o755,
    );
    let run = t.run(&["lifecycle", "qemu", "--domain", &example_domain()]);
    assert_eq!(run.code, 1);
    assert_snapshot!(run.snapshot(t.root()));
}

/// `--end` chooses release's reason; `--libvirt 9.0` makes it `-`, as libvirt before 10.5.
#[test]
fn lifecycle_ends_as_told_and_emulates_an_older_libvirt() {
    let t = HooksTree::new();
    t.file("hooks/qemu", "#!/bin/sh\necho \"$*\" >&2\n", 0o755);
    let d = example_domain();
    let run = t.run(&["lifecycle", "qemu", "--domain", &d, "--end", "destroyed"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("stderr: test release end destroyed"),
        "{}",
        run.stdout
    );
    let run = t.run(&[
        "lifecycle",
        "qemu",
        "--domain",
        &d,
        "--end",
        "crashed",
        "--libvirt",
        "9.0",
    ]);
    assert_eq!(run.code, 0);
    assert_snapshot!(run.snapshot(t.root()));
}

/// `run … release --extra -` makes the call every libvirt before 10.5 makes; so does
/// `--libvirt 10.4` whatever the reason.
#[test]
fn run_release_without_a_reason() {
    let t = HooksTree::new();
    t.file("hooks/qemu", "#!/bin/sh\necho \"$*\" >&2\n", 0o755);
    let d = example_domain();
    for args in [
        &["run", "qemu", "release", "--domain", &d, "--extra", "-"][..],
        &[
            "run",
            "qemu",
            "release",
            "--domain",
            &d,
            "--libvirt",
            "10.4",
            "--extra",
            "saved",
        ],
    ] {
        let run = t.run(args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(
            run.stdout.contains("`<script> test release end -`")
                && run.stdout.contains("stderr: test release end -"),
            "{args:?}: {}",
            run.stdout
        );
    }
    let run = t.run(&[
        "run",
        "qemu",
        "release",
        "--domain",
        &d,
        "--libvirt",
        "10.5",
        "--extra",
        "saved",
    ]);
    assert!(
        run.stdout.contains("stderr: test release end saved"),
        "{}",
        run.stdout
    );
}

#[test]
fn lifecycle_json() {
    let t = HooksTree::new();
    t.file("hooks/lxc", "#!/bin/sh\n[ \"$2\" != prepare ]\n", 0o755);
    let run = t.run(&["lifecycle", "lxc", "--domain", &example_domain(), "--json"]);
    assert_eq!(run.code, 1);
    assert_snapshot!(run.snapshot(t.root()));
}

/// Each bad input to `run`/`lifecycle`: one line, exit code 2; collected in one snapshot.
#[test]
fn bad_input_run_and_lifecycle() {
    let t = HooksTree::new();
    t.file("hooks/qemu", SH_OK, 0o755);
    let malformed = t.file("malformed.xml", "<domain><name>x</name>\n", 0o644);
    let network = t.file("network.xml", "<network><name>n</name></network>\n", 0o644);
    let nameless = t.file("nameless.xml", "<domain><uuid>1</uuid></domain>\n", 0o644);
    let missing = t.root().join("missing.xml");
    let (malformed, network, nameless, missing) = (
        malformed.display().to_string(),
        network.display().to_string(),
        nameless.display().to_string(),
        missing.display().to_string(),
    );
    let d = example_domain();
    let cases: Vec<Vec<&str>> = vec![
        vec!["run", "qemu", "prepare", "--domain", &missing],
        vec!["run", "qemu", "prepare", "--domain", &malformed],
        vec!["run", "qemu", "prepare", "--domain", &network],
        vec!["run", "qemu", "prepare", "--domain", &nameless],
        vec!["run", "qemu", "boot", "--domain", &d],
        vec!["run", "xen", "start", "--domain", &d],
        vec!["run", "qemu", "attach", "--domain", &d],
        vec![
            "run", "qemu", "release", "--extra", "snapshot", "--domain", &d,
        ],
        vec!["run", "qemu", "prepare"],
        vec!["run", "qemu", "prepare", "--network", &network],
        vec!["run", "network", "start", "--domain", &d],
        vec!["run", "network", "port-created", "--network", &network],
        vec![
            "run",
            "network",
            "start",
            "--network",
            &network,
            "--port",
            &network,
        ],
        vec!["run", "network", "start", "--input", &network],
        vec!["run", "daemon", "start", "--domain", &d],
        vec!["run", "qemu", "prepare", "--domain", &d, "--timeout=0"],
        vec!["lifecycle", "network", "--domain", &d],
        vec!["lifecycle", "qemu", "--domain", &malformed],
        vec!["lifecycle", "qemu", "--domain", &d, "--end", "poweroff"],
        vec!["lifecycle", "qemu", "--domain", &d, "--libvirt", "9"],
        vec![
            "run",
            "qemu",
            "release",
            "--domain",
            &d,
            "--libvirt",
            "v10.5",
        ],
    ];
    let mut text = String::new();
    for args in cases {
        let run = t.run(&args);
        bad(&run);
        text.push_str(&format!("{}\n  {}", args.join(" "), run.stderr));
    }
    let text = text.replace(&workspace_root().display().to_string(), "[WORKSPACE]");
    assert_snapshot!(tests::cli_support::redact(&text, t.root()));
}

/// What the `daemon` script of [`virt_hook_with_closed_standard_fds`] records: its own fds 0-2,
/// virt-hook's (its parent's) fds 0-2 and every pipe virt-hook holds. Then a line on each of
/// stdout and stderr, which virt-hook reads and reports to its own (closed) output.
/// Runs a wrapper script (which starts virt-hook its own way) with `args`, as the tests' caller:
/// hook-core's `Runner` with its defaults, stdout and stderr captured.
fn run_wrapper(wrapper: &std::path::Path, args: &[&str]) -> hook_core::Report {
    tests::run(
        &hook_core::Runner::default(),
        &hook_core::Invocation {
            script: wrapper,
            args,
            stdin: None,
            capture_stdout: true,
        },
    )
    .unwrap()
}

const FD_PROBE: &str = r#"#!/bin/sh
fd0=$(readlink /proc/$$/fd/0)
fd1=$(readlink /proc/$$/fd/1)
fd2=$(readlink /proc/$$/fd/2)
host0=$(readlink /proc/$PPID/fd/0)
host1=$(readlink /proc/$PPID/fd/1)
host2=$(readlink /proc/$PPID/fd/2)
host_pipes=$(for f in /proc/$PPID/fd/*; do readlink "$f"; done | grep '^pipe:' | tr '\n' ' ')
printf 'fd0=%s\nfd1=%s\nfd2=%s\nhost0=%s\nhost1=%s\nhost2=%s\nhost_pipes=%s\n' \
  "$fd0" "$fd1" "$fd2" "$host0" "$host1" "$host2" "$host_pipes" > REPORT
echo "on stdout"
echo "on stderr" >&2
"#;

/// `virt-hook run` started by a wrapper that closes fds 0, 1 and 2 first: it still runs the
/// script, with `/dev/null` on its stdin and two pipes of its own (read by virt-hook) on its
/// stdout and stderr, and exits 0 although it cannot print its report.
///
/// This does not exercise hook-core's `above_stdio` (hook-core/src/process/spawn.rs): virt-hook's
/// start-up (`hook_core::startup::run_main`, standing in for std's, which virt-hook skips)
/// reopens closed standard fds on `/dev/null` first, so virt-hook never runs with them closed
/// (asserted below). The isolated binary's `closed_stdio` test is the host with closed fds that
/// does.
#[test]
fn virt_hook_with_closed_standard_fds() {
    use hook_core::Ending;
    use hook_core::libvirt::shell_quote;
    use tests::{TempDir, write_script};

    let tmp = TempDir::new("cli-closed-stdio").unwrap();
    let hooks = tmp.path().join("hooks");
    std::fs::create_dir(&hooks).unwrap();
    let report = tmp.path().join("report");
    let probe = FD_PROBE.replace("REPORT", &shell_quote(&report.display().to_string()));
    write_script(&hooks, "daemon", probe.as_bytes(), 0o755).unwrap();
    let bin = tests::cli_support::virt_hook();
    let wrapper = format!(
        "#!/bin/sh\nexec 0<&- 1>&- 2>&-\nexec {} run daemon start --hooks-dir {}\n",
        shell_quote(&bin.display().to_string()),
        shell_quote(&hooks.display().to_string()),
    );
    let wrapper = write_script(tmp.path(), "wrapper", wrapper.as_bytes(), 0o755).unwrap();

    let r = run_wrapper(&wrapper, &[]);
    assert_eq!(r.ending, Ending::Exited(0));
    // Nothing reaches the wrapper's own stdout and stderr: virt-hook's are closed.
    assert_eq!(
        (r.stdout.as_slice(), r.stderr.as_slice()),
        (&b""[..], &b""[..])
    );

    let seen = std::fs::read_to_string(&report).expect("the daemon script ran");
    let field = |key: &str| -> &str {
        seen.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {key}= in {seen:?}"))
    };
    let pipe = |key: &str| -> &str {
        let target = field(key);
        target
            .strip_prefix("pipe:[")
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or_else(|| panic!("{key} is {target:?}, not a pipe: {seen}"))
    };
    assert_eq!(field("fd0"), "/dev/null", "{seen}");
    let (out, err) = (pipe("fd1"), pipe("fd2"));
    assert_ne!(out, err, "stdout and stderr are one pipe: {seen}");
    // virt-hook holds both (their read ends): the script's output goes to it, not elsewhere.
    let host_pipes: Vec<&str> = field("host_pipes").split_whitespace().collect();
    for inode in [out, err] {
        assert!(
            host_pipes.contains(&format!("pipe:[{inode}]").as_str()),
            "virt-hook does not hold pipe {inode}: {seen}"
        );
    }
    for key in ["host0", "host1", "host2"] {
        assert_eq!(
            field(key),
            "/dev/null",
            "virt-hook's start-up did not reopen its closed standard fds: {seen}"
        );
    }
}

/// `virt-hook` writing to a pipe nobody reads any more (`virt-hook list | head -1`, or libvirt
/// gone while a hook runs), started with `SIGPIPE` at its default disposition as libvirt and
/// hook-core start hooks: the write fails with `EPIPE` and virt-hook ends normally, as std's
/// start-up (which virt-hook skips, `hook_core::startup::run_main` standing in) would have it,
/// rather than being killed by `SIGPIPE`. The pipe is a FIFO whose only reader is closed before
/// virt-hook starts, so its first write meets no reader.
#[test]
fn virt_hook_ignores_sigpipe() {
    use hook_core::Ending;
    use hook_core::libvirt::shell_quote;
    use tests::{TempDir, write_script};

    let tmp = TempDir::new("cli-sigpipe").unwrap();
    let hooks = tmp.path().join("hooks");
    std::fs::create_dir(&hooks).unwrap();
    write_script(&hooks, "daemon", b"#!/bin/sh\nexit 0\n", 0o755).unwrap();
    let q = |p: &std::path::Path| shell_quote(&p.display().to_string()).into_owned();
    let status = tmp.path().join("status");
    let wrapper = format!(
        "#!/bin/sh\n\
         set -e\n\
         mkfifo {fifo}\n\
         exec 4<>{fifo}\n\
         exec 5>{fifo}\n\
         exec 4<&-\n\
         set +e\n\
         {bin} --hooks-dir {hooks} list >&5\n\
         echo $? > {status}\n",
        fifo = q(&tmp.path().join("fifo")),
        bin = q(&tests::cli_support::virt_hook()),
        hooks = q(&hooks),
        status = q(&status),
    );
    let wrapper = write_script(tmp.path(), "wrapper", wrapper.as_bytes(), 0o755).unwrap();
    let r = run_wrapper(&wrapper, &[]);
    assert_eq!(r.ending, Ending::Exited(0), "{r:?}");
    let status = std::fs::read_to_string(&status).expect("the wrapper wrote virt-hook's status");
    // 141 = 128 + SIGPIPE: killed by the signal.
    assert_eq!(status.trim(), "0", "virt-hook did not end normally: {r:?}");
}

/// Runs `virt-hook args…` in `t`, sends it `signal` once the hook script has written
/// `<root>/cli.pid` (its `$PPID`, virt-hook), and returns the run and the script's pid (from
/// `<root>/script.pid`).
fn interrupt_cli(t: &HooksTree, args: &[&str], signal: nix::sys::signal::Signal) -> (CliRun, i32) {
    let read = |name: &str| -> Option<i32> {
        std::fs::read_to_string(t.root().join(name))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    let run = std::thread::scope(|s| {
        let call = s.spawn(|| t.run(args));
        let mut cli = None;
        for _ in 0..6000 {
            cli = read("cli.pid");
            if cli.is_some() || call.is_finished() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let cli = cli.expect("the hook script never started");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(cli), signal).unwrap();
        call.join().unwrap()
    });
    let script = read("script.pid").expect("the script wrote its pid");
    (run, script)
}

/// Issue #10, item 8: Ctrl-C on `virt-hook run`. Scripts run in their own process group, so
/// the terminal's SIGINT reaches only virt-hook; it forwards it to the running script's group
/// (script and background child both end), starts nothing more, reports the run as
/// interrupted and exits 130. (Before: virt-hook died of the SIGINT and the script ran on,
/// reparented to init.)
#[test]
fn run_interrupted_by_sigint_forwards_it_to_the_script() {
    let t = HooksTree::new();
    let root = t.root().display().to_string();
    t.file(
        "hooks/qemu",
        &format!(
            "#!/bin/sh\necho working >&2\nsleep 60 &\necho $$ > '{root}/script.pid'\necho $PPID > '{root}/cli.pid'\nexec sleep 60\n"
        ),
        0o755,
    );
    t.dir("hooks/qemu.d", 0o755);
    t.file(
        "hooks/qemu.d/50-after",
        &format!("#!/bin/sh\n: > '{root}/after-ran'\n"),
        0o755,
    );
    let domain = example_domain();
    let (run, script) = interrupt_cli(
        &t,
        &["run", "qemu", "prepare", "--domain", &domain],
        nix::sys::signal::Signal::SIGINT,
    );
    let _cleanup = tests::KillGroupOnDrop(script as u32);
    assert_eq!(run.code, 130, "{run:?}");
    assert!(
        run.stdout
            .contains("interrupted (SIGINT), killed by SIGINT")
            && run.stdout.contains("result: interrupted by SIGINT"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("virt-hook: interrupted by SIGINT"),
        "{}",
        run.stderr
    );
    assert!(
        !t.root().join("after-ran").exists(),
        "a script was started after the interruption"
    );
    assert!(
        tests::wait_group_dead(script, tests::GONE_WITHIN).is_empty(),
        "the script or its background child is still running"
    );
    assert_snapshot!(run.snapshot(t.root()));
}

/// SIGTERM to `virt-hook lifecycle` during prepare: forwarded, and no later event of the
/// sequence (start, started, stopped, release) is fired; exit status 143. The report says only
/// what happened (issue 20, item 5): prepare was interrupted, the other events were not fired,
/// the guest's end (`--end destroyed`) was not reached; never that stopped and release "ran"
/// as a failed start's cleanup. `--json` says the same.
#[test]
fn lifecycle_interrupted_by_sigterm_fires_nothing_more() {
    let t = HooksTree::new();
    let root = t.root().display().to_string();
    t.file(
        "hooks/qemu",
        &format!(
            "#!/bin/sh\ncase \"$2\" in\n  prepare) echo $$ > '{root}/script.pid'; echo $PPID > '{root}/cli.pid'; exec sleep 60 ;;\n  *) : > '{root}/ran-'\"$2\" ;;\nesac\n"
        ),
        0o755,
    );
    let domain = example_domain();
    let (run, script) = interrupt_cli(
        &t,
        &[
            "lifecycle",
            "qemu",
            "--domain",
            &domain,
            "--end",
            "destroyed",
        ],
        nix::sys::signal::Signal::SIGTERM,
    );
    let _cleanup = tests::KillGroupOnDrop(script as u32);
    assert_eq!(run.code, 143, "{run:?}");
    assert!(
        run.stdout.contains("result: interrupted by SIGTERM"),
        "{}",
        run.stdout
    );
    let fired: Vec<_> = std::fs::read_dir(t.root())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("ran-"))
        .collect();
    assert!(fired.is_empty(), "fired after the interruption: {fired:?}");
    assert!(tests::wait_group_dead(script, tests::GONE_WITHIN).is_empty());
    let summary = run.stdout.lines().last().unwrap_or_default();
    assert_eq!(
        summary,
        "lifecycle: interrupted by SIGTERM during qemu prepare: fired: prepare; not fired: \
         start, started, stopped, release (the guest's end, destroyed, was not reached)",
        "{}",
        run.stdout
    );
    for op in ["start", "started", "stopped", "release"] {
        assert!(
            run.stdout
                .contains(&format!("qemu {op}: not fired, interrupted by SIGTERM")),
            "{op}: {}",
            run.stdout
        );
    }
    assert!(
        !run.stdout.contains("ran as libvirt's cleanup") && !run.stdout.contains("abandoned"),
        "{}",
        run.stdout
    );

    std::fs::remove_file(t.root().join("cli.pid")).unwrap();
    let (run, script) = interrupt_cli(
        &t,
        &[
            "lifecycle",
            "qemu",
            "--domain",
            &domain,
            "--end",
            "destroyed",
            "--json",
        ],
        nix::sys::signal::Signal::SIGTERM,
    );
    let _cleanup = tests::KillGroupOnDrop(script as u32);
    assert_eq!(run.code, 143, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(v["end"], "destroyed", "{v}");
    assert_eq!(v["aborted_at"], serde_json::Value::Null, "{v}");
    assert_eq!(v["interrupted"]["signal"], "SIGTERM", "{v}");
    assert_eq!(v["interrupted"]["during"], "prepare", "{v}");
    assert_eq!(
        v["not_fired"],
        serde_json::json!(["start", "started", "stopped", "release"]),
        "{v}"
    );
    assert_eq!(v["events"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["events"][0]["result"], "interrupted", "{v}");
    assert!(tests::wait_group_dead(script, tests::GONE_WITHIN).is_empty());
}

/// `--timeout` outside its bounds (1 ms to 24 h; seconds or a duration: 5m, 500ms) is one short line stating the
/// bounds, never the number as f64 prints it (`1e300` was 300 digits).
#[test]
fn bad_input_timeouts_state_the_bounds() {
    let t = HooksTree::new();
    t.file("hooks/qemu", SH_OK, 0o755);
    let d = example_domain();
    for value in [
        "1e300",
        "86401",
        "-1",
        "-0",
        "0",
        "1e-300",
        "0.0009",
        "NaN",
        "inf",
        "-inf",
        "ten",
        "",
        "25h",
        "0ms",
        "0.5ms",
        "-5m",
        "5 parsecs",
        "5mm",
    ] {
        for cmd in [
            vec!["run", "qemu", "prepare", "--domain", &d],
            vec!["lifecycle", "qemu", "--domain", &d],
        ] {
            let timeout = format!("--timeout={value}");
            let mut args = cmd.clone();
            args.push(&timeout);
            let run = t.run(&args);
            bad(&run);
            assert!(
                run.stderr.contains("from 0.001 to 86400 (24 hours)"),
                "{value}: {}",
                run.stderr
            );
            assert!(run.stderr.len() < 200, "{value}: {}", run.stderr);
        }
    }
    // The bounds themselves are accepted: shown where nothing runs (an empty hooks directory),
    // so no script races a 1 ms deadline.
    let empty = HooksTree::new();
    for value in ["86400", "0.001", "1e3", "5m", "500ms", "90s", "24h", "1 ms"] {
        let run = empty.run(&["run", "qemu", "prepare", "--domain", &d, "--timeout", value]);
        assert_eq!(run.code, 0, "{value}: {run:?}");
    }
    // With a script, 1 ms is applied, not refused: the script succeeds, or it fails with a
    // timeout (it has 1 ms); never an input error.
    let run = t.run(&[
        "run",
        "qemu",
        "prepare",
        "--domain",
        &d,
        "--timeout",
        "0.001",
    ]);
    assert!(
        run.code == 0 || (run.code == 1 && run.stdout.contains("timed out after")),
        "{run:?}"
    );
}

/// A relative `--hooks-dir` is made absolute once: scripts see an absolute `$0`, as libvirt
/// always gives them, with a symlink in the path kept as given (not canonicalized).
#[test]
fn a_relative_hooks_dir_gives_scripts_an_absolute_dollar_zero() {
    use hook_core::Ending;
    use hook_core::libvirt::shell_quote;
    use tests::write_script;

    let t = HooksTree::new();
    t.file(
        "hooks/daemon",
        "#!/bin/sh\necho \"dollar0=$0\" >&2\n",
        0o755,
    );
    t.symlink("via-link", "hooks");
    let bin = tests::cli_support::virt_hook();
    let wrapper = format!(
        "#!/bin/sh\ncd {} || exit 99\nexec {} --hooks-dir \"$1\" run daemon start\n",
        shell_quote(&t.root().display().to_string()),
        shell_quote(&bin.display().to_string()),
    );
    let wrapper = write_script(t.root(), "wrapper", wrapper.as_bytes(), 0o755).unwrap();
    for (given, expected) in [
        ("hooks", t.hooks()),
        ("./hooks/", t.hooks()),
        ("via-link", t.root().join("via-link")),
    ] {
        let r = run_wrapper(&wrapper, &[given]);
        let out = String::from_utf8_lossy(&r.stdout);
        assert_eq!(r.ending, Ending::Exited(0), "{given}: {out}");
        let want = format!("dollar0={}", expected.join("daemon").display());
        assert!(
            out.contains(&format!("stderr: {want}\n")),
            "{given}: expected {want:?} in:\n{out}"
        );
    }
}

/// Every document option refuses what is not a regular file, naming the option, the path and
/// what it is, without waiting: a FIFO without a writer (which used to block forever), a
/// character device that never ends (`/dev/zero` used to fill the memory), a directory.
#[test]
fn bad_input_documents_that_never_open_or_never_end() {
    let t = HooksTree::new();
    t.file("hooks/qemu", SH_OK, 0o755);
    t.file("hooks/network", SH_OK, 0o755);
    let fifo = t.root().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let fifo = fifo.display().to_string();
    let dir = t.dir("a-dir", 0o755).display().to_string();
    let net = t.file("net.xml", "<network><name>n</name></network>", 0o644);
    let net = net.display().to_string();
    let d = example_domain();
    for (path, what) in [
        (fifo.as_str(), "a FIFO (named pipe)"),
        ("/dev/zero", "a character device"),
        (dir.as_str(), "a directory"),
    ] {
        let cases: Vec<(&str, Vec<&str>)> = vec![
            ("--domain", vec!["run", "qemu", "prepare", "--domain", path]),
            ("--domain", vec!["lifecycle", "qemu", "--domain", path]),
            (
                "--input",
                vec!["run", "qemu", "prepare", "--input", path, "--object", "x"],
            ),
            (
                "--network",
                vec!["run", "network", "start", "--network", path],
            ),
            (
                "--port",
                vec![
                    "run",
                    "network",
                    "port-created",
                    "--network",
                    &net,
                    "--port",
                    path,
                ],
            ),
        ];
        for (option, args) in cases {
            let run = t.run(&args);
            bad(&run);
            assert_eq!(
                run.stderr,
                format!(
                    "virt-hook: {option} {path}: {what}, not a regular file (give a file, or - for stdin)\n"
                ),
                "{args:?}"
            );
        }
    }
    // The check is on the open file, so a symlink to a regular file is fine.
    let link = t.symlink("domain-link.xml", &d).display().to_string();
    let run = t.run(&["run", "qemu", "prepare", "--domain", &link]);
    assert_eq!(run.code, 0, "{run:?}");
}

/// A document larger than the library's output cap (16 MiB) is refused in one line, from a
/// file or from stdin, even an endless one; exactly the cap is accepted.
#[test]
fn bad_input_documents_over_the_cap() {
    use hook_core::Ending;
    use hook_core::libvirt::shell_quote;

    let cap = hook_core::Limits::default().stdout_cap;
    let t = HooksTree::new();
    t.file("hooks/bhyve", "#!/bin/sh\ncat >/dev/null\n", 0o755);
    let exact = t.root().join("exact");
    std::fs::write(&exact, vec![b'x'; cap]).unwrap();
    let over = t.root().join("over");
    std::fs::write(&over, vec![b'x'; cap + 1]).unwrap();
    let (exact, over) = (exact.display().to_string(), over.display().to_string());
    let raw = |source: &str| {
        vec!["run", "bhyve", "start", "--input", source, "--object", "vm"]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let args = raw(&exact);
    let run = t.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, 0, "exactly the cap is accepted: {run:?}");

    let args = raw(&over);
    let run = t.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    bad(&run);
    assert_eq!(
        run.stderr,
        format!(
            "virt-hook: --input {over}: larger than 16 MiB, the most a document may have (the hook library's output cap)\n"
        )
    );
    let big_stdin = vec![b' '; cap + 1];
    let run = t.run_with(
        &["run", "qemu", "prepare", "--domain", "-"],
        Some(&big_stdin),
    );
    bad(&run);
    assert!(
        run.stderr.contains("--domain -: larger than 16 MiB"),
        "{run:?}"
    );

    // Endless stdin: /dev/zero through a wrapper.
    let bin = tests::cli_support::virt_hook();
    let wrapper = format!(
        "#!/bin/sh\nexec {} --hooks-dir {} run bhyve start --input - --object vm < /dev/zero\n",
        shell_quote(&bin.display().to_string()),
        shell_quote(&t.hooks_arg()),
    );
    let wrapper = tests::write_script(t.root(), "wrapper", wrapper.as_bytes(), 0o755).unwrap();
    let r = run_wrapper(&wrapper, &[]);
    assert_eq!(r.ending, Ending::Exited(2));
    assert_eq!(
        String::from_utf8_lossy(&r.stderr),
        "virt-hook: --input -: larger than 16 MiB, the most a document may have (the hook library's output cap)\n"
    );
}

/// `check` follows a symlinked script to its target's directories: one anyone can write is an
/// error naming it, as strict trust mode refuses it; a sticky one (like /tmp) is not.
#[test]
fn check_judges_the_directory_of_a_symlinks_target() {
    let t = HooksTree::new();
    t.dir("hooks/qemu.d", 0o755);
    let open = t.dir("elsewhere", 0o777);
    let target = t.file("elsewhere/real", SH_OK, 0o755);
    t.symlink("hooks/qemu.d/10-link", &target.display().to_string());
    let run = t.run(&["check"]);
    assert_eq!(run.code, 1, "{run:?}");
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains(&open.display().to_string()))
        .unwrap_or_else(|| panic!("{} is not named:\n{}", open.display(), run.stdout));
    assert!(
        line.starts_with("error") && line.contains("world-writable"),
        "{line}"
    );
    let list = t.run(&["list", "qemu"]);
    assert!(
        list.stdout.contains(&open.display().to_string()),
        "{}",
        list.stdout
    );

    std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    let run = t.run(&["check"]);
    assert_eq!(run.code, 0, "{run:?}");
}

/// SIGINT and SIGTERM are caught only once hooks are about to run: while virt-hook still
/// reads its document (`--domain -` from a pipe that never ends, as from a terminal), a signal
/// keeps its default action and ends it at once. SIGTERM here, since a background job of a
/// non-interactive shell starts with SIGINT ignored.
#[test]
fn a_signal_while_reading_the_document_ends_virt_hook() {
    let t = HooksTree::new();
    t.file("hooks/qemu", SH_OK, 0o755);
    let wrapper = t.file(
        "wrapper",
        "#!/bin/sh\n\
         sh -c 'echo $$ > \"$1\"; exec sleep 60' sh \"$3.sleep\" |\n\
         \x20 \"$1\" --hooks-dir \"$2\" run qemu prepare --domain - 2>\"$3\" &\n\
         vh=$!\n\
         i=0\n\
         while :; do\n\
         \x20 comm=$(cat /proc/$vh/comm 2>/dev/null)\n\
         \x20 state=$(sed 's/.*) \\(.\\).*/\\1/' /proc/$vh/stat 2>/dev/null)\n\
         \x20 [ \"$comm\" = virt-hook ] && [ \"$state\" = S ] && break\n\
         \x20 i=$((i+1)); [ $i -gt 6000 ] && { echo 'never blocked'; exit 3; }\n\
         \x20 sleep 0.01\n\
         done\n\
         kill -TERM $vh\n\
         i=0\n\
         while [ \"$(sed 's/.*) \\(.\\).*/\\1/' /proc/$vh/stat 2>/dev/null)\" = S ] && [ $i -lt 1000 ]; do\n\
         \x20 i=$((i+1)); sleep 0.01\n\
         done\n\
         while [ ! -s \"$3.sleep\" ]; do sleep 0.01; done\n\
         kill $(cat \"$3.sleep\")\n\
         wait $vh\n\
         echo \"status=$?\"\n",
        0o755,
    );
    let bin = tests::cli_support::virt_hook();
    let hooks = t.hooks();
    let stderr_file = t.root().join("stderr");
    let args = [
        bin.to_str().unwrap(),
        hooks.to_str().unwrap(),
        stderr_file.to_str().unwrap(),
    ];
    let report = run_wrapper(&wrapper, &args);
    let _cleanup = tests::KillGroupOnDrop(report.pid); // the pipeline's sleep
    let out = String::from_utf8_lossy(&report.stdout);
    // 143: the shell's status for a process killed by SIGTERM; virt-hook said nothing.
    assert_eq!(out, "status=143\n");
    let stderr = std::fs::read_to_string(&stderr_file).unwrap();
    assert_eq!(stderr, "", "virt-hook caught the signal while reading");
}

/// The committed bash completion (`cargo xtask man`) asks the binary for each driver's
/// operations, the drivers and the guests (per-guest directories, libvirt's definitions), and
/// falls back to clap's static completion (subcommands, options, files) for every other word.
#[test]
fn bash_completion_offers_operations_drivers_and_guests() {
    let t = HooksTree::new();
    t.dir("hooks/qemu.d/win10/prepare/begin", 0o755);
    t.dir("qemu", 0o755);
    t.file("qemu/win11.xml", "<domain/>", 0o644);
    let completion = workspace_root().join("completions/virt-hook.bash");
    let bin_dir = tests::cli_support::virt_hook()
        .parent()
        .unwrap()
        .display()
        .to_string();
    let hooks = t.hooks_arg();
    let script = format!(
        r#"source '{}'
t() {{
    COMP_WORDS=("$@"); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); COMPREPLY=()
    _virt__hook_dynamic virt-hook "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
    echo "${{COMPREPLY[*]}}"
}}
t virt-hook run qemu ''
t virt-hook run network port-
t virt-hook --hooks-dir '{hooks}' run qemu prepare --object ''
t virt-hook --hooks-dir '{hooks}' dispatch qemu win
t virt-hook dispatch qemu win10 release ''
t virt-hook list ''
t virt-hook list --j
t virt-hook lifecycle l
t virt-hook ch
"#,
        completion.display()
    );
    let run = tests::cli_support::program_run(
        std::path::Path::new("/bin/bash"),
        &["-c", &script],
        &[("PATH", &format!("{bin_dir}:/usr/bin:/bin"))],
        None,
    );
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[..5],
        [
            "prepare start started stopped release reconnect migrate restore",
            "port-created port-deleted",
            "win10 win11",
            "win10 win11",
            "end",
        ],
        "{run:?}"
    );
    assert_eq!(lines[5], "daemon qemu lxc network libxl bhyve", "{run:?}");
    assert_eq!(lines[6], "--json", "{run:?}");
    assert_eq!(lines[7], "lxc libxl", "{run:?}");
    assert_eq!(lines[8], "check", "{run:?}");
}

/// A mistyped command, driver, operation or shutoff reason gets "did you mean" (clap's for
/// commands, the same similarity for the rest), still exit status 2.
#[test]
fn mistyped_words_get_did_you_mean() {
    let t = HooksTree::new();
    let d = example_domain();
    let run = t.run(&["lsit"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("similar subcommand exists: 'list'"),
        "{run:?}"
    );
    for (args, says) in [
        (
            vec!["run", "qmeu", "prepare", "--domain", &d],
            r#"unknown driver "qmeu"; did you mean "qemu"?"#,
        ),
        (
            vec!["run", "qemu", "prepar", "--domain", &d],
            r#"unknown qemu operation "prepar"; did you mean "prepare"?"#,
        ),
        (
            vec!["lifecycle", "qemu", "--domain", &d, "--end", "destroy"],
            r#"--end: unknown shutoff reason "destroy"; did you mean "destroyed"?"#,
        ),
        (vec!["list", "bhyv"], r#"did you mean "bhyve"?"#),
    ] {
        let run = t.run(&args);
        bad(&run);
        assert!(run.stderr.contains(says), "{args:?}: {run:?}");
    }
}
