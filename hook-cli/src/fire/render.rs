//! How one fired event is shown, for `run` and `lifecycle`: [`Fired`] gathers what hook-core
//! returned (every script's report or error, a `.d` read error, a filter's result) and what did
//! not run (the rest of a per-object directory after a failure, everything after an
//! interruption), and is rendered as aligned text or as a JSON object. The text is written in
//! three parts so that a command can stream it ([`Stream`]): the event's [`heading`], one
//! [`script_lines`] per script as it ends (status, exit code or signal, duration, then its
//! stderr), and the [`tail`] (what did not run, errors, a filter's result, the verdict).

use std::io::Write as _;
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

/// Who runs the event's scripts, as libvirt would find them: libvirt alone (its main script and
/// the `.d` scripts), or a main hook that runs the per-object scripts in its place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RunBy {
    /// libvirt: the main script, then `<driver>.d/*`.
    Libvirt,
    /// virt-hook's dispatcher is the main hook: its per-object scripts, then `<driver>.d/*`.
    Dispatcher,
    /// The VFIO guides' hook helper is the main hook: run here as the dispatcher would.
    HookHelper,
}

impl RunBy {
    /// The name in `--json`: `libvirt`, `dispatcher`, `hook-helper`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RunBy::Libvirt => "libvirt",
            RunBy::Dispatcher => "dispatcher",
            RunBy::HookHelper => "hook-helper",
        }
    }
}

/// A script that was to run and did not.
#[derive(Debug)]
pub(crate) struct NotRun {
    /// The script.
    pub(crate) script: PathBuf,
    /// Why not.
    pub(crate) why: NotRunWhy,
}

/// Why a script did not run.
#[derive(Debug)]
pub(crate) enum NotRunWhy {
    /// A script before it in its per-object directory failed (that directory stops there).
    AfterFailure(PathBuf),
    /// The call was interrupted (by this signal) before its turn.
    Interrupted(&'static str),
    /// The dispatcher refuses the event (a problem of its own, such as its settings file).
    Refused,
}

/// Where the per-object scripts of an event were looked for, and how many there are.
#[derive(Debug)]
pub(crate) struct ObjectDir {
    /// `<driver>.d/<object>/<op>/<subop>`.
    pub(crate) path: PathBuf,
    /// How many scripts it holds (0: nothing runs for the object at this event); `None` when
    /// something is there that cannot be read (an error of the call).
    pub(crate) scripts: Option<usize>,
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
    /// Who runs the scripts.
    pub(crate) run_by: RunBy,
    /// The per-object path looked at (the dispatcher or the helper is the main hook); `None`
    /// when libvirt alone runs the scripts or a word is no plain file name.
    pub(crate) object_dir: Option<ObjectDir>,
    /// The scripts that were to run and did not, in run order.
    pub(crate) not_run: Vec<NotRun>,
    /// Problems of the dispatcher's own (its settings), each one line; a refusal fails the call.
    pub(crate) problems: Vec<String>,
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
            run_by: RunBy::Libvirt,
            object_dir: None,
            not_run: Vec::new(),
            problems: Vec::new(),
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

    /// The signal that interrupted the call (Ctrl-C: `SIGINT`), if one did.
    pub(crate) fn interrupted_by(&self) -> Option<&'static str> {
        interruption(&self.runs)
    }

    /// The object (argv\[1\]).
    fn object(&self) -> &str {
        &self.args[0]
    }
}

/// Where `run` and `lifecycle` write their text as it comes: stdout, or stderr when stdout
/// carries a filter's document. Each write is whole lines, flushed at once, terminal or not.
#[derive(Clone, Debug)]
pub(crate) struct Stream {
    /// stderr instead of stdout.
    pub(crate) stderr: bool,
    /// The hooks directory, to show paths relative to it.
    pub(crate) hooks_dir: PathBuf,
    /// Colours for that stream.
    pub(crate) style: Style,
}

impl Stream {
    /// A stream to stdout (`stderr` false) or stderr, coloured as that stream allows.
    pub(crate) fn new(hooks_dir: &Path, stderr: bool) -> Stream {
        let style = if stderr {
            Style::for_stream(&std::io::stderr())
        } else {
            Style::for_stream(&std::io::stdout())
        };
        Stream {
            stderr,
            hooks_dir: hooks_dir.to_owned(),
            style,
        }
    }

    /// Writes `text` and flushes it. A closed pipe is not worth a panic: the scripts go on.
    pub(crate) fn write(&self, text: &str) {
        if self.stderr {
            let mut e = std::io::stderr().lock();
            let _ = e.write_all(text.as_bytes()).and_then(|()| e.flush());
        } else {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(text.as_bytes()).and_then(|()| o.flush());
        }
    }
}

/// The one-word status of a script's run.
pub(crate) fn status(run: &ScriptRun) -> &'static str {
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

/// The width of the status column: `skipped`, `FAILED` (`not started` overflows it).
const STATUS_WIDTH: usize = 7;

/// The event's heading: what each script is given, and who runs the scripts.
pub(crate) fn heading(f: &Fired, hooks_dir: &Path, st: Style) -> String {
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
    let main = match f.run_by {
        RunBy::Libvirt => None,
        RunBy::Dispatcher => Some("virt-hook's dispatcher"),
        RunBy::HookHelper => Some("the hook helper (run here as virt-hook's dispatcher would)"),
    };
    if let (Some(main), Some(dir)) = (main, &f.object_dir) {
        let rel = style::rel(&dir.path, hooks_dir);
        out.push_str(&format!(
            "  {}\n",
            st.dim(&format!(
                "main hook: {main}: runs {rel}, then libvirt runs {}.d/*",
                f.driver
            ))
        ));
        if dir.scripts == Some(0) {
            out.push_str(&format!(
                "  no script for {} at this event (nothing in {rel}): nothing runs for {} in the main hook's place\n",
                f.object(),
                f.object()
            ));
        }
    }
    for p in &f.problems {
        out.push_str(&format!("  {} {p}\n", st.red("error")));
    }
    out
}

/// The width of the path column for these scripts.
pub(crate) fn path_width<'a>(
    scripts: impl IntoIterator<Item = &'a Path>,
    hooks_dir: &Path,
) -> usize {
    scripts
        .into_iter()
        .map(|p| style::rel(p, hooks_dir).chars().count())
        .max()
        .unwrap_or(0)
}

/// One script's lines: status, path, how it ended, duration; then why it failed, its stderr,
/// the end of its stdout when it failed, and a process it left running.
pub(crate) fn script_lines(run: &ScriptRun, hooks_dir: &Path, st: Style, width: usize) -> String {
    let mut out = String::new();
    let path = style::rel(&run.script, hooks_dir);
    let end = ending(run);
    let word = style::pad(status(run), STATUS_WIDTH);
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
        style::pad(&path, width),
        style::pad(&end, "exit 0".len()),
        st.dim(&duration)
    );
    out.push_str(line.trim_end());
    out.push('\n');
    let indent = " ".repeat(3 + STATUS_WIDTH);
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
    if left_running(run) {
        out.push_str(&format!(
            "{indent}{}\n",
            st.yellow("left a process running that held its output open: not waited for")
        ));
    }
    out
}

/// Whether something the script started still held its output open when the drain ended.
fn left_running(run: &ScriptRun) -> bool {
    run.report.as_ref().is_some_and(|r| r.pipes_held_open)
}

/// Why a script did not run, in words.
fn not_run_text(why: &NotRunWhy, hooks_dir: &Path) -> (&'static str, String) {
    match why {
        NotRunWhy::AfterFailure(failed) => (
            "skipped",
            format!(
                "after {} failed: its directory stops at the first failure",
                failed.file_name().map_or_else(
                    || style::rel(failed, hooks_dir),
                    |n| n.to_string_lossy().into_owned()
                )
            ),
        ),
        NotRunWhy::Interrupted(signal) => ("not started", format!("interrupted by {signal}")),
        NotRunWhy::Refused => (
            "not run",
            "the dispatcher refuses this event (see the error above)".to_owned(),
        ),
    }
}

/// The line of a script that did not run: `skipped PATH  after 10-x failed: …`.
pub(crate) fn not_run_line(n: &NotRun, hooks_dir: &Path, st: Style, width: usize) -> String {
    let (word, why) = not_run_text(&n.why, hooks_dir);
    let line = format!(
        "  {} {}  {}",
        st.yellow(&style::pad(word, STATUS_WIDTH)),
        style::pad(&style::rel(&n.script, hooks_dir), width),
        st.dim(&why)
    );
    format!("{}\n", line.trim_end())
}

/// The end of the event: what did not run (but for the scripts skipped after a failure, which
/// [`not_run_line`] showed as it happened), errors, a filter's result, the verdict.
pub(crate) fn tail(f: &Fired, hooks_dir: &Path, st: Style, width: usize) -> String {
    let mut out = String::new();
    // Those skipped after a failure were written right after it (see `fire`).
    for n in f
        .not_run
        .iter()
        .filter(|n| !matches!(n.why, NotRunWhy::AfterFailure(_)))
    {
        out.push_str(&not_run_line(n, hooks_dir, st, width));
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
            if f.object_dir.is_some() {
                return format!(
                    "  result: nothing ran for {} (no script for it at this event, nor in {}.d): the event would proceed",
                    f.object(),
                    f.driver
                );
            }
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
        let not = f.not_run.len();
        let rest = if not == 0 {
            "no further script was started".to_owned()
        } else {
            format!("{} not started", scripts(not))
        };
        return format!(
            "  result: {}",
            st.red(&format!(
                "interrupted by {signal}: forwarded to the running script's process group; {rest}"
            ))
        );
    }
    let bad = f.runs.iter().filter(|r| !r.succeeded()).count();
    let mut what = if n == 1 && bad == 1 {
        "the script failed".to_owned()
    } else if bad > 0 {
        format!("{bad} of {} failed", scripts(n))
    } else if !f.problems.is_empty() {
        "the dispatcher refused the event".to_owned()
    } else {
        "the call failed".to_owned()
    };
    let skipped = f
        .not_run
        .iter()
        .filter(|r| matches!(r.why, NotRunWhy::AfterFailure(_)))
        .count();
    if skipped > 0 {
        what.push_str(&format!(", {} skipped", scripts(skipped)));
    }
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
    /// Who runs the scripts: `libvirt`, `dispatcher`, `hook-helper`.
    run_by: &'static str,
    /// The per-object path looked at, when the dispatcher or the helper runs the scripts.
    #[serde(skip_serializing_if = "Option::is_none")]
    object_dir: Option<ObjectDirJson>,
    /// The scripts that were to run and did not, in run order.
    not_run: Vec<NotRunJson>,
}

/// Where an event's per-object scripts are, and how many.
#[derive(Serialize)]
struct ObjectDirJson {
    path: String,
    scripts: Option<usize>,
}

/// A script that did not run.
#[derive(Serialize)]
struct NotRunJson {
    path: String,
    /// `skipped` (after a failure in its directory), `not-started` (interrupted), `refused`.
    status: &'static str,
    reason: String,
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
    /// Something it started still held its output open when the drain ended: left running.
    left_running: bool,
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
                left_running: left_running(run),
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
        errors: f
            .problems
            .iter()
            .cloned()
            .chain(f.other_errors.iter().map(|e| e.to_string()))
            .collect(),
        result,
        proceeds: f.proceeds(),
        on_failure: f.policy.as_str(),
        libvirt_on_failure: f.on_failure,
        output,
        run_by: f.run_by.as_str(),
        object_dir: f.object_dir.as_ref().map(|d| ObjectDirJson {
            path: d.path.display().to_string(),
            scripts: d.scripts,
        }),
        not_run: f
            .not_run
            .iter()
            .map(|n| NotRunJson {
                path: n.script.display().to_string(),
                status: match n.why {
                    NotRunWhy::AfterFailure(_) => "skipped",
                    NotRunWhy::Interrupted(_) => "not-started",
                    NotRunWhy::Refused => "refused",
                },
                reason: match &n.why {
                    NotRunWhy::AfterFailure(p) => format!(
                        "{} failed before it: a per-object directory stops at its first failure",
                        p.display()
                    ),
                    NotRunWhy::Interrupted(signal) => format!("interrupted by {signal}"),
                    NotRunWhy::Refused => "the dispatcher refuses this event".to_owned(),
                },
            })
            .collect(),
    }
}
