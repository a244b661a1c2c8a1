//! The hook drivers virt-hook knows, by the names their driver crates give them, in libvirt's
//! order: their events, what their objects are called, and where libvirt keeps the objects it
//! defines. Uses only the `text` leaf, so that the command-line definition (`cli.rs`, which
//! offers these names to clap) compiles with it alone in `lib.rs`.

use std::path::{Path, PathBuf};

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

/// The drivers that have guests with a start and stop sequence (`prepare` … `release`): the ones
/// `lifecycle` takes.
pub(crate) fn guest_drivers() -> impl Iterator<Item = &'static str> {
    NAMES
        .into_iter()
        .filter(|d| events(d).iter().any(|(op, _)| *op == "prepare"))
}

/// A driver's operations (argv\[2\]), in its invocation matrix's order, each once.
pub(crate) fn operations(driver: &str) -> Vec<&'static str> {
    let mut ops: Vec<&'static str> = Vec::new();
    for (op, _) in events(driver) {
        if !ops.contains(&op) {
            ops.push(op);
        }
    }
    ops
}

/// libvirt's directory of the objects it defines for `driver`, next to the hooks directory
/// (`/etc/libvirt/qemu/` for `/etc/libvirt/hooks/`, `qemu/networks/` for the network driver),
/// when it exists; `None` for the daemon (it has no objects).
pub(crate) fn conf_dir(hooks_dir: &Path, driver: &str) -> Option<PathBuf> {
    let rel = match driver {
        hook_network::NAME => "qemu/networks",
        hook_daemon::NAME => return None,
        d => d,
    };
    hooks_dir
        .parent()
        .map(|p| p.join(rel))
        .filter(|c| c.is_dir())
}

/// The objects libvirt defines for `driver`: the `<name>.xml` files of [`conf_dir`], sorted.
pub(crate) fn defined(hooks_dir: &Path, driver: &str) -> Vec<String> {
    let Some(Ok(rd)) = conf_dir(hooks_dir, driver).map(std::fs::read_dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".xml")?;
            (!stem.is_empty() && e.path().is_file()).then(|| stem.to_owned())
        })
        .collect();
    names.sort();
    names
}

/// Whether `driver` has an event whose scripts get `op subop` (argv\[2\], argv\[3\]).
pub(crate) fn has_event(driver: &str, op: &str, subop: &str) -> bool {
    events(driver).contains(&(op, subop))
}
