//! The libvirt `bhyve` hook driver (filled in by the driver-crates work).
