//! The libvirt `lxc` hook driver (filled in by the driver-crates work).
