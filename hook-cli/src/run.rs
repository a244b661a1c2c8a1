//! `virt-hook run DRIVER OP`: fires one event's hooks as the daemon would, from a domain or
//! network XML file (or a raw stdin document with `--input`), and reports each script.
//!
//! The document is checked the way the driver crates check it (well-formed, the right root
//! element, a `<name>`, which becomes argv\[1\] unless `--object` says otherwise); `--input`
//! is sent as is. Filter events (qemu/libxl `migrate`, qemu `restore`) go through
//! `Hooks::run_filter`, so a replacement is checked as the daemon checks it, and the resulting
//! XML goes to stdout (the report then goes to stderr). Exit status: 0 when the event would
//! proceed, 1 when a script failed (also where libvirt ignores the failure: the report says
//! so), 2 for bad input. When the main hook is the dispatcher or the hook helper, the
//! per-object scripts are run and reported one by one ([`crate::fire`]); the report is written
//! as each script ends.

use hook_core::xml::ObjectDocument;

use crate::cli::RunArgs;
use crate::ctx::{Ctx, InputError, Output};
use crate::event::{AnyEvent, Fire, Kind};
use crate::fire::Firing;
use crate::fire::render::{self, FilterResult, Stream};
use crate::{fire, input, json};

/// What the scripts get: argv\[1\] and stdin.
struct Input {
    object: String,
    stdin: Option<Vec<u8>>,
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
            let doc = fire::domain_doc(source)?;
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

/// Runs `run`.
pub(crate) fn run(ctx: &Ctx, args: &RunArgs) -> Result<Output, InputError> {
    let libvirt = fire::libvirt(args.libvirt.as_deref())?;
    let event = AnyEvent::parse(&args.driver, &args.op, args.extra.as_deref(), libvirt)?;
    let fire = Fire {
        event,
        extra: if event.takes_reason() {
            None
        } else {
            args.extra.as_deref()
        },
    };
    let limits = fire::limits(args.timeout.as_deref())?;
    let timeout = args.timeout.is_some().then_some(limits);
    let input = script_input(args, event)?;
    let uses_output = event.spec().uses_output;
    // The report as each script ends; on stderr for a filter, whose stdout is the document.
    let stream = (!args.json).then(|| Stream::new(&ctx.hooks_dir, uses_output));
    let firing = Firing::new(ctx, event.driver(), timeout, libvirt, stream);
    let fired = firing.fire(&fire, &input.object, input.stdin.as_deref(), None)?;
    let code = u8::from(!fired.proceeds());
    if args.json {
        return Ok(Output {
            stdout: json::to_json(&render::json(&fired)).into_bytes(),
            code,
            ..Output::default()
        });
    }
    let stdout = if uses_output {
        // The resulting document on stdout, so `> new.xml` works.
        match (&fired.filter, fired.proceeds()) {
            (Some(FilterResult::Replaced { xml, .. }), true) => xml.clone(),
            (_, true) => input.stdin.clone().unwrap_or_default(),
            (_, false) => Vec::new(),
        }
    } else {
        Vec::new()
    };
    Ok(Output {
        stdout,
        code,
        ..Output::default()
    })
}
