//! The libvirt `bhyve` hook driver: its operations, one [`Event`] per libvirt call site, and one
//! call function per event, so a stack calls the administrator's `bhyve` hooks with one line at
//! each point of a guest's life. The scripts get `<domain name> <op> <subop> -` and the domain
//! XML on stdin, exactly as from libvirt; `hook-core` runs them. bhyve has no reconnect or
//! filter hook, and its `release` passes no shutoff reason.
//!
//! ```no_run
//! use hook_bhyve::Domain;
//! # fn domain_xml() -> String { String::new() }
//!
//! let hooks = hook_core::Hooks::builder(hook_core::dir::system_dir())
//!     .driver(hook_bhyve::NAME)
//!     .build()?;
//! let domain = Domain::parse(domain_xml())?; // the stack's XML for the guest
//! hook_bhyve::prepare(&hooks, &domain)?; // a failure fails the start
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Building the XML only to find that no hook is installed is wasted work; as libvirt's callers
//! check `virHookPresent`, check `hooks.is_present(hook_bhyve::NAME)` first when that matters.

use hook_core::matrix::{CallSite, Stdin};
use hook_core::xml::{Document, Root};
use hook_core::{EventSpec, FailurePolicy, HookEvent, SubOp};

pub use hook_core::xml::XmlError;
pub use hook_core::{Failure, Hooks, Outcome};

/// The driver's name: the main script `bhyve`, the directory `bhyve.d`.
pub const NAME: &str = "bhyve";

/// The `bhyve` hook driver.
#[derive(Clone, Copy, Debug)]
pub struct Bhyve;

impl hook_core::Driver for Bhyve {
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
    /// A `bhyve` hook operation (argv\[2\]), in libvirt's enum order.
    pub enum Op for Bhyve {
        /// `start`: the loader ran, bhyve is about to be spawned.
        Start => "start",
        /// `stopped`: the guest was destroyed.
        Stopped => "stopped",
        /// `prepare`: a start begins.
        Prepare => "prepare",
        /// `release`: the guest is shut off.
        Release => "release",
        /// `started`: the guest runs.
        Started => "started",
    }
}

/// One libvirt call site of the `bhyve` hooks.
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
}

impl Event {
    /// Every event, in the order of a guest's life.
    pub fn all() -> Vec<Event> {
        vec![
            Event::Prepare,
            Event::Start,
            Event::Started,
            Event::Stopped,
            Event::Release,
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
        }
    }

    /// How libvirt calls the scripts for it (spec §3.6).
    pub const fn spec(self) -> EventSpec<'static> {
        let op = self.op().as_str();
        match self {
            Event::Prepare | Event::Start | Event::Started => {
                EventSpec::new(op, SubOp::Begin, FailurePolicy::Abort)
            }
            Event::Stopped | Event::Release => {
                EventSpec::new(op, SubOp::End, FailurePolicy::Ignore)
            }
        }
    }

    /// Its row of the invocation matrix.
    pub fn call_site(self) -> CallSite {
        let (when, failure) = match self {
            Event::Prepare => ("start: the first thing", "the start fails"),
            Event::Start => (
                "start: the loader ran, before bhyve is spawned",
                "the start fails",
            ),
            Event::Started => (
                "start: the process runs, monitor open, status saved",
                "the start fails (cleanup)",
            ),
            Event::Stopped => (
                "stop: only once `bhyvectl --destroy` succeeded",
                "logged; the operation goes on",
            ),
            Event::Release => (
                "stop: state set to shutoff (bhyve passes no shutoff reason)",
                "logged; the operation goes on",
            ),
        };
        CallSite {
            driver: NAME,
            call: format!("hook_bhyve::{}(&hooks, &domain)", self.op()),
            object: "<domain name>",
            spec: self.spec(),
            stdin: Stdin::Document {
                root: "domain",
                what: "the live domain XML, without secrets",
            },
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

/// `start begin -`: bhyve is about to be spawned. A failure fails the start.
pub fn start(hooks: &Hooks, domain: &Domain) -> Result<Outcome, Box<Failure>> {
    hooks.run_document(&Event::Start, domain)
}

/// `started begin -`: the guest runs. A failure fails the start.
pub fn started(hooks: &Hooks, domain: &Domain) -> Result<Outcome, Box<Failure>> {
    hooks.run_document(&Event::Started, domain)
}

/// `stopped end -`: the guest was destroyed. A failure is only logged.
pub fn stopped(hooks: &Hooks, domain: &Domain) -> Result<Outcome, Box<Failure>> {
    hooks.run_document(&Event::Stopped, domain)
}

/// `release end -`: the guest is shut off. A failure is only logged.
pub fn release(hooks: &Hooks, domain: &Domain) -> Result<Outcome, Box<Failure>> {
    hooks.run_document(&Event::Release, domain)
}
