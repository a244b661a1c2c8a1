//! Tidy checks on the repository itself, run as ordinary tests: the repository stands alone,
//! so no file refers to a path outside it (the design notes and specification the project
//! started from live outside the repository and are not shipped; `docs/` holds the project's
//! own account of them).

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every text file under `dir`, skipping build output, git's files and CI's own scripts.
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
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
}
