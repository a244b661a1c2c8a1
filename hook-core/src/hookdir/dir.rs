//! Where the hooks directory is: the system directory `<sysconfdir>/libvirt/hooks` (sysconfdir
//! `/etc` unless the build overrides it, as libvirt's configure does), the per-user directory of
//! session daemons, or any path the caller gives to [`crate::Hooks::builder`].

use std::path::PathBuf;

use crate::error::HookError;

/// The sysconfdir this build was made for: `$VIRT_HOOK_SYSCONFDIR` at build time, else `/etc`.
pub const SYSCONFDIR: &str = match option_env!("VIRT_HOOK_SYSCONFDIR") {
    Some(dir) => dir,
    None => "/etc",
};

/// libvirt's `LIBVIRT_HOOK_DIR`: `<sysconfdir>/libvirt/hooks`, e.g. `/etc/libvirt/hooks`.
pub fn system_dir() -> PathBuf {
    PathBuf::from(SYSCONFDIR).join("libvirt/hooks")
}

/// The per-user directory for session daemons: `$XDG_CONFIG_HOME/libvirt/hooks`, falling back
/// to `$HOME/.config/libvirt/hooks`. (libvirt itself uses the system directory for session
/// daemons too.) A relative `XDG_CONFIG_HOME` is ignored, as the XDG spec requires.
pub fn user_dir() -> Result<PathBuf, HookError> {
    user_dir_from(|name| std::env::var_os(name))
}

/// [`user_dir`] with the environment looked up through `lookup`.
pub fn user_dir_from(
    mut lookup: impl FnMut(&str) -> Option<std::ffi::OsString>,
) -> Result<PathBuf, HookError> {
    if let Some(xdg) = lookup("XDG_CONFIG_HOME").map(PathBuf::from)
        && xdg.is_absolute()
    {
        return Ok(xdg.join("libvirt/hooks"));
    }
    match lookup("HOME").map(PathBuf::from) {
        Some(home) if home.is_absolute() => Ok(home.join(".config/libvirt/hooks")),
        _ => Err(HookError::InvalidArgument {
            what: "the per-user hooks directory".into(),
            reason: "neither XDG_CONFIG_HOME nor HOME is set to an absolute path",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_dir_is_under_sysconfdir() {
        assert_eq!(
            system_dir(),
            PathBuf::from(SYSCONFDIR).join("libvirt/hooks")
        );
    }

    #[test]
    fn user_dir_prefers_absolute_xdg() {
        let get = |xdg: Option<&str>, home: Option<&str>| {
            user_dir_from(|n| match n {
                "XDG_CONFIG_HOME" => xdg.map(Into::into),
                "HOME" => home.map(Into::into),
                _ => None,
            })
        };
        assert_eq!(
            get(Some("/x"), Some("/h")).unwrap(),
            PathBuf::from("/x/libvirt/hooks")
        );
        assert_eq!(
            get(Some("rel"), Some("/h")).unwrap(),
            PathBuf::from("/h/.config/libvirt/hooks")
        );
        assert_eq!(
            get(None, Some("/h")).unwrap(),
            PathBuf::from("/h/.config/libvirt/hooks")
        );
        assert!(get(None, None).is_err());
    }
}
