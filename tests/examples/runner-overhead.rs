//! Measures what `Runner` adds to a hook call: the median and 99th percentile of running a
//! `#!/bin/sh` script that exits 0 through [`hook_core::Runner::run`] (pipes, poll loop,
//! pidfd, drain) against [`hook_core::bench_raw_spawn_wait`] (the same `posix_spawn`, stdio on
//! `/dev/null`, a blocking `waitpid`), interleaved run by run so that both see the same
//! machine. It prints numbers and asserts nothing.
//!
//! ```text
//! cargo run --release -p tests --example runner-overhead -- [RUNS]   # default 1000
//! ```

use std::time::{Duration, Instant};

use hook_core::{Invocation, Runner, bench_raw_spawn_wait};
use tests::{TempDir, write_script};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("RUNS must be a number"))
        .unwrap_or(1000);
    let dir = TempDir::new("overhead").expect("temporary directory");
    let script = write_script(dir.path(), "exit0", b"#!/bin/sh\nexit 0\n", 0o755)
        .expect("writing the script");
    let runner = Runner::default();
    let inv = Invocation {
        script: &script,
        args: &[],
        stdin: None,
        capture_stdout: false,
    };
    let run_runner = || {
        let start = Instant::now();
        let report = runner.run(&inv).expect("runner");
        let took = start.elapsed();
        assert!(report.success(), "{:?}", report.error());
        took
    };
    let run_raw = || {
        let start = Instant::now();
        let code = bench_raw_spawn_wait(&script);
        let took = start.elapsed();
        assert_eq!(code, 0, "raw spawn");
        took
    };

    for _ in 0..50 {
        run_runner();
        run_raw();
    }
    let mut with_runner = Vec::with_capacity(runs);
    let mut raw = Vec::with_capacity(runs);
    for i in 0..runs {
        // Alternate which goes first, so neither always follows the other.
        if i % 2 == 0 {
            with_runner.push(run_runner());
            raw.push(run_raw());
        } else {
            raw.push(run_raw());
            with_runner.push(run_runner());
        }
    }
    with_runner.sort();
    raw.sort();

    let (rm, r99) = (
        percentile(&with_runner, 0.5),
        percentile(&with_runner, 0.99),
    );
    let (bm, b99) = (percentile(&raw, 0.5), percentile(&raw, 0.99));
    println!("{runs} interleaved runs each of {}", script.display());
    println!(
        "Runner::run               median {:8.1} us   p99 {:8.1} us",
        us(rm),
        us(r99)
    );
    println!(
        "posix_spawn + waitpid     median {:8.1} us   p99 {:8.1} us",
        us(bm),
        us(b99)
    );
    println!(
        "ratio (median)            {:.3}   (difference {:+.1} us)",
        us(rm) / us(bm),
        us(rm) - us(bm)
    );
}
