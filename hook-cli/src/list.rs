//! `virt-hook list [DRIVER]`: for each driver, the scripts that would run, in order (what
//! `hook_core::discover::list` says, which is what a call runs), every file that is skipped and
//! why, and the permission warnings; as aligned text or as JSON.

use hook_core::discover::{self, Listing, SkipReason, WarningKind};

use crate::json::Value;
use crate::style::{self, Style};
use crate::{Ctx, InputError, Output, check, drivers};

/// Runs `list`. Always exit status 0: it reports, `check` judges.
pub(crate) fn list(ctx: &Ctx, driver: Option<&str>, json: bool) -> Result<Output, InputError> {
    let names: Vec<&str> = match driver {
        Some(d) => vec![drivers::known(d)?],
        None => drivers::NAMES.to_vec(),
    };
    let exists = ctx.hooks_dir.is_dir();
    let listings: Vec<Listing> = names
        .iter()
        .map(|d| discover::list(&ctx.hooks_dir, d))
        .collect();
    let stdout = if json {
        to_json(ctx, exists, &listings).to_string() + "\n"
    } else {
        to_text(
            ctx,
            exists,
            &listings,
            Style::for_stream(&std::io::stdout()),
        )
    };
    Ok(Output {
        stdout: stdout.into_bytes(),
        ..Output::default()
    })
}

/// An I/O error's text without the ` (os error N)` tail.
pub(crate) fn io_text(e: &str) -> &str {
    e.split(" (os error").next().unwrap_or(e)
}

/// A short stable name for a skip reason (JSON `kind`).
pub(crate) fn skip_kind(reason: &SkipReason) -> &'static str {
    match reason {
        SkipReason::NotExecutable => "not-executable",
        SkipReason::Directory => "directory",
        SkipReason::BrokenSymlink => "broken-symlink",
        SkipReason::SymlinkLoop => "symlink-loop",
        SkipReason::NotRegularFile => "not-regular-file",
        SkipReason::Unreadable(_) => "unreadable",
        SkipReason::Empty => "empty",
        SkipReason::OutsideLayout => "outside-layout",
    }
}

/// A short stable name for a permission warning (JSON `kind`, `check` codes).
pub(crate) fn warning_kind(kind: &WarningKind) -> &'static str {
    match kind {
        WarningKind::WorldWritable => "world-writable",
        WarningKind::GroupWritable => "group-writable",
        WarningKind::ForeignOwner { .. } => "foreign-owner",
    }
}

/// A permission warning in words, without the path.
pub(crate) fn warning_text(kind: &WarningKind) -> String {
    match kind {
        WarningKind::WorldWritable => {
            "world-writable: anyone can change what runs as the daemon (chmod o-w)".into()
        }
        WarningKind::GroupWritable => {
            "group-writable: its group can change what runs as the daemon (chmod g-w)".into()
        }
        WarningKind::ForeignOwner { uid } => {
            format!("owned by uid {uid}, neither root nor you: that user can change what runs")
        }
    }
}

fn to_json(ctx: &Ctx, exists: bool, listings: &[Listing]) -> Value {
    let drivers: Vec<Value> = listings
        .iter()
        .map(|l| {
            Value::obj()
                .with("driver", l.driver.as_str())
                .with("main", l.main.display().to_string())
                .with("d_dir", l.d_dir.display().to_string())
                .with(
                    "runs",
                    l.scripts
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>(),
                )
                .with(
                    "skipped",
                    l.skipped
                        .iter()
                        .map(|s| {
                            Value::obj()
                                .with("path", s.path.display().to_string())
                                .with("kind", skip_kind(&s.reason))
                                .with("reason", s.reason.to_string())
                        })
                        .collect::<Vec<_>>(),
                )
                .with(
                    "warnings",
                    l.warnings
                        .iter()
                        .map(|w| {
                            Value::obj()
                                .with("path", w.path.display().to_string())
                                .with("kind", warning_kind(&w.kind))
                                .with("message", warning_text(&w.kind))
                        })
                        .collect::<Vec<_>>(),
                )
                .with("d_error", l.d_error.clone())
        })
        .collect();
    Value::obj()
        .with("hooks_dir", ctx.hooks_dir.display().to_string())
        .with("exists", exists)
        .with("drivers", drivers)
}

/// One line under a driver: a marker (`1`, `2`… for scripts that run, `-` skipped, `!`
/// warning), a path, and a note.
struct Row {
    marker: String,
    path: String,
    note: String,
    warn: bool,
}

fn to_text(ctx: &Ctx, exists: bool, listings: &[Listing], st: Style) -> String {
    let dir = &ctx.hooks_dir;
    let mut out = format!("hooks directory: {}", dir.display());
    if !exists {
        out.push_str(" (does not exist: nothing runs)");
    }
    out.push_str("\n\n");
    let mut blocks: Vec<(String, Vec<Row>)> = Vec::new();
    for l in listings {
        let mut rows = Vec::new();
        for (i, p) in l.scripts.iter().enumerate() {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            let note = match check::suspicious_name(&name) {
                Some(what) => format!("runs too, although it is {what} (see virt-hook check)"),
                None => String::new(),
            };
            rows.push(Row {
                marker: (i + 1).to_string(),
                path: style::rel(p, dir),
                warn: !note.is_empty(),
                note,
            });
        }
        for s in &l.skipped {
            rows.push(Row {
                marker: "-".into(),
                path: style::rel(&s.path, dir),
                note: format!("skipped: {}", s.reason),
                warn: false,
            });
        }
        if let Some(e) = &l.d_error {
            rows.push(Row {
                marker: "!".into(),
                path: style::rel(&l.d_dir, dir),
                note: format!(
                    "cannot read it ({}): libvirt fails every {} call",
                    io_text(e),
                    l.driver
                ),
                warn: true,
            });
        }
        for w in &l.warnings {
            rows.push(Row {
                marker: "!".into(),
                path: style::rel(&w.path, dir),
                note: warning_text(&w.kind),
                warn: true,
            });
        }
        let summary = match l.scripts.len() {
            0 if rows.is_empty() => "nothing installed".to_owned(),
            0 => "nothing runs".to_owned(),
            1 => "1 script runs".to_owned(),
            n => format!("{n} scripts run, in this order"),
        };
        blocks.push((format!("{:<8}  {summary}", l.driver), rows));
    }
    let width = blocks
        .iter()
        .flat_map(|(_, rows)| rows.iter().map(|r| r.path.chars().count()))
        .max()
        .unwrap_or(0);
    for (head, rows) in blocks {
        out.push_str(&st.bold(&head));
        out.push('\n');
        for r in rows {
            let marker = format!("{:>3}", r.marker);
            let marker = if r.warn { st.yellow(&marker) } else { marker };
            let line = if r.note.is_empty() {
                format!("  {marker}  {}", r.path)
            } else {
                let note = if r.warn {
                    st.yellow(&r.note)
                } else {
                    st.dim(&r.note)
                };
                format!("  {marker}  {}  {note}", style::pad(&r.path, width))
            };
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}
