//! Replays every hook call real libvirt 9.0.0 and 11.3.0 daemons made
//! (`tests/fixtures/libvirt-recorded/`): each recorded row is mapped to the driver crate's event
//! it names and made again, once through the library (`hook_qemu::release(&hooks, …)`,
//! `hook_network::port_created`, `hook_daemon::start`, …, with a `Hooks` emulating the release
//! that made the call) and once through `virt-hook run`; a recording script must see exactly
//! the recorded argv and stdin bytes. Each mapped event must also be a row of the invocation
//! matrix (`docs/invocations.md`). The other tests check the recordings against what the docs
//! say about them: their sha256, the document each step gets, and the order of the calls.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use hook_core::matrix::CallSite;
use hook_core::{Failure, Hooks, Invocation, LibvirtVersion, Runner, ShutoffReason};
use tests::TempDir;
use tests::cli_support::virt_hook_run;
use tests::drivers_support::{Recorder, Seen, settle};
use tests::recorded::{self, Call};

/// A recorded call, mapped to the event of a driver crate.
#[derive(Clone, Copy, Debug)]
enum Mapped {
    Daemon(hook_daemon::Event),
    /// The event, and for `release` the reason the stack gives (the event holds `None` when the
    /// release emulated passes `-`).
    Qemu(hook_qemu::Event, Option<ShutoffReason>),
    Network(hook_network::Event),
}

impl Mapped {
    fn call_site(self) -> CallSite {
        match self {
            Mapped::Daemon(e) => e.call_site(),
            Mapped::Qemu(e, _) => e.call_site(),
            Mapped::Network(e) => e.call_site(),
        }
    }

    fn matrix(self) -> Vec<CallSite> {
        match self {
            Mapped::Daemon(_) => hook_daemon::invocation_matrix(),
            Mapped::Qemu(..) => hook_qemu::invocation_matrix(),
            Mapped::Network(_) => hook_network::invocation_matrix(),
        }
    }

    /// How the library call reads, for the mapping snapshot.
    fn library_call(self) -> String {
        match self {
            Mapped::Qemu(hook_qemu::Event::Release(_), Some(r)) => {
                format!("hook_qemu::release(&hooks, &domain, ShutoffReason::{r:?})")
            }
            other => other.call_site().call,
        }
    }
}

/// The driver crate's event for a recorded row: by its driver and op; `release` by its extra
/// (or, where the release passes `-`, by the reason the notes give); a `port-created` during a
/// daemon restart is the replay of an existing port.
fn map(call: &Call) -> Mapped {
    let op = call.args[1].as_str();
    let label = call.label();
    match call.driver.as_str() {
        hook_daemon::NAME => Mapped::Daemon(
            hook_daemon::Event::all()
                .into_iter()
                .find(|e| e.op().as_str() == op)
                .unwrap_or_else(|| panic!("{label}: no daemon event")),
        ),
        hook_qemu::NAME => {
            let event = hook_qemu::Event::all()
                .into_iter()
                .find(|e| e.op().as_str() == op)
                .unwrap_or_else(|| panic!("{label}: no qemu event"));
            if !matches!(event, hook_qemu::Event::Release(_)) {
                return Mapped::Qemu(event, None);
            }
            let noted: Option<ShutoffReason> = call
                .note("reason")
                .map(|r| r.parse().unwrap_or_else(|e| panic!("{label}: notes: {e}")));
            let reason = match call.args[3].as_str() {
                "-" => {
                    assert!(
                        !call.version.passes_release_reason(),
                        "{label}: `-` from a release that passes the reason"
                    );
                    noted.unwrap_or_else(|| panic!("{label}: no reason in the notes"))
                }
                word => {
                    let r: ShutoffReason = word
                        .parse()
                        .unwrap_or_else(|e| panic!("{label}: extra: {e}"));
                    assert!(call.version.passes_release_reason(), "{label}");
                    assert!(noted.is_none_or(|n| n == r), "{label}: notes say {noted:?}");
                    r
                }
            };
            let passed = call.version.passes_release_reason().then_some(reason);
            Mapped::Qemu(hook_qemu::Event::Release(passed), Some(reason))
        }
        hook_network::NAME => {
            let event = match op {
                "port-created" if call.scenario == "daemon-restart" => {
                    hook_network::Event::PortReplayed
                }
                _ => hook_network::Event::all()
                    .into_iter()
                    .find(|e| e.op().as_str() == op)
                    .unwrap_or_else(|| panic!("{label}: no network event")),
            };
            Mapped::Network(event)
        }
        other => panic!("{label}: no recordings expected for driver {other}"),
    }
}

/// A recording main script for each driver that has recordings.
struct Recorders {
    daemon: Recorder,
    qemu: Recorder,
    network: Recorder,
}

impl Recorders {
    fn new() -> Recorders {
        Recorders {
            daemon: Recorder::new(hook_daemon::NAME),
            qemu: Recorder::new(hook_qemu::NAME),
            network: Recorder::new(hook_network::NAME),
        }
    }

    fn of(&self, driver: &str) -> &Recorder {
        match driver {
            hook_daemon::NAME => &self.daemon,
            hook_qemu::NAME => &self.qemu,
            _ => &self.network,
        }
    }
}

/// What the recording script must have seen for `call`.
fn expected(call: &Call) -> Seen {
    Seen {
        args: call.args.to_vec(),
        stdin: call.stdin(),
    }
}

fn check_seen(rec: &Recorder, call: &Call, how: &str) {
    let seen = rec
        .take()
        .unwrap_or_else(|| panic!("{}: {how}: the script did not run", call.label()));
    let want = expected(call);
    assert_eq!(seen.args, want.args, "{}: {how}: argv", call.label());
    assert!(
        seen.stdin == want.stdin,
        "{}: {how}: stdin differs ({:?} bytes, recorded {:?})",
        call.label(),
        seen.stdin.as_ref().map(Vec::len),
        want.stdin.as_ref().map(Vec::len),
    );
}

/// The network document and port document a stack holds for a recorded `<hookData>`.
fn network_and_port(call: &Call) -> (hook_network::Network, Option<hook_network::Port>) {
    let (network, port) = recorded::split_hook_data(&call.stdin().expect("a hookData"));
    let label = call.label();
    (
        hook_network::Network::parse(network).unwrap_or_else(|e| panic!("{label}: {e}")),
        port.map(|p| hook_network::Port::parse(p).unwrap_or_else(|e| panic!("{label}: {e}"))),
    )
}

/// Makes the call through the driver crate's call function for its event.
fn call_library(hooks: &Hooks, call: &Call, mapped: Mapped) -> Result<(), Box<Failure>> {
    let label = call.label();
    match mapped {
        Mapped::Daemon(e) => {
            use hook_daemon::Event as E;
            match e {
                E::Start => hook_daemon::start(hooks),
                E::Reload => hook_daemon::reload(hooks),
                E::Shutdown => hook_daemon::shutdown(hooks),
            }
            .map(drop)
        }
        Mapped::Qemu(e, reason) => {
            use hook_qemu::Event as E;
            let domain = hook_qemu::Domain::parse(call.stdin().expect("a domain"))
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            let (h, d) = (hooks, &domain);
            match e {
                E::Prepare => hook_qemu::prepare(h, d).map(drop),
                E::Start => hook_qemu::start(h, d).map(drop),
                E::Started => hook_qemu::started(h, d).map(drop),
                E::Stopped => hook_qemu::stopped(h, d).map(drop),
                E::Release(_) => {
                    hook_qemu::release(h, d, reason.expect("a reason to give")).map(drop)
                }
                E::Reconnect => hook_qemu::reconnect(h, d).map(drop),
                E::Migrate => hook_qemu::migrate(h, d).map(|f| {
                    assert!(f.is_unchanged(), "{label}: the recorder prints nothing");
                }),
                E::Restore => hook_qemu::restore(h, d).map(|f| {
                    assert!(f.is_unchanged(), "{label}: the recorder prints nothing");
                }),
            }
        }
        Mapped::Network(e) => {
            use hook_network::Event as E;
            let (network, port) = network_and_port(call);
            let (h, n) = (hooks, &network);
            let port = || port.as_ref().unwrap_or_else(|| panic!("{label}: no port"));
            match e {
                E::Start => hook_network::start(h, n),
                E::Started => hook_network::started(h, n),
                E::Stopped => hook_network::stopped(h, n),
                E::Updated => hook_network::updated(h, n),
                E::PortCreated => hook_network::port_created(h, n, port()),
                E::PortReplayed => hook_network::port_replayed(h, n, port()),
                E::PortDeleted => hook_network::port_deleted(h, n, port()),
            }
            .map(drop)
        }
    }
}

/// `virt-hook run` for the call, with the recorded documents; returns the command line shown
/// in the mapping snapshot (paths left out).
fn call_cli(rec: &Recorder, call: &Call, tmp: &Path, options: &[&str]) -> String {
    let hooks_dir = rec.hooks_dir().display().to_string();
    let mut args: Vec<String> = [
        "--hooks-dir",
        &hooks_dir,
        "run",
        &call.driver,
        &call.args[1],
    ]
    .map(str::to_owned)
    .to_vec();
    let mut shown = format!("virt-hook run {} {}", call.driver, call.args[1]);
    if call.driver == hook_qemu::NAME {
        let file = call.stdin_file.as_ref().expect("a domain");
        args.extend(["--domain".to_owned(), file.display().to_string()]);
        shown.push_str(" --domain FILE");
    } else if call.driver == hook_network::NAME {
        let (network, port) = recorded::split_hook_data(&call.stdin().expect("a hookData"));
        let net_file = tmp.join(format!("{}-network.xml", call.seq));
        std::fs::write(&net_file, network).unwrap();
        args.extend(["--network".to_owned(), net_file.display().to_string()]);
        shown.push_str(" --network NET");
        if let Some(port) = port {
            let port_file = tmp.join(format!("{}-port.xml", call.seq));
            std::fs::write(&port_file, port).unwrap();
            args.extend(["--port".to_owned(), port_file.display().to_string()]);
            shown.push_str(" --port PORT");
        }
    }
    for o in options {
        args.push((*o).to_owned());
        shown.push(' ');
        shown.push_str(o);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = virt_hook_run(&args, &[], None);
    assert_eq!(
        run.code,
        0,
        "{}: {shown}\nstdout: {}\nstderr: {}",
        call.label(),
        run.stdout,
        run.stderr
    );
    check_seen(rec, call, &shown);
    shown
}

/// Replays one folder through the library and `virt-hook run`; returns the mapping, one line
/// per call.
fn replay(folder: &'static str) -> String {
    let calls = recorded::calls(folder);
    assert!(!calls.is_empty(), "{folder}: no calls");
    let recs = Recorders::new();
    let tmp = TempDir::new("replay").expect("temp dir");
    let mut out = String::new();
    for call in &calls {
        let mapped = map(call);
        let site = mapped.call_site();
        let label = call.label();

        // The event is a row of the invocation matrix, with the recorded argv.
        assert!(
            mapped.matrix().contains(&site),
            "{label}: {} is not a row of docs/invocations.md",
            site.call
        );
        let [_, op, subop, extra] = site.args();
        assert_eq!(
            [op, subop, extra],
            [&call.args[1], &call.args[2], &call.args[3]].map(String::as_str),
            "{label}: the row's argv"
        );

        // The library, with a Hooks emulating the release that made the call.
        let rec = recs.of(&call.driver);
        let hooks = rec.hooks_as(call.version);
        settle(|| call_library(&hooks, call, mapped))
            .unwrap_or_else(|f| panic!("{label}: library call failed: {f}"));
        check_seen(rec, call, &mapped.library_call());

        // virt-hook run, as an administrator replays it: the recorded argv[4] as --extra for
        // a release, and for a release from before 10.5 also the reason with --libvirt.
        let mut cli = Vec::new();
        if mapped_is_release(mapped) {
            cli.push(call_cli(rec, call, tmp.path(), &["--extra", &call.args[3]]));
            if !call.version.passes_release_reason() {
                let version = call.version.to_string();
                let reason = call.note("reason").expect("a reason in the notes");
                cli.push(call_cli(
                    rec,
                    call,
                    tmp.path(),
                    &["--libvirt", &version, "--extra", reason],
                ));
            }
        } else {
            cli.push(call_cli(rec, call, tmp.path(), &[]));
        }

        let _ = writeln!(
            out,
            "#{} {} {}\n    {} [libvirt {}]\n    {}",
            call.seq,
            call.driver,
            call.args.join(" "),
            mapped.library_call(),
            call.version,
            cli.join("\n    "),
        );
    }
    out
}

fn mapped_is_release(mapped: Mapped) -> bool {
    matches!(mapped, Mapped::Qemu(hook_qemu::Event::Release(_), _))
}

#[test]
fn libvirt_9_0_0_calls_replay_identically() {
    insta::assert_snapshot!("replay_libvirt_9_0_0", replay("libvirt-9.0.0"));
}

#[test]
fn libvirt_11_3_0_calls_replay_identically() {
    insta::assert_snapshot!("replay_libvirt_11_3_0", replay("libvirt-11.3.0"));
}

#[test]
fn migration_calls_replay_identically() {
    insta::assert_snapshot!("replay_migrate", replay("migrate"));
}

/// The copies are what was recorded: every stdin file has the sha256 of its row (computed by
/// `sha256sum`, started through hook-core's `Runner` as every process of the tests is).
#[test]
fn recorded_stdin_files_match_their_sha256() {
    let runner = Runner::default();
    let sha256sum = ["/usr/bin/sha256sum", "/bin/sha256sum"]
        .map(Path::new)
        .into_iter()
        .find(|p| p.is_file())
        .expect("coreutils' sha256sum (.ci/run checks for it)");
    for folder in recorded::FOLDERS {
        let calls = recorded::calls(folder);
        let files: Vec<String> = calls
            .iter()
            .filter_map(|c| c.stdin_file.as_ref().map(|p| p.display().to_string()))
            .collect();
        let args: Vec<&str> = files.iter().map(String::as_str).collect();
        let report = tests::run(
            &runner,
            &Invocation {
                script: sha256sum,
                args: &args,
                stdin: None,
                capture_stdout: true,
            },
        )
        .expect("sha256sum runs");
        let report = report.check().expect("sha256sum succeeds");
        let sums: BTreeMap<String, String> = String::from_utf8(report.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let (sum, file) = l.split_once("  ").expect("sum  file");
                (file.to_owned(), sum.to_owned())
            })
            .collect();
        for call in &calls {
            match (&call.stdin_file, &call.stdin_sha256) {
                (None, None) => {}
                (Some(file), Some(want)) => {
                    let got = &sums[&file.display().to_string()];
                    assert_eq!(got, want, "{}", call.label());
                }
                (file, sum) => panic!("{}: stdin {file:?} with sha256 {sum:?}", call.label()),
            }
        }
    }
}

/// What `docs/invocations.md` says each qemu and network step gets on stdin holds for every
/// recorded document of both releases.
#[test]
fn recorded_documents_are_as_the_docs_describe() {
    for folder in recorded::FOLDERS {
        for call in recorded::calls(folder) {
            let label = call.label();
            let Some(stdin) = call.stdin() else {
                assert_eq!(
                    call.driver,
                    hook_daemon::NAME,
                    "{label}: only daemon gets nothing"
                );
                continue;
            };
            let doc = String::from_utf8(stdin).unwrap();
            let root = doc.lines().next().unwrap_or_default();
            let has = |s: &str| doc.contains(s);
            let failed_prepare = call.note("fail") == Some("prepare");
            match (call.driver.as_str(), call.args[1].as_str()) {
                ("qemu", "prepare") => {
                    assert!(root.contains(" id='"), "{label}: live, with id=");
                    assert!(!has("<alias ") && !has("<seclabel"), "{label}");
                }
                ("qemu", "start") => {
                    assert!(root.contains(" id='") && has("<alias "), "{label}");
                    assert!(has("<seclabel type='dynamic' model='dac'"), "{label}");
                    assert!(has("<label>"), "{label}: the DAC label");
                }
                ("qemu", "started" | "reconnect") => {
                    assert!(root.contains(" id='") && has("<alias "), "{label}");
                    assert!(has("<resource>") && has("check='full'"), "{label}");
                }
                ("qemu", "stopped" | "release") => {
                    assert!(!root.contains(" id='"), "{label}: no longer live");
                    assert!(!has("passwd="), "{label}: no secrets");
                    if call.args[1] == "release" && !failed_prepare {
                        let emptied = "<seclabel type='dynamic' model='dac' relabel='yes'/>";
                        assert!(has(emptied), "{label}: the seclabel emptied");
                        assert!(!has("<label>"), "{label}: the label is released");
                    }
                }
                ("qemu", "migrate" | "restore") => {
                    assert!(!root.contains(" id='") && !has("<alias "), "{label}");
                    assert!(!has("<seclabel"), "{label}: migratable");
                    assert!(has("passwd="), "{label}: with secrets");
                }
                ("network", "updated") => assert!(!has("connections="), "{label}"),
                ("network", "port-created") => assert!(has("connections='1'"), "{label}"),
                ("network", "port-deleted") => assert!(!has("connections="), "{label}"),
                ("network", _) => {}
                (driver, op) => panic!("{label}: unexpected {driver} {op}"),
            }
            if matches!(
                call.args[1].as_str(),
                "prepare" | "start" | "started" | "stopped"
            ) {
                assert!(!has("passwd="), "{label}: no secrets");
            }
        }
    }
}

/// The ordering facts `docs/invocations.md` states hold in the recordings.
#[test]
fn recorded_calls_come_in_the_documented_order() {
    let key = |c: &Call| format!("{} {}", c.driver, c.args[1]);
    let scenario = |calls: &[Call], name: &str| -> Vec<String> {
        calls
            .iter()
            .filter(|c| c.scenario == name)
            .map(key)
            .collect()
    };
    for folder in ["libvirt-9.0.0", "libvirt-11.3.0"] {
        let calls = recorded::calls(folder);
        for (name, want) in [
            (
                "qemu-start-with-port",
                &[
                    "qemu prepare",
                    "network port-created",
                    "qemu start",
                    "qemu started",
                ][..],
            ),
            (
                "qemu-destroy-with-port",
                &["qemu stopped", "network port-deleted", "qemu release"],
            ),
            (
                "qemu-restore",
                &["qemu restore", "qemu prepare", "qemu start", "qemu started"],
            ),
            (
                "qemu-restore-xml",
                &["qemu restore", "qemu prepare", "qemu start", "qemu started"],
            ),
            (
                "qemu-managedsave-start",
                &["qemu restore", "qemu prepare", "qemu start", "qemu started"],
            ),
            (
                "qemu-fail-prepare",
                &["qemu prepare", "qemu stopped", "qemu release"],
            ),
            (
                "qemu-fail-start",
                &["qemu prepare", "qemu start", "qemu stopped", "qemu release"],
            ),
            ("daemon-reload", &["daemon reload"]),
        ] {
            assert_eq!(scenario(&calls, name), want, "{folder} {name}");
        }
        let restart = scenario(&calls, "daemon-restart");
        assert_eq!(
            restart,
            [
                "daemon shutdown",
                "daemon start",
                "network port-created",
                "qemu reconnect",
                "qemu reconnect"
            ],
            "{folder}"
        );
        for c in calls.iter().filter(|c| c.args[1] == "release") {
            assert_eq!(
                c.args[3] != "-",
                c.version.passes_release_reason(),
                "{}",
                c.label()
            );
        }
    }
    // An incoming migration: the destination's migrate, prepare, start, started, then the
    // source's stopped and release.
    let calls = recorded::calls("migrate");
    for name in ["migrate-host-to-chroot", "migrate-chroot-to-host"] {
        let rows: Vec<&Call> = calls.iter().filter(|c| c.scenario == name).collect();
        let dest = rows[0].version;
        let seen: Vec<(bool, String)> = rows.iter().map(|c| (c.version == dest, key(c))).collect();
        assert_eq!(
            seen,
            [
                (true, "qemu migrate"),
                (true, "qemu prepare"),
                (true, "qemu start"),
                (true, "qemu started"),
                (false, "qemu stopped"),
                (false, "qemu release"),
            ]
            .map(|(d, k)| (d, k.to_owned())),
            "{name}"
        );
    }
    // The daemon releases differ only in release's extra.
    let old = recorded::calls("libvirt-9.0.0");
    let new = recorded::calls("libvirt-11.3.0");
    assert_eq!(old.len(), new.len());
    let mut differ = 0;
    for (o, n) in old.iter().zip(&new) {
        assert_eq!(
            (&o.driver, &o.args[1..3], &o.scenario),
            (&n.driver, &n.args[1..3], &n.scenario)
        );
        if o.args[3] != n.args[3] {
            assert_eq!((o.args[1].as_str(), o.args[3].as_str()), ("release", "-"));
            differ += 1;
        }
    }
    assert_eq!(differ, 12, "12 of 74 calls differ, all release");
}

#[test]
fn a_stack_chooses_the_release_it_emulates() {
    let rec = Recorder::new(hook_qemu::NAME);
    let domain = hook_qemu::Domain::parse(
        recorded::calls("libvirt-11.3.0")
            .iter()
            .find(|c| c.args[1] == "release")
            .and_then(Call::stdin)
            .unwrap(),
    )
    .unwrap();
    for (version, extra) in [
        (LibvirtVersion::NEWEST, "crashed"),
        (LibvirtVersion::new(10, 5, 0), "crashed"),
        (LibvirtVersion::new(10, 4, 0), "-"),
        (LibvirtVersion::new(9, 0, 0), "-"),
    ] {
        let hooks = rec.hooks_as(version);
        assert_eq!(hooks.libvirt_version(), version);
        settle(|| hook_qemu::release(&hooks, &domain, ShutoffReason::Crashed)).unwrap();
        let seen = rec.take().unwrap();
        assert_eq!(
            seen.args,
            ["hookguest", "release", "end", extra],
            "{version}"
        );
    }
    // The default is the newest release.
    assert_eq!(rec.hooks().libvirt_version(), LibvirtVersion::NEWEST);
}
