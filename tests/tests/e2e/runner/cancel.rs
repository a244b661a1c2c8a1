//! Cancelling calls from another thread ([`hook_core::Cancel`], issue #10, item 8's library
//! half): the running script's process group gets the cancelling signal, SIGKILL after the
//! kill grace if it ignores it; the run reports `Interrupted`; nothing is started afterwards,
//! neither by the same runner nor by a `Hooks` call, which stops between its scripts.

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use hook_core::{Cancel, Ending, HookError, Hooks, Invocation, Limits, Report};
use nix::sys::signal::Signal;
use tests::hookdir::TestEvent;
use tests::{GONE_WITHIN, KillGroupOnDrop, TempDir, run_with, wait_group_dead, write_script};

use super::{HOOK_ARGS, controlled_env, runner};

super::also_on_fallbacks!(
    cancel_forwards_the_signal_and_stops_later_calls,
    cancel_escalates_to_sigkill
);

fn inv(script: &Path) -> Invocation<'_> {
    Invocation {
        script,
        args: HOOK_ARGS,
        stdin: Some(b"<domain/>"),
        capture_stdout: true,
    }
}

/// Waits (at most a minute: a hang guard) until `file` exists.
fn wait_for_file(file: &Path) {
    tests::reliability_support::wait_for(&file.display().to_string(), || file.exists());
}

/// Runs `script` on another thread with a runner cancelled by `cancel` once `ready` exists.
fn run_and_cancel(script: &Path, ready: &Path, signal: Signal, limits: &Limits) -> Report {
    let cancel = Cancel::new().unwrap();
    let runner = runner().with_cancel(cancel.clone());
    let report = std::thread::scope(|s| {
        let call = s.spawn(|| run_with(&runner, &inv(script), limits));
        wait_for_file(ready);
        cancel.cancel(signal);
        call.join().unwrap()
    })
    .unwrap();
    assert_eq!(cancel.requested(), Some(signal));
    // Once cancelled, the runner starts nothing more.
    let marker = ready.with_extension("again");
    let again = write_script(
        ready.parent().unwrap(),
        "again",
        format!("#!/bin/sh\n: > '{}'\n", marker.display()).as_bytes(),
        0o755,
    )
    .unwrap();
    match run_with(&runner, &inv(&again), limits) {
        Err(e @ HookError::Interrupted { started: false, .. }) => {
            assert!(e.to_string().contains("was not started"), "{e}")
        }
        other => panic!("expected Interrupted (not started), got {other:?}"),
    }
    assert!(!marker.exists(), "a script ran after the cancellation");
    report
}

#[test]
fn cancel_forwards_the_signal_and_stops_later_calls() {
    let dir = TempDir::new("cancel").unwrap();
    let ready = dir.path().join("ready");
    // A background child in the group, and the script itself, both die of the SIGINT.
    let script = write_script(
        dir.path(),
        "qemu",
        format!(
            "#!/bin/sh\nsleep 60 &\necho working >&2\n: > '{}'\nexec sleep 60\n",
            ready.display()
        )
        .as_bytes(),
        0o755,
    )
    .unwrap();
    let report = run_and_cancel(&script, &ready, Signal::SIGINT, &Limits::default());
    let _cleanup = KillGroupOnDrop(report.pid);
    assert_eq!(report.interrupted, Some(libc::SIGINT));
    assert_eq!(
        report.ending,
        Ending::Signaled {
            signal: libc::SIGINT,
            core_dumped: false
        }
    );
    assert!(!report.success());
    let err = report.error().unwrap();
    assert!(
        matches!(
            err,
            HookError::Interrupted {
                started: true,
                signal: libc::SIGINT,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("was interrupted: SIGINT was forwarded to its process group")
            && text.ends_with(": working"),
        "{text}"
    );
    assert!(
        wait_group_dead(report.pid as i32, GONE_WITHIN).is_empty(),
        "the background sleep survived"
    );
}

/// A script that ignores the forwarded signal gets SIGKILL after the kill grace.
#[test]
fn cancel_escalates_to_sigkill() {
    let dir = TempDir::new("cancelkill").unwrap();
    let ready = dir.path().join("ready");
    let script = write_script(
        dir.path(),
        "qemu",
        format!(
            "#!/bin/sh\ntrap '' TERM\n: > '{}'\nsleep 60\n",
            ready.display()
        )
        .as_bytes(),
        0o755,
    )
    .unwrap();
    let limits = Limits {
        kill_grace: Duration::from_millis(100),
        ..Limits::default()
    };
    let report = run_and_cancel(&script, &ready, Signal::SIGTERM, &limits);
    let _cleanup = KillGroupOnDrop(report.pid);
    assert_eq!(report.interrupted, Some(libc::SIGTERM));
    assert_eq!(
        report.ending,
        Ending::Signaled {
            signal: libc::SIGKILL,
            core_dumped: false
        }
    );
    assert!(wait_group_dead(report.pid as i32, GONE_WITHIN).is_empty());
}

/// Through `Hooks`: the cancelled script fails the call with `Interrupted`, and the `.d`
/// scripts after it are not started.
#[test]
fn cancelled_call_starts_no_further_script() {
    let dir = TempDir::new("cancelhooks").unwrap();
    let ready = dir.path().join("ready");
    let d = dir.path().join("drv.d");
    std::fs::create_dir(&d).unwrap();
    write_script(
        &d,
        "10-first",
        format!("#!/bin/sh\n: > '{}'\nexec sleep 60\n", ready.display()).as_bytes(),
        0o755,
    )
    .unwrap();
    let second = dir.path().join("second-ran");
    write_script(
        &d,
        "20-second",
        format!("#!/bin/sh\n: > '{}'\n", second.display()).as_bytes(),
        0o755,
    )
    .unwrap();
    let cancel = Cancel::new().unwrap();
    let hooks = Hooks::builder(dir.path())
        .driver("drv")
        .env(controlled_env())
        .cancel(cancel.clone())
        .build()
        .unwrap();
    let event = TestEvent::new("drv", "prepare");
    let result = std::thread::scope(|s| {
        let call = s.spawn(|| {
            let _running = tests::exec_guard();
            hooks.run(&event, "guest", || Some(Cow::Borrowed(b"<domain/>")))
        });
        wait_for_file(&ready);
        cancel.cancel(Signal::SIGTERM);
        call.join().unwrap()
    });
    let failure = result.unwrap_err();
    assert_eq!(failure.runs.len(), 1, "{failure:?}");
    assert!(matches!(
        failure.headline(),
        HookError::Interrupted { started: true, .. }
    ));
    assert!(
        !second.exists(),
        "a script was started after the cancellation"
    );
    let pid = failure.runs[0].report.as_ref().unwrap().pid;
    let _cleanup = KillGroupOnDrop(pid);
    assert!(wait_group_dead(pid as i32, GONE_WITHIN).is_empty());
}
