//! The libvirt `daemon` hook driver: the hooks a daemon runs at its own start, reload (SIGHUP)
//! and shutdown. The scripts get `- <op> <subop> <extra>` (`- start - start`,
//! `- reload begin SIGHUP`, `- shutdown - shutdown`) and nothing on stdin, exactly as from
//! libvirt; `hook-core` runs them. Reload and shutdown rescan the presence cache first, so a
//! hook installed since the daemon started runs. libvirt ignores every failure here (it logs
//! it); the caller decides.
//!
//! ```no_run
//! let hooks = hook_core::Hooks::builder(hook_core::dir::system_dir())
//!     .driver(hook_daemon::NAME)
//!     .build()?;
//! if let Err(failure) = hook_daemon::start(&hooks) {
//!     eprintln!("{failure}"); // libvirt only logs it
//! }
//! # Ok::<(), hook_core::HookError>(())
//! ```

use hook_core::matrix::{CallSite, Stdin};
use hook_core::{EventSpec, FailurePolicy, HookEvent, SubOp};

pub use hook_core::{Failure, Hooks, Outcome};

/// The driver's name: the main script `daemon`, the directory `daemon.d`.
pub const NAME: &str = "daemon";

/// The `daemon` hook driver.
#[derive(Clone, Copy, Debug)]
pub struct Daemon;

impl hook_core::Driver for Daemon {
    const NAME: &'static str = NAME;
}

hook_core::operations! {
    /// A `daemon` hook operation (argv\[2\]), in libvirt's enum order.
    pub enum Op for Daemon {
        /// `start`: the daemon starts.
        Start => "start",
        /// `shutdown`: the daemon stops.
        Shutdown => "shutdown",
        /// `reload`: the daemon got SIGHUP.
        Reload => "reload",
    }
}

/// One libvirt call site of the `daemon` hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// `- start - start`
    Start,
    /// `- reload begin SIGHUP` (libvirt passes the constant SIGHUP, 1, as the sub-op, which
    /// prints as `begin`)
    Reload,
    /// `- shutdown - shutdown`
    Shutdown,
}

impl Event {
    /// Every event, in the order of a daemon's life.
    pub fn all() -> Vec<Event> {
        vec![Event::Start, Event::Reload, Event::Shutdown]
    }

    /// The operation it sends.
    pub const fn op(self) -> Op {
        match self {
            Event::Start => Op::Start,
            Event::Reload => Op::Reload,
            Event::Shutdown => Op::Shutdown,
        }
    }

    /// How libvirt calls the scripts for it (spec §3.1).
    pub const fn spec(self) -> EventSpec<'static> {
        let op = self.op().as_str();
        match self {
            Event::Start => {
                EventSpec::new(op, SubOp::None, FailurePolicy::Ignore).with_extra("start")
            }
            Event::Reload => EventSpec::new(op, SubOp::Begin, FailurePolicy::Ignore)
                .with_extra("SIGHUP")
                .rescanning(),
            Event::Shutdown => EventSpec::new(op, SubOp::None, FailurePolicy::Ignore)
                .with_extra("shutdown")
                .rescanning(),
        }
    }

    /// Its row of the invocation matrix.
    pub fn call_site(self) -> CallSite {
        let when = match self {
            Event::Start => {
                "daemon startup, before drivers and sockets are set up (once per split daemon)"
            }
            Event::Reload => "SIGHUP, before the drivers reload",
            Event::Shutdown => "normal exit, before the drivers are cleaned up",
        };
        CallSite {
            driver: NAME,
            call: format!("hook_daemon::{}(&hooks)", self.op()),
            object: "-",
            spec: self.spec(),
            stdin: Stdin::DevNull,
            when,
            failure: "logged; the operation goes on",
        }
    }

    /// Runs this event's scripts: argv\[1\] is `-`, stdin is `/dev/null`.
    pub fn run(self, hooks: &Hooks) -> Result<Outcome, Box<Failure>> {
        hooks.run(&self, "-", || None)
    }
}

impl HookEvent for Event {
    fn driver(&self) -> &'static str {
        NAME
    }
    fn spec(&self) -> EventSpec<'_> {
        Event::spec(*self)
    }
}

/// The order in which libvirt makes the `daemon` calls, as recorded from real libvirt 9.0.0 and
/// 11.3.0 daemons: what a hook author may rely on.
pub const ORDER: &[&str] = &[
    "`start` comes before any other hook of the daemon's life: before the `network` hook's \
     `port-created` replays and the guests' `reconnect`.",
    "SIGHUP fires only `reload`: no guest or network hook runs.",
    "A restart: `shutdown` (running guests keep running, no guest hook runs), then the new \
     daemon's `start`.",
];

/// Every event's row of the invocation matrix, in [`Event::all`]'s order.
pub fn invocation_matrix() -> Vec<CallSite> {
    Event::all().into_iter().map(Event::call_site).collect()
}

/// `- start - start`: the daemon starts. libvirt ignores a failure.
pub fn start(hooks: &Hooks) -> Result<Outcome, Box<Failure>> {
    Event::Start.run(hooks)
}

/// `- reload begin SIGHUP`: the daemon got SIGHUP; rescans first. libvirt ignores a failure.
pub fn reload(hooks: &Hooks) -> Result<Outcome, Box<Failure>> {
    Event::Reload.run(hooks)
}

/// `- shutdown - shutdown`: the daemon stops; rescans first. libvirt ignores a failure.
pub fn shutdown(hooks: &Hooks) -> Result<Outcome, Box<Failure>> {
    Event::Shutdown.run(hooks)
}
