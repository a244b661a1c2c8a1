//! Tests of `hook_core::Runner`, one script at a time: how a run ends and which error it
//! gives (`outcomes`), what the script sees of its parent (`wire`), the pipes under load and
//! their caps (`io`), what happens to processes a script leaves behind and to scripts that run
//! too long (`leftovers`), and a host whose SIGPIPE is at its default disposition (`sigpipe`).
//!
//! Every test fails if the behaviour it guards regresses; none decides pass or fail by how long
//! something took, and none leaves a process behind.
//!
//! The tests that matter on every host run twice: as written, and again (in each module's
//! `on_fallbacks` submodule) with every runner taking the fallback paths of hosts without
//! pidfds (kernels < 5.3, seccomp profiles that deny `pidfd_open`) and without glibc's
//! close-from action (glibc < 2.34). The fallbacks are forced per runner, not process-wide, so
//! both sets run side by side in this binary.

mod cancel;
mod io;
mod leftovers;
mod outcomes;
mod sigpipe;
mod wire;

use std::cell::Cell;
use std::ffi::OsString;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use hook_core::testing::Fallbacks;
use hook_core::{Limits, Runner, ScriptEnv};

/// The arguments libvirt gives a qemu hook at "prepare begin".
pub(crate) const HOOK_ARGS: &[&str] = &["guest", "prepare", "begin", "-"];

/// The `hook-recorder` binary built for these tests.
pub(crate) fn recorder() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_hook-recorder"))
}

/// libvirt's environment as a daemon with this (made-up, stable) environment would give it.
pub(crate) fn controlled_env() -> ScriptEnv {
    ScriptEnv::libvirt_from(|name| {
        let value = match name {
            "PATH" => "/usr/bin:/bin",
            "HOME" => "/root",
            "USER" => "root",
            "TMPDIR" => "/tmp",
            _ => return None,
        };
        Some(OsString::from(value))
    })
}

thread_local! {
    /// The fallbacks every [`runner`] made on this thread takes (each test has its own thread).
    static FALLBACKS: Cell<Fallbacks> = const { Cell::new(Fallbacks { no_pidfd: false, no_closefrom: false }) };
}

/// A runner with [`controlled_env`] and the default limits (taking the fallback paths inside
/// [`on_fallbacks`]).
pub(crate) fn runner() -> Runner {
    Runner::new(controlled_env(), Limits::default()).with_fallbacks(FALLBACKS.get())
}

/// Runs `test` with every [`runner`] it makes taking every fallback path.
pub(crate) fn on_fallbacks(test: fn()) {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            FALLBACKS.set(Fallbacks::default());
        }
    }
    let _reset = Reset;
    FALLBACKS.set(Fallbacks::ALL);
    test();
}

/// Declares, for each test named, a test of the same name in a submodule `on_fallbacks` that
/// runs it with [`on_fallbacks`].
macro_rules! also_on_fallbacks {
    ($($test:ident),* $(,)?) => {
        /// The same tests on the fallback paths (no pidfd, no close-from action).
        mod on_fallbacks {
            $(
                #[test]
                fn $test() {
                    crate::runner::on_fallbacks(super::$test);
                }
            )*
        }
    };
}
pub(crate) use also_on_fallbacks;

/// Held by every test that changes a process-wide signal disposition or relies on one, so
/// that they do not see each other's changes.
pub(crate) fn signal_dispositions() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
