//! [`Cancel`]: a token that stops the scripts of every call made with it, from another thread
//! (or from a thread that waits for the host's signals, as `virt-hook` does for Ctrl-C). The
//! pump of each running script has the token's pipe in its poll set, so a cancellation wakes
//! it at once; the script's process group then gets the signal the canceller names (`SIGINT`
//! for an interrupted command, `SIGTERM` for a daemon that is stopping), and `SIGKILL` after
//! the kill grace, as after a timeout.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use nix::unistd::pipe2;

/// Cancels the calls made with it ([`crate::Runner::with_cancel`],
/// [`crate::HooksBuilder::cancel`]). Clones share one state: cancel any of them and every call
/// using any clone sees it. A token stays cancelled: a call made afterwards fails at once
/// with [`crate::HookError::Interrupted`] and starts nothing.
#[derive(Clone)]
pub struct Cancel {
    inner: Arc<Inner>,
}

struct Inner {
    /// 0 while not cancelled; then the signal to forward.
    signal: AtomicI32,
    /// Readable once cancelled: every pump polls it. Never read, so it stays readable.
    read: OwnedFd,
    write: OwnedFd,
}

impl Cancel {
    /// A new, not cancelled token (one pipe: two fds, close-on-exec).
    pub fn new() -> io::Result<Cancel> {
        let (read, write) = pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        Ok(Cancel {
            inner: Arc::new(Inner {
                signal: AtomicI32::new(0),
                read,
                write,
            }),
        })
    }

    /// Cancels every call using this token: each running script's process group (and the
    /// script itself, should it have left its group) gets `signal`, then `SIGKILL` after the
    /// kill grace if the script is still running; no further script is started. Only the first
    /// call counts. Safe to call from any thread; it does not block.
    pub fn cancel(&self, signal: Signal) {
        if self
            .inner
            .signal
            .compare_exchange(0, signal as i32, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            // One byte makes the pipe readable for every poller. A full pipe cannot happen (one
            // write, ever); a failed write still leaves the flag set, which each pump checks
            // before it waits.
            let _ = nix::unistd::write(&self.inner.write, &[1]);
        }
    }

    /// The signal this token was cancelled with, or `None` while it is not cancelled.
    pub fn requested(&self) -> Option<Signal> {
        match self.inner.signal.load(Ordering::SeqCst) {
            0 => None,
            n => Some(Signal::try_from(n).unwrap_or(Signal::SIGTERM)),
        }
    }

    /// The fd a pump polls: readable once cancelled.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.inner.read.as_fd()
    }
}

impl fmt::Debug for Cancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancel")
            .field("requested", &self.requested())
            .finish()
    }
}
