//! Running a driver's scripts for one event: [`Hooks`](hooks::Hooks) (the directory, the
//! registered drivers and their presence cache) runs what [`crate::hookdir`] finds through
//! [`crate::process`], chains filter output, and gathers the result ([`hooks::Outcome`],
//! [`hooks::Failure`]); [`call`] adds the two document-carrying ways every driver calls it.
//!
//! The top of the crate: it uses every other group, and no group uses it.

pub(crate) mod call;
pub(crate) mod hooks;
