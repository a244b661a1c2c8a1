//! A panic that unwinds through a running call (here: the host's tracing subscriber panics on
//! the pump's "timed out" event, while the script still runs and stdin is being fed) leaves
//! nothing behind: the script and its group are killed and reaped, and the calling thread's
//! signal mask is what it was (SIGPIPE not left blocked). Issue #10, item 2.
//!
//! In this binary because tracing's callsite interest is process-wide, and because it counts
//! the process's children.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use hook_core::testing::Fallbacks;
use hook_core::{Invocation, Limits, Runner, ScriptEnv};
use nix::sys::signal::Signal;
use tests::reliability_support::{Holdings, lookup_with, read_pidfile, write_script};
use tests::{TempDir, mask_has, status_field};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Panics on the first event from hook-core's pump (the pump's first event in these runs is
/// the timeout's).
struct PanicInPump;

impl Subscriber for PanicInPump {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if event.metadata().target().ends_with("::pump") {
            panic!("the host's subscriber panicked");
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn sigpipe_blocked_here() -> bool {
    mask_has(
        &status_field("/proc/thread-self/status", "SigBlk").unwrap(),
        Signal::SIGPIPE,
    )
}

#[test]
fn a_panic_inside_a_call_kills_and_reaps_the_script_and_restores_the_mask() {
    let _x = crate::exclusive();
    let tmp = TempDir::new("unwind").expect("temp dir");
    let pidfile = tmp.path().join("pid");
    let script = tmp.path().join("drv");
    // Does not read its stdin (1 MiB: the pump is still feeding it, SIGPIPE blocked), and
    // starts a grandchild in its group.
    write_script(
        &script,
        &format!(
            "#!/bin/sh\nsleep 60 &\necho $! > '{p}.gc'\necho $$ > '{p}'\nexec sleep 60\n",
            p = pidfile.display()
        ),
    );
    let input = vec![b'x'; 1 << 20];
    for fallbacks in [Fallbacks::default(), Fallbacks::ALL] {
        let before = Holdings::now();
        assert!(!sigpipe_blocked_here(), "precondition");
        let runner = Runner::new(ScriptEnv::libvirt_from(lookup_with(&[])), Limits::default())
            .with_fallbacks(fallbacks);
        // The script must have written its pid before the timeout for the test to mean
        // anything; on a loaded machine, try again with more time.
        let mut tested = false;
        for timeout_ms in [300u64, 2_000, 10_000, 30_000] {
            let _ = std::fs::remove_file(&pidfile);
            let limits = Limits {
                timeout: Some(Duration::from_millis(timeout_ms)),
                ..Limits::default()
            };
            let result = catch_unwind(AssertUnwindSafe(|| {
                tracing::subscriber::with_default(PanicInPump, || {
                    runner.run_with(
                        &Invocation {
                            script: &script,
                            args: &["guest", "prepare", "begin", "-"],
                            stdin: Some(&input),
                            capture_stdout: false,
                        },
                        &limits,
                    )
                })
            }));
            assert!(
                result.is_err(),
                "the subscriber's panic went through the call"
            );
            assert!(
                !sigpipe_blocked_here(),
                "{fallbacks:?}: SIGPIPE left blocked on the thread"
            );
            let (Some(pid), Some(gc)) = (
                read_pidfile(&pidfile),
                read_pidfile(&tmp.path().join("pid.gc")),
            ) else {
                continue;
            };
            // Reaped (not even a zombie), and its grandchild killed with the group.
            assert!(
                tests::proc_stat(pid).is_none_or(|s| s.pgrp != pid),
                "{fallbacks:?}: the script {pid} is still there"
            );
            assert!(
                tests::wait_process_dead(gc, pid, tests::GONE_WITHIN),
                "{fallbacks:?}: the grandchild {gc} survived"
            );
            tested = true;
            break;
        }
        assert!(tested, "the script never started, even with 30 s");
        let after = Holdings::now();
        assert_eq!(after.fds, before.fds, "{fallbacks:?}: fds leaked");
        assert!(after.children.is_empty(), "{:?}", after.children);
    }
}
