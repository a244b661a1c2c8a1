//! The abstraction driver crates implement: a driver's name, its operations (wire strings that
//! round-trip through `Display`/`FromStr`), and for each lifecycle event the [`EventSpec`] core
//! needs to call the scripts (sub-op, extra, whether output is used, what a failure means, whether
//! to rescan first). Core itself names no driver and no operation.

pub mod matrix;
mod operations;

use std::fmt;

/// argv\[3\]: libvirt's sub-operation, shared by all drivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubOp {
    /// `-`
    None,
    /// `begin`
    Begin,
    /// `end`
    End,
}

/// argv\[3\] as the scripts see it: `-`, `begin` or `end`.
#[cfg(feature = "serde")]
impl serde::Serialize for SubOp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl SubOp {
    /// The word on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            SubOp::None => "-",
            SubOp::Begin => "begin",
            SubOp::End => "end",
        }
    }
}

impl fmt::Display for SubOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SubOp {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, UnknownWord> {
        match s {
            "-" => Ok(SubOp::None),
            "begin" => Ok(SubOp::Begin),
            "end" => Ok(SubOp::End),
            _ => Err(UnknownWord {
                kind: "sub-operation".into(),
                word: s.to_owned(),
                valid: vec!["-", "begin", "end"],
            }),
        }
    }
}

/// What a failure of an event's hooks means to the caller (libvirt's call sites, spec §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum FailurePolicy {
    /// The operation is aborted (a start, a migration, a restore…).
    Abort,
    /// The failure is logged and the operation goes on (stopped, release, daemon events…).
    Ignore,
    /// The already running guest is stopped (reconnect, qemu/lxc/libxl started).
    StopGuest,
}

impl FailurePolicy {
    /// A short name: `aborts`, `ignored`, `stops guest`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailurePolicy::Abort => "aborts",
            FailurePolicy::Ignore => "ignored",
            FailurePolicy::StopGuest => "stops guest",
        }
    }
}

impl fmt::Display for FailurePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A hook driver: its name is the main script's file name (`qemu`) and the prefix of its
/// directory (`qemu.d`).
pub trait Driver {
    /// The driver's name.
    const NAME: &'static str;
}

/// An operation enum of a driver: argv\[2\].
pub trait Operation: Copy + Eq + fmt::Display + std::str::FromStr + 'static {
    /// The driver this operation belongs to.
    const DRIVER: &'static str;
    /// Every operation, in libvirt's enum order.
    const ALL: &'static [Self];
    /// The word on the command line.
    fn as_str(self) -> &'static str;
}

/// Parses an operation word of `O`'s driver; an unknown word is an error listing the valid ones.
/// Driver crates implement `FromStr` with it.
pub fn parse_operation<O: Operation>(s: &str) -> Result<O, UnknownWord> {
    O::ALL
        .iter()
        .copied()
        .find(|o| o.as_str() == s)
        .ok_or_else(|| UnknownWord {
            kind: format!("{} operation", O::DRIVER),
            word: s.to_owned(),
            valid: O::ALL.iter().map(|o| o.as_str()).collect(),
        })
}

/// An unknown operation or sub-operation word, with the valid ones.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {word:?}; valid: {}", valid.join(", "))]
pub struct UnknownWord {
    /// What kind of word, e.g. `qemu operation` or `sub-operation`.
    pub kind: String,
    /// The word given.
    pub word: String,
    /// The valid words, in libvirt's order.
    pub valid: Vec<&'static str>,
}

/// Everything core needs to call a driver's scripts for one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct EventSpec<'a> {
    /// argv\[2\].
    pub op: &'a str,
    /// argv\[3\].
    pub subop: SubOp,
    /// argv\[4\]; `None` is passed as `-`.
    pub extra: Option<&'a str>,
    /// The scripts' stdout is a filter result (migrate, restore): captured and chained.
    pub uses_output: bool,
    /// What a failure means to the caller.
    pub on_failure: FailurePolicy,
    /// Rescan the presence cache before looking (libvirt's daemon reload and shutdown).
    pub rescans_first: bool,
}

/// One lifecycle point of one driver, as a driver crate describes it.
pub trait HookEvent {
    /// The driver whose scripts run.
    fn driver(&self) -> &'static str;
    /// How to call them.
    fn spec(&self) -> EventSpec<'_>;
}

impl<'a> EventSpec<'a> {
    /// The scripts' arguments after their path: `object op subop extra`, `-` for no extra.
    pub fn args<'o>(&self, object: &'o str) -> [&'o str; 4]
    where
        'a: 'o,
    {
        [
            object,
            self.op,
            self.subop.as_str(),
            self.extra.unwrap_or("-"),
        ]
    }

    /// An event with no extra (`-`), whose output is not used and which does not rescan; the
    /// `with_*` methods add the rest. Driver crates build their specs with these.
    pub const fn new(op: &'a str, subop: SubOp, on_failure: FailurePolicy) -> Self {
        EventSpec {
            op,
            subop,
            extra: None,
            uses_output: false,
            on_failure,
            rescans_first: false,
        }
    }

    /// The same event with argv\[4\] set.
    pub const fn with_extra(mut self, extra: &'a str) -> Self {
        self.extra = Some(extra);
        self
    }

    /// The same event, its scripts' output being a filter result.
    pub const fn with_output(mut self) -> Self {
        self.uses_output = true;
        self
    }

    /// The same event, rescanning the presence cache first.
    pub const fn rescanning(mut self) -> Self {
        self.rescans_first = true;
        self
    }
}
