//! Property tests of the object document parser (`hook_core::xml`, through the driver crates'
//! typed documents): it never panics, on arbitrary bytes or on arbitrary mutations of a real
//! domain document; whatever it accepts is kept byte for byte; generated names and uuids,
//! escaped every way XML allows, come back exactly; a document whose root is not the
//! expected one is refused; and what libxml2 (libvirt's parser) would read differently or
//! refuse (`]]>` in text, an encoding other than UTF-8, a `<name>` in a namespace) is refused
//! where it is.

use hook_core::xml::{ObjectDocument, XmlError};
use hook_qemu::Domain;
use proptest::prelude::*;

/// The test driver's guest, as libvirt dumps it.
const FIXTURE: &str = include_str!("../../../fixtures/domain-test.xml");

/// The fixture's name and uuid elements, which the round trip replaces.
const NAME_ELEMENT: &str = "<name>test</name>";
const UUID_ELEMENT: &str = "<uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>";

/// One edit of a document.
#[derive(Clone, Debug)]
enum Mutation {
    /// XOR the byte at the index with a non-zero mask.
    Flip(prop::sample::Index, u8),
    /// Keep only what comes before the index.
    Truncate(prop::sample::Index),
    /// Insert bytes at the index.
    Insert(prop::sample::Index, Vec<u8>),
    /// Remove up to that many bytes from the index.
    Delete(prop::sample::Index, usize),
}

/// Bytes that matter to XML, and any byte.
fn xmlish_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop::sample::select(b"<>/='\"&;#x!?-[]CDATA \n\r\t\0namedomainuid".to_vec()),
        1 => any::<u8>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<prop::sample::Index>(), 1..=u8::MAX).prop_map(|(i, m)| Mutation::Flip(i, m)),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        3 => (any::<prop::sample::Index>(), prop::collection::vec(xmlish_byte(), 1..8))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => (any::<prop::sample::Index>(), 1..16usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
    ]
}

fn apply(doc: &mut Vec<u8>, m: &Mutation) {
    match m {
        Mutation::Flip(i, mask) if !doc.is_empty() => {
            let i = i.index(doc.len());
            doc[i] ^= mask;
        }
        Mutation::Truncate(i) => doc.truncate(i.index(doc.len() + 1)),
        Mutation::Insert(i, bytes) => {
            let i = i.index(doc.len() + 1);
            doc.splice(i..i, bytes.iter().copied());
        }
        Mutation::Delete(i, n) if !doc.is_empty() => {
            let i = i.index(doc.len());
            doc.drain(i..(i + n).min(doc.len()));
        }
        Mutation::Flip(..) | Mutation::Delete(..) => {}
    }
}

/// Checks a parse of `input` that did not panic: an accepted document is kept byte for byte
/// and has a non-empty name; a refusal can be displayed, and a position it gives is in the
/// input.
fn check_outcome(input: &[u8], parsed: Result<Domain, XmlError>) -> Result<(), TestCaseError> {
    match parsed {
        Ok(d) => {
            prop_assert_eq!(d.bytes(), input);
            prop_assert!(!d.name().is_empty());
            let root = d.root_element();
            prop_assert!(root.starts_with(b"<domain") && root.ends_with(b">"));
        }
        Err(e) => {
            prop_assert!(!e.to_string().is_empty());
            let at = match &e {
                XmlError::NotUtf8 { at }
                | XmlError::ForbiddenChar { at, .. }
                | XmlError::Malformed { at, .. }
                | XmlError::Unclosed { at, .. }
                | XmlError::OutsideRoot { at, .. }
                | XmlError::Duplicate { at, .. }
                | XmlError::MarkupInText { at, .. }
                | XmlError::Namespaced { at, .. } => Some(*at),
                _ => None,
            };
            if let Some(at) = at {
                prop_assert!(at.offset <= input.len(), "{:?} past the end", at);
                prop_assert!(at.line >= 1 && at.column >= 1, "{:?}", at);
            }
        }
    }
    Ok(())
}

/// One character of a name or uuid, written the way the document gives it.
#[derive(Clone, Copy, Debug)]
enum Written {
    /// As itself (only where XML allows it in text).
    Literal,
    /// `&lt;`, `&gt;`, `&amp;`, `&apos;` or `&quot;` where there is one, else decimal.
    Named,
    /// `&#N;`.
    Decimal,
    /// `&#xN;`.
    Hex,
}

/// The characters XML 1.0 allows in a document.
fn xml_char(c: char) -> bool {
    !((c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}')
}

/// Writes `text` as the content of an element, each character as asked (a character that may
/// not stand for itself — `<`, `&`, `>` and CR, which XML turns into LF — is referenced).
fn escape(text: &[(char, Written)]) -> String {
    let mut out = String::new();
    for &(c, how) in text {
        let named = match c {
            '<' => Some("&lt;"),
            '>' => Some("&gt;"),
            '&' => Some("&amp;"),
            '\'' => Some("&apos;"),
            '"' => Some("&quot;"),
            _ => None,
        };
        match (how, named) {
            (Written::Literal, _) if !matches!(c, '<' | '>' | '&' | '\r') => out.push(c),
            (Written::Named, Some(entity)) => out.push_str(entity),
            (Written::Hex, _) => out.push_str(&format!("&#x{:X};", c as u32)),
            _ => out.push_str(&format!("&#{};", c as u32)),
        }
    }
    out
}

fn written() -> impl Strategy<Value = Written> {
    prop_oneof![
        4 => Just(Written::Literal),
        1 => Just(Written::Named),
        1 => Just(Written::Decimal),
        1 => Just(Written::Hex),
    ]
}

/// A name libvirt could pass: non-empty, any characters XML allows, rich in the ones that need
/// escaping.
fn name() -> impl Strategy<Value = Vec<(char, Written)>> {
    let c = prop_oneof![
        3 => prop::sample::select(vec!['<', '>', '&', '\'', '"', ' ', '\t', '\n', '\r', ']', '-']),
        3 => prop::char::range('a', 'z'),
        2 => any::<char>().prop_filter("allowed in XML", |&c| xml_char(c)),
    ];
    prop::collection::vec((c, written()), 1..24)
}

/// A uuid in libvirt's form, either case.
fn uuid() -> impl Strategy<Value = Vec<(char, Written)>> {
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}".prop_flat_map(
        |u| {
            let n = u.chars().count();
            (Just(u), prop::collection::vec(written(), n))
                .prop_map(|(u, w)| u.chars().zip(w).collect())
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        prop::collection::vec(xmlish_byte(), 0..512),
    ]) {
        let parsed = Domain::parse(bytes.clone());
        check_outcome(&bytes, parsed)?;
    }

    #[test]
    fn never_panics_on_mutations_of_a_real_document(
        mutations in prop::collection::vec(mutation(), 1..8),
    ) {
        let mut doc = FIXTURE.as_bytes().to_vec();
        for m in &mutations {
            apply(&mut doc, m);
        }
        let parsed = Domain::parse(doc.clone());
        check_outcome(&doc, parsed)?;
    }

    #[test]
    fn names_and_uuids_come_back_exactly(name in name(), uuid in prop::option::of(uuid())) {
        let text = |v: &[(char, Written)]| v.iter().map(|&(c, _)| c).collect::<String>();
        let doc = FIXTURE.replacen(NAME_ELEMENT, &format!("<name>{}</name>", escape(&name)), 1);
        let doc = match &uuid {
            Some(u) => doc.replacen(UUID_ELEMENT, &format!("<uuid>{}</uuid>", escape(u)), 1),
            None => doc.replacen(UUID_ELEMENT, "", 1),
        };
        let d = Domain::parse(doc.clone())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{doc}")))?;
        prop_assert_eq!(d.name(), text(&name));
        prop_assert_eq!(d.uuid().map(str::to_owned), uuid.as_deref().map(text));
        prop_assert_eq!(d.bytes(), doc.as_bytes());
        // The other domain drivers read the same document the same way.
        let lxc = hook_lxc::Domain::parse(doc.clone()).unwrap();
        prop_assert_eq!((lxc.name(), lxc.uuid()), (d.name(), d.uuid()));
    }

    #[test]
    fn another_root_is_refused(root in prop_oneof![
        prop::sample::select(vec![
            "network", "networkport", "Domain", "domains", "domain-", "dom", "x:domain", "_domain",
        ]).prop_map(String::from),
        "[A-Za-z_][A-Za-z0-9_.-]{0,12}",
    ]) {
        let doc = FIXTURE
            .replacen("<domain ", &format!("<{root} "), 1)
            .replacen("</domain>", &format!("</{root}>"), 1);
        let parsed = Domain::parse(doc.clone());
        if root == "domain" {
            prop_assert!(parsed.is_ok());
        } else {
            prop_assert_eq!(
                parsed.unwrap_err(),
                XmlError::WrongRoot { expected: "domain".into(), found: root.clone() }
            );
            // The same document is well-formed: with its own root expected, it is accepted.
            let other = ObjectDocument::parse(doc.clone(), &root).unwrap();
            prop_assert_eq!(other.name(), Some("test"));
            prop_assert_eq!(other.bytes(), doc.as_bytes());
            if root != "network" {
                prop_assert!(hook_network::Network::parse(doc.clone()).is_err());
            }
        }
    }
}

/// The error's position as a byte offset, when it is `Malformed`.
fn malformed_offset(e: &XmlError) -> Option<usize> {
    match e {
        XmlError::Malformed { at, .. } => Some(at.offset),
        _ => None,
    }
}

// What libxml2 (libvirt's parser) would read differently or refuse is refused, where it is.
proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn cdata_end_in_text_is_refused_where_it_is(
        before in name(),
        after in name(),
        element in prop::sample::select(vec!["name", "title", "description"]),
    ) {
        let text = format!("{}]]>{}", escape(&before), escape(&after));
        let doc = if element == "name" {
            FIXTURE.replacen(NAME_ELEMENT, &format!("<name>{text}</name>"), 1)
        } else {
            FIXTURE.replacen("</domain>", &format!("<{element}>{text}</{element}></domain>"), 1)
        };
        let e = Domain::parse(doc.clone()).unwrap_err();
        prop_assert_eq!(malformed_offset(&e), doc.find("]]>"), "{}", e);
    }

    #[test]
    fn only_utf8_may_be_declared(
        encoding in prop_oneof![
            prop::sample::select(vec!["UTF-8", "utf-8", "UTF8", "Utf8"]).prop_map(String::from),
            "[A-Za-z][A-Za-z0-9._-]{0,15}",
        ],
        quote in prop::sample::select(vec!['\'', '"']),
    ) {
        let doc = format!(
            "<?xml version={quote}1.0{quote} encoding={quote}{encoding}{quote}?>\n{FIXTURE}"
        );
        let utf8 = ["UTF-8", "UTF8"].iter().any(|u| u.eq_ignore_ascii_case(&encoding));
        match Domain::parse(doc) {
            Ok(_) => prop_assert!(utf8, "{} accepted", encoding),
            Err(e) => {
                prop_assert!(!utf8, "{}: {}", encoding, e);
                prop_assert_eq!(malformed_offset(&e), Some(0), "{}", e);
            }
        }
    }

    #[test]
    fn a_default_namespace_on_the_name_or_the_root_is_refused(
        namespace in "[a-z]{1,8}:[a-z0-9/.]{0,20}",
        on_root in any::<bool>(),
    ) {
        let doc = if on_root {
            FIXTURE.replacen("<domain ", &format!("<domain xmlns='{namespace}' "), 1)
        } else {
            FIXTURE.replacen("<name>", &format!("<name xmlns='{namespace}'>"), 1)
        };
        let e = Domain::parse(doc.clone()).unwrap_err();
        let at = doc.find("<name").unwrap();
        prop_assert_eq!(
            e,
            XmlError::Namespaced {
                child: "name",
                namespace,
                at: hook_core::xml::Position::of(doc.as_bytes(), at),
            }
        );
    }
}

#[test]
fn the_fixture_holds_what_the_round_trip_replaces() {
    assert!(FIXTURE.contains(NAME_ELEMENT) && FIXTURE.contains(UUID_ELEMENT));
    assert!(FIXTURE.starts_with("<domain ") && FIXTURE.trim_end().ends_with("</domain>"));
    let d = Domain::parse(FIXTURE).unwrap();
    assert_eq!((d.name(), d.bytes()), ("test", FIXTURE.as_bytes()));
}
