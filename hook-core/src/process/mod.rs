//! Running one script and supervising it until it is gone: the environment it gets ([`env`]),
//! starting it with `posix_spawn` ([`spawn`] over [`sys`], the crate's only `unsafe`), the one
//! `poll` loop that feeds stdin, reads stdout and stderr, enforces the [`limits`] and reaps it
//! ([`pump`]), and what came of it ([`report`]). [`runner`] is the public entry point; [`cancel`]
//! stops its calls from another thread. [`startup`] is the start of a program that runs hooks
//! without std's runtime start-up (virt-hook's binary).
//!
//! This group knows nothing of hooks directories, drivers or documents: it depends only on the
//! crate's leaves ([`crate::error`], [`crate::quote`]).

pub(crate) mod cancel;
pub(crate) mod capture;
pub(crate) mod env;
pub(crate) mod limits;
pub(crate) mod pump;
pub(crate) mod report;
pub(crate) mod runner;
pub(crate) mod spawn;
pub mod startup;
pub(crate) mod sys;

#[doc(hidden)]
pub mod baseline;
#[doc(hidden)]
pub mod testing;
