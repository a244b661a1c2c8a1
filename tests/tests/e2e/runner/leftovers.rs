//! Processes a script leaves behind and scripts that run too long. The run must end when the
//! script exits even if a background child still holds stdout (libvirt hangs there), output
//! such a child writes during the drain must be kept, and a timeout must kill the whole
//! process group, grandchildren included, whatever they do with SIGTERM.
//!
//! The scripts sleep for 60 s rather than forever: if a guarded behaviour regresses, the test
//! fails after at most that long instead of hanging. Every process a test starts is gone (or
//! an unreaped zombie) when it ends.

use std::path::Path;
use std::time::Duration;

use hook_core::{Ending, HookError, Invocation, Limits, Report};
use tests::{KillGroupOnDrop, TempDir, run_with, wait_group_dead, wait_process_dead, write_script};

use super::{HOOK_ARGS, runner};

/// How long a test waits for killed processes to disappear before it fails: a bound on a
/// failing test's duration, not a timing assertion.
const GONE_WITHIN: Duration = Duration::from_secs(10);

fn inv(script: &Path) -> Invocation<'_> {
    Invocation {
        script,
        args: HOOK_ARGS,
        stdin: None,
        capture_stdout: true,
    }
}

fn assert_group_dead(report: &Report) {
    let live = wait_group_dead(report.pid as i32, GONE_WITHIN);
    assert!(
        live.is_empty(),
        "processes left in the script's group: {live:?}"
    );
}

/// `sleep &` keeps the script's stdout open: the run still ends when the script exits, says
/// the pipes were held open, and the leftover is still running (the runner does not kill what
/// a successful script started; the caller may).
#[test]
fn background_child_holding_stdout_does_not_block() {
    let dir = TempDir::new("bg").unwrap();
    let script = write_script(
        dir.path(),
        "qemu",
        b"#!/bin/sh\nsleep 60 &\necho started\nexit 0\n",
        0o755,
    )
    .unwrap();
    let report = run_with(&runner(), &inv(&script), &Limits::default()).unwrap();
    let _cleanup = KillGroupOnDrop(report.pid);

    assert!(report.success(), "{:?}", report.error());
    assert!(report.pipes_held_open);
    assert_eq!(report.stdout, b"started\n");
    let live = tests::group_members(report.pid as i32);
    assert!(
        live.iter().any(|p| p.comm == "sleep" && !p.is_dead()),
        "the background sleep should still run: {live:?}"
    );

    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(report.pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert_group_dead(&report);
}

/// A background child that does not hold the pipes is no concern of the runner's.
#[test]
fn background_child_with_redirected_output() {
    let dir = TempDir::new("bgnull").unwrap();
    let script = write_script(
        dir.path(),
        "qemu",
        b"#!/bin/sh\nsleep 60 >/dev/null 2>&1 &\nexit 0\n",
        0o755,
    )
    .unwrap();
    let limits = Limits {
        drain: Duration::from_secs(60),
        ..Limits::default()
    };
    let report = run_with(&runner(), &inv(&script), &limits).unwrap();
    let cleanup = KillGroupOnDrop(report.pid);
    assert!(report.success(), "{:?}", report.error());
    assert!(!report.pipes_held_open);
    drop(cleanup); // the background sleep is the caller's to end
    assert_group_dead(&report);
}

/// Output a background child writes after the script exited, before it closes the pipe, is
/// read during the drain (which ends at EOF, not at its deadline: 60 s here).
#[test]
fn drain_keeps_late_output() {
    let dir = TempDir::new("late").unwrap();
    let script = write_script(
        dir.path(),
        "qemu",
        b"#!/bin/sh\n(sleep 0.2; echo late; echo late-err >&2) &\necho early\nexit 0\n",
        0o755,
    )
    .unwrap();
    let limits = Limits {
        drain: Duration::from_secs(60),
        ..Limits::default()
    };
    let report = run_with(&runner(), &inv(&script), &limits).unwrap();
    let _cleanup = KillGroupOnDrop(report.pid);
    assert!(report.success(), "{:?}", report.error());
    assert!(!report.pipes_held_open);
    assert_eq!(report.stdout, b"early\nlate\n");
    assert_eq!(report.stderr, b"late-err\n");
    assert_group_dead(&report);
}

/// One timeout scenario: a script that runs `prelude` (traps), starts `grandchild` in the
/// background, writes its pid to `$D/gc.pid`, then sleeps in the foreground. The grandchild
/// touches `$D/ready` once it has set itself up; `$D` is the test's temporary directory.
struct TimeoutCase {
    name: &'static str,
    prelude: &'static str,
    grandchild: &'static str,
    kill_grace: Duration,
    ending: Ending,
    /// The grandchild writes `$D/gc.term` when SIGTERM reaches it; require that file.
    grandchild_sees_sigterm: bool,
}

fn run_timeout_case(case: &TimeoutCase) {
    let dir = TempDir::new(case.name).unwrap();
    let file = |name: &str| dir.path().join(name);
    let body = format!(
        "#!/bin/sh\nD={}\n{}\n{} &\necho $! > $D/gc.pid\necho waiting >&2\nsleep 60\necho 'not killed' >&2\n",
        dir.display(),
        case.prelude,
        case.grandchild,
    );
    let script = write_script(dir.path(), "qemu", body.as_bytes(), 0o755).unwrap();

    // The script and its grandchild must be set up before the timeout for the test to mean
    // anything. On a machine too loaded for that, try again with a longer timeout: the
    // machine's speed decides how long the test takes, never whether it passes.
    for timeout_ms in [300u64, 1_000, 5_000, 20_000] {
        for name in ["gc.pid", "ready", "gc.term"] {
            let _ = std::fs::remove_file(file(name));
        }
        let timeout = Duration::from_millis(timeout_ms);
        let limits = Limits {
            timeout: Some(timeout),
            kill_grace: case.kill_grace,
            ..Limits::default()
        };
        let report = run_with(&runner(), &inv(&script), &limits).unwrap();
        let _cleanup = KillGroupOnDrop(report.pid);

        assert_eq!(report.timed_out, Some(timeout), "{}", case.name);
        assert!(!report.success());
        match report.error() {
            Some(HookError::TimedOut { after, .. }) => assert_eq!(after, timeout),
            other => panic!("{}: expected TimedOut, got {other:?}", case.name),
        }
        let shown = report.error().unwrap().to_string();
        assert!(
            shown.contains("timed out after") && shown.contains("and was killed"),
            "{shown}"
        );

        let grandchild: Option<i32> = std::fs::read_to_string(file("gc.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok());
        let (Some(grandchild), true) = (grandchild, file("ready").exists()) else {
            // Killed before it was set up; whatever it started is still checked, then the
            // case runs again with more time.
            assert_group_dead(&report);
            continue;
        };
        assert_eq!(report.ending, case.ending, "{}", case.name);
        assert!(
            !String::from_utf8_lossy(&report.stderr).contains("not killed"),
            "{}",
            case.name
        );
        assert!(
            wait_process_dead(grandchild, report.pid as i32, GONE_WITHIN),
            "{}: grandchild {grandchild} outlived the timed-out script",
            case.name
        );
        assert_group_dead(&report);
        if case.grandchild_sees_sigterm {
            assert!(
                file("gc.term").exists(),
                "{}: SIGTERM never reached the grandchild",
                case.name
            );
        }
        return;
    }
    panic!(
        "{}: the script was never set up, even with a 20 s timeout",
        case.name
    );
}

/// Everything dies of the SIGTERM sent to the group.
#[test]
fn timeout_kills_the_group_with_sigterm() {
    run_timeout_case(&TimeoutCase {
        name: "term",
        prelude: "",
        grandchild: "(: > $D/ready; exec sleep 60)",
        kill_grace: Duration::from_millis(100),
        ending: Ending::Signaled {
            signal: libc::SIGTERM,
            core_dumped: false,
        },
        grandchild_sees_sigterm: false,
    });
}

/// SIGTERM goes to the whole group, not only to the script: the grandchild gets its chance to
/// clean up. The script waits for it before exiting, and the grace period is longer than the
/// test, so if SIGTERM reached the script alone the grandchild would never write its file.
#[test]
fn timeout_sends_sigterm_to_the_whole_group() {
    run_timeout_case(&TimeoutCase {
        name: "termall",
        prelude: "trap 'wait; exit 3' TERM",
        grandchild: "(trap 'echo > $D/gc.term; exit 0' TERM; : > $D/ready; sleep 60 & wait)",
        kill_grace: Duration::from_secs(120),
        ending: Ending::Exited(3),
        grandchild_sees_sigterm: true,
    });
}

/// The whole group ignores SIGTERM: SIGKILL follows after the grace period.
#[test]
fn timeout_escalates_to_sigkill() {
    run_timeout_case(&TimeoutCase {
        name: "kill",
        prelude: "trap '' TERM",
        grandchild: "(: > $D/ready; exec sleep 60)",
        kill_grace: Duration::from_millis(100),
        ending: Ending::Signaled {
            signal: libc::SIGKILL,
            core_dumped: false,
        },
        grandchild_sees_sigterm: false,
    });
}

/// The script exits on SIGTERM but its grandchild ignores it. With a grace period longer than
/// the test, only the SIGKILL the runner sends the group when it reaps a timed-out script can
/// end the grandchild.
#[test]
fn timeout_kills_a_grandchild_that_ignores_sigterm() {
    run_timeout_case(&TimeoutCase {
        name: "orphan",
        prelude: "trap 'exit 3' TERM",
        grandchild: "(trap '' TERM; : > $D/ready; exec sleep 60)",
        kill_grace: Duration::from_secs(120),
        ending: Ending::Exited(3),
        grandchild_sees_sigterm: false,
    });
}
