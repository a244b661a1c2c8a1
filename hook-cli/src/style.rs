//! How human output looks: colour (only when the stream is a terminal and `NO_COLOR` is not
//! set at all, even to an empty value), column padding that ignores colour codes, and durations in units a
//! person reads at a glance.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

/// Colours for one output stream; plain text when colour is off.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Style {
    color: bool,
}

impl Style {
    /// Colour when `stream` is a terminal and `NO_COLOR` is not set.
    pub(crate) fn for_stream(stream: &impl IsTerminal) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some();
        Style {
            color: stream.is_terminal() && !no_color,
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Errors and failures.
    pub(crate) fn red(self, text: &str) -> String {
        self.paint("1;31", text)
    }

    /// Success.
    pub(crate) fn green(self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Warnings.
    pub(crate) fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }

    /// Headings.
    pub(crate) fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    /// Secondary details (durations, stderr).
    pub(crate) fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
}

/// `text` padded with spaces to `width` characters (padding is added before colouring, so
/// columns line up whatever the colour).
pub(crate) fn pad(text: &str, width: usize) -> String {
    format!("{text:<width$}")
}

/// `0.8 ms`, `12.3 ms`, `1.25 s`, `2 min 5 s`.
pub(crate) fn duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else if d.as_secs() < 120 {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{} min {} s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// A path shown relative to the hooks directory when it is inside it (`qemu.d/10-x`).
pub(crate) fn rel(path: &Path, hooks_dir: &Path) -> String {
    match path.strip_prefix(hooks_dir) {
        Ok(p) if !p.as_os_str().is_empty() => p.display().to_string(),
        _ => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_is_plain_text_when_off() {
        let on = Style { color: true };
        let off = Style { color: false };
        assert_eq!(on.red("x"), "\x1b[1;31mx\x1b[0m");
        assert_eq!(off.red("x"), "x");
        assert_eq!(off.bold(&pad("ab", 4)), "ab  ");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(Duration::from_micros(830)), "0.8 ms");
        assert_eq!(duration(Duration::from_micros(12_340)), "12.3 ms");
        assert_eq!(duration(Duration::from_millis(1250)), "1.25 s");
        assert_eq!(duration(Duration::from_secs(125)), "2 min 5 s");
    }

    #[test]
    fn paths_are_relative_to_the_hooks_dir() {
        let dir = Path::new("/etc/libvirt/hooks");
        assert_eq!(rel(&dir.join("qemu.d/10-x"), dir), "qemu.d/10-x");
        assert_eq!(rel(Path::new("/elsewhere"), dir), "/elsewhere");
        assert_eq!(rel(dir, dir), "/etc/libvirt/hooks");
    }
}
