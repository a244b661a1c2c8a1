//! The error type: one variant per cause, each naming the script and its invocation (the
//! arguments after the path) and carrying what the script wrote on stderr. No variant holds the
//! environment or the stdin document, so no error message can leak them.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use nix::errno::Errno;

/// The arguments a script was given after its path (`object op subop extra`), shown
/// shell-quoted the way libvirt quotes them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct Args(pub Box<[String]>);

impl Args {
    /// Owned copies of `args`.
    pub fn new(args: &[&str]) -> Args {
        Args(args.iter().map(|s| s.to_string()).collect())
    }
}

impl fmt::Display for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(&crate::quote::shell_quote(a))?;
        }
        Ok(())
    }
}

/// Why the kernel refused to start a script, in words an administrator can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpawnFailure {
    /// The script itself does not exist (any more).
    NotFound,
    /// The script exists but its `#!` interpreter does not.
    InterpreterNotFound {
        /// The interpreter named on the `#!` line.
        interpreter: String,
    },
    /// The `#!` line ends with a carriage return (a file saved with CRLF line endings).
    CrlfShebang,
    /// The file has no `#!` line and is not a binary the kernel can run.
    NoShebang,
    /// The script (or its interpreter) lacks execute permission.
    NotExecutable,
    /// Any other reason; the errno says which.
    Other,
}

impl fmt::Display for SpawnFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnFailure::NotFound => f.write_str("the script does not exist"),
            SpawnFailure::InterpreterNotFound { interpreter } => {
                write!(f, "its interpreter {interpreter:?} (named on the #! line) does not exist")
            }
            SpawnFailure::CrlfShebang => f.write_str(
                "its #! line ends with a carriage return (CRLF line endings); convert the file with dos2unix",
            ),
            SpawnFailure::NoShebang => f.write_str(
                "it is neither a binary nor a script starting with a #! line naming its interpreter",
            ),
            SpawnFailure::NotExecutable => f.write_str(
                "permission denied: the script or its interpreter is not executable (chmod +x)",
            ),
            SpawnFailure::Other => f.write_str("the system refused to execute it"),
        }
    }
}

/// Everything that can go wrong when running hook scripts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HookError {
    /// An argument or environment value that cannot be passed to `execve` (it holds NUL);
    /// found before anything was started.
    #[error("invalid argument: {what}: {reason}")]
    InvalidArgument {
        /// Which value.
        what: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The script could not be started at all.
    #[error("hook script {} ({args}) could not be started: {reason} ({errno})", script.display())]
    NotStarted {
        /// The script's path.
        script: PathBuf,
        /// Its arguments after the path.
        args: Args,
        /// What `posix_spawn` reported.
        errno: Errno,
        /// The explanation.
        reason: SpawnFailure,
    },
    /// The script exited with a non-zero code.
    #[error("hook script {} ({args}) exited with code {code}{}", script.display(), Stderr(stderr))]
    Exited {
        /// The script's path.
        script: PathBuf,
        /// Its arguments after the path.
        args: Args,
        /// The exit code.
        code: i32,
        /// The head of what it wrote on stderr.
        stderr: Vec<u8>,
    },
    /// The script was killed by a signal (not by our timeout).
    #[error("hook script {} ({args}) was killed by signal {signal} ({name}){}", script.display(), Stderr(stderr))]
    Signaled {
        /// The script's path.
        script: PathBuf,
        /// Its arguments after the path.
        args: Args,
        /// The signal number.
        signal: i32,
        /// The signal's name, e.g. `SIGKILL`.
        name: &'static str,
        /// The head of what it wrote on stderr.
        stderr: Vec<u8>,
    },
    /// The script ran past its timeout and was killed with its process group.
    #[error("hook script {} ({args}) timed out after {:.3}s and was killed{}{}", script.display(), after.as_secs_f64(), Strays(*pipes_held_open), Stderr(stderr))]
    TimedOut {
        /// The script's path.
        script: PathBuf,
        /// Its arguments after the path.
        args: Args,
        /// The timeout that expired.
        after: Duration,
        /// After its process group was killed, processes that had left the group (`setsid`,
        /// `setpgid`) still held its stdout or stderr open: they were left running and the
        /// pipes were closed on them ([`crate::Report::pipes_held_open`]).
        pipes_held_open: bool,
        /// The head of what it wrote on stderr.
        stderr: Vec<u8>,
    },
    /// The script wrote more on stdout than the cap allows, and its output was wanted.
    #[error("hook script {} ({args}) wrote more than {limit} bytes on stdout; its output was discarded rather than cut", script.display())]
    OutputTooLarge {
        /// The script's path.
        script: PathBuf,
        /// Its arguments after the path.
        args: Args,
        /// The cap in bytes.
        limit: usize,
    },
    /// A system call failed while talking to the script.
    #[error("hook script {} ({args}): {context}: {source}", script.display())]
    Io {
        /// The script's path.
        script: PathBuf,
        /// Its arguments after the path.
        args: Args,
        /// What was being done.
        context: &'static str,
        /// The error.
        source: io::Error,
    },
    /// A driver's `<driver>.d` directory exists but cannot be read (libvirt fails the call too).
    #[error("hooks for driver '{driver}': cannot read directory {}: {source}", path.display())]
    DirUnreadable {
        /// The driver.
        driver: String,
        /// The directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Strict trust mode ([`crate::HooksBuilder::strict_trust`]) refused to run the script:
    /// it, or a directory between it and the hooks directory, can be changed by someone other
    /// than root or the current user.
    #[error("hook script {} refused by strict trust mode: {} is {problem}; to fix: {fix}", script.display(), path.display())]
    Untrusted {
        /// The script that was not run.
        script: PathBuf,
        /// The script itself or the directory with the problem.
        path: PathBuf,
        /// What is wrong with it.
        problem: WarningKind,
        /// What to run to fix it.
        fix: String,
    },
    /// A filter script succeeded but what it printed is not acceptable (checked by the driver).
    #[error("hook script {} ({args}) printed unusable output: {reason}", script.display())]
    BadOutput {
        /// The script's path.
        script: PathBuf,
        /// Its arguments after the path.
        args: Args,
        /// What is wrong with the output.
        reason: String,
    },
}

impl HookError {
    /// The script this error is about, when it is about one script.
    pub fn script(&self) -> Option<&std::path::Path> {
        match self {
            HookError::NotStarted { script, .. }
            | HookError::Exited { script, .. }
            | HookError::Signaled { script, .. }
            | HookError::TimedOut { script, .. }
            | HookError::OutputTooLarge { script, .. }
            | HookError::Io { script, .. }
            | HookError::BadOutput { script, .. }
            | HookError::Untrusted { script, .. } => Some(script),
            HookError::InvalidArgument { .. } | HookError::DirUnreadable { .. } => None,
        }
    }

    /// A short stable name for the variant: `invalid_argument`, `not_started`, `exited`,
    /// `signaled`, `timed_out`, `output_too_large`, `io`, `dir_unreadable`, `untrusted`,
    /// `bad_output` (the `kind` of its JSON form).
    pub fn kind(&self) -> &'static str {
        match self {
            HookError::InvalidArgument { .. } => "invalid_argument",
            HookError::NotStarted { .. } => "not_started",
            HookError::Exited { .. } => "exited",
            HookError::Signaled { .. } => "signaled",
            HookError::TimedOut { .. } => "timed_out",
            HookError::OutputTooLarge { .. } => "output_too_large",
            HookError::Io { .. } => "io",
            HookError::DirUnreadable { .. } => "dir_unreadable",
            HookError::Untrusted { .. } => "untrusted",
            HookError::BadOutput { .. } => "bad_output",
        }
    }

    /// What the script wrote on stderr (as kept: see [`crate::Report::stderr`]), if this error
    /// carries it.
    pub fn stderr(&self) -> Option<&[u8]> {
        match self {
            HookError::Exited { stderr, .. }
            | HookError::Signaled { stderr, .. }
            | HookError::TimedOut { stderr, .. } => Some(stderr),
            _ => None,
        }
    }
}

/// Says, for a timed-out script, that processes outside its process group survived the kill.
struct Strays(bool);

impl fmt::Display for Strays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 {
            f.write_str(
                "; processes outside its process group (started with setsid or setpgid) still \
                 held its stdout/stderr open and were left running",
            )
        } else {
            Ok(())
        }
    }
}

/// Shows stderr after `: `, lossily decoded and without trailing whitespace; nothing when empty.
struct Stderr<'a>(&'a [u8]);

impl fmt::Display for Stderr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = String::from_utf8_lossy(self.0);
        let text = text.trim_end();
        if text.is_empty() {
            Ok(())
        } else {
            write!(f, ": {text}")
        }
    }
}

/// A permission problem on a script or a directory it runs from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum WarningKind {
    /// Anyone may change it.
    WorldWritable,
    /// Its group may change it.
    GroupWritable,
    /// Owned by neither root nor the current user.
    ForeignOwner {
        /// The owner's uid.
        uid: u32,
    },
}

impl std::fmt::Display for WarningKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WarningKind::WorldWritable => f.write_str("world-writable"),
            WarningKind::GroupWritable => f.write_str("group-writable"),
            WarningKind::ForeignOwner { uid } => {
                write!(f, "owned by uid {uid}, neither root nor the current user")
            }
        }
    }
}

/// `{ "kind": "exited", "message": "hook script … exited with code 3: …" }`: a stable,
/// snake_case name for the variant ([`HookError::kind`]) and the error's one-line text.
#[cfg(feature = "serde")]
impl serde::Serialize for HookError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut st = s.serialize_struct("HookError", 2)?;
        st.serialize_field("kind", self.kind())?;
        st.serialize_field("message", &self.to_string())?;
        st.end()
    }
}
