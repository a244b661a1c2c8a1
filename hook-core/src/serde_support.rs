//! Leaf: the `serde` feature's field helpers, how the report types' fields that have no natural
//! JSON form are written (bytes as lossily decoded text, paths as text, durations as
//! milliseconds). The types' `Serialize` impls sit next to them (`HookError` and `SubOp` by
//! hand, the rest derived). The schema is documented in `docs/json.md` and snapshot-tested; a
//! change here is a change of that schema.

use std::path::Path;
use std::time::Duration;

use serde::ser::Serializer;

/// Bytes as text, invalid UTF-8 replaced by U+FFFD.
pub(crate) fn lossy<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(bytes))
}

/// A path as text, invalid UTF-8 replaced by U+FFFD (serde's own impl fails on it).
pub(crate) fn path<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_string_lossy())
}

/// Paths as text.
pub(crate) fn paths<S: Serializer>(ps: &[std::path::PathBuf], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(ps.iter().map(|p| p.to_string_lossy()))
}

/// An optional path as text or `null`.
pub(crate) fn opt_path<S: Serializer>(
    p: &Option<std::path::PathBuf>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => path(p, s),
        None => s.serialize_none(),
    }
}

/// Optional bytes as text or `null`.
pub(crate) fn opt_lossy<S: Serializer>(b: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match b {
        Some(b) => lossy(b, s),
        None => s.serialize_none(),
    }
}

/// A duration in milliseconds (a float, microsecond precision).
pub(crate) fn ms<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(millis(*d))
}

/// An optional duration in milliseconds, or `null`.
pub(crate) fn opt_ms<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ms(d, s),
        None => s.serialize_none(),
    }
}

fn millis(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}
