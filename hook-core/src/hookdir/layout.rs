//! Which layouts of the hooks directory a [`crate::Hooks`] runs: libvirt's own (the main script
//! and the executables of `<driver>.d/`), or that plus the per-object layout of the "hook
//! helper" the GPU-passthrough guides install (`<driver>.d/<object>/<op>/<subop>/`), or the
//! per-object part alone (what `virt-hook` runs when libvirt itself calls it as the main
//! script). This module owns the layout's vocabulary and its path rule; [`crate::discover`]
//! applies it (the per-call list, the presence scan, the listing).
//!
//! # The per-object layout
//!
//! For an event `<object> <op> <subop> <extra>` of driver `<driver>`, the per-object scripts are
//! found at `<dir>/<driver>.d/<object>/<op>/<subop>`, compatible with the hook helper
//! (PassthroughPOST/VFIO-Tools `libvirt_hooks/qemu`):
//!
//! - when that path is an executable regular file (symlinks followed), it is the one script;
//! - when it is a directory, its executable regular files (symlinks followed) run, **sorted
//!   bytewise** (the helper runs them in `find` order, which is no order at all);
//! - an **empty** file does not run (the helper skips it, or its shell runs it as an empty
//!   script: a no-op either way, where starting it would fail with "no `#!` line");
//! - nothing deeper is searched, and nothing at `<object>/` or `<object>/<op>/` runs;
//! - a path that does not exist (or is a symlink to nothing), or runs into a regular file on the
//!   way (`<driver>.d/<name>` being one of libvirt's flat scripts), means no per-object scripts;
//!   one that exists but cannot be read (permissions, a symlink loop) **fails the call**, as an
//!   unreadable `.d` does (the helper would silently run nothing: a guest would then start
//!   without its GPU unbound, and fail later with a stranger error);
//! - an object, op or sub-op word that is not a plain file name (empty, `.`, `..`, holding `/`
//!   or NUL) has no per-object scripts: a guest named `..` must not run `<driver>.d/<op>/...`.
//!
//! - a script with no `#!` line that is no binary runs as `/bin/bash SCRIPT ARGS…` (`/bin/sh`
//!   where bash is missing), as the helper's bash ran it ([`crate::Runner::run_with_shell_fallback`]);
//!   libvirt's own scripts keep libvirt's behaviour: such a file fails ("Exec format error").
//!
//! Each script gets the same argv as libvirt gives the main script (`<object> <op> <subop>
//! <extra>`, which is what the helper passes on), the same environment, and **the whole stdin
//! document** (under the helper only the first script could read it). Filters chain through
//! them as through `.d` scripts: each gets the last non-empty output of the scripts before it.
//!
//! # After a failure
//!
//! Per-object scripts **stop at the first failure**: the rest of that `<op>/<subop>` directory
//! does not run. This is the helper's behaviour (`set -e`), and what the scripts written for it
//! expect: they are steps of one procedure (unbind the GPU, then load vfio, then...), and a step
//! run after the one before it failed acts on a host in a state nobody planned for. libvirt's
//! own scripts (main, `.d`) keep libvirt's rule, run them all, because that is what scripts
//! written for libvirt expect.
//!
//! # Order under [`Layout::PerObject`]
//!
//! The main script, then the per-object scripts, then the `.d` scripts. With `virt-hook`
//! installed as libvirt's main script, libvirt runs exactly that order (the dispatcher runs
//! the per-object scripts in the main script's place, libvirt the `.d` scripts after it), so an
//! administrator's tree behaves the same under libvirt and under a stack using this layout.
//! A stack that chooses [`Layout::PerObject`] must not also have `virt-hook` (or the hook
//! helper) installed as the main script: the per-object scripts would then run twice.

use std::path::{Path, PathBuf};

/// Which scripts run for a driver's event. Chosen with [`crate::HooksBuilder::layout`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Layout {
    /// libvirt's: the main script `<dir>/<driver>`, then the executables of `<dir>/<driver>.d/`,
    /// all of them even after a failure. Nothing deeper.
    #[default]
    Libvirt,
    /// libvirt's scripts plus the per-object ones (see the [module](self) documentation): the
    /// main script, then `<driver>.d/<object>/<op>/<subop>` (stopping at the first failure),
    /// then the `.d` scripts. A driver counts as present when any of them exists.
    PerObject,
    /// Only the per-object scripts. This is what a dispatcher installed as libvirt's main
    /// script runs (`virt-hook dispatch`): libvirt runs the main script (the dispatcher itself)
    /// and the `.d` scripts on its own, so running them again would run them twice.
    PerObjectOnly,
}

impl Layout {
    /// Whether libvirt's scripts (main, `.d`) run.
    pub fn runs_libvirt_scripts(self) -> bool {
        matches!(self, Layout::Libvirt | Layout::PerObject)
    }

    /// Whether the per-object scripts run.
    pub fn runs_object_scripts(self) -> bool {
        matches!(self, Layout::PerObject | Layout::PerObjectOnly)
    }

    /// The name used in configuration and output: `libvirt`, `per-object`, `per-object-only`.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Libvirt => "libvirt",
            Layout::PerObject => "per-object",
            Layout::PerObjectOnly => "per-object-only",
        }
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Layout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [Layout::Libvirt, Layout::PerObject, Layout::PerObjectOnly]
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| {
                format!("unknown layout {s:?}; valid: libvirt, per-object, per-object-only")
            })
    }
}

/// Whether `word` can be one path component: non-empty, not `.` or `..`, no `/`, no NUL.
pub(crate) fn plain_name(word: &str) -> bool {
    !word.is_empty() && word != "." && word != ".." && !word.contains(['/', '\0'])
}

/// The per-object path of an event: `<d_dir>/<object>/<op>/<subop>`, where `d_dir` is the
/// driver's `<dir>/<driver>.d`. `None` when a word is not a plain file name (empty, `.`, `..`,
/// holding `/` or NUL): such an event has no per-object scripts.
pub fn object_path(d_dir: &Path, object: &str, op: &str, subop: &str) -> Option<PathBuf> {
    if [object, op, subop].into_iter().all(plain_name) {
        Some(d_dir.join(object).join(op).join(subop))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_built_from_plain_names_only() {
        let d = Path::new("/h/qemu.d");
        assert_eq!(
            object_path(d, "win10", "prepare", "begin"),
            Some(PathBuf::from("/h/qemu.d/win10/prepare/begin"))
        );
        assert_eq!(
            object_path(d, "-", "start", "-"),
            Some(PathBuf::from("/h/qemu.d/-/start/-"))
        );
        for bad in ["", ".", "..", "a/b", "a\0b"] {
            assert_eq!(object_path(d, bad, "prepare", "begin"), None, "{bad:?}");
            assert_eq!(object_path(d, "g", bad, "begin"), None, "{bad:?}");
            assert_eq!(object_path(d, "g", "prepare", bad), None, "{bad:?}");
        }
    }

    #[test]
    fn layouts_round_trip_and_say_what_runs() {
        for l in [Layout::Libvirt, Layout::PerObject, Layout::PerObjectOnly] {
            assert_eq!(l.as_str().parse::<Layout>(), Ok(l));
        }
        assert!("perobject".parse::<Layout>().unwrap_err().contains("valid"));
        assert!(Layout::Libvirt.runs_libvirt_scripts() && !Layout::Libvirt.runs_object_scripts());
        assert!(
            Layout::PerObject.runs_libvirt_scripts() && Layout::PerObject.runs_object_scripts()
        );
        assert!(
            !Layout::PerObjectOnly.runs_libvirt_scripts()
                && Layout::PerObjectOnly.runs_object_scripts()
        );
        assert_eq!(Layout::default(), Layout::Libvirt);
    }
}
