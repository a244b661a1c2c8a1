//! The per-object layout (`<driver>.d/<object>/<op>/<subop>/`, the hook helper's) through
//! [`Hooks`] with real scripts: what runs and in which order under each [`Layout`], the whole
//! document to every script, filter chaining, stopping at the first failure, presence, words
//! that are not plain names, unreadable parts of the tree, and the listing.

use std::path::Path;

use hook_core::discover::{self, SkipReason};
use hook_core::{HookError, Hooks, Layout, Presence};
use tests::hookdir::{HookDir, TestEvent, failed, name_of, ok, run, sh_quote};

/// `prepare begin -` (TestEvent's sub-op is always `begin`).
const PREPARE: TestEvent = TestEvent::new("qemu", "prepare");
const MIGRATE: TestEvent = TestEvent::new("qemu", "migrate").filter();

fn hooks(d: &HookDir, layout: Layout) -> Hooks {
    Hooks::builder(d.hooks())
        .driver("qemu")
        .layout(layout)
        .build()
        .expect("build Hooks")
}

/// A script that appends its name and argv to the log and copies its stdin to
/// `<root>/in.<name>`.
fn recording(d: &HookDir, rel: &str) {
    let name = name_of(Path::new(rel));
    let rec = sh_quote(&d.root().join(format!("in.{name}")));
    d.script(rel, &format!("{}\ncat > {rec}", d.log_argv_line()));
}

#[test]
fn per_object_scripts_run_bytewise_each_with_argv_and_the_whole_document() {
    let d = HookDir::new();
    for n in ["20-b", "10-a", "9-c", ".dot", "b~"] {
        recording(&d, &format!("qemu.d/win10/prepare/begin/{n}"));
    }
    d.file("qemu.d/win10/prepare/begin/empty", "", 0o755);
    d.file(
        "qemu.d/win10/prepare/begin/notes",
        "#!/bin/sh\nexit 1\n",
        0o644,
    );
    recording(&d, "qemu.d/win10/prepare/begin/deeper/not-searched");
    recording(&d, "qemu.d/win10/prepare/end/other-subop");
    recording(&d, "qemu.d/win10/start/begin/other-op");
    recording(&d, "qemu.d/other-guest/prepare/begin/other-object");
    let doc = b"<domain><name>win10</name>\n<memory>1</memory></domain>\n";

    let outcome = ok(run(
        &hooks(&d, Layout::PerObjectOnly),
        &PREPARE,
        "win10",
        Some(doc),
    ));

    let expected = [".dot", "10-a", "20-b", "9-c", "b~"];
    let base = "qemu.d/win10/prepare/begin/";
    assert_eq!(d.ran(&outcome.runs), expected.map(|n| format!("{base}{n}")));
    assert_eq!(
        d.log(),
        expected.map(|n| format!("{n} win10 prepare begin -")),
        "each got libvirt's argv, in bytewise order"
    );
    for n in expected {
        assert_eq!(
            d.read_root(format!("in.{n}")),
            doc,
            "{n} got the whole document"
        );
    }
}

#[test]
fn an_executable_file_at_the_subop_path_is_the_one_script() {
    let d = HookDir::new();
    recording(&d, "qemu.d/win10/prepare/begin");
    let outcome = ok(run(
        &hooks(&d, Layout::PerObjectOnly),
        &PREPARE,
        "win10",
        Some(b"<domain/>"),
    ));
    assert_eq!(d.ran(&outcome.runs), ["qemu.d/win10/prepare/begin"]);
    assert_eq!(d.log(), ["begin win10 prepare begin -"]);

    // An empty one is a no-op, as under the helper (which tests -s).
    let d = HookDir::new();
    d.file("qemu.d/win10/prepare/begin", "", 0o755);
    let h = hooks(&d, Layout::PerObjectOnly);
    assert_eq!(h.presence("qemu"), Presence::Absent);
    assert!(ok(run(&h, &PREPARE, "win10", None)).nothing_ran());
}

#[test]
fn each_layout_runs_its_own_set_in_the_documented_order() {
    let d = HookDir::new();
    d.logging_script("qemu");
    d.logging_script("qemu.d/flat");
    d.logging_script("qemu.d/win10/prepare/begin/object");

    let libvirt = ok(run(&hooks(&d, Layout::Libvirt), &PREPARE, "win10", None));
    assert_eq!(d.ran(&libvirt.runs), ["qemu", "qemu.d/flat"]);

    let per_object = ok(run(&hooks(&d, Layout::PerObject), &PREPARE, "win10", None));
    assert_eq!(
        d.ran(&per_object.runs),
        ["qemu", "qemu.d/win10/prepare/begin/object", "qemu.d/flat"],
        "the per-object scripts run in the main script's place, as under virt-hook dispatch"
    );

    let only = ok(run(
        &hooks(&d, Layout::PerObjectOnly),
        &PREPARE,
        "win10",
        None,
    ));
    assert_eq!(d.ran(&only.runs), ["qemu.d/win10/prepare/begin/object"]);

    // Another guest: only libvirt's scripts.
    let other = ok(run(&hooks(&d, Layout::PerObject), &PREPARE, "other", None));
    assert_eq!(d.ran(&other.runs), ["qemu", "qemu.d/flat"]);
}

#[test]
fn the_first_failing_per_object_script_stops_them_but_not_libvirts() {
    let d = HookDir::new();
    let base = "qemu.d/win10/prepare/begin";
    d.logging_script(format!("{base}/10-ok"));
    d.script(
        format!("{base}/20-fails"),
        &format!(
            "{}\necho 'no vfio-pci module' >&2\nexit 3",
            d.log_name_line()
        ),
    );
    d.logging_script(format!("{base}/30-never"));
    d.logging_script("qemu.d/flat-still-runs");

    let f = failed(run(&hooks(&d, Layout::PerObject), &PREPARE, "win10", None));
    assert_eq!(d.log(), ["10-ok", "20-fails", "flat-still-runs"]);
    match f.headline() {
        HookError::Exited { script, code, .. } => {
            assert_eq!(name_of(script), "20-fails");
            assert_eq!(*code, 3);
        }
        other => panic!("expected Exited, got {other:?}"),
    }
    assert_eq!(f.errors().count(), 1);
}

#[test]
fn a_per_object_script_without_shebang_runs_under_a_shell_and_libvirts_does_not() {
    let d = HookDir::new();
    let log = sh_quote(d.log_path());
    // No #! line: the hook helper's bash ran such a file itself; libvirt execs it and fails.
    // The shell gets the script's path as $0 and libvirt's four words, and the document.
    let body = format!(
        "echo \"$(basename \"$0\") $1 $2 $3 $4 $(wc -c)\" >> {log}\n[ -n \"$BASH_VERSION\" ] && \
         echo bash >> {log}\nexit 0\n"
    );
    d.file("qemu.d/win10/prepare/begin/10-no-shebang", &body, 0o755);
    d.file("qemu.d/flat-no-shebang", &body, 0o755);
    let doc = b"<domain><name>win10</name></domain>\n";

    let f = failed(run(
        &hooks(&d, Layout::PerObject),
        &PREPARE,
        "win10",
        Some(doc),
    ));
    assert_eq!(
        d.log(),
        ["10-no-shebang win10 prepare begin - 36", "bash"],
        "the per-object script ran under /bin/bash with argv and the document"
    );
    assert_eq!(f.errors().count(), 1, "libvirt's own .d script still fails");
    match f.headline() {
        HookError::NotStarted { script, reason, .. } => {
            assert_eq!(name_of(script), "flat-no-shebang");
            assert_eq!(*reason, hook_core::SpawnFailure::NoShebang);
        }
        other => panic!("expected NotStarted, got {other:?}"),
    }
}

#[test]
fn without_bash_a_script_without_shebang_runs_under_the_next_shell() {
    use hook_core::{Invocation, Limits, Runner};
    let d = HookDir::new();
    let script = d.file("no-shebang", "echo \"ran: $0 $1\"\n", 0o755);
    // A stand-in for /bin/sh that says it was used, after a bash that is not there.
    let fake_sh = d.file(
        "fake-sh",
        "#!/bin/sh\necho fake-sh >&2\nexec /bin/sh \"$@\"\n",
        0o755,
    );
    let shells: &'static [&'static str] = Box::leak(Box::new([
        "/nonexistent/bash",
        String::from(fake_sh.to_str().unwrap()).leak() as &str,
    ]));
    let inv = Invocation {
        script: &script,
        args: &["win10"],
        stdin: None,
        capture_stdout: true,
    };
    let runner = Runner::default().with_no_shebang_shells(shells);
    let report = {
        let _g = tests::exec_guard();
        runner.run_with_shell_fallback(&inv, &Limits::default())
    }
    .expect("started by the fallback shell");
    assert!(report.success(), "{report:?}");
    assert_eq!(String::from_utf8_lossy(&report.stderr), "fake-sh\n");
    assert_eq!(
        String::from_utf8_lossy(&report.stdout),
        format!("ran: {} win10\n", script.display())
    );
    assert_eq!(
        report.script, script,
        "the report names the script, not the shell"
    );

    // No shell at all: the run fails as without the fallback, naming the script.
    let runner =
        Runner::default().with_no_shebang_shells(&["/nonexistent/bash", "/nonexistent/sh"]);
    let err = {
        let _g = tests::exec_guard();
        runner.run_with_shell_fallback(&inv, &Limits::default())
    }
    .expect_err("nothing can run it");
    assert!(
        matches!(&err, HookError::NotStarted { reason: hook_core::SpawnFailure::NoShebang, script: s, .. } if *s == script),
        "{err:?}"
    );
    // And run_with never falls back.
    let err = {
        let _g = tests::exec_guard();
        Runner::default().run_with(&inv, &Limits::default())
    }
    .expect_err("libvirt's behaviour");
    assert!(matches!(err, HookError::NotStarted { .. }), "{err:?}");
}

#[test]
fn filters_chain_through_per_object_scripts_then_d() {
    let d = HookDir::new();
    let tag = |t: &str| format!("sed 's/$/ +{t}/'");
    d.script("qemu.d/win10/migrate/begin/1", &tag("one"));
    d.script("qemu.d/win10/migrate/begin/2", "cat >/dev/null"); // prints nothing: no change
    d.script("qemu.d/win10/migrate/begin/3", &tag("three"));
    d.script("qemu.d/z-flat", &tag("flat"));

    let outcome = ok(run(
        &hooks(&d, Layout::PerObject),
        &MIGRATE,
        "win10",
        Some(b"<domain/>\n"),
    ));
    assert_eq!(
        outcome.output.as_deref(),
        Some(&b"<domain/> +one +three +flat\n"[..])
    );
    assert_eq!(
        d.rel(outcome.output_from.as_deref().unwrap()),
        "qemu.d/z-flat"
    );

    let only = ok(run(
        &hooks(&d, Layout::PerObjectOnly),
        &MIGRATE,
        "win10",
        Some(b"<domain/>\n"),
    ));
    assert_eq!(
        only.output.as_deref(),
        Some(&b"<domain/> +one +three\n"[..])
    );
}

#[test]
fn presence_follows_the_layout() {
    let d = HookDir::new();
    d.logging_script("qemu.d/win10/prepare/begin/a");
    assert_eq!(
        hooks(&d, Layout::Libvirt).presence("qemu"),
        Presence::Absent
    );
    assert_eq!(
        hooks(&d, Layout::PerObject).presence("qemu"),
        Presence::Present
    );
    assert_eq!(
        hooks(&d, Layout::PerObjectOnly).presence("qemu"),
        Presence::Present
    );

    // Flat scripts alone are not per-object scripts.
    let d = HookDir::new();
    d.logging_script("qemu");
    d.logging_script("qemu.d/flat");
    d.file(
        "qemu.d/win10/prepare/begin/not-executable",
        "#!/bin/sh\n",
        0o644,
    );
    assert_eq!(
        hooks(&d, Layout::PerObject).presence("qemu"),
        Presence::Present
    );
    assert_eq!(
        hooks(&d, Layout::PerObjectOnly).presence("qemu"),
        Presence::Absent
    );
}

#[test]
fn words_that_are_not_plain_names_run_nothing() {
    let d = HookDir::new();
    // What `qemu.d/../prepare/begin` would reach if a guest were named `..`.
    d.logging_script("prepare/begin/escaped");
    d.logging_script("qemu.d/prepare/begin/escaped-too");
    d.logging_script("qemu.d/win10/prepare/begin/a");
    let h = hooks(&d, Layout::PerObjectOnly);
    for object in ["..", ".", "", "a/b", "win10/.."] {
        let outcome = ok(run(&h, &PREPARE, object, None));
        assert!(outcome.nothing_ran(), "{object:?} ran {:?}", outcome.runs);
    }
    assert!(d.log().is_empty());
}

#[test]
fn an_unreadable_part_of_the_tree_fails_the_call_and_nothing_there_is_nothing() {
    let d = HookDir::new();
    d.symlink("qemu.d/win10/prepare/begin", "begin"); // a loop
    d.logging_script("qemu.d/flat-guest"); // a flat script where a guest directory would be
    d.symlink("qemu.d/dangling/prepare/begin", "../../nowhere");
    let h = hooks(&d, Layout::PerObjectOnly);

    let f = failed(run(&h, &PREPARE, "win10", None));
    assert!(f.runs.is_empty());
    match &f.dir_error {
        Some(HookError::DirUnreadable {
            driver,
            path,
            source,
        }) => {
            assert_eq!(driver, "qemu");
            assert_eq!(d.rel(path), "qemu.d/win10/prepare/begin");
            assert_eq!(source.raw_os_error(), Some(libc::ELOOP));
        }
        other => panic!("expected DirUnreadable, got {other:?}"),
    }
    assert!(ok(run(&h, &PREPARE, "flat-guest", None)).nothing_ran());
    assert!(ok(run(&h, &PREPARE, "dangling", None)).nothing_ran());
    assert!(d.log().is_empty());

    let listing = discover::list_objects(d.hooks(), "qemu");
    let loop_entry = listing.entry("win10", "prepare", "begin").unwrap();
    assert!(loop_entry.error.is_some(), "{loop_entry:?}");
    let dangling = listing.entry("dangling", "prepare", "begin").unwrap();
    assert!(dangling.error.is_none());
    assert_eq!(dangling.skipped[0].reason, SkipReason::BrokenSymlink);
}

#[test]
fn the_listing_shows_every_entry_in_run_order_and_what_does_not_run() {
    let d = HookDir::new();
    d.logging_script("qemu.d/flat"); // libvirt's: discover::list reports it, not list_objects
    d.logging_script("qemu.d/win10/prepare/begin/20-b");
    d.logging_script("qemu.d/win10/prepare/begin/10-a");
    d.file("qemu.d/win10/prepare/begin/empty", "", 0o755);
    d.file("qemu.d/win10/prepare/begin/off", "#!/bin/sh\n", 0o644);
    d.logging_script("qemu.d/win10/prepare/begin/dir/deep");
    d.logging_script("qemu.d/win10/release/end"); // the one script, a file
    d.file("qemu.d/win10/README", "notes\n", 0o644);
    d.logging_script("qemu.d/win10/prepare/stray");
    d.script("qemu.d/win10/prepare/begin/ww", "true");
    std::fs::set_permissions(
        d.hooks().join("qemu.d/win10/prepare/begin/ww"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();

    let l = discover::list_objects(d.hooks(), "qemu");
    assert_eq!(l.driver, "qemu");
    assert_eq!(l.d_error, None);
    let entries: Vec<(String, Vec<String>)> = l
        .entries
        .iter()
        .map(|e| {
            (
                format!("{}/{}/{}", e.object, e.op, e.subop),
                e.scripts.iter().map(|s| d.rel(s)).collect(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            (
                "win10/prepare/begin".to_owned(),
                vec![
                    "qemu.d/win10/prepare/begin/10-a".to_owned(),
                    "qemu.d/win10/prepare/begin/20-b".to_owned(),
                    "qemu.d/win10/prepare/begin/ww".to_owned(),
                ]
            ),
            (
                "win10/prepare/stray".to_owned(),
                vec!["qemu.d/win10/prepare/stray".to_owned()]
            ),
            (
                "win10/release/end".to_owned(),
                vec!["qemu.d/win10/release/end".to_owned()]
            ),
        ],
        "a file at <object>/<op>/<x> is the one script of sub-op <x>, as under the helper"
    );
    let begin = l.entry("win10", "prepare", "begin").unwrap();
    let skipped: Vec<(String, SkipReason)> = begin
        .skipped
        .iter()
        .map(|s| (name_of(&s.path), s.reason.clone()))
        .collect();
    assert_eq!(
        skipped,
        [
            ("dir".to_owned(), SkipReason::Directory),
            ("empty".to_owned(), SkipReason::Empty),
            ("off".to_owned(), SkipReason::NotExecutable),
        ]
    );
    assert!(
        begin.warnings.iter().any(|w| name_of(&w.path) == "ww"
            && w.kind == hook_core::discover::WarningKind::WorldWritable),
        "{:?}",
        begin.warnings
    );
    let stray: Vec<(String, SkipReason)> = l
        .skipped
        .iter()
        .map(|s| (d.rel(&s.path), s.reason.clone()))
        .collect();
    assert_eq!(
        stray,
        [("qemu.d/win10/README".to_owned(), SkipReason::OutsideLayout)]
    );
    assert_eq!(l.scripts().count(), 5);

    // What the listing says runs is what a call runs.
    let h = hooks(&d, Layout::PerObjectOnly);
    let outcome = ok(run(&h, &PREPARE, "win10", None));
    assert_eq!(
        outcome.runs.iter().map(|r| &r.script).collect::<Vec<_>>(),
        begin.scripts.iter().collect::<Vec<_>>()
    );
}

#[test]
fn strict_trust_covers_the_per_object_directories() {
    let d = HookDir::new();
    d.logging_script("qemu.d/win10/prepare/begin/a");
    let dir = d.hooks().join("qemu.d/win10");
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let h = Hooks::builder(d.hooks())
        .driver("qemu")
        .layout(Layout::PerObjectOnly)
        .strict_trust(true)
        .build()
        .unwrap();
    let f = failed(run(&h, &PREPARE, "win10", None));
    match f.headline() {
        HookError::Untrusted { path, .. } => assert_eq!(path, &dir),
        other => panic!("expected Untrusted, got {other:?}"),
    }
    assert!(d.log().is_empty());
}
