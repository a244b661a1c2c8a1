//! Running a driver's scripts through [`Hooks`] with real hooks directories: discovery and its
//! order, symlinks and odd `.d` entries, filter chaining (spec §1.7 step 10), failures, the
//! presence cache and its rescans, concurrency, and a driver defined only here to show that a new
//! driver needs nothing from core but its public API.

use std::borrow::Cow;
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};

use hook_core::discover::{self, SkipReason};
use hook_core::{Failure, HookError, Hooks, Outcome, Presence};
use tests::hookdir::{HookDir, TestEvent, exec_guard, failed, name_of, ok, run, sh_quote};

const START: TestEvent = TestEvent::new("qemu", "start");
const MIGRATE: TestEvent = TestEvent::new("qemu", "migrate").filter();

fn hooks_for(d: &HookDir, drivers: &[&str]) -> Hooks {
    Hooks::builder(d.hooks())
        .drivers(drivers.iter().copied())
        .build()
        .expect("build Hooks")
}

/// A filter: records its stdin in `<root>/in.<tag>`, prints it with ` +<tag>` appended.
fn filter_body(d: &HookDir, tag: &str) -> String {
    let rec = sh_quote(&d.root().join(format!("in.{tag}")));
    format!("tee {rec} | sed 's/$/ +{tag}/'")
}

/// A script that records its stdin in `<root>/in.<tag>` and prints nothing.
fn recorder_body(d: &HookDir, tag: &str) -> String {
    let rec = sh_quote(&d.root().join(format!("in.{tag}")));
    format!("cat > {rec}")
}

fn recorded(d: &HookDir, tag: &str) -> String {
    String::from_utf8(d.read_root(format!("in.{tag}"))).expect("UTF-8 input")
}

// ---------------------------------------------------------------------------------------------
// Discovery and order
// ---------------------------------------------------------------------------------------------

#[test]
fn d_scripts_run_in_bytewise_order_including_dotfiles_and_backups() {
    let d = HookDir::new();
    let names = ["10-a", "9-b", "A", "a", ".hidden", "foo~", "é"];
    for n in names {
        d.logging_script(Path::new("qemu.d").join(n));
    }
    d.file("qemu.d/not-executable", "#!/bin/sh\nexit 1\n", 0o644);
    d.mkdir("qemu.d/subdir");
    d.logging_script("qemu.d/subdir/not-searched");
    let hooks = hooks_for(&d, &["qemu"]);

    let outcome = ok(run(&hooks, &START, "guest", None));

    // strcmp order: '.' < digits < upper case < lower case < '~' < UTF-8 lead bytes.
    let expected = [".hidden", "10-a", "9-b", "A", "a", "foo~", "é"];
    let mut sorted = names.to_vec();
    sorted.sort_by(|x, y| x.as_bytes().cmp(y.as_bytes()));
    assert_eq!(sorted, expected);
    assert_eq!(
        d.log(),
        expected,
        "the order the scripts themselves recorded"
    );
    let ran_names: Vec<String> = outcome.runs.iter().map(|r| name_of(&r.script)).collect();
    assert_eq!(ran_names, expected);
    assert!(outcome.runs.iter().all(|r| r.succeeded()));
    assert_eq!(outcome.output, None);

    let listing = discover::list(d.hooks(), "qemu");
    let listed: Vec<String> = listing.scripts.iter().map(|p| name_of(p)).collect();
    assert_eq!(listed, expected, "discover::list agrees with what ran");
    let skipped: Vec<(String, SkipReason)> = listing
        .skipped
        .iter()
        .map(|s| (d.rel(&s.path), s.reason.clone()))
        .collect();
    assert_eq!(
        skipped,
        [
            ("qemu.d/not-executable".into(), SkipReason::NotExecutable),
            ("qemu.d/subdir".into(), SkipReason::Directory),
        ]
    );
    assert_eq!(listing.d_error, None);
}

#[test]
fn symlinks_in_d_are_followed_and_bad_ones_skipped() {
    let d = HookDir::new();
    d.logging_script("elsewhere/real");
    d.symlink("qemu.d/10-to-executable", "../elsewhere/real");
    d.symlink("qemu.d/20-to-directory", "../elsewhere");
    d.symlink("qemu.d/30-broken", "../elsewhere/missing");
    d.symlink("qemu.d/40-loop", "40-loop");
    let hooks = hooks_for(&d, &["qemu"]);
    assert_eq!(hooks.presence("qemu"), Presence::Present);

    let outcome = ok(run(&hooks, &START, "guest", None));
    assert_eq!(d.ran(&outcome.runs), ["qemu.d/10-to-executable"]);
    // $0 is the link's path: the script ran through the link.
    assert_eq!(d.log(), ["10-to-executable"]);

    let listing = discover::list(d.hooks(), "qemu");
    let listed: Vec<String> = listing.scripts.iter().map(|p| d.rel(p)).collect();
    assert_eq!(listed, ["qemu.d/10-to-executable"]);
    let skipped: Vec<(String, SkipReason)> = listing
        .skipped
        .iter()
        .map(|s| (d.rel(&s.path), s.reason.clone()))
        .collect();
    assert_eq!(
        skipped,
        [
            ("qemu.d/20-to-directory".into(), SkipReason::Directory),
            ("qemu.d/30-broken".into(), SkipReason::BrokenSymlink),
            ("qemu.d/40-loop".into(), SkipReason::SymlinkLoop),
        ]
    );
}

#[test]
fn non_executable_main_is_skipped_and_d_runs() {
    let d = HookDir::new();
    let main_body = format!("#!/bin/sh\n{}\n", d.log_name_line());
    d.file("qemu", &main_body, 0o644);
    d.logging_script("qemu.d/10-x");
    let hooks = hooks_for(&d, &["qemu"]);
    assert_eq!(hooks.presence("qemu"), Presence::Present);

    let outcome = ok(run(&hooks, &START, "guest", None));
    assert_eq!(d.ran(&outcome.runs), ["qemu.d/10-x"]);
    assert_eq!(d.log(), ["10-x"]);

    let listing = discover::list(d.hooks(), "qemu");
    let listed: Vec<String> = listing.scripts.iter().map(|p| d.rel(p)).collect();
    assert_eq!(listed, ["qemu.d/10-x"]);
    assert_eq!(listing.skipped.len(), 1);
    assert_eq!(listing.skipped[0].path, d.hooks().join("qemu"));
    assert_eq!(listing.skipped[0].reason, SkipReason::NotExecutable);
}

#[test]
fn only_d_scripts() {
    let d = HookDir::new();
    d.logging_script("qemu.d/only");
    let hooks = hooks_for(&d, &["qemu"]);
    assert!(hooks.is_present("qemu"));
    let outcome = ok(run(&hooks, &START, "guest", Some(b"<domain/>")));
    assert_eq!(d.ran(&outcome.runs), ["qemu.d/only"]);
    assert_eq!(d.log(), ["only"]);
}

#[test]
fn empty_d_runs_nothing_and_main_with_empty_d_runs_main() {
    let d = HookDir::new();
    d.mkdir("qemu.d");
    d.logging_script("lxc");
    d.mkdir("lxc.d");
    let hooks = hooks_for(&d, &["qemu", "lxc"]);
    assert_eq!(hooks.presence("qemu"), Presence::Absent);
    assert!(!hooks.is_present("qemu"));

    let called = Cell::new(false);
    let outcome = ok(hooks.run(&START, "guest", || {
        called.set(true);
        Some(Cow::Borrowed(b"<domain/>"))
    }));
    assert!(outcome.nothing_ran());
    assert!(
        !called.get(),
        "no document is built when nothing is installed"
    );
    assert_eq!(d.log(), Vec::<String>::new());

    let outcome = ok(run(&hooks, &TestEvent::new("lxc", "start"), "ct", None));
    assert_eq!(d.ran(&outcome.runs), ["lxc"]);
    assert_eq!(d.log(), ["lxc"]);
}

#[test]
fn d_that_is_a_regular_file_without_main_is_absent() {
    let d = HookDir::new();
    d.file("qemu.d", "not a directory\n", 0o644);
    let hooks = hooks_for(&d, &["qemu"]);
    assert_eq!(hooks.presence("qemu"), Presence::Absent);
    assert_eq!(hooks.rescan().map_err(|e| e.len()), Ok(()));
    let outcome = ok(run(&hooks, &START, "guest", None));
    assert!(outcome.nothing_ran());
    assert_eq!(d.log(), Vec::<String>::new());
}

#[test]
fn d_that_is_a_regular_file_with_main_runs_main_then_fails_enotdir() {
    let d = HookDir::new();
    let main = d.logging_script("qemu");
    d.file("qemu.d", "not a directory\n", 0o644);
    let hooks = hooks_for(&d, &["qemu"]);
    assert_eq!(hooks.presence("qemu"), Presence::Present);

    let f = failed(run(&hooks, &START, "guest", None));
    // The main script ran and succeeded, as in libvirt, before opening qemu.d failed.
    assert_eq!(d.log(), ["qemu"]);
    assert_eq!(f.runs.len(), 1);
    assert_eq!(f.runs[0].script, main);
    assert!(f.runs[0].succeeded());
    match &f.dir_error {
        Some(HookError::DirUnreadable {
            driver,
            path,
            source,
        }) => {
            assert_eq!(driver, "qemu");
            assert_eq!(path, &d.hooks().join("qemu.d"));
            assert_eq!(source.raw_os_error(), Some(libc::ENOTDIR));
        }
        other => panic!("expected DirUnreadable, got {other:?}"),
    }
    assert_eq!(f.errors().count(), 1);
    assert!(matches!(f.headline(), HookError::DirUnreadable { .. }));
    assert_eq!(f.output, None);
    assert_eq!((f.driver.as_str(), f.op.as_str()), ("qemu", "start"));
}

#[test]
fn unreadable_d_fails_its_driver_only() {
    let d = HookDir::new();
    d.symlink("qemu.d", "qemu.d");
    d.logging_script("lxc");
    let hooks = hooks_for(&d, &["qemu", "lxc"]);

    let eloop = std::io::Error::from_raw_os_error(libc::ELOOP).to_string();
    match hooks.presence("qemu") {
        Presence::Unreadable(msg) => assert_eq!(msg, eloop),
        other => panic!("expected Unreadable, got {other:?}"),
    }
    assert!(
        hooks.is_present("qemu"),
        "unreadable counts as present so calls report it"
    );
    assert_eq!(hooks.presence("lxc"), Presence::Present);

    let errors = hooks
        .rescan()
        .expect_err("rescan reports the unreadable .d");
    assert_eq!(errors.len(), 1);
    match &errors[0] {
        HookError::DirUnreadable { driver, path, .. } => {
            assert_eq!(driver, "qemu");
            assert_eq!(path, &d.hooks().join("qemu.d"));
        }
        other => panic!("expected DirUnreadable, got {other:?}"),
    }
    assert!(errors[0].to_string().contains("'qemu'"), "{}", errors[0]);

    let f = failed(run(&hooks, &START, "guest", None));
    assert!(f.runs.is_empty());
    match &f.dir_error {
        Some(HookError::DirUnreadable { driver, source, .. }) => {
            assert_eq!(driver, "qemu");
            assert_eq!(source.raw_os_error(), Some(libc::ELOOP));
        }
        other => panic!("expected DirUnreadable, got {other:?}"),
    }

    // The other driver on the same Hooks is unaffected.
    let outcome = ok(run(&hooks, &TestEvent::new("lxc", "start"), "ct", None));
    assert_eq!(d.ran(&outcome.runs), ["lxc"]);
    assert_eq!(d.log(), ["lxc"]);

    let listing = discover::list(d.hooks(), "qemu");
    assert_eq!(listing.d_error, Some(eloop));
    assert!(listing.scripts.is_empty());
}

#[test]
fn main_and_d_may_be_symlinks_and_a_missing_hooks_dir_is_absent() {
    let d = HookDir::new();
    d.logging_script("shared/main");
    d.logging_script("shared/d/10-x");
    d.symlink("qemu", "shared/main");
    d.symlink("qemu.d", "shared/d");
    let hooks = hooks_for(&d, &["qemu"]);
    let outcome = ok(run(&hooks, &START, "guest", None));
    assert_eq!(d.ran(&outcome.runs), ["qemu", "qemu.d/10-x"]);
    assert_eq!(d.log(), ["qemu", "10-x"]);

    let missing = Hooks::builder(d.root().join("no-such-dir"))
        .driver("qemu")
        .build()
        .expect("a missing hooks directory is not an error");
    assert_eq!(missing.presence("qemu"), Presence::Absent);
    assert_eq!(missing.rescan().map_err(|e| e.len()), Ok(()));
    assert!(ok(run(&missing, &START, "guest", None)).nothing_ran());
}

// ---------------------------------------------------------------------------------------------
// Filter chaining (spec §1.7 step 10)
// ---------------------------------------------------------------------------------------------

#[test]
fn filters_chain_main_then_d_in_order() {
    let d = HookDir::new();
    d.script("qemu", &filter_body(&d, "main"));
    d.script("qemu.d/10-f", &filter_body(&d, "10"));
    d.script("qemu.d/20-f", &filter_body(&d, "20"));
    let hooks = hooks_for(&d, &["qemu"]);

    let outcome = ok(run(&hooks, &MIGRATE, "guest", Some(b"x")));
    assert_eq!(recorded(&d, "main"), "x");
    assert_eq!(recorded(&d, "10"), "x +main");
    assert_eq!(recorded(&d, "20"), "x +main +10");
    assert_eq!(outcome.output.as_deref(), Some(&b"x +main +10 +20"[..]));
    assert_eq!(outcome.output_from, Some(d.hooks().join("qemu.d/20-f")));
}

#[test]
fn without_main_the_first_d_filter_gets_the_original() {
    let d = HookDir::new();
    d.script("qemu.d/10-f", &filter_body(&d, "10"));
    d.script("qemu.d/20-f", &filter_body(&d, "20"));
    let hooks = hooks_for(&d, &["qemu"]);
    let outcome = ok(run(&hooks, &MIGRATE, "guest", Some(b"x")));
    assert_eq!(recorded(&d, "10"), "x");
    assert_eq!(recorded(&d, "20"), "x +10");
    assert_eq!(outcome.output.as_deref(), Some(&b"x +10 +20"[..]));
    assert_eq!(outcome.output_from, Some(d.hooks().join("qemu.d/20-f")));
}

#[test]
fn after_a_failing_filter_later_filters_get_the_original_input() {
    let d = HookDir::new();
    // qemu: the last filter prints, so the final output is its (original-based) output.
    d.script("qemu", &filter_body(&d, "q-main"));
    d.script(
        "qemu.d/10-fails",
        &format!("{}; echo ignored; exit 1", recorder_body(&d, "q-10")),
    );
    d.script("qemu.d/20-f", &filter_body(&d, "q-20"));
    // lxc: the last filter prints nothing, so the last good output is the main script's.
    d.script("lxc", &filter_body(&d, "l-main"));
    d.script(
        "lxc.d/10-fails",
        &format!("{}; exit 1", recorder_body(&d, "l-10")),
    );
    d.script("lxc.d/20-silent", &recorder_body(&d, "l-20"));
    let hooks = hooks_for(&d, &["qemu", "lxc"]);

    let f = failed(run(&hooks, &MIGRATE, "guest", Some(b"x")));
    assert_eq!(recorded(&d, "q-main"), "x");
    assert_eq!(recorded(&d, "q-10"), "x +q-main");
    assert_eq!(
        recorded(&d, "q-20"),
        "x",
        "after a failure the ORIGINAL input"
    );
    assert_eq!(f.output.as_deref(), Some(&b"x +q-20"[..]));
    assert_eq!(
        d.ran(&f.runs),
        ["qemu", "qemu.d/10-fails", "qemu.d/20-f"],
        "every script runs even after a failure"
    );
    assert_eq!(f.errors().count(), 1);
    match f.headline() {
        HookError::Exited { script, code, .. } => {
            assert_eq!(script, &d.hooks().join("qemu.d/10-fails"));
            assert_eq!(*code, 1);
        }
        other => panic!("expected Exited, got {other:?}"),
    }

    let lxc_migrate = TestEvent::new("lxc", "migrate").filter();
    let f = failed(run(&hooks, &lxc_migrate, "ct", Some(b"x")));
    assert_eq!(recorded(&d, "l-10"), "x +l-main");
    assert_eq!(recorded(&d, "l-20"), "x");
    assert_eq!(
        f.output.as_deref(),
        Some(&b"x +l-main"[..]),
        "the last good output"
    );
}

#[test]
fn a_failing_script_output_is_never_the_result() {
    let d = HookDir::new();
    d.script("qemu", "cat >/dev/null; echo from-failing-main; exit 1");
    d.script("qemu.d/10-silent", &recorder_body(&d, "10"));
    let hooks = hooks_for(&d, &["qemu"]);
    let f = failed(run(&hooks, &MIGRATE, "guest", Some(b"x")));
    assert_eq!(recorded(&d, "10"), "x");
    // libvirt's *output would still hold the failing main script's stdout here (its callers
    // never read it after a failure); Failure::output is the last *good* output: none.
    assert_eq!(f.output, None);
    assert_eq!(f.errors().count(), 1);
}

#[test]
fn all_empty_outputs_mean_unchanged() {
    let d = HookDir::new();
    d.script("qemu", "cat >/dev/null");
    d.script("qemu.d/10-silent", "cat >/dev/null");
    let hooks = hooks_for(&d, &["qemu"]);
    let outcome = ok(run(&hooks, &MIGRATE, "guest", Some(b"x")));
    assert_eq!(outcome.runs.len(), 2);
    assert_eq!(outcome.output, None);
    assert_eq!(outcome.output_from, None);
}

#[test]
fn silent_main_then_d_filters_chain_from_the_original() {
    let d = HookDir::new();
    d.script("qemu", &recorder_body(&d, "main"));
    d.script("qemu.d/10-f", &filter_body(&d, "10"));
    d.script("qemu.d/20-f", &filter_body(&d, "20"));
    let hooks = hooks_for(&d, &["qemu"]);
    let outcome = ok(run(&hooks, &MIGRATE, "guest", Some(b"x")));
    assert_eq!(recorded(&d, "main"), "x");
    assert_eq!(recorded(&d, "10"), "x");
    assert_eq!(recorded(&d, "20"), "x +10");
    assert_eq!(outcome.output.as_deref(), Some(&b"x +10 +20"[..]));
    assert_eq!(outcome.output_from, Some(d.hooks().join("qemu.d/20-f")));
}

#[test]
fn an_event_without_output_never_captures() {
    let d = HookDir::new();
    d.script("qemu", &filter_body(&d, "main"));
    d.script("qemu.d/10-f", &filter_body(&d, "10"));
    let hooks = hooks_for(&d, &["qemu"]);
    let outcome = ok(run(&hooks, &START, "guest", Some(b"x")));
    assert_eq!(outcome.output, None);
    assert_eq!(outcome.output_from, None);
    // Not chained either: every script gets the caller's document.
    assert_eq!(recorded(&d, "main"), "x");
    assert_eq!(recorded(&d, "10"), "x");
    for r in &outcome.runs {
        let report = r.report.as_ref().expect("a report");
        assert!(report.stdout.is_empty(), "stdout was not kept");
        assert!(report.stdout_len > 0, "but the script did print");
    }
}

#[test]
fn every_failure_is_kept_and_the_last_is_the_headline() {
    let d = HookDir::new();
    d.script("qemu", "echo main-err >&2; exit 1");
    d.script("qemu.d/a", "echo a-err >&2; exit 2");
    d.script("qemu.d/b", "exit 0");
    // No #! line: the kernel refuses it, so there is no report, only the error.
    d.file("qemu.d/b-no-shebang", "echo never\n", 0o755);
    d.script("qemu.d/c", "echo c-err >&2; exit 3");
    let hooks = hooks_for(&d, &["qemu"]);
    let f = failed(run(&hooks, &START, "guest", None));
    assert_eq!(
        d.ran(&f.runs),
        [
            "qemu",
            "qemu.d/a",
            "qemu.d/b",
            "qemu.d/b-no-shebang",
            "qemu.d/c"
        ]
    );
    assert!(f.runs[2].succeeded());
    assert!(f.runs[3].report.is_none());
    let summary: Vec<(String, String)> = f
        .errors()
        .map(|e| match e {
            HookError::Exited {
                script,
                code,
                stderr,
                ..
            } => (
                d.rel(script),
                format!(
                    "exit {code}: {}",
                    String::from_utf8_lossy(stderr).trim_end()
                ),
            ),
            HookError::NotStarted { script, reason, .. } => {
                (d.rel(script), format!("not started: {reason:?}"))
            }
            other => panic!("unexpected error {other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("qemu".into(), "exit 1: main-err".into()),
            ("qemu.d/a".into(), "exit 2: a-err".into()),
            (
                "qemu.d/b-no-shebang".into(),
                "not started: NoShebang".into()
            ),
            ("qemu.d/c".into(), "exit 3: c-err".into()),
        ]
    );
    assert_eq!(f.headline().script(), Some(&*d.hooks().join("qemu.d/c")));
    assert!(f.dir_error.is_none());
    let text = f.to_string();
    assert!(text.contains("exited with code 3: c-err"), "{text}");
    assert!(text.contains("and 3 earlier failures"), "{text}");
    let source = std::error::Error::source(&*f).expect("a source");
    assert_eq!(source.to_string(), f.headline().to_string());
}

// ---------------------------------------------------------------------------------------------
// Presence cache and rescans
// ---------------------------------------------------------------------------------------------

#[test]
fn an_absent_driver_needs_a_rescan_to_see_its_first_script() {
    let d = HookDir::new();
    let hooks = hooks_for(&d, &["qemu"]);
    assert_eq!(hooks.presence("qemu"), Presence::Absent);
    d.logging_script("qemu");

    let called = Cell::new(false);
    let outcome = ok(hooks.run(&START, "guest", || {
        called.set(true);
        Some(Cow::Borrowed(b"<domain/>"))
    }));
    assert!(
        outcome.nothing_ran(),
        "invisible until a rescan, as in libvirt"
    );
    assert!(!called.get(), "stdin is not built for an absent driver");
    assert_eq!(d.log(), Vec::<String>::new());

    hooks.rescan().expect("rescan");
    assert_eq!(hooks.presence("qemu"), Presence::Present);
    let outcome = ok(run(&hooks, &START, "guest", None));
    assert_eq!(d.ran(&outcome.runs), ["qemu"]);
    assert_eq!(d.log(), ["qemu"]);
}

#[test]
fn a_present_driver_sees_d_changes_at_once() {
    let d = HookDir::new();
    d.logging_script("qemu.d/10-first");
    let hooks = hooks_for(&d, &["qemu"]);
    ok(run(&hooks, &START, "guest", None));
    assert_eq!(d.log(), ["10-first"]);

    d.logging_script("qemu.d/05-new");
    d.clear_log();
    let outcome = ok(run(&hooks, &START, "guest", None));
    assert_eq!(d.ran(&outcome.runs), ["qemu.d/05-new", "qemu.d/10-first"]);
    assert_eq!(d.log(), ["05-new", "10-first"]);

    // Everything removed: still marked present until a rescan, but nothing runs (libvirt's 1).
    std::fs::remove_file(d.hooks().join("qemu.d/05-new")).expect("rm");
    std::fs::remove_file(d.hooks().join("qemu.d/10-first")).expect("rm");
    d.clear_log();
    assert!(hooks.is_present("qemu"));
    let outcome = ok(run(&hooks, &START, "guest", None));
    assert!(outcome.nothing_ran());
    hooks.rescan().expect("rescan");
    assert_eq!(hooks.presence("qemu"), Presence::Absent);
}

#[test]
fn an_event_that_rescans_first_sees_a_new_script() {
    let d = HookDir::new();
    let hooks = hooks_for(&d, &["daemon"]);
    assert_eq!(hooks.presence("daemon"), Presence::Absent);
    d.script("daemon", &d.log_argv_line());
    let reload = TestEvent {
        extra: Some("SIGHUP"),
        ..TestEvent::new("daemon", "reload").rescanning()
    };
    let outcome = ok(run(&hooks, &reload, "-", None));
    assert_eq!(d.ran(&outcome.runs), ["daemon"]);
    assert_eq!(d.log(), ["daemon - reload begin SIGHUP"]);
    assert_eq!(hooks.presence("daemon"), Presence::Present);
}

#[test]
fn unregistered_driver_is_an_invalid_argument() {
    let d = HookDir::new();
    d.logging_script("bhyve");
    let hooks = hooks_for(&d, &["qemu"]);
    assert_eq!(hooks.presence("bhyve"), Presence::Unregistered);
    assert!(!hooks.is_present("bhyve"));
    let called = Cell::new(false);
    let f = failed(hooks.run(&TestEvent::new("bhyve", "start"), "g", || {
        called.set(true);
        None
    }));
    assert!(!called.get());
    assert!(f.runs.is_empty());
    assert!(matches!(f.headline(), HookError::InvalidArgument { .. }));
    assert_eq!(d.log(), Vec::<String>::new());
}

#[test]
fn invalid_driver_names_are_refused_at_build() {
    let d = HookDir::new();
    for bad in ["", ".", "..", "a/b", "/abs", "nul\0byte"] {
        let err = Hooks::builder(d.hooks())
            .driver(bad)
            .build()
            .expect_err(&format!("{bad:?} must be refused"));
        assert!(
            matches!(err, HookError::InvalidArgument { .. }),
            "{bad:?}: {err:?}"
        );
    }
    let err = Hooks::builder(d.hooks())
        .drivers(["qemu", "lxc", "qemu"])
        .build()
        .expect_err("a driver registered twice");
    assert!(matches!(err, HookError::InvalidArgument { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

#[test]
fn concurrent_calls_with_a_rescan_loop() {
    const THREADS: usize = 32;
    const ROUNDS: usize = 4;
    let d = HookDir::new();
    let echo = r#"printf '%s|' "$1"; cat"#;
    d.script("qemu", echo);
    d.script("network.d/10-echo", echo);
    let hooks = hooks_for(&d, &["qemu", "lxc", "network"]);
    let drivers = ["qemu", "lxc", "network"];

    let done = AtomicBool::new(false);
    let barrier = Barrier::new(THREADS + 1);
    std::thread::scope(|s| {
        let rescanner = s.spawn(|| {
            barrier.wait();
            let mut scans = 0usize;
            loop {
                hooks.rescan().expect("rescan");
                scans += 1;
                if done.load(Ordering::Acquire) {
                    return scans;
                }
            }
        });
        let workers: Vec<_> = (0..THREADS)
            .map(|i| {
                let (hooks, barrier, d) = (&hooks, &barrier, &d);
                s.spawn(move || {
                    barrier.wait();
                    let driver = drivers[i % drivers.len()];
                    let event = TestEvent::new(driver, "migrate").filter();
                    for round in 0..ROUNDS {
                        let object = format!("t{i}-r{round}");
                        let doc = format!("<doc t='{i}' r='{round}'/>");
                        let called = Cell::new(false);
                        let result = {
                            let _g = exec_guard();
                            hooks.run(&event, &object, || {
                                called.set(true);
                                Some(Cow::Owned(doc.clone().into_bytes()))
                            })
                        };
                        let outcome = ok(result);
                        if driver == "lxc" {
                            assert!(outcome.nothing_ran());
                            assert!(!called.get());
                            continue;
                        }
                        assert!(called.get());
                        let script: PathBuf = match driver {
                            "qemu" => d.hooks().join("qemu"),
                            _ => d.hooks().join("network.d/10-echo"),
                        };
                        assert_eq!(outcome.runs.len(), 1);
                        let report = outcome.runs[0].report.as_ref().expect("report");
                        assert_eq!(report.script, script);
                        assert_eq!(
                            report.args.0.as_ref(),
                            [object.as_str(), "migrate", "begin", "-"]
                        );
                        let expected = format!("{object}|{doc}");
                        assert_eq!(outcome.output.as_deref(), Some(expected.as_bytes()));
                        assert_eq!(outcome.output_from.as_deref(), Some(script.as_path()));
                    }
                })
            })
            .collect();
        let results: Vec<_> = workers.into_iter().map(|w| w.join()).collect();
        done.store(true, Ordering::Release);
        let scans = rescanner.join();
        for r in results {
            if let Err(panic) = r {
                std::panic::resume_unwind(panic);
            }
        }
        match scans {
            Ok(n) => assert!(n >= 1),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    assert_eq!(hooks.presence("qemu"), Presence::Present);
    assert_eq!(hooks.presence("lxc"), Presence::Absent);
    assert_eq!(hooks.presence("network"), Presence::Present);
}

// ---------------------------------------------------------------------------------------------
// A driver defined only here
// ---------------------------------------------------------------------------------------------

/// A `migration` driver built on hook-core's public API alone, as a new driver crate would be.
mod migration {
    use std::fmt;
    use std::str::FromStr;

    use hook_core::driver::parse_operation;
    use hook_core::{Driver, EventSpec, FailurePolicy, HookEvent, Operation, SubOp, UnknownWord};

    /// The driver.
    pub(super) struct Migration;

    impl Driver for Migration {
        const NAME: &'static str = "migration";
    }

    /// Its operations.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(super) enum MigrationOp {
        Prepare,
        Perform,
        Finish,
        Abort,
    }

    impl Operation for MigrationOp {
        const DRIVER: &'static str = Migration::NAME;
        const ALL: &'static [Self] = &[
            MigrationOp::Prepare,
            MigrationOp::Perform,
            MigrationOp::Finish,
            MigrationOp::Abort,
        ];
        fn as_str(self) -> &'static str {
            match self {
                MigrationOp::Prepare => "prepare",
                MigrationOp::Perform => "perform",
                MigrationOp::Finish => "finish",
                MigrationOp::Abort => "abort",
            }
        }
    }

    impl fmt::Display for MigrationOp {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.as_str())
        }
    }

    impl FromStr for MigrationOp {
        type Err = UnknownWord;
        fn from_str(s: &str) -> Result<Self, UnknownWord> {
            parse_operation(s)
        }
    }

    /// One migration event: the peer host goes in argv[4]; `prepare` is a filter.
    pub(super) struct MigrationEvent<'a> {
        pub(super) op: MigrationOp,
        pub(super) peer: &'a str,
    }

    impl HookEvent for MigrationEvent<'_> {
        fn driver(&self) -> &'static str {
            Migration::NAME
        }

        fn spec(&self) -> EventSpec<'_> {
            let (subop, on_failure) = match self.op {
                MigrationOp::Prepare | MigrationOp::Perform => (SubOp::Begin, FailurePolicy::Abort),
                MigrationOp::Finish | MigrationOp::Abort => (SubOp::End, FailurePolicy::Ignore),
            };
            EventSpec {
                op: self.op.as_str(),
                subop,
                extra: Some(self.peer),
                uses_output: self.op == MigrationOp::Prepare,
                on_failure,
                rescans_first: false,
            }
        }
    }
}

#[test]
fn a_driver_defined_outside_core_runs_its_scripts() {
    use hook_core::{FailurePolicy, Operation};
    use migration::{MigrationEvent, MigrationOp};

    for op in MigrationOp::ALL {
        assert_eq!(op.to_string().parse::<MigrationOp>(), Ok(*op));
    }
    let err = "teleport".parse::<MigrationOp>().unwrap_err();
    assert_eq!(err.kind, "migration operation");
    assert_eq!(err.valid, ["prepare", "perform", "finish", "abort"]);

    let d = HookDir::new();
    d.script("migration", &d.log_argv_line());
    d.script(
        "migration.d/50-rewrite",
        &format!("{}; sed s/old/new/", d.log_argv_line()),
    );
    d.script("migration.d/90-refuse-abort", "[ \"$2\" != abort ]");
    let hooks = hooks_for(&d, &["migration"]);

    let perform = MigrationEvent {
        op: MigrationOp::Perform,
        peer: "dst.example",
    };
    let outcome = ok(run(&hooks, &perform, "guest1", Some(b"<domain/>")));
    assert_eq!(
        d.log(),
        [
            "migration guest1 perform begin dst.example",
            "50-rewrite guest1 perform begin dst.example",
        ]
    );
    assert_eq!(outcome.runs.len(), 3);
    assert_eq!(outcome.output, None);
    for r in &outcome.runs {
        let args = &r.report.as_ref().expect("report").args.0;
        assert_eq!(args.as_ref(), ["guest1", "perform", "begin", "dst.example"]);
    }

    let prepare = MigrationEvent {
        op: MigrationOp::Prepare,
        peer: "src.example",
    };
    let outcome = ok(run(&hooks, &prepare, "guest1", Some(b"<old/>")));
    assert_eq!(outcome.output.as_deref(), Some(&b"<new/>"[..]));
    assert_eq!(
        outcome.output_from,
        Some(d.hooks().join("migration.d/50-rewrite"))
    );

    d.clear_log();
    let abort = MigrationEvent {
        op: MigrationOp::Abort,
        peer: "dst.example",
    };
    let f = failed(run(&hooks, &abort, "guest1", None));
    assert_eq!(f.on_failure, FailurePolicy::Ignore);
    assert_eq!((f.driver.as_str(), f.op.as_str()), ("migration", "abort"));
    assert_eq!(
        d.log(),
        [
            "migration guest1 abort end dst.example",
            "50-rewrite guest1 abort end dst.example",
        ]
    );
    assert_eq!(
        f.headline().script(),
        Some(&*d.hooks().join("migration.d/90-refuse-abort"))
    );
}

// ---------------------------------------------------------------------------------------------
// Snapshot of a representative call
// ---------------------------------------------------------------------------------------------

/// What a snapshot shows of one script run: no pid, no duration, paths relative to `hooks/`.
#[derive(Debug)]
#[allow(dead_code)] // read through Debug only
struct RunView {
    script: String,
    args: Vec<String>,
    ending: Option<String>,
    stdout: String,
    stderr: String,
    error: Option<String>,
}

/// What a snapshot shows of one call.
#[derive(Debug)]
#[allow(dead_code)] // read through Debug only
struct CallView {
    succeeded: bool,
    runs: Vec<RunView>,
    output: Option<String>,
    output_from: Option<String>,
    errors: Vec<String>,
    message: Option<String>,
}

fn view(d: &HookDir, result: &Result<Outcome, Box<Failure>>) -> CallView {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let runs_of = |runs: &[hook_core::ScriptRun]| -> Vec<RunView> {
        runs.iter()
            .map(|r| RunView {
                script: d.rel(&r.script),
                args: r
                    .report
                    .as_ref()
                    .map(|rep| rep.args.0.to_vec())
                    .unwrap_or_default(),
                ending: r.report.as_ref().map(|rep| rep.ending.to_string()),
                stdout: r
                    .report
                    .as_ref()
                    .map(|rep| text(&rep.stdout))
                    .unwrap_or_default(),
                stderr: r
                    .report
                    .as_ref()
                    .map(|rep| text(&rep.stderr))
                    .unwrap_or_default(),
                error: r.error.as_ref().map(|e| d.redact(&e.to_string())),
            })
            .collect()
    };
    match result {
        Ok(o) => CallView {
            succeeded: true,
            runs: runs_of(&o.runs),
            output: o.output.as_deref().map(text),
            output_from: o.output_from.as_deref().map(|p| d.rel(p)),
            errors: Vec::new(),
            message: None,
        },
        Err(f) => CallView {
            succeeded: false,
            runs: runs_of(&f.runs),
            output: f.output.as_deref().map(text),
            output_from: None,
            errors: f.errors().map(|e| d.redact(&e.to_string())).collect(),
            message: Some(d.redact(&f.to_string())),
        },
    }
}

#[test]
fn snapshot_of_a_filter_chain_with_a_failure() {
    let d = HookDir::new();
    d.script("qemu", "echo 'main: ONE -> TWO' >&2; sed s/ONE/TWO/");
    d.script("qemu.d/10-fine", "sed s/TWO/THREE/");
    d.script(
        "qemu.d/20-broken",
        "cat >/dev/null; echo '20-broken: no thanks' >&2; exit 3",
    );
    d.script("qemu.d/30-last", "sed s/ONE/LAST/");
    let hooks = hooks_for(&d, &["qemu"]);
    let result = run(&hooks, &MIGRATE, "guest", Some(b"<domain>ONE</domain>\n"));
    insta::assert_debug_snapshot!("filter_chain_with_a_failure", view(&d, &result));
}
