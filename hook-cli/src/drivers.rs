//! The hook drivers virt-hook knows, by the names their driver crates give them, in libvirt's
//! order.

use crate::text;

/// Every driver's name (its main script's file name), in libvirt's enum order.
pub(crate) const NAMES: [&str; 6] = [
    hook_daemon::NAME,
    hook_qemu::NAME,
    hook_lxc::NAME,
    hook_network::NAME,
    hook_libxl::NAME,
    hook_bhyve::NAME,
];

/// `name` when it is a known driver; otherwise the problem in one line, with the closest name
/// (`unknown driver "qmeu"; did you mean "qemu"?`) or the valid ones.
pub(crate) fn known(name: &str) -> Result<&'static str, String> {
    NAMES
        .iter()
        .copied()
        .find(|n| *n == name)
        .ok_or_else(|| text::unknown("driver", name, &NAMES))
}

/// The events a driver has, as the `(op, subop)` words its scripts get (argv\[2\], argv\[3\]),
/// from the driver crate's invocation matrix; empty for an unknown driver.
pub(crate) fn events(driver: &str) -> Vec<(&'static str, &'static str)> {
    let sites = match driver {
        hook_daemon::NAME => hook_daemon::invocation_matrix(),
        hook_qemu::NAME => hook_qemu::invocation_matrix(),
        hook_lxc::NAME => hook_lxc::invocation_matrix(),
        hook_network::NAME => hook_network::invocation_matrix(),
        hook_libxl::NAME => hook_libxl::invocation_matrix(),
        hook_bhyve::NAME => hook_bhyve::invocation_matrix(),
        _ => Vec::new(),
    };
    let mut events: Vec<(&'static str, &'static str)> = Vec::new();
    for site in sites {
        let e = (site.spec.op, site.spec.subop.as_str());
        if !events.contains(&e) {
            events.push(e);
        }
    }
    events
}

/// What a driver's object (argv\[1\]) is called in messages: `guest`, `network`, or `object`
/// (the daemon's `-`).
pub(crate) fn object_word(driver: &str) -> &'static str {
    match driver {
        hook_network::NAME => "network",
        hook_daemon::NAME => "object",
        _ => "guest",
    }
}

/// Whether `driver` has an event whose scripts get `op subop` (argv\[2\], argv\[3\]).
pub(crate) fn has_event(driver: &str, op: &str, subop: &str) -> bool {
    events(driver).contains(&(op, subop))
}
