//! The libvirt `libxl` (Xen) hook driver: its operations, one [`Event`] per libvirt call site,
//! and one call function per event, so a stack calls the administrator's `libxl` hooks with one
//! line at each point of a domain's life. The scripts get `<domain name> <op> <subop> -` and the
//! domain XML on stdin, exactly as from libvirt; `hook-core` runs them. libxl's `release` passes
//! no shutoff reason, and its `migrate` hook is a filter.
//!
//! ```no_run
//! use hook_libxl::Domain;
//! # fn incoming_xml() -> String { String::new() }
//!
//! let hooks = hook_core::Hooks::builder(hook_core::dir::system_dir())
//!     .driver(hook_libxl::NAME)
//!     .build()?;
//! let domain = Domain::parse(incoming_xml())?; // the migration's incoming definition
//!
//! let filtered = hook_libxl::migrate(&hooks, &domain)?; // a failure refuses the migration
//! let domain = filtered.into_document(domain); // the hooks' replacement, or the original
//! hook_libxl::prepare(&hooks, &domain)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Building the XML only to find that no hook is installed is wasted work; as libvirt's callers
//! check `virHookPresent`, check `hooks.is_present(hook_libxl::NAME)` first when that matters.

use hook_core::matrix::{CallSite, Stdin};
use hook_core::xml::{Document, Root};
use hook_core::{EventSpec, FailurePolicy, HookEvent, SubOp};

pub use hook_core::xml::XmlError;
pub use hook_core::{Failure, Filtered, Hooks, Outcome};

/// The driver's name: the main script `libxl`, the directory `libxl.d`.
pub const NAME: &str = "libxl";

/// The `libxl` hook driver.
#[derive(Clone, Copy, Debug)]
pub struct Libxl;

impl hook_core::Driver for Libxl {
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
    /// A `libxl` hook operation (argv\[2\]), in libvirt's enum order.
    pub enum Op for Libxl {
        /// `start`: the domain is about to be created.
        Start => "start",
        /// `stopped`: cleanup begins.
        Stopped => "stopped",
        /// `prepare`: a start begins.
        Prepare => "prepare",
        /// `release`: cleanup ends.
        Release => "release",
        /// `migrate`: an incoming migration's filter.
        Migrate => "migrate",
        /// `started`: the domain runs.
        Started => "started",
        /// `reconnect`: the daemon found the domain running at startup.
        Reconnect => "reconnect",
    }
}

/// One libvirt call site of the `libxl` hooks.
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
    /// `release end -`
    Release,
    /// `reconnect begin -`
    Reconnect,
    /// `migrate begin -`: a filter.
    Migrate,
}

const LIVE: Stdin = Stdin::Document {
    root: "domain",
    what: "the live domain XML, without secrets",
};

impl Event {
    /// Every event, in the order of a domain's life.
    pub fn all() -> Vec<Event> {
        vec![
            Event::Prepare,
            Event::Start,
            Event::Started,
            Event::Stopped,
            Event::Release,
            Event::Reconnect,
            Event::Migrate,
        ]
    }

    /// The operation it sends.
    pub const fn op(self) -> Op {
        match self {
            Event::Prepare => Op::Prepare,
            Event::Start => Op::Start,
            Event::Started => Op::Started,
            Event::Stopped => Op::Stopped,
            Event::Release => Op::Release,
            Event::Reconnect => Op::Reconnect,
            Event::Migrate => Op::Migrate,
        }
    }

    /// How libvirt calls the scripts for it (spec §3.5).
    pub const fn spec(self) -> EventSpec<'static> {
        use FailurePolicy::{Abort, Ignore, StopGuest};
        let op = self.op().as_str();
        match self {
            Event::Prepare | Event::Start => EventSpec::new(op, SubOp::Begin, Abort),
            Event::Started | Event::Reconnect => EventSpec::new(op, SubOp::Begin, StopGuest),
            Event::Stopped | Event::Release => EventSpec::new(op, SubOp::End, Ignore),
            Event::Migrate => EventSpec::new(op, SubOp::Begin, Abort).with_output(),
        }
    }

    /// Its row of the invocation matrix.
    pub fn call_site(self) -> CallSite {
        let (call, stdin, when, failure) = match self {
            Event::Prepare => (
                "prepare",
                LIVE,
                "start: after the transient definition is set",
                "the start fails",
            ),
            Event::Start => (
                "start",
                LIVE,
                "start: config built, memory ballooned, before the domain is created",
                "the start fails",
            ),
            Event::Started => (
                "started",
                LIVE,
                "start: the domain runs, status saved",
                "the domain is destroyed (shutoff, reason failed)",
            ),
            Event::Stopped => (
                "stopped",
                LIVE,
                "cleanup: its start",
                "logged; the operation goes on",
            ),
            Event::Release => (
                "release",
                LIVE,
                "cleanup: its end (libxl passes no shutoff reason)",
                "logged; the operation goes on",
            ),
            Event::Reconnect => (
                "reconnect",
                LIVE,
                "daemon start: for each running domain but Domain-0",
                "libvirt cleans up its side (a transient domain is dropped) without destroying the domain",
            ),
            Event::Migrate => (
                "migrate",
                Stdin::Document {
                    root: "domain",
                    what: "the incoming domain XML, with secrets, migratable",
                },
                "incoming migration, on the destination, before the domain is added",
                "the incoming migration is refused; so is an unusable replacement",
            ),
        };
        CallSite {
            driver: NAME,
            call: format!("hook_libxl::{call}(&hooks, &domain)"),
            object: "<domain name>",
            spec: self.spec(),
            stdin,
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

/// `prepare begin -`: a start begins. A failure fails the start.
pub fn prepare(hooks: &Hooks, domain: &Domain) -> Result<Outcome, Box<Failure>> {
    hooks.run_document(&Event::Prepare, domain)
}

/// `start begin -`: the domain is about to be created. A failure fails the start.
pub fn start(hooks: &Hooks, domain: &Domain) -> Result<Outcome, Box<Failure>> {
    hooks.run_document(&Event::Start, domain)
}

/// `started begin -`: the domain runs. A failure means: destroy it.
pub fn started(hooks: &Hooks, domain: &Domain) -> Result<Outcome, Box<Failure>> {
    hooks.run_document(&Event::Started, domain)
}

/// `stopped end -`: cleanup begins. A failure is only logged.
pub fn stopped(hooks: &Hooks, domain: &Domain) -> Result<Outcome, Box<Failure>> {
    hooks.run_document(&Event::Stopped, domain)
}

/// `release end -`: cleanup ends. A failure is only logged.
pub fn release(hooks: &Hooks, domain: &Domain) -> Result<Outcome, Box<Failure>> {
    hooks.run_document(&Event::Release, domain)
}

/// `reconnect begin -`: the daemon found the domain running. A failure means: stop managing it.
pub fn reconnect(hooks: &Hooks, domain: &Domain) -> Result<Outcome, Box<Failure>> {
    hooks.run_document(&Event::Reconnect, domain)
}

/// `migrate begin -`: the incoming-migration filter. The result is the definition unchanged or
/// a checked replacement; a failure (or an unusable replacement) refuses the migration.
pub fn migrate(hooks: &Hooks, domain: &Domain) -> Result<Filtered<DomainXml>, Box<Failure>> {
    hooks.run_filter(&Event::Migrate, domain)
}
