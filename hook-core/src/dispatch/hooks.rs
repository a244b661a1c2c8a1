//! [`Hooks`]: one hooks directory, the drivers registered with it and their presence cache, and
//! running a driver's scripts for one event exactly as libvirt's `virHookCall` does: the main
//! script, then the `.d` scripts, all of them even after a failure, with migrate/restore output
//! chained from filter to filter (spec §1.7 step 10). Under the per-object layouts
//! ([`Layout`]) the scripts of `<driver>.d/<object>/<op>/<subop>` run in the main script's
//! place, stopping at the first of them that fails.
//!
//! The presence cache is one atomic per driver. A call for a driver with nothing installed reads
//! it and returns: no syscall, no allocation, and the stdin document is never built. The driver
//! is found without comparing its name: each driver remembers the address of the `&'static str`
//! name its events last gave (the first call with a given name compares it once), so the
//! absent path is a few pointer compares and one atomic load, inlined into the call site.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::driver::{EventSpec, FailurePolicy, HookEvent};
use crate::error::HookError;
use crate::hookdir::discover::{self, Scan};
use crate::hookdir::layout::{self, Layout};
use crate::libvirt::version::LibvirtVersion;
use crate::process::cancel::Cancel;
use crate::process::env::ScriptEnv;
use crate::process::limits::Limits;
use crate::process::report::Report;
use crate::process::runner::{Invocation, Runner};

const ABSENT: u8 = 0;
const PRESENT: u8 = 1;
const UNREADABLE: u8 = 2;

struct Slot {
    name: Box<str>,
    main: PathBuf,
    d_dir: PathBuf,
    state: AtomicU8,
    /// The address of a `&'static str` equal to `name` (0: none seen yet): a later name at the
    /// same address with the same length is the same bytes (static memory never changes), so
    /// it matches without a string compare.
    resolved: AtomicUsize,
    /// Why the `.d` directory could not be read at the last scan.
    scan_error: Mutex<Option<String>>,
}

impl Slot {
    #[inline]
    fn is(&self, driver: &str) -> bool {
        self.resolved.load(Ordering::Relaxed) == driver.as_ptr() as usize
            && self.name.len() == driver.len()
    }
}

/// What the presence cache says about one driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presence {
    /// Nothing installed at the last scan: calls return at once.
    Absent,
    /// An executable main script or `.d` entry was found at the last scan.
    Present,
    /// `<driver>.d` exists but could not be read at the last scan; calls fail with the reason.
    Unreadable(String),
    /// The driver was never registered with this [`Hooks`].
    Unregistered,
}

/// What [`HooksBuilder::observer`] calls after each script's run.
pub type Observer = Arc<dyn Fn(&ScriptRun) + Send + Sync>;

/// An [`Observer`], shown by `Debug` as present or not.
#[derive(Clone, Default)]
struct ObserverSlot(Option<Observer>);

impl fmt::Debug for ObserverSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Some(..)" } else { "None" })
    }
}

/// Builds a [`Hooks`].
#[derive(Debug)]
pub struct HooksBuilder {
    dir: PathBuf,
    drivers: Vec<String>,
    limits: Limits,
    env: Option<ScriptEnv>,
    strict_trust: bool,
    layout: Layout,
    cancel: Option<Cancel>,
    libvirt_version: LibvirtVersion,
    scan: bool,
    main_script: bool,
    observer: ObserverSlot,
}

impl HooksBuilder {
    /// Registers a driver by name (its main script's file name).
    pub fn driver(mut self, name: &str) -> Self {
        self.drivers.push(name.to_owned());
        self
    }

    /// Registers several drivers.
    pub fn drivers<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Self {
        self.drivers.extend(names.into_iter().map(str::to_owned));
        self
    }

    /// Default limits for every call (timeout, caps, drain, kill grace).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The scripts' environment; default [`ScriptEnv::libvirt`], taken when `build` runs.
    pub fn env(mut self, env: ScriptEnv) -> Self {
        self.env = Some(env);
        self
    }

    /// Strict trust mode (default off, as libvirt): refuse to run a script when it, or a
    /// directory between it and the hooks directory, is group- or world-writable or owned by
    /// anyone but root or the current user ([`crate::hookdir::discover::list`]'s warnings). A refused
    /// script fails the call with [`HookError::Untrusted`], which says how to fix it; the
    /// other scripts still run, as after any failure. The check is a `stat` per path just
    /// before each start.
    pub fn strict_trust(mut self, on: bool) -> Self {
        self.strict_trust = on;
        self
    }

    /// Which scripts run (default [`Layout::Libvirt`], exactly libvirt's). [`Layout::PerObject`]
    /// adds `<driver>.d/<object>/<op>/<subop>/` (the hook helper's layout) to libvirt's
    /// scripts; [`Layout::PerObjectOnly`] runs only those, for a dispatcher that libvirt runs
    /// as the main script. The presence scan follows the layout: under the per-object layouts a
    /// driver with only per-object scripts is present.
    pub fn layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// Cancels the calls when `cancel` is cancelled (e.g. from a thread that waits for
    /// SIGINT/SIGTERM, or when the daemon stops): the running script's process group gets the
    /// signal, the script's run fails with [`HookError::Interrupted`], and no further script
    /// of the call, or of any later call, is started. See [`Runner::with_cancel`].
    pub fn cancel(mut self, cancel: Cancel) -> Self {
        self.cancel = Some(cancel);
        self
    }

    /// The libvirt release whose hook calls this stack makes (default
    /// [`LibvirtVersion::NEWEST`]). The driver crates follow it where libvirt releases differ:
    /// before 10.5.0, qemu's and lxc's `release` pass `-` instead of the shutoff reason. Choose
    /// the release the administrators' scripts were written for, e.g. the distribution's libvirt
    /// the stack replaces.
    pub fn libvirt_version(mut self, version: LibvirtVersion) -> Self {
        self.libvirt_version = version;
        self
    }

    /// Whether `build` scans the directory (default yes, as libvirt's `virHookInitialize`).
    /// Without the scan every registered driver counts as present until [`Hooks::rescan`]:
    /// for a caller that has just looked at the one place it will run scripts from, such as a
    /// dispatcher serving one event, so that it does not walk a whole per-object tree (every
    /// guest's directories) to learn what it knows. A call still finds its scripts itself.
    pub fn scan(mut self, on: bool) -> Self {
        self.scan = on;
        self
    }

    /// Whether the main script `<dir>/<driver>` runs (default yes). A caller that stands in
    /// for the main script turns it off: `virt-hook run` when the main script is its own
    /// dispatcher (or the hook helper), which runs the per-object scripts in the main script's
    /// place; with [`Layout::PerObject`] the call then runs the per-object scripts and the
    /// `.d` scripts after them, exactly what libvirt runs with the dispatcher installed.
    pub fn main_script(mut self, on: bool) -> Self {
        self.main_script = on;
        self
    }

    /// Calls `observer` after each script's run (or refusal, or failure to start), with its
    /// [`ScriptRun`], before the next script starts: for a caller that shows each script as it
    /// ends rather than all of them when the call returns. It runs on the calling thread and
    /// delays the next script by as long as it takes.
    pub fn observer(mut self, observer: Observer) -> Self {
        self.observer = ObserverSlot(Some(observer));
        self
    }

    /// Validates the driver names and scans the directory once (libvirt's `virHookInitialize`).
    /// A driver whose `.d` cannot be read is not an error here: [`Hooks::presence`] says
    /// [`Presence::Unreadable`] and its calls fail; the other drivers work.
    pub fn build(self) -> Result<Hooks, HookError> {
        let mut slots: Vec<Slot> = Vec::with_capacity(self.drivers.len());
        for name in self.drivers {
            if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
                return Err(HookError::InvalidArgument {
                    what: format!("driver name {name:?}"),
                    reason: "a driver name is a plain file name: non-empty, no '/', no NUL, not . or ..",
                });
            }
            if slots.iter().any(|s| *s.name == *name) {
                return Err(HookError::InvalidArgument {
                    what: format!("driver name {name:?}"),
                    reason: "registered twice",
                });
            }
            let main = self.dir.join(&name);
            let d_dir = discover::d_dir_of(&main);
            slots.push(Slot {
                name: name.into_boxed_str(),
                main,
                d_dir,
                state: AtomicU8::new(ABSENT),
                resolved: AtomicUsize::new(0),
                scan_error: Mutex::new(None),
            });
        }
        let mut runner = Runner::new(self.env.unwrap_or_else(ScriptEnv::libvirt), self.limits);
        if let Some(cancel) = self.cancel {
            runner = runner.with_cancel(cancel);
        }
        let hooks = Hooks {
            dir: self.dir,
            slots: slots.into_boxed_slice(),
            runner,
            rescan_lock: Mutex::new(()),
            strict_trust: self.strict_trust,
            layout: self.layout,
            libvirt_version: self.libvirt_version,
            main_script: self.main_script,
            observer: self.observer,
        };
        if self.scan {
            let _ = hooks.rescan();
        } else {
            for s in hooks.slots.iter() {
                s.state.store(PRESENT, Ordering::Release);
            }
        }
        Ok(hooks)
    }
}

/// A hooks directory and its registered drivers. Share it between threads (`&Hooks` or `Arc`):
/// calls run concurrently, and [`Hooks::rescan`] may run while calls are in flight.
pub struct Hooks {
    dir: PathBuf,
    slots: Box<[Slot]>,
    runner: Runner,
    rescan_lock: Mutex<()>,
    strict_trust: bool,
    layout: Layout,
    libvirt_version: LibvirtVersion,
    main_script: bool,
    observer: ObserverSlot,
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("dir", &self.dir)
            .field(
                "drivers",
                &self.slots.iter().map(|s| &*s.name).collect::<Vec<_>>(),
            )
            .field("strict_trust", &self.strict_trust)
            .field("layout", &self.layout)
            .field("libvirt_version", &self.libvirt_version)
            .finish_non_exhaustive()
    }
}

/// One script that ran (or was meant to) for an event.
#[derive(Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ScriptRun {
    /// The script.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_support::path")
    )]
    pub script: PathBuf,
    /// The report, when the script was started.
    pub report: Option<Report>,
    /// Why it failed, when it did.
    pub error: Option<HookError>,
}

impl ScriptRun {
    /// It ran and succeeded.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

/// A call whose scripts all succeeded, or where nothing ran.
#[derive(Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Outcome {
    /// One entry per script, in the order they ran; empty when nothing ran.
    pub runs: Vec<ScriptRun>,
    /// For events whose output is used: the last non-empty (not only whitespace) successful
    /// output, i.e. the replacement document. `None` means "unchanged" (no filter printed anything).
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_support::opt_lossy")
    )]
    pub output: Option<Vec<u8>>,
    /// The script that printed `output`.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_support::opt_path")
    )]
    pub output_from: Option<PathBuf>,
    /// For events whose output is used: every script whose output changed the document, in the
    /// order they ran (each printed a non-blank document that differs from the one it was
    /// given). A script that printed its input back unchanged is not named here, though its
    /// output may be `output`.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_support::paths")
    )]
    pub changed_by: Vec<PathBuf>,
}

impl Outcome {
    /// Nothing was run: no script installed for this driver (libvirt's return value 1).
    pub fn nothing_ran(&self) -> bool {
        self.runs.is_empty()
    }
}

/// A call where at least one script failed, or the `.d` directory could not be read.
#[derive(Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Failure {
    /// The driver.
    pub driver: String,
    /// The operation.
    pub op: String,
    /// The object (domain or network name, or `-`).
    pub object: String,
    /// What the failure means to the caller.
    pub on_failure: FailurePolicy,
    /// Every script that ran, failures included (libvirt's scripts all run even after a
    /// failure; per-object scripts stop at the first that fails, see [`Layout`]).
    pub runs: Vec<ScriptRun>,
    /// The `.d` directory could not be read (after the main script ran, as in libvirt).
    pub dir_error: Option<HookError>,
    /// For events whose output is used: the last non-empty output of a script that succeeded,
    /// which is libvirt's `*output` at the end except in one case: libvirt also leaves there
    /// the stdout of a main script that failed (when no later script replaced it); this never
    /// holds a failed script's output. libvirt's callers ignore it on failure.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_support::opt_lossy")
    )]
    pub output: Option<Vec<u8>>,
}

impl Failure {
    /// Every failure, in order: the failing scripts, then the directory error.
    pub fn errors(&self) -> impl Iterator<Item = &HookError> {
        self.runs
            .iter()
            .filter_map(|r| r.error.as_ref())
            .chain(self.dir_error.as_ref())
    }

    /// The headline: the last failure, as libvirt reports it.
    pub fn headline(&self) -> &HookError {
        self.errors()
            .last()
            .expect("a Failure holds at least one error")
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} hook '{}' for {:?} failed: {}",
            self.driver,
            self.op,
            self.object,
            self.headline()
        )?;
        let n = self.errors().count();
        if n > 1 {
            write!(
                f,
                " (and {} earlier failure{})",
                n - 1,
                if n == 2 { "" } else { "s" }
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.headline())
    }
}

impl Hooks {
    /// Starts building a [`Hooks`] for this directory (see [`crate::hookdir::dir`] for the system and
    /// per-user ones).
    pub fn builder(dir: impl Into<PathBuf>) -> HooksBuilder {
        HooksBuilder {
            dir: dir.into(),
            drivers: Vec::new(),
            limits: Limits::default(),
            env: None,
            strict_trust: false,
            layout: Layout::Libvirt,
            cancel: None,
            libvirt_version: LibvirtVersion::NEWEST,
            scan: true,
            main_script: true,
            observer: ObserverSlot(None),
        }
    }

    /// The hooks directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The runner (environment and default limits) used for every script.
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// The libvirt release whose hook calls this stack makes ([`HooksBuilder::libvirt_version`]).
    pub fn libvirt_version(&self) -> LibvirtVersion {
        self.libvirt_version
    }

    /// Whether strict trust mode is on ([`HooksBuilder::strict_trust`]).
    pub fn strict_trust(&self) -> bool {
        self.strict_trust
    }

    /// Which scripts run ([`HooksBuilder::layout`]).
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The registered drivers, in registration order.
    pub fn drivers(&self) -> impl Iterator<Item = &str> {
        self.slots.iter().map(|s| &*s.name)
    }

    /// The slot of `driver`: by address first (see [`Slot::resolved`]), then by name.
    #[inline]
    fn slot(&self, driver: &str) -> Option<&Slot> {
        match self.slots.iter().find(|s| s.is(driver)) {
            Some(s) => Some(s),
            None => self.slot_by_name(driver),
        }
    }

    #[cold]
    #[inline(never)]
    fn slot_by_name(&self, driver: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| *s.name == *driver)
    }

    /// The slot of a driver named by an event: found by name once per distinct `&'static str`,
    /// by address after that.
    #[inline]
    fn resolve(&self, driver: &'static str) -> Option<&Slot> {
        match self.slots.iter().find(|s| s.is(driver)) {
            Some(s) => Some(s),
            None => self.resolve_by_name(driver),
        }
    }

    #[cold]
    #[inline(never)]
    fn resolve_by_name(&self, driver: &'static str) -> Option<&Slot> {
        let slot = self.slot_by_name(driver)?;
        slot.resolved
            .store(driver.as_ptr() as usize, Ordering::Relaxed);
        Some(slot)
    }

    /// Whether anything was installed for `driver` at the last scan (libvirt's
    /// `virHookPresent`). An unreadable `.d` counts as present, so calls report it. No syscall,
    /// no allocation; a `&'static str` that a call already used (such as a driver crate's
    /// `NAME`) is matched by address, without comparing the name.
    #[inline]
    pub fn is_present(&self, driver: &str) -> bool {
        self.slot(driver)
            .is_some_and(|s| s.state.load(Ordering::Acquire) != ABSENT)
    }

    /// What the presence cache says about `driver`.
    pub fn presence(&self, driver: &str) -> Presence {
        match self.slot(driver) {
            None => Presence::Unregistered,
            Some(s) => match s.state.load(Ordering::Acquire) {
                ABSENT => Presence::Absent,
                PRESENT => Presence::Present,
                _ => Presence::Unreadable(
                    s.scan_error
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone()
                        .unwrap_or_default(),
                ),
            },
        }
    }

    /// Scans every registered driver again. Returns the drivers whose `.d` could not be read
    /// (each with its error); the others are updated either way.
    pub fn rescan(&self) -> Result<(), Vec<HookError>> {
        let _serial = self.rescan_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut errors = Vec::new();
        for s in self.slots.iter() {
            let scan = match self.layout {
                Layout::Libvirt => discover::scan(&s.main, &s.d_dir),
                Layout::PerObjectOnly => discover::scan_objects(&s.d_dir),
                Layout::PerObject => match discover::scan(&s.main, &s.d_dir) {
                    Scan::Absent => discover::scan_objects(&s.d_dir),
                    found => found,
                },
            };
            let state = match scan {
                Scan::Present => PRESENT,
                Scan::Absent => ABSENT,
                Scan::Unreadable(e) => {
                    let msg = e.to_string();
                    *s.scan_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(msg);
                    errors.push(HookError::DirUnreadable {
                        driver: s.name.to_string(),
                        path: s.d_dir.clone(),
                        source: e,
                    });
                    UNREADABLE
                }
            };
            tracing::debug!(driver = &*s.name, state, "hook presence scanned");
            s.state.store(state, Ordering::Release);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Runs `event`'s scripts with the default limits. See [`Hooks::run_with`].
    #[inline]
    pub fn run<'i, E: HookEvent + ?Sized>(
        &self,
        event: &E,
        object: &str,
        stdin: impl FnOnce() -> Option<Cow<'i, [u8]>>,
    ) -> Result<Outcome, Box<Failure>> {
        self.run_with(event, object, stdin, self.runner.limits())
    }

    /// Runs the scripts of `event.driver()` for one event, as libvirt's `virHookCall`.
    ///
    /// `object` is argv\[1\] (the domain or network name, `-` for the daemon). `stdin` builds the
    /// document fed to every script (`None`: `/dev/null`); it is called only when something is
    /// installed. `Ok` with [`Outcome::nothing_ran`] when nothing is installed; `Ok` when every
    /// script succeeded; `Err` when any failed (libvirt's scripts all ran anyway, per-object
    /// ones stopped at the first failure) or a directory was unreadable. Which scripts run is
    /// the [`Layout`]'s choice.
    ///
    /// When nothing is installed the call is inlined into its caller: the driver found by
    /// address, one atomic load, an empty [`Outcome`] (no allocation).
    #[inline]
    pub fn run_with<'i, E: HookEvent + ?Sized>(
        &self,
        event: &E,
        object: &str,
        stdin: impl FnOnce() -> Option<Cow<'i, [u8]>>,
        limits: &Limits,
    ) -> Result<Outcome, Box<Failure>> {
        if let Some(slot) = self.resolve(event.driver())
            && slot.state.load(Ordering::Acquire) == ABSENT
            && !event.spec().rescans_first
        {
            return Ok(Outcome::default());
        }
        self.run_slow(event, object, stdin, limits)
    }

    /// Everything but the absent driver's early return: unregistered drivers, rescans,
    /// running the scripts.
    #[inline(never)]
    fn run_slow<'i, E: HookEvent + ?Sized>(
        &self,
        event: &E,
        object: &str,
        stdin: impl FnOnce() -> Option<Cow<'i, [u8]>>,
        limits: &Limits,
    ) -> Result<Outcome, Box<Failure>> {
        let driver = event.driver();
        let spec = event.spec();
        let Some(slot) = self.resolve(driver) else {
            return Err(Box::new(self.unregistered(driver, &spec, object)));
        };
        if spec.rescans_first {
            let _ = self.rescan();
        }
        if slot.state.load(Ordering::Acquire) == ABSENT {
            return Ok(Outcome::default());
        }
        let span = tracing::debug_span!("hook_event", driver, op = spec.op, object);
        let _entered = span.enter();
        self.dispatch(slot, &spec, object, stdin(), limits)
    }

    fn unregistered(&self, driver: &str, spec: &EventSpec<'_>, object: &str) -> Failure {
        Failure {
            driver: driver.to_owned(),
            op: spec.op.to_owned(),
            object: object.to_owned(),
            on_failure: spec.on_failure,
            runs: Vec::new(),
            dir_error: Some(HookError::InvalidArgument {
                what: format!("driver {driver:?}"),
                reason: "it was not registered with this Hooks object (HooksBuilder::driver)",
            }),
            output: None,
        }
    }

    /// Calls the observer with the run `run_one` just added, if it added one (nothing is
    /// started once the call is cancelled).
    fn observe(&self, runs: &[ScriptRun], before: usize) {
        if let (Some(observer), Some(run)) =
            (&self.observer.0, runs.get(before..).and_then(<[_]>::last))
        {
            observer(run);
        }
    }

    fn dispatch(
        &self,
        slot: &Slot,
        spec: &EventSpec<'_>,
        object: &str,
        input: Option<Cow<'_, [u8]>>,
        limits: &Limits,
    ) -> Result<Outcome, Box<Failure>> {
        let args = spec.args(object);
        let mut runs: Vec<ScriptRun> = Vec::new();
        // libvirt's script_ret: 1 = nothing ran yet, 0 = all succeeded so far, -1 = a failure.
        let mut all_ok = true;
        let mut output: Option<(Vec<u8>, PathBuf)> = None;
        let mut changed_by: Vec<PathBuf> = Vec::new();

        // `per_object`: a script of the per-object layout, which the hook helper's bash ran even
        // without a `#!` line; it gets the same (libvirt's own scripts do not).
        let mut run_one = |script: &Path,
                           per_object: bool,
                           runs: &mut Vec<ScriptRun>,
                           all_ok: &mut bool,
                           output: &mut Option<(Vec<u8>, PathBuf)>| {
            // Once the call is cancelled and one run says so, nothing more is started.
            if runs
                .iter()
                .any(|r| matches!(r.error, Some(HookError::Interrupted { .. })))
            {
                return;
            }
            // Each filter gets the previous non-empty successful output while nothing has failed,
            // otherwise the original input (virhook.c step 10).
            let chained = if *all_ok && spec.uses_output {
                output.as_ref().map(|(o, _)| o.as_slice())
            } else {
                None
            };
            let stdin = chained.or(input.as_deref());
            if self.strict_trust
                && let Some(w) = discover::trust_problem(script, &self.dir)
            {
                let error = HookError::Untrusted {
                    script: script.to_owned(),
                    fix: w.fix(),
                    path: w.path,
                    problem: w.kind,
                };
                tracing::warn!(error = %error, "not run");
                *all_ok = false;
                runs.push(ScriptRun {
                    script: script.to_owned(),
                    report: None,
                    error: Some(error),
                });
                return;
            }
            let inv = Invocation {
                script,
                args: &args,
                stdin,
                capture_stdout: spec.uses_output,
            };
            let ran = if per_object {
                self.runner.run_with_shell_fallback(&inv, limits)
            } else {
                self.runner.run_with(&inv, limits)
            };
            match ran {
                Ok(report) => {
                    let error = report.error();
                    if error.is_none() {
                        // libvirt's virStringIsEmpty: output of C whitespace only counts as none.
                        let blank =
                            |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
                        if spec.uses_output && !report.stdout.iter().all(blank) {
                            if stdin != Some(report.stdout.as_slice()) {
                                changed_by.push(script.to_owned());
                            }
                            *output = Some((report.stdout.clone(), script.to_owned()));
                        }
                    } else {
                        *all_ok = false;
                    }
                    runs.push(ScriptRun {
                        script: script.to_owned(),
                        report: Some(report),
                        error,
                    });
                }
                Err(e) => {
                    *all_ok = false;
                    runs.push(ScriptRun {
                        script: script.to_owned(),
                        report: None,
                        error: Some(e),
                    });
                }
            }
        };

        let libvirt_scripts = self.layout.runs_libvirt_scripts();
        if libvirt_scripts && self.main_script && discover::is_executable(&slot.main) {
            run_one(&slot.main, false, &mut runs, &mut all_ok, &mut output);
            self.observe(&runs, 0);
        }
        let mut dir_error = None;
        // The per-object scripts, in the main script's place; the first failure stops them.
        let object_path = self
            .layout
            .runs_object_scripts()
            .then(|| layout::object_path(&slot.d_dir, object, spec.op, spec.subop.as_str()))
            .flatten();
        if let Some(path) = object_path {
            match discover::object_scripts(&path) {
                Ok(scripts) => {
                    for (i, script) in scripts.iter().enumerate() {
                        let before = runs.len();
                        run_one(script, true, &mut runs, &mut all_ok, &mut output);
                        self.observe(&runs, before);
                        if runs.last().is_some_and(|r| !r.succeeded()) {
                            let left = scripts.len() - i - 1;
                            tracing::debug!(
                                left,
                                "a per-object script failed: the rest do not run"
                            );
                            break;
                        }
                    }
                }
                Err(e) => {
                    dir_error = Some(HookError::DirUnreadable {
                        driver: slot.name.to_string(),
                        path,
                        source: e,
                    });
                }
            }
        }
        if libvirt_scripts {
            match discover::d_scripts(&slot.d_dir) {
                Ok(Some(scripts)) => {
                    for script in &scripts {
                        let before = runs.len();
                        run_one(script, false, &mut runs, &mut all_ok, &mut output);
                        self.observe(&runs, before);
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    // Keeps the per-object error if there was one: it came first, and an
                    // unreadable `.d` makes the per-object path unreadable too.
                    dir_error.get_or_insert(HookError::DirUnreadable {
                        driver: slot.name.to_string(),
                        path: slot.d_dir.clone(),
                        source: e,
                    });
                }
            }
        }

        if all_ok && dir_error.is_none() {
            let (output, output_from) = match output {
                Some((o, from)) if spec.uses_output => (Some(o), Some(from)),
                _ => (None, None),
            };
            Ok(Outcome {
                runs,
                output,
                output_from,
                changed_by,
            })
        } else {
            let failure = Failure {
                driver: slot.name.to_string(),
                op: spec.op.to_owned(),
                object: object.to_owned(),
                on_failure: spec.on_failure,
                runs,
                dir_error,
                output: output.map(|(o, _)| o),
            };
            tracing::warn!(error = %failure, "hook failed");
            Err(Box::new(failure))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::SubOp;

    struct Ev(&'static str);

    impl HookEvent for Ev {
        fn driver(&self) -> &'static str {
            self.0
        }
        fn spec(&self) -> EventSpec<'_> {
            EventSpec::new("start", SubOp::Begin, FailurePolicy::Abort)
        }
    }

    /// Drivers are found by address after the first call; the address alone never matches.
    #[test]
    fn drivers_resolve_by_address_and_length_only_after_a_name_match() {
        // Nothing is installed in a directory that does not exist: every call is the absent path.
        let dir = std::env::temp_dir().join(format!("hook-core-resolve-{}", std::process::id()));
        let hooks = Hooks::builder(&dir)
            .drivers(["lxc", "qemu"])
            .build()
            .expect("build");
        let literal: &'static str = "lxc";
        let leaked: &'static str = String::from("lxc").leak();
        let prefix: &'static str = &literal[..2]; // "lx": lxc's address, another length
        let suffix: &'static str = &"xqemu"[1..]; // "qemu" at an address no driver used
        for _ in 0..2 {
            for ev in [Ev(literal), Ev(leaked), Ev(suffix), Ev(literal)] {
                let outcome = hooks.run(&ev, "-", || None).expect("absent driver");
                assert!(outcome.nothing_ran());
            }
            let err = hooks
                .run(&Ev(prefix), "-", || None)
                .expect_err("lx is no driver");
            assert!(err.to_string().contains("\"lx\""), "{err}");
            assert!(hooks.is_present("lxc") == hooks.is_present(leaked));
            assert!(!hooks.is_present(prefix));
            assert!(!hooks.is_present(&String::from("qem")));
        }
        assert_eq!(hooks.presence(literal), Presence::Absent);
        assert_eq!(hooks.presence(prefix), Presence::Unregistered);
    }

    /// Without the build's scan every driver counts as present, and a call finds its scripts
    /// itself: in an empty directory, nothing runs; a rescan then says what is there.
    #[test]
    fn without_the_scan_drivers_are_present_until_a_rescan() {
        let dir = std::env::temp_dir().join(format!("hook-core-noscan-{}", std::process::id()));
        let hooks = Hooks::builder(&dir)
            .driver("qemu")
            .layout(Layout::PerObjectOnly)
            .scan(false)
            .build()
            .expect("build");
        assert_eq!(hooks.presence("qemu"), Presence::Present);
        let outcome = hooks.run(&Ev("qemu"), "g", || None).expect("nothing there");
        assert!(outcome.nothing_ran());
        let _ = hooks.rescan();
        assert_eq!(hooks.presence("qemu"), Presence::Absent);
    }

    /// The observer sees each script as it ends, in run order; without the main script, the
    /// per-object layout runs the per-object scripts (stopping at the first failure) and then
    /// the `.d` scripts: what libvirt runs with a dispatcher as the main script.
    #[test]
    fn the_observer_sees_each_script_and_the_main_script_can_stand_aside() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("hook-core-observer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let per = dir.join("qemu.d/g/start/begin");
        std::fs::create_dir_all(&per).expect("mkdir");
        let script = |path: &Path, body: &str| {
            std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        };
        script(&dir.join("qemu"), "exit 0");
        script(&per.join("10-a"), "exit 0");
        script(&per.join("20-b"), "exit 3");
        script(&per.join("30-c"), "exit 0");
        script(&dir.join("qemu.d/50-flat"), "exit 0");
        let seen: Arc<Mutex<Vec<PathBuf>>> = Arc::default();
        let sink = Arc::clone(&seen);
        let hooks = Hooks::builder(&dir)
            .driver("qemu")
            .layout(Layout::PerObject)
            .main_script(false)
            .observer(Arc::new(move |run: &ScriptRun| {
                sink.lock().expect("lock").push(run.script.clone());
            }))
            .build()
            .expect("build");
        let failure = hooks
            .run(&Ev("qemu"), "g", || None)
            .expect_err("20-b fails");
        let ran: Vec<PathBuf> = failure.runs.iter().map(|r| r.script.clone()).collect();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            ran,
            [
                per.join("10-a"),
                per.join("20-b"),
                dir.join("qemu.d/50-flat")
            ]
        );
        assert_eq!(*seen.lock().expect("lock"), ran);
    }
}
