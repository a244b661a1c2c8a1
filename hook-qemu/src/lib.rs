//! The libvirt `qemu` hook driver (filled in by the driver-crates work).
