//! The soak: many sequential calls mixing success, failure, death by signal, timeout and
//! large output. Each call's result is checked, and the process holds the same fds, no child
//! (zombies included) and about the same memory afterwards.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use hook_core::{Ending, HookError, Hooks, Limits, ScriptEnv};
use tests::TempDir;
use tests::reliability_support::{Holdings, TestEvent, lookup_with, write_script};

/// The kinds of call, in the order they repeat.
const KINDS: [&str; 7] = [
    "ok", "fail", "signal", "timeout", "big", "stderr", "toolarge",
];
const BIG: usize = 1024 * 1024;
const STDERR_FLOOD: usize = 300_000;
/// Allowed growth of resident memory after the warm-up: allocator noise, not a leak.
const RSS_SLACK_KIB: u64 = 8 * 1024;

const SCRIPT: &str = r#"#!/bin/sh
case "$2" in
  ok) cat; printf ' %s' "$1" ;;
  fail) cat >/dev/null; printf 'failing %s' "$1" >&2; exit 3 ;;
  signal) kill -KILL $$ ;;
  timeout) exec sleep 120 ;;
  big) head -c 1048576 /dev/zero ;;
  stderr) head -c 300000 /dev/zero >&2 ;;
  toolarge) head -c 2097152 /dev/zero ;;
esac
"#;

struct Soak {
    _tmp: TempDir,
    hooks: Hooks,
}

impl Soak {
    fn new() -> Soak {
        let tmp = TempDir::new("rel-soak").expect("temp dir");
        write_script(&tmp.path().join("soak"), SCRIPT);
        let hooks = Hooks::builder(tmp.path())
            .driver("soak")
            .env(ScriptEnv::libvirt_from(lookup_with(&[])))
            .limits(Limits {
                kill_grace: Duration::from_millis(50),
                stdout_cap: BIG + BIG / 2,
                ..Limits::default()
            })
            .build()
            .unwrap();
        Soak { _tmp: tmp, hooks }
    }

    /// Runs call number `i` and checks its result; `Err` says what was wrong.
    fn call(&self, i: usize) -> Result<(), String> {
        let kind = KINDS[i % KINDS.len()];
        let object = format!("obj-{i}");
        let doc = format!("<doc n='{i}'/>");
        let event = TestEvent::new("soak", kind).filter();
        let limits = Limits {
            timeout: (kind == "timeout").then_some(Duration::from_millis(50)),
            ..*self.hooks.runner().limits()
        };
        let result = self.hooks.run_with(
            &event,
            &object,
            || Some(Cow::Owned(doc.clone().into_bytes())),
            &limits,
        );
        let bad = |what: &dyn std::fmt::Debug| Err(format!("call {i} ({kind}): {what:?}"));
        match (kind, result) {
            ("ok", Ok(o)) if o.output == Some(format!("{doc} {object}").into_bytes()) => Ok(()),
            ("big", Ok(o))
                if o.output
                    .as_ref()
                    .is_some_and(|v| v.len() == BIG && v.iter().all(|&b| b == 0)) =>
            {
                Ok(())
            }
            ("stderr", Ok(o)) => {
                let r = o.runs[0].report.as_ref().unwrap();
                let cap = Limits::default().stderr_cap;
                // Head and tail, half the cap each, and the line marking the gap.
                let dropped = (STDERR_FLOOD - cap) as u64;
                let marker = format!("[... {dropped} bytes of stderr dropped ...]\n");
                let marked = r
                    .stderr
                    .windows(marker.len())
                    .any(|w| w == marker.as_bytes());
                if r.stderr_dropped == dropped && marked && r.stderr.len() <= cap + marker.len() + 1
                {
                    Ok(())
                } else {
                    bad(&(r.stderr.len(), r.stderr_dropped))
                }
            }
            (_, Ok(o)) => bad(&o),
            (_, Err(f)) => match (kind, f.headline()) {
                (
                    "fail",
                    HookError::Exited {
                        code: 3, stderr, ..
                    },
                ) if *stderr == format!("failing {object}").into_bytes() => Ok(()),
                ("signal", HookError::Signaled { signal: 9, .. }) => Ok(()),
                (
                    "timeout",
                    HookError::TimedOut {
                        pipes_held_open: false,
                        ..
                    },
                ) if f.runs[0].report.as_ref().is_some_and(|r| {
                    matches!(r.ending, Ending::Signaled { signal: 15 | 9, .. })
                }) =>
                {
                    Ok(())
                }
                ("toolarge", HookError::OutputTooLarge { .. }) => Ok(()),
                (_, e) => bad(&e.to_string()),
            },
        }
    }
}

/// Warms up, then runs `calls` calls and compares what the process holds before and after.
fn soak(calls: usize) {
    let _x = crate::exclusive();
    let soak = Soak::new();
    // Warm-up: the allocator, the tracing callsites and the libc caches settle.
    for i in 0..KINDS.len() * 10 {
        soak.call(i).unwrap();
    }
    let before = Holdings::now();
    let start = Instant::now();
    let mut errors = Vec::new();
    for i in 0..calls {
        if let Err(e) = soak.call(i) {
            errors.push(e);
        }
    }
    let elapsed = start.elapsed();
    let after = Holdings::now();
    println!(
        "soak: {calls} calls in {:.1}s; before: {before}; after: {after}",
        elapsed.as_secs_f64()
    );
    assert!(
        errors.is_empty(),
        "{} wrong results, first: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    assert_eq!(after.fds, before.fds, "open fds before and after");
    assert!(
        before.children.is_empty(),
        "children before: {:?}",
        before.children
    );
    assert!(
        after.children.is_empty(),
        "children (zombies included) after: {:?}",
        after.children
    );
    assert!(
        after.rss_kib <= before.rss_kib + RSS_SLACK_KIB,
        "resident memory grew from {} KiB to {} KiB",
        before.rss_kib,
        after.rss_kib
    );
}

#[test]
fn soak_short_200_calls() {
    soak(200);
}

#[test]
#[ignore = "takes minutes; run by `cargo xtask soak`"]
fn soak_full_10000_calls() {
    soak(10_000);
}
