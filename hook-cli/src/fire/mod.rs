//! What `run` and `lifecycle` share to fire hooks as the daemon would: the options that shape
//! a call (`--timeout`, `--libvirt`, `--domain`), firing one event as libvirt would find its
//! scripts ([`Firing`]: a filter through `Hooks::run_filter`, anything else through
//! `Hooks::run`), and the [`Fired`] report of it, rendered as text or JSON ([`render`]).
//!
//! # One report, whichever main hook runs
//!
//! When the driver's main hook is virt-hook's dispatcher (the copy `install` makes, a symlink,
//! a wrapper) or the VFIO guides' hook helper, running it as a black box would show one line
//! (`FAILED qemu exit 1`) for what are really several scripts. So [`Firing`] runs what libvirt
//! would run with it installed, itself: the per-object scripts in the main hook's place, as the
//! dispatcher runs them (sorted, the first failure stops the rest of their directory, no `#!`
//! line run by bash, the dispatcher's timeout for the driver and operation and its
//! `strict_trust` from `<hooks>/virt-hook.toml`, or `--timeout` when given), then libvirt's
//! `<driver>.d/*` scripts. That is hook-core's [`Layout::PerObject`] with the main script
//! standing aside (`HooksBuilder::main_script(false)`), one call, so filter chaining, strict
//! trust and cancellation are hook-core's own and not redone here. A settings file the
//! dispatcher could not use is handled by its rule for the event ([`dispatch::OwnProblem`]):
//! refused (only the `.d` scripts run, the event fails) or run with the defaults. The
//! dispatcher's timeout bounds the `.d` scripts here too (libvirt sets none for them).
//!
//! Each script is reported as it ends: hook-core calls an observer after each script's run
//! (`HooksBuilder::observer`), which writes its lines and flushes them, terminal or not, and
//! traces them for `-v`. That callback was chosen over running the scripts one by one through
//! `Runner` here, which would have meant repeating hook-core's discovery, stop rule, filter
//! chaining, strict trust check and cancellation in the CLI. What did not run (the rest of a
//! per-object directory after a failure, everything after an interruption) is what was to run
//! (`discover::object_scripts`, `discover::list`) minus what ran.

pub(crate) mod render;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hook_core::xml::{Document, ObjectDocument, Root};
use hook_core::{HookError, HookEvent as _, Hooks, Layout, LibvirtVersion, Limits, ScriptRun};

use crate::ctx::{Ctx, InputError};
use crate::dispatch::{self, OwnProblem};
use crate::event::{AnyEvent, Fire};
use crate::installed::{Kind, MainHook};
use crate::{duration, input};
use render::{FilterResult, Fired, NotRun, NotRunWhy, ObjectDir, RunBy, Stream};

/// The shortest `--timeout`, in seconds: 1 ms (a shorter one kills every script at once).
const MIN_TIMEOUT_SECS: f64 = 0.001;
/// The longest `--timeout`, in seconds: 24 hours. Without `--timeout` there is none at all.
const MAX_TIMEOUT_SECS: f64 = 86_400.0;

/// `--timeout DURATION` as limits: seconds or a duration with a unit ([`duration::seconds`])
/// from [`MIN_TIMEOUT_SECS`] to [`MAX_TIMEOUT_SECS`]; anything else (negative, NaN, infinite, not a number) is an input
/// error stating the bounds, quoting what was given rather than printing a parsed float.
pub(crate) fn limits(timeout: Option<&str>) -> Result<Limits, InputError> {
    let timeout = match timeout {
        None => None,
        Some(text) => match duration::seconds(text) {
            Some(s) if (MIN_TIMEOUT_SECS..=MAX_TIMEOUT_SECS).contains(&s) => {
                Some(Duration::from_secs_f64(s))
            }
            _ => {
                return Err(InputError(format!(
                    "--timeout {text:?}: give seconds or a duration (90, 500ms, 5m, 1h) from \
                     {MIN_TIMEOUT_SECS} to {MAX_TIMEOUT_SECS} (24 hours), or leave --timeout out \
                     for no timeout"
                )));
            }
        },
    };
    Ok(Limits {
        timeout,
        ..Limits::default()
    })
}

/// `--libvirt VERSION`, or the newest release the driver crates know.
pub(crate) fn libvirt(version: Option<&str>) -> Result<LibvirtVersion, InputError> {
    version.map_or(Ok(LibvirtVersion::NEWEST), |v| {
        v.parse()
            .map_err(|e: hook_core::BadVersion| InputError(format!("--libvirt: {e}")))
    })
}

/// A checked domain document, for `--domain`.
pub(crate) fn domain_doc(source: &str) -> Result<ObjectDocument, InputError> {
    let bytes = input::read("--domain", source)?;
    ObjectDocument::parse(bytes, "domain")
        .map_err(|e| InputError(format!("--domain {source}: {e}")))
}

/// Fires `fire` with `input`: a filter through `Hooks::run_filter` (the replacement checked
/// against the input: well-formed, same root, same name and uuid), anything else through
/// `Hooks::run`.
fn fire_event(hooks: &Hooks, fire: &Fire<'_>, object: &str, stdin: Option<&[u8]>) -> Fired {
    let event = fire.event;
    let spec = fire.spec();
    let args = spec.args(object).map(str::to_owned);
    let new = |result| new_fired(fire, object, stdin, result);
    if spec.uses_output {
        let filtered = match event {
            AnyEvent::Libxl(_) => filter::<hook_libxl::DomainXml>(hooks, fire, &args, stdin),
            _ => filter::<hook_qemu::DomainXml>(hooks, fire, &args, stdin),
        };
        let (result, filter_result, extra_error) = filtered;
        let mut fired = new(result);
        fired.filter = filter_result;
        if let Some(e) = extra_error {
            fired.failed = true;
            fired.other_errors.push(e);
        }
        return fired;
    }
    new(hooks.run(fire, object, || stdin.map(Cow::Borrowed)))
}

type FilterRun = (
    Result<hook_core::Outcome, Box<hook_core::Failure>>,
    Option<FilterResult>,
    Option<HookError>,
);

fn filter<R: Root>(
    hooks: &Hooks,
    fire: &Fire<'_>,
    args: &[String; 4],
    stdin: Option<&[u8]>,
) -> FilterRun {
    let object = args[0].as_str();
    let doc = stdin.and_then(|s| Document::<R>::parse(s).ok());
    match doc {
        // The daemon's path: argv[1] is the document's name, the replacement is fully checked.
        Some(doc) if doc.name() == object => match hooks.run_filter(fire, &doc) {
            Ok(filtered) => {
                let by = filtered.replaced_by().map(ToOwned::to_owned);
                let changed_by = filtered.outcome.changed_by.clone();
                let result = match (filtered.replacement, by) {
                    (Some(new), Some(by)) => FilterResult::Replaced {
                        by,
                        changed_by,
                        xml: new.into_bytes(),
                    },
                    _ => FilterResult::Unchanged,
                };
                (Ok(filtered.outcome), Some(result), None)
            }
            Err(failure) => (Err(failure), None, None),
        },
        // --object renamed the guest, or --input is not a domain document: the output can only
        // be checked for being a well-formed document with the right root.
        _ => match hooks.run(fire, object, || stdin.map(Cow::Borrowed)) {
            Ok(mut outcome) => match (outcome.output.take(), outcome.output_from.clone()) {
                (Some(xml), Some(by)) => match Document::<R>::parse(xml.as_slice()) {
                    Ok(_) => {
                        let changed_by = outcome.changed_by.clone();
                        let replaced = FilterResult::Replaced {
                            by,
                            changed_by,
                            xml,
                        };
                        (Ok(outcome), Some(replaced), None)
                    }
                    Err(e) => {
                        let error = HookError::BadOutput {
                            script: by,
                            args: hook_core::Args(args.clone().into()),
                            reason: e.to_string(),
                        };
                        (Ok(outcome), None, Some(error))
                    }
                },
                _ => (Ok(outcome), Some(FilterResult::Unchanged), None),
            },
            Err(failure) => (Err(failure), None, None),
        },
    }
}

/// Fires a driver's events as libvirt would find their scripts, reporting each script as it
/// ends when the text is streamed (see the [module](self) documentation).
#[derive(Debug)]
pub(crate) struct Firing<'a> {
    ctx: &'a Ctx,
    driver: &'static str,
    /// `--timeout`, when given: it overrides the dispatcher's.
    timeout: Option<Limits>,
    libvirt: LibvirtVersion,
    run_by: RunBy,
    stream: Option<Stream>,
}

impl<'a> Firing<'a> {
    /// Fires `driver`'s events in the command's hooks directory, emulating `libvirt`; `timeout`
    /// is `--timeout` when given; `stream` is where the text goes as each script ends (`None`
    /// for `--json`, printed whole at the end).
    pub(crate) fn new(
        ctx: &'a Ctx,
        driver: &'static str,
        timeout: Option<Limits>,
        libvirt: LibvirtVersion,
        stream: Option<Stream>,
    ) -> Firing<'a> {
        let run_by = match MainHook::inspect(&ctx.hooks_dir, driver).kind {
            Kind::Dispatcher(_) => RunBy::Dispatcher,
            Kind::HookHelper => RunBy::HookHelper,
            Kind::Absent | Kind::Other => RunBy::Libvirt,
        };
        Firing {
            ctx,
            driver,
            timeout,
            libvirt,
            run_by,
            stream,
        }
    }

    /// The signal that interrupted the calls (SIGINT/SIGTERM), if one did: nothing more should
    /// be fired.
    pub(crate) fn interrupted_by(&self) -> Option<&'static str> {
        self.ctx.interrupted_by().map(|s| s.as_str())
    }

    /// Where the text goes, when it is streamed.
    pub(crate) fn stream(&self) -> Option<&Stream> {
        self.stream.as_ref()
    }

    /// Fires `fire` for `object` with `stdin`; `document` says in words what stdin is
    /// (`lifecycle`). Streams the event's text when a [`Stream`] was given.
    pub(crate) fn fire(
        &self,
        fire: &Fire<'_>,
        object: &str,
        stdin: Option<&[u8]>,
        document: Option<String>,
    ) -> Result<Fired, InputError> {
        let driver = self.driver;
        let spec = fire.spec();
        let op = spec.op;
        let hooks_dir = &self.ctx.hooks_dir;
        let per_object = self.run_by != RunBy::Libvirt;

        // What is to run: the per-object scripts in the main hook's place, then libvirt's.
        let object_path = per_object
            .then(|| {
                let d_dir = hooks_dir.join(format!("{driver}.d"));
                hook_core::layout::object_path(&d_dir, object, op, spec.subop.as_str())
            })
            .flatten();
        // `Err`: something is there that cannot be read (hook-core's call reports it).
        let found = object_path
            .as_deref()
            .map(hook_core::discover::object_scripts);
        let readable = !matches!(found, Some(Err(_)));
        let object_scripts: Vec<PathBuf> = found.and_then(Result::ok).unwrap_or_default();
        let listing = hook_core::discover::list(hooks_dir, driver);
        let libvirt_scripts: Vec<PathBuf> = listing
            .scripts
            .into_iter()
            .filter(|p| !(per_object && *p == listing.main))
            .collect();

        let mut limits = self.timeout.unwrap_or_default();
        let mut layout = Layout::Libvirt;
        let mut strict_trust = false;
        let mut problems = Vec::new();
        let mut refused = false;
        if per_object {
            layout = Layout::PerObject;
            // The dispatcher reads its settings only when it has scripts to run.
            let settings = if object_scripts.is_empty() {
                None
            } else {
                match dispatch::settings(hooks_dir, driver, op) {
                    Ok(s) => Some(s),
                    Err(e) => match OwnProblem::of(spec.on_failure) {
                        OwnProblem::Refuse => {
                            problems.push(format!("{e}; no per-object script was run"));
                            refused = true;
                            layout = Layout::Libvirt;
                            None
                        }
                        OwnProblem::RunAnyway => {
                            problems
                                .push(format!("{e}; the scripts run with the default settings"));
                            Some(dispatch::default_settings())
                        }
                    },
                }
            };
            if let Some(s) = settings {
                if self.timeout.is_none() {
                    limits.timeout = s.timeout;
                }
                strict_trust = s.strict_trust;
            }
        }
        let planned: Vec<&Path> = object_scripts
            .iter()
            .chain(&libvirt_scripts)
            .map(PathBuf::as_path)
            .collect();
        let width = render::path_width(planned.iter().copied(), hooks_dir);

        let shell = |result| {
            let mut f = new_fired(fire, object, stdin, result);
            f.document.clone_from(&document);
            f.run_by = self.run_by;
            f.object_dir = object_path.as_ref().map(|p| ObjectDir {
                path: p.clone(),
                scripts: readable.then_some(object_scripts.len()),
            });
            f.problems.clone_from(&problems);
            f
        };
        if let Some(stream) = &self.stream {
            let heading = shell(Ok(hook_core::Outcome::default()));
            stream.write(&render::heading(&heading, hooks_dir, stream.style));
        }

        let stream = self.stream.clone();
        let in_dir = if refused {
            Vec::new()
        } else {
            object_scripts.clone()
        };
        let observer: hook_core::Observer = Arc::new(move |run: &ScriptRun| {
            tracing::debug!(
                script = %run.script.display(),
                status = render::status(run),
                error = run.error.as_ref().map(|e| e.to_string()),
                "script reported"
            );
            let Some(s) = &stream else { return };
            let mut text = render::script_lines(run, &s.hooks_dir, s.style, width);
            // A per-object script failed: the rest of its directory is skipped, said here, in
            // the order of events (libvirt's `.d` scripts run next).
            let interrupted = matches!(run.error, Some(HookError::Interrupted { .. }));
            if !run.succeeded()
                && !interrupted
                && let Some(i) = in_dir.iter().position(|p| *p == run.script)
            {
                for rest in &in_dir[i + 1..] {
                    let skipped = NotRun {
                        script: rest.clone(),
                        why: NotRunWhy::AfterFailure(run.script.clone()),
                    };
                    text.push_str(&render::not_run_line(
                        &skipped,
                        &s.hooks_dir,
                        s.style,
                        width,
                    ));
                }
            }
            s.write(&text);
        });
        let mut builder = Hooks::builder(hooks_dir)
            .driver(driver)
            .limits(limits)
            .libvirt_version(self.libvirt)
            .layout(layout)
            .main_script(!per_object)
            .strict_trust(strict_trust)
            .observer(observer);
        if let Some(cancel) = self.ctx.cancel() {
            builder = builder.cancel(cancel.clone());
        }
        let hooks = builder.build().map_err(|e| InputError(e.to_string()))?;
        let fired = fire_event(&hooks, fire, object, stdin);
        let mut f = shell(Ok(hook_core::Outcome::default()));
        f.runs = fired.runs;
        f.failed = fired.failed || refused;
        f.other_errors = fired.other_errors;
        f.filter = fired.filter;

        // What did not run.
        let ran = |p: &Path| f.runs.iter().any(|r| r.script == p);
        let interrupted = f.interrupted_by();
        let failed_object = f
            .runs
            .iter()
            .find(|r| !r.succeeded() && object_scripts.contains(&r.script))
            .map(|r| r.script.clone());
        let mut not_run = Vec::new();
        for p in planned {
            if ran(p) {
                continue;
            }
            let is_object = object_scripts.iter().any(|o| o == p);
            let why = match (interrupted, &failed_object) {
                (Some(signal), _) => NotRunWhy::Interrupted(signal),
                _ if is_object && refused => NotRunWhy::Refused,
                (None, Some(failed)) if is_object => NotRunWhy::AfterFailure(failed.clone()),
                // Gone between the look and the call, or refused by strict trust (reported).
                _ => continue,
            };
            not_run.push(NotRun {
                script: p.to_owned(),
                why,
            });
        }
        f.not_run = not_run;
        if let Some(stream) = &self.stream {
            stream.write(&render::tail(&f, hooks_dir, stream.style, width));
        }
        Ok(f)
    }
}

/// A [`Fired`] for `fire` with `result`.
fn new_fired(
    fire: &Fire<'_>,
    object: &str,
    stdin: Option<&[u8]>,
    result: Result<hook_core::Outcome, Box<hook_core::Failure>>,
) -> Fired {
    let spec = fire.spec();
    Fired::new(
        fire.event.driver(),
        spec.args(object).map(str::to_owned),
        stdin.map(<[u8]>::len),
        spec.on_failure,
        fire.event.call_site().failure,
        result,
    )
}
