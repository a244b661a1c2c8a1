//! Property tests of the wire words and the quoting: libvirt's shell quoting gives back its
//! input through a small sh-like parser and never panics; sub-operations and a test-defined
//! operation enum parse exactly their words and round-trip.
//!
//! Not covered here (another branch writes them): the domain document parser and the driver
//! crates' own operation parsers.

use std::fmt;
use std::str::FromStr;

use hook_core::driver::parse_operation;
use hook_core::libvirt::shell_quote;
use hook_core::{Args, Operation, SubOp, UnknownWord};
use proptest::prelude::*;

/// Splits a command line into words the way POSIX sh does, for what quoting produces: plain
/// text, single-quoted text and backslash escapes. Any character sh would treat specially
/// when unquoted (even only at a word's start) is an error, so a quoting that leaves one bare
/// fails.
fn sh_words(line: &str) -> Result<Vec<String>, String> {
    const SPECIAL: &[char] = &[
        '|', '&', ';', '<', '>', '(', ')', '$', '`', '"', '*', '?', '[', ']', '#', '~', '{', '}',
        '!', '^', '\r',
    ];
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '\\' => {
                let next = chars.next().ok_or("backslash at the end")?;
                word.get_or_insert_with(String::new).push(next);
            }
            c if SPECIAL.contains(&c) => return Err(format!("unquoted {c:?} in {line:?}")),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// Strings rich in the characters quoting is about.
fn shellish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(vec![
                '\'', '"', ' ', '\t', '\n', '\r', '\\', '$', '`', '~', '#', '*', '?', '[', ']', '{',
                '}', '!', '^', '&', '|', ';', '<', '>', '(', ')', '=', '%', ':', '-', '/', '\0',
            ]),
            2 => prop::char::range('a', 'z'),
            1 => any::<char>(),
        ],
        0..24,
    )
    .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #[test]
    fn shell_quote_round_trips(s in prop_oneof![shellish(), any::<String>()]) {
        let quoted = shell_quote(&s);
        prop_assert_eq!(sh_words(&quoted), Ok(vec![s.clone()]), "quoted: {}", quoted);
    }

    #[test]
    fn shell_quote_leaves_plain_words_alone(s in "[A-Za-z0-9_./:=,+@%-]{1,24}") {
        prop_assert_eq!(shell_quote(&s), s.as_str());
    }

    #[test]
    fn args_display_is_one_word_per_argument(v in prop::collection::vec(shellish(), 0..6)) {
        let shown = Args(v.clone().into_boxed_slice()).to_string();
        prop_assert_eq!(sh_words(&shown), Ok(v));
    }

    #[test]
    fn subop_parses_exactly_its_words(s in prop_oneof![
        prop::sample::select(vec!["-", "begin", "end"]).prop_map(String::from),
        "(-|begin|end)[ \n]?|[Bb]egin|END|",
        any::<String>(),
    ]) {
        match s.parse::<SubOp>() {
            Ok(op) => {
                prop_assert!(["-", "begin", "end"].contains(&s.as_str()));
                prop_assert_eq!(op.to_string(), s.clone());
                prop_assert_eq!(op.as_str(), s.as_str());
            }
            Err(e) => {
                prop_assert!(!["-", "begin", "end"].contains(&s.as_str()));
                prop_assert_eq!(&e.word, &s);
                prop_assert_eq!(e.valid.clone(), vec!["-", "begin", "end"]);
                prop_assert!(e.to_string().contains("valid: -, begin, end"));
            }
        }
    }

    #[test]
    fn subop_round_trips(op in prop::sample::select(vec![SubOp::None, SubOp::Begin, SubOp::End])) {
        prop_assert_eq!(op.as_str().parse::<SubOp>(), Ok(op));
        prop_assert_eq!(op.to_string().parse::<SubOp>(), Ok(op));
    }

    #[test]
    fn operation_round_trips(op in prop::sample::select(NetOp::ALL.to_vec())) {
        prop_assert_eq!(parse_operation::<NetOp>(op.as_str()), Ok(op));
        prop_assert_eq!(op.to_string().parse::<NetOp>(), Ok(op));
    }

    #[test]
    fn operation_parses_exactly_its_words(s in prop_oneof![
        prop::sample::select(NetOp::ALL.to_vec()).prop_map(|o| o.as_str().to_owned()),
        prop::sample::select(NetOp::ALL.to_vec()).prop_map(|o| o.as_str().to_uppercase()),
        prop::sample::select(NetOp::ALL.to_vec()).prop_map(|o| format!(" {o}")),
        prop::sample::select(NetOp::ALL.to_vec()).prop_map(|o| format!("{o}\n")),
        prop::sample::select(NetOp::ALL.to_vec()).prop_map(|o| o.as_str().replace('-', "_")),
        any::<String>(),
    ]) {
        let words: Vec<&str> = NetOp::ALL.iter().map(|o| o.as_str()).collect();
        match parse_operation::<NetOp>(&s) {
            Ok(op) => prop_assert_eq!(op.as_str(), s.as_str()),
            Err(e) => {
                prop_assert!(!words.contains(&s.as_str()));
                prop_assert_eq!(e, UnknownWord {
                    kind: "testnet operation".into(),
                    word: s.clone(),
                    valid: words,
                });
            }
        }
    }
}

/// A driver's operations defined only here, as a driver crate would (libvirt's network ops).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NetOp {
    Start,
    Started,
    Stopped,
    PortCreated,
    PortDeleted,
    Updated,
}

impl Operation for NetOp {
    const DRIVER: &'static str = "testnet";
    const ALL: &'static [Self] = &[
        NetOp::Start,
        NetOp::Started,
        NetOp::Stopped,
        NetOp::PortCreated,
        NetOp::PortDeleted,
        NetOp::Updated,
    ];

    fn as_str(self) -> &'static str {
        match self {
            NetOp::Start => "start",
            NetOp::Started => "started",
            NetOp::Stopped => "stopped",
            NetOp::PortCreated => "port-created",
            NetOp::PortDeleted => "port-deleted",
            NetOp::Updated => "updated",
        }
    }
}

impl fmt::Display for NetOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NetOp {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, UnknownWord> {
        parse_operation(s)
    }
}

#[test]
fn sh_words_parser_itself() {
    assert_eq!(
        sh_words("a 'b c' d\\ e ''"),
        Ok(vec!["a".into(), "b c".into(), "d e".into(), String::new()])
    );
    assert_eq!(sh_words("'it'\\''s'"), Ok(vec!["it's".into()]));
    assert!(sh_words("a$b").is_err());
    assert!(sh_words("'open").is_err());
}
