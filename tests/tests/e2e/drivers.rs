//! The driver crates end to end: every event of every driver through a real recording script
//! (one snapshot per driver of what the script saw and what the caller got), the fixtures
//! reaching scripts byte-identical, filter chains through a main script and `.d` scripts, refused
//! filter output, operation words, and the generated `docs/invocations.md` being current.

use std::fs;
use std::path::Path;

use hook_core::matrix::{CallSite, Stdin};
use hook_core::xml::ObjectDocument;
use hook_core::{Failure, HookError, Hooks, LibvirtVersion, Operation, ShutoffReason};
use tests::TempDir;
use tests::drivers_support::{Recorder, Seen, fixture, settle, sh_quote, write_script};

type CallResult = Result<(), Box<Failure>>;

// ---------------------------------------------------------------------------------------------
// The invocation matrix, as the scripts see it.

/// Runs every event twice through a recording main script: once succeeding (what did the script
/// see?) and once failing (what does the caller get?), and renders both with the event's row.
fn matrix<E: Copy>(
    rec: &Recorder,
    events: Vec<E>,
    sites: Vec<CallSite>,
    call: impl Fn(E) -> CallResult,
    expected_stdin: impl Fn(E) -> Option<Vec<u8>>,
) -> String {
    assert_eq!(events.len(), sites.len(), "one matrix row per event");
    let mut out = String::new();
    for (event, site) in events.into_iter().zip(sites) {
        rec.set_failing(false);
        settle(|| call(event)).unwrap_or_else(|f| panic!("{}: {f}", site.call));
        let seen = rec
            .take()
            .unwrap_or_else(|| panic!("{}: nothing ran", site.call));
        rec.set_failing(true);
        let failure = settle(|| call(event)).expect_err(&site.call);
        assert!(rec.take().is_some(), "{}: the failing run ran", site.call);
        assert_eq!(failure.on_failure, site.spec.on_failure, "{}", site.call);
        assert!(
            matches!(failure.headline(), HookError::Exited { code: 3, .. }),
            "{}: {failure}",
            site.call
        );
        out.push_str(&describe(&site, &seen, expected_stdin(event).as_deref()));
    }
    rec.set_failing(false);
    out
}

fn describe(site: &CallSite, seen: &Seen, expected: Option<&[u8]>) -> String {
    let args: Vec<String> = seen.args.iter().map(|a| format!("{a:?}")).collect();
    let stdin = match (&seen.stdin, site.stdin) {
        (None, Stdin::DevNull) => "none (/dev/null)".to_owned(),
        (Some(got), Stdin::Document { root, .. }) => {
            ObjectDocument::parse_unnamed(got.as_slice(), root)
                .unwrap_or_else(|e| panic!("{}: stdin is not a <{root}> document: {e}", site.call));
            assert_eq!(
                Some(got.as_slice()),
                expected,
                "{}: stdin differs",
                site.call
            );
            format!(
                "<{root}> document, {} bytes, byte-identical to what the caller gave",
                got.len()
            )
        }
        (got, want) => panic!("{}: stdin {got:?}, expected {want:?}", site.call),
    };
    let mut s = format!(
        "{}\n    argv:        {}\n    stdin:       {stdin}\n    output used: {}\n    on failure:  {} ({})\n",
        site.call,
        args.join(" "),
        if site.spec.uses_output {
            "yes (a filter)"
        } else {
            "no"
        },
        site.spec.on_failure,
        site.failure,
    );
    if site.spec.rescans_first {
        s.push_str("    rescans the presence cache first\n");
    }
    s
}

#[test]
fn daemon_invocation_matrix() {
    use hook_daemon::Event;
    let rec = Recorder::new(hook_daemon::NAME);
    let hooks = rec.hooks();
    let call = |e: Event| -> CallResult {
        match e {
            Event::Start => hook_daemon::start(&hooks),
            Event::Reload => hook_daemon::reload(&hooks),
            Event::Shutdown => hook_daemon::shutdown(&hooks),
        }
        .map(drop)
    };
    let out = matrix(
        &rec,
        Event::all(),
        hook_daemon::invocation_matrix(),
        call,
        |_| None,
    );
    insta::assert_snapshot!("daemon_matrix", out);
}

#[test]
fn qemu_invocation_matrix() {
    use hook_qemu::Event;
    let rec = Recorder::new(hook_qemu::NAME);
    let hooks = rec.hooks();
    let old = rec.hooks_as(LibvirtVersion::new(9, 0, 0));
    let domain = hook_qemu::Domain::parse(fixture("domain-test.xml")).unwrap();
    let call = |e: Event| -> CallResult {
        let (h, d) = (&hooks, &domain);
        match e {
            Event::Prepare => hook_qemu::prepare(h, d).map(drop),
            Event::Start => hook_qemu::start(h, d).map(drop),
            Event::Started => hook_qemu::started(h, d).map(drop),
            Event::Stopped => hook_qemu::stopped(h, d).map(drop),
            Event::Release(Some(r)) => hook_qemu::release(h, d, r).map(drop),
            // A stack emulating libvirt before 10.5 gives the reason; `-` is sent.
            Event::Release(None) => hook_qemu::release(&old, d, ShutoffReason::Destroyed).map(drop),
            Event::Reconnect => hook_qemu::reconnect(h, d).map(drop),
            Event::Migrate => hook_qemu::migrate(h, d).map(drop),
            Event::Restore => hook_qemu::restore(h, d).map(drop),
        }
    };
    let out = matrix(
        &rec,
        Event::all(),
        hook_qemu::invocation_matrix(),
        call,
        |_| Some(domain.bytes().to_vec()),
    );
    insta::assert_snapshot!("qemu_matrix", out);
}

#[test]
fn lxc_invocation_matrix() {
    use hook_lxc::Event;
    let rec = Recorder::new(hook_lxc::NAME);
    let hooks = rec.hooks();
    let old = rec.hooks_as(LibvirtVersion::new(10, 4, 0));
    let domain = hook_lxc::Domain::parse(fixture("domain-test.xml")).unwrap();
    let call = |e: Event| -> CallResult {
        let (h, d) = (&hooks, &domain);
        match e {
            Event::Prepare => hook_lxc::prepare(h, d),
            Event::Start => hook_lxc::start(h, d),
            Event::Started => hook_lxc::started(h, d),
            Event::Stopped => hook_lxc::stopped(h, d),
            Event::Release(Some(r)) => hook_lxc::release(h, d, r),
            Event::Release(None) => hook_lxc::release(&old, d, ShutoffReason::Crashed),
            Event::Reconnect => hook_lxc::reconnect(h, d),
        }
        .map(drop)
    };
    let out = matrix(
        &rec,
        Event::all(),
        hook_lxc::invocation_matrix(),
        call,
        |_| Some(domain.bytes().to_vec()),
    );
    insta::assert_snapshot!("lxc_matrix", out);
}

#[test]
fn network_invocation_matrix() {
    use hook_network::Event;
    let rec = Recorder::new(hook_network::NAME);
    let hooks = rec.hooks();
    let network = hook_network::Network::parse(fixture("network-default.xml")).unwrap();
    let port = hook_network::Port::parse(fixture("networkport-default.xml")).unwrap();
    let call = |e: Event| -> CallResult {
        let (h, n, p) = (&hooks, &network, &port);
        match e {
            Event::Start => hook_network::start(h, n),
            Event::Started => hook_network::started(h, n),
            Event::Stopped => hook_network::stopped(h, n),
            Event::Updated => hook_network::updated(h, n),
            Event::PortCreated => hook_network::port_created(h, n, p),
            Event::PortReplayed => hook_network::port_replayed(h, n, p),
            Event::PortDeleted => hook_network::port_deleted(h, n, p),
        }
        .map(drop)
    };
    let out = matrix(
        &rec,
        Event::all(),
        hook_network::invocation_matrix(),
        call,
        |e| {
            Some(hook_network::hook_data(
                &network,
                e.has_port().then_some(&port),
            ))
        },
    );
    insta::assert_snapshot!("network_matrix", out);
}

#[test]
fn libxl_invocation_matrix() {
    use hook_libxl::Event;
    let rec = Recorder::new(hook_libxl::NAME);
    let hooks = rec.hooks();
    let domain = hook_libxl::Domain::parse(fixture("domain-test.xml")).unwrap();
    let call = |e: Event| -> CallResult {
        let (h, d) = (&hooks, &domain);
        match e {
            Event::Prepare => hook_libxl::prepare(h, d).map(drop),
            Event::Start => hook_libxl::start(h, d).map(drop),
            Event::Started => hook_libxl::started(h, d).map(drop),
            Event::Stopped => hook_libxl::stopped(h, d).map(drop),
            Event::Release => hook_libxl::release(h, d).map(drop),
            Event::Reconnect => hook_libxl::reconnect(h, d).map(drop),
            Event::Migrate => hook_libxl::migrate(h, d).map(drop),
        }
    };
    let out = matrix(
        &rec,
        Event::all(),
        hook_libxl::invocation_matrix(),
        call,
        |_| Some(domain.bytes().to_vec()),
    );
    insta::assert_snapshot!("libxl_matrix", out);
}

#[test]
fn bhyve_invocation_matrix() {
    use hook_bhyve::Event;
    let rec = Recorder::new(hook_bhyve::NAME);
    let hooks = rec.hooks();
    let domain = hook_bhyve::Domain::parse(fixture("domain-test.xml")).unwrap();
    let call = |e: Event| -> CallResult {
        let (h, d) = (&hooks, &domain);
        match e {
            Event::Prepare => hook_bhyve::prepare(h, d),
            Event::Start => hook_bhyve::start(h, d),
            Event::Started => hook_bhyve::started(h, d),
            Event::Stopped => hook_bhyve::stopped(h, d),
            Event::Release => hook_bhyve::release(h, d),
        }
        .map(drop)
    };
    let out = matrix(
        &rec,
        Event::all(),
        hook_bhyve::invocation_matrix(),
        call,
        |_| Some(domain.bytes().to_vec()),
    );
    insta::assert_snapshot!("bhyve_matrix", out);
}

#[test]
fn network_port_stdin_is_libvirts_hook_data() {
    let rec = Recorder::new(hook_network::NAME);
    let hooks = rec.hooks();
    let network = hook_network::Network::parse(fixture("network-default.xml")).unwrap();
    let port = hook_network::Port::parse(fixture("networkport-default.xml")).unwrap();
    assert_eq!(port.uuid(), Some("5d744f21-ba4a-4d6e-bdb2-30a35ff3207d"));
    settle(|| hook_network::port_created(&hooks, &network, &port)).unwrap();
    let seen = rec.take().expect("the script ran");
    assert_eq!(seen.args, ["default", "port-created", "begin", "-"]);
    let stdin = String::from_utf8(seen.stdin.expect("a pipe")).unwrap();
    assert!(!stdin.ends_with('\n'), "no newline after </hookData>");
    insta::assert_snapshot!("network_port_created_stdin", stdin);
}

// ---------------------------------------------------------------------------------------------
// Documents reaching the scripts.

#[test]
fn the_odd_name_domain_arrives_as_one_argv_element() {
    let rec = Recorder::new(hook_qemu::NAME);
    let hooks = rec.hooks();
    let domain = hook_qemu::Domain::parse(fixture("domain-odd-name.xml")).unwrap();
    assert_eq!(domain.name(), "vm with spaces ünïcode 'q' -rf");
    settle(|| hook_qemu::release(&hooks, &domain, ShutoffReason::FromSnapshot)).unwrap();
    let seen = rec.take().expect("the script ran");
    assert_eq!(
        seen.args,
        [
            "vm with spaces ünïcode 'q' -rf",
            "release",
            "end",
            "from snapshot"
        ]
    );
    assert_eq!(seen.stdin.as_deref(), Some(domain.bytes()));
}

#[test]
fn the_large_domain_arrives_byte_identical() {
    let dir = TempDir::new("large").expect("temp dir");
    let got = dir.path().join("got.xml");
    write_script(
        &dir.path().join("hooks/qemu"),
        &format!("cat > {}\n", sh_quote(&got)),
    );
    let hooks = Hooks::builder(dir.path().join("hooks"))
        .driver(hook_qemu::NAME)
        .build()
        .unwrap();
    for (file, secure) in [
        ("domain-large-nosecrets.xml", false),
        ("domain-large.xml", true),
    ] {
        let bytes = fixture(file);
        assert!(bytes.len() > 50_000, "{file} is the 50 KB one");
        let domain = hook_qemu::Domain::parse(bytes.clone()).unwrap();
        if secure {
            // The migrate filter gets the secure XML; printing nothing keeps it unchanged.
            let filtered = settle(|| hook_qemu::migrate(&hooks, &domain)).unwrap();
            assert!(filtered.is_unchanged());
        } else {
            settle(|| hook_qemu::prepare(&hooks, &domain)).unwrap();
        }
        assert!(
            fs::read(&got).unwrap() == bytes,
            "{file} differs on arrival"
        );
        fs::remove_file(&got).unwrap();
    }
}

#[test]
fn every_fixture_is_accepted_and_reaches_the_script_unchanged() {
    let domains = [
        "domain-test.xml",
        "domain-large.xml",
        "domain-large-nosecrets.xml",
        "domain-odd-name.xml",
    ];
    for driver in ["qemu", "lxc", "libxl", "bhyve"] {
        let rec = Recorder::new(driver);
        let hooks = rec.hooks();
        for file in domains {
            let bytes = fixture(file);
            let result = match driver {
                "qemu" => {
                    let d = hook_qemu::Domain::parse(bytes.clone()).unwrap();
                    settle(|| hook_qemu::prepare(&hooks, &d)).map(drop)
                }
                "lxc" => {
                    let d = hook_lxc::Domain::parse(bytes.clone()).unwrap();
                    settle(|| hook_lxc::prepare(&hooks, &d)).map(drop)
                }
                "libxl" => {
                    let d = hook_libxl::Domain::parse(bytes.clone()).unwrap();
                    settle(|| hook_libxl::prepare(&hooks, &d)).map(drop)
                }
                _ => {
                    let d = hook_bhyve::Domain::parse(bytes.clone()).unwrap();
                    settle(|| hook_bhyve::prepare(&hooks, &d)).map(drop)
                }
            };
            result.unwrap_or_else(|f| panic!("{driver} {file}: {f}"));
            let seen = rec.take().expect("the script ran");
            assert_eq!(seen.stdin.as_deref(), Some(&bytes[..]), "{driver} {file}");
            assert_eq!(seen.args[1..], ["prepare", "begin", "-"], "{driver} {file}");
        }
    }
    // The network fixtures: the documents appear, indented, inside <hookData>.
    let rec = Recorder::new(hook_network::NAME);
    let hooks = rec.hooks();
    let network = hook_network::Network::parse(fixture("network-default.xml")).unwrap();
    let port = hook_network::Port::parse(fixture("networkport-default.xml")).unwrap();
    settle(|| hook_network::port_deleted(&hooks, &network, &port)).unwrap();
    let stdin = String::from_utf8(rec.take().unwrap().stdin.unwrap()).unwrap();
    for file in ["network-default.xml", "networkport-default.xml"] {
        let text = String::from_utf8(fixture(file)).unwrap();
        for line in text.lines() {
            assert!(stdin.contains(&format!("\n  {line}\n")), "{file}: {line}");
        }
    }
}

#[test]
fn foreign_or_malformed_documents_are_refused_before_anything_runs() {
    let rec = Recorder::new(hook_qemu::NAME);
    let network = fixture("network-default.xml");
    let e = hook_qemu::Domain::parse(network.clone()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the root element is <network>, expected <domain>"
    );
    let e = hook_network::Network::parse(fixture("domain-test.xml")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the root element is <domain>, expected <network>"
    );
    let e = hook_network::Port::parse(network).unwrap_err();
    assert!(e.to_string().contains("expected <networkport>"), "{e}");

    let mut cut = fixture("domain-test.xml");
    cut.truncate(600);
    let e = hook_qemu::Domain::parse(cut).unwrap_err().to_string();
    assert!(
        e.starts_with("not well-formed XML at line ") || e.contains("is closed"),
        "{e}"
    );

    let swapped = String::from_utf8(fixture("domain-test.xml"))
        .unwrap()
        .replace("</devices>", "</device>");
    let e = hook_qemu::Domain::parse(swapped).unwrap_err().to_string();
    assert!(
        e.starts_with("not well-formed XML at line 30, column 3:"),
        "{e}"
    );
    assert!(e.contains("</devices>") && e.contains("</device>"), "{e}");
    assert!(rec.take().is_none(), "nothing ran");
}

// ---------------------------------------------------------------------------------------------
// Filters.

/// A hooks directory with scripts `(relative path, body)`, and a [`Hooks`] for `driver`.
fn hooks_with(driver: &str, scripts: &[(&str, &str)]) -> (TempDir, Hooks) {
    let dir = TempDir::new(&format!("filter-{driver}")).expect("temp dir");
    for (path, body) in scripts {
        write_script(&dir.path().join("hooks").join(path), body);
    }
    let hooks = Hooks::builder(dir.path().join("hooks"))
        .driver(driver)
        .build()
        .unwrap();
    (dir, hooks)
}

#[test]
fn a_migrate_filter_chain_ends_with_the_right_document() {
    // Each filter makes one edit to what it reads, so the result holds all three only if each
    // script was fed the previous one's output. 15-quiet prints nothing and 17-blank only
    // whitespace: both change nothing (libvirt's virStringIsEmpty), so 20-vcpu gets 10-crash's.
    let (dir, hooks) = hooks_with(
        "qemu",
        &[
            (
                "qemu",
                "sed 's#<memory unit=.KiB.>8388608</memory>#<memory unit=\"KiB\">4194304</memory>#'\n",
            ),
            (
                "qemu.d/10-crash",
                "sed 's#<on_crash>destroy#<on_crash>restart#'\n",
            ),
            ("qemu.d/15-quiet", "cat > /dev/null\n"),
            ("qemu.d/17-blank", "cat > /dev/null; printf '\\n  \\n'\n"),
            (
                "qemu.d/20-vcpu",
                "doc=$(cat)\ncase \"$doc\" in *'<on_crash>restart'*) ;; *) exit 9 ;; esac\nprintf '%s\\n' \"$doc\" | sed 's#>2</vcpu>#>4</vcpu>#'\n",
            ),
        ],
    );
    let original = fixture("domain-test.xml");
    let domain = hook_qemu::Domain::parse(original.clone()).unwrap();
    let filtered = settle(|| hook_qemu::migrate(&hooks, &domain)).unwrap();
    assert_eq!(filtered.outcome.runs.len(), 5);
    let expected = String::from_utf8(original)
        .unwrap()
        .replace(
            "<memory unit='KiB'>8388608</memory>",
            "<memory unit=\"KiB\">4194304</memory>",
        )
        .replace("<on_crash>destroy", "<on_crash>restart")
        .replace(">2</vcpu>", ">4</vcpu>");
    assert_eq!(
        filtered.replaced_by(),
        Some(dir.path().join("hooks/qemu.d/20-vcpu").as_path())
    );
    let result = filtered.into_document(domain);
    assert_eq!(String::from_utf8_lossy(result.bytes()), expected);
    assert_eq!(result.name(), "test");
}

#[test]
fn restore_and_libxl_migrate_are_filters_too() {
    let edit = "sed 's#<on_reboot>restart#<on_reboot>destroy#'\n";
    let original = fixture("domain-test.xml");
    let expected = String::from_utf8(original.clone())
        .unwrap()
        .replace("<on_reboot>restart", "<on_reboot>destroy");

    let (_dir, hooks) = hooks_with("qemu", &[("qemu.d/edit", edit)]);
    let domain = hook_qemu::Domain::parse(original.clone()).unwrap();
    let restored = settle(|| hook_qemu::restore(&hooks, &domain)).unwrap();
    assert_eq!(
        String::from_utf8_lossy(restored.replacement.unwrap().bytes()),
        expected
    );

    let (_dir, hooks) = hooks_with("libxl", &[("libxl", edit)]);
    let domain = hook_libxl::Domain::parse(original).unwrap();
    let migrated = settle(|| hook_libxl::migrate(&hooks, &domain)).unwrap();
    assert_eq!(
        String::from_utf8_lossy(migrated.replacement.unwrap().bytes()),
        expected
    );
}

/// The filter call fails with a [`HookError::BadOutput`] headline naming `script`.
fn assert_refused(failure: &Failure, script: &Path, needle: &str) {
    assert_eq!(failure.on_failure, hook_core::FailurePolicy::Abort);
    match failure.headline() {
        HookError::BadOutput {
            script: s, reason, ..
        } => {
            assert_eq!(s, script);
            assert!(reason.contains(needle), "{reason}");
        }
        other => panic!("expected BadOutput, got {other}"),
    }
    let shown = failure.to_string();
    assert!(shown.contains(&script.display().to_string()), "{shown}");
    assert!(shown.contains("printed unusable output"), "{shown}");
}

#[test]
fn a_filter_that_renames_the_guest_is_refused() {
    let (dir, hooks) = hooks_with(
        "qemu",
        &[
            ("qemu", "cat\n"),
            (
                "qemu.d/50-rename",
                "sed 's#<name>test</name>#<name>evil</name>#'\n",
            ),
        ],
    );
    let domain = hook_qemu::Domain::parse(fixture("domain-test.xml")).unwrap();
    let failure = settle(|| hook_qemu::migrate(&hooks, &domain)).unwrap_err();
    assert_refused(
        &failure,
        &dir.path().join("hooks/qemu.d/50-rename"),
        "may not rename",
    );
    assert_eq!(failure.runs.len(), 2);
    assert!(failure.runs[0].succeeded());

    // Changing the uuid is refused the same way.
    let (dir, hooks) = hooks_with(
        "qemu",
        &[("qemu", "sed 's#<uuid>6695eb01#<uuid>00000000#'\n")],
    );
    let failure = settle(|| hook_qemu::restore(&hooks, &domain)).unwrap_err();
    assert_refused(&failure, &dir.path().join("hooks/qemu"), "identity");
}

#[test]
fn a_filter_that_prints_junk_is_refused() {
    let domain_xml = fixture("domain-test.xml");
    for (body, needle) in [
        (
            "cat > /dev/null; echo 'all good'\n",
            "outside the root element",
        ),
        ("head -n 5\n", "is closed"),
        (
            "cat > /dev/null; echo '<network><name>test</name></network>'\n",
            "expected <domain>",
        ),
    ] {
        let (dir, hooks) = hooks_with("libxl", &[("libxl.d/junk", body)]);
        let domain = hook_libxl::Domain::parse(domain_xml.clone()).unwrap();
        let failure = settle(|| hook_libxl::migrate(&hooks, &domain)).unwrap_err();
        assert_refused(&failure, &dir.path().join("hooks/libxl.d/junk"), needle);
    }
}

// ---------------------------------------------------------------------------------------------
// Daemon, operations, presence.

#[test]
fn daemon_reload_and_shutdown_rescan_first() {
    let rec = Recorder::new(hook_daemon::NAME);
    let script = rec.hooks_dir().join(hook_daemon::NAME);
    let body = fs::read(&script).unwrap();
    fs::remove_file(&script).unwrap();
    let hooks = rec.hooks(); // scanned with nothing installed
    fs::write(&script, &body).unwrap();
    fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let outcome = settle(|| hook_daemon::start(&hooks)).unwrap();
    assert!(outcome.nothing_ran(), "start does not rescan");
    assert!(rec.take().is_none());

    let outcome = settle(|| hook_daemon::reload(&hooks)).unwrap();
    assert!(!outcome.nothing_ran(), "reload rescans first");
    let seen = rec.take().unwrap();
    assert_eq!(seen.args, ["-", "reload", "begin", "SIGHUP"]);
    assert_eq!(seen.stdin, None);

    fs::remove_file(&script).unwrap();
    let outcome = settle(|| hook_daemon::shutdown(&hooks)).unwrap();
    assert!(
        outcome.nothing_ran(),
        "shutdown rescans first and finds nothing"
    );
}

#[test]
fn nothing_installed_means_nothing_runs() {
    let dir = TempDir::new("empty").expect("temp dir");
    let hooks = Hooks::builder(dir.path())
        .drivers([hook_qemu::NAME, hook_network::NAME])
        .build()
        .unwrap();
    let domain = hook_qemu::Domain::parse(fixture("domain-test.xml")).unwrap();
    assert!(hook_qemu::migrate(&hooks, &domain).unwrap().is_unchanged());
    let network = hook_network::Network::parse(fixture("network-default.xml")).unwrap();
    assert!(hook_network::start(&hooks, &network).unwrap().nothing_ran());
}

fn words<O: Operation>() -> Vec<&'static str> {
    for op in O::ALL {
        assert!(
            op.to_string().parse::<O>().ok() == Some(*op),
            "{op} does not round-trip"
        );
    }
    O::ALL.iter().map(|o| o.as_str()).collect()
}

#[test]
fn operation_words_round_trip_in_libvirts_order() {
    assert_eq!(words::<hook_daemon::Op>(), ["start", "shutdown", "reload"]);
    assert_eq!(
        words::<hook_qemu::Op>(),
        [
            "start",
            "stopped",
            "prepare",
            "release",
            "migrate",
            "started",
            "reconnect",
            "attach",
            "restore"
        ]
    );
    assert_eq!(
        words::<hook_lxc::Op>(),
        [
            "start",
            "stopped",
            "prepare",
            "release",
            "started",
            "reconnect"
        ]
    );
    assert_eq!(
        words::<hook_network::Op>(),
        [
            "start",
            "started",
            "stopped",
            "port-created",
            "port-deleted",
            "updated"
        ]
    );
    assert_eq!(
        words::<hook_libxl::Op>(),
        [
            "start",
            "stopped",
            "prepare",
            "release",
            "migrate",
            "started",
            "reconnect"
        ]
    );
    assert_eq!(
        words::<hook_bhyve::Op>(),
        ["start", "stopped", "prepare", "release", "started"]
    );
    let e = "plugged".parse::<hook_network::Op>().unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"unknown network operation "plugged"; valid: start, started, stopped, port-created, port-deleted, updated"#
    );
    // attach parses (a script's argv may hold it) but no event sends it.
    assert_eq!("attach".parse(), Ok(hook_qemu::Op::Attach));
    assert!(
        hook_qemu::Event::all()
            .iter()
            .all(|e| e.op() != hook_qemu::Op::Attach)
    );
}

// ---------------------------------------------------------------------------------------------
// Generated documentation.

#[test]
fn docs_invocations_md_is_current() {
    let path = xtask::workspace_root().join(xtask::docgen::OUTPUT);
    let committed = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `cargo xtask docgen`", path.display()));
    assert!(
        committed == xtask::docgen::render(),
        "{} is stale: run `cargo xtask docgen` and commit the result",
        path.display()
    );
}
