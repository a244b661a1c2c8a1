//! What the benchmark (`hook-core/benches/cost.rs`) compares hook-core against and counts with:
//! a raw `posix_spawn` + `waitpid` of a script with its stdio on `/dev/null` (the cost model's
//! floor: one process start, no pipes, no hygiene), and a counting global allocator. Not part of
//! the API: hidden from the docs, and it may change with the benchmark.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::OnceLock;

use nix::sys::wait::{WaitStatus, waitpid};

use crate::process::env::ScriptEnv;
use crate::process::sys;

pub use crate::process::sys::CountingAlloc;

/// Starts `path` with `posix_spawn` (argv `[path]`, fds 0/1/2 on `/dev/null`, libvirt's
/// environment as [`ScriptEnv::libvirt`] builds it, so the script does the same work as under
/// hook-core) and waits for it with `waitpid`.
///
/// Returns the exit code, `128 + signal` when a signal killed it, or `-errno` when it could
/// not be started (a NUL in the path is `-EINVAL`).
pub fn raw_spawn_wait(path: &Path) -> i32 {
    static ENV: OnceLock<ScriptEnv> = OnceLock::new();
    let env = ENV.get_or_init(ScriptEnv::libvirt);
    let Ok(cpath) = CString::new(path.as_os_str().as_bytes()) else {
        return -libc::EINVAL;
    };
    let pid = match sys::spawn_devnull(&cpath, env.cstrings()) {
        Ok(pid) => pid,
        Err(errno) => return -(errno as i32),
    };
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(errno) => return -(errno as i32),
        }
    }
}
