//! The stdin document and the host's environment never appear in an error or in tracing output
//! at info level or above, for every way a call can fail.
//!
//! This test lives in the `isolated` binary because tracing's callsite interest and maximum
//! level are process-wide: a subscriber set for one thread (`with_default`) can miss events
//! while other threads hit the same callsites for the first time.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hook_core::{Hooks, Limits};
use tests::TempDir;
use tests::reliability_support::{
    STDIN_SECRET, TestEvent, assert_no_secret, chmod, secret_env, write_script,
};
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

#[test]
fn stdin_and_environment_stay_out_of_errors_and_logs() {
    let _x = crate::exclusive();
    let tmp = TempDir::new("rel-secrets").expect("temp dir");
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
            let event = TestEvent::new(name, "migrate").filter();
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
        assert_no_secret("an error", e);
    }
    for l in &logged {
        assert_no_secret("a log line at info or above", l);
    }
}
