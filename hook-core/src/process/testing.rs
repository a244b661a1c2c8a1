//! Test support, not part of the supported API: process-wide signal dispositions for the
//! workspace's tests, which may not use `unsafe` themselves (installing a handler is an
//! `unsafe` call, and `unsafe` lives in `sys.rs` only). A test that changes a disposition puts
//! the previous one back with [`SavedDisposition::restore`].

use nix::errno::Errno;
use nix::sys::signal::{SigAction, Signal};

use crate::process::sys::{self, SignalAction};

/// A signal's disposition before a test changed it.
#[derive(Debug)]
#[must_use = "restore the previous disposition when the test is done"]
pub struct SavedDisposition {
    signal: Signal,
    previous: SigAction,
}

impl SavedDisposition {
    /// Puts the previous disposition back.
    pub fn restore(self) -> Result<(), Errno> {
        sys::set_signal_action(self.signal, SignalAction::Restore(self.previous)).map(drop)
    }
}

/// Installs, process-wide, a handler for `signal` that does nothing, without `SA_RESTART`: a
/// thread that takes the signal sees its blocking system calls fail with `EINTR`, as in a host
/// daemon that handles signals.
pub fn install_noop_handler(signal: Signal) -> Result<SavedDisposition, Errno> {
    let previous = sys::set_signal_action(signal, SignalAction::Noop)?;
    Ok(SavedDisposition { signal, previous })
}

/// Sets `signal` to its default disposition process-wide (e.g. `SIGPIPE`, which the Rust
/// runtime ignores but a C daemon may leave at its default, which kills).
pub fn set_default_disposition(signal: Signal) -> Result<SavedDisposition, Errno> {
    let previous = sys::set_signal_action(signal, SignalAction::Default)?;
    Ok(SavedDisposition { signal, previous })
}
