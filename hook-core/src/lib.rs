//! Runs libvirt-compatible synchronous hook scripts.
//!
//! `hook-core` owns everything about hooks that is not specific to one driver: where the hooks
//! directory is, which scripts a driver has (the main script `<dir>/<driver>` and the
//! executable files of `<dir>/<driver>.d/`, and under an opt-in [`Layout`] the per-object
//! scripts of `<dir>/<driver>.d/<object>/<op>/<subop>/`), the presence cache, starting and
//! supervising one script, and running a driver's scripts for one event with libvirt's filter
//! chaining. It
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

// The groups, bottom to top; each uses only the groups before it (a tidy test in xtask,
// `HOOK_CORE_LAYERS`, checks it; ARCHITECTURE.md draws the same picture):
// - leaves: `error` (the error type), `quote` (libvirt's shell quoting), `xml` (documents),
//   `serde_support` (how the report types serialize, with the `serde` feature);
// - `process`: one script (env, spawn, pump, limits, capture, report, runner), and the start
//   of a program that runs hooks without std's runtime start-up (startup);
// - `hookdir`: the hooks directory (dir, discover, layout);
// - `driver`: the driver abstraction (traits, `operations!`, the call-site matrix);
// - `libvirt`: libvirt's vocabulary and wording (shutoff reasons, versions, messages);
// - `dispatch`: a driver's scripts for one event (`Hooks`, filter chaining).
mod dispatch;
pub mod driver;
mod error;
mod hookdir;
pub mod libvirt;
mod process;
mod quote;
#[cfg(feature = "serde")]
mod serde_support;
pub mod xml;

pub use driver::matrix;
pub use hookdir::{dir, discover, layout};
pub use process::startup;
#[doc(hidden)]
pub use process::{baseline, testing};

pub use dispatch::call::Filtered;
pub use dispatch::hooks::{Failure, Hooks, HooksBuilder, Observer, Outcome, Presence, ScriptRun};
pub use driver::{Driver, EventSpec, FailurePolicy, HookEvent, Operation, SubOp, UnknownWord};
pub use error::{Args, HookError, SpawnFailure};
pub use hookdir::layout::Layout;
pub use libvirt::shutoff::ShutoffReason;
pub use libvirt::version::{BadVersion, LibvirtVersion};
pub use process::cancel::Cancel;
pub use process::env::{PASS_THROUGH, ScriptEnv};
pub use process::limits::Limits;
pub use process::report::{Ending, Report};
pub use process::runner::{Invocation, NO_SHEBANG_SHELLS, Runner};
