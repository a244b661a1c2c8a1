//! Which scripts a driver has, exactly as libvirt decides it: the main script `<dir>/<driver>`
//! when it is an executable regular file (stat follows symlinks, any x bit), then every entry of
//! `<dir>/<driver>.d/` but `.` and `..` that is an executable regular file after following
//! symlinks, sorted bytewise. Dotfiles and editor backups are *not* filtered (libvirt runs them).
//! Three entry points: the presence check (`virHookCheck`), the per-call list (`virHookCall`),
//! and [`list`], which also explains every skipped file and warns about unsafe permissions.
//!
//! The same three exist for the per-object layout ([`crate::Layout`], whose rules
//! `hookdir/layout.rs` documents): the per-object presence scan, the per-call list of
//! `<driver>.d/<object>/<op>/<subop>`, and [`list_objects`], every such entry of a driver with
//! its scripts in run order, skipped files and permission warnings.

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
    match dir_names(d_dir) {
        Ok(names) => Ok(Some(executables_in(d_dir, names, false))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The names in directory `dir` but `.` and `..`, in the order the kernel gives them.
///
/// Read with `getdents64` into a buffer that starts below 1 KiB (rustix's `Dir`), not with
/// `opendir`/`readdir` (std's `read_dir`): glibc's `opendir` allocates 32 KiB for every
/// directory, and the pages of it that get touched are page faults on every call of the
/// installed dispatcher, which lists its event's directory twice (`docs/performance.md`).
fn dir_names(dir: &Path) -> io::Result<Vec<OsString>> {
    use rustix::fs::{Dir, Mode, OFlags};
    use std::os::unix::ffi::OsStrExt as _;
    let fd = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    for entry in Dir::new(fd)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(std::ffi::OsStr::from_bytes(name).to_owned());
        }
    }
    Ok(names)
}

/// The executable regular files (symlinks followed) among `names` in `dir`, sorted bytewise;
/// without the empty ones when `skip_empty` (the per-object layout).
fn executables_in(dir: &Path, names: Vec<OsString>, skip_empty: bool) -> Vec<PathBuf> {
    let mut names: Vec<OsString> = names
        .into_iter()
        .filter(|name| {
            std::fs::metadata(dir.join(name))
                .is_ok_and(|m| executable_meta(&m) && !(skip_empty && m.len() == 0))
        })
        .collect();
    // OsString orders by bytes on Unix: strcmp order, as libvirt sorts.
    names.sort_unstable();
    names.into_iter().map(|n| dir.join(n)).collect()
}

/// Whether an error means "nothing is at this path" for the per-object layout: it does not
/// exist (or is a symlink to nothing), or a component on the way is a regular file. Anything
/// else (a symlink loop, permissions) is something there that cannot be read: an error.
fn not_there(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// The per-object scripts at `path` (`<driver>.d/<object>/<op>/<subop>`), in run order: the
/// path itself when it is a non-empty executable file, else the non-empty executable files of
/// the directory it names, sorted bytewise. Empty when nothing is there; `Err` when something is
/// there but cannot be read (as libvirt treats an unreadable `.d`). [`crate::layout::object_path`]
/// gives the path of an event.
pub fn object_scripts(path: &Path) -> io::Result<Vec<PathBuf>> {
    let m = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if not_there(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    if m.is_dir() {
        Ok(executables_in(path, dir_names(path)?, true))
    } else if executable_meta(&m) && m.len() > 0 {
        Ok(vec![path.to_owned()])
    } else {
        Ok(Vec::new())
    }
}

/// The sorted names in a directory, or why it cannot be read.
fn sorted_names(dir: &Path) -> io::Result<Vec<OsString>> {
    let mut names = dir_names(dir)?;
    names.sort_unstable();
    Ok(names)
}

fn is_dir(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_dir())
}

/// The per-object presence scan: whether any `<d_dir>/<object>/<op>/<subop>` has a script.
/// A directory of the tree that cannot be read counts as present, so that the calls that look
/// into it report why; `<d_dir>` itself unreadable is [`Scan::Unreadable`].
pub(crate) fn scan_objects(d_dir: &Path) -> Scan {
    let objects = match std::fs::metadata(d_dir) {
        Ok(m) if !m.is_dir() => return Scan::Absent,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Scan::Absent,
        _ => match sorted_names(d_dir) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Scan::Absent,
            Err(e) => return Scan::Unreadable(e),
        },
    };
    for object in objects {
        let object = d_dir.join(object);
        if !is_dir(&object) {
            continue;
        }
        let Ok(ops) = sorted_names(&object) else {
            return Scan::Present;
        };
        for op in ops {
            let op = object.join(op);
            if !is_dir(&op) {
                continue;
            }
            let Ok(subops) = sorted_names(&op) else {
                return Scan::Present;
            };
            for subop in subops {
                match object_scripts(&op.join(subop)) {
                    Ok(scripts) if scripts.is_empty() => {}
                    _ => return Scan::Present,
                }
            }
        }
    }
    Scan::Absent
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
    /// An empty file in the per-object layout (the hook helper never runs one, so neither do
    /// we: starting it would fail for want of a `#!` line).
    Empty,
    /// A file of the per-object tree that is not at `<driver>.d/<object>/<op>/<subop>` or
    /// directly in that directory (e.g. `<driver>.d/<object>/<op>/notes`): nothing runs it.
    OutsideLayout,
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
            SkipReason::Empty => f.write_str("empty file"),
            SkipReason::OutsideLayout => {
                f.write_str("not at <driver>.d/<object>/<op>/<subop>[/<script>] (never run)")
            }
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

/// One `<driver>.d/<object>/<op>/<subop>` of the per-object layout: what runs for that event,
/// in order, and what is there but does not run.
#[derive(Debug)]
pub struct ObjectEntry {
    /// The object's name (argv\[1\]: a guest or network name, `-` for the daemon), lossily
    /// decoded when the directory's name is not UTF-8 (it then matches no object).
    pub object: String,
    /// The operation word (argv\[2\]). Core knows no driver, so it is not checked here: a
    /// misspelt `prepar` is listed like any other (the caller may check it against its driver).
    pub op: String,
    /// The sub-operation word (argv\[3\]: `begin`, `end` or `-`), not checked either.
    pub subop: String,
    /// `<driver>.d/<object>/<op>/<subop>`: a directory of scripts, or the one script.
    pub path: PathBuf,
    /// The scripts that run for this event, in run order (empty when none would).
    pub scripts: Vec<PathBuf>,
    /// Files here that do not run, with the reason (including the path itself when it is a
    /// file that does not run).
    pub skipped: Vec<Skipped>,
    /// Permission warnings on the scripts that run and on every directory between them and the
    /// hooks directory (both included), as [`Listing::warnings`].
    pub warnings: Vec<Warning>,
    /// The path exists but cannot be read: every call for this event fails with this reason.
    pub error: Option<String>,
}

/// Everything about one driver's per-object layout ([`crate::Layout`]): every
/// `<driver>.d/<object>/<op>/<subop>` entry in bytewise order of its path, each with its
/// scripts in run order, and the files of the tree that nothing runs. What it says runs is what
/// a call for that event runs under [`crate::Layout::PerObject`] or
/// [`crate::Layout::PerObjectOnly`]. libvirt's own scripts of the driver are in [`list`].
#[derive(Debug)]
pub struct ObjectListing {
    /// The driver.
    pub driver: String,
    /// `<dir>/<driver>.d`.
    pub d_dir: PathBuf,
    /// Every `<object>/<op>/<subop>` found, sorted bytewise by path.
    pub entries: Vec<ObjectEntry>,
    /// Files in `<object>/` or `<object>/<op>/` (never run: [`SkipReason::OutsideLayout`]),
    /// symlinks there that lead nowhere, and `<object>` or `<object>/<op>` directories that
    /// cannot be read ([`SkipReason::Unreadable`]: the calls for the events under them fail).
    /// libvirt's flat `.d` files are not repeated here.
    pub skipped: Vec<Skipped>,
    /// `<driver>.d` exists but cannot be read.
    pub d_error: Option<String>,
}

impl ObjectListing {
    /// The entry for one event, if the tree has it.
    pub fn entry(&self, object: &str, op: &str, subop: &str) -> Option<&ObjectEntry> {
        self.entries
            .iter()
            .find(|e| e.object == object && e.op == op && e.subop == subop)
    }

    /// Every script of the tree that runs for some event, in listing order.
    pub fn scripts(&self) -> impl Iterator<Item = &Path> {
        self.entries
            .iter()
            .flat_map(|e| e.scripts.iter().map(PathBuf::as_path))
    }
}

/// A tree member that is not a directory: why it is not part of the layout there.
fn stray(path: PathBuf) -> Skipped {
    let reason = match classify(&path) {
        Ok(_) => SkipReason::OutsideLayout,
        Err(SkipReason::NotExecutable | SkipReason::NotRegularFile) => SkipReason::OutsideLayout,
        Err(reason) => reason,
    };
    Skipped { path, reason }
}

/// Lists the per-object layout of one driver in `hooks_dir` (for `virt-hook list` and `check`):
/// every `<driver>.d/<object>/<op>/<subop>`, with the scripts a call for that event runs (in
/// order), the files there that do not run and why, and permission warnings. A directory
/// directly in `<driver>.d` is an object; its files are libvirt's flat scripts, which [`list`]
/// reports.
pub fn list_objects(hooks_dir: &Path, driver: &str) -> ObjectListing {
    let d_dir = d_dir_of(&hooks_dir.join(driver));
    let mut l = ObjectListing {
        driver: driver.to_owned(),
        d_dir: d_dir.clone(),
        entries: Vec::new(),
        skipped: Vec::new(),
        d_error: None,
    };
    let objects = match sorted_names(&d_dir) {
        Ok(n) => n,
        Err(e) if not_there(&e) => return l,
        Err(e) => {
            l.d_error = Some(e.to_string());
            return l;
        }
    };
    let unreadable = |path: PathBuf, e: io::Error| Skipped {
        path,
        reason: SkipReason::Unreadable(e.to_string()),
    };
    let euid = nix::unistd::geteuid().as_raw();
    for object_name in objects {
        let object = d_dir.join(&object_name);
        match std::fs::metadata(&object) {
            Ok(m) if m.is_dir() => {}
            // A flat .d script, or something list() reports.
            Ok(_) => continue,
            Err(e) if not_there(&e) => continue,
            // A symlink loop: the calls for this object fail, say so.
            Err(e) => {
                l.skipped.push(unreadable(object, e));
                continue;
            }
        }
        let ops = match sorted_names(&object) {
            Ok(n) => n,
            Err(e) => {
                l.skipped.push(unreadable(object, e));
                continue;
            }
        };
        for op_name in ops {
            let op = object.join(&op_name);
            match std::fs::metadata(&op) {
                Ok(m) if m.is_dir() => {}
                Err(e) if !not_there(&e) => {
                    l.skipped.push(unreadable(op, e));
                    continue;
                }
                _ => {
                    l.skipped.push(stray(op));
                    continue;
                }
            }
            let subops = match sorted_names(&op) {
                Ok(n) => n,
                Err(e) => {
                    l.skipped.push(unreadable(op, e));
                    continue;
                }
            };
            for subop_name in subops {
                let path = op.join(&subop_name);
                let mut entry = ObjectEntry {
                    object: object_name.to_string_lossy().into_owned(),
                    op: op_name.to_string_lossy().into_owned(),
                    subop: subop_name.to_string_lossy().into_owned(),
                    path: path.clone(),
                    scripts: Vec::new(),
                    skipped: Vec::new(),
                    warnings: Vec::new(),
                    error: None,
                };
                fill_entry(&mut entry, euid);
                if !entry.scripts.is_empty() {
                    let top = entry.scripts[0].clone();
                    let mut dir = top.parent();
                    while let Some(d) = dir {
                        if let Ok(m) = std::fs::metadata(d) {
                            warn_about(d, &m, euid, &mut entry.warnings);
                        }
                        if d == hooks_dir || !d.starts_with(hooks_dir) {
                            break;
                        }
                        dir = d.parent();
                    }
                }
                l.entries.push(entry);
            }
        }
    }
    l
}

/// Classifies `<object>/<op>/<subop>` and, when it is a directory, its members.
fn fill_entry(entry: &mut ObjectEntry, euid: u32) {
    let path = entry.path.clone();
    let consider = |path: PathBuf, entry: &mut ObjectEntry| match classify(&path) {
        Ok(m) if m.len() == 0 => entry.skipped.push(Skipped {
            path,
            reason: SkipReason::Empty,
        }),
        Ok(m) => {
            warn_about(&path, &m, euid, &mut entry.warnings);
            entry.scripts.push(path);
        }
        Err(reason) => entry.skipped.push(Skipped { path, reason }),
    };
    match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() => match sorted_names(&path) {
            Ok(names) => {
                for name in names {
                    consider(path.join(name), entry);
                }
            }
            Err(e) => entry.error = Some(e.to_string()),
        },
        Ok(_) => consider(path, entry),
        // A symlink that leads nowhere: nothing runs, and a call sees the same.
        Err(e) if not_there(&e) => consider(path, entry),
        // A symlink loop, permissions: the call fails.
        Err(e) => entry.error = Some(e.to_string()),
    }
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
