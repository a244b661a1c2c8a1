//! The hooks directory: where it is ([`dir`]: the system and per-user directories) and which
//! scripts in it run for a driver, exactly as libvirt decides it ([`discover`]: the presence scan,
//! the per-call list, and the annotated listing the command-line tool shows), and which layouts
//! of it run ([`layout`]: libvirt's, and the per-object `<driver>.d/<object>/<op>/<subop>/`
//! layout of the hook helper).
//!
//! This group starts no process and knows no driver: it depends only on the crate's leaves
//! ([`crate::error`], [`crate::quote`]).

pub mod dir;
pub mod discover;
pub mod layout;
