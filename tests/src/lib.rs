//! Shared helpers for the end-to-end tests: temporary directories that remove themselves,
//! writing scripts into them, running scripts through [`hook_core::Runner`] (never directly:
//! only `hook-core` starts processes), parsing what `hook-recorder` saw, and looking at
//! processes through `/proc` to prove that nothing a test started is left behind.
//!
//! The path of the `hook-recorder` binary is only known to integration tests
//! (`env!("CARGO_BIN_EXE_hook-recorder")`), so the helpers take it as an argument.

use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use hook_core::{HookError, Invocation, Limits, Report, Runner};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// A directory under [`std::env::temp_dir`], unique to this process and call, removed with
/// everything in it when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `<temp_dir>/hook-tests-<pid>-<n>-<tag>`, a directory that did not exist before.
    pub fn new(tag: &str) -> io::Result<TempDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path =
                std::env::temp_dir().join(format!("hook-tests-{}-{n}-{tag}", std::process::id()));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory as text, for redacting it out of snapshots.
    pub fn display(&self) -> String {
        self.path.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // remove_dir_all does not follow symlinks, so loops and links out are harmless. Give
        // back any permission a test took away so that the removal can proceed.
        restore_permissions(&self.path);
        let _ = fs::remove_dir_all(&self.path);
    }
}

fn restore_permissions(dir: &Path) {
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o755));
    if let Ok(rd) = fs::read_dir(dir) {
        for entry in rd.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                restore_permissions(&entry.path());
            }
        }
    }
}

/// Serialises writing executables against starting processes.
///
/// A file open for writing cannot be executed (`ETXTBSY`). Test threads run in parallel, and a
/// process started by one thread gets a copy of the whole fd table, including a script another
/// thread is writing at that moment, until it reaches `exec`; if the writer then closes its
/// copy and executes the script, the kernel still counts the child's copy and refuses. So
/// scripts are written under the write side of this lock and every run holds the read side.
static SCRIPT_FILES: RwLock<()> = RwLock::new(());

/// Held (shared) while scripts may be started; scripts are written only while nobody holds it.
/// Never hold it while writing a script on the same thread.
pub fn exec_guard() -> RwLockReadGuard<'static, ()> {
    SCRIPT_FILES.read().unwrap_or_else(|e| e.into_inner())
}

/// Held (exclusively) while a script is written: no process is being started meanwhile.
pub fn write_guard() -> RwLockWriteGuard<'static, ()> {
    SCRIPT_FILES.write().unwrap_or_else(|e| e.into_inner())
}

/// `path` single-quoted for `/bin/sh`.
pub fn sh_quote(path: &Path) -> String {
    let s = String::from_utf8_lossy(path.as_os_str().as_bytes());
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Writes `body` to `dir/name` (a new file) with permission bits `mode` (not masked by the
/// umask) and returns its path.
pub fn write_script(dir: &Path, name: &str, body: &[u8], mode: u32) -> io::Result<PathBuf> {
    let path = dir.join(name);
    let _writing = write_guard();
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&path)?;
    f.write_all(body)?;
    drop(f);
    fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
    Ok(path)
}

/// Makes `dir/name` a symbolic link to `recorder` (the `hook-recorder` binary), so that the
/// recorder runs with `dir/name` as its argv\[0\], as a hook script would.
pub fn link_recorder(dir: &Path, name: &str, recorder: &Path) -> io::Result<PathBuf> {
    let path = dir.join(name);
    std::os::unix::fs::symlink(recorder, &path)?;
    Ok(path)
}

/// [`Runner::run`], holding off script writers for the duration (see [`write_script`]).
pub fn run(runner: &Runner, inv: &Invocation<'_>) -> Result<Report, HookError> {
    let _running = exec_guard();
    runner.run(inv)
}

/// [`Runner::run_with`], holding off script writers for the duration (see [`write_script`]).
pub fn run_with(
    runner: &Runner,
    inv: &Invocation<'_>,
    limits: &Limits,
) -> Result<Report, HookError> {
    let _running = exec_guard();
    runner.run_with(inv, limits)
}

/// 64-bit FNV-1a: the checksum `hook-recorder` prints for its stdin.
pub fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// `len` reproducible pseudo-random bytes (xorshift64 from `seed`), so that a test can tell a
/// byte moved or lost from a byte kept.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// What `hook-recorder` reported, parsed from its stdout.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recording {
    /// argv, with argv\[0\] reduced to its file name.
    pub argv: Vec<String>,
    /// The environment as `(name, value)`, sorted by name.
    pub env: Vec<(String, String)>,
    /// Open file descriptors and what they are (`pipe`, `/dev/null`, a path…).
    pub fds: Vec<(i32, String)>,
    /// The `SigBlk` mask from `/proc/self/status` (hex).
    pub sig_blk: String,
    /// The `SigIgn` mask from `/proc/self/status` (hex). The Rust runtime ignores SIGPIPE
    /// before `main`, so bit 13 (`0x1000`) is always set and says nothing about the parent.
    pub sig_ign: String,
    /// The working directory.
    pub cwd: String,
    /// The umask, in octal (`0022`).
    pub umask: String,
    /// The recorder's process id.
    pub pid: u32,
    /// Whether it leads its own process group (`getpgrp() == getpid()`).
    pub pgrp_leader: bool,
    /// How many bytes it read from stdin before EOF.
    pub stdin_len: u64,
    /// [`fnv1a64`] of those bytes.
    pub stdin_fnv1a64: u64,
}

/// The `SigIgn` value `hook-recorder` shows when nothing but the Rust runtime ignores a signal.
pub const RUST_RUNTIME_SIGIGN: &str = "0000000000001000";

impl Recording {
    /// Parses the recorder's report. Panics on a line it does not know: the recorder and this
    /// parser are one format.
    pub fn parse(text: &str) -> Recording {
        let mut r = Recording::default();
        for line in text.lines() {
            let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "argv" => r.argv.push(rest.to_owned()),
                "env" => {
                    let (k, v) = rest.split_once('=').expect("env NAME=value");
                    r.env.push((k.to_owned(), v.to_owned()));
                }
                "fd" => {
                    let (n, what) = rest.split_once(' ').expect("fd N what");
                    r.fds.push((n.parse().expect("fd number"), what.to_owned()));
                }
                "SigBlk" => r.sig_blk = rest.to_owned(),
                "SigIgn" => r.sig_ign = rest.to_owned(),
                "cwd" => r.cwd = rest.to_owned(),
                "umask" => r.umask = rest.to_owned(),
                "pid" => r.pid = rest.parse().expect("pid"),
                "pgrp-leader" => r.pgrp_leader = rest == "yes",
                "stdin" => {
                    let (len, sum) = rest.split_once(" fnv1a64=").expect("stdin LEN fnv1a64=X");
                    r.stdin_len = len.parse().expect("stdin length");
                    r.stdin_fnv1a64 = u64::from_str_radix(sum, 16).expect("checksum");
                }
                other => panic!("unknown recorder line {other:?} in:\n{text}"),
            }
        }
        r
    }

    /// The value of one environment variable, if the recorder saw it.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Replaces each `from` with its `to`, in order (for temporary paths in snapshots).
pub fn redact(text: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (from, to) in pairs {
        if !from.is_empty() {
            out = out.replace(from, to);
        }
    }
    out
}

/// One line of `/proc/<pid>/stat`: the fields the tests need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcStat {
    /// The process id.
    pub pid: i32,
    /// The command name (`comm`).
    pub comm: String,
    /// The state letter (`R`, `S`, `Z`…).
    pub state: char,
    /// The process group id.
    pub pgrp: i32,
}

impl ProcStat {
    /// Whether the process has finished running: a zombie (`Z`) waiting to be reaped, or dead
    /// (`X`). In a container whose init does not reap orphans, killed orphans stay zombies.
    pub fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// Reads `/proc/<pid>/stat`, or `None` when there is no such process.
pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm is in parentheses and may hold anything, including ") ": split at the last ')'.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text[open + 1..close].to_owned();
    let mut rest = text[close + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let _ppid = rest.next()?;
    let pgrp = rest.next()?.parse().ok()?;
    Some(ProcStat {
        pid,
        comm,
        state,
        pgrp,
    })
}

/// Every process in process group `pgrp`, dead or alive.
pub fn group_members(pgrp: i32) -> Vec<ProcStat> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(proc_stat)
        .filter(|s| s.pgrp == pgrp)
        .collect()
}

/// How long a test waits for processes it killed (or had killed) to disappear before it fails:
/// a bound on a failing test's duration, never a verdict on speed. A passing test returns as
/// soon as they are gone; a minute leaves room for a machine busy with other builds.
pub const GONE_WITHIN: Duration = Duration::from_secs(60);

/// Waits until no live process is left in group `pgrp` (zombies count as gone), checking every
/// 10 ms for at most `bound`. Returns the live members left at the end: empty means none.
///
/// The bound only limits how long a failing test waits; a passing test returns as soon as the
/// group is gone, so no timing decides the outcome.
pub fn wait_group_dead(pgrp: i32, bound: Duration) -> Vec<ProcStat> {
    let until = Instant::now() + bound;
    loop {
        let live: Vec<ProcStat> = group_members(pgrp)
            .into_iter()
            .filter(|s| !s.is_dead())
            .collect();
        if live.is_empty() || Instant::now() >= until {
            return live;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until process `pid`, a member of group `pgrp`, is gone or a zombie, for at most `bound`.
/// Returns whether it is. A live process with that pid in another group is a reused pid: the
/// one the test meant is gone.
pub fn wait_process_dead(pid: i32, pgrp: i32, bound: Duration) -> bool {
    let until = Instant::now() + bound;
    loop {
        match proc_stat(pid) {
            None => return true,
            Some(s) if s.is_dead() || s.pgrp != pgrp => return true,
            Some(_) if Instant::now() >= until => return false,
            Some(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Sends SIGKILL to a script's process group when dropped, so that a test that fails half-way
/// still leaves nothing behind. A group that is already gone is fine.
#[derive(Debug)]
pub struct KillGroupOnDrop(pub u32);

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        if self.0 > 1 {
            let _ = killpg(Pid::from_raw(self.0 as i32), Signal::SIGKILL);
        }
    }
}

/// A `Name:\tvalue` field of a `/proc/.../status` file (`/proc/self/status`,
/// `/proc/thread-self/status`…).
pub fn status_field(status_file: &str, name: &str) -> Option<String> {
    let text = fs::read_to_string(status_file).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == name).then(|| v.trim().to_owned())
    })
}

/// Whether signal `sig` is set in a hex signal mask from `/proc/.../status`.
pub fn mask_has(mask_hex: &str, sig: Signal) -> bool {
    let mask = u64::from_str_radix(mask_hex, 16).expect("hex signal mask");
    mask & (1u64 << (sig as i32 - 1)) != 0
}

pub mod cli_support;
pub mod drivers_support;
pub mod hookdir;
pub mod recorded;
pub mod reliability_support;
