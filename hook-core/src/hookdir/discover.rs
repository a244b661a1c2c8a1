//! Which scripts a driver has, exactly as libvirt decides it: the main script `<dir>/<driver>`
//! when it is an executable regular file (stat follows symlinks, any x bit), then every entry of
//! `<dir>/<driver>.d/` but `.` and `..` that is an executable regular file after following
//! symlinks, sorted bytewise. Dotfiles and editor backups are *not* filtered (libvirt runs them).
//! Three entry points: the presence check (`virHookCheck`), the per-call list (`virHookCall`),
//! and [`list`], which also explains every skipped file and warns about unsafe permissions.

use std::ffi::OsString;
use std::fs::Metadata;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// `virFileIsExecutable`: stat (following symlinks) says a regular file with any x bit.
pub(crate) fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| executable_meta(&m))
        .unwrap_or(false)
}

fn executable_meta(m: &Metadata) -> bool {
    m.is_file() && m.permissions().mode() & 0o111 != 0
}

/// The `.d` directory of a main script path: `<main>.d`.
pub(crate) fn d_dir_of(main: &Path) -> PathBuf {
    let mut p = main.as_os_str().to_owned();
    p.push(".d");
    PathBuf::from(p)
}

/// Reads `<driver>.d`: `Ok(None)` when it does not exist, the sorted executable entries
/// otherwise. Any other error (not a directory, a symlink loop, permission denied, a read
/// error) is returned, as libvirt's `virDirOpenIfExists` does.
pub(crate) fn d_scripts(d_dir: &Path) -> io::Result<Option<Vec<PathBuf>>> {
    let rd = match std::fs::read_dir(d_dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut names: Vec<OsString> = Vec::new();
    for entry in rd {
        let entry = entry?;
        let path = d_dir.join(entry.file_name());
        if is_executable(&path) {
            names.push(entry.file_name());
        }
    }
    // OsString orders by bytes on Unix: strcmp order, as libvirt sorts.
    names.sort_unstable();
    Ok(Some(names.into_iter().map(|n| d_dir.join(n)).collect()))
}

/// What the presence scan found for one driver.
#[derive(Debug)]
pub(crate) enum Scan {
    Present,
    Absent,
    Unreadable(io::Error),
}

/// `virHookCheck`: an executable main script, or a `.d` with at least one executable entry.
/// A `.d` that exists but is not a directory counts as absent (as in libvirt); one that cannot
/// be opened or read (symlink loop, permissions) is [`Scan::Unreadable`].
pub(crate) fn scan(main: &Path, d_dir: &Path) -> Scan {
    if is_executable(main) {
        return Scan::Present;
    }
    match std::fs::metadata(d_dir) {
        Ok(m) if !m.is_dir() => return Scan::Absent,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Scan::Absent,
        _ => {}
    }
    let rd = match std::fs::read_dir(d_dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Scan::Absent,
        Err(e) => return Scan::Unreadable(e),
    };
    for entry in rd {
        match entry {
            Ok(entry) => {
                if is_executable(&d_dir.join(entry.file_name())) {
                    return Scan::Present;
                }
            }
            Err(e) => return Scan::Unreadable(e),
        }
    }
    Scan::Absent
}

/// Why a file in the hooks directory does not run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum SkipReason {
    /// A regular file without any execute bit.
    NotExecutable,
    /// A directory (libvirt does not descend into `<driver>.d` subdirectories).
    Directory,
    /// A symlink whose target does not exist.
    BrokenSymlink,
    /// A symlink that loops.
    SymlinkLoop,
    /// A socket, fifo or device.
    NotRegularFile,
    /// stat failed for another reason.
    Unreadable(String),
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::NotExecutable => f.write_str("not executable"),
            SkipReason::Directory => f.write_str("directory (not searched)"),
            SkipReason::BrokenSymlink => f.write_str("broken symlink"),
            SkipReason::SymlinkLoop => f.write_str("symlink loop"),
            SkipReason::NotRegularFile => f.write_str("not a regular file"),
            SkipReason::Unreadable(e) => write!(f, "cannot stat: {e}"),
        }
    }
}

/// A file that is in the hooks directory but will not run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Skipped {
    /// Its path.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_support::path")
    )]
    pub path: PathBuf,
    /// Why.
    pub reason: SkipReason,
}

pub use crate::error::WarningKind;

/// A warning about one path.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Warning {
    /// The script or directory.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_support::path")
    )]
    pub path: PathBuf,
    /// What is wrong.
    pub kind: WarningKind,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = self.path.display();
        match self.kind {
            WarningKind::WorldWritable => write!(
                f,
                "{p} is world-writable: anyone can change what runs as the daemon (chmod o-w)"
            ),
            WarningKind::GroupWritable => write!(f, "{p} is group-writable (chmod g-w)"),
            WarningKind::ForeignOwner { uid } => {
                write!(
                    f,
                    "{p} is owned by uid {uid}, neither root nor the current user"
                )
            }
        }
    }
}

/// Everything about one driver's scripts: what runs, in order, what is skipped and why.
#[derive(Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Listing {
    /// The driver.
    pub driver: String,
    /// The main script's path (`<dir>/<driver>`), whether or not it exists.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_support::path")
    )]
    pub main: PathBuf,
    /// The `.d` directory's path.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_support::path")
    )]
    pub d_dir: PathBuf,
    /// The scripts that run, in order: the main script first when it is executable.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_support::paths")
    )]
    pub scripts: Vec<PathBuf>,
    /// Files present that do not run.
    pub skipped: Vec<Skipped>,
    /// Permission warnings on the scripts that run and on their directories.
    pub warnings: Vec<Warning>,
    /// The `.d` directory exists but cannot be read (libvirt then fails every call).
    pub d_error: Option<String>,
}

impl Warning {
    /// What an administrator runs to fix it, e.g. `chmod go-w /etc/libvirt/hooks/qemu`.
    pub fn fix(&self) -> String {
        let p = crate::quote::shell_quote(&self.path.to_string_lossy()).into_owned();
        match self.kind {
            WarningKind::WorldWritable => format!("chmod go-w {p}"),
            WarningKind::GroupWritable => format!("chmod g-w {p}"),
            WarningKind::ForeignOwner { .. } => format!(
                "check its content, then chown root {p} (or chown it to the user the daemon runs as)"
            ),
        }
    }
}

fn classify(path: &Path) -> Result<Metadata, SkipReason> {
    match std::fs::metadata(path) {
        Ok(m) if executable_meta(&m) => Ok(m),
        Ok(m) if m.is_dir() => Err(SkipReason::Directory),
        Ok(m) if m.is_file() => Err(SkipReason::NotExecutable),
        Ok(_) => Err(SkipReason::NotRegularFile),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Err(SkipReason::SymlinkLoop),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if std::fs::symlink_metadata(path).is_ok() {
                Err(SkipReason::BrokenSymlink)
            } else {
                Err(SkipReason::Unreadable(e.to_string()))
            }
        }
        Err(e) => Err(SkipReason::Unreadable(e.to_string())),
    }
}

fn warn_about(path: &Path, m: &Metadata, euid: u32, out: &mut Vec<Warning>) {
    let mode = m.permissions().mode();
    // A directory with the sticky bit (like /tmp) protects its entries from other users.
    let sticky_dir = m.is_dir() && mode & 0o1000 != 0;
    if mode & 0o002 != 0 && !sticky_dir {
        out.push(Warning {
            path: path.to_owned(),
            kind: WarningKind::WorldWritable,
        });
    } else if mode & 0o020 != 0 && !sticky_dir {
        out.push(Warning {
            path: path.to_owned(),
            kind: WarningKind::GroupWritable,
        });
    }
    if m.uid() != 0 && m.uid() != euid {
        out.push(Warning {
            path: path.to_owned(),
            kind: WarningKind::ForeignOwner { uid: m.uid() },
        });
    }
}

/// The most symlinks followed while resolving one path, as Linux's `MAXSYMLINKS`.
const MAX_SYMLINKS: usize = 40;

/// Every directory in which a name is looked up while `path` is resolved the way the kernel
/// resolves it for `exec` (every symlink followed, intermediate ones included), in order, each
/// as a symlink-free path. Whoever can write one of them can make `path` lead elsewhere. Stops
/// where resolution fails (a missing entry, a loop, too many links).
fn lookup_dirs(path: &Path) -> Vec<PathBuf> {
    use std::collections::VecDeque;
    use std::path::Component;

    let Ok(path) = std::path::absolute(path) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut current = PathBuf::from("/");
    let mut pending: VecDeque<OsString> = VecDeque::new();
    let push_front = |pending: &mut VecDeque<OsString>, p: &Path| {
        for c in p.components().rev() {
            match c {
                Component::Normal(n) => pending.push_front(n.to_owned()),
                Component::ParentDir => pending.push_front(OsString::from("..")),
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            }
        }
    };
    push_front(&mut pending, &path);
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            // `current` is symlink-free, so its parent is the real `..`.
            current.pop();
            continue;
        }
        if !dirs.contains(&current) {
            dirs.push(current.clone());
        }
        let next = current.join(&name);
        match std::fs::symlink_metadata(&next) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                let Ok(target) = std::fs::read_link(&next) else {
                    break;
                };
                if links > MAX_SYMLINKS {
                    break;
                }
                if target.is_absolute() {
                    current = PathBuf::from("/");
                }
                push_front(&mut pending, &target);
            }
            Ok(_) => current = next,
            Err(_) => break,
        }
    }
    dirs
}

/// The directories outside the hooks tree that `script` is reached through: those
/// [`lookup_dirs`] finds for it, but not for `root` itself (the path to the hooks directory is
/// not judged, as before), and not the directories between `script` and `root`, which are
/// judged under their own names. Empty for a tree without symlinks.
fn directories_reached_through_symlinks(script: &Path, root: &Path) -> Vec<PathBuf> {
    let mut known = lookup_dirs(root);
    let mut dir = script.parent();
    while let Some(d) = dir {
        if let Ok(real) = std::fs::canonicalize(d) {
            known.push(real);
        }
        if d == root || !d.starts_with(root) {
            break;
        }
        dir = d.parent();
    }
    lookup_dirs(script)
        .into_iter()
        .filter(|d| !known.contains(d))
        .collect()
}

/// Strict trust mode: the first permission problem, as [`list`] warns about them, of `script`
/// (symlinks followed), of a directory between it and `root` (both included), then of a
/// directory outside the tree that a symlink leads through (the target's directory, an
/// intermediate link's, and the directories above them). `None` when all are owned by root or
/// the current user and writable by their owner only, or sticky (like `/tmp`).
pub(crate) fn trust_problem(script: &Path, root: &Path) -> Option<Warning> {
    let euid = nix::unistd::geteuid().as_raw();
    let problem = |path: &Path| -> Option<Warning> {
        // Gone since discovery: starting it reports that more precisely.
        let m = std::fs::metadata(path).ok()?;
        let mut found = Vec::new();
        warn_about(path, &m, euid, &mut found);
        found.into_iter().next()
    };
    if let Some(w) = problem(script) {
        return Some(w);
    }
    let mut dir = script.parent();
    while let Some(d) = dir {
        if let Some(w) = problem(d) {
            return Some(w);
        }
        if d == root || !d.starts_with(root) {
            break;
        }
        dir = d.parent();
    }
    directories_reached_through_symlinks(script, root)
        .iter()
        .find_map(|d| problem(d))
}

/// Warnings about the directories outside the tree that `script` is reached through (see
/// [`trust_problem`]), each directory once.
fn outside_warnings(script: &Path, root: &Path, euid: u32, out: &mut Vec<Warning>) {
    for dir in directories_reached_through_symlinks(script, root) {
        if out.iter().any(|w| w.path == dir) {
            continue;
        }
        if let Ok(m) = std::fs::metadata(&dir) {
            warn_about(&dir, &m, euid, out);
        }
    }
}

/// Lists one driver's scripts in `hooks_dir`, with every skipped file and its reason and the
/// permission warnings (for `virt-hook list` and `check`). What it says runs is what a call runs.
pub fn list(hooks_dir: &Path, driver: &str) -> Listing {
    let main = hooks_dir.join(driver);
    let d_dir = d_dir_of(&main);
    let euid = nix::unistd::geteuid().as_raw();
    let mut l = Listing {
        driver: driver.to_owned(),
        main: main.clone(),
        d_dir: d_dir.clone(),
        scripts: Vec::new(),
        skipped: Vec::new(),
        warnings: Vec::new(),
        d_error: None,
    };
    let mut dirs_to_check: Vec<PathBuf> = Vec::new();
    if std::fs::symlink_metadata(&main).is_ok() {
        match classify(&main) {
            Ok(m) => {
                warn_about(&main, &m, euid, &mut l.warnings);
                outside_warnings(&main, hooks_dir, euid, &mut l.warnings);
                l.scripts.push(main.clone());
                dirs_to_check.push(hooks_dir.to_owned());
            }
            Err(reason) => l.skipped.push(Skipped {
                path: main.clone(),
                reason,
            }),
        }
    }
    match std::fs::read_dir(&d_dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            if std::fs::symlink_metadata(&d_dir).is_ok() {
                l.d_error = Some(e.to_string());
            }
        }
        Ok(rd) => {
            let mut entries: Vec<OsString> = Vec::new();
            for entry in rd {
                match entry {
                    Ok(e) => entries.push(e.file_name()),
                    Err(e) => {
                        l.d_error = Some(e.to_string());
                        break;
                    }
                }
            }
            entries.sort_unstable();
            let mut any = false;
            for name in entries {
                let path = d_dir.join(&name);
                match classify(&path) {
                    Ok(m) => {
                        warn_about(&path, &m, euid, &mut l.warnings);
                        outside_warnings(&path, hooks_dir, euid, &mut l.warnings);
                        l.scripts.push(path);
                        any = true;
                    }
                    Err(reason) => l.skipped.push(Skipped { path, reason }),
                }
            }
            if any {
                dirs_to_check.push(d_dir.clone());
                if !dirs_to_check.contains(&hooks_dir.to_path_buf()) {
                    dirs_to_check.push(hooks_dir.to_owned());
                }
            }
        }
    }
    for dir in dirs_to_check {
        if let Ok(m) = std::fs::metadata(&dir) {
            warn_about(&dir, &m, euid, &mut l.warnings);
        }
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the temporary directory, removed on drop.
    struct Tmp(PathBuf);
    impl Tmp {
        fn new(tag: &str) -> Tmp {
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let p = std::env::temp_dir().join(format!(
                "hook-core-discover-{}-{n}-{tag}",
                std::process::id()
            ));
            std::fs::create_dir(&p).unwrap();
            Tmp(std::fs::canonicalize(&p).unwrap())
        }
    }
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn lookup_dirs_follow_every_link_as_the_kernel_does() {
        let t = Tmp::new("lookup");
        let r = &t.0;
        std::fs::create_dir_all(r.join("a/b")).unwrap();
        std::fs::create_dir_all(r.join("c")).unwrap();
        std::fs::write(r.join("a/b/file"), "x").unwrap();
        // c/link -> ../a/b/file (relative, with ..); d -> c (a directory link).
        std::os::unix::fs::symlink("../a/b/file", r.join("c/link")).unwrap();
        std::os::unix::fs::symlink("c", r.join("d")).unwrap();
        let dirs = lookup_dirs(&r.join("d/link"));
        let tail: Vec<_> = dirs.iter().filter(|d| d.starts_with(r)).collect();
        assert_eq!(
            tail,
            [r.clone(), r.join("c"), r.join("a"), r.join("a/b")]
                .iter()
                .collect::<Vec<_>>(),
            "{dirs:?}"
        );
        // No links: the path's own parents.
        let plain: Vec<_> = lookup_dirs(&r.join("a/b/file"))
            .into_iter()
            .filter(|d| d.starts_with(r))
            .collect();
        assert_eq!(plain, [r.clone(), r.join("a"), r.join("a/b")]);
        // A loop or a missing entry ends the walk instead of hanging or failing.
        std::os::unix::fs::symlink("loop", r.join("loop")).unwrap();
        assert!(lookup_dirs(&r.join("loop/x")).contains(r));
        assert!(lookup_dirs(&r.join("missing/x")).contains(r));
    }
}
