//! [`Limits`]: the bounds on one script run (timeout, kill grace, drain, output caps), shared by
//! the runner that takes them from its caller and the pump that enforces them.

use std::time::Duration;

/// Bounds on one script run. The defaults are libvirt's behaviour (no timeout) made safe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Kill the script's process group when it runs longer than this. Default: none, as libvirt.
    pub timeout: Option<Duration>,
    /// After SIGTERM at the timeout, SIGKILL follows after this long. Default: 5 s.
    pub kill_grace: Duration,
    /// After the script exits, how long its pipes are still read for output that something it
    /// left behind may hold open. Default: 200 ms.
    pub drain: Duration,
    /// Most stdout bytes kept when the output is wanted; more is [`HookError::OutputTooLarge`](crate::HookError::OutputTooLarge).
    /// Default: 16 MiB.
    pub stdout_cap: usize,
    /// Most stderr bytes kept: its first half and its last half, with the bytes between
    /// counted and dropped ([`Report::stderr`](crate::Report::stderr)). Default: 64 KiB.
    pub stderr_cap: usize,
    /// Most bytes kept of the end of stdout in [`Report::stdout_tail`](crate::Report::stdout_tail),
    /// whether or not stdout is captured, so a failing script's reason printed on stdout can be
    /// shown. Default: 4 KiB.
    pub stdout_tail: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: None,
            kill_grace: Duration::from_secs(5),
            drain: Duration::from_millis(200),
            stdout_cap: 16 * 1024 * 1024,
            stderr_cap: 64 * 1024,
            stdout_tail: 4 * 1024,
        }
    }
}
