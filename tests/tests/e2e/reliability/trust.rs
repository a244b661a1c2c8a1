//! Strict trust mode: off by default (libvirt runs whatever is executable); when on, a script
//! that it or a directory up to the hooks root lets someone else change is refused with an
//! error saying how to fix it, and the refusal agrees with `discover::list`'s warnings.

use std::path::Path;

use hook_core::discover::{self, WarningKind};
use hook_core::{HookError, Hooks, ScriptEnv};
use tests::TempDir;
use tests::reliability_support::{TestEvent, chmod, lookup_with, write_script};

const EVENT: TestEvent = TestEvent::new("drv", "prepare");

fn hooks(dir: &Path, strict: bool) -> Hooks {
    Hooks::builder(dir)
        .driver("drv")
        .env(ScriptEnv::libvirt_from(lookup_with(&[])))
        .strict_trust(strict)
        .build()
        .unwrap()
}

/// A hooks root with a main script and two `.d` scripts, all clean (0755 in 0700 dirs).
fn tree() -> TempDir {
    let tmp = TempDir::new("rel-trust").expect("temp dir");
    write_script(&tmp.path().join("drv"), "#!/bin/sh\necho main\n");
    write_script(&tmp.path().join("drv.d/10-a"), "#!/bin/sh\necho a\n");
    write_script(&tmp.path().join("drv.d/20-b"), "#!/bin/sh\necho b\n");
    tmp
}

/// Whether each script ran (a report) or was refused (and with what error).
fn runs(h: &Hooks) -> Vec<(String, Option<HookError>)> {
    let runs = match h.run(&EVENT, "guest", || None) {
        Ok(o) => o.runs,
        Err(f) => f.runs,
    };
    runs.into_iter()
        .map(|r| {
            let name = r.script.file_name().unwrap().to_string_lossy().into_owned();
            if matches!(r.error, Some(HookError::Untrusted { .. })) {
                assert!(r.report.is_none(), "a refused script is not started");
            }
            (name, r.error)
        })
        .collect()
}

fn untrusted(err: &Option<HookError>) -> (&Path, &WarningKind, &str) {
    match err {
        Some(HookError::Untrusted {
            path, problem, fix, ..
        }) => (path, problem, fix),
        other => panic!("expected Untrusted, got {other:?}"),
    }
}

/// The refusal names a problem `discover::list` also warns about.
fn listed(root: &Path, path: &Path, kind: &WarningKind) -> bool {
    discover::list(root, "drv")
        .warnings
        .iter()
        .any(|w| w.path == path && w.kind == *kind)
}

#[test]
fn off_by_default_as_in_libvirt() {
    let tmp = tree();
    chmod(&tmp.path().join("drv.d/10-a"), 0o777);
    let h = hooks(tmp.path(), false);
    assert!(!Hooks::builder(tmp.path()).build().unwrap().strict_trust());
    let got = runs(&h);
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|(_, e)| e.is_none()), "{got:?}");
}

#[test]
fn clean_tree_runs_in_strict_mode() {
    let tmp = tree();
    let h = hooks(tmp.path(), true);
    assert!(h.strict_trust());
    let got = runs(&h);
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|(_, e)| e.is_none()), "{got:?}");
}

#[test]
fn world_writable_script_is_refused_and_the_others_run() {
    let tmp = tree();
    let bad = tmp.path().join("drv.d/10-a");
    chmod(&bad, 0o777);
    let got = runs(&hooks(tmp.path(), true));
    assert_eq!(got.len(), 3);
    assert!(got[0].1.is_none() && got[2].1.is_none(), "{got:?}");
    let (path, problem, fix) = untrusted(&got[1].1);
    assert_eq!(path, bad);
    assert_eq!(*problem, WarningKind::WorldWritable);
    assert_eq!(fix, format!("chmod go-w {}", bad.display()));
    assert!(listed(tmp.path(), &bad, problem));
    let text = got[1].1.as_ref().unwrap().to_string();
    assert_eq!(
        text,
        format!(
            "hook script {b} refused by strict trust mode: {b} is world-writable; \
             to fix: chmod go-w {b}",
            b = bad.display()
        )
    );
}

#[test]
fn group_writable_script_is_refused() {
    let tmp = tree();
    let bad = tmp.path().join("drv");
    chmod(&bad, 0o775);
    let got = runs(&hooks(tmp.path(), true));
    let (path, problem, fix) = untrusted(&got[0].1);
    assert_eq!(
        (path, problem),
        (bad.as_path(), &WarningKind::GroupWritable)
    );
    assert_eq!(fix, format!("chmod g-w {}", bad.display()));
    assert!(listed(tmp.path(), &bad, problem));
    assert!(got[1].1.is_none() && got[2].1.is_none());
}

#[test]
fn group_writable_d_directory_refuses_its_scripts_only() {
    let tmp = tree();
    let d = tmp.path().join("drv.d");
    chmod(&d, 0o770);
    let got = runs(&hooks(tmp.path(), true));
    assert_eq!(got.len(), 3);
    assert!(got[0].1.is_none(), "the main script is not under drv.d");
    for (_, err) in &got[1..] {
        let (path, problem, _) = untrusted(err);
        assert_eq!((path, problem), (d.as_path(), &WarningKind::GroupWritable));
    }
    assert!(listed(tmp.path(), &d, &WarningKind::GroupWritable));
}

#[test]
fn writable_hooks_root_refuses_everything() {
    let tmp = tree();
    chmod(tmp.path(), 0o777);
    let got = runs(&hooks(tmp.path(), true));
    assert_eq!(got.len(), 3);
    for (_, err) in &got {
        let (path, problem, _) = untrusted(err);
        assert_eq!((path, problem), (tmp.path(), &WarningKind::WorldWritable));
    }
    assert!(listed(tmp.path(), tmp.path(), &WarningKind::WorldWritable));
    chmod(tmp.path(), 0o700);
}

#[test]
fn foreign_owner_is_refused() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: changing a file's owner needs root");
        return;
    }
    let tmp = tree();
    let bad = tmp.path().join("drv.d/20-b");
    nix::unistd::chown(&bad, Some(nix::unistd::Uid::from_raw(4242)), None).unwrap();
    let got = runs(&hooks(tmp.path(), true));
    let (path, problem, fix) = untrusted(&got[2].1);
    assert_eq!(path, bad);
    assert_eq!(*problem, WarningKind::ForeignOwner { uid: 4242 });
    assert!(
        fix.contains(&format!("chown root {}", bad.display())),
        "{fix}"
    );
    assert!(listed(tmp.path(), &bad, problem));
    assert!(got[0].1.is_none() && got[1].1.is_none());
}

#[test]
fn symlink_is_judged_by_its_target() {
    let tmp = tree();
    let outside = TempDir::new("rel-trust-target").expect("temp dir");
    let target = outside.path().join("real");
    write_script(&target, "#!/bin/sh\necho linked\n");
    chmod(&target, 0o777);
    std::os::unix::fs::symlink(&target, tmp.path().join("drv.d/30-link")).unwrap();
    let got = runs(&hooks(tmp.path(), true));
    assert_eq!(got.len(), 4);
    let (path, problem, _) = untrusted(&got[3].1);
    assert_eq!(path, tmp.path().join("drv.d/30-link"));
    assert_eq!(*problem, WarningKind::WorldWritable);
    chmod(&target, 0o755);
    let got = runs(&hooks(tmp.path(), true));
    assert!(got.iter().all(|(_, e)| e.is_none()), "{got:?}");
}

/// The directories a symlink leads through are judged too: a target (or an intermediate link)
/// in a directory others can write is refused, naming that directory; a sticky one (like
/// `/tmp`) is not, as for the hooks directories themselves.
#[test]
fn a_symlinks_target_directories_are_judged_too() {
    let tmp = tree();
    let outside = TempDir::new("rel-trust-outside").expect("temp dir");
    let open = outside.path().join("open");
    let target = open.join("real");
    write_script(&target, "#!/bin/sh\necho linked\n");
    chmod(&open, 0o777);
    let link = tmp.path().join("drv.d/30-link");
    std::os::unix::fs::symlink(&target, &link).unwrap();

    let got = runs(&hooks(tmp.path(), true));
    assert_eq!(got.len(), 4);
    assert!(got[..3].iter().all(|(_, e)| e.is_none()), "{got:?}");
    let (path, problem, fix) = untrusted(&got[3].1);
    assert_eq!(
        (path, problem),
        (open.as_path(), &WarningKind::WorldWritable)
    );
    assert_eq!(fix, format!("chmod go-w {}", open.display()));
    assert!(listed(tmp.path(), &open, problem));

    // Group-writable: refused too; sticky and world-writable, like /tmp: runs.
    chmod(&open, 0o770);
    let got = runs(&hooks(tmp.path(), true));
    let (path, problem, _) = untrusted(&got[3].1);
    assert_eq!(
        (path, problem),
        (open.as_path(), &WarningKind::GroupWritable)
    );
    assert!(listed(tmp.path(), &open, problem));
    chmod(&open, 0o1777);
    let got = runs(&hooks(tmp.path(), true));
    assert!(got.iter().all(|(_, e)| e.is_none()), "{got:?}");
    assert!(discover::list(tmp.path(), "drv").warnings.is_empty());
    chmod(&open, 0o755);

    // A link to a link: the intermediate link's directory, where anyone could replace it.
    std::fs::remove_file(&link).unwrap();
    let hops = outside.path().join("hops");
    std::fs::create_dir(&hops).unwrap();
    let hop = hops.join("hop");
    std::os::unix::fs::symlink(&target, &hop).unwrap();
    std::os::unix::fs::symlink(&hop, &link).unwrap();
    assert!(
        runs(&hooks(tmp.path(), true))
            .iter()
            .all(|(_, e)| e.is_none())
    );
    chmod(&hops, 0o777);
    let got = runs(&hooks(tmp.path(), true));
    let (path, problem, _) = untrusted(&got[3].1);
    assert_eq!(
        (path, problem),
        (hops.as_path(), &WarningKind::WorldWritable)
    );
    assert!(listed(tmp.path(), &hops, problem));
    chmod(&hops, 0o755);

    // A symlinked drv.d: the directory it lives in, reached through a relative link.
    std::fs::remove_file(&link).unwrap();
    let moved = open.join("drv.d");
    std::fs::rename(tmp.path().join("drv.d"), &moved).unwrap();
    std::os::unix::fs::symlink(
        format!(
            "../{}/open/drv.d",
            outside.path().file_name().unwrap().to_string_lossy()
        ),
        tmp.path().join("drv.d"),
    )
    .unwrap();
    assert!(
        runs(&hooks(tmp.path(), true))
            .iter()
            .all(|(_, e)| e.is_none())
    );
    chmod(&open, 0o777);
    let got = runs(&hooks(tmp.path(), true));
    assert_eq!(got.len(), 3);
    assert!(
        got[0].1.is_none(),
        "the main script does not go through drv.d"
    );
    for (_, err) in &got[1..] {
        let (path, problem, _) = untrusted(err);
        assert_eq!(
            (path, problem),
            (open.as_path(), &WarningKind::WorldWritable)
        );
    }
    assert!(listed(tmp.path(), &open, &WarningKind::WorldWritable));
    chmod(&open, 0o755);
}
