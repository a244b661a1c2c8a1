//! What every command shares with `main`: [`Ctx`] (the hooks directory the command line names,
//! and the cancellation SIGINT/SIGTERM trigger once hooks are fired), [`Output`] (what a command
//! prints and its exit status) and [`InputError`] (a usage or input problem: exit status 2).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hook_core::Cancel;
use nix::sys::signal::Signal;

use crate::cli::{Cli, Command};
use crate::text;

/// A problem with what the user gave us (a file, a name, an option): exit status 2.
#[derive(Debug)]
pub(crate) struct InputError(pub(crate) String);

impl<T: std::fmt::Display> From<T> for InputError {
    fn from(msg: T) -> Self {
        InputError(msg.to_string())
    }
}

/// What every command needs: the hooks directory and where it came from.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// The hooks directory, absolute (scripts get an absolute `$0`, as libvirt always gives
    /// them), symlinks kept as given. One named with `--hooks-dir` exists; the default ones
    /// need not.
    pub(crate) hooks_dir: PathBuf,
    /// Cancelled by SIGINT/SIGTERM once hooks are about to be fired ([`Ctx::cancel`]).
    /// Read through [`Ctx::cancel`]; crate-visible only so tests can build a `Ctx`.
    pub(crate) cancel: OnceLock<Option<Cancel>>,
    /// How the command line chose it (`--hooks-dir DIR`, `--user`), to repeat in the commands
    /// a message suggests; `None` for the system directory.
    pub(crate) dir_flag: Option<String>,
}

impl Ctx {
    /// The hooks directory the command line names (`--hooks-dir`, `--user`, or the system
    /// one), checked and made absolute.
    pub(crate) fn new(cli: &Cli) -> Result<Ctx, InputError> {
        if let Some(dir) = &cli.hooks_dir {
            // `install` creates a missing hooks directory (its parent must exist).
            let creates = matches!(cli.command, Command::Install { refresh: false, .. });
            match std::fs::metadata(dir) {
                Ok(m) if m.is_dir() => {}
                Err(e) if creates && e.kind() == std::io::ErrorKind::NotFound => {}
                Ok(_) => {
                    return Err(format!("--hooks-dir {}: not a directory", dir.display()).into());
                }
                Err(e) => {
                    let e = e.to_string();
                    return Err(
                        format!("--hooks-dir {}: {}", dir.display(), text::io_text(&e)).into(),
                    );
                }
            }
            let hooks_dir = absolute("--hooks-dir", dir)?;
            let quoted =
                hook_core::libvirt::shell_quote(&hooks_dir.display().to_string()).into_owned();
            return Ok(Ctx {
                hooks_dir,
                cancel: OnceLock::new(),
                dir_flag: Some(format!("--hooks-dir {quoted}")),
            });
        }
        let hooks_dir = if cli.user {
            hook_core::dir::user_dir().map_err(|e| InputError(format!("--user: {e}")))?
        } else {
            hook_core::dir::system_dir()
        };
        // Absolute already unless the build's sysconfdir was relative; made sure of here.
        let hooks_dir = absolute("the hooks directory", &hooks_dir)?;
        Ok(Ctx {
            hooks_dir,
            cancel: OnceLock::new(),
            dir_flag: cli.user.then(|| "--user".to_owned()),
        })
    }

    /// ` --hooks-dir DIR` or ` --user` when the command line named the directory, else empty:
    /// what a suggested `virt-hook` command needs to act on the same directory.
    pub(crate) fn dir_flag(&self) -> String {
        self.dir_flag
            .as_ref()
            .map(|f| format!(" {f}"))
            .unwrap_or_default()
    }

    /// From the first call on, SIGINT and SIGTERM cancel the hooks being fired instead of
    /// ending virt-hook. Called just before hooks run, not earlier: while a document is still
    /// read (`--domain -` from a terminal), Ctrl-C keeps its default action and ends virt-hook.
    pub(crate) fn cancel(&self) -> Option<&Cancel> {
        self.cancel.get_or_init(forward_interrupts).as_ref()
    }

    /// The signal that interrupted the hooks, if one did.
    pub(crate) fn interrupted_by(&self) -> Option<Signal> {
        self.cancel.get()?.as_ref()?.requested()
    }
}

/// Catches SIGINT and SIGTERM from now on and turns them into a cancellation of the hooks
/// being fired. `None` (with a warning) when that cannot be set up: the signals then keep their
/// default action, as before.
fn forward_interrupts() -> Option<Cancel> {
    let setup = || -> std::io::Result<Cancel> {
        let cancel = Cancel::new()?;
        let mut signals = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
        ])?;
        let forward = cancel.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for raw in signals.forever() {
                    if let Ok(signal) = Signal::try_from(raw) {
                        tracing::info!(signal = signal.as_str(), "interrupted");
                        forward.cancel(signal);
                    }
                }
            })?;
        Ok(cancel)
    };
    setup()
        .inspect_err(|e| tracing::warn!(error = %e, "cannot forward SIGINT/SIGTERM to hooks"))
        .ok()
}

/// `dir` made absolute once, lexically (`std::path::absolute`): not canonicalized, so a
/// symlinked directory stays as given, like the path libvirt is configured with.
fn absolute(what: &str, dir: &Path) -> Result<PathBuf, InputError> {
    std::path::absolute(dir).map_err(|e| {
        InputError(format!(
            "{what} {}: cannot make it an absolute path: {e}",
            dir.display()
        ))
    })
}

/// What a command prints: its stdout text and stderr text, and its exit status.
#[derive(Debug, Default)]
pub(crate) struct Output {
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: String,
    pub(crate) code: u8,
}
