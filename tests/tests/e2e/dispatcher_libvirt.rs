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

use crate::dispatcher::{BadSettings, hostile_names};
use hook_core::{Ending, Invocation, Limits, Runner, ScriptEnv};
use tests::cli_support::virt_hook;
use tests::drivers_support::fixture;
use tests::hookdir::{HookDir, exec_guard, sh_quote};
use tests::{KillGroupOnDrop, proc_stat};

/// libvirt's numbers (virhook.h): `VIR_HOOK_DRIVER_QEMU`, the `VIR_HOOK_QEMU_OP_*` and
/// `VIR_HOOK_SUBOP_*` values.
const QEMU: &str = "1";
const START: &str = "0";
const STOPPED: &str = "1";
const PREPARE: &str = "2";
const RELEASE: &str = "3";
const MIGRATE: &str = "4";
const STARTED: &str = "5";
const RECONNECT: &str = "6";
const RESTORE: &str = "8";
const BEGIN: &str = "1";
const END: &str = "2";

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
    libvirt_call(d, "test", op, BEGIN, output)
}

/// `virHookCall(qemu, object, op, subop, NULL, <the test domain>, output?)`: `object` as
/// libvirt-hook-call takes it (`hex:…` for bytes).
fn libvirt_call(d: &HookDir, object: &str, op: &str, subop: &str, output: bool) -> Option<Answer> {
    let doc = d.root().join("domain.xml");
    if !doc.exists() {
        std::fs::write(&doc, fixture("domain-test.xml")).unwrap();
    }
    let hooks = d.hooks().to_string_lossy().into_owned();
    let doc = doc.to_string_lossy().into_owned();
    let mut args = vec![hooks.as_str(), QEMU, object, op, subop, doc.as_str()];
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
    // The presence bit: a main hook libvirt can run (none: nothing is ever called).
    let runnable = std::fs::metadata(d.hooks().join("qemu")).is_ok();
    let initialize = if runnable { "1" } else { "0" };
    assert_eq!(field("initialize").as_deref(), Some(initialize), "{stdout}");
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

/// Every event of qemu libvirt calls, with its sub-op and whether it is a filter.
const EVENTS: [(&str, &str, &str, bool); 8] = [
    ("prepare", PREPARE, BEGIN, false),
    ("start", START, BEGIN, false),
    ("started", STARTED, BEGIN, false),
    ("reconnect", RECONNECT, BEGIN, false),
    ("stopped", STOPPED, END, false),
    ("release", RELEASE, END, false),
    ("migrate", MIGRATE, BEGIN, true),
    ("restore", RESTORE, BEGIN, true),
];

#[test]
fn libvirt_with_unusable_settings_keeps_running_guests_and_cleans_up() {
    for bad in BadSettings::all() {
        let d = tree();
        bad.install(&d);
        for (op, subop) in [
            ("reconnect", "begin"),
            ("started", "begin"),
            ("release", "end"),
            ("prepare", "begin"),
        ] {
            d.logging_script(format!("qemu.d/test/{op}/{subop}/{op}-script"));
        }
        // reconnect: a failure would make libvirt kill the running guest; started: stop the
        // guest that just started; release: libvirt ignores a failure, so the GPU would stay
        // bound to vfio-pci without a word. Each runs its scripts with the defaults instead.
        for (op, subop) in [(RECONNECT, BEGIN), (STARTED, BEGIN), (RELEASE, END)] {
            let Some(answer) = libvirt_call(&d, "test", op, subop, false) else {
                return;
            };
            assert_eq!((answer.rc, answer.error.as_str()), (0, ""), "{bad:?} {op}");
        }
        assert_eq!(
            d.log(),
            ["reconnect-script", "started-script", "release-script"],
            "{bad:?}"
        );
        // prepare fails closed, naming the file, with no script run.
        let answer = libvirt_call(&d, "test", PREPARE, BEGIN, false).expect("available");
        assert_eq!(answer.rc, -1, "{bad:?}");
        assert!(
            answer.error.contains(&format!(
                "unexpected exit status 1: virt-hook: /etc/libvirt/hooks/virt-hook.toml{}",
                bad.says()
            )) && answer.error.ends_with("; no script was run"),
            "{bad:?}: {}",
            answer.error
        );
        assert_eq!(d.log().len(), 3, "{bad:?}: prepare's script did not run");
    }
}

#[test]
fn libvirt_with_unusable_settings_lets_a_guest_without_scripts_through_every_event() {
    for bad in BadSettings::all() {
        let d = tree();
        bad.install(&d);
        d.logging_script("qemu.d/other-guest/prepare/begin/not-this-guest");
        for (name, op, subop, filter) in EVENTS {
            let Some(answer) = libvirt_call(&d, "test", op, subop, filter) else {
                return;
            };
            assert_eq!(
                (answer.rc, answer.error.as_str()),
                (0, ""),
                "{bad:?} {name}"
            );
            assert_eq!(
                answer.output.as_deref().unwrap_or(""),
                "",
                "{bad:?} {name}: the document is kept"
            );
        }
        assert!(d.log().is_empty(), "{bad:?}");
    }
}

/// Hex for libvirt-hook-call's `hex:` object form.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn libvirt_passes_names_that_look_like_options_to_the_wrapper_and_the_symlink_as_data() {
    for wrapper in [false, true] {
        let d = HookDir::new();
        d.file("virt-hook.toml", "log = \"none\"\n", 0o644);
        if wrapper {
            // As the documentation shows it: the hooks directory is where libvirt looks.
            d.script(
                "qemu",
                &format!(
                    "exec {} --hooks-dir /etc/libvirt/hooks dispatch qemu \"$@\"",
                    sh_quote(&virt_hook())
                ),
            );
        } else {
            d.symlink("qemu", virt_hook());
        }
        let names = hostile_names();
        for name in &names {
            d.script(
                format!("qemu.d/{name}/prepare/begin/s"),
                &format!("echo \"$1\" >> {}", sh_quote(d.log_path())),
            );
        }
        for name in &names {
            let Some(answer) = libvirt_call(
                &d,
                &format!("hex:{}", hex(name.as_bytes())),
                PREPARE,
                BEGIN,
                false,
            ) else {
                return;
            };
            assert_eq!(
                (answer.rc, answer.error.as_str()),
                (0, ""),
                "wrapper {wrapper}, {name:?}"
            );
        }
        assert_eq!(
            &d.log(),
            &names,
            "wrapper {wrapper}: each guest's script ran"
        );
        // An empty name has no per-guest directory: libvirt proceeds.
        let answer = libvirt_call(&d, "hex:", PREPARE, BEGIN, false).expect("available");
        assert_eq!(
            (answer.rc, answer.error.as_str()),
            (0, ""),
            "wrapper {wrapper}"
        );
    }
}

#[test]
fn libvirt_with_a_name_that_is_not_utf8_never_kills_a_guest() {
    use std::os::unix::ffi::OsStrExt as _;
    let d = tree();
    let name = std::ffi::OsStr::from_bytes(b"g\xff");
    let dir = std::path::Path::new("qemu.d").join(name);
    let object = format!("hex:{}", hex(name.as_bytes()));
    // Without scripts: nothing to run, whatever the event.
    for (what, op, subop, filter) in EVENTS {
        let Some(answer) = libvirt_call(&d, &object, op, subop, filter) else {
            return;
        };
        assert_eq!((answer.rc, answer.error.as_str()), (0, ""), "{what}");
    }
    // With scripts (libvirt never sends such a name; the scripts cannot be given it): prepare
    // refuses, reconnect and release answer success.
    d.logging_script(dir.join("prepare/begin/s"));
    d.logging_script(dir.join("reconnect/begin/s"));
    d.logging_script(dir.join("release/end/s"));
    let answer = libvirt_call(&d, &object, PREPARE, BEGIN, false).expect("available");
    assert_eq!(answer.rc, -1);
    assert!(
        answer.error.ends_with(
            "virt-hook: argument 1 (g\u{fffd}) is not UTF-8, which libvirt never sends; no \
             script was run"
        ),
        "{}",
        answer.error
    );
    for (op, subop) in [(RECONNECT, BEGIN), (RELEASE, END)] {
        let answer = libvirt_call(&d, &object, op, subop, false).expect("available");
        assert_eq!((answer.rc, answer.error.as_str()), (0, ""), "{op}");
    }
    assert!(d.log().is_empty());
}

#[test]
fn libvirt_runs_a_per_guest_script_without_shebang() {
    let d = tree();
    d.file(
        "qemu.d/test/prepare/begin/isolstart.sh",
        &format!("{}\n", d.log_name_line()),
        0o755,
    );
    let Some(answer) = libvirt_calls(&d, PREPARE, false) else {
        return;
    };
    assert_eq!((answer.rc, answer.error.as_str()), (0, ""));
    assert_eq!(d.log(), ["isolstart.sh"]);
}

#[test]
fn libvirt_runs_nothing_through_a_symlink_to_a_missing_binary_and_fails_through_a_wrapper() {
    // The symlink form: libvirt finds no executable main hook and runs nothing, for every
    // event (reconnect included): the per-guest scripts silently do not run.
    let d = HookDir::new();
    d.symlink("qemu", "/nonexistent/virt-hook");
    d.logging_script("qemu.d/test/reconnect/begin/s");
    let Some(answer) = libvirt_call(&d, "test", RECONNECT, BEGIN, false) else {
        return;
    };
    assert_eq!(
        (answer.rc, answer.error.as_str()),
        (1, ""),
        "1: no hook ran, the guest keeps running"
    );
    assert!(d.log().is_empty());
    // The wrapper form: the shell cannot exec the binary, exits 127, and libvirt fails the
    // event, which for reconnect kills the running guest. `virt-hook install` makes a copy
    // with hard links instead (docs/dispatcher.md).
    let d = HookDir::new();
    d.script(
        "qemu",
        "exec /nonexistent/virt-hook --hooks-dir /etc/libvirt/hooks dispatch qemu \"$@\"",
    );
    let answer = libvirt_call(&d, "test", RECONNECT, BEGIN, false).expect("available");
    assert_eq!(answer.rc, -1);
    assert!(
        answer.error.contains("unexpected exit status 127"),
        "{}",
        answer.error
    );
}
