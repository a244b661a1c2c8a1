//! The libvirt `daemon` hook driver (filled in by the driver-crates work).
