//! `cargo xtask bench`: builds and runs hook-core's cost benchmark (`hook-core/benches/cost.rs`,
//! release profile), counts the syscalls of absent-driver calls by running the benchmark's
//! `absent-only` mode under `strace -f` and counting the lines between its marker syscalls,
//! then writes the report with the machine's description to `docs/performance.md`.

// xtask is automation: it starts cargo, strace and the benchmark binary. The "only hook-core
// starts processes" rule (clippy.toml) is about the shipped crates.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Absent-driver calls made under strace.
const STRACE_CALLS: u64 = 100_000;

/// Runs the task. `--quick` runs the benchmark with too few samples to judge and prints the
/// report without writing it.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut quick = false;
    for a in args {
        match a.as_str() {
            "--quick" => quick = true,
            other => return Err(format!("bench: unknown argument {other:?}")),
        }
    }
    let root = workspace_root();
    let exe = build(&root)?;
    // Taken before the run: the load average then says how busy the machine was without us.
    let machine = machine();
    let date = command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    eprintln!("xtask bench: counting syscalls of {STRACE_CALLS} absent-driver calls under strace");
    let counted = count_syscalls(&exe)?;
    eprintln!(
        "xtask bench: {} syscalls between the markers (control: {} for 10 stat calls); {}",
        counted.syscalls, counted.control, counted.bench_said
    );
    let mut cmd = Command::new(&exe);
    cmd.arg("--strace").arg(format!(
        "{}/{}/{}",
        counted.syscalls, STRACE_CALLS, counted.control
    ));
    if quick {
        cmd.arg("--quick");
    }
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running {}: {e}", exe.display()))?;
    if !out.status.success() {
        return Err(format!("the benchmark failed: {}", out.status));
    }
    let body = String::from_utf8_lossy(&out.stdout);
    let doc = document(&body, &counted, &machine, &date);
    print!("{doc}");
    if quick {
        eprintln!("xtask bench: --quick, docs/performance.md not written");
    } else {
        let path = root.join("docs/performance.md");
        std::fs::create_dir_all(root.join("docs")).map_err(|e| format!("creating docs/: {e}"))?;
        std::fs::write(&path, doc).map_err(|e| format!("writing {}: {e}", path.display()))?;
        eprintln!("xtask bench: wrote {}", path.display());
    }
    Ok(())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_owned()
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// `cargo bench --no-run` for the cost bench; returns the benchmark executable.
fn build(root: &Path) -> Result<PathBuf, String> {
    eprintln!("xtask bench: cargo bench -p hook-core --bench cost --no-run");
    let out = cargo()
        .current_dir(root)
        .args([
            "bench",
            "-p",
            "hook-core",
            "--bench",
            "cost",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("building the benchmark failed: {}", out.status));
    }
    // The artifact line of the `cost` bench target carries `"executable":"<path>"`.
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .filter(|l| {
            l.contains("\"reason\":\"compiler-artifact\"") && l.contains("\"name\":\"cost\"")
        })
        .find_map(|l| json_string_field(l, "executable"))
        .map(PathBuf::from)
        .ok_or_else(|| "cargo did not report the benchmark executable".to_owned())
}

/// The value of `"field":"…"` in one line of cargo's JSON (no escapes expected in a path
/// under target/).
fn json_string_field(line: &str, field: &str) -> Option<String> {
    let key = format!("\"{field}\":\"");
    let start = line.find(&key)? + key.len();
    let end = line[start..].find('"')?;
    Some(line[start..start + end].replace("\\\\", "\\"))
}

/// What strace saw.
pub(crate) struct Counted {
    /// Syscall lines between the first two markers (around the absent-driver calls).
    syscalls: u64,
    /// Syscall lines between the last two markers (around 10 `stat` calls): proves the count.
    control: u64,
    /// The benchmark's own line (calls, allocations, whether stdin was built).
    bench_said: String,
}

/// Runs `cost absent-only N` under `strace -f` and counts the lines between the `getppid`
/// markers it makes around the calls (and around its 10-`stat` control).
fn count_syscalls(exe: &Path) -> Result<Counted, String> {
    let version = Command::new("strace").arg("-V").output();
    if !version.is_ok_and(|o| o.status.success()) {
        return Err(
            "strace is needed to count syscalls (Debian: apt-get install -y strace)".to_owned(),
        );
    }
    let log = std::env::temp_dir().join(format!("xtask-bench-strace-{}.txt", std::process::id()));
    let out = Command::new("strace")
        .arg("-f")
        .arg("-e")
        .arg("trace=all")
        .arg("-o")
        .arg(&log)
        .arg(exe)
        .arg("absent-only")
        .arg(STRACE_CALLS.to_string())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running strace: {e}"))?;
    let text = std::fs::read_to_string(&log).map_err(|e| format!("reading {}: {e}", log.display()));
    let _ = std::fs::remove_file(&log);
    let text = text?;
    if !out.status.success() {
        return Err(format!(
            "strace of the absent-only mode failed: {}",
            out.status
        ));
    }
    let lines: Vec<&str> = text.lines().collect();
    let markers: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| syscall_name(l) == Some("getppid"))
        .map(|(i, _)| i)
        .collect();
    if markers.len() != 4 {
        return Err(format!(
            "expected 4 getppid markers in the strace log, found {}",
            markers.len()
        ));
    }
    Ok(Counted {
        syscalls: (markers[1] - markers[0] - 1) as u64,
        control: (markers[3] - markers[2] - 1) as u64,
        bench_said: String::from_utf8_lossy(&out.stdout).trim().to_owned(),
    })
}

/// The syscall a strace line records: `[PID ]name(…`.
fn syscall_name(line: &str) -> Option<&str> {
    let rest = line
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_start();
    let end = rest.find('(')?;
    Some(&rest[..end])
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_owned()
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The machine: cores, CPU, kernel, glibc, compiler.
fn machine() -> Vec<(&'static str, String)> {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l["MemTotal:".len()..].trim().strip_suffix(" kB"))
                .and_then(|kb| kb.trim().parse::<f64>().ok())
                .map(|kb| format!("{:.1} GiB", kb / (1024.0 * 1024.0)))
        })
        .unwrap_or_else(|| "unknown".into());
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into());
    vec![
        ("cores", cores.to_string()),
        ("CPU", cpu),
        ("memory", mem),
        ("kernel", kernel),
        ("glibc", command_line("ldd", &["--version"])),
        ("compiler", command_line("rustc", &["--version"])),
        ("load average when the run started (1, 5, 15 min)", load),
    ]
}

fn document(
    body: &str,
    counted: &Counted,
    machine: &[(&'static str, String)],
    date: &str,
) -> String {
    let mut doc = String::new();
    doc.push_str("# Performance\n\n");
    doc.push_str(
        "What a hook call costs, measured by `cargo xtask bench` (hook-core's `cost` benchmark, \
         release build) against the project's cost model (`docs/performance-model.md`): \
         a call costs one process start, \
         so the floor is `posix_spawn` + `waitpid` of the same script, and a call for a driver \
         with nothing installed costs nothing measurable. Every ratio below is a ratio of \
         medians measured in one process run with the variants interleaved (A B C A B C …, the \
         first variant rotating each round), so machine noise falls on all of them alike. This \
         file is generated: run `cargo xtask bench` again to refresh it (about 2 minutes on 2 \
         cores; `strace` must be installed).\n\n",
    );
    doc.push_str(&format!("Measured {date} on:\n\n| | |\n|---|---|\n"));
    for (k, v) in machine {
        doc.push_str(&format!("| {k} | {v} |\n"));
    }
    doc.push_str(&format!(
        "\nSyscalls of an absent-driver call are counted by running the benchmark's \
         `absent-only` mode under `strace -f -e trace=all`: it makes {STRACE_CALLS} calls \
         between two `getppid` marker syscalls, and xtask counts the strace lines between the \
         markers ({}); a control of 10 `stat` calls between two more markers is counted the same \
         way ({}), which shows the count sees syscalls when there are any. Allocations are \
         counted by a counting `#[global_allocator]` in the benchmark binary (`{}`).\n\n",
        counted.syscalls, counted.control, counted.bench_said
    ));
    doc.push_str(body);
    if !body.ends_with('\n') {
        doc.push('\n');
    }
    doc.push_str(PROFILE);
    doc
}

/// Where a hook call's time goes: a profile taken once, when the benchmark was written. It is
/// not re-measured by the task; the commands are given to take it again.
const PROFILE: &str = "
## Where the time goes (profiled once, 2026-11-24; not re-measured by this task)

`perf record -e cpu-clock -g <cost binary> threads-probe runner 1 3` (one thread calling
`Runner::run` on the trivial script for 3 s), then `perf report --sort comm,dso`: 86 % of the
CPU samples are in the script's own process (`/bin/sh` starting up: the kernel's exec and page
faults 46 %, the dynamic loader 37 %, mostly probing CPU features with `cpuid`, which exits to
the hypervisor on a virtual machine like this one), and 14 % in the calling process: 12 % in
its kernel (clone, exec up to the switch, pipes, poll, wait), 1 % in libc (`posix_spawn`'s
child side), and 0.7 % in the benchmark's and hook-core's own code together.

`strace -c -f` of the same loop against `threads-probe raw`, per call (counts ÷ `execve`s, the
script's own syscalls included): hook-core adds two `pipe2`, and in the child two `dup2`, a
`close_range` and a `setpgid`; a `pidfd_open`, two `poll` (one sleeps until the exit, one finds
the pipes at EOF), two `read` (the EOFs), a `waitid`, and three more each of `close` and
`prlimit64`; it makes two fewer `openat` (`/dev/null` once, for stdin, instead of three
times) and 57 fewer `rt_sigaction` (70 against 127: with `POSIX_SPAWN_SETSIGDEF` glibc's child
sets each disposition once, while without attributes it reads every one before resetting it).
That is the few percent between hook-core and the raw floor in (b).

`perf stat -e sched:sched_switch,syscalls:sys_enter_poll` on the same two loops: 2.8-3.0
context switches per call for hook-core, 3.1 for raw. Before hook-core kept the pipes' write
ends open until the script's exit, it made 2.4-2.9 `poll` calls and 4.3-4.9 context switches
per call: the exit woke it once per pipe hang-up and once more for the pidfd, and on a loaded
machine each wakeup waits for a time slice (`cost spawn-probe 400` beside two busy loops then
measured `Runner::run` / raw at 1.9-2.8 in three runs of four, while `Command::status`, one
`waitpid`, stayed at 0.95-1.08).
";
