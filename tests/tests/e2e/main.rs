//! End-to-end tests: real scripts in temporary directories, run as real processes through
//! `hook-core`, with insta snapshots of what the script saw and what the caller got.

mod cli;
mod dispatch;
mod drivers;
mod layout;
mod per_guest;
mod reliability;
mod runner;
