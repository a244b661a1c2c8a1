//! The one `poll` loop that drives a started script to its end: it feeds stdin, reads stdout
//! and stderr, notices the script's exit through a pidfd in the same poll set (or, without
//! pidfds, by `waitid(WNOHANG)` every few milliseconds), enforces the timeout and a
//! cancellation (a signal to the process group and to the script itself, SIGKILL after the
//! grace period), reaps the script, then drains the pipes for a bounded time. No thread per
//! pipe, and the wait ends when the script exits, not when every holder of its pipes has
//! closed them.
//!
//! Every way out of [`pump`], a panic unwinding through it included, leaves the script reaped
//! ([`Reaper`]) and the thread's signal mask as it was ([`SigpipeGuard`]).

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, killpg, pthread_sigmask};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::Pid;

use crate::process::cancel::Cancel;
use crate::process::capture::Capture;
use crate::process::limits::Limits;
use crate::process::report::Ending;
use crate::process::spawn::Child;
use crate::process::sys;

/// Size of one read from stdout/stderr.
const CHUNK: usize = 64 * 1024;
/// Size of the first reads, until one fills it.
const FIRST_CHUNK: usize = 4096;
/// Poll period without a pidfd (kernels < 5.3, seccomp profiles that deny `pidfd_open`): the
/// exit is then noticed by `waitid(WNOHANG)`.
const NO_PIDFD_TICK: Duration = Duration::from_millis(5);

/// How the pump may watch the script, beyond the limits.
pub(crate) struct Control<'a> {
    /// Try `pidfd_open`; `false` forces the no-pidfd fallback (tests).
    pub(crate) pidfd: bool,
    /// Cancels the run when cancelled.
    pub(crate) cancel: Option<&'a Cancel>,
}

/// What the loop collected.
pub(crate) struct Pumped {
    /// How the script ended; `None` when its exit status was lost (reaped by someone else).
    pub(crate) ending: Option<Ending>,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stdout_len: u64,
    pub(crate) stdout_too_large: Option<usize>,
    /// The last bytes of stdout, whether it was captured or not (for a failure's report).
    pub(crate) stdout_tail: Capture,
    pub(crate) stderr: Capture,
    pub(crate) stdin_unread: usize,
    pub(crate) timed_out: Option<Duration>,
    /// The run was cancelled; this signal went to the script's group.
    pub(crate) interrupted: Option<Signal>,
    pub(crate) pipes_held_open: bool,
    /// Stdout itself was still held open at the end of the drain: what was read may be cut.
    pub(crate) stdout_held_open: bool,
    /// A read or write error other than the expected ones; reported after the script was
    /// reaped, so no zombie is left even then.
    pub(crate) io_error: Option<(&'static str, Errno)>,
}

/// `None` in a deadline means "never" (a limit so large that `Instant + limit` overflows).
enum Phase {
    Running,
    /// The stop signal was sent (timeout or cancellation); SIGKILL at this instant.
    Terminating(Option<Instant>),
    /// SIGKILL sent; waiting for the exit.
    Killed,
    /// Reaped; draining the pipes until this instant.
    Draining(Option<Instant>),
}

/// Blocks SIGPIPE in the calling thread while stdin is fed, so a script that does not read its
/// input never kills the host, whatever the host's SIGPIPE disposition. When dropped (on
/// return or unwinding), a SIGPIPE our own write raised is taken off the thread and the mask is
/// put back.
struct SigpipeGuard {
    old: SigSet,
    was_pending: bool,
    raised_epipe: bool,
}

impl SigpipeGuard {
    fn block() -> Option<Self> {
        let mut set = SigSet::empty();
        set.add(Signal::SIGPIPE);
        let mut old = SigSet::empty();
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old)).ok()?;
        let was_pending = sys::sigpipe_pending();
        Some(SigpipeGuard {
            old,
            was_pending,
            raised_epipe: false,
        })
    }
}

impl Drop for SigpipeGuard {
    fn drop(&mut self) {
        if self.raised_epipe && !self.was_pending {
            sys::consume_pending_sigpipe();
        }
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
    }
}

/// Owns the started script until it is reaped. Signals go to its process group and to the
/// script itself (it may have left the group: `setpgid`, `setsid`); the script is signalled
/// through its pidfd, or by pid, which is safe while it is unreaped: a zombie keeps its pid.
/// Dropped before the script was reaped (a panic unwinding through the pump), it kills the
/// group and the script and reaps it, so no zombie or orphan outlives the call.
struct Reaper {
    pid: Pid,
    pidfd: Option<OwnedFd>,
    reaped: bool,
}

impl Reaper {
    /// `signal` to the script's process group, and to the script itself when it is no longer
    /// in that group (SIGKILL always goes to both: a second one changes nothing, while a second
    /// SIGTERM could run a script's trap twice).
    fn signal(&self, signal: Signal) {
        if self.reaped {
            return;
        }
        let _ = killpg(self.pid, signal);
        let left_group =
            signal == Signal::SIGKILL || nix::unistd::getpgid(Some(self.pid)) != Ok(self.pid);
        if left_group {
            let _ = match &self.pidfd {
                Some(fd) => sys::pidfd_send_signal(fd, signal),
                None => kill(self.pid, signal),
            };
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        self.signal(Signal::SIGKILL);
        loop {
            match waitpid(self.pid, None) {
                Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) => break,
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(_) => break, // ECHILD: reaped by someone else
            }
        }
        self.reaped = true;
    }
}

/// Drives `child` to its end. Never returns (nor unwinds) before the script is reaped.
pub(crate) fn pump(
    child: Child,
    input: &[u8],
    capture_stdout: bool,
    limits: &Limits,
    ctl: &Control<'_>,
) -> Pumped {
    let start = Instant::now();
    let Child {
        pid,
        stdin,
        stdin_prefilled,
        stdout,
        stderr,
        write_ends,
    } = child;
    let pidfd = if ctl.pidfd {
        sys::pidfd_open(pid).ok()
    } else {
        None
    };
    let mut reaper = Reaper {
        pid,
        pidfd,
        reaped: false,
    };
    // Our copies of the pipes' write ends stay open while the script runs, so its exit wakes
    // the poll once (the pidfd) rather than once per pipe hang-up too; closed at its exit, so
    // EOF then means everything it started has closed them. Without a pidfd they are closed
    // here, at once: EOF is then how the exit is noticed early.
    let mut write_ends = reaper.pidfd.is_some().then_some(write_ends);
    let mut stdin = stdin;
    let mut stdout = Some(stdout);
    let mut stderr = Some(stderr);
    let mut sigpipe = if stdin.is_some() {
        SigpipeGuard::block()
    } else {
        None
    };
    let mut written = stdin_prefilled;

    let mut out = Pumped {
        ending: None,
        stdout: Vec::new(),
        stdout_len: 0,
        stdout_too_large: None,
        stdout_tail: Capture::new(0, limits.stdout_tail),
        stderr: Capture::within(limits.stderr_cap),
        stdin_unread: 0,
        timed_out: None,
        interrupted: None,
        pipes_held_open: false,
        stdout_held_open: false,
        io_error: None,
    };
    if stdin.is_some() && input.is_empty() {
        stdin = None; // close at once: EOF for the script
    }
    // A timeout too large for the clock is no timeout.
    let deadline = limits.timeout.and_then(|t| start.checked_add(t));
    let mut phase = Phase::Running;
    let mut exited = false;
    // Most scripts print little: one page to start with (zeroing 64 KiB on every call showed
    // in profiles), grown to CHUNK once a read fills it.
    let mut buf = vec![0u8; FIRST_CHUNK];

    loop {
        let now = Instant::now();
        // Timer and cancellation transitions.
        match phase {
            Phase::Running => {
                let stop = if let Some(signal) = ctl.cancel.and_then(Cancel::requested) {
                    tracing::warn!(
                        pid = pid.as_raw(),
                        signal = signal.as_str(),
                        "interrupted, forwarding the signal to its process group"
                    );
                    out.interrupted = Some(signal);
                    Some(signal)
                } else if deadline.is_some_and(|d| now >= d) {
                    tracing::warn!(
                        pid = pid.as_raw(),
                        "timed out, sending SIGTERM to its process group"
                    );
                    out.timed_out = limits.timeout;
                    Some(Signal::SIGTERM)
                } else {
                    None
                };
                if let Some(signal) = stop {
                    reaper.signal(signal);
                    phase = Phase::Terminating(now.checked_add(limits.kill_grace));
                    continue;
                }
            }
            Phase::Terminating(Some(kill_at)) if now >= kill_at => {
                tracing::warn!(
                    pid = pid.as_raw(),
                    "still running after the grace period, sending SIGKILL"
                );
                reaper.signal(Signal::SIGKILL);
                phase = Phase::Killed;
                continue;
            }
            Phase::Draining(until) => {
                if stdout.is_none() && stderr.is_none() {
                    break;
                }
                if until.is_some_and(|u| now >= u) {
                    out.pipes_held_open = true;
                    out.stdout_held_open = stdout.is_some();
                    break;
                }
            }
            _ => {}
        }

        let wake_at = match phase {
            Phase::Running => deadline,
            Phase::Terminating(t) | Phase::Draining(t) => t,
            Phase::Killed => None,
        };
        let mut wait = wake_at.map(|t| t.saturating_duration_since(now));
        if reaper.pidfd.is_none() && !exited {
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

        // Poll set: [stdin?, stdout?, stderr?, pidfd?, cancel?] with their roles recorded.
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(5);
        let mut roles: [u8; 5] = [0; 5];
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
        if let Some(fd) = reaper.pidfd.as_ref().filter(|_| !exited) {
            roles[fds.len()] = b'p';
            fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
        }
        if let Some(cancel) = ctl.cancel.filter(|_| matches!(phase, Phase::Running)) {
            // Readable once cancelled; the next turn of the loop acts on it.
            roles[fds.len()] = b'c';
            fds.push(PollFd::new(cancel.fd(), PollFlags::POLLIN));
        }

        let ready = if fds.is_empty() {
            // Everything is closed and we only wait for the exit (no pidfd) or a timer.
            std::thread::sleep(wait.unwrap_or(NO_PIDFD_TICK));
            Ok(0)
        } else {
            poll(&mut fds, timeout)
        };
        let mut revents = [(0u8, PollFlags::empty()); 5];
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
                reaper.signal(Signal::SIGKILL);
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
                    let Some(fd) = stdin.as_ref() else { continue };
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
                            if let Some(g) = sigpipe.as_mut() {
                                g.raised_epipe = true;
                            }
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
                    if ev.contains(PollFlags::POLLHUP) && !ev.contains(PollFlags::POLLIN) {
                        // Every writer is gone and nothing is left to read: EOF, without a
                        // read to say so.
                        *slot = None;
                        continue;
                    }
                    let Some(fd) = slot.as_ref() else { continue };
                    match nix::unistd::read(fd, &mut buf) {
                        Ok(0) => *slot = None,
                        Ok(n) => {
                            let data = &buf[..n];
                            if role == b'o' {
                                keep_stdout(&mut out, data, capture_stdout, limits.stdout_cap);
                            } else {
                                out.stderr.push(data);
                            }
                            if n == buf.len() && n < CHUNK {
                                buf.resize(CHUNK, 0);
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
                _ => {} // 'c': acted on at the top of the loop
            }
        }

        if !exited
            && (child_exited || reaper.pidfd.is_none() || matches!(phase, Phase::Killed))
            && let Some(status) = try_reap(&mut reaper, &phase, child_exited)
        {
            out.ending = status;
            exited = true;
            stdin = None;
            drop(write_ends.take()); // closes them: EOF can come now
            phase = Phase::Draining(Instant::now().checked_add(limits.drain));
        }
    }

    out.stdin_unread = input.len() - written;
    drop(sigpipe.take());
    out
}

/// Reaps the script if it has exited: `None` while it runs, `Some(None)` when it is gone but
/// its status was lost (someone else reaped it). After a timeout or a cancellation, the rest of
/// its process group gets SIGKILL first (while the group id cannot be reused: its leader is
/// still a zombie), so no grandchild outlives a stopped hook.
fn try_reap(reaper: &mut Reaper, phase: &Phase, known_exited: bool) -> Option<Option<Ending>> {
    let pid = reaper.pid;
    let killing = matches!(phase, Phase::Terminating(_) | Phase::Killed);
    // Has it exited? WNOWAIT leaves the zombie in place, which keeps its group id reserved
    // for the kill below. Not asked when the pidfd said so and nothing is to be killed: the
    // waitpid below then reaps it, and reports a status lost to someone else the same way.
    if killing || !known_exited {
        let mut flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
        if !known_exited {
            flags |= WaitPidFlag::WNOHANG;
        }
        match waitid(Id::Pid(pid), flags) {
            Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => return None,
            Err(Errno::ECHILD) => {
                // Already reaped by someone else (a host that ignores SIGCHLD, or a SIGCHLD
                // handler calling waitpid(-1)): its pid and group id may be reused now, so
                // nothing more is signalled.
                reaper.reaped = true;
                return Some(None);
            }
            _ => {}
        }
    }
    if killing {
        let _ = killpg(pid, Signal::SIGKILL);
    }
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => {
                reaper.reaped = true;
                return Some(Some(Ending::Exited(code)));
            }
            Ok(WaitStatus::Signaled(_, sig, core_dumped)) => {
                reaper.reaped = true;
                return Some(Some(Ending::Signaled {
                    signal: sig as i32,
                    core_dumped,
                }));
            }
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => {
                reaper.reaped = true;
                return Some(None);
            }
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
