//! The start of a program that runs hooks and skips std's runtime start-up (`#![no_main]`):
//! [`run_main`] does the part of that start-up such a program relies on, and leaves out the
//! part that costs at every start.
//!
//! std's start-up before `main` keeps fds 0, 1 and 2 open (on `/dev/null`), ignores `SIGPIPE`,
//! and installs a stack-overflow handler: it reads `/proc/self/maps` to find the main thread's
//! stack, maps an alternate signal stack with a guard page, and installs `SIGSEGV` and `SIGBUS`
//! handlers (and unmaps that stack again at exit). virt-hook's binary is started by libvirt
//! at every guest event while libvirt waits, and that handler is most of what a Rust program
//! costs to start over a C one there (`docs/performance-model.md`), so it starts without it:
//! a stack overflow then ends the process with `SIGSEGV` rather than std's message first.
//! Everything else is as std's own `main` would have it, panics included ([`run_main`]).

use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, IntoRawFd};
use std::panic::UnwindSafe;

use nix::sys::signal::Signal;

use super::sys;

/// The exit status of a program whose `main` panicked: std's own.
pub const PANIC_EXIT_STATUS: i32 = 101;

/// Runs a program's `main` as std's runtime would run it, minus the stack-overflow handler
/// (this module's paragraph says why): first fds 0, 1 and 2 are made open ([`open_standard_fds`])
/// and `SIGPIPE` ignored (a script that stops reading, or a caller gone, is then an `EPIPE`
/// error, never the death of the process); then `main` runs, and a panic in it, printed by the
/// panic hook as usual, makes the status [`PANIC_EXIT_STATUS`], after unwinding (so every
/// destructor on the way runs: hook-core kills and reaps a script whose call a panic leaves).
///
/// Returns the exit status. Pass it to `std::process::exit`, which flushes stdout as std's
/// `main` does on return.
pub fn run_main(main: impl FnOnce() -> u8 + UnwindSafe) -> i32 {
    open_standard_fds();
    // Fails only for an invalid signal number; SIGPIPE is not one.
    let _ = sys::set_signal_action(Signal::SIGPIPE, sys::SignalAction::Ignore);
    std::panic::catch_unwind(main).map_or(PANIC_EXIT_STATUS, i32::from)
}

/// Opens `/dev/null` (read and write) on each of fds 0, 1 and 2 that is closed, as std's
/// start-up does: otherwise the first file or socket the program opens would become its
/// stdin, stdout or stderr, and a message meant for stderr would go into it. A closed fd stays
/// closed when `/dev/null` cannot be opened (std aborts then; a hook call should not fail for
/// it). Returns the fds it opened.
pub fn open_standard_fds() -> Vec<i32> {
    let mut opened = Vec::new();
    for fd in 0..3 {
        if !sys::fd_is_closed(fd) {
            continue;
        }
        // The lowest free number is `fd` itself: the ones below it are open by now.
        let Ok(null) = OpenOptions::new().read(true).write(true).open("/dev/null") else {
            return opened;
        };
        if null.as_raw_fd() == fd {
            // Kept open for the life of the process, as the fd it stands for.
            opened.push(null.into_raw_fd());
        }
    }
    opened
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_std_s_status_101_and_a_return_its_value() {
        assert_eq!(run_main(|| 0), 0);
        assert_eq!(run_main(|| 3), 3);
        assert_eq!(run_main(|| 255), 255);
        assert_eq!(
            run_main(|| panic!("a panic in main (expected by this test)")),
            PANIC_EXIT_STATUS
        );
    }

    #[test]
    fn a_panic_unwinds_through_main_s_frames() {
        struct Flag<'a>(&'a std::sync::atomic::AtomicBool);
        impl Drop for Flag<'_> {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let dropped = std::sync::atomic::AtomicBool::new(false);
        let status = run_main(|| {
            let _flag = Flag(&dropped);
            panic!("a panic in main (expected by this test)");
        });
        assert_eq!(status, PANIC_EXIT_STATUS);
        assert!(dropped.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn open_standard_fds_leaves_open_ones_alone() {
        // The test process has its fds 0, 1 and 2 (the harness's): nothing to open.
        assert_eq!(open_standard_fds(), Vec::<i32>::new());
        assert!(!sys::fd_is_closed(0));
        // A number no process here has open is seen as closed.
        assert!(sys::fd_is_closed(1_000_000));
    }
}
