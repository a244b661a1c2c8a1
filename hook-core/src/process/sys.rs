//! The only module with `unsafe` code: thin, safe wrappers over the few libc calls that nix does
//! not offer in a usable form.
//!
//! * `posix_spawn` with `posix_spawn_file_actions_addclosefrom_np`: nix's
//!   `PosixSpawnFileActions` hides its raw pointer, so the close-from action cannot be added to it,
//!   and without that action every fd the host opened without `O_CLOEXEC` would reach the script.
//!   The function is glibc >= 2.34 only, so it is looked up at run time (`dlsym`, once): a
//!   binary built against a newer glibc does not import it, and where it is missing each fd
//!   from 3 up listed in `/proc/self/fd` just before the spawn gets a close action instead
//!   (`FileActions::close_fds_from` says what that fallback cannot see).
//! * `pidfd_open` and `pidfd_send_signal` (no wrappers in nix).
//! * consuming a pending `SIGPIPE` with `sigtimedwait` and a zero timeout.
//! * reading `SIGCHLD`'s disposition (`sigaction` with no new action), to explain a lost exit
//!   status.
//! * `sigaction`, for the test-support module [`crate::process::testing`] and for
//!   [`crate::process::startup`] (`SIGPIPE` ignored); the workspace's tests may not use `unsafe`
//!   themselves.
//! * `fcntl(F_GETFD)` on a standard fd that may be closed, for [`crate::process::startup`].
//!
//! Everything else (pipes, poll, read/write, kill, waitpid, signal masks) goes through nix's safe
//! API in the modules that use it.
#![allow(unsafe_code)]
#![allow(clippy::disallowed_methods)] // this module is where hook-core starts processes

use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;

use nix::errno::Errno;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::Pid;

/// `posix_spawn_file_actions_addclosefrom_np`'s type (glibc >= 2.34).
type AddCloseFrom = unsafe extern "C" fn(
    actions: *mut libc::posix_spawn_file_actions_t,
    from: libc::c_int,
) -> libc::c_int;

/// `posix_spawn_file_actions_addclosefrom_np`, linked in: a statically linked binary (built
/// with `-C target-feature=+crt-static`, as the packages' `virt-hook` is) carries the C
/// library it was built with, so the function is there whatever the host's glibc is, and
/// `dlsym` would not find it (a static binary has no dynamic symbol table to search). Building
/// statically needs glibc >= 2.34's `libc.a`.
#[cfg(target_feature = "crt-static")]
fn addclosefrom() -> Option<AddCloseFrom> {
    // SAFETY: the declaration is glibc's prototype, `int (posix_spawn_file_actions_t *, int)`;
    // nothing is called here, only the function's address taken.
    unsafe extern "C" {
        fn posix_spawn_file_actions_addclosefrom_np(
            actions: *mut libc::posix_spawn_file_actions_t,
            from: libc::c_int,
        ) -> libc::c_int;
    }
    Some(posix_spawn_file_actions_addclosefrom_np)
}

/// `posix_spawn_file_actions_addclosefrom_np`, when the C library this process runs with has it.
/// Looked up once, at the first spawn: linking against the symbol would stop the binary from
/// loading at all on glibc < 2.34 (RHEL 8, Debian 11).
#[cfg(not(target_feature = "crt-static"))]
fn addclosefrom() -> Option<AddCloseFrom> {
    static FOUND: std::sync::OnceLock<Option<AddCloseFrom>> = std::sync::OnceLock::new();
    *FOUND.get_or_init(|| {
        // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only reads the loaded
        // objects' symbol tables; it returns NULL when the name is not found.
        let sym = unsafe {
            libc::dlsym(
                libc::RTLD_DEFAULT,
                c"posix_spawn_file_actions_addclosefrom_np".as_ptr(),
            )
        };
        if sym.is_null() {
            None
        } else {
            // SAFETY: the symbol is glibc's posix_spawn_file_actions_addclosefrom_np, whose C
            // prototype is `int (posix_spawn_file_actions_t *, int)`, exactly `AddCloseFrom`;
            // a non-null data pointer from dlsym is the function's address.
            Some(unsafe { std::mem::transmute::<*mut libc::c_void, AddCloseFrom>(sym) })
        }
    })
}

/// Whether this process's C library has `posix_spawn_file_actions_addclosefrom_np` (glibc >=
/// 2.34); without it, [`spawn`] closes the fds listed in `/proc/self/fd` instead.
pub(crate) fn has_closefrom() -> bool {
    addclosefrom().is_some()
}

/// Where the child's fd 0 comes from.
pub(crate) enum ChildStdin {
    /// `/dev/null`, opened in the child.
    DevNull,
    /// The read end of a pipe (dup2'd onto fd 0).
    Fd(RawFd),
}

/// Everything `spawn` needs, already converted to C strings by the caller.
pub(crate) struct SpawnRequest<'a> {
    pub(crate) path: &'a CStr,
    pub(crate) argv: &'a [CString],
    pub(crate) envp: &'a [CString],
    pub(crate) stdin: ChildStdin,
    pub(crate) stdout: RawFd,
    pub(crate) stderr: RawFd,
    /// How inherited fds >= 3 are closed.
    pub(crate) close_fds: CloseFds,
}

/// How [`spawn`] closes the fds >= 3 the script would inherit. Every way closes them all; the
/// choice exists so that the tests run each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CloseFds {
    /// glibc's close-from action where the C library has it, else [`CloseFds::Listed`].
    Auto,
    /// A close action per fd listed in `/proc/self/fd` (without `/proc`: [`CloseFds::BelowLimit`]).
    Listed,
    /// A close action per fd below the soft `RLIMIT_NOFILE` (at most 65,536 of them).
    #[cfg_attr(not(test), allow(dead_code))]
    // chosen by `Listed` at run time, by tests directly
    BelowLimit,
}

struct FileActions(libc::posix_spawn_file_actions_t);

impl FileActions {
    fn new() -> Result<Self, Errno> {
        let mut raw = MaybeUninit::<libc::posix_spawn_file_actions_t>::uninit();
        // SAFETY: `raw` is valid writable storage for a file-actions object; init fully
        // initialises it when it returns 0.
        let rc = unsafe { libc::posix_spawn_file_actions_init(raw.as_mut_ptr()) };
        if rc != 0 {
            return Err(Errno::from_raw(rc));
        }
        // SAFETY: init returned 0, so the object is initialised.
        Ok(FileActions(unsafe { raw.assume_init() }))
    }

    fn check(rc: libc::c_int) -> Result<(), Errno> {
        if rc == 0 {
            Ok(())
        } else {
            Err(Errno::from_raw(rc))
        }
    }

    fn dup2(&mut self, fd: RawFd, target: RawFd) -> Result<(), Errno> {
        // SAFETY: self.0 is initialised; dup2 actions only record integers.
        Self::check(unsafe { libc::posix_spawn_file_actions_adddup2(&mut self.0, fd, target) })
    }

    fn open_dev_null(&mut self, target: RawFd) -> Result<(), Errno> {
        // SAFETY: self.0 is initialised; glibc copies the path string into the action list.
        Self::check(unsafe {
            libc::posix_spawn_file_actions_addopen(
                &mut self.0,
                target,
                c"/dev/null".as_ptr(),
                libc::O_RDONLY,
                0,
            )
        })
    }

    fn close(&mut self, fd: RawFd) -> Result<(), Errno> {
        // SAFETY: self.0 is initialised; the action only records an integer.
        Self::check(unsafe { libc::posix_spawn_file_actions_addclose(&mut self.0, fd) })
    }

    /// Every fd >= `from` is closed in the child. With glibc's close-from action when there is
    /// one (and `how` is [`CloseFds::Auto`]); otherwise one close action per fd >= `from` that
    /// is open now: those listed in `/proc/self/fd`, or, without `/proc`, every fd below the
    /// soft `RLIMIT_NOFILE` (at most 65,536 of them: an fd above that is not closed).
    ///
    /// The listing's limit: an fd that another thread opens *without* `O_CLOEXEC` after the
    /// listing and before the child execs is not in the list and reaches the script. Rust's
    /// standard library and hook-core open every fd with `O_CLOEXEC`, and an fd opened with it
    /// is closed by the exec anyway; only a host's C code opening fds without it, on another
    /// thread, in that window, is exposed. An fd already closed gets no close action
    /// (`open_fds` checks each); one that another thread closes between that check and the
    /// spawn does, and glibc ignores the `EBADF` (it fails a close action only for an fd out of
    /// range).
    fn close_fds_from(&mut self, from: RawFd, how: CloseFds) -> Result<(), Errno> {
        if how == CloseFds::Auto
            && let Some(add) = addclosefrom()
        {
            // SAFETY: self.0 is initialised; `add` is glibc's close-from action (see
            // `addclosefrom`), which only records an integer.
            return Self::check(unsafe { add(&mut self.0, from) });
        }
        let listed = match how {
            CloseFds::BelowLimit => None,
            _ => open_fds(),
        };
        match listed {
            Some(fds) => {
                for fd in fds.into_iter().filter(|&fd| fd >= from) {
                    self.close(fd)?;
                }
            }
            None => {
                use nix::sys::resource::{Resource, getrlimit};
                let limit = getrlimit(Resource::RLIMIT_NOFILE)
                    .map(|(soft, _)| soft)
                    .unwrap_or(1024)
                    .min(65_536) as RawFd;
                for fd in from..limit {
                    self.close(fd)?;
                }
            }
        }
        Ok(())
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: self.0 was initialised by posix_spawn_file_actions_init and is destroyed once.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

struct Attr(libc::posix_spawnattr_t);

impl Attr {
    /// Empty signal mask, every signal (glibc's internal ones included) at its default
    /// disposition, own process group.
    fn hook_defaults() -> Result<Self, Errno> {
        let mut raw = MaybeUninit::<libc::posix_spawnattr_t>::uninit();
        // SAFETY: `raw` is valid writable storage; init fully initialises it when it returns 0.
        let rc = unsafe { libc::posix_spawnattr_init(raw.as_mut_ptr()) };
        if rc != 0 {
            return Err(Errno::from_raw(rc));
        }
        // SAFETY: init returned 0.
        let mut attr = Attr(unsafe { raw.assume_init() });
        let mut empty = MaybeUninit::<libc::sigset_t>::uninit();
        let mut full = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises the set it is given, and every bit pattern is a
        // valid sigset_t (an array of integers), so filling it with ones initialises it; the
        // attribute setters copy the sets; attr.0 is initialised.
        unsafe {
            libc::sigemptyset(empty.as_mut_ptr());
            // Every bit, not sigfillset: glibc's sigfillset leaves out its two internal
            // signals (32 and 33), and posix_spawn sets any signal missing from this set to
            // SIG_IGN in the child, which exec keeps. The script would start with them
            // ignored, where libvirt's (fork, then SIG_DFL for 1..NSIG) has them at default.
            ptr::write_bytes(full.as_mut_ptr(), 0xff, 1);
            FileActions::check(libc::posix_spawnattr_setsigmask(
                &mut attr.0,
                empty.as_ptr(),
            ))?;
            FileActions::check(libc::posix_spawnattr_setsigdefault(
                &mut attr.0,
                full.as_ptr(),
            ))?;
            FileActions::check(libc::posix_spawnattr_setpgroup(&mut attr.0, 0))?;
            let flags = libc::POSIX_SPAWN_SETSIGMASK
                | libc::POSIX_SPAWN_SETSIGDEF
                | libc::POSIX_SPAWN_SETPGROUP;
            FileActions::check(libc::posix_spawnattr_setflags(
                &mut attr.0,
                flags as libc::c_short,
            ))?;
        }
        Ok(attr)
    }
}

impl Drop for Attr {
    fn drop(&mut self) {
        // SAFETY: self.0 was initialised by posix_spawnattr_init and is destroyed once.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

/// The file actions of one spawn request: which fds go to 0, 1 and 2, and how the rest close.
#[derive(Clone, Copy, PartialEq, Eq)]
struct ActionsKey {
    /// `None`: `/dev/null`.
    stdin: Option<RawFd>,
    stdout: RawFd,
    stderr: RawFd,
    close_fds: CloseFds,
}

impl ActionsKey {
    fn build(self) -> Result<FileActions, Errno> {
        let mut actions = FileActions::new()?;
        match self.stdin {
            None => actions.open_dev_null(0)?,
            Some(fd) => actions.dup2(fd, 0)?,
        }
        actions.dup2(self.stdout, 1)?;
        actions.dup2(self.stderr, 2)?;
        actions.close_fds_from(3, self.close_fds)?;
        Ok(actions)
    }

    /// Whether actions built for this key stay right for later spawns: only with glibc's
    /// close-from action, which names no fd. The fallbacks list the fds open at the time.
    fn reusable(self) -> bool {
        self.close_fds == CloseFds::Auto && has_closefrom()
    }
}

/// The last file actions and the attributes this thread spawned with. glibc checks each fd of
/// a file action against `RLIMIT_NOFILE` when the action is added (a `prlimit64` syscall per
/// fd: seven per spawn), while `posix_spawn` only reads the actions; and a thread's pipes
/// usually get the same fd numbers call after call. So the actions are built again only when
/// the fds change.
struct SpawnCache {
    key: ActionsKey,
    actions: FileActions,
    attr: Attr,
}

thread_local! {
    static SPAWN_CACHE: RefCell<Option<SpawnCache>> = const { RefCell::new(None) };
}

/// Starts `req.path` with posix_spawn: fds 0/1/2 from the request, every fd >= 3 closed, empty
/// signal mask, default dispositions, its own process group. Never forks the caller's memory.
///
/// Exec failures (ENOENT, EACCES, ENOEXEC…) come back as the `Err` value: glibc reports them
/// through the return code of posix_spawn.
pub(crate) fn spawn(req: &SpawnRequest<'_>) -> Result<Pid, Errno> {
    let key = ActionsKey {
        stdin: match req.stdin {
            ChildStdin::DevNull => None,
            ChildStdin::Fd(fd) => Some(fd),
        },
        stdout: req.stdout,
        stderr: req.stderr,
        close_fds: req.close_fds,
    };
    if !key.reusable() {
        return posix_spawn(req, &key.build()?, &Attr::hook_defaults()?);
    }
    let cached = SPAWN_CACHE.try_with(|cell| -> Option<Result<Pid, Errno>> {
        // A re-entrant call (none exists: nothing between here and posix_spawn calls back)
        // would find the cell borrowed and build its own below.
        let mut slot = cell.try_borrow_mut().ok()?;
        if slot.as_ref().is_none_or(|c| c.key != key) {
            *slot = None;
            let built = key.build().and_then(|actions| {
                Ok(SpawnCache {
                    key,
                    actions,
                    attr: Attr::hook_defaults()?,
                })
            });
            match built {
                Ok(c) => *slot = Some(c),
                Err(e) => return Some(Err(e)),
            }
        }
        let c = slot.as_ref()?;
        Some(posix_spawn(req, &c.actions, &c.attr))
    });
    match cached {
        Ok(Some(result)) => result,
        // No cache (a thread-local destructor is running, or the cell is in use): the actions
        // and attributes of this call alone.
        Ok(None) | Err(_) => posix_spawn(req, &key.build()?, &Attr::hook_defaults()?),
    }
}

fn posix_spawn(req: &SpawnRequest<'_>, actions: &FileActions, attr: &Attr) -> Result<Pid, Errno> {
    let mut argv: Vec<*mut libc::c_char> = Vec::with_capacity(req.argv.len() + 1);
    argv.extend(req.argv.iter().map(|a| a.as_ptr().cast_mut()));
    argv.push(ptr::null_mut());
    let mut envp: Vec<*mut libc::c_char> = Vec::with_capacity(req.envp.len() + 1);
    envp.extend(req.envp.iter().map(|e| e.as_ptr().cast_mut()));
    envp.push(ptr::null_mut());

    let mut pid: libc::pid_t = 0;
    // SAFETY: every pointer is valid for the duration of the call: the path and the strings
    // behind argv/envp are borrowed from `req`, both arrays are NULL-terminated, and the
    // actions and attributes are initialised objects borrowed for the call. posix_spawn only
    // reads them and keeps none of them after it returns.
    let rc = unsafe {
        libc::posix_spawn(
            &mut pid,
            req.path.as_ptr(),
            &actions.0,
            &attr.0,
            argv.as_ptr(),
            envp.as_ptr(),
        )
    };
    if rc != 0 {
        return Err(Errno::from_raw(rc));
    }
    Ok(Pid::from_raw(pid))
}

/// `pidfd_open(pid, 0)`: an fd that polls readable when `pid` exits. `ENOSYS` on kernels < 5.3.
pub(crate) fn pidfd_open(pid: Pid) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes two integers and returns a new fd or -1.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if rc < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the syscall returned a new fd that nothing else owns; it is opened O_CLOEXEC
    // by the kernel (pidfds always are).
    Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) })
}

/// The fds open in this process now, from `/proc/self/fd`. `None` without `/proc`.
fn open_fds() -> Option<Vec<RawFd>> {
    let dir = std::fs::read_dir("/proc/self/fd").ok()?;
    let mut listed: Vec<RawFd> = Vec::new();
    for entry in dir {
        let name = entry.ok()?.file_name();
        listed.push(name.to_str()?.parse().ok()?);
    }
    // The listing's own fd is closed by now, and another thread may have closed one: a close
    // action for a closed fd would fail the spawn on a C library that reports it (glibc
    // ignores it), so only fds still open go in.
    // SAFETY: F_GETFD only reads the fd's flags; on a closed fd it fails with EBADF.
    listed.retain(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1);
    Some(listed)
}

/// `pidfd_send_signal(pidfd, signal, NULL, 0)`: signals exactly the process the pidfd refers to,
/// never a process that reused its pid.
pub(crate) fn pidfd_send_signal(pidfd: &OwnedFd, signal: Signal) -> Result<(), Errno> {
    // SAFETY: the syscall takes an fd (valid: borrowed from an OwnedFd), a signal number, a
    // NULL siginfo pointer (allowed: the kernel builds one as kill does) and zero flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal as libc::c_int,
            ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Whether this process has told the kernel to reap its children itself: `SIGCHLD` at
/// `SIG_IGN`, or a handler installed with `SA_NOCLDWAIT`. A child's exit status is then lost
/// (`waitpid` fails with `ECHILD`).
pub(crate) fn children_autoreaped() -> bool {
    let mut old = MaybeUninit::<libc::sigaction>::uninit();
    // SAFETY: a NULL new action only reads the current one into `old`, which is read only
    // when the call succeeded.
    unsafe {
        if libc::sigaction(libc::SIGCHLD, ptr::null(), old.as_mut_ptr()) != 0 {
            return false;
        }
        let old = old.assume_init();
        old.sa_sigaction == libc::SIG_IGN || old.sa_flags & libc::SA_NOCLDWAIT != 0
    }
}

/// Takes a pending, blocked `SIGPIPE` off the calling thread (or the process) without waiting.
/// Returns whether one was pending.
pub(crate) fn consume_pending_sigpipe() -> bool {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: the set is initialised by sigemptyset before sigaddset and sigtimedwait read
    // it; a zero timeout makes sigtimedwait return at once; the siginfo pointer may be NULL.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGPIPE);
        libc::sigtimedwait(set.as_ptr(), ptr::null_mut(), &zero) == libc::SIGPIPE
    }
}

/// Whether `fd` is closed in this process: `fcntl(fd, F_GETFD)` fails with `EBADF` (std's
/// runtime start-up asks the same of fds 0, 1 and 2).
pub(crate) fn fd_is_closed(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags; any fd number, open or not, is a valid
    // argument (a closed one makes the call fail with EBADF, which is the answer sought).
    let rc = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    rc == -1 && Errno::last() == Errno::EBADF
}

/// Whether a `SIGPIPE` is pending for the calling thread or the process.
pub(crate) fn sigpipe_pending() -> bool {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigpending fills the set it is given; it is read only when that succeeded.
    unsafe {
        if libc::sigpending(set.as_mut_ptr()) != 0 {
            return true; // unknown: do not consume anything
        }
        libc::sigismember(set.as_ptr(), libc::SIGPIPE) == 1
    }
}

/// A disposition [`set_signal_action`] may install: only ones that cannot make a signal
/// handler do anything unsafe.
pub(crate) enum SignalAction {
    /// `SIG_DFL`.
    Default,
    /// `SIG_IGN`.
    Ignore,
    /// A handler that does nothing, installed without `SA_RESTART`: blocking calls in the
    /// thread that takes the signal fail with `EINTR`.
    Noop,
    /// An action `set_signal_action` returned earlier: what the process had before.
    Restore(SigAction),
}

extern "C" fn noop_handler(_signal: libc::c_int) {}

/// Installs `action` for `signal` process-wide and returns the previous action.
pub(crate) fn set_signal_action(signal: Signal, action: SignalAction) -> Result<SigAction, Errno> {
    let action = match action {
        SignalAction::Default => {
            SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty())
        }
        SignalAction::Ignore => {
            SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty())
        }
        SignalAction::Noop => SigAction::new(
            SigHandler::Handler(noop_handler),
            SaFlags::empty(),
            SigSet::empty(),
        ),
        SignalAction::Restore(previous) => previous,
    };
    // SAFETY: the action installed is SIG_DFL, SIG_IGN, a handler that does nothing (trivially
    // async-signal-safe), or exactly the action the kernel reported as installed before one of
    // ours replaced it; sigaction copies the struct and keeps no pointer to it.
    unsafe { nix::sys::signal::sigaction(signal, &action) }
}

// ---------------------------------------------------------------------------------------------
// Benchmark support (reached only through the `#[doc(hidden)]` `crate::process::baseline` module). It
// lives here because it needs `unsafe`, and `unsafe` lives in this module only.

impl FileActions {
    fn open(&mut self, target: RawFd, path: &CStr, flags: libc::c_int) -> Result<(), Errno> {
        // SAFETY: self.0 is initialised; glibc copies the path string into the action list.
        Self::check(unsafe {
            libc::posix_spawn_file_actions_addopen(&mut self.0, target, path.as_ptr(), flags, 0)
        })
    }
}

/// The floor hook-core's spawn is measured against: `posix_spawn` of `path` with argv
/// `[path]` and environment `envp`, fds 0, 1 and 2 opened on `/dev/null` in the child, and no
/// attributes at all (no signal-mask or disposition reset, no process group, no close-from).
pub(crate) fn spawn_devnull(path: &CStr, envp: &[CString]) -> Result<Pid, Errno> {
    let mut actions = FileActions::new()?;
    actions.open(0, c"/dev/null", libc::O_RDONLY)?;
    actions.open(1, c"/dev/null", libc::O_WRONLY)?;
    actions.open(2, c"/dev/null", libc::O_WRONLY)?;
    spawn_plain(path, envp, Some(&actions))
}

static ALLOCATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A global allocator that forwards to [`std::alloc::System`] and counts every allocation
/// (`alloc`, `alloc_zeroed` and `realloc` each count one), so a benchmark binary can show that
/// a call allocated nothing. Install it with `#[global_allocator]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CountingAlloc;

impl CountingAlloc {
    /// Allocations made by the whole process since it started (all threads).
    pub fn allocations() -> u64 {
        ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn count() {
        ALLOCATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

// SAFETY: every method passes its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the only addition is a relaxed atomic increment, which neither
// allocates nor unwinds.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        Self::count();
        // SAFETY: the caller's guarantees about `layout` are passed on unchanged.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        Self::count();
        // SAFETY: the caller's guarantees about `layout` are passed on unchanged.
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        Self::count();
        // SAFETY: `ptr` was allocated by `System` (every allocation of this allocator is), with
        // `layout`; the caller's guarantees about `new_size` are passed on unchanged.
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (every allocation of this
        // allocator is).
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

/// The floor without any hygiene at all: `posix_spawn` of `path` (argv `[path]`, environment
/// `envp`) inheriting the caller's fds 0, 1 and 2 as they are, with no file actions and no
/// attributes. What a caller that captures nothing and guards against nothing would pay.
pub(crate) fn spawn_bare(path: &CStr, envp: &[CString]) -> Result<Pid, Errno> {
    spawn_plain(path, envp, None)
}

/// `posix_spawn` of `path` with argv `[path]`, environment `envp`, the given file actions (or
/// none) and no attributes: the baselines' one spawn.
fn spawn_plain(path: &CStr, envp: &[CString], actions: Option<&FileActions>) -> Result<Pid, Errno> {
    let argv: [*mut libc::c_char; 2] = [path.as_ptr().cast_mut(), ptr::null_mut()];
    let mut envp_ptrs: Vec<*mut libc::c_char> = Vec::with_capacity(envp.len() + 1);
    envp_ptrs.extend(envp.iter().map(|e| e.as_ptr().cast_mut()));
    envp_ptrs.push(ptr::null_mut());
    let actions = actions.map_or(ptr::null(), |a| &raw const a.0);
    let mut pid: libc::pid_t = 0;
    // SAFETY: the path, argv and envp strings are borrowed for the duration of the call, both
    // pointer arrays are NULL-terminated, the actions pointer is NULL or an initialised
    // actions object borrowed from the caller, and NULL attributes are allowed. posix_spawn
    // keeps none of them.
    let rc = unsafe {
        libc::posix_spawn(
            &mut pid,
            path.as_ptr(),
            actions,
            ptr::null(),
            argv.as_ptr(),
            envp_ptrs.as_ptr(),
        )
    };
    if rc != 0 {
        return Err(Errno::from_raw(rc));
    }
    Ok(Pid::from_raw(pid))
}

/// `int virHookInitialize(void)` (libvirt's src/util/virhook.h).
type VirHookInitialize = unsafe extern "C" fn() -> libc::c_int;
/// `int virHookCall(int driver, const char *id, int op, int sub_op, const char *extra,
/// const char *input, char **output)` (libvirt's src/util/virhook.h, unchanged since 1.0).
type VirHookCall = unsafe extern "C" fn(
    libc::c_int,
    *const libc::c_char,
    libc::c_int,
    libc::c_int,
    *const libc::c_char,
    *const libc::c_char,
    *mut *mut libc::c_char,
) -> libc::c_int;

/// libvirt's own hook entry points, from `libvirt.so.0` loaded at run time (nothing links
/// against libvirt). The library stays loaded for the life of the process.
pub(crate) struct LibvirtHooks {
    hook_initialize: VirHookInitialize,
    hook_call: VirHookCall,
    /// `const char *virGetLastErrorMessage(void)` (libvirt's public virterror.h).
    last_error_message: unsafe extern "C" fn() -> *const libc::c_char,
    /// `virGetVersion`'s library version: major * 1,000,000 + minor * 1,000 + release.
    pub(crate) version: u64,
}

/// The last `dlerror()` message, or `what` when there is none.
fn dl_error(what: &str) -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string valid until the next dl* call
    // in this thread; it is copied at once.
    let msg = unsafe { libc::dlerror() };
    if msg.is_null() {
        return what.to_owned();
    }
    // SAFETY: non-NULL, so a valid C string (see above).
    unsafe { CStr::from_ptr(msg) }
        .to_string_lossy()
        .into_owned()
}

/// Loads `soname` (libvirt's is `libvirt.so.0`), initialises the library (`virInitialize`:
/// error and log machinery) and looks up `virHookInitialize` and `virHookCall` (private
/// symbols, exported under the library's `LIBVIRT_PRIVATE_<version>` node; `dlsym` finds the
/// default version).
pub(crate) fn libvirt_hooks_load(soname: &CStr) -> Result<LibvirtHooks, String> {
    // SAFETY: dlopen takes a NUL-terminated name; loading libvirt runs its ELF constructors,
    // which only set up the library's own global state.
    let handle = unsafe { libc::dlopen(soname.as_ptr(), libc::RTLD_NOW) };
    if handle.is_null() {
        return Err(dl_error(&format!(
            "dlopen({}) failed",
            soname.to_string_lossy()
        )));
    }
    let sym = |name: &CStr| -> Result<*mut libc::c_void, String> {
        // SAFETY: `handle` is a live handle from dlopen (never closed); the name is
        // NUL-terminated.
        let p = unsafe { libc::dlsym(handle, name.as_ptr()) };
        if p.is_null() {
            Err(dl_error(&format!("{} not found", name.to_string_lossy())))
        } else {
            Ok(p)
        }
    };
    let initialize = sym(c"virInitialize")?;
    let get_version = sym(c"virGetVersion")?;
    let hook_initialize = sym(c"virHookInitialize")?;
    let hook_call = sym(c"virHookCall")?;
    let last_error_message = sym(c"virGetLastErrorMessage")?;
    // SAFETY: each pointer is the address of the libvirt function of that name, whose C
    // signature (libvirt.h, virhook.h, virterror.h) is the one it is transmuted to; the
    // library is never unloaded, so the pointers stay valid.
    let (initialize, get_version, hook_initialize, hook_call, last_error_message) = unsafe {
        (
            std::mem::transmute::<*mut libc::c_void, unsafe extern "C" fn() -> libc::c_int>(
                initialize,
            ),
            std::mem::transmute::<
                *mut libc::c_void,
                unsafe extern "C" fn(
                    *mut libc::c_ulong,
                    *const libc::c_char,
                    *mut libc::c_ulong,
                ) -> libc::c_int,
            >(get_version),
            std::mem::transmute::<*mut libc::c_void, VirHookInitialize>(hook_initialize),
            std::mem::transmute::<*mut libc::c_void, VirHookCall>(hook_call),
            std::mem::transmute::<*mut libc::c_void, unsafe extern "C" fn() -> *const libc::c_char>(
                last_error_message,
            ),
        )
    };
    // SAFETY: virInitialize takes no arguments and may be called more than once.
    if unsafe { initialize() } != 0 {
        return Err("virInitialize failed".to_owned());
    }
    let mut version: libc::c_ulong = 0;
    // SAFETY: a valid pointer for the library version; type NULL asks for no driver version,
    // so the third pointer may be NULL.
    if unsafe { get_version(&mut version, ptr::null(), ptr::null_mut()) } != 0 {
        return Err("virGetVersion failed".to_owned());
    }
    Ok(LibvirtHooks {
        hook_initialize,
        hook_call,
        last_error_message,
        version: version as u64,
    })
}

impl LibvirtHooks {
    /// `virHookInitialize()`: scans libvirt's compiled-in hooks directory; returns the number
    /// of drivers found, or -1.
    pub(crate) fn initialize(&self) -> i32 {
        // SAFETY: a function of the loaded library that takes no arguments.
        unsafe { (self.hook_initialize)() }
    }

    /// `virHookCall(driver, id, op, sub_op, NULL, input, NULL)`: runs the driver's scripts as
    /// libvirtd would. Returns 1 (nothing installed), 0 (all succeeded) or -1.
    pub(crate) fn call(
        &self,
        driver: i32,
        id: &CStr,
        op: i32,
        sub_op: i32,
        input: Option<&CStr>,
    ) -> i32 {
        // SAFETY: the strings are NUL-terminated and outlive the call; NULL extra, input and
        // output are allowed (virhook.c: `-`, /dev/null, no capture); libvirt checks the
        // driver and op numbers against its tables and keeps no pointer after returning.
        unsafe {
            (self.hook_call)(
                driver,
                id.as_ptr(),
                op,
                sub_op,
                ptr::null(),
                input.map_or(ptr::null(), CStr::as_ptr),
                ptr::null_mut(),
            )
        }
    }

    /// `virHookCall(driver, id, op, sub_op, NULL, input, &output)`, as libvirt's filter call
    /// sites (migrate, restore) make it: the return value and what libvirt handed back in
    /// `output` (`None` when it left it NULL), copied and freed.
    pub(crate) fn call_with_output(
        &self,
        driver: i32,
        id: &CStr,
        op: i32,
        sub_op: i32,
        input: Option<&CStr>,
    ) -> (i32, Option<Vec<u8>>) {
        let mut output: *mut libc::c_char = ptr::null_mut();
        // SAFETY: as in `call`; `output` is a valid `char **` that libvirt sets to NULL or to a
        // string it allocated (with GLib, whose allocator is the C library's malloc).
        let rc = unsafe {
            (self.hook_call)(
                driver,
                id.as_ptr(),
                op,
                sub_op,
                ptr::null(),
                input.map_or(ptr::null(), CStr::as_ptr),
                &mut output,
            )
        };
        if output.is_null() {
            return (rc, None);
        }
        // SAFETY: non-NULL, a NUL-terminated string libvirt allocated for the caller: copied,
        // then freed once, as libvirt's own callers do (VIR_FREE).
        let bytes = unsafe { CStr::from_ptr(output) }.to_bytes().to_vec();
        // SAFETY: see above; `output` is not used after this.
        unsafe { libc::free(output.cast()) };
        (rc, Some(bytes))
    }

    /// `virGetLastErrorMessage()`: the message of this thread's last libvirt error (libvirt
    /// says "no error" when there is none), copied.
    pub(crate) fn last_error(&self) -> String {
        // SAFETY: takes no arguments; returns NULL or a NUL-terminated string owned by the
        // thread's error object, valid until the next libvirt call in this thread. Copied at
        // once.
        let msg = unsafe { (self.last_error_message)() };
        if msg.is_null() {
            return String::new();
        }
        // SAFETY: non-NULL, so a valid C string (see above).
        unsafe { CStr::from_ptr(msg) }
            .to_string_lossy()
            .into_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use nix::fcntl::{OFlag, open};
    use nix::sys::stat::Mode;
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::pipe2;

    use super::*;

    /// Each way of closing inherited fds closes a host fd opened without `O_CLOEXEC`: the
    /// script, a shell, looks for it in its own `/proc/self/fd`.
    #[test]
    fn every_way_of_closing_inherited_fds_closes_them() {
        let leaked = open(c"/dev/null", OFlag::O_RDONLY, Mode::empty()).unwrap();
        let n = leaked.as_raw_fd();
        assert!(n >= 3);
        let check = CString::new(format!(
            "if [ -e /proc/self/fd/{n} ]; then echo leaked; else echo closed; fi"
        ))
        .unwrap();
        let argv = [c"sh".to_owned(), c"-c".to_owned(), check];
        for how in [CloseFds::Auto, CloseFds::Listed, CloseFds::BelowLimit] {
            let (r, w) = pipe2(OFlag::O_CLOEXEC).unwrap();
            let pid = spawn(&SpawnRequest {
                path: c"/bin/sh",
                argv: &argv,
                envp: &[],
                stdin: ChildStdin::DevNull,
                stdout: w.as_raw_fd(),
                stderr: w.as_raw_fd(),
                close_fds: how,
            })
            .unwrap();
            drop(w);
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut std::fs::File::from(r), &mut out).unwrap();
            assert_eq!(waitpid(pid, None).unwrap(), WaitStatus::Exited(pid, 0));
            assert_eq!(String::from_utf8_lossy(&out), "closed\n", "{how:?}");
        }
        drop(leaked);
    }
}
