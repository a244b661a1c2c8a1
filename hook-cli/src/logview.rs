//! `virt-hook log`: the dispatcher's records read back ([`crate::logread`]), filtered by guest,
//! driver, operation, time and severity, newest last, as text (`TIME  SEVERITY  MESSAGE`) or
//! JSON; `--follow` keeps reading every second and prints what is new as it comes (written
//! straight to stdout, not held until the end).

use std::io::Write as _;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::cli::LogArgs;
use crate::ctx::{Ctx, InputError, Output};
use crate::logread::{Entry, Filter, Position, Source, text};
use crate::style::Style;

/// How often `--follow` looks for new records.
const POLL: Duration = Duration::from_secs(1);

/// `log --json`: where the records came from and the records.
#[derive(Serialize)]
struct LogJson<'a> {
    source: String,
    records: &'a [Entry],
}

/// Runs `log`.
pub(crate) fn log(_ctx: &Ctx, args: &LogArgs) -> Result<Output, InputError> {
    let driver = match &args.driver {
        Some(d) => Some(crate::drivers::known(d)?.to_owned()),
        None => None,
    };
    let filter = Filter {
        object: args.guest.clone(),
        driver,
        op: args.event.clone(),
        failed: args.failed,
        since: args.since.clone(),
        lines: args.lines,
    };
    let source = if args.file.is_empty() {
        Source::detect()
    } else {
        for f in &args.file {
            if !f.is_file() {
                return Err(InputError(format!(
                    "--file {}: not a readable file",
                    f.display()
                )));
            }
        }
        Source::Files(args.file.clone())
    };
    show(&source, filter, args.follow, args.json)
}

/// [`log`] on `source`.
fn show(source: &Source, filter: Filter, follow: bool, json: bool) -> Result<Output, InputError> {
    if let Source::Files(files) = source
        && files.is_empty()
    {
        return Ok(Output {
            stderr: format!(
                "virt-hook: no journal (journalctl) and no syslog file ({}): no records to read\n",
                crate::logread::SYSLOG_FILES.join(", ")
            ),
            code: 1,
            ..Output::default()
        });
    }
    let mut pos = Position::default();
    let entries = source
        .read(&filter, &mut pos, SystemTime::now())
        .map_err(InputError)?;
    let st = Style::for_stream(&std::io::stdout());
    if !follow {
        let stdout = if json {
            crate::json::to_json(&LogJson {
                source: source.describe(),
                records: &entries,
            })
        } else {
            text(&entries, st)
        };
        let stderr = if entries.is_empty() && !json {
            format!(
                "virt-hook: no dispatcher records{} in {}{}\n",
                if has_filter(&filter) {
                    " matching this"
                } else {
                    ""
                },
                source.describe(),
                crate::logread::unprivileged_hint(source)
            )
        } else {
            String::new()
        };
        return Ok(Output {
            stdout: stdout.into_bytes(),
            stderr,
            code: 0,
        });
    }
    // Following: what is there, then what comes, until stdout closes or a signal ends us.
    let filter = Filter {
        lines: None,
        ..filter
    };
    let mut batch = entries;
    loop {
        let out = if json {
            batch
                .iter()
                .map(|e| serde_json::to_string(e).unwrap_or_default() + "\n")
                .collect()
        } else {
            text(&batch, st)
        };
        let mut stdout = std::io::stdout().lock();
        if stdout
            .write_all(out.as_bytes())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return Ok(Output::default());
        }
        drop(stdout);
        std::thread::sleep(POLL);
        batch = source
            .read(&filter, &mut pos, SystemTime::now())
            .map_err(InputError)?;
    }
}

fn has_filter(f: &Filter) -> bool {
    f.object.is_some() || f.driver.is_some() || f.op.is_some() || f.failed || f.since.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINES: &str = "\
2026-12-03T09:49:45.123456+00:00 host virt-hook[4242]: qemu win10 prepare begin -: qemu.d/win10/prepare/begin/10-unbind exit 0 in 0.412s
2026-12-03T09:49:45.300000+00:00 host virt-hook[4242]: qemu win10 prepare begin -: qemu.d/win10/prepare/begin/20-vfio exit 3 in 0.02s: modprobe: FATAL
2026-12-03T09:49:46.000000+00:00 host virt-hook[4243]: qemu linux prepare begin -: qemu.d/linux/prepare/begin exit 0 in 1s
";

    #[test]
    fn records_are_shown_one_line_each_and_as_json() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("syslog");
        std::fs::write(&file, LINES).unwrap();
        let source = Source::Files(vec![file]);
        let win10 = Filter {
            object: Some("win10".into()),
            ..Filter::default()
        };
        let out = show(&source, win10.clone(), false, false).unwrap();
        assert_eq!(out.code, 0);
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "2026-12-03T09:49:45.123456+00:00  info     qemu win10 prepare begin -: \
             qemu.d/win10/prepare/begin/10-unbind exit 0 in 0.412s\n\
             2026-12-03T09:49:45.300000+00:00  err      qemu win10 prepare begin -: \
             qemu.d/win10/prepare/begin/20-vfio exit 3 in 0.02s: modprobe: FATAL\n"
        );
        let out = show(&source, win10, false, true).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let records = v["records"].as_array().unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1]["status"], "exit 3");
        assert_eq!(records[1]["priority"], 3);
        assert_eq!(records[1]["object"], "win10");
        assert_eq!(
            records[1]["reason"],
            "qemu.d/win10/prepare/begin/20-vfio: exit 3: modprobe: FATAL"
        );
        let none = Filter {
            object: Some("nobody".into()),
            ..Filter::default()
        };
        let out = show(&source, none, false, false).unwrap();
        assert!(out.stdout.is_empty());
        assert!(out.stderr.contains("no dispatcher records matching this"));
        let out = show(&Source::Files(Vec::new()), Filter::default(), false, false).unwrap();
        assert_eq!(out.code, 1);
    }
}
