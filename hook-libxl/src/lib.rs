//! The libvirt `libxl` hook driver (filled in by the driver-crates work).
