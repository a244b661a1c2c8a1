//! `virt-hook install [DRIVER]`, `install --refresh` and `virt-hook uninstall [DRIVER]`: put
//! virt-hook's dispatcher in place as libvirt's main hook `<hooks dir>/<driver>`, keep it
//! current, and take it away again.
//!
//! What is installed is a root-owned **copy** of the running binary at `<hooks dir>/virt-hook`
//! (mode 0755), and the driver's main hook a **hard link** to it: libvirt executes
//! `<hooks dir>/qemu`, the binary itself runs, and argv\[0\] naming the driver selects dispatch
//! mode. Why a copy inside the hooks directory, and not a symlink to where the binary was
//! installed (`docs/dispatcher.md`, "Why a copy"):
//!
//! - confinement judges the file that runs by its path: AppArmor's libvirtd profile (Debian,
//!   Ubuntu) lets the daemon execute `/etc/libvirt/hooks/**` but nothing in `/usr/local/bin` or
//!   a home directory, and follows symlinks first; SELinux's policy labels everything under
//!   `/etc/libvirt/hooks` `virt_hook_t`, which is what `virtnetworkd` may execute (a symlink to
//!   `/usr/bin` it may not). The files made here get the label the policy's file contexts give
//!   them, as `restorecon` would, when SELinux is enabled;
//! - nothing that happens to the original binary later (moved, deleted, replaced by an upgrade
//!   at another path, or by the user who owns `~/.cargo/bin`) changes what libvirt runs, and a
//!   hard link keeps each driver's hook working even if `<hooks dir>/virt-hook` is deleted;
//! - only root can change it: the copy is made by root in a directory `install` first checks
//!   no one else can write (the hooks directory and every directory above it), which
//!   `--force` does not override.
//!
//! The price: an upgrade of the binary does not reach the copy by itself. `install --refresh`
//! (which the packages' maintainer scripts run) re-copies the running binary and relinks every
//! driver it serves; `check` reports a copy that differs from the `virt-hook` on `PATH`.
//!
//! Every replacement is atomic: a new link is made under a temporary name in the hooks
//! directory and renamed over the main hook, so libvirt finds either the old hook or the new
//! one. The old hook is kept as `<driver>.virt-hook-backup` (a hard link to the old entry
//! itself, made before the rename); libvirt never runs that name. The hook helper of the VFIO
//! guides is replaced that way; anything else needs `--force`, and an existing backup is never
//! overwritten. An install interrupted between the backup and the rename (the backup is then the
//! same file as the hook) is finished by the next `install` and cleaned up by `uninstall`.
//! `uninstall` removes only what `install` makes (a `virt-hook` binary under the driver's name,
//! or a symlink to one, recognised by [`crate::installed`], never by a word in a script), puts
//! the backup back, and removes the copy when no driver uses it any more.

use std::fs::File;
use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use crate::ctx::{Ctx, InputError, Output};
use crate::drivers;
use crate::installed::{self, COPY_NAME, Kind, MainHook, Via};
use crate::mac::{FileKind, Host, NETWORK_HOOK_BOOLEAN, SeLinux};

/// The daemon that runs `driver`'s hooks on a host with modular daemons.
fn modular_daemon(driver: &str) -> &'static str {
    match driver {
        "qemu" => "virtqemud",
        "lxc" => "virtlxcd",
        "network" => "virtnetworkd",
        "libxl" => "virtxend",
        "bhyve" => "virtbhyved",
        _ => "every virt*d daemon",
    }
}

/// A per-object directory of `driver`, as an example.
fn example_dir(driver: &str) -> String {
    match driver {
        "network" => "network.d/default/started/begin/".into(),
        "daemon" => "daemon.d/-/start/-/".into(),
        d => format!("{d}.d/win10/prepare/begin/"),
    }
}

/// Runs `install DRIVER`: exit status 0 when the dispatcher is in place, 1 when nothing was
/// changed because something is in the way, unsafe, or a file operation failed.
pub(crate) fn install(ctx: &Ctx, driver: &str, force: bool) -> Result<Output, InputError> {
    let driver = drivers::known(driver)?;
    Ok(answer(do_install(ctx, &Host::real(), driver, force)))
}

/// Runs `install --refresh`: the copy and every driver it serves made the running binary.
pub(crate) fn refresh(ctx: &Ctx) -> Result<Output, InputError> {
    Ok(answer(do_refresh(ctx, &Host::real())))
}

/// Runs `uninstall DRIVER` (or every driver with `all`): exit status 0 when the dispatcher is
/// gone (or was not there), 1 when something was left alone or failed.
pub(crate) fn uninstall(ctx: &Ctx, driver: &str, all: bool) -> Result<Output, InputError> {
    if all {
        return Ok(answer(do_uninstall_all(ctx)));
    }
    let driver = drivers::known(driver)?;
    Ok(answer(do_uninstall(ctx, driver)))
}

fn answer(result: Result<String, String>) -> Output {
    match result {
        Ok(text) => Output {
            stdout: text.into_bytes(),
            ..Output::default()
        },
        Err(text) => Output {
            stderr: format!("virt-hook: {text}\nnothing was changed\n"),
            code: 1,
            ..Output::default()
        },
    }
}

fn io_err(what: &str, path: &Path, e: &io::Error) -> String {
    format!(
        "cannot {what} {}: {}",
        path.display(),
        crate::text::io_text(&e.to_string())
    )
}

/// The hooks directory, created 0755 whatever the umask when it is missing (its parent must
/// exist: a host without it has no libvirt), labelled as the policy says.
fn ensure_dir(dir: &Path, se: Option<&SeLinux>) -> Result<(), String> {
    if std::fs::symlink_metadata(dir).is_ok() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(dir)
        .map_err(|e| {
            format!(
                "{} (is libvirt installed?)",
                io_err("create the hooks directory", dir, &e)
            )
        })?;
    // The umask may have taken bits away (umask 077 would hide it from nothing, but 0755 is
    // what libvirt's packages make); set exactly 0755.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| io_err("set the mode of", dir, &e))?;
    if let Some(se) = se {
        se.label(dir, FileKind::Dir)
            .map_err(|e| io_err("set the SELinux label of", dir, &e))?;
    }
    Ok(())
}

/// Who may change a directory besides root and us: `None` when nobody, else why.
fn others_can_write(dir: &Path) -> Option<String> {
    let m = std::fs::metadata(dir).ok()?;
    let euid = nix::unistd::geteuid().as_raw();
    let mode = m.mode();
    let owner = |uid: u32| {
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten()
            .map_or_else(
                || format!("uid {uid}"),
                |u| format!("{} (uid {uid})", u.name),
            )
    };
    if m.uid() != 0 && m.uid() != euid {
        return Some(format!("is owned by {}", owner(m.uid())));
    }
    let sticky = mode & 0o1000 != 0;
    if mode & 0o002 != 0 && !sticky {
        return Some(format!(
            "is writable by every user (mode {:o})",
            mode & 0o7777
        ));
    }
    if mode & 0o020 != 0 && m.gid() != 0 && !sticky {
        return Some(format!(
            "is writable by group {} (mode {:o})",
            m.gid(),
            mode & 0o7777
        ));
    }
    None
}

/// Refuses a hooks directory that someone other than root (or us) could change, or that lies
/// below such a directory: that user could replace the dispatcher, which runs as root.
fn trusted(dir: &Path) -> Result<(), String> {
    let real = std::fs::canonicalize(dir).map_err(|e| io_err("resolve", dir, &e))?;
    for d in real.ancestors() {
        if let Some(why) = others_can_write(d) {
            return Err(format!(
                "{} {why}: whoever can write it could replace the dispatcher, which libvirt runs \
                 as root. Install into a directory only root can change (chown root: / chmod \
                 go-w {}); --force does not override this",
                d.display(),
                d.display()
            ));
        }
    }
    Ok(())
}

/// The running binary, opened (also when its file was moved or deleted since it started).
fn running_binary() -> Result<(File, PathBuf), String> {
    let shown = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
    let file = File::open("/proc/self/exe")
        .or_else(|_| File::open(&shown))
        .map_err(|e| io_err("read the running binary", &shown, &e))?;
    Ok((file, shown))
}

/// Makes `<dir>/virt-hook` a root-owned 0755 copy of the running binary (labelled when
/// SELinux is on); returns its path and whether it had to be written. An identical copy is
/// kept as it is; a file there that is not a `virt-hook` binary is never overwritten.
fn place_copy(dir: &Path, se: Option<&SeLinux>) -> Result<(PathBuf, bool), String> {
    let dest = dir.join(COPY_NAME);
    let (mut src, src_path) = running_binary()?;
    if let Ok(m) = std::fs::symlink_metadata(&dest) {
        if !m.is_file() || installed::binary_version(&dest).is_none() {
            return Err(format!(
                "{} exists and is not a virt-hook binary; move it away first (install keeps \
                 its copy of the binary there)",
                dest.display()
            ));
        }
        let euid = nix::unistd::geteuid().as_raw();
        let same = installed::same_content(Path::new("/proc/self/exe"), &dest)
            .or_else(|_| installed::same_content(&src_path, &dest))
            .unwrap_or(false);
        if same && m.uid() == euid && m.mode() & 0o7777 == 0o755 && m.nlink() >= 1 {
            return Ok((dest, false));
        }
    }
    let tmp = dir.join(format!(".{COPY_NAME}.new"));
    if std::fs::symlink_metadata(&tmp).is_ok() {
        // Left behind by an install that was interrupted.
        std::fs::remove_file(&tmp).map_err(|e| io_err("remove", &tmp, &e))?;
    }
    let written = (|| -> io::Result<()> {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o700)
            .open(&tmp)?;
        io::copy(&mut src, &mut out)?;
        out.set_permissions(std::fs::Permissions::from_mode(0o755))?;
        out.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err("write the copy of the binary", &tmp, &e));
    }
    if let Some(se) = se
        && let Err(e) = se.label(&tmp, FileKind::File)
    {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err("set the SELinux label of", &tmp, &e));
    }
    std::fs::rename(&tmp, &dest).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err("put the copy of the binary in place at", &dest, &e)
    })?;
    Ok((dest, true))
}

/// Makes `<dir>/<driver>` a hard link to `copy`, atomically (a temporary name, then a rename),
/// keeping what was there as the backup when `keep_old`.
fn link_as(dir: &Path, driver: &str, copy: &Path, keep_old: bool) -> Result<(), String> {
    let main = dir.join(driver);
    let backup = installed::backup_path(dir, driver);
    let tmp = dir.join(format!(".{driver}.virt-hook-new"));
    if std::fs::symlink_metadata(&tmp).is_ok_and(|m| !m.is_dir()) {
        std::fs::remove_file(&tmp).map_err(|e| io_err("remove", &tmp, &e))?;
    }
    std::fs::hard_link(copy, &tmp).map_err(|e| io_err("create", &tmp, &e))?;
    let is_dir = std::fs::symlink_metadata(&main).is_ok_and(|m| m.is_dir());
    let kept = if !keep_old {
        Ok(())
    } else if is_dir {
        // A directory where the main hook belongs runs nothing: no moment without a hook.
        std::fs::rename(&main, &backup)
            .map_err(|e| io_err("move the directory out of the way to", &backup, &e))
    } else {
        std::fs::hard_link(&main, &backup).map_err(|e| io_err("keep a backup as", &backup, &e))
    };
    let replaced = kept.and_then(|()| {
        std::fs::rename(&tmp, &main).map_err(|e| {
            // Undo the backup, so that a failed install leaves things as they were.
            if keep_old && is_dir {
                let _ = std::fs::rename(&backup, &main);
            } else if keep_old {
                let _ = std::fs::remove_file(&backup);
            }
            io_err("replace", &main, &e)
        })
    });
    if let Err(e) = replaced {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

/// Whether `a` and `b` are the same file (hard links of one inode), not following symlinks.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::symlink_metadata(a), std::fs::symlink_metadata(b)) {
        (Ok(x), Ok(y)) => (x.dev(), x.ino()) == (y.dev(), y.ino()),
        _ => false,
    }
}

/// The one step still needed on this host for libvirt to run a new `driver` hook, or that
/// none is. `was_there`: libvirt already found a main hook for it (it then runs the new one
/// from the next event on).
fn next_step(host: &Host, driver: &str, was_there: bool) -> String {
    let mut out = String::new();
    if let Some(se) = host.selinux()
        && driver == hook_network::NAME
        && se.network_boolean == Some(false)
    {
        out.push_str(&format!(
            "Next: SELinux lets virtnetworkd run network hooks only with the boolean \
             {NETWORK_HOOK_BOOLEAN} on:\n  setsebool -P {NETWORK_HOOK_BOOLEAN} on\n"
        ));
    }
    if was_there {
        out.push_str(&format!(
            "libvirt already runs a {driver} hook, so it runs the dispatcher from the next \
             {driver} event on: no reload is needed.\n"
        ));
        return out;
    }
    let running = host.running_daemons();
    let modular = modular_daemon(driver);
    let daemon = if running.iter().any(|d| d == modular) {
        Some(modular)
    } else if running.iter().any(|d| d == "libvirtd") {
        Some("libvirtd")
    } else {
        None
    };
    match daemon {
        Some(d) => out.push_str(&format!(
            "Next: libvirt looks for hooks at daemon start and on reload; {d} is running, so \
             reload it:\n  systemctl reload {d}\n"
        )),
        None => out.push_str(&format!(
            "libvirt's daemon is not running here: it finds the hook when it starts ({modular}, \
             or libvirtd on a host with the monolithic daemon).\n"
        )),
    }
    out
}

fn do_install(ctx: &Ctx, host: &Host, driver: &str, force: bool) -> Result<String, String> {
    let dir = &ctx.hooks_dir;
    let se = host.selinux();
    ensure_dir(dir, se.as_ref())?;
    trusted(dir)?;
    if let Some(problem) = crate::dispatch::config_problem(dir) {
        return Err(format!(
            "{problem}: fix the settings first (the dispatcher reads them at every event)"
        ));
    }
    let main = MainHook::inspect(dir, driver);
    let backup = installed::backup_path(dir, driver);
    // A backup that is the very file still installed: an install that stopped between the
    // backup link and the rename. The hook was never switched, so that link is dropped and the
    // install done again.
    let mut note = String::new();
    if !matches!(main.kind, Kind::Absent | Kind::Dispatcher(_)) && same_file(&main.path, &backup) {
        std::fs::remove_file(&backup).map_err(|e| io_err("remove", &backup, &e))?;
        note = format!(
            "  (an earlier install stopped half-way and left {} behind; finished now)\n",
            backup.display()
        );
    }
    let keep_old = match &main.kind {
        Kind::Absent | Kind::Dispatcher(Via::Copy | Via::Symlink) => false,
        Kind::Dispatcher(Via::Wrapper(line)) => {
            return Ok(format!(
                "virt-hook's dispatcher is already installed as the {driver} hook: {} runs \
                 `{line}` (a wrapper you wrote; `virt-hook check` says whether the host's \
                 confinement lets libvirt run what it calls)\n",
                main.path.display()
            ));
        }
        Kind::HookHelper => true,
        Kind::Other if force => true,
        Kind::Other => {
            return Err(format!(
                "{} is not a hook virt-hook recognises, and installing would stop it from \
                 running. Move what it does into scripts under {driver}.d/, then run \
                 `virt-hook{} install {driver} --force` (it is kept as {})",
                main.path.display(),
                ctx.dir_flag(),
                backup.display()
            ));
        }
    };
    if keep_old && std::fs::symlink_metadata(&backup).is_ok() {
        return Err(format!(
            "{} exists already (the backup of an earlier install?); move it away first",
            backup.display()
        ));
    }
    let (_, src) = running_binary()?;
    let (copy, _) = place_copy(dir, se.as_ref())?;
    if matches!(main.kind, Kind::Dispatcher(Via::Copy)) && same_file(&main.path, &copy) {
        return Ok(format!(
            "virt-hook's dispatcher is already installed as the {driver} hook: {} is {} \
             (a copy of {}, version {})\n{note}",
            main.path.display(),
            copy.display(),
            src.display(),
            env!("CARGO_PKG_VERSION"),
        ));
    }
    link_as(dir, driver, &copy, keep_old)?;

    let was = match main.kind {
        Kind::Dispatcher(_) => format!(
            "updated virt-hook's dispatcher as the {driver} hook (it was {})",
            main.chain().unwrap_or_else(|| "an older copy".to_owned())
        ),
        _ => format!("installed virt-hook's dispatcher as the {driver} hook"),
    };
    let mut out = format!(
        "{was}:\n  {} = {} (root's copy of {}, version {}; the original may move or go)\n{note}",
        main.path.display(),
        copy.display(),
        src.display(),
        env!("CARGO_PKG_VERSION"),
    );
    if keep_old {
        let what = match main.kind {
            Kind::HookHelper => "the hook helper that was there",
            _ => "the hook that was there",
        };
        out.push_str(&format!("  {what} is kept as {}\n", backup.display()));
    }
    if let Some(se) = &se {
        let label = se
            .expected(&copy, FileKind::File)
            .unwrap_or("(none in the policy)");
        out.push_str(&format!(
            "  SELinux label: {label}, as restorecon sets it\n"
        ));
    }
    let flag = ctx.dir_flag();
    out.push_str(&format!(
        "\nFor each {driver} event it runs the scripts in \
         {driver}.d/<name>/<operation>/<sub-operation>/\n\
         (e.g. {}), in name order, each with a timeout, one log line per script;\n\
         settings: virt-hook.toml in the hooks directory. After upgrading virt-hook, run\n\
         `virt-hook{flag} install --refresh` (the packages do) so that libvirt runs the new one.\n\n",
        example_dir(driver),
    ));
    out.push_str(&next_step(host, driver, !matches!(main.kind, Kind::Absent)));
    out.push_str(&format!(
        "See what runs:  virt-hook{flag} list {driver}\n\
         Check it:       virt-hook{flag} check\n\
         Undo:           virt-hook{flag} uninstall {driver}\n"
    ));
    Ok(out)
}

/// The drivers whose main hook is the dispatcher that `install` makes (a copy, or a symlink to
/// a `virt-hook` binary as earlier versions made it).
fn installed_drivers(dir: &Path) -> Vec<(&'static str, MainHook)> {
    drivers::NAMES
        .iter()
        .map(|d| (*d, MainHook::inspect(dir, d)))
        .filter(|(_, m)| matches!(m.kind, Kind::Dispatcher(Via::Copy | Via::Symlink)))
        .collect()
}

fn do_refresh(ctx: &Ctx, host: &Host) -> Result<String, String> {
    let dir = &ctx.hooks_dir;
    let served = installed_drivers(dir);
    let copy_there = installed::binary_version(&dir.join(COPY_NAME)).is_some();
    if served.is_empty() && !copy_there {
        return Ok(format!(
            "virt-hook's dispatcher is not installed in {}: nothing to refresh\n",
            dir.display()
        ));
    }
    trusted(dir)?;
    let se = host.selinux();
    let (_, src) = running_binary()?;
    let (copy, written) = place_copy(dir, se.as_ref())?;
    let mut relinked = Vec::new();
    for (driver, main) in &served {
        if !same_file(&main.path, &copy) {
            link_as(dir, driver, &copy, false)?;
            relinked.push(*driver);
        }
    }
    let mut out = if written || !relinked.is_empty() {
        format!(
            "refreshed virt-hook's dispatcher in {}: {} is now a copy of {} (version {})\n",
            dir.display(),
            copy.display(),
            src.display(),
            env!("CARGO_PKG_VERSION")
        )
    } else {
        format!(
            "virt-hook's dispatcher in {} is already this binary (version {})\n",
            dir.display(),
            env!("CARGO_PKG_VERSION")
        )
    };
    let names: Vec<&str> = served.iter().map(|(d, _)| *d).collect();
    if !names.is_empty() {
        out.push_str(&format!(
            "  it serves: {}; libvirt runs the new binary from the next event on\n",
            names.join(", ")
        ));
    }
    Ok(out)
}

/// Removes `<dir>/virt-hook` when no driver's main hook is that file any more.
fn remove_unused_copy(dir: &Path) -> Option<String> {
    let copy = dir.join(COPY_NAME);
    installed::binary_version(&copy)?;
    let used = drivers::NAMES.iter().any(|d| {
        same_file(&dir.join(d), &copy) || {
            // An earlier symlink form pointing at the copy.
            std::fs::canonicalize(dir.join(d)).is_ok_and(|p| same_file(&p, &copy))
        }
    });
    if used {
        return None;
    }
    std::fs::remove_file(&copy).ok().map(|()| {
        format!(
            "removed {}, the copy of the binary no driver uses now\n",
            copy.display()
        )
    })
}

fn do_uninstall(ctx: &Ctx, driver: &str) -> Result<String, String> {
    let dir = &ctx.hooks_dir;
    let main = MainHook::inspect(dir, driver);
    let backup = installed::backup_path(dir, driver);
    let has_backup = std::fs::symlink_metadata(&backup).is_ok();
    let flag = ctx.dir_flag();
    let tmp = dir.join(format!(".{driver}.virt-hook-new"));
    if std::fs::symlink_metadata(&tmp).is_ok_and(|m| !m.is_dir()) {
        let _ = std::fs::remove_file(&tmp); // an interrupted install's temporary link
    }
    match &main.kind {
        Kind::Dispatcher(Via::Copy | Via::Symlink) => {}
        Kind::Absent if !has_backup => {
            let mut out = format!(
                "no {driver} hook is installed in {}: nothing to do\n",
                dir.display()
            );
            out.extend(remove_unused_copy(dir));
            return Ok(out);
        }
        Kind::Absent => {}
        Kind::Dispatcher(Via::Wrapper(line)) => {
            return Err(format!(
                "{} is a wrapper script running `{line}`: virt-hook install did not write it, so \
                 uninstall leaves it alone; remove or change it yourself",
                main.path.display()
            ));
        }
        _ if has_backup && same_file(&main.path, &backup) => {
            // An install that stopped after keeping the backup, before switching the hook:
            // the hook is still the old one; only the second name goes.
            std::fs::remove_file(&backup).map_err(|e| io_err("remove", &backup, &e))?;
            return Ok(format!(
                "{} was never switched (an install stopped half-way); removed {}, a second name \
                 of the same file\n",
                main.path.display(),
                backup.display()
            ));
        }
        _ => {
            let what = main
                .describe()
                .map(|d| format!(" (it is {d})"))
                .unwrap_or_default();
            return Err(format!(
                "{} is not virt-hook's dispatcher{what}; uninstall only removes what install put \
                 there",
                main.path.display()
            ));
        }
    }
    let what = match &main.kind {
        Kind::Dispatcher(Via::Copy) => format!("virt-hook's dispatcher ({})", main.path.display()),
        Kind::Dispatcher(Via::Symlink) => format!(
            "virt-hook's dispatcher ({} -> {})",
            main.path.display(),
            main.chain().unwrap_or_default()
        ),
        _ => String::new(),
    };
    let mut out = if has_backup {
        let restored = MainHook::inspect_path(&backup, driver);
        if std::fs::symlink_metadata(&backup).is_ok_and(|m| m.is_dir())
            && !matches!(main.kind, Kind::Absent)
        {
            // rename() cannot put a directory over a file. A directory runs nothing, so
            // removing the link first leaves no moment with less than the end state.
            std::fs::remove_file(&main.path).map_err(|e| io_err("remove", &main.path, &e))?;
        }
        std::fs::rename(&backup, &main.path)
            .map_err(|e| io_err("restore the backup", &backup, &e))?;
        let old = restored.describe().unwrap_or("the earlier hook");
        let mut out = if what.is_empty() {
            format!("restored {old} as {}", main.path.display())
        } else {
            format!(
                "replaced {what}\nwith {old}, restored from {}",
                backup.display()
            )
        };
        out.push_str(&format!(
            "\n\nlibvirt runs it from the next {driver} event on. See what runs: virt-hook{flag} list {driver}\n"
        ));
        out
    } else {
        std::fs::remove_file(&main.path).map_err(|e| io_err("remove", &main.path, &e))?;
        format!(
            "removed {what}; there was no earlier {driver} hook to restore.\n\n\
             Scripts directly in {driver}.d/ still run; {driver}.d/<name>/… no longer does.\n\
             libvirt notices that no {driver} hook is left at daemon start and on reload:\n  \
             systemctl reload {}        (or libvirtd, on a host with the monolithic daemon)\n",
            modular_daemon(driver)
        )
    };
    out.extend(remove_unused_copy(dir));
    Ok(out)
}

fn do_uninstall_all(ctx: &Ctx) -> Result<String, String> {
    let dir = &ctx.hooks_dir;
    let served = installed_drivers(dir);
    let mut out = String::new();
    for (driver, _) in &served {
        out.push_str(&do_uninstall(ctx, driver)?);
        out.push('\n');
    }
    if served.is_empty() {
        out.push_str(&format!(
            "virt-hook's dispatcher is not installed for any driver in {}\n",
            dir.display()
        ));
        out.extend(remove_unused_copy(dir));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    use crate::mac::put;

    fn ctx(dir: &Path) -> Ctx {
        Ctx {
            hooks_dir: dir.to_owned(),
            cancel: OnceLock::new(),
            dir_flag: None,
        }
    }

    /// With SELinux on, what install creates carries the label the policy's file contexts
    /// give (as restorecon would set it), and the one step it prints is the one this host
    /// needs: the boolean for a network hook when it is off, a reload of the daemon that runs.
    #[test]
    fn install_labels_what_it_creates_and_names_the_next_step() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        let host = root.join("host");
        let hooks = root.join("hooks");
        let h = hooks.display().to_string();
        put(&host, "/sys/fs/selinux/enforce", "1");
        put(
            &host,
            "/sys/fs/selinux/booleans/virt_hooks_unconfined",
            "0 0",
        );
        put(
            &host,
            "/etc/selinux/targeted/contexts/files/file_contexts",
            &format!("{h}(/.*)?\tsystem_u:object_r:virt_hook_t:s0\n"),
        );
        put(&host, "/proc/4242/comm", "virtnetworkd\n");
        let out = do_install(&ctx(&hooks), &Host::at(&host), "network", false).unwrap();
        for p in [hooks.clone(), hooks.join(COPY_NAME), hooks.join("network")] {
            assert_eq!(
                crate::mac::label_of(&p).as_deref(),
                Some("system_u:object_r:virt_hook_t:s0"),
                "{}",
                p.display()
            );
        }
        assert!(
            out.contains("setsebool -P virt_hooks_unconfined on"),
            "{out}"
        );
        assert!(out.contains("systemctl reload virtnetworkd"), "{out}");

        // The boolean on, a hook there already: nothing more to do.
        put(
            &host,
            "/sys/fs/selinux/booleans/virt_hooks_unconfined",
            "1 1",
        );
        std::fs::remove_file(hooks.join("network")).unwrap();
        std::fs::write(hooks.join("network"), "#!/bin/sh\n").unwrap();
        let out = do_install(&ctx(&hooks), &Host::at(&host), "network", true).unwrap();
        assert!(!out.contains("setsebool"), "{out}");
        assert!(!out.contains("systemctl reload"), "{out}");
        assert!(out.contains("no reload is needed"), "{out}");

        // No SELinux, the monolithic daemon running: no label, reload libvirtd.
        let plain = root.join("plain");
        put(&plain, "/proc/7/comm", "libvirtd\n");
        let out = do_install(&ctx(&root.join("hooks2")), &Host::at(&plain), "qemu", false).unwrap();
        assert!(
            !out.contains("SELinux") && !out.contains("setsebool"),
            "{out}"
        );
        assert!(out.contains("systemctl reload libvirtd"), "{out}");
    }
}
