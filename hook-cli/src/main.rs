//! `virt-hook`: the administrator's command (filled in by the CLI work).

fn main() {}
