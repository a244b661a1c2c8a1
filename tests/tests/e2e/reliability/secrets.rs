//! Nothing a hook receives ends up where it should not: a script's environment holds
//! libvirt's list and nothing else, and errors name the script, never the environment or the
//! stdin document. (The tracing side, which needs process-wide tracing state to itself, is
//! `isolated/logs.rs`.)

use std::ffi::OsString;
use std::path::Path;
use std::sync::Mutex;

use hook_core::{HookError, Hooks, Limits, PASS_THROUGH, ScriptEnv};
use tests::TempDir;
use tests::reliability_support::{
    STDIN_SECRET, TestEvent, assert_no_secret, secret_env, write_script,
};

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

    let tmp = TempDir::new("rel-environ").expect("temp dir");
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
        .run(&TestEvent::new("drv", "migrate").filter(), "guest", || None)
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
    let tmp = TempDir::new("rel-secrets-ns").expect("temp dir");
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
    assert_no_secret("NotStarted", &err.to_string());
    assert_no_secret("NotStarted (Debug)", &format!("{err:?}"));
}
