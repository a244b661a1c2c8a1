//! The environment a hook script gets: exactly libvirt's `virCommandAddEnvPassCommon`
//! (`LC_ALL=C`, then the pass-through list when the host has it), plus whatever the caller adds
//! explicitly. Built once (not per call) and kept as C strings ready for `execve`.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::error::HookError;

/// The variables libvirt passes through from the daemon when they are set, in libvirt's order.
pub const PASS_THROUGH: [&str; 9] = [
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "DYLD_INSERT_LIBRARIES",
    "DYLD_FORCE_FLAT_NAMESPACE",
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "TMPDIR",
];

/// An ordered list of `NAME=value` entries given to every script.
///
/// Its `Debug` output shows variable names only, never values, so an environment cannot leak
/// into logs through a `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct ScriptEnv {
    vars: Vec<(OsString, OsString)>,
    cstrings: Vec<CString>,
}

impl std::fmt::Debug for ScriptEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.vars.iter().map(|(k, _)| k))
            .finish()
    }
}

impl ScriptEnv {
    /// libvirt's environment taken from the current process: `LC_ALL=C`, then each of
    /// [`PASS_THROUGH`] that is set.
    pub fn libvirt() -> Self {
        Self::libvirt_from(|name| std::env::var_os(name))
    }

    /// libvirt's environment, with the host's variables looked up through `lookup` (for tests
    /// and for hosts that keep their environment elsewhere).
    pub fn libvirt_from(mut lookup: impl FnMut(&str) -> Option<OsString>) -> Self {
        let mut env = ScriptEnv {
            vars: Vec::new(),
            cstrings: Vec::new(),
        };
        env.push_unchecked("LC_ALL".into(), "C".into());
        for name in PASS_THROUGH {
            if let Some(value) = lookup(name) {
                // A value with a NUL cannot come from a real environment; skip it rather
                // than fail every hook.
                if !value.as_bytes().contains(&0) {
                    env.push_unchecked(name.into(), value);
                }
            }
        }
        env
    }

    /// An environment with no variables at all.
    pub fn empty() -> Self {
        ScriptEnv {
            vars: Vec::new(),
            cstrings: Vec::new(),
        }
    }

    /// Adds (or replaces, keeping its position, as libvirt's `virCommandAddEnv` does) one
    /// variable. A name that is empty or holds `=` or NUL, or a value holding NUL, is an
    /// [`HookError::InvalidArgument`].
    pub fn set(
        &mut self,
        name: impl AsRef<OsStr>,
        value: impl AsRef<OsStr>,
    ) -> Result<&mut Self, HookError> {
        let (name, value) = (name.as_ref(), value.as_ref());
        let nb = name.as_bytes();
        if nb.is_empty() || nb.contains(&b'=') || nb.contains(&0) {
            return Err(HookError::InvalidArgument {
                what: format!("environment variable name {:?}", name.to_string_lossy()),
                reason: "a name must be non-empty and hold neither '=' nor NUL",
            });
        }
        if value.as_bytes().contains(&0) {
            return Err(HookError::InvalidArgument {
                what: format!(
                    "the value of environment variable {}",
                    name.to_string_lossy()
                ),
                reason: "it contains a NUL byte",
            });
        }
        self.push_unchecked(name.to_owned(), value.to_owned());
        Ok(self)
    }

    fn push_unchecked(&mut self, name: OsString, value: OsString) {
        let mut entry = name.clone().into_vec();
        entry.push(b'=');
        entry.extend_from_slice(value.as_bytes());
        let entry = CString::new(entry).expect("NUL bytes were checked before");
        if let Some(i) = self.vars.iter().position(|(k, _)| *k == name) {
            self.vars[i].1 = value;
            self.cstrings[i] = entry;
        } else {
            self.vars.push((name, value));
            self.cstrings.push(entry);
        }
    }

    /// The variables, in the order the script gets them.
    pub fn vars(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.as_os_str(), v.as_os_str()))
    }

    pub(crate) fn cstrings(&self) -> &[CString] {
        &self.cstrings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libvirt_order_and_only_set_variables() {
        let env = ScriptEnv::libvirt_from(|name| match name {
            "USER" => Some("root".into()),
            "PATH" => Some("/usr/bin".into()),
            "LD_PRELOAD" => Some("x.so".into()),
            _ => None,
        });
        let got: Vec<_> = env
            .cstrings()
            .iter()
            .map(|c| c.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            got,
            ["LC_ALL=C", "LD_PRELOAD=x.so", "PATH=/usr/bin", "USER=root"]
        );
    }

    #[test]
    fn set_replaces_in_place_and_rejects_nul() {
        let mut env = ScriptEnv::libvirt_from(|_| None);
        env.set("A", "1").unwrap();
        env.set("LC_ALL", "en_US.UTF-8").unwrap();
        let got: Vec<_> = env
            .cstrings()
            .iter()
            .map(|c| c.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, ["LC_ALL=en_US.UTF-8", "A=1"]);
        assert!(env.set("B", "x\0y").is_err());
        assert!(env.set("B=C", "x").is_err());
        assert!(env.set("", "x").is_err());
    }

    #[test]
    fn debug_shows_names_only() {
        let mut env = ScriptEnv::empty();
        env.set("SECRET", "hunter2").unwrap();
        assert_eq!(format!("{env:?}"), "[\"SECRET\"]");
    }
}
