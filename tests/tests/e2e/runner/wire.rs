//! What a script sees of the process that started it, checked with `hook-recorder` (and, for
//! ignored signals, a shell probe): argv, exactly libvirt's environment, only fds 0/1/2, no
//! blocked and no ignored signal, the parent's cwd and umask, and its own process group.

use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;

use hook_core::{Invocation, Limits, PASS_THROUGH, Report, Runner, ScriptEnv};
use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl, open};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
use nix::sys::stat::Mode;
use tests::{
    RUST_RUNTIME_SIGIGN, Recording, TempDir, fnv1a64, link_recorder, mask_has, run, status_field,
    write_script,
};

use super::{HOOK_ARGS, recorder, runner};

super::also_on_fallbacks!(
    recorder_sees_the_libvirt_contract,
    script_leads_its_own_process_group,
    stdin_is_dev_null_without_input_and_a_pipe_with_empty_input,
    host_fds_and_signal_state_do_not_reach_the_script,
);

const NO_SIGNALS: &str = "0000000000000000";

/// Runs the recorder as `<tmp>/qemu guest prepare begin -` and parses what it saw.
fn record(runner: &Runner, stdin: Option<&[u8]>) -> (Report, Recording) {
    let dir = TempDir::new("record").unwrap();
    let script = link_recorder(dir.path(), "qemu", recorder()).unwrap();
    let report = run(
        runner,
        &Invocation {
            script: &script,
            args: HOOK_ARGS,
            stdin,
            capture_stdout: true,
        },
    )
    .unwrap();
    let report = report.check().unwrap();
    let recording = Recording::parse(std::str::from_utf8(&report.stdout).unwrap());
    (report, recording)
}

fn host_umask() -> String {
    status_field("/proc/self/status", "Umask").expect("Umask in /proc/self/status")
}

fn host_cwd() -> String {
    let cwd = std::env::current_dir().unwrap();
    String::from_utf8_lossy(cwd.as_os_str().as_bytes())
        .escape_debug()
        .to_string()
}

#[test]
fn recorder_sees_the_libvirt_contract() {
    let xml = b"<domain type='kvm'>\n  <name>guest</name>\n</domain>\n";
    let (report, rec) = record(&runner(), Some(xml));

    assert_eq!(rec.argv, ["qemu", "guest", "prepare", "begin", "-"]);
    assert_eq!(
        rec.fds,
        [(0, "pipe".into()), (1, "pipe".into()), (2, "pipe".into())]
    );
    assert_eq!(rec.sig_blk, NO_SIGNALS);
    assert_eq!(rec.sig_ign, RUST_RUNTIME_SIGIGN);
    assert_eq!(rec.pid, report.pid);
    assert!(rec.pgrp_leader);
    assert_eq!(rec.stdin_len, xml.len() as u64);
    assert_eq!(rec.stdin_fnv1a64, fnv1a64(xml));
    assert_eq!(report.stdin_unread, 0);

    // The snapshot keeps what is stable across machines; what is inherited from the test
    // process is checked above and below, then replaced by a placeholder.
    assert_eq!(rec.cwd, host_cwd());
    assert_eq!(rec.umask, host_umask());
    let text = std::str::from_utf8(&report.stdout).unwrap();
    let stable: String = text
        .lines()
        .map(|l| match l.split_once(' ') {
            Some(("pid", _)) => "pid [PID]\n".to_owned(),
            Some(("cwd", _)) => "cwd [HOST CWD]\n".to_owned(),
            Some(("umask", _)) => "umask [HOST UMASK]\n".to_owned(),
            _ => format!("{l}\n"),
        })
        .collect();
    insta::assert_snapshot!("recorder_libvirt_contract", stable);
}

#[test]
fn cwd_and_umask_are_inherited() {
    let (_, rec) = record(&runner(), None);
    assert_eq!(rec.cwd, host_cwd());
    assert_eq!(rec.umask, host_umask());
}

#[test]
fn script_leads_its_own_process_group() {
    let (report, rec) = record(&runner(), None);
    assert_eq!(rec.pid, report.pid);
    assert!(
        rec.pgrp_leader,
        "the script is not its own process group leader"
    );
    // And that group is not the test's.
    assert_ne!(
        nix::unistd::getpgrp().as_raw() as u32,
        report.pid,
        "the test process leads the script's group"
    );
}

#[test]
fn stdin_is_dev_null_without_input_and_a_pipe_with_empty_input() {
    let (_, rec) = record(&runner(), None);
    assert_eq!(rec.fds[0], (0, "/dev/null".into()));
    assert_eq!(rec.stdin_len, 0);

    let (report, rec) = record(&runner(), Some(b""));
    assert_eq!(rec.fds[0], (0, "pipe".into()));
    assert_eq!(rec.stdin_len, 0);
    assert_eq!(report.stdin_unread, 0);
}

#[test]
fn environment_is_lc_all_and_the_pass_through_list_only() {
    let host: Vec<String> = std::env::vars_os()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .collect();
    let allowed = |name: &str| name == "LC_ALL" || PASS_THROUGH.contains(&name);
    assert!(
        host.iter().any(|k| !allowed(k)),
        "precondition: the test process has variables that must not pass ({host:?})"
    );

    let (_, rec) = record(&Runner::new(ScriptEnv::libvirt(), Limits::default()), None);
    for (name, _) in &rec.env {
        assert!(allowed(name), "{name} leaked into the script's environment");
    }
    assert_eq!(rec.var("LC_ALL"), Some("C"));
    for name in PASS_THROUGH {
        let want = std::env::var_os(name).map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .escape_debug()
                .to_string()
        });
        assert_eq!(rec.var(name), want.as_deref(), "{name}");
    }
}

#[test]
fn explicit_variables_are_added_after_libvirts() {
    let mut env = super::controlled_env();
    env.set("HOOK_EXTRA", "yes it is").unwrap();
    env.set("PATH", "/bin").unwrap();
    let (_, rec) = record(&Runner::new(env, Limits::default()), None);
    let names: Vec<&str> = rec.env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["HOME", "HOOK_EXTRA", "LC_ALL", "PATH", "TMPDIR", "USER"]
    );
    assert_eq!(rec.var("HOOK_EXTRA"), Some("yes it is"));
    assert_eq!(rec.var("PATH"), Some("/bin"));
}

/// Restores the calling thread's signal mask when dropped.
struct MaskGuard(SigSet);

impl Drop for MaskGuard {
    fn drop(&mut self) {
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&self.0), None);
    }
}

/// A daemon opened a file without `O_CLOEXEC`, blocks SIGTERM in the calling thread and
/// ignores SIGPIPE (as libvirtd and every Rust program do): none of it reaches the script.
#[test]
fn host_fds_and_signal_state_do_not_reach_the_script() {
    let _dispositions = super::signal_dispositions();

    // A host fd that exec would not close.
    let leaked = open(c"/dev/null", OFlag::O_RDONLY, Mode::empty()).unwrap();
    let flags = FdFlag::from_bits_truncate(fcntl(&leaked, FcntlArg::F_GETFD).unwrap());
    assert!(!flags.contains(FdFlag::FD_CLOEXEC), "precondition");

    // SIGTERM and SIGUSR1 blocked in this thread (the one that runs the script).
    let mut block = SigSet::empty();
    block.add(Signal::SIGTERM);
    block.add(Signal::SIGUSR1);
    let mut old = SigSet::empty();
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&block), Some(&mut old)).unwrap();
    let _restore = MaskGuard(old);
    let thread_blk = status_field("/proc/thread-self/status", "SigBlk").unwrap();
    assert!(mask_has(&thread_blk, Signal::SIGTERM), "precondition");

    // SIGPIPE ignored by the whole process (the Rust runtime does that before main).
    let host_ign = status_field("/proc/self/status", "SigIgn").unwrap();
    assert!(mask_has(&host_ign, Signal::SIGPIPE), "precondition");

    let (_, rec) = record(&runner(), Some(b"<domain/>"));
    assert_eq!(
        rec.fds,
        [(0, "pipe".into()), (1, "pipe".into()), (2, "pipe".into())],
        "fd {} of the host reached the script",
        leaked.as_raw_fd()
    );
    assert_eq!(rec.sig_blk, NO_SIGNALS);
    // The recorder is a Rust program: its runtime ignores SIGPIPE itself, so its SigIgn can
    // only show that nothing else is ignored. The shell probe below shows the rest.
    assert_eq!(rec.sig_ign, RUST_RUNTIME_SIGIGN);

    // A shell script reading its own status with builtins only (dash keeps the dispositions
    // it inherits, so its SigIgn is what the runner gave it).
    let dir = TempDir::new("sigprobe").unwrap();
    let probe = write_script(
        dir.path(),
        "probe",
        b"#!/bin/sh\nwhile IFS= read -r line; do\n  case $line in SigBlk:*|SigIgn:*) printf '%s\\n' \"$line\";; esac\ndone < /proc/$$/status\n",
        0o755,
    )
    .unwrap();
    let report = run(
        &runner(),
        &Invocation {
            script: &probe,
            args: HOOK_ARGS,
            stdin: Some(b"<domain/>"),
            capture_stdout: true,
        },
    )
    .unwrap()
    .check()
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&report.stdout),
        format!("SigBlk:\t{NO_SIGNALS}\nSigIgn:\t{NO_SIGNALS}\n")
    );
    drop(leaked);
}
