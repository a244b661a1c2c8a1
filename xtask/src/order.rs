//! The installed dispatcher's code order: `cargo xtask dist` places the functions one libvirt
//! event runs at the front of the binary's code, so that an event touches a handful of its
//! pages instead of pages all over its 3 MiB of code.
//!
//! Why it matters: the kernel maps a program's code as it is first executed, one page fault per
//! 64 KiB window touched (fault-around), and unmaps it all when the program exits. Linked in
//! the compiler's order, the dispatcher's path through glibc's start-up, std, hook-core and the
//! dispatcher itself touched about 30 of the 46 windows of its code: on the 2-core VM of
//! `docs/performance.md` each such fault costs about 5 µs and its unmapping about 3 µs, and
//! they were the largest part of what the dispatcher adds to an event (`cargo xtask bench`,
//! section (g)). Ordered, the same path touches about 6.
//!
//! How: the binary `dist` just built (unstripped) is run as the `qemu` hook for a few events
//! under valgrind's callgrind, which names every function it executed; those names (exact
//! symbols: Rust's hashes included), plus the ones callgrind cannot see (the string
//! functions' CPU-specific variants, which valgrind replaces by its own, every `ifunc`
//! resolver, which glibc runs at start-up, and the code the child runs between `vfork` and
//! `exec`), go to a symbol ordering file for lld (Rust's default linker on x86_64 Linux), and
//! the binary crate alone is linked again with it (`cargo rustc`: the dependencies and their
//! symbol names stay as they are). A function renamed since, or one of another CPU's variants,
//! is simply not placed first: the order changes the speed, never the behaviour. Without
//! valgrind the binary is linked in the compiler's order, with a warning.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The events profiled: a script that succeeds, one that fails (the failure path and its
/// line), and a cleanup event, each with the per-guest scripts `dir` holds for it.
const EVENTS: [(&str, &str, &str, &str); 3] = [
    ("prepare", "begin", "10-ok", "#!/bin/sh\nexit 0\n"),
    (
        "start",
        "begin",
        "10-fails",
        "#!/bin/sh\necho 'no GPU for this guest' >&2\nexit 1\n",
    ),
    ("release", "end", "10-ok", "#!/bin/sh\nexit 0\n"),
];

/// What libvirt gives the hook on stdin (a short domain document).
const DOMAIN: &str = "<domain type='kvm'>\n  <name>guest</name>\n  \
                      <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>\n  \
                      <memory unit='KiB'>1048576</memory>\n</domain>\n";

/// Symbols always placed first when the binary has them: the entry point and the C run-time's
/// start-up, which callgrind names differently ("(below main)"), and what the `vfork`ed child
/// runs before `exec` (callgrind does not follow it).
const ALWAYS: &[&str] = &[
    "_start",
    "_init",
    "_fini",
    "frame_dummy",
    "register_tm_clones",
    "deregister_tm_clones",
    "__do_global_dtors_aux",
    "__libc_start_main",
    "__libc_start_call_main",
    "__libc_setup_tls",
    "__libc_init_first",
    "__libc_init_secure",
    "_dl_relocate_static_pie",
    "_dl_non_dynamic_init",
    "_dl_aux_init",
    "__tunables_init",
    "__ctype_init",
    "_IO_no_init",
    "__spawni",
    "__spawnix",
    "__spawni_child",
    "__sigprocmask",
    "__pthread_sigmask",
    "__libc_sigaction",
    "__sigaction",
    "__execve",
    "execve",
    "__clone3",
    "__clone_internal",
    "_exit",
    "_Exit",
    "exit",
];

/// The ordering file written for `binary`, and how many of its symbols it names.
pub struct Order {
    /// lld's `--symbol-ordering-file`.
    pub file: PathBuf,
    /// Symbols in it.
    pub symbols: usize,
}

/// Whether valgrind can be run here.
pub fn have_valgrind() -> bool {
    #[allow(clippy::disallowed_methods)] // xtask runs tools, not hooks
    let status = Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    status.is_ok_and(|s| s.success())
}

/// Profiles `binary` (unstripped) as the dispatcher in a scratch hooks directory under `work`
/// and writes the ordering file there.
pub fn profile(binary: &Path, work: &Path) -> Result<Order, String> {
    let io =
        |what: &str, p: &Path, e: std::io::Error| format!("order: {what} {}: {e}", p.display());
    if work.exists() {
        fs::remove_dir_all(work).map_err(|e| io("removing", work, e))?;
    }
    let hooks = work.join("hooks");
    // The binary as libvirt's `qemu` hook: its file name makes it the dispatcher.
    let hook = hooks.join("qemu");
    fs::create_dir_all(&hooks).map_err(|e| io("creating", &hooks, e))?;
    fs::copy(binary, &hook).map_err(|e| io("copying the binary to", &hook, e))?;
    let domain = work.join("domain.xml");
    fs::write(&domain, DOMAIN).map_err(|e| io("writing", &domain, e))?;
    let mut names: Vec<Vec<String>> = Vec::new();
    for (i, (op, subop, script, body)) in EVENTS.iter().enumerate() {
        let dir = hooks.join("qemu.d/guest").join(op).join(subop);
        fs::create_dir_all(&dir).map_err(|e| io("creating", &dir, e))?;
        let path = dir.join(script);
        fs::write(&path, body).map_err(|e| io("writing", &path, e))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .map_err(|e| io("chmod", &path, e))?;
        let out = work.join(format!("callgrind.{i}"));
        let stdin = fs::File::open(&domain).map_err(|e| io("opening", &domain, e))?;
        #[allow(clippy::disallowed_methods)] // xtask runs tools, not hooks
        let status = Command::new("valgrind")
            .arg("--tool=callgrind")
            .arg("--demangle=no")
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(&hook)
            .args(["guest", op, subop, "-"])
            // As libvirt runs its hooks: a near-empty environment.
            .env_clear()
            .env("LC_ALL", "C")
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .stdin(stdin)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("order: cannot run valgrind: {e}"))?;
        // The failing script's event fails (exit 1); any other status means the run went wrong.
        let expected = if script.contains("fails") { 1 } else { 0 };
        if status.code() != Some(expected) {
            return Err(format!(
                "order: the dispatcher under callgrind for `qemu guest {op} {subop} -` ended \
                 with {status}, not exit {expected}"
            ));
        }
        let text = fs::read_to_string(&out).map_err(|e| io("reading", &out, e))?;
        names.push(executed(&text));
    }
    let defined = defined_symbols(binary)?;
    let ordered = ordering(&names, &defined);
    let file = work.join("symbol-order.txt");
    let mut body = ordered.join("\n");
    body.push('\n');
    fs::write(&file, body).map_err(|e| io("writing", &file, e))?;
    Ok(Order {
        file,
        symbols: ordered.len(),
    })
}

/// The function names a callgrind output file defines (`fn=(id) name`, `cfn=(id) name`), in
/// order of first appearance.
pub fn executed(callgrind: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for line in callgrind.lines() {
        let Some(rest) = line
            .strip_prefix("fn=(")
            .or_else(|| line.strip_prefix("cfn=("))
        else {
            continue;
        };
        // `(id) name` defines the name; a bare `(id)` refers to one defined before.
        let Some((_, name)) = rest.split_once(") ") else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() || name.starts_with("0x") || name.starts_with('(') {
            continue;
        }
        if seen.insert(name.to_owned()) {
            out.push(name.to_owned());
        }
    }
    out
}

/// The text symbols `nm --defined-only` lists for `binary`.
fn defined_symbols(binary: &Path) -> Result<BTreeSet<String>, String> {
    #[allow(clippy::disallowed_methods)] // xtask runs tools, not hooks
    let out = Command::new("nm")
        .arg("--defined-only")
        .arg(binary)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("order: cannot run nm (binutils): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "order: nm {} failed: {}",
            binary.display(),
            out.status
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_addr, kind, name) = (f.next()?, f.next()?, f.next()?);
            matches!(kind, "t" | "T" | "W" | "w" | "i").then(|| name.to_owned())
        })
        .collect())
}

/// The ordering, hottest first, each symbol once and only if the binary defines it: the
/// functions the first (commonest) event ran, then the AVX-512 (`evex`) twins of the AVX2
/// variants among them (callgrind's CPU has AVX2 only; a host with AVX-512 picks those), every
/// `*_ifunc` resolver (glibc runs them all at start-up), `ALWAYS`, and last what only the
/// other events ran. A string function named without its variant (`memcpy`, when valgrind
/// replaced it) brings every `__memcpy_*` variant, after all of that.
pub fn ordering(events: &[Vec<String>], defined: &BTreeSet<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut push = |name: &str, out: &mut Vec<String>| {
        if defined.contains(name) && seen.insert(name.to_owned()) {
            out.push(name.to_owned());
        }
    };
    let first = events.first().map(Vec::as_slice).unwrap_or_default();
    for name in first {
        push(name, &mut out);
    }
    for name in first {
        let twin = name
            .replace("_avx2", "_evex")
            .replace("_avx_unaligned", "_evex_unaligned");
        if twin != *name {
            push(&twin, &mut out);
        }
    }
    for sym in defined.iter().filter(|s| s.ends_with("_ifunc")) {
        push(sym, &mut out);
    }
    for name in ALWAYS {
        push(name, &mut out);
    }
    for name in events.iter().skip(1).flatten() {
        push(name, &mut out);
    }
    // C names without a variant suffix (Rust's are mangled `_ZN…`).
    let bases: Vec<&str> = events
        .iter()
        .flatten()
        .map(String::as_str)
        .filter(|n| !n.starts_with('_'))
        .collect();
    for sym in defined {
        let variant = bases.iter().any(|base| {
            sym.strip_prefix("__")
                .and_then(|s| s.strip_prefix(base))
                .is_some_and(|rest| rest.starts_with('_'))
        });
        if variant {
            push(sym, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callgrind_names_are_read_once_and_addresses_skipped() {
        let text = "fn=(1) main\ncalls=1 0\ncfn=(2) _ZN9virt_hook4main17h0123456789abcdefE\n\
                    fn=(2)\ncfn=(3) 0x0000000000401000\nfn=(4) (below main)\nfn=(5) memcpy\n\
                    cfn=(1)\nfn=(6) main\n";
        assert_eq!(
            executed(text),
            ["main", "_ZN9virt_hook4main17h0123456789abcdefE", "memcpy"]
        );
    }

    #[test]
    fn the_ordering_puts_the_first_event_first_and_keeps_only_defined_symbols() {
        let defined: BTreeSet<String> = [
            "main",
            "hot",
            "__strlen_avx2",
            "__strlen_evex",
            "__strlen_sse2",
            "__memcpy_avx_unaligned_erms",
            "__memcpy_evex_unaligned_erms",
            "__memcpy_sse2_unaligned",
            "__memcpyx",
            "strlen_ifunc",
            "_start",
            "failure_path",
            "unrelated",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let events = [
            names(&["main", "hot", "__strlen_avx2", "gone_since"]),
            names(&["main", "failure_path", "memcpy"]),
        ];
        assert_eq!(
            ordering(&events, &defined),
            [
                "main",
                "hot",
                "__strlen_avx2",
                "__strlen_evex",
                "strlen_ifunc",
                "_start",
                "failure_path",
                "__memcpy_avx_unaligned_erms",
                "__memcpy_evex_unaligned_erms",
                "__memcpy_sse2_unaligned",
            ]
        );
    }
}
