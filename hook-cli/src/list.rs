//! `virt-hook list [DRIVER]`: for each driver, the scripts that would run, in order (what
//! `hook_core::discover::list` says, which is what a call runs), every file that is skipped and
//! why, and the permission warnings; as aligned text or as JSON. Symlinks are shown with their
//! targets. When virt-hook's dispatcher or the guides' hook helper is the main hook, what runs
//! for each `<driver>.d/<object>/<op>/<subop>` follows (`hook_core::discover::list_objects`).

use std::path::{Path, PathBuf};

use hook_core::discover::{self, Listing, ObjectListing, SkipReason, Skipped, Warning};

use serde::Serialize;

use crate::ctx::{Ctx, InputError, Output};
use crate::installed::{Kind, MainHook};
use crate::style::{self, Style};
use crate::{drivers, text};

/// Runs `list`. Always exit status 0: it reports, `check` judges.
pub(crate) fn list(ctx: &Ctx, driver: Option<&str>, json: bool) -> Result<Output, InputError> {
    let names: Vec<&str> = match driver {
        Some(d) => vec![drivers::known(d)?],
        None => drivers::NAMES.to_vec(),
    };
    let exists = ctx.hooks_dir.is_dir();
    let listings: Vec<Driver> = names
        .iter()
        .map(|d| {
            let main = MainHook::inspect(&ctx.hooks_dir, d);
            let objects = main
                .runs_per_object()
                .then(|| discover::list_objects(&ctx.hooks_dir, d));
            Driver {
                flat: discover::list(&ctx.hooks_dir, d),
                main,
                objects,
            }
        })
        .collect();
    let stdout = if json {
        to_json(ctx, exists, &listings)
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

/// What `list` shows for one driver.
struct Driver {
    /// libvirt's own scripts: the main hook and `<driver>.d/*`.
    flat: Listing,
    /// What the main hook is.
    main: MainHook,
    /// The per-object tree, when the main hook runs it.
    objects: Option<ObjectListing>,
}

/// A path with its symlink target when it is a symlink (`qemu.d/10-x -> ../lib/x`), the
/// main hook with its whole chain.
fn shown(path: &Path, dir: &Path, main: &MainHook) -> String {
    let rel = style::rel(path, dir);
    if path == main.path {
        return match main.chain() {
            Some(chain) => format!("{rel} -> {chain}"),
            None => rel,
        };
    }
    match std::fs::read_link(path) {
        Ok(target) => format!("{rel} -> {}", target.display()),
        Err(_) => rel,
    }
}

/// Who runs the per-object scripts, in words.
fn run_by(main: &MainHook) -> &'static str {
    match main.kind {
        Kind::HookHelper => {
            "the hook helper in the main hook's place, in directory order (unsorted; shown sorted)"
        }
        _ => "virt-hook's dispatcher in the main hook's place, in this order",
    }
}

/// `list --json`: the hooks directory and one entry per driver (schema: docs/json.md).
#[derive(Serialize)]
struct ListJson<'a> {
    hooks_dir: String,
    exists: bool,
    drivers: Vec<DriverJson<'a>>,
}

#[derive(Serialize)]
struct DriverJson<'a> {
    driver: &'a str,
    main: String,
    main_hook: MainHookJson,
    d_dir: String,
    runs: Vec<String>,
    skipped: Vec<SkippedJson>,
    warnings: Vec<WarningJson>,
    d_error: Option<&'a str>,
    per_object: Option<PerObjectJson<'a>>,
}

/// What the main hook is, and the symlinks that lead to it.
#[derive(Serialize)]
struct MainHookJson {
    kind: &'static str,
    links: Vec<String>,
}

/// The per-object tree, when the main hook runs it.
#[derive(Serialize)]
struct PerObjectJson<'a> {
    sorted: bool,
    entries: Vec<EntryJson<'a>>,
    skipped: Vec<SkippedJson>,
    d_error: Option<&'a str>,
}

#[derive(Serialize)]
struct EntryJson<'a> {
    object: &'a str,
    op: &'a str,
    subop: &'a str,
    called: bool,
    path: String,
    runs: Vec<String>,
    skipped: Vec<SkippedJson>,
    warnings: Vec<WarningJson>,
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct SkippedJson {
    path: String,
    kind: &'static str,
    reason: String,
}

#[derive(Serialize)]
struct WarningJson {
    path: String,
    kind: &'static str,
    message: String,
}

fn paths_json(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| p.display().to_string()).collect()
}

fn skipped_json(skipped: &[Skipped]) -> Vec<SkippedJson> {
    skipped
        .iter()
        .map(|s| SkippedJson {
            path: s.path.display().to_string(),
            kind: text::skip_kind(&s.reason),
            reason: s.reason.to_string(),
        })
        .collect()
}

fn warnings_json(warnings: &[Warning]) -> Vec<WarningJson> {
    warnings
        .iter()
        .map(|w| WarningJson {
            path: w.path.display().to_string(),
            kind: text::warning_kind(&w.kind),
            message: text::warning_text(&w.kind),
        })
        .collect()
}

fn main_json(main: &MainHook) -> MainHookJson {
    let kind = match main.kind {
        Kind::Absent => "absent",
        Kind::Dispatcher(_) => "dispatcher",
        Kind::HookHelper => "hook-helper",
        Kind::Other => "other",
    };
    MainHookJson {
        kind,
        links: paths_json(&main.links),
    }
}

fn objects_json<'a>(main: &MainHook, o: &'a ObjectListing) -> PerObjectJson<'a> {
    PerObjectJson {
        sorted: !matches!(main.kind, Kind::HookHelper),
        entries: o
            .entries
            .iter()
            .map(|e| EntryJson {
                object: &e.object,
                op: &e.op,
                subop: &e.subop,
                called: drivers::has_event(&o.driver, &e.op, &e.subop),
                path: e.path.display().to_string(),
                runs: paths_json(&e.scripts),
                skipped: skipped_json(&e.skipped),
                warnings: warnings_json(&e.warnings),
                error: e.error.as_deref(),
            })
            .collect(),
        skipped: skipped_json(&o.skipped),
        d_error: o.d_error.as_deref(),
    }
}

fn to_json(ctx: &Ctx, exists: bool, listings: &[Driver]) -> String {
    let drivers = listings
        .iter()
        .map(|d| DriverJson {
            driver: &d.flat.driver,
            main: d.flat.main.display().to_string(),
            main_hook: main_json(&d.main),
            d_dir: d.flat.d_dir.display().to_string(),
            runs: paths_json(&d.flat.scripts),
            skipped: skipped_json(&d.flat.skipped),
            warnings: warnings_json(&d.flat.warnings),
            d_error: d.flat.d_error.as_deref(),
            per_object: d.objects.as_ref().map(|o| objects_json(&d.main, o)),
        })
        .collect();
    crate::json::to_json(&ListJson {
        hooks_dir: ctx.hooks_dir.display().to_string(),
        exists,
        drivers,
    })
}

/// One line under a driver: a marker (`1`, `2`… for scripts that run, `-` skipped, `!`
/// warning), a path, and a note.
struct Row {
    marker: String,
    path: String,
    note: String,
    warn: bool,
}

impl Row {
    /// A sub-heading inside a driver's block (no marker, not aligned).
    fn heading(text: String) -> Row {
        Row {
            marker: String::new(),
            path: text,
            note: String::new(),
            warn: false,
        }
    }

    fn is_heading(&self) -> bool {
        self.marker.is_empty()
    }
}

/// The rows of scripts that run (numbered), with a note on suspicious names.
fn script_rows(scripts: &[PathBuf], dir: &Path, main: &MainHook, rows: &mut Vec<Row>) {
    for (i, p) in scripts.iter().enumerate() {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let note = match text::suspicious_name(&name) {
            Some(what) => format!("runs too, although it is {what} (see virt-hook check)"),
            None if *p == main.path => main.describe().unwrap_or_default().to_owned(),
            None => String::new(),
        };
        rows.push(Row {
            marker: (i + 1).to_string(),
            path: shown(p, dir, main),
            warn: text::suspicious_name(&name).is_some(),
            note,
        });
    }
}

fn skipped_rows(skipped: &[Skipped], dir: &Path, main: &MainHook, rows: &mut Vec<Row>) {
    for s in skipped {
        rows.push(Row {
            marker: "-".into(),
            path: shown(&s.path, dir, main),
            note: format!("skipped: {}", s.reason),
            warn: false,
        });
    }
}

fn warning_rows(warnings: &[Warning], dir: &Path, rows: &mut Vec<Row>) {
    for w in warnings {
        rows.push(Row {
            marker: "!".into(),
            path: style::rel(&w.path, dir),
            note: text::warning_text(&w.kind),
            warn: true,
        });
    }
}

/// The per-object part of a driver's block: one sub-heading per event, its scripts in run
/// order, what is skipped; then the tree's strays.
fn object_rows(o: &ObjectListing, dir: &Path, main: &MainHook, rows: &mut Vec<Row>) {
    let d = &o.driver;
    rows.push(Row::heading(format!(
        "per object ({d}.d/<name>/<op>/<subop>), run by {}:",
        run_by(main)
    )));
    if o.entries.is_empty() && o.skipped.is_empty() {
        rows.push(Row::heading("  nothing yet".into()));
    }
    for e in &o.entries {
        let called = drivers::has_event(d, &e.op, &e.subop);
        let what = match e.scripts.len() {
            _ if e.error.is_some() => "cannot be read".to_owned(),
            0 => "nothing runs".to_owned(),
            1 => "1 script".to_owned(),
            n => format!("{n} scripts"),
        };
        let never = if called {
            ""
        } else {
            " (never: the driver has no such event, see virt-hook check)"
        };
        rows.push(Row::heading(format!(
            "{} {} {}: {what}{never}",
            e.object, e.op, e.subop
        )));
        script_rows(&e.scripts, dir, main, rows);
        skipped_rows(&e.skipped, dir, main, rows);
        if let Some(err) = &e.error {
            rows.push(Row {
                marker: "!".into(),
                path: style::rel(&e.path, dir),
                note: format!(
                    "cannot read it ({}): every {d} {} {} call for {} fails",
                    text::io_text(err),
                    e.op,
                    e.subop,
                    e.object
                ),
                warn: true,
            });
        }
        warning_rows(&e.warnings, dir, rows);
    }
    skipped_rows(&o.skipped, dir, main, rows);
}

fn to_text(ctx: &Ctx, exists: bool, listings: &[Driver], st: Style) -> String {
    let dir = &ctx.hooks_dir;
    let mut out = format!("hooks directory: {}", dir.display());
    if !exists {
        out.push_str(" (does not exist: nothing runs)");
    }
    out.push_str("\n\n");
    let mut blocks: Vec<(String, Vec<Row>)> = Vec::new();
    for Driver {
        flat: l,
        main,
        objects,
    } in listings
    {
        let mut rows = Vec::new();
        script_rows(&l.scripts, dir, main, &mut rows);
        for s in &l.skipped {
            if s.path != l.main && s.reason == SkipReason::Directory && objects.is_some() {
                continue; // an object's directory: shown below with what runs in it
            }
            skipped_rows(std::slice::from_ref(s), dir, main, &mut rows);
        }
        if let Some(e) = &l.d_error {
            rows.push(Row {
                marker: "!".into(),
                path: style::rel(&l.d_dir, dir),
                note: format!(
                    "cannot read it ({}): libvirt fails every {} call",
                    text::io_text(e),
                    l.driver
                ),
                warn: true,
            });
        }
        warning_rows(&l.warnings, dir, &mut rows);
        let mut summary = match l.scripts.len() {
            0 if rows.is_empty() => "nothing installed".to_owned(),
            0 => "nothing runs".to_owned(),
            1 => "1 script runs".to_owned(),
            n => format!("{n} scripts run, in this order"),
        };
        if let Some(o) = objects {
            let events = o.entries.iter().filter(|e| !e.scripts.is_empty()).count();
            let scripts = o.scripts().count();
            summary.push_str(&format!(
                "; per object: {scripts} script{} for {events} event{}",
                if scripts == 1 { "" } else { "s" },
                if events == 1 { "" } else { "s" },
            ));
            object_rows(o, dir, main, &mut rows);
        }
        blocks.push((format!("{:<8}  {summary}", l.driver), rows));
    }
    let width = blocks
        .iter()
        .flat_map(|(_, rows)| {
            rows.iter()
                .filter(|r| !r.is_heading())
                // A symlink's target (`qemu -> /usr/bin/virt-hook`) can be any length; it does
                // not set the column, or one long target would push every note far right.
                .map(|r| r.path.split(" -> ").next().unwrap_or("").chars().count())
        })
        .max()
        .unwrap_or(0);
    for (head, rows) in blocks {
        out.push_str(&st.bold(&head));
        out.push('\n');
        for r in rows {
            if r.is_heading() {
                out.push_str(&format!("  {}\n", r.path));
                continue;
            }
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
