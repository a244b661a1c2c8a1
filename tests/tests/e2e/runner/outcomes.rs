//! How a run ends and what the caller gets: the report of a successful script, the typed
//! error and libvirt's one-line message for a script that failed, was killed, or could not be
//! started at all, and the refusal of an argument holding NUL before anything starts.

use hook_core::libvirt::libvirt_message;
use hook_core::{Ending, HookError, Invocation, SpawnFailure};
use nix::errno::Errno;
use tests::{TempDir, redact, run, write_script};

use super::{HOOK_ARGS, controlled_env, runner};

super::also_on_fallbacks!(
    success_reports_output_and_exit,
    exit_1_is_an_error_carrying_stderr,
    killed_by_a_signal,
    scripts_that_cannot_start,
);

fn inv<'a>(script: &'a std::path::Path, stdin: Option<&'a [u8]>) -> Invocation<'a> {
    Invocation {
        script,
        args: HOOK_ARGS,
        stdin,
        capture_stdout: true,
    }
}

#[test]
fn success_reports_output_and_exit() {
    let dir = TempDir::new("success").unwrap();
    let script = write_script(
        dir.path(),
        "qemu",
        b"#!/bin/sh\nprintf 'out'\nprintf 'err' >&2\nexit 0\n",
        0o755,
    )
    .unwrap();
    let report = run(&runner(), &inv(&script, Some(b"<domain/>"))).unwrap();

    assert_eq!(report.ending, Ending::Exited(0));
    assert!(report.success());
    assert!(report.error().is_none());
    assert_eq!(report.script, script);
    assert_eq!(report.args.to_string(), "guest prepare begin -");
    assert_eq!(report.stdout, b"out");
    assert_eq!(report.stdout_len, 3);
    assert_eq!(report.stdout_too_large, None);
    assert_eq!(report.stderr, b"err");
    assert_eq!(report.stderr_dropped, 0);
    assert_eq!(report.timed_out, None);
    assert!(!report.pipes_held_open);
    assert!(report.pid > 1);
    let checked = report
        .check()
        .expect("a script that exits 0 passes check()");
    assert_eq!(checked.stdout, b"out");
}

#[test]
fn exit_1_is_an_error_carrying_stderr() {
    let dir = TempDir::new("exit1").unwrap();
    let script = write_script(
        dir.path(),
        "qemu",
        b"#!/bin/sh\necho 'Could not find required XYZZY' >&2\nexit 1\n",
        0o755,
    )
    .unwrap();
    let report = run(&runner(), &inv(&script, None)).unwrap();

    assert_eq!(report.ending, Ending::Exited(1));
    assert!(!report.success());
    assert_eq!(report.stderr, b"Could not find required XYZZY\n");
    let err = report.check().unwrap_err();
    match &err {
        HookError::Exited { code, stderr, .. } => {
            assert_eq!(*code, 1);
            assert_eq!(stderr, b"Could not find required XYZZY\n");
        }
        other => panic!("expected Exited, got {other:?}"),
    }
    assert_eq!(err.script(), Some(script.as_path()));
    assert_eq!(err.stderr(), Some(&b"Could not find required XYZZY\n"[..]));

    let tmp = dir.display();
    let shown = format!(
        "Display: {err}\nlibvirt: {}",
        libvirt_message(&err, &controlled_env())
    );
    insta::assert_snapshot!("exit_1", redact(&shown, &[(&tmp, "[TMP]")]));
}

#[test]
fn killed_by_a_signal() {
    let dir = TempDir::new("sigkill").unwrap();
    let script = write_script(
        dir.path(),
        "qemu",
        b"#!/bin/sh\necho 'about to die' >&2\nkill -KILL $$\necho 'still alive' >&2\n",
        0o755,
    )
    .unwrap();
    let report = run(&runner(), &inv(&script, None)).unwrap();

    assert_eq!(
        report.ending,
        Ending::Signaled {
            signal: libc::SIGKILL,
            core_dumped: false
        }
    );
    assert_eq!(report.ending.signal_name(), Some("SIGKILL"));
    assert_eq!(report.ending.to_string(), "SIGKILL");
    assert!(!report.success());
    assert_eq!(report.timed_out, None);
    let err = report.check().unwrap_err();
    match &err {
        HookError::Signaled {
            signal,
            name,
            stderr,
            ..
        } => {
            assert_eq!(*signal, libc::SIGKILL);
            assert_eq!(*name, "SIGKILL");
            assert_eq!(stderr, b"about to die\n");
        }
        other => panic!("expected Signaled, got {other:?}"),
    }

    let tmp = dir.display();
    let shown = format!(
        "Display: {err}\nlibvirt: {}",
        libvirt_message(&err, &controlled_env())
    );
    insta::assert_snapshot!("sigkill", redact(&shown, &[(&tmp, "[TMP]")]));
}

/// Each way the kernel refuses to execute a hook, with the errno it gives and the explanation
/// the administrator gets.
#[test]
fn scripts_that_cannot_start() {
    let dir = TempDir::new("notstarted").unwrap();
    let marker = dir.path().join("ran");
    let marker_cmd = format!("touch {}\n", marker.display());
    let cases: Vec<(&str, Vec<u8>, u32, Errno, SpawnFailure)> = vec![
        (
            "missing-interpreter",
            format!("#!/nonexistent/interp\n{marker_cmd}").into_bytes(),
            0o755,
            Errno::ENOENT,
            SpawnFailure::InterpreterNotFound {
                interpreter: "/nonexistent/interp".into(),
            },
        ),
        (
            "crlf-shebang",
            format!("#!/bin/sh\r\n{marker_cmd}").into_bytes(),
            0o755,
            Errno::ENOENT,
            SpawnFailure::CrlfShebang,
        ),
        (
            "no-shebang",
            marker_cmd.clone().into_bytes(),
            0o755,
            Errno::ENOEXEC,
            SpawnFailure::NoShebang,
        ),
        (
            "not-executable",
            format!("#!/bin/sh\n{marker_cmd}").into_bytes(),
            0o644,
            Errno::EACCES,
            SpawnFailure::NotExecutable,
        ),
        (
            "interpreter-not-executable",
            format!("#!/etc/passwd\n{marker_cmd}").into_bytes(),
            0o755,
            Errno::EACCES,
            SpawnFailure::NotExecutable,
        ),
    ];

    let runner = runner();
    let tmp = dir.display();
    let mut shown = String::new();
    for (name, body, mode, errno, reason) in cases {
        let script = write_script(dir.path(), name, &body, mode).unwrap();
        let err = run(&runner, &inv(&script, Some(b"<domain/>"))).expect_err(name);
        match &err {
            HookError::NotStarted {
                errno: e,
                reason: r,
                script: s,
                ..
            } => {
                assert_eq!((*e, r), (errno, &reason), "{name}");
                assert_eq!(s, &script, "{name}");
            }
            other => panic!("{name}: expected NotStarted, got {other:?}"),
        }
        shown += &format!(
            "{name}:\n  Display: {err}\n  libvirt: {}",
            libvirt_message(&err, &controlled_env())
        );
    }

    let missing = dir.path().join("does-not-exist");
    let err = run(&runner, &inv(&missing, None)).unwrap_err();
    assert!(
        matches!(
            err,
            HookError::NotStarted {
                errno: Errno::ENOENT,
                reason: SpawnFailure::NotFound,
                ..
            }
        ),
        "{err:?}"
    );
    shown += &format!("missing-script:\n  Display: {err}\n");

    assert!(!marker.exists(), "one of the scripts ran after all");
    insta::assert_snapshot!("not_started", redact(&shown, &[(&tmp, "[TMP]")]));
}

#[test]
fn nul_in_an_argument_starts_nothing() {
    let dir = TempDir::new("nul").unwrap();
    let marker = dir.path().join("ran");
    let script = write_script(
        dir.path(),
        "qemu",
        format!("#!/bin/sh\ntouch {}\n", marker.display()).as_bytes(),
        0o755,
    )
    .unwrap();
    let runner = runner();

    let args = ["guest", "pre\0pare", "begin", "-"];
    let err = run(
        &runner,
        &Invocation {
            script: &script,
            args: &args,
            stdin: None,
            capture_stdout: false,
        },
    )
    .unwrap_err();
    assert!(matches!(err, HookError::InvalidArgument { .. }), "{err:?}");
    assert_eq!(err.script(), None);
    let arg_err = err.to_string();

    let with_nul = dir.path().join("qemu\0x");
    let err = run(&runner, &inv(&with_nul, None)).unwrap_err();
    assert!(matches!(err, HookError::InvalidArgument { .. }), "{err:?}");
    let path_err = err.to_string();

    assert!(!marker.exists(), "the script ran despite the NUL");
    // The same script with clean arguments does run: the marker test above can see a run.
    run(&runner, &inv(&script, None)).unwrap().check().unwrap();
    assert!(marker.exists());

    let tmp = dir.display();
    insta::assert_snapshot!(
        "nul_argument",
        redact(
            &format!("argument: {arg_err}\npath: {path_err}"),
            &[(&tmp, "[TMP]")]
        )
    );
}
