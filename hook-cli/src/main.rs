// Started without std's runtime start-up (C's `main` below): see `main`.
#![cfg_attr(all(not(test), target_env = "gnu"), no_main)]
//! `virt-hook`: the administrator's command for libvirt hook scripts.
//!
//! It answers what administrators otherwise find out by starting guests: which files in the
//! hooks directory would run and why others do not (`list`), what a driver's hooks do for one
//! event, fed the same arguments, environment and XML as the daemon gives them (`run`,
//! `lifecycle`), and which of the usual mistakes a directory holds (`check`). It uses only the
//! public API of `hook-core` and the driver crates; every process it starts is started by
//! `hook-core`.
//!
//! It is also the dispatcher libvirt can run as its main hook script (`dispatch`): when the
//! file name it was started as is a driver's (`/etc/libvirt/hooks/qemu` a symlink to it), it
//! runs the per-object scripts of that hooks directory for libvirt's event, before any
//! command-line parsing.
//!
//! Exit status: 0 success, 1 a hook failed or `check` found an error, 2 a usage or input error
//! (one line on stderr naming the problem), 128 + the signal number (130 for Ctrl-C's SIGINT,
//! 143 for SIGTERM) when `run` or `lifecycle` was interrupted.
//!
//! Hook scripts run in their own process groups, so the terminal's SIGINT never reaches them:
//! while `run` and `lifecycle` fire hooks, SIGINT and SIGTERM are caught (the `signal-hook`
//! crate's safe iterator, on a thread of its own) and forwarded through a `hook_core::Cancel`
//! to the running script's process group; SIGKILL follows after the kill grace (5 s), and no
//! further script is started.

// The layers, bottom to top; a module uses only the layers below its own (xtask/src/tidy.rs
// checks it, ARCHITECTURE.md draws it). Leaves: no command, no dispatcher.
// The command line's definition: its doc comments are the command's help text (plain text:
// `--help`, the man page), not Markdown: `<driver>.d` there is not an HTML tag.
#[allow(rustdoc::invalid_html_tags)]
mod cli;
mod ctx;
mod drivers;
mod duration;
mod event;
mod input;
mod installed;
mod json;
mod logging;
mod logread;
mod mac;
mod style;
mod text;

// The dispatcher libvirt runs as its main hook; it uses leaves only.
mod dispatch;

// What `run` and `lifecycle` share: firing hooks and reporting what they did.
mod fire;

// The commands: each uses the layers below, never another command.
mod check;
mod complete;
mod install;
mod lifecycle;
mod list;
mod logview;
mod run;
mod status;

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;

use clap::Parser as _;

use crate::cli::{Cli, Command};
use crate::ctx::{Ctx, InputError, Output};

fn execute(cli: &Cli) -> Result<Output, InputError> {
    let ctx = Ctx::new(cli)?;
    let mut out = match &cli.command {
        Command::List { driver, json } => list::list(&ctx, driver.as_deref(), *json),
        Command::Check { driver, json } => check::check(&ctx, driver.as_deref(), *json),
        Command::Run(args) => run::run(&ctx, args),
        Command::Lifecycle(args) => lifecycle::lifecycle(&ctx, args),
        Command::Install { refresh: true, .. } => install::refresh(&ctx),
        Command::Install { driver, force, .. } => install::install(&ctx, driver, *force),
        Command::Uninstall { driver, all } => install::uninstall(&ctx, driver, *all),
        Command::Status { json } => status::status(&ctx, *json),
        Command::Log(args) => logview::log(&ctx, args),
        Command::Dispatch { driver, args } => Ok(dispatch::dispatch(&ctx.hooks_dir, driver, args)),
    }?;
    if let Some(signal) = ctx.interrupted_by() {
        out.code = 128 + signal as u8;
        out.stderr
            .push_str(&format!("virt-hook: interrupted by {}\n", signal.as_str()));
    }
    Ok(out)
}

/// libvirt running `<hooks dir>/<driver>`: a symlink or hard link to virt-hook.
struct HookCall {
    /// The driver named by argv\[0\]'s file name.
    driver: &'static str,
    /// argv\[0\]'s directory.
    dir: PathBuf,
    /// The arguments after argv\[0\], as they are: never options, UTF-8 or not.
    args: Vec<OsString>,
}

/// When argv\[0\]'s file name is a driver's: the call.
fn called_as_hook() -> Option<HookCall> {
    let mut args = std::env::args_os();
    let argv0 = PathBuf::from(args.next()?);
    let name = argv0.file_name()?.to_str()?;
    let driver = drivers::NAMES.iter().copied().find(|n| *n == name)?;
    let dir = match argv0.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => hook_core::dir::system_dir(),
    };
    Some(HookCall {
        driver,
        dir,
        args: args.collect(),
    })
}

/// The wrapper form, `virt-hook [GLOBAL OPTIONS] dispatch [GLOBAL OPTIONS] DRIVER WORDS…`,
/// parsed by hand: clap would read libvirt's words as options (a guest named `--help` would
/// print the help and exit 0, one named `-v` or `--` could not start), whatever
/// `trailing_var_arg` says. The global options are `--hooks-dir DIR` (or `=DIR`), `--user` and
/// `-v`; everything after DRIVER is taken verbatim. `None` when the command line is anything
/// else (another command, another option, `dispatch --help`): clap parses it then.
fn wrapper_call(argv: &[OsString]) -> Option<Cli> {
    let mut hooks_dir: Option<PathBuf> = None;
    let mut user = false;
    let mut verbose: u8 = 0;
    let mut seen_dispatch = false;
    let mut words = argv.iter().skip(1);
    while let Some(w) = words.next() {
        let w = w.to_str()?;
        match w {
            "--hooks-dir" => hooks_dir = Some(PathBuf::from(words.next()?)),
            "--user" => user = true,
            "--verbose" => verbose = verbose.saturating_add(1),
            "dispatch" if !seen_dispatch => seen_dispatch = true,
            _ if w.starts_with("--hooks-dir=") => {
                hooks_dir = Some(PathBuf::from(&w["--hooks-dir=".len()..]));
            }
            _ if w.len() > 1 && w.starts_with('-') && w[1..].bytes().all(|b| b == b'v') => {
                verbose = verbose.saturating_add((w.len() - 1) as u8);
            }
            _ if seen_dispatch && !w.starts_with('-') => {
                // --hooks-dir and --user conflict: left to clap's message.
                if user && hooks_dir.is_some() {
                    return None;
                }
                let rest: Vec<OsString> = words.cloned().collect();
                return Some(Cli {
                    hooks_dir,
                    user,
                    verbose,
                    command: Command::Dispatch {
                        driver: w.to_owned(),
                        args: rest,
                    },
                });
            }
            _ => return None,
        }
    }
    None
}

fn write_out(out: &Output) -> u8 {
    // A closed pipe (`virt-hook list | head`) is not worth a panic or a message.
    let _ = std::io::stdout().lock().write_all(&out.stdout);
    let _ = std::io::stderr().lock().write_all(out.stderr.as_bytes());
    out.code
}

/// C's `main`, which the C library calls at the start: virt-hook skips std's runtime start-up
/// (`#![no_main]`), whose stack-overflow handler (reading `/proc/self/maps`, mapping an
/// alternate signal stack) libvirt would otherwise wait for at every guest event: measured at
/// about 5 % of a whole event (`docs/performance-model.md`). `hook_core::startup::run_main` does
/// the rest of that start-up, catches a panic as std does (status 101), and
/// `std::process::exit` flushes stdout. The arguments are read with `std::env::args_os`,
/// which the C library's `.init_array` call gives std before `main` on glibc (hence
/// `target_env = "gnu"`; elsewhere, std's own `main` below).
#[cfg(all(not(test), target_env = "gnu"))]
// The workspace's one `unsafe` outside hook-core's process/sys.rs (ARCHITECTURE.md, "Invariants";
// xtask's tidy test pins it): Rust has no safe way to name C's entry point.
#[allow(unsafe_code)]
// SAFETY: `main` is the symbol the C start-up code calls, with C's `main` signature; no other
// item of the program is named `main` (std's is not generated under `no_main`), so the name
// clashes with nothing.
#[unsafe(no_mangle)]
extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    std::process::exit(hook_core::startup::run_main(virt_hook))
}

/// std's `main`, where C's `main` is not used (and in the unit tests' build, whose `main` is
/// the test harness's): the same program.
#[cfg(any(test, not(target_env = "gnu")))]
fn main() {
    std::process::exit(hook_core::startup::run_main(virt_hook))
}

/// The program: the dispatcher when started under a driver's name, the command line otherwise.
/// Returns the exit status.
fn virt_hook() -> u8 {
    // Every build carries the marker by which `install`, `list` and `check` recognise a copy.
    std::hint::black_box(installed::MARKER);
    if let Some(call) = called_as_hook() {
        return write_out(&dispatch::dispatch(&call.dir, call.driver, &call.args));
    }
    let argv: Vec<OsString> = std::env::args_os().collect();
    // The completion scripts' question: never parsed by clap (the words are half typed).
    if argv.get(1).is_some_and(|a| a == complete::COMMAND) {
        return write_out(&complete::complete(&argv[2..]));
    }
    let cli = wrapper_call(&argv).unwrap_or_else(|| Cli::parse_from(&argv));
    logging::init(cli.verbose);
    let out = match execute(&cli) {
        Ok(out) => out,
        Err(InputError(msg)) => Output {
            stderr: format!("virt-hook: {msg}\n"),
            code: 2,
            ..Output::default()
        },
    };
    write_out(&out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn words(w: &[&str]) -> Vec<OsString> {
        w.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_wrapper_forms_words_are_never_options() {
        let hostile = ["--help", "-v", "--", "--hooks-dir=x", "", "-V", "dispatch"];
        for object in hostile {
            let argv = words(&[
                "virt-hook",
                "--hooks-dir",
                "/h",
                "dispatch",
                "qemu",
                object,
                "prepare",
                "begin",
                "-",
            ]);
            let cli = wrapper_call(&argv).expect("the wrapper form");
            assert_eq!(cli.hooks_dir.as_deref(), Some(Path::new("/h")));
            match cli.command {
                Command::Dispatch { driver, args } => {
                    assert_eq!(driver, "qemu");
                    assert_eq!(args, words(&[object, "prepare", "begin", "-"]));
                }
                other => panic!("{other:?}"),
            }
        }
        // Global options before or after `dispatch`, in each spelling.
        let cli = wrapper_call(&words(&[
            "virt-hook",
            "-vv",
            "dispatch",
            "--hooks-dir=/h",
            "--verbose",
            "lxc",
            "--help",
            "a",
        ]))
        .unwrap();
        assert_eq!(
            (cli.verbose, cli.hooks_dir.as_deref()),
            (3, Some(Path::new("/h")))
        );
        assert!(
            matches!(cli.command, Command::Dispatch { ref driver, ref args }
            if driver == "lxc" && *args == words(&["--help", "a"]))
        );
        // Non-UTF-8 words after the driver are kept as they are.
        use std::os::unix::ffi::OsStringExt as _;
        let odd = OsString::from_vec(vec![b'g', 0xff]);
        let mut argv = words(&["virt-hook", "--user", "dispatch", "qemu"]);
        argv.push(odd.clone());
        let cli = wrapper_call(&argv).unwrap();
        assert!(cli.user);
        assert!(matches!(cli.command, Command::Dispatch { ref args, .. } if *args == [odd]));
        // Anything else is clap's.
        for other in [
            &["virt-hook", "list"][..],
            &["virt-hook", "dispatch", "--help"],
            &["virt-hook", "--help"],
            &[
                "virt-hook",
                "--user",
                "--hooks-dir",
                "/h",
                "dispatch",
                "qemu",
            ],
            &["virt-hook", "dispatch"],
            &["virt-hook", "--hooks-dir"],
        ] {
            assert!(wrapper_call(&words(other)).is_none(), "{other:?}");
        }
    }
}
