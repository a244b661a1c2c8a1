//! [`ShutoffReason`]: why a guest stopped, as libvirt passes it in argv\[4\] of the `release`
//! hook of the drivers that report it (qemu and lxc since libvirt 10.5.0). It is libvirt's
//! `virDomainShutoffReason` table, shared by the domain drivers, so it lives here once rather
//! than in each driver crate.

use std::fmt;
use std::str::FromStr;

use crate::driver::UnknownWord;

/// Why a guest stopped (libvirt's `virDomainShutoffReason`, in its order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShutoffReason {
    /// `unknown`
    Unknown,
    /// `shutdown`: the guest shut itself down.
    Shutdown,
    /// `destroyed`: forced off.
    Destroyed,
    /// `crashed`
    Crashed,
    /// `migrated`: it now runs on another host.
    Migrated,
    /// `saved`: its state was saved to a file.
    Saved,
    /// `failed`: it failed to start, or a hook failed.
    Failed,
    /// `from snapshot` (one argv element holding a space): a snapshot was reverted.
    FromSnapshot,
    /// `daemon`: the daemon stopped it.
    Daemon,
}

impl ShutoffReason {
    /// Every reason, in libvirt's order.
    pub const ALL: &'static [ShutoffReason] = &[
        ShutoffReason::Unknown,
        ShutoffReason::Shutdown,
        ShutoffReason::Destroyed,
        ShutoffReason::Crashed,
        ShutoffReason::Migrated,
        ShutoffReason::Saved,
        ShutoffReason::Failed,
        ShutoffReason::FromSnapshot,
        ShutoffReason::Daemon,
    ];

    /// The word libvirt passes.
    pub const fn as_str(self) -> &'static str {
        match self {
            ShutoffReason::Unknown => "unknown",
            ShutoffReason::Shutdown => "shutdown",
            ShutoffReason::Destroyed => "destroyed",
            ShutoffReason::Crashed => "crashed",
            ShutoffReason::Migrated => "migrated",
            ShutoffReason::Saved => "saved",
            ShutoffReason::Failed => "failed",
            ShutoffReason::FromSnapshot => "from snapshot",
            ShutoffReason::Daemon => "daemon",
        }
    }
}

impl fmt::Display for ShutoffReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ShutoffReason {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, UnknownWord> {
        ShutoffReason::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownWord {
                kind: "shutoff reason".into(),
                word: s.to_owned(),
                valid: ShutoffReason::ALL.iter().map(|r| r.as_str()).collect(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for r in ShutoffReason::ALL {
            assert_eq!(r.to_string().parse::<ShutoffReason>(), Ok(*r));
        }
        let e = "snapshot".parse::<ShutoffReason>().unwrap_err().to_string();
        assert!(e.contains("from snapshot") && e.contains("daemon"), "{e}");
    }
}
