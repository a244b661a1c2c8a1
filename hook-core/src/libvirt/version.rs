//! [`LibvirtVersion`]: the libvirt release whose hook calls a stack emulates. Hook calls changed
//! between libvirt releases (from 10.5.0 on, qemu's and lxc's `release` carry the shutoff reason;
//! before, `-`), and hook scripts may rely on either; a stack says once, on
//! [`crate::HooksBuilder::libvirt_version`], which release it behaves as, and the driver crates
//! ask [`crate::Hooks::libvirt_version`] at the call sites that differ. Libvirt vocabulary, like
//! [`crate::ShutoffReason`]: it names no driver.

use std::fmt;
use std::str::FromStr;

/// A libvirt release, `major.minor.micro`, ordered as libvirt numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LibvirtVersion {
    major: u16,
    minor: u16,
    micro: u16,
}

impl LibvirtVersion {
    /// The newest release whose hook calls the driver crates know (recorded from a real daemon):
    /// the default of [`crate::HooksBuilder`].
    pub const NEWEST: LibvirtVersion = LibvirtVersion::new(11, 3, 0);

    /// The first release that passes the shutoff reason as `release`'s fifth argument (qemu and
    /// lxc); older ones pass `-`.
    pub const RELEASE_REASON: LibvirtVersion = LibvirtVersion::new(10, 5, 0);

    /// `major.minor.micro`.
    pub const fn new(major: u16, minor: u16, micro: u16) -> LibvirtVersion {
        LibvirtVersion {
            major,
            minor,
            micro,
        }
    }

    /// Whether this release is `other` or newer.
    pub const fn at_least(self, other: LibvirtVersion) -> bool {
        if self.major != other.major {
            return self.major > other.major;
        }
        if self.minor != other.minor {
            return self.minor > other.minor;
        }
        self.micro >= other.micro
    }

    /// Whether qemu's and lxc's `release` hook carries the shutoff reason (10.5.0 and later).
    pub const fn passes_release_reason(self) -> bool {
        self.at_least(LibvirtVersion::RELEASE_REASON)
    }
}

impl Default for LibvirtVersion {
    fn default() -> Self {
        LibvirtVersion::NEWEST
    }
}

impl fmt::Display for LibvirtVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)
    }
}

/// A version string that is not `MAJOR.MINOR` or `MAJOR.MINOR.MICRO`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("libvirt version {0:?}: expected MAJOR.MINOR or MAJOR.MINOR.MICRO, e.g. 9.0 or 10.5.0")]
pub struct BadVersion(pub String);

impl FromStr for LibvirtVersion {
    type Err = BadVersion;
    fn from_str(s: &str) -> Result<Self, BadVersion> {
        let bad = || BadVersion(s.to_owned());
        let mut parts = s.split('.');
        let mut next = |required: bool| -> Result<u16, BadVersion> {
            match parts.next() {
                None if !required => Ok(0),
                Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                    p.parse().map_err(|_| bad())
                }
                _ => Err(bad()),
            }
        };
        let (major, minor, micro) = (next(true)?, next(true)?, next(false)?);
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(LibvirtVersion::new(major, minor, micro))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order_as_libvirt_numbers_them() {
        let v = |s: &str| s.parse::<LibvirtVersion>().unwrap();
        assert_eq!(v("9.0"), LibvirtVersion::new(9, 0, 0));
        assert_eq!(v("10.5.0").to_string(), "10.5.0");
        assert!(v("10.10") > v("10.5.1") && v("10.5.1") > v("10.5"));
        assert!(!v("9.0").passes_release_reason());
        assert!(!v("10.4.99").passes_release_reason());
        assert!(v("10.5").passes_release_reason());
        assert!(LibvirtVersion::default().passes_release_reason());
        for bad in [
            "", "9", "9.", ".0", "9.0.0.0", "v9.0", "9.x", "99999.0", "9.-1", "9 .0",
        ] {
            let e = bad.parse::<LibvirtVersion>().unwrap_err().to_string();
            assert!(e.contains("MAJOR.MINOR"), "{bad:?}: {e}");
        }
        for (a, b) in [("9.0", "10.5"), ("10.4.9", "10.5.0"), ("11.3", "11.3.1")] {
            assert_eq!(v(a).at_least(v(b)), v(a) >= v(b));
            assert_eq!(v(b).at_least(v(a)), v(b) >= v(a));
        }
    }
}
