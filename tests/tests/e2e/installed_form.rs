//! The form `virt-hook install` leaves on a host: a root-owned copy of the binary in the hooks
//! directory, the driver's hook a hard link to it. What that promises, each with a run of the
//! built binary: the original binary may be moved or deleted and the hook still runs the
//! per-guest scripts; a hooks directory someone else could write is refused (`--force` too);
//! `install --refresh` makes the copy the running binary and `check` reports a copy that
//! differs from the `virt-hook` on `PATH`; an install interrupted half-way is finished by the
//! next one and cleaned by `uninstall`; `uninstall --all`; a directory made under `umask 000`
//! is 0755; a file named `virt-hook` that is not a virt-hook binary is never overwritten.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use hook_core::{Ending, Invocation, Runner};
use tests::cli_support::{CliRun, HooksTree, program_run, virt_hook};

const SH_OK: &str = "#!/bin/sh\nexit 0\n";

fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A copy of the built binary at `<root>/<rel>` (0755), plus `extra` bytes at its end (an ELF
/// file runs the same with bytes appended: a stand-in for another build).
fn binary_copy(t: &HooksTree, rel: &str, extra: &[u8]) -> PathBuf {
    let path = t.root().join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut bytes = std::fs::read(virt_hook()).unwrap();
    bytes.extend_from_slice(extra);
    let _writing = tests::write_guard();
    std::fs::write(&path, bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// `program --hooks-dir <hooks> args…`.
fn run_as(program: &Path, t: &HooksTree, args: &[&str], env: &[(&str, &str)]) -> CliRun {
    let hooks = t.hooks_arg();
    let mut all = vec!["--hooks-dir", hooks.as_str()];
    all.extend_from_slice(args);
    program_run(program, &all, env, None)
}

/// A per-guest prepare script for guest `test` that leaves a mark in `<root>/ran`.
fn marking_script(t: &HooksTree) -> PathBuf {
    t.dir("hooks/qemu.d/test/prepare/begin", 0o755);
    t.file("hooks/virt-hook.toml", "log = \"none\"\n", 0o644);
    let mark = t.root().join("ran");
    t.file(
        "hooks/qemu.d/test/prepare/begin/10-mark",
        &format!("#!/bin/sh\necho \"$1 $2\" >> '{}'\n", mark.display()),
        0o755,
    );
    mark
}

/// libvirt's call of the main hook: execve of `<hooks>/qemu test prepare begin -`.
fn libvirt_calls(t: &HooksTree) -> hook_core::Report {
    let main = t.hooks().join("qemu");
    let _running = tests::exec_guard();
    Runner::default()
        .run(&Invocation {
            script: &main,
            args: &["test", "prepare", "begin", "-"],
            stdin: Some(b"<domain><name>test</name></domain>\n"),
            capture_stdout: true,
        })
        .expect("libvirt can execute the installed hook")
}

#[test]
fn the_original_binary_may_move_or_go() {
    let t = HooksTree::new();
    let mark = marking_script(&t);
    let bin = binary_copy(&t, "home/user/.cargo/bin/virt-hook", b"");
    let run = run_as(&bin, &t, &["install"], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("the original may move or go"),
        "{}",
        run.stdout
    );

    // Moved away, then deleted: libvirt's hook is the copy, which still runs the scripts.
    let moved = t.root().join("elsewhere");
    std::fs::rename(&bin, &moved).unwrap();
    let r = libvirt_calls(&t);
    assert_eq!(r.ending, Ending::Exited(0), "{r:?}");
    std::fs::remove_file(&moved).unwrap();
    let r = libvirt_calls(&t);
    assert_eq!(r.ending, Ending::Exited(0), "{r:?}");
    assert_eq!(read(&mark), "test prepare\ntest prepare\n");

    // The copy's other name deleted by hand: the hard link keeps the hook working.
    std::fs::remove_file(t.hooks().join("virt-hook")).unwrap();
    let r = libvirt_calls(&t);
    assert_eq!(r.ending, Ending::Exited(0), "{r:?}");
    assert_eq!(read(&mark).lines().count(), 3);
}

#[test]
fn a_hooks_directory_others_can_write_is_refused_even_with_force() {
    let t = HooksTree::new();
    std::fs::set_permissions(t.hooks(), std::fs::Permissions::from_mode(0o777)).unwrap();
    for args in [&["install"][..], &["install", "--force"]] {
        let run = t.run(args);
        assert_eq!(run.code, 1, "{run:?}");
        assert!(
            run.stderr.contains("is writable by every user (mode 777)")
                && run.stderr.contains(&t.hooks_arg())
                && run.stderr.contains("--force does not override this"),
            "{}",
            run.stderr
        );
        assert!(!exists(&t.hooks().join("qemu")) && !exists(&t.hooks().join("virt-hook")));
    }
    // Owned by another user (nobody): named with its uid.
    std::fs::set_permissions(t.hooks(), std::fs::Permissions::from_mode(0o755)).unwrap();
    nix::unistd::chown(&t.hooks(), Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    let run = t.run(&["install"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("(uid 65534)"), "{}", run.stderr);
    // A directory above it counts too.
    nix::unistd::chown(&t.hooks(), Some(nix::unistd::Uid::from_raw(0)), None).unwrap();
    t.dir("deep", 0o777);
    t.dir("deep/hooks", 0o755);
    let deep = t.root().join("deep/hooks").display().to_string();
    let run = tests::cli_support::virt_hook_run(&["--hooks-dir", &deep, "install"], &[], None);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("/deep is writable by every user"),
        "{}",
        run.stderr
    );
}

#[test]
fn refresh_makes_the_copy_the_running_binary_and_check_sees_skew() {
    let t = HooksTree::new();
    let run = t.run(&["install", "--refresh"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("nothing to refresh"), "{}", run.stdout);
    assert!(!exists(&t.hooks().join("virt-hook")));

    // Installed from an "older build", for two drivers.
    let old = binary_copy(&t, "old/virt-hook", b"an older build");
    assert_eq!(run_as(&old, &t, &["install"], &[]).code, 0);
    assert_eq!(run_as(&old, &t, &["install", "lxc"], &[]).code, 0);
    let copy = t.hooks().join("virt-hook");
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&old).unwrap());

    // check, with the newer virt-hook first on PATH: the copy is stale.
    let bin_dir = virt_hook().parent().unwrap().display().to_string();
    let path = format!("{bin_dir}:/usr/bin:/bin");
    let check = run_as(&virt_hook(), &t, &["check"], &[("PATH", &path)]);
    assert!(
        check.stdout.contains("dispatcher-stale")
            || check.stdout.contains("not the virt-hook on PATH"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("install --refresh"),
        "{}",
        check.stdout
    );

    let run = t.run(&["install", "--refresh"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("it serves: qemu, lxc"),
        "{}",
        run.stdout
    );
    let bytes = std::fs::read(virt_hook()).unwrap();
    for name in ["virt-hook", "qemu", "lxc"] {
        assert_eq!(
            std::fs::read(t.hooks().join(name)).unwrap(),
            bytes,
            "{name}"
        );
    }
    let a = std::fs::metadata(t.hooks().join("qemu")).unwrap();
    let b = std::fs::metadata(&copy).unwrap();
    assert_eq!(
        (a.dev(), a.ino()),
        (b.dev(), b.ino()),
        "qemu links the new copy"
    );
    let check = run_as(&virt_hook(), &t, &["check"], &[("PATH", &path)]);
    assert!(
        !check.stdout.contains("not the virt-hook on PATH"),
        "{}",
        check.stdout
    );

    // Done once more: nothing changes.
    let run = t.run(&["install", "--refresh"]);
    assert!(run.stdout.contains("already this binary"), "{}", run.stdout);

    let run = t.run(&["uninstall", "--all"]);
    assert_eq!(run.code, 0, "{run:?}");
    for name in ["virt-hook", "qemu", "lxc"] {
        assert!(!exists(&t.hooks().join(name)), "{name} removed");
    }
}

/// An install that stopped between keeping the backup and switching the hook leaves the hook
/// helper under two names (the same file): install finishes the job, uninstall cleans it up.
#[test]
fn an_install_interrupted_half_way_is_recovered() {
    let helper = include_str!("../../fixtures/hook-helper-qemu");
    for then in ["install", "uninstall"] {
        let t = HooksTree::new();
        let main = t.file("hooks/qemu", helper, 0o755);
        let backup = t.hooks().join("qemu.virt-hook-backup");
        std::fs::hard_link(&main, &backup).unwrap();
        let run = t.run(&[then]);
        assert_eq!(run.code, 0, "{then}: {run:?}");
        match then {
            "install" => {
                assert!(run.stdout.contains("stopped half-way"), "{}", run.stdout);
                assert!(
                    std::fs::metadata(&main).unwrap().len() > 1 << 20,
                    "the binary"
                );
                assert_eq!(read(&backup), helper);
                assert_eq!(t.run(&["uninstall"]).code, 0);
                assert_eq!(read(&main), helper);
                assert!(!exists(&backup));
            }
            _ => {
                assert_eq!(read(&main), helper, "untouched");
                assert!(!exists(&backup), "the second name went");
            }
        }
    }
}

#[test]
fn a_hooks_directory_made_under_umask_000_is_0755() {
    let t = HooksTree::new();
    let wrapper = t.file("umask000", "#!/bin/sh\numask 000\nexec \"$@\"\n", 0o755);
    let dir = t.root().join("new-hooks");
    let dir_arg = dir.display().to_string();
    let bin = virt_hook().display().to_string();
    let run = program_run(
        &wrapper,
        &[&bin, "--hooks-dir", &dir_arg, "install"],
        &[],
        None,
    );
    assert_eq!(run.code, 0, "{run:?}");
    for p in [dir.clone(), dir.join("virt-hook")] {
        let mode = std::fs::metadata(&p).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o755, "{}", p.display());
    }
}

#[test]
fn a_foreign_file_named_virt_hook_is_never_overwritten() {
    let t = HooksTree::new();
    let mine = t.file("hooks/virt-hook", SH_OK, 0o755);
    let run = t.run(&["install"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("is not a virt-hook binary"),
        "{}",
        run.stderr
    );
    assert_eq!(read(&mine), SH_OK);
    assert!(!exists(&t.hooks().join("qemu")));
}
