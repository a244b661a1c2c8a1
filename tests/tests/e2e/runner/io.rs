//! The three pipes under load and at their caps: input the script never reads, output larger
//! than any pipe buffer while input is still pending (the deadlock libvirt's poll loop exists
//! to avoid), exact bytes both ways, the stdout cap (an error when the output is wanted,
//! nothing when it is not) and the stderr cap (the head is kept, the rest counted).

use hook_core::{Ending, HookError, Invocation, Limits};
use tests::{Recording, TempDir, fnv1a64, link_recorder, pattern, run, run_with, write_script};

use super::{HOOK_ARGS, recorder, runner};

const MIB: usize = 1024 * 1024;

fn inv<'a>(
    script: &'a std::path::Path,
    stdin: Option<&'a [u8]>,
    capture_stdout: bool,
) -> Invocation<'a> {
    Invocation {
        script,
        args: HOOK_ARGS,
        stdin,
        capture_stdout,
    }
}

#[test]
fn unread_stdin_is_not_an_error() {
    let dir = TempDir::new("unread").unwrap();
    let script = write_script(dir.path(), "qemu", b"#!/bin/sh\nexit 0\n", 0o755).unwrap();
    let input = pattern(MIB, 1);
    let report = run(&runner(), &inv(&script, Some(&input), false)).unwrap();
    assert!(report.success(), "{:?}", report.error());
    assert!(
        report.stdin_unread > 0 && report.stdin_unread <= MIB,
        "stdin_unread = {}",
        report.stdin_unread
    );
}

#[test]
fn large_stdin_is_delivered_exactly() {
    let dir = TempDir::new("bigin").unwrap();
    let script = link_recorder(dir.path(), "qemu", recorder()).unwrap();
    let input = pattern(3 * MIB + 17, 2);
    let report = run(&runner(), &inv(&script, Some(&input), true))
        .unwrap()
        .check()
        .unwrap();
    let rec = Recording::parse(std::str::from_utf8(&report.stdout).unwrap());
    assert_eq!(rec.stdin_len, input.len() as u64);
    assert_eq!(rec.stdin_fnv1a64, fnv1a64(&input));
    assert_eq!(report.stdin_unread, 0);
}

/// The script writes 10 MiB before it reads anything, then echoes its 1 MiB of input: the
/// runner must read stdout while stdin is still pending, and lose or reorder nothing.
#[test]
fn ten_mib_out_before_one_mib_in_does_not_deadlock() {
    let dir = TempDir::new("bigout").unwrap();
    let script = write_script(
        dir.path(),
        "qemu",
        b"#!/bin/sh\nyes abcdefghijklmno | head -c 10485760\nexec cat\n",
        0o755,
    )
    .unwrap();
    let input = pattern(MIB, 3);
    let line = b"abcdefghijklmno\n";
    let head: Vec<u8> = line.iter().copied().cycle().take(10 * MIB).collect();

    let report = run(&runner(), &inv(&script, Some(&input), true))
        .unwrap()
        .check()
        .unwrap();
    assert_eq!(report.stdout_len, (11 * MIB) as u64);
    assert_eq!(report.stdout.len(), 11 * MIB);
    assert!(
        report.stdout[..10 * MIB] == head[..],
        "the 10 MiB head differs"
    );
    assert!(
        report.stdout[10 * MIB..] == input[..],
        "the echoed input differs"
    );
    assert_eq!(report.stdin_unread, 0);

    // Not captured: read and counted all the same.
    let report = run(&runner(), &inv(&script, Some(&input), false))
        .unwrap()
        .check()
        .unwrap();
    assert_eq!(report.stdout_len, (11 * MIB) as u64);
    assert!(report.stdout.is_empty());
}

/// Both output pipes full at once, stdin still pending.
#[test]
fn stdout_and_stderr_flooded_together() {
    let dir = TempDir::new("flood").unwrap();
    let script = write_script(
        dir.path(),
        "qemu",
        b"#!/bin/sh\nhead -c 4194304 /dev/zero >&2 &\nhead -c 4194304 /dev/zero\nwait\nexec cat >/dev/null\n",
        0o755,
    )
    .unwrap();
    let input = pattern(MIB, 4);
    let report = run(&runner(), &inv(&script, Some(&input), false))
        .unwrap()
        .check()
        .unwrap();
    assert_eq!(report.stdout_len, 4 * MIB as u64);
    let cap = Limits::default().stderr_cap;
    let dropped = (4 * MIB - cap) as u64;
    assert_eq!(report.stderr_dropped, dropped);
    // Half the cap of zeros, a newline, the marked gap, the other half.
    let mut kept = vec![0u8; cap / 2];
    kept.extend_from_slice(format!("\n[... {dropped} bytes of stderr dropped ...]\n").as_bytes());
    kept.extend(vec![0u8; cap / 2]);
    assert_eq!(report.stderr, kept);
    assert_eq!(report.stdin_unread, 0);
}

#[test]
fn stdout_over_its_cap() {
    let dir = TempDir::new("stdoutcap").unwrap();
    let over = write_script(
        dir.path(),
        "over",
        b"#!/bin/sh\nhead -c 4096 /dev/zero\n",
        0o755,
    )
    .unwrap();
    let exact = write_script(
        dir.path(),
        "exact",
        b"#!/bin/sh\nhead -c 1024 /dev/zero\n",
        0o755,
    )
    .unwrap();
    let limits = Limits {
        stdout_cap: 1024,
        ..Limits::default()
    };
    let runner = runner();

    // Wanted: an error, and nothing kept (never silently cut output).
    let report = run_with(&runner, &inv(&over, None, true), &limits).unwrap();
    assert_eq!(report.ending, Ending::Exited(0));
    assert_eq!(report.stdout_too_large, Some(1024));
    assert!(report.stdout.is_empty());
    assert_eq!(report.stdout_len, 4096);
    assert!(!report.success());
    match report.check().unwrap_err() {
        HookError::OutputTooLarge { limit, .. } => assert_eq!(limit, 1024),
        other => panic!("expected OutputTooLarge, got {other:?}"),
    }

    // Not wanted: the cap does not apply.
    let report = run_with(&runner, &inv(&over, None, false), &limits).unwrap();
    assert_eq!(report.stdout_too_large, None);
    assert_eq!(report.stdout_len, 4096);
    report.check().unwrap();

    // Exactly the cap is fine.
    let report = run_with(&runner, &inv(&exact, None, true), &limits)
        .unwrap()
        .check()
        .unwrap();
    assert_eq!(report.stdout, vec![0u8; 1024]);
}

/// A hook that prints hundreds of progress lines, then its reason: the reason is kept.
#[test]
fn stderr_over_its_cap_keeps_the_head_and_the_tail() {
    let dir = TempDir::new("stderrcap").unwrap();
    let script = write_script(
        dir.path(),
        "qemu",
        b"#!/bin/sh\ni=0\nwhile [ $i -lt 2000 ]; do printf 'line %05d\\n' $i; i=$((i+1)); done >&2\nexit 3\n",
        0o755,
    )
    .unwrap();
    let limits = Limits {
        stderr_cap: 1000,
        ..Limits::default()
    };
    let all: String = (0..2000).map(|i| format!("line {i:05}\n")).collect();

    let report = run_with(&runner(), &inv(&script, None, false), &limits).unwrap();
    assert_eq!(report.ending, Ending::Exited(3));
    let dropped = all.len() - 1000;
    let mut kept = all.as_bytes()[..500].to_vec();
    kept.extend_from_slice(format!("\n[... {dropped} bytes of stderr dropped ...]\n").as_bytes());
    kept.extend_from_slice(&all.as_bytes()[all.len() - 500..]);
    assert_eq!(report.stderr_dropped, dropped as u64);
    assert_eq!(
        String::from_utf8_lossy(&report.stderr),
        String::from_utf8_lossy(&kept)
    );
    assert!(
        report.stderr.ends_with(b"line 01999\n"),
        "the last line is kept"
    );
    let err = report.check().unwrap_err();
    assert_eq!(err.stderr(), Some(kept.as_slice()));
}

/// Scripts print their reason on stdout too ("Not able to allocate all hugepages"): its last
/// bytes are kept, bounded, whether stdout is captured or not, and even when it is over its cap.
#[test]
fn stdout_tail_is_kept_for_the_report() {
    let dir = TempDir::new("stdouttail").unwrap();
    let script = write_script(
        dir.path(),
        "qemu",
        b"#!/bin/sh\ni=0\nwhile [ $i -lt 1000 ]; do echo \"progress $i\"; i=$((i+1)); done\necho 'Not able to allocate all hugepages'\nexit 1\n",
        0o755,
    )
    .unwrap();
    let limits = Limits {
        stdout_tail: 100,
        stdout_cap: 1000,
        ..Limits::default()
    };
    for capture in [false, true] {
        let report = run_with(&runner(), &inv(&script, None, capture), &limits).unwrap();
        assert_eq!(report.ending, Ending::Exited(1));
        assert_eq!(report.stdout_tail.len(), 100, "capture={capture}");
        assert!(
            report
                .stdout_tail
                .ends_with(b"progress 999\nNot able to allocate all hugepages\n"),
            "capture={capture}: {:?}",
            String::from_utf8_lossy(&report.stdout_tail)
        );
        // Captured, it was over its cap: the output is gone, the tail is still there.
        assert_eq!(report.stdout_too_large.is_some(), capture);
        assert!(report.stdout.is_empty());
    }
}
