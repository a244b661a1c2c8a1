//! The dispatcher under libvirt's own hook runner. `tests/src/bin/libvirt-hook-call.rs` calls
//! `virHookInitialize` and `virHookCall` of the installed `libvirt.so.0` (Debian's `libvirt0`)
//! in a private mount namespace whose `/etc/libvirt/hooks` holds a copy of a test tree, with
//! `qemu` a symlink to the built virt-hook: libvirt's fork and exec, its pipes, its wait for
//! end-of-file, its error message. The host's `/etc` is never written.
//!
//! Without libvirt, or without the right to make a mount namespace, each test says so on stderr
//! and passes, unless `VIRT_HOOK_REQUIRE_LIBVIRT` is set: `.ci/run` installs `libvirt0` and sets
//! it, so in CI they run or fail.

use std::path::PathBuf;
use std::time::Duration;

use hook_core::{Ending, Invocation, Limits, Runner, ScriptEnv};
use tests::cli_support::virt_hook;
use tests::drivers_support::fixture;
use tests::hookdir::{HookDir, exec_guard, sh_quote};
use tests::{KillGroupOnDrop, proc_stat};

/// libvirt's numbers (virhook.h): `VIR_HOOK_DRIVER_QEMU`, `VIR_HOOK_QEMU_OP_PREPARE`,
/// `VIR_HOOK_QEMU_OP_MIGRATE`, `VIR_HOOK_SUBOP_BEGIN`.
const QEMU: &str = "1";
const PREPARE: &str = "2";
const MIGRATE: &str = "4";
const BEGIN: &str = "1";

/// What libvirt answered.
#[derive(Debug)]
struct Answer {
    rc: i32,
    /// libvirt's error message after a failure (`virGetLastErrorMessage`).
    error: String,
    /// What libvirt handed back as the output (filter calls only).
    output: Option<String>,
}

/// A hooks tree whose `qemu` is virt-hook, logging nowhere.
fn tree() -> HookDir {
    let d = HookDir::new();
    d.symlink("qemu", virt_hook());
    d.file("virt-hook.toml", "log = \"none\"\n", 0o644);
    d
}

/// libvirt's `virHookCall(qemu, "test", op, begin, NULL, <the test domain>, output?)` on a copy
/// of `d`'s tree. `None` when libvirt or the namespace is not available here (and not required).
fn libvirt_calls(d: &HookDir, op: &str, output: bool) -> Option<Answer> {
    let doc = d.root().join("domain.xml");
    std::fs::write(&doc, fixture("domain-test.xml")).unwrap();
    let hooks = d.hooks().to_string_lossy().into_owned();
    let doc = doc.to_string_lossy().into_owned();
    let mut args = vec![hooks.as_str(), QEMU, "test", op, BEGIN, doc.as_str()];
    if output {
        args.insert(0, "--output");
    }
    // Far longer than any call here takes; a libvirt that waited for a script's background
    // child (600 s) would run into it and fail the test.
    let runner = Runner::new(
        ScriptEnv::libvirt(),
        Limits {
            timeout: Some(Duration::from_secs(300)),
            ..Limits::default()
        },
    );
    let bin: PathBuf = virt_hook().with_file_name("libvirt-hook-call");
    let report = {
        let _g = exec_guard();
        runner
            .run(&Invocation {
                script: &bin,
                args: &args,
                stdin: None,
                capture_stdout: true,
            })
            .expect("libvirt-hook-call starts")
    };
    let stdout = String::from_utf8_lossy(&report.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&report.stderr).into_owned();
    match report.ending {
        Ending::Exited(0) => {}
        Ending::Exited(3) if std::env::var_os("VIRT_HOOK_REQUIRE_LIBVIRT").is_none() => {
            eprintln!("SKIPPED, libvirt's own caller is not available here: {stderr}");
            return None;
        }
        other => panic!("libvirt-hook-call ended with {other}:\n{stdout}{stderr}"),
    }
    let (head, out) = match stdout.split_once("output:\n") {
        Some((head, out)) => (head, Some(out.to_owned())),
        None => (stdout.as_str(), None),
    };
    let field = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_owned)
    };
    assert_eq!(field("initialize").as_deref(), Some("1"), "{stdout}");
    Some(Answer {
        rc: field("rc").expect("rc=").parse().expect("a number"),
        error: field("error").unwrap_or_default(),
        output: out,
    })
}

#[test]
fn libvirt_shows_the_dispatchers_line_for_a_failing_per_guest_script() {
    let d = tree();
    let base = "qemu.d/test/prepare/begin";
    d.logging_script(format!("{base}/10-ok"));
    d.script(
        format!("{base}/20-vfio"),
        &format!(
            "{}\necho 'modprobe: FATAL: Module vfio-pci not found' >&2\necho 'giving up' >&2\n\
             exit 3",
            d.log_name_line()
        ),
    );
    d.logging_script(format!("{base}/30-never"));
    let Some(answer) = libvirt_calls(&d, PREPARE, false) else {
        return;
    };
    assert_eq!(answer.rc, -1, "{answer:?}");
    assert!(
        answer
            .error
            .starts_with("Hook script execution failed: internal error: Child process (LC_ALL=C ")
            && answer.error.ends_with(
                " /etc/libvirt/hooks/qemu test prepare begin -) unexpected exit status 1: \
                 virt-hook: qemu.d/test/prepare/begin/20-vfio: exit 3: modprobe: FATAL: \
                 Module vfio-pci not found | giving up"
            ),
        "{}",
        answer.error
    );
    assert_eq!(d.log(), ["10-ok", "20-vfio"]);
}

#[test]
fn libvirt_is_not_held_by_a_per_guest_scripts_background_child() {
    let d = tree();
    let pid_file = d.root().join("bg.pid");
    // Under libvirt with a plain hook this child's 600 s would hold the call (libvirt waits for
    // end-of-file on its pipes); the caller's 300 s timeout would then fail the test.
    d.script(
        "qemu.d/test/prepare/begin/starts-a-daemon",
        &format!(
            "sleep 600 &\necho $! > {}\necho started",
            sh_quote(&pid_file)
        ),
    );
    let answer = libvirt_calls(&d, PREPARE, false);
    let child = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .and_then(proc_stat);
    let _cleanup = child.as_ref().map(|c| KillGroupOnDrop(c.pgrp as u32));
    let Some(answer) = answer else {
        return;
    };
    assert_eq!((answer.rc, answer.error.as_str()), (0, ""), "{answer:?}");
    assert!(
        child.is_some_and(|c| !c.is_dead()),
        "the background child was left running, holding only pipes nobody reads"
    );
}

#[test]
fn libvirt_gets_the_chained_filter_result_and_nothing_when_unchanged() {
    let d = tree();
    let base = "qemu.d/test/migrate/begin";
    d.script(
        format!("{base}/1-vcpu"),
        "sed 's|<vcpu placement=.static.>2</vcpu>|<vcpu placement=\"static\">4</vcpu>|'",
    );
    d.script(
        format!("{base}/2-memory"),
        "sed 's|<memory unit=.KiB.>8388608</memory>|<memory unit=\"KiB\">4194304</memory>|'",
    );
    let Some(answer) = libvirt_calls(&d, MIGRATE, true) else {
        return;
    };
    assert_eq!(answer.rc, 0, "{answer:?}");
    let xml = answer.output.expect("libvirt hands an output back");
    assert!(
        xml.contains("<vcpu placement=\"static\">4</vcpu>")
            && xml.contains("<memory unit=\"KiB\">4194304</memory>"),
        "{xml}"
    );

    let d = tree();
    d.script(format!("{base}/reads-only"), "cat > /dev/null");
    let answer = libvirt_calls(&d, MIGRATE, true).expect("available a moment ago");
    assert_eq!(answer.rc, 0, "{answer:?}");
    assert_eq!(
        answer.output.as_deref().unwrap_or(""),
        "",
        "nothing changed: libvirt reads an empty output and keeps its document"
    );
}
