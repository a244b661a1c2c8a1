//! Real hooks directories for the end-to-end tests: [`HookDir`], a temporary root (a
//! [`TempDir`]) holding `hooks/` plus a log file that scripts append to, with helpers to install scripts, plain
//! files and symlinks. It also holds [`TestEvent`], a configurable [`HookEvent`] for calling any
//! driver name, and the lock that keeps script writes and script starts apart (see
//! [`exec_guard`]).

use std::borrow::Cow;
use std::ffi::OsStr;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hook_core::{EventSpec, Failure, FailurePolicy, HookEvent, Hooks, Outcome, SubOp};

use crate::{TempDir, write_guard};
pub use crate::{exec_guard, sh_quote};

/// A temporary root with `hooks/` (the hooks directory) and `log` (a file scripts append to).
#[derive(Debug)]
pub struct HookDir {
    tmp: TempDir,
    hooks: PathBuf,
    log: PathBuf,
}

impl HookDir {
    /// A new root with an empty `hooks/` directory and no log yet.
    pub fn new() -> HookDir {
        let tmp = TempDir::new("virt-hook-e2e").expect("create a temporary directory");
        let hooks = tmp.path().join("hooks");
        std::fs::create_dir(&hooks).expect("create hooks/");
        let log = tmp.path().join("log");
        HookDir { tmp, hooks, log }
    }

    /// The temporary root (holds `hooks/`, `log` and anything else a test puts there).
    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    /// The hooks directory.
    pub fn hooks(&self) -> &Path {
        &self.hooks
    }

    /// The log file's path.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The scripts that ran, relative to the hooks directory.
    pub fn ran(&self, runs: &[hook_core::ScriptRun]) -> Vec<String> {
        runs.iter().map(|r| self.rel(&r.script)).collect()
    }

    /// `path` relative to the hooks directory, as a string (for readable assertions).
    pub fn rel(&self, path: &Path) -> String {
        path.strip_prefix(&self.hooks)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned()
    }

    /// A shell line that appends the script's own file name (`${0##*/}`) to the log.
    pub fn log_name_line(&self) -> String {
        format!("printf '%s\\n' \"${{0##*/}}\" >> {}", sh_quote(&self.log))
    }

    /// A shell line that appends the script's file name and all its arguments to the log.
    pub fn log_argv_line(&self) -> String {
        format!(
            "printf '%s' \"${{0##*/}}\" >> {log}; printf ' %s' \"$@\" >> {log}; printf '\\n' >> {log}",
            log = sh_quote(&self.log)
        )
    }

    /// The log's lines (each script's record), or nothing when no script wrote.
    pub fn log(&self) -> Vec<String> {
        match std::fs::read(&self.log) {
            Ok(bytes) => String::from_utf8(bytes)
                .expect("log is UTF-8")
                .lines()
                .map(str::to_owned)
                .collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("read log: {e}"),
        }
    }

    /// Empties the log.
    pub fn clear_log(&self) {
        match std::fs::remove_file(&self.log) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => panic!("remove log: {e}"),
        }
    }

    /// Creates the directories leading to `rel` (relative to `hooks/`) and returns its path.
    fn prepare(&self, rel: impl AsRef<Path>) -> PathBuf {
        let path = self.hooks.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent directories");
        }
        path
    }

    /// Writes an executable `/bin/sh` script at `rel` (relative to `hooks/`) with `body` after
    /// the `#!` line, mode 0755.
    pub fn script(&self, rel: impl AsRef<Path>, body: &str) -> PathBuf {
        self.file(rel, &format!("#!/bin/sh\n{body}\n"), 0o755)
    }

    /// Writes a script that appends its own name to the log and exits 0.
    pub fn logging_script(&self, rel: impl AsRef<Path>) -> PathBuf {
        let line = self.log_name_line();
        self.script(rel, &line)
    }

    /// Writes a file at `rel` (relative to `hooks/`) with this content and mode.
    pub fn file(&self, rel: impl AsRef<Path>, content: &str, mode: u32) -> PathBuf {
        let path = self.prepare(rel);
        let _w = write_guard();
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)
            .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        f.write_all(content.as_bytes()).expect("write file");
        drop(f);
        // The umask may have taken bits away.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }

    /// Creates the directory `rel` (relative to `hooks/`).
    pub fn mkdir(&self, rel: impl AsRef<Path>) -> PathBuf {
        let path = self.hooks.join(rel);
        std::fs::create_dir_all(&path).expect("mkdir");
        path
    }

    /// Creates a symlink at `rel` (relative to `hooks/`) pointing to `target` (as given).
    pub fn symlink(&self, rel: impl AsRef<Path>, target: impl AsRef<Path>) -> PathBuf {
        let path = self.prepare(rel);
        std::os::unix::fs::symlink(target.as_ref(), &path).expect("symlink");
        path
    }

    /// Reads a file under the temporary root (for what scripts recorded).
    pub fn read_root(&self, rel: impl AsRef<Path>) -> Vec<u8> {
        let path = self.root().join(rel);
        std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// Replaces the temporary root's path in `text` with `[ROOT]` (for snapshots).
    pub fn redact(&self, text: &str) -> String {
        text.replace(&*self.root().to_string_lossy(), "[ROOT]")
    }
}

impl Default for HookDir {
    fn default() -> Self {
        HookDir::new()
    }
}

/// A file name as a string (lossy), for assertions.
pub fn name_of(path: &Path) -> String {
    path.file_name()
        .unwrap_or(OsStr::new(""))
        .to_string_lossy()
        .into_owned()
}

/// A configurable event for any driver name: `op begin -` (or with `extra`), failure aborts.
#[derive(Clone, Copy, Debug)]
pub struct TestEvent {
    /// The driver whose scripts run.
    pub driver: &'static str,
    /// argv\[2\].
    pub op: &'static str,
    /// argv\[4\], `-` when `None`.
    pub extra: Option<&'static str>,
    /// Whether stdout is a filter result.
    pub uses_output: bool,
    /// Whether the presence cache is rescanned before the call.
    pub rescans_first: bool,
}

impl TestEvent {
    /// `op begin -` for `driver`, output not used, no rescan.
    pub const fn new(driver: &'static str, op: &'static str) -> TestEvent {
        TestEvent {
            driver,
            op,
            extra: None,
            uses_output: false,
            rescans_first: false,
        }
    }

    /// The same event with its stdout used as a filter result.
    pub const fn filter(mut self) -> TestEvent {
        self.uses_output = true;
        self
    }

    /// The same event with a rescan of the presence cache first.
    pub const fn rescanning(mut self) -> TestEvent {
        self.rescans_first = true;
        self
    }
}

impl HookEvent for TestEvent {
    fn driver(&self) -> &'static str {
        self.driver
    }

    fn spec(&self) -> EventSpec<'_> {
        EventSpec {
            op: self.op,
            subop: SubOp::Begin,
            extra: self.extra,
            uses_output: self.uses_output,
            on_failure: FailurePolicy::Abort,
            rescans_first: self.rescans_first,
        }
    }
}

/// Runs `event` with `stdin` as the document, holding [`exec_guard`] for the call.
pub fn run(
    hooks: &Hooks,
    event: &dyn HookEvent,
    object: &str,
    stdin: Option<&[u8]>,
) -> Result<Outcome, Box<Failure>> {
    let _g = exec_guard();
    hooks.run(event, object, || stdin.map(Cow::Borrowed))
}

/// The outcome of a call that must have succeeded (the failure, shown, otherwise).
pub fn ok(result: Result<Outcome, Box<Failure>>) -> Outcome {
    result.unwrap_or_else(|f| panic!("expected success, got: {f}"))
}

/// The failure of a call that must have failed.
pub fn failed(result: Result<Outcome, Box<Failure>>) -> Box<Failure> {
    match result {
        Ok(o) => panic!("expected a failure, got success with {} runs", o.runs.len()),
        Err(f) => f,
    }
}
