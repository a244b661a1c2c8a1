//! `cargo xtask dist`: builds the `virt-hook` packages,
//! `target/dist/virt-hook_<version>-1_<arch>.deb` and
//! `target/dist/virt-hook-<version>-1.<arch>.rpm`, then checks what was built (`cargo xtask
//! dist --check` checks existing packages without building).
//!
//! Both packages hold the same tree, staged by this module: `/usr/bin/virt-hook` built with the
//! workspace's `dist` profile (stripped, LTO), the man pages of `docs/man` gzipped (`gzip -9n`:
//! no name, no timestamp, so the bytes are reproducible), the shell completions of
//! `completions/` where each shell's vendor directory is (zsh's differs: Debian's
//! `vendor-completions`, `site-functions` for rpm), and `docs/*.md` and README.md under
//! `/usr/share/doc/virt-hook/` (with a `copyright` file in the .deb, as Debian policy wants).
//! The version is the workspace's, the architecture the build's (the host's: amd64 / x86_64).
//! The binary is **statically linked** (`-C target-feature=+crt-static`, built with
//! `--target <host>` so that build scripts and proc-macros stay dynamic): no dynamic loader,
//! no shared library to find and relocate at each start, which is most of what an installed
//! dispatcher costs per libvirt event (docs/performance.md), and it runs on any Linux of its
//! architecture from kernel 3.2 on, whatever the C library (RHEL 8's glibc 2.28 included). So
//! the packages depend on nothing. The check makes sure it is static (no `.interp`).
//!
//! The maintainer scripts never install the dispatcher by themselves. After an install or
//! upgrade they run `virt-hook install --refresh`, which re-copies the new binary over a
//! dispatcher copy already installed in `/etc/libvirt/hooks` (and does nothing when there is
//! none); its failure is a warning, never a failed upgrade. Removing the package leaves that
//! copy in place (it keeps running the per-guest scripts) and says how to remove it; a purge of
//! the .deb removes it with `uninstall --all` (rpm has no purge).
//!
//! The packages are made by the ecosystems' own tools, `dpkg-deb --build --root-owner-group`
//! and `rpmbuild -bb` on a generated spec that packages the staged tree, rather than with
//! cargo-deb or cargo-generate-rpm: those are extra crates for CI to compile (or binaries to
//! fetch) for what amounts to writing a control file and a spec, and they write the same
//! metadata (control fields, md5sums, maintainer scripts; a spec's header, scriptlets and file
//! list). `dpkg-deb` comes with dpkg, `rpmbuild` with `apt-get install rpm` on Debian
//! (`dnf install rpm-build` on Fedora); the task names the package to install when one is
//! missing.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The package's name, also the binary's.
pub const NAME: &str = "virt-hook";
/// The package revision (Debian revision, rpm release): the packaging's own version.
pub const REVISION: &str = "1";
/// The largest `/usr/bin/virt-hook` the check accepts.
pub const MAX_BINARY: u64 = 6 * 1024 * 1024;
/// The flags that make the binary static (glibc's `libc.a`, from libc6-dev / glibc-static) and
/// not position-independent: a static PIE relocates itself at every start, writing to some 17
/// pages of its data (each a copy-on-write page fault: about 0.1 ms of every libvirt event on
/// the machine of `docs/performance.md`); a fixed address needs no relocation. The price: the
/// binary's own code and data are not at a random address (its stack, heap and mappings
/// still are); see `docs/dispatcher.md`.
pub const STATIC_RUSTFLAGS: &str = "-C target-feature=+crt-static -C relocation-model=static";

/// The dispatcher copy `virt-hook install` puts in libvirt's hooks directory.
const INSTALLED_DISPATCHER: &str = "/etc/libvirt/hooks/virt-hook";

/// A package format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Debian's `.deb`.
    Deb,
    /// An `.rpm`.
    Rpm,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Deb => "deb",
            Format::Rpm => "rpm",
        }
    }
}

/// What the packages are made of: name, versions, architecture and descriptions.
#[derive(Clone, Debug)]
pub struct Meta {
    /// The workspace version (`0.1.0`).
    pub version: String,
    /// Debian's name for the architecture (`amd64`).
    pub deb_arch: String,
    /// rpm's name for it (`x86_64`).
    pub rpm_arch: String,
    /// One line: hook-cli's description.
    pub summary: String,
    /// `MIT OR Apache-2.0`.
    pub license: String,
    /// The project's address.
    pub homepage: String,
}

impl Meta {
    /// The metadata of this workspace, for the architecture xtask was built for (the host's,
    /// which is what `cargo build` builds for).
    pub fn of_workspace(root: &Path) -> Result<Meta, String> {
        let (deb_arch, rpm_arch) = arch_names(std::env::consts::ARCH)?;
        let summary = string_key(&root.join("hook-cli/Cargo.toml"), "description")?;
        // `[workspace.package]`'s; xtask does not inherit it.
        let homepage = string_key(&root.join("Cargo.toml"), "repository")?;
        Ok(Meta {
            // xtask's version is the workspace's (`version.workspace = true`), as is hook-cli's.
            version: env!("CARGO_PKG_VERSION").to_owned(),
            deb_arch: deb_arch.to_owned(),
            rpm_arch: rpm_arch.to_owned(),
            summary,
            license: env!("CARGO_PKG_LICENSE").to_owned(),
            homepage,
        })
    }

    /// `virt-hook_0.1.0-1_amd64.deb`.
    pub fn deb_file(&self) -> String {
        format!("{NAME}_{}-{REVISION}_{}.deb", self.version, self.deb_arch)
    }

    /// `virt-hook-0.1.0-1.x86_64.rpm`.
    pub fn rpm_file(&self) -> String {
        format!("{NAME}-{}-{REVISION}.{}.rpm", self.version, self.rpm_arch)
    }
}

/// The first `key = "value"` line of a manifest, its value.
fn string_key(manifest: &Path, key: &str) -> Result<String, String> {
    let text = fs::read_to_string(manifest)
        .map_err(|e| format!("dist: cannot read {}: {e}", manifest.display()))?;
    text.lines()
        .find_map(|l| {
            let v = l.strip_prefix(key)?.trim_start().strip_prefix('=')?;
            Some(v.trim().trim_matches('"').to_owned())
        })
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("dist: no {key} in {}", manifest.display()))
}

/// Debian's and rpm's names for a Rust architecture (`std::env::consts::ARCH`).
pub fn arch_names(rust_arch: &str) -> Result<(&'static str, &'static str), String> {
    Ok(match rust_arch {
        "x86_64" => ("amd64", "x86_64"),
        "aarch64" => ("arm64", "aarch64"),
        "x86" => ("i386", "i686"),
        "riscv64" => ("riscv64", "riscv64"),
        "powerpc64" if cfg!(target_endian = "little") => ("ppc64el", "ppc64le"),
        "s390x" => ("s390x", "s390x"),
        other => return Err(format!("dist: no package architecture known for {other}")),
    })
}

/// Where a packaged file's content comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A file, copied as it is.
    Copy(PathBuf),
    /// A file, gzipped (`gzip -9n`).
    Gzip(PathBuf),
    /// Generated text.
    Text(String),
}

/// One packaged file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Where it is installed (absolute).
    pub path: String,
    /// Its content.
    pub source: Source,
    /// Its mode.
    pub mode: u32,
}

/// Every file of a package of `format`, in install-path order; `binary` is the built virt-hook.
pub fn contents(
    root: &Path,
    meta: &Meta,
    binary: &Path,
    format: Format,
) -> Result<Vec<Entry>, String> {
    let file = |path: String, source: Source| Entry {
        path,
        source,
        mode: 0o644,
    };
    let mut entries = vec![Entry {
        path: format!("/usr/bin/{NAME}"),
        source: Source::Copy(binary.to_owned()),
        mode: 0o755,
    }];
    // The commands' pages (section 1) and the settings file's, virt-hook.toml(5).
    for section in ["1", "5"] {
        for page in listed(&root.join(crate::man::MAN_DIR), &format!(".{section}"))? {
            let name = page.file_name().unwrap_or_default().to_string_lossy();
            entries.push(file(
                format!("/usr/share/man/man{section}/{name}.gz"),
                Source::Gzip(page.clone()),
            ));
        }
    }
    let completions = root.join(crate::man::COMPLETIONS_DIR);
    let zsh_dir = match format {
        Format::Deb => "/usr/share/zsh/vendor-completions",
        Format::Rpm => "/usr/share/zsh/site-functions",
    };
    entries.push(file(
        format!("/usr/share/bash-completion/completions/{NAME}"),
        Source::Copy(completions.join(format!("{NAME}.bash"))),
    ));
    entries.push(file(
        format!("{zsh_dir}/_{NAME}"),
        Source::Copy(completions.join(format!("_{NAME}"))),
    ));
    entries.push(file(
        format!("/usr/share/fish/vendor_completions.d/{NAME}.fish"),
        Source::Copy(completions.join(format!("{NAME}.fish"))),
    ));
    let doc = format!("/usr/share/doc/{NAME}");
    entries.push(file(
        format!("{doc}/README.md"),
        Source::Copy(root.join("README.md")),
    ));
    for md in listed(&root.join("docs"), ".md")? {
        let name = md.file_name().unwrap_or_default().to_string_lossy();
        entries.push(file(format!("{doc}/{name}"), Source::Copy(md.clone())));
    }
    if format == Format::Deb {
        entries.push(file(
            format!("{doc}/copyright"),
            Source::Text(copyright(&meta.homepage)),
        ));
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

/// The regular files directly in `dir` whose name ends with `suffix`, sorted.
fn listed(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>, String> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("dist: cannot list {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.to_string_lossy().ends_with(suffix))
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(format!("dist: no *{suffix} in {}", dir.display()));
    }
    Ok(found)
}

/// `/usr/share/doc/virt-hook/copyright`, in Debian's machine-readable format.
pub fn copyright(source: &str) -> String {
    format!(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
         Upstream-Name: virt-hooks\n\
         Source: {repo}\n\
         \n\
         Files: *\n\
         Copyright: the virt-hooks authors\n\
         License: MIT or Apache-2.0\n\
         \x20The software may be used under the terms of either license, at your option.\n\
         \x20.\n\
         \x20On Debian systems, the full text of the Apache License, Version 2.0 is in\n\
         \x20/usr/share/common-licenses/Apache-2.0. The MIT license follows.\n\
         \x20.\n\
         \x20Permission is hereby granted, free of charge, to any person obtaining a copy of\n\
         \x20this software and associated documentation files (the \"Software\"), to deal in\n\
         \x20the Software without restriction, including without limitation the rights to\n\
         \x20use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of\n\
         \x20the Software, and to permit persons to whom the Software is furnished to do so,\n\
         \x20subject to the following conditions:\n\
         \x20.\n\
         \x20The above copyright notice and this permission notice shall be included in all\n\
         \x20copies or substantial portions of the Software.\n\
         \x20.\n\
         \x20THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR\n\
         \x20IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS\n\
         \x20FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR\n\
         \x20COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER\n\
         \x20IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN\n\
         \x20CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.\n",
        repo = source,
    )
}

/// The long description, one paragraph per line (each format folds it its own way).
const DESCRIPTION: [&str; 2] = [
    "virt-hook shows which libvirt hook scripts would run, fires a driver's hooks for an event \
     without starting a guest, and checks a hooks directory for common mistakes.",
    "Installed as libvirt's main hook (`virt-hook install`, never done by the package), it \
     runs per-guest scripts with a timeout, without hanging on their background children, and \
     logs one line per script.",
];

/// Why the packages depend on nothing: said in both packages' metadata files.
const STATIC_WHY: &str = "virt-hook is statically linked: it needs no C library or other \
                          package at run time";

/// Text wrapped at about 76 columns, each line given `indent`.
fn wrap(text: &str, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > 76 {
            out.push_str(indent);
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(indent);
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// `DEBIAN/control`; `installed_kib` is the unpacked size.
pub fn deb_control(meta: &Meta, installed_kib: u64) -> String {
    let long: Vec<String> = DESCRIPTION.iter().map(|p| wrap(p, " ")).collect();
    format!(
        "Package: {NAME}\n\
         Version: {version}-{REVISION}\n\
         Architecture: {arch}\n\
         Maintainer: virt-hooks developers <virt-hooks@example.invalid>\n\
         Installed-Size: {installed_kib}\n\
         Section: admin\n\
         Priority: optional\n\
         Homepage: {homepage}\n\
         Description: {summary}\n\
         {long}",
        version = meta.version,
        arch = meta.deb_arch,
        homepage = meta.homepage,
        summary = meta.summary,
        long = long.join(" .\n"),
    )
}

/// The .deb's `postinst`: an upgrade refreshes an installed dispatcher copy; installs none.
pub const DEB_POSTINST: &str = r#"#!/bin/sh
# virt-hook postinst. The package never installs the dispatcher (/etc/libvirt/hooks) by itself:
# `virt-hook install --refresh` only re-copies this binary over a copy `virt-hook install` put
# there, and does nothing when there is none. A failure warns; it never fails the upgrade.
set -e
case "$1" in
    configure)
        if [ -x /usr/bin/virt-hook ]; then
            /usr/bin/virt-hook install --refresh ||
                echo "virt-hook: warning: could not refresh the dispatcher in /etc/libvirt/hooks; run 'virt-hook install --refresh' as root" >&2
        fi
        ;;
esac
exit 0
"#;

/// The .deb's `prerm`: on removal, says what stays and how to remove it.
pub const DEB_PRERM: &str = r#"#!/bin/sh
# virt-hook prerm. The dispatcher copy in /etc/libvirt/hooks is not the package's: it stays.
set -e
case "$1" in
    remove)
        if [ -e /etc/libvirt/hooks/virt-hook ]; then
            echo "virt-hook: note: the dispatcher copy in /etc/libvirt/hooks stays in place and keeps running the per-guest scripts; '/etc/libvirt/hooks/virt-hook uninstall --all' removes it"
        fi
        ;;
esac
exit 0
"#;

/// The .deb's `postrm`: a purge removes the dispatcher copy.
pub const DEB_POSTRM: &str = r#"#!/bin/sh
# virt-hook postrm. A purge removes the dispatcher copy in /etc/libvirt/hooks, with the copy
# itself (the package's /usr/bin/virt-hook is gone by now).
set -e
case "$1" in
    purge)
        if [ -x /etc/libvirt/hooks/virt-hook ]; then
            /etc/libvirt/hooks/virt-hook uninstall --all ||
                echo "virt-hook: warning: '/etc/libvirt/hooks/virt-hook uninstall --all' failed; run it as root" >&2
        fi
        ;;
esac
exit 0
"#;

/// The .deb's maintainer scripts: name and content.
pub const DEB_SCRIPTS: [(&str, &str); 3] = [
    ("postinst", DEB_POSTINST),
    ("prerm", DEB_PRERM),
    ("postrm", DEB_POSTRM),
];

/// The rpm scriptlets, the same as the .deb's: `%post` on install and upgrade, `%preun`'s note
/// on erase only (`$1` is 0). `%postun` has nothing to do: an erase is not a purge (rpm has
/// none), so the dispatcher copy stays, as `%preun` said.
pub fn rpm_scriptlets() -> String {
    format!(
        "%post\n\
         # Never installs the dispatcher: refreshes a copy `virt-hook install` made, if any.\n\
         set -e\n\
         if [ -x /usr/bin/{NAME} ]; then\n\
         \x20   /usr/bin/{NAME} install --refresh ||\n\
         \x20       echo \"virt-hook: warning: could not refresh the dispatcher in /etc/libvirt/hooks; run 'virt-hook install --refresh' as root\" >&2\n\
         fi\n\
         \n\
         %preun\n\
         set -e\n\
         if [ \"$1\" -eq 0 ] && [ -e {INSTALLED_DISPATCHER} ]; then\n\
         \x20   echo \"virt-hook: note: the dispatcher copy in /etc/libvirt/hooks stays in place and keeps running the per-guest scripts; '{INSTALLED_DISPATCHER} uninstall --all' removes it\"\n\
         fi\n"
    )
}

/// The rpm spec that packages the staged tree `stage` (its `%install` copies it).
pub fn rpm_spec(meta: &Meta, entries: &[Entry], stage: &Path) -> String {
    let mut files = String::from("%defattr(-,root,root,-)\n");
    files.push_str(&format!("%dir /usr/share/doc/{NAME}\n"));
    for e in entries {
        files.push_str(&format!("%attr({:04o},root,root) {}\n", e.mode, e.path));
    }
    let description: Vec<String> = DESCRIPTION.iter().map(|p| wrap(p, "")).collect();
    format!(
        "# Generated by `cargo xtask dist`: packages the tree it staged, as it is.\n\
         %global debug_package %{{nil}}\n\
         # The binary is stripped and the man pages gzipped already: no brp-* post-processing.\n\
         %global __os_install_post %{{nil}}\n\
         %define _build_id_links none\n\
         \n\
         Name: {NAME}\n\
         Version: {version}\n\
         Release: {REVISION}\n\
         Summary: {summary}\n\
         License: {license}\n\
         URL: {homepage}\n\
         BuildArch: {arch}\n\
         # {STATIC_WHY}.\n\
         AutoReqProv: no\n\
         \n\
         %description\n\
         {description}\n\
         %install\n\
         rm -rf %{{buildroot}}\n\
         mkdir -p %{{buildroot}}\n\
         cp -a '{stage}/.' %{{buildroot}}/\n\
         \n\
         {scriptlets}\n\
         %files\n\
         {files}",
        version = meta.version,
        summary = meta.summary,
        license = meta.license,
        homepage = meta.homepage,
        arch = meta.rpm_arch,
        description = description.join("\n"),
        stage = stage.display(),
        scriptlets = rpm_scriptlets(),
    )
}

/// Runs the task: `dist` builds and checks, `dist --check` only checks.
pub fn run(args: impl Iterator<Item = String>) -> Result<(), String> {
    let mut check_only = false;
    for arg in args {
        match arg.as_str() {
            "--check" => check_only = true,
            other => {
                return Err(format!(
                    "dist: unknown argument {other:?} (usage: dist [--check])"
                ));
            }
        }
    }
    let root = crate::workspace_root();
    let meta = Meta::of_workspace(&root)?;
    let out = target_dir(&root).join("dist");
    require_tools(check_only)?;
    if !check_only {
        build(&root, &meta, &out)?;
    }
    check(&root, &meta, &out)
}

/// The host's target triple, from `rustc -vV` (the binary is built for it, explicitly, so
/// that the static flags reach it and not the build scripts).
fn host_triple() -> Result<String, String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let text = text(output(&rustc, &["-vV"], None)?);
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|t| t.trim().to_owned())
        .ok_or_else(|| format!("dist: `{rustc} -vV` names no host triple"))
}

/// Cargo's target directory (`CARGO_TARGET_DIR`, else `<root>/target`).
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Fails with what to install when a tool the task needs is missing.
fn require_tools(check_only: bool) -> Result<(), String> {
    let mut tools = vec![
        ("dpkg-deb", "dpkg (`apt-get install dpkg`)"),
        (
            "rpm",
            "rpm (`apt-get install rpm` on Debian/Ubuntu, `dnf install rpm` on Fedora/RHEL)",
        ),
        (
            "rpm2cpio",
            "rpm (`apt-get install rpm` on Debian/Ubuntu, `dnf install rpm` on Fedora/RHEL)",
        ),
    ];
    if !check_only {
        tools.extend([
            (
                "rpmbuild",
                "rpmbuild (`apt-get install rpm` on Debian/Ubuntu, `dnf install rpm-build` on \
                 Fedora/RHEL)",
            ),
            ("gzip", "gzip (`apt-get install gzip`)"),
            ("md5sum", "coreutils (`apt-get install coreutils`)"),
        ]);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<String> = tools
        .iter()
        .filter(|(tool, _)| !std::env::split_paths(&path).any(|d| d.join(tool).is_file()))
        .map(|(tool, package)| format!("dist: `{tool}` not found: install {package}"))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing.join("\n"))
    }
}

/// Runs `cmd`, failing with its stderr; returns its stdout.
// xtask is developer automation, not the library: starting the packaging tools is its job. The
// "only hook-core starts processes" rule (clippy.toml) is about the shipped crates.
#[allow(clippy::disallowed_methods)]
fn output(program: &str, args: &[&str], dir: Option<&Path>) -> Result<Vec<u8>, String> {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null());
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let shown = format!("{program} {}", args.join(" "));
    let out = cmd
        .output()
        .map_err(|e| format!("dist: cannot run {shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "dist: {shown} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        ));
    }
    Ok(out.stdout)
}

/// Runs `cmd` with its output shown, failing when it fails.
#[allow(clippy::disallowed_methods)] // see `output`
fn status(cmd: &mut Command, shown: &str) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("dist: cannot run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("dist: {shown} failed ({status})"))
    }
}

/// The commit time of HEAD, for `SOURCE_DATE_EPOCH` (timestamps in the packages); none outside
/// a git checkout.
fn source_date_epoch(root: &Path) -> Option<String> {
    let out = output("git", &["log", "-1", "--format=%ct"], Some(root)).ok()?;
    let text = String::from_utf8(out).ok()?;
    let text = text.trim();
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.to_owned())
}

/// Builds `virt-hook` as the packages ship it: the `dist` profile, for the host's triple
/// given explicitly, static and not position-independent ([`STATIC_RUSTFLAGS`]), its code in
/// the order one libvirt event runs it ([`crate::order`]), stripped. Returns
/// `target/<triple>/dist/virt-hook`. `cargo xtask bench` measures this same binary as the
/// installed dispatcher.
///
/// Two steps: `cargo build` (the profile keeps the symbols, which the profiling needs), then
/// `cargo rustc` links the binary crate again, stripped, with lld's symbol ordering file (only
/// that crate is compiled again; its dependencies, and so every symbol name, stay as they
/// are). Without valgrind the second step only strips, and says the order is missing.
pub fn build_binary(root: &Path) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let triple = host_triple()?;
    let flags_var = format!(
        "CARGO_TARGET_{}_RUSTFLAGS",
        triple.to_uppercase().replace('-', "_")
    );
    let common = [
        "--profile",
        "dist",
        "--target",
        &triple,
        "-p",
        "hook-cli",
        "--bin",
        NAME,
        "--locked",
    ];
    // `cargo build …` or `cargo rustc … -- RUSTC_ARGS`, with the static flags; shown on
    // stderr, with cargo's own lines (`cargo xtask bench` prints its report on stdout).
    let cargo_step = |subcommand: &str, rustc_args: &[String]| {
        let mut shown = format!(
            "{flags_var}='{STATIC_RUSTFLAGS}' cargo {subcommand} {}",
            common.join(" ")
        );
        #[allow(clippy::disallowed_methods)] // see `output`
        let mut cmd = Command::new(&cargo);
        cmd.arg(subcommand)
            .args(common)
            .env(&flags_var, STATIC_RUSTFLAGS)
            .current_dir(root);
        if !rustc_args.is_empty() {
            cmd.arg("--").args(rustc_args);
            shown = format!("{shown} -- {}", rustc_args.join(" "));
        }
        eprintln!("==> {shown}");
        status(&mut cmd, &shown)
    };
    cargo_step("build", &[])?;
    // With --target, the `dist` profile's output is `target/<triple>/dist`.
    let out_dir = target_dir(root).join(&triple).join("dist");
    let binary = out_dir.join(NAME);

    let mut link_args = vec!["-C".to_owned(), "strip=symbols".to_owned()];
    if crate::order::have_valgrind() {
        eprintln!("==> profiling the dispatcher under callgrind for its code order");
        let order = crate::order::profile(&binary, &out_dir.join("order"))?;
        eprintln!(
            "    {} functions placed first ({})",
            order.symbols,
            order.file.display()
        );
        link_args.extend([
            "-C".to_owned(),
            format!(
                "link-arg=-Wl,--symbol-ordering-file={}",
                order.file.display()
            ),
            "-C".to_owned(),
            "link-arg=-Wl,--no-warn-symbol-ordering".to_owned(),
        ]);
    } else {
        eprintln!(
            "warning: valgrind not found (apt-get install valgrind): {NAME} is linked in the \
             compiler's order, which makes each libvirt event cost more (docs/performance.md)"
        );
    }
    cargo_step("rustc", &link_args)?;
    Ok(binary)
}

/// Builds the binary, stages both trees and makes both packages in `out`.
fn build(root: &Path, meta: &Meta, out: &Path) -> Result<(), String> {
    let binary = build_binary(root)?;
    let epoch = source_date_epoch(root);

    // .deb
    let deb_root = out.join("deb-root");
    let entries = contents(root, meta, &binary, Format::Deb)?;
    stage(&deb_root, &entries)?;
    let debian = deb_root.join("DEBIAN");
    make_dir(&debian)?;
    let installed_kib = tree_size(&deb_root)?.div_ceil(1024);
    write(
        &debian.join("control"),
        &deb_control(meta, installed_kib),
        0o644,
    )?;
    let rel: Vec<String> = entries
        .iter()
        .map(|e| e.path.trim_start_matches('/').to_owned())
        .collect();
    let mut md5_args = vec!["--"];
    md5_args.extend(rel.iter().map(String::as_str));
    let md5sums = output("md5sum", &md5_args, Some(&deb_root))?;
    write(
        &debian.join("md5sums"),
        &String::from_utf8_lossy(&md5sums),
        0o644,
    )?;
    for (name, body) in DEB_SCRIPTS {
        write(&debian.join(name), body, 0o755)?;
    }
    let deb = out.join(meta.deb_file());
    let shown = format!("dpkg-deb --build --root-owner-group {}", deb.display());
    println!("==> {shown}");
    #[allow(clippy::disallowed_methods)] // see `output`
    let mut cmd = Command::new("dpkg-deb");
    cmd.arg("--build")
        .arg("--root-owner-group")
        .arg(&deb_root)
        .arg(&deb);
    if let Some(epoch) = &epoch {
        cmd.env("SOURCE_DATE_EPOCH", epoch);
    }
    status(&mut cmd, &shown)?;

    // .rpm
    let rpm_stage = out.join("rpm-root");
    let entries = contents(root, meta, &binary, Format::Rpm)?;
    stage(&rpm_stage, &entries)?;
    let topdir = out.join("rpmbuild");
    remove_dir(&topdir)?;
    make_dir(&topdir.join("SPECS"))?;
    let spec = topdir.join("SPECS").join(format!("{NAME}.spec"));
    write(&spec, &rpm_spec(meta, &entries, &rpm_stage), 0o644)?;
    let shown = format!("rpmbuild -bb {}", spec.display());
    println!("==> {shown}");
    #[allow(clippy::disallowed_methods)] // see `output`
    let mut cmd = Command::new("rpmbuild");
    cmd.arg("-bb")
        .arg("--quiet")
        .arg("--define")
        .arg(format!("_topdir {}", topdir.display()))
        .arg("--target")
        .arg(&meta.rpm_arch)
        .arg(&spec);
    if let Some(epoch) = &epoch {
        cmd.env("SOURCE_DATE_EPOCH", epoch);
        cmd.arg("--define")
            .arg("use_source_date_epoch_as_buildtime 1");
        cmd.arg("--define")
            .arg("clamp_mtime_to_source_date_epoch 1");
    }
    status(&mut cmd, &shown)?;
    let built = topdir
        .join("RPMS")
        .join(&meta.rpm_arch)
        .join(meta.rpm_file());
    let rpm = out.join(meta.rpm_file());
    fs::copy(&built, &rpm).map_err(|e| format!("dist: {}: {e}", built.display()))?;
    Ok(())
}

/// Writes `entries` under `dir` (emptied first), with their modes, directories 0755.
fn stage(dir: &Path, entries: &[Entry]) -> Result<(), String> {
    remove_dir(dir)?;
    for e in entries {
        let path = dir.join(e.path.trim_start_matches('/'));
        if let Some(parent) = path.parent() {
            make_dir(parent)?;
        }
        let bytes = match &e.source {
            Source::Copy(from) => {
                fs::read(from).map_err(|err| format!("dist: {}: {err}", from.display()))?
            }
            Source::Gzip(from) => output(
                "gzip",
                &["-9", "-n", "-c", "--", &from.display().to_string()],
                None,
            )?,
            Source::Text(text) => text.clone().into_bytes(),
        };
        fs::write(&path, bytes).map_err(|err| format!("dist: {}: {err}", path.display()))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(e.mode))
            .map_err(|err| format!("dist: {}: {err}", path.display()))?;
    }
    Ok(())
}

fn remove_dir(dir: &Path) -> Result<(), String> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("dist: cannot remove {}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Creates `dir` and its parents, each 0755 whatever the umask.
fn make_dir(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("dist: cannot create {}: {e}", dir.display()))?;
    let mut d = Some(dir);
    while let Some(p) = d.filter(|p| p.file_name().is_some()) {
        let meta = fs::metadata(p).map_err(|e| format!("dist: {}: {e}", p.display()))?;
        if meta.permissions().mode() & 0o777 == 0o755 {
            break;
        }
        fs::set_permissions(p, fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("dist: {}: {e}", p.display()))?;
        d = p.parent();
    }
    Ok(())
}

fn write(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("dist: {}: {e}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("dist: {}: {e}", path.display()))
}

/// The bytes of the regular files under `dir`.
fn tree_size(dir: &Path) -> Result<u64, String> {
    let mut total = 0;
    for e in fs::read_dir(dir).map_err(|e| format!("dist: {}: {e}", dir.display()))? {
        let e = e.map_err(|e| format!("dist: {}: {e}", dir.display()))?;
        let meta = e
            .metadata()
            .map_err(|err| format!("dist: {}: {err}", e.path().display()))?;
        if meta.is_dir() {
            total += tree_size(&e.path())?;
        } else {
            total += meta.len();
        }
    }
    Ok(total)
}

/// What a check found wrong, one line each.
#[derive(Debug, Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, format: Format, what: String) {
        self.0
            .push(format!("dist: check: {}: {what}", format.name()));
    }
}

/// Checks both packages in `out` against what they should hold, and prints their sizes.
fn check(root: &Path, meta: &Meta, out: &Path) -> Result<(), String> {
    let binary = out.join(NAME);
    let mut problems = Problems::default();
    for format in [Format::Deb, Format::Rpm] {
        let package = out.join(match format {
            Format::Deb => meta.deb_file(),
            Format::Rpm => meta.rpm_file(),
        });
        let size = match fs::metadata(&package) {
            Ok(m) => m.len(),
            Err(e) => {
                problems.add(format, format!("{}: {e}", package.display()));
                continue;
            }
        };
        let expected: BTreeSet<String> = contents(root, meta, &binary, format)?
            .into_iter()
            .map(|e| e.path)
            .collect();
        let package_arg = package.display().to_string();
        let (listed, files, scripts, depends) = match format {
            Format::Deb => {
                let listing = text(output("dpkg-deb", &["-c", &package_arg], None)?);
                let mut listed = BTreeSet::new();
                for line in listing.lines() {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let (Some(owner), Some(path)) = (fields.get(1), fields.last()) else {
                        continue;
                    };
                    if *owner != "root/root" {
                        problems.add(format, format!("{path} is owned by {owner}, not root/root"));
                    }
                    if !path.ends_with('/') {
                        listed.insert(path.trim_start_matches('.').to_owned());
                    }
                }
                let files = tar_files(&output(
                    "dpkg-deb",
                    &["--fsys-tarfile", &package_arg],
                    None,
                )?)?;
                let control = tar_files(&output(
                    "dpkg-deb",
                    &["--ctrl-tarfile", &package_arg],
                    None,
                )?)?;
                let scripts: String = DEB_SCRIPTS
                    .iter()
                    .map(|(name, _)| {
                        control
                            .get(&format!("/{name}"))
                            .map(|b| String::from_utf8_lossy(b).into_owned())
                            .unwrap_or_default()
                    })
                    .collect();
                let depends = text(output("dpkg-deb", &["-f", &package_arg, "Depends"], None)?);
                (listed, files, scripts, depends)
            }
            Format::Rpm => {
                let listing = text(output("rpm", &["-qlp", &package_arg], None)?);
                let dirs = text(output(
                    "rpm",
                    &[
                        "-qp",
                        "--qf",
                        "[%{FILEMODES:perms} %{FILENAMES}\n]",
                        &package_arg,
                    ],
                    None,
                )?);
                let dirs: BTreeSet<&str> = dirs
                    .lines()
                    .filter(|l| l.starts_with('d'))
                    .filter_map(|l| l.split_whitespace().nth(1))
                    .collect();
                let listed = listing
                    .lines()
                    .filter(|l| !dirs.contains(l))
                    .map(str::to_owned)
                    .collect();
                let files = cpio_files(&output("rpm2cpio", &[&package_arg], None)?)?;
                let scripts = text(output("rpm", &["-qp", "--scripts", &package_arg], None)?);
                let depends = text(output("rpm", &["-qp", "--requires", &package_arg], None)?);
                (listed, files, scripts, depends)
            }
        };
        if listed != expected {
            for missing in expected.difference(&listed) {
                problems.add(format, format!("{missing} is missing"));
            }
            for extra in listed.difference(&expected) {
                problems.add(format, format!("{extra} should not be there"));
            }
        }
        let wanted = |d: &&str| {
            let d = d.trim();
            !d.is_empty() && !d.starts_with("rpmlib(") && !d.starts_with("/bin/sh")
        };
        if depends.lines().any(|d| wanted(&d)) {
            problems.add(
                format,
                format!("depends on something, but the binary is static: {depends:?}"),
            );
        }
        for needed in ["install --refresh", "uninstall --all"] {
            if !scripts.contains(needed) {
                problems.add(format, format!("no maintainer script runs `{needed}`"));
            }
        }
        let bin_path = format!("/usr/bin/{NAME}");
        let mut binary_size = 0;
        match files.get(&bin_path) {
            None => problems.add(format, format!("{bin_path}: not in the payload")),
            Some(bytes) => {
                binary_size = bytes.len() as u64;
                if binary_size > MAX_BINARY {
                    problems.add(
                        format,
                        format!("{bin_path} is {binary_size} bytes, over {MAX_BINARY} (6 MiB)"),
                    );
                }
                if elf_type(bytes) != Some(ET_EXEC) {
                    problems.add(
                        format,
                        format!(
                            "{bin_path} is position-independent (or no ELF executable): build \
                             it with {STATIC_RUSTFLAGS}"
                        ),
                    );
                }
                match elf_sections(bytes) {
                    Err(e) => problems.add(format, format!("{bin_path}: {e}")),
                    Ok(sections) => {
                        if sections.iter().any(|(name, _)| name == ".interp") {
                            problems.add(
                                format,
                                format!(
                                    "{bin_path} is dynamically linked (it has .interp); build \
                                     it with {STATIC_RUSTFLAGS}"
                                ),
                            );
                        }
                        let unstripped: Vec<String> = sections
                            .into_iter()
                            .filter(|(name, kind)| {
                                *kind == SHT_SYMTAB || name.starts_with(".debug")
                            })
                            .map(|(name, _)| name)
                            .collect();
                        if !unstripped.is_empty() {
                            problems.add(
                                format,
                                format!(
                                    "{bin_path} is not stripped: it has {}",
                                    unstripped.join(", ")
                                ),
                            );
                        }
                    }
                }
            }
        }
        for (path, bytes) in &files {
            if path.starts_with("/usr/share/man/") && !is_reproducible_gzip(bytes) {
                problems.add(
                    format,
                    format!("{path} is not gzip without a name or timestamp (gzip -9n)"),
                );
            }
        }
        let installed: u64 = files.values().map(|b| b.len() as u64).sum();
        println!(
            "{}: {} bytes; {} files, {} bytes installed; /usr/bin/{NAME} {} bytes ({:.2} MiB)",
            package.display(),
            size,
            files.len(),
            installed,
            binary_size,
            binary_size as f64 / 1024.0 / 1024.0,
        );
    }
    if problems.0.is_empty() {
        println!("dist: both packages hold what they should");
        Ok(())
    } else {
        let n = problems.0.len();
        Err(format!(
            "{}\ndist: {n} problem{} found",
            problems.0.join("\n"),
            if n == 1 { "" } else { "s" }
        ))
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

/// gzip data whose header has no file name and no timestamp (what `gzip -n` writes).
pub fn is_reproducible_gzip(bytes: &[u8]) -> bool {
    const FNAME: u8 = 0x08;
    bytes.len() > 10
        && bytes[..3] == [0x1f, 0x8b, 0x08]
        && bytes[3] & FNAME == 0
        && bytes[4..8] == [0, 0, 0, 0]
}

/// The ELF file type of an executable at a fixed address (a PIE is `ET_DYN`, 3).
pub const ET_EXEC: u16 = 2;

/// The ELF file type (`e_type`) of `elf`, if it is an ELF file.
pub fn elf_type(elf: &[u8]) -> Option<u16> {
    (elf.get(..4)? == b"\x7fELF").then_some(())?;
    let b = elf.get(16..18)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

/// An ELF section's type for a symbol table (`.symtab`), which `strip` removes.
pub const SHT_SYMTAB: u32 = 2;

/// The sections of a 64-bit little-endian ELF file: name and type, from its section headers.
pub fn elf_sections(elf: &[u8]) -> Result<Vec<(String, u32)>, String> {
    let u16_at = |at: usize| -> Result<u64, String> {
        elf.get(at..at + 2)
            .map(|b| u64::from(u16::from_le_bytes([b[0], b[1]])))
            .ok_or_else(|| "truncated ELF file".to_owned())
    };
    let u32_at = |at: usize| -> Result<u64, String> {
        elf.get(at..at + 4)
            .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .ok_or_else(|| "truncated ELF file".to_owned())
    };
    let u64_at = |at: usize| -> Result<u64, String> {
        elf.get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            .ok_or_else(|| "truncated ELF file".to_owned())
    };
    if elf.get(..6) != Some(&[0x7f, b'E', b'L', b'F', 2, 1][..]) {
        return Err("not a 64-bit little-endian ELF file".to_owned());
    }
    let to_usize = |v: u64| usize::try_from(v).map_err(|_| "ELF offset too large".to_owned());
    let shoff = to_usize(u64_at(0x28)?)?;
    let shentsize = to_usize(u16_at(0x3a)?)?;
    let shnum = to_usize(u16_at(0x3c)?)?;
    let shstrndx = to_usize(u16_at(0x3e)?)?;
    if shentsize < 0x40 || shstrndx >= shnum.max(1) {
        return Err("unexpected ELF section header table".to_owned());
    }
    let header = |i: usize| shoff + i * shentsize;
    let strtab = to_usize(u64_at(header(shstrndx) + 0x18)?)?;
    let mut sections = Vec::with_capacity(shnum);
    for i in 0..shnum {
        let name_at = strtab + to_usize(u32_at(header(i))?)?;
        let kind = u32_at(header(i) + 4)? as u32;
        let name = elf
            .get(name_at..)
            .and_then(|rest| rest.split(|&b| b == 0).next())
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .ok_or_else(|| "truncated ELF string table".to_owned())?;
        sections.push((name, kind));
    }
    Ok(sections)
}

/// The regular files of a tar archive (ustar or GNU, as `dpkg-deb` writes them): path (made
/// absolute, `./` dropped) to content.
pub fn tar_files(tar: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut files = BTreeMap::new();
    let mut at = 0;
    let mut long_name: Option<String> = None;
    while at + 512 <= tar.len() {
        let header = &tar[at..at + 512];
        if header.iter().all(|&b| b == 0) {
            break;
        }
        let field = |from: usize, len: usize| {
            let f = &header[from..from + len];
            let end = f.iter().position(|&b| b == 0).unwrap_or(len);
            String::from_utf8_lossy(&f[..end]).into_owned()
        };
        let size_field = field(124, 12);
        let size = u64::from_str_radix(size_field.trim(), 8)
            .map_err(|_| format!("tar: bad size {size_field:?}"))?;
        let size = usize::try_from(size).map_err(|_| "tar: entry too large".to_owned())?;
        let data = tar
            .get(at + 512..at + 512 + size)
            .ok_or_else(|| "tar: truncated".to_owned())?;
        let kind = header[156];
        let mut name = field(0, 100);
        if &header[257..262] == b"ustar" && header[263] != b' ' {
            let prefix = field(345, 155);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        if let Some(long) = long_name.take() {
            name = long;
        }
        match kind {
            b'L' => {
                let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
                long_name = Some(String::from_utf8_lossy(&data[..end]).into_owned());
            }
            b'0' | 0 => {
                files.insert(absolute(&name), data.to_vec());
            }
            _ => {}
        }
        at += 512 + size.div_ceil(512) * 512;
    }
    Ok(files)
}

/// The regular files of a cpio archive in the "new ASCII" format (what `rpm2cpio` writes).
pub fn cpio_files(cpio: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut files = BTreeMap::new();
    let mut at = 0;
    loop {
        let header = cpio
            .get(at..at + 110)
            .ok_or_else(|| "cpio: truncated".to_owned())?;
        if &header[..5] != b"07070" {
            return Err("cpio: not the new ASCII format".to_owned());
        }
        let hex = |i: usize| {
            let f = &header[6 + i * 8..6 + (i + 1) * 8];
            usize::from_str_radix(&String::from_utf8_lossy(f), 16)
                .map_err(|_| "cpio: bad header".to_owned())
        };
        let mode = hex(1)?;
        let size = hex(6)?;
        let name_size = hex(11)?;
        let name_end = at + 110 + name_size;
        let name = cpio
            .get(at + 110..name_end.saturating_sub(1))
            .ok_or_else(|| "cpio: truncated".to_owned())?;
        let name = String::from_utf8_lossy(name).into_owned();
        if name == "TRAILER!!!" {
            break;
        }
        let data_at = name_end.next_multiple_of(4);
        let data = cpio
            .get(data_at..data_at + size)
            .ok_or_else(|| "cpio: truncated".to_owned())?;
        if mode & 0o170000 == 0o100000 {
            files.insert(absolute(&name), data.to_vec());
        }
        at = (data_at + size).next_multiple_of(4);
    }
    Ok(files)
}

/// `./usr/bin/x` or `usr/bin/x` as `/usr/bin/x`.
fn absolute(name: &str) -> String {
    format!("/{}", name.trim_start_matches("./").trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta {
        Meta::of_workspace(&crate::workspace_root()).unwrap()
    }

    #[test]
    fn both_packages_hold_the_binary_man_pages_completions_and_docs() {
        let root = crate::workspace_root();
        let bin = Path::new("/nonexistent/virt-hook");
        for format in [Format::Deb, Format::Rpm] {
            let paths: Vec<String> = contents(&root, &meta(), bin, format)
                .unwrap()
                .into_iter()
                .map(|e| e.path)
                .collect();
            for p in [
                "/usr/bin/virt-hook",
                "/usr/share/man/man1/virt-hook.1.gz",
                "/usr/share/man/man1/virt-hook-run.1.gz",
                "/usr/share/man/man5/virt-hook.toml.5.gz",
                "/usr/share/bash-completion/completions/virt-hook",
                "/usr/share/fish/vendor_completions.d/virt-hook.fish",
                "/usr/share/doc/virt-hook/README.md",
                "/usr/share/doc/virt-hook/dispatcher.md",
            ] {
                assert!(paths.iter().any(|x| x == p), "{format:?}: {p}");
            }
            let zsh = match format {
                Format::Deb => "/usr/share/zsh/vendor-completions/_virt-hook",
                Format::Rpm => "/usr/share/zsh/site-functions/_virt-hook",
            };
            assert!(paths.iter().any(|x| x == zsh), "{format:?}");
            assert_eq!(
                paths
                    .iter()
                    .any(|x| x == "/usr/share/doc/virt-hook/copyright"),
                format == Format::Deb
            );
        }
    }

    #[test]
    fn the_metadata_names_version_and_architecture_and_no_dependency() {
        let m = meta();
        assert_eq!(m.version, env!("CARGO_PKG_VERSION"));
        let control = deb_control(&m, 2300);
        assert!(control.contains(&format!("Version: {}-1\n", m.version)));
        assert!(
            !control.contains("Depends:"),
            "a static binary needs nothing"
        );
        assert!(control.contains("Installed-Size: 2300\n"));
        for line in control
            .lines()
            .skip_while(|l| !l.starts_with("Description:"))
            .skip(1)
        {
            assert!(line.starts_with(' ') && line.len() <= 80, "{line:?}");
        }
        let entries = contents(&crate::workspace_root(), &m, Path::new("/x"), Format::Rpm).unwrap();
        let spec = rpm_spec(&m, &entries, Path::new("/stage"));
        assert!(spec.contains("AutoReqProv: no\n") && !spec.contains("Requires:"));
        assert!(spec.contains("%attr(0755,root,root) /usr/bin/virt-hook\n"));
        assert!(spec.contains("cp -a '/stage/.' %{buildroot}/\n"));
        assert!(m.deb_file().ends_with(&format!("-1_{}.deb", m.deb_arch)));
    }

    /// The scripts are POSIX sh (`sh -n`), stop on errors, and never install by themselves.
    #[test]
    #[allow(clippy::disallowed_methods)] // see `output`
    fn the_maintainer_scripts_parse_and_only_refresh() {
        let scriptlets = rpm_scriptlets();
        let rpm: Vec<&str> = scriptlets.split("\n%").collect();
        let all: Vec<&str> = DEB_SCRIPTS.iter().map(|(_, s)| *s).chain(rpm).collect();
        for script in all {
            let body: String = script.lines().skip(1).collect::<Vec<_>>().join("\n");
            assert!(body.contains("set -e"), "{script}");
            let out = Command::new("sh")
                .args(["-n", "-c", &body])
                .output()
                .unwrap();
            assert!(out.status.success(), "{script}: {out:?}");
            for line in script.lines().filter(|l| !l.trim_start().starts_with('#')) {
                assert!(
                    !line.contains("virt-hook install") || line.contains("install --refresh"),
                    "{line}"
                );
            }
        }
    }

    #[test]
    fn gzip_headers_without_a_name_or_timestamp() {
        let n = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3, 0, 0];
        assert!(is_reproducible_gzip(&n));
        let mut stamped = n;
        stamped[4] = 1;
        assert!(!is_reproducible_gzip(&stamped));
        let mut named = n;
        named[3] = 0x08;
        assert!(!is_reproducible_gzip(&named));
        assert!(!is_reproducible_gzip(b".TH virt-hook 1\n"));
    }

    #[test]
    fn elf_type_reads_e_type() {
        let mut elf = b"\x7fELF".to_vec();
        elf.resize(18, 0);
        elf[16] = 2;
        assert_eq!(elf_type(&elf), Some(ET_EXEC));
        elf[16] = 3;
        assert_eq!(elf_type(&elf), Some(3));
        assert_eq!(elf_type(b"#!/bin/sh\n"), None);
        assert_eq!(elf_type(b"\x7fELF"), None);
    }

    /// The test binary itself is built with symbols: the parser finds `.symtab`.
    #[test]
    fn elf_sections_find_a_symbol_table() {
        let me = fs::read(std::env::current_exe().unwrap()).unwrap();
        let sections = elf_sections(&me).unwrap();
        assert!(
            sections
                .iter()
                .any(|(n, k)| n == ".symtab" && *k == SHT_SYMTAB)
        );
        assert!(sections.iter().any(|(n, _)| n == ".text"));
        assert!(elf_sections(b"#!/bin/sh\n").is_err());
    }

    #[test]
    fn tar_and_cpio_payloads_are_read() {
        let mut tar = vec![0u8; 512];
        tar[..18].copy_from_slice(b"./usr/bin/virt-ho\0");
        tar[124..135].copy_from_slice(b"00000000003");
        tar[156] = b'0';
        tar.extend_from_slice(b"abc");
        tar.resize(1024 + 1024, 0);
        let files = tar_files(&tar).unwrap();
        assert_eq!(
            files.get("/usr/bin/virt-ho").map(Vec::as_slice),
            Some(&b"abc"[..])
        );

        let entry = |name: &str, mode: u32, data: &[u8]| {
            let mut e = format!(
                "070701{:08x}{mode:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
                1, 0, 0, 1, 0, data.len(), 0, 0, 0, 0, name.len() + 1, 0
            )
            .into_bytes();
            e.extend_from_slice(name.as_bytes());
            e.push(0);
            while e.len() % 4 != 0 {
                e.push(0);
            }
            e.extend_from_slice(data);
            while e.len() % 4 != 0 {
                e.push(0);
            }
            e
        };
        let mut cpio = entry("./usr/share/man/man1/x.1.gz", 0o100644, b"hello");
        cpio.extend(entry("./usr/share/doc", 0o040755, b""));
        cpio.extend(entry("TRAILER!!!", 0, b""));
        let files = cpio_files(&cpio).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(
            files.get("/usr/share/man/man1/x.1.gz").map(Vec::as_slice),
            Some(&b"hello"[..])
        );
    }
}
