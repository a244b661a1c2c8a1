//! A host whose SIGPIPE is at its default disposition (a C daemon that never touched it) must
//! survive a script that does not read its stdin: the runner's write to the dead pipe raises
//! SIGPIPE, which would kill the whole test process if the runner did not block and consume it.
//!
//! Rust programs, this test binary included, ignore SIGPIPE before `main`, so the test puts it
//! back to `SIG_DFL` for its duration, through hook-core's test support (the `unsafe`
//! `sigaction` stays in hook-core's `sys` module).

use hook_core::Invocation;
use hook_core::testing::{SavedDisposition, set_default_disposition};
use nix::sys::signal::Signal;
use tests::{TempDir, mask_has, pattern, run, status_field, write_script};

use super::{HOOK_ARGS, runner};

/// Puts SIGPIPE back to what it was when dropped.
struct SigpipeDisposition(Option<SavedDisposition>);

impl SigpipeDisposition {
    fn set_default() -> SigpipeDisposition {
        SigpipeDisposition(Some(set_default_disposition(Signal::SIGPIPE).unwrap()))
    }
}

impl Drop for SigpipeDisposition {
    fn drop(&mut self) {
        if let Some(saved) = self.0.take() {
            let _ = saved.restore();
        }
    }
}

/// Runs `body` with 1 MiB on stdin `times` times, the host's SIGPIPE at its default.
fn survive(name: &str, body: &[u8], times: usize) {
    let _dispositions = super::signal_dispositions();
    let dir = TempDir::new(name).unwrap();
    let script = write_script(dir.path(), "qemu", body, 0o755).unwrap();
    let input = pattern(1024 * 1024, 5);
    let runner = runner();

    let _restore = SigpipeDisposition::set_default();
    let ign = status_field("/proc/self/status", "SigIgn").unwrap();
    assert!(!mask_has(&ign, Signal::SIGPIPE), "precondition: SIG_DFL");

    for _ in 0..times {
        let report = run(
            &runner,
            &Invocation {
                script: &script,
                args: HOOK_ARGS,
                stdin: Some(&input),
                capture_stdout: false,
            },
        )
        .unwrap();
        assert!(report.success(), "{name}: {:?}", report.error());
        assert!(report.stdin_unread > 0, "{name}: everything was read");
        // Nothing left pending either: it would be delivered later, to whoever unblocks it.
        for file in ["/proc/thread-self/status", "/proc/self/status"] {
            for field in ["SigPnd", "ShdPnd"] {
                let pending = status_field(file, field).unwrap();
                assert!(
                    !mask_has(&pending, Signal::SIGPIPE),
                    "{name}: SIGPIPE left pending ({file} {field})"
                );
            }
        }
    }
}

/// The case from the issue: a script that exits at once. The runner usually fills the pipe
/// before the script exits, and a full pipe with no reader is never written to, so only a few
/// percent of runs raise SIGPIPE at all; 200 runs make a regression all but certain to show
/// (with the runner's SIGPIPE guard removed, 20 runs killed the test binary half the time).
#[test]
fn host_with_default_sigpipe_survives_a_script_that_exits_at_once() {
    survive("sigpipe-exit", b"#!/bin/sh\nexit 0\n", 200);
}

/// The script reads one pipe's worth and then exits, so that the runner's next write often
/// finds room in the pipe but no reader: a real `EPIPE` and a real SIGPIPE (with the guard
/// removed, this killed the test binary in 10 runs out of 10).
#[test]
fn host_with_default_sigpipe_survives_a_script_that_stops_reading() {
    survive(
        "sigpipe-partial",
        b"#!/bin/sh\nexec head -c 65536 >/dev/null\n",
        200,
    );
}
