//! hook-core's `serde` feature: the JSON a stack gets when it serializes a hook's report
//! (`Failure`, `Outcome`, `ScriptRun`, `Report`, `Ending`, `HookError`), the listing and a
//! `CallSite`, from real runs. These snapshots are the schema `docs/json.md` documents: a
//! change of a field name or shape shows here first.

use hook_core::Hooks;
use insta::assert_snapshot;
use serde_json::Value;
use tests::hookdir::{HookDir, TestEvent, run};

/// Pretty JSON with what varies between runs replaced: temporary paths, pids, durations.
fn stable(d: &HookDir, mut v: Value) -> String {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, item) in map.iter_mut() {
                    match k.as_str() {
                        "pid" => *item = Value::from("[PID]"),
                        "duration_ms" => *item = Value::from("[MS]"),
                        _ => walk(item),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    d.redact(&serde_json::to_string_pretty(&v).expect("JSON"))
}

#[test]
fn a_failure_serializes_every_run() {
    let d = HookDir::new();
    d.script(
        "qemu",
        "cat >/dev/null; echo 'Allocating hugepages'; echo 'Not able to allocate all hugepages' >&2; exit 3",
    );
    d.mkdir("qemu.d");
    // Each reads its stdin first, so `stdin_unread` does not depend on timing.
    d.script("qemu.d/10-killed", "cat >/dev/null; kill -9 $$");
    d.file("qemu.d/20-crlf", "#!/bin/sh\r\nexit 0\r\n", 0o755);
    d.script("qemu.d/30-ok", "cat >/dev/null");
    let hooks = Hooks::builder(d.hooks()).driver("qemu").build().unwrap();
    let failure = run(
        &hooks,
        &TestEvent::new("qemu", "prepare"),
        "guest",
        Some(b"<domain/>"),
    )
    .expect_err("the call fails");
    let v = serde_json::to_value(&*failure).expect("serializes");
    assert_snapshot!(stable(&d, v));
}

#[test]
fn a_filter_outcome_names_the_scripts_that_changed_the_document() {
    let d = HookDir::new();
    d.mkdir("qemu.d");
    d.script("qemu.d/10-edit", "sed 's/1/2/'");
    d.script("qemu.d/20-same", "cat");
    let hooks = Hooks::builder(d.hooks()).driver("qemu").build().unwrap();
    let doc = b"<domain><name>guest</name><memory>1</memory></domain>\n";
    let outcome = run(
        &hooks,
        &TestEvent::new("qemu", "migrate").filter(),
        "guest",
        Some(doc),
    )
    .expect("the call succeeds");
    let v = serde_json::to_value(&outcome).expect("serializes");
    assert_snapshot!(stable(&d, v));
}

#[test]
fn a_listing_and_a_call_site() {
    let d = HookDir::new();
    d.script("qemu", "exit 0");
    d.mkdir("qemu.d/per-guest");
    d.file("qemu.d/notes.txt", "notes\n", 0o644);
    let listing = hook_core::discover::list(d.hooks(), "qemu");
    let v = serde_json::to_value(&listing).expect("serializes");
    let site = &hook_qemu::invocation_matrix()[0];
    let site = serde_json::to_string_pretty(site).expect("serializes");
    assert_snapshot!(format!("{}\n---\n{site}", stable(&d, v)));
}
