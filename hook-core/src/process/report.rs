//! What one script run produced: how it ended, what it wrote, how long it took, and whether a
//! limit (timeout, output cap, drain deadline) cut in. [`Report::check`] turns a report into
//! the typed error for its failure.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Args, HookError};

/// How the script's process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum Ending {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled {
        /// The signal number.
        signal: i32,
        /// Whether it dumped core.
        core_dumped: bool,
    },
}

impl Ending {
    /// The name of the killing signal (`SIGKILL`…), or `None` for a normal exit.
    pub fn signal_name(self) -> Option<&'static str> {
        match self {
            Ending::Exited(_) => None,
            Ending::Signaled { signal, .. } => Some(signal_name(signal)),
        }
    }
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Ending::Exited(code) => write!(f, "exit {code}"),
            Ending::Signaled {
                signal,
                core_dumped,
            } => {
                write!(f, "{}", signal_name(signal))?;
                if core_dumped {
                    f.write_str(" (core dumped)")
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// `SIGTERM` for 15, and so on; `SIG?` for a number nix does not know.
pub(crate) fn signal_name(signal: i32) -> &'static str {
    nix::sys::signal::Signal::try_from(signal)
        .map(|s| s.as_str())
        .unwrap_or("SIG?")
}

/// The result of running one script to its end.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Report {
    /// The script's path (argv\[0\]).
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_support::path")
    )]
    pub script: PathBuf,
    /// The arguments after the path.
    pub args: Args,
    /// The script's process id (also its process group id).
    pub pid: u32,
    /// How it ended.
    pub ending: Ending,
    /// Captured stdout when it was asked for and fit under the cap; otherwise empty.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_support::lossy")
    )]
    pub stdout: Vec<u8>,
    /// How many bytes the script wrote on stdout in all (captured or not).
    pub stdout_len: u64,
    /// The script's stdout was wanted but it wrote more than the cap (this value): `stdout` was
    /// discarded rather than cut.
    pub stdout_too_large: Option<usize>,
    /// The last bytes of stdout (at most [`Limits::stdout_tail`](crate::Limits::stdout_tail)),
    /// kept whether or not stdout was captured: many scripts print their reason for failing on
    /// stdout, where a hook's output is otherwise not used.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_support::lossy")
    )]
    pub stdout_tail: Vec<u8>,
    /// What was kept of stderr. All of it when it fit under the stderr cap; otherwise its head
    /// and its tail (half the cap each) with one line marking the gap between them:
    /// `[... N bytes of stderr dropped ...]`.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_support::lossy")
    )]
    pub stderr: Vec<u8>,
    /// How many bytes of stderr were dropped between the head and the tail (0: nothing was).
    pub stderr_dropped: u64,
    /// How many bytes of the stdin document the script did not read (it exited or closed
    /// stdin early; not an error, as in libvirt).
    pub stdin_unread: usize,
    /// From the start to the end of the run (the drain included).
    #[cfg_attr(
        feature = "serde",
        serde(rename = "duration_ms", serialize_with = "crate::serde_support::ms")
    )]
    pub duration: Duration,
    /// Set when the script ran past its timeout and was killed: the timeout.
    #[cfg_attr(
        feature = "serde",
        serde(
            rename = "timed_out_ms",
            serialize_with = "crate::serde_support::opt_ms"
        )
    )]
    pub timed_out: Option<Duration>,
    /// Something the script left behind still held its stdout or stderr open at the end of the
    /// drain: the pipes were closed on it and it was left running. After a normal exit that
    /// may be a plain background child (`daemon &`, which libvirt would wait for). After a
    /// timeout the script's whole process group was killed first, so the holder is a process
    /// that left the group (`setsid`, `setpgid`): a stray session, which
    /// [`HookError::TimedOut`] mentions.
    pub pipes_held_open: bool,
}

impl Report {
    /// Exit code 0, no timeout and no stdout overflow.
    pub fn success(&self) -> bool {
        self.ending == Ending::Exited(0)
            && self.timed_out.is_none()
            && self.stdout_too_large.is_none()
    }

    /// `Ok(self)` on success, otherwise the error that names the failure.
    pub fn check(self) -> Result<Report, HookError> {
        match self.error() {
            None => Ok(self),
            Some(e) => Err(e),
        }
    }

    /// The typed error for this run, or `None` when it succeeded.
    pub fn error(&self) -> Option<HookError> {
        let script = self.script.clone();
        let args = self.args.clone();
        if let Some(after) = self.timed_out {
            return Some(HookError::TimedOut {
                script,
                args,
                after,
                pipes_held_open: self.pipes_held_open,
                stderr: self.stderr.clone(),
            });
        }
        match self.ending {
            Ending::Exited(0) => self
                .stdout_too_large
                .map(|limit| HookError::OutputTooLarge {
                    script,
                    args,
                    limit,
                }),
            Ending::Exited(code) => Some(HookError::Exited {
                script,
                args,
                code,
                stderr: self.stderr.clone(),
            }),
            Ending::Signaled { signal, .. } => Some(HookError::Signaled {
                script,
                args,
                signal,
                name: signal_name(signal),
                stderr: self.stderr.clone(),
            }),
        }
    }
}
