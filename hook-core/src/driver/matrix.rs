//! The invocation matrix: one [`CallSite`] per lifecycle event of a driver, saying how a stack
//! makes the call, what the scripts then see (argv after the path, stdin) and what their result
//! means. Driver crates describe their events with it (`invocation_matrix()`); the generated
//! `docs/invocations.md`, the snapshot tests and the command-line tool read it from there.

use std::fmt;

use crate::driver::EventSpec;
use crate::quote::shell_quote;

/// What the scripts read on stdin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum Stdin {
    /// Nothing: stdin is `/dev/null`.
    DevNull,
    /// An XML document with this root element.
    Document {
        /// The root element, e.g. `domain` or `hookData`.
        root: &'static str,
        /// Which document, in words (what libvirt formats for this call site).
        what: &'static str,
    },
}

impl fmt::Display for Stdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stdin::DevNull => f.write_str("none (/dev/null)"),
            Stdin::Document { root, what } => write!(f, "<{root}>: {what}"),
        }
    }
}

/// One lifecycle event of one driver, as a row of the invocation matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CallSite {
    /// The driver (the main script's name).
    pub driver: &'static str,
    /// How a stack makes the call, e.g. `hook_qemu::prepare(&hooks, &domain)`.
    pub call: String,
    /// argv\[1\] in words: `<domain name>`, `<network name>` or the literal `-`.
    pub object: &'static str,
    /// argv\[2..4\], whether output is used, the failure policy, whether the cache is rescanned.
    pub spec: EventSpec<'static>,
    /// What stdin holds.
    pub stdin: Stdin,
    /// When libvirt makes this call.
    pub when: &'static str,
    /// What libvirt does when the hooks fail, in words (the policy in `spec` is the short form).
    pub failure: &'static str,
}

impl CallSite {
    /// The arguments after the script's path: object, op, sub-op, extra.
    pub fn args(&self) -> [&str; 4] {
        self.spec.args(self.object)
    }

    /// The arguments as one line: the object as given, the rest shell-quoted as libvirt quotes
    /// them (so `'from snapshot'` shows it is one argument).
    pub fn args_line(&self) -> String {
        let [object, rest @ ..] = self.args();
        let mut line = object.to_owned();
        for a in rest {
            line.push(' ');
            line.push_str(&shell_quote(a));
        }
        line
    }
}
