//! Helpers for the `virt-hook` end-to-end tests: finding the built binary, running it through
//! [`hook_core::Runner`] (only hook-core starts processes, so the tests dog-food it), building
//! hooks directories in temporary directories that remove themselves, and redacting what
//! changes from run to run (temporary paths, durations) out of snapshots.
//!
//! The binary is found next to the test executable: `target/<profile>/deps/e2e-…` runs, and
//! `target/<profile>/virt-hook` is its grandparent's child. `cargo test --workspace` builds it
//! because hook-cli has an integration test of its own (cargo builds a package's binaries for
//! its integration tests); a dev-dependency cannot do it, since hook-cli has no library. So
//! `cargo test -p tests` alone runs whatever `virt-hook` was built last: after changing
//! hook-cli, run `cargo test --workspace` (or `cargo build -p hook-cli` first).

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hook_core::{Ending, Invocation, Limits, Runner, ScriptEnv};

/// The `virt-hook` binary built alongside the tests.
pub fn virt_hook() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps")
        .join("virt-hook");
    assert!(
        bin.is_file(),
        "{} is missing: run the tests with `cargo test --workspace` (or `cargo build -p hook-cli` first)",
        bin.display()
    );
    bin
}

/// What one `virt-hook` run printed, and its exit code.
#[derive(Clone, Debug)]
pub struct CliRun {
    /// The exit code.
    pub code: i32,
    /// stdout, as text.
    pub stdout: String,
    /// stderr, as text.
    pub stderr: String,
}

impl CliRun {
    /// [`CliRun::snapshot`] of a run in `t`, with the `virt-hook` binary's path shown as
    /// `[VIRT-HOOK]` (what `install` names as the copy's source).
    pub fn snapshot_in(&self, t: &HooksTree) -> String {
        let bin = fs::canonicalize(virt_hook())
            .expect("the binary's path")
            .display()
            .to_string();
        CliRun {
            stdout: self.stdout.replace(&bin, "[VIRT-HOOK]"),
            stderr: self.stderr.replace(&bin, "[VIRT-HOOK]"),
            ..self.clone()
        }
        .snapshot(t.root())
    }

    /// The run as one text to snapshot: exit code, stdout, stderr, with `tmp` replaced by
    /// `[TMP]` and durations by `[DURATION]`.
    pub fn snapshot(&self, tmp: &Path) -> String {
        let text = format!(
            "exit code: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        redact(&text, tmp)
    }
}

/// Runs `virt-hook args…` with libvirt's environment plus `env`, `stdin` on its stdin (or
/// `/dev/null`). Panics if it dies of a signal (a panic's abort included) or cannot be started.
pub fn virt_hook_run(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> CliRun {
    program_run(&virt_hook(), args, env, stdin)
}

/// Runs `program args…` as [`virt_hook_run`] runs `virt-hook` (a copy of the binary, or a shell
/// that sets something up first).
pub fn program_run(
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&[u8]>,
) -> CliRun {
    let mut script_env = ScriptEnv::libvirt();
    for (k, v) in env {
        script_env.set(k, v).expect("a valid environment variable");
    }
    let limits = Limits {
        timeout: Some(Duration::from_secs(120)),
        stdout_cap: 64 << 20,
        stderr_cap: 1 << 20,
        ..Limits::default()
    };
    let runner = Runner::new(script_env, limits);
    let _running = crate::exec_guard();
    let report = runner
        .run(&Invocation {
            script: program,
            args,
            stdin,
            capture_stdout: true,
        })
        .expect("virt-hook starts");
    let code = match report.ending {
        Ending::Exited(code) => code,
        other => panic!(
            "{} {args:?} ended with {other}; stderr:\n{}",
            program.display(),
            String::from_utf8_lossy(&report.stderr)
        ),
    };
    CliRun {
        code,
        stdout: String::from_utf8_lossy(&report.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&report.stderr).into_owned(),
    }
}

/// Replaces `tmp` with `[TMP]`, and durations (`12.3 ms`, `1.25 s`, JSON `"duration_ms": 1.234`)
/// with `[DURATION]`.
pub fn redact(text: &str, tmp: &Path) -> String {
    let text = text.replace(&tmp.display().to_string(), "[TMP]");
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        out.push_str(&redact_durations(line));
    }
    out
}

fn redact_durations(line: &str) -> String {
    const KEY: &str = "\"duration_ms\": ";
    if let Some(i) = line.find(KEY) {
        let start = i + KEY.len();
        let end = line[start..]
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .map_or(line.len(), |n| start + n);
        if end > start {
            return format!("{}[DURATION]{}", &line[..start], &line[end..]);
        }
        return line.to_owned();
    }
    // Human text: a number followed by " ms" or " s" (and "N min N s").
    let words: Vec<&str> = line.split(' ').collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let is_num = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit() || c == '.');
        let unit = |w: &str| {
            let w = w.trim_end_matches([',', ')', '\n']);
            w == "ms" || w == "s"
        };
        if i + 1 < words.len() && is_num(words[i]) && unit(words[i + 1]) {
            let tail = words[i + 1].trim_start_matches(['m', 's']);
            out.push(format!("[DURATION]{tail}"));
            i += 2;
        } else {
            out.push(words[i].to_owned());
            i += 1;
        }
    }
    out.join(" ")
}

/// A temporary directory holding a `hooks/` directory, removed with everything in it on drop.
#[derive(Debug)]
pub struct HooksTree {
    tmp: crate::TempDir,
}

impl HooksTree {
    /// A new temporary root holding `hooks/` (mode 0755).
    pub fn new() -> HooksTree {
        let tree = HooksTree {
            tmp: crate::TempDir::new("virt-hook-cli").expect("create a temporary directory"),
        };
        tree.dir("hooks", 0o755);
        tree
    }

    /// The temporary root (what snapshots show as `[TMP]`).
    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    /// The hooks directory, `<root>/hooks`.
    pub fn hooks(&self) -> PathBuf {
        self.root().join("hooks")
    }

    /// The hooks directory as a string, for `--hooks-dir`.
    pub fn hooks_arg(&self) -> String {
        self.hooks().display().to_string()
    }

    /// Creates directory `<root>/<rel>` with exactly `mode`.
    pub fn dir(&self, rel: &str, mode: u32) -> PathBuf {
        let path = self.root().join(rel);
        fs::create_dir_all(&path).expect("create a directory");
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod a directory");
        path
    }

    /// Writes `<root>/<rel>` with `body` and exactly `mode` (whatever the umask).
    pub fn file(&self, rel: &str, body: &str, mode: u32) -> PathBuf {
        let path = self.root().join(rel);
        let _writing = crate::write_guard();
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)
            .expect("create a file");
        f.write_all(body.as_bytes()).expect("write a file");
        drop(f);
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod a file");
        path
    }

    /// Makes `<root>/<rel>` a symlink to `target`.
    pub fn symlink(&self, rel: &str, target: &str) -> PathBuf {
        let path = self.root().join(rel);
        std::os::unix::fs::symlink(target, &path).expect("create a symlink");
        path
    }

    /// Runs `virt-hook --hooks-dir <hooks> args…`.
    pub fn run(&self, args: &[&str]) -> CliRun {
        self.run_with(args, None)
    }

    /// Runs `virt-hook --hooks-dir <hooks> args…` with `stdin`.
    pub fn run_with(&self, args: &[&str], stdin: Option<&[u8]>) -> CliRun {
        let hooks = self.hooks_arg();
        let mut all = vec!["--hooks-dir", hooks.as_str()];
        all.extend_from_slice(args);
        virt_hook_run(&all, &[], stdin)
    }
}

impl Default for HooksTree {
    fn default() -> Self {
        HooksTree::new()
    }
}

/// The workspace root (for `examples/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_owned()
}

/// The shipped example domain (`examples/domain.xml`), as a `--domain` argument.
pub fn example_domain() -> String {
    workspace_root()
        .join("examples/domain.xml")
        .display()
        .to_string()
}

/// Copies the shipped `examples/per-guest` into `<root>/hooks` of `t`, modes included.
pub fn copy_example(t: &HooksTree) {
    fn copy(src: &Path, dst: &Path) {
        for entry in fs::read_dir(src).expect("read the example") {
            let entry = entry.expect("an example entry");
            let (from, to) = (entry.path(), dst.join(entry.file_name()));
            if entry.file_type().expect("its type").is_dir() {
                fs::create_dir_all(&to).expect("create a directory");
                copy(&from, &to);
            } else {
                let _writing = crate::write_guard();
                fs::copy(&from, &to).expect("copy a file");
            }
        }
    }
    copy(&workspace_root().join("examples/per-guest"), &t.hooks());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_redacted() {
        let tmp = Path::new("/tmp/x");
        assert_eq!(
            redact("  ok  /tmp/x/hooks/qemu  exit 0  12.3 ms\n", tmp),
            "  ok  [TMP]/hooks/qemu  exit 0  [DURATION]\n"
        );
        assert_eq!(
            redact("took 1.25 s, then\n", tmp),
            "took [DURATION], then\n"
        );
        assert_eq!(
            redact("  \"duration_ms\": 0.812,\n", tmp),
            "  \"duration_ms\": [DURATION],\n"
        );
        assert_eq!(
            redact("  \"duration_ms\": null,\n", tmp),
            "  \"duration_ms\": null,\n"
        );
    }
}
