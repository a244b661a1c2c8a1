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

#[doc(hidden)]
pub mod baseline;
mod call;
mod capture;
pub mod dir;
pub mod discover;
mod dispatch;
pub mod driver;
mod env;
mod error;
pub mod libvirt;
pub mod matrix;
mod operations;
mod pump;
mod report;
mod runner;
#[cfg(feature = "serde")]
mod serde_support;
mod shutoff;
mod spawn;
mod sys;
#[doc(hidden)]
pub mod testing;
pub mod xml;

pub use call::Filtered;
pub use dispatch::{Failure, Hooks, HooksBuilder, Outcome, Presence, ScriptRun};
pub use driver::{Driver, EventSpec, FailurePolicy, HookEvent, Operation, SubOp, UnknownWord};
pub use env::{PASS_THROUGH, ScriptEnv};
pub use error::{Args, HookError, SpawnFailure};
pub use report::{Ending, Report};
pub use runner::{Invocation, Limits, Runner};
pub use shutoff::ShutoffReason;
