//! What the benchmark (`hook-core/benches/cost.rs`) compares hook-core against and counts with:
//! a raw `posix_spawn` + `waitpid` of a script with its stdio on `/dev/null`, the same with the
//! caller's stdio inherited (the bare floor: one process start, no pipes, no hygiene), libvirt's
//! own `virHookCall` loaded at run time from `libvirt.so.0` when it is installed, a private
//! mount namespace in which libvirt's compiled-in hooks directory is a fresh tmpfs, and a
//! counting global allocator. The end-to-end tests also use libvirt's `virHookCall` as the real
//! caller of the dispatcher (`tests/src/bin/libvirt-hook-call.rs`). Not part of the API: hidden
//! from the docs, and it may change with the benchmark.

use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};
use nix::sys::statfs::{OVERLAYFS_SUPER_MAGIC, TMPFS_MAGIC, statfs};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::process::env::ScriptEnv;
use crate::process::{spawn, sys};

pub use crate::process::sys::CountingAlloc;

/// Starts `path` with `posix_spawn` (argv `[path]`, fds 0/1/2 on `/dev/null`, libvirt's
/// environment as [`ScriptEnv::libvirt`] builds it, so the script does the same work as under
/// hook-core) and waits for it with `waitpid`.
///
/// Returns the exit code, `128 + signal` when a signal killed it, or `-errno` when it could
/// not be started (a NUL in the path is `-EINVAL`).
pub fn raw_spawn_wait(path: &Path) -> i32 {
    spawn_wait(path, sys::spawn_devnull)
}

/// Like [`raw_spawn_wait`], but the script inherits the caller's fds 0, 1 and 2 and
/// `posix_spawn` gets no file actions: the bare floor, one process start and nothing else.
pub fn bare_spawn_wait(path: &Path) -> i32 {
    spawn_wait(path, sys::spawn_bare)
}

/// The first rung of the ladder from the bare floor to hook-core (the benchmark's "where the
/// gap goes"): hook-core's own `posix_spawn` request (`/dev/null` on fd 0, fds 1 and 2 passed
/// through as the caller has them, every fd >= 3 closed, empty signal mask, every signal at
/// its default disposition, its own process group), then `waitpid`. No pipes, no pidfd.
pub fn hygiene_spawn_wait(path: &Path) -> i32 {
    spawn_wait(path, |path, envp| {
        let argv = [path.to_owned()];
        sys::spawn(&sys::SpawnRequest {
            path,
            argv: &argv,
            envp,
            stdin: sys::ChildStdin::DevNull,
            stdout: 1,
            stderr: 2,
            close_fds: sys::CloseFds::Auto,
        })
    })
}

/// The second rung: [`hygiene_spawn_wait`] with stdout and stderr on pipes, as hook-core
/// creates them, read to EOF (one after the other, blocking), then `waitpid`. This is the
/// capture without the no-hang guarantee: a script that leaves a child holding a pipe blocks
/// it until that child exits. Returns the exit code, or a negative errno.
pub fn piped_spawn_wait(path: &Path) -> i32 {
    static ENV: OnceLock<ScriptEnv> = OnceLock::new();
    let env = ENV.get_or_init(ScriptEnv::libvirt);
    let Ok(argv) = spawn::c_argv(path, &[]) else {
        return -libc::EINVAL;
    };
    let child = match spawn::start(&argv, env, path, &[], None, sys::CloseFds::Auto) {
        Ok(child) => child,
        Err(_) => return -libc::EIO,
    };
    drop(child.write_ends);
    let mut buf = [0u8; 4096];
    for fd in [&child.stdout, &child.stderr] {
        loop {
            match nix::unistd::read(fd, &mut buf) {
                Ok(0) => break,
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(errno) => return -(errno as i32),
            }
        }
    }
    wait(child.pid)
}

fn spawn_wait(path: &Path, spawn: impl Fn(&CStr, &[CString]) -> Result<Pid, Errno>) -> i32 {
    static ENV: OnceLock<ScriptEnv> = OnceLock::new();
    let env = ENV.get_or_init(ScriptEnv::libvirt);
    let Ok(cpath) = CString::new(path.as_os_str().as_bytes()) else {
        return -libc::EINVAL;
    };
    let pid = match spawn(&cpath, env.cstrings()) {
        Ok(pid) => pid,
        Err(errno) => return -(errno as i32),
    };
    wait(pid)
}

fn wait(pid: Pid) -> i32 {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(errno) => return -(errno as i32),
        }
    }
}

/// libvirt's own hook code (`virHookInitialize`, `virHookCall`), from the installed
/// `libvirt.so.0` (Debian: `apt-get install libvirt0`), loaded with `dlopen` so that nothing
/// links against libvirt. It reads hooks only from its compiled-in directory
/// (`/etc/libvirt/hooks`): use it inside a [`PrivateLibvirtHooksDir`].
pub struct Libvirt(sys::LibvirtHooks);

/// libvirt's `VIR_HOOK_DRIVER_*` numbers (virhook.h), in enum order.
pub mod libvirt_driver {
    /// `VIR_HOOK_DRIVER_DAEMON`.
    pub const DAEMON: i32 = 0;
    /// `VIR_HOOK_DRIVER_QEMU`.
    pub const QEMU: i32 = 1;
    /// `VIR_HOOK_DRIVER_LXC`.
    pub const LXC: i32 = 2;
}

impl Libvirt {
    /// Loads the installed `libvirt.so.0` and initialises it, or says why it cannot (the
    /// benchmark then skips libvirt's column, and the real-libvirt tests skip, saying so).
    pub fn load() -> Result<Libvirt, String> {
        Libvirt::load_from(c"libvirt.so.0")
    }

    /// [`Libvirt::load`] from a library of another name (a test gives a missing or wrong one
    /// to see the reason that skips libvirt's column).
    pub fn load_from(soname: &CStr) -> Result<Libvirt, String> {
        sys::libvirt_hooks_load(soname).map(Libvirt)
    }

    /// The library's version, e.g. `9.0.0`.
    pub fn version(&self) -> String {
        let v = self.0.version;
        format!("{}.{}.{}", v / 1_000_000, v / 1000 % 1000, v % 1000)
    }

    /// `virHookInitialize()`: the presence scan. The number of drivers found, or -1.
    pub fn hook_initialize(&self) -> i32 {
        self.0.initialize()
    }

    /// `virHookCall(driver, id, op, sub_op, NULL, input, NULL)`: 1 when nothing is installed,
    /// 0 when every script succeeded, -1 otherwise.
    pub fn hook_call(
        &self,
        driver: i32,
        id: &CStr,
        op: i32,
        sub_op: i32,
        input: Option<&CStr>,
    ) -> i32 {
        self.0.call(driver, id, op, sub_op, input)
    }

    /// `virHookCall(driver, id, op, sub_op, NULL, input, &output)`, as libvirt's filter call
    /// sites make it: the return value and the output libvirt handed back (`None`: NULL).
    pub fn hook_call_output(
        &self,
        driver: i32,
        id: &CStr,
        op: i32,
        sub_op: i32,
        input: Option<&CStr>,
    ) -> (i32, Option<Vec<u8>>) {
        self.0.call_with_output(driver, id, op, sub_op, input)
    }

    /// `virGetLastErrorMessage()`: the message of this thread's last libvirt error, as a
    /// daemon would report it to `virsh`.
    pub fn last_error(&self) -> String {
        self.0.last_error()
    }
}

/// libvirt's compiled-in hooks directory, made private to this process: the process moves to
/// its own mount namespace (`unshare(CLONE_NEWNS)`, every mount made private so nothing
/// propagates back), `/etc` gets a writable overlay whose upper layer is a tmpfs, and
/// `/etc/libvirt/hooks` a fresh, empty tmpfs. The host's `/etc` is never written: every
/// directory is created only after the overlay is checked to be in place. Needs
/// `CAP_SYS_ADMIN`, and must be set up before the process starts any thread (a mount
/// namespace belongs to the thread that unshares it and to the threads it starts later).
#[derive(Debug)]
pub struct PrivateLibvirtHooksDir {
    scratch: PathBuf,
}

impl PrivateLibvirtHooksDir {
    /// libvirt's hooks directory (`/etc/libvirt/hooks`), inside the private namespace.
    pub const PATH: &'static str = "/etc/libvirt/hooks";

    /// Sets the namespace up, or says which step failed (nothing is written then).
    pub fn new() -> Result<Self, String> {
        let step = |what: &str, e: Errno| format!("{what}: {e}");
        let ns_before = std::fs::read_link("/proc/self/ns/mnt").ok();
        unshare(CloneFlags::CLONE_NEWNS).map_err(|e| step("unshare(CLONE_NEWNS)", e))?;
        if std::fs::read_link("/proc/self/ns/mnt").ok() == ns_before {
            return Err("unshare(CLONE_NEWNS) left the process in the host's namespace".into());
        }
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(|e| step("making / private", e))?;
        let scratch =
            std::env::temp_dir().join(format!("hook-core-bench-etc-{}", std::process::id()));
        std::fs::create_dir(&scratch)
            .map_err(|e| format!("creating {}: {e}", scratch.display()))?;
        let dir = PrivateLibvirtHooksDir { scratch };
        dir.mount_all()?;
        Ok(dir)
    }

    fn mount_all(&self) -> Result<(), String> {
        let step = |what: &str, e: Errno| format!("{what}: {e}");
        let tmpfs = |target: &Path| {
            mount(
                Some("tmpfs"),
                target,
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some("mode=0755"),
            )
        };
        tmpfs(&self.scratch).map_err(|e| step("mounting a tmpfs for the overlay", e))?;
        let (upper, work) = (self.scratch.join("upper"), self.scratch.join("work"));
        for d in [&upper, &work] {
            std::fs::create_dir(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
        }
        let opts = format!(
            "lowerdir=/etc,upperdir={},workdir={}",
            upper.display(),
            work.display()
        );
        mount(
            Some("overlay"),
            "/etc",
            Some("overlay"),
            MsFlags::empty(),
            Some(opts.as_str()),
        )
        .map_err(|e| step("mounting an overlay on /etc", e))?;
        let is = |path: &str, magic| statfs(path).is_ok_and(|s| s.filesystem_type() == magic);
        if !is("/etc", OVERLAYFS_SUPER_MAGIC) {
            return Err("/etc is not the private overlay after mounting it".into());
        }
        std::fs::create_dir_all(Self::PATH)
            .map_err(|e| format!("creating {} in the overlay: {e}", Self::PATH))?;
        tmpfs(Path::new(Self::PATH)).map_err(|e| step("mounting a tmpfs on the hooks dir", e))?;
        if !is(Self::PATH, TMPFS_MAGIC) {
            return Err(format!("{} is not the private tmpfs", Self::PATH));
        }
        Ok(())
    }
}

impl Drop for PrivateLibvirtHooksDir {
    fn drop(&mut self) {
        // The namespace ends with the process anyway; this leaves the host's temp dir clean.
        let _ = umount2(Self::PATH, MntFlags::MNT_DETACH);
        let _ = umount2("/etc", MntFlags::MNT_DETACH);
        let _ = umount2(&self.scratch, MntFlags::MNT_DETACH);
        let _ = std::fs::remove_dir(&self.scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The benchmark and the real-libvirt tests run without libvirt: they skip what needs it and
    // say why. These are the reasons they print.
    // What the benchmark measures against must itself be right: each baseline starts the
    // script, waits for it and reports how it ended.
    #[test]
    fn every_baseline_runs_the_script_and_reports_its_end() {
        type Baseline = fn(&Path) -> i32;
        let baselines: [(&str, Baseline); 4] = [
            ("raw", raw_spawn_wait),
            ("bare", bare_spawn_wait),
            ("hygiene", hygiene_spawn_wait),
            ("piped", piped_spawn_wait),
        ];
        for (name, run) in baselines {
            assert_eq!(run(Path::new("/bin/true")), 0, "{name}: /bin/true");
            assert_eq!(run(Path::new("/bin/false")), 1, "{name}: /bin/false");
            // A negative errno (`piped` goes through hook-core's spawn, whose typed error it
            // reports as -EIO).
            let missing = run(Path::new("/nonexistent/script"));
            assert!(missing < 0, "{name}: a missing script gave {missing}");
        }
    }

    #[test]
    fn a_missing_libvirt_is_a_reason_not_a_crash() {
        let Err(why) = Libvirt::load_from(c"libvirt-not-installed-here.so.0") else {
            panic!("loaded a library that does not exist");
        };
        assert!(why.contains("libvirt-not-installed-here.so.0"), "{why}");
    }

    #[test]
    fn a_library_without_virhookcall_is_a_reason_not_a_crash() {
        // libc is loaded in every process and has none of libvirt's symbols.
        let Err(why) = Libvirt::load_from(c"libc.so.6") else {
            panic!("found libvirt's functions in libc");
        };
        assert!(why.contains("virInitialize"), "{why}");
    }
}
