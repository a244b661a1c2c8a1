//! The floor a hook call is measured against, kept out of the documented API: starting a script
//! through the same `posix_spawn` path as [`crate::Runner`] (same attributes: empty signal mask,
//! default dispositions, fds above 2 closed, own process group), but with no pipes (stdin,
//! stdout and stderr on `/dev/null`), no poll loop and a plain blocking `waitpid`. It exists so
//! that measurements outside this crate can compare against a raw spawn without starting
//! processes themselves (only `hook-core` starts processes).

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::OnceLock;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitStatus, waitpid};

use crate::env::ScriptEnv;
use crate::sys::{self, ChildStdin, SpawnRequest};

/// Runs `path` with no arguments and the environment of [`ScriptEnv::libvirt`] (built once),
/// stdin, stdout and stderr on `/dev/null`, and waits for it with a blocking `waitpid`.
///
/// Returns the exit code, `128 + N` for a death by signal N, or `-errno` when it could not be
/// started or waited for. For benchmarks only: use [`crate::Runner`] to run hooks.
#[doc(hidden)]
pub fn bench_raw_spawn_wait(path: &Path) -> i32 {
    static ENV: OnceLock<ScriptEnv> = OnceLock::new();
    let env = ENV.get_or_init(ScriptEnv::libvirt);
    let Ok(path) = CString::new(path.as_os_str().as_bytes()) else {
        return -(Errno::EINVAL as i32);
    };
    let argv = [path];
    let null = match open(
        c"/dev/null",
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => return -(e as i32),
    };
    let req = SpawnRequest {
        path: &argv[0],
        argv: &argv,
        envp: env.cstrings(),
        stdin: ChildStdin::DevNull,
        stdout: null.as_raw_fd(),
        stderr: null.as_raw_fd(),
    };
    let pid = match sys::spawn(&req) {
        Ok(pid) => pid,
        Err(e) => return -(e as i32),
    };
    drop(null);
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(e) => return -(e as i32),
        }
    }
}
