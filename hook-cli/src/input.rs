//! Reading the documents the user names (`--domain`, `--network`, `--port`, `--input`, and
//! stdin for `-`), bounded: every document the command line takes comes through here.
//!
//! A named file must be a regular file: it is opened with `O_NONBLOCK` (opening a FIFO for
//! reading would otherwise wait for a writer forever), checked with `fstat` on the open file
//! (so nothing can be swapped in between), refused with one line naming the option, the path
//! and what it is (a FIFO, a character device, a directory…), and only then read, with
//! `O_NONBLOCK` cleared. `-` is stdin, whatever it is (a pipe is the point of `-`). Either way
//! at most [`cap`] bytes are accepted: the reader takes one byte more, and a document that
//! reaches it is refused, so `/dev/zero` or an endless pipe ends in one line instead of
//! filling the memory. The cap is the library's stdout cap, so no document is accepted that
//! the library would refuse to hand back from a filter.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::Path;

use nix::fcntl::{FcntlArg, OFlag, fcntl};

use crate::ctx::InputError;

/// The most bytes a document may have: `hook_core::Limits::default().stdout_cap` (16 MiB).
pub(crate) fn cap() -> usize {
    hook_core::Limits::default().stdout_cap
}

/// Reads the document named by `option` (e.g. `--domain`): stdin for `-`, otherwise the
/// regular file `source`, at most [`cap`] bytes.
pub(crate) fn read(option: &str, source: &str) -> Result<Vec<u8>, InputError> {
    if source == "-" {
        return read_stdin(&format!("{option} -"));
    }
    let fail = |e: io::Error| {
        let e = e.to_string();
        InputError(format!("{option} {source}: {}", crate::text::io_text(&e)))
    };
    let file = open_regular(Path::new(source)).map_err(|e| match e {
        Open::Io(e) => fail(e),
        Open::NotRegular(what) => InputError(format!(
            "{option} {source}: {what}, not a regular file (give a file, or - for stdin)"
        )),
    })?;
    read_bounded(file, cap()).map_err(|e| match e {
        Bounded::Io(e) => fail(e),
        Bounded::TooLarge => too_large(&format!("{option} {source}")),
    })
}

/// Reads all of stdin, at most [`cap`] bytes; `what` names it in errors (e.g. `--domain -`).
pub(crate) fn read_stdin(what: &str) -> Result<Vec<u8>, InputError> {
    read_bounded(io::stdin().lock(), cap()).map_err(|e| match e {
        Bounded::Io(e) => InputError(format!("{what}: cannot read stdin: {e}")),
        Bounded::TooLarge => too_large(what),
    })
}

fn too_large(what: &str) -> InputError {
    InputError(format!(
        "{what}: larger than {} MiB, the most a document may have (the hook library's output cap)",
        cap() >> 20
    ))
}

/// Why a file was not opened.
enum Open {
    Io(io::Error),
    /// What it is instead: `a FIFO`, `a directory`…
    NotRegular(&'static str),
}

/// Opens `path` for reading without waiting for a FIFO's writer or taking a terminal as the
/// controlling one, refuses anything but a regular file (judged on the open file), then clears
/// `O_NONBLOCK` so reads behave as usual.
fn open_regular(path: &Path) -> Result<File, Open> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_NONBLOCK | OFlag::O_NOCTTY).bits())
        .open(path)
        .map_err(Open::Io)?;
    let kind = file.metadata().map_err(Open::Io)?.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO (named pipe)"
        } else if kind.is_char_device() {
            "a character device"
        } else if kind.is_block_device() {
            "a block device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a file"
        };
        return Err(Open::NotRegular(what));
    }
    let flags = fcntl(&file, FcntlArg::F_GETFL).map_err(|e| Open::Io(e.into()))?;
    let flags = OFlag::from_bits_retain(flags) & !OFlag::O_NONBLOCK;
    fcntl(&file, FcntlArg::F_SETFL(flags)).map_err(|e| Open::Io(e.into()))?;
    Ok(file)
}

/// Why a bounded read failed.
#[derive(Debug)]
enum Bounded {
    Io(io::Error),
    /// More than the cap.
    TooLarge,
}

/// Reads `r` to its end, but never more than `cap + 1` bytes: reaching that is
/// [`Bounded::TooLarge`].
fn read_bounded(r: impl Read, cap: usize) -> Result<Vec<u8>, Bounded> {
    let mut buf = Vec::new();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    r.take(limit).read_to_end(&mut buf).map_err(Bounded::Io)?;
    if buf.len() > cap {
        return Err(Bounded::TooLarge);
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_exact() {
        assert_eq!(read_bounded(&[7u8; 10][..], 10).unwrap().len(), 10);
        assert!(matches!(
            read_bounded(&[7u8; 11][..], 10),
            Err(Bounded::TooLarge)
        ));
        assert_eq!(read_bounded(&b""[..], 0).unwrap(), b"");
        // An endless source stops at cap + 1 bytes.
        assert!(matches!(
            read_bounded(io::repeat(0), 1000),
            Err(Bounded::TooLarge)
        ));
    }

    #[test]
    fn the_cap_is_the_librarys_output_cap() {
        assert_eq!(cap(), 16 << 20);
    }
}
