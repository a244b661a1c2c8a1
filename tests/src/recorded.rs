//! The hook calls real libvirt daemons made (`tests/fixtures/libvirt-recorded/`, see its
//! README): each folder's `calls.tsv` parsed into [`Call`]s, with the exact stdin bytes, the
//! libvirt release that made the call and the notes of its scenario. The replay tests
//! (`tests/e2e/recorded.rs`) make each call again through the driver crates and `virt-hook run`
//! and compare what the script then sees with what libvirt gave it.

use std::fs;
use std::path::{Path, PathBuf};

use hook_core::LibvirtVersion;

/// The folders of recordings: one per daemon, and the migration between both.
pub const FOLDERS: [&str; 3] = ["libvirt-9.0.0", "libvirt-11.3.0", "migrate"];

/// `tests/fixtures/libvirt-recorded`.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/libvirt-recorded")
}

/// One hook call a real daemon made: a row of `calls.tsv`.
#[derive(Clone, Debug)]
pub struct Call {
    /// The folder it was recorded in.
    pub folder: &'static str,
    /// Its number in the folder, in the order the calls happened (`0006`).
    pub seq: String,
    /// What was done to the daemon (`qemu-start-destroy`); empty for some migration rows.
    pub scenario: String,
    /// The script that ran (`daemon`, `qemu`, `network`).
    pub driver: String,
    /// argv\[1..4\]: object, op, sub-op, extra.
    pub args: [String; 4],
    /// The file holding the exact stdin bytes; `None` when stdin was `/dev/null`.
    pub stdin_file: Option<PathBuf>,
    /// The sha256 of the stdin bytes, as recorded.
    pub stdin_sha256: Option<String>,
    /// `key=value` notes: how the guest ended (`reason=destroyed`), which hook was made to
    /// fail, which side of a migration…
    pub notes: String,
    /// The libvirt release that made the call.
    pub version: LibvirtVersion,
}

impl Call {
    /// The exact stdin bytes; `None` for `/dev/null`.
    pub fn stdin(&self) -> Option<Vec<u8>> {
        self.stdin_file.as_ref().map(|p| {
            fs::read(p).unwrap_or_else(|e| panic!("{}: {}: {e}", self.label(), p.display()))
        })
    }

    /// The value of a `key=value` note.
    pub fn note(&self, key: &str) -> Option<&str> {
        self.notes.split_whitespace().find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == key).then_some(v)
        })
    }

    /// `libvirt-9.0.0 #0006 qemu release end -`, to name the call in messages.
    pub fn label(&self) -> String {
        format!(
            "{} #{} {} {}",
            self.folder,
            self.seq,
            self.driver,
            self.args.join(" ")
        )
    }
}

/// The release named in a folder's name or a `daemon` column: `libvirt-9.0.0`,
/// `libvirt 11.3.0 (chroot)`.
fn version_in(text: &str) -> LibvirtVersion {
    let word = text
        .split([' ', '-'])
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no libvirt version in {text:?}"));
    word.parse().unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// Every call of one folder, in the order they happened.
pub fn calls(folder: &'static str) -> Vec<Call> {
    let base = dir().join(folder);
    let tsv = base.join("calls.tsv");
    let text = fs::read_to_string(&tsv).unwrap_or_else(|e| panic!("{}: {e}", tsv.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header line").split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let need =
        |name: &str| col(name).unwrap_or_else(|| panic!("{}: no column {name}", tsv.display()));
    let (seq, scenario, driver, object, op, subop, extra, stdin, sha, notes) = (
        need("seq"),
        need("scenario"),
        need("driver"),
        need("object"),
        need("op"),
        need("subop"),
        need("extra"),
        need("stdin"),
        need("stdin_sha256"),
        need("notes"),
    );
    let daemon = col("daemon");
    lines
        .filter(|l| !l.is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let get = |i: usize| f.get(i).copied().unwrap_or_default().to_owned();
            let stdin_file = match get(stdin).as_str() {
                "(/dev/null)" => None,
                name => Some(base.join(name)),
            };
            let version = match daemon {
                Some(i) => version_in(&get(i)),
                None => version_in(folder),
            };
            Call {
                folder,
                seq: get(seq),
                scenario: get(scenario),
                driver: get(driver),
                args: [get(object), get(op), get(subop), get(extra)],
                stdin_file,
                stdin_sha256: Some(get(sha)).filter(|s| !s.is_empty()),
                notes: get(notes),
                version,
            }
        })
        .collect()
}

/// Splits a recorded `<hookData>` document back into the network's and the port's documents
/// as a stack holds them (each markup line un-indented by the 2 spaces libvirt added), so the
/// library can compose it again: `hook_network::hook_data` of the two must give back the
/// recorded bytes.
pub fn split_hook_data(hook_data: &[u8]) -> (Vec<u8>, Option<Vec<u8>>) {
    let text = std::str::from_utf8(hook_data).expect("UTF-8 hookData");
    let inner = text
        .strip_prefix("<hookData>\n")
        .and_then(|t| t.strip_suffix("</hookData>"))
        .unwrap_or_else(|| panic!("not libvirt's <hookData> layout: {text:?}"));
    let (mut network, mut port) = (String::new(), None::<String>);
    for line in inner.lines() {
        let line = line.strip_prefix("  ").unwrap_or(line);
        if line.starts_with("<networkport") {
            port = Some(String::new());
        }
        let doc = port.as_mut().unwrap_or(&mut network);
        doc.push_str(line);
        doc.push('\n');
    }
    (network.into_bytes(), port.map(String::into_bytes))
}
