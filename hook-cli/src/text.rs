//! The words virt-hook uses for what hook-core reports, shared by the commands and the
//! dispatcher: an I/O error's text, the stable names and sentences of skip reasons and
//! permission warnings, and what a suspicious file name says it is (an editor backup, a
//! package leftover…), and "did you mean" for a mistyped word.

use hook_core::UnknownWord;
use hook_core::discover::{SkipReason, WarningKind};
use serde::Serialize;

/// The one of `candidates` that `word` is most likely a typo of, judged as clap judges a
/// mistyped subcommand (Jaro similarity above 0.7, with clap's own `strsim`); `None` when none
/// is close.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro(word, c), c))
        .filter(|(similarity, _)| *similarity > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// An unknown word in one line: `unknown driver "qmeu"; did you mean "qemu"?`, or the valid
/// words when none is close.
pub(crate) fn unknown(kind: &str, word: &str, valid: &[&str]) -> String {
    match closest(word, valid.iter().copied()) {
        Some(close) => format!("unknown {kind} {word:?}; did you mean {close:?}?"),
        None => format!("unknown {kind} {word:?}; valid: {}", valid.join(", ")),
    }
}

/// [`unknown`] for a driver crate's unknown operation, sub-operation or shutoff reason.
pub(crate) fn unknown_word(e: &UnknownWord) -> String {
    unknown(&e.kind, &e.word, &e.valid)
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

/// What an executable's name says it is when libvirt should probably not run it: `Some("an
/// editor backup")` for `foo~`, and so on; `None` for an ordinary name.
pub(crate) fn suspicious_name(name: &str) -> Option<&'static str> {
    const SUFFIXES: &[(&str, &str)] = &[
        ("~", "an editor backup"),
        (".swp", "an editor swap file"),
        (".swo", "an editor swap file"),
        (".rpmsave", "an rpm leftover"),
        (".rpmnew", "an rpm leftover"),
        (".rpmorig", "an rpm leftover"),
        (".ucf-old", "a dpkg leftover"),
        (".ucf-new", "a dpkg leftover"),
        (".ucf-dist", "a dpkg leftover"),
        (".bak", "a backup copy"),
        (".orig", "a backup copy"),
        (".old", "a backup copy"),
    ];
    if let Some((_, what)) = SUFFIXES.iter().find(|(suffix, _)| name.ends_with(suffix)) {
        Some(what)
    } else if name.contains(".dpkg-") {
        Some("a dpkg leftover")
    } else if name.starts_with('.') {
        Some("a dotfile")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_words_are_suggested() {
        let drivers = ["daemon", "qemu", "lxc", "network", "libxl", "bhyve"];
        assert_eq!(
            unknown("driver", "qmeu", &drivers),
            r#"unknown driver "qmeu"; did you mean "qemu"?"#
        );
        assert_eq!(closest("netwrok", drivers), Some("network"));
        assert_eq!(closest("libxl", drivers), Some("libxl"));
        assert_eq!(
            unknown("driver", "vbox", &["qemu", "lxc"]),
            r#"unknown driver "vbox"; valid: qemu, lxc"#
        );
        assert_eq!(closest("", drivers), None);
    }

    #[test]
    fn backup_names_are_recognised() {
        for n in [
            "10-x~",
            ".10-x.swp",
            "x.rpmsave",
            "x.rpmnew",
            "x.dpkg-old",
            "x.dpkg-dist",
            ".hidden",
        ] {
            assert!(suspicious_name(n).is_some(), "{n}");
        }
        for n in ["10-x", "qemu", "50-migrate.sh", "a.b"] {
            assert!(suspicious_name(n).is_none(), "{n}");
        }
    }
}

/// How bad a finding of `check` or `status` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    /// Breaks hook calls, runs something unintended, or keeps a guest's scripts from running:
    /// exit status 1.
    Error,
    /// Worth a look; may be intended; no guest fails for it.
    Warning,
    /// Worth knowing; nothing wrong with it.
    Note,
}

impl Severity {
    /// `error`, `warning`, `note`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}
