//! `virt-hook run DRIVER OP`: fires one event's hooks as the daemon would, from a domain or
//! network XML file (or a raw stdin document with `--input`), and reports each script.
//!
//! The document is checked the way the driver crates check it (well-formed, the right root
//! element, a `<name>`, which becomes argv\[1\] unless `--object` says otherwise); `--input`
//! is sent as is. Filter events (qemu/libxl `migrate`, qemu `restore`) go through
//! `Hooks::run_filter`, so a replacement is checked as the daemon checks it, and the resulting
//! XML goes to stdout (the report then goes to stderr). Exit status: 0 when the event would
//! proceed, 1 when a script failed (also where libvirt ignores the failure: the report says
//! so), 2 for bad input.

use std::borrow::Cow;
use std::time::Duration;

use hook_core::xml::{Document, ObjectDocument, Root};
use hook_core::{HookError, Hooks, LibvirtVersion, Limits};

use crate::cli::RunArgs;
use crate::event::{AnyEvent, Fire, Kind};
use crate::render::{self, FilterResult, Fired};
use crate::style::Style;
use crate::{Ctx, InputError, Output, input};

/// The shortest `--timeout`, in seconds: 1 ms (a shorter one kills every script at once).
const MIN_TIMEOUT_SECS: f64 = 0.001;
/// The longest `--timeout`, in seconds: 24 hours. Without `--timeout` there is none at all.
const MAX_TIMEOUT_SECS: f64 = 86_400.0;

/// `--timeout SECS` as limits: a number of seconds from [`MIN_TIMEOUT_SECS`] to
/// [`MAX_TIMEOUT_SECS`]; anything else (negative, NaN, infinite, not a number) is an input
/// error stating the bounds, quoting what was given rather than printing a parsed float.
pub(crate) fn limits(timeout: Option<&str>) -> Result<Limits, InputError> {
    let timeout = match timeout {
        None => None,
        Some(text) => match text.trim().parse::<f64>() {
            Ok(s) if (MIN_TIMEOUT_SECS..=MAX_TIMEOUT_SECS).contains(&s) => {
                Some(Duration::from_secs_f64(s))
            }
            _ => {
                return Err(InputError(format!(
                    "--timeout {text:?}: give a number of seconds from {MIN_TIMEOUT_SECS} to \
                     {MAX_TIMEOUT_SECS} (24 hours), or leave --timeout out for no timeout"
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

/// Builds the [`Hooks`] for one driver in the hooks directory, emulating `libvirt`.
pub(crate) fn hooks_for(
    ctx: &Ctx,
    driver: &str,
    limits: Limits,
    libvirt: LibvirtVersion,
) -> Result<Hooks, InputError> {
    Hooks::builder(&ctx.hooks_dir)
        .driver(driver)
        .limits(limits)
        .libvirt_version(libvirt)
        .build()
        .map_err(|e| InputError(e.to_string()))
}

/// What the scripts get: argv\[1\] and stdin.
struct Input {
    object: String,
    stdin: Option<Vec<u8>>,
}

/// A checked domain document, for `--domain`.
pub(crate) fn domain_doc(source: &str) -> Result<ObjectDocument, InputError> {
    let bytes = input::read("--domain", source)?;
    ObjectDocument::parse(bytes, "domain")
        .map_err(|e| InputError(format!("--domain {source}: {e}")))
}

fn script_input(args: &RunArgs, event: AnyEvent) -> Result<Input, InputError> {
    let driver = event.driver();
    let op = event.spec().op;
    let doc = &args.doc;
    if let Some(source) = &args.input {
        let bytes = input::read("--input", source)?;
        let object = match (&args.object, event.kind()) {
            (Some(o), _) => o.clone(),
            (None, Kind::Nothing) => "-".to_owned(),
            (None, Kind::Domain) => ObjectDocument::parse(bytes.as_slice(), "domain")
                .map_err(|e| {
                    InputError(format!(
                        "--input {source}: cannot take the guest's name from it ({e}); give --object NAME"
                    ))
                })?
                .name()
                .unwrap_or_default()
                .to_owned(),
            (None, Kind::Network) => {
                return Err(InputError(
                    "--input for a network event needs --object NAME (the network's name)".into(),
                ));
            }
        };
        return Ok(Input {
            object,
            stdin: Some(bytes),
        });
    }
    match event.kind() {
        Kind::Nothing => {
            if doc.domain.is_some() || doc.network.is_some() {
                return Err(InputError(format!(
                    "{driver} hooks get no document (stdin is /dev/null): drop --domain/--network"
                )));
            }
            Ok(Input {
                object: args.object.clone().unwrap_or_else(|| "-".into()),
                stdin: None,
            })
        }
        Kind::Domain => {
            if doc.network.is_some() {
                return Err(InputError(format!(
                    "{driver} hooks get a domain document: use --domain, not --network"
                )));
            }
            let Some(source) = &doc.domain else {
                return Err(InputError(format!(
                    "{driver} {op} needs the guest's XML: --domain FILE (e.g. from virsh dumpxml) or --input FILE"
                )));
            };
            let doc = domain_doc(source)?;
            Ok(Input {
                object: args
                    .object
                    .clone()
                    .unwrap_or_else(|| doc.name().unwrap_or_default().to_owned()),
                stdin: Some(doc.into_bytes()),
            })
        }
        Kind::Network => {
            if doc.domain.is_some() {
                return Err(InputError(
                    "network hooks get a network document: use --network, not --domain".into(),
                ));
            }
            let Some(source) = &doc.network else {
                return Err(InputError(format!(
                    "network {op} needs the network's XML: --network FILE (e.g. from virsh net-dumpxml) or --input FILE"
                )));
            };
            let network = hook_network::Network::parse(input::read("--network", source)?)
                .map_err(|e| InputError(format!("--network {source}: {e}")))?;
            let port = match (&doc.port, event.has_port()) {
                (Some(p), true) => Some(
                    hook_network::Port::parse(input::read("--port", p)?)
                        .map_err(|e| InputError(format!("--port {p}: {e}")))?,
                ),
                (None, true) => {
                    return Err(InputError(format!(
                        "network {op} needs the port's XML too: --port FILE (e.g. from virsh net-port-dumpxml)"
                    )));
                }
                (Some(_), false) => {
                    return Err(InputError(format!(
                        "--port is for port-created and port-deleted, not {op}"
                    )));
                }
                (None, false) => None,
            };
            Ok(Input {
                object: args
                    .object
                    .clone()
                    .unwrap_or_else(|| network.name().to_owned()),
                stdin: Some(hook_network::hook_data(&network, port.as_ref())),
            })
        }
    }
}

/// Fires `fire` with `input`: a filter through `Hooks::run_filter` (the replacement checked
/// against the input: well-formed, same root, same name and uuid), anything else through
/// `Hooks::run`.
fn fire_event(hooks: &Hooks, fire: &Fire<'_>, object: &str, stdin: Option<&[u8]>) -> Fired {
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

/// Runs `run`.
pub(crate) fn run(ctx: &Ctx, args: &RunArgs) -> Result<Output, InputError> {
    let libvirt = libvirt(args.libvirt.as_deref())?;
    let event = AnyEvent::parse(&args.driver, &args.op, args.extra.as_deref(), libvirt)?;
    let fire = Fire {
        event,
        extra: if event.takes_reason() {
            None
        } else {
            args.extra.as_deref()
        },
    };
    let limits = limits(args.timeout.as_deref())?;
    let input = script_input(args, event)?;
    let hooks = hooks_for(ctx, event.driver(), limits, libvirt)?;
    let fired = fire_event(&hooks, &fire, &input.object, input.stdin.as_deref());
    let code = u8::from(!fired.proceeds());
    if args.json {
        return Ok(Output {
            stdout: render::to_json(&render::json(&fired)).into_bytes(),
            code,
            ..Output::default()
        });
    }
    if event.spec().uses_output {
        // The resulting document on stdout, so `> new.xml` works; the report on stderr.
        let stdout = match (&fired.filter, fired.proceeds()) {
            (Some(FilterResult::Replaced { xml, .. }), true) => xml.clone(),
            (_, true) => input.stdin.clone().unwrap_or_default(),
            (_, false) => Vec::new(),
        };
        return Ok(Output {
            stdout,
            stderr: render::text(
                &fired,
                &ctx.hooks_dir,
                Style::for_stream(&std::io::stderr()),
            ),
            code,
        });
    }
    Ok(Output {
        stdout: render::text(
            &fired,
            &ctx.hooks_dir,
            Style::for_stream(&std::io::stdout()),
        )
        .into_bytes(),
        code,
        ..Output::default()
    })
}

/// Fires one event for `lifecycle` (no overrides).
pub(crate) fn fire_plain(hooks: &Hooks, event: AnyEvent, object: &str, stdin: &[u8]) -> Fired {
    fire_event(hooks, &Fire { event, extra: None }, object, Some(stdin))
}
