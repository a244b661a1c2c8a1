//! `virt-hook install [DRIVER]` and `virt-hook uninstall [DRIVER]`: put virt-hook's dispatcher
//! in place as libvirt's main hook `<hooks dir>/<driver>`, and take it away again.
//!
//! What is installed is a symlink `<hooks dir>/<driver>` -> the running `virt-hook` binary
//! (its absolute path). libvirt starts the main hook with `execve`, so the binary itself runs,
//! with argv\[0\] naming the driver, which selects dispatch mode: no shell, no interpreter to be
//! missing, no line endings to get wrong, one process start less per event, and the binary an
//! upgrade replaces is the one that runs. A wrapper script calling `virt-hook dispatch` is
//! recognised too (see [`crate::installed`]) but never written.
//!
//! The replacement is atomic: the new symlink is made under a temporary name in the hooks
//! directory and renamed over the main hook, so at every moment libvirt finds either the old
//! hook or the new one. The old hook is kept as `<driver>.virt-hook-backup` (a hard link to the
//! old entry itself, symlink or file, made before the rename): libvirt runs only
//! `<hooks dir>/<driver>` and the files directly in `<driver>.d/`, so the backup never runs. The
//! hook helper of the VFIO guides is replaced that way; anything else needs `--force`, and an
//! existing backup is never overwritten. `uninstall` renames the backup back, or removes the
//! symlink when there was none, and refuses to touch a main hook that is not the dispatcher.

use std::io;
use std::path::{Path, PathBuf};

use crate::installed::{Kind, MainHook, Via};
use crate::{Ctx, InputError, Output, drivers};

/// The suffix of the backup of the main hook an install replaced.
pub(crate) const BACKUP_SUFFIX: &str = ".virt-hook-backup";

/// `<hooks dir>/<driver>.virt-hook-backup`.
pub(crate) fn backup_path(hooks_dir: &Path, driver: &str) -> PathBuf {
    hooks_dir.join(format!("{driver}{BACKUP_SUFFIX}"))
}

/// The daemon to reload so that libvirt sees a new hook, on hosts with modular daemons.
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

/// Runs `install`: exit status 0 when the dispatcher is in place, 1 when nothing was changed
/// because something is in the way or a file operation failed.
pub(crate) fn install(ctx: &Ctx, driver: &str, force: bool) -> Result<Output, InputError> {
    let driver = drivers::known(driver)?;
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| format!("cannot find the virt-hook binary's own path: {e}"))?;
    Ok(match do_install(ctx, driver, &exe, force) {
        Ok(text) => Output {
            stdout: text.into_bytes(),
            ..Output::default()
        },
        Err(text) => refused(&text),
    })
}

/// Runs `uninstall`: exit status 0 when the dispatcher is gone (or was not there), 1 when
/// nothing was changed.
pub(crate) fn uninstall(ctx: &Ctx, driver: &str) -> Result<Output, InputError> {
    let driver = drivers::known(driver)?;
    Ok(match do_uninstall(ctx, driver) {
        Ok(text) => Output {
            stdout: text.into_bytes(),
            ..Output::default()
        },
        Err(text) => refused(&text),
    })
}

fn refused(text: &str) -> Output {
    Output {
        stderr: format!("virt-hook: {text}\nnothing was changed\n"),
        code: 1,
        ..Output::default()
    }
}

fn io_err(what: &str, path: &Path, e: &io::Error) -> String {
    format!(
        "cannot {what} {}: {}",
        path.display(),
        crate::list::io_text(&e.to_string())
    )
}

fn do_install(ctx: &Ctx, driver: &str, exe: &Path, force: bool) -> Result<String, String> {
    let dir = &ctx.hooks_dir;
    if std::fs::symlink_metadata(dir).is_err() {
        // The default directory on a host whose libvirt has never had a hook.
        std::fs::create_dir(dir).map_err(|e| {
            format!(
                "{} (is libvirt installed?)",
                io_err("create the hooks directory", dir, &e)
            )
        })?;
    }
    let main = MainHook::inspect(dir, driver);
    let backup = backup_path(dir, driver);
    let mut out = String::new();
    let keep_old = match &main.kind {
        Kind::Absent => false,
        Kind::Dispatcher(Via::Wrapper(line)) => {
            return Ok(format!(
                "virt-hook's dispatcher is already installed as the {driver} hook: {} runs `{line}`\n",
                main.path.display()
            ));
        }
        Kind::Dispatcher(Via::Symlink) => {
            if std::fs::canonicalize(&main.path).is_ok_and(|p| p == exe) {
                return Ok(format!(
                    "virt-hook's dispatcher is already installed as the {driver} hook: {} -> {}\n",
                    main.path.display(),
                    exe.display()
                ));
            }
            // Another (or a moved) virt-hook: point the link at this one, no backup.
            false
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

    let tmp = dir.join(format!(".{driver}.virt-hook-new"));
    if std::fs::symlink_metadata(&tmp).is_ok_and(|m| m.file_type().is_symlink()) {
        // Left behind by an install that was interrupted.
        std::fs::remove_file(&tmp).map_err(|e| io_err("remove", &tmp, &e))?;
    }
    std::os::unix::fs::symlink(exe, &tmp).map_err(|e| io_err("create", &tmp, &e))?;
    let is_dir = std::fs::symlink_metadata(&main.path).is_ok_and(|m| m.is_dir());
    let kept = if !keep_old {
        Ok(())
    } else if is_dir {
        // A directory where the main hook belongs runs nothing: no moment without a hook.
        std::fs::rename(&main.path, &backup)
            .map_err(|e| io_err("move the directory out of the way to", &backup, &e))
    } else {
        std::fs::hard_link(&main.path, &backup).map_err(|e| io_err("keep a backup as", &backup, &e))
    };
    let replaced = kept.and_then(|()| {
        std::fs::rename(&tmp, &main.path).map_err(|e| {
            // Undo the backup, so that a failed install leaves things as they were.
            if keep_old && is_dir {
                let _ = std::fs::rename(&backup, &main.path);
            } else if keep_old {
                let _ = std::fs::remove_file(&backup);
            }
            io_err("replace", &main.path, &e)
        })
    });
    if let Err(e) = replaced {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }

    let was = match main.kind {
        Kind::Dispatcher(_) => format!(
            "updated virt-hook's dispatcher as the {driver} hook (it was {})",
            main.chain().unwrap_or_default()
        ),
        _ => format!("installed virt-hook's dispatcher as the {driver} hook"),
    };
    out.push_str(&format!(
        "{was}:\n  {} -> {}\n",
        main.path.display(),
        exe.display()
    ));
    if keep_old {
        let what = match main.kind {
            Kind::HookHelper => "the hook helper that was there",
            _ => "the hook that was there",
        };
        out.push_str(&format!("  {what} is kept as {}\n", backup.display()));
    }
    let flag = ctx.dir_flag();
    out.push_str(&format!(
        "\nFor each {driver} event it runs the scripts in \
         {driver}.d/<name>/<operation>/<sub-operation>/\n\
         (e.g. {}), in name order, each with a timeout, one log line per script;\n\
         settings: virt-hook.toml in the hooks directory.\n\
         \nNext: libvirt looks for hooks at daemon start and on reload. Unless it already calls \
         {driver} hooks,\n\
         reload the daemon:\n  \
         systemctl reload {}        (or libvirtd, on a host with the monolithic daemon)\n\
         See what runs:  virt-hook{flag} list {driver}\n\
         Check it:       virt-hook{flag} check\n\
         Undo:           virt-hook{flag} uninstall {driver}\n",
        example_dir(driver),
        modular_daemon(driver),
    ));
    Ok(out)
}

fn do_uninstall(ctx: &Ctx, driver: &str) -> Result<String, String> {
    let dir = &ctx.hooks_dir;
    let main = MainHook::inspect(dir, driver);
    let backup = backup_path(dir, driver);
    let has_backup = std::fs::symlink_metadata(&backup).is_ok();
    match &main.kind {
        Kind::Dispatcher(_) => {}
        Kind::Absent if !has_backup => {
            return Ok(format!(
                "no {driver} hook is installed in {}: nothing to do\n",
                dir.display()
            ));
        }
        Kind::Absent => {}
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
        Kind::Dispatcher(Via::Wrapper(line)) => format!("the wrapper running `{line}`"),
        Kind::Dispatcher(Via::Symlink) => format!(
            "virt-hook's dispatcher ({} -> {})",
            main.path.display(),
            main.chain().unwrap_or_default()
        ),
        _ => String::new(),
    };
    let flag = ctx.dir_flag();
    if has_backup {
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
        return Ok(out);
    }
    std::fs::remove_file(&main.path).map_err(|e| io_err("remove", &main.path, &e))?;
    Ok(format!(
        "removed {what}; there was no earlier {driver} hook to restore.\n\n\
         Scripts directly in {driver}.d/ still run; {driver}.d/<name>/… no longer does.\n\
         libvirt notices that no {driver} hook is left at daemon start and on reload:\n  \
         systemctl reload {}        (or libvirtd, on a host with the monolithic daemon)\n",
        modular_daemon(driver)
    ))
}
