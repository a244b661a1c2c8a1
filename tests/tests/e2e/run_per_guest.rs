//! `virt-hook run` and `lifecycle` when the main hook runs per-guest scripts (issue 20, item 1):
//! with virt-hook's dispatcher installed over the shipped per-guest example, or the VFIO
//! guides' hook helper as the main hook, the commands run the per-guest scripts themselves, as
//! the dispatcher would (sorted, the first failure stops the rest of the directory, its
//! settings), then libvirt's flat `.d` scripts, and report each one: its outcome, the reason a
//! failing one printed on stdout, the scripts skipped after it, a process one left running, and
//! "nothing ran" for a guest without scripts. No outcome depends on timing: durations are
//! redacted, and no script waits for anything.

use std::path::Path;

use insta::assert_snapshot;
use tests::cli_support::{CliRun, HooksTree, virt_hook};

/// The hook helper of the guides (see `per_guest.rs`).
const HOOK_HELPER: &str = include_str!("../../fixtures/hook-helper-qemu");

/// A guest `test` that wants no hugepages: the example's `10-hugepages` succeeds for it
/// whatever the host has.
const DOMAIN: &str =
    "<domain type='kvm'>\n  <name>test</name>\n  <memory unit='KiB'>1048576</memory>\n</domain>\n";

/// The snapshot text of a run: `CliRun::snapshot_in` (`[TMP]`, `[VIRT-HOOK]`, durations).
fn snap(run: &CliRun, t: &HooksTree) -> String {
    run.snapshot_in(t)
}

/// The shipped per-guest example, plus a step that fails with its reason on stdout between
/// the example's two `prepare/begin` scripts (so `20-announce` is skipped), and one of
/// libvirt's flat `.d` scripts (which libvirt runs after the main hook whatever it answered);
/// the guest's XML at `<root>/test.xml`. Nothing is installed as the main hook yet.
fn per_guest_tree() -> HooksTree {
    let t = HooksTree::new();
    tests::cli_support::copy_example(&t);
    t.file(
        "hooks/qemu.d/test/prepare/begin/15-iommu",
        "#!/bin/sh\necho 'checking IOMMU group 14'\necho 'IOMMU group 14 is busy: 0000:0a:00.1 is bound to snd_hda_intel' \nexit 3\n",
        0o755,
    );
    t.file(
        "hooks/qemu.d/50-flat",
        "#!/bin/sh\necho \"flat: $1 $2 $3\" >&2\n",
        0o755,
    );
    t.file("test.xml", DOMAIN, 0o644);
    t
}

/// The tree with virt-hook's dispatcher installed as `qemu`.
fn with_dispatcher() -> HooksTree {
    let t = per_guest_tree();
    let run = t.run(&["install"]);
    assert_eq!(run.code, 0, "{run:?}");
    t
}

fn domain(t: &HooksTree) -> String {
    t.root().join("test.xml").display().to_string()
}

#[test]
fn run_under_the_dispatcher_names_each_per_guest_script() {
    let t = with_dispatcher();
    let xml = domain(&t);
    let run = t.run(&["run", "qemu", "prepare", "--domain", &xml]);
    assert_eq!(run.code, 1, "{run:?}");
    for (what, needle) in [
        (
            "the first script",
            "ok      qemu.d/test/prepare/begin/10-hugepages",
        ),
        (
            "the failing one",
            "FAILED  qemu.d/test/prepare/begin/15-iommu",
        ),
        ("its stdout reason", "IOMMU group 14 is busy"),
        (
            "the skipped one",
            "skipped qemu.d/test/prepare/begin/20-announce",
        ),
        ("libvirt's flat script", "ok      qemu.d/50-flat"),
    ] {
        assert!(run.stdout.contains(needle), "{what}: {}", run.stdout);
    }
    assert!(
        !run.stdout.contains("FAILED  qemu "),
        "the dispatcher is not run as a black box: {}",
        run.stdout
    );
    assert_snapshot!(snap(&run, &t));

    let run = t.run(&["run", "qemu", "prepare", "--domain", &xml, "--json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("\"run_by\": \"dispatcher\""),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("\"status\": \"skipped\""),
        "{}",
        run.stdout
    );
    assert_snapshot!("run_under_the_dispatcher_json", snap(&run, &t));
}

#[test]
fn lifecycle_under_the_dispatcher_names_each_per_guest_script() {
    let t = with_dispatcher();
    let xml = domain(&t);
    let run = t.run(&["lifecycle", "qemu", "--domain", &xml]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("IOMMU group 14 is busy")
            && run
                .stdout
                .contains("skipped qemu.d/test/prepare/begin/20-announce")
            && run
                .stdout
                .contains("ok      qemu.d/test/release/end/10-announce"),
        "{}",
        run.stdout
    );
    assert_snapshot!(snap(&run, &t));

    let run = t.run(&["lifecycle", "qemu", "--domain", &xml, "--json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_snapshot!("lifecycle_under_the_dispatcher_json", snap(&run, &t));
}

/// The guides' hook helper as the main hook: the same report (its scripts are run as the
/// dispatcher would run them, which is what `virt-hook install` would make of it).
#[test]
fn run_under_the_hook_helper_names_each_per_guest_script() {
    let t = per_guest_tree();
    t.file("hooks/qemu", HOOK_HELPER, 0o755);
    let xml = domain(&t);
    let run = t.run(&["run", "qemu", "prepare", "--domain", &xml]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("main hook: the hook helper")
            && run.stdout.contains("IOMMU group 14 is busy")
            && run
                .stdout
                .contains("skipped qemu.d/test/prepare/begin/20-announce"),
        "{}",
        run.stdout
    );
    assert_snapshot!(snap(&run, &t));
    let run = t.run(&["lifecycle", "qemu", "--domain", &xml, "--json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("\"run_by\": \"hook-helper\""),
        "{}",
        run.stdout
    );
}

/// A guest without per-guest scripts for the event: said so, not "ok".
#[test]
fn run_for_a_guest_without_scripts_says_nothing_ran_for_it() {
    let t = with_dispatcher();
    std::fs::remove_file(t.hooks().join("qemu.d/50-flat")).unwrap();
    let xml = domain(&t);
    let run = t.run(&[
        "run", "qemu", "prepare", "--domain", &xml, "--object", "nobody",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("no script for nobody at this event")
            && run.stdout.contains("result: nothing ran for nobody"),
        "{}",
        run.stdout
    );
    assert_snapshot!(snap(&run, &t));
    let run = t.run(&[
        "run", "qemu", "prepare", "--domain", &xml, "--object", "nobody", "--json",
    ]);
    assert!(
        run.stdout.contains("\"result\": \"nothing-ran\"") && run.stdout.contains("\"scripts\": 0"),
        "{}",
        run.stdout
    );
}

/// A per-guest script that leaves a background process holding its output: reported as left
/// running (the run does not wait for it).
#[test]
fn a_process_left_running_is_reported() {
    let t = with_dispatcher();
    let root = t.root().display().to_string();
    t.dir("hooks/qemu.d/test/started/begin", 0o755);
    t.file(
        "hooks/qemu.d/test/started/begin/10-daemon",
        &format!("#!/bin/sh\necho $$ > '{root}/script.pid'\nsleep 600 &\nexit 0\n"),
        0o755,
    );
    let xml = domain(&t);
    let run = t.run(&["run", "qemu", "started", "--domain", &xml, "--json"]);
    let pid: u32 = std::fs::read_to_string(t.root().join("script.pid"))
        .expect("the script wrote its pid")
        .trim()
        .parse()
        .unwrap();
    let _cleanup = tests::KillGroupOnDrop(pid);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("\"left_running\": true"),
        "{}",
        run.stdout
    );
}

/// The report is written as each script ends, also when stdout is no terminal (a file here):
/// the second script finds the first one's line already in the file before it runs. No
/// timing: the line is flushed before the next script starts. `-v` traces each script.
#[test]
fn each_script_is_reported_before_the_next_starts() {
    let t = with_dispatcher();
    let root = t.root().display().to_string();
    t.dir("hooks/qemu.d/test/started/begin", 0o755);
    t.file(
        "hooks/qemu.d/test/started/begin/10-first",
        "#!/bin/sh\nexit 0\n",
        0o755,
    );
    t.file(
        "hooks/qemu.d/test/started/begin/20-second",
        &format!(
            "#!/bin/sh\ngrep -q 'ok      qemu.d/test/started/begin/10-first' '{root}/out.txt' || {{ echo 'the first line was not written yet'; exit 1; }}\n"
        ),
        0o755,
    );
    let command = format!(
        "exec '{}' -v --hooks-dir '{}' run qemu started --domain '{}' > '{root}/out.txt'",
        virt_hook().display(),
        t.hooks().display(),
        domain(&t),
    );
    let run = tests::cli_support::program_run(Path::new("/bin/sh"), &["-c", &command], &[], None);
    let out = std::fs::read_to_string(t.root().join("out.txt")).unwrap();
    assert_eq!(run.code, 0, "{run:?}\n{out}");
    assert!(
        out.contains("ok      qemu.d/test/started/begin/20-second"),
        "{out}"
    );
    assert!(
        run.stderr.contains("script reported") && run.stderr.contains("20-second"),
        "-v traces each script: {}",
        run.stderr
    );
}

/// A settings file the dispatcher cannot use: for `prepare` it refuses (no per-guest script
/// runs, the event fails, libvirt's flat script still runs), for `release` the scripts run with
/// the default settings; each says so.
#[test]
fn unusable_settings_are_handled_as_the_dispatcher_does() {
    let t = with_dispatcher();
    std::fs::write(t.hooks().join("virt-hook.toml"), "timeout = \"5 mins\"\n").unwrap();
    let xml = domain(&t);
    let run = t.run(&["run", "qemu", "prepare", "--domain", &xml]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("no per-object script was run")
            && run
                .stdout
                .contains("not run qemu.d/test/prepare/begin/10-hugepages")
            && run.stdout.contains("ok      qemu.d/50-flat")
            && run
                .stdout
                .contains("result: the dispatcher refused the event"),
        "{}",
        run.stdout
    );
    let run = t.run(&["run", "qemu", "release", "--domain", &xml]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("the scripts run with the default settings")
            && run
                .stdout
                .contains("ok      qemu.d/test/release/end/10-announce"),
        "{}",
        run.stdout
    );
}

/// SIGINT to `lifecycle` while a per-guest `prepare` script runs: the report names the
/// interrupted script, the scripts not started (the rest of its directory and libvirt's flat
/// one) and the events not fired, and nothing else (issue 20, item 5). The signal is sent once
/// the script has written virt-hook's pid: no timing.
#[test]
fn an_interrupted_lifecycle_names_what_did_not_run() {
    let t = with_dispatcher();
    let root = t.root().display().to_string();
    std::fs::remove_file(t.hooks().join("qemu.d/test/prepare/begin/15-iommu")).unwrap();
    t.file(
        "hooks/qemu.d/test/prepare/begin/15-iommu",
        &format!(
            "#!/bin/sh\necho $$ > '{root}/script.pid'\necho $PPID > '{root}/cli.pid'\nexec sleep 600\n"
        ),
        0o755,
    );
    let xml = domain(&t);
    let read = |name: &str| -> Option<i32> {
        std::fs::read_to_string(t.root().join(name))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    let run = std::thread::scope(|s| {
        let call = s.spawn(|| t.run(&["lifecycle", "qemu", "--domain", &xml]));
        let mut cli = None;
        for _ in 0..6000 {
            cli = read("cli.pid");
            if cli.is_some() || call.is_finished() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let cli = cli.expect("the per-guest script never started");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(cli),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
        call.join().unwrap()
    });
    let script = read("script.pid").expect("the script wrote its pid");
    let _cleanup = tests::KillGroupOnDrop(script as u32);
    assert_eq!(run.code, 130, "{run:?}");
    assert!(tests::wait_group_dead(script, tests::GONE_WITHIN).is_empty());
    assert_snapshot!(snap(&run, &t));
}
