//! The libvirt `network` hook driver: its operations, one [`Event`] per libvirt call site, and
//! one call function per event, so a stack calls the administrator's `network` hooks with one
//! line at each point of a virtual network's life. The scripts get
//! `<network name> <op> <subop> -` and, on stdin, a `<hookData>` document holding the network
//! and, for port events, the port ([`hook_data`]), laid out as libvirt lays it out; `hook-core`
//! runs them. No `network` hook's output is used.
//!
//! ```no_run
//! use hook_network::{Network, Port};
//! # fn network_xml() -> String { String::new() }
//! # fn port_xml() -> String { String::new() }
//!
//! let hooks = hook_core::Hooks::builder(hook_core::dir::system_dir())
//!     .driver(hook_network::NAME)
//!     .build()?;
//! let network = Network::parse(network_xml())?; // root <network>, with its <name>
//! let port = Port::parse(port_xml())?; // root <networkport>
//!
//! hook_network::start(&hooks, &network)?; // a failure aborts the start
//! hook_network::port_created(&hooks, &network, &port)?; // a failure fails the port (and the NIC)
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The `<hookData>` document is built only when a `network` hook is installed. Parsing the
//! network document is the caller's cost; check `hooks.is_present(hook_network::NAME)` first
//! when that matters, as libvirt's callers check `virHookPresent`.

use std::borrow::Cow;

use hook_core::matrix::{CallSite, Stdin};
use hook_core::xml::{Document, Root};
use hook_core::{EventSpec, FailurePolicy, HookEvent, SubOp};

pub use hook_core::xml::XmlError;
pub use hook_core::{Failure, Hooks, Outcome};

/// The driver's name: the main script `network`, the directory `network.d`.
pub const NAME: &str = "network";

/// The `network` hook driver.
#[derive(Clone, Copy, Debug)]
pub struct NetworkDriver;

impl hook_core::Driver for NetworkDriver {
    const NAME: &'static str = NAME;
}

/// The root element of a network document.
#[derive(Debug)]
pub enum NetworkXml {}

impl Root for NetworkXml {
    const ELEMENT: &'static str = "network";
}

/// A network document: its `<name>` is argv\[1\].
pub type Network = Document<NetworkXml>;

/// The root element of a network port document (it has a `<uuid>`, no `<name>`).
#[derive(Debug)]
pub enum PortXml {}

impl Root for PortXml {
    const ELEMENT: &'static str = "networkport";
    const NAMED: bool = false;
}

/// A network port document (`virsh net-port-dumpxml`).
pub type Port = Document<PortXml>;

hook_core::operations! {
    /// A `network` hook operation (argv\[2\]), in libvirt's enum order.
    pub enum Op for NetworkDriver {
        /// `start`: the network is about to be set up.
        Start => "start",
        /// `started`: the network is set up.
        Started => "started",
        /// `stopped`: the network was torn down.
        Stopped => "stopped",
        /// `port-created`: a port was created (a guest's NIC plugged in), or replayed.
        PortCreated => "port-created",
        /// `port-deleted`: a port was deleted.
        PortDeleted => "port-deleted",
        /// `updated`: the live network was updated.
        Updated => "updated",
    }
}

/// One libvirt call site of the `network` hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// `start begin -`
    Start,
    /// `started begin -`
    Started,
    /// `stopped end -`
    Stopped,
    /// `updated begin -`
    Updated,
    /// `port-created begin -`: a new port, or a reclaimed one.
    PortCreated,
    /// `port-created begin -` again for each existing port when the network driver starts; its
    /// failure is ignored.
    PortReplayed,
    /// `port-deleted begin -`
    PortDeleted,
}

impl Event {
    /// Every event, in the order of a network's life.
    pub fn all() -> Vec<Event> {
        vec![
            Event::Start,
            Event::Started,
            Event::Stopped,
            Event::Updated,
            Event::PortCreated,
            Event::PortReplayed,
            Event::PortDeleted,
        ]
    }

    /// The operation it sends.
    pub const fn op(self) -> Op {
        match self {
            Event::Start => Op::Start,
            Event::Started => Op::Started,
            Event::Stopped => Op::Stopped,
            Event::Updated => Op::Updated,
            Event::PortCreated | Event::PortReplayed => Op::PortCreated,
            Event::PortDeleted => Op::PortDeleted,
        }
    }

    /// Whether its stdin holds a port besides the network.
    pub const fn has_port(self) -> bool {
        matches!(
            self,
            Event::PortCreated | Event::PortReplayed | Event::PortDeleted
        )
    }

    /// How libvirt calls the scripts for it (spec §3.4).
    pub const fn spec(self) -> EventSpec<'static> {
        use FailurePolicy::{Abort, Ignore};
        let op = self.op().as_str();
        match self {
            Event::Start | Event::Started | Event::Updated | Event::PortCreated => {
                EventSpec::new(op, SubOp::Begin, Abort)
            }
            Event::PortReplayed | Event::PortDeleted => EventSpec::new(op, SubOp::Begin, Ignore),
            Event::Stopped => EventSpec::new(op, SubOp::End, Ignore),
        }
    }

    /// Its row of the invocation matrix.
    pub fn call_site(self) -> CallSite {
        let (call, when, failure) = match self {
            Event::Start => (
                "start(&hooks, &network)",
                "start: before any bridge, dnsmasq or firewall setup",
                "the start is aborted; no stopped hook follows",
            ),
            Event::Started => (
                "started(&hooks, &network)",
                "start: everything set up, before the network is marked active",
                "the start is aborted and torn down; no stopped hook follows",
            ),
            Event::Stopped => (
                "stopped(&hooks, &network)",
                "stop: after the bridge and dnsmasq teardown",
                "logged; the operation goes on",
            ),
            Event::Updated => (
                "updated(&hooks, &network)",
                "a live update was applied and saved",
                "the update call fails, but libvirt keeps the update",
            ),
            Event::PortCreated => (
                "port_created(&hooks, &network, &port)",
                "a port is created (a guest's NIC plugged in) or reclaimed",
                "the port is not created: the guest's start or hotplug fails",
            ),
            Event::PortReplayed => (
                "port_replayed(&hooks, &network, &port)",
                "network driver start: once for every existing port (scripts must be idempotent)",
                "logged; the operation goes on",
            ),
            Event::PortDeleted => (
                "port_deleted(&hooks, &network, &port)",
                "a port is deleted (a NIC unplugged, a guest stopped)",
                "logged; the operation goes on",
            ),
        };
        let what = match self {
            Event::PortCreated | Event::PortReplayed => {
                "the live network XML (`connections='N'` counting this port) and the port's XML"
            }
            Event::PortDeleted => {
                "the live network XML (the port no longer counted in `connections`) and the \
                 port's XML"
            }
            Event::Updated => "the updated live network XML, without a `connections` attribute",
            Event::Start | Event::Started | Event::Stopped => "the live network XML",
        };
        CallSite {
            driver: NAME,
            call: format!("hook_network::{call}"),
            object: "<network name>",
            spec: self.spec(),
            stdin: Stdin::Document {
                root: "hookData",
                what,
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

/// The order in which libvirt makes the `network` calls, and what the `<network>` in
/// `<hookData>` holds, as recorded from real libvirt 9.0.0 and 11.3.0 daemons.
pub const ORDER: &[&str] = &[
    "A network's start: `start`, then `started`; its stop: `stopped`.",
    "A guest's NIC on the network: `port-created` between the guest's `prepare` and `start` \
     hooks; `port-deleted` between its `stopped` and `release`.",
    "At daemon start, `port-created` is replayed for every existing port, after the `daemon` \
     hook's `start` and before the guests' `reconnect`.",
    "The `<network>` carries `connections='N'` only while ports are in use: `port-created` \
     counts the new port; `port-deleted` (the port already gone), `start`, `started`, \
     `stopped` and `updated` had none, `updated` even with a port in use.",
];

/// Every event's row of the invocation matrix, in [`Event::all`]'s order.
pub fn invocation_matrix() -> Vec<CallSite> {
    Event::all().into_iter().map(Event::call_site).collect()
}

/// The scripts' stdin: `<hookData>`, a newline, the network's root element and then the port's,
/// each line of markup indented by 2 spaces and ending with a newline, then `</hookData>` with
/// no newline after it — libvirt's `networkRunHook` layout. A line that continues a multi-line
/// text is left as it is (libvirt indents each formatting call, not each line). Only the root
/// elements are copied: an XML declaration or a comment around them is left out.
pub fn hook_data(network: &Network, port: Option<&Port>) -> Vec<u8> {
    let port_len = port.map_or(0, |p| p.root_element().len());
    let mut out = Vec::with_capacity(network.root_element().len() + port_len + 64);
    out.extend_from_slice(b"<hookData>\n");
    indent_into(&mut out, network.root_element());
    if let Some(port) = port {
        indent_into(&mut out, port.root_element());
    }
    out.extend_from_slice(b"</hookData>");
    out
}

/// Appends `element` line by line, indenting each line that starts with markup.
fn indent_into(out: &mut Vec<u8>, element: &[u8]) {
    for line in element.split(|&b| b == b'\n') {
        let markup = line
            .iter()
            .find(|&&b| !matches!(b, b' ' | b'\t'))
            .is_some_and(|&b| b == b'<');
        if markup {
            out.extend_from_slice(b"  ");
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
}

fn run(
    hooks: &Hooks,
    event: Event,
    network: &Network,
    port: Option<&Port>,
) -> Result<Outcome, Box<Failure>> {
    hooks.run(&event, network.name(), || {
        Some(Cow::Owned(hook_data(network, port)))
    })
}

/// `start begin -`: the network is about to be set up. A failure aborts the start.
pub fn start(hooks: &Hooks, network: &Network) -> Result<Outcome, Box<Failure>> {
    run(hooks, Event::Start, network, None)
}

/// `started begin -`: the network is set up. A failure aborts the start (tear it down).
pub fn started(hooks: &Hooks, network: &Network) -> Result<Outcome, Box<Failure>> {
    run(hooks, Event::Started, network, None)
}

/// `stopped end -`: the network was torn down. A failure is only logged.
pub fn stopped(hooks: &Hooks, network: &Network) -> Result<Outcome, Box<Failure>> {
    run(hooks, Event::Stopped, network, None)
}

/// `updated begin -`: the live network was updated. libvirt fails the call but keeps the update.
pub fn updated(hooks: &Hooks, network: &Network) -> Result<Outcome, Box<Failure>> {
    run(hooks, Event::Updated, network, None)
}

/// `port-created begin -`: a port was created or reclaimed. A failure fails the port.
pub fn port_created(
    hooks: &Hooks,
    network: &Network,
    port: &Port,
) -> Result<Outcome, Box<Failure>> {
    run(hooks, Event::PortCreated, network, Some(port))
}

/// `port-created begin -`, replayed for an existing port when the network driver starts. A
/// failure is only logged.
pub fn port_replayed(
    hooks: &Hooks,
    network: &Network,
    port: &Port,
) -> Result<Outcome, Box<Failure>> {
    run(hooks, Event::PortReplayed, network, Some(port))
}

/// `port-deleted begin -`: a port was deleted. A failure is only logged.
pub fn port_deleted(
    hooks: &Hooks,
    network: &Network,
    port: &Port,
) -> Result<Outcome, Box<Failure>> {
    run(hooks, Event::PortDeleted, network, Some(port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_data_is_laid_out_as_libvirt_does() {
        let net = Network::parse(
            "<?xml version='1.0'?>\n<network>\n  <name>n</name>\n  <description>two\nlines</description>\n</network>\n",
        )
        .unwrap();
        let port = Port::parse("<networkport>\n  <uuid>u</uuid>\n</networkport>\n").unwrap();
        let got = String::from_utf8(hook_data(&net, Some(&port))).unwrap();
        assert_eq!(
            got,
            "<hookData>\n  <network>\n    <name>n</name>\n    <description>two\nlines</description>\n  </network>\n  <networkport>\n    <uuid>u</uuid>\n  </networkport>\n</hookData>"
        );
        let alone = String::from_utf8(hook_data(&net, None)).unwrap();
        assert!(alone.ends_with("  </network>\n</hookData>"), "{alone}");
    }
}
