//! Runs libvirt-compatible synchronous hook scripts.
//!
//! `hook-core` owns everything about hooks that is not specific to one driver: where the hooks
//! directory is, which scripts a driver has (the main script `<dir>/<driver>` and the
//! executable files of `<dir>/<driver>.d/`), the presence cache, starting and supervising one
//! script, and running a driver's scripts for one event with libvirt's filter chaining. It
//! names no driver and knows no XML vocabulary: the `hook-*` driver crates describe their
//! operations through [`driver`]'s traits.
//!
//! ```no_run
//! use hook_core::{Invocation, Runner};
//! use std::path::Path;
//!
//! let runner = Runner::default();
//! let report = runner.run(&Invocation {
//!     script: Path::new("/etc/libvirt/hooks/qemu"),
//!     args: &["guest", "prepare", "begin", "-"],
//!     stdin: Some(b"<domain>...</domain>"),
//!     capture_stdout: false,
//! })?;
//! report.check()?;
//! # Ok::<(), hook_core::HookError>(())
//! ```

// The groups, bottom to top; each uses only groups above it in this list (a tidy test in
// xtask checks it). ARCHITECTURE.md draws the same picture.
mod dispatch;
pub mod driver; // the driver abstraction: traits, operations!, the call-site matrix
mod error; // leaf: the error type
mod hookdir; // the hooks directory: dir, discover, layout
pub mod libvirt; // libvirt's vocabulary and wording: shutoff reasons, messages
mod process; // one script: env, spawn, pump, limits, report, runner
mod quote; // leaf: libvirt's shell quoting
pub mod xml; // leaf: documents (well-formedness, root, <name>/<uuid>) // a driver's scripts for one event: Hooks, filter chaining

pub use driver::matrix;
pub use hookdir::{dir, discover, layout};
#[doc(hidden)]
pub use process::{baseline, testing};

pub use dispatch::call::Filtered;
pub use dispatch::hooks::{Failure, Hooks, HooksBuilder, Outcome, Presence, ScriptRun};
pub use driver::{Driver, EventSpec, FailurePolicy, HookEvent, Operation, SubOp, UnknownWord};
pub use error::{Args, HookError, SpawnFailure};
pub use hookdir::layout::Layout;
pub use libvirt::shutoff::ShutoffReason;
pub use process::env::{PASS_THROUGH, ScriptEnv};
pub use process::limits::Limits;
pub use process::report::{Ending, Report};
pub use process::runner::{Invocation, Runner};
