//! The libvirt `network` hook driver (filled in by the driver-crates work).
