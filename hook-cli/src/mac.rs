//! What the host's mandatory access control lets libvirt's daemons execute, read from the
//! kernel's and the policy's own files (never by running a tool): whether AppArmor confines the
//! daemon and which paths its profile lets it execute, whether SELinux is enabled, the label the
//! policy's file contexts give a path (as `restorecon` would set it) and the label a file has,
//! the `virt_hooks_unconfined` boolean, recent kernel denials that name a hook, and which
//! libvirt daemons run. `install` labels what it creates with it; `check` reports what the
//! confinement will refuse.
//!
//! Everything is read below a [`Host`] root (`/` in use; a fake tree in tests), so the rules
//! are tested without a confined kernel. The AppArmor rules are those of Debian's and Ubuntu's
//! `usr.sbin.libvirtd` profile as shipped (measured in a VM, `tests/vm/`): the daemon may
//! execute `/bin/* /sbin/* /usr/bin/* /usr/sbin/*` (the child runs unconfined) and
//! `/etc/libvirt/hooks/**` (the hook runs confined, under the daemon's profile, so what it
//! executes next must be allowed too), plus what the local include adds. SELinux's, from
//! Fedora's policy: `/etc/libvirt/hooks(/.*)?` is `virt_hook_t`, and `virtnetworkd` may execute
//! a network hook only when it is such a file (not a symlink to `/usr/bin`) and the boolean
//! `virt_hooks_unconfined` is on.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

/// The extended attribute holding a file's SELinux label.
const SELINUX_XATTR: &str = "security.selinux";

/// The boolean that lets `virtnetworkd` (Fedora 40+) execute network hooks.
pub(crate) const NETWORK_HOOK_BOOLEAN: &str = "virt_hooks_unconfined";

/// The names AppArmor profiles of libvirt's daemons are loaded under.
const DAEMON_PROFILES: &[&str] = &[
    "libvirtd",
    "/usr/sbin/libvirtd",
    "virtqemud",
    "/usr/sbin/virtqemud",
];

/// The profile's exec rules as Debian and Ubuntu ship them (`usr.sbin.libvirtd`).
const SHIPPED_EXEC_RULES: &[&str] = &[
    "/bin/*",
    "/sbin/*",
    "/usr/bin/*",
    "/usr/sbin/*",
    "/etc/libvirt/hooks/**",
];

/// The file holding local additions to the daemon's profile.
pub(crate) const APPARMOR_LOCAL: &str = "/etc/apparmor.d/local/usr.sbin.libvirtd";

/// The most of a log file read for denials (its end).
const LOG_TAIL: u64 = 2 << 20;

/// The host whose confinement is read: `/`, or a fake tree in tests.
#[derive(Clone, Debug)]
pub(crate) struct Host {
    root: PathBuf,
}

impl Host {
    /// This machine.
    pub(crate) fn real() -> Host {
        Host { root: "/".into() }
    }

    /// A fake host whose `/` is `root` (tests).
    #[cfg(test)]
    pub(crate) fn at(root: &Path) -> Host {
        Host {
            root: root.to_owned(),
        }
    }

    /// An absolute path of the host, below the root.
    fn path(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }

    fn read(&self, abs: &str) -> Option<String> {
        std::fs::read_to_string(self.path(abs)).ok()
    }

    /// AppArmor, when it is enabled and confines a libvirt daemon (or its profile is
    /// installed and the loaded profiles cannot be read, as for a user other than root).
    pub(crate) fn apparmor(&self) -> Option<AppArmor> {
        let enabled = self.read("/sys/module/apparmor/parameters/enabled")?;
        if !enabled.trim_start().starts_with('Y') {
            return None;
        }
        let profile = match self.read("/sys/kernel/security/apparmor/profiles") {
            Some(list) => list.lines().find_map(|l| {
                let (name, mode) = l.rsplit_once(" (")?;
                let mode = mode.trim_end_matches(')');
                (DAEMON_PROFILES.contains(&name) && mode == "enforce").then(|| name.to_owned())
            })?,
            None if self.path("/etc/apparmor.d/usr.sbin.libvirtd").is_file() => {
                "libvirtd (assumed: the loaded profiles cannot be read)".to_owned()
            }
            None => return None,
        };
        let mut rules: Vec<String> = SHIPPED_EXEC_RULES.iter().map(|r| (*r).to_owned()).collect();
        if let Some(local) = self.read(APPARMOR_LOCAL) {
            rules.extend(local_exec_rules(&local));
        }
        Some(AppArmor { profile, rules })
    }

    /// SELinux, when it is enabled (selinuxfs mounted).
    pub(crate) fn selinux(&self) -> Option<SeLinux> {
        let enforce = self.read("/sys/fs/selinux/enforce")?;
        let policy = self
            .read("/etc/selinux/config")
            .and_then(|c| {
                c.lines().find_map(|l| {
                    let v = l.trim().strip_prefix("SELINUXTYPE=")?;
                    Some(v.trim().trim_matches('"').to_owned())
                })
            })
            .unwrap_or_else(|| "targeted".to_owned());
        let dir = format!("/etc/selinux/{policy}/contexts/files");
        let mut specs = Vec::new();
        for name in ["file_contexts", "file_contexts.local"] {
            if let Some(text) = self.read(&format!("{dir}/{name}")) {
                specs.extend(parse_file_contexts(&text));
            }
        }
        let boolean = self
            .read(&format!("/sys/fs/selinux/booleans/{NETWORK_HOOK_BOOLEAN}"))
            .map(|v| v.split_whitespace().next() == Some("1"));
        Some(SeLinux {
            enforcing: enforce.trim() == "1",
            specs,
            network_boolean: boolean,
        })
    }

    /// The libvirt daemons running now (`libvirtd`, `virtqemud`…), from `/proc/*/comm`.
    pub(crate) fn running_daemons(&self) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(self.path("/proc")) else {
            return Vec::new();
        };
        let mut names: Vec<String> = rd
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            })
            .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
            .map(|c| c.trim().to_owned())
            .filter(|c| c == "libvirtd" || (c.starts_with("virt") && c.ends_with('d')))
            .filter(|c| c != "virtlogd" && c != "virtlockd")
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The last few kernel denials (AppArmor `DENIED`, SELinux `avc: denied`) that name one
    /// of `paths` (a hook, the hooks directory, a hook's resolved target), newest last, from
    /// the kernel's ring buffer (`/dev/kmsg`, root only) and the audit and kernel logs. The
    /// journal keeps more than the ring, but reading it needs `journalctl`: the ring and the
    /// log files are what can be read without starting a process.
    pub(crate) fn recent_denials(&self, paths: &[PathBuf]) -> Vec<String> {
        let needles: Vec<String> = paths
            .iter()
            .map(|p| p.display().to_string())
            .filter(|p| p.len() > 1)
            .collect();
        let mut found: Vec<String> = Vec::new();
        let mut take = |line: &str| {
            let is_denial = line.contains("apparmor=\"DENIED\"") || line.contains("avc:  denied");
            if !is_denial || !needles.iter().any(|n| line.contains(n.as_str())) {
                return;
            }
            // From the audit record on: the timestamps and prefixes differ per source.
            let at = line
                .find("apparmor=")
                .or_else(|| line.find("avc:"))
                .unwrap_or(0);
            let record = line[at..].trim().to_owned();
            found.retain(|r| *r != record);
            found.push(record);
        };
        for line in self.kmsg_lines() {
            take(&line);
        }
        for log in [
            "/var/log/audit/audit.log",
            "/var/log/kern.log",
            "/var/log/messages",
        ] {
            for line in tail_lines(&self.path(log)) {
                take(&line);
            }
        }
        let skip = found.len().saturating_sub(5);
        found.split_off(skip)
    }

    /// The kernel's ring buffer, one record a line, read without blocking.
    fn kmsg_lines(&self) -> Vec<String> {
        let Ok(mut file) = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc_nonblock())
            .open(self.path("/dev/kmsg"))
        else {
            return Vec::new();
        };
        let mut lines = Vec::new();
        let mut buf = vec![0u8; 8192];
        // Each read returns one record; EAGAIN at the end; EPIPE when records were
        // overwritten while reading (go on). Bounded, whatever the device does.
        for _ in 0..100_000 {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let rec = String::from_utf8_lossy(&buf[..n]);
                    let msg = rec.split_once(';').map_or(&*rec, |(_, m)| m);
                    lines.push(msg.lines().next().unwrap_or_default().to_owned());
                }
                Err(e) if e.raw_os_error() == Some(nix::libc::EPIPE) => {}
                Err(_) => break,
            }
        }
        lines
    }
}

/// Writes `text` at the absolute path `abs` of the fake host whose `/` is `root` (tests).
#[cfg(test)]
pub(crate) fn put(root: &Path, abs: &str, text: &str) {
    let p = root.join(abs.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().expect("an absolute path")).expect("create the directory");
    std::fs::write(p, text).expect("write the file");
}

fn libc_nonblock() -> i32 {
    nix::libc::O_NONBLOCK
}

/// The last [`LOG_TAIL`] bytes of a log file, as lines (the first, probably cut, dropped).
fn tail_lines(path: &Path) -> Vec<String> {
    let Ok(mut file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(LOG_TAIL);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return Vec::new();
    }
    let mut bytes = Vec::new();
    if file.take(LOG_TAIL).read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if start > 0 && !lines.is_empty() {
        lines.remove(0);
    }
    lines
}

/// The exec rules of a local include: `PATH [r][m][i|P|U|C][ix|x],` lines (comments, `deny`
/// and rules without an execute mode ignored).
fn local_exec_rules(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.starts_with("deny") && !l.starts_with("audit deny"))
        .filter_map(|l| {
            let l = l.trim_end_matches(',').trim();
            let l = l.strip_prefix("audit ").unwrap_or(l);
            let (path, perms) = l.split_once(char::is_whitespace)?;
            (path.starts_with('/') && perms.trim().contains('x')).then(|| path.to_owned())
        })
        .collect()
}

/// AppArmor confining a libvirt daemon.
#[derive(Clone, Debug)]
pub(crate) struct AppArmor {
    /// The daemon's profile (`libvirtd`).
    pub(crate) profile: String,
    /// The paths (AppArmor globs) it may execute.
    rules: Vec<String>,
}

impl AppArmor {
    /// Whether the daemon's profile lets it execute the file at `resolved` (AppArmor judges
    /// the path a symlink resolves to).
    pub(crate) fn allows_exec(&self, resolved: &Path) -> bool {
        let p = resolved.to_string_lossy();
        self.rules.iter().any(|r| glob_matches(r, &p))
    }

    /// What makes `path` executable for the daemon, in words, for a message.
    pub(crate) fn fix(&self, path: &Path) -> String {
        format!(
            "add `{} PUx,` to {APPARMOR_LOCAL} and run `apparmor_parser -r \
             /etc/apparmor.d/usr.sbin.libvirtd`",
            path.display()
        )
    }
}

/// AppArmor's globs as profiles use them: `*` (any characters but `/`), `**` (any
/// characters), `?` (one character but `/`) and `{a,b}` alternation; everything else literal.
pub(crate) fn glob_matches(glob: &str, path: &str) -> bool {
    if let Some(open) = glob.find('{')
        && let Some(len) = glob[open..].find('}')
    {
        let close = open + len;
        return glob[open + 1..close].split(',').any(|alt| {
            let expanded = format!("{}{alt}{}", &glob[..open], &glob[close + 1..]);
            glob_matches(&expanded, path)
        });
    }
    fn go(g: &[u8], p: &[u8]) -> bool {
        match g {
            [] => p.is_empty(),
            [b'*', b'*', rest @ ..] => (0..=p.len()).any(|i| go(rest, &p[i..])),
            [b'*', rest @ ..] => {
                let seg = p.iter().position(|&b| b == b'/').unwrap_or(p.len());
                (0..=seg).any(|i| go(rest, &p[i..]))
            }
            [b'?', rest @ ..] => matches!(p, [c, tail @ ..] if *c != b'/' && go(rest, tail)),
            [c, rest @ ..] => matches!(p, [d, tail @ ..] if c == d && go(rest, tail)),
        }
    }
    go(glob.as_bytes(), path.as_bytes())
}

/// One line of an SELinux `file_contexts` file.
#[derive(Debug)]
struct Spec {
    regex: regex::Regex,
    /// `--` regular file, `-d` directory, `-l` symlink…; `None` for every kind.
    kind: Option<char>,
    /// The context, or `None` for `<<none>>`.
    context: Option<String>,
}

fn parse_file_contexts(text: &str) -> Vec<Spec> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let (re, kind, ctx) = match words.as_slice() {
                [re, ctx] => (*re, None, *ctx),
                [re, kind, ctx] => (*re, kind.strip_prefix('-')?.chars().next(), *ctx),
                _ => return None,
            };
            let regex = regex::Regex::new(&format!("^(?:{re})$")).ok()?;
            Some(Spec {
                regex,
                kind,
                context: (ctx != "<<none>>").then(|| ctx.to_owned()),
            })
        })
        .collect()
}

/// SELinux, enabled.
#[derive(Debug)]
pub(crate) struct SeLinux {
    /// Enforcing (else permissive).
    pub(crate) enforcing: bool,
    specs: Vec<Spec>,
    /// `virt_hooks_unconfined`: `None` when the policy has no such boolean (every daemon runs
    /// unconfined there, as on RHEL 9 and Fedora 39 and older).
    pub(crate) network_boolean: Option<bool>,
}

/// What kind of file a label is for (`file_contexts`' `--`, `-d`, `-l`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symlink.
    Symlink,
}

impl SeLinux {
    /// The label the policy gives `path` (as `matchpathcon` says, and `restorecon` sets): the
    /// last matching specification, `file_contexts.local` after `file_contexts`.
    pub(crate) fn expected(&self, path: &Path, kind: FileKind) -> Option<&str> {
        let p = path.to_string_lossy();
        let want = match kind {
            FileKind::File => '-',
            FileKind::Dir => 'd',
            FileKind::Symlink => 'l',
        };
        self.specs
            .iter()
            .rev()
            .find(|s| s.kind.is_none_or(|k| k == want) && s.regex.is_match(&p))
            .and_then(|s| s.context.as_deref())
    }

    /// Sets the label the policy gives `path` on it (not following a symlink). Nothing to do
    /// when the policy names none.
    pub(crate) fn label(&self, path: &Path, kind: FileKind) -> std::io::Result<()> {
        let Some(ctx) = self.expected(path, kind) else {
            return Ok(());
        };
        set_label(path, ctx)
    }
}

/// Writes `ctx` as `path`'s SELinux label (the symlink itself when it is one).
pub(crate) fn set_label(path: &Path, ctx: &str) -> std::io::Result<()> {
    let mut value = ctx.as_bytes().to_vec();
    value.push(0);
    rustix::fs::lsetxattr(path, SELINUX_XATTR, &value, rustix::fs::XattrFlags::empty())
        .map_err(std::io::Error::from)
}

/// `path`'s SELinux label (the symlink itself when it is one), without the final NUL.
pub(crate) fn label_of(path: &Path) -> Option<String> {
    let mut buf = vec![0u8; 512];
    let n = rustix::fs::lgetxattr(path, SELINUX_XATTR, &mut buf).ok()?;
    let v = &buf[..n];
    let v = v.strip_suffix(b"\0").unwrap_or(v);
    Some(String::from_utf8_lossy(v).into_owned())
}

/// The type of a context: `virt_hook_t` of `system_u:object_r:virt_hook_t:s0`.
pub(crate) fn context_type(ctx: &str) -> &str {
    ctx.split(':').nth(2).unwrap_or(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apparmor_globs() {
        assert!(glob_matches("/usr/bin/*", "/usr/bin/virt-hook"));
        assert!(!glob_matches("/usr/bin/*", "/usr/bin/sub/virt-hook"));
        assert!(!glob_matches("/usr/bin/*", "/usr/local/bin/virt-hook"));
        assert!(glob_matches(
            "/etc/libvirt/hooks/**",
            "/etc/libvirt/hooks/qemu.d/g/prepare/begin/10-x"
        ));
        assert!(glob_matches("/{usr/,}bin/*", "/bin/sh"));
        assert!(glob_matches("/{usr/,}bin/*", "/usr/bin/sh"));
        assert!(glob_matches("/opt/x?y", "/opt/xay"));
        assert!(!glob_matches("/opt/x?y", "/opt/x/y"));
    }

    #[test]
    fn apparmor_off_unless_enabled_and_the_daemon_is_enforced() {
        let t = tempfile::tempdir().unwrap();
        let host = Host::at(t.path());
        assert!(host.apparmor().is_none());
        put(t.path(), "/sys/module/apparmor/parameters/enabled", "N\n");
        assert!(host.apparmor().is_none());
        put(t.path(), "/sys/module/apparmor/parameters/enabled", "Y\n");
        put(
            t.path(),
            "/sys/kernel/security/apparmor/profiles",
            "libvirtd (complain)\nlsb_release (enforce)\n",
        );
        assert!(host.apparmor().is_none(), "complain mode denies nothing");
        put(
            t.path(),
            "/sys/kernel/security/apparmor/profiles",
            "virt-aa-helper (enforce)\nlibvirtd (enforce)\n",
        );
        let aa = host.apparmor().unwrap();
        assert_eq!(aa.profile, "libvirtd");
        assert!(aa.allows_exec(Path::new("/usr/bin/virt-hook")));
        assert!(aa.allows_exec(Path::new("/etc/libvirt/hooks/virt-hook")));
        assert!(!aa.allows_exec(Path::new("/usr/local/bin/virt-hook")));
        assert!(!aa.allows_exec(Path::new("/root/.cargo/bin/virt-hook")));
        put(
            t.path(),
            APPARMOR_LOCAL,
            "# mine\n/usr/local/bin/virt-hook PUx,\ndeny /opt/** x,\n/srv/data r,\n",
        );
        let aa = host.apparmor().unwrap();
        assert!(aa.allows_exec(Path::new("/usr/local/bin/virt-hook")));
        assert!(!aa.allows_exec(Path::new("/opt/x")));
        assert!(!aa.allows_exec(Path::new("/srv/data")));
    }

    #[test]
    fn selinux_file_contexts_give_the_hooks_label() {
        let t = tempfile::tempdir().unwrap();
        let host = Host::at(t.path());
        assert!(host.selinux().is_none());
        put(t.path(), "/sys/fs/selinux/enforce", "1");
        put(
            t.path(),
            "/etc/selinux/config",
            "SELINUX=enforcing\nSELINUXTYPE=targeted\n",
        );
        put(
            t.path(),
            "/etc/selinux/targeted/contexts/files/file_contexts",
            "/etc(/.*)?\tsystem_u:object_r:etc_t:s0\n\
             /etc/libvirt(/.*)?\tsystem_u:object_r:virt_etc_t:s0\n\
             /etc/libvirt/hooks(/.*)?\tsystem_u:object_r:virt_hook_t:s0\n\
             /usr/bin/.*\t--\tsystem_u:object_r:bin_t:s0\n\
             /proc\t-d\t<<none>>\n",
        );
        let se = host.selinux().unwrap();
        assert!(se.enforcing);
        assert_eq!(se.network_boolean, None);
        let hook = Path::new("/etc/libvirt/hooks/qemu");
        assert_eq!(
            se.expected(hook, FileKind::File),
            Some("system_u:object_r:virt_hook_t:s0")
        );
        assert_eq!(
            se.expected(Path::new("/etc/libvirt/hooks"), FileKind::Dir),
            Some("system_u:object_r:virt_hook_t:s0")
        );
        assert_eq!(
            se.expected(Path::new("/etc/libvirt/qemu.conf"), FileKind::File),
            Some("system_u:object_r:virt_etc_t:s0")
        );
        assert_eq!(se.expected(Path::new("/usr/bin/x"), FileKind::Dir), None);
        assert_eq!(se.expected(Path::new("/proc"), FileKind::Dir), None);
        put(
            t.path(),
            "/sys/fs/selinux/booleans/virt_hooks_unconfined",
            "0 0",
        );
        assert_eq!(host.selinux().unwrap().network_boolean, Some(false));
        put(
            t.path(),
            "/sys/fs/selinux/booleans/virt_hooks_unconfined",
            "1 1",
        );
        assert_eq!(host.selinux().unwrap().network_boolean, Some(true));

        // Labelling writes the xattr restorecon would (root can set security.* xattrs on any
        // kernel; without SELinux they are stored as they are).
        let f = t.path().join("hookfile");
        std::fs::write(&f, "x").unwrap();
        set_label(&f, "system_u:object_r:virt_hook_t:s0").unwrap();
        assert_eq!(
            label_of(&f).as_deref(),
            Some("system_u:object_r:virt_hook_t:s0")
        );
        assert_eq!(context_type(&label_of(&f).unwrap()), "virt_hook_t");
    }

    #[test]
    fn denials_naming_a_hook_are_found_in_the_logs() {
        let t = tempfile::tempdir().unwrap();
        let host = Host::at(t.path());
        put(
            t.path(),
            "/var/log/kern.log",
            "Dec  3 kernel: audit: type=1400 audit(1.2:3): apparmor=\"DENIED\" operation=\"exec\" \
             profile=\"libvirtd\" name=\"/usr/local/bin/virt-hook\" pid=9 comm=\"rpc-worker\"\n\
             Dec  3 kernel: audit: apparmor=\"DENIED\" operation=\"open\" name=\"/srv/other\"\n\
             Dec  3 kernel: something else about /usr/local/bin/virt-hook\n",
        );
        put(
            t.path(),
            "/var/log/audit/audit.log",
            "type=AVC msg=audit(1.5:7): avc:  denied  { execute } for pid=3 comm=\"virtnetworkd\" \
             name=\"network\" dev=\"dm-0\" scontext=x path=\"/etc/libvirt/hooks/network\"\n",
        );
        let d = host.recent_denials(&[
            PathBuf::from("/usr/local/bin/virt-hook"),
            PathBuf::from("/etc/libvirt/hooks"),
        ]);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(
            d.iter()
                .any(|l| l.starts_with("apparmor=\"DENIED\" operation=\"exec\""))
        );
        assert!(d.iter().any(|l| l.starts_with("avc:  denied")));
    }

    #[test]
    fn running_daemons_come_from_proc() {
        let t = tempfile::tempdir().unwrap();
        put(t.path(), "/proc/12/comm", "virtqemud\n");
        put(t.path(), "/proc/13/comm", "virtlogd\n");
        put(t.path(), "/proc/14/comm", "bash\n");
        put(t.path(), "/proc/self/comm", "virtqemud\n");
        assert_eq!(Host::at(t.path()).running_daemons(), vec!["virtqemud"]);
    }
}
