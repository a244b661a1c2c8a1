//! Tidy checks: properties of the source tree that code review would otherwise have to keep,
//! written as ordinary `#[test]`s so `cargo test --workspace` enforces them (rust-analyzer's
//! pattern). Today: hook-core's module groups depend on each other one way only, as
//! ARCHITECTURE.md draws them, and so do hook-cli's layers (leaves, the dispatcher, what `run`
//! and `lifecycle` share, the commands, `main`); no two modules of either crate depend on each
//! other in a cycle; no file of the repository refers to a path outside it; and `unsafe` is
//! allowed in hook-core's `process/sys.rs` and on the binary's C `main` only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// hook-core's groups and the groups each may use (besides itself). A leaf module
/// (`src/error.rs`) is a group of its own; `lib.rs` is the facade and may use everything.
pub const HOOK_CORE_LAYERS: &[(&str, &[&str])] = &[
    ("quote", &[]),
    ("xml", &[]),
    ("serde_support", &[]),
    ("error", &["quote", "serde_support"]),
    ("process", &["error", "quote", "serde_support"]),
    ("hookdir", &["error", "quote", "serde_support"]),
    ("driver", &["quote", "serde_support"]),
    ("libvirt", &["error", "quote", "process", "driver"]),
    (
        "dispatch",
        &[
            "error",
            "quote",
            "xml",
            "process",
            "hookdir",
            "driver",
            "libvirt",
            "serde_support",
        ],
    ),
];

/// hook-cli's layers, bottom to top, each with its groups (`src/x.rs` or `src/x/` is group `x`,
/// `src/main.rs` is `main`). A group may use every group of the layers below its own; in the
/// `leaves` layer groups may also use each other (one way: the cycle test keeps it so), in the
/// others never: the dispatcher uses no command and no command uses another. Groups listed that
/// do not exist yet (`logread`, `status`, `log`) are where issue 20's `status` and `log` go.
pub const HOOK_CLI_LAYERS: &[(&str, &[&str])] = &[
    (
        "leaves",
        &[
            "cli",
            "ctx",
            "drivers",
            "duration",
            "event",
            "input",
            "installed",
            "json",
            "logging",
            "logread",
            "mac",
            "style",
            "text",
        ],
    ),
    ("dispatcher", &["dispatch"]),
    ("fire", &["fire"]),
    (
        "commands",
        &[
            "check",
            "complete",
            "install",
            "lifecycle",
            "list",
            "logview",
            "run",
            "status",
        ],
    ),
    ("binary", &["main"]),
];

/// The groups each hook-cli group may use, from [`HOOK_CLI_LAYERS`].
pub fn hook_cli_allowed() -> BTreeMap<&'static str, Vec<&'static str>> {
    let mut out = BTreeMap::new();
    for (i, (layer, groups)) in HOOK_CLI_LAYERS.iter().enumerate() {
        let below = HOOK_CLI_LAYERS[..i]
            .iter()
            .flat_map(|(_, g)| g.iter().copied());
        for group in groups.iter().copied() {
            let mut ok: Vec<&str> = below.clone().collect();
            if *layer == "leaves" {
                ok.extend(groups.iter().copied().filter(|g| *g != group));
            }
            out.insert(group, ok);
        }
    }
    out
}

/// One module of a crate: its path (`process::pump`) and the modules its code (not its
/// comments) names through `crate::…`.
#[derive(Debug)]
pub struct Module {
    /// The module path inside the crate, `::`-separated; `""` for the crate root.
    pub path: String,
    /// The file it lives in.
    pub file: PathBuf,
    /// The modules it uses, resolved to module paths of this crate.
    pub uses: BTreeSet<String>,
}

/// Reads every module of the crate whose `src` directory is `src`.
pub fn modules(src: &Path) -> std::io::Result<Vec<Module>> {
    let mut files = Vec::new();
    collect_rs(src, &mut files)?;
    let paths: BTreeMap<String, PathBuf> = files
        .iter()
        .map(|f| (module_path(src, f), f.clone()))
        .collect();
    let mut out = Vec::new();
    for (path, file) in &paths {
        let text = std::fs::read_to_string(file)?;
        let mut uses = BTreeSet::new();
        for reference in crate_references(&code_lines(&text).join("\n")) {
            if let Some(m) = resolve(&reference, &paths)
                && &m != path
            {
                uses.insert(m);
            }
        }
        out.push(Module {
            path: path.clone(),
            file: file.clone(),
            uses,
        });
    }
    Ok(out)
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_rs(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// `src/process/pump.rs` → `process::pump`; `src/process/mod.rs` → `process`; `src/lib.rs` → ``.
fn module_path(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts.join("::")
}

/// The lines that are code: `//` comments (doc comments included) and `/* */` blocks dropped.
fn code_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        let t = line.trim_start();
        if in_block {
            if t.contains("*/") {
                in_block = false;
            }
            continue;
        }
        if t.starts_with("/*") {
            in_block = !t.contains("*/");
            continue;
        }
        if t.starts_with("//") {
            continue;
        }
        out.push(line.split(" //").next().unwrap_or(line));
    }
    out
}

/// Every `crate::a::b` path a text names (`$crate::…` in macros is the user's crate, not a
/// dependency), with `crate::a::{b, c::d}` expanded to `a::b` and `a::c::d`, `crate::{a, b}`
/// to `a` and `b`, and a nested group `crate::a::{b::{c, d}}` cut to `a::b`. A `use` spread
/// over several lines is read whole when the lines are given together.
fn crate_references(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let before = &rest[..i];
        rest = &rest[i + "crate::".len()..];
        if before.ends_with('$') || before.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let prefix = rest[..end].trim_end_matches(':');
        if rest[end..].starts_with('{') && (end == 0 || rest[..end].ends_with("::")) {
            for item in group_items(&rest[end + 1..]) {
                let item = item.split("::{").next().unwrap_or("");
                let item = item.split_whitespace().next().unwrap_or("");
                match (prefix.is_empty(), item) {
                    (_, "") | (true, "self") => {}
                    (false, "self") => out.push(prefix.to_string()),
                    (true, item) => out.push(item.to_string()),
                    (false, item) => out.push(format!("{prefix}::{item}")),
                }
            }
        } else {
            out.push(prefix.to_string());
        }
    }
    out
}

/// The top-level, comma-separated items of a `{…}` group whose opening brace was just read.
fn group_items(text: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&text[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&text[start..]);
    items
}

/// The longest module path that `reference` starts with, if any (the crate root does not count:
/// naming a re-export of `lib.rs` hides the real edge, so core code names the defining module).
fn resolve(reference: &str, modules: &BTreeMap<String, PathBuf>) -> Option<String> {
    let segments: Vec<&str> = reference.split("::").collect();
    (1..=segments.len())
        .rev()
        .map(|n| segments[..n].join("::"))
        .find(|candidate| modules.contains_key(candidate))
}

/// The group a module belongs to: its first path segment (`process::pump` → `process`).
pub fn group_of(module: &str) -> &str {
    module.split("::").next().unwrap_or("")
}

/// Every edge between groups that [`HOOK_CORE_LAYERS`] does not allow, as `from -> to (file)`.
pub fn layer_violations(modules: &[Module]) -> Vec<String> {
    let allowed = HOOK_CORE_LAYERS
        .iter()
        .map(|(g, ok)| (*g, ok.to_vec()))
        .collect();
    violations(modules, &allowed, "HOOK_CORE_LAYERS")
}

/// Every edge between groups that `allowed` (from the table named `table`) does not allow, as
/// `from -> to: file uses module`. The crate root (`lib.rs`) is not checked.
pub fn violations(
    modules: &[Module],
    allowed: &BTreeMap<&str, Vec<&str>>,
    table: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    for m in modules {
        let from = group_of(&m.path);
        if from.is_empty() {
            continue; // lib.rs, the facade
        }
        let Some(ok) = allowed.get(from) else {
            out.push(format!(
                "{} is in group `{from}`, which {table} does not list",
                m.file.display()
            ));
            continue;
        };
        for used in &m.uses {
            let to = group_of(used);
            if to != from && !ok.contains(&to) {
                out.push(format!("{from} -> {to}: {} uses {used}", m.file.display()));
            }
        }
    }
    out
}

/// A cycle among the modules' `uses` edges, as the module paths around it, if there is one.
pub fn find_cycle(modules: &[Module]) -> Option<Vec<String>> {
    let graph: BTreeMap<&str, Vec<&str>> = modules
        .iter()
        .map(|m| (m.path.as_str(), m.uses.iter().map(String::as_str).collect()))
        .collect();
    // 0: unvisited, 1: on the stack, 2: done.
    let mut state: BTreeMap<&str, u8> = graph.keys().map(|k| (*k, 0)).collect();
    fn visit<'a>(
        node: &'a str,
        graph: &BTreeMap<&'a str, Vec<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        state.insert(node, 1);
        stack.push(node);
        for &next in graph.get(node).map(Vec::as_slice).unwrap_or(&[]) {
            match state.get(next).copied().unwrap_or(2) {
                0 => {
                    if let Some(c) = visit(next, graph, state, stack) {
                        return Some(c);
                    }
                }
                1 => {
                    let from = stack.iter().position(|n| *n == next).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        stack[from..].iter().map(|s| s.to_string()).collect();
                    cycle.push(next.to_string());
                    return Some(cycle);
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node, 2);
        None
    }
    let roots: Vec<&str> = graph.keys().copied().collect();
    for root in roots {
        if state[root] == 0
            && let Some(c) = visit(root, &graph, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook_core_modules() -> Vec<Module> {
        modules(&crate::workspace_root().join("hook-core/src")).expect("read hook-core/src")
    }

    #[test]
    fn hook_core_groups_depend_one_way() {
        let violations = layer_violations(&hook_core_modules());
        assert!(
            violations.is_empty(),
            "hook-core's groups must only use the groups HOOK_CORE_LAYERS allows \
             (xtask/src/tidy.rs; ARCHITECTURE.md draws them):\n{}",
            violations.join("\n")
        );
    }

    #[test]
    fn hook_core_modules_have_no_cycle() {
        if let Some(cycle) = find_cycle(&hook_core_modules()) {
            panic!(
                "hook-core modules depend on each other in a cycle: {}",
                cycle.join(" -> ")
            );
        }
    }

    #[test]
    fn every_hook_core_group_is_listed() {
        let listed: BTreeSet<&str> = HOOK_CORE_LAYERS.iter().map(|(g, _)| *g).collect();
        for m in hook_core_modules() {
            let g = group_of(&m.path);
            assert!(
                g.is_empty() || listed.contains(g),
                "{g} is not in HOOK_CORE_LAYERS"
            );
        }
    }

    fn hook_cli_modules() -> Vec<Module> {
        modules(&crate::workspace_root().join("hook-cli/src")).expect("read hook-cli/src")
    }

    #[test]
    fn hook_cli_layers_depend_downward_only() {
        let ms = hook_cli_modules();
        assert!(ms.len() > 20, "read {} modules", ms.len());
        let violations = violations(&ms, &hook_cli_allowed(), "HOOK_CLI_LAYERS");
        assert!(
            violations.is_empty(),
            "hook-cli's modules must only use the layers below their own, and no command \
             another command (HOOK_CLI_LAYERS in xtask/src/tidy.rs; ARCHITECTURE.md's code \
             map):\n{}",
            violations.join("\n")
        );
    }

    #[test]
    fn hook_cli_modules_have_no_cycle() {
        if let Some(cycle) = find_cycle(&hook_cli_modules()) {
            panic!(
                "hook-cli modules depend on each other in a cycle: {}",
                cycle.join(" -> ")
            );
        }
    }

    #[test]
    fn hook_cli_layers_allow_only_downward_edges() {
        let allowed = hook_cli_allowed();
        assert!(allowed["list"].contains(&"text"));
        assert!(allowed["check"].contains(&"dispatch"));
        assert!(allowed["input"].contains(&"text"));
        assert!(!allowed["list"].contains(&"check"));
        assert!(!allowed["dispatch"].contains(&"list"));
        assert!(!allowed["fire"].contains(&"run"));
        assert!(!allowed["text"].contains(&"text"));
        let ms = [fake("text", &["list"]), fake("list", &["check::Finding"])];
        assert_eq!(
            violations(&ms, &allowed, "HOOK_CLI_LAYERS"),
            [
                "text -> list: text.rs uses list",
                "list -> check: list.rs uses check::Finding"
            ]
        );
    }

    // The checker itself: a test that cannot fail is no test.
    fn fake(path: &str, uses: &[&str]) -> Module {
        Module {
            path: path.into(),
            file: PathBuf::from(format!("{path}.rs")),
            uses: uses.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn the_checker_sees_a_wrong_way_edge_and_a_cycle() {
        let ms = [
            fake("error", &["hookdir::discover"]),
            fake("hookdir::discover", &["error"]),
        ];
        assert_eq!(
            layer_violations(&ms),
            ["error -> hookdir: error.rs uses hookdir::discover"]
        );
        assert!(find_cycle(&ms).is_some());
        assert!(find_cycle(&[fake("a", &["b"]), fake("b", &[])]).is_none());
    }

    #[test]
    fn references_are_read_from_code_only() {
        assert_eq!(
            crate_references("use crate::process::{pump, spawn::Child, self};"),
            ["process::pump", "process::spawn::Child", "process"]
        );
        assert_eq!(
            crate_references("    $crate::driver::parse(x)"),
            Vec::<String>::new()
        );
        assert_eq!(crate_references("x: crate::error::Args,"), ["error::Args"]);
        assert_eq!(
            crate_references("use crate::{\n    ctx::{Ctx, Output},\n    list,\n};"),
            ["ctx", "list"]
        );
        assert_eq!(
            code_lines("/// [`crate::dispatch`]\nuse crate::xml; // crate::hookdir\n"),
            ["use crate::xml;"]
        );
    }

    /// Every file under `dir`, skipping build output, git's files and CI's own scripts.
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if matches!(name.to_str(), Some("target" | ".git" | ".ci")) {
                continue;
            }
            match entry.file_type() {
                Ok(t) if t.is_dir() => walk(&path, out),
                Ok(t) if t.is_file() => out.push(path),
                _ => {}
            }
        }
    }

    /// The repository stands alone: the design notes and specification the project started
    /// from live outside it and are not shipped (`docs/` holds the project's own account).
    #[test]
    fn nothing_refers_to_a_path_outside_the_repository() {
        let root = crate::workspace_root();
        let outside = concat!("..", "/shared");
        let mut files = Vec::new();
        walk(&root, &mut files);
        assert!(files.len() > 50, "walked {} files", files.len());
        let offending: Vec<String> = files
            .iter()
            .filter(|p| {
                std::fs::read(p)
                    .map(|b| b.windows(outside.len()).any(|w| w == outside.as_bytes()))
                    .unwrap_or(false)
            })
            .map(|p| p.strip_prefix(&root).unwrap_or(p).display().to_string())
            .collect();
        assert!(
            offending.is_empty(),
            "these files refer to {outside}, outside the repository: {offending:?}"
        );
    }

    /// `unsafe` stays where ARCHITECTURE.md's invariant puts it: the workspace denies
    /// `unsafe_code`, and only two places opt out: hook-core's `process/sys.rs` (every unsafe
    /// call) and, once, the binary's C `main` (`#[unsafe(no_mangle)]`, no unsafe block).
    #[test]
    fn unsafe_code_is_allowed_in_two_places_only() {
        let root = crate::workspace_root();
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("read Cargo.toml");
        assert!(
            manifest.contains("unsafe_code = \"deny\""),
            "the workspace no longer denies unsafe_code"
        );
        let needle = concat!("allow(", "unsafe_code)");
        let mut files = Vec::new();
        walk(&root, &mut files);
        let mut seen: Vec<(String, usize)> = files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .filter_map(|p| {
                let text = std::fs::read_to_string(p).ok()?;
                let n = text.matches(needle).count();
                let rel = p.strip_prefix(&root).unwrap_or(p).display().to_string();
                (n > 0).then_some((rel, n))
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                ("hook-cli/src/main.rs".to_owned(), 1),
                ("hook-core/src/process/sys.rs".to_owned(), 1),
            ],
            "`{needle}` outside its two places (ARCHITECTURE.md, Invariants)"
        );
    }
}
