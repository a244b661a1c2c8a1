//! What `virt-hook run` and `check` tell an administrator when a real hook fails: the reason
//! at the end of a long stderr (head and tail kept, the gap marked), a failing script's stdout
//! tail, every script of a filter chain that changed the document, the check messages for
//! copied scripts, and `RUST_LOG` showing the library's spans.

use insta::assert_snapshot;
use tests::cli_support::{HooksTree, example_domain, redact, virt_hook_run};

/// Runs of identical lines shown once with their count, so a snapshot of 64 KiB of progress
/// lines stays readable while every distinct line (and where the gap is) is kept.
fn collapse(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let mut n = 1;
        while lines.peek() == Some(&line) {
            lines.next();
            n += 1;
        }
        out.push_str(line);
        if n > 1 {
            out.push_str(&format!("  [line repeated {n} times]"));
        }
        out.push('\n');
    }
    out
}

/// ~700 identical progress lines (74 KiB, over the 64 KiB stderr cap), then the reason.
const NOISY: &str = "#!/bin/sh\ni=0\nwhile [ $i -lt 700 ]; do\n  \
    echo 'vfio: waiting for the GPU to release its framebuffer, please wait .......................................' >&2\n  \
    i=$((i+1))\ndone\necho 'ERROR: 0000:01:00.0 is still bound to nvidia; unload the driver first' >&2\nexit 1\n";

#[test]
fn a_long_stderr_keeps_its_head_and_its_tail() {
    let t = HooksTree::new();
    t.file("hooks/qemu", NOISY, 0o755);
    let run = t.run(&["run", "qemu", "prepare", "--domain", &example_domain()]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("ERROR: 0000:01:00.0 is still bound to nvidia")
    );
    assert_snapshot!(collapse(&run.snapshot(t.root())));
}

#[test]
fn a_long_stderr_in_json() {
    let t = HooksTree::new();
    t.file("hooks/qemu", NOISY, 0o755);
    let run = t.run(&[
        "run",
        "qemu",
        "prepare",
        "--domain",
        &example_domain(),
        "--json",
    ]);
    assert_eq!(run.code, 1);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("valid JSON");
    let script = &v["scripts"][0];
    let stderr = script["stderr"].as_str().unwrap();
    let dropped = script["stderr_dropped"].as_u64().unwrap();
    assert!(dropped > 0);
    assert!(stderr.contains(&format!("[... {dropped} bytes of stderr dropped ...]")));
    assert!(stderr.ends_with("unload the driver first"));
    assert!(stderr.starts_with("vfio: waiting"));
}

/// The reason on stdout, where a hook's output is otherwise not used.
const HUGEPAGES: &str = "#!/bin/sh\necho 'Allocating 8192 hugepages...'\n\
    echo 'Not able to allocate all hugepages'\nexit 1\n";
const QUIET_OK: &str = "#!/bin/sh\necho 'this stdout is never shown: the script succeeded'\n";

#[test]
fn a_failing_scripts_stdout_tail_is_shown() {
    let t = HooksTree::new();
    t.dir("hooks/qemu.d", 0o755);
    t.file("hooks/qemu.d/10-hugepages", HUGEPAGES, 0o755);
    t.file("hooks/qemu.d/20-ok", QUIET_OK, 0o755);
    let run = t.run(&["run", "qemu", "prepare", "--domain", &example_domain()]);
    assert_eq!(run.code, 1);
    assert!(!run.stdout.contains("never shown"));
    assert_snapshot!(run.snapshot(t.root()));
}

#[test]
fn a_failing_scripts_stdout_tail_in_json() {
    let t = HooksTree::new();
    t.dir("hooks/qemu.d", 0o755);
    t.file("hooks/qemu.d/10-hugepages", HUGEPAGES, 0o755);
    t.file("hooks/qemu.d/20-ok", QUIET_OK, 0o755);
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

/// A chain of three filters: the first and the second change the XML, the third prints it
/// back unchanged (it is the last output, but changed nothing).
fn filter_chain() -> HooksTree {
    let t = HooksTree::new();
    t.dir("hooks/qemu.d", 0o755);
    t.file(
        "hooks/qemu.d/10-memory",
        "#!/bin/sh\nsed 's/8388608/4194304/'\n",
        0o755,
    );
    t.file(
        "hooks/qemu.d/20-disk",
        "#!/bin/sh\nsed 's|/guest/|/mnt/fast/|'\n",
        0o755,
    );
    t.file("hooks/qemu.d/30-audit", "#!/bin/sh\ncat\n", 0o755);
    t.file("hooks/qemu.d/40-says-nothing", "#!/bin/sh\nexit 0\n", 0o755);
    t
}

#[test]
fn a_filter_chain_names_every_script_that_changed_the_xml() {
    let t = filter_chain();
    let run = t.run(&["run", "qemu", "migrate", "--domain", &example_domain()]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("<memory unit='KiB'>4194304</memory>"));
    assert!(run.stdout.contains("/mnt/fast/diskimage1"));
    // The resulting XML is on stdout; the report, on stderr, is what this snapshot is about.
    assert_snapshot!(redact(&run.stderr, t.root()));
}

#[test]
fn a_filter_chain_in_json() {
    let t = filter_chain();
    let run = t.run(&[
        "run",
        "qemu",
        "migrate",
        "--domain",
        &example_domain(),
        "--json",
    ]);
    assert_eq!(run.code, 0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("valid JSON");
    let rel = |p: &serde_json::Value| p.as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    assert_eq!(rel(&v["output"]["by"]), "30-audit");
    let changed: Vec<String> = v["output"]["changed_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(rel)
        .collect();
    assert_eq!(changed, ["10-memory", "20-disk"]);
}

#[test]
fn check_explains_copied_scripts_and_per_object_layouts() {
    let t = HooksTree::new();
    t.dir("hooks/qemu.d", 0o755);
    t.file("hooks/qemu.d/10-indented", "  #!/bin/sh\nexit 0\n", 0o755);
    t.file("hooks/qemu.d/20-blank-line", "\n#!/bin/sh\nexit 0\n", 0o755);
    t.file("hooks/qemu.d/30-bom", "\u{feff}#!/bin/sh\nexit 0\n", 0o755);
    t.dir("hooks/network.d", 0o755);
    t.dir("hooks/network.d/default", 0o755);
    t.file("hooks/network.d/default/started", "#!/bin/sh\n", 0o755);
    t.dir("hooks/daemon.d", 0o755);
    t.dir("hooks/daemon.d/start", 0o755);
    t.file("hooks/daemon.d/start/run", "#!/bin/sh\n", 0o755);
    let run = t.run(&["check"]);
    assert_eq!(run.code, 1);
    assert_snapshot!(run.snapshot(t.root()));
}

#[test]
fn rust_log_shows_the_librarys_spans() {
    let t = HooksTree::new();
    t.file("hooks/qemu", "#!/bin/sh\nexit 0\n", 0o755);
    let hooks = t.hooks_arg();
    let args = [
        "--hooks-dir",
        hooks.as_str(),
        "run",
        "qemu",
        "prepare",
        "--domain",
        &example_domain(),
    ];
    let run = virt_hook_run(&args, &[("RUST_LOG", "hook_core=debug")], None);
    assert_eq!(run.code, 0);
    assert!(
        run.stderr.contains(
            "hook_event{driver=\"qemu\" op=\"prepare\" object=\"test\"}:hook_script{script="
        ),
        "{}",
        run.stderr
    );
    // The event's target is the module that emitted it, inside hook_core.
    let started = run
        .stderr
        .lines()
        .find(|l| l.contains(": started pid="))
        .unwrap_or_else(|| panic!("no 'started' event in:\n{}", run.stderr));
    assert!(started.contains(" hook_core::"), "{started}");

    // A filter that excludes hook_core shows nothing; without RUST_LOG or -v, nothing either.
    let quiet = virt_hook_run(&args, &[("RUST_LOG", "hook_cli=debug")], None);
    assert_eq!(quiet.stderr, "");
    let quiet = virt_hook_run(&args, &[], None);
    assert_eq!(quiet.stderr, "");
}
