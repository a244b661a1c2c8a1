//! The one duration syntax of virt-hook, for `--timeout` and `virt-hook.toml`'s `timeout`: a
//! number of seconds (`90`, `1.5`), or a number with a unit (`500ms`, `90s`, `5m`, `1h`). Only
//! the text; each caller states its own bounds and its own message.

/// The units a duration may carry, with their length in seconds.
const UNITS: [(&str, f64); 5] = [
    ("ms", 0.001),
    ("s", 1.0),
    ("m", 60.0),
    ("min", 60.0),
    ("h", 3600.0),
];

/// The seconds `text` says (spaces around it and before the unit allowed), or `None` when it
/// is not a duration. Not checked for range: `0`, `-1` (a number without a unit), `inf` and
/// `NaN` come back as numbers for the caller to refuse with its bounds.
pub(crate) fn seconds(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return Some(secs);
    }
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let (_, scale) = UNITS.iter().find(|(u, _)| *u == unit.trim())?;
    number.parse::<f64>().ok().map(|n| n * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_units() {
        for (text, secs) in [
            ("90", 90.0),
            ("1.5", 1.5),
            (" 90s ", 90.0),
            ("500ms", 0.5),
            ("5m", 300.0),
            ("2 min", 120.0),
            ("1h", 3600.0),
            ("0.5h", 1800.0),
            ("1e3", 1000.0),
            ("-1", -1.0),
        ] {
            assert_eq!(seconds(text), Some(secs), "{text}");
        }
        assert!(seconds("NaN").is_some_and(f64::is_nan));
        for text in [
            "",
            "ten",
            "5 parsecs",
            "m",
            "s5",
            "-5m",
            "5mm",
            "1.2.3s",
            "none",
        ] {
            assert_eq!(seconds(text), None, "{text}");
        }
    }
}
