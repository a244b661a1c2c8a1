//! The cost-model benchmark (`cargo xtask bench` runs it and writes `docs/performance.md`).
//!
//! Every claim is a ratio of medians measured in this one process run, with the variants
//! interleaved (each round calls every variant once, in a new pseudo-random order) so that a noisy,
//! shared machine slows them all alike. Sections: (a) a call for a driver with nothing
//! installed, against libvirt's own `virHookCall`; (b) a `#!/bin/sh` exit-0 script through
//! hook-core against a bare `posix_spawn` + `waitpid` (inherited stdio), a raw one (stdio on
//! `/dev/null`), `std::process::Command::status`, libvirt's `virHookCall` with the same 1 KB
//! domain, and the rungs from the bare floor to hook-core, one guarantee each; (c) the same
//! while this process holds 1 GiB of touched memory; (d) a 50 KB domain through a `cat` filter,
//! against `std::process` with pipes; (e) a main script plus 8 `.d` scripts; (f) 1, 2, 8 and 32
//! threads calling a trivial hook; (g) one qemu event as libvirt calls a main hook (argv,
//! libvirt's environment, the 1 KB domain on stdin), through the installed dispatcher (the
//! binary given with `--dispatcher PATH`, put in place by its own `install`), a `#!/bin/sh`
//! main hook that `exec`s the same per-guest script, and the guides' hook helper; without
//! `--dispatcher` (g) is skipped and the report says why. It prints a markdown report on stdout and progress on
//! stderr. libvirt is measured when `libvirt.so.0` loads and the process may make a private
//! mount namespace (it reads hooks only from `/etc/libvirt/hooks`, which the benchmark never
//! touches on the host); otherwise its column is skipped and the report says why.
//!
//! Modes: `cost [--quick] [--strace COUNT/CALLS/CONTROL] [--dispatcher PATH]` runs everything (`--strace` passes in
//! the syscall count that xtask measured with strace, for the report); `cost absent-only N` makes
//! N absent-driver calls between two `getppid` marker syscalls, then 10 `stat` calls between two
//! more markers as a control, for xtask to count under `strace -f`; `cost threads-probe KIND
//! THREADS SECS` (KIND `hooks`, `document`, `runner`, `raw` or `bare`) runs one (f)
//! configuration alone and prints its calls/s and CPU use, for profiling it (`perf record`,
//! `strace -c -f`); `cost absent-probe SAMPLES` runs (a) alone; `cost spawn-probe ROUNDS
//! [--gib]` runs (b)'s main variants alone (with 1 GiB held) and prints their ratios; `cost
//! spawn-section ROUNDS` runs (b), (c) and the ladder alone; `cost event-section ROUNDS
//! --dispatcher PATH` runs (g) alone. `--rotate` makes every mode order
//! its rounds the old way (the same cycle, the first variant rotating), for comparison.

use std::borrow::Cow;
use std::ffi::OsString;
use std::hint::black_box;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::ffi::{CStr, CString};

use hook_core::baseline::{
    CountingAlloc, Libvirt, PrivateLibvirtHooksDir, bare_spawn_wait, hygiene_spawn_wait,
    libvirt_driver, piped_spawn_wait, raw_spawn_wait,
};
use hook_core::{
    EventSpec, Failure, FailurePolicy, HookEvent, Hooks, Invocation, Limits, Outcome, Runner,
    ScriptEnv, SubOp,
};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The 50 KB domain libvirt feeds a migrate hook (copied from the project's shared fixtures).
static DOMAIN_LARGE: &[u8] = include_bytes!("data/domain-large.xml");

/// A small domain (1 KB), the document a `prepare` call feeds its scripts in (b) and (c).
static DOMAIN_SMALL: &[u8] = include_bytes!("data/domain-test.xml");

/// The arguments every script gets, as a qemu `prepare begin` call would pass them.
const ARGS: [&str; 4] = ["bench-guest", "prepare", "begin", "-"];

/// A hook event defined here: core needs no driver crate to be measured.
struct Event {
    driver: &'static str,
    uses_output: bool,
}

impl HookEvent for Event {
    fn driver(&self) -> &'static str {
        self.driver
    }

    fn spec(&self) -> EventSpec<'_> {
        EventSpec {
            op: if self.uses_output {
                "migrate"
            } else {
                "prepare"
            },
            subop: SubOp::Begin,
            extra: None,
            uses_output: self.uses_output,
            on_failure: FailurePolicy::Abort,
            rescans_first: false,
        }
    }
}

const ABSENT: Event = Event {
    driver: "absent",
    uses_output: false,
};
const TRIVIAL: Event = Event {
    driver: "trivial",
    uses_output: false,
};
const FILTER: Event = Event {
    driver: "filter",
    uses_output: true,
};
const MANY: Event = Event {
    driver: "many",
    uses_output: false,
};

/// A temporary hooks directory: `trivial` (exit 0), `filter` (`exec cat`), `many` (a main
/// script and 8 `.d` scripts, all exit 0) and nothing for `absent`.
struct Fixture {
    dir: PathBuf,
    hooks: Hooks,
    trivial: PathBuf,
    filter: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = std::env::temp_dir().join(format!("hook-core-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("many.d")).expect("create the hooks directory");
        let script = |path: &Path, body: &str| {
            std::fs::write(path, body).expect("write a script");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
                .expect("chmod a script");
        };
        let exit0 = "#!/bin/sh\nexit 0\n";
        script(&dir.join("trivial"), exit0);
        script(&dir.join("filter"), "#!/bin/sh\nexec cat\n");
        script(&dir.join("many"), exit0);
        for i in 1..=8 {
            script(&dir.join(format!("many.d/{i:02}-exit0")), exit0);
        }
        let hooks = Hooks::builder(&dir)
            .drivers(["absent", "trivial", "filter", "many"])
            .build()
            .expect("build Hooks");
        Fixture {
            trivial: dir.join("trivial"),
            filter: dir.join("filter"),
            dir,
            hooks,
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A driver crate's call function (such as `hook_qemu::prepare`), which a stack calls across
/// crates: not inlined into the caller, the whole `Result` returned through memory.
#[inline(never)]
fn driver_call(hooks: &Hooks, built: &mut bool) -> Result<Outcome, Box<Failure>> {
    hooks.run(black_box(&ABSENT), black_box("bench-guest"), || {
        *built = true;
        Some(Cow::Borrowed(DOMAIN_LARGE))
    })
}

/// One absent-driver call, as a stack's call site makes it: a driver crate's function, its
/// result looked at. Returns whether the stdin document was built (it must not be).
#[inline(never)]
fn absent_call(hooks: &Hooks) -> bool {
    let mut built = false;
    let r = driver_call(black_box(hooks), &mut built);
    if !black_box(r.is_ok_and(|outcome| outcome.nothing_ran())) {
        panic!("the absent driver ran something");
    }
    built
}

/// `Hooks::run` of the trivial script with the small domain on stdin, as a driver crate's
/// `prepare` (`Hooks::run_document`) makes it.
fn hooks_document(fx: &Fixture) {
    let outcome = fx
        .hooks
        .run(&TRIVIAL, "bench-guest", || {
            Some(Cow::Borrowed(DOMAIN_SMALL))
        })
        .expect("trivial hook with a document");
    assert_eq!(outcome.runs.len(), 1);
}

fn bare_trivial(script: &Path) {
    assert_eq!(bare_spawn_wait(script), 0);
}

fn hygiene_trivial(script: &Path) {
    assert_eq!(hygiene_spawn_wait(script), 0);
}

fn piped_trivial(script: &Path) {
    assert_eq!(piped_spawn_wait(script), 0);
}

fn runner_document(runner: &Runner, script: &Path) {
    let report = runner
        .run(&Invocation {
            script,
            args: &ARGS,
            stdin: Some(DOMAIN_SMALL),
            capture_stdout: false,
        })
        .expect("Runner::run");
    assert!(report.success());
}

fn hooks_trivial(fx: &Fixture) {
    let outcome = fx
        .hooks
        .run(&TRIVIAL, "bench-guest", || None)
        .expect("trivial hook");
    assert_eq!(outcome.runs.len(), 1);
}

fn runner_trivial(runner: &Runner, script: &Path) {
    let report = runner
        .run(&Invocation {
            script,
            args: &ARGS,
            stdin: None,
            capture_stdout: false,
        })
        .expect("Runner::run");
    assert!(report.success());
}

fn raw_trivial(script: &Path) {
    assert_eq!(raw_spawn_wait(script), 0);
}

fn hooks_filter(fx: &Fixture) {
    let outcome = fx
        .hooks
        .run(&FILTER, "bench-guest", || Some(Cow::Borrowed(DOMAIN_LARGE)))
        .expect("filter hook");
    assert_eq!(outcome.output.map(|o| o.len()), Some(DOMAIN_LARGE.len()));
}

fn hooks_many(fx: &Fixture) {
    let outcome = fx
        .hooks
        .run(&MANY, "bench-guest", || None)
        .expect("many hooks");
    assert_eq!(outcome.runs.len(), 9);
}

/// libvirt's own `virHookCall` as a peer: the same `#!/bin/sh` exit-0 script installed as
/// `qemu` in libvirt's compiled-in hooks directory, made private to this process (a mount
/// namespace; the host's `/etc/libvirt/hooks` is never used or written).
struct LibvirtPeer {
    lib: Libvirt,
    _dir: PrivateLibvirtHooksDir,
    id: CString,
    document: CString,
}

/// `VIR_HOOK_QEMU_OP_PREPARE`, `VIR_HOOK_SUBOP_BEGIN` (virhook.h).
const VIR_QEMU_PREPARE: i32 = 2;
const VIR_SUBOP_BEGIN: i32 = 1;

impl LibvirtPeer {
    /// Sets the peer up, or says why its column is skipped. Must run before any thread starts.
    fn new() -> Result<LibvirtPeer, String> {
        let dir = PrivateLibvirtHooksDir::new().map_err(|e| {
            format!(
                "no private mount namespace for libvirt's hooks directory ({e}); libvirt reads \
                 hooks only from {}, and the benchmark never uses the host's",
                PrivateLibvirtHooksDir::PATH
            )
        })?;
        let lib = Libvirt::load().map_err(|e| {
            format!("libvirt could not be loaded ({e}); install it with `apt-get install libvirt0`")
        })?;
        let script = Path::new(PrivateLibvirtHooksDir::PATH).join("qemu");
        std::fs::write(&script, "#!/bin/sh\nexit 0\n")
            .and_then(|()| {
                std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            })
            .map_err(|e| format!("writing {}: {e}", script.display()))?;
        let found = lib.hook_initialize();
        if found != 1 {
            return Err(format!(
                "virHookInitialize found {found} drivers in the private hooks directory, not 1"
            ));
        }
        let peer = LibvirtPeer {
            lib,
            _dir: dir,
            id: CString::new("bench-guest").expect("no NUL"),
            document: CString::new(DOMAIN_SMALL).expect("the domain holds no NUL"),
        };
        let (ran, absent) = (peer.call(), peer.absent());
        if ran != 0 || absent != 1 {
            return Err(format!(
                "virHookCall returned {ran} for the installed qemu hook (expected 0) and {absent} \
                 for the absent lxc driver (expected 1)"
            ));
        }
        Ok(peer)
    }

    /// `virHookCall(QEMU, "bench-guest", PREPARE, BEGIN, NULL, <domain>, NULL)`.
    fn call(&self) -> i32 {
        self.call_for(&self.id)
    }

    /// `virHookCall(QEMU, <id>, PREPARE, BEGIN, NULL, <domain>, NULL)`: libvirt runs
    /// `/etc/libvirt/hooks/qemu <id> prepare begin -` with the domain on stdin.
    fn call_for(&self, id: &CStr) -> i32 {
        self.lib.hook_call(
            libvirt_driver::QEMU,
            id,
            VIR_QEMU_PREPARE,
            VIR_SUBOP_BEGIN,
            Some(&self.document),
        )
    }

    /// The same call for a driver with nothing installed (lxc).
    #[inline(never)]
    fn absent(&self) -> i32 {
        self.lib.hook_call(
            black_box(libvirt_driver::LXC),
            black_box(self.id.as_c_str()),
            VIR_QEMU_PREPARE,
            VIR_SUBOP_BEGIN,
            Some(black_box(self.document.as_c_str())),
        )
    }
}

fn libvirt_trivial(peer: &LibvirtPeer) {
    assert_eq!(peer.call(), 0, "libvirt's virHookCall failed");
}

/// What hook-core is compared against: `std::process::Command`, with the same arguments and
/// the same environment as hook-core gives its scripts. This is the one place in the workspace
/// outside `hook-core/src` that starts processes, and only as the baseline being measured.
#[allow(clippy::disallowed_methods)] // the std::process baseline being compared against
mod std_baseline {
    use std::io::Write;
    use std::path::Path;
    use std::process::{Command, Stdio};

    use super::{ARGS, env};

    fn command(script: &Path) -> Command {
        let mut c = Command::new(script);
        c.args(ARGS).env_clear().envs(env());
        c
    }

    /// `Command::status()` with stdio on /dev/null.
    pub(super) fn status(script: &Path) {
        let st = command(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("Command::status");
        assert!(st.success());
    }

    /// A filter through std: stdin written by a thread (the std documentation's pattern, needed
    /// whenever the input may exceed the pipe buffer), stdout and stderr captured.
    pub(super) fn filter_thread(script: &Path, input: &'static [u8]) {
        let mut child = command(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("Command::spawn");
        let mut stdin = child.stdin.take().expect("stdin");
        let writer = std::thread::spawn(move || stdin.write_all(input));
        let out = child.wait_with_output().expect("wait_with_output");
        writer.join().expect("writer thread").expect("write stdin");
        assert!(out.status.success());
        assert_eq!(out.stdout.len(), input.len());
    }

    /// A filter through std without a thread: stdin written in full before stdout is read.
    /// Correct only because the 50 KB input and output both fit in a 64 KiB pipe buffer.
    pub(super) fn filter_inline(script: &Path, input: &[u8]) {
        let mut child = command(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("Command::spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write stdin");
        let out = child.wait_with_output().expect("wait_with_output");
        assert!(out.status.success());
        assert_eq!(out.stdout.len(), input.len());
    }
}

/// The environment hook-core gives scripts, for the std baseline.
fn env() -> Vec<(OsString, OsString)> {
    ScriptEnv::libvirt()
        .vars()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

// --- statistics and formatting ---------------------------------------------------------------

/// Nanosecond samples of one variant.
#[derive(Default)]
struct Samples(Vec<f64>);

impl Samples {
    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    fn median(&self) -> f64 {
        let v = self.sorted();
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }

    /// Nearest-rank 99th percentile.
    fn p99(&self) -> f64 {
        self.quantile(0.99)
    }

    /// Nearest-rank `q` quantile (0 < q ≤ 1).
    fn quantile(&self, q: f64) -> f64 {
        let v = self.sorted();
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v[rank - 1]
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

fn fmt_ns(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.1} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{:.3} ms", ns / 1e6)
    }
}

/// A named variant: one call per invocation.
type Variant<'a> = (&'static str, Box<dyn FnMut() + 'a>);

/// How rounds order their variants: a fresh pseudo-random order each round (the default), or
/// the same cyclic order with the first variant rotating (`--rotate`, for comparison). With
/// rotation every variant always follows the same neighbour, so a variant that leaves a cost
/// behind for the next call (libvirt's `fork` leaves the caller's pages copy-on-write) charges
/// it to one variant only.
static ROTATE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The state of the order's xorshift generator (fixed seed: runs are reproducible).
static ORDER_STATE: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(0x9e37_79b9_7f4a_7c15);

fn next_random() -> u64 {
    use std::sync::atomic::Ordering::Relaxed;
    let mut x = ORDER_STATE.load(Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ORDER_STATE.store(x, Relaxed);
    x
}

/// Puts `order` (the variants' indices) in round `r`'s order (see [`ROTATE`]).
fn reorder(order: &mut [usize], r: usize) {
    let n = order.len();
    if ROTATE.load(std::sync::atomic::Ordering::Relaxed) {
        for (k, o) in order.iter_mut().enumerate() {
            *o = (r + k) % n;
        }
    } else {
        for k in (1..n).rev() {
            order.swap(k, (next_random() % (k as u64 + 1)) as usize);
        }
    }
}

/// Runs `rounds` interleaved rounds: each round calls every variant once, in a new order each
/// round (see [`ROTATE`]), and records each call's wall time into `out[variant]`.
fn interleave(variants: &mut [Variant<'_>], rounds: usize, out: &mut [Samples]) {
    interleave_cpu(variants, rounds, out, None);
}

/// CPU time used so far by this process and its reaped children, in nanoseconds (getrusage;
/// the kernel derives the totals from its precise run-time accounting, in microseconds).
fn cpu_used_ns() -> f64 {
    use nix::sys::resource::{UsageWho, getrusage};
    let ns = |who| {
        getrusage(who).map_or(0.0, |u| {
            let us = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 * 1e6 + t.tv_usec() as f64;
            (us(u.user_time()) + us(u.system_time())) * 1e3
        })
    };
    ns(UsageWho::RUSAGE_SELF) + ns(UsageWho::RUSAGE_CHILDREN)
}

/// [`interleave`], also recording into `cpu[variant]` the CPU time each call cost: this
/// process's (every thread's: call it while the process has one) plus the script's, which is
/// counted when the call reaps it. Read outside the timed region.
fn interleave_cpu(
    variants: &mut [Variant<'_>],
    rounds: usize,
    out: &mut [Samples],
    mut cpu: Option<&mut [Samples]>,
) {
    let mut order: Vec<usize> = (0..variants.len()).collect();
    for r in 0..rounds {
        reorder(&mut order, r);
        for &i in &order {
            let c0 = if cpu.is_some() { cpu_used_ns() } else { 0.0 };
            let t = Instant::now();
            (variants[i].1)();
            out[i].0.push(t.elapsed().as_nanos() as f64);
            if let Some(c) = cpu.as_deref_mut() {
                c[i].0.push(cpu_used_ns() - c0);
            }
        }
    }
}

fn warm_up(variants: &mut [Variant<'_>]) {
    for _ in 0..10 {
        for v in variants.iter_mut() {
            (v.1)();
        }
    }
}

fn progress(msg: &str) {
    eprintln!("bench: {msg}");
}

/// The report under construction: result rows and target rows, as markdown.
#[derive(Default)]
struct Report {
    rows: Vec<String>,
    /// The rungs from the bare floor to hook-core, (b) and (c) side by side.
    ladder: Vec<String>,
    targets: Vec<String>,
    notes: Vec<String>,
}

impl Report {
    fn row(&mut self, case: &str, variant: &str, s: &Samples, ratio: &str) {
        self.rows.push(format!(
            "| {case} | {variant} | {} | {} | {} | {ratio} |",
            s.len(),
            fmt_ns(s.median()),
            fmt_ns(s.p99()),
        ));
    }

    fn target(&mut self, what: &str, measured: String, goal: &str, met: bool) {
        self.targets.push(format!(
            "| {what} | {measured} | {goal} | {} |",
            if met { "met" } else { "**missed**" }
        ));
    }
}

fn ratio(a: &Samples, b: &Samples) -> f64 {
    a.median() / b.median()
}

// --- the sections ----------------------------------------------------------------------------

/// Syscall count measured by xtask under strace: `COUNT/CALLS/CONTROL`.
struct Strace {
    syscalls: u64,
    calls: u64,
    control: u64,
}

fn section_absent(
    fx: &Fixture,
    samples: usize,
    strace: Option<&Strace>,
    peer: Option<&LibvirtPeer>,
    rep: &mut Report,
) {
    progress("(a) absent driver");
    const BATCH: u32 = 1000;
    for _ in 0..BATCH {
        absent_call(&fx.hooks);
        if let Some(p) = peer {
            p.absent();
        }
    }
    let mut s = Samples::default();
    let mut lv = Samples::default();
    let mut built = 0u64;
    let mut allocs = 0u64;
    // Reserved first, so recording the samples does not count as the calls' allocations.
    s.0.reserve(samples);
    lv.0.reserve(samples);
    for i in 0..samples {
        // Interleaved with libvirt's batches, the first one alternating.
        for turn in [i % 2, 1 - i % 2] {
            if turn == 0 {
                let allocs_before = CountingAlloc::allocations();
                let t = Instant::now();
                for _ in 0..BATCH {
                    built += absent_call(black_box(&fx.hooks)) as u64;
                }
                s.0.push(t.elapsed().as_nanos() as f64 / f64::from(BATCH));
                allocs += CountingAlloc::allocations() - allocs_before;
            } else if let Some(p) = peer {
                let t = Instant::now();
                for _ in 0..BATCH {
                    assert_eq!(p.absent(), 1);
                }
                lv.0.push(t.elapsed().as_nanos() as f64 / f64::from(BATCH));
            }
        }
    }
    let calls = samples as u64 * u64::from(BATCH);
    let syscalls = match strace {
        Some(st) => format!("{} syscalls in {} calls (strace)", st.syscalls, st.calls),
        None => "syscalls not counted (run `cargo xtask bench`)".to_owned(),
    };
    let vs_libvirt = match peer {
        Some(_) => format!("; {:.2} × libvirt", ratio(&s, &lv)),
        None => String::new(),
    };
    rep.rows.push(format!(
        "| (a) driver with nothing installed | hook-core `Hooks::run` in a driver crate's call function, not inlined (per call; {samples} samples of {BATCH} calls) | {} | {} | {} | {allocs} allocations in {calls} calls; stdin built {built} times; {syscalls}{vs_libvirt} |",
        s.len(),
        fmt_ns(s.median()),
        fmt_ns(s.p99()),
    ));
    match peer {
        Some(p) => rep.rows.push(format!(
            "| (a) driver with nothing installed | libvirt {} `virHookCall` (per call; {samples} samples of {BATCH} calls) | {} | {} | {} | 1 (the peer) |",
            p.lib.version(),
            lv.len(),
            fmt_ns(lv.median()),
            fmt_ns(lv.p99()),
        )),
        None => rep.rows.push(
            "| (a) driver with nothing installed | libvirt `virHookCall` | – | – | – | skipped (see the note) |"
                .to_owned(),
        ),
    }
    rep.target(
        "(a) absent-driver call, median",
        fmt_ns(s.median()),
        "< 100 ns",
        s.median() < 100.0,
    );
    match peer {
        Some(p) => rep.target(
            "(a) absent-driver call / libvirt's `virHookCall`, medians",
            format!(
                "{:.2} ({} against {} for libvirt {})",
                ratio(&s, &lv),
                fmt_ns(s.median()),
                fmt_ns(lv.median()),
                p.lib.version()
            ),
            "≤ 1",
            ratio(&s, &lv) <= 1.0,
        ),
        None => rep.target(
            "(a) absent-driver call / libvirt's `virHookCall`, medians",
            "skipped: libvirt not measured (see the note)".into(),
            "≤ 1",
            false,
        ),
    }
    match strace {
        Some(st) => {
            rep.target(
                "(a) syscalls made by absent-driver calls",
                format!(
                    "{} in {} calls (control: 10 `stat` calls counted as {})",
                    st.syscalls, st.calls, st.control
                ),
                "0",
                st.syscalls == 0 && st.control == 10,
            );
        }
        None => rep.target(
            "(a) syscalls made by absent-driver calls",
            "not counted".into(),
            "0",
            false,
        ),
    }
    rep.target(
        "(a) allocations made by absent-driver calls",
        format!("{allocs} in {calls} calls"),
        "0",
        allocs == 0 && built == 0,
    );
}

/// Touches 1 GiB: every page written, so it is resident. Returns the memory and its RSS.
fn hold_gib() -> (Vec<u8>, String) {
    let v = vec![1u8; 1 << 30];
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l["VmRSS:".len()..].trim().to_owned())
        })
        .unwrap_or_else(|| "?".into());
    (black_box(v), rss)
}

fn section_spawn(fx: &Fixture, rounds: usize, peer: Option<&LibvirtPeer>, rep: &mut Report) {
    progress("(b) and (c) one trivial script, without and with 1 GiB held");
    let runner = Runner::default();
    let libvirt_name = peer.map(|p| {
        format!(
            "libvirt {} `virHookCall` (1 KB domain on stdin)",
            p.lib.version()
        )
    });
    const BASE: [&str; 9] = [
        "hook-core `Hooks::run`, 1 KB domain on stdin (as `hook_qemu::prepare`)",
        "hook-core `Hooks::run`, stdin `/dev/null`",
        "hook-core `Runner::run`, stdin `/dev/null`",
        "bare `posix_spawn` + `waitpid` (inherited stdio, no file actions)",
        "raw `posix_spawn` + `waitpid` (stdio on `/dev/null`)",
        "`std::process::Command::status` (stdio on `/dev/null`)",
        "hook-core's `posix_spawn` request, no pipes, `waitpid`",
        "the same with stdout and stderr on pipes, read to EOF, `waitpid`",
        "hook-core `Runner::run`, 1 KB domain on stdin",
    ];
    let mut names: Vec<&str> = BASE.to_vec();
    const OURS: usize = 0;
    const BARE: usize = 3;
    const RAW: usize = 4;
    const LIBVIRT: usize = 9;
    // The ladder from the bare floor to hook-core, one guarantee per rung.
    const LADDER: [(usize, &str); 6] = [
        (BARE, "bare `posix_spawn` + `waitpid`"),
        (
            6,
            "+ hygiene: `/dev/null` stdin, fds >= 3 closed, signal mask and dispositions \
             reset, own process group",
        ),
        (7, "+ capture: stdout and stderr on pipes, read to EOF"),
        (
            2,
            "+ no hang: a pidfd and one `poll` loop (wait for the exit, not for EOF), \
             bounded drain (`Runner::run`)",
        ),
        (
            8,
            "+ the 1 KB document on a stdin pipe (written before the start: at most \
             `PIPE_BUF` bytes)",
        ),
        (
            OURS,
            "+ the hooks directory: `stat` the main script, `opendir` its `.d` (libvirt's \
             per-call rule), dispatch (`Hooks::run`)",
        ),
    ];
    let mut variants: Vec<Variant<'_>> = vec![
        (BASE[0], Box::new(|| hooks_document(fx))),
        (BASE[1], Box::new(|| hooks_trivial(fx))),
        (BASE[2], Box::new(|| runner_trivial(&runner, &fx.trivial))),
        (BASE[3], Box::new(|| bare_trivial(&fx.trivial))),
        (BASE[4], Box::new(|| raw_trivial(&fx.trivial))),
        (BASE[5], Box::new(|| std_baseline::status(&fx.trivial))),
        (BASE[6], Box::new(|| hygiene_trivial(&fx.trivial))),
        (BASE[7], Box::new(|| piped_trivial(&fx.trivial))),
        (BASE[8], Box::new(|| runner_document(&runner, &fx.trivial))),
    ];
    if let (Some(p), Some(name)) = (peer, libvirt_name.as_deref()) {
        names.push(name);
        variants.push(("libvirt", Box::new(move || libvirt_trivial(p))));
    }
    warm_up(&mut variants);
    let blocks = 20;
    let per_block = rounds.div_ceil(blocks);
    let mut without: Vec<Samples> = names.iter().map(|_| Samples::default()).collect();
    let mut with: Vec<Samples> = names.iter().map(|_| Samples::default()).collect();
    let mut cpu_without: Vec<Samples> = names.iter().map(|_| Samples::default()).collect();
    let mut cpu_with: Vec<Samples> = names.iter().map(|_| Samples::default()).collect();
    let mut rss = String::new();
    let mut touch_time = Duration::ZERO;
    // Blocks alternate (without, with) and (with, without), so neither condition always
    // follows the allocation or the release of the gigabyte.
    for b in 0..blocks {
        for held in [b % 2 == 1, b % 2 == 0] {
            if held {
                let t = Instant::now();
                let (mem, r) = hold_gib();
                touch_time = t.elapsed();
                rss = r;
                interleave_cpu(&mut variants, per_block, &mut with, Some(&mut cpu_with));
                black_box(&mem);
                drop(mem);
            } else {
                interleave_cpu(
                    &mut variants,
                    per_block,
                    &mut without,
                    Some(&mut cpu_without),
                );
            }
        }
        progress(&format!("  block {}/{blocks}", b + 1));
    }
    let vs_libvirt = |set: &[Samples], i: usize| -> String {
        if peer.is_some() && i != LIBVIRT {
            format!("; {:.3} × libvirt", ratio(&set[i], &set[LIBVIRT]))
        } else {
            String::new()
        }
    };
    for (i, name) in names.iter().enumerate() {
        let r = if i == BARE {
            "1 (the floor)".to_owned()
        } else {
            format!(
                "{:.3} × bare; {:.3} × raw{}",
                ratio(&without[i], &without[BARE]),
                ratio(&without[i], &without[RAW]),
                vs_libvirt(&without, i)
            )
        };
        rep.row("(b) `#!/bin/sh` exit 0", name, &without[i], &r);
    }
    for (i, name) in names.iter().enumerate() {
        rep.row(
            "(c) (b) with 1 GiB touched",
            name,
            &with[i],
            &format!(
                "{:.3} × same without; {:.3} × bare with 1 GiB{}",
                ratio(&with[i], &without[i]),
                ratio(&with[i], &with[BARE]),
                vs_libvirt(&with, i)
            ),
        );
    }
    if peer.is_none() {
        rep.rows.push(
            "| (b), (c) | libvirt `virHookCall` | – | – | – | skipped (see the note) |".to_owned(),
        );
    }
    // CPU per call: the mean (CPU time is not skewed by waiting, and the getrusage totals
    // are in whole microseconds, which a mean averages out).
    let mean = |s: &Samples| s.0.iter().sum::<f64>() / s.0.len().max(1) as f64;
    for (k, &(i, what)) in LADDER.iter().enumerate() {
        let step = |value: &dyn Fn(usize) -> f64| -> String {
            if k == 0 {
                "–".to_owned()
            } else {
                format!("{:+.1} µs", (value(i) - value(LADDER[k - 1].0)) / 1e3)
            }
        };
        rep.ladder.push(format!(
            "| {k} | {what} | {} | {} | {:.3} | {} | {} | {:.3} | {:.1} µs | {} |",
            fmt_ns(without[i].median()),
            step(&|j| without[j].median()),
            ratio(&without[i], &without[BARE]),
            fmt_ns(with[i].median()),
            step(&|j| with[j].median()),
            ratio(&with[i], &with[BARE]),
            mean(&cpu_without[i]) / 1e3,
            step(&|j| mean(&cpu_without[j])),
        ));
    }
    rep.notes.push(format!(
        "(c): the process's VmRSS while the gigabyte was held: {rss} (writing it took {:.2} s). \
         Blocks of {per_block} interleaved rounds alternate between holding it and not, \
         {blocks} blocks each.",
        touch_time.as_secs_f64()
    ));
    let b = ratio(&without[OURS], &without[BARE]);
    rep.target(
        "(b) hook-core `Hooks::run` (1 KB domain) / bare `posix_spawn`",
        format!(
            "{b:.3} (stdin `/dev/null`: {:.3}; `Runner::run`: {:.3}; std `Command`: {:.3}); \
             what each guarantee adds: \"Where the gap to the bare floor goes\"",
            ratio(&without[1], &without[BARE]),
            ratio(&without[2], &without[BARE]),
            ratio(&without[5], &without[BARE]),
        ),
        "≤ 1.05",
        b <= 1.05,
    );
    let c = ratio(&with[OURS], &with[BARE]);
    rep.target(
        "(c) the same with 1 GiB held",
        format!(
            "{c:.3} (stdin `/dev/null`: {:.3}; `Runner::run`: {:.3}); with / without 1 GiB: \
             hook-core {:.3}, bare {:.3}",
            ratio(&with[1], &with[BARE]),
            ratio(&with[2], &with[BARE]),
            ratio(&with[OURS], &without[OURS]),
            ratio(&with[BARE], &without[BARE]),
        ),
        "≤ 1.10",
        c <= 1.10,
    );
    match peer {
        Some(p) => {
            let (l0, l1) = (
                ratio(&without[OURS], &without[LIBVIRT]),
                ratio(&with[OURS], &with[LIBVIRT]),
            );
            rep.target(
                "(b), (c) hook-core / libvirt's `virHookCall`, same script and document",
                format!(
                    "{l0:.3} at 0 MiB, {l1:.3} with 1 GiB held (libvirt {}: {:.2} × bare, \
                     {:.2} × bare with 1 GiB)",
                    p.lib.version(),
                    ratio(&without[LIBVIRT], &without[BARE]),
                    ratio(&with[LIBVIRT], &with[BARE]),
                ),
                "≤ 1",
                l0 <= 1.0 && l1 <= 1.0,
            );
        }
        None => rep.target(
            "(b), (c) hook-core / libvirt's `virHookCall`, same script and document",
            "skipped: libvirt not measured (see the note)".into(),
            "≤ 1",
            false,
        ),
    }
}

fn section_filter(fx: &Fixture, rounds: usize, rep: &mut Report) {
    progress("(d) 50 KB domain through a cat filter");
    let names = [
        "hook-core `Hooks::run` (migrate: output used)",
        "std `Command`, stdin written by a thread",
        "std `Command`, stdin written first (fits the pipe buffer only)",
    ];
    let mut variants: Vec<Variant<'_>> = vec![
        (names[0], Box::new(|| hooks_filter(fx))),
        (
            names[1],
            Box::new(|| std_baseline::filter_thread(&fx.filter, DOMAIN_LARGE)),
        ),
        (
            names[2],
            Box::new(|| std_baseline::filter_inline(&fx.filter, DOMAIN_LARGE)),
        ),
    ];
    // The filter really returns the document, byte for byte.
    let out = fx
        .hooks
        .run(&FILTER, "bench-guest", || Some(Cow::Borrowed(DOMAIN_LARGE)))
        .expect("filter");
    assert_eq!(out.output.as_deref(), Some(DOMAIN_LARGE));
    warm_up(&mut variants);
    let mut s: Vec<Samples> = names.iter().map(|_| Samples::default()).collect();
    interleave(&mut variants, rounds, &mut s);
    let case = format!("(d) {} B domain through `exec cat`", DOMAIN_LARGE.len());
    for (i, name) in names.iter().enumerate() {
        let r = if i == 1 {
            "1 (the baseline)".to_owned()
        } else {
            format!("{:.3} × std with a thread", ratio(&s[i], &s[1]))
        };
        rep.row(&case, name, &s[i], &r);
    }
    let d = ratio(&s[0], &s[1]);
    rep.target(
        "(d) hook-core filter / std `Command` (thread)",
        format!(
            "{d:.3} (against std writing first: {:.3})",
            ratio(&s[0], &s[2])
        ),
        "≤ 1.05",
        d <= 1.05,
    );
}

fn section_many(fx: &Fixture, rounds: usize, rep: &mut Report) {
    progress("(e) main script + 8 .d scripts");
    // Call times are skewed (a long tail), so the median of a sum of nine calls is more than
    // nine medians of one: each variant here makes nine starts, so they compare like with like.
    let names = [
        "hook-core `Hooks::run`: main + 8 `.d` scripts",
        "hook-core `Hooks::run` of a 1-script driver, 9 calls in a row",
        "raw `posix_spawn` + `waitpid`, 9 in a row",
    ];
    let mut variants: Vec<Variant<'_>> = vec![
        (names[0], Box::new(|| hooks_many(fx))),
        (
            names[1],
            Box::new(|| {
                for _ in 0..9 {
                    hooks_trivial(fx);
                }
            }),
        ),
        (
            names[2],
            Box::new(|| {
                for _ in 0..9 {
                    raw_trivial(&fx.trivial);
                }
            }),
        ),
    ];
    warm_up(&mut variants);
    let mut s: Vec<Samples> = names.iter().map(|_| Samples::default()).collect();
    interleave(&mut variants, rounds, &mut s);
    let case = "(e) 9 scripts per sample";
    rep.row(
        case,
        names[0],
        &s[0],
        &format!(
            "{} per script; {:.3} × raw, {:.3} × 9 one-script calls",
            fmt_ns(s[0].median() / 9.0),
            ratio(&s[0], &s[2]),
            ratio(&s[0], &s[1]),
        ),
    );
    rep.row(
        case,
        names[1],
        &s[1],
        &format!(
            "{} per script; {:.3} × raw",
            fmt_ns(s[1].median() / 9.0),
            ratio(&s[1], &s[2])
        ),
    );
    rep.row(
        case,
        names[2],
        &s[2],
        &format!("{} per script; 1 (the floor)", fmt_ns(s[2].median() / 9.0)),
    );
    rep.targets.push(format!(
        "| (e) cost per script, main + 8 `.d` scripts / raw `posix_spawn` | {:.3} | none set | — |",
        ratio(&s[0], &s[2])
    ));
}

/// User + system CPU time of this process and its reaped children, in clock ticks
/// (`/proc/self/stat` fields 14-17).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14 → index 11.
    (11..15)
        .filter_map(|i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum()
}

/// Busy CPU time of the whole machine (every process, ours included), in clock ticks: user,
/// nice, system, irq, softirq and steal of `/proc/stat`'s first line.
fn machine_busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let first = stat.lines().next().unwrap_or("");
    let f: Vec<u64> = first
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    [0usize, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| f.get(i))
        .sum()
}

/// USER_HZ: the unit of `/proc/*/stat` times on Linux.
const TICKS_PER_SEC: f64 = 100.0;

/// One (f) configuration: who makes the calls and how many threads.
struct ThreadRun {
    kind: &'static str,
    threads: usize,
    rates: Vec<f64>,
    ours: Vec<f64>,
    others: Vec<f64>,
    lat: Samples,
}

fn section_threads(fx: &Fixture, rounds: usize, round_time: Duration, rep: &mut Report) {
    progress("(f) threads calling a trivial hook (and raw posix_spawn, for the machine's ceiling)");
    let counts = [1usize, 2, 8, 32];
    let kinds = ["hook-core `Hooks::run`", "raw `posix_spawn` + `waitpid`"];
    let mut runs: Vec<ThreadRun> = kinds
        .iter()
        .flat_map(|&kind| {
            counts.iter().map(move |&threads| ThreadRun {
                kind,
                threads,
                rates: Vec::new(),
                ours: Vec::new(),
                others: Vec::new(),
                lat: Samples::default(),
            })
        })
        .collect();
    let n = runs.len();
    for r in 0..rounds {
        for k in 0..n {
            let run = &mut runs[(r + k) % n];
            let hook_core = run.kind == kinds[0];
            let (cpu0, all0) = (cpu_ticks(), machine_busy_ticks());
            let t0 = Instant::now();
            let deadline = t0 + round_time;
            let per_thread: Vec<Vec<f64>> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..run.threads)
                    .map(|_| {
                        scope.spawn(move || {
                            let mut l = Vec::with_capacity(4096);
                            while Instant::now() < deadline {
                                let t = Instant::now();
                                if hook_core {
                                    hooks_trivial(fx);
                                } else {
                                    raw_trivial(&fx.trivial);
                                }
                                l.push(t.elapsed().as_nanos() as f64);
                            }
                            l
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("thread"))
                    .collect()
            });
            let wall = t0.elapsed().as_secs_f64();
            let ours = (cpu_ticks() - cpu0) as f64 / TICKS_PER_SEC / wall;
            let all = (machine_busy_ticks() - all0) as f64 / TICKS_PER_SEC / wall;
            let calls: usize = per_thread.iter().map(Vec::len).sum();
            run.rates.push(calls as f64 / wall);
            run.ours.push(ours);
            run.others.push((all - ours).max(0.0));
            for l in per_thread {
                run.lat.0.extend(l);
            }
        }
        progress(&format!("  round {}/{rounds}", r + 1));
    }
    let med = |v: &[f64]| Samples(v.to_vec()).median();
    for (ki, kind) in kinds.iter().enumerate() {
        let base = med(&runs[ki * counts.len()].rates);
        for run in runs.iter().filter(|r| r.kind == *kind) {
            let rate = med(&run.rates);
            rep.row(
                &format!(
                    "(f) {} thread{}",
                    run.threads,
                    if run.threads == 1 { "" } else { "s" }
                ),
                &format!("{kind}, trivial script: latency of one call"),
                &run.lat,
                &format!(
                    "**{rate:.0} calls/s** ({:.2} × 1 thread); CPU busy: ours {:.2} cores, \
                     other processes {:.2} cores",
                    rate / base,
                    med(&run.ours),
                    med(&run.others),
                ),
            );
        }
    }
    let speedup =
        |ki: usize| med(&runs[ki * counts.len() + 1].rates) / med(&runs[ki * counts.len()].rates);
    let (f, f_raw) = (speedup(0), speedup(1));
    rep.target(
        "(f) calls/s, 2 threads / 1 thread",
        format!(
            "{f:.2} (raw `posix_spawn` on the same machine in the same run: {f_raw:.2}; \
             other processes kept {:.2} cores busy)",
            med(&runs[1].others)
        ),
        "≥ 1.6",
        f >= 1.6,
    );
    rep.notes.push(format!(
        "(f): calls/s is the median of {rounds} rounds of {:.1} s per configuration, the 8 \
         configurations interleaved round by round. \"CPU busy, ours\" is the user + system time \
         of this process and its reaped children (`/proc/self/stat`) per second of wall time; \
         \"other processes\" is the machine's busy time (`/proc/stat`: user, nice, system, irq, \
         softirq, steal) minus ours. One calling thread keeps about one core busy (it sleeps \
         while its script runs), so on {} cores the best 2-thread speed-up is about the cores \
         left by other processes ÷ the 1-thread figure; raw `posix_spawn` shows what this \
         machine allowed. When other processes keep the cores busy, the scheduler shares the \
         cores per runnable thread, so one calling thread gets less than a core and the \
         2-thread ratio measures that share more than parallelism: read it against the raw \
         row and the \"other processes\" column.",
        round_time.as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    ));
}

// --- (g) one event as libvirt calls it ---------------------------------------------------------

/// The guides' hook helper (PassthroughPOST / VFIO-Tools `libvirt_hooks/qemu`), the main hook
/// the dispatcher replaces (the tests' copy).
const HOOK_HELPER: &str = include_str!("../../tests/fixtures/hook-helper-qemu");

/// (g)'s per-guest script, relative to a hooks directory.
const EVENT_SCRIPT: &str = "qemu.d/test/prepare/begin/10-x";

/// The arguments libvirt gives the main hook for (g): `qemu test prepare begin -` (`test` is
/// the guest of the 1 KB domain).
const EVENT_ARGS: [&str; 4] = ["test", "prepare", "begin", "-"];

/// The socket paths the dispatcher's default `log = "auto"` tries, in order.
const LOG_SOCKETS: [&str; 2] = ["/run/systemd/journal/socket", "/dev/log"];

/// (g)'s main hooks, each installed as `qemu` in front of the same per-guest script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MainHook {
    /// `#!/bin/sh` + `exec <script> "$@"`: the floor for a main hook that runs that script.
    Exec,
    /// `virt-hook install`: `qemu` a hard link to the copy `virt-hook`, default settings.
    Dispatcher,
    /// The guides' hook helper (bash).
    Helper,
}

impl MainHook {
    const ALL: [MainHook; 3] = [MainHook::Exec, MainHook::Dispatcher, MainHook::Helper];

    /// What the report calls it.
    fn name(self) -> &'static str {
        match self {
            MainHook::Exec => "`#!/bin/sh` main hook that `exec`s the script",
            MainHook::Dispatcher => "the dispatcher (`virt-hook install`, default settings)",
            MainHook::Helper => "the guides' hook helper (bash)",
        }
    }

    /// A name for files and progress lines.
    fn tag(self) -> &'static str {
        match self {
            MainHook::Exec => "exec",
            MainHook::Dispatcher => "dispatcher",
            MainHook::Helper => "helper",
        }
    }
}

/// Writes an executable file, creating its directory.
fn write_executable(path: &Path, body: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    std::fs::write(path, body)
        .and_then(|()| std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)))
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// `DISPATCHER --hooks-dir DIR install` (started through hook-core, with libvirt's
/// environment); checks that `DIR/qemu` is then a hard link to `DIR/virt-hook`.
fn install_dispatcher(dir: &Path, dispatcher: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let dir_arg = dir
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", dir.display()))?;
    let shown = format!("{} --hooks-dir {dir_arg} install", dispatcher.display());
    let report = Runner::default()
        .run(&Invocation {
            script: dispatcher,
            args: &["--hooks-dir", dir_arg, "install"],
            stdin: None,
            capture_stdout: true,
        })
        .map_err(|e| format!("`{shown}`: {e}"))?;
    if !report.success() {
        return Err(format!(
            "`{shown}` failed ({:?}): {}",
            report.ending,
            String::from_utf8_lossy(&report.stderr).trim()
        ));
    }
    let ino = |name: &str| std::fs::metadata(dir.join(name)).map(|m| (m.dev(), m.ino()));
    match (ino("qemu"), ino("virt-hook")) {
        (Ok(a), Ok(b)) if a == b => Ok(()),
        _ => Err(format!(
            "`{shown}` did not make {dir_arg}/qemu a hard link to {dir_arg}/virt-hook"
        )),
    }
}

/// Lays out a hooks directory for `main`: the per-guest exit-0 script and `main` as `qemu`.
fn event_dir(dir: &Path, main: MainHook, dispatcher: &Path) -> Result<(), String> {
    write_executable(&dir.join(EVENT_SCRIPT), "#!/bin/sh\nexit 0\n")?;
    let qemu = dir.join("qemu");
    match main {
        MainHook::Exec => write_executable(
            &qemu,
            &format!(
                "#!/bin/sh\nexec {} \"$@\"\n",
                dir.join(EVENT_SCRIPT).display()
            ),
        ),
        MainHook::Helper => write_executable(&qemu, HOOK_HELPER),
        MainHook::Dispatcher => install_dispatcher(dir, dispatcher),
    }
}

/// libvirt's private hooks directory set up for (g): the per-guest script, the dispatcher
/// installed, and the three main hooks kept under other names, one of them linked in as
/// `qemu` before each of libvirt's calls (libvirt runs only `<its hooks dir>/qemu`). Dropping
/// it puts back the exit-0 `qemu` the other sections use and removes the rest.
struct LibvirtMains {
    dir: PathBuf,
}

impl LibvirtMains {
    /// The exit-0 `qemu` of [`LibvirtPeer`], kept while (g) runs.
    const KEPT: &'static str = ".bench-exit0";

    fn new(dispatcher: &Path) -> Result<LibvirtMains, String> {
        let dir = PathBuf::from(PrivateLibvirtHooksDir::PATH);
        std::fs::rename(dir.join("qemu"), dir.join(Self::KEPT))
            .map_err(|e| format!("moving libvirt's exit-0 qemu hook aside: {e}"))?;
        // From here on, dropping it puts everything back.
        let mains = LibvirtMains { dir };
        for main in MainHook::ALL {
            event_dir(&mains.dir, main, dispatcher)?;
            std::fs::rename(mains.dir.join("qemu"), mains.path(main))
                .map_err(|e| format!("renaming {} main hook: {e}", main.tag()))?;
        }
        Ok(mains)
    }

    fn path(&self, main: MainHook) -> PathBuf {
        self.dir.join(format!(".bench-main-{}", main.tag()))
    }

    /// Makes `qemu` a hard link to `file` (a new link, then a rename over `qemu`).
    fn link_as_qemu(&self, file: &Path) {
        let tmp = self.dir.join(".bench-qemu-new");
        let _ = std::fs::remove_file(&tmp);
        std::fs::hard_link(file, &tmp).expect("link a main hook");
        std::fs::rename(&tmp, self.dir.join("qemu")).expect("rename it to qemu");
    }

    /// Puts `main` in place as `qemu` (untimed, before the call).
    fn select(&self, main: MainHook) {
        self.link_as_qemu(&self.path(main));
    }
}

impl Drop for LibvirtMains {
    fn drop(&mut self) {
        let kept = self.dir.join(Self::KEPT);
        if kept.exists() {
            self.link_as_qemu(&kept);
        }
        let _ = std::fs::remove_dir_all(self.dir.join("qemu.d"));
        for name in [Self::KEPT, "virt-hook", "virt-hook.toml"] {
            let _ = std::fs::remove_file(self.dir.join(name));
        }
        for main in MainHook::ALL {
            let _ = std::fs::remove_file(self.path(main));
        }
    }
}

/// A variant whose call is timed after an untimed setup.
type Staged<'a> = (Box<dyn FnMut() + 'a>, Box<dyn FnMut() + 'a>);

/// [`interleave`] for staged variants: each call is timed, its setup is not.
fn interleave_staged(variants: &mut [Staged<'_>], rounds: usize, out: &mut [Samples]) {
    let mut order: Vec<usize> = (0..variants.len()).collect();
    for r in 0..rounds {
        reorder(&mut order, r);
        for &i in &order {
            (variants[i].0)();
            let t = Instant::now();
            (variants[i].1)();
            out[i].0.push(t.elapsed().as_nanos() as f64);
        }
    }
}

/// One event through a main hook, called as libvirt calls it: `qemu test prepare begin -`,
/// libvirt's environment, the 1 KB domain on a stdin pipe, stdout and stderr on pipes.
/// Returns whether the hook succeeded.
/// The environment libvirtd (a systemd service) gives a hook: `LC_ALL=C` and a `PATH`, nothing
/// else: the "env -i environment". Not this process's: under `cargo run`,
/// `LD_LIBRARY_PATH` names four directories, which every dynamically linked start (each `/bin/sh`)
/// searches first for `libc.so.6`, a cost the two-shell floor pays twice and the dispatcher once.
fn event_runner() -> Runner {
    let env = ScriptEnv::libvirt_from(|name| {
        (name == "PATH")
            .then(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into())
    });
    Runner::new(env, Limits::default())
}

fn event_status(runner: &Runner, main: &Path) -> bool {
    runner
        .run(&Invocation {
            script: main,
            args: &EVENT_ARGS,
            stdin: Some(DOMAIN_SMALL),
            capture_stdout: false,
        })
        .expect("run the main hook")
        .success()
}

/// [`event_status`], which must succeed.
fn event_call(runner: &Runner, main: &Path) {
    assert!(event_status(runner, main), "{} failed", main.display());
}

/// Checks that `call` (one event through a main hook) runs the per-guest `script`: it fails
/// while the script exits 3 and succeeds again once it exits 0.
fn runs_the_script(
    what: &str,
    script: &Path,
    call: &mut dyn FnMut() -> bool,
) -> Result<(), String> {
    write_executable(script, "#!/bin/sh\nexit 3\n")?;
    let failed = !call();
    write_executable(script, "#!/bin/sh\nexit 0\n")?;
    if !failed {
        return Err(format!(
            "{what} succeeded while {} exited 3: it does not run the script",
            script.display()
        ));
    }
    if !call() {
        return Err(format!("{what} fails with {} exiting 0", script.display()));
    }
    Ok(())
}

/// A path as the report shows it: from its `target/` component on (the build's output), so
/// that the report names no checkout.
fn shown_path(path: &Path) -> String {
    let parts: Vec<_> = path.components().collect();
    match parts.iter().rposition(|c| c.as_os_str() == "target") {
        Some(i) => parts[i..].iter().collect::<PathBuf>().display().to_string(),
        None => path.display().to_string(),
    }
}

/// (g): the cost per libvirt event of the dispatcher installed as `qemu`, against a
/// `#!/bin/sh` main hook that `exec`s the per-guest script and against the guides' hook
/// helper; called by hook-core's `Runner` (as libvirt calls a hook) and, when it can be
/// measured, by libvirt's own `virHookCall`. `dispatcher` is the static binary `cargo xtask
/// dist` ships, `Err` saying why there is none.
/// When section (g) runs in the full benchmark: it runs twice, first and last, to show how far
/// its ratio moves between two runs on the same machine (it has the widest spread: two
/// processes per event, each faulting in its start-up).
#[derive(Clone, Copy, PartialEq, Eq)]
enum EventRun {
    /// `event-section` alone.
    Alone,
    /// The first section of the full run.
    First,
    /// The last section of the full run.
    Last,
}

impl EventRun {
    fn label(self) -> &'static str {
        match self {
            EventRun::Alone => "",
            EventRun::First => " (run first)",
            EventRun::Last => " (run last)",
        }
    }
}

fn section_event(
    fx: &Fixture,
    rounds: usize,
    dispatcher: Result<&Path, &str>,
    peer: Option<&LibvirtPeer>,
    run: EventRun,
    rep: &mut Report,
) {
    let label = run.label();
    let case = format!("(g) one qemu event, as libvirt calls it{label}");
    let case = case.as_str();
    let goals = [
        (
            format!(
                "(g) dispatcher / `#!/bin/sh` main hook that `exec`s the same script, per \
                 event{label}"
            ),
            "≤ 1.10",
        ),
        (
            format!("(g) dispatcher / the guides' hook helper, per event{label}"),
            "< 0.50",
        ),
    ];
    let skip = |rep: &mut Report, why: &str| {
        rep.rows.push(format!(
            "| {case} | the three main hooks | – | – | – | skipped: {why} |"
        ));
        for (what, goal) in &goals {
            rep.target(what, format!("skipped: {why}"), goal, false);
        }
    };
    let dispatcher = match dispatcher {
        Ok(d) => d,
        Err(why) => {
            progress(&format!("(g) skipped: {why}"));
            return skip(rep, why);
        }
    };
    progress("(g) one qemu event as libvirt calls it: exec main hook, dispatcher, hook helper");
    let mut dirs = Vec::new();
    for main in MainHook::ALL {
        let dir = fx.dir.join(format!("event-{}", main.tag()));
        if let Err(e) = event_dir(&dir, main, dispatcher) {
            progress(&format!("(g) skipped: {e}"));
            return skip(rep, &e);
        }
        let qemu = dir.join("qemu");
        let runner = event_runner();
        let checked = runs_the_script(
            &format!("the {} main hook", main.tag()),
            &dir.join(EVENT_SCRIPT),
            &mut || event_status(&runner, &qemu),
        );
        if let Err(e) = checked {
            progress(&format!("(g) skipped: {e}"));
            return skip(rep, &e);
        }
        dirs.push(qemu);
    }
    let guest = CString::new("test").expect("no NUL");
    let libvirt = peer.and_then(|p| {
        let mains = LibvirtMains::new(dispatcher).and_then(|m| {
            let script = m.dir.join(EVENT_SCRIPT);
            for main in MainHook::ALL {
                m.select(main);
                runs_the_script(
                    &format!("libvirt's call of the {} main hook", main.tag()),
                    &script,
                    &mut || p.call_for(&guest) == 0,
                )?;
            }
            Ok(m)
        });
        match mains {
            Ok(m) => Some((p, m)),
            Err(e) => {
                progress(&format!("(g) libvirt's caller skipped: {e}"));
                None
            }
        }
    });
    let runner = event_runner();
    // libvirt's caller passes LD_* on from this process's environment (`virCommandAddEnvPassCommon`);
    // `cargo xtask bench` starts the benchmark without them, a run by hand must too.
    if let Some(v) = std::env::var_os("LD_LIBRARY_PATH") {
        progress(&format!(
            "(g) warning: LD_LIBRARY_PATH={} is set and libvirt's caller passes it to the hooks: \
             unset it (cargo run sets it) for libvirt's environment",
            v.to_string_lossy()
        ));
    }
    let started = Instant::now();
    let mut variants: Vec<Staged<'_>> = Vec::new();
    for path in &dirs {
        variants.push((Box::new(|| {}), Box::new(|| event_call(&runner, path))));
    }
    if let Some((p, m)) = &libvirt {
        for main in MainHook::ALL {
            let guest = guest.as_c_str();
            variants.push((
                Box::new(move || m.select(main)),
                Box::new(move || assert_eq!(p.call_for(guest), 0, "virHookCall failed")),
            ));
        }
    }
    for _ in 0..10 {
        for v in variants.iter_mut() {
            (v.0)();
            (v.1)();
        }
    }
    let mut s: Vec<Samples> = variants.iter().map(|_| Samples::default()).collect();
    interleave_staged(&mut variants, rounds, &mut s);
    drop(variants);
    let took = started.elapsed().as_secs_f64();

    let (exec, disp, helper) = (0, 1, 2);
    let callers: Vec<(String, usize)> = std::iter::once(("hook-core `Runner::run`".to_owned(), 0))
        .chain(
            libvirt
                .as_ref()
                .map(|(p, _)| (format!("libvirt {} `virHookCall`", p.lib.version()), 3)),
        )
        .collect();
    let spread = |x: &Samples| {
        format!(
            "p25–p75 {}–{}",
            fmt_ns(x.quantile(0.25)),
            fmt_ns(x.quantile(0.75))
        )
    };
    for (caller, base) in &callers {
        for (k, main) in MainHook::ALL.iter().enumerate() {
            let x = &s[base + k];
            let r = match main {
                MainHook::Exec => "1 (the floor)".to_owned(),
                MainHook::Dispatcher => format!(
                    "{:.3} × exec main hook; {:.3} × hook helper",
                    ratio(x, &s[base + exec]),
                    ratio(x, &s[base + helper])
                ),
                MainHook::Helper => format!("{:.3} × exec main hook", ratio(x, &s[base + exec])),
            };
            rep.row(
                case,
                &format!("{caller} → {}", main.name()),
                x,
                &format!("{r}; {}", spread(x)),
            );
        }
    }
    if libvirt.is_none() {
        rep.rows.push(format!(
            "| {case} | libvirt `virHookCall` as the caller | – | – | – | skipped (see the note) |"
        ));
    }
    for (g, (what, goal)) in goals.iter().enumerate() {
        let (other, limit) = if g == 0 { (exec, 1.10) } else { (helper, 0.50) };
        let measured: Vec<f64> = callers
            .iter()
            .map(|(_, base)| ratio(&s[base + disp], &s[base + other]))
            .collect();
        // The same ratio over each half of the rounds: how far it moves within one run.
        let halves = |a: &Samples, b: &Samples| {
            let part = |x: &Samples, first: bool| {
                let h = x.0.len() / 2;
                Samples(if first {
                    x.0[..h].to_vec()
                } else {
                    x.0[h..].to_vec()
                })
            };
            (
                ratio(&part(a, true), &part(b, true)),
                ratio(&part(a, false), &part(b, false)),
            )
        };
        let text = callers
            .iter()
            .zip(&measured)
            .map(|((caller, base), r)| {
                let (h1, h2) = halves(&s[base + disp], &s[base + other]);
                format!("{r:.3} called by {caller} (halves of the run: {h1:.3}, {h2:.3})")
            })
            .collect::<Vec<_>>()
            .join("; ");
        let met = if g == 0 {
            measured.iter().all(|&r| r <= limit)
        } else {
            measured.iter().all(|&r| r < limit)
        };
        rep.target(what, text, goal, met);
    }
    if run == EventRun::Last {
        return; // the note was written by the first run
    }
    let sockets: Vec<&str> = LOG_SOCKETS
        .iter()
        .copied()
        .filter(|p| Path::new(p).exists())
        .collect();
    let log = if sockets.is_empty() {
        "neither the journal's socket nor `/dev/log` exists on this machine, so the \
         dispatcher dropped its log lines (one per script run) without making a socket; on a \
         host with a journal each event also pays a socket, a `connect` and one datagram per \
         script (about 40 µs on this machine, measured with a receiving socket set as \
         `log_socket`)"
            .to_owned()
    } else {
        format!(
            "{} exists on this machine: the dispatcher sent one log datagram per script run",
            sockets.join(" and ")
        )
    };
    rep.notes.push(format!(
        "(g): one qemu event as libvirt makes it, `qemu test prepare begin -` with libvirt's \
         environment as libvirtd's service has it (`LC_ALL=C` and a `PATH`, nothing else: no \
         `LD_LIBRARY_PATH`, which `cargo run` sets and every `/bin/sh` start would search) and the {} B domain on a stdin pipe, through three main hooks, each \
         installed as `qemu` in its own temporary hooks directory in front of the same \
         per-guest script `{EVENT_SCRIPT}` (`#!/bin/sh`, `exit 0`): the `#!/bin/sh` main \
         hook that `exec`s that script (`exec <dir>/{EVENT_SCRIPT} \"$@\"`: the floor for a \
         main hook that runs it, one shell start then the script); the dispatcher, `{}` \
         (the binary given with `--dispatcher`: `cargo xtask bench` builds it as `cargo \
         xtask dist` ships it: static, at a fixed address, its code in event order) put in place by its own `virt-hook --hooks-dir <dir> install` (`qemu` a hard link to \
         the copy `virt-hook`) with no `virt-hook.toml`, so with the default settings \
         (timeout 60 s, `log = \"auto\"`): its own start, then a `posix_spawn` of the \
         script; and the guides' hook helper (`tests/fixtures/hook-helper-qemu`: bash, \
         which runs `dirname` and `find`, then the script). The caller is hook-core's \
         `Runner::run` (argv, environment, stdin pipe, stdout and stderr on pipes, as \
         libvirt's `virCommand` gives a hook) and, when libvirt is measured, libvirt's own \
         `virHookCall` on its private hooks directory, into which the three main hooks are \
         linked as `qemu` in turn (the link, untimed, before each call). Before measuring, \
         each main hook under each caller is checked to run the script: its call fails while \
         the script exits 3. All {} variants are interleaved, {rounds} rounds after 10 of \
         warm-up ({took:.0} s in all); ratios are of medians within this run. The full \
         benchmark runs the section twice, first and last, to show how far its ratios move \
         between two runs on this machine. Logging: {log}.",
        DOMAIN_SMALL.len(),
        shown_path(dispatcher),
        s.len(),
    ));
}

// --- modes -----------------------------------------------------------------------------------

/// `absent-only N`: N absent-driver calls between two `getppid` markers, then 10 `stat` calls
/// between two more, for xtask's strace count. Prints what it did on stdout.
fn absent_only(calls: u64) {
    let fx = Fixture::new();
    let mut built = 0u64;
    let allocs0 = CountingAlloc::allocations();
    black_box(std::os::unix::process::parent_id());
    for _ in 0..calls {
        built += absent_call(black_box(&fx.hooks)) as u64;
    }
    black_box(std::os::unix::process::parent_id());
    let allocs = CountingAlloc::allocations() - allocs0;
    black_box(std::os::unix::process::parent_id());
    for _ in 0..10 {
        let _ = black_box(std::fs::metadata(black_box(&fx.dir)));
    }
    black_box(std::os::unix::process::parent_id());
    println!("calls={calls} allocations={allocs} stdin_built={built}");
}

/// `absent-probe SAMPLES`: (a) alone, hook-core's absent call against libvirt's when it can be
/// measured, batches of 1000 interleaved; prints the medians. A diagnostic for (a).
fn absent_probe(samples: usize) {
    let peer = LibvirtPeer::new()
        .map_err(|e| eprintln!("libvirt skipped: {e}"))
        .ok();
    let fx = Fixture::new();
    let mut rep = Report::default();
    section_absent(&fx, samples, None, peer.as_ref(), &mut rep);
    for r in rep.rows {
        println!("{r}");
    }
}

/// `spawn-probe ROUNDS [--gib]`: (b)'s main variants alone, interleaved for ROUNDS rounds (with
/// 1 GiB held); prints the ratios of medians to the bare `posix_spawn`. A diagnostic for (b).
fn spawn_probe(rounds: usize, gib: bool) {
    let fx = Fixture::new();
    let held = gib.then(hold_gib);
    let runner = Runner::default();
    let mut variants: Vec<Variant<'_>> = vec![
        ("hooks", Box::new(|| hooks_trivial(&fx))),
        ("runner", Box::new(|| runner_trivial(&runner, &fx.trivial))),
        ("raw", Box::new(|| raw_trivial(&fx.trivial))),
        ("std", Box::new(|| std_baseline::status(&fx.trivial))),
        ("bare", Box::new(|| bare_trivial(&fx.trivial))),
        ("document", Box::new(|| hooks_document(&fx))),
    ];
    warm_up(&mut variants);
    let mut s: Vec<Samples> = (0..6).map(|_| Samples::default()).collect();
    interleave(&mut variants, rounds, &mut s);
    println!(
        "Hooks::run/bare {:.3} Hooks::run(document)/bare {:.3} Runner::run/bare {:.3} \
         raw/bare {:.3} std/bare {:.3} (bare median {})",
        ratio(&s[0], &s[4]),
        ratio(&s[5], &s[4]),
        ratio(&s[1], &s[4]),
        ratio(&s[2], &s[4]),
        ratio(&s[3], &s[4]),
        fmt_ns(s[4].median())
    );
    black_box(held);
}

/// `threads-probe KIND THREADS SECS`: THREADS threads calling KIND (`hooks`, `document`,
/// `runner`, `raw`, `bare`)
/// for SECS seconds; prints calls/s and CPU busy. A diagnostic for (f).
fn threads_probe(kind: &str, threads: usize, dur: Duration) {
    let fx = Fixture::new();
    let runner = Runner::default();
    let cpu0 = cpu_ticks();
    let t0 = Instant::now();
    let deadline = t0 + dur;
    let calls: usize = std::thread::scope(|scope| {
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut n = 0usize;
                    while Instant::now() < deadline {
                        match kind {
                            "runner" => runner_trivial(&runner, &fx.trivial),
                            "raw" => raw_trivial(&fx.trivial),
                            "bare" => bare_trivial(&fx.trivial),
                            "document" => hooks_document(&fx),
                            _ => hooks_trivial(&fx),
                        }
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("thread")).sum()
    });
    let wall = t0.elapsed().as_secs_f64();
    let cpu = (cpu_ticks() - cpu0) as f64 / TICKS_PER_SEC;
    println!(
        "{kind} threads={threads} calls/s={:.0} cpu_busy={:.2}",
        calls as f64 / wall,
        cpu / wall
    );
}

fn main() {
    // `cargo bench` passes `--bench`; ignore it.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("absent-only") {
        let n = args
            .get(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(100_000u64);
        absent_only(n);
        return;
    }
    if args.iter().any(|a| a == "--rotate") {
        ROTATE.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    if args.first().map(String::as_str) == Some("spawn-section") {
        // (b), (c) and the ladder alone, libvirt included when it can be measured.
        let peer = LibvirtPeer::new()
            .map_err(|e| eprintln!("libvirt skipped: {e}"))
            .ok();
        let fx = Fixture::new();
        let mut rep = Report::default();
        let rounds = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(200);
        section_spawn(&fx, rounds, peer.as_ref(), &mut rep);
        for r in rep.rows.iter().chain(&rep.ladder).chain(&rep.targets) {
            println!("{r}");
        }
        return;
    }
    let dispatcher_arg = args
        .iter()
        .position(|a| a == "--dispatcher")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    let no_dispatcher = "no `--dispatcher PATH` given (`cargo xtask bench` passes the static \
                         binary `cargo xtask dist` ships)";
    let dispatcher = dispatcher_arg.as_deref().ok_or(no_dispatcher);
    if args.first().map(String::as_str) == Some("event-section") {
        // (g) alone, libvirt's caller included when it can be measured.
        let peer = LibvirtPeer::new()
            .map_err(|e| eprintln!("libvirt skipped: {e}"))
            .ok();
        let fx = Fixture::new();
        let mut rep = Report::default();
        let rounds = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(200);
        section_event(
            &fx,
            rounds,
            dispatcher,
            peer.as_ref(),
            EventRun::Alone,
            &mut rep,
        );
        for r in rep.rows.iter().chain(&rep.targets).chain(&rep.notes) {
            println!("{r}");
        }
        return;
    }
    if args.first().map(String::as_str) == Some("absent-probe") {
        absent_probe(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(2000));
        return;
    }
    if args.first().map(String::as_str) == Some("spawn-probe") {
        let rounds: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(500);
        spawn_probe(rounds, args.iter().any(|a| a == "--gib"));
        return;
    }
    if args.first().map(String::as_str) == Some("threads-probe") {
        let kind = args.get(1).cloned().unwrap_or_else(|| "hooks".into());
        let threads: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1);
        let secs: f64 = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(2.0);
        threads_probe(&kind, threads, Duration::from_secs_f64(secs));
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let strace = args
        .iter()
        .position(|a| a == "--strace")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| {
            let mut it = v.split('/').map(|x| x.parse::<u64>().ok());
            Some(Strace {
                syscalls: it.next()??,
                calls: it.next()??,
                control: it.next()??,
            })
        });

    // ≥ 500 per variant everywhere (the quick mode is for trying the harness only).
    let (absent_samples, spawn_rounds, filter_rounds, many_rounds, thread_rounds, round_time) =
        if quick {
            (100, 50, 50, 20, 1, Duration::from_millis(300))
        } else {
            (2000, 1000, 1000, 500, 12, Duration::from_millis(600))
        };
    // The widest spread of the run (two processes per call, each page-faulting its start-up on
    // a shared machine): 2000 rounds keep the ratio of medians within about ±2 % run to run.
    let event_rounds = if quick { 30 } else { 2000 };

    let started = Instant::now();
    // First, while this process has one thread: the mount namespace is per thread.
    let peer = match LibvirtPeer::new() {
        Ok(p) => {
            progress(&format!("libvirt {} measured as a peer", p.lib.version()));
            Some(p)
        }
        Err(why) => {
            progress(&format!("libvirt's column skipped: {why}"));
            None
        }
    };
    let fx = Fixture::new();
    let mut rep = Report::default();
    match &peer {
        Some(p) => rep.notes.push(format!(
            "libvirt: libvirt {}'s own `virHookCall` and `virHookInitialize` (private symbols of \
             the installed `libvirt.so.0`, Debian's `libvirt0`, loaded with `dlopen`), called in \
             this process and interleaved with the other variants. libvirt reads hooks only from \
             {}: the benchmark moves itself to a private mount namespace (an overlay on `/etc`, \
             a tmpfs on the hooks directory) and installs the same `#!/bin/sh` exit-0 script \
             there as `qemu`; the host's directory is never read or written. The absent driver \
             is `lxc`.",
            p.lib.version(),
            PrivateLibvirtHooksDir::PATH
        )),
        None => rep.notes.push(
            "libvirt: **skipped** in this run; its rows and targets are empty. Install \
             `libvirt0` (`apt-get install libvirt0`) and run as root (a private mount \
             namespace is needed): the benchmark said why on stderr."
                .to_owned(),
        ),
    }
    section_event(
        &fx,
        event_rounds,
        dispatcher,
        peer.as_ref(),
        EventRun::First,
        &mut rep,
    );
    section_absent(
        &fx,
        absent_samples,
        strace.as_ref(),
        peer.as_ref(),
        &mut rep,
    );
    section_spawn(&fx, spawn_rounds, peer.as_ref(), &mut rep);
    section_filter(&fx, filter_rounds, &mut rep);
    section_many(&fx, many_rounds, &mut rep);
    section_threads(&fx, thread_rounds, round_time, &mut rep);
    section_event(
        &fx,
        event_rounds,
        dispatcher,
        peer.as_ref(),
        EventRun::Last,
        &mut rep,
    );

    println!("## Targets\n");
    println!("| target | measured | goal | |");
    println!("|---|---|---|---|");
    for t in &rep.targets {
        println!("{t}");
    }
    println!("\n## Results\n");
    println!(
        "Wall time per call (per call in a batch for (a)), median and 99th percentile (nearest \
         rank) of n interleaved samples; ratios are ratios of medians from this same run.\n"
    );
    println!("| case | variant | n | median | p99 | ratio / notes |");
    println!("|---|---|---:|---:|---:|---|");
    for r in &rep.rows {
        println!("{r}");
    }
    if !rep.ladder.is_empty() {
        println!("\n## Where the gap to the bare floor goes\n");
        println!(
            "The rungs from a bare `posix_spawn` + `waitpid` to a hook-core call, each adding \
             one guarantee, measured interleaved with (b) and (c) above (the same samples): \
             wall time per call (median), the step from the rung before, the ratio to the bare \
             floor; and the CPU time per call without the gigabyte (mean; this process's plus \
             the script's, from `getrusage`), which waiting does not blur. Steps of a few \
             microseconds are within the noise of a shared machine. Rung 5 is the (b) and (c) \
             target's hook-core row; what each rung pays for, in syscalls, is listed below the \
             notes.\n"
        );
        println!(
            "| rung | what it adds | 0 MiB | step | × bare | 1 GiB held | step | × bare | CPU, \
             0 MiB | step |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for r in &rep.ladder {
            println!("{r}");
        }
    }
    if !rep.notes.is_empty() {
        println!("\n## Notes\n");
        for n in &rep.notes {
            println!("- {n}");
        }
    }
    println!(
        "\nBenchmark wall time: {:.0} s{}.",
        started.elapsed().as_secs_f64(),
        if quick {
            " (--quick: too few samples to judge)"
        } else {
            ""
        }
    );
}
