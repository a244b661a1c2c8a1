//! The dispatcher's settings: `<hooks dir>/virt-hook.toml` (libvirt passes the hook a fixed
//! environment, so a file is the only way to tune it). Absent file: the defaults. A file that
//! cannot be read or parsed, an unknown key, driver or operation, or a bad value is an error
//! naming the file, the line and the key: the dispatcher then runs nothing (see
//! `docs/dispatcher.md` for why).
//!
//! ```toml
//! timeout = "60s"              # per script; "none" turns it off; a number is seconds
//! log = "auto"                 # auto (journal, else syslog), journal, syslog, none
//! strict_trust = false
//! [driver.qemu]
//! timeout = "2m"
//! [driver.qemu.op.prepare]
//! timeout = "5m"               # the most specific timeout wins
//! ```

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// The settings file's name in the hooks directory.
pub(crate) const FILE_NAME: &str = "virt-hook.toml";

/// The timeout when the file sets none: long enough for what per-guest scripts do (stop a
/// display manager, unbind a GPU, load modules, sleep a few seconds), short enough that a hung
/// script (a `virsh` call deadlocking the daemon, a wait for something that never comes) fails
/// the start with a message instead of hanging it forever.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the one line per script run goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogTarget {
    /// The journal's native socket when it exists, else the syslog socket.
    Auto,
    /// The journal's native socket (`/run/systemd/journal/socket`), with structured fields.
    Journal,
    /// The syslog socket (`/dev/log`), RFC 3164 lines.
    Syslog,
    /// Nowhere.
    None,
}

/// The dispatcher's settings for one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    /// The timeout per script for this driver and operation (`None`: turned off).
    pub(crate) timeout: Option<Duration>,
    /// Where the run lines go.
    pub(crate) log: LogTarget,
    /// A socket to send them to instead of the standard one (for tests, or a relay).
    pub(crate) log_socket: Option<PathBuf>,
    /// Refuse group/world-writable or foreign-owned scripts and directories.
    pub(crate) strict_trust: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    timeout: Option<Spanned<RawTimeout>>,
    log: Option<Spanned<String>>,
    log_socket: Option<PathBuf>,
    strict_trust: Option<bool>,
    #[serde(default)]
    driver: BTreeMap<Spanned<String>, DriverSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DriverSection {
    timeout: Option<Spanned<RawTimeout>>,
    #[serde(default)]
    op: BTreeMap<Spanned<String>, OpSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpSection {
    timeout: Option<Spanned<RawTimeout>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawTimeout {
    Int(i64),
    Float(f64),
    Text(String),
}

/// A settings file problem, as one line: `FILE line N: KEY: what is wrong`.
#[derive(Debug)]
pub(crate) struct ConfigError(pub(crate) String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads the settings for `driver`'s `op` from `hooks_dir`. `known_op` says whether a word is
/// one of a driver's operations (the driver crates know; this module does not).
pub(crate) fn load(
    hooks_dir: &Path,
    driver: &str,
    op: &str,
    known_op: &dyn Fn(&str, &str) -> Result<(), String>,
) -> Result<Settings, ConfigError> {
    let path = hooks_dir.join(FILE_NAME);
    let text = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map_err(|_| ConfigError(format!("{}: not UTF-8 text", path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(ConfigError(format!(
                "{}: cannot read: {}",
                path.display(),
                crate::list::io_text(&e.to_string())
            )));
        }
    };
    parse(&path, &text, driver, op, known_op)
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, at: usize) -> usize {
    1 + text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

fn parse(
    path: &Path,
    text: &str,
    driver: &str,
    op: &str,
    known_op: &dyn Fn(&str, &str) -> Result<(), String>,
) -> Result<Settings, ConfigError> {
    let at = |span: Range<usize>, key: &str, msg: &str| {
        ConfigError(format!(
            "{} line {}: {key}: {msg}",
            path.display(),
            line_of(text, span.start)
        ))
    };
    let file: File = toml::from_str(text).map_err(|e| {
        let msg = e.message().trim().replace('\n', " ");
        match e.span() {
            Some(span) => ConfigError(format!(
                "{} line {}: {msg}",
                path.display(),
                line_of(text, span.start)
            )),
            None => ConfigError(format!("{}: {msg}", path.display())),
        }
    })?;
    let timeout_of = |t: &Spanned<RawTimeout>, key: &str| {
        timeout(t.get_ref()).map_err(|msg| at(t.span(), key, &msg))
    };

    let mut chosen = match &file.timeout {
        Some(t) => timeout_of(t, "timeout")?,
        None => Some(DEFAULT_TIMEOUT),
    };
    // Every section is checked, not only this event's: a typo must show at once.
    for (name, section) in &file.driver {
        let d = name.get_ref();
        if !crate::drivers::NAMES.contains(&d.as_str()) {
            return Err(at(
                name.span(),
                &format!("[driver.{d}]"),
                &format!(
                    "unknown driver; valid: {}",
                    crate::drivers::NAMES.join(", ")
                ),
            ));
        }
        let key = format!("driver.{d}.timeout");
        let driver_timeout = match &section.timeout {
            Some(t) => Some(timeout_of(t, &key)?),
            None => None,
        };
        if d == driver
            && let Some(t) = driver_timeout
        {
            chosen = t;
        }
        for (op_name, op_section) in &section.op {
            let o = op_name.get_ref();
            let section_key = format!("[driver.{d}.op.{o}]");
            known_op(d, o).map_err(|msg| at(op_name.span(), &section_key, &msg))?;
            let key = format!("driver.{d}.op.{o}.timeout");
            let op_timeout = match &op_section.timeout {
                Some(t) => Some(timeout_of(t, &key)?),
                None => None,
            };
            if d == driver
                && o == op
                && let Some(t) = op_timeout
            {
                chosen = t;
            }
        }
    }
    let log = match &file.log {
        None => LogTarget::Auto,
        Some(l) => match l.get_ref().as_str() {
            "auto" => LogTarget::Auto,
            "journal" => LogTarget::Journal,
            "syslog" => LogTarget::Syslog,
            "none" => LogTarget::None,
            other => {
                return Err(at(
                    l.span(),
                    "log",
                    &format!("unknown target {other:?}; valid: auto, journal, syslog, none"),
                ));
            }
        },
    };
    Ok(Settings {
        timeout: chosen,
        log,
        log_socket: file.log_socket,
        strict_trust: file.strict_trust.unwrap_or(false),
    })
}

/// A timeout value: `"none"`, seconds as a number, or a number with `ms`, `s`, `m` or `h`.
fn timeout(raw: &RawTimeout) -> Result<Option<Duration>, String> {
    let secs = match raw {
        RawTimeout::Text(t) if t.trim() == "none" => return Ok(None),
        RawTimeout::Int(n) => *n as f64,
        RawTimeout::Float(f) => *f,
        RawTimeout::Text(t) => {
            let t = t.trim();
            let split = t
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(t.len());
            let (number, unit) = t.split_at(split);
            let scale = match unit.trim() {
                "ms" => 0.001,
                "" | "s" => 1.0,
                "m" | "min" => 60.0,
                "h" => 3600.0,
                _ => f64::NAN,
            };
            match number.parse::<f64>() {
                Ok(n) if scale.is_finite() => n * scale,
                _ => {
                    return Err(format!(
                        "{t:?} is not a duration; write e.g. \"90s\", \"500ms\", \"5m\", 90 or \"none\""
                    ));
                }
            }
        }
    };
    if secs.is_finite() && secs > 0.0 && secs <= 7.0 * 86400.0 {
        Ok(Some(Duration::from_secs_f64(secs)))
    } else {
        Err(format!(
            "{secs} seconds: give a positive duration of at most a week, or \"none\""
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(driver: &str, op: &str) -> Result<(), String> {
        match (driver, op) {
            ("qemu", "prepare" | "release") => Ok(()),
            _ => Err(format!("unknown {driver} operation {op:?}")),
        }
    }

    fn p(text: &str, driver: &str, op: &str) -> Result<Settings, String> {
        parse(Path::new("/h/virt-hook.toml"), text, driver, op, &known).map_err(|e| e.0)
    }

    #[test]
    fn defaults_without_a_file() {
        let s = p("", "qemu", "prepare").unwrap();
        assert_eq!(s.timeout, Some(DEFAULT_TIMEOUT));
        assert_eq!(s.log, LogTarget::Auto);
        assert_eq!(s.log_socket, None);
        assert!(!s.strict_trust);
    }

    #[test]
    fn the_most_specific_timeout_wins() {
        let text = "timeout = 10\n[driver.qemu]\ntimeout = \"2m\"\n\
                    [driver.qemu.op.prepare]\ntimeout = \"500ms\"\n\
                    [driver.lxc]\ntimeout = \"none\"\n";
        assert_eq!(
            p(text, "qemu", "prepare").unwrap().timeout,
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            p(text, "qemu", "release").unwrap().timeout,
            Some(Duration::from_secs(120))
        );
        assert_eq!(p(text, "lxc", "prepare").unwrap().timeout, None);
        assert_eq!(
            p(text, "network", "start").unwrap().timeout,
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            p("timeout = 1.5", "qemu", "x").unwrap().timeout,
            Some(Duration::from_millis(1500))
        );
    }

    #[test]
    fn every_mistake_names_the_file_line_and_key() {
        let cases = [
            (
                "timout = 3",
                "/h/virt-hook.toml line 1: unknown field `timout`",
            ),
            (
                "\ntimeout = \"3 parsecs\"",
                "/h/virt-hook.toml line 2: timeout: \"3 parsecs\" is not a duration",
            ),
            (
                "timeout = 0",
                "/h/virt-hook.toml line 1: timeout: 0 seconds: give a positive",
            ),
            ("timeout = -5", "line 1: timeout: -5 seconds"),
            ("log = \"file\"", "line 1: log: unknown target \"file\""),
            (
                "[driver.qemo]\ntimeout = 3",
                "line 1: [driver.qemo]: unknown driver; valid: daemon, qemu",
            ),
            (
                "[driver.qemu.op.prepar]\ntimeout = 3",
                "line 1: [driver.qemu.op.prepar]: unknown qemu operation \"prepar\"",
            ),
            (
                "[driver.qemu.op.prepare]\ntimeout = \"x\"",
                "line 2: driver.qemu.op.prepare.timeout: \"x\" is not",
            ),
            (
                "[driver.qemu]\ntimeut = 3",
                "line 2: unknown field `timeut`",
            ),
            ("timeout = ", "/h/virt-hook.toml line 1: "),
            ("strict_trust = \"yes\"", "line 1: invalid type"),
        ];
        for (text, want) in cases {
            let got = p(text, "qemu", "prepare").expect_err(text);
            assert!(got.contains(want), "{text:?}: {got}");
            assert!(!got.contains('\n'), "one line: {got:?}");
        }
        // A section for another event is checked too.
        assert!(p("[driver.lxc]\ntimeout = \"soon\"", "qemu", "prepare").is_err());
    }
}
