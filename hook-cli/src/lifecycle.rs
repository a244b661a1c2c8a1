//! `virt-hook lifecycle DRIVER --domain FILE [--end REASON] [--libvirt VERSION]`: the hooks a
//! guest's start and stop trigger, in order: prepare, start, started, then stopped and release.
//! A failure of a start event that libvirt does not ignore ends the start there (the later start
//! events are skipped, as the start is abandoned); stopped and release then run anyway, with the
//! shutoff reason `failed`, as libvirt's cleanup runs them. Without a failure the guest ends as
//! `--end` says (default `shutdown`); `release` gets that reason unless `--libvirt` is older than
//! 10.5. Every step is fed the given document unchanged, and the output says so next to what
//! real libvirt formats for that step. Exit status 1 when any script failed.

use hook_core::matrix::Stdin;
use hook_core::{FailurePolicy, ShutoffReason};

use crate::cli::LifecycleArgs;
use serde::Serialize;

use crate::ctx::{Ctx, InputError, Output};
use crate::fire::render::{self, Fired};
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
    ok: bool,
    events: Vec<render::FiredJson<'a>>,
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
    let doc = fire::domain_doc(&args.domain)?;
    let object = doc.name().unwrap_or_default().to_owned();
    let xml = doc.into_bytes();
    let driver = crate::drivers::known(&args.driver)?;
    let hooks = fire::hooks_for(ctx, driver, limits, libvirt)?;
    let fire = |e: event::AnyEvent| {
        let mut f = fire::fire_plain(&hooks, e, &object, &xml);
        let libvirt_sends = match e.call_site().stdin {
            Stdin::Document { what, .. } => what,
            Stdin::DevNull => "nothing",
        };
        f.document = Some(format!(
            "the --domain document as given, unchanged; libvirt would send {libvirt_sends}"
        ));
        f
    };

    let mut fired: Vec<Fired> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    let mut aborted_at: Option<String> = None;
    for e in start {
        if aborted_at.is_some() || fire::interrupted(&hooks) {
            skipped.push(e.spec().op.to_owned());
            continue;
        }
        let f = fire(e);
        if !f.proceeds() && f.policy != FailurePolicy::Ignore {
            aborted_at = Some(f.op().to_owned());
        }
        fired.push(f);
    }
    let reason = if aborted_at.is_some() {
        ShutoffReason::Failed
    } else {
        end
    };
    let (_, stop) = event::lifecycle(driver, reason, libvirt)?;
    for e in stop {
        if fire::interrupted(&hooks) {
            break; // Ctrl-C: fire nothing more
        }
        fired.push(fire(e));
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
            ok: !failed,
            events: fired.iter().map(render::json).collect(),
        };
        return Ok(Output {
            stdout: json::to_json(&v).into_bytes(),
            code,
            ..Output::default()
        });
    }

    let st = Style::for_stream(&std::io::stdout());
    let mut out = String::new();
    for f in &fired {
        out.push_str(&render::text(f, &ctx.hooks_dir, st));
        out.push('\n');
        if aborted_at.as_deref() == Some(f.op()) {
            for op in &skipped {
                out.push_str(&format!(
                    "{}\n\n",
                    st.dim(&format!("{driver} {op}: skipped, the start was abandoned"))
                ));
            }
        }
    }
    let summary = match &aborted_at {
        Some(op) => st.red(&format!(
            "guest '{object}' would not start: its {op} hooks failed; stopped and release ran as \
             libvirt's cleanup (reason: failed)"
        )),
        None if failed => st.red(&format!(
            "guest '{object}' would start and stop, but a stop hook failed (libvirt only logs that)"
        )),
        None => st.green(&format!(
            "guest '{object}' would start and stop ({reason}); every hook succeeded"
        )),
    };
    out.push_str(&format!("lifecycle: {summary}\n"));
    Ok(Output {
        stdout: out.into_bytes(),
        code,
        ..Output::default()
    })
}
