//! JSON output: every `--json` is printed by [`to_json`] (schema: docs/json.md).

use serde::Serialize;

/// Pretty-printed JSON with a final newline, for every `--json` (schema: docs/json.md).
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    match serde_json::to_string_pretty(value) {
        Ok(text) => text + "\n",
        // Only plain strings, numbers and lists go in, which always serialize.
        Err(e) => format!("{{\"error\": \"cannot write JSON: {e}\"}}\n"),
    }
}
