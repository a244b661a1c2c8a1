//! Developer automation for the workspace, run as `cargo xtask <task>`. Each task is a module
//! of this library (so tests can call a task's pure parts, e.g. [`docgen::render`]); the binary
//! only dispatches on the first argument.

pub mod bench;
pub mod ci;
pub mod dist;
pub mod docgen;
pub mod install_samples;
pub mod man;
pub mod order;
pub mod soak;
pub mod tidy;

use std::path::PathBuf;

/// The workspace's root directory (the parent of this crate's).
pub fn workspace_root() -> PathBuf {
    let xtask = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().map_or(xtask.clone(), PathBuf::from)
}
