//! Helpers for the reliability tests: scripts written into a [`TempDir`](crate::TempDir), a
//! test-defined event (the one of [`crate::hookdir`]), what the calling process holds (open fds,
//! child processes with zombies, resident memory) so a test can compare before and after, and
//! a cleanup for processes a hostile script left outside its process group.

use std::ffi::OsString;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

/// Writes an executable (0755) script at `path`, creating its parent directories (0700).
pub fn write_script(path: &Path, body: &str) {
    if let Some(parent) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .unwrap();
    }
    let _writing = crate::write_guard();
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Sets a path's mode bits.
pub fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

pub use crate::hookdir::TestEvent;

/// Open file descriptors of this process (entries of `/proc/self/fd`).
pub fn open_fds() -> usize {
    // The directory's own fd is counted every time, so comparisons are unaffected.
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Processes whose parent is this process, zombies included (from `/proc/<pid>/stat`).
pub fn child_processes() -> Vec<u32> {
    let me = std::process::id();
    let mut kids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // Gone meanwhile: not a child any more.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...; comm may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let ppid = rest
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u32>().ok());
        if ppid == Some(me) {
            kids.push(pid);
        }
    }
    kids
}

/// Resident memory of this process in KiB (`VmRSS` of `/proc/self/status`).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// What the process holds at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holdings {
    /// Open fds.
    pub fds: usize,
    /// Child processes, zombies included.
    pub children: Vec<u32>,
    /// Resident memory, KiB.
    pub rss_kib: u64,
}

impl Holdings {
    /// Takes the measure now.
    pub fn now() -> Holdings {
        Holdings {
            fds: open_fds(),
            children: child_processes(),
            rss_kib: rss_kib(),
        }
    }
}

impl std::fmt::Display for Holdings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fds={} children={} rss={} KiB",
            self.fds,
            self.children.len(),
            self.rss_kib
        )
    }
}

/// Waits until `cond` holds, checking every few milliseconds. Panics with `what` after a
/// minute: a guard against a hang, never a verdict on speed.
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The pid a script wrote into `pidfile`, if it did.
pub fn read_pidfile(pidfile: &Path) -> Option<i32> {
    std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()
}

/// Whether `pid` names a live process (not a zombie).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// A fixed environment lookup for `ScriptEnv::libvirt_from`: `PATH` from the system (so `sh`
/// finds its tools) plus whatever `extra` holds.
pub fn lookup_with(extra: &[(&str, &str)]) -> impl FnMut(&str) -> Option<OsString> {
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| {
        if let Some((_, v)) = extra.iter().find(|(k, _)| k == name) {
            return Some(v.into());
        }
        if name == "PATH" {
            return Some("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
        }
        None
    }
}

/// The pids of live processes whose environment holds `STRAY_MARK=<marker>`: what a hostile
/// script started with that variable set, wherever it went (another session, reparented).
pub fn marked_processes(marker: &str) -> Vec<i32> {
    let needle = format!("STRAY_MARK={marker}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ.split(|&b| b == 0).any(|v| v == needle.as_bytes()) && alive(pid) {
            found.push(pid);
        }
    }
    found
}

/// Kills every live process marked with `marker` (see [`marked_processes`]) and waits until
/// they are gone.
pub fn kill_marked(marker: &str) {
    for pid in marked_processes(marker) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        wait_for("a stray process to die", || !alive(pid));
    }
}

/// A secret planted in stdin documents by the no-leak tests.
pub const STDIN_SECRET: &str = "STDIN-SECRET-7f3a";

/// Secrets planted in the host environment by the no-leak tests (see [`secret_env`]).
pub const ENV_SECRETS: [&str; 4] = [
    "ENV-SECRET-home",
    "ENV-SECRET-user",
    "ENV-SECRET-plain",
    "ENV-SECRET-tmpdir",
];

/// libvirt's environment from a host whose `HOME`, `USER` and `TMPDIR` hold secrets, and which
/// also has a `SECRET` variable that must never be passed.
pub fn secret_env() -> hook_core::ScriptEnv {
    hook_core::ScriptEnv::libvirt_from(lookup_with(&[
        ("HOME", "/home/ENV-SECRET-home"),
        ("USER", "ENV-SECRET-user"),
        ("SECRET", "ENV-SECRET-plain"),
        ("TMPDIR", "/tmp/ENV-SECRET-tmpdir"),
    ]))
}

/// Panics when `text` holds [`STDIN_SECRET`] or one of [`ENV_SECRETS`].
pub fn assert_no_secret(what: &str, text: &str) {
    assert!(!text.contains(STDIN_SECRET), "{what} leaks stdin: {text}");
    for s in ENV_SECRETS {
        assert!(
            !text.contains(s),
            "{what} leaks the environment ({s}): {text}"
        );
    }
}
