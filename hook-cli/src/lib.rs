//! The `virt-hook` command line as a library: [`command`] is clap's description of it, so
//! `cargo xtask man` generates the man pages and shell completions from the very definition
//! the binary parses with (`src/cli.rs`, compiled into both, with the two leaves it uses:
//! `drivers.rs` for the driver names it offers, `text.rs`). Everything else lives in the binary
//! (`src/main.rs`).

// The binary reads the parsed fields; here only the definition is used. The doc comments are
// the command's help text (plain text: `--help`, the man page), not Markdown.
#[allow(dead_code, rustdoc::invalid_html_tags)]
mod cli;
// The driver names the definition offers (from the driver crates), and the words they use.
#[allow(dead_code)]
mod drivers;
#[allow(dead_code)]
mod text;

/// clap's `Command` for `virt-hook`: every subcommand, option and help text.
pub fn command() -> clap::Command {
    <cli::Cli as clap::CommandFactory>::command()
}
