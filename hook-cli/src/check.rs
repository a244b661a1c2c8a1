//! `virt-hook check`: the mistakes people make in a hooks directory, each an error, a warning
//! or a note with a stable code. Exit status 1 when there is at least one error.
//!
//! Errors are what breaks hook calls or runs something nobody meant to run: an executable
//! editor backup or dotfile (`qemu.d/10-net~`, `.10-net.swp`: libvirt runs those too), a `#!`
//! line missing or ending in CR, an interpreter that does not exist or cannot run, a
//! world-writable script or directory (a symlink's target directories included, as
//! `discover::list` and strict trust mode judge them), a `<driver>.d` subdirectory holding
//! scripts while nothing runs the per-object layout (libvirt never looks inside; the fix is
//! `virt-hook install`), a main-script path that is a directory holding scripts, a `<driver>.d`
//! that is not a readable directory (libvirt then fails every call), a dispatcher whose binary
//! is gone, a `virt-hook.toml` the dispatcher cannot load.
//! Warnings are what may be intended or is only guessed: a file without the execute bit, a
//! group-writable or foreign-owned file, a script that seems to call `virsh` (libvirt waits
//! for the script while holding the guest's lock), an `env` interpreter not on this `PATH`, an
//! empty subdirectory, a broken symlink, executables in the hooks directory under a name
//! libvirt never runs (`qemu.sh`), the guides' hook helper, a per-object directory for an event
//! the driver does not have. Notes are neither: a per-object directory of a guest this host does
//! not define, the backup `install` kept.
//!
//! With virt-hook's dispatcher or the hook helper as the main hook ([`crate::installed`]), the
//! per-object tree (`hook_core::discover::list_objects`) is checked like `<driver>.d`: each
//! script that runs gets the same lints.

use std::collections::HashSet;
use std::io::Read as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use hook_core::discover::{self, Listing, ObjectListing, SkipReason, WarningKind};

use serde::Serialize;

use crate::ctx::{Ctx, InputError, Output};
use crate::installed::{self, COPY_NAME, Kind, MainHook, Via};
use crate::mac::{self, FileKind, Host};
use crate::style::{self, Style};
use crate::text::Severity;
use crate::{drivers, text};

/// One problem found.
#[derive(Clone, Debug)]
pub(crate) struct Finding {
    pub(crate) severity: Severity,
    /// A stable kebab-case name, e.g. `crlf-shebang`.
    pub(crate) code: &'static str,
    pub(crate) path: PathBuf,
    pub(crate) message: String,
}

/// Runs `check`, or `check DRIVER`: only the findings that concern that driver
/// ([`concerns`]).
pub(crate) fn check(ctx: &Ctx, driver: Option<&str>, json: bool) -> Result<Output, InputError> {
    let driver = driver.map(drivers::known).transpose()?;
    let exists = ctx.hooks_dir.is_dir();
    let mut findings = if exists {
        find_all(&ctx.hooks_dir)
    } else {
        Vec::new()
    };
    if let Some(d) = driver {
        findings.retain(|f| concerns(&ctx.hooks_dir, d, &f.path));
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let stdout = if json {
        to_json(ctx, driver, exists, &findings)
    } else {
        to_text(
            ctx,
            driver,
            exists,
            &findings,
            Style::for_stream(&std::io::stdout()),
        )
    };
    Ok(Output {
        stdout: stdout.into_bytes(),
        stderr: String::new(),
        code: u8::from(errors > 0),
    })
}

/// Whether a finding about `path` concerns `driver`, for `check DRIVER`: the driver's own files
/// (its main hook `<driver>`, everything under `<driver>.d/`, `<driver>.<anything>` such as
/// install's backup or a `qemu.sh` libvirt never runs) and what every driver depends on (the
/// hooks directory itself, `virt-hook.toml`, the copy `virt-hook`, anything outside the
/// directory); not another driver's files. Every driver is still examined, so that a file one
/// driver's scripts lead to is not reported as never run.
fn concerns(dir: &Path, driver: &str, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(dir) else {
        return true;
    };
    let Some(first) = rel.components().next() else {
        return true; // the hooks directory itself
    };
    let name = first.as_os_str().to_string_lossy();
    let owner = name.split('.').next().unwrap_or(&name);
    !drivers::NAMES.contains(&owner) || owner == driver
}

struct Finder {
    findings: Vec<Finding>,
    seen: HashSet<(PathBuf, &'static str)>,
    /// The files (device, inode) that symlinks of scripts that run lead through (`qemu ->
    /// hooks`): they run under another name, so they are not "never run".
    linked: HashSet<(u64, u64)>,
}

impl Finder {
    fn add(&mut self, severity: Severity, code: &'static str, path: &Path, message: String) {
        if self.seen.insert((path.to_owned(), code)) {
            self.findings.push(Finding {
                severity,
                code,
                path: path.to_owned(),
                message,
            });
        }
    }

    /// Group/world-writable and foreign owner on a directory libvirt reads.
    fn dir_modes(&mut self, dir: &Path) {
        let Ok(m) = std::fs::metadata(dir) else {
            return;
        };
        let mode = m.permissions().mode();
        if mode & 0o1000 != 0 {
            return; // sticky, like /tmp: entries are protected from other users
        }
        if mode & 0o002 != 0 {
            self.permission(dir, &WarningKind::WorldWritable, true);
        } else if mode & 0o020 != 0 {
            self.permission(dir, &WarningKind::GroupWritable, true);
        }
    }

    fn permission(&mut self, path: &Path, kind: &WarningKind, is_dir: bool) {
        let severity = match kind {
            WarningKind::WorldWritable => Severity::Error,
            _ => Severity::Warning,
        };
        let mut text = text::warning_text(kind);
        if is_dir {
            text = text.replace("change what runs", "add or replace scripts");
        }
        self.add(severity, text::warning_kind(kind), path, text);
    }
}

fn find_all(dir: &Path) -> Vec<Finding> {
    find_all_on(dir, &Host::real())
}

/// [`find_all`] on `host` (a fake one in tests).
fn find_all_on(dir: &Path, host: &Host) -> Vec<Finding> {
    let mut f = Finder {
        findings: Vec::new(),
        seen: HashSet::new(),
        linked: HashSet::new(),
    };
    f.dir_modes(dir);
    for driver in drivers::NAMES {
        let main = MainHook::inspect(dir, driver);
        let l = discover::list(dir, driver);
        driver_findings(&mut f, &l, &main);
        if main.runs_per_object() {
            object_findings(&mut f, dir, &l, &main, &discover::list_objects(dir, driver));
        }
    }
    settings(&mut f, dir);
    confinement(&mut f, dir, host);
    stale_copy(&mut f, dir);
    unknown_entries(&mut f, dir);
    // By path, so each file's findings are together; the directory itself comes first.
    f.findings.sort_by(|a, b| a.path.cmp(&b.path));
    f.findings
}

fn driver_findings(f: &mut Finder, l: &Listing, main: &MainHook) {
    if let Some(e) = &l.d_error {
        let d = &l.driver;
        let (code, message) = if std::fs::metadata(&l.d_dir).is_ok_and(|m| !m.is_dir()) {
            (
                "d-not-a-directory",
                format!(
                    "not a directory: once a main {d} script is installed, every {d} hook call \
                     fails (libvirt cannot open {d}.d)"
                ),
            )
        } else {
            (
                "d-unreadable",
                format!(
                    "cannot be read ({}): every {d} hook call fails, and without a main {d} \
                     script the daemon refuses to start",
                    text::io_text(e)
                ),
            )
        };
        f.add(Severity::Error, code, &l.d_dir, message);
    } else if l.d_dir.is_dir() {
        f.dir_modes(&l.d_dir);
    }
    for w in &l.warnings {
        f.permission(&w.path, &w.kind, w.path.is_dir());
    }
    for s in &l.skipped {
        if s.path != l.main && s.reason == SkipReason::Directory && main.runs_per_object() {
            continue; // a per-object directory: object_findings looks inside
        }
        skipped(f, &l.driver, Place::Flat(&l.main), &s.path, &s.reason);
    }
    for script in &l.scripts {
        runs(f, "libvirt", script);
    }
}

/// Where a skipped file is, which says who skips it and what a directory there means.
#[derive(Clone, Copy)]
enum Place<'a> {
    /// The main script (given) or directly in `<driver>.d`: libvirt decides.
    Flat(&'a Path),
    /// In the per-object tree: the dispatcher (or the hook helper, named) decides.
    PerObject(&'a str),
}

fn skipped(f: &mut Finder, driver: &str, place: Place<'_>, path: &Path, reason: &SkipReason) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let who = match place {
        Place::Flat(_) => "libvirt",
        Place::PerObject(who) => who,
    };
    let w = drivers::object_word(driver);
    match reason {
        SkipReason::NotExecutable if text::suspicious_name(&name).is_some() => {}
        SkipReason::NotExecutable => f.add(
            Severity::Warning,
            "not-executable",
            path,
            format!("not executable: {who} skips it (chmod +x if it should run)"),
        ),
        SkipReason::Directory => {
            let inside = executables_in(path, 3);
            let (what, hint) = match place {
                Place::Flat(main) if path == main => (
                    format!(
                        "a directory: libvirt runs the file {driver} and the scripts directly in \
                         {driver}.d/, never anything in {driver}/"
                    ),
                    String::new(),
                ),
                Place::Flat(_) if driver == hook_daemon::NAME => (
                    "a subdirectory: libvirt never looks inside daemon.d subdirectories".to_owned(),
                    " (daemon hooks get no object name ($1 is -): put the scripts directly in \
                     daemon.d)"
                        .to_owned(),
                ),
                Place::Flat(_) => (
                    format!("a subdirectory: libvirt never looks inside {driver}.d subdirectories"),
                    format!(
                        "; per-{w} scripts ({driver}.d/<{w}>/<op>/<subop>/) run with \
                         virt-hook's dispatcher as the main {driver} hook: virt-hook install \
                         {driver}"
                    ),
                ),
                Place::PerObject(_) => (
                    format!(
                        "a directory: nothing runs what is deeper than \
                         {driver}.d/<{w}>/<op>/<subop>/"
                    ),
                    String::new(),
                ),
            };
            if inside > 0 {
                let (s, verb) = if inside == 1 {
                    ("", "runs")
                } else {
                    ("s", "run")
                };
                f.add(
                    Severity::Error,
                    "ignored-directory",
                    path,
                    format!("{what}, so its {inside} executable{s} never {verb}{hint}"),
                );
            } else {
                f.add(
                    Severity::Warning,
                    "ignored-directory",
                    path,
                    format!("{what}{hint}"),
                );
            }
        }
        SkipReason::BrokenSymlink => f.add(
            Severity::Warning,
            "broken-symlink",
            path,
            format!("a symlink to nothing: {who} skips it"),
        ),
        SkipReason::SymlinkLoop => f.add(
            Severity::Warning,
            "symlink-loop",
            path,
            format!("a symlink loop: {who} skips it"),
        ),
        SkipReason::NotRegularFile => f.add(
            Severity::Warning,
            "not-regular-file",
            path,
            format!("not a regular file (socket, fifo or device): {who} skips it"),
        ),
        // In the per-object tree, a directory that cannot be read fails the calls under it.
        SkipReason::Unreadable(e) if matches!(place, Place::PerObject(_)) && path.is_dir() => {
            f.add(
                Severity::Error,
                "unreadable",
                path,
                format!(
                    "cannot be read ({}): every call for the events under it fails",
                    text::io_text(e)
                ),
            );
        }
        SkipReason::Unreadable(e) => f.add(
            Severity::Warning,
            "unreadable",
            path,
            format!("cannot be examined ({}): {who} skips it", text::io_text(e)),
        ),
        // Only the per-object listing (discover::list_objects) gives these.
        SkipReason::Empty => f.add(
            Severity::Warning,
            "empty",
            path,
            format!("an empty file: {who} skips it"),
        ),
        SkipReason::OutsideLayout => f.add(
            Severity::Warning,
            "outside-layout",
            path,
            format!(
                "nothing runs it: scripts go in {driver}.d/<{w}>/<op>/<subop>/ (or are that \
                 path)"
            ),
        ),
    }
}

/// Findings in the per-object tree `<driver>.d/<object>/<op>/<subop>/` when the dispatcher or
/// the hook helper (`main`) runs it: each script linted as a `.d` one, what is skipped, the
/// events the driver never has, and objects this host does not define (a note).
fn object_findings(f: &mut Finder, dir: &Path, l: &Listing, main: &MainHook, o: &ObjectListing) {
    let d = &o.driver;
    let w = drivers::object_word(d);
    let who = match main.kind {
        Kind::HookHelper => "the hook helper",
        _ => "the dispatcher",
    };
    if main.kind == Kind::HookHelper {
        f.add(
            Severity::Warning,
            "hook-helper",
            &main.path,
            format!(
                "the hook helper of the VFIO guides: it runs {d}.d/<{w}>/<op>/<subop>/ in \
                 directory order (unsorted), its scripts share one stdin (the first that reads \
                 it takes it from the others), nothing times out, and a script that leaves a \
                 process behind hangs libvirt; `virt-hook install {d}` replaces it, keeping it \
                 as {d}{}",
                installed::BACKUP_SUFFIX
            ),
        );
    }
    if l.scripts.first() != Some(&l.main) {
        let what = main.describe().unwrap_or("the main hook");
        f.add(
            Severity::Error,
            "main-does-not-run",
            &main.path,
            format!(
                "{what}, but libvirt cannot run it (see above): nothing in {d}.d/<{w}>/ runs \
                 (virt-hook install {d} puts the dispatcher back)"
            ),
        );
    }
    for s in &o.skipped {
        skipped(f, d, Place::PerObject(who), &s.path, &s.reason);
    }
    let events = drivers::events(d);
    let defined = Defined::new(dir, d);
    for e in &o.entries {
        if let Some(err) = &e.error {
            f.add(
                Severity::Error,
                "unreadable",
                &e.path,
                format!(
                    "cannot be read ({}): every {d} {} {} call for {} fails",
                    text::io_text(err),
                    e.op,
                    e.subop,
                    e.object
                ),
            );
        }
        for warning in &e.warnings {
            f.permission(&warning.path, &warning.kind, warning.path.is_dir());
        }
        for s in &e.skipped {
            skipped(f, d, Place::PerObject(who), &s.path, &s.reason);
        }
        for script in &e.scripts {
            runs(f, who, script);
        }
        if !drivers::has_event(d, &e.op, &e.subop) {
            let subops: Vec<&str> = events
                .iter()
                .filter(|(op, _)| *op == e.op)
                .map(|(_, subop)| *subop)
                .collect();
            let why = if subops.is_empty() {
                let mut ops: Vec<&str> = events.iter().map(|(op, _)| *op).collect();
                ops.dedup();
                format!(
                    "{d} has no operation {:?} (it has {})",
                    e.op,
                    ops.join(", ")
                )
            } else {
                format!(
                    "{d} calls {} only with the sub-operation {}",
                    e.op,
                    subops.join(" or ")
                )
            };
            f.add(
                Severity::Warning,
                "never-called",
                &e.path,
                format!("{why}: nothing here ever runs"),
            );
        }
        if let Some(note) = defined.note(&e.object) {
            f.add(
                Severity::Note,
                "undefined-object",
                &o.d_dir.join(&e.object),
                note,
            );
        }
    }
}

/// Which objects this host defines: the `<name>.xml` files of libvirt's configuration
/// directory next to the hooks directory (`/etc/libvirt/qemu/` for `/etc/libvirt/hooks/`).
struct Defined {
    /// The configuration directory, when there is one to look in.
    conf: Option<PathBuf>,
    /// `guest` or `network`.
    what: &'static str,
}

impl Defined {
    fn new(hooks_dir: &Path, driver: &str) -> Defined {
        Defined {
            conf: drivers::conf_dir(hooks_dir, driver),
            what: drivers::object_word(driver),
        }
    }

    /// A note when `object` has no `<name>.xml` (and there is a directory to look in).
    fn note(&self, object: &str) -> Option<String> {
        let conf = self.conf.as_ref()?;
        let xml = conf.join(format!("{object}.xml"));
        (!xml.exists()).then(|| {
            format!(
                "no {w} named {object:?} is defined on this host ({} does not exist): its \
                 scripts run only for a {w} of that name (a typo, or a transient {w}?)",
                xml.display(),
                w = self.what
            )
        })
    }
}

/// How many executable regular files a directory holds, down to `depth` levels of
/// subdirectories (3 reaches the scripts of a per-guest `<guest>/<op>/<subop>/`). Symlinks to
/// directories are not followed, so a loop ends.
fn executables_in(dir: &Path, depth: usize) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.filter_map(Result::ok)
        .map(|e| {
            let path = e.path();
            match std::fs::metadata(&path) {
                Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => 1,
                Ok(m)
                    if m.is_dir() && depth > 0 && !e.file_type().is_ok_and(|t| t.is_symlink()) =>
                {
                    executables_in(&path, depth - 1)
                }
                _ => 0,
            }
        })
        .sum()
}

/// Checks on a script that runs (`who` runs it: libvirt, or the dispatcher or the hook helper
/// for a per-object script): its name, its `#!` line and interpreter, and `virsh`. A
/// per-object script without a `#!` line is only a note: the helper's bash ran it, and the
/// dispatcher runs it the same way (libvirt fails on it).
fn runs(f: &mut Finder, who: &str, script: &Path) {
    let per_object = who != "libvirt";
    for hop in installed::follow(script).1 {
        if let Ok(m) = std::fs::symlink_metadata(&hop) {
            f.linked.insert((m.dev(), m.ino()));
        }
    }
    let name = script
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(what) = text::suspicious_name(&name) {
        let code = if what == "a dotfile" {
            "dotfile-runs"
        } else {
            "backup-runs"
        };
        f.add(
            Severity::Error,
            code,
            script,
            format!("{what}, and executable: {who} runs it like any other script (delete it or chmod -x)"),
        );
    }
    let mut head = Vec::new();
    let read =
        std::fs::File::open(script).and_then(|file| file.take(1 << 20).read_to_end(&mut head));
    if let Err(e) = read {
        f.add(
            Severity::Warning,
            "unreadable",
            script,
            format!(
                "cannot be read ({}), so it was not checked further",
                text::io_text(&e.to_string())
            ),
        );
        return;
    }
    if head.starts_with(b"\x7fELF") {
        return;
    }
    let Some(line) = head.strip_prefix(b"#!") else {
        // Copied from a web page: the #! is there, after spaces, blank lines or a BOM.
        let lead = head.iter().take_while(|b| b.is_ascii_whitespace()).count();
        let lead = if lead == 0 && head.starts_with(b"\xef\xbb\xbf") {
            3
        } else {
            lead
        };
        if lead > 0 && head[lead..].starts_with(b"#!") {
            let what = if head.starts_with(b"\xef\xbb\xbf") {
                "a UTF-8 byte-order mark".to_owned()
            } else {
                let lines = head[..lead].iter().filter(|&&b| b == b'\n').count();
                match lines {
                    0 => format!(
                        "{lead} whitespace character{}",
                        if lead == 1 { "" } else { "s" }
                    ),
                    n => format!("{n} blank line{}", if n == 1 { "" } else { "s" }),
                }
            };
            f.add(
                Severity::Error,
                "indented-shebang",
                script,
                format!(
                    "its #! line is preceded by {what} (copied from a web page?): the kernel \
                     only sees a #! as the very first two bytes, so every call fails \
                     (\"Exec format error\"); delete what comes before #!"
                ),
            );
            return;
        }
        if per_object {
            f.add(
                Severity::Note,
                "no-shebang",
                script,
                format!(
                    "no #! line and not a binary: {who} runs it with bash (virt-hook's \
                     dispatcher: /bin/bash, else /bin/sh), as the VFIO guides' hook helper \
                     did; libvirt itself could not run it (start it with #!/bin/bash to say so)"
                ),
            );
            return;
        }
        f.add(
            Severity::Error,
            "no-shebang",
            script,
            "no #! line and not a binary: the kernel cannot execute it (\"Exec format error\"), \
             so every call fails; start it with e.g. #!/bin/sh"
                .into(),
        );
        return;
    };
    // The kernel reads at most 256 bytes of the #! line.
    let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = &line[..line.len().min(254)];
    if line.ends_with(b"\r") {
        f.add(
            Severity::Error,
            "crlf-shebang",
            script,
            "its #! line ends with a carriage return (CRLF line endings): the interpreter \
             is not found and every call fails; convert it with dos2unix"
                .into(),
        );
        return;
    }
    let line = String::from_utf8_lossy(line);
    let mut words = line.split([' ', '\t']).filter(|w| !w.is_empty());
    interpreter(f, script, words.next(), words.next());
    calls_virsh(f, script, &head);
}

fn interpreter(f: &mut Finder, script: &Path, interp: Option<&str>, arg: Option<&str>) {
    let Some(interp) = interp else {
        f.add(
            Severity::Error,
            "no-interpreter",
            script,
            "its #! line names no interpreter: every call fails".into(),
        );
        return;
    };
    if !interp.starts_with('/') {
        f.add(
            Severity::Error,
            "relative-interpreter",
            script,
            format!("its interpreter {interp:?} is not an absolute path: the kernel looks for it in the daemon's working directory"),
        );
        return;
    }
    match std::fs::metadata(interp) {
        Err(_) => f.add(
            Severity::Error,
            "interpreter-not-found",
            script,
            format!("its interpreter {interp} does not exist: every call fails"),
        ),
        Ok(m) if !m.is_file() || m.permissions().mode() & 0o111 == 0 => f.add(
            Severity::Error,
            "interpreter-not-executable",
            script,
            format!("its interpreter {interp} is not an executable file: every call fails"),
        ),
        Ok(_) => {
            let is_env = Path::new(interp).file_name().is_some_and(|n| n == "env");
            if let Some(prog) = arg.filter(|a| is_env && !a.starts_with('-') && !a.contains('='))
                && !on_path(prog)
            {
                f.add(
                    Severity::Warning,
                    "interpreter-not-on-path",
                    script,
                    format!(
                        "{interp} looks up {prog:?} in the daemon's PATH, and it is not on this PATH"
                    ),
                );
            }
        }
    }
}

fn on_path(prog: &str) -> bool {
    if prog.contains('/') {
        return Path::new(prog).is_file();
    }
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|d| {
            std::fs::metadata(d.join(prog))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// A line that runs `virsh` (the word, outside a `#` comment line).
fn calls_virsh(f: &mut Finder, script: &Path, text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
    for (n, line) in text.lines().enumerate().skip(1) {
        let code = line.trim_start();
        if code.starts_with('#') {
            continue;
        }
        let found = code.match_indices("virsh").any(|(i, _)| {
            let before = code[..i].chars().next_back();
            let after = code[i + 5..].chars().next();
            !before.is_some_and(is_word) && !after.is_some_and(is_word)
        });
        if found {
            f.add(
                Severity::Warning,
                "calls-virsh",
                script,
                format!(
                    "line {} calls virsh: libvirt waits for this script while holding the guest's \
                     lock, so calling back into libvirt can deadlock (libvirt's docs: DO NOT DO THIS)",
                    n + 1
                ),
            );
            return;
        }
    }
}

/// The dispatcher's settings file, `virt-hook.toml`: one it cannot use (unsafe, unreadable,
/// malformed) makes the dispatcher refuse the events that abort a start for every guest with
/// scripts, and run the others' scripts with the defaults (an error when a dispatcher is
/// installed). The message ends with the command that fixes an unsafe file.
fn settings(f: &mut Finder, dir: &Path) {
    let path = dir.join(crate::dispatch::CONFIG_FILE);
    if std::fs::symlink_metadata(&path).is_err() {
        return;
    }
    let Some(error) = crate::dispatch::config_error(dir) else {
        return;
    };
    let problem = error.to_string();
    let problem = problem
        .strip_prefix(&path.display().to_string())
        .map(|p| p.trim_start_matches([':', ' ']))
        .unwrap_or(&problem);
    let (problem, fix) = match problem.split_once("; to fix: ") {
        Some((p, fix)) => (p, Some(fix)),
        None => (problem, None),
    };
    let installed = drivers::NAMES
        .iter()
        .any(|d| matches!(MainHook::inspect(dir, d).kind, Kind::Dispatcher(_)));
    let effect = "the events that abort an operation (prepare, start, migrate, restore…) fail \
                  wherever they have per-object scripts, and the others (reconnect, started, \
                  stopped, release…) run their scripts with the default settings";
    let (severity, then) = if installed {
        (Severity::Error, format!("{effect}, until it is fixed"))
    } else {
        (
            Severity::Warning,
            format!("once virt-hook's dispatcher is installed, {effect}"),
        )
    };
    let code = match error.kind {
        crate::dispatch::Problem::Unsafe => "unsafe-settings",
        crate::dispatch::Problem::Unreadable | crate::dispatch::Problem::Malformed => {
            "bad-settings"
        }
    };
    // After a question ("did you mean \"prepare\"?"), a colon would read oddly.
    let sep = if problem.ends_with('?') {
        " — "
    } else {
        ": "
    };
    let mut message = format!("{problem}{sep}{then}");
    if let Some(fix) = fix {
        message.push_str(&format!("; to fix: {fix}"));
    }
    f.add(severity, code, &path, message);
}

/// What the host's confinement will refuse: with AppArmor confining the daemon, a main hook
/// whose resolved path its profile does not let it execute (and, where the hook then runs
/// confined, the interpreters and programs it goes on to execute: per-object scripts'
/// interpreters, a wrapper's `virt-hook`); with SELinux, files in the hooks directory without
/// the label the policy gives them, and a network hook `virtnetworkd` may not execute; and,
/// either way, recent kernel denials that name a hook.
fn confinement(f: &mut Finder, dir: &Path, host: &Host) {
    let mains: Vec<MainHook> = drivers::NAMES
        .iter()
        .map(|d| MainHook::inspect(dir, d))
        .filter(|m| !matches!(m.kind, Kind::Absent))
        .collect();
    let mut watched: Vec<PathBuf> = vec![dir.to_owned()];
    if let Some(aa) = host.apparmor() {
        for main in &mains {
            let driver = main
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let Ok(resolved) = std::fs::canonicalize(&main.path) else {
                continue;
            };
            watched.push(resolved.clone());
            if !aa.allows_exec(&resolved) {
                let via = if resolved == main.path {
                    String::new()
                } else {
                    format!(
                        " (it is {}: AppArmor judges the file a symlink leads to)",
                        resolved.display()
                    )
                };
                f.add(
                    Severity::Error,
                    "apparmor-exec-denied",
                    &main.path,
                    format!(
                        "AppArmor's {} profile does not let the daemon execute it{via}: every \
                        {driver} event fails with \"cannot execute binary …: Permission denied\" \
                        (exit 126). Fix: `virt-hook install {driver}` (a root-owned copy in the \
                        hooks directory, which the profile allows), or {}",
                        aa.profile,
                        aa.fix(&resolved)
                    ),
                );
                continue;
            }
            // A hook the daemon runs from the hooks directory runs confined, under the
            // daemon's profile: what it executes next must be allowed too.
            let confined = !["/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/"]
                .iter()
                .any(|d| resolved.starts_with(d));
            if !confined {
                continue;
            }
            if let Kind::Dispatcher(Via::Wrapper(line)) = &main.kind
                && let Some(prog) = line
                    .split_whitespace()
                    .map(|w| w.trim_matches(['"', '\'']))
                    .find(|w| w.ends_with("/virt-hook") && w.starts_with('/'))
                && let Ok(target) = std::fs::canonicalize(prog)
                && !aa.allows_exec(&target)
            {
                f.add(
                    Severity::Error,
                    "apparmor-exec-denied",
                    &main.path,
                    format!(
                        "a wrapper that runs confined by AppArmor's {} profile, which does not \
                        let it execute {}: every {driver} event fails. Fix: `virt-hook install \
                        {driver} --force` (a root-owned copy in the hooks directory; the \
                        wrapper is kept as the backup), or {}",
                        aa.profile,
                        target.display(),
                        aa.fix(&target)
                    ),
                );
            }
            if main.runs_per_object() {
                for script in discover::list_objects(dir, &driver).scripts() {
                    if let Some(interp) = interpreter_of(script)
                        && interp.starts_with('/')
                        && let Ok(target) = std::fs::canonicalize(&interp)
                        && !aa.allows_exec(&target)
                    {
                        f.add(
                            Severity::Error,
                            "apparmor-exec-denied",
                            script,
                            format!(
                                "its interpreter {interp} is outside what AppArmor's {} profile \
                                lets the confined dispatcher execute: the script fails with \
                                \"Permission denied\". Fix: an interpreter in /usr/bin or /bin, \
                                or {}",
                                aa.profile,
                                aa.fix(&target)
                            ),
                        );
                    }
                }
            }
        }
    }
    if let Some(se) = host.selinux() {
        selinux(f, dir, &se, &mains);
    }
    let denials = host.recent_denials(&watched);
    if !denials.is_empty() {
        f.add(
            Severity::Warning,
            "recent-denials",
            dir,
            format!(
                "the kernel refused {} recent access{} naming a hook (newest last): {}",
                denials.len(),
                if denials.len() == 1 { "" } else { "es" },
                denials.join(" || ")
            ),
        );
    }
}

/// SELinux: labels in the hooks directory, and the network hook's two conditions.
fn selinux(f: &mut Finder, dir: &Path, se: &mac::SeLinux, mains: &[MainHook]) {
    let mut files: Vec<(PathBuf, FileKind)> = vec![(dir.to_owned(), FileKind::Dir)];
    files.push((dir.join(COPY_NAME), FileKind::File));
    for main in mains {
        let kind = match std::fs::symlink_metadata(&main.path) {
            Ok(m) if m.file_type().is_symlink() => FileKind::Symlink,
            Ok(m) if m.is_dir() => FileKind::Dir,
            Ok(_) => FileKind::File,
            Err(_) => continue,
        };
        files.push((main.path.clone(), kind));
    }
    for (path, kind) in files {
        let (Some(want), Some(have)) = (se.expected(&path, kind), mac::label_of(&path)) else {
            continue;
        };
        if mac::context_type(want) != mac::context_type(&have) {
            // Permissive SELinux logs the denial and lets it run.
            let severity = if se.enforcing {
                Severity::Error
            } else {
                Severity::Warning
            };
            f.add(
                severity,
                "selinux-label",
                &path,
                format!(
                    "SELinux label {have}, where the policy gives {want}: libvirt's daemons may \
                    not execute or read it as a hook. Fix: restorecon -Rv {}",
                    dir.display()
                ),
            );
        }
    }
    let network = mains
        .iter()
        .find(|m| m.path.file_name().is_some_and(|n| n == hook_network::NAME));
    if let Some(main) = network {
        if !main.links.is_empty() {
            f.add(
                Severity::Error,
                "selinux-network-symlink",
                &main.path,
                "a symlink: SELinux's policy lets virtnetworkd execute only a network hook \
                that is a file labelled virt_hook_t, never one that leads to /usr/bin. Fix: \
                virt-hook install network (a copy in the hooks directory)"
                    .to_owned(),
            );
        }
        if se.network_boolean == Some(false) {
            f.add(
                Severity::Error,
                "selinux-boolean",
                &main.path,
                format!(
                    "SELinux's boolean {} is off: virtnetworkd may not execute network hooks, so \
                    every network event fails. Fix: setsebool -P {} on",
                    mac::NETWORK_HOOK_BOOLEAN,
                    mac::NETWORK_HOOK_BOOLEAN
                ),
            );
        }
    }
}

/// A script's interpreter: the first word of its `#!` line.
fn interpreter_of(script: &Path) -> Option<String> {
    let mut head = [0u8; 256];
    let n = std::fs::File::open(script).ok()?.read(&mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = line.split(|&b| b == b'\n').next()?;
    String::from_utf8_lossy(line)
        .split_whitespace()
        .next()
        .map(str::to_owned)
}

/// The dispatcher copy libvirt runs, when it differs from the `virt-hook` on `PATH` (an
/// upgrade that did not refresh it).
fn stale_copy(f: &mut Finder, dir: &Path) {
    let copy = dir.join(COPY_NAME);
    let Some(installed_version) = installed::binary_version(&copy) else {
        return;
    };
    let Some(on_path) = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("virt-hook"))
            .find(|p| p.is_file() && p.is_absolute())
    }) else {
        return;
    };
    if std::fs::canonicalize(&on_path).is_ok_and(|p| p == copy) {
        return;
    }
    if installed::same_content(&copy, &on_path).unwrap_or(true) {
        return;
    }
    let path_version = installed::binary_version(&on_path).unwrap_or_else(|| "?".to_owned());
    f.add(
        Severity::Warning,
        "dispatcher-stale",
        &copy,
        format!(
            "the dispatcher libvirt runs (virt-hook {installed_version}) is not the virt-hook on \
            PATH, {} ({path_version}): an upgrade did not refresh it. Fix: {} install --refresh",
            on_path.display(),
            on_path.display()
        ),
    );
}

/// Entries of the hooks directory that are not a driver's script or `.d` directory but look
/// meant to run: executables and directories.
fn unknown_entries(f: &mut Finder, dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<_> = rd.filter_map(Result::ok).map(|e| e.file_name()).collect();
    names.sort_unstable();
    for name in names {
        let n = name.to_string_lossy();
        let known = drivers::NAMES
            .iter()
            .any(|d| n == *d || n.strip_suffix(".d") == Some(d));
        if known {
            continue;
        }
        let path = dir.join(&name);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| f.linked.contains(&(m.dev(), m.ino()))) {
            continue; // runs through a symlink, e.g. `qemu -> hooks`
        }
        if n == COPY_NAME
            && let Some(version) = installed::binary_version(&path)
        {
            let users: Vec<&str> = drivers::NAMES
                .iter()
                .copied()
                .filter(|d| {
                    std::fs::symlink_metadata(dir.join(d))
                        .ok()
                        .zip(std::fs::symlink_metadata(&path).ok())
                        .is_some_and(|(a, b)| (a.dev(), a.ino()) == (b.dev(), b.ino()))
                })
                .collect();
            let used = if users.is_empty() {
                "no driver's hook is it now (`virt-hook uninstall --all` removes it)".to_owned()
            } else {
                format!("the main hook of: {}", users.join(", "))
            };
            f.add(
                Severity::Note,
                "dispatcher-copy",
                &path,
                format!(
                    "virt-hook {version}, the copy `virt-hook install` keeps here; libvirt never \
                     runs it by this name; {used}"
                ),
            );
            continue;
        }
        if let Some(driver) = n.strip_suffix(installed::BACKUP_SUFFIX)
            && drivers::NAMES.contains(&driver)
        {
            let what = MainHook::inspect_path(&path, driver)
                .describe()
                .unwrap_or("the hook that was there");
            f.add(
                Severity::Note,
                "install-backup",
                &path,
                format!(
                    "{what}, kept by `virt-hook install {driver}`: libvirt never runs it, \
                     `virt-hook uninstall {driver}` puts it back"
                ),
            );
            continue;
        }
        let Ok(m) = std::fs::metadata(&path) else {
            continue;
        };
        if m.is_dir() || (m.is_file() && m.permissions().mode() & 0o111 != 0) {
            f.add(
                Severity::Warning,
                "never-runs",
                &path,
                format!(
                    "libvirt never runs anything by this name: hooks are {}, or files in <driver>.d/",
                    drivers::NAMES.join(", ")
                ),
            );
        }
    }
}

/// `check --json` (schema: docs/json.md).
#[derive(Serialize)]
struct CheckJson<'a> {
    hooks_dir: String,
    /// `check DRIVER`'s driver; `null` for every driver.
    driver: Option<&'a str>,
    exists: bool,
    errors: usize,
    warnings: usize,
    notes: usize,
    findings: Vec<FindingJson<'a>>,
}

#[derive(Serialize)]
struct FindingJson<'a> {
    severity: &'static str,
    code: &'static str,
    path: String,
    message: &'a str,
}

fn to_json(ctx: &Ctx, driver: Option<&str>, exists: bool, findings: &[Finding]) -> String {
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    crate::json::to_json(&CheckJson {
        hooks_dir: ctx.hooks_dir.display().to_string(),
        driver,
        exists,
        errors: count(Severity::Error),
        warnings: count(Severity::Warning),
        notes: count(Severity::Note),
        findings: findings
            .iter()
            .map(|f| FindingJson {
                severity: f.severity.as_str(),
                code: f.code,
                path: f.path.display().to_string(),
                message: &f.message,
            })
            .collect(),
    })
}

fn to_text(
    ctx: &Ctx,
    driver: Option<&str>,
    exists: bool,
    findings: &[Finding],
    st: Style,
) -> String {
    let dir = &ctx.hooks_dir;
    let mut out = match driver {
        Some(d) => format!("checking {} for {d}\n", dir.display()),
        None => format!("checking {}\n", dir.display()),
    };
    if !exists {
        out.push_str("the directory does not exist: no hooks are installed, nothing to check\n");
        return out;
    }
    let paths: Vec<String> = findings.iter().map(|f| style::rel(&f.path, dir)).collect();
    let width = paths.iter().map(|p| p.chars().count()).max().unwrap_or(0);
    for (f, path) in findings.iter().zip(&paths) {
        let sev = style::pad(f.severity.as_str(), 7);
        let sev = match f.severity {
            Severity::Error => st.red(&sev),
            Severity::Warning => st.yellow(&sev),
            Severity::Note => st.dim(&sev),
        };
        out.push_str(&format!(
            "{sev}  {}  {}\n",
            style::pad(path, width),
            f.message
        ));
    }
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    let (e, w, n) = (
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Note),
    );
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut summary = if e + w == 0 {
        st.green("no problems found")
    } else {
        format!("{}, {}", plural(e, "error"), plural(w, "warning"))
    };
    if n > 0 {
        summary.push_str(&format!(", {}", plural(n, "note")));
    }
    out.push_str(&summary);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::mac::put;

    fn codes(findings: &[Finding], path: &Path) -> Vec<&'static str> {
        findings
            .iter()
            .filter(|f| f.path == path)
            .map(|f| f.code)
            .collect()
    }

    /// A host with AppArmor confining libvirtd (its local include allowing this test's hooks
    /// directory as the shipped profile allows /etc/libvirt/hooks) and SELinux enforcing with
    /// file contexts for it: what `check` reports for each way of installing.
    #[test]
    fn confinement_findings_on_a_fake_host() {
        use std::os::unix::fs::PermissionsExt as _;
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        let host_root = root.join("host");
        let hooks = root.join("hooks");
        let bin = root.join("bin");
        std::fs::create_dir_all(&hooks).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        let exe = std::env::current_exe().unwrap();
        // The test binary embeds the marker too: a virt-hook binary for recognition.
        std::fs::copy(&exe, bin.join("virt-hook")).unwrap();
        std::fs::copy(&exe, hooks.join("virt-hook")).unwrap();
        std::fs::hard_link(hooks.join("virt-hook"), hooks.join("lxc")).unwrap();
        std::os::unix::fs::symlink(bin.join("virt-hook"), hooks.join("qemu")).unwrap();
        std::os::unix::fs::symlink(bin.join("virt-hook"), hooks.join("network")).unwrap();
        let script_dir = hooks.join("lxc.d/box/prepare/begin");
        std::fs::create_dir_all(&script_dir).unwrap();
        let python = bin.join("python");
        std::fs::write(&python, "").unwrap();
        std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
        let script = script_dir.join("10-x");
        std::fs::write(&script, format!("#!{}\nprint()\n", python.display())).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();

        let h = hooks.display().to_string();
        put(&host_root, "/sys/module/apparmor/parameters/enabled", "Y\n");
        put(
            &host_root,
            "/sys/kernel/security/apparmor/profiles",
            "libvirtd (enforce)\n",
        );
        put(&host_root, mac::APPARMOR_LOCAL, &format!("{h}/** rix,\n"));
        put(
            &host_root,
            "/var/log/kern.log",
            &format!(
                "kernel: audit: apparmor=\"DENIED\" operation=\"exec\" profile=\"libvirtd\" \
                 name=\"{}\" comm=\"rpc-worker\"\n",
                bin.join("virt-hook").display()
            ),
        );
        put(&host_root, "/sys/fs/selinux/enforce", "1");
        put(
            &host_root,
            "/sys/fs/selinux/booleans/virt_hooks_unconfined",
            "0 0",
        );
        put(
            &host_root,
            "/etc/selinux/targeted/contexts/files/file_contexts",
            &format!("{h}(/.*)?\tsystem_u:object_r:virt_hook_t:s0\n"),
        );
        mac::set_label(&hooks.join("virt-hook"), "system_u:object_r:bin_t:s0").unwrap();

        let findings = find_all_on(&hooks, &Host::at(&host_root));
        let qemu = codes(&findings, &hooks.join("qemu"));
        assert!(qemu.contains(&"apparmor-exec-denied"), "{findings:#?}");
        assert!(!codes(&findings, &hooks.join("lxc")).contains(&"apparmor-exec-denied"));
        assert!(
            codes(&findings, &script).contains(&"apparmor-exec-denied"),
            "the interpreter of a script the confined dispatcher runs: {findings:#?}"
        );
        assert!(codes(&findings, &hooks).contains(&"recent-denials"));
        // One inode: the copy's wrong label is lxc's too.
        assert!(codes(&findings, &hooks.join("virt-hook")).contains(&"selinux-label"));
        assert!(codes(&findings, &hooks.join("lxc")).contains(&"selinux-label"));
        let network = codes(&findings, &hooks.join("network"));
        assert!(network.contains(&"selinux-network-symlink"), "{network:?}");
        assert!(network.contains(&"selinux-boolean"), "{network:?}");

        // Labelled as the policy says, the label findings go.
        mac::set_label(&hooks.join("virt-hook"), "system_u:object_r:virt_hook_t:s0").unwrap();
        let findings = find_all_on(&hooks, &Host::at(&host_root));
        assert!(!codes(&findings, &hooks.join("lxc")).contains(&"selinux-label"));
        // Without confinement, none of it.
        let plain = find_all_on(&hooks, &Host::at(&root.join("no-host")));
        assert!(
            plain.iter().all(|f| !f.code.starts_with("apparmor")
                && !f.code.starts_with("selinux")
                && f.code != "recent-denials"),
            "{plain:#?}"
        );
    }
}
