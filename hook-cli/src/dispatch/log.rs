//! The dispatcher's system log: one line per script run (script, how it ended, duration), since
//! libvirt logs nothing when a hook succeeds. Sent as one datagram per line to the journal's
//! native socket (structured fields) or to the syslog socket (RFC 3164), with no process
//! started and no `unsafe`. A log that cannot be written is dropped: it never changes what the
//! dispatcher answers libvirt, nor makes it wait (the socket is non-blocking). Nothing from the environment or the stdin document is logged.

use std::os::unix::fs::FileTypeExt as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use super::config::LogTarget;

/// The journal's native socket.
const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";
/// The syslog socket (the journal's syslog socket on systemd hosts).
const SYSLOG_SOCKET: &str = "/dev/log";
/// syslog facility `daemon` (3), shifted.
const FACILITY_DAEMON: u8 = 3 << 3;

/// syslog severities used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Severity {
    /// `err` (3): a script failed, or a problem of the dispatcher's own.
    Error,
    /// `warning` (4): a script that did not run after an earlier one failed.
    Warning,
    /// `info` (6): a script succeeded.
    Info,
}

impl Severity {
    fn number(self) -> u8 {
        match self {
            Severity::Error => 3,
            Severity::Warning => 4,
            Severity::Info => 6,
        }
    }
}

/// One log record: the message and the journal fields that go with it.
#[derive(Debug)]
pub(crate) struct Record {
    /// The line.
    pub(crate) message: String,
    /// How bad.
    pub(crate) severity: Severity,
    /// Extra journal fields (`VIRT_HOOK_SCRIPT`…), upper-case names.
    pub(crate) fields: Vec<(&'static str, String)>,
}

/// Where records go, resolved once.
#[derive(Debug)]
pub(crate) struct Logger {
    sink: Option<(UnixDatagram, PathBuf, bool)>,
}

impl Logger {
    /// Connects to the target (`socket` overrides the standard path). Never fails: without a
    /// socket the logger drops records.
    pub(crate) fn new(target: LogTarget, socket: Option<&Path>) -> Logger {
        let candidates: Vec<(PathBuf, bool)> = match (target, socket) {
            (LogTarget::None, _) => Vec::new(),
            (LogTarget::Journal, Some(s)) => vec![(s.to_owned(), true)],
            (LogTarget::Syslog | LogTarget::Auto, Some(s)) => vec![(s.to_owned(), false)],
            (LogTarget::Journal, None) => vec![(JOURNAL_SOCKET.into(), true)],
            (LogTarget::Syslog, None) => vec![(SYSLOG_SOCKET.into(), false)],
            (LogTarget::Auto, None) => {
                vec![(JOURNAL_SOCKET.into(), true), (SYSLOG_SOCKET.into(), false)]
            }
        };
        for (path, journal) in candidates {
            // A socket is only made for a path that is one: making a socket and closing it
            // costs more than a `stat` (about 15 µs against 1 µs on the machine of
            // docs/performance.md), and a connect to anything else fails anyway.
            let is_socket = std::fs::metadata(&path).is_ok_and(|m| m.file_type().is_socket());
            if !is_socket {
                continue;
            }
            let Ok(sock) = UnixDatagram::unbound() else {
                break;
            };
            // Non-blocking: a log daemon that stops reading must not stall the dispatcher, and
            // through it libvirt; a full queue drops the record instead.
            if sock.connect(&path).is_ok() && sock.set_nonblocking(true).is_ok() {
                return Logger {
                    sink: Some((sock, path, journal)),
                };
            }
        }
        Logger { sink: None }
    }

    /// The socket records go to, `None` when they are dropped.
    pub(crate) fn destination(&self) -> Option<PathBuf> {
        self.sink.as_ref().map(|(_, path, _)| path.clone())
    }

    /// Whether records go anywhere (callers skip building them otherwise).
    pub(crate) fn is_on(&self) -> bool {
        self.sink.is_some()
    }

    /// Sends one record; errors are dropped (logged at debug level for `-v` runs).
    pub(crate) fn log(&self, record: &Record) {
        let Some((sock, path, journal)) = &self.sink else {
            return;
        };
        let datagram = if *journal {
            journal_datagram(record)
        } else {
            syslog_datagram(record)
        };
        if let Err(e) = sock.send(&datagram) {
            tracing::debug!(socket = %path.display(), error = %e, "log record dropped");
        }
    }
}

/// One line: no newline or other control character can split it.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// RFC 3164 as `syslog(3)` sends it on the local socket, without the timestamp (the receiver
/// stamps it): `<PRI>virt-hook[PID]: MESSAGE`.
fn syslog_datagram(r: &Record) -> Vec<u8> {
    format!(
        "<{}>virt-hook[{}]: {}",
        FACILITY_DAEMON | r.severity.number(),
        std::process::id(),
        one_line(&r.message)
    )
    .into_bytes()
}

/// The journal's native protocol: `FIELD=value\n` per field (values kept to one line).
fn journal_datagram(r: &Record) -> Vec<u8> {
    let mut out = String::new();
    let mut field = |name: &str, value: &str| {
        out.push_str(name);
        out.push('=');
        out.push_str(&one_line(value));
        out.push('\n');
    };
    field("MESSAGE", &r.message);
    field("PRIORITY", &r.severity.number().to_string());
    field("SYSLOG_FACILITY", "3");
    field("SYSLOG_IDENTIFIER", "virt-hook");
    field("SYSLOG_PID", &std::process::id().to_string());
    for (name, value) in &r.fields {
        field(name, value);
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            message: "qemu win10 prepare begin: a\nb exit 0".into(),
            severity: Severity::Info,
            fields: vec![("VIRT_HOOK_EXIT", "0".into())],
        }
    }

    #[test]
    fn datagrams_are_one_line_per_field() {
        let pid = std::process::id();
        assert_eq!(
            String::from_utf8(syslog_datagram(&record())).unwrap(),
            format!("<30>virt-hook[{pid}]: qemu win10 prepare begin: a b exit 0")
        );
        let j = String::from_utf8(journal_datagram(&record())).unwrap();
        assert_eq!(
            j,
            format!(
                "MESSAGE=qemu win10 prepare begin: a b exit 0\nPRIORITY=6\nSYSLOG_FACILITY=3\n\
                 SYSLOG_IDENTIFIER=virt-hook\nSYSLOG_PID={pid}\nVIRT_HOOK_EXIT=0\n"
            )
        );
    }

    #[test]
    fn a_log_reader_that_stops_reading_never_blocks() {
        let dir = std::env::temp_dir().join(format!("virt-hook-log-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.sock");
        let _ = std::fs::remove_file(&path);
        let reader = UnixDatagram::bind(&path).unwrap();
        let l = Logger::new(LogTarget::Journal, Some(&path));
        assert!(l.sink.is_some());
        // Far more than a datagram socket queues (max_dgram_qlen, 512 by default): with a
        // blocking socket this would hang here.
        for _ in 0..5000 {
            l.log(&record());
        }
        let mut buf = [0u8; 4096];
        let n = reader.recv(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"MESSAGE=qemu win10"));
        drop(reader);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_socket_drops_records_quietly() {
        let l = Logger::new(
            LogTarget::Syslog,
            Some(Path::new("/nonexistent/virt-hook.sock")),
        );
        assert!(l.sink.is_none());
        l.log(&record());
        assert!(Logger::new(LogTarget::None, None).sink.is_none());
    }

    /// A path that is there but is no socket (a regular file, a symlink to a socket) is
    /// judged by what it leads to, as `connect` would: no socket is made for a file, a
    /// symlink to a listening socket (`/dev/log` on systemd hosts) is followed.
    #[test]
    fn only_a_path_leading_to_a_socket_is_connected() {
        let dir = std::env::temp_dir().join(format!("virt-hook-log-kind-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("plain");
        std::fs::write(&file, b"").unwrap();
        assert!(Logger::new(LogTarget::Syslog, Some(&file)).sink.is_none());
        let sock = dir.join("log.sock");
        let _ = std::fs::remove_file(&sock);
        let reader = UnixDatagram::bind(&sock).unwrap();
        let link = dir.join("dev-log");
        std::os::unix::fs::symlink(&sock, &link).unwrap();
        let l = Logger::new(LogTarget::Syslog, Some(&link));
        assert_eq!(l.destination().as_deref(), Some(link.as_path()));
        l.log(&record());
        let mut buf = [0u8; 512];
        let n = reader.recv(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"<30>virt-hook["));
        drop(reader);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
