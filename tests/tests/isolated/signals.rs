//! Hosts with unusual signal dispositions: a thread that takes a signal every millisecond
//! during its calls (every blocking system call of the call may fail with `EINTR`), and a host
//! whose `SIGPIPE` is at its default disposition (which kills) running scripts that do not read
//! their input.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hook_core::testing;
use hook_core::{Ending, HookError, Hooks, Limits, ScriptEnv};
use nix::sys::pthread::{pthread_kill, pthread_self};
use nix::sys::signal::Signal;
use tests::TempDir;
use tests::reliability_support::{Holdings, TestEvent, kill_marked, lookup_with, write_script};

const SCRIPT: &str = r#"#!/bin/sh
case "$2" in
  echo) exec cat ;;
  slow) sleep 0.2; exec cat ;;
  fail) cat >/dev/null; echo failing >&2; exit 3 ;;
  signal) kill -KILL $$ ;;
  timeout) exec sleep 120 ;;
  linger)
    # The leftover holds stdout until its redirection: answer only once it has redirected
    # it (and carries its mark, for kill_marked), so that the bounded drain never races it.
    # stderr stays held, as wanted.
    rm -f "$0.ready"
    STRAY_MARK="$1" sh -c 'exec >/dev/null; : > "$0"; exec sleep 120' "$0.ready" &
    while [ ! -e "$0.ready" ]; do sleep 0.01; done
    echo done ;;
  noread) exit 0 ;;
  closein) exec 0<&-; sleep 0.05; echo closed ;;
esac
"#;

fn hooks(dir: &std::path::Path) -> Hooks {
    write_script(&dir.join("drv"), SCRIPT);
    Hooks::builder(dir)
        .driver("drv")
        .env(ScriptEnv::libvirt_from(lookup_with(&[])))
        .limits(Limits {
            kill_grace: Duration::from_millis(50),
            ..Limits::default()
        })
        .build()
        .unwrap()
}

fn run(
    hooks: &Hooks,
    op: &'static str,
    object: &str,
    input: &[u8],
    timeout: Option<Duration>,
) -> Result<hook_core::Outcome, Box<hook_core::Failure>> {
    let limits = Limits {
        timeout,
        ..*hooks.runner().limits()
    };
    hooks.run_with(
        &TestEvent::new("drv", op).filter(),
        object,
        || Some(Cow::Borrowed(input)),
        &limits,
    )
}

#[test]
fn a_signal_every_millisecond_never_breaks_a_call() {
    let _x = crate::exclusive();
    let tmp = TempDir::new("rel-eintr").expect("temp dir");
    let marker = format!("eintr-{}", std::process::id());
    let h = hooks(tmp.path());
    let saved = testing::install_noop_handler(Signal::SIGUSR1).unwrap();
    let me = pthread_self();
    let stop = AtomicBool::new(false);
    let sent = AtomicU64::new(0);
    let before = Holdings::now();
    let big: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::thread::scope(|s| {
        s.spawn(|| {
            // The test thread outlives this loop: it sets `stop` and the scope joins us
            // before it returns.
            loop {
                pthread_kill(me, Signal::SIGUSR1).unwrap();
                sent.fetch_add(1, Ordering::Relaxed);
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        struct StopOnDrop<'a>(&'a AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _stop = StopOnDrop(&stop);
        for round in 0..3 {
            // 4 MiB through a filter: many interrupted writes and reads.
            let o = run(&h, "echo", "g", &big, None).unwrap();
            assert!(o.output.as_deref() == Some(&big[..]), "round {round}: echo");
            // A script that makes us wait in poll before it reads.
            let o = run(&h, "slow", "g", b"<slow/>", None).unwrap();
            assert_eq!(o.output.as_deref(), Some(&b"<slow/>"[..]));
            let f = run(&h, "fail", "g", b"x", None).unwrap_err();
            assert!(
                matches!(f.headline(), HookError::Exited { code: 3, .. }),
                "{f}"
            );
            let f = run(&h, "signal", "g", b"x", None).unwrap_err();
            assert!(
                matches!(f.headline(), HookError::Signaled { signal: 9, .. }),
                "{f}"
            );
            let f = run(&h, "timeout", "g", b"x", Some(Duration::from_millis(100))).unwrap_err();
            assert!(matches!(f.headline(), HookError::TimedOut { .. }), "{f}");
            // A background child keeps the pipes: the bounded drain is interrupted too.
            let o = run(&h, "linger", &marker, b"x", None).unwrap();
            assert_eq!(o.output.as_deref(), Some(&b"done\n"[..]));
            assert!(o.runs[0].report.as_ref().unwrap().pipes_held_open);
            kill_marked(&marker);
        }
    });
    saved.restore().unwrap();
    let after = Holdings::now();
    println!(
        "eintr: {} signals sent; before: {before}; after: {after}",
        sent.load(Ordering::Relaxed)
    );
    assert!(sent.load(Ordering::Relaxed) > 0);
    assert_eq!(after.fds, before.fds);
    assert!(after.children.is_empty(), "{:?}", after.children);
}

#[test]
fn host_with_default_sigpipe_survives_scripts_that_do_not_read() {
    let _x = crate::exclusive();
    let tmp = TempDir::new("rel-sigpipe").expect("temp dir");
    let h = hooks(tmp.path());
    // Were a SIGPIPE to reach this process now, the test binary would die.
    let saved = testing::set_default_disposition(Signal::SIGPIPE).unwrap();
    let input = vec![b'x'; 16 * 1024 * 1024];
    let results: Vec<_> = ["noread", "closein", "signal", "noread"]
        .into_iter()
        .map(|op| (op, run(&h, op, "g", &input, None)))
        .collect();
    saved.restore().unwrap();
    for (op, r) in results {
        match (op, r) {
            ("noread", Ok(o)) => {
                let report = o.runs[0].report.as_ref().unwrap();
                assert_eq!(report.ending, Ending::Exited(0));
                assert!(report.stdin_unread > 0);
            }
            ("closein", Ok(o)) => assert_eq!(o.output.as_deref(), Some(&b"closed\n"[..])),
            ("signal", Err(f)) => {
                assert!(matches!(
                    f.headline(),
                    HookError::Signaled { signal: 9, .. }
                ))
            }
            (op, r) => panic!("{op}: {r:?}"),
        }
    }
}

/// Issue #10, item 6: a host that sets SIGCHLD to SIG_IGN (libvirtd does) has its children
/// reaped by the kernel, so no exit status can be learnt. The call says so, naming SIGCHLD and
/// the fix, instead of reporting a meaningless exit code -1 (as it did before). With and
/// without pidfds; and a timed-out script is still stopped.
#[test]
fn host_that_ignores_sigchld_gets_a_clear_error() {
    let _x = crate::exclusive();
    let tmp = TempDir::new("rel-sigchld").expect("temp dir");
    let script = tmp.path().join("drv");
    write_script(&script, "#!/bin/sh\necho out\nexit 3\n");
    let sleeper = tmp.path().join("sleeper");
    write_script(&sleeper, "#!/bin/sh\nexec sleep 60\n");
    let saved = testing::ignore_signal(Signal::SIGCHLD).unwrap();
    let mut results = Vec::new();
    for fallbacks in [testing::Fallbacks::default(), testing::Fallbacks::ALL] {
        let runner =
            hook_core::Runner::new(ScriptEnv::libvirt_from(lookup_with(&[])), Limits::default())
                .with_fallbacks(fallbacks);
        let inv = |script| hook_core::Invocation {
            script,
            args: &["guest", "prepare", "begin", "-"],
            stdin: None,
            capture_stdout: true,
        };
        results.push((fallbacks, runner.run(&inv(&script))));
        let limits = Limits {
            timeout: Some(Duration::from_millis(100)),
            kill_grace: Duration::from_millis(50),
            ..Limits::default()
        };
        results.push((fallbacks, runner.run_with(&inv(&sleeper), &limits)));
    }
    saved.restore().unwrap();
    for (fallbacks, result) in results {
        match result {
            Err(
                e @ HookError::StatusLost {
                    autoreaped: true, ..
                },
            ) => {
                let text = e.to_string();
                assert!(
                    text.contains("exit status was lost")
                        && text.contains("ignores SIGCHLD")
                        && text.contains("SIG_DFL"),
                    "{text}"
                );
            }
            other => panic!("{fallbacks:?}: expected StatusLost, got {other:?}"),
        }
    }
}
