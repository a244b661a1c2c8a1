//! libvirt's shell quoting (`virBufferEscapeShell`), the one way this crate shows an argument
//! or a path to a person: in errors, in `virsh`-style messages, in fix-it commands. A leaf:
//! it depends on nothing else in the crate, so every group can use it.

use std::borrow::Cow;

/// Quotes `s` as libvirt's `virBufferEscapeShell` does: `''` when empty; unchanged unless it
/// holds a shell metacharacter; otherwise wrapped in single quotes with each `'` as `'\''`.
pub fn shell_quote(s: &str) -> Cow<'_, str> {
    const META: &[char] = &[
        '\r', '\t', '\n', ' ', '!', '"', '#', '$', '&', '\'', '(', ')', '*', ';', '<', '>', '?',
        '[', '\\', ']', '^', '`', '{', '|', '}', '~',
    ];
    if s.is_empty() {
        return Cow::Borrowed("''");
    }
    if !s.contains(META) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    Cow::Owned(out)
}
