//! A stand-in until the recording helper lands.

fn main() {}
