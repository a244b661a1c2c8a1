//! `virt-hook status`: for the administrator who asks "is it working". Per driver: what libvirt
//! executes as its main hook ([`crate::installed`]: virt-hook's dispatcher as the copy
//! `install` makes, a symlink or a wrapper; the VFIO guides' hook helper; another script;
//! nothing) and whether it can (the execute bit, the binary behind it, the copy current with
//! the `virt-hook` on `PATH`, AppArmor's profile: [`crate::mac`]); the dispatcher's settings
//! for each of the driver's events (the timeout, where the log goes and whether that socket
//! accepts a record now); how many guests have per-guest scripts; then the dispatcher's last
//! records ([`crate::logread`]). Exit status 1 when something would fail a guest's event or
//! silently keep its scripts from running.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use crate::ctx::{Ctx, InputError, Output};
use crate::dispatch::{self, LogTarget};
use crate::drivers;
use crate::installed::{self, COPY_NAME, Kind, MainHook, Via};
use crate::logread::{Entry, Filter, Position, Source};
use crate::mac::Host;
use crate::style::{self, Style};
use crate::text::Severity;

/// How many of the dispatcher's records `status` shows.
const RECENT: usize = 5;

/// One finding about a driver.
#[derive(Clone, Debug, Serialize)]
struct Finding {
    severity: Severity,
    message: String,
}

/// The timeout of one operation.
#[derive(Clone, Debug, Serialize)]
struct OpTimeout {
    op: &'static str,
    /// Milliseconds; `null` when turned off.
    timeout_ms: Option<u64>,
}

/// The dispatcher's settings for a driver.
#[derive(Clone, Debug, Serialize)]
struct SettingsStatus {
    /// Why `virt-hook.toml` cannot be used (the defaults are shown then).
    error: Option<String>,
    /// Per operation of the driver.
    timeouts: Vec<OpTimeout>,
    /// `auto`, `journal`, `syslog`, `none`.
    log: &'static str,
    /// `log_socket`, when set.
    log_socket: Option<String>,
    /// The socket records go to now; `null`: they are dropped.
    log_destination: Option<String>,
}

/// One driver's state.
#[derive(Clone, Debug, Serialize)]
struct DriverStatus {
    driver: &'static str,
    /// `<hooks dir>/<driver>`.
    path: String,
    /// `dispatcher`, `hook-helper`, `script`, `nothing`.
    runs: &'static str,
    /// For the dispatcher: `copy`, `symlink`, `wrapper`.
    installed_as: Option<&'static str>,
    /// The file libvirt executes, symlinks resolved (for a wrapper: the virt-hook it runs).
    executes: Option<String>,
    /// That file exists, is a regular file and has an execute bit.
    executable: bool,
    /// The virt-hook version of that file, when it is a virt-hook binary.
    version: Option<String>,
    /// Whether it is the same binary as the `virt-hook` on `PATH` (`null`: none there, or not
    /// a binary).
    current: Option<bool>,
    /// For the dispatcher: its settings per event.
    settings: Option<SettingsStatus>,
    /// The guests (networks) that have per-guest scripts, sorted.
    guests: Vec<String>,
    findings: Vec<Finding>,
}

/// `status --json` (schema: docs/json.md).
#[derive(Serialize)]
struct StatusJson<'a> {
    hooks_dir: String,
    exists: bool,
    sound: bool,
    errors: usize,
    warnings: usize,
    drivers: &'a [DriverStatus],
    log_source: String,
    records: &'a [Entry],
    records_error: Option<String>,
}

/// Runs `status`.
pub(crate) fn status(ctx: &Ctx, json: bool) -> Result<Output, InputError> {
    let drivers = gather(
        &ctx.hooks_dir,
        &Host::real(),
        on_path_virt_hook().as_deref(),
    );
    let source = Source::detect();
    let recent = recent_records(&source);
    Ok(render(
        &ctx.hooks_dir,
        &drivers,
        &source,
        recent,
        json,
        Style::for_stream(&std::io::stdout()),
    ))
}

/// The dispatcher's last [`RECENT`] records, or why they cannot be read.
fn recent_records(source: &Source) -> Result<Vec<Entry>, String> {
    if matches!(source, Source::Files(f) if f.is_empty()) {
        return Err("no journal and no syslog file".to_owned());
    }
    let filter = Filter {
        lines: Some(RECENT),
        ..Filter::default()
    };
    source.read(&filter, &mut Position::default(), SystemTime::now())
}

fn render(
    dir: &Path,
    drivers: &[DriverStatus],
    source: &Source,
    recent: Result<Vec<Entry>, String>,
    json: bool,
    st: Style,
) -> Output {
    let all = || drivers.iter().flat_map(|d| d.findings.iter());
    let count = |s| all().filter(|f| f.severity == s).count();
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    let stdout = if json {
        let (records, records_error) = match &recent {
            Ok(r) => (r.as_slice(), None),
            Err(e) => (&[][..], Some(e.clone())),
        };
        crate::json::to_json(&StatusJson {
            hooks_dir: dir.display().to_string(),
            exists: dir.is_dir(),
            sound: errors == 0,
            errors,
            warnings,
            drivers,
            log_source: source.describe(),
            records,
            records_error,
        })
    } else {
        text(dir, drivers, source, &recent, st)
    };
    Output {
        stdout: stdout.into_bytes(),
        stderr: String::new(),
        code: u8::from(errors > 0),
    }
}

/// Every driver's state in `dir`, confinement read from `host`, the copy compared with
/// `on_path` (the `virt-hook` on `PATH`).
fn gather(dir: &Path, host: &Host, on_path: Option<&Path>) -> Vec<DriverStatus> {
    drivers::NAMES
        .iter()
        .map(|driver| driver_status(dir, driver, host, on_path))
        .collect()
}

fn driver_status(
    dir: &Path,
    driver: &'static str,
    host: &Host,
    on_path: Option<&Path>,
) -> DriverStatus {
    let main = MainHook::inspect(dir, driver);
    let mut findings = Vec::new();
    let mut add = |severity, message: String| findings.push(Finding { severity, message });
    let (runs, installed_as) = match &main.kind {
        Kind::Absent => ("nothing", None),
        Kind::Dispatcher(Via::Copy) => ("dispatcher", Some("copy")),
        Kind::Dispatcher(Via::Symlink) => ("dispatcher", Some("symlink")),
        Kind::Dispatcher(Via::Wrapper(_)) => ("dispatcher", Some("wrapper")),
        Kind::HookHelper => ("hook-helper", None),
        Kind::Other => ("script", None),
    };
    let guests = guests_with_scripts(dir, driver);
    let exists = !matches!(main.kind, Kind::Absent);
    let resolved = std::fs::canonicalize(&main.path).ok();
    // What libvirt executes, and for a wrapper the virt-hook it runs in turn.
    let wrapped = match &main.kind {
        Kind::Dispatcher(Via::Wrapper(line)) => wrapper_program(line),
        _ => None,
    };
    let binary = wrapped.clone().or_else(|| resolved.clone());
    let executable = resolved.as_deref().is_some_and(is_executable);
    if exists && resolved.is_none() {
        add(
            Severity::Error,
            format!(
                "{} leads to nothing: libvirt runs no {driver} hook, so no per-guest script runs",
                main.chain()
                    .unwrap_or_else(|| main.path.display().to_string())
            ),
        );
    } else if exists && !executable {
        let severity = if runs == "script" {
            Severity::Warning
        } else {
            Severity::Error
        };
        add(
            severity,
            format!(
                "not executable: libvirt does not run it, so no {driver} hook runs. Fix: chmod \
                 755 {}",
                main.path.display()
            ),
        );
    }
    if let Some(prog) = &wrapped
        && !prog.is_file()
    {
        add(
            Severity::Error,
            format!(
                "the wrapper runs {}, which is missing: every {driver} event fails (exit 127). \
                 Fix: virt-hook install {driver}",
                prog.display()
            ),
        );
    }
    let version = binary.as_deref().and_then(installed::binary_version);
    let current = match (&version, binary.as_deref(), on_path) {
        (Some(_), Some(bin), Some(on_path)) => Some(
            std::fs::canonicalize(on_path).is_ok_and(|p| p == bin)
                || installed::same_content(bin, on_path).unwrap_or(true),
        ),
        _ => None,
    };
    if current == Some(false) {
        add(
            Severity::Warning,
            format!(
                "the dispatcher libvirt runs (virt-hook {}) is not the virt-hook on PATH: an \
                 upgrade did not refresh it. Fix: virt-hook install --refresh",
                version.as_deref().unwrap_or("?")
            ),
        );
    }
    // AppArmor judges the resolved path; a hook run from the hooks directory is confined, so
    // what a wrapper executes next must be allowed too.
    if let Some(aa) = host.apparmor() {
        for path in resolved.iter().chain(wrapped.iter()) {
            if path.exists() && !aa.allows_exec(path) {
                add(
                    Severity::Error,
                    format!(
                        "AppArmor's {} profile does not let the daemon execute {}: every \
                         {driver} event fails (exit 126). Fix: virt-hook install {driver}, or {}",
                        aa.profile,
                        path.display(),
                        aa.fix(path)
                    ),
                );
            }
        }
    }
    let settings = matches!(main.kind, Kind::Dispatcher(_)).then(|| {
        let s = settings_status(dir, driver);
        if let Some(e) = &s.error {
            add(
                Severity::Error,
                format!(
                    "{e}: the events that refuse (prepare, start, the filters) fail for every \
                     guest with per-guest scripts; the others run them with the defaults"
                ),
            );
        }
        if s.log != "none" && s.log_destination.is_none() {
            add(
                Severity::Warning,
                format!(
                    "log = \"{}\", but no socket accepts records now ({}): they are dropped",
                    s.log,
                    s.log_socket
                        .clone()
                        .unwrap_or_else(|| "neither the journal nor /dev/log".to_owned())
                ),
            );
        }
        s
    });
    if !guests.is_empty() && !main.runs_per_object() {
        let what = match main.kind {
            Kind::Absent => format!("there is no {driver} hook"),
            _ => format!("{} is not the dispatcher", main.path.display()),
        };
        add(
            Severity::Error,
            format!(
                "the per-{} scripts of {} in {driver}.d/ never run: {what}, and libvirt \
                 itself does not look there. Fix: virt-hook install {driver}",
                drivers::object_word(driver),
                plural(guests.len(), drivers::object_word(driver))
            ),
        );
    }
    if matches!(main.kind, Kind::HookHelper) {
        add(
            Severity::Note,
            format!(
                "the hook helper runs the per-guest scripts in no defined order, without a \
                 timeout, and a background process they start holds libvirt. virt-hook install \
                 {driver} replaces it (and keeps it as a backup)"
            ),
        );
    }
    DriverStatus {
        driver,
        path: main.path.display().to_string(),
        runs,
        installed_as,
        executes: binary.map(|p| p.display().to_string()),
        executable,
        version,
        current,
        settings,
        guests,
        findings,
    }
}

/// The guests with at least one per-guest script, sorted.
fn guests_with_scripts(dir: &Path, driver: &str) -> Vec<String> {
    let listing = hook_core::discover::list_objects(dir, driver);
    let mut guests: Vec<String> = listing
        .entries
        .iter()
        .filter(|e| !e.scripts.is_empty())
        .map(|e| e.object.clone())
        .collect();
    guests.sort();
    guests.dedup();
    guests
}

/// The absolute `…/virt-hook` a wrapper's line runs.
fn wrapper_program(line: &str) -> Option<PathBuf> {
    line.split_whitespace()
        .map(|w| w.trim_matches(['"', '\'']))
        .find(|w| w.starts_with('/') && w.ends_with("/virt-hook"))
        .map(PathBuf::from)
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The `virt-hook` on `PATH`, if any.
fn on_path_virt_hook() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(COPY_NAME))
        .find(|p| p.is_file() && p.is_absolute())
}

/// The dispatcher's settings for each of `driver`'s operations.
fn settings_status(dir: &Path, driver: &'static str) -> SettingsStatus {
    let mut ops: Vec<&'static str> = Vec::new();
    for (op, _) in drivers::events(driver) {
        if !ops.contains(&op) {
            ops.push(op);
        }
    }
    let mut error = None;
    let mut timeouts = Vec::new();
    let mut log = dispatch::default_settings();
    for (i, op) in ops.iter().enumerate() {
        let s = match dispatch::settings(dir, driver, op) {
            Ok(s) => s,
            Err(e) => {
                error.get_or_insert_with(|| e.to_string());
                dispatch::default_settings()
            }
        };
        timeouts.push(OpTimeout {
            op,
            timeout_ms: s.timeout.map(|t| t.as_millis() as u64),
        });
        if i == 0 {
            log = s;
        }
    }
    SettingsStatus {
        error,
        timeouts,
        log: match log.log {
            LogTarget::Auto => "auto",
            LogTarget::Journal => "journal",
            LogTarget::Syslog => "syslog",
            LogTarget::None => "none",
        },
        log_socket: log.log_socket.as_ref().map(|p| p.display().to_string()),
        log_destination: dispatch::log_destination(&log).map(|p| p.display().to_string()),
    }
}

/// `60s`, `5m`, `1h`, `500ms`, `none`.
fn timeout_text(ms: Option<u64>) -> String {
    match ms {
        None => "none".to_owned(),
        Some(ms) if ms % 1000 != 0 => format!("{ms}ms"),
        Some(ms) if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        Some(ms) if ms % 60_000 == 0 && ms >= 60_000 * 2 => format!("{}m", ms / 60_000),
        Some(ms) => format!("{}s", ms / 1000),
    }
}

/// `timeout 60s per script; prepare 5m, start 5m`: the most common value, then the others.
fn timeouts_line(t: &[OpTimeout]) -> String {
    let mut counts: Vec<(Option<u64>, usize)> = Vec::new();
    for o in t {
        match counts.iter_mut().find(|(v, _)| *v == o.timeout_ms) {
            Some((_, n)) => *n += 1,
            None => counts.push((o.timeout_ms, 1)),
        }
    }
    let Some(&(common, _)) = counts.iter().max_by_key(|(_, n)| *n) else {
        return String::new();
    };
    let others: Vec<String> = t
        .iter()
        .filter(|o| o.timeout_ms != common)
        .map(|o| format!("{} {}", o.op, timeout_text(o.timeout_ms)))
        .collect();
    let mut s = format!("timeout {} per script", timeout_text(common));
    if !others.is_empty() {
        s.push_str("; ");
        s.push_str(&others.join(", "));
    }
    s
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn text(
    dir: &Path,
    drivers: &[DriverStatus],
    source: &Source,
    recent: &Result<Vec<Entry>, String>,
    st: Style,
) -> String {
    let mut out = format!("hooks directory {}\n", dir.display());
    let shown: Vec<&DriverStatus> = drivers
        .iter()
        .filter(|d| d.runs != "nothing" || !d.guests.is_empty())
        .collect();
    let width = drivers::NAMES.iter().map(|d| d.len()).max().unwrap_or(0);
    let indent = " ".repeat(width + 2);
    for d in &shown {
        let what = match (d.runs, d.installed_as) {
            ("dispatcher", Some("copy")) => "virt-hook's dispatcher (the copy install made)",
            ("dispatcher", Some("symlink")) => "virt-hook's dispatcher (a symlink)",
            ("dispatcher", _) => "a wrapper running virt-hook's dispatcher",
            ("hook-helper", _) => "the hook helper of the VFIO guides",
            ("script", _) => "a script of its own (not virt-hook)",
            _ => "nothing",
        };
        let mut head = what.to_owned();
        if let Some(v) = &d.version {
            head.push_str(&format!(", virt-hook {v}"));
            if d.current == Some(true) {
                head.push_str(" (current)");
            }
        }
        out.push_str(&format!(
            "{}  {head}\n",
            st.bold(&style::pad(d.driver, width))
        ));
        if let Some(e) = &d.executes
            && Some(e.as_str()) != Some(d.path.as_str())
        {
            out.push_str(&format!("{indent}executes {e}\n"));
        }
        if let Some(s) = &d.settings {
            out.push_str(&format!("{indent}{}\n", timeouts_line(&s.timeouts)));
            let dest = match &s.log_destination {
                Some(p) => format!("to {p}"),
                None if s.log == "none" => "off".to_owned(),
                None => st.yellow("dropped: no socket accepts them"),
            };
            out.push_str(&format!("{indent}log {}: {dest}\n", s.log));
        }
        let word = drivers::object_word(d.driver);
        let guests = match d.guests.len() {
            0 => format!("no per-{word} scripts"),
            n => format!(
                "per-{word} scripts for {}: {}",
                plural(n, word),
                d.guests.join(", ")
            ),
        };
        out.push_str(&format!("{indent}{guests}\n"));
    }
    let none: Vec<&str> = drivers
        .iter()
        .filter(|d| d.runs == "nothing" && d.guests.is_empty())
        .map(|d| d.driver)
        .collect();
    if !none.is_empty() {
        out.push_str(&format!("no hook: {}\n", none.join(", ")));
    }
    for d in drivers {
        for f in &d.findings {
            let sev = style::pad(f.severity.as_str(), 7);
            let sev = match f.severity {
                Severity::Error => st.red(&sev),
                Severity::Warning => st.yellow(&sev),
                Severity::Note => st.dim(&sev),
            };
            out.push_str(&format!(
                "{sev}  {}  {}\n",
                style::pad(d.driver, width),
                f.message
            ));
        }
    }
    match recent {
        Ok(r) if r.is_empty() => out.push_str(&format!(
            "no dispatcher records in {}{}\n",
            source.describe(),
            crate::logread::unprivileged_hint(source)
        )),
        Ok(r) => {
            out.push_str(&format!(
                "last {} from {}:\n",
                plural(r.len(), "record"),
                source.describe()
            ));
            for line in crate::logread::text(r, st).lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
        Err(e) => out.push_str(&format!("dispatcher records: cannot read: {e}\n")),
    }
    let all = || drivers.iter().flat_map(|d| d.findings.iter());
    let count = |s| all().filter(|f| f.severity == s).count();
    let (e, w) = (count(Severity::Error), count(Severity::Warning));
    out.push_str(&if e + w == 0 {
        st.green("sound")
    } else if e == 0 {
        format!("sound, {}", plural(w, "warning"))
    } else {
        st.red(&format!(
            "not sound: {}, {}",
            plural(e, "error"),
            plural(w, "warning")
        ))
    });
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::mac::put;

    fn script(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn plain() -> Style {
        Style::for_stream(&tempfile::tempfile().unwrap())
    }

    #[test]
    fn an_installed_copy_with_settings_and_guests_is_sound() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        let hooks = root.join("hooks");
        std::fs::create_dir_all(&hooks).unwrap();
        // The test binary embeds the marker too: a virt-hook binary for recognition.
        std::fs::copy(std::env::current_exe().unwrap(), hooks.join(COPY_NAME)).unwrap();
        std::fs::hard_link(hooks.join(COPY_NAME), hooks.join("qemu")).unwrap();
        std::fs::write(
            hooks.join("virt-hook.toml"),
            format!(
                "log = \"syslog\"\nlog_socket = {:?}\n[driver.qemu.op.prepare]\ntimeout = \"5m\"\n",
                root.join("nowhere.sock")
            ),
        )
        .unwrap();
        std::fs::set_permissions(
            hooks.join("virt-hook.toml"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        script(
            &hooks.join("qemu.d/win10/prepare/begin/10-a"),
            "#!/bin/sh\n",
        );
        script(&hooks.join("qemu.d/linux/release/end"), "#!/bin/sh\n");
        // lxc: per-guest scripts and nothing to run them.
        script(&hooks.join("lxc.d/box/start/begin/10-a"), "#!/bin/sh\n");
        let log = root.join("syslog");
        std::fs::write(
            &log,
            "2026-12-03T09:49:45+00:00 host virt-hook[1]: qemu win10 prepare begin -: \
             qemu.d/win10/prepare/begin/10-a exit 0 in 0.1s\n",
        )
        .unwrap();
        let drivers = gather(&hooks, &Host::at(&root.join("host")), None);
        let qemu = &drivers[1];
        assert_eq!((qemu.runs, qemu.installed_as), ("dispatcher", Some("copy")));
        assert!(qemu.executable);
        assert_eq!(qemu.version.as_deref(), Some(env!("CARGO_PKG_VERSION")));
        assert_eq!(qemu.guests, ["linux", "win10"]);
        let s = qemu.settings.as_ref().unwrap();
        assert_eq!(
            timeouts_line(&s.timeouts),
            "timeout 60s per script; prepare 5m"
        );
        assert_eq!((s.log, s.log_destination.as_deref()), ("syslog", None));
        let severities: Vec<_> = qemu.findings.iter().map(|f| f.severity).collect();
        assert_eq!(severities, [Severity::Warning], "{:#?}", qemu.findings);
        let lxc = &drivers[2];
        assert_eq!(lxc.runs, "nothing");
        assert_eq!(lxc.findings.len(), 1);
        assert!(
            lxc.findings[0].message.starts_with(
                "the per-guest scripts of 1 guest in lxc.d/ never run: there is no lxc hook"
            ),
            "{:#?}",
            lxc.findings
        );

        let source = Source::Files(vec![log]);
        let out = render(
            &hooks,
            &drivers,
            &source,
            recent_records(&source),
            false,
            plain(),
        );
        assert_eq!(out.code, 1, "lxc's scripts never run");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("qemu     virt-hook's dispatcher (the copy install made)"),
            "{text}"
        );
        assert!(
            text.contains("timeout 60s per script; prepare 5m"),
            "{text}"
        );
        assert!(
            text.contains("log syslog: dropped: no socket accepts them"),
            "{text}"
        );
        assert!(
            text.contains("per-guest scripts for 2 guests: linux, win10"),
            "{text}"
        );
        assert!(
            text.contains("no hook: daemon, network, libxl, bhyve"),
            "{text}"
        );
        assert!(text.contains("last 1 record from"), "{text}");
        assert!(text.ends_with("not sound: 1 error, 1 warning\n"), "{text}");
        let out = render(
            &hooks,
            &drivers,
            &source,
            recent_records(&source),
            true,
            plain(),
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["sound"], false);
        assert_eq!(v["drivers"][1]["settings"]["timeouts"][0]["op"], "prepare");
        assert_eq!(
            v["drivers"][1]["settings"]["timeouts"][0]["timeout_ms"],
            300_000
        );
        assert_eq!(v["records"][0]["status"], "exit 0");

        // The copy against the virt-hook on PATH.
        let other = root.join("other-virt-hook");
        std::fs::write(&other, b"\x7fELF, another build").unwrap();
        let host = Host::at(&root.join("host"));
        let qemu = &gather(&hooks, &host, Some(&other))[1];
        assert_eq!(qemu.current, Some(false));
        assert!(
            qemu.findings
                .iter()
                .any(|f| f.message.contains("virt-hook install --refresh")),
            "{:#?}",
            qemu.findings
        );
        let same = gather(&hooks, &host, Some(&hooks.join(COPY_NAME)));
        assert_eq!(same[1].current, Some(true));

        // Without lxc's scripts, and a log socket that accepts: sound.
        std::fs::remove_dir_all(hooks.join("lxc.d")).unwrap();
        let sock = std::os::unix::net::UnixDatagram::bind(root.join("nowhere.sock")).unwrap();
        let drivers = gather(&hooks, &Host::at(&root.join("host")), None);
        let out = render(
            &hooks,
            &drivers,
            &source,
            recent_records(&source),
            false,
            plain(),
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(out.code, 0, "{text}");
        assert!(text.ends_with("sound\n"), "{text}");
        drop(sock);
    }

    #[test]
    fn what_would_fail_a_guest_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        let hooks = root.join("hooks");
        let bin = root.join("bin");
        std::fs::create_dir_all(&hooks).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy(std::env::current_exe().unwrap(), bin.join("virt-hook")).unwrap();
        // qemu: a symlink to a binary AppArmor's profile does not allow; a broken settings file.
        std::os::unix::fs::symlink(bin.join("virt-hook"), hooks.join("qemu")).unwrap();
        std::fs::write(hooks.join("virt-hook.toml"), "timeout = \"5 minutes\"\n").unwrap();
        std::fs::set_permissions(
            hooks.join("virt-hook.toml"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        // lxc: a wrapper whose virt-hook is gone.
        script(
            &hooks.join("lxc"),
            &format!(
                "#!/bin/sh\nexec {}/gone/virt-hook dispatch lxc \"$@\"\n",
                root.display()
            ),
        );
        // network: a symlink to nothing.
        std::os::unix::fs::symlink(bin.join("missing"), hooks.join("network")).unwrap();
        let host = root.join("host");
        put(&host, "/sys/module/apparmor/parameters/enabled", "Y\n");
        put(
            &host,
            "/sys/kernel/security/apparmor/profiles",
            "libvirtd (enforce)\n",
        );
        let drivers = gather(&hooks, &Host::at(&host), None);
        let messages = |i: usize| -> Vec<String> {
            drivers[i]
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| f.message.clone())
                .collect()
        };
        let qemu = messages(1);
        assert!(qemu.iter().any(|m| m.contains("AppArmor")), "{qemu:#?}");
        assert!(qemu.iter().any(|m| m.contains("5 minutes")), "{qemu:#?}");
        let lxc = messages(2);
        assert!(
            lxc.iter().any(|m| m.contains("which is missing")),
            "{lxc:#?}"
        );
        let network = messages(3);
        assert!(
            network.iter().any(|m| m.contains("leads to nothing")),
            "{network:#?}"
        );
        let source = Source::Files(Vec::new());
        let out = render(
            &hooks,
            &drivers,
            &source,
            recent_records(&source),
            false,
            plain(),
        );
        assert_eq!(out.code, 1);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("dispatcher records: cannot read"), "{text}");
    }

    #[test]
    fn timeouts_read_well() {
        assert_eq!(timeout_text(None), "none");
        assert_eq!(timeout_text(Some(500)), "500ms");
        assert_eq!(timeout_text(Some(60_000)), "60s");
        assert_eq!(timeout_text(Some(300_000)), "5m");
        assert_eq!(timeout_text(Some(3_600_000)), "1h");
        assert_eq!(timeout_text(Some(90_000)), "90s");
    }
}
