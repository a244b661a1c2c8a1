//! `cargo xtask man`: generates `virt-hook`'s man pages (`docs/man/virt-hook.1` and one page
//! per subcommand, `virt-hook-run.1`…) with `clap_mangen`, and its shell completions
//! (`completions/virt-hook.bash`, `_virt-hook` for zsh, `virt-hook.fish`) with `clap_complete`,
//! from the clap definition the binary parses with (`hook_cli::command`). A test fails when the
//! committed files are stale; `--check` does the same from the command line.

use std::path::{Path, PathBuf};

use clap_complete::Shell;

/// Where the man pages go, relative to the workspace root.
pub const MAN_DIR: &str = "docs/man";
/// Where the completions go, relative to the workspace root.
pub const COMPLETIONS_DIR: &str = "completions";

const BIN: &str = "virt-hook";

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
        files.push((Path::new(COMPLETIONS_DIR).join(file), out));
    }
    Ok(files)
}

fn man_page(cmd: clap::Command) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(|e| format!("man: cannot render the man page: {e}"))?;
    let page = String::from_utf8(out).map_err(|e| format!("man: not UTF-8: {e}"))?;
    Ok(preformat_extra(&page).into_bytes())
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
