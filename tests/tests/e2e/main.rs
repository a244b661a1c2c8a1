//! End-to-end tests: real scripts in temporary directories, run as real processes through
//! `hook-core`, with insta snapshots of what the script saw and what the caller got.

mod cli;
mod cli_reports;
mod dispatch;
mod dispatcher;
mod dispatcher_libvirt;
mod drivers;
mod installed_form;
mod layout;
mod linking;
mod per_guest;
mod recorded;
mod reliability;
mod run_per_guest;
mod runner;
mod serde_schema;
