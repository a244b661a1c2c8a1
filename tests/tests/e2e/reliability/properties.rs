//! Property tests of the wire words and the quoting: libvirt's shell quoting gives back its
//! input through a small sh-like parser and never panics; sub-operations, a test-defined
//! operation enum, every driver crate's `Op` and the shutoff reasons parse exactly their words
//! and round-trip, and any other string is an error that lists the valid words.
//!
//! The object document parser's properties are in the sibling module `document_properties`.

use std::fmt;
use std::str::FromStr;

use hook_core::driver::parse_operation;
use hook_core::libvirt::shell_quote;
use hook_core::{Args, Operation, ShutoffReason, SubOp, UnknownWord};
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

/// Strings that are, or nearly are, one of `words`: the words themselves, in upper case, with a
/// space before or a newline after, with `-` and ` ` turned into `_`, cut short, doubled; and any
/// string at all.
fn near_words(words: Vec<&'static str>) -> impl Strategy<Value = String> {
    let word = move || prop::sample::select(words.clone());
    prop_oneof![
        word().prop_map(String::from),
        word().prop_map(str::to_uppercase),
        word().prop_map(|w| format!(" {w}")),
        word().prop_map(|w| format!("{w}\n")),
        word().prop_map(|w| w.replace(['-', ' '], "_")),
        word().prop_map(|w| w[..w.len() - 1].to_owned()),
        word().prop_map(|w| format!("{w}{w}")),
        "[a-z -]{0,16}",
        any::<String>(),
    ]
}

/// Checks one parse of `s` against the valid `words`: an exact word gives the value whose word
/// it is; anything else is an [`UnknownWord`] naming `kind`, the input and every valid word,
/// and its message lists them all.
fn check_parse<T: Copy + fmt::Debug + PartialEq>(
    s: &str,
    parsed: Result<T, UnknownWord>,
    as_str: impl Fn(T) -> &'static str,
    kind: &str,
    words: &[&'static str],
) -> Result<(), TestCaseError> {
    match parsed {
        Ok(v) => prop_assert_eq!(as_str(v), s),
        Err(e) => {
            prop_assert!(!words.contains(&s), "{:?} is valid but was refused", s);
            prop_assert_eq!(e.kind.as_str(), kind);
            prop_assert_eq!(e.word.as_str(), s);
            prop_assert_eq!(e.valid.as_slice(), words);
            let message = e.to_string();
            for w in words {
                prop_assert!(message.contains(w), "{:?} is not in {:?}", w, message);
            }
            prop_assert!(
                message.ends_with(&format!("valid: {}", words.join(", "))),
                "{:?}",
                message
            );
        }
    }
    Ok(())
}

/// The round trip and the parse properties of one driver crate's `Op`, in a module of its own.
macro_rules! driver_op_properties {
    ($($module:ident: $op:ty, $driver:literal;)+) => {$(
        mod $module {
            use super::*;

            type Op = $op;

            fn words() -> Vec<&'static str> {
                Op::ALL.iter().map(|o| o.as_str()).collect()
            }

            #[test]
            fn names_its_driver_and_lists_distinct_words() {
                assert_eq!(<Op as Operation>::DRIVER, $driver);
                let mut words = words();
                assert!(!words.is_empty());
                words.sort_unstable();
                words.dedup();
                assert_eq!(words.len(), Op::ALL.len(), "a word is used twice");
            }

            proptest! {
                #![proptest_config(ProptestConfig::with_cases(256))]

                #[test]
                fn round_trips(op in prop::sample::select(Op::ALL.to_vec())) {
                    prop_assert_eq!(op.to_string().parse::<Op>(), Ok(op));
                    prop_assert_eq!(op.as_str().parse::<Op>(), Ok(op));
                    prop_assert_eq!(parse_operation::<Op>(&op.to_string()), Ok(op));
                }

                #[test]
                fn parses_exactly_its_words(s in near_words(words())) {
                    check_parse(
                        &s,
                        s.parse::<Op>(),
                        Op::as_str,
                        concat!($driver, " operation"),
                        &words(),
                    )?;
                }
            }
        }
    )+};
}

driver_op_properties! {
    daemon_op: hook_daemon::Op, "daemon";
    qemu_op: hook_qemu::Op, "qemu";
    lxc_op: hook_lxc::Op, "lxc";
    network_op: hook_network::Op, "network";
    libxl_op: hook_libxl::Op, "libxl";
    bhyve_op: hook_bhyve::Op, "bhyve";
}

fn shutoff_words() -> Vec<&'static str> {
    ShutoffReason::ALL.iter().map(|r| r.as_str()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn shutoff_reason_round_trips(r in prop::sample::select(ShutoffReason::ALL.to_vec())) {
        prop_assert_eq!(r.to_string().parse::<ShutoffReason>(), Ok(r));
        prop_assert_eq!(r.as_str().parse::<ShutoffReason>(), Ok(r));
    }

    #[test]
    fn shutoff_reason_parses_exactly_its_words(s in prop_oneof![
        near_words(shutoff_words()),
        prop::sample::select(vec![
            "from  snapshot", "from\tsnapshot", "from-snapshot", "fromsnapshot", "From snapshot",
            "from snapshot ", "snapshot", "from",
        ]).prop_map(String::from),
    ]) {
        check_parse(&s, s.parse::<ShutoffReason>(), ShutoffReason::as_str, "shutoff reason",
            &shutoff_words())?;
    }
}

#[test]
fn shutoff_reasons_include_the_one_with_a_space() {
    assert_eq!(
        "from snapshot".parse::<ShutoffReason>(),
        Ok(ShutoffReason::FromSnapshot)
    );
    assert_eq!(ShutoffReason::FromSnapshot.to_string(), "from snapshot");
}
