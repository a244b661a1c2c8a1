//! The libvirt `lxc` hook driver: its operations, one [`Event`] per libvirt call site, and one
//! call function per event, so a stack calls the administrator's `lxc` hooks with one line at
//! each point of a container's life. The scripts get `<domain name> <op> <subop> <extra>` and the
//! domain XML on stdin, exactly as from libvirt; `hook-core` runs them. No `lxc` hook's output
//! is used.
//!
//! ```no_run
//! use hook_lxc::{Domain, ShutoffReason};
//! # fn domain_xml() -> String { String::new() }
//!
//! let hooks = hook_core::Hooks::builder(hook_core::dir::system_dir())
//!     .driver(hook_lxc::NAME)
//!     .build()?;
//! let domain = Domain::parse(domain_xml())?; // the stack's XML for the container
//!
//! hook_lxc::prepare(&hooks, &domain)?; // a failure aborts the start
//! if let Err(failure) = hook_lxc::release(&hooks, &domain, ShutoffReason::Destroyed) {
//!     eprintln!("{failure}"); // only logged, as libvirt does
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `release` passes the shutoff reason as libvirt 10.5.0 and later do; a stack whose
//! administrators' scripts expect an older libvirt's `release end -` builds its `Hooks` with
//! `.libvirt_version(hook_core::LibvirtVersion::new(9, 0, 0))` (or the release it stands in
//! for), and its call sites stay the same.
//!
//! Building the XML only to find that no hook is installed is wasted work; as libvirt's callers
//! check `virHookPresent`, check `hooks.is_present(hook_lxc::NAME)` first when that matters.

use hook_core::matrix::{CallSite, Stdin};
use hook_core::xml::{Document, Root};
use hook_core::{EventSpec, FailurePolicy, HookEvent, SubOp};

pub use hook_core::xml::XmlError;
pub use hook_core::{Failure, Hooks, Outcome, ShutoffReason};

/// The driver's name: the main script `lxc`, the directory `lxc.d`.
pub const NAME: &str = "lxc";

/// The `lxc` hook driver.
#[derive(Clone, Copy, Debug)]
pub struct Lxc;

impl hook_core::Driver for Lxc {
    const NAME: &'static str = NAME;
}

/// The root element of a domain document.
#[derive(Debug)]
pub enum DomainXml {}

impl Root for DomainXml {
    const ELEMENT: &'static str = "domain";
}

/// A domain document: its `<name>` is argv\[1\], its bytes are the scripts' stdin.
pub type Domain = Document<DomainXml>;

hook_core::operations! {
    /// An `lxc` hook operation (argv\[2\]), in libvirt's enum order.
    pub enum Op for Lxc {
        /// `start`: the controller is about to run.
        Start => "start",
        /// `stopped`: the container died, labels not yet restored.
        Stopped => "stopped",
        /// `prepare`: a start begins.
        Prepare => "prepare",
        /// `release`: the end of a stop.
        Release => "release",
        /// `started`: the container runs.
        Started => "started",
        /// `reconnect`: the daemon found the container running at startup.
        Reconnect => "reconnect",
    }
}

/// One libvirt call site of the `lxc` hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// `prepare begin -`
    Prepare,
    /// `start begin -`
    Start,
    /// `started begin -`
    Started,
    /// `stopped end -`
    Stopped,
    /// `release end <reason>`; `None` is `release end -`, as libvirt before 10.5.0 sends it
    /// (the call function picks it from [`Hooks::libvirt_version`]).
    Release(Option<ShutoffReason>),
    /// `reconnect begin -`
    Reconnect,
}

const LIVE: Stdin = Stdin::Document {
    root: "domain",
    what: "the live domain XML, without secrets",
};

impl Event {
    /// Every event, in the order of a container's life; `Release` once per shutoff reason.
    pub fn all() -> Vec<Event> {
        let mut all = vec![Event::Prepare, Event::Start, Event::Started, Event::Stopped];
        all.extend(ShutoffReason::ALL.iter().map(|&r| Event::Release(Some(r))));
        all.push(Event::Release(None));
        all.push(Event::Reconnect);
        all
    }

    /// The operation it sends.
    pub const fn op(self) -> Op {
        match self {
            Event::Prepare => Op::Prepare,
            Event::Start => Op::Start,
            Event::Started => Op::Started,
            Event::Stopped => Op::Stopped,
            Event::Release(_) => Op::Release,
            Event::Reconnect => Op::Reconnect,
        }
    }

    /// How libvirt calls the scripts for it (spec §3.3).
    pub const fn spec(self) -> EventSpec<'static> {
        use FailurePolicy::{Abort, Ignore, StopGuest};
        let op = self.op().as_str();
        match self {
            Event::Prepare | Event::Start => EventSpec::new(op, SubOp::Begin, Abort),
            Event::Started | Event::Reconnect => EventSpec::new(op, SubOp::Begin, StopGuest),
            Event::Stopped => EventSpec::new(op, SubOp::End, Ignore),
            Event::Release(Some(r)) => {
                EventSpec::new(op, SubOp::End, Ignore).with_extra(r.as_str())
            }
            Event::Release(None) => EventSpec::new(op, SubOp::End, Ignore),
        }
    }

    /// Its row of the invocation matrix.
    pub fn call_site(self) -> CallSite {
        let (call, when, failure) = match self {
            Event::Prepare => (
                "prepare(&hooks, &domain)".to_owned(),
                "start: definition made transient, before rootfs, devices and labels",
                "the start is aborted",
            ),
            Event::Start => (
                "start(&hooks, &domain)".to_owned(),
                "start: controller command built, before it runs",
                "the start is aborted",
            ),
            Event::Started => (
                "started(&hooks, &domain)".to_owned(),
                "start: the container is up",
                "the container is stopped (reason failed)",
            ),
            Event::Stopped => (
                "stopped(&hooks, &domain)".to_owned(),
                "stop: the container died, before labels are restored",
                "logged; the operation goes on",
            ),
            Event::Release(Some(r)) => (
                format!("release(&hooks, &domain, ShutoffReason::{r:?})"),
                "stop: the end of cleanup, after cgroup teardown; libvirt 10.5.0 and later (the default)",
                "logged; the operation goes on",
            ),
            Event::Release(None) => (
                "release(&hooks, &domain, reason)".to_owned(),
                "stop: the end of cleanup, after cgroup teardown; libvirt before 10.5.0 (`HooksBuilder::libvirt_version`), whatever the reason",
                "logged; the operation goes on",
            ),
            Event::Reconnect => (
                "reconnect(&hooks, &domain)".to_owned(),
                "daemon start: for each running container",
                "the container is stopped (reason failed)",
            ),
        };
        CallSite {
            driver: NAME,
            call: format!("hook_lxc::{call}"),
            object: "<domain name>",
            spec: self.spec(),
            stdin: LIVE,
            when,
            failure,
        }
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

/// Every event's row of the invocation matrix, in [`Event::all`]'s order.
pub fn invocation_matrix() -> Vec<CallSite> {
    Event::all().into_iter().map(Event::call_site).collect()
}

/// `prepare begin -`: a start begins. A failure aborts the start.
pub fn prepare(hooks: &Hooks, domain: &Domain) -> Result<Outcome, Box<Failure>> {
    hooks.run_document(&Event::Prepare, domain)
}

/// `start begin -`: the controller is about to run. A failure aborts the start.
pub fn start(hooks: &Hooks, domain: &Domain) -> Result<Outcome, Box<Failure>> {
    hooks.run_document(&Event::Start, domain)
}

/// `started begin -`: the container runs. A failure means: stop the container.
pub fn started(hooks: &Hooks, domain: &Domain) -> Result<Outcome, Box<Failure>> {
    hooks.run_document(&Event::Started, domain)
}

/// `stopped end -`: the container died. A failure is only logged.
pub fn stopped(hooks: &Hooks, domain: &Domain) -> Result<Outcome, Box<Failure>> {
    hooks.run_document(&Event::Stopped, domain)
}

/// `release end <reason>`: the stop is complete. A failure is only logged. The reason is passed
/// as libvirt 10.5.0 and later pass it; a [`Hooks`] emulating an older libvirt
/// ([`hook_core::HooksBuilder::libvirt_version`]) passes `-` instead, as those releases did.
pub fn release(
    hooks: &Hooks,
    domain: &Domain,
    reason: ShutoffReason,
) -> Result<Outcome, Box<Failure>> {
    let reason = hooks
        .libvirt_version()
        .passes_release_reason()
        .then_some(reason);
    hooks.run_document(&Event::Release(reason), domain)
}

/// `reconnect begin -`: the daemon found the container running. A failure means: stop it.
pub fn reconnect(hooks: &Hooks, domain: &Domain) -> Result<Outcome, Box<Failure>> {
    hooks.run_document(&Event::Reconnect, domain)
}
