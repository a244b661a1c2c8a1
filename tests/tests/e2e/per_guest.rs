//! `virt-hook` on a libvirt host with per-guest scripts, the layout of the VFIO /
//! GPU-passthrough guides (`qemu.d/<guest>/<op>/<subop>/*`): `install` and `uninstall` of the
//! dispatcher (what is put in place, the backup, refusals that change nothing), and what `list`
//! and `check` say about the per-guest directories with the dispatcher, with the guides' hook
//! helper, and with neither. The built binary runs in temporary hooks directories, as in
//! `cli.rs`; the snapshots show its path as `[VIRT-HOOK]`.

use std::path::{Path, PathBuf};

use insta::assert_snapshot;
use tests::cli_support::{CliRun, HooksTree, virt_hook};

/// A hook helper as the guides install it as `hooks/qemu` (the lines of PassthroughPOST
/// VFIO-Tools' `libvirt_hooks/qemu` that matter, not a copy): `qemu.d/<guest>/<hook>/<state>`
/// is a script, or a directory whose executables it runs in `find` order.
const HOOK_HELPER: &str = include_str!("../../fixtures/hook-helper-qemu");

/// The snapshot text of a run: `CliRun::snapshot_in` (`[TMP]`, `[VIRT-HOOK]`, durations).
fn snap(run: &CliRun, t: &HooksTree) -> String {
    run.snapshot_in(t)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn link(path: &Path) -> PathBuf {
    std::fs::read_link(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Whether `a` and `b` are one file (hard links of one inode; symlinks not followed).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let (x, y) = (
        std::fs::symlink_metadata(a).unwrap_or_else(|e| panic!("{}: {e}", a.display())),
        std::fs::symlink_metadata(b).unwrap_or_else(|e| panic!("{}: {e}", b.display())),
    );
    (x.dev(), x.ino()) == (y.dev(), y.ino())
}

/// The installed form: `<hooks>/<driver>` a hard link to `<hooks>/virt-hook`, a root-owned
/// 0755 regular file with the running binary's bytes.
fn assert_installed(t: &HooksTree, driver: &str) {
    use std::os::unix::fs::MetadataExt as _;
    let main = t.hooks().join(driver);
    let copy = t.hooks().join("virt-hook");
    let m = std::fs::symlink_metadata(&main).unwrap();
    assert!(
        m.is_file(),
        "{} is a regular file, no symlink",
        main.display()
    );
    assert!(
        same_file(&main, &copy),
        "{driver} is a hard link to the copy"
    );
    assert_eq!(m.mode() & 0o7777, 0o755);
    assert_eq!(m.uid(), nix::unistd::geteuid().as_raw());
    assert!(
        std::fs::read(&copy).unwrap() == std::fs::read(virt_hook()).unwrap(),
        "the copy is the binary"
    );
}

/// The guides' layout: the hook helper as `qemu`, GPU passthrough scripts for `win10` (defined:
/// `../qemu/win10.xml`), the release one calling `virsh` as the guides' do.
fn guides_layout() -> HooksTree {
    let t = HooksTree::new();
    t.file("hooks/qemu", HOOK_HELPER, 0o755);
    t.dir("hooks/qemu.d/win10/prepare/begin", 0o755);
    t.dir("hooks/qemu.d/win10/release/end", 0o755);
    t.file(
        "hooks/qemu.d/win10/prepare/begin/start.sh",
        "#!/bin/bash\nset -x\nsystemctl stop display-manager.service\n",
        0o755,
    );
    t.file(
        "hooks/qemu.d/win10/release/end/revert.sh",
        "#!/bin/bash\nvirsh nodedev-reattach pci_0000_0a_00_0\nsystemctl start display-manager.service\n",
        0o755,
    );
    t.dir("qemu", 0o755);
    t.file(
        "qemu/win10.xml",
        "<domain><name>win10</name></domain>\n",
        0o600,
    );
    t
}

#[test]
fn install_replaces_the_hook_helper_and_uninstall_restores_it() {
    let t = guides_layout();
    let main = t.hooks().join("qemu");
    let backup = t.hooks().join("qemu.virt-hook-backup");

    let run = t.run(&["install"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_snapshot!("install_the_hook_helper", snap(&run, &t));
    assert_installed(&t, "qemu");
    assert_eq!(read(&backup), HOOK_HELPER, "the helper is kept, unchanged");
    assert!(
        std::fs::read_dir(t.hooks()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("new")),
        "no temporary file is left"
    );

    let again = t.run(&["install"]);
    assert_eq!(again.code, 0);
    assert!(
        again.stdout.contains("already installed"),
        "{}",
        again.stdout
    );
    assert_eq!(
        read(&backup),
        HOOK_HELPER,
        "a second install keeps the backup"
    );

    let run = t.run(&["uninstall"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_snapshot!("uninstall_restores_the_hook_helper", snap(&run, &t));
    assert_eq!(read(&main), HOOK_HELPER);
    assert!(!std::fs::symlink_metadata(&main).unwrap().is_symlink());
    assert!(!exists(&backup), "the backup was moved back");
    assert!(
        !exists(&t.hooks().join("virt-hook")),
        "the copy goes with the last driver using it"
    );
}

#[test]
fn install_refuses_an_unknown_hook_unless_forced() {
    let t = HooksTree::new();
    let mine = "#!/bin/sh\nlogger \"qemu hook: $*\"\n";
    let main = t.file("hooks/qemu", mine, 0o755);
    let backup = t.hooks().join("qemu.virt-hook-backup");

    let run = t.run(&["install"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_snapshot!("install_refuses_an_unknown_hook", snap(&run, &t));
    assert_eq!(read(&main), mine, "nothing was changed");
    assert!(!exists(&backup));

    let run = t.run(&["install", "qemu", "--force"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_installed(&t, "qemu");
    assert_eq!(read(&backup), mine);

    // An existing backup is never overwritten.
    t.run(&["uninstall"]);
    std::fs::write(&backup, "an older backup\n").unwrap();
    let run = t.run(&["install", "--force"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_snapshot!("install_refuses_to_overwrite_a_backup", snap(&run, &t));
    assert_eq!(read(&main), mine);
    assert_eq!(read(&backup), "an older backup\n");
}

#[test]
fn install_in_an_empty_directory_and_uninstall_removes_the_link() {
    let t = HooksTree::new();
    let main = t.hooks().join("lxc");
    let run = t.run(&["install", "lxc"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_snapshot!("install_lxc_with_nothing_there", snap(&run, &t));
    assert_installed(&t, "lxc");
    assert!(!exists(&t.hooks().join("lxc.virt-hook-backup")));

    let run = t.run(&["uninstall", "lxc"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_snapshot!("uninstall_lxc_with_no_backup", snap(&run, &t));
    assert!(!exists(&main));
    assert!(
        !exists(&t.hooks().join("virt-hook")),
        "the unused copy went"
    );

    let run = t.run(&["uninstall", "lxc"]);
    assert_eq!(run.code, 0, "nothing to do is not a failure: {run:?}");
    assert!(run.stdout.contains("nothing to do"), "{}", run.stdout);
}

#[test]
fn uninstall_refuses_what_is_not_the_dispatcher() {
    let t = guides_layout();
    let run = t.run(&["uninstall"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_snapshot!(snap(&run, &t));
    assert_eq!(read(&t.hooks().join("qemu")), HOOK_HELPER);
}

/// `qemu -> hooks`, one script for several drivers: the symlink itself is kept as the backup
/// (the file it points to is left alone) and comes back on uninstall.
#[test]
fn install_over_a_symlinked_main_hook() {
    let t = HooksTree::new();
    t.file("hooks/hooks", HOOK_HELPER, 0o755);
    let main = t.symlink("hooks/qemu", "hooks");
    let run = t.run(&["install"]);
    assert_eq!(
        run.code, 0,
        "the helper is recognised through the link: {run:?}"
    );
    let backup = t.hooks().join("qemu.virt-hook-backup");
    assert_eq!(link(&backup), Path::new("hooks"));
    assert_eq!(read(&t.hooks().join("hooks")), HOOK_HELPER);

    let run = t.run(&["uninstall"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(link(&main), Path::new("hooks"));
}

/// A wrapper script calling `virt-hook dispatch` counts as installed, but install never wrote
/// one: uninstall leaves it (and an administrator's longer script that merely runs the
/// dispatcher among other commands) exactly as it is.
#[test]
fn a_dispatch_wrapper_counts_as_installed_and_uninstall_leaves_it() {
    for body in [
        "#!/bin/sh\nexec /usr/local/bin/virt-hook dispatch qemu \"$@\"\n",
        "#!/bin/sh\nlogger \"qemu hook $*\"\n/usr/local/bin/virt-hook dispatch qemu \"$@\"\nrc=$?\n\
         echo done >> /var/log/mine\nexit $rc\n",
    ] {
        let t = HooksTree::new();
        let main = t.file("hooks/qemu", body, 0o755);
        let run = t.run(&["install"]);
        assert_eq!(run.code, 0, "{run:?}");
        assert!(run.stdout.contains("already installed"), "{}", run.stdout);
        let run = t.run(&["uninstall"]);
        assert_eq!(run.code, 1, "{run:?}");
        assert!(run.stderr.contains("did not write it"), "{}", run.stderr);
        assert_eq!(read(&main), body, "left exactly as it was");
        assert!(!exists(&t.hooks().join("qemu.virt-hook-backup")));
    }
}

#[test]
fn install_bad_input() {
    let t = HooksTree::new();
    let run = t.run(&["install", "kvm"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(
        run.stderr,
        "virt-hook: unknown driver \"kvm\"; valid: daemon, qemu, lxc, network, libxl, bhyve\n"
    );
}

// ---------------------------------------------------------------------------------------------
// list and check

const SH_OK: &str = "#!/bin/sh\nexit 0\n";

#[test]
fn check_the_guides_layout_under_the_hook_helper() {
    let t = guides_layout();
    let run = t.run(&["check"]);
    assert_eq!(run.code, 0, "the layout itself is no error: {run:?}");
    assert!(run.stdout.contains("calls virsh"), "{}", run.stdout);
    assert_snapshot!("check_the_guides_layout", snap(&run, &t));

    // An editor's backup of a per-guest script: the helper runs it too.
    t.file(
        "hooks/qemu.d/win10/prepare/begin/start.sh~",
        "#!/bin/bash\nsystemctl stop gdm.service\n",
        0o755,
    );
    let run = t.run(&["check"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_snapshot!("check_a_backup_in_a_per_guest_directory", snap(&run, &t));
}

#[test]
fn list_the_guides_layout_under_the_hook_helper() {
    let t = guides_layout();
    let run = t.run(&["list", "qemu"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_snapshot!(snap(&run, &t));
}

/// Without a dispatcher (nor the helper), libvirt never runs the per-guest scripts: an error
/// that names the fix.
#[test]
fn check_per_guest_scripts_without_a_dispatcher() {
    let t = guides_layout();
    std::fs::remove_file(t.hooks().join("qemu")).unwrap();
    let run = t.run(&["check"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("virt-hook install qemu"),
        "{}",
        run.stdout
    );
    assert_snapshot!(snap(&run, &t));
}

/// The shipped per-guest example, with guest `test` defined on the host
/// (`<hooks>/../qemu/test.xml`), and the dispatcher installed.
fn installed_example() -> HooksTree {
    let t = HooksTree::new();
    tests::cli_support::copy_example(&t);
    t.dir("qemu", 0o755);
    t.file(
        "qemu/test.xml",
        "<domain><name>test</name></domain>\n",
        0o600,
    );
    assert_eq!(t.run(&["install"]).code, 0);
    t
}

/// The shipped per-guest example, installed: nothing to report.
#[test]
fn the_per_guest_example_installed_is_clean() {
    let t = installed_example();
    let run = t.run(&["check"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_snapshot!("check_the_installed_example", snap(&run, &t));
    let run = t.run(&["list", "qemu"]);
    assert_snapshot!("list_the_installed_example", snap(&run, &t));
}

/// The example installed, plus the usual slips: a misspelt sub-operation, a guest this host
/// does not define, an empty and a non-executable script, a file outside the layout, a
/// directory too deep, a CRLF script, a missing interpreter, and a flat `.d` script that libvirt runs after the
/// dispatcher. The main hook reached through a second symlink (`qemu -> hooks -> virt-hook`).
fn example_with_slips() -> HooksTree {
    let t = installed_example();
    std::fs::rename(t.hooks().join("qemu"), t.hooks().join("hooks")).unwrap();
    t.symlink("hooks/qemu", "hooks");
    t.dir("hooks/qemu.d/test/prepare/start", 0o755);
    t.file("hooks/qemu.d/test/prepare/start/10-x", SH_OK, 0o755);
    t.dir("hooks/qemu.d/test/started/begin/old", 0o755);
    t.file("hooks/qemu.d/test/started/begin/old/10-x", SH_OK, 0o755);
    t.file("hooks/qemu.d/test/started/begin/20-empty", "", 0o755);
    t.file("hooks/qemu.d/test/started/begin/30-off", SH_OK, 0o644);
    t.file(
        "hooks/qemu.d/test/started/begin/40-crlf",
        "#!/bin/sh\r\nexit 0\r\n",
        0o755,
    );
    t.file(
        "hooks/qemu.d/test/started/begin/50-python",
        "#!/usr/bin/virt-hook-no-such-python\nprint()\n",
        0o755,
    );
    t.file("hooks/qemu.d/test/NOTES", "what these do\n", 0o644);
    t.dir("hooks/qemu.d/win11/release/end", 0o755);
    t.file("hooks/qemu.d/win11/release/end/10-x", SH_OK, 0o755);
    t.file("hooks/qemu.d/50-flat", SH_OK, 0o755);
    t.symlink("hooks/qemu.d/60-common", "../common-script");
    t.file("hooks/common-script", SH_OK, 0o755);
    t
}

#[test]
fn list_per_guest_scripts_with_slips() {
    let t = example_with_slips();
    let run = t.run(&["list", "qemu"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("qemu -> hooks "),
        "the symlink chain is shown: {}",
        run.stdout
    );
    assert_snapshot!(snap(&run, &t));
}

#[test]
fn list_per_guest_scripts_json() {
    let t = example_with_slips();
    let run = t.run(&["list", "qemu", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_snapshot!(snap(&run, &t));
}

#[test]
fn check_per_guest_scripts_with_slips() {
    let t = example_with_slips();
    let run = t.run(&["check"]);
    assert_eq!(run.code, 1, "the CRLF script is an error: {run:?}");
    assert_snapshot!(snap(&run, &t));
    let run = t.run(&["check", "--json"]);
    assert!(
        run.stdout.contains("\"code\": \"undefined-object\""),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("\"notes\": 1"), "{}", run.stdout);
}

// ---------------------------------------------------------------------------------------------
// What libvirt gets once it is installed

/// The example installed, then `<hooks>/qemu test prepare begin -` run as libvirt runs it
/// (execve of the main hook, libvirt's environment, the XML on stdin): the example's hugepages
/// check fails for a guest that wants more hugepages than any host has, and libvirt gets exit
/// status 1 and one line naming the script and its reason (what `virsh start` shows).
#[test]
fn the_installed_dispatcher_runs_the_per_guest_scripts_for_libvirt() {
    use hook_core::{Ending, Invocation, Runner};

    let t = HooksTree::new();
    tests::cli_support::copy_example(&t);
    // The example's settings, but no log lines from a test.
    std::fs::write(t.hooks().join("virt-hook.toml"), "log = \"none\"\n").unwrap();
    assert_eq!(t.run(&["install"]).code, 0);
    let main = t.hooks().join("qemu");
    let call = |xml: &str| {
        tests::run(
            &Runner::default(),
            &Invocation {
                script: &main,
                args: &["test", "prepare", "begin", "-"],
                stdin: Some(xml.as_bytes()),
                capture_stdout: true,
            },
        )
        .expect("the installed hook starts")
    };
    let plain = "<domain type='kvm'>\n  <name>test</name>\n  <memory unit='KiB'>1048576</memory>\n</domain>\n";
    let r = call(plain);
    assert_eq!(r.ending, Ending::Exited(0), "{r:?}");

    // 1 PiB of hugepages: more than any host has free.
    let hungry = "<domain type='kvm'>\n  <name>test</name>\n  <memory unit='KiB'>1099511627776</memory>\n  <memoryBacking>\n    <hugepages/>\n  </memoryBacking>\n</domain>\n";
    let r = call(hungry);
    assert_eq!(r.ending, Ending::Exited(1), "{r:?}");
    assert_eq!(r.stdout, b"", "prepare is no filter: nothing on stdout");
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line for libvirt's error: {stderr}"
    );
    let line = stderr.replace(&t.root().display().to_string(), "[TMP]");
    // The host's free hugepages vary: keep the snapshot stable.
    let line = line
        .split(", the host has ")
        .next()
        .unwrap_or_default()
        .to_owned();
    assert_snapshot!(line);
}

/// The binary the dispatcher's symlink points to is gone (moved, or uninstalled with the
/// package): libvirt skips the main hook, so no per-guest script runs. An error, with the fix;
/// an operation the driver does not have is a warning.
#[test]
fn check_a_dispatcher_whose_binary_is_gone() {
    let t = HooksTree::new();
    t.symlink("hooks/qemu", "/nonexistent/bin/virt-hook");
    t.dir("hooks/qemu.d/win10/prepare/begin", 0o755);
    t.file("hooks/qemu.d/win10/prepare/begin/10-x", SH_OK, 0o755);
    t.dir("hooks/qemu.d/win10/boot/begin", 0o755);
    t.file("hooks/qemu.d/win10/boot/begin/10-x", SH_OK, 0o755);
    let run = t.run(&["check"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_snapshot!(snap(&run, &t));

    // install points the link at this binary again (it is the dispatcher: no backup).
    let run = t.run(&["install"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("updated"), "{}", run.stdout);
    assert!(!exists(&t.hooks().join("qemu.virt-hook-backup")));
    let run = t.run(&["check"]);
    assert!(!run.stdout.contains("main-does-not-run"), "{}", run.stdout);
    assert!(!run.stdout.contains("symlink to nothing"), "{}", run.stdout);
}

/// A settings file the dispatcher cannot load: every event would fail without running a
/// script, so `check` says so, with the line.
#[test]
fn check_bad_dispatcher_settings() {
    let t = HooksTree::new();
    tests::cli_support::copy_example(&t);
    assert_eq!(t.run(&["install"]).code, 0);
    std::fs::write(
        t.hooks().join("virt-hook.toml"),
        "timeout = \"60s\"\n[driver.qemu.op.prepar]\ntimeout = \"2m\"\n",
    )
    .unwrap();
    let run = t.run(&["check"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_snapshot!(snap(&run, &t));
}

/// The default directory may not exist yet on a host that never had a hook: install creates it
/// (here the per-user one, under a temporary `$XDG_CONFIG_HOME`), but not its parent.
#[test]
fn install_creates_a_missing_default_directory() {
    let t = HooksTree::new();
    let xdg = t.root().join("config");
    let xdg_arg = xdg.display().to_string();
    let env = [("XDG_CONFIG_HOME", xdg_arg.as_str())];
    let run = tests::cli_support::virt_hook_run(&["--user", "install"], &env, None);
    assert_eq!(run.code, 1, "no $XDG_CONFIG_HOME/libvirt: {run:?}");
    assert!(
        run.stderr.contains("is libvirt installed?"),
        "{}",
        run.stderr
    );
    t.dir("config/libvirt", 0o755);
    let run = tests::cli_support::virt_hook_run(&["--user", "install"], &env, None);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("virt-hook --user list qemu"),
        "{}",
        run.stdout
    );
    let made = std::fs::metadata(xdg.join("libvirt/hooks")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&made.permissions()) & 0o7777,
        0o755
    );
    assert!(
        std::fs::symlink_metadata(xdg.join("libvirt/hooks/qemu"))
            .unwrap()
            .is_file()
    );
}

/// The main hook is never missing while install and uninstall replace it: a thread looks for
/// it without pause while the hook helper and the dispatcher swap places twenty times. (It can
/// only miss a gap, never see one that is not there.)
#[test]
fn install_and_uninstall_never_leave_the_main_hook_missing() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let t = guides_layout();
    let main = t.hooks().join("qemu");
    let done = AtomicBool::new(false);
    let (looks, gaps) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                looks.fetch_add(1, Ordering::Relaxed);
                if std::fs::symlink_metadata(&main).is_err() {
                    gaps.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        for _ in 0..20 {
            assert_eq!(t.run(&["install"]).code, 0);
            assert_eq!(t.run(&["uninstall"]).code, 0);
        }
        done.store(true, Ordering::Relaxed);
    });
    assert!(looks.load(Ordering::Relaxed) > 0);
    assert_eq!(gaps.load(Ordering::Relaxed), 0, "the main hook was missing");
    assert_eq!(read(&main), HOOK_HELPER);
}

/// A backup with no main hook (someone removed the link by hand): uninstall puts it back.
#[test]
fn uninstall_restores_a_backup_when_the_link_is_gone() {
    let t = guides_layout();
    assert_eq!(t.run(&["install"]).code, 0);
    std::fs::remove_file(t.hooks().join("qemu")).unwrap();
    let run = t.run(&["uninstall"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.starts_with("restored the hook helper"),
        "{}",
        run.stdout
    );
    assert_eq!(read(&t.hooks().join("qemu")), HOOK_HELPER);
}

/// A directory where the main hook belongs (it runs nothing) is moved aside with `--force` and
/// comes back on uninstall.
#[test]
fn install_force_over_a_directory() {
    let t = HooksTree::new();
    t.dir("hooks/qemu", 0o755);
    t.file("hooks/qemu/notes", "x\n", 0o644);
    assert_eq!(t.run(&["install"]).code, 1, "not without --force");
    let run = t.run(&["install", "--force"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(read(&t.hooks().join("qemu.virt-hook-backup/notes")), "x\n");
    assert_eq!(t.run(&["uninstall"]).code, 0);
    assert_eq!(read(&t.hooks().join("qemu/notes")), "x\n");
}
