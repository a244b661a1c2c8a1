//! Test support, not part of the supported API: process-wide signal dispositions for the
//! workspace's tests, which may not use `unsafe` themselves (installing a handler is an
//! `unsafe` call, and `unsafe` lives in `sys.rs` only). A test that changes a disposition puts
//! the previous one back with [`SavedDisposition::restore`]. Also [`Fallbacks`], which makes
//! one [`crate::Runner`] take the paths of hosts without pidfds or without glibc's close-from
//! action (per runner, not process-wide, so those tests run beside the others).

use nix::errno::Errno;
use nix::sys::signal::{SigAction, Signal};

use crate::process::sys::{self, SignalAction};

/// Fallback paths a [`crate::Runner`] takes even where the host does not need them
/// ([`crate::Runner::with_fallbacks`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fallbacks {
    /// Do not use `pidfd_open` (as on kernels < 5.3 or under a seccomp profile that denies
    /// it): the exit is noticed by `waitid(WNOHANG)` polling, signals go by pid.
    pub no_pidfd: bool,
    /// Do not use `posix_spawn_file_actions_addclosefrom_np` (as on glibc < 2.34): the fds to
    /// close in the script are listed from `/proc/self/fd`.
    pub no_closefrom: bool,
}

impl Fallbacks {
    /// Every fallback at once.
    pub const ALL: Fallbacks = Fallbacks {
        no_pidfd: true,
        no_closefrom: true,
    };
}

/// Whether this process's C library has `posix_spawn_file_actions_addclosefrom_np`
/// (glibc >= 2.34). Without it every runner takes the `/proc/self/fd` fallback.
pub fn has_closefrom() -> bool {
    sys::has_closefrom()
}

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

/// Sets `signal` to `SIG_IGN` process-wide (e.g. `SIGCHLD`, as libvirtd does: the kernel then
/// reaps every child itself).
pub fn ignore_signal(signal: Signal) -> Result<SavedDisposition, Errno> {
    let previous = sys::set_signal_action(signal, SignalAction::Ignore)?;
    Ok(SavedDisposition { signal, previous })
}
