//! How one fired event is shown, for `run` and `lifecycle`: [`Fired`] gathers what hook-core
//! returned (every script's report or error, a `.d` read error, a filter's result), and is
//! rendered as aligned text (one line per script: status, exit code or signal, duration, then
//! its stderr) or as a JSON object.

use std::path::{Path, PathBuf};

use hook_core::{Ending, Failure, FailurePolicy, HookError, Outcome, ScriptRun};

use serde::Serialize;

use crate::style::{self, Style};

/// What a filter event's scripts made of the document, when they all succeeded.
#[derive(Debug)]
pub(crate) enum FilterResult {
    /// No filter printed anything: libvirt keeps the original document.
    Unchanged,
    /// A filter's output replaces the document.
    Replaced {
        /// The script whose output it is.
        by: PathBuf,
        /// Every script whose output changed the document, in order (`by` is usually the
        /// last; it is not when it printed its input back unchanged).
        changed_by: Vec<PathBuf>,
        /// The replacement document.
        xml: Vec<u8>,
    },
}

/// One event, fired: what the scripts were given and what happened.
#[derive(Debug)]
pub(crate) struct Fired {
    /// The driver.
    pub(crate) driver: &'static str,
    /// argv\[1..4\]: object, op, sub-op, extra.
    pub(crate) args: [String; 4],
    /// Bytes on stdin, or `None` for `/dev/null`.
    pub(crate) stdin_len: Option<usize>,
    /// What a failure means to libvirt.
    pub(crate) policy: FailurePolicy,
    /// What libvirt does on a failure, in words.
    pub(crate) on_failure: &'static str,
    /// Every script that ran, in order.
    pub(crate) runs: Vec<ScriptRun>,
    /// Errors not tied to one script's run (an unreadable `.d`, an unusable filter output).
    pub(crate) other_errors: Vec<HookError>,
    /// The call failed.
    pub(crate) failed: bool,
    /// For filter events that succeeded.
    pub(crate) filter: Option<FilterResult>,
    /// Which document the scripts were fed, in words, when the caller says (`lifecycle`).
    pub(crate) document: Option<String>,
}

/// The signal that interrupted one of `runs` (Ctrl-C: `SIGINT`), if one did.
fn interruption(runs: &[ScriptRun]) -> Option<&'static str> {
    runs.iter().find_map(|r| match &r.error {
        Some(HookError::Interrupted { name, .. }) => Some(*name),
        _ => None,
    })
}

impl Fired {
    /// Builds a [`Fired`] from a call's result.
    pub(crate) fn new(
        driver: &'static str,
        args: [String; 4],
        stdin_len: Option<usize>,
        policy: FailurePolicy,
        on_failure: &'static str,
        result: Result<Outcome, Box<Failure>>,
    ) -> Fired {
        let mut fired = Fired {
            driver,
            args,
            stdin_len,
            policy,
            on_failure,
            runs: Vec::new(),
            other_errors: Vec::new(),
            failed: false,
            filter: None,
            document: None,
        };
        match result {
            Ok(outcome) => fired.runs = outcome.runs,
            Err(failure) => {
                let failure = *failure;
                fired.failed = true;
                fired.runs = failure.runs;
                fired.other_errors.extend(failure.dir_error);
            }
        }
        fired
    }

    /// The op (argv\[2\]).
    pub(crate) fn op(&self) -> &str {
        &self.args[1]
    }

    /// Whether the call would let the operation go on (no failure).
    pub(crate) fn proceeds(&self) -> bool {
        !self.failed
    }
}

/// The one-word status of a script's run.
fn status(run: &ScriptRun) -> &'static str {
    match (&run.report, &run.error) {
        (_, None) => "ok",
        (None, Some(_)) => "not started",
        (Some(_), Some(_)) => "FAILED",
    }
}

/// How a script's run ended, in a few words: `exit 0`, `SIGKILL`, `timed out after 2.00 s`.
fn ending(run: &ScriptRun) -> String {
    let Some(report) = &run.report else {
        return String::new();
    };
    if let Some(signal) = report.interrupted {
        let name = Ending::Signaled {
            signal,
            core_dumped: false,
        };
        return match report.ending {
            Ending::Exited(code) => format!("interrupted ({name}), exit {code}"),
            Ending::Signaled { .. } => format!("interrupted ({name}), killed by {}", report.ending),
        };
    }
    if let Some(after) = report.timed_out {
        // Killed only when a signal ended it: a script may trap SIGTERM and exit.
        return match report.ending {
            Ending::Exited(code) => format!(
                "timed out after {}, exit {code} after SIGTERM",
                style::duration(after)
            ),
            Ending::Signaled { .. } => {
                format!("timed out after {}, killed", style::duration(after))
            }
        };
    }
    let mut text = match report.ending {
        Ending::Exited(code) => format!("exit {code}"),
        Ending::Signaled { .. } => format!("killed by {}", report.ending),
    };
    if report.stdout_too_large.is_some() {
        text.push_str(", stdout over its cap");
    }
    text
}

/// The explanation for errors that are not "it exited non-zero / was killed / timed out".
fn error_detail(err: &HookError) -> Option<String> {
    match err {
        HookError::Exited { .. }
        | HookError::Signaled { .. }
        | HookError::TimedOut { .. }
        | HookError::Interrupted { started: true, .. } => None,
        HookError::NotStarted { reason, errno, .. } => Some(format!("{reason} ({errno})")),
        HookError::BadOutput { reason, .. } => Some(format!("printed unusable output: {reason}")),
        other => Some(other.to_string()),
    }
}

fn stderr_text(run: &ScriptRun) -> String {
    let bytes = match (&run.report, &run.error) {
        (Some(r), _) => r.stderr.as_slice(),
        (None, Some(e)) => e.stderr().unwrap_or_default(),
        (None, None) => &[],
    };
    String::from_utf8_lossy(bytes).trim_end().to_owned()
}

/// For a script that failed, the end of what it printed on stdout (many scripts print their
/// reason there), with a line saying how much came before it; `None` when it succeeded or
/// printed nothing.
fn stdout_tail(run: &ScriptRun) -> Option<String> {
    let report = run.report.as_ref()?;
    if run.succeeded() || report.stdout_tail.is_empty() {
        return None;
    }
    let tail = String::from_utf8_lossy(&report.stdout_tail);
    let tail = tail.trim_end();
    if tail.is_empty() {
        return None;
    }
    let before = report
        .stdout_len
        .saturating_sub(report.stdout_tail.len() as u64);
    Some(if before > 0 {
        format!("[... {before} earlier bytes of stdout not kept ...]\n{tail}")
    } else {
        tail.to_owned()
    })
}

/// The scripts' argv after the path, shell-quoted as libvirt quotes it.
fn argv_line(args: &[String; 4]) -> String {
    args.iter()
        .map(|a| hook_core::libvirt::shell_quote(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The event as text: a heading, one line per script (plus stderr), and the verdict.
pub(crate) fn text(f: &Fired, hooks_dir: &Path, st: Style) -> String {
    let stdin = match f.stdin_len {
        Some(n) => format!("{n} bytes on stdin"),
        None => "stdin from /dev/null".to_owned(),
    };
    let mut out = format!(
        "{}: {}\n",
        st.bold(&format!("{} {}", f.driver, f.op())),
        st.dim(&format!(
            "each script runs as `<script> {}`, {stdin}",
            argv_line(&f.args)
        ))
    );
    if let Some(document) = &f.document {
        out.push_str(&format!("  {}\n", st.dim(&format!("stdin: {document}"))));
    }
    let paths: Vec<String> = f
        .runs
        .iter()
        .map(|r| style::rel(&r.script, hooks_dir))
        .collect();
    let endings: Vec<String> = f.runs.iter().map(ending).collect();
    let pw = paths.iter().map(|p| p.chars().count()).max().unwrap_or(0);
    let sw = f.runs.iter().map(|r| status(r).len()).max().unwrap_or(0);
    let ew = endings.iter().map(|e| e.chars().count()).max().unwrap_or(0);
    for ((run, path), end) in f.runs.iter().zip(&paths).zip(&endings) {
        let word = style::pad(status(run), sw);
        let word = if run.succeeded() {
            st.green(&word)
        } else {
            st.red(&word)
        };
        let duration = run
            .report
            .as_ref()
            .map(|r| style::duration(r.duration))
            .unwrap_or_default();
        let line = format!(
            "  {word} {}  {}  {}",
            style::pad(path, pw),
            style::pad(end, ew),
            st.dim(&duration)
        );
        out.push_str(line.trim_end());
        out.push('\n');
        let indent = " ".repeat(3 + sw);
        if let Some(detail) = run.error.as_ref().and_then(error_detail) {
            out.push_str(&format!("{indent}{}\n", st.red(&detail)));
        }
        let stderr = stderr_text(run);
        for (i, line) in stderr.lines().enumerate() {
            let label = if i == 0 { "stderr: " } else { "        " };
            out.push_str(&format!("{indent}{}\n", st.dim(&format!("{label}{line}"))));
        }
        if let Some(tail) = stdout_tail(run) {
            for (i, line) in tail.lines().enumerate() {
                let label = if i == 0 { "stdout: " } else { "        " };
                out.push_str(&format!("{indent}{}\n", st.dim(&format!("{label}{line}"))));
            }
        }
    }
    for e in &f.other_errors {
        out.push_str(&format!("  {} {e}\n", st.red("error")));
    }
    match &f.filter {
        Some(FilterResult::Unchanged) => out.push_str(
            "  output: unchanged (no filter printed anything; libvirt keeps the original XML)\n",
        ),
        Some(FilterResult::Replaced {
            by,
            xml,
            changed_by,
        }) => {
            out.push_str(&format!(
                "  output: {} bytes of XML from {} replace the original\n",
                xml.len(),
                style::rel(by, hooks_dir)
            ));
            let names: Vec<String> = changed_by
                .iter()
                .map(|p| style::rel(p, hooks_dir))
                .collect();
            let changed = match names.as_slice() {
                [] => "no script changed the XML (the output is the input, unchanged)".to_owned(),
                [one] => format!("changed by {one}"),
                [first @ .., last] => format!("changed by {}, then {last}", first.join(", ")),
            };
            out.push_str(&format!("          {changed}\n"));
        }
        None => {}
    }
    out.push_str(&verdict(f, st));
    out.push('\n');
    out
}

fn verdict(f: &Fired, st: Style) -> String {
    let n = f.runs.len();
    let scripts = |n: usize| format!("{n} script{}", if n == 1 { "" } else { "s" });
    if !f.failed {
        if n == 0 {
            return format!(
                "  result: nothing ran (no {} script installed): the event would proceed",
                f.driver
            );
        }
        let all = if n == 1 {
            "1 script".to_owned()
        } else {
            format!("all {}", scripts(n))
        };
        return format!(
            "  result: {}",
            st.green(&format!("{all} succeeded: the event would proceed"))
        );
    }
    if let Some(signal) = interruption(&f.runs) {
        return format!(
            "  result: {}",
            st.red(&format!(
                "interrupted by {signal}: forwarded to the running script's process group; no further script was started"
            ))
        );
    }
    let bad = f.runs.iter().filter(|r| !r.succeeded()).count();
    let what = if n == 1 && bad == 1 {
        "the script failed".to_owned()
    } else if bad > 0 {
        format!("{bad} of {} failed", scripts(n))
    } else {
        "the call failed".to_owned()
    };
    match f.policy {
        FailurePolicy::Ignore => format!(
            "  result: {} (libvirt ignores this failure: it only logs it)",
            st.red(&what)
        ),
        _ => format!("  result: {}: {}", st.red(&what), f.on_failure),
    }
}

/// One fired event, as `run --json` prints it and `lifecycle --json` lists it.
#[derive(Serialize)]
pub(crate) struct FiredJson<'a> {
    driver: &'a str,
    /// Which document the scripts were fed, in words (`lifecycle` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    document: Option<&'a str>,
    args: &'a [String; 4],
    stdin_bytes: Option<usize>,
    scripts: Vec<ScriptJson>,
    errors: Vec<String>,
    result: &'static str,
    proceeds: bool,
    on_failure: &'static str,
    libvirt_on_failure: &'a str,
    output: Option<OutputJson>,
}

/// One script of a fired event.
#[derive(Serialize)]
struct ScriptJson {
    path: String,
    status: &'static str,
    exit_code: Option<i32>,
    signal: Option<&'static str>,
    timed_out: bool,
    duration_ms: Option<f64>,
    stderr: String,
    stderr_dropped: u64,
    stdout_tail: Option<String>,
    error: Option<String>,
}

/// What a filter event's scripts made of the document.
#[derive(Serialize)]
struct OutputJson {
    changed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    changed_by: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    xml: Option<String>,
}

/// The event as a JSON object.
pub(crate) fn json(f: &Fired) -> FiredJson<'_> {
    let scripts = f
        .runs
        .iter()
        .map(|run| {
            let report = run.report.as_ref();
            let (exit_code, signal) = match report.map(|r| r.ending) {
                Some(Ending::Exited(c)) => (Some(c), None),
                Some(e @ Ending::Signaled { .. }) => (None, e.signal_name()),
                None => (None, None),
            };
            ScriptJson {
                path: run.script.display().to_string(),
                status: match status(run) {
                    "FAILED" => "failed",
                    "not started" => "not-started",
                    _ => "ok",
                },
                exit_code,
                signal,
                timed_out: report.is_some_and(|r| r.timed_out.is_some()),
                duration_ms: report.map(|r| r.duration.as_micros() as f64 / 1000.0),
                stderr: stderr_text(run),
                stderr_dropped: report.map_or(0, |r| r.stderr_dropped),
                stdout_tail: stdout_tail(run),
                error: run.error.as_ref().map(|e| e.to_string()),
            }
        })
        .collect();
    let output = f.filter.as_ref().map(|r| match r {
        FilterResult::Unchanged => OutputJson {
            changed: false,
            by: None,
            changed_by: None,
            xml: None,
        },
        FilterResult::Replaced {
            by,
            xml,
            changed_by,
        } => OutputJson {
            changed: true,
            by: Some(by.display().to_string()),
            changed_by: Some(changed_by.iter().map(|p| p.display().to_string()).collect()),
            xml: Some(String::from_utf8_lossy(xml).into_owned()),
        },
    });
    let result = if interruption(&f.runs).is_some() {
        "interrupted"
    } else if f.failed {
        "failed"
    } else if f.runs.is_empty() {
        "nothing-ran"
    } else {
        "ok"
    };
    FiredJson {
        driver: f.driver,
        document: f.document.as_deref(),
        args: &f.args,
        stdin_bytes: f.stdin_len,
        scripts,
        errors: f.other_errors.iter().map(|e| e.to_string()).collect(),
        result,
        proceeds: f.proceeds(),
        on_failure: f.policy.as_str(),
        libvirt_on_failure: f.on_failure,
        output,
    }
}
