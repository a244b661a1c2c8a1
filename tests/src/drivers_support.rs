//! Helpers for the driver-crate tests (`tests/e2e/drivers.rs`): the fixtures copied into this
//! crate, `/bin/sh` scripts written into a [`TempDir`], a
//! recorder script that keeps what each run saw (argv, stdin), and a retry for the one race a
//! test process has with itself (a script just written is briefly "text file busy" while another
//! test thread's child still holds a copy of the writer's descriptor).

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use hook_core::{Failure, HookError, Hooks};
use nix::errno::Errno;

use crate::TempDir;

/// The directory of this crate's fixtures (`tests/fixtures`).
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The bytes of one fixture.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

pub use crate::sh_quote;

/// Writes an executable `/bin/sh` script (`#!/bin/sh` is added before `body`), creating its
/// directory if needed.
pub fn write_script(path: &Path, body: &str) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    }
    let _writing = crate::write_guard();
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o755)
        .open(path)
        .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    f.write_all(format!("#!/bin/sh\n{body}").as_bytes())
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Runs a hook call again while it fails only because a script was "text file busy" (see the
/// module doc). Any other result is returned as it is.
pub fn settle<T>(mut call: impl FnMut() -> Result<T, Box<Failure>>) -> Result<T, Box<Failure>> {
    let busy = |f: &Failure| {
        f.errors().any(|e| {
            matches!(
                e,
                HookError::NotStarted {
                    errno: Errno::ETXTBSY,
                    ..
                }
            )
        })
    };
    let mut call = || {
        let _running = crate::exec_guard();
        call()
    };
    // Retried until it is not busy, for at most a minute: a guard against a hang, never a
    // verdict on how fast the other writer finishes.
    let start = std::time::Instant::now();
    loop {
        match call() {
            Err(f) if busy(&f) && start.elapsed() < std::time::Duration::from_secs(60) => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            other => return other,
        }
    }
}

/// What one recorded run saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The arguments after the script's path.
    pub args: Vec<String>,
    /// What it read on stdin; `None` when stdin was `/dev/null`.
    pub stdin: Option<Vec<u8>>,
}

/// A temporary hooks directory whose main script for one driver records each run: its argv and
/// its stdin. It fails (exit 3) while [`Recorder::set_failing`] is on.
#[derive(Debug)]
pub struct Recorder {
    dir: TempDir,
    driver: String,
}

impl Recorder {
    /// A hooks directory with a recording main script for `driver`.
    pub fn new(driver: &str) -> Recorder {
        let dir = TempDir::new(&format!("rec-{driver}")).expect("temp dir");
        let rec = dir.path().join("rec");
        fs::create_dir(&rec).expect("mkdir rec");
        let rec = sh_quote(&rec);
        write_script(
            &dir.path().join("hooks").join(driver),
            &format!(
                r#"rec={rec}
printf '%s\0' "$@" > "$rec/args"
case "$(readlink /proc/$$/fd/0)" in
  /dev/null) : > "$rec/devnull" ;;
  *) cat > "$rec/stdin" ;;
esac
if [ -e "$rec/fail" ]; then echo "recorder: failing on purpose" >&2; exit 3; fi
"#
            ),
        );
        Recorder {
            dir,
            driver: driver.to_owned(),
        }
    }

    /// The hooks directory.
    pub fn hooks_dir(&self) -> PathBuf {
        self.dir.path().join("hooks")
    }

    /// A [`Hooks`] for the hooks directory with the driver registered.
    pub fn hooks(&self) -> Hooks {
        Hooks::builder(self.hooks_dir())
            .driver(&self.driver)
            .build()
            .expect("build Hooks")
    }

    /// A [`Hooks`] like [`Recorder::hooks`], emulating the libvirt release `version`.
    pub fn hooks_as(&self, version: hook_core::LibvirtVersion) -> Hooks {
        Hooks::builder(self.hooks_dir())
            .driver(&self.driver)
            .libvirt_version(version)
            .build()
            .expect("build Hooks")
    }

    /// Makes the script fail (exit 3) or succeed from now on.
    pub fn set_failing(&self, fail: bool) {
        let flag = self.dir.path().join("rec").join("fail");
        if fail {
            fs::write(&flag, b"").expect("set fail flag");
        } else {
            let _ = fs::remove_file(&flag);
        }
    }

    /// What the last run saw, forgotten once read; `None` when nothing ran since.
    pub fn take(&self) -> Option<Seen> {
        let rec = self.dir.path().join("rec");
        let args = fs::read(rec.join("args")).ok()?;
        let args = args
            .strip_suffix(&[0])
            .unwrap_or(&args)
            .split(|&b| b == 0)
            .map(|a| String::from_utf8(a.to_vec()).expect("UTF-8 argument"))
            .collect();
        let stdin = if rec.join("devnull").exists() {
            None
        } else {
            Some(fs::read(rec.join("stdin")).expect("recorded stdin"))
        };
        for f in ["args", "devnull", "stdin"] {
            let _ = fs::remove_file(rec.join(f));
        }
        Some(Seen { args, stdin })
    }
}
