//! `virt-hook` as libvirt's main hook script (dispatch mode), run the way libvirt runs it:
//! `<hooks>/qemu` is a symlink to the built binary (or a one-line wrapper), and the test acts as
//! the daemon through hook-core with libvirt's own layout ([`Layout::Libvirt`]: the main
//! script, then `qemu.d/*`), calling the driver crates' functions, or through `virt-hook run`.
//! Covered: per-guest scripts in order with the whole document each, filters chained through
//! the dispatcher to the caller, the one-line failure message, the timeout kill, a background
//! child holding a script's output, the settings file, and the system log lines.

use std::os::unix::net::UnixDatagram;
use std::path::Path;

use hook_core::{HookError, Hooks, Layout, ScriptEnv, ShutoffReason};
use hook_qemu::Domain;
use insta::assert_snapshot;
use tests::cli_support::{virt_hook, virt_hook_run};
use tests::drivers_support::fixture;
use tests::hookdir::{HookDir, exec_guard, sh_quote};
use tests::{KillGroupOnDrop, proc_stat, wait_process_dead};

/// A hooks directory whose `qemu` is virt-hook (a symlink, as `virt-hook install` makes it),
/// with a settings file that keeps the system log out of the tests unless one asks for it.
fn dispatcher_dir(settings: &str) -> HookDir {
    let d = HookDir::new();
    d.symlink("qemu", virt_hook());
    d.file("virt-hook.toml", settings, 0o644);
    d
}

/// The daemon: hook-core with exactly libvirt's behaviour.
fn daemon(d: &HookDir) -> Hooks {
    Hooks::builder(d.hooks())
        .drivers([hook_qemu::NAME, hook_daemon::NAME])
        .layout(Layout::Libvirt)
        .build()
        .expect("build Hooks")
}

fn domain() -> Domain {
    Domain::parse(fixture("domain-test.xml")).expect("the fixture parses")
}

/// A script that logs its name and argv and copies its stdin to `<root>/in.<name>`.
fn recording(d: &HookDir, rel: &str) {
    let name = Path::new(rel).file_name().unwrap().to_string_lossy();
    let rec = sh_quote(&d.root().join(format!("in.{name}")));
    d.script(rel, &format!("{}\ncat > {rec}", d.log_argv_line()));
}

const BASE: &str = "qemu.d/test/prepare/begin";

#[test]
fn per_guest_scripts_run_in_order_each_with_the_whole_document() {
    let d = dispatcher_dir("log = \"none\"\n");
    for n in ["20-b", "10-a", "9-c"] {
        recording(&d, &format!("{BASE}/{n}"));
    }
    recording(&d, "qemu.d/test/start/begin/not-this-event");
    recording(&d, "qemu.d/other/prepare/begin/not-this-guest");
    recording(&d, "qemu.d/flat"); // libvirt's own: run by libvirt after the main script
    let hooks = daemon(&d);
    assert!(hooks.is_present("qemu"));

    let outcome = {
        let _g = exec_guard();
        hook_qemu::prepare(&hooks, &domain()).unwrap_or_else(|f| panic!("{f}"))
    };

    let ran: Vec<String> = outcome.runs.iter().map(|r| d.rel(&r.script)).collect();
    assert_eq!(ran, ["qemu", "qemu.d/flat"], "what libvirt itself ran");
    assert_eq!(
        d.log(),
        [
            "10-a test prepare begin -",
            "20-b test prepare begin -",
            "9-c test prepare begin -",
            "flat test prepare begin -",
        ],
        "the per-guest scripts in bytewise order, each once, then libvirt's .d script once"
    );
    let doc = fixture("domain-test.xml");
    for n in ["10-a", "20-b", "9-c", "flat"] {
        assert_eq!(
            d.read_root(format!("in.{n}")),
            doc,
            "{n} got the whole document"
        );
    }
}

#[test]
fn filters_chain_through_the_dispatcher_to_the_caller() {
    let d = dispatcher_dir("log = \"none\"\n");
    let base = "qemu.d/test/migrate/begin";
    d.script(
        format!("{base}/1-memory"),
        "sed 's|<memory unit=.KiB.>8388608</memory>|<memory unit='\"'\"'KiB'\"'\"'>4194304</memory>|'",
    );
    d.script(format!("{base}/2-silent"), "cat > /dev/null");
    d.script(
        format!("{base}/3-vcpu"),
        "sed 's|<vcpu placement=.static.>2</vcpu>|<vcpu placement='\"'\"'static'\"'\"'>4</vcpu>|'",
    );
    d.script(
        "qemu.d/z-flat",
        "sed 's|<on_crash>destroy</on_crash>|<on_crash>restart</on_crash>|'",
    );
    let hooks = daemon(&d);

    let filtered = {
        let _g = exec_guard();
        hook_qemu::migrate(&hooks, &domain()).unwrap_or_else(|f| panic!("{f}"))
    };
    let xml = String::from_utf8(filtered.replacement.expect("changed").into_bytes()).unwrap();
    assert!(xml.contains("<memory unit='KiB'>4194304</memory>"), "{xml}");
    assert!(xml.contains("<vcpu placement='static'>4</vcpu>"), "{xml}");
    assert!(
        xml.contains("<on_crash>restart</on_crash>"),
        "libvirt's .d filter got the dispatcher's result: {xml}"
    );

    // Nothing changed by any per-guest script: the dispatcher prints nothing, and libvirt keeps
    // its document (no flat filter this time).
    let d = dispatcher_dir("log = \"none\"\n");
    d.script(format!("{base}/only-reads"), "cat > /dev/null");
    d.script(format!("{base}/prints-it-back"), "cat");
    let hooks = daemon(&d);
    let filtered = {
        let _g = exec_guard();
        hook_qemu::migrate(&hooks, &domain()).unwrap_or_else(|f| panic!("{f}"))
    };
    assert!(filtered.is_unchanged());
    assert!(
        filtered.outcome.runs[0]
            .report
            .as_ref()
            .unwrap()
            .stdout
            .is_empty()
    );
}

#[test]
fn a_failing_per_guest_script_is_one_line_naming_it() {
    let d = dispatcher_dir("log = \"none\"\n");
    d.logging_script(format!("{BASE}/10-ok"));
    d.script(
        format!("{BASE}/20-vfio"),
        &format!(
            "{}\necho 'modprobe: FATAL: Module vfio-pci not found in directory /lib/modules/6.1.0' >&2\n\
             echo 'giving up' >&2\nexit 3",
            d.log_name_line()
        ),
    );
    d.logging_script(format!("{BASE}/30-never"));
    d.logging_script("qemu.d/flat");
    let hooks = daemon(&d);

    let failure = {
        let _g = exec_guard();
        hook_qemu::prepare(&hooks, &domain()).expect_err("the start is refused")
    };
    assert_eq!(
        d.log(),
        ["10-ok", "20-vfio", "flat"],
        "the dispatcher stopped at the failure; libvirt still ran its .d script"
    );
    let line = "virt-hook: qemu.d/test/prepare/begin/20-vfio: exit 3: modprobe: FATAL: Module \
                vfio-pci not found in directory /lib/modules/6.1.0 | giving up\n";
    match failure.headline() {
        HookError::Exited {
            script,
            code,
            stderr,
            ..
        } => {
            assert_eq!(d.rel(script), "qemu");
            assert_eq!(*code, 1);
            assert_eq!(String::from_utf8_lossy(stderr), line);
        }
        other => panic!("expected Exited, got {other:?}"),
    }
    // What `virsh start` shows: libvirt's wording around the dispatcher's line.
    let env = ScriptEnv::libvirt_from(|name| match name {
        "PATH" => Some("/usr/sbin:/usr/bin".into()),
        "USER" => Some("root".into()),
        _ => None,
    });
    let shown = hook_core::libvirt::libvirt_message(failure.headline(), &env);
    assert_snapshot!("virsh_start_error", d.redact(&shown));
}

/// `virt-hook run` with the dispatcher as the main hook runs the per-guest scripts itself and
/// reports each one (issue 20), not the dispatcher's one line.
#[test]
fn virt_hook_run_reports_each_per_guest_script() {
    let d = dispatcher_dir("log = \"none\"\n");
    d.script(
        format!("{BASE}/20-vfio"),
        "echo 'modprobe: FATAL: Module vfio-pci not found' >&2\nexit 3",
    );
    let xml = d.root().join("test.xml");
    std::fs::write(&xml, fixture("domain-test.xml")).unwrap();
    let run = virt_hook_run(
        &[
            "--hooks-dir",
            &d.hooks().to_string_lossy(),
            "run",
            "qemu",
            "prepare",
            "--domain",
            &xml.to_string_lossy(),
        ],
        &[("NO_COLOR", "1")],
        None,
    );
    assert_eq!(run.code, 1);
    assert_snapshot!("virt_hook_run_failing_guest_script", run.snapshot(d.root()));
}

#[test]
fn a_wrapper_script_dispatches_like_the_symlink() {
    let d = HookDir::new();
    d.file("virt-hook.toml", "log = \"none\"\n", 0o644);
    d.script(
        "qemu",
        &format!(
            "exec {} --hooks-dir {} dispatch qemu \"$@\"",
            sh_quote(&virt_hook()),
            sh_quote(d.hooks())
        ),
    );
    recording(&d, &format!("{BASE}/only"));
    let hooks = daemon(&d);
    {
        let _g = exec_guard();
        hook_qemu::prepare(&hooks, &domain()).unwrap_or_else(|f| panic!("{f}"));
    }
    assert_eq!(d.log(), ["only test prepare begin -"]);
    assert_eq!(d.read_root("in.only"), fixture("domain-test.xml"));
}

#[test]
fn the_timeout_kills_the_script_with_its_process_group() {
    // The script must have started its child and written its line before the timeout for the
    // message to show it; on a loaded machine, try again with more time (the speed decides
    // how long the test takes, never whether it passes).
    for timeout in ["1s", "10s", "60s"] {
        let d = dispatcher_dir(&format!(
            "log = \"none\"\n[driver.qemu.op.prepare]\ntimeout = \"{timeout}\"\n"
        ));
        let pid_file = d.root().join("bg.pid");
        let child_ready = d.root().join("child-ready");
        let ready = d.root().join("ready");
        // Only the script itself holds the dispatcher's pipes when the timeout fires (its child
        // has redirected its output, and the script execs its sleep): the dispatcher's short
        // drain then never races the exit of what it killed.
        d.script(
            format!("{BASE}/hangs"),
            &format!(
                "(exec >/dev/null 2>&1; : > {cr}; exec sleep 600) &\necho $! > {pf}\n\
                 while [ ! -e {cr} ]; do sleep 0.01; done\n\
                 echo 'waiting for the GPU' >&2\n: > {ready}\nexec sleep 600",
                cr = sh_quote(&child_ready),
                pf = sh_quote(&pid_file),
                ready = sh_quote(&ready),
            ),
        );
        let hooks = daemon(&d);
        let failure = {
            let _g = exec_guard();
            hook_qemu::prepare(&hooks, &domain()).expect_err("the start is refused")
        };
        let bg: Option<i32> = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        let pgrp = bg.and_then(proc_stat).map_or(0, |s| s.pgrp);
        let _cleanup = KillGroupOnDrop(pgrp as u32);
        let (Some(bg), true) = (bg, ready.exists()) else {
            continue; // stopped before it was set up: not the case under test
        };
        assert_eq!(
            String::from_utf8_lossy(failure.headline().stderr().unwrap()),
            format!(
                "virt-hook: qemu.d/test/prepare/begin/hangs: timed out after {timeout}, killed \
                 with its process group: waiting for the GPU\n"
            )
        );
        assert!(
            wait_process_dead(bg, pgrp, tests::GONE_WITHIN),
            "the script's background child was killed with its group"
        );
        return;
    }
    panic!("the script was never set up before the timeout, even with 60 s");
}

#[test]
fn a_background_child_holding_the_output_does_not_hold_the_caller() {
    let d = dispatcher_dir("log = \"none\"\n");
    let pid_file = d.root().join("bg.pid");
    // A daemon started without redirection: it holds the script's stdout and stderr. Under
    // libvirt with a plain hook this hangs `virsh start` until the child exits.
    d.script(
        format!("{BASE}/starts-a-daemon"),
        &format!(
            "sleep 600 &\necho $! > {}\necho started",
            sh_quote(&pid_file)
        ),
    );
    let hooks = daemon(&d);
    let outcome = {
        let _g = exec_guard();
        hook_qemu::prepare(&hooks, &domain()).unwrap_or_else(|f| panic!("{f}"))
    };
    let bg: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let child = proc_stat(bg).expect("the background child is still running");
    let _cleanup = KillGroupOnDrop(child.pgrp as u32);
    assert!(!child.is_dead());
    let report = outcome.runs[0].report.as_ref().unwrap();
    assert!(
        !report.pipes_held_open,
        "the dispatcher's own stdout/stderr (libvirt's pipes) reached EOF when it exited: \
         the child holds only the pipes hook-core gave the script"
    );
    assert_eq!(report.ending, hook_core::Ending::Exited(0));
}

#[test]
fn a_bad_settings_file_refuses_to_run_anything() {
    let d = dispatcher_dir("[driver.qemu.op.prepare]\ntimeout = \"5 minutes\"\n");
    d.logging_script(format!("{BASE}/never"));
    let hooks = daemon(&d);
    let failure = {
        let _g = exec_guard();
        hook_qemu::prepare(&hooks, &domain()).expect_err("refused")
    };
    assert!(d.log().is_empty(), "no script ran without its timeout");
    let stderr = String::from_utf8_lossy(failure.headline().stderr().unwrap()).into_owned();
    assert_eq!(
        d.redact(&stderr),
        "virt-hook: [ROOT]/hooks/virt-hook.toml line 2: driver.qemu.op.prepare.timeout: \
         \"5 minutes\" is not a duration; write e.g. \"90s\", \"500ms\", \"5m\", 90 or \"none\"; \
         no script was run\n"
    );
}

#[test]
fn nothing_installed_for_the_guest_lets_libvirt_proceed() {
    let d = dispatcher_dir("log = \"none\"\n");
    d.logging_script("qemu.d/other-guest/prepare/begin/a");
    let hooks = daemon(&d);
    let _g = exec_guard();
    let outcome = hook_qemu::prepare(&hooks, &domain()).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(outcome.runs.len(), 1);
    let filtered = hook_qemu::migrate(&hooks, &domain()).unwrap_or_else(|f| panic!("{f}"));
    assert!(filtered.is_unchanged());
    // release passes the shutoff reason as argv[4]; nothing for this guest either.
    hook_qemu::release(&hooks, &domain(), ShutoffReason::Destroyed)
        .unwrap_or_else(|f| panic!("{f}"));
    assert!(d.log().is_empty());
}

#[test]
fn the_daemon_hook_dispatches_on_its_dash_object() {
    let d = HookDir::new();
    d.symlink("daemon", virt_hook());
    d.file("virt-hook.toml", "log = \"none\"\n", 0o644);
    recording(&d, "daemon.d/-/start/-/on-start");
    let hooks = daemon(&d);
    {
        let _g = exec_guard();
        hook_daemon::start(&hooks).unwrap_or_else(|f| panic!("{f}"));
    }
    assert_eq!(d.log(), ["on-start - start - start"]);
    assert!(d.read_root("in.on-start").is_empty(), "stdin is /dev/null");
}

/// Every datagram waiting on `sock`.
fn datagrams(sock: &UnixDatagram) -> Vec<String> {
    sock.set_nonblocking(true).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Ok(n) = sock.recv(&mut buf) {
        out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    out
}

/// `<PID>` for the dispatcher's pid and `<SECS>` for durations, for comparisons.
fn normalise(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find(|c: char| c.is_ascii_digit()) {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        let end = tail
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(tail.len());
        let number = &tail[..end];
        let after = &tail[end..];
        if head.ends_with("virt-hook[") || head.ends_with("SYSLOG_PID=") {
            out.push_str("<PID>");
        } else if head.ends_with(" in ") || head.ends_with("DURATION_MS=") {
            out.push_str("<N>");
        } else {
            out.push_str(number);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[test]
fn each_script_run_is_one_line_in_the_system_log() {
    let d = HookDir::new();
    let sock_path = d.root().join("log.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    d.symlink("qemu", virt_hook());
    d.file(
        "virt-hook.toml",
        &format!(
            "log = \"syslog\"\nlog_socket = {:?}\n",
            sock_path.to_str().unwrap()
        ),
        0o644,
    );
    d.script(format!("{BASE}/10-ok"), "cat > /dev/null");
    d.script(format!("{BASE}/20-fails"), "echo secret-free >&2; exit 4");
    let hooks = daemon(&d);
    {
        let _g = exec_guard();
        hook_qemu::prepare(&hooks, &domain()).expect_err("fails");
    }
    let lines: Vec<String> = datagrams(&sock).iter().map(|l| normalise(l)).collect();
    assert_eq!(
        lines,
        [
            "<30>virt-hook[<PID>]: qemu test prepare begin -: qemu.d/test/prepare/begin/10-ok exit 0 in <N>s",
            "<27>virt-hook[<PID>]: qemu test prepare begin -: qemu.d/test/prepare/begin/20-fails exit 4 in <N>s: secret-free",
        ]
    );

    // The journal's native protocol, with its fields.
    std::fs::remove_file(d.hooks().join("virt-hook.toml")).unwrap();
    d.file(
        "virt-hook.toml",
        &format!(
            "log = \"journal\"\nlog_socket = {:?}\n",
            sock_path.to_str().unwrap()
        ),
        0o644,
    );
    std::fs::remove_file(d.hooks().join(format!("{BASE}/20-fails"))).unwrap();
    {
        let _g = exec_guard();
        hook_qemu::prepare(&hooks, &domain()).unwrap_or_else(|f| panic!("{f}"));
    }
    let records: Vec<String> = datagrams(&sock).iter().map(|l| normalise(l)).collect();
    let script = d.hooks().join(format!("{BASE}/10-ok"));
    assert_eq!(
        records,
        [format!(
            "MESSAGE=qemu test prepare begin -: qemu.d/test/prepare/begin/10-ok exit 0 in <N>s\n\
             PRIORITY=6\nSYSLOG_FACILITY=3\nSYSLOG_IDENTIFIER=virt-hook\nSYSLOG_PID=<PID>\n\
             VIRT_HOOK_DRIVER=qemu\nVIRT_HOOK_OBJECT=test\nVIRT_HOOK_OP=prepare\n\
             VIRT_HOOK_SUBOP=begin\nVIRT_HOOK_SCRIPT={}\nVIRT_HOOK_STATUS=exit 0\n\
             VIRT_HOOK_DURATION_MS=<N>\n",
            normalise(&script.to_string_lossy())
        )]
    );
}

#[test]
fn a_failure_record_carries_the_reason_and_the_scripts_it_skipped() {
    let d = HookDir::new();
    let sock_path = d.root().join("log.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    d.symlink("qemu", virt_hook());
    d.file(
        "virt-hook.toml",
        &format!(
            "log = \"journal\"\nlog_socket = {:?}\n",
            sock_path.to_str().unwrap()
        ),
        0o644,
    );
    let pid_file = d.root().join("bg.pid");
    // A background process holding the script's output: left running, and the record says so.
    d.script(
        format!("{BASE}/10-leaves-a-process"),
        &format!("sleep 600 &\necho $! > {}", sh_quote(&pid_file)),
    );
    d.script(
        format!("{BASE}/20-fails"),
        "echo 'IOMMU group 14 is busy' >&2; echo giving up >&2; exit 3",
    );
    d.logging_script(format!("{BASE}/30-never"));
    d.logging_script(format!("{BASE}/40-never"));
    let hooks = daemon(&d);
    let failure = {
        let _g = exec_guard();
        hook_qemu::prepare(&hooks, &domain()).expect_err("fails")
    };
    let bg: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    if let Some(child) = proc_stat(bg) {
        let _cleanup = KillGroupOnDrop(child.pgrp as u32);
    }
    assert!(d.log().is_empty(), "30-never and 40-never did not run");
    let line = "qemu.d/test/prepare/begin/20-fails: exit 3: IOMMU group 14 is busy | giving up";
    let stderr = String::from_utf8_lossy(failure.headline().stderr().unwrap()).into_owned();
    assert_eq!(stderr, format!("virt-hook: {line}\n"));

    let records: Vec<String> = datagrams(&sock).iter().map(|l| normalise(l)).collect();
    let field = |r: &str, name: &str| {
        r.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
    };
    let summary: Vec<(Option<String>, Option<String>, Option<String>)> = records
        .iter()
        .map(|r| {
            (
                field(r, "PRIORITY"),
                field(r, "VIRT_HOOK_STATUS"),
                field(r, "MESSAGE"),
            )
        })
        .collect();
    let some = |s: &str| Some(s.to_owned());
    let event = "qemu test prepare begin -";
    assert_eq!(
        summary,
        [
            (
                some("6"),
                some("exit 0"),
                Some(format!(
                    "{event}: {BASE}/10-leaves-a-process exit 0 in <N>s; it left a process \
                     running that held its output (not waited for; it keeps running)"
                ))
            ),
            (
                some("3"),
                some("exit 3"),
                Some(format!(
                    "{event}: {BASE}/20-fails exit 3 in <N>s: IOMMU group 14 is busy | giving up"
                ))
            ),
            (
                some("4"),
                some("skipped"),
                Some(format!(
                    "{event}: {BASE}/30-never skipped: not run after {BASE}/20-fails failed"
                ))
            ),
            (
                some("4"),
                some("skipped"),
                Some(format!(
                    "{event}: {BASE}/40-never skipped: not run after {BASE}/20-fails failed"
                ))
            ),
        ]
    );
    assert_eq!(
        field(&records[1], "VIRT_HOOK_REASON").as_deref(),
        Some(line)
    );
    assert_eq!(
        field(&records[0], "VIRT_HOOK_LEFT_RUNNING").as_deref(),
        Some("1")
    );
    assert_eq!(
        field(&records[2], "VIRT_HOOK_SCRIPT"),
        Some(normalise(
            &d.hooks().join(format!("{BASE}/30-never")).to_string_lossy()
        ))
    );
    for r in &records {
        assert_eq!(field(r, "VIRT_HOOK_OBJECT").as_deref(), Some("test"), "{r}");
    }
}

#[test]
fn virt_hook_log_reads_the_records_back_from_a_syslog_file() {
    let d = HookDir::new();
    let sock_path = d.root().join("log.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    d.symlink("qemu", virt_hook());
    d.file(
        "virt-hook.toml",
        &format!(
            "log = \"syslog\"\nlog_socket = {:?}\n",
            sock_path.to_str().unwrap()
        ),
        0o644,
    );
    d.script(format!("{BASE}/10-ok"), "cat > /dev/null");
    d.script(
        format!("{BASE}/20-fails"),
        "echo 'IOMMU group 14 is busy' >&2; exit 3",
    );
    d.logging_script(format!("{BASE}/30-never"));
    let hooks = daemon(&d);
    {
        let _g = exec_guard();
        hook_qemu::prepare(&hooks, &domain()).expect_err("fails");
    }
    // What rsyslog makes of the datagrams in /var/log/syslog: its time stamp and host name
    // instead of the priority.
    let file = d.root().join("syslog");
    let mut text = String::from("2026-12-03T09:49:44.000000+00:00 host sshd[1]: not ours\n");
    for line in datagrams(&sock) {
        let rest = &line[line.find('>').unwrap() + 1..];
        text.push_str(&format!("2026-12-03T09:49:45.000000+00:00 host {rest}\n"));
    }
    std::fs::write(&file, text).unwrap();
    let file = file.to_string_lossy();
    let run = virt_hook_run(&["log", "test", "--file", &file, "--json"], &[], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let records = v["records"].as_array().unwrap();
    let statuses: Vec<&str> = records
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["exit 0", "exit 3", "skipped"]);
    assert_eq!(
        records[1]["reason"],
        "qemu.d/test/prepare/begin/20-fails: exit 3: IOMMU group 14 is busy"
    );
    assert_eq!(records[2]["script"], "qemu.d/test/prepare/begin/30-never");
    let run = virt_hook_run(&["log", "test", "--file", &file, "--failed"], &[], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stdout);
    assert!(
        lines[0]
            .starts_with("2026-12-03T09:49:45.000000+00:00  err      qemu test prepare begin -: "),
        "{}",
        run.stdout
    );
    let run = virt_hook_run(&["log", "other", "--file", &file], &[], None);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""));
    assert!(
        run.stderr.contains("no dispatcher records matching this"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_oversized_document_runs_nothing() {
    let d = dispatcher_dir("log = \"none\"\n");
    d.logging_script(format!("{BASE}/never"));
    let big = vec![b' '; (16 << 20) + 1];
    let run = virt_hook_run(
        &[
            "--hooks-dir",
            &d.hooks().to_string_lossy(),
            "dispatch",
            "qemu",
            "test",
            "prepare",
            "begin",
            "-",
        ],
        &[],
        Some(&big),
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "virt-hook: the document on stdin: larger than 16 MiB, the most a document may have \
         (the hook library's output cap); no script was run\n"
    );
    assert!(d.log().is_empty());
}

/// `virt-hook --hooks-dir <hooks> dispatch qemu test <op> begin -` with the fixture on stdin.
fn dispatch(d: &HookDir, op: &str) -> tests::cli_support::CliRun {
    virt_hook_run(
        &[
            "--hooks-dir",
            &d.hooks().to_string_lossy(),
            "dispatch",
            "qemu",
            "test",
            op,
            "begin",
            "-",
        ],
        &[],
        Some(&fixture("domain-test.xml")),
    )
}

#[test]
fn every_way_a_script_fails_is_one_line() {
    let d = dispatcher_dir("log = \"none\"\n");
    let case = |name: &str, body: &str| {
        let dir = format!("qemu.d/test/{name}/begin");
        d.file(format!("{dir}/script"), body, 0o755);
        let run = dispatch(&d, name);
        assert_eq!(run.code, 1, "{name}: {run:?}");
        assert_eq!(run.stdout, "");
        assert_eq!(run.stderr.lines().count(), 1, "{name}: {:?}", run.stderr);
        run.stderr
    };
    let lines = [
        case("start", "#!/bin/sh\necho 'no such bridge' >&2\nexit 2\n"),
        case(
            "started",
            "#!/bin/sh\necho 'about to crash' >&2\nkill -SEGV $$\n",
        ),
        case("stopped", "#!/bin/sh\r\nexit 0\r\n"),
        case("reconnect", "#!/nonexistent/interpreter\n"),
        // No #! line: run by bash, as the hook helper ran it; its own exit status fails it.
        case(
            "attach",
            "echo 'no #! line, run by bash' > /dev/null\nexit 7\n",
        ),
    ];
    assert_snapshot!("every_way_a_script_fails", lines.concat());
}

#[test]
fn an_operation_virt_hook_does_not_know_still_runs_its_scripts() {
    // A newer libvirt may send an operation this version has never heard of.
    let d = dispatcher_dir("log = \"none\"\n");
    recording(&d, "qemu.d/test/hibernate/begin/a");
    let run = dispatch(&d, "hibernate");
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", "")
    );
    assert_eq!(d.log(), ["a test hibernate begin -"]);
    assert_eq!(d.read_root("in.a"), fixture("domain-test.xml"));
}

#[test]
fn the_line_ends_with_the_real_end_of_a_long_stderr() {
    let d = dispatcher_dir("log = \"none\"\n");
    // 200 KiB of noise first: far past what hook-core keeps of the head.
    d.file(
        "qemu.d/test/prepare/begin/noisy",
        "#!/bin/sh\nhead -c 204800 /dev/zero | tr '\\0' 'x' >&2\necho >&2\n\
         echo 'the real reason' >&2\nexit 1\n",
        0o755,
    );
    let run = dispatch(&d, "prepare");
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.lines().count(), 1);
    assert!(
        run.stderr.ends_with("xxxx | the real reason\n"),
        "{:?}",
        &run.stderr[run.stderr.len().saturating_sub(80)..]
    );
    assert!(
        run.stderr
            .starts_with("virt-hook: qemu.d/test/prepare/begin/noisy: exit 1: …x")
    );
    assert!(
        run.stderr.chars().count() < 400,
        "bounded: {}",
        run.stderr.len()
    );
}

/// A settings file the dispatcher cannot use, in each way the policy table names.
#[derive(Clone, Copy, Debug)]
pub(crate) enum BadSettings {
    /// `timeout = "5 mins"`: the typo that used to fail every event of every guest.
    Malformed,
    /// A symlink loop (root reads any file, so a mode cannot make it unreadable).
    Unreadable,
    /// Mode 0666: anyone may choose the timeout and turn strict_trust off.
    WorldWritable,
    /// Owned by `nobody` (65534).
    ForeignOwned,
    /// A FIFO: a blocking open or read would hang the dispatcher and libvirt.
    Fifo,
    /// A symlink to `/dev/zero`: a read that never ends.
    Endless,
}

impl BadSettings {
    /// Every kind this process can make (owning a file by another user takes root).
    pub(crate) fn all() -> Vec<BadSettings> {
        let mut all = vec![
            BadSettings::Malformed,
            BadSettings::Unreadable,
            BadSettings::WorldWritable,
            BadSettings::Fifo,
            BadSettings::Endless,
        ];
        if nix::unistd::geteuid().is_root() {
            all.push(BadSettings::ForeignOwned);
        } else {
            eprintln!("not root: the foreign-owned settings file is not tried");
        }
        all
    }

    /// Puts it in `d`'s hooks directory in place of any settings file.
    pub(crate) fn install(self, d: &HookDir) {
        use std::os::unix::fs::PermissionsExt as _;
        let path = d.hooks().join("virt-hook.toml");
        let _ = std::fs::remove_file(&path);
        match self {
            BadSettings::Malformed => {
                d.file("virt-hook.toml", "timeout = \"5 mins\"\n", 0o644);
            }
            BadSettings::Unreadable => {
                std::os::unix::fs::symlink("virt-hook.toml", &path).unwrap();
            }
            BadSettings::WorldWritable => {
                d.file("virt-hook.toml", "strict_trust = false\n", 0o644);
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
            }
            BadSettings::ForeignOwned => {
                d.file("virt-hook.toml", "strict_trust = false\n", 0o644);
                std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
            }
            BadSettings::Fifo => {
                nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o644))
                    .unwrap();
            }
            BadSettings::Endless => {
                std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
            }
        }
    }

    /// What the line says after `<hooks>/virt-hook.toml`.
    pub(crate) fn says(self) -> &'static str {
        match self {
            BadSettings::Malformed => " line 1: timeout: \"5 mins\" is not a duration",
            BadSettings::Unreadable => ": cannot read: Too many levels of symbolic links",
            BadSettings::WorldWritable => ": writable by its group and others (mode 0666)",
            BadSettings::ForeignOwned => ": owned by uid 65534, not root",
            BadSettings::Fifo => ": a FIFO, not a regular file",
            BadSettings::Endless => ": a character device, not a regular file",
        }
    }
}

/// A dispatcher tree (symlink form) with logging scripts for guest `test` at every event but
/// prepare's, and one for prepare (so that it has scripts to refuse).
fn guest_with_scripts(bad: BadSettings) -> HookDir {
    let d = HookDir::new();
    d.symlink("qemu", virt_hook());
    bad.install(&d);
    for (op, subop) in [
        ("prepare", "begin"),
        ("reconnect", "begin"),
        ("started", "begin"),
        ("stopped", "end"),
        ("release", "end"),
    ] {
        d.logging_script(format!("qemu.d/test/{op}/{subop}/{op}-script"));
    }
    d
}

#[test]
fn with_unusable_settings_reconnect_and_started_run_their_scripts_and_succeed() {
    for bad in BadSettings::all() {
        let d = guest_with_scripts(bad);
        let hooks = daemon(&d);
        let _g = exec_guard();
        hook_qemu::reconnect(&hooks, &domain()).unwrap_or_else(|f| panic!("{bad:?}: {f}"));
        hook_qemu::started(&hooks, &domain()).unwrap_or_else(|f| panic!("{bad:?}: {f}"));
        assert_eq!(d.log(), ["reconnect-script", "started-script"], "{bad:?}");
    }
}

#[test]
fn with_unusable_settings_stopped_and_release_scripts_run() {
    for bad in BadSettings::all() {
        let d = guest_with_scripts(bad);
        let hooks = daemon(&d);
        let _g = exec_guard();
        hook_qemu::stopped(&hooks, &domain()).unwrap_or_else(|f| panic!("{bad:?}: {f}"));
        hook_qemu::release(&hooks, &domain(), ShutoffReason::Destroyed)
            .unwrap_or_else(|f| panic!("{bad:?}: {f}"));
        assert_eq!(d.log(), ["stopped-script", "release-script"], "{bad:?}");
    }
}

/// A panic in the dispatcher (a bug of ours; debug builds inject one when
/// `VIRT_HOOK_TEST_PANIC` is set) is answered by the event's rule like any problem of its
/// own, not with std's status 101, which libvirt would take as any event's failure: `prepare`
/// is refused with the line naming it, `reconnect` (whose failure kills the running guest) and
/// `release` get success. The panic comes before the scripts: none ran.
#[test]
fn a_panic_in_the_dispatcher_is_answered_by_the_events_rule() {
    let d = HookDir::new();
    d.symlink("qemu", virt_hook());
    for event in ["prepare/begin", "reconnect/begin", "release/end"] {
        d.logging_script(format!("qemu.d/test/{event}/10-script"));
    }
    let mut env = ScriptEnv::libvirt_from(|name| {
        (name == "PATH").then(|| "/usr/sbin:/usr/bin:/sbin:/bin".into())
    });
    env.set("VIRT_HOOK_TEST_PANIC", "1").unwrap();
    let hooks = Hooks::builder(d.hooks())
        .drivers([hook_qemu::NAME])
        .layout(Layout::Libvirt)
        .env(env)
        .build()
        .expect("build Hooks");
    let _g = exec_guard();
    let failure = hook_qemu::prepare(&hooks, &domain()).expect_err("prepare is refused");
    match failure.headline() {
        HookError::Exited { code, stderr, .. } => {
            assert_eq!(*code, 1);
            let stderr = String::from_utf8_lossy(stderr);
            let line = format!(
                "virt-hook: internal error (a bug in virt-hook {}, please report it): \
                 VIRT_HOOK_TEST_PANIC is set; no script was run\n",
                env!("CARGO_PKG_VERSION")
            );
            // After the panic hook's own lines (where it happened), the dispatcher's.
            assert!(stderr.ends_with(&line), "{stderr}");
            assert!(stderr.contains("panicked at"), "{stderr}");
        }
        other => panic!("expected Exited, got {other:?}"),
    }
    hook_qemu::reconnect(&hooks, &domain()).expect("reconnect is answered with success");
    hook_qemu::release(&hooks, &domain(), ShutoffReason::Destroyed)
        .expect("release is answered with success");
    assert_eq!(d.log(), Vec::<String>::new(), "no script ran");
}

#[test]
fn with_unusable_settings_a_script_that_fails_still_fails_reconnect() {
    let d = HookDir::new();
    d.symlink("qemu", virt_hook());
    BadSettings::Malformed.install(&d);
    d.script(
        "qemu.d/test/reconnect/begin/fails",
        "echo 'no GPU' >&2; exit 3",
    );
    let hooks = daemon(&d);
    let f = {
        let _g = exec_guard();
        hook_qemu::reconnect(&hooks, &domain()).expect_err("the script's own failure")
    };
    assert_eq!(
        String::from_utf8_lossy(f.headline().stderr().unwrap()),
        "virt-hook: qemu.d/test/reconnect/begin/fails: exit 3: no GPU\n"
    );
}

#[test]
fn with_unusable_settings_a_guest_without_scripts_sees_success_for_every_event() {
    for bad in BadSettings::all() {
        let d = HookDir::new();
        d.symlink("qemu", virt_hook());
        bad.install(&d);
        d.logging_script("qemu.d/other-guest/prepare/begin/not-this-guest");
        d.logging_script("qemu.d/test/prepare/end/not-this-subop");
        let hooks = daemon(&d);
        let dom = domain();
        let _g = exec_guard();
        let ok = |r: Result<hook_core::Outcome, Box<hook_core::Failure>>, what: &str| {
            r.unwrap_or_else(|f| panic!("{bad:?} {what}: {f}"));
        };
        ok(hook_qemu::prepare(&hooks, &dom), "prepare");
        ok(hook_qemu::start(&hooks, &dom), "start");
        ok(hook_qemu::started(&hooks, &dom), "started");
        ok(hook_qemu::reconnect(&hooks, &dom), "reconnect");
        ok(hook_qemu::stopped(&hooks, &dom), "stopped");
        ok(
            hook_qemu::release(&hooks, &dom, ShutoffReason::Shutdown),
            "release",
        );
        for (what, r) in [
            ("migrate", hook_qemu::migrate(&hooks, &dom)),
            ("restore", hook_qemu::restore(&hooks, &dom)),
        ] {
            let f = r.unwrap_or_else(|f| panic!("{bad:?} {what}: {f}"));
            assert!(f.is_unchanged(), "{bad:?} {what}");
        }
        assert!(d.log().is_empty(), "{bad:?}");
    }
}

#[test]
fn with_unusable_settings_prepare_fails_with_the_line_naming_the_file() {
    for bad in BadSettings::all() {
        let d = guest_with_scripts(bad);
        d.logging_script("qemu.d/test/migrate/begin/filter");
        let hooks = daemon(&d);
        let dom = domain();
        let lines = {
            let _g = exec_guard();
            let prepare = hook_qemu::prepare(&hooks, &dom).expect_err("refused");
            let migrate = hook_qemu::migrate(&hooks, &dom).expect_err("refused");
            [prepare, migrate]
                .map(|f| d.redact(&String::from_utf8_lossy(f.headline().stderr().unwrap())))
        };
        for line in lines {
            assert!(
                line.starts_with(&format!(
                    "virt-hook: [ROOT]/hooks/virt-hook.toml{}",
                    bad.says()
                )) && line.ends_with("; no script was run\n")
                    && line.lines().count() == 1,
                "{bad:?}: {line:?}"
            );
        }
        assert!(d.log().is_empty(), "{bad:?}: no script ran");
    }
}

#[test]
fn check_names_an_unusable_settings_file_and_the_fix() {
    for bad in BadSettings::all() {
        let d = guest_with_scripts(bad);
        let run = virt_hook_run(
            &["--hooks-dir", &d.hooks().to_string_lossy(), "check"],
            &[("NO_COLOR", "1")],
            None,
        );
        assert_eq!(run.code, 1, "{bad:?}: {run:?}");
        let line = run
            .stdout
            .lines()
            .find(|l| l.contains("virt-hook.toml"))
            .unwrap_or_else(|| panic!("{bad:?}: {run:?}"));
        assert!(line.starts_with("error "), "{bad:?}: {line}");
        let says = bad.says().trim_start_matches(':').trim_start();
        assert!(line.contains(says), "{bad:?}: {line}");
        let path = d.hooks().join("virt-hook.toml");
        match bad {
            BadSettings::WorldWritable => assert!(
                line.ends_with(&format!("to fix: chmod go-w {}", path.display())),
                "{line}"
            ),
            BadSettings::ForeignOwned => assert!(
                line.ends_with(&format!("to fix: chown root: {}", path.display())),
                "{line}"
            ),
            _ => {}
        }
    }
}

#[test]
fn an_unreadable_per_guest_directory_fails_prepare_but_not_reconnect() {
    let d = HookDir::new();
    let sock_path = d.root().join("log.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    d.symlink("qemu", virt_hook());
    d.file(
        "virt-hook.toml",
        &format!(
            "log = \"syslog\"\nlog_socket = {:?}\n",
            sock_path.to_str().unwrap()
        ),
        0o644,
    );
    d.mkdir("qemu.d/test/prepare");
    d.mkdir("qemu.d/test/reconnect");
    // Symlink loops: something is there, and it cannot be read (root reads any mode).
    d.symlink("qemu.d/test/prepare/begin", "begin");
    d.symlink("qemu.d/test/reconnect/begin", "begin");
    let hooks = daemon(&d);
    let _g = exec_guard();
    let f = hook_qemu::prepare(&hooks, &domain()).expect_err("refused");
    assert_eq!(
        String::from_utf8_lossy(f.headline().stderr().unwrap()),
        "virt-hook: cannot read qemu.d/test/prepare/begin: Too many levels of symbolic links \
         (os error 40); no script was run\n"
    );
    hook_qemu::reconnect(&hooks, &domain()).unwrap_or_else(|f| panic!("{f}"));
    let lines: Vec<String> = datagrams(&sock).iter().map(|l| normalise(l)).collect();
    assert_eq!(
        lines,
        [
            "<27>virt-hook[<PID>]: qemu test prepare begin -: cannot read \
             qemu.d/test/prepare/begin: Too many levels of symbolic links (os error 40); no \
             script was run",
            "<27>virt-hook[<PID>]: qemu test reconnect begin -: cannot read \
             qemu.d/test/reconnect/begin: Too many levels of symbolic links (os error 40); none \
             of its scripts can run",
        ],
        "logged at error severity (err = 3, facility daemon: <27>) either way"
    );
}

#[test]
fn an_oversized_document_still_runs_reconnect_and_release_scripts_without_it() {
    let d = dispatcher_dir("log = \"none\"\n");
    recording(&d, "qemu.d/test/reconnect/begin/a");
    let big = vec![b' '; (16 << 20) + 1];
    let run = virt_hook_run(
        &[
            "--hooks-dir",
            &d.hooks().to_string_lossy(),
            "dispatch",
            "qemu",
            "test",
            "reconnect",
            "begin",
            "-",
        ],
        &[],
        Some(&big),
    );
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    assert_eq!(d.log(), ["a test reconnect begin -"]);
    assert!(d.read_root("in.a").is_empty(), "nothing on stdin");
}

/// `<name>` replaced in the test domain.
fn named_domain(name: &str) -> Vec<u8> {
    String::from_utf8(fixture("domain-test.xml"))
        .unwrap()
        .replace("<name>test</name>", &format!("<name>{name}</name>"))
        .into_bytes()
}

/// Guest names that look like options, or are at the edge of what a file name can be.
pub(crate) fn hostile_names() -> Vec<String> {
    vec![
        "--help".into(),
        "-v".into(),
        "--".into(),
        "--hooks-dir=x".into(),
        "-V".into(),
        "dispatch".into(),
        "g".repeat(255),
    ]
}

#[test]
fn guest_names_are_data_in_the_symlink_and_the_wrapper_form() {
    for wrapper in [false, true] {
        let d = HookDir::new();
        d.file("virt-hook.toml", "log = \"none\"\n", 0o644);
        if wrapper {
            d.script(
                "qemu",
                &format!(
                    "exec {} --hooks-dir {} dispatch qemu \"$@\"",
                    sh_quote(&virt_hook()),
                    sh_quote(d.hooks())
                ),
            );
        } else {
            d.symlink("qemu", virt_hook());
        }
        let names = hostile_names();
        for name in &names {
            d.script(
                format!("qemu.d/{name}/prepare/begin/s"),
                &format!("echo \"$1\" >> {}", sh_quote(d.log_path())),
            );
        }
        let hooks = daemon(&d);
        for name in &names {
            let doc = named_domain(name);
            let out = tests::hookdir::run(
                &hooks,
                &tests::hookdir::TestEvent::new("qemu", "prepare"),
                name,
                Some(&doc),
            );
            let out = out.unwrap_or_else(|f| panic!("wrapper {wrapper}, {name:?}: {f}"));
            let main = out.runs[0].report.as_ref().unwrap();
            assert!(main.stdout_tail.is_empty(), "no help text: {main:?}");
        }
        assert_eq!(&d.log(), &names, "wrapper {wrapper}");
        // An empty name has no per-guest directory: nothing runs, libvirt proceeds.
        let out = tests::hookdir::run(
            &hooks,
            &tests::hookdir::TestEvent::new("qemu", "prepare"),
            "",
            None,
        );
        out.unwrap_or_else(|f| panic!("wrapper {wrapper}, empty name: {f}"));
    }
}

#[test]
fn a_hard_link_named_after_the_driver_dispatches_after_its_other_name_is_gone() {
    let d = dispatcher_dir("log = \"none\"\n");
    std::fs::remove_file(d.hooks().join("qemu")).unwrap();
    // The installed form: a copy of the binary in the hooks directory, the driver's name a
    // hard link to it.
    let copy = d.hooks().join("virt-hook");
    std::fs::copy(virt_hook(), &copy).unwrap();
    std::fs::hard_link(&copy, d.hooks().join("qemu")).unwrap();
    std::fs::remove_file(&copy).unwrap();
    recording(&d, &format!("{BASE}/only"));
    let hooks = daemon(&d);
    {
        let _g = exec_guard();
        hook_qemu::prepare(&hooks, &domain()).unwrap_or_else(|f| panic!("{f}"));
    }
    assert_eq!(d.log(), ["only test prepare begin -"]);
}

#[test]
fn check_notes_a_per_guest_script_without_shebang_and_errs_on_libvirts() {
    let d = dispatcher_dir("log = \"none\"\n");
    d.file(
        format!("{BASE}/isolstart.sh"),
        "systemctl stop display-manager\n",
        0o755,
    );
    d.file("qemu.d/flat.sh", "echo flat\n", 0o755);
    let run = virt_hook_run(
        &["--hooks-dir", &d.hooks().to_string_lossy(), "check"],
        &[("NO_COLOR", "1")],
        None,
    );
    let line = |name: &str| {
        run.stdout
            .lines()
            .find(|l| l.contains(name) && l.contains("no #! line"))
            .unwrap_or_else(|| panic!("{name}: {run:?}"))
            .to_owned()
    };
    let per_guest = line("isolstart.sh");
    assert!(
        per_guest.starts_with("note ") && per_guest.contains("the dispatcher runs it with bash"),
        "{per_guest}"
    );
    assert!(
        line("flat.sh").starts_with("error "),
        "libvirt's own script fails"
    );
    assert_eq!(run.code, 1, "the flat script is an error: {run:?}");
}
