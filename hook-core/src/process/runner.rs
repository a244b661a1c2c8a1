//! The public entry point for running one script: [`Runner`] (the environment, built once, and
//! default [`Limits`]), [`Invocation`] (what to run, with what input) and the glue that takes an
//! invocation through [`crate::process::spawn`] and [`crate::process::pump`] into a [`Report`], with one tracing
//! span per run.

use std::path::Path;
use std::time::Instant;

use crate::error::{Args, HookError, SpawnFailure};
use crate::process::cancel::Cancel;
use crate::process::env::ScriptEnv;
use crate::process::limits::Limits;
use crate::process::report::{Report, signal_name};
use crate::process::testing::Fallbacks;
use crate::process::{pump, spawn, sys};

/// One script to run: argv is `[script, args...]` (for hooks, `object op subop extra`).
#[derive(Clone, Copy, Debug)]
pub struct Invocation<'a> {
    /// The executable (argv\[0\]); used as is, with no `PATH` lookup.
    pub script: &'a Path,
    /// The arguments after the path.
    pub args: &'a [&'a str],
    /// Bytes for a stdin pipe, or `None` for `/dev/null`.
    pub stdin: Option<&'a [u8]>,
    /// Keep stdout (up to the cap) in the report; otherwise it is read and dropped.
    pub capture_stdout: bool,
}

/// The shells a file without a `#!` line is handed to under
/// [`Runner::run_with_shell_fallback`], the first one present: bash, which the hook helper of
/// the GPU-passthrough guides runs such a file with, else the POSIX shell (as `execvp` does).
pub const NO_SHEBANG_SHELLS: &[&str] = &["/bin/bash", "/bin/sh"];

/// Runs scripts with one environment and default limits. Cheap to share between threads.
#[derive(Clone, Debug)]
pub struct Runner {
    env: ScriptEnv,
    limits: Limits,
    cancel: Option<Cancel>,
    fallbacks: Fallbacks,
    /// [`NO_SHEBANG_SHELLS`], or what a test put in their place.
    shells: &'static [&'static str],
}

impl Default for Runner {
    fn default() -> Self {
        Runner::new(ScriptEnv::libvirt(), Limits::default())
    }
}

impl Runner {
    /// A runner with this environment and these default limits.
    pub fn new(env: ScriptEnv, limits: Limits) -> Self {
        Runner {
            env,
            limits,
            cancel: None,
            fallbacks: Fallbacks::default(),
            shells: NO_SHEBANG_SHELLS,
        }
    }

    /// The same runner, its calls cancelled by `cancel`: a running script's process group gets
    /// the cancelling signal (SIGKILL after [`Limits::kill_grace`]) and the call reports
    /// [`HookError::Interrupted`]; once cancelled, calls fail at once without starting anything.
    pub fn with_cancel(mut self, cancel: Cancel) -> Runner {
        self.cancel = Some(cancel);
        self
    }

    /// The cancellation token, if any ([`Runner::with_cancel`]).
    pub fn cancel(&self) -> Option<&Cancel> {
        self.cancel.as_ref()
    }

    /// Test support, not part of the supported API: the same runner, taking the fallback
    /// paths that hosts without pidfds or without glibc's close-from action take, so that the
    /// tests run them on any machine.
    #[doc(hidden)]
    pub fn with_fallbacks(mut self, fallbacks: Fallbacks) -> Runner {
        self.fallbacks = fallbacks;
        self
    }

    /// Test support, not part of the supported API: the same runner, handing a file without a
    /// `#!` line to the first present of `shells` instead of [`NO_SHEBANG_SHELLS`] (so a test
    /// can take the path of a host without bash on any host).
    #[doc(hidden)]
    pub fn with_no_shebang_shells(mut self, shells: &'static [&'static str]) -> Runner {
        self.shells = shells;
        self
    }

    /// The environment every script gets.
    pub fn env(&self) -> &ScriptEnv {
        &self.env
    }

    /// The default limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Runs one script with the default limits. See [`Runner::run_with`].
    pub fn run(&self, inv: &Invocation<'_>) -> Result<Report, HookError> {
        self.run_with(inv, &self.limits)
    }

    /// Runs one script to its end and reports how it went.
    ///
    /// `Err` means no report could be made: an argument holding NUL (nothing was started), a
    /// script the system refused to execute, a cancelled runner ([`HookError::Interrupted`],
    /// nothing was started), a failing system call (the script, if started, was still reaped),
    /// or an exit status that someone else reaped first ([`HookError::StatusLost`]). A script
    /// that ran and failed is an `Ok` report: [`Report::check`] turns it into its error.
    ///
    /// The call never returns, nor unwinds, before the script is reaped; a panic inside it
    /// (e.g. in the host's tracing subscriber) kills the script's group first.
    pub fn run_with(&self, inv: &Invocation<'_>, limits: &Limits) -> Result<Report, HookError> {
        self.run_impl(inv, limits, false)
    }

    /// [`Runner::run_with`], except that a file the kernel refuses to execute because it has no
    /// `#!` line and is no binary (`ENOEXEC`) is run by a shell, `/bin/bash FILE ARGS…`
    /// (`/bin/sh` where bash is missing), as `execvp` and bash itself do with such a file. This
    /// is what the hook helper of the GPU-passthrough guides did with its per-object scripts
    /// (its bash ran them), so the per-object layouts opt in; libvirt execs its own scripts
    /// directly, and they keep failing ([`SpawnFailure::NoShebang`]). The report and every
    /// error name the script, never the shell; without any shell the run fails as without the
    /// fallback.
    pub fn run_with_shell_fallback(
        &self,
        inv: &Invocation<'_>,
        limits: &Limits,
    ) -> Result<Report, HookError> {
        self.run_impl(inv, limits, true)
    }

    fn run_impl(
        &self,
        inv: &Invocation<'_>,
        limits: &Limits,
        shell_fallback: bool,
    ) -> Result<Report, HookError> {
        let argv = spawn::c_argv(inv.script, inv.args)?;
        let span = tracing::debug_span!(
            "hook_script",
            script = %inv.script.display(),
            object = inv.args.first().copied().unwrap_or(""),
            op = inv.args.get(1).copied().unwrap_or(""),
        );
        let _entered = span.enter();
        if let Some(signal) = self.cancel.as_ref().and_then(Cancel::requested) {
            tracing::debug!("not started: the call was cancelled");
            return Err(HookError::Interrupted {
                script: inv.script.to_owned(),
                args: Args::new(inv.args),
                signal: signal as i32,
                name: signal.as_str(),
                started: false,
                stderr: Vec::new(),
            });
        }
        let start = Instant::now();
        let close_fds = if self.fallbacks.no_closefrom {
            sys::CloseFds::Listed
        } else {
            sys::CloseFds::Auto
        };
        let started = spawn::start(&argv, &self.env, inv.script, inv.args, inv.stdin, close_fds);
        let no_shebang = matches!(
            started,
            Err(HookError::NotStarted {
                reason: SpawnFailure::NoShebang,
                ..
            })
        );
        let shell = (shell_fallback && no_shebang)
            .then(|| no_shebang_shell(self.shells))
            .flatten();
        let started = match shell {
            Some(shell) => {
                tracing::debug!(shell, "no #! line: run by the shell");
                let argv = spawn::shell_argv(shell, &argv)?;
                spawn::start(&argv, &self.env, inv.script, inv.args, inv.stdin, close_fds)
            }
            None => started,
        };
        let child = match started {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "could not start");
                return Err(e);
            }
        };
        let pid = child.pid;
        tracing::debug!(pid = pid.as_raw(), "started");
        let ctl = pump::Control {
            pidfd: !self.fallbacks.no_pidfd,
            cancel: self.cancel.as_ref(),
        };
        let p = pump::pump(
            child,
            inv.stdin.unwrap_or(&[]),
            inv.capture_stdout,
            limits,
            &ctl,
        );
        let duration = start.elapsed();
        let args = Args::new(inv.args);
        if let Some((context, e)) = p.io_error {
            let err = HookError::Io {
                script: inv.script.to_owned(),
                args,
                context,
                source: e.into(),
            };
            tracing::warn!(error = %err, "I/O error");
            return Err(err);
        }
        let Some(ending) = p.ending else {
            let err = HookError::StatusLost {
                script: inv.script.to_owned(),
                args,
                autoreaped: sys::children_autoreaped(),
            };
            tracing::warn!(error = %err, "exit status lost");
            return Err(err);
        };
        let stdout_incomplete = inv.capture_stdout && p.stdout_held_open;
        let (stderr, stderr_dropped) = p.stderr.into_marked("stderr");
        let report = Report {
            script: inv.script.to_owned(),
            args,
            pid: pid.as_raw() as u32,
            ending,
            // Never hand out output that may be cut.
            stdout: if stdout_incomplete {
                Vec::new()
            } else {
                p.stdout
            },
            stdout_len: p.stdout_len,
            stdout_too_large: p.stdout_too_large,
            stdout_tail: p.stdout_tail.into_bytes(),
            stderr,
            stderr_dropped,
            stdin_unread: p.stdin_unread,
            duration,
            timed_out: p.timed_out,
            interrupted: p.interrupted.map(|s| s as i32),
            stdout_incomplete,
            pipes_held_open: p.pipes_held_open,
        };
        if report.success() {
            tracing::debug!(ending = %report.ending, duration_us = duration.as_micros() as u64, "finished");
        } else {
            tracing::warn!(
                ending = %report.ending,
                duration_us = duration.as_micros() as u64,
                timed_out = report.timed_out.is_some(),
                interrupted = report.interrupted.map(signal_name),
                stdout_too_large = report.stdout_too_large.is_some(),
                "failed"
            );
        }
        if report.stderr_dropped > 0 {
            tracing::debug!(
                dropped = report.stderr_dropped,
                "stderr over its cap: head and tail kept"
            );
        }
        if report.pipes_held_open && report.timed_out.is_some() {
            tracing::warn!(
                "processes outside the timed-out script's process group still held its pipes; \
                 closed, and the processes were left running"
            );
        } else if report.stdout_incomplete {
            tracing::warn!(
                "stdout still held open by a leftover process after the drain; the output may \
                 be cut and was not used"
            );
        } else if report.pipes_held_open {
            tracing::debug!("pipes still held open by a leftover process after the drain; closed");
        }
        Ok(report)
    }
}

/// The first of `shells` that is an executable regular file (symlinks followed), as
/// [`Runner::run_with_shell_fallback`] chooses it.
pub(crate) fn no_shebang_shell(shells: &[&'static str]) -> Option<&'static str> {
    use std::os::unix::fs::PermissionsExt as _;
    shells.iter().copied().find(|s| {
        std::fs::metadata(s).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_shell_present_is_chosen() {
        // bash first, then sh, as NO_SHEBANG_SHELLS lists them; a host without bash gets sh.
        assert_eq!(NO_SHEBANG_SHELLS, ["/bin/bash", "/bin/sh"]);
        assert_eq!(
            no_shebang_shell(&["/nonexistent/bash", "/bin/sh"]),
            Some("/bin/sh")
        );
        assert_eq!(
            no_shebang_shell(&["/bin/sh", "/nonexistent/bash"]),
            Some("/bin/sh")
        );
        // A directory or a file without an x bit is no shell.
        let plain = std::env::temp_dir().join(format!("hook-core-no-x-{}", std::process::id()));
        std::fs::write(&plain, "").unwrap();
        let plain: &'static str = String::from(plain.to_str().unwrap()).leak();
        assert_eq!(no_shebang_shell(&["/", plain, "/bin/sh"]), Some("/bin/sh"));
        std::fs::remove_file(plain).unwrap();
        assert_eq!(
            no_shebang_shell(&["/nonexistent/bash", "/nonexistent/sh"]),
            None
        );
        assert_eq!(no_shebang_shell(&[]), None);
    }
}
