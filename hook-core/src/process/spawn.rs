//! Starting one script: argv and environment as C strings (a NUL anywhere is rejected before
//! anything starts), the three pipes, `posix_spawn` through [`crate::process::sys`], and an explanation
//! an administrator can act on when the kernel refuses to execute the file.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::unistd::{Pid, pipe2};

use crate::error::{Args, HookError, SpawnFailure};
use crate::process::env::ScriptEnv;
use crate::process::sys::{self, ChildStdin, CloseFds, SpawnRequest};

/// How often a spawn that failed with `ETXTBSY` is retried (after 2, 4, … 64 ms).
const ETXTBSY_RETRIES: u32 = 6;

/// A started script: its pid and the parent's ends of its pipes.
pub(crate) struct Child {
    pub(crate) pid: Pid,
    pub(crate) stdin: Option<OwnedFd>,
    /// Bytes of the document already in the stdin pipe (all of it when `stdin` is `None`).
    pub(crate) stdin_prefilled: usize,
    pub(crate) stdout: OwnedFd,
    pub(crate) stderr: OwnedFd,
    /// The parent's copies of the stdout and stderr write ends (close-on-exec, so nothing the
    /// host execs gets them). [`crate::process::pump`] keeps them open until the script has exited, so
    /// the exit is one wakeup, the pidfd's, instead of one per pipe hang-up as well.
    pub(crate) write_ends: (OwnedFd, OwnedFd),
}

/// argv as C strings: `[script, args...]`. A NUL byte is an [`HookError::InvalidArgument`].
pub(crate) fn c_argv(script: &Path, args: &[&str]) -> Result<Vec<CString>, HookError> {
    use std::os::unix::ffi::OsStrExt;
    let mut argv = Vec::with_capacity(args.len() + 1);
    argv.push(CString::new(script.as_os_str().as_bytes()).map_err(|_| {
        HookError::InvalidArgument {
            what: format!("script path {:?}", script.display().to_string()),
            reason: "it contains a NUL byte",
        }
    })?);
    for (i, a) in args.iter().enumerate() {
        argv.push(CString::new(*a).map_err(|_| HookError::InvalidArgument {
            what: format!("argument {} of {} ({a:?})", i + 1, script.display()),
            reason: "it contains a NUL byte",
        })?);
    }
    Ok(argv)
}

/// `[shell, argv...]`: a script without a `#!` line handed to a shell, as `execvp` does
/// (`sh FILE ARGS…`; the shell's `$0` is the script's path, its `$1…` the arguments).
pub(crate) fn shell_argv(shell: &str, argv: &[CString]) -> Result<Vec<CString>, HookError> {
    let shell = CString::new(shell).map_err(|_| HookError::InvalidArgument {
        what: format!("shell {shell:?}"),
        reason: "it contains a NUL byte",
    })?;
    let mut out = Vec::with_capacity(argv.len() + 1);
    out.push(shell);
    out.extend(argv.iter().cloned());
    Ok(out)
}

fn io_err(
    script: &Path,
    args: &[&str],
    context: &'static str,
    e: impl Into<std::io::Error>,
) -> HookError {
    HookError::Io {
        script: script.to_owned(),
        args: Args::new(args),
        context,
        source: e.into(),
    }
}

/// Creates the pipes and starts the script. All pipe ends are close-on-exec so no concurrently
/// started process inherits them.
///
/// `stdin`: `None` for `/dev/null`. A document of at most `PIPE_BUF` bytes is written into its
/// fresh pipe before the script starts and the write end closed: an empty pipe holds at least
/// `PIPE_BUF` bytes and takes them in one atomic write, and with the read end still ours no
/// SIGPIPE can come (the pump then has no stdin to feed and no SIGPIPE to guard: five syscalls
/// fewer). A larger one is left to the pump, on a non-blocking write end.
pub(crate) fn start(
    argv: &[CString],
    env: &ScriptEnv,
    script: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    close_fds: CloseFds,
) -> Result<Child, HookError> {
    // No pipe end may stay on fd 0, 1 or 2. A host running with its standard fds closed gets
    // them back from pipe2; the host's own writes to "stdout" would then land in the script's
    // captured output (tests/tests/isolated/closed_stdio.rs). `try_clone` moves an end to the
    // lowest free fd >= 3 (F_DUPFD_CLOEXEC).
    let pipe = |context| -> Result<(OwnedFd, OwnedFd), HookError> {
        let (r, w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| io_err(script, args, context, e))?;
        let above_stdio = |fd: OwnedFd| -> Result<OwnedFd, HookError> {
            if fd.as_raw_fd() > 2 {
                return Ok(fd);
            }
            fd.try_clone().map_err(|e| io_err(script, args, context, e))
        };
        Ok((above_stdio(r)?, above_stdio(w)?))
    };
    let stdin_pipe = match stdin {
        Some(_) => Some(pipe("creating the stdin pipe")?),
        None => None,
    };
    let (out_r, out_w) = pipe("creating the stdout pipe")?;
    let (err_r, err_w) = pipe("creating the stderr pipe")?;
    let mut stdin_prefilled = 0;
    let (stdin_r, stdin_w) = match (stdin_pipe, stdin) {
        (Some((r, w)), Some(input)) if input.len() <= libc::PIPE_BUF => {
            while stdin_prefilled < input.len() {
                match nix::unistd::write(&w, &input[stdin_prefilled..]) {
                    Ok(n) => stdin_prefilled += n,
                    Err(Errno::EINTR) => {}
                    Err(e) => return Err(io_err(script, args, "writing the script's stdin", e)),
                }
            }
            (Some(r), None) // the write end closes here: EOF after the document
        }
        (Some((r, w)), _) => {
            fcntl(&w, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))
                .map_err(|e| io_err(script, args, "making the stdin pipe non-blocking", e))?;
            (Some(r), Some(w))
        }
        (None, _) => (None, None),
    };
    let req = SpawnRequest {
        path: &argv[0],
        argv,
        envp: env.cstrings(),
        stdin: match &stdin_r {
            Some(r) => ChildStdin::Fd(r.as_raw_fd()),
            None => ChildStdin::DevNull,
        },
        stdout: out_w.as_raw_fd(),
        stderr: err_w.as_raw_fd(),
        close_fds,
    };
    // ETXTBSY: the file is open for writing somewhere, most often because another thread of
    // the host is writing a file while a process it starts has inherited the descriptor for the
    // instant between clone and exec. It clears within microseconds; retry briefly before
    // calling it a failure.
    let mut attempt = 0;
    let spawned = loop {
        match sys::spawn(&req) {
            Err(Errno::ETXTBSY) if attempt < ETXTBSY_RETRIES => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(1 << attempt));
            }
            other => break other,
        }
    };
    let pid = spawned.map_err(|errno| HookError::NotStarted {
        script: script.to_owned(),
        args: Args::new(args),
        errno,
        reason: explain(script, errno),
    })?;
    Ok(Child {
        pid,
        stdin: stdin_w,
        stdin_prefilled,
        stdout: out_r,
        stderr: err_r,
        write_ends: (out_w, err_w),
    })
}

/// Turns an exec errno into the reason an administrator needs. Runs only on the error path, so
/// it may read the script's first line.
pub(crate) fn explain(script: &Path, errno: Errno) -> SpawnFailure {
    let first_line = || -> Option<Vec<u8>> {
        let mut f = std::fs::File::open(script).ok()?;
        let mut buf = [0u8; 256];
        let n = f.read(&mut buf).ok()?;
        let line = buf[..n].split(|&b| b == b'\n').next().unwrap_or(&[]);
        Some(line.to_vec())
    };
    match errno {
        Errno::ENOENT => {
            if std::fs::metadata(script).is_err() {
                return SpawnFailure::NotFound;
            }
            match first_line() {
                Some(line) if line.starts_with(b"#!") => {
                    if line.ends_with(b"\r") {
                        return SpawnFailure::CrlfShebang;
                    }
                    let rest = String::from_utf8_lossy(&line[2..]).trim().to_string();
                    let interpreter = rest.split_whitespace().next().unwrap_or("").to_string();
                    if std::fs::metadata(&interpreter).is_ok() {
                        // The interpreter is there: the script itself was missing at exec
                        // time and has been put back since (replaced while we started it).
                        return SpawnFailure::NotFound;
                    }
                    SpawnFailure::InterpreterNotFound { interpreter }
                }
                // Gone again between the check above and the open (a script replaced while we
                // start it, then deleted): it was the script that was missing.
                None if !script.exists() => SpawnFailure::NotFound,
                _ => SpawnFailure::Other,
            }
        }
        Errno::EACCES | Errno::EPERM => SpawnFailure::NotExecutable,
        Errno::ENOEXEC => match first_line() {
            Some(line) if line.starts_with(b"#!") => SpawnFailure::Other,
            _ => SpawnFailure::NoShebang,
        },
        _ => SpawnFailure::Other,
    }
}
