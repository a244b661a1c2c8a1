//! `-v` and `RUST_LOG`: the library's tracing on stderr, through `tracing-subscriber`'s fmt
//! layer. `RUST_LOG` (e.g. `hook_core=debug`) is honoured as in every Rust tool and wins when
//! set; otherwise `-v` shows `debug` and above, `-vv` adds `trace`, and nothing is installed
//! without either. Events are printed inside their spans (`hook_script{script=… op=…}:`);
//! colour only on a terminal, never with `NO_COLOR` set.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// Installs the subscriber for `verbosity` (the number of `-v`) and `RUST_LOG`.
pub(crate) fn init(verbosity: u8) {
    let rust_log = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let directives = match (rust_log, verbosity) {
        (Some(directives), _) => directives,
        (None, 0) => return,
        (None, 1) => "debug".to_owned(),
        (None, _) => "trace".to_owned(),
    };
    // A malformed directive is ignored, never fatal.
    let filter = EnvFilter::builder().parse_lossy(directives);
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .without_time()
        .finish();
    // Fails only when a subscriber is already set, which main never does twice.
    let _ = tracing::subscriber::set_global_default(subscriber);
}
