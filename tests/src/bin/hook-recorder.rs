//! `hook-recorder`: a stand-in hook script that reports what it was given, like libvirt's
//! `tests/commandhelper`. Install it (a symlink or a `#!/bin/sh` wrapper that `exec`s it) where
//! a hook script would be; it writes one stable text report to stdout, one item per line:
//!
//! ```text
//! argv qemu                      argv, argv[0] reduced to its file name
//! env LC_ALL=C                   the environment, sorted by name
//! fd 0 pipe                      open fds: pipe, socket, or what the link names
//! SigBlk 0000000000000000        from /proc/self/status
//! SigIgn 0000000000001000        (the Rust runtime ignores SIGPIPE before main: bit 13)
//! cwd /                          the working directory
//! umask 0022                     the umask, octal
//! pid 4242                       its process id
//! pgrp-leader yes                getpgrp() == getpid()
//! stdin 1048576 fnv1a64=…        stdin read to EOF: length and FNV-1a 64 checksum
//! ```
//!
//! Values are shown lossily as UTF-8 with control characters escaped, so each item is one line.
//! It exits 0 unless it cannot write its report.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::sys::stat::{Mode, umask};
use nix::unistd::{getpgrp, getpid};

fn show(s: &OsStr) -> String {
    String::from_utf8_lossy(s.as_bytes())
        .escape_debug()
        .to_string()
}

fn main() {
    let mut out = String::new();

    for (i, arg) in std::env::args_os().enumerate() {
        let shown = if i == 0 {
            Path::new(&arg).file_name().map_or_else(|| show(&arg), show)
        } else {
            show(&arg)
        };
        let _ = writeln!(out, "argv {shown}");
    }

    let mut env: Vec<_> = std::env::vars_os().collect();
    env.sort();
    for (k, v) in &env {
        let _ = writeln!(out, "env {}={}", show(k), show(v));
    }

    // Listing /proc/self/fd opens a directory fd of its own: leave out the entry that points
    // at that directory.
    let me = format!("/proc/{}/fd", std::process::id());
    let mut fds: Vec<(i32, String)> = Vec::new();
    match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => {
            for entry in dir.flatten() {
                let Some(n) = entry
                    .file_name()
                    .to_str()
                    .and_then(|s| s.parse::<i32>().ok())
                else {
                    continue;
                };
                let target = std::fs::read_link(entry.path())
                    .map(|p| p.as_os_str().to_owned())
                    .unwrap_or_default();
                if target == OsStr::new(&me) {
                    continue;
                }
                let target = show(&target);
                let what = match target.split_once(':') {
                    Some(("pipe", _)) => "pipe".to_owned(),
                    Some(("socket", _)) => "socket".to_owned(),
                    _ => target,
                };
                fds.push((n, what));
            }
        }
        Err(e) => {
            let _ = writeln!(out, "fd -1 cannot list /proc/self/fd: {e}");
        }
    }
    fds.sort();
    for (n, what) in fds {
        let _ = writeln!(out, "fd {n} {what}");
    }

    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for name in ["SigBlk", "SigIgn"] {
        let value = status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map_or("?", str::trim);
        let _ = writeln!(out, "{name} {value}");
    }

    let cwd = std::env::current_dir()
        .map(|p| show(p.as_os_str()))
        .unwrap_or_else(|e| format!("? ({e})"));
    let _ = writeln!(out, "cwd {cwd}");

    let mask = umask(Mode::from_bits_truncate(0o077));
    umask(mask);
    let _ = writeln!(out, "umask {:04o}", mask.bits());

    let pid = getpid();
    let _ = writeln!(out, "pid {pid}");
    let leader = if getpgrp() == pid { "yes" } else { "no" };
    let _ = writeln!(out, "pgrp-leader {leader}");

    let mut input = Vec::new();
    match std::io::stdin().lock().read_to_end(&mut input) {
        Ok(_) => {
            let _ = writeln!(
                out,
                "stdin {} fnv1a64={:016x}",
                input.len(),
                tests::fnv1a64(&input)
            );
        }
        Err(e) => {
            let _ = writeln!(out, "stdin-error {e}");
        }
    }

    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        std::process::exit(2);
    }
}
