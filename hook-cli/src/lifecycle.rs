//! `virt-hook lifecycle DRIVER --domain FILE [--end REASON] [--libvirt VERSION]`: the hooks a
//! guest's start and stop trigger, in order: prepare, start, started, then stopped and release.
//! A failure of a start event that libvirt does not ignore ends the start there (the later start
//! events are skipped, as the start is abandoned); stopped and release then run anyway, with the
//! shutoff reason `failed`, as libvirt's cleanup runs them. Without a failure the guest ends as
//! `--end` says (default `shutdown`); `release` gets that reason unless `--libvirt` is older than
//! 10.5. Every step is fed the given document unchanged, and the output says so next to what
//! real libvirt formats for that step. Exit status 1 when any script failed. Each event is
//! written as its scripts end ([`crate::fire`]: per-object scripts too, when the dispatcher or
//! the hook helper is the main hook).
//!
//! After SIGINT/SIGTERM nothing more is fired, and the report says only what happened: the
//! events fired (the interrupted one says which scripts did not start), the ones not fired,
//! and that the guest's end (`--end`) was not reached; an interruption is no failed start, so
//! it does not turn into libvirt's cleanup with reason `failed`.

use hook_core::matrix::Stdin;
use hook_core::{FailurePolicy, ShutoffReason};

use crate::cli::LifecycleArgs;
use serde::Serialize;

use crate::ctx::{Ctx, InputError, Output};
use crate::event::Fire;
use crate::fire::Firing;
use crate::fire::render::{self, Fired, Stream};
use crate::style::Style;
use crate::{event, fire, json};

/// `lifecycle --json` (schema: docs/json.md).
#[derive(Serialize)]
struct LifecycleJson<'a> {
    driver: &'a str,
    object: &'a str,
    libvirt: String,
    end: &'static str,
    aborted_at: Option<&'a str>,
    skipped: &'a [String],
    /// Set when SIGINT/SIGTERM stopped the sequence.
    interrupted: Option<InterruptedJson<'a>>,
    /// The events not fired because of the interruption, in order.
    not_fired: &'a [String],
    ok: bool,
    events: Vec<render::FiredJson<'a>>,
}

/// Which signal stopped the sequence, and during which event (`None`: between two).
#[derive(Serialize)]
struct InterruptedJson<'a> {
    signal: &'static str,
    during: Option<&'a str>,
}

/// Runs `lifecycle`.
pub(crate) fn lifecycle(ctx: &Ctx, args: &LifecycleArgs) -> Result<Output, InputError> {
    let libvirt = fire::libvirt(args.libvirt.as_deref())?;
    let end = match &args.end {
        None => ShutoffReason::Shutdown,
        Some(word) => word.parse().map_err(|e: hook_core::UnknownWord| {
            InputError(format!("--end: {}", crate::text::unknown_word(&e)))
        })?,
    };
    let (start, _) = event::lifecycle(&args.driver, end, libvirt)?;
    let limits = fire::limits(args.timeout.as_deref())?;
    let timeout = args.timeout.is_some().then_some(limits);
    let doc = fire::domain_doc(&args.domain)?;
    let object = doc.name().unwrap_or_default().to_owned();
    let xml = doc.into_bytes();
    let driver = crate::drivers::known(&args.driver)?;
    let stream = (!args.json).then(|| Stream::new(&ctx.hooks_dir, false));
    let firing = Firing::new(ctx, driver, timeout, libvirt, stream);
    let st = firing
        .stream()
        .map_or(Style::for_stream(&std::io::stdout()), |s| s.style);
    let write = |text: &str| {
        if let Some(s) = firing.stream() {
            s.write(text);
        }
    };
    let fire = |e: event::AnyEvent| {
        let libvirt_sends = match e.call_site().stdin {
            Stdin::Document { what, .. } => what,
            Stdin::DevNull => "nothing",
        };
        let document = format!(
            "the --domain document as given, unchanged; libvirt would send {libvirt_sends}"
        );
        let f = firing.fire(
            &Fire {
                event: e,
                extra: None,
            },
            &object,
            Some(&xml),
            Some(document),
        );
        write("\n");
        f
    };

    let mut fired: Vec<Fired> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    let mut not_fired: Vec<String> = Vec::new();
    let mut aborted_at: Option<String> = None;
    // The signal, and the event it stopped (`None`: it came between two events).
    let mut interrupted: Option<(&'static str, Option<String>)> = None;
    let stop_interrupted = |interrupted: &mut Option<(&'static str, Option<String>)>,
                            not_fired: &mut Vec<String>,
                            op: &str| {
        if interrupted.is_none()
            && let Some(signal) = firing.interrupted_by()
        {
            *interrupted = Some((signal, None));
        }
        match interrupted {
            Some((signal, _)) => {
                not_fired.push(op.to_owned());
                write(&format!(
                    "{}\n\n",
                    st.dim(&format!(
                        "{driver} {op}: not fired, interrupted by {signal}"
                    ))
                ));
                true
            }
            None => false,
        }
    };
    for e in start {
        let op = e.spec().op;
        if stop_interrupted(&mut interrupted, &mut not_fired, op) {
            continue;
        }
        if aborted_at.is_some() {
            skipped.push(op.to_owned());
            write(&format!(
                "{}\n\n",
                st.dim(&format!("{driver} {op}: skipped, the start was abandoned"))
            ));
            continue;
        }
        let f = fire(e)?;
        if let Some(signal) = f.interrupted_by() {
            interrupted = Some((signal, Some(op.to_owned())));
        } else if !f.proceeds() && f.policy != FailurePolicy::Ignore {
            aborted_at = Some(op.to_owned());
        }
        fired.push(f);
    }
    // An interruption is no failed start: the guest would end as --end says.
    let reason = if aborted_at.is_some() {
        ShutoffReason::Failed
    } else {
        end
    };
    let (_, stop) = event::lifecycle(driver, reason, libvirt)?;
    for e in stop {
        let op = e.spec().op;
        if stop_interrupted(&mut interrupted, &mut not_fired, op) {
            continue;
        }
        let f = fire(e)?;
        if let Some(signal) = f.interrupted_by() {
            interrupted = Some((signal, Some(op.to_owned())));
        }
        fired.push(f);
    }
    let failed = fired.iter().any(|f| !f.proceeds());
    let code = u8::from(failed);

    if args.json {
        let v = LifecycleJson {
            driver,
            object: &object,
            libvirt: libvirt.to_string(),
            end: reason.as_str(),
            aborted_at: aborted_at.as_deref(),
            skipped: &skipped,
            interrupted: interrupted
                .as_ref()
                .map(|(signal, during)| InterruptedJson {
                    signal,
                    during: during.as_deref(),
                }),
            not_fired: &not_fired,
            ok: !failed,
            events: fired.iter().map(render::json).collect(),
        };
        return Ok(Output {
            stdout: json::to_json(&v).into_bytes(),
            code,
            ..Output::default()
        });
    }

    let ops = |list: &[String]| list.join(", ");
    let summary = match (&interrupted, &aborted_at) {
        (Some((signal, during)), _) => {
            let during = during
                .as_ref()
                .map(|op| format!(" during {driver} {op}"))
                .unwrap_or_default();
            let ran: Vec<String> = fired.iter().map(|f| f.op().to_owned()).collect();
            let ran = if ran.is_empty() {
                "nothing was fired".to_owned()
            } else {
                format!("fired: {}", ops(&ran))
            };
            let not = if not_fired.is_empty() {
                String::new()
            } else {
                format!("; not fired: {}", ops(&not_fired))
            };
            let end_note = if not_fired.iter().any(|op| op == "release") {
                format!(" (the guest's end, {reason}, was not reached)")
            } else {
                String::new()
            };
            st.red(&format!(
                "interrupted by {signal}{during}: {ran}{not}{end_note}"
            ))
        }
        (None, Some(op)) => st.red(&format!(
            "guest '{object}' would not start: its {op} hooks failed; stopped and release ran as \
             libvirt's cleanup (reason: failed)"
        )),
        (None, None) if failed => st.red(&format!(
            "guest '{object}' would start and stop, but a stop hook failed (libvirt only logs that)"
        )),
        (None, None) => st.green(&format!(
            "guest '{object}' would start and stop ({reason}); every hook succeeded"
        )),
    };
    Ok(Output {
        stdout: format!("lifecycle: {summary}\n").into_bytes(),
        code,
        ..Output::default()
    })
}
