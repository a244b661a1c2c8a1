//! Nothing a hook receives ends up where it should not: the stdin document and the host's
//! environment never appear in an error or in tracing output at info level or above, and a
//! script's environment holds libvirt's list and nothing else.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hook_core::{HookError, Hooks, Limits, PASS_THROUGH, ScriptEnv};
use tests::reliability_support::{TempDir, TestEvent, chmod, lookup_with, write_script};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// A minimal subscriber that keeps every span field and event, with its level, as text.
#[derive(Clone, Default)]
struct Capture {
    lines: Arc<Mutex<Vec<(Level, String)>>>,
    spans: Arc<Mutex<HashMap<u64, Level>>>,
    next: Arc<AtomicU64>,
}

struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl Capture {
    fn keep(&self, level: Level, target: &str, fill: impl FnOnce(&mut Text)) {
        let mut text = Text(target.to_owned());
        fill(&mut text);
        self.lines.lock().unwrap().push((level, text.0));
    }

    /// Everything kept at info, warn or error.
    fn info_and_above(&self) -> Vec<String> {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .filter(|(l, _)| matches!(*l, Level::ERROR | Level::WARN | Level::INFO))
            .map(|(_, t)| t.clone())
            .collect()
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let level = *attrs.metadata().level();
        self.spans.lock().unwrap().insert(id, level);
        self.keep(level, attrs.metadata().name(), |t| attrs.record(t));
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let level = self.spans.lock().unwrap().get(&span.into_u64()).copied();
        self.keep(level.unwrap_or(Level::ERROR), "record", |t| {
            values.record(t)
        });
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        self.keep(*event.metadata().level(), event.metadata().target(), |t| {
            event.record(t)
        });
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

const STDIN_SECRET: &str = "STDIN-SECRET-7f3a";
const ENV_SECRETS: [&str; 4] = [
    "ENV-SECRET-home",
    "ENV-SECRET-user",
    "ENV-SECRET-plain",
    "ENV-SECRET-tmpdir",
];

fn secret_env() -> ScriptEnv {
    ScriptEnv::libvirt_from(lookup_with(&[
        ("HOME", "/home/ENV-SECRET-home"),
        ("USER", "ENV-SECRET-user"),
        ("SECRET", "ENV-SECRET-plain"),
        ("TMPDIR", "/tmp/ENV-SECRET-tmpdir"),
    ]))
}

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(STDIN_SECRET), "{what} leaks stdin: {text}");
    for s in ENV_SECRETS {
        assert!(
            !text.contains(s),
            "{what} leaks the environment ({s}): {text}"
        );
    }
}

#[test]
fn stdin_and_environment_stay_out_of_errors_and_logs() {
    let tmp = TempDir::new("rel-secrets");
    let root = tmp.path();
    // One driver per way to fail (and one success), every script reading the document.
    let scripts: [(&str, &str); 7] = [
        ("ok", "#!/bin/sh\ncat >/dev/null\necho '<domain/>'\n"),
        (
            "exit",
            "#!/bin/sh\ncat >/dev/null\necho 'it failed' >&2\nexit 1\n",
        ),
        ("signal", "#!/bin/sh\ncat >/dev/null\nkill -KILL $$\n"),
        ("timeout", "#!/bin/sh\ncat >/dev/null\nexec sleep 120\n"),
        ("big", "#!/bin/sh\ncat >/dev/null\nhead -c 4096 /dev/zero\n"),
        ("noexec", "#!/nonexistent/interpreter\n"),
        ("untrusted", "#!/bin/sh\ncat >/dev/null\n"),
    ];
    for (name, body) in scripts {
        write_script(&root.join(name), body);
    }
    chmod(&root.join("untrusted"), 0o777);
    let hooks = Hooks::builder(root)
        .drivers(scripts.map(|(n, _)| n))
        .env(secret_env())
        .strict_trust(true)
        .limits(Limits {
            stdout_cap: 1024,
            kill_grace: Duration::from_millis(50),
            ..Limits::default()
        })
        .build()
        .unwrap();
    let document = format!("<domain><secret>{STDIN_SECRET}</secret></domain>");

    let capture = Capture::default();
    let mut errors: Vec<String> = Vec::new();
    tracing::subscriber::with_default(capture.clone(), || {
        for (name, _) in scripts {
            let event = TestEvent::filter(name, "migrate");
            let limits = Limits {
                timeout: (name == "timeout").then(|| Duration::from_millis(50)),
                ..*hooks.runner().limits()
            };
            let result = hooks.run_with(
                &event,
                "guest",
                || Some(Cow::Borrowed(document.as_bytes())),
                &limits,
            );
            match (name, result) {
                ("ok", Ok(outcome)) => {
                    assert_eq!(outcome.output.as_deref(), Some(&b"<domain/>\n"[..]))
                }
                (_, Ok(outcome)) => panic!("{name} should fail: {outcome:?}"),
                (_, Err(failure)) => {
                    errors.push(failure.to_string());
                    errors.push(format!("{failure:?}"));
                    for e in failure.errors() {
                        errors.push(e.to_string());
                        errors.push(format!("{e:?}"));
                        errors.push(format!("{:?}", std::error::Error::source(e)));
                    }
                }
            }
        }
        // The runner's own entry point too.
        let report = hooks
            .runner()
            .run(&hook_core::Invocation {
                script: &root.join("exit"),
                args: &["guest", "prepare", "begin", "-"],
                stdin: Some(document.as_bytes()),
                capture_stdout: false,
            })
            .unwrap();
        let err = report.clone().check().unwrap_err();
        errors.push(err.to_string());
        errors.push(format!("{err:?} {report:?}"));
    });

    // Every way to fail was seen, and the capture works (the failures were logged).
    let kinds = errors.join("\n");
    for needle in [
        "exited with code 1",
        "SIGKILL",
        "timed out",
        "more than 1024 bytes",
        "could not be started",
        "refused by strict trust mode",
    ] {
        assert!(kinds.contains(needle), "no error with {needle:?}");
    }
    let logged = capture.info_and_above();
    assert!(
        logged.iter().any(|l| l.contains("hook failed")),
        "{logged:?}"
    );
    for e in &errors {
        assert_clean("an error", e);
    }
    for l in &logged {
        assert_clean("a log line at info or above", l);
    }
}

/// The host "has" every variable, a secret among them; the script gets libvirt's list only.
#[test]
fn script_environment_is_exactly_libvirts_list() {
    let asked = Mutex::new(Vec::new());
    let env = ScriptEnv::libvirt_from(|name| {
        asked.lock().unwrap().push(name.to_owned());
        Some(OsString::from(match name {
            "PATH" => "/usr/local/bin:/usr/bin:/bin".to_owned(),
            "LD_PRELOAD" => String::new(),
            _ => format!("v-{name}"),
        }))
    });
    assert_eq!(
        *asked.lock().unwrap(),
        PASS_THROUGH,
        "only the pass-through list is looked up"
    );

    let tmp = TempDir::new("rel-environ");
    // The shell's own environment as execve gave it, before the shell could add anything.
    write_script(
        &tmp.path().join("drv"),
        "#!/bin/sh\ntr '\\000' '\\n' < /proc/$$/environ\n",
    );
    let hooks = Hooks::builder(tmp.path())
        .driver("drv")
        .env(env)
        .build()
        .unwrap();
    let outcome = hooks
        .run(&TestEvent::filter("drv", "migrate"), "guest", || None)
        .unwrap();
    let got = String::from_utf8(outcome.output.unwrap()).unwrap();
    let mut want = vec!["LC_ALL=C".to_owned()];
    for name in PASS_THROUGH {
        want.push(match name {
            "PATH" => "PATH=/usr/local/bin:/usr/bin:/bin".to_owned(),
            "LD_PRELOAD" => "LD_PRELOAD=".to_owned(),
            _ => format!("{name}=v-{name}"),
        });
    }
    assert_eq!(got.lines().collect::<Vec<_>>(), want);
}

#[test]
fn libvirt_env_of_this_process_holds_only_documented_names() {
    let env = ScriptEnv::libvirt();
    let vars: Vec<_> = env.vars().collect();
    assert_eq!(
        vars.first().map(|(k, v)| (k.to_str(), v.to_str())),
        Some((Some("LC_ALL"), Some("C")))
    );
    for (name, _) in &vars[1..] {
        let name = name.to_str().unwrap();
        assert!(
            PASS_THROUGH.contains(&name),
            "{name} is not in the documented list"
        );
    }
    // Debug output shows names only.
    let debug = format!("{env:?}");
    for (_, value) in &vars {
        let value = value.to_str().unwrap();
        if value.len() > 3 {
            assert!(!debug.contains(value), "{debug}");
        }
    }
}

#[test]
fn not_started_error_names_the_script_not_the_environment() {
    let tmp = TempDir::new("rel-secrets-ns");
    let script = tmp.path().join("drv");
    write_script(&script, "#!/nonexistent/interpreter\n");
    let runner = hook_core::Runner::new(secret_env(), Limits::default());
    let err = runner
        .run(&hook_core::Invocation {
            script: Path::new(&script),
            args: &["guest", "prepare", "begin", "-"],
            stdin: Some(STDIN_SECRET.as_bytes()),
            capture_stdout: false,
        })
        .unwrap_err();
    assert!(matches!(err, HookError::NotStarted { .. }));
    assert_clean("NotStarted", &err.to_string());
    assert_clean("NotStarted (Debug)", &format!("{err:?}"));
}
