//! Dispatch mode: `virt-hook` as libvirt's own main hook script. libvirt runs
//! `<hooks dir>/<driver> <object> <op> <subop> <extra>` with the document on stdin; when that
//! file is virt-hook (a symlink to the binary, whose argv\[0\] names the driver, or a one-line
//! wrapper running `virt-hook dispatch <driver> "$@"`), this module reads the document
//! (bounded), runs the per-object scripts `<driver>.d/<object>/<op>/<subop>/` through hook-core
//! ([`Layout::PerObjectOnly`]: libvirt runs the main script and the `.d` scripts itself), and
//! answers libvirt:
//!
//! - exit 0 when they all succeeded (or none is installed), 1 when one failed, with one short
//!   line on stderr naming the script, how it failed and the tail of what it wrote (libvirt
//!   puts it at the end of the error `virsh` shows); 2 when libvirt's call itself is malformed;
//! - for filter events (qemu/libxl `migrate`, qemu `restore`) the chained result on stdout, and
//!   nothing when no script changed the document (libvirt then keeps its own);
//! - one line per script run in the system log ([`log`]).
//!
//! The scripts never hold libvirt's pipes: hook-core gives each its own, stops reading them
//! after a short drain once it exits, and kills a script that outlives its timeout with its
//! process group, so libvirt never waits for what a script left behind. The settings come from
//! `<hooks dir>/virt-hook.toml` ([`config`]); `docs/dispatcher.md` is the administrator's guide.

mod config;
mod log;

use std::borrow::Cow;
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use hook_core::xml::{Document, Root};
use hook_core::{
    EventSpec, Failure, FailurePolicy, HookError, HookEvent, Hooks, Layout, LibvirtVersion, Limits,
    Outcome, ScriptRun, SubOp,
};

use crate::ctx::Output;
use crate::event::AnyEvent;
use log::{Logger, Record, Severity};

/// The most characters of a script's stderr shown in the failure line.
const TAIL_CHARS: usize = 300;

/// One event as libvirt called the main script: the words exactly as given.
#[derive(Debug)]
struct Called<'a> {
    driver: &'static str,
    object: &'a str,
    op: &'a str,
    subop: SubOp,
    extra: &'a str,
    uses_output: bool,
    on_failure: FailurePolicy,
}

impl HookEvent for Called<'_> {
    fn driver(&self) -> &'static str {
        self.driver
    }

    fn spec(&self) -> EventSpec<'_> {
        EventSpec {
            op: self.op,
            subop: self.subop,
            extra: Some(self.extra),
            uses_output: self.uses_output,
            on_failure: self.on_failure,
            rescans_first: false,
        }
    }
}

/// A usage error (libvirt's call is not what libvirt sends): exit status 2.
fn usage(msg: String) -> Output {
    Output {
        stderr: format!("virt-hook: {msg}\n"),
        code: 2,
        ..Output::default()
    }
}

/// A failure libvirt shows to the administrator: one line, exit status 1.
fn failure_line(line: &str) -> Output {
    Output {
        stderr: format!("virt-hook: {line}\n"),
        code: 1,
        ..Output::default()
    }
}

/// The settings file's name in the hooks directory.
pub(crate) const CONFIG_FILE: &str = config::FILE_NAME;

pub(crate) use config::{ConfigError, Problem, Settings};

/// The dispatcher's settings for `driver`'s `op` from `<hooks dir>/virt-hook.toml` (the
/// defaults without the file), as the dispatcher loads them for that event, or why the file
/// cannot be used: for `status`, and for `run` and `lifecycle`, which run the per-object
/// scripts in the dispatcher's place.
pub(crate) fn settings(hooks_dir: &Path, driver: &str, op: &str) -> Result<Settings, ConfigError> {
    config::load(hooks_dir, driver, op, &known_op)
}

/// The settings the dispatcher runs scripts with when the file cannot be used for an event it
/// must not fail ([`OwnProblem::RunAnyway`]).
pub(crate) fn default_settings() -> Settings {
    config::defaults()
}

pub(crate) use config::LogTarget;

/// The socket the dispatcher's records would go to now with `settings` (the first that
/// accepts a connection, as the dispatcher chooses it), or `None`: they would be dropped.
pub(crate) fn log_destination(settings: &Settings) -> Option<std::path::PathBuf> {
    Logger::new(settings.log, settings.log_socket.as_deref()).destination()
}

/// What is wrong with `<hooks dir>/virt-hook.toml`, if anything, as one line (see
/// [`config_error`]). `install` checks an existing settings file with it before it switches
/// the hook.
#[allow(dead_code)] // until `install` calls it
pub(crate) fn config_problem(hooks_dir: &Path) -> Option<String> {
    config_error(hooks_dir).map(|e| e.to_string())
}

/// What is wrong with `<hooks dir>/virt-hook.toml`, if anything: unsafe, unreadable or
/// malformed ([`Problem`]). Every section is checked whatever the event, so one load says it
/// for all.
pub(crate) fn config_error(hooks_dir: &Path) -> Option<ConfigError> {
    config::load(hooks_dir, hook_qemu::NAME, "prepare", &known_op).err()
}

/// Whether driver `d` has an operation named `o` (for the settings file's sections). The
/// release emulated plays no part: only the operation words are checked.
fn known_op(d: &str, o: &str) -> Result<(), String> {
    AnyEvent::parse(d, o, None, LibvirtVersion::NEWEST)
        .map(|_| ())
        .map_err(|e| e.0)
}

/// What the dispatcher does with a problem of its own (the settings file, the document, a
/// per-object directory it cannot read, a word it cannot use) for an event whose scripts
/// exist, decided by what libvirt does when the event's hook fails: the driver crates'
/// [`FailurePolicy`] for the event (`docs/dispatcher.md` has the table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OwnProblem {
    /// Fail the event with the one-line reason, running nothing: `prepare`, `start`, the
    /// filters, every event whose failure aborts an operation before it changes anything
    /// ([`FailurePolicy::Abort`]), and an operation this version does not know.
    Refuse,
    /// Run the scripts anyway (with the default settings, without the document) or, when none
    /// can run, answer success; the problem is logged at error severity. A script that fails
    /// still fails the event. For `reconnect` and `started`, whose failure makes libvirt kill
    /// a running guest ([`FailurePolicy::StopGuest`]), and for `stopped`, `release` and the
    /// daemon's events, whose failure libvirt ignores, so that cleanup scripts (giving a GPU
    /// back to the host) still run ([`FailurePolicy::Ignore`]).
    RunAnyway,
}

impl OwnProblem {
    /// The rule for an event libvirt treats as `policy` on a failure.
    pub(crate) fn of(policy: FailurePolicy) -> OwnProblem {
        match policy {
            FailurePolicy::Abort => OwnProblem::Refuse,
            FailurePolicy::StopGuest | FailurePolicy::Ignore => OwnProblem::RunAnyway,
        }
    }
}

/// The driver crates' spec for `driver op`: whether the output is used and what libvirt does
/// on a failure. An operation they do not know (a newer libvirt) has its scripts run, its
/// output unused, and is treated as aborting (the careful choice for an unknown event).
fn classify(driver: &str, op: &str) -> (bool, FailurePolicy) {
    match AnyEvent::parse(driver, op, None, LibvirtVersion::NEWEST) {
        Ok(event) => (event.spec().uses_output, event.spec().on_failure),
        Err(_) => (false, FailurePolicy::Abort),
    }
}

/// A problem of the dispatcher's own, handled by the event's [`OwnProblem`] rule: logged at
/// error severity either way; `Some` (the answer: exit 1 with the line) when the event is
/// refused, `None` when the dispatcher goes on (`then` says how, in the log).
fn own_problem(
    rule: OwnProblem,
    logger: &Logger,
    event: &EventWords,
    problem: &str,
    then: &str,
) -> Option<Output> {
    let line = match rule {
        OwnProblem::Refuse => format!("{problem}; no script was run"),
        OwnProblem::RunAnyway => format!("{problem}; {then}"),
    };
    let mut fields = event.fields.clone();
    fields.push(("VIRT_HOOK_REASON", line.clone()));
    logger.log(&Record {
        message: format!("{}: {line}", event.text),
        severity: Severity::Error,
        fields,
    });
    (rule == OwnProblem::Refuse).then(|| failure_line(&line))
}

/// libvirt's call as the log shows it: `qemu win10 prepare begin -`, and the journal fields
/// naming the event (`VIRT_HOOK_DRIVER`, `_OBJECT`, `_OP`, `_SUBOP`), which every record of
/// the call carries, so that `journalctl VIRT_HOOK_OBJECT=win10` (and `virt-hook log win10`)
/// also finds the dispatcher's own problems.
#[derive(Debug)]
struct EventWords {
    text: String,
    fields: Vec<(&'static str, String)>,
}

impl EventWords {
    /// The words of `driver`'s call with `args` (`object op subop extra`; missing ones empty),
    /// bytes that are not UTF-8 replaced.
    fn of(driver: &str, args: &[OsString]) -> EventWords {
        let word = |i: usize| {
            args.get(i)
                .map(|w| w.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        EventWords {
            text: format!(
                "{driver} {}",
                args.iter()
                    .map(|w| w.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            fields: vec![
                ("VIRT_HOOK_DRIVER", driver.to_owned()),
                ("VIRT_HOOK_OBJECT", word(0)),
                ("VIRT_HOOK_OP", word(1)),
                ("VIRT_HOOK_SUBOP", word(2)),
            ],
        }
    }
}

/// Runs `driver`'s per-object scripts for the event in `args` (`object op subop extra`, as
/// libvirt passes them, never read as options) from `hooks_dir`, reading the document from
/// stdin ([`dispatch_event`]). A panic on the way (a bug of virt-hook's) is a problem of the
/// dispatcher's own like any other, answered by the event's [`OwnProblem`] rule
/// ([`panicked`]), not by std's status 101, which libvirt would take as a failure of any
/// event, a `reconnect` included.
pub(crate) fn dispatch(hooks_dir: &Path, driver: &str, args: &[OsString]) -> Output {
    std::panic::catch_unwind(|| dispatch_event(hooks_dir, driver, args))
        .unwrap_or_else(|payload| panicked(driver, args, payload.as_ref()))
}

/// The answer to a panic in [`dispatch_event`], which unwound through it (a script it was
/// running was killed and reaped on the way, as hook-core does): logged at error severity
/// with the event's words and the panic's message; by the event's [`OwnProblem`] rule, the
/// event is refused (exit 1 with the line) or answered with success, so that a bug of ours
/// never makes libvirt kill a running guest. Either way the scripts the panic came before did
/// not run, and the record says so.
fn panicked(driver: &str, args: &[OsString], payload: &(dyn std::any::Any + Send)) -> Output {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    let op = args.get(1).map(|w| w.to_string_lossy()).unwrap_or_default();
    let rule = OwnProblem::of(classify(driver, &op).1);
    let event_words = EventWords::of(driver, args);
    // The settings may be what it tripped on: the default log target.
    let logger = Logger::new(config::LogTarget::Auto, None);
    let problem = format!(
        "internal error (a bug in virt-hook {}, please report it): {message}",
        env!("CARGO_PKG_VERSION")
    );
    own_problem(
        rule,
        &logger,
        &event_words,
        &problem,
        "libvirt is answered with success; scripts not run yet were not run",
    )
    .unwrap_or_default()
}

/// [`dispatch`]'s work, which a panic may interrupt.
///
/// The order is what makes a problem of the dispatcher's own change nothing for an event that
/// has no scripts: first the call's words, then whether `<driver>.d/<object>/<op>/<subop>` has
/// anything to run (nothing: exit 0, with neither the settings nor stdin read), then the
/// settings, then the document. A problem at any step is handled by the event's
/// [`OwnProblem`] rule.
fn dispatch_event(hooks_dir: &Path, driver: &str, args: &[OsString]) -> Output {
    let driver = match crate::drivers::known(driver) {
        Ok(d) => d,
        Err(e) => return usage(e),
    };
    let [object, op, subop, extra] = args else {
        return usage(format!(
            "{driver} hook called with {} argument{}; libvirt passes 4: OBJECT OP SUBOP EXTRA",
            args.len(),
            if args.len() == 1 { "" } else { "s" }
        ));
    };
    let subop: SubOp = match subop.to_str().unwrap_or("\u{fffd}").parse() {
        Ok(s) => s,
        Err(e) => return usage(format!("{e}")),
    };
    let lossy = |w: &OsString| w.to_string_lossy().into_owned();
    let (uses_output, on_failure) = classify(driver, &lossy(op));
    let rule = OwnProblem::of(on_failure);
    let event_words = EventWords::of(driver, args);
    let show = |p: &Path| shown(hooks_dir, p);

    // Anything to run? Nothing at the path (or a word that is no plain file name: replacing
    // bytes that are not UTF-8 changes no `/` or `.`, so the lossy words judge that): libvirt
    // proceeds, whatever state the settings file or stdin is in.
    let d_dir = hooks_dir.join(format!("{driver}.d"));
    if hook_core::layout::object_path(&d_dir, &lossy(object), &lossy(op), subop.as_str()).is_none()
    {
        return Output::default();
    }
    let path = d_dir.join(object).join(op).join(subop.as_str());
    let scripts = match hook_core::discover::object_scripts(&path) {
        Ok(scripts) if scripts.is_empty() => return Output::default(),
        Ok(scripts) => scripts,
        Err(e) => {
            // The settings only say where the record goes.
            let logger = match config::load(hooks_dir, driver, &lossy(op), &known_op) {
                Ok(s) => Logger::new(s.log, s.log_socket.as_deref()),
                Err(_) => Logger::new(config::LogTarget::Auto, None),
            };
            let problem = format!("cannot read {}: {e}", show(&path));
            return own_problem(
                rule,
                &logger,
                &event_words,
                &problem,
                "none of its scripts can run",
            )
            .unwrap_or_default();
        }
    };
    // libvirt's words are UTF-8 (an operation is one of its fixed words; a name comes from an
    // XML document, and libxml2 refuses any other encoding), so a word that is not came from
    // some other caller, and the scripts it names cannot be given it.
    let (Some(object), Some(op), Some(extra)) = (object.to_str(), op.to_str(), extra.to_str())
    else {
        let (n, word) = [(1, object), (2, op), (4, extra)]
            .into_iter()
            .find(|(_, w)| w.to_str().is_none())
            .map(|(n, w)| (n, lossy(w)))
            .unwrap_or_default();
        let problem = format!("argument {n} ({word}) is not UTF-8, which libvirt never sends");
        let logger = Logger::new(config::LogTarget::Auto, None);
        return own_problem(
            rule,
            &logger,
            &event_words,
            &problem,
            "none of the scripts can run",
        )
        .unwrap_or_default();
    };
    let called = Called {
        driver,
        object,
        op,
        subop,
        extra,
        uses_output,
        on_failure,
    };

    let (settings, settings_error) = match config::load(hooks_dir, driver, op, &known_op) {
        Ok(s) => (s, None),
        // The defaults, including the log target: the file could not say otherwise.
        Err(e) => (config::defaults(), Some(e)),
    };
    let logger = Logger::new(settings.log, settings.log_socket.as_deref());
    if let Some(e) = settings_error
        && let Some(out) = own_problem(
            rule,
            &logger,
            &event_words,
            &e.to_string(),
            "the scripts run with the default settings",
        )
    {
        // Running without the timeout the administrator set, or with one that kills a slow
        // but healthy script half-way, is worse than a start that fails with the reason.
        return out;
    }
    // The one path this event runs was looked at above: no scan of every guest's directories.
    let hooks = Hooks::builder(hooks_dir)
        .driver(driver)
        .layout(Layout::PerObjectOnly)
        .scan(false)
        .strict_trust(settings.strict_trust)
        .limits(Limits {
            timeout: settings.timeout,
            ..Limits::default()
        })
        .build();
    let hooks = match hooks {
        Ok(h) => h,
        Err(e) => {
            return own_problem(
                rule,
                &logger,
                &event_words,
                &e.to_string(),
                "none of the scripts can run",
            )
            .unwrap_or_default();
        }
    };
    // Bounded by the library's output cap (16 MiB): libvirt's documents are kilobytes, and a
    // filter's replacement could not be bigger anyway.
    let document = match crate::input::read_stdin("the document on stdin") {
        Ok(d) => d,
        Err(crate::InputError(msg)) => {
            if let Some(out) = own_problem(
                rule,
                &logger,
                &event_words,
                &msg,
                "the scripts run with nothing on stdin",
            ) {
                return out;
            }
            Vec::new()
        }
    };
    let stdin = (!document.is_empty()).then_some(document.as_slice());
    // Fault injection for the tests of the panic path (`panicked`), in debug builds only: the
    // packages' binary has no such switch.
    #[cfg(debug_assertions)]
    if std::env::var_os("VIRT_HOOK_TEST_PANIC").is_some() {
        panic!("VIRT_HOOK_TEST_PANIC is set");
    }

    let result = if called.uses_output {
        match driver {
            hook_libxl::NAME => filter::<hook_libxl::DomainXml>(&hooks, &called, stdin),
            _ => filter::<hook_qemu::DomainXml>(&hooks, &called, stdin),
        }
    } else {
        hooks
            .run(&called, object, || stdin.map(Cow::Borrowed))
            .map(|outcome| (outcome, None))
    };

    match result {
        Ok((outcome, replacement)) => {
            log_runs(&logger, &event_words, &outcome.runs, &show);
            // Only a document some script changed: one printed back as it came (`cat`) is
            // not a change, and libvirt keeps its own when it reads nothing.
            let changed = !outcome.changed_by.is_empty();
            Output {
                stdout: replacement.filter(|_| changed).unwrap_or_default(),
                ..Output::default()
            }
        }
        Err(failure) => {
            log_runs(&logger, &event_words, &failure.runs, &show);
            let script_failed = failure.runs.iter().any(|r| !r.succeeded());
            if let Some(failed) = failure.runs.iter().find(|r| !r.succeeded()) {
                // The scripts after the first failure did not run: one record each, so that
                // the log says what this guest's start did not do.
                for script in scripts
                    .iter()
                    .filter(|s| !failure.runs.iter().any(|r| &r.script == *s))
                {
                    logger.log(&skipped_record(&event_words, script, &failed.script, &show));
                }
            }
            if let Some(e) = &failure.dir_error {
                let problem = explain(e, &show);
                if !script_failed {
                    // The directory became unreadable after the first look: our problem.
                    return own_problem(
                        rule,
                        &logger,
                        &event_words,
                        &problem,
                        "none of its scripts can run",
                    )
                    .unwrap_or_default();
                }
                let mut fields = event_words.fields.clone();
                fields.push(("VIRT_HOOK_REASON", problem.clone()));
                logger.log(&Record {
                    message: format!("{}: {problem}", event_words.text),
                    severity: Severity::Error,
                    fields,
                });
            }
            failure_line(&headline(&failure, &show))
        }
    }
}

/// A filter event: through `Hooks::run_filter` when stdin is this object's domain document
/// (the replacement is then checked: well-formed, same root, name and uuid, and a refusal names
/// the script), else through `Hooks::run` (libvirt checks what it gets).
fn filter<R: Root>(
    hooks: &Hooks,
    called: &Called<'_>,
    stdin: Option<&[u8]>,
) -> Result<(Outcome, Option<Vec<u8>>), Box<Failure>> {
    let doc = stdin
        .and_then(|s| Document::<R>::parse(s).ok())
        .filter(|d| d.name() == called.object);
    match doc {
        Some(doc) => hooks
            .run_filter(called, &doc)
            .map(|f| (f.outcome, f.replacement.map(Document::into_bytes))),
        None => hooks
            .run(called, called.object, || stdin.map(Cow::Borrowed))
            .map(|mut outcome| {
                let out = outcome.output.take();
                (outcome, out)
            }),
    }
}

/// A path as the administrator reads it: relative to the hooks directory.
fn shown(hooks_dir: &Path, path: &Path) -> String {
    path.strip_prefix(hooks_dir)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// `1.5s`, `60s`, `0.012s`.
fn secs(d: Duration) -> String {
    let s = format!("{:.3}", d.as_secs_f64());
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}s")
}

/// What went wrong, in a few words, without the stderr.
fn how(e: &HookError, show: &dyn Fn(&Path) -> String) -> String {
    match e {
        HookError::Exited { code, .. } => format!("exit {code}"),
        HookError::Signaled { name, .. } => format!("killed by {name}"),
        HookError::TimedOut {
            after,
            pipes_held_open,
            ..
        } => {
            let mut s = format!(
                "timed out after {}, killed with its process group",
                secs(*after)
            );
            if *pipes_held_open {
                s.push_str(" (processes it moved out of the group were left running)");
            }
            s
        }
        HookError::NotStarted { reason, .. } => format!("could not be started: {reason}"),
        HookError::OutputTooLarge { limit, .. } => {
            format!("printed more than {limit} bytes on stdout")
        }
        HookError::Io {
            context, source, ..
        } => format!("{context}: {source}"),
        HookError::Untrusted {
            path, problem, fix, ..
        } => format!(
            "not run (strict_trust): {} is {problem}; to fix: {fix}",
            show(path)
        ),
        HookError::BadOutput { reason, .. } => format!("printed an unusable document: {reason}"),
        HookError::DirUnreadable { path, source, .. } => {
            format!("cannot read {}: {source}", show(path))
        }
        other => other.to_string(),
    }
}

/// The error as one line: `SCRIPT: HOW` or the directory error.
fn explain(e: &HookError, show: &dyn Fn(&Path) -> String) -> String {
    match e.script() {
        Some(script) => format!("{}: {}", show(script), how(e, show)),
        None => how(e, show),
    }
}

/// The end of what a script wrote on stderr, on one line (lines joined with ` | `), at most
/// [`TAIL_CHARS`] characters, `…` in front when cut.
fn tail(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    let folded = text
        .lines()
        .map(|l| {
            l.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect::<String>()
                .trim()
                .to_owned()
        })
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ");
    if folded.is_empty() {
        return None;
    }
    let n = folded.chars().count();
    if n <= TAIL_CHARS {
        return Some(folded);
    }
    let kept: String = folded.chars().skip(n - TAIL_CHARS).collect();
    Some(format!("…{kept}"))
}

/// The failure line libvirt shows: the failed script, how it failed, the tail of its stderr.
fn headline(failure: &Failure, show: &dyn Fn(&Path) -> String) -> String {
    reason(failure.headline(), show)
}

/// One error as the failure line shows it: `SCRIPT: HOW: the tail of its stderr`.
fn reason(e: &HookError, show: &dyn Fn(&Path) -> String) -> String {
    let mut line = explain(e, show);
    if let Some(t) = e.stderr().and_then(tail) {
        line.push_str(": ");
        line.push_str(&t);
    }
    line
}

/// What the log says of a script that left a process running after a normal end (after a
/// timeout, [`how`] says it).
const LEFT_RUNNING: &str =
    "it left a process running that held its output (not waited for; it keeps running)";

/// Logs one record per script run, built only when there is a log socket to send it to.
fn log_runs(
    logger: &Logger,
    event: &EventWords,
    runs: &[ScriptRun],
    show: &dyn Fn(&Path) -> String,
) {
    if logger.is_on() {
        for run in runs {
            logger.log(&run_record(event, run, show));
        }
    }
}

/// The log record of one script run: `EVENT: SCRIPT exit 0 in 0.012s`; for a failure, the
/// tail of its stderr after the duration, and the whole line libvirt shows in
/// `VIRT_HOOK_REASON`; a note when it left a process running.
fn run_record(event: &EventWords, run: &ScriptRun, show: &dyn Fn(&Path) -> String) -> Record {
    let script = show(&run.script);
    let status = match (&run.error, &run.report) {
        (Some(e), _) => how(e, show),
        (None, Some(r)) => r.ending.to_string(),
        (None, None) => "ran".to_owned(),
    };
    let mut fields = event.fields.clone();
    fields.push((
        "VIRT_HOOK_SCRIPT",
        run.script.to_string_lossy().into_owned(),
    ));
    fields.push(("VIRT_HOOK_STATUS", status.clone()));
    let mut message = format!("{}: {script} {status}", event.text);
    if let Some(r) = &run.report {
        message.push_str(&format!(" in {}", secs(r.duration)));
        fields.push(("VIRT_HOOK_DURATION_MS", r.duration.as_millis().to_string()));
    }
    if let Some(e) = &run.error {
        if let Some(t) = e.stderr().and_then(tail) {
            message.push_str(": ");
            message.push_str(&t);
        }
        fields.push(("VIRT_HOOK_REASON", reason(e, show)));
    }
    if let Some(r) = &run.report
        && r.pipes_held_open
        && r.timed_out.is_none()
    {
        message.push_str("; ");
        message.push_str(LEFT_RUNNING);
        fields.push(("VIRT_HOOK_LEFT_RUNNING", "1".to_owned()));
    }
    Record {
        message,
        severity: if run.succeeded() {
            Severity::Info
        } else {
            Severity::Error
        },
        fields,
    }
}

/// The log record of a script that did not run because `failed`, before it, failed:
/// `EVENT: SCRIPT skipped: not run after FAILED failed`, status `skipped`.
fn skipped_record(
    event: &EventWords,
    script: &Path,
    failed: &Path,
    show: &dyn Fn(&Path) -> String,
) -> Record {
    let mut fields = event.fields.clone();
    fields.push(("VIRT_HOOK_SCRIPT", script.to_string_lossy().into_owned()));
    fields.push(("VIRT_HOOK_STATUS", "skipped".to_owned()));
    Record {
        message: format!(
            "{}: {} skipped: not run after {} failed",
            event.text,
            show(script),
            show(failed)
        ),
        severity: Severity::Warning,
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_one_bounded_line() {
        assert_eq!(tail(b""), None);
        assert_eq!(tail(b"\n \n"), None);
        assert_eq!(
            tail(b"modprobe: FATAL\n\n  giving up\r\n").as_deref(),
            Some("modprobe: FATAL | giving up")
        );
        let long = "x".repeat(1000) + "\nthe end";
        let t = tail(long.as_bytes()).unwrap();
        assert!(t.starts_with('…') && t.ends_with("x | the end"), "{t}");
        assert_eq!(t.chars().count(), TAIL_CHARS + 1);
        assert_eq!(tail(b"a\x1b[31mred").as_deref(), Some("a [31mred"));
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(secs(Duration::from_secs(60)), "60s");
        assert_eq!(secs(Duration::from_millis(1500)), "1.5s");
        assert_eq!(secs(Duration::from_millis(12)), "0.012s");
    }

    #[test]
    fn malformed_calls_are_usage_errors() {
        let dir = Path::new("/nonexistent");
        let out = dispatch(dir, "qemu", &["a".into()]);
        assert_eq!(out.code, 2);
        assert_eq!(
            out.stderr,
            "virt-hook: qemu hook called with 1 argument; libvirt passes 4: OBJECT OP SUBOP EXTRA\n"
        );
        let args = ["g", "prepare", "middle", "-"].map(OsString::from);
        let out = dispatch(dir, "qemu", &args);
        assert_eq!(out.code, 2);
        assert!(out.stderr.contains("sub-operation"), "{}", out.stderr);
        let out = dispatch(dir, "xen", &args);
        assert_eq!(out.code, 2);
        assert!(out.stderr.contains("unknown driver"), "{}", out.stderr);
    }

    #[test]
    fn the_policy_table_is_the_driver_crates() {
        // docs/dispatcher.md's table, row by row, against the driver crates' FailurePolicy.
        let doc = include_str!("../../../docs/dispatcher.md");
        let header = "| Driver | Event | What libvirt does when the hook fails | \
                      The dispatcher's own problem |";
        let rows: Vec<Vec<&str>> = doc
            .lines()
            .skip_while(|l| *l != header)
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
            .collect();
        assert!(
            rows.len() > 30,
            "the table is in docs/dispatcher.md: {}",
            rows.len()
        );
        let mut seen = Vec::new();
        for row in &rows {
            let [driver, op, _, rule] = row[..] else {
                panic!("{row:?}");
            };
            let want = match OwnProblem::of(classify(driver, op).1) {
                OwnProblem::Refuse => "refuse",
                OwnProblem::RunAnyway => "run anyway",
            };
            assert_eq!(rule, want, "{driver} {op}");
            seen.push((driver, op));
        }
        for driver in crate::drivers::NAMES {
            for (op, _) in crate::drivers::events(driver) {
                assert!(
                    seen.contains(&(driver, op)),
                    "{driver} {op} is not in the table"
                );
            }
        }
        // The rules the issue states, spelled out.
        for (driver, op, rule) in [
            ("qemu", "reconnect", OwnProblem::RunAnyway),
            ("qemu", "started", OwnProblem::RunAnyway),
            ("lxc", "reconnect", OwnProblem::RunAnyway),
            ("libxl", "started", OwnProblem::RunAnyway),
            ("qemu", "release", OwnProblem::RunAnyway),
            ("qemu", "stopped", OwnProblem::RunAnyway),
            ("qemu", "prepare", OwnProblem::Refuse),
            ("qemu", "migrate", OwnProblem::Refuse),
            ("qemu", "restore", OwnProblem::Refuse),
            ("qemu", "hibernate", OwnProblem::Refuse),
        ] {
            assert_eq!(
                OwnProblem::of(classify(driver, op).1),
                rule,
                "{driver} {op}"
            );
        }
    }

    #[test]
    fn an_own_problem_is_logged_at_error_severity_either_way() {
        let dir = std::env::temp_dir().join(format!("virt-hook-own-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.sock");
        let _ = std::fs::remove_file(&path);
        let reader = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let logger = Logger::new(config::LogTarget::Syslog, Some(&path));
        let words = "qemu g reconnect begin -";
        let event = EventWords {
            text: words.to_owned(),
            fields: Vec::new(),
        };
        assert!(
            own_problem(
                OwnProblem::RunAnyway,
                &logger,
                &event,
                "bad file",
                "ran anyway"
            )
            .is_none()
        );
        let out = own_problem(
            OwnProblem::Refuse,
            &logger,
            &event,
            "bad file",
            "ran anyway",
        )
        .expect("refused");
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (1, "virt-hook: bad file; no script was run\n")
        );
        let mut buf = [0u8; 512];
        let pid = std::process::id();
        for want in [
            format!("<27>virt-hook[{pid}]: {words}: bad file; ran anyway"),
            format!("<27>virt-hook[{pid}]: {words}: bad file; no script was run"),
        ] {
            let n = reader.recv(&mut buf).unwrap();
            assert_eq!(String::from_utf8_lossy(&buf[..n]), want);
        }
        drop(reader);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
