//! Many threads calling the hooks of several drivers on one [`Hooks`] while another thread
//! rescans every millisecond: every result belongs to its own call (each script echoes its
//! object and its stdin, and a `.d` filter tags the chained output), nothing leaks, nothing
//! deadlocks.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hook_core::{HookError, Hooks, Limits, Presence, ScriptEnv};
use tests::TempDir;
use tests::reliability_support::{Holdings, TestEvent, lookup_with, write_script};

const DRIVERS: [&str; 3] = ["qemu", "lxc", "network"];
const KINDS: [&str; 5] = ["ok", "fail", "signal", "timeout", "big"];
const BIG: usize = 256 * 1024;

fn main_script(driver: &str) -> String {
    format!(
        r#"#!/bin/sh
case "$2" in
  ok) printf '{driver} obj=%s in=' "$1"; cat ;;
  fail) cat >/dev/null; printf '{driver} failed %s' "$1" >&2; exit 3 ;;
  signal) kill -KILL $$ ;;
  timeout) exec sleep 120 ;;
  big) printf '{driver} %s\n' "$1"; head -c {BIG} /dev/zero ;;
esac
"#
    )
}

/// Tags the chained output of a successful `ok` call with the object; otherwise prints nothing.
const TAG: &str = r#"#!/bin/sh
case "$2" in
  ok) printf '[%s]' "$1"; cat ;;
  *) cat >/dev/null ;;
esac
"#;

/// Checks one call's result against what its own arguments must give.
fn check(hooks: &Hooks, thread: usize, call: usize, nonce: u64) -> Result<(), String> {
    let driver = DRIVERS[(thread + call) % DRIVERS.len()];
    let kind = KINDS[(thread * 7 + call) % KINDS.len()];
    let object = format!("t{thread}-c{call}");
    let doc = format!("<doc thread='{thread}' call='{call}' nonce='{nonce}'/>");
    let event = TestEvent::new(driver, kind).filter();
    let limits = Limits {
        timeout: (kind == "timeout").then_some(Duration::from_millis(50)),
        ..*hooks.runner().limits()
    };
    let result = hooks.run_with(
        &event,
        &object,
        || Some(Cow::Borrowed(doc.as_bytes())),
        &limits,
    );
    let wrong = |what: String| Err(format!("{driver} {kind} {object}: {what}"));
    match (kind, result) {
        ("ok", Ok(o)) => {
            let want = format!("[{object}]{driver} obj={object} in={doc}");
            if o.output.as_deref() == Some(want.as_bytes()) && o.runs.len() == 2 {
                Ok(())
            } else {
                wrong(format!("output {:?}", o.output.map(String::from_utf8)))
            }
        }
        ("big", Ok(o)) => {
            let head = format!("{driver} {object}\n");
            match o.output {
                Some(out)
                    if out.starts_with(head.as_bytes())
                        && out.len() == head.len() + BIG
                        && out[head.len()..].iter().all(|&b| b == 0) =>
                {
                    Ok(())
                }
                other => wrong(format!("output of {:?} bytes", other.map(|v| v.len()))),
            }
        }
        (_, Ok(o)) => wrong(format!("succeeded: {o:?}")),
        (_, Err(f)) => {
            // The tag script runs after the failure too. The call's timeout applies to it as
            // well, and on a loaded machine even a trivial script may outlast 50 ms.
            let tag_ok = f.runs.get(1).is_some_and(|r| {
                r.succeeded()
                    || (kind == "timeout" && matches!(r.error, Some(HookError::TimedOut { .. })))
            });
            if f.runs.len() != 2 || !tag_ok || f.object != object {
                return wrong(format!("runs: {f:?}"));
            }
            match (kind, f.runs[0].error.as_ref()) {
                (
                    "fail",
                    Some(HookError::Exited {
                        code: 3,
                        stderr,
                        script,
                        ..
                    }),
                ) if *stderr == format!("{driver} failed {object}").into_bytes()
                    && script.ends_with(driver) =>
                {
                    Ok(())
                }
                ("signal", Some(HookError::Signaled { signal: 9, .. })) => Ok(()),
                ("timeout", Some(HookError::TimedOut { .. })) => Ok(()),
                (_, e) => wrong(format!("error {e:?}")),
            }
        }
    }
}

fn hammer(threads: usize, calls: usize) {
    let _x = crate::exclusive();
    let tmp = TempDir::new("rel-concurrency").expect("temp dir");
    for driver in DRIVERS {
        write_script(&tmp.path().join(driver), &main_script(driver));
        write_script(&tmp.path().join(format!("{driver}.d/10-tag")), TAG);
    }
    let hooks = Hooks::builder(tmp.path())
        .drivers(DRIVERS)
        .env(ScriptEnv::libvirt_from(lookup_with(&[])))
        .limits(Limits {
            kill_grace: Duration::from_millis(50),
            ..Limits::default()
        })
        .build()
        .unwrap();
    let before = Holdings::now();
    let stop = AtomicBool::new(false);
    let rescans = AtomicU64::new(0);
    let problems: Vec<String> = std::thread::scope(|s| {
        struct StopOnDrop<'a>(&'a AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _stop = StopOnDrop(&stop);
        let rescanner = s.spawn(|| {
            let mut wrong = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = hooks.rescan() {
                    wrong.push(format!("rescan failed: {e:?}"));
                }
                for d in DRIVERS {
                    if hooks.presence(d) != Presence::Present {
                        wrong.push(format!("{d} not present after a rescan"));
                    }
                }
                rescans.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
            wrong
        });
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let hooks = &hooks;
                s.spawn(move || {
                    (0..calls)
                        .filter_map(|c| check(hooks, t, c, (t * 1_000_003 + c) as u64).err())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<String> = workers
            .into_iter()
            .flat_map(|w| w.join().expect("a worker panicked"))
            .collect();
        stop.store(true, Ordering::Relaxed);
        all.extend(rescanner.join().expect("the rescanner panicked"));
        all
    });
    let after = Holdings::now();
    println!(
        "concurrency: {threads} threads x {calls} calls, {} rescans; before: {before}; after: {after}",
        rescans.load(Ordering::Relaxed)
    );
    assert!(
        problems.is_empty(),
        "{} wrong results, first: {:?}",
        problems.len(),
        &problems[..problems.len().min(5)]
    );
    assert_eq!(after.fds, before.fds, "open fds before and after");
    assert!(
        after.children.is_empty(),
        "children (zombies included) after: {:?}",
        after.children
    );
}

#[test]
fn concurrency_short_16_threads_x_20_calls() {
    hammer(16, 20);
}

#[test]
#[ignore = "takes a while; run by `cargo xtask soak`"]
fn concurrency_full_64_threads_x_100_calls() {
    hammer(64, 100);
}
