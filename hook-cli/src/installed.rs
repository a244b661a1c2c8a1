//! What is installed as a driver's main hook `<hooks dir>/<driver>`, the one place `install`,
//! `uninstall`, `list` and `check` ask: nothing, virt-hook's dispatcher (the root-owned copy
//! `install` makes, `<hooks dir>/virt-hook`, under the driver's name; a symlink to a `virt-hook`
//! binary, possibly through other symlinks, as earlier versions installed it; or a small
//! wrapper script calling `virt-hook dispatch`), the "hook helper" of the VFIO /
//! GPU-passthrough guides (PassthroughPOST VFIO-Tools `libvirt_hooks/qemu` and its copies), or
//! something else.
//!
//! A `virt-hook` binary is recognised exactly, whatever its name or path: an ELF file holding
//! [`MARKER`] (which every build embeds, with its version after it), never by its name alone.
//!
//! With the dispatcher or the hook helper in place, `<driver>.d/<object>/<op>/<subop>/` holds
//! scripts that run (the per-object layout); otherwise libvirt never looks inside those
//! directories. Recognition reads at most [`MAX_SCRIPT`] bytes of a script and never runs it.
//!
//! It also names what `install` puts in the hooks directory: the copy [`COPY_NAME`] and the
//! backup of a replaced main hook ([`BACKUP_SUFFIX`], [`backup_path`]).

use std::io::Read as _;
use std::path::{Path, PathBuf};

/// The most of a main hook that is read to recognise it; a bigger file is "something else".
pub(crate) const MAX_SCRIPT: u64 = 64 << 10;

/// How many symlinks are followed before giving up, as the kernel does (`ELOOP`).
const MAX_LINKS: usize = 40;

/// The name of the root-owned copy of the binary that `install` keeps in the hooks directory;
/// each installed driver's main hook is a hard link to it. libvirt never runs it by this name.
pub(crate) const COPY_NAME: &str = "virt-hook";

/// The suffix of the backup of the main hook an install replaced.
pub(crate) const BACKUP_SUFFIX: &str = ".virt-hook-backup";

/// `<hooks dir>/<driver>.virt-hook-backup`.
pub(crate) fn backup_path(hooks_dir: &Path, driver: &str) -> PathBuf {
    hooks_dir.join(format!("{driver}{BACKUP_SUFFIX}"))
}

/// What every `virt-hook` binary holds, followed by its version and a NUL: how a copy is told
/// from any other file. `main` reads it once, so no build drops it.
pub(crate) static MARKER: &[u8] = concat!(
    "\0virt-hook-dispatcher-binary\0",
    env!("CARGO_PKG_VERSION"),
    "\0"
)
.as_bytes();

/// The marker without the version: a slice of [`MARKER`] itself, so that the binary holds the
/// words once, followed by the version (a literal of its own would be found first).
fn marker_head() -> &'static [u8] {
    const LEN: usize = "\0virt-hook-dispatcher-binary\0".len();
    &MARKER[..LEN]
}

/// What the main hook is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Nothing at `<hooks dir>/<driver>`.
    Absent,
    /// virt-hook's dispatcher.
    Dispatcher(Via),
    /// The hook helper of the VFIO guides: runs `<driver>.d/<guest>/<op>/<subop>/*`, unsorted.
    HookHelper,
    /// Any other file (a script, a binary, a directory, a broken symlink).
    Other,
}

/// How the dispatcher is installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Via {
    /// A `virt-hook` binary under the driver's name: the copy `install` makes (a hard link
    /// to `<hooks dir>/virt-hook`), or another file that is a `virt-hook` binary.
    Copy,
    /// A symlink (chain) to the `virt-hook` binary: argv\[0\]'s name is the driver's.
    Symlink,
    /// A wrapper script; the line that calls `virt-hook dispatch`.
    Wrapper(String),
}

/// A driver's main hook, with the symlinks that lead to the file that runs.
#[derive(Clone, Debug)]
pub(crate) struct MainHook {
    /// `<hooks dir>/<driver>`.
    pub(crate) path: PathBuf,
    /// Each symlink's target in turn, as written in the link (empty when `path` is no symlink).
    pub(crate) links: Vec<PathBuf>,
    /// What it is.
    pub(crate) kind: Kind,
}

impl MainHook {
    /// Inspects `<hooks_dir>/<driver>`.
    pub(crate) fn inspect(hooks_dir: &Path, driver: &str) -> MainHook {
        MainHook::inspect_path(&hooks_dir.join(driver), driver)
    }

    /// Inspects `path` as `driver`'s main hook (a backup of one, say).
    pub(crate) fn inspect_path(path: &Path, driver: &str) -> MainHook {
        let path = path.to_owned();
        let (links, resolved) = follow(&path);
        let kind = if std::fs::symlink_metadata(&path).is_err() {
            Kind::Absent
        } else if links.is_empty() && is_copy(&path) {
            Kind::Dispatcher(Via::Copy)
        } else if !links.is_empty()
            && (resolved
                .iter()
                .any(|p| p.file_name().is_some_and(|n| n == COPY_NAME))
                || resolved
                    .last()
                    .is_some_and(|p| is_this_binary(p) || is_copy(p)))
        {
            Kind::Dispatcher(Via::Symlink)
        } else {
            let last = resolved.last().unwrap_or(&path);
            match read_script(last) {
                Some(text) => classify_text(&text, driver),
                None => Kind::Other,
            }
        };
        MainHook { path, links, kind }
    }

    /// Whether `<driver>.d/<object>/<op>/<subop>/` runs: the dispatcher or the hook helper is
    /// the main hook.
    pub(crate) fn runs_per_object(&self) -> bool {
        matches!(self.kind, Kind::Dispatcher(_) | Kind::HookHelper)
    }

    /// `qemu -> hooks -> /usr/bin/virt-hook`: the symlink chain as `ls -l` shows it, for
    /// people; `None` when the main hook is no symlink.
    pub(crate) fn chain(&self) -> Option<String> {
        if self.links.is_empty() {
            return None;
        }
        let mut s = String::new();
        for (i, l) in self.links.iter().enumerate() {
            if i > 0 {
                s.push_str(" -> ");
            }
            s.push_str(&l.display().to_string());
        }
        Some(s)
    }

    /// A few words on what it is, for `list` and `check`; `None` for [`Kind::Other`] and
    /// [`Kind::Absent`].
    pub(crate) fn describe(&self) -> Option<&'static str> {
        match self.kind {
            Kind::Dispatcher(Via::Copy) => Some("virt-hook's dispatcher"),
            Kind::Dispatcher(Via::Symlink) => Some("virt-hook's dispatcher (a symlink)"),
            Kind::Dispatcher(Via::Wrapper(_)) => Some("a wrapper calling virt-hook's dispatcher"),
            Kind::HookHelper => Some("the hook helper of the VFIO guides"),
            Kind::Other | Kind::Absent => None,
        }
    }
}

/// Follows the symlinks from `path`: the targets as written, and each one resolved against
/// its link's directory. Stops at the first non-symlink (or missing file), or after
/// [`MAX_LINKS`].
pub(crate) fn follow(path: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut links = Vec::new();
    let mut resolved = Vec::new();
    let mut cur = path.to_owned();
    while links.len() < MAX_LINKS {
        let Ok(target) = std::fs::read_link(&cur) else {
            break;
        };
        let next = match cur.parent() {
            Some(dir) if target.is_relative() => dir.join(&target),
            _ => target.clone(),
        };
        links.push(target);
        resolved.push(next.clone());
        cur = next;
    }
    (links, resolved)
}

/// Whether `path` is the running `virt-hook` (whatever its file name).
fn is_this_binary(path: &Path) -> bool {
    let (Ok(exe), Ok(p)) = (
        std::env::current_exe().and_then(std::fs::canonicalize),
        std::fs::canonicalize(path),
    ) else {
        return false;
    };
    exe == p
}

/// Whether `path` is a regular file that is a `virt-hook` binary.
fn is_copy(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file()) && binary_version(path).is_some()
}

/// The version of the `virt-hook` binary at `path` (from its [`MARKER`]), or `None` when it is
/// not one: not an ELF file, or no marker in it. The answer is kept per file (device, inode,
/// size, modification time) for the rest of the process: `list` and `check` ask often.
pub(crate) fn binary_version(path: &Path) -> Option<String> {
    use std::collections::HashMap;
    use std::os::unix::fs::MetadataExt as _;
    use std::sync::Mutex;
    type Key = (u64, u64, u64, i64, i64);
    static SEEN: Mutex<Option<HashMap<Key, Option<String>>>> = Mutex::new(None);

    let mut file = std::fs::File::open(path).ok()?;
    let m = file.metadata().ok()?;
    if !m.is_file() {
        return None;
    }
    let key = (m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec());
    if let Some(known) = SEEN.lock().ok()?.get_or_insert_default().get(&key) {
        return known.clone();
    }
    let found = scan_marker(&mut file);
    SEEN.lock()
        .ok()?
        .get_or_insert_default()
        .insert(key, found.clone());
    found
}

/// Looks for [`MARKER`] in an ELF file, a chunk at a time.
fn scan_marker(file: &mut std::fs::File) -> Option<String> {
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic).ok()?;
    if &magic != b"\x7fELF" {
        return None;
    }
    let mut buf = vec![0u8; 1 << 20];
    let mut kept = 0; // bytes carried over from the previous chunk
    // A virt-hook binary is a few MiB stripped, tens with debug info; nothing bigger is one.
    let mut budget: u64 = 512 << 20;
    loop {
        let n = file.read(&mut buf[kept..]).ok()?;
        if n == 0 || budget == 0 {
            return None;
        }
        budget = budget.saturating_sub(n as u64);
        let end = kept + n;
        if let Some(at) = memchr::memmem::find(&buf[..end], marker_head()) {
            let rest = &buf[at + marker_head().len()..end];
            if let Some(stop) = rest.iter().position(|&b| b == 0) {
                return Some(String::from_utf8_lossy(&rest[..stop]).into_owned());
            }
            // The version runs past the chunk: keep from the marker on and read more.
            buf.copy_within(at..end, 0);
            kept = end - at;
        } else {
            // Keep the tail in case the marker straddles two chunks.
            let tail = marker_head().len().min(end);
            buf.copy_within(end - tail..end, 0);
            kept = tail;
        }
        if kept == buf.len() {
            return None;
        }
    }
}

/// Whether two files have the same bytes.
pub(crate) fn same_content(a: &Path, b: &Path) -> std::io::Result<bool> {
    let (ma, mb) = (std::fs::metadata(a)?, std::fs::metadata(b)?);
    if ma.len() != mb.len() {
        return Ok(false);
    }
    Ok(std::fs::read(a)? == std::fs::read(b)?)
}

/// The text of a regular file of at most [`MAX_SCRIPT`] bytes that starts with `#!`.
fn read_script(path: &Path) -> Option<String> {
    let m = std::fs::metadata(path).ok()?;
    if !m.is_file() || m.len() > MAX_SCRIPT {
        return None;
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_SCRIPT)
        .read_to_end(&mut bytes)
        .ok()?;
    bytes
        .starts_with(b"#!")
        .then(|| String::from_utf8_lossy(&bytes).into_owned())
}

/// The lines that do something: neither blank nor a `#` comment (the `#!` line included).
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Recognises a wrapper calling `virt-hook dispatch` or the hook helper in a script's text.
pub(crate) fn classify_text(text: &str, driver: &str) -> Kind {
    // A wrapper: a handful of lines, one of them running `[…/]virt-hook dispatch`.
    let code: Vec<&str> = code_lines(text).collect();
    if code.len() <= 5
        && let Some(line) = code.iter().find(|l| calls_dispatch(l))
    {
        return Kind::Dispatcher(Via::Wrapper((*line).to_owned()));
    }
    // The hook helper: `HOOKPATH="$BASEDIR/qemu.d/$GUEST_NAME/$HOOK_NAME/$STATE_NAME"` (with or
    // without braces and quotes, any base directory), and a directory test or a `find` on it.
    let plain = |l: &str| l.replace(['"', '\'', '{', '}', '\\'], "");
    let layout = format!("{driver}.d/$GUEST_NAME/$HOOK_NAME/$STATE_NAME");
    let sets_path = code.iter().any(|l| {
        let l = plain(l);
        l.contains("HOOKPATH=") && l.contains(&layout)
    });
    let walks_it = code.iter().any(|l| {
        let l = plain(l);
        l.contains("-d $HOOKPATH") || (l.contains("find") && l.contains("$HOOKPATH"))
    });
    if sets_path && walks_it {
        Kind::HookHelper
    } else {
        Kind::Other
    }
}

/// `exec /usr/local/bin/virt-hook [--hooks-dir DIR] dispatch qemu "$@"`: the word `virt-hook`
/// (alone or at the end of a path), then, later on the line, the word `dispatch`.
fn calls_dispatch(line: &str) -> bool {
    let words: Vec<&str> = line
        .split_whitespace()
        .map(|w| w.trim_matches(['"', '\'']))
        .collect();
    words
        .iter()
        .position(|w| *w == "virt-hook" || w.ends_with("/virt-hook"))
        .is_some_and(|i| words[i + 1..].contains(&"dispatch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hook helper as the VFIO guides install it (the lines that matter of PassthroughPOST
    /// VFIO-Tools' `libvirt_hooks/qemu`, not a copy of it).
    const HELPER: &str = include_str!("../../tests/fixtures/hook-helper-qemu");

    #[test]
    fn the_hook_helper_is_recognised() {
        assert_eq!(classify_text(HELPER, "qemu"), Kind::HookHelper);
        // A shorter copy from a guide: braces, a for loop, no eval.
        let short = "#!/bin/bash\nGUEST_NAME=\"$1\" HOOK_NAME=\"$2\" STATE_NAME=\"$3\"\n\
            HOOKPATH=\"/etc/libvirt/hooks/qemu.d/${GUEST_NAME}/${HOOK_NAME}/${STATE_NAME}\"\n\
            if [ -f \"$HOOKPATH\" ]; then \"$HOOKPATH\" \"$@\"\n\
            elif [ -d \"$HOOKPATH\" ]; then\n  for f in \"$HOOKPATH\"/*; do \"$f\" \"$@\"; done\nfi\n";
        assert_eq!(classify_text(short, "qemu"), Kind::HookHelper);
        // Installed under another driver's name, it does not serve that driver's layout.
        assert_eq!(classify_text(HELPER, "lxc"), Kind::Other);
        // Commented out, it does nothing.
        let commented: String = HELPER
            .lines()
            .map(|l| format!("# {l}\n"))
            .collect::<String>();
        assert_eq!(
            classify_text(&format!("#!/bin/sh\n{commented}"), "qemu"),
            Kind::Other
        );
    }

    #[test]
    fn a_dispatch_wrapper_is_recognised() {
        let w = "#!/bin/sh\n# virt-hook as libvirt's qemu hook\nexec /usr/local/bin/virt-hook dispatch qemu \"$@\"\n";
        assert_eq!(
            classify_text(w, "qemu"),
            Kind::Dispatcher(Via::Wrapper(
                "exec /usr/local/bin/virt-hook dispatch qemu \"$@\"".into()
            ))
        );
        for text in [
            "#!/bin/sh\nvirt-hook dispatch qemu \"$@\"\n",
            "#!/bin/sh\nexec virt-hook --hooks-dir /etc/libvirt/hooks dispatch qemu \"$@\"\n",
        ] {
            assert!(
                matches!(classify_text(text, "qemu"), Kind::Dispatcher(_)),
                "{text}"
            );
        }
        // Not a call: a comment, another program, another subcommand, a big script.
        for text in [
            "#!/bin/sh\n# exec virt-hook dispatch qemu \"$@\"\n",
            "#!/bin/sh\nexec my-virt-hook dispatch qemu \"$@\"\n",
            "#!/bin/sh\nexec virt-hook run qemu \"$2\"\n",
            "#!/bin/sh\na\nb\nc\nd\ne\nexec virt-hook dispatch qemu \"$@\"\n",
        ] {
            assert_eq!(classify_text(text, "qemu"), Kind::Other, "{text}");
        }
    }
}
