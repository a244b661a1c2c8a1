//! The one `poll` loop that drives a started script to its end: it feeds stdin, reads stdout
//! and stderr, notices the script's exit through a pidfd in the same poll set, enforces the
//! timeout (SIGTERM to the process group, SIGKILL after the grace period), reaps the script,
//! then drains the pipes for a bounded time. No thread per pipe, and the wait ends when the
//! script exits, not when every holder of its pipes has closed them.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, killpg, pthread_sigmask};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::Pid;

use crate::process::capture::Capture;
use crate::process::limits::Limits;
use crate::process::report::Ending;
use crate::process::spawn::Child;
use crate::process::sys;

/// Size of one read from stdout/stderr.
const CHUNK: usize = 64 * 1024;
/// Poll period when the kernel has no pidfds (< 5.3): exit is then noticed by `waitpid(WNOHANG)`.
const NO_PIDFD_TICK: Duration = Duration::from_millis(5);

/// What the loop collected.
pub(crate) struct Pumped {
    pub(crate) ending: Ending,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stdout_len: u64,
    pub(crate) stdout_too_large: Option<usize>,
    /// The last bytes of stdout, whether it was captured or not (for a failure's report).
    pub(crate) stdout_tail: Capture,
    pub(crate) stderr: Capture,
    pub(crate) stdin_unread: usize,
    pub(crate) timed_out: Option<Duration>,
    pub(crate) pipes_held_open: bool,
    /// A read or write error other than the expected ones; reported after the script was
    /// reaped, so no zombie is left even then.
    pub(crate) io_error: Option<(&'static str, Errno)>,
}

enum Phase {
    Running,
    /// SIGTERM sent at the timeout; SIGKILL at this instant.
    Terminating(Instant),
    /// SIGKILL sent; waiting for the exit.
    Killed,
    /// Reaped; draining the pipes until this instant.
    Draining(Instant),
}

/// Blocks SIGPIPE in the calling thread while stdin is fed, so a script that does not read its
/// input never kills the host, whatever the host's SIGPIPE disposition. A SIGPIPE our own write
/// raised is taken off the thread before the mask is restored.
struct SigpipeGuard {
    old: SigSet,
    was_pending: bool,
}

impl SigpipeGuard {
    fn block() -> Option<Self> {
        let mut set = SigSet::empty();
        set.add(Signal::SIGPIPE);
        let mut old = SigSet::empty();
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old)).ok()?;
        let was_pending = sys::sigpipe_pending();
        Some(SigpipeGuard { old, was_pending })
    }

    fn release(self, raised_epipe: bool) {
        if raised_epipe && !self.was_pending {
            sys::consume_pending_sigpipe();
        }
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
    }
}

/// Drives `child` to its end. Never returns before the script is reaped.
pub(crate) fn pump(child: Child, input: &[u8], capture_stdout: bool, limits: &Limits) -> Pumped {
    let start = Instant::now();
    let pid = child.pid;
    let pidfd: Option<OwnedFd> = sys::pidfd_open(pid).ok();
    // Our copies of the pipes' write ends stay open while the script runs, so its exit wakes
    // the poll once (the pidfd) rather than once per pipe hang-up too; closed at its exit, so
    // EOF then means everything it started has closed them. Without a pidfd, EOF is how the
    // exit is noticed early: closed at once.
    let mut write_ends = if pidfd.is_some() {
        Some(child.write_ends)
    } else {
        None
    };
    let mut stdin = child.stdin;
    let mut stdout = Some(child.stdout);
    let mut stderr = Some(child.stderr);
    let guard = if stdin.is_some() {
        SigpipeGuard::block()
    } else {
        None
    };
    let mut written = 0usize;
    let mut raised_epipe = false;

    let mut out = Pumped {
        ending: Ending::Exited(0),
        stdout: Vec::new(),
        stdout_len: 0,
        stdout_too_large: None,
        stdout_tail: Capture::new(0, limits.stdout_tail),
        stderr: Capture::within(limits.stderr_cap),
        stdin_unread: 0,
        timed_out: None,
        pipes_held_open: false,
        io_error: None,
    };
    if stdin.is_some() && input.is_empty() {
        stdin = None; // close at once: EOF for the script
    }
    let deadline = limits.timeout.map(|t| start + t);
    let mut phase = Phase::Running;
    let mut exited = false;
    let mut buf = vec![0u8; CHUNK];

    loop {
        let now = Instant::now();
        // Timer transitions.
        match phase {
            Phase::Running => {
                if let Some(d) = deadline
                    && now >= d
                {
                    tracing::warn!(
                        pid = pid.as_raw(),
                        "timed out, sending SIGTERM to its process group"
                    );
                    let _ = killpg(pid, Signal::SIGTERM);
                    out.timed_out = limits.timeout;
                    phase = Phase::Terminating(now + limits.kill_grace);
                    continue;
                }
            }
            Phase::Terminating(kill_at) if now >= kill_at => {
                tracing::warn!(
                    pid = pid.as_raw(),
                    "still running after the grace period, sending SIGKILL"
                );
                let _ = killpg(pid, Signal::SIGKILL);
                phase = Phase::Killed;
                continue;
            }
            Phase::Draining(until) => {
                if stdout.is_none() && stderr.is_none() {
                    break;
                }
                if now >= until {
                    out.pipes_held_open = true;
                    break;
                }
            }
            _ => {}
        }

        let wake_at = match phase {
            Phase::Running => deadline,
            Phase::Terminating(t) | Phase::Draining(t) => Some(t),
            Phase::Killed => None,
        };
        let mut wait = wake_at.map(|t| t.saturating_duration_since(now));
        if pidfd.is_none() && !exited {
            wait = Some(wait.map_or(NO_PIDFD_TICK, |w| w.min(NO_PIDFD_TICK)));
        }
        let timeout = match wait {
            None => PollTimeout::NONE,
            // Round up so we never spin on a sub-millisecond remainder.
            Some(w) => {
                PollTimeout::try_from(w.as_millis().saturating_add(1).min(i32::MAX as u128) as i32)
                    .unwrap_or(PollTimeout::MAX)
            }
        };

        // Poll set: [stdin?, stdout?, stderr?, pidfd?] with their roles recorded.
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(4);
        let mut roles: [u8; 4] = [0; 4];
        if let Some(fd) = stdin.as_ref().filter(|_| !exited) {
            roles[fds.len()] = b'i';
            fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLOUT));
        }
        if let Some(fd) = &stdout {
            roles[fds.len()] = b'o';
            fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
        }
        if let Some(fd) = &stderr {
            roles[fds.len()] = b'e';
            fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
        }
        if let Some(fd) = pidfd.as_ref().filter(|_| !exited) {
            roles[fds.len()] = b'p';
            fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
        }

        let ready = if fds.is_empty() {
            // Everything is closed and we only wait for the exit (no pidfd) or a timer.
            std::thread::sleep(wait.unwrap_or(NO_PIDFD_TICK));
            Ok(0)
        } else {
            poll(&mut fds, timeout)
        };
        let mut revents = [(0u8, PollFlags::empty()); 4];
        for (i, f) in fds.iter().enumerate() {
            revents[i] = (roles[i], f.revents().unwrap_or(PollFlags::empty()));
        }
        let polled = fds.len();
        drop(fds);
        match ready {
            Ok(_) => {}
            Err(Errno::EINTR) | Err(Errno::EAGAIN) => continue,
            Err(e) => {
                out.io_error
                    .get_or_insert(("polling the script's pipes", e));
                // Cannot wait any more: make sure it ends, then reap below.
                let _ = killpg(pid, Signal::SIGKILL);
                phase = Phase::Killed;
                stdin = None;
                stdout = None;
                stderr = None;
                continue;
            }
        }

        let mut child_exited = false;
        for &(role, ev) in &revents[..polled] {
            if ev.is_empty() {
                continue;
            }
            match role {
                b'i' => {
                    let fd = stdin.as_ref().expect("stdin polled");
                    if ev.intersects(PollFlags::POLLERR | PollFlags::POLLHUP)
                        && !ev.contains(PollFlags::POLLOUT)
                    {
                        // The reader is gone: the script closed stdin or exited. No write
                        // was made, so no SIGPIPE was raised.
                        stdin = None;
                        continue;
                    }
                    match nix::unistd::write(fd, &input[written..]) {
                        Ok(n) => {
                            written += n;
                            if written == input.len() {
                                stdin = None;
                            }
                        }
                        Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
                        Err(Errno::EPIPE) => {
                            raised_epipe = true;
                            stdin = None;
                        }
                        Err(e) => {
                            out.io_error
                                .get_or_insert(("writing the script's stdin", e));
                            stdin = None;
                        }
                    }
                }
                b'o' | b'e' => {
                    let slot = if role == b'o' {
                        &mut stdout
                    } else {
                        &mut stderr
                    };
                    let fd = slot.as_ref().expect("polled");
                    match nix::unistd::read(fd, &mut buf) {
                        Ok(0) => *slot = None,
                        Ok(n) => {
                            let data = &buf[..n];
                            if role == b'o' {
                                keep_stdout(&mut out, data, capture_stdout, limits.stdout_cap);
                            } else {
                                out.stderr.push(data);
                            }
                        }
                        Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
                        Err(e) => {
                            out.io_error.get_or_insert((
                                if role == b'o' {
                                    "reading the script's stdout"
                                } else {
                                    "reading the script's stderr"
                                },
                                e,
                            ));
                            *slot = None;
                        }
                    }
                }
                b'p' => child_exited = true,
                _ => unreachable!("unknown poll role"),
            }
        }

        if !exited
            && (child_exited || pidfd.is_none() || matches!(phase, Phase::Killed))
            && let Some(status) = try_reap(pid, &phase, child_exited)
        {
            out.ending = status;
            exited = true;
            stdin = None;
            drop(write_ends.take()); // closes them: EOF can come now
            phase = Phase::Draining(Instant::now() + limits.drain);
        }
    }

    out.stdin_unread = input.len() - written;
    if let Some(g) = guard {
        g.release(raised_epipe);
    }
    out
}

/// Reaps the script if it has exited. After a timeout, the rest of its process group gets
/// SIGKILL first (while the group id cannot be reused: its leader is still a zombie), so no
/// grandchild outlives a timed-out hook.
fn try_reap(pid: Pid, phase: &Phase, known_exited: bool) -> Option<Ending> {
    // Has it exited? WNOWAIT leaves the zombie in place, which keeps its group id reserved.
    let mut flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
    if !known_exited {
        flags |= WaitPidFlag::WNOHANG;
    }
    match waitid(Id::Pid(pid), flags) {
        Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => return None,
        _ => {}
    }
    if matches!(phase, Phase::Terminating(_) | Phase::Killed) {
        let _ = killpg(pid, Signal::SIGKILL);
    }
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Some(Ending::Exited(code)),
            Ok(WaitStatus::Signaled(_, sig, core_dumped)) => {
                return Some(Ending::Signaled {
                    signal: sig as i32,
                    core_dumped,
                });
            }
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            // ECHILD: someone else (a host SIGCHLD handler with waitpid(-1)) reaped it. The
            // status is lost; report it as a failure rather than guess success.
            Err(_) => return Some(Ending::Exited(-1)),
        }
    }
}

fn keep_stdout(out: &mut Pumped, data: &[u8], capture: bool, cap: usize) {
    out.stdout_len += data.len() as u64;
    out.stdout_tail.push(data);
    if !capture || out.stdout_too_large.is_some() {
        return;
    }
    if out.stdout.len() + data.len() > cap {
        out.stdout_too_large = Some(cap);
        out.stdout = Vec::new();
        tracing::warn!(cap, "stdout over its cap; output discarded");
    } else {
        out.stdout.extend_from_slice(data);
    }
}
