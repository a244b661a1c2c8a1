//! The command line: `virt-hook [--hooks-dir DIR | --user] [-v] <list|run|lifecycle|check|…>`,
//! declared with clap's derive API. Parsing only; each command lives in its own module. The
//! driver names it offers (help, completions) are the driver crates', through `drivers`.

use std::ffi::OsStr;
use std::path::PathBuf;

use clap::builder::{PossibleValue, StringValueParser, TypedValueParser};
use clap::{ArgAction, Args, Parser, Subcommand};

use crate::drivers;

/// A driver argument: clap offers the driver crates' names (in `--help`, and the completions
/// `cargo xtask man` generates offer them) but accepts any word, so that a wrong one gets
/// virt-hook's own one-line message with its "did you mean" (`drivers::known`).
#[derive(Clone, Copy, Debug)]
struct DriverName {
    /// Only the drivers with guests that start and stop (`lifecycle`'s).
    guests_only: bool,
}

impl DriverName {
    const ANY: DriverName = DriverName { guests_only: false };
    const GUESTS: DriverName = DriverName { guests_only: true };
}

impl TypedValueParser for DriverName {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        let names: Vec<&'static str> = if self.guests_only {
            drivers::guest_drivers().collect()
        } else {
            drivers::NAMES.to_vec()
        };
        Some(Box::new(names.into_iter().map(PossibleValue::new)))
    }
}

const EXAMPLES: &str = "\
Examples:
  virt-hook list                        what runs for every driver, and what is skipped
  virt-hook list qemu --json            the same for qemu, as JSON
  virt-hook check                       look for the mistakes people make in a hooks directory
  virt-hook run qemu prepare --domain guest.xml
                                        fire qemu's prepare hooks with a guest's XML
  virsh dumpxml guest | virt-hook run qemu started --domain -
  virt-hook run qemu migrate --domain guest.xml > filtered.xml
                                        a filter: the resulting XML goes to stdout
  virt-hook run network port-created --network net.xml --port port.xml
  virt-hook lifecycle qemu --domain guest.xml --end destroyed
                                        prepare, start, started, stopped, release
  virt-hook run qemu release --domain guest.xml --libvirt 9.0
                                        as libvirt before 10.5: `release end -`
  virt-hook --hooks-dir examples/hooks run qemu prepare --domain examples/domain.xml
  virt-hook install                     make virt-hook libvirt's qemu hook (per-guest scripts)
  virt-hook uninstall                   put back what was there before
  virt-hook status                      is the dispatcher installed and sound, where do logs go
  virt-hook log win10 --failed --since yesterday
                                        why did win10's hooks fail
  virt-hook --hooks-dir /etc/libvirt/hooks dispatch qemu win10 prepare begin - < win10.xml
                                        what libvirt gets when virt-hook is its qemu hook

Exit status: 0 success (for run: the event would proceed), 1 a hook failed or check found an
error, 2 a usage or input error, 130 (143) when run or lifecycle was interrupted by SIGINT
(SIGTERM): the signal is forwarded to the running script's process group.";

/// see which libvirt hook scripts would run, fire them without a guest, and check a hooks
/// directory for common mistakes.
#[derive(Debug, Parser)]
#[command(name = "virt-hook", version, after_help = EXAMPLES)]
pub(crate) struct Cli {
    /// The hooks directory [default: the system directory, e.g. /etc/libvirt/hooks].
    #[arg(long, global = true, value_name = "DIR", conflicts_with = "user")]
    pub(crate) hooks_dir: Option<PathBuf>,

    /// Use the per-user hooks directory ($XDG_CONFIG_HOME/libvirt/hooks).
    #[arg(long, global = true)]
    pub(crate) user: bool,

    /// Show what the hook library does on stderr (-v debug, -vv trace; RUST_LOG overrides).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub(crate) verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// For each driver, the scripts that would run, in order, every file that is skipped and
    /// why, and permission warnings.
    List {
        /// Only this driver.
        #[arg(value_parser = DriverName::ANY)]
        driver: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Fire a driver's hooks for one event exactly as the daemon would, and report each script.
    ///
    /// The scripts get libvirt's arguments, environment and stdin document. For filter
    /// operations (qemu/libxl migrate, qemu restore) the resulting XML is written to stdout
    /// and the report to stderr; otherwise the report goes to stdout. A failing script makes the
    /// exit status 1 even where libvirt ignores the failure (the report says so).
    Run(RunArgs),
    /// Run the hooks a guest start and stop trigger: prepare, start, started, stopped, release.
    ///
    /// Every step gets the --domain document as given (libvirt formats a different one at each
    /// step; the output says which). --end says how the guest ends. An aborting failure stops
    /// the start sequence; stopped and release then still run, as in libvirt's cleanup, with the
    /// reason failed.
    Lifecycle(LifecycleArgs),
    /// Check the hooks directory for common mistakes; exit status 1 when an error is found.
    ///
    /// Errors: executable backups or dotfiles (libvirt runs them), missing, indented or CRLF #!
    /// line, missing interpreter, world-writable script or directory, subdirectories of <driver>.d
    /// holding scripts without a dispatcher (libvirt ignores them), a <driver>.d that is not a
    /// readable directory, a virt-hook.toml the dispatcher cannot load.
    /// Warnings: non-executable files, group-writable or foreign-owned files, scripts calling
    /// virsh (deadlock), `env` interpreters not on PATH, files libvirt never looks at, per-guest
    /// directories for events the driver does not have. Notes: per-guest scripts of guests not
    /// defined here, install's backup. With virt-hook's dispatcher (or the VFIO guides' hook
    /// helper) as the main hook, per-guest scripts are checked like the others.
    Check {
        /// Only what concerns this driver: its main hook, <driver>.d/ and <driver>.* files,
        /// and what every driver depends on (the hooks directory itself, virt-hook.toml, the
        /// copy virt-hook, the host's confinement); not the other drivers' files.
        #[arg(value_parser = DriverName::ANY)]
        driver: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Install virt-hook's dispatcher as libvirt's main hook for a driver.
    ///
    /// Copies this binary to <hooks dir>/virt-hook (owned by root, mode 0755, labelled for
    /// SELinux when it is on) and makes <hooks dir>/<driver> a hard link to it; libvirt then
    /// runs the scripts in <driver>.d/<name>/<operation>/<sub-operation>/ for each event, with
    /// timeouts and without hanging. A copy inside the hooks directory is what AppArmor's and
    /// SELinux's policies let libvirt execute, and moving or deleting this binary later changes
    /// nothing. Refused when a user other than root could change the hooks directory or one
    /// above it. A hook helper from the VFIO guides that is there is replaced and kept as
    /// <driver>.virt-hook-backup; any other hook needs --force. Prints the one step still
    /// needed on this host (a daemon reload, an SELinux boolean), if any.
    Install {
        /// The driver whose main hook it becomes.
        #[arg(default_value = "qemu", value_parser = DriverName::ANY)]
        driver: String,
        /// Replace a hook virt-hook does not recognise (it is kept as a backup).
        #[arg(long)]
        force: bool,
        /// Make the installed dispatcher this binary (after an upgrade; the packages run it):
        /// the copy and every driver it serves. Nothing to do when none is installed.
        #[arg(long, conflicts_with = "force")]
        refresh: bool,
    },
    /// Remove virt-hook's dispatcher: restore the hook it replaced, or remove it.
    ///
    /// Removes only what install made; a wrapper script or any other hook is left alone.
    /// The copy <hooks dir>/virt-hook goes when no driver uses it any more.
    Uninstall {
        /// The driver.
        #[arg(default_value = "qemu", value_parser = DriverName::ANY)]
        driver: String,
        /// Every driver the dispatcher is installed for.
        #[arg(long)]
        all: bool,
    },
    /// Is the dispatcher working: what libvirt runs for each driver, and whether it can.
    ///
    /// Per driver: the main hook libvirt executes (virt-hook's dispatcher as a copy, symlink or
    /// wrapper, the VFIO guides' hook helper, another script, nothing), whether it can run
    /// (execute bit, the binary behind it, the copy current with the virt-hook on PATH,
    /// AppArmor's profile), the dispatcher's settings for each event (timeout, where the log
    /// goes and whether that is reachable now), how many guests have per-guest scripts; then
    /// the dispatcher's last records. Exit status 1 when something would fail or silently skip
    /// a guest's scripts.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The dispatcher's records from the system log, newest last.
    ///
    /// Read from the journal (journalctl SYSLOG_IDENTIFIER=virt-hook) when there is one, else
    /// from /var/log/syslog or /var/log/messages. Each record is one script run (how it ended,
    /// its duration, for a failure the line libvirt showed), a script skipped after a failure,
    /// or a problem of the dispatcher's own.
    Log(LogArgs),
    /// Be libvirt's main hook script: run <driver>.d/OBJECT/OP/SUBOP/* for one event.
    ///
    /// libvirt runs <hooks dir>/<driver> OBJECT OP SUBOP EXTRA with the document on stdin. Make
    /// that file a symlink to virt-hook (it then dispatches by its own name) or a wrapper running
    /// `virt-hook --hooks-dir DIR dispatch <driver> "$@"`. Exit 0 when every script succeeded,
    /// 1 with one line on stderr (libvirt shows it) when one failed; filter events print the
    /// changed document. Settings: <hooks dir>/virt-hook.toml (see docs/dispatcher.md).
    Dispatch {
        /// The driver whose hook libvirt ran.
        #[arg(value_parser = DriverName::ANY)]
        driver: String,
        /// libvirt's arguments: OBJECT OP SUBOP EXTRA.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "OBJECT OP SUBOP EXTRA"
        )]
        args: Vec<std::ffi::OsString>,
    },
}

/// Arguments of `run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The driver.
    #[arg(value_parser = DriverName::ANY)]
    pub(crate) driver: String,
    /// The operation (e.g. prepare, start, started, stopped, release, migrate, restore).
    pub(crate) op: String,
    #[command(flatten)]
    pub(crate) doc: DocArgs,
    /// The object name passed as the script's first argument [default: the XML's <name>].
    #[arg(long, value_name = "NAME")]
    pub(crate) object: Option<String>,
    /// Feed this file (or - for stdin) to the scripts as is, instead of a document built from
    /// --domain/--network.
    #[arg(long, value_name = "FILE|-", conflicts_with_all = ["domain", "network"])]
    pub(crate) input: Option<String>,
    /// The fifth argument (e.g. a release shutoff reason, or - as libvirt before 10.5 passes)
    /// [default: what the daemon passes].
    #[arg(long, value_name = "VALUE")]
    pub(crate) extra: Option<String>,
    /// Call the hooks as this libvirt release does (e.g. 9.0: release passes - instead of the
    /// shutoff reason) [default: the newest known, 11.3].
    #[arg(long, value_name = "VERSION")]
    pub(crate) libvirt: Option<String>,
    /// Kill a script (and its process group) that runs longer than this: seconds (90) or a
    /// duration with a unit (500ms, 90s, 5m, 1h), from 1 ms to 24 hours [default: no timeout,
    /// as libvirt].
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub(crate) timeout: Option<String>,
    /// Print JSON instead of text (the filtered XML is then a field of it).
    #[arg(long)]
    pub(crate) json: bool,
}

/// Arguments of `log`.
#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    /// Only this guest's records (the network's, for network hooks).
    #[arg(value_name = "GUEST")]
    pub(crate) guest: Option<String>,
    /// Only this driver.
    #[arg(long, value_name = "DRIVER", value_parser = DriverName::ANY)]
    pub(crate) driver: Option<String>,
    /// Only this operation (prepare, start, started, stopped, release, …).
    #[arg(long, value_name = "OP")]
    pub(crate) event: Option<String>,
    /// Only records from then on. With the journal, anything journalctl --since takes; with
    /// syslog files "YYYY-MM-DD HH:MM", "YYYY-MM-DD", "today", "yesterday" or "-1h" (s, m, h,
    /// d), times in UTC.
    #[arg(long, value_name = "WHEN", allow_hyphen_values = true)]
    pub(crate) since: Option<String>,
    /// Only failures (severity err): failed scripts and the dispatcher's own problems.
    #[arg(long)]
    pub(crate) failed: bool,
    /// Only the last N records.
    #[arg(short = 'n', long, value_name = "N")]
    pub(crate) lines: Option<usize>,
    /// Keep reading: print new records as they come (every second), until interrupted.
    #[arg(short, long)]
    pub(crate) follow: bool,
    /// Read these syslog files instead of the journal (e.g. a rotated /var/log/syslog.1);
    /// may be given more than once.
    #[arg(long, value_name = "FILE")]
    pub(crate) file: Vec<std::path::PathBuf>,
    /// Print JSON instead of text (with --follow, one JSON object per line).
    #[arg(long)]
    pub(crate) json: bool,
}

/// Where the stdin document comes from.
#[derive(Debug, Args)]
pub(crate) struct DocArgs {
    /// A domain XML file (or - for stdin), e.g. from `virsh dumpxml`.
    #[arg(long, value_name = "FILE|-", conflicts_with = "network")]
    pub(crate) domain: Option<String>,
    /// A network XML file (or - for stdin), e.g. from `virsh net-dumpxml`.
    #[arg(long, value_name = "FILE|-")]
    pub(crate) network: Option<String>,
    /// A network port XML file, for port-created and port-deleted.
    #[arg(long, value_name = "FILE", requires = "network")]
    pub(crate) port: Option<String>,
}

/// Arguments of `lifecycle`.
#[derive(Debug, Args)]
pub(crate) struct LifecycleArgs {
    /// The guest driver.
    #[arg(value_parser = DriverName::GUESTS)]
    pub(crate) driver: String,
    /// The domain XML file (or - for stdin), fed unchanged to every step.
    #[arg(long, value_name = "FILE|-")]
    pub(crate) domain: String,
    /// How the guest ends, the shutoff reason qemu's and lxc's release get (libxl and bhyve
    /// pass -): shutdown, destroyed, crashed, saved, migrated, failed, daemon, unknown,
    /// "from snapshot" [default: shutdown; failed when a start hook aborts the start].
    #[arg(long, value_name = "REASON")]
    pub(crate) end: Option<String>,
    /// Call the hooks as this libvirt release does (e.g. 9.0: release passes - instead of the
    /// shutoff reason) [default: the newest known, 11.3].
    #[arg(long, value_name = "VERSION")]
    pub(crate) libvirt: Option<String>,
    /// Kill a script (and its process group) that runs longer than this: seconds (90) or a
    /// duration with a unit (500ms, 90s, 5m, 1h), from 1 ms to 24 hours [default: no timeout,
    /// as libvirt].
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub(crate) timeout: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
