//! `virt-hook lifecycle DRIVER --domain FILE`: the hooks a guest's start and stop trigger, in
//! order: prepare, start, started, then stopped and release. A failure of a start event that
//! libvirt does not ignore ends the start there (the later start events are skipped, as the
//! start is abandoned); stopped and release then run anyway, with the shutoff reason `failed`,
//! as libvirt's cleanup runs them. Without a failure the stop is a normal one (`shutdown`).
//! Exit status 1 when any script failed.

use hook_core::{FailurePolicy, ShutoffReason};

use crate::cli::LifecycleArgs;
use crate::json::Value;
use crate::render::{self, Fired};
use crate::style::Style;
use crate::{Ctx, InputError, Output, event, run};

/// Runs `lifecycle`.
pub(crate) fn lifecycle(ctx: &Ctx, args: &LifecycleArgs) -> Result<Output, InputError> {
    let (start, _) = event::lifecycle(&args.driver, ShutoffReason::Shutdown)?;
    let limits = run::limits(args.timeout)?;
    let doc = run::domain_doc(&args.domain)?;
    let object = doc.name().unwrap_or_default().to_owned();
    let xml = doc.into_bytes();
    let driver = crate::drivers::known(&args.driver)?;
    let hooks = run::hooks_for(ctx, driver, limits)?;

    let mut fired: Vec<Fired> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    let mut aborted_at: Option<String> = None;
    for e in start {
        if aborted_at.is_some() || run::interrupted(&hooks) {
            skipped.push(e.spec().op.to_owned());
            continue;
        }
        let f = run::fire_plain(&hooks, e, &object, &xml);
        if !f.proceeds() && f.policy != FailurePolicy::Ignore {
            aborted_at = Some(f.op().to_owned());
        }
        fired.push(f);
    }
    let reason = if aborted_at.is_some() {
        ShutoffReason::Failed
    } else {
        ShutoffReason::Shutdown
    };
    let (_, stop) = event::lifecycle(driver, reason)?;
    for e in stop {
        if run::interrupted(&hooks) {
            break; // Ctrl-C: fire nothing more
        }
        fired.push(run::fire_plain(&hooks, e, &object, &xml));
    }
    let failed = fired.iter().any(|f| !f.proceeds());
    let code = u8::from(failed);

    if args.json {
        let v = Value::obj()
            .with("driver", driver)
            .with("object", object.as_str())
            .with("aborted_at", aborted_at.clone())
            .with("skipped", skipped.clone())
            .with("ok", !failed)
            .with("events", fired.iter().map(render::json).collect::<Vec<_>>());
        return Ok(Output {
            stdout: (v.to_string() + "\n").into_bytes(),
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
            "guest '{object}' would start and stop; every hook succeeded"
        )),
    };
    out.push_str(&format!("lifecycle: {summary}\n"));
    Ok(Output {
        stdout: out.into_bytes(),
        code,
        ..Output::default()
    })
}
