//! The real caller: libvirt's own hook runner (`virHookInitialize`, `virHookCall` from the
//! installed `libvirt.so.0`) calling a hooks directory, as libvirtd does. Used by
//! `tests/e2e/dispatcher_libvirt.rs` to prove the dispatcher under libvirt itself.
//!
//! `libvirt-hook-call [--output] HOOKS DRIVER OBJECT OP SUBOP [DOCUMENT]` (DRIVER, OP, SUBOP as
//! libvirt's enum numbers; OBJECT `hex:6766ff` for a name given as bytes, such as one that is
//! not UTF-8): moves to a private mount namespace where libvirt's compiled-in hooks
//! directory is a fresh tmpfs (the host's `/etc` is never written), copies the tree `HOOKS`
//! into it (modes, owners, symlinks and FIFOs kept), calls libvirt once (with an output buffer for
//! `--output`, as its filter call sites do; without one, as the others do), and prints `libvirt=VERSION`, `initialize=N`, `rc=N`, on a failure
//! `error=<libvirt's message>`, and when libvirt handed output back, `output:` on a line of its
//! own followed by it. Exit status 0 after a call, 3 when libvirt or the namespace is not
//! available (with the reason on stderr), 2 for bad arguments.

use std::ffi::CString;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::process::ExitCode;

use hook_core::baseline::{Libvirt, PrivateLibvirtHooksDir};

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let meta = std::fs::symlink_metadata(&src)?;
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
            std::os::unix::fs::lchown(&dst, Some(meta.uid()), Some(meta.gid()))?;
            continue;
        } else if meta.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_tree(&src, &dst)?;
        } else if meta.file_type().is_fifo() {
            // Copying would block on the FIFO: make another.
            nix::unistd::mkfifo(&dst, nix::sys::stat::Mode::from_bits_truncate(0o600))?;
        } else {
            std::fs::copy(&src, &dst)?;
        }
        std::os::unix::fs::chown(&dst, Some(meta.uid()), Some(meta.gid()))?;
        std::fs::set_permissions(
            &dst,
            std::fs::Permissions::from_mode(meta.permissions().mode()),
        )?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let want_output = args.first().is_some_and(|a| a == "--output");
    if want_output {
        args.remove(0);
    }
    let (Some(hooks), Some(driver), Some(object), Some(op), Some(subop)) = (
        args.first(),
        args.get(1).and_then(|a| a.parse::<i32>().ok()),
        args.get(2),
        args.get(3).and_then(|a| a.parse::<i32>().ok()),
        args.get(4).and_then(|a| a.parse::<i32>().ok()),
    ) else {
        eprintln!("usage: libvirt-hook-call [--output] HOOKS DRIVER OBJECT OP SUBOP [DOCUMENT]");
        return ExitCode::from(2);
    };
    let document = match args.get(5).map(std::fs::read).transpose() {
        Ok(d) => d.map(|d| CString::new(d).expect("a document holds no NUL")),
        Err(e) => {
            eprintln!("cannot read the document: {e}");
            return ExitCode::from(2);
        }
    };
    // The namespace first: it must be set up before any thread starts.
    let dir = match PrivateLibvirtHooksDir::new() {
        Ok(d) => d,
        Err(e) => {
            eprintln!(
                "unavailable: a private {}: {e}",
                PrivateLibvirtHooksDir::PATH
            );
            return ExitCode::from(3);
        }
    };
    if let Err(e) = copy_tree(Path::new(hooks), Path::new(PrivateLibvirtHooksDir::PATH)) {
        eprintln!("cannot copy {hooks}: {e}");
        return ExitCode::from(2);
    }
    let lib = match Libvirt::load() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("unavailable: libvirt.so.0: {e}");
            return ExitCode::from(3);
        }
    };
    println!("libvirt={}", lib.version());
    println!("initialize={}", lib.hook_initialize());
    let id = match object.strip_prefix("hex:") {
        Some(hex) => {
            let bytes: Option<Vec<u8>> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect();
            let Some(bytes) = bytes else {
                eprintln!("OBJECT hex:{hex}: not hexadecimal bytes");
                return ExitCode::from(2);
            };
            CString::new(bytes).expect("no NUL")
        }
        None => CString::new(object.as_str()).expect("no NUL"),
    };
    let (rc, output) = if want_output {
        lib.hook_call_output(driver, &id, op, subop, document.as_deref())
    } else {
        (
            lib.hook_call(driver, &id, op, subop, document.as_deref()),
            None,
        )
    };
    println!("rc={rc}");
    if rc < 0 {
        println!("error={}", lib.last_error().trim_end());
    }
    if let Some(output) = output {
        println!("output:");
        print!("{}", String::from_utf8_lossy(&output));
    }
    drop(dir);
    ExitCode::SUCCESS
}
