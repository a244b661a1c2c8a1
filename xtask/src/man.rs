//! `cargo xtask man`: generates `virt-hook`'s man pages (`docs/man/virt-hook.1` and one page
//! per subcommand, `virt-hook-run.1`…) with `clap_mangen`, and its shell completions
//! (`completions/virt-hook.bash`, `_virt-hook` for zsh, `virt-hook.fish`) with `clap_complete`,
//! from the clap definition the binary parses with (`hook_cli::command`), made to ask the
//! binary (`virt-hook __complete`) for each driver's operations and the guests; and
//! `docs/man/virt-hook.toml.5`, the dispatcher's settings, from its Markdown source. A test
//! fails when the committed files are stale; `--check` does the same from the command line.

use std::path::{Path, PathBuf};

use clap_complete::Shell;

/// Where the man pages go, relative to the workspace root.
pub const MAN_DIR: &str = "docs/man";
/// Where the completions go, relative to the workspace root.
pub const COMPLETIONS_DIR: &str = "completions";

const BIN: &str = "virt-hook";

/// The source of `virt-hook.toml(5)`, the dispatcher's settings (relative to the workspace
/// root): a small Markdown ([`markdown_to_roff`] says which part of it).
pub const TOML_PAGE_SOURCE: &str = "docs/man/virt-hook.toml.5.md";

/// Every generated file: its path relative to the workspace root, and its content.
pub fn render() -> Result<Vec<(PathBuf, Vec<u8>)>, String> {
    let mut files = Vec::new();
    let mut cmd = hook_cli::command();
    // Built, the command has what the binary shows: the `help` subcommand, propagated globals.
    cmd.build();
    files.push((
        Path::new(MAN_DIR).join(format!("{BIN}.1")),
        man_page(cmd.clone())?,
    ));
    let version = cmd.get_version().unwrap_or_default().to_owned();
    let source = crate::workspace_root().join(TOML_PAGE_SOURCE);
    let markdown = std::fs::read_to_string(&source)
        .map_err(|e| format!("man: cannot read {}: {e}", source.display()))?;
    files.push((
        Path::new(MAN_DIR).join(format!("{BIN}.toml.5")),
        markdown_to_roff(&format!("{BIN}.toml"), 5, &version, &markdown).into_bytes(),
    ));
    for sub in cmd.get_subcommands() {
        let name = format!("{BIN}-{}", sub.get_name());
        // A subcommand's page is titled `virt-hook-run` and its synopsis reads `virt-hook run`.
        let sub = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("{BIN} {}", sub.get_name()))
            .version(version.clone());
        files.push((Path::new(MAN_DIR).join(format!("{name}.1")), man_page(sub)?));
    }
    for (shell, file) in [
        (Shell::Bash, format!("{BIN}.bash")),
        (Shell::Zsh, format!("_{BIN}")),
        (Shell::Fish, format!("{BIN}.fish")),
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut hook_cli::command(), BIN, &mut out);
        let script = String::from_utf8(out).map_err(|e| format!("man: not UTF-8: {e}"))?;
        let script = ask_the_binary(shell, &script)?;
        files.push((Path::new(COMPLETIONS_DIR).join(file), script.into_bytes()));
    }
    Ok(files)
}

/// What the completion scripts ask `virt-hook __complete -- WORDS…` (`hook-cli`'s
/// `complete.rs`): each driver's operations and sub-operations, and guest names, which only
/// the installed binary knows (the guests of this host). It prints the candidates and exits 0,
/// or exits 1 when the word is not one of those, and clap's static completion answers.
const DYNAMIC_NOTE: &str = "\
# Each driver's operations and sub-operations, and guest names, are asked of virt-hook itself
# (`virt-hook __complete -- WORDS...`; exit status 1: not such a word, the completion above
# answers).
";

const BASH_DYNAMIC: &str = r#"_virt__hook_dynamic() {
    local out
    if out=$("${COMP_WORDS[0]}" __complete -- "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null); then
        local IFS=$'\n'
        COMPREPLY=($(compgen -W "$out" -- "${COMP_WORDS[COMP_CWORD]}"))
        return 0
    fi
    _virt__hook "$@"
}
"#;

const ZSH_DYNAMIC: &str = r#"_virt-hook() {
    local out
    if out=$(${words[1]} __complete -- "${(@)words[2,CURRENT]}" 2>/dev/null); then
        local -a names
        names=(${(f)out})
        compadd -a names
        return
    fi
    _virt-hook_static "$@"
}

"#;

const FISH_DYNAMIC: &str = r#"function __fish_virt_hook_dynamic
    set -l current (commandline -ct)
    set -l words (commandline -opc) "$current"
    $words[1] __complete -- $words[2..-1] 2>/dev/null
end
complete -c virt-hook -f -n '__fish_virt_hook_dynamic >/dev/null' -a '(__fish_virt_hook_dynamic)'
"#;

/// The options whose values `virt-hook __complete` answers (fish needs them named): `run
/// --object GUEST`, `log --event OP`.
const FISH_DYNAMIC_OPTIONS: [(&str, &str); 2] = [("run", "object"), ("log", "event")];

/// clap_complete's static script for `shell`, made to ask the binary first for the words only
/// it knows ([`DYNAMIC_NOTE`]): bash and zsh through a function that falls back to clap's,
/// fish through one more `complete` rule. Fails when clap_complete's script no longer has the
/// shape this relies on.
fn ask_the_binary(shell: Shell, script: &str) -> Result<String, String> {
    let replace = |script: &str, from: &str, to: &str| -> Result<String, String> {
        if script.contains(from) {
            Ok(script.replace(from, to))
        } else {
            Err(format!(
                "man: the {shell} completion no longer contains {from:?}; adapt xtask/src/man.rs"
            ))
        }
    };
    match shell {
        Shell::Bash => {
            // clap_complete 4.6 mangles the `-` of `virt-hook` one way in the names it
            // assigns (`virt__hook__subcmd__run`) and another in the `case` labels that test
            // them (`virt__subcmd__hook__subcmd__run`), so no subcommand's options or
            // drivers were ever offered; the labels are made to match.
            let script = script.replace("virt__subcmd__hook__subcmd__", "virt__hook__subcmd__");
            let script = replace(
                &script,
                "complete -F _virt__hook ",
                "complete -F _virt__hook_dynamic ",
            )?;
            Ok(format!("{script}\n{DYNAMIC_NOTE}{BASH_DYNAMIC}"))
        }
        Shell::Zsh => {
            let script = replace(script, "\n_virt-hook() {\n", "\n_virt-hook_static() {\n")?;
            let end = "\nif [ \"$funcstack[1]\" = \"_virt-hook\" ]; then";
            replace(
                &script,
                end,
                &format!("\n{DYNAMIC_NOTE}{ZSH_DYNAMIC}{}", &end[1..]),
            )
        }
        _ => {
            // fish completes an option's value from that option's rule alone: the options whose
            // values the binary answers get it as their candidates.
            let mut script = script.to_owned();
            for (sub, long) in FISH_DYNAMIC_OPTIONS {
                let start = format!(
                    "complete -c {BIN} -n \"__fish_virt_hook_using_subcommand {sub}\" -l {long} "
                );
                let mut found = false;
                script = script
                    .lines()
                    .map(|line| {
                        if line.starts_with(&start) && line.ends_with(" -r") {
                            found = true;
                            format!("{line} -f -a '(__fish_virt_hook_dynamic)'\n")
                        } else {
                            format!("{line}\n")
                        }
                    })
                    .collect();
                if !found {
                    return Err(format!(
                        "man: the fish completion has no rule for {sub} --{long}; adapt \
                         xtask/src/man.rs"
                    ));
                }
            }
            Ok(format!("{script}\n{DYNAMIC_NOTE}{FISH_DYNAMIC}"))
        }
    }
}

fn man_page(cmd: clap::Command) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut out)
        .map_err(|e| format!("man: cannot render the man page: {e}"))?;
    let page = String::from_utf8(out).map_err(|e| format!("man: not UTF-8: {e}"))?;
    Ok(synopsis_values(&preformat_extra(&page), &cmd).into_bytes())
}

/// Text escaped for roff: backslashes, and hyphens (`\-`, so they are not hyphenation points
/// and copy as ASCII).
fn roff_escape(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

/// A line of text that may start with `.` or `'`, kept from starting a roff request.
fn text_line(line: String) -> String {
    if line.starts_with('.') || line.starts_with('\'') {
        format!("\\&{line}\n")
    } else {
        format!("{line}\n")
    }
}

/// clap_mangen's SYNOPSIS names an option without its value (`[--hooks-dir]`); each option
/// that takes one gets its value names after it, as in the OPTIONS section and `--help`
/// (`[--hooks-dir <DIR>]`). Generic: from `cmd`'s arguments.
fn synopsis_values(page: &str, cmd: &clap::Command) -> String {
    let Some(start) = page.find(".SH SYNOPSIS\n") else {
        return page.to_owned();
    };
    let end = page[start + 1..]
        .find("\n.SH ")
        .map_or(page.len(), |i| start + 1 + i);
    let mut synopsis = page[start..end].to_owned();
    for arg in cmd.get_arguments() {
        if arg.is_positional() || !arg.get_action().takes_values() || arg.is_hide_set() {
            continue;
        }
        let names = arg.get_value_names().map_or_else(
            || vec![arg.get_id().as_str().to_uppercase()],
            |v| v.iter().map(ToString::to_string).collect(),
        );
        let value: Vec<String> = names
            .iter()
            .map(|n| format!("<\\fI{}\\fR>", roff_escape(n)))
            .collect();
        let flag = match (arg.get_long(), arg.get_short()) {
            (Some(long), _) => format!("\\fB\\-\\-{}\\fR", roff_escape(long)),
            (None, Some(short)) => format!("\\fB\\-{}\\fR", roff_escape(&short.to_string())),
            (None, None) => continue,
        };
        if let Some(at) = synopsis.find(&flag) {
            let at = at + flag.len();
            synopsis.insert_str(at, &format!(" {}", value.join(" ")));
        }
    }
    format!("{}{}{}", &page[..start], synopsis, &page[end..])
}

/// A man page from the small Markdown of [`TOML_PAGE_SOURCE`]: `# HEADING` lines (sections),
/// paragraphs separated by blank lines, `- ` list items (continued by indented lines), fenced
/// code blocks (shown as written), and inline `**bold**` and `` `code` `` (both bold) and
/// `**name**(N)` references. Nothing else is Markdown here.
pub fn markdown_to_roff(title: &str, section: u8, version: &str, markdown: &str) -> String {
    let mut out = format!(".TH {} {section} \"{BIN} {version}\"\n", roff_escape(title));
    let mut in_code = false;
    let mut paragraph = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            out.push_str(if in_code {
                ".fi\n.RE\n"
            } else {
                ".PP\n.RS 4\n.nf\n"
            });
            in_code = !in_code;
            paragraph = false;
        } else if in_code {
            out.push_str(&text_line(roff_escape(line)));
        } else if let Some(heading) = line.strip_prefix("# ") {
            out.push_str(&format!(".SH {}\n", roff_escape(heading)));
            paragraph = true;
        } else if line.trim().is_empty() {
            paragraph = false;
        } else if let Some(item) = line.strip_prefix("- ") {
            out.push_str(".IP \\(bu 2\n");
            out.push_str(&text_line(inline(item)));
            paragraph = true;
        } else {
            if !paragraph {
                out.push_str(".PP\n");
                paragraph = true;
            }
            out.push_str(&text_line(inline(line.trim_start())));
        }
    }
    out
}

/// One line of [`markdown_to_roff`]'s text: escaped, with `**bold**` and `` `code` `` in bold.
fn inline(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    loop {
        let next = [("**", "**"), ("`", "`")]
            .into_iter()
            .filter_map(|(open, close)| rest.find(open).map(|i| (i, open, close)))
            .min_by_key(|(i, _, _)| *i);
        let Some((i, open, close)) = next else {
            out.push_str(&roff_escape(rest));
            break;
        };
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(close) else {
            out.push_str(&roff_escape(rest));
            break;
        };
        out.push_str(&roff_escape(&rest[..i]));
        out.push_str(&format!("\\fB{}\\fR", roff_escape(&after[..j])));
        rest = &after[j + close.len()..];
    }
    out
}

/// clap_mangen puts `after_help` (the examples, aligned in columns, and the exit status) in a
/// filled `EXTRA` section, where man re-wraps the columns into a jumble. Shown as written
/// (`.nf` … `.fi`) under the heading `EXAMPLES` instead.
fn preformat_extra(page: &str) -> String {
    let Some(start) = page.find(".SH EXTRA\n") else {
        return page.to_owned();
    };
    let body = start + ".SH EXTRA\n".len();
    let end = page[body..]
        .find("\n.SH ")
        .map_or(page.len(), |i| body + i + 1);
    format!(
        "{}.SH EXAMPLES\n.nf\n{}.fi\n{}",
        &page[..start],
        &page[body..end],
        &page[end..]
    )
}

/// The generated files that differ from the committed ones under `root` (missing included).
pub fn stale(root: &Path) -> Result<Vec<PathBuf>, String> {
    Ok(render()?
        .into_iter()
        .filter(|(path, content)| std::fs::read(root.join(path)).ok().as_ref() != Some(content))
        .map(|(path, _)| path)
        .collect())
}

/// Runs the task: writes the files, or with `--check` fails when one is stale.
pub fn run(args: impl Iterator<Item = String>) -> Result<(), String> {
    let mut check = false;
    for arg in args {
        match arg.as_str() {
            "--check" => check = true,
            other => {
                return Err(format!(
                    "man: unknown argument {other:?} (usage: man [--check])"
                ));
            }
        }
    }
    let root = crate::workspace_root();
    if check {
        let stale = stale(&root)?;
        if stale.is_empty() {
            println!("man pages and completions are up to date");
            return Ok(());
        }
        let list: Vec<String> = stale.iter().map(|p| p.display().to_string()).collect();
        return Err(format!(
            "man: stale: {}; run `cargo xtask man`",
            list.join(", ")
        ));
    }
    for (path, content) in render()? {
        let path = root.join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("man: cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(&path, content)
            .map_err(|e| format!("man: cannot write {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_man_pages_and_completions_are_current() {
        let stale = stale(&crate::workspace_root()).unwrap();
        assert!(
            stale.is_empty(),
            "stale or missing: {stale:?}; run `cargo xtask man` and commit the result"
        );
    }

    #[test]
    fn the_examples_are_shown_as_written() {
        let page = "x\n.SH EXTRA\nExamples:\n  a    b\n.SH VERSION\nv1\n";
        assert_eq!(
            preformat_extra(page),
            "x\n.SH EXAMPLES\n.nf\nExamples:\n  a    b\n.fi\n.SH VERSION\nv1\n"
        );
        assert_eq!(preformat_extra("no extra\n"), "no extra\n");
    }

    #[test]
    fn the_completions_ask_the_binary_for_operations_and_guests() {
        for (path, content) in render().unwrap() {
            if path.starts_with(COMPLETIONS_DIR) {
                let script = String::from_utf8(content).unwrap();
                assert!(script.contains("__complete -- "), "{}", path.display());
                // The drivers are clap's static possible values, from the driver crates.
                assert!(script.contains("network"), "{}", path.display());
            }
        }
    }

    #[test]
    fn the_synopsis_names_each_options_value() {
        let files = render().unwrap();
        let page = |name: &str| {
            files
                .iter()
                .find(|(p, _)| p.ends_with(name))
                .map(|(_, c)| String::from_utf8_lossy(c).into_owned())
                .unwrap()
        };
        let root = page("virt-hook.1");
        assert!(
            root.contains("\n.SH NAME\nvirt\\-hook \\- see which"),
            "a clean NAME: {root}"
        );
        let synopsis = |p: &str| {
            p[p.find(".SH SYNOPSIS").unwrap()..]
                .lines()
                .nth(1)
                .unwrap()
                .to_owned()
        };
        assert!(synopsis(&root).contains("\\fB\\-\\-hooks\\-dir\\fR <\\fIDIR\\fR>]"));
        let run = synopsis(&page("virt-hook-run.1"));
        for value in ["<\\fIDURATION\\fR>", "<\\fIFILE|\\-\\fR>", "<\\fINAME\\fR>"] {
            assert!(run.contains(value), "{value}: {run}");
        }
        assert!(
            run.contains("[\\fB\\-\\-json\\fR]"),
            "flags take no value: {run}"
        );
    }

    #[test]
    fn the_settings_page_is_rendered_from_its_markdown() {
        let roff = markdown_to_roff(
            "x.toml",
            5,
            "1.0",
            "# NAME\nx.toml - a file\n\n# KEYS\n- `timeout` is **on**\n  by default\n\ntext\n.dot\n\n```\na = \"-1\"\n```\n",
        );
        assert_eq!(
            roff,
            ".TH x.toml 5 \"virt-hook 1.0\"\n.SH NAME\nx.toml \\- a file\n.SH KEYS\n.IP \\(bu 2\n\
             \\fBtimeout\\fR is \\fBon\\fR\nby default\n.PP\ntext\n\\&.dot\n.PP\n.RS 4\n.nf\n\
             a = \"\\-1\"\n.fi\n.RE\n"
        );
        let page = render().unwrap();
        assert!(page.iter().any(|(p, _)| p.ends_with("virt-hook.toml.5")));
    }

    #[test]
    fn the_bash_completion_has_a_case_for_every_state_it_enters() {
        let files = render().unwrap();
        let bash = files
            .iter()
            .find(|(p, _)| p.ends_with("virt-hook.bash"))
            .map(|(_, c)| String::from_utf8_lossy(c).into_owned())
            .unwrap();
        let mut states = 0;
        for line in bash.lines() {
            if let Some(state) = line.trim().strip_prefix("cmd=\"") {
                let state = state.trim_end_matches('"');
                if !state.is_empty() {
                    states += 1;
                    assert!(bash.contains(&format!("\n        {state})\n")), "{state}");
                }
            }
        }
        assert!(states > 8, "{states}");
    }

    #[test]
    fn every_subcommand_has_a_page_and_the_completions_know_it() {
        let files = render().unwrap();
        let bash = files
            .iter()
            .find(|(p, _)| p.ends_with("virt-hook.bash"))
            .map(|(_, c)| String::from_utf8_lossy(c).into_owned())
            .unwrap();
        for sub in hook_cli::command().get_subcommands() {
            let page = format!("virt-hook-{}.1", sub.get_name());
            assert!(files.iter().any(|(p, _)| p.ends_with(&page)), "{page}");
            assert!(bash.contains(sub.get_name()), "{}", sub.get_name());
        }
    }
}
