//! `cargo xtask install-samples DIR`: copies the example hooks directory (`examples/hooks`)
//! into DIR, creating it, with each file's mode (0755 for the scripts, 0644 otherwise, whatever
//! the umask). It never overwrites: an existing file is an error, and nothing is written then.
//! Try the result with `virt-hook --hooks-dir DIR list`.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// Runs the task: `args` is `DIR`.
pub fn run(args: impl Iterator<Item = String>) -> Result<(), String> {
    let args: Vec<String> = args.collect();
    let [dest] = args.as_slice() else {
        return Err("usage: cargo xtask install-samples DIR".into());
    };
    let src = crate::workspace_root().join("examples/hooks");
    // The task may be run from anywhere through the cargo alias; a relative DIR is relative to
    // where it was typed, which is cargo's working directory (inherited by xtask).
    let dest = PathBuf::from(dest);
    let mut files = Vec::new();
    collect(&src, Path::new(""), &mut files)?;
    for (rel, _) in &files {
        let target = dest.join(rel);
        if fs::symlink_metadata(&target).is_ok() {
            return Err(format!(
                "{} exists; not overwriting anything",
                target.display()
            ));
        }
    }
    for (rel, mode) in &files {
        let target = dest.join(rel);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        fs::copy(src.join(rel), &target).map_err(|e| format!("{}: {e}", target.display()))?;
        fs::set_permissions(&target, fs::Permissions::from_mode(*mode))
            .map_err(|e| format!("{}: {e}", target.display()))?;
        println!("{:o}  {}", mode, target.display());
    }
    println!(
        "try: cargo run -p hook-cli -- --hooks-dir {} list",
        dest.display()
    );
    Ok(())
}

/// Every regular file under `dir/rel`, with the mode to give its copy, in a stable order.
fn collect(dir: &Path, rel: &Path, out: &mut Vec<(PathBuf, u32)>) -> Result<(), String> {
    let here = dir.join(rel);
    let mut entries: Vec<_> = fs::read_dir(&here)
        .map_err(|e| format!("{}: {e}", here.display()))?
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    entries.sort();
    for name in entries {
        let rel = rel.join(&name);
        let meta = fs::metadata(dir.join(&rel)).map_err(|e| format!("{}: {e}", rel.display()))?;
        if meta.is_dir() {
            collect(dir, &rel, out)?;
        } else if meta.is_file() {
            let mode = if meta.permissions().mode() & 0o111 != 0 {
                0o755
            } else {
                0o644
            };
            out.push((rel, mode));
        }
    }
    Ok(())
}
