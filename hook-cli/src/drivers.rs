//! The hook drivers virt-hook knows, by the names their driver crates give them, in libvirt's
//! order.

use crate::InputError;

/// Every driver's name (its main script's file name), in libvirt's enum order.
pub(crate) const NAMES: [&str; 6] = [
    hook_daemon::NAME,
    hook_qemu::NAME,
    hook_lxc::NAME,
    hook_network::NAME,
    hook_libxl::NAME,
    hook_bhyve::NAME,
];

/// `name` when it is a known driver; otherwise an input error listing the valid names.
pub(crate) fn known(name: &str) -> Result<&'static str, InputError> {
    NAMES.iter().copied().find(|n| *n == name).ok_or_else(|| {
        InputError(format!(
            "unknown driver {name:?}; valid: {}",
            NAMES.join(", ")
        ))
    })
}
