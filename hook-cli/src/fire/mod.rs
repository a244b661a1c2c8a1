//! What `run` and `lifecycle` share to fire hooks as the daemon would: the options that shape
//! a call (`--timeout`, `--libvirt`, `--domain`), the [`Hooks`] for one driver (cancelled by
//! SIGINT/SIGTERM), firing one event (a filter through `Hooks::run_filter`, anything else
//! through `Hooks::run`), and the [`Fired`] report of it, rendered as text or JSON
//! ([`render`]).

pub(crate) mod render;

use std::borrow::Cow;
use std::time::Duration;

use hook_core::xml::{Document, ObjectDocument, Root};
use hook_core::{HookError, Hooks, LibvirtVersion, Limits};

use crate::ctx::{Ctx, InputError};
use crate::event::{AnyEvent, Fire};
use crate::{duration, input};
use render::{FilterResult, Fired};

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

/// Whether the hooks' calls were cancelled (Ctrl-C): nothing more should be fired.
pub(crate) fn interrupted(hooks: &Hooks) -> bool {
    hooks
        .runner()
        .cancel()
        .is_some_and(|c| c.requested().is_some())
}

/// `--libvirt VERSION`, or the newest release the driver crates know.
pub(crate) fn libvirt(version: Option<&str>) -> Result<LibvirtVersion, InputError> {
    version.map_or(Ok(LibvirtVersion::NEWEST), |v| {
        v.parse()
            .map_err(|e: hook_core::BadVersion| InputError(format!("--libvirt: {e}")))
    })
}

/// Builds the [`Hooks`] for one driver in the hooks directory, emulating `libvirt`, cancelled
/// by SIGINT/SIGTERM when the command forwards them.
pub(crate) fn hooks_for(
    ctx: &Ctx,
    driver: &str,
    limits: Limits,
    libvirt: LibvirtVersion,
) -> Result<Hooks, InputError> {
    let mut builder = Hooks::builder(&ctx.hooks_dir)
        .driver(driver)
        .limits(limits)
        .libvirt_version(libvirt);
    if let Some(cancel) = ctx.cancel() {
        builder = builder.cancel(cancel.clone());
    }
    builder.build().map_err(|e| InputError(e.to_string()))
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
pub(crate) fn fire_event(
    hooks: &Hooks,
    fire: &Fire<'_>,
    object: &str,
    stdin: Option<&[u8]>,
) -> Fired {
    let event = fire.event;
    let spec = hook_core::HookEvent::spec(fire);
    let args = spec.args(object).map(str::to_owned);
    let site = event.call_site();
    let new = |result| {
        Fired::new(
            event.driver(),
            args.clone(),
            stdin.map(<[u8]>::len),
            spec.on_failure,
            site.failure,
            result,
        )
    };
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

/// Fires one event for `lifecycle` (no overrides).
pub(crate) fn fire_plain(hooks: &Hooks, event: AnyEvent, object: &str, stdin: &[u8]) -> Fired {
    fire_event(hooks, &Fire { event, extra: None }, object, Some(stdin))
}
