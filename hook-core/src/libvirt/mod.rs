//! libvirt's own wording, for stacks that must keep it: the shell quoting of
//! `virBufferEscapeShell` and the one-line `Hook script execution failed: …` message that
//! `virRunScript` raises (spec §1.9, §2.7, §2.9).

use std::path::Path;

use crate::error::HookError;
use crate::process::env::ScriptEnv;
pub use crate::quote::shell_quote;

pub mod shutoff;
pub mod version;

/// `virCommandToString`: the environment entries (values quoted), then the script path and its
/// arguments, space-separated.
fn command_string(env: &ScriptEnv, script: &Path, args: &[String]) -> String {
    let mut parts: Vec<String> = env
        .vars()
        .map(|(k, v)| {
            format!(
                "{}={}",
                k.to_string_lossy(),
                shell_quote(&v.to_string_lossy())
            )
        })
        .collect();
    parts.push(shell_quote(&script.to_string_lossy()).into_owned());
    parts.extend(args.iter().map(|a| shell_quote(a).into_owned()));
    parts.join(" ")
}

fn with_stderr(mut msg: String, stderr: &[u8]) -> String {
    if !stderr.is_empty() {
        msg.push_str(": ");
        msg.push_str(&String::from_utf8_lossy(stderr));
    }
    msg
}

/// Renders `err` as the message libvirt reports for a failed hook script, e.g.
/// `Hook script execution failed: internal error: Child process (LC_ALL=C PATH=/usr/bin
/// /etc/libvirt/hooks/qemu guest prepare begin -) unexpected exit status 1: <stderr>`.
///
/// `env` must be the environment the script was given: the message shows it, as libvirt's
/// does, which is why it is never part of [`HookError`]'s own `Display`. A script that could not
/// be started is rendered as libvirt's child reports it (`unexpected exit status 127: libvirt:
/// error : cannot execute binary …`); errors libvirt cannot have (timeouts, output caps) keep
/// this crate's wording after the same prefix.
pub fn libvirt_message(err: &HookError, env: &ScriptEnv) -> String {
    const PREFIX: &str = "Hook script execution failed: internal error: ";
    match err {
        HookError::Exited {
            script,
            args,
            code,
            stderr,
        } => with_stderr(
            format!(
                "{PREFIX}Child process ({}) unexpected exit status {code}",
                command_string(env, script, &args.0)
            ),
            stderr,
        ),
        HookError::Signaled {
            script,
            args,
            signal,
            stderr,
            ..
        } => with_stderr(
            format!(
                "{PREFIX}Child process ({}) unexpected fatal signal {signal}",
                command_string(env, script, &args.0)
            ),
            stderr,
        ),
        HookError::NotStarted {
            script,
            args,
            errno,
            ..
        } => {
            let code = if *errno == nix::errno::Errno::ENOENT {
                127
            } else {
                126
            };
            format!(
                "{PREFIX}Child process ({}) unexpected exit status {code}: libvirt:  error : cannot execute binary {}: {}\n",
                command_string(env, script, &args.0),
                script.display(),
                errno.desc()
            )
        }
        other => format!("{PREFIX}{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Args;

    #[test]
    fn quoting_matches_vir_buffer_escape_shell() {
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("guest"), "guest");
        assert_eq!(shell_quote("-"), "-");
        assert_eq!(shell_quote("/usr/bin:/bin"), "/usr/bin:/bin");
        assert_eq!(shell_quote("from snapshot"), "'from snapshot'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("a~"), "'a~'");
        assert_eq!(shell_quote("ünï"), "ünï");
    }

    #[test]
    fn exit_status_message_is_libvirts() {
        let env = ScriptEnv::libvirt_from(|n| match n {
            "PATH" => Some("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin".into()),
            "USER" => Some("root".into()),
            _ => None,
        });
        let err = HookError::Exited {
            script: "/etc/libvirt/hooks/qemu".into(),
            args: Args(["guest", "prepare", "begin", "-"].map(String::from).into()),
            code: 1,
            stderr: b"Could not find required XYZZY\n".to_vec(),
        };
        assert_eq!(
            libvirt_message(&err, &env),
            "Hook script execution failed: internal error: Child process (LC_ALL=C \
             PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin USER=root \
             /etc/libvirt/hooks/qemu guest prepare begin -) unexpected exit status 1: \
             Could not find required XYZZY\n"
        );
    }

    #[test]
    fn not_started_renders_as_libvirts_child_does() {
        let env = ScriptEnv::libvirt_from(|_| None);
        let err = HookError::NotStarted {
            script: "/etc/libvirt/hooks/network".into(),
            args: Args(["default", "start", "begin", "-"].map(String::from).into()),
            errno: nix::errno::Errno::EACCES,
            reason: crate::error::SpawnFailure::NotExecutable,
        };
        assert_eq!(
            libvirt_message(&err, &env),
            "Hook script execution failed: internal error: Child process (LC_ALL=C \
             /etc/libvirt/hooks/network default start begin -) unexpected exit status 126: \
             libvirt:  error : cannot execute binary /etc/libvirt/hooks/network: Permission denied\n"
        );
    }
}
