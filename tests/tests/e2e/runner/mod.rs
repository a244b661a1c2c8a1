//! Tests of `hook_core::Runner`, one script at a time: how a run ends and which error it
//! gives (`outcomes`), what the script sees of its parent (`wire`), the pipes under load and
//! their caps (`io`), what happens to processes a script leaves behind and to scripts that run
//! too long (`leftovers`), and a host whose SIGPIPE is at its default disposition (`sigpipe`).
//!
//! Every test fails if the behaviour it guards regresses; none decides pass or fail by how long
//! something took, and none leaves a process behind.

mod io;
mod leftovers;
mod outcomes;
mod sigpipe;
mod wire;

use std::ffi::OsString;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

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

/// A runner with [`controlled_env`] and the default limits.
pub(crate) fn runner() -> Runner {
    Runner::new(controlled_env(), Limits::default())
}

/// Held by every test that changes a process-wide signal disposition or relies on one, so
/// that they do not see each other's changes.
pub(crate) fn signal_dispositions() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
