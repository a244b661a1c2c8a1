//! From the words on the command line (`qemu release --extra crashed`) to a driver crate's
//! event: [`AnyEvent`] holds one event of any of the six driver crates, so `run` and
//! `lifecycle` call the scripts with exactly the spec (sub-op, extra, filter, failure policy)
//! the daemon would use. No operation or policy is defined here: they all come from the
//! driver crates.

use hook_core::matrix::CallSite;
use hook_core::{EventSpec, HookEvent, LibvirtVersion, ShutoffReason};

use crate::ctx::InputError;

/// What the scripts of a driver read on stdin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Nothing (`/dev/null`): the daemon driver.
    Nothing,
    /// A domain document.
    Domain,
    /// A `<hookData>` document built from a network (and a port).
    Network,
}

/// One event of one driver crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AnyEvent {
    Daemon(hook_daemon::Event),
    Qemu(hook_qemu::Event),
    Lxc(hook_lxc::Event),
    Network(hook_network::Event),
    Libxl(hook_libxl::Event),
    Bhyve(hook_bhyve::Event),
}

/// Finds the first of `events` whose operation word is `op`, once `op` is known to be valid.
fn first<
    E: Copy,
    O: std::str::FromStr<Err = hook_core::UnknownWord> + PartialEq + std::fmt::Display,
>(
    driver: &str,
    op: &str,
    events: Vec<E>,
    op_of: impl Fn(E) -> O,
) -> Result<E, InputError> {
    let wanted: O = op
        .parse()
        .map_err(|e: hook_core::UnknownWord| InputError(crate::text::unknown_word(&e)))?;
    events
        .into_iter()
        .find(|&e| op_of(e) == wanted)
        .ok_or_else(|| {
            InputError(format!(
                "libvirt never sends {driver} {op} (documented, but nothing calls it any more)"
            ))
        })
}

/// A release's fifth argument: `--extra REASON` (default `shutdown`), or `-` as libvirt before
/// 10.5.0 sends it, either because `--extra -` says so or because `libvirt` is that old.
fn reason(
    extra: Option<&str>,
    default: ShutoffReason,
    libvirt: LibvirtVersion,
) -> Result<Option<ShutoffReason>, InputError> {
    let reason = match extra {
        None => default,
        Some("-") => return Ok(None),
        Some(word) => word.parse().map_err(|e: hook_core::UnknownWord| {
            let msg = crate::text::unknown_word(&e);
            if crate::text::closest(&e.word, e.valid.iter().copied()).is_some() {
                InputError(format!("--extra: {msg}"))
            } else {
                InputError(format!(
                    "--extra: {msg}; or - (libvirt before 10.5.0 passes no reason)"
                ))
            }
        })?,
    };
    Ok(libvirt.passes_release_reason().then_some(reason))
}

impl AnyEvent {
    /// The event a daemon emulating `libvirt` fires for `driver op`. For qemu and lxc
    /// `release`, `extra` is the shutoff reason (default `shutdown`) or `-`; other events take
    /// no part of `extra` here (see [`Fire`] for overriding argv\[4\]).
    pub(crate) fn parse(
        driver: &str,
        op: &str,
        extra: Option<&str>,
        libvirt: LibvirtVersion,
    ) -> Result<AnyEvent, InputError> {
        let driver = crate::drivers::known(driver)?;
        let shutdown = ShutoffReason::Shutdown;
        Ok(match driver {
            hook_daemon::NAME => AnyEvent::Daemon(first(
                driver,
                op,
                hook_daemon::Event::all(),
                hook_daemon::Event::op,
            )?),
            hook_qemu::NAME => {
                match first(driver, op, hook_qemu::Event::all(), hook_qemu::Event::op)? {
                    hook_qemu::Event::Release(_) => {
                        AnyEvent::Qemu(hook_qemu::Event::Release(reason(extra, shutdown, libvirt)?))
                    }
                    e => AnyEvent::Qemu(e),
                }
            }
            hook_lxc::NAME => match first(driver, op, hook_lxc::Event::all(), hook_lxc::Event::op)?
            {
                hook_lxc::Event::Release(_) => {
                    AnyEvent::Lxc(hook_lxc::Event::Release(reason(extra, shutdown, libvirt)?))
                }
                e => AnyEvent::Lxc(e),
            },
            hook_network::NAME => AnyEvent::Network(first(
                driver,
                op,
                hook_network::Event::all(),
                hook_network::Event::op,
            )?),
            hook_libxl::NAME => AnyEvent::Libxl(first(
                driver,
                op,
                hook_libxl::Event::all(),
                hook_libxl::Event::op,
            )?),
            _ => AnyEvent::Bhyve(first(
                driver,
                op,
                hook_bhyve::Event::all(),
                hook_bhyve::Event::op,
            )?),
        })
    }

    /// Whether `--extra` chose a shutoff reason (so it is not an argv\[4\] override).
    pub(crate) fn takes_reason(self) -> bool {
        matches!(
            self,
            AnyEvent::Qemu(hook_qemu::Event::Release(_))
                | AnyEvent::Lxc(hook_lxc::Event::Release(_))
        )
    }

    /// The driver crate's spec for it.
    pub(crate) fn spec(self) -> EventSpec<'static> {
        match self {
            AnyEvent::Daemon(e) => e.spec(),
            AnyEvent::Qemu(e) => e.spec(),
            AnyEvent::Lxc(e) => e.spec(),
            AnyEvent::Network(e) => e.spec(),
            AnyEvent::Libxl(e) => e.spec(),
            AnyEvent::Bhyve(e) => e.spec(),
        }
    }

    /// Its row of the driver crate's invocation matrix (what libvirt does on a failure…).
    pub(crate) fn call_site(self) -> CallSite {
        match self {
            AnyEvent::Daemon(e) => e.call_site(),
            AnyEvent::Qemu(e) => e.call_site(),
            AnyEvent::Lxc(e) => e.call_site(),
            AnyEvent::Network(e) => e.call_site(),
            AnyEvent::Libxl(e) => e.call_site(),
            AnyEvent::Bhyve(e) => e.call_site(),
        }
    }

    /// The driver's name.
    pub(crate) fn driver(self) -> &'static str {
        match self {
            AnyEvent::Daemon(_) => hook_daemon::NAME,
            AnyEvent::Qemu(_) => hook_qemu::NAME,
            AnyEvent::Lxc(_) => hook_lxc::NAME,
            AnyEvent::Network(_) => hook_network::NAME,
            AnyEvent::Libxl(_) => hook_libxl::NAME,
            AnyEvent::Bhyve(_) => hook_bhyve::NAME,
        }
    }

    /// What its scripts read.
    pub(crate) fn kind(self) -> Kind {
        match self {
            AnyEvent::Daemon(_) => Kind::Nothing,
            AnyEvent::Network(_) => Kind::Network,
            _ => Kind::Domain,
        }
    }

    /// A network event whose stdin holds a port.
    pub(crate) fn has_port(self) -> bool {
        matches!(self, AnyEvent::Network(e) if e.has_port())
    }
}

/// An event as fired from the command line: the driver crate's spec, with argv\[4\] replaced
/// when `--extra` overrides it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fire<'a> {
    pub(crate) event: AnyEvent,
    pub(crate) extra: Option<&'a str>,
}

impl HookEvent for Fire<'_> {
    fn driver(&self) -> &'static str {
        self.event.driver()
    }

    fn spec(&self) -> EventSpec<'_> {
        let mut spec = self.event.spec();
        if let Some(extra) = self.extra {
            spec.extra = Some(extra);
        }
        spec
    }
}

/// The guest drivers' start and stop sequence, for `lifecycle`: the start events, then the stop
/// events for a stop of `reason` (qemu and lxc pass it to `release` when `libvirt` does).
pub(crate) fn lifecycle(
    driver: &str,
    reason: ShutoffReason,
    libvirt: LibvirtVersion,
) -> Result<(Vec<AnyEvent>, Vec<AnyEvent>), InputError> {
    use AnyEvent as A;
    let driver = crate::drivers::known(driver)?;
    let reason = libvirt.passes_release_reason().then_some(reason);
    Ok(match driver {
        hook_qemu::NAME => {
            use hook_qemu::Event as E;
            (
                vec![A::Qemu(E::Prepare), A::Qemu(E::Start), A::Qemu(E::Started)],
                vec![A::Qemu(E::Stopped), A::Qemu(E::Release(reason))],
            )
        }
        hook_lxc::NAME => {
            use hook_lxc::Event as E;
            (
                vec![A::Lxc(E::Prepare), A::Lxc(E::Start), A::Lxc(E::Started)],
                vec![A::Lxc(E::Stopped), A::Lxc(E::Release(reason))],
            )
        }
        hook_libxl::NAME => {
            use hook_libxl::Event as E;
            (
                vec![
                    A::Libxl(E::Prepare),
                    A::Libxl(E::Start),
                    A::Libxl(E::Started),
                ],
                vec![A::Libxl(E::Stopped), A::Libxl(E::Release)],
            )
        }
        hook_bhyve::NAME => {
            use hook_bhyve::Event as E;
            (
                vec![
                    A::Bhyve(E::Prepare),
                    A::Bhyve(E::Start),
                    A::Bhyve(E::Started),
                ],
                vec![A::Bhyve(E::Stopped), A::Bhyve(E::Release)],
            )
        }
        other => {
            return Err(InputError(format!(
                "lifecycle is for guest drivers (qemu, lxc, libxl, bhyve), not {other}"
            )));
        }
    })
}
