//! The public entry point for running one script: [`Runner`] (the environment, built once, and
//! default [`Limits`]), [`Invocation`] (what to run, with what input) and the glue that takes an
//! invocation through [`crate::process::spawn`] and [`crate::process::pump`] into a [`Report`], with one tracing
//! span per run.

use std::path::Path;
use std::time::Instant;

use crate::error::{Args, HookError};
use crate::process::env::ScriptEnv;
use crate::process::limits::Limits;
use crate::process::report::Report;
use crate::process::{pump, spawn};

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

/// Runs scripts with one environment and default limits. Cheap to share between threads.
#[derive(Clone, Debug)]
pub struct Runner {
    env: ScriptEnv,
    limits: Limits,
}

impl Default for Runner {
    fn default() -> Self {
        Runner::new(ScriptEnv::libvirt(), Limits::default())
    }
}

impl Runner {
    /// A runner with this environment and these default limits.
    pub fn new(env: ScriptEnv, limits: Limits) -> Self {
        Runner { env, limits }
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
    /// script the system refused to execute, or a failing system call (the script, if started,
    /// was still reaped). A script that ran and failed is an `Ok` report: [`Report::check`]
    /// turns it into its error.
    pub fn run_with(&self, inv: &Invocation<'_>, limits: &Limits) -> Result<Report, HookError> {
        let argv = spawn::c_argv(inv.script, inv.args)?;
        let span = tracing::debug_span!(
            "hook_script",
            script = %inv.script.display(),
            object = inv.args.first().copied().unwrap_or(""),
            op = inv.args.get(1).copied().unwrap_or(""),
        );
        let _entered = span.enter();
        let start = Instant::now();
        let child = match spawn::start(&argv, &self.env, inv.script, inv.args, inv.stdin.is_some())
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "could not start");
                return Err(e);
            }
        };
        let pid = child.pid;
        tracing::debug!(pid = pid.as_raw(), "started");
        let p = pump::pump(child, inv.stdin.unwrap_or(&[]), inv.capture_stdout, limits);
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
        let (stderr, stderr_dropped) = p.stderr.into_marked("stderr");
        let report = Report {
            script: inv.script.to_owned(),
            args,
            pid: pid.as_raw() as u32,
            ending: p.ending,
            stdout: p.stdout,
            stdout_len: p.stdout_len,
            stdout_too_large: p.stdout_too_large,
            stdout_tail: p.stdout_tail.into_bytes(),
            stderr,
            stderr_dropped,
            stdin_unread: p.stdin_unread,
            duration,
            timed_out: p.timed_out,
            pipes_held_open: p.pipes_held_open,
        };
        if report.success() {
            tracing::debug!(ending = %report.ending, duration_us = duration.as_micros() as u64, "finished");
        } else {
            tracing::warn!(
                ending = %report.ending,
                duration_us = duration.as_micros() as u64,
                timed_out = report.timed_out.is_some(),
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
        } else if report.pipes_held_open {
            tracing::debug!("pipes still held open by a leftover process after the drain; closed");
        }
        Ok(report)
    }
}
