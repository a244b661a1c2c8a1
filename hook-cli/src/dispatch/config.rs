//! The dispatcher's settings: `<hooks dir>/virt-hook.toml` (libvirt passes the hook a fixed
//! environment, so a file is the only way to tune it). Absent file: the defaults. The file is
//! read only when it can be trusted ([`read_trusted`]): a regular file (a symlink is followed
//! and the file it leads to judged), owned by root or the dispatcher's effective user, not
//! writable by its group or others, at most 64 KiB; it is opened non-blocking, so a FIFO or a
//! device put there never blocks the dispatcher (nor, through it, libvirt). A file that is
//! unsafe, cannot be read, or does not parse (an unknown key, driver or operation, a bad value)
//! is a [`ConfigError`] naming the file, the line and the key; what the dispatcher then does
//! depends on the event (`dispatch::mod`, `docs/dispatcher.md`).
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
use std::io::Read as _;
use std::ops::Range;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// The settings file's name in the hooks directory.
pub(crate) const FILE_NAME: &str = "virt-hook.toml";

/// The largest settings file read (the real ones are a few lines): a larger one, or a file that
/// keeps growing, is refused after this many bytes + 1.
pub(crate) const MAX_BYTES: u64 = 64 * 1024;

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
    log_socket: Option<Spanned<PathBuf>>,
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

/// What kind of settings problem (the rows of `docs/dispatcher.md`'s table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    /// It cannot be opened or read (permissions, a symlink to nothing, an I/O error).
    Unreadable,
    /// It is not a file the dispatcher may trust: not a regular file (a FIFO, a device, a
    /// directory), owned by another user, or writable by its group or others.
    Unsafe,
    /// It does not parse, or says something wrong: not UTF-8, over 64 KiB, a TOML error, an
    /// unknown key, driver or operation, a bad value.
    Malformed,
}

/// A settings file problem, as one line: `FILE line N: KEY: what is wrong`, or `FILE: what is
/// wrong; to fix: COMMAND`.
#[derive(Debug)]
pub(crate) struct ConfigError {
    /// Which kind.
    pub(crate) kind: Problem,
    /// The line.
    pub(crate) message: String,
}

impl ConfigError {
    fn new(kind: Problem, message: String) -> ConfigError {
        ConfigError { kind, message }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
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
    match read_trusted(&path)? {
        Some(text) => parse(&path, &text, driver, op, known_op),
        // No file: the defaults, without running the parser on every event (what an empty
        // file gives: `an_absent_file_gives_what_an_empty_one_does`).
        None => Ok(defaults()),
    }
}

/// The defaults: what an absent file gives, and what the scripts run with when the file cannot
/// be used for an event the dispatcher must not fail (`reconnect`, `release`…).
pub(crate) fn defaults() -> Settings {
    Settings {
        timeout: Some(DEFAULT_TIMEOUT),
        log: LogTarget::Auto,
        log_socket: None,
        strict_trust: false,
    }
}

/// The text of the settings file at `path`, `None` when there is none, or why it cannot be
/// trusted or read.
///
/// Whoever can write the file chooses the timeout and turns `strict_trust` off, so it must be
/// as trustworthy as the scripts: owned by root or by the dispatcher's effective user (a
/// per-user hooks directory), and writable by nobody else. A symlink is followed (a file kept
/// elsewhere by configuration management) and the file it leads to is judged; a symlink to
/// nothing is an error, not an absent file, since the administrator meant one. Only a regular
/// file is opened: a FIFO would block the open or the read, and a device such as `/dev/zero`
/// never ends. The open is non-blocking all the same (the path could be swapped between the
/// check and the open), the opened file is checked again (`fstat`), and at most
/// [`MAX_BYTES`] + 1 bytes are read.
pub(crate) fn read_trusted(path: &Path) -> Result<Option<String>, ConfigError> {
    let shown = path.display();
    let quoted = hook_core::libvirt::shell_quote(&path.to_string_lossy()).into_owned();
    let unreadable = |e: &std::io::Error| {
        ConfigError::new(
            Problem::Unreadable,
            format!(
                "{shown}: cannot read: {}",
                crate::text::io_text(&e.to_string())
            ),
        )
    };
    let judge = |m: &std::fs::Metadata| -> Result<(), ConfigError> {
        let ft = m.file_type();
        let what = if ft.is_file() {
            None
        } else if ft.is_dir() {
            Some("a directory")
        } else if ft.is_fifo() {
            Some("a FIFO")
        } else if ft.is_char_device() {
            Some("a character device")
        } else if ft.is_block_device() {
            Some("a block device")
        } else if ft.is_socket() {
            Some("a socket")
        } else {
            Some("not a regular file")
        };
        if let Some(what) = what {
            return Err(ConfigError::new(
                Problem::Unsafe,
                format!(
                    "{shown}: {what}, not a regular file: not read; to fix: replace it with a \
                     regular file (or remove it for the defaults)"
                ),
            ));
        }
        let euid = nix::unistd::geteuid().as_raw();
        if m.uid() != 0 && m.uid() != euid {
            return Err(ConfigError::new(
                Problem::Unsafe,
                format!(
                    "{shown}: owned by uid {}, not root: not trusted, since its owner would \
                     choose the timeout and strict_trust; to fix: chown root: {quoted}",
                    m.uid()
                ),
            ));
        }
        let mode = m.mode() & 0o7777;
        let by = match (mode & 0o020 != 0, mode & 0o002 != 0) {
            (true, true) => Some("its group and others"),
            (true, false) => Some("its group"),
            (false, true) => Some("others"),
            (false, false) => None,
        };
        if let Some(by) = by {
            return Err(ConfigError::new(
                Problem::Unsafe,
                format!(
                    "{shown}: writable by {by} (mode {mode:04o}): not trusted, since whoever \
                     can write it chooses the timeout and strict_trust; to fix: chmod go-w \
                     {quoted}"
                ),
            ));
        }
        Ok(())
    };
    let too_large = || {
        ConfigError::new(
            Problem::Malformed,
            format!(
                "{shown}: larger than {} KiB, the most a settings file may have",
                MAX_BYTES / 1024
            ),
        )
    };

    match std::fs::metadata(path) {
        Ok(m) => judge(&m)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match std::fs::symlink_metadata(path) {
                Ok(_) => Err(ConfigError::new(
                    Problem::Unreadable,
                    format!("{shown}: cannot read: a symlink to nothing"),
                )),
                Err(_) => Ok(None),
            };
        }
        Err(e) => return Err(unreadable(&e)),
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_NOCTTY).bits())
        .open(path)
        .map_err(|e| unreadable(&e))?;
    let m = file.metadata().map_err(|e| unreadable(&e))?;
    judge(&m)?;
    if m.len() > MAX_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(&e))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(too_large());
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| ConfigError::new(Problem::Malformed, format!("{shown}: not UTF-8 text")))
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
        ConfigError::new(
            Problem::Malformed,
            format!(
                "{} line {}: {key}: {msg}",
                path.display(),
                line_of(text, span.start)
            ),
        )
    };
    let file: File = toml::from_str(text).map_err(|e| {
        let msg = e.message().trim().replace('\n', " ");
        match e.span() {
            Some(span) => ConfigError::new(
                Problem::Malformed,
                format!(
                    "{} line {}: {msg}",
                    path.display(),
                    line_of(text, span.start)
                ),
            ),
            None => ConfigError::new(Problem::Malformed, format!("{}: {msg}", path.display())),
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
        if let Err(unknown) = crate::drivers::known(d) {
            return Err(at(name.span(), &format!("[driver.{d}]"), &unknown));
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
    // libvirt runs hooks with / as their working directory: a relative path would be a guess.
    if let Some(sock) = &file.log_socket
        && !sock.get_ref().is_absolute()
    {
        return Err(at(
            sock.span(),
            "log_socket",
            &format!("{:?} is not an absolute path", sock.get_ref()),
        ));
    }
    Ok(Settings {
        timeout: chosen,
        log,
        log_socket: file.log_socket.map(Spanned::into_inner),
        strict_trust: file.strict_trust.unwrap_or(false),
    })
}

/// A timeout value: `"none"`, seconds as a number, or a number with `ms`, `s`, `m` or `h`.
fn timeout(raw: &RawTimeout) -> Result<Option<Duration>, String> {
    let secs = match raw {
        RawTimeout::Text(t) if t.trim() == "none" => return Ok(None),
        RawTimeout::Int(n) => *n as f64,
        RawTimeout::Float(f) => *f,
        RawTimeout::Text(t) => crate::duration::seconds(t).ok_or_else(|| {
            format!(
                "{:?} is not a duration; write e.g. \"90s\", \"500ms\", \"5m\", 90 or \"none\"",
                t.trim()
            )
        })?,
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
        parse(Path::new("/h/virt-hook.toml"), text, driver, op, &known).map_err(|e| e.message)
    }

    #[test]
    fn defaults_without_a_file() {
        let s = p("", "qemu", "prepare").unwrap();
        assert_eq!(s.timeout, Some(DEFAULT_TIMEOUT));
        assert_eq!(s.log, LogTarget::Auto);
        assert_eq!(s.log_socket, None);
        assert!(!s.strict_trust);
    }

    /// `load` skips the parser when there is no file: what it returns then must be what the
    /// parser makes of an empty file.
    #[test]
    fn an_absent_file_gives_what_an_empty_one_does() {
        let dir =
            std::env::temp_dir().join(format!("virt-hook-config-absent-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (driver, op) in [("qemu", "prepare"), ("qemu", "release")] {
            let absent = load(&dir, driver, op, &known).map_err(|e| e.message);
            assert_eq!(absent, p("", driver, op));
        }
        std::fs::remove_dir_all(&dir).unwrap();
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
                "line 1: [driver.qemo]: unknown driver \"qemo\"; did you mean \"qemu\"?",
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
            (
                "log_socket = \"log.sock\"",
                "line 1: log_socket: \"log.sock\" is not an absolute path",
            ),
        ];
        for (text, want) in cases {
            let got = p(text, "qemu", "prepare").expect_err(text);
            assert!(got.contains(want), "{text:?}: {got}");
            assert!(!got.contains('\n'), "one line: {got:?}");
        }
        // A section for another event is checked too.
        assert!(p("[driver.lxc]\ntimeout = \"soon\"", "qemu", "prepare").is_err());
    }

    /// A directory of its own under the temp dir, removed on drop.
    struct Tmp(std::path::PathBuf);

    impl Tmp {
        fn new(tag: &str) -> Tmp {
            let p =
                std::env::temp_dir().join(format!("virt-hook-config-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Tmp(p)
        }
    }

    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn write(path: &Path, text: &[u8], mode: u32) {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn problem(path: &Path) -> (Problem, String) {
        let e = read_trusted(path).expect_err("refused");
        (e.kind, e.message)
    }

    #[test]
    fn only_a_trusted_regular_file_is_read() {
        let t = Tmp::new("trust");
        let path = t.0.join(FILE_NAME);
        assert_eq!(read_trusted(&path).unwrap(), None, "no file: the defaults");

        write(&path, b"timeout = 5\n", 0o644);
        assert_eq!(
            read_trusted(&path).unwrap().as_deref(),
            Some("timeout = 5\n")
        );

        write(&path, b"timeout = 5\n", 0o666);
        let (kind, msg) = problem(&path);
        assert_eq!(kind, Problem::Unsafe);
        assert!(
            msg.ends_with(&format!(
                ": writable by its group and others (mode 0666): not trusted, since whoever \
                 can write it chooses the timeout and strict_trust; to fix: chmod go-w {}",
                path.display()
            )),
            "{msg}"
        );
        write(&path, b"", 0o620);
        assert!(
            problem(&path)
                .1
                .contains("writable by its group (mode 0620)")
        );

        if nix::unistd::geteuid().is_root() {
            write(&path, b"", 0o644);
            std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
            let (kind, msg) = problem(&path);
            assert_eq!(kind, Problem::Unsafe);
            assert!(
                msg.contains("owned by uid 65534, not root")
                    && msg.ends_with(&format!("to fix: chown root: {}", path.display())),
                "{msg}"
            );
        }
        std::fs::remove_file(&path).unwrap();

        // A FIFO would block the open or the read; /dev/zero never ends. Neither is opened.
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let (kind, msg) = problem(&path);
        assert_eq!(kind, Problem::Unsafe);
        assert!(
            msg.contains(": a FIFO, not a regular file: not read"),
            "{msg}"
        );
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
        assert!(
            problem(&path)
                .1
                .contains(": a character device, not a regular file")
        );
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert!(
            problem(&path)
                .1
                .contains(": a directory, not a regular file")
        );
        std::fs::remove_dir(&path).unwrap();

        // A symlink is followed and the file it leads to judged; one to nothing is an error.
        let real = t.0.join("real.toml");
        write(&real, b"log = \"none\"\n", 0o600);
        std::os::unix::fs::symlink(&real, &path).unwrap();
        assert_eq!(
            read_trusted(&path).unwrap().as_deref(),
            Some("log = \"none\"\n")
        );
        std::fs::remove_file(&real).unwrap();
        let (kind, msg) = problem(&path);
        assert_eq!(kind, Problem::Unreadable);
        assert!(
            msg.ends_with(": cannot read: a symlink to nothing"),
            "{msg}"
        );
        std::fs::remove_file(&path).unwrap();

        // Bounded: 64 KiB is fine, one byte more is not.
        let mut big = vec![b'#'; MAX_BYTES as usize - 1];
        big.push(b'\n');
        write(&path, &big, 0o644);
        assert!(read_trusted(&path).unwrap().is_some());
        big.push(b'\n');
        write(&path, &big, 0o644);
        let (kind, msg) = problem(&path);
        assert_eq!(kind, Problem::Malformed);
        assert!(msg.ends_with(": larger than 64 KiB, the most a settings file may have"));
        write(&path, b"\xff", 0o644);
        assert!(problem(&path).1.ends_with(": not UTF-8 text"));
    }
}
