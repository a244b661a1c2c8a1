//! A host running with some or all of its standard fds closed. `pipe2` then hands fds 0, 1 or 2
//! back to hook-core for a script's pipes. hook-core moves its pipe ends above 2
//! (hook-core/src/process/spawn.rs, `above_stdio`), so that the script gets its own pipes and nothing the
//! host writes to its own fd 1 or 2 during the call (a log line, say) lands in a script's pipe.
//!
//! The host is this test process itself: a Rust program cannot be made a host with closed fds
//! by starting it that way, because the Rust runtime reopens closed standard fds on `/dev/null`
//! before `main` (see e2e's `cli::virt_hook_with_closed_standard_fds`). The test closes the fds
//! only around each run, and puts them back afterwards, even on a panic. While the script runs,
//! a host thread writes a line to fd 1 and one to fd 2 (fd-level writes, as a host's logger
//! would); the script waits for them before it reports, so the order is fixed, not timed.

use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hook_core::{Ending, Invocation, Limits, Runner, ScriptEnv};
use tests::TempDir;
use tests::reliability_support::write_script;

use crate::exclusive;

/// Reports what it got on fds 0, 1 and 2 (as the kernel names them) and on stdin, in the file
/// `$1` and on stdout, then a marker on stderr. Between reading stdin and reporting, it makes the
/// directory `$2/ready` and waits for `$2/go` (directories: making and testing them opens no fd
/// in the host, whose fds 0-2 are closed).
const PROBE: &str = r#"#!/bin/sh
fd0=$(readlink /proc/$$/fd/0)
fd1=$(readlink /proc/$$/fd/1)
fd2=$(readlink /proc/$$/fd/2)
input=$(cat)
mkdir "$2/ready"
while [ ! -e "$2/go" ]; do sleep 0.01; done
echo "fd0=$fd0 fd1=$fd1 fd2=$fd2 stdin=$input" > "$1"
echo "out fd0=$fd0 fd1=$fd1 fd2=$fd2 stdin=$input"
echo "err marker" >&2
"#;

/// Standard fds closed for as long as it lives; the originals are put back when it is dropped.
struct ClosedStdio {
    /// Copies of fds 0, 1 and 2 (close-on-exec, above 2).
    saved: [OwnedFd; 3],
}

impl ClosedStdio {
    /// Closes the fds in `which` (each of 0, 1, 2).
    fn close(which: &[RawFd]) -> ClosedStdio {
        let saved = [
            io::stdin().as_fd().try_clone_to_owned().unwrap(),
            io::stdout().as_fd().try_clone_to_owned().unwrap(),
            io::stderr().as_fd().try_clone_to_owned().unwrap(),
        ];
        for &fd in which {
            assert!((0..3).contains(&fd));
            nix::unistd::close(fd).unwrap();
        }
        ClosedStdio { saved }
    }
}

impl Drop for ClosedStdio {
    fn drop(&mut self) {
        // dup2 replaces whatever holds the fd now, closed or not.
        let [i, o, e] = &self.saved;
        nix::unistd::dup2_stdin(i).unwrap();
        nix::unistd::dup2_stdout(o).unwrap();
        nix::unistd::dup2_stderr(e).unwrap();
    }
}

/// The inode of a `pipe:[N]` fd target.
fn pipe_inode(target: &str) -> Option<&str> {
    target.strip_prefix("pipe:[")?.strip_suffix(']')
}

/// The value of `key=` in a probe report line.
fn field<'a>(report: &'a str, key: &str) -> &'a str {
    report
        .split(' ')
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key}= in {report:?}"))
}

/// What one run gave back, gathered while the fds were closed and looked at after they were
/// put back (an assertion failing with them closed would still be reported, but this keeps the
/// window as small as possible).
struct Seen {
    ending: Ending,
    stdout: String,
    stderr: String,
    file: String,
}

/// Writes a line to the host's fd 1 and fd 2 once the script has made `sync/ready`, then makes
/// `sync/go`; gives up when `done` is set (the run ended without the script getting there).
fn host_noise(sync: &Path, done: &AtomicBool) {
    let ready = sync.join("ready");
    while !ready.exists() {
        if done.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Unbuffered, and the result ignored: with the fds closed these fail (EBADF), as a host's
    // log lines would.
    let _ = nix::unistd::write(io::stdout().as_fd(), b"host noise on fd 1\n");
    let _ = nix::unistd::write(io::stderr().as_fd(), b"host noise on fd 2\n");
    fs::create_dir(sync.join("go")).unwrap();
}

fn run_probe(probe: &Path, tmp: &Path, closed: &[RawFd], stdin: Option<&[u8]>) -> Seen {
    let report = tmp.join("report");
    let sync = tmp.join("sync");
    let _ = fs::remove_file(&report);
    let _ = fs::remove_dir_all(&sync);
    fs::create_dir(&sync).unwrap();
    let runner = Runner::new(
        ScriptEnv::libvirt(),
        Limits {
            timeout: Some(Duration::from_secs(60)),
            ..Limits::default()
        },
    );
    let args = [report.display().to_string(), sync.display().to_string()];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let done = AtomicBool::new(false);
    let result = {
        let _closed = ClosedStdio::close(closed);
        std::thread::scope(|s| {
            s.spawn(|| host_noise(&sync, &done));
            let result = runner.run(&Invocation {
                script: probe,
                args: &args,
                stdin,
                capture_stdout: true,
            });
            done.store(true, Ordering::Relaxed);
            result
        })
    };
    let r = result.unwrap_or_else(|e| panic!("fds {closed:?} closed: {e}"));
    Seen {
        ending: r.ending,
        stdout: String::from_utf8_lossy(&r.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&r.stderr).into_owned(),
        file: fs::read_to_string(&report).unwrap_or_default(),
    }
}

#[test]
fn scripts_get_their_own_pipes_when_the_host_has_closed_its_standard_fds() {
    let _x = exclusive();
    let tmp = TempDir::new("closed-stdio").unwrap();
    let probe = tmp.path().join("probe");
    write_script(&probe, PROBE);

    let subsets: &[&[RawFd]] = &[&[0], &[1], &[2], &[0, 1], &[0, 2], &[1, 2], &[0, 1, 2]];
    for &closed in subsets {
        for stdin in [None, Some(&b"doc"[..])] {
            let case = format!("fds {closed:?} closed, stdin {stdin:?}");
            let seen = run_probe(&probe, tmp.path(), closed, stdin);
            assert_eq!(seen.ending, Ending::Exited(0), "{case}: {}", seen.stderr);
            assert_eq!(seen.stderr, "err marker\n", "{case}: the script's stderr");
            let line = seen
                .stdout
                .strip_prefix("out ")
                .and_then(|l| l.strip_suffix('\n'))
                .filter(|l| !l.contains('\n'))
                .unwrap_or_else(|| panic!("{case}: the script's stdout is {:?}", seen.stdout));
            assert_eq!(
                seen.file.trim_end(),
                line,
                "{case}: stdout is what the script saw"
            );
            let (fd0, fd1, fd2) = (field(line, "fd0"), field(line, "fd1"), field(line, "fd2"));
            match stdin {
                None => {
                    assert_eq!(fd0, "/dev/null", "{case}");
                    assert_eq!(field(line, "stdin"), "", "{case}");
                }
                Some(doc) => {
                    assert!(pipe_inode(fd0).is_some(), "{case}: fd 0 is {fd0}");
                    assert_eq!(field(line, "stdin").as_bytes(), doc, "{case}");
                }
            }
            let out = pipe_inode(fd1).unwrap_or_else(|| panic!("{case}: fd 1 is {fd1}"));
            let err = pipe_inode(fd2).unwrap_or_else(|| panic!("{case}: fd 2 is {fd2}"));
            assert_ne!(out, err, "{case}: stdout and stderr are one pipe");
            assert_ne!(
                Some(out),
                pipe_inode(fd0),
                "{case}: stdin and stdout are one pipe"
            );
            assert_ne!(
                Some(err),
                pipe_inode(fd0),
                "{case}: stdin and stderr are one pipe"
            );
        }
    }
}
