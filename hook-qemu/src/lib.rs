//! The libvirt `qemu` hook driver: its operations, one [`Event`] per libvirt call site, and one
//! call function per event, so a stack calls the administrator's `qemu` hooks with one line at
//! each point of a guest's life. The scripts get `<domain name> <op> <subop> <extra>` and the
//! domain XML on stdin, exactly as from libvirt; `hook-core` runs them.
//!
//! ```no_run
//! use hook_qemu::{Domain, ShutoffReason};
//! # fn domain_xml() -> String { String::new() }
//!
//! let hooks = hook_core::Hooks::builder(hook_core::dir::system_dir())
//!     .driver(hook_qemu::NAME)
//!     .build()?;
//! // The stack's XML for the guest; malformed XML or another root is an error, nothing runs.
//! let domain = Domain::parse(domain_xml())?;
//!
//! hook_qemu::prepare(&hooks, &domain)?; // a failure aborts the start
//! // … later, the incoming-migration filter: the hooks may edit the definition …
//! let domain = hook_qemu::migrate(&hooks, &domain)?.into_document(domain);
//! // … and when the guest is gone, a failure is only logged:
//! if let Err(failure) = hook_qemu::release(&hooks, &domain, ShutoffReason::Shutdown) {
//!     eprintln!("{failure}");
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
//! check `virHookPresent`, check `hooks.is_present(hook_qemu::NAME)` first when that matters.

use hook_core::matrix::{CallSite, Stdin};
use hook_core::xml::{Document, Root};
use hook_core::{EventSpec, FailurePolicy, HookEvent, SubOp};

pub use hook_core::xml::XmlError;
pub use hook_core::{Failure, Filtered, Hooks, Outcome, ShutoffReason};

/// The driver's name: the main script `qemu`, the directory `qemu.d`.
pub const NAME: &str = "qemu";

/// The `qemu` hook driver.
#[derive(Clone, Copy, Debug)]
pub struct Qemu;

impl hook_core::Driver for Qemu {
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
    /// A `qemu` hook operation (argv\[2\]), in libvirt's enum order.
    pub enum Op for Qemu {
        /// `start`: QEMU is about to be spawned.
        Start => "start",
        /// `stopped`: QEMU is gone, labels not yet restored.
        Stopped => "stopped",
        /// `prepare`: a start begins, before anything is allocated.
        Prepare => "prepare",
        /// `release`: the end of a stop.
        Release => "release",
        /// `migrate`: an incoming migration's filter.
        Migrate => "migrate",
        /// `started`: the guest runs.
        Started => "started",
        /// `reconnect`: the daemon found the guest running at startup.
        Reconnect => "reconnect",
        /// `attach`: **deprecated**. Documented by libvirt but never emitted (the API that
        /// emitted it is gone); kept so a script's argv parses. No event sends it.
        Attach => "attach",
        /// `restore`: a restore's filter.
        Restore => "restore",
    }
}

/// One libvirt call site of the `qemu` hooks.
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
    /// `migrate begin -`: a filter.
    Migrate,
    /// `restore begin -`: a filter.
    Restore,
}

// What each call site gets on stdin, as recorded from real libvirt 9.0.0 and 11.3.0 daemons
// (the replay tests check every recorded document against these calls).
const fn domain(what: &'static str) -> Stdin {
    Stdin::Document {
        root: "domain",
        what,
    }
}
const PREPARE: Stdin = domain(
    "the live domain XML, without secrets: `id=` and the defaults filled in, but no device \
     `<alias>`es and no `<seclabel>` yet",
);
const START: Stdin = domain(
    "the live domain XML, without secrets: prepare's plus the device `<alias>`es, the graphics' \
     chosen port and the DAC `<seclabel>` with its label",
);
const STARTED: Stdin = domain(
    "the live domain XML, without secrets, as QEMU runs it: start's plus `<resource>` and the \
     checked CPU (`check='full'`, its `<feature>`s)",
);
const STOPPED: Stdin = domain(
    "the domain XML, without secrets, no longer live: no `id=`, graphics ports back to \
     automatic; aliases and `<seclabel>` kept",
);
const RELEASE: Stdin =
    domain("stopped's document, with the `<seclabel>` emptied (its labels released)");
const RECONNECT: Stdin =
    domain("the live domain XML, without secrets: the document the guest's started hook got");

impl Event {
    /// Every event, in the order of a guest's life; `Release` once per shutoff reason.
    pub fn all() -> Vec<Event> {
        let mut all = vec![Event::Prepare, Event::Start, Event::Started, Event::Stopped];
        all.extend(ShutoffReason::ALL.iter().map(|&r| Event::Release(Some(r))));
        all.push(Event::Release(None));
        all.extend([Event::Reconnect, Event::Migrate, Event::Restore]);
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
            Event::Migrate => Op::Migrate,
            Event::Restore => Op::Restore,
        }
    }

    /// How libvirt calls the scripts for it (spec §3.2).
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
            Event::Migrate | Event::Restore => {
                EventSpec::new(op, SubOp::Begin, Abort).with_output()
            }
        }
    }

    /// Its row of the invocation matrix.
    pub fn call_site(self) -> CallSite {
        let (call, stdin, when, failure) = match self {
            Event::Prepare => (
                "prepare(&hooks, &domain)".to_owned(),
                PREPARE,
                "start: before anything is allocated, labelled or built",
                "the start is aborted; the stopped and release hooks then run",
            ),
            Event::Start => (
                "start(&hooks, &domain)".to_owned(),
                START,
                "start: command line built, helpers started, before QEMU is spawned",
                "the start is aborted; the stopped and release hooks then run",
            ),
            Event::Started => (
                "started(&hooks, &domain)".to_owned(),
                STARTED,
                "start, and an incoming migration before its data: the guest runs, status saved",
                "the just-started guest is stopped (reason failed); an incoming migration fails",
            ),
            Event::Stopped => (
                "stopped(&hooks, &domain)".to_owned(),
                STOPPED,
                "stop: QEMU killed, before security labels are restored",
                "logged; the operation goes on",
            ),
            Event::Release(Some(r)) => (
                format!("release(&hooks, &domain, ShutoffReason::{r:?})"),
                RELEASE,
                "stop: the end of cleanup, labels released; libvirt 10.5.0 and later (the default)",
                "logged; the operation goes on",
            ),
            Event::Release(None) => (
                "release(&hooks, &domain, reason)".to_owned(),
                RELEASE,
                "stop: the end of cleanup, labels released; libvirt before 10.5.0 (`HooksBuilder::libvirt_version`), whatever the reason",
                "logged; the operation goes on",
            ),
            Event::Reconnect => (
                "reconnect(&hooks, &domain)".to_owned(),
                RECONNECT,
                "daemon start: reconnected to a running guest's monitor",
                "the running QEMU is killed",
            ),
            Event::Migrate => (
                "migrate(&hooks, &domain)".to_owned(),
                Stdin::Document {
                    root: "domain",
                    what: "the incoming domain XML, migratable, with secrets: no `id=`, aliases or \
                           `<seclabel>`",
                },
                "incoming migration, on the destination, before the guest is defined",
                "the incoming migration is refused; so is an unusable replacement",
            ),
            Event::Restore => (
                "restore(&hooks, &domain)".to_owned(),
                Stdin::Document {
                    root: "domain",
                    what: "the save image's domain XML, migratable, with secrets; or, when the \
                           caller gave a replacement (`virsh restore --xml`), exactly its bytes",
                },
                "restore and managed-save restore, after the save image's header is read",
                "the restore fails; so does an unusable replacement",
            ),
        };
        CallSite {
            driver: NAME,
            call: format!("hook_qemu::{call}"),
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

/// The order in which libvirt makes the `qemu` calls (and the `network` calls in between), as
/// recorded from real libvirt 9.0.0 and 11.3.0 daemons: what a hook author may rely on.
pub const ORDER: &[&str] = &[
    "A start: `prepare`, then the `network` hook's `port-created` for each NIC on a libvirt \
     network, then `start`, then `started`.",
    "A stop: `stopped`, then `port-deleted` for each such NIC, then `release` with the shutoff \
     reason: `destroyed` (destroy), `shutdown` (the guest shut down), `crashed` (QEMU died), \
     `saved`, `migrated`, `failed`. `stopped` never gets the reason; `release` only from libvirt \
     10.5.0, `-` before.",
    "A start whose `prepare`, `start` or `started` hook fails: the start stops there, then \
     `stopped` and `release` (reason `failed`) run as the cleanup.",
    "A save or managed save: `stopped`, `release` (reason `saved`). A restore, a restore with \
     `--xml` and a start from a managed save: `restore`, then `prepare`, `start`, `started`.",
    "An incoming migration: on the destination `migrate`, `prepare`, `start`, `started`; only \
     then, on the source, `stopped` and `release` (reason `migrated`).",
    "A daemon restart with running guests: the `daemon` hook's `shutdown`, then its `start`, \
     then `port-created` replayed for every existing port, then `reconnect` for each running \
     guest (the guests in no fixed order).",
];

/// Every event's row of the invocation matrix, in [`Event::all`]'s order.
pub fn invocation_matrix() -> Vec<CallSite> {
    Event::all().into_iter().map(Event::call_site).collect()
}

/// `prepare begin -`: a start begins. A failure aborts the start.
pub fn prepare(hooks: &Hooks, domain: &Domain) -> Result<Outcome, Box<Failure>> {
    hooks.run_document(&Event::Prepare, domain)
}

/// `start begin -`: QEMU is about to be spawned. A failure aborts the start.
pub fn start(hooks: &Hooks, domain: &Domain) -> Result<Outcome, Box<Failure>> {
    hooks.run_document(&Event::Start, domain)
}

/// `started begin -`: the guest runs. A failure means: stop the guest.
pub fn started(hooks: &Hooks, domain: &Domain) -> Result<Outcome, Box<Failure>> {
    hooks.run_document(&Event::Started, domain)
}

/// `stopped end -`: QEMU is gone. A failure is only logged.
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

/// `reconnect begin -`: the daemon found the guest running. A failure means: stop the guest.
pub fn reconnect(hooks: &Hooks, domain: &Domain) -> Result<Outcome, Box<Failure>> {
    hooks.run_document(&Event::Reconnect, domain)
}

/// `migrate begin -`: the incoming-migration filter. The result is the definition unchanged or
/// a checked replacement; a failure (or an unusable replacement) refuses the migration.
pub fn migrate(hooks: &Hooks, domain: &Domain) -> Result<Filtered<DomainXml>, Box<Failure>> {
    hooks.run_filter(&Event::Migrate, domain)
}

/// `restore begin -`: the restore filter (for a restore, give the caller's replacement XML if
/// there is one, else the save image's). A failure (or an unusable replacement) fails the
/// restore.
pub fn restore(hooks: &Hooks, domain: &Domain) -> Result<Filtered<DomainXml>, Box<Failure>> {
    hooks.run_filter(&Event::Restore, domain)
}
