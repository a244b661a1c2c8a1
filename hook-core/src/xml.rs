//! Object documents: the XML a driver feeds its hook scripts on stdin. Core checks only what is
//! true of every libvirt object document: it is well-formed XML (checked with `quick-xml`'s
//! streaming reader plus the rules that reader leaves to its caller), its root element is the
//! expected one, and the root's top-level `<name>` child holds the object's name (argv\[1\] of
//! the scripts) next to an optional `<uuid>`. What libvirt's parser (libxml2) would read
//! differently or refuse is refused too, with its position: `]]>` in text, a second or
//! lowercase `<!DOCTYPE`, an encoding declaration other than UTF-8 (the bytes are read as
//! UTF-8), and a `<name>` or `<uuid>` in a default namespace (libvirt's XPath `./name` matches
//! only elements in no namespace; a prefixed `<x:name>` is some other element, as for libvirt).
//! The original bytes are kept untouched, so scripts receive them byte-identical. Parsing never
//! panics, whatever the input.
//!
//! A driver crate names its root element once, with [`Root`], and uses [`Document`]:
//!
//! ```
//! use hook_core::xml::{Document, Root};
//!
//! /// The root of a domain document.
//! pub enum DomainXml {}
//! impl Root for DomainXml {
//!     const ELEMENT: &'static str = "domain";
//! }
//! pub type Domain = Document<DomainXml>;
//!
//! let domain = Domain::parse("<domain type='kvm'><name>web1</name></domain>")?;
//! assert_eq!(domain.name(), "web1");
//! assert!(Domain::parse("<network><name>default</name></network>").is_err());
//! # Ok::<(), hook_core::xml::XmlError>(())
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

/// A place in a document: 1-based line and column (in characters), and the 0-based byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// The line, from 1.
    pub line: usize,
    /// The column in characters, from 1.
    pub column: usize,
    /// The byte offset, from 0.
    pub offset: usize,
}

impl Position {
    /// The position of byte `offset` in `bytes` (clamped to its length).
    pub fn of(bytes: &[u8], offset: usize) -> Position {
        let offset = offset.min(bytes.len());
        let before = &bytes[..offset];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        Position {
            line,
            column,
            offset,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why a document was refused. Each variant says what is wrong and, where there is one, where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// Nothing but whitespace, comments or processing instructions: no element at all.
    #[error("the document has no root element (expected <{expected}>)")]
    NoRoot {
        /// The expected root element.
        expected: String,
    },
    /// The bytes are not UTF-8 (libvirt writes and reads its documents as UTF-8).
    #[error("the document is not valid UTF-8 at {at}")]
    NotUtf8 {
        /// The first invalid byte.
        at: Position,
    },
    /// A character XML does not allow (NUL and the other C0 controls but tab, LF and CR).
    #[error("the document holds the character U+{code:04X}, which XML does not allow, at {at}")]
    ForbiddenChar {
        /// The character's code point.
        code: u32,
        /// Where it is.
        at: Position,
    },
    /// Not well-formed XML.
    #[error("not well-formed XML at {at}: {message}")]
    Malformed {
        /// Where the problem was found.
        at: Position,
        /// What it is.
        message: String,
    },
    /// An element is still open when the document ends.
    #[error("the document ends before <{element}> (opened at {at}) is closed")]
    Unclosed {
        /// The innermost open element.
        element: String,
        /// Where it was opened.
        at: Position,
    },
    /// The root element is not the expected one.
    #[error("the root element is <{found}>, expected <{expected}>")]
    WrongRoot {
        /// The expected root element.
        expected: String,
        /// The root element found.
        found: String,
    },
    /// Text or a second element outside the root element.
    #[error("{what} outside the root element <{root}> at {at}")]
    OutsideRoot {
        /// What was found (`text`, `a second root element <x>`…).
        what: String,
        /// The root element.
        root: String,
        /// Where.
        at: Position,
    },
    /// The root has no top-level `<name>` child, or it is empty.
    #[error("<{root}> has no name: a top-level <name> child with text is required")]
    NoName {
        /// The root element.
        root: String,
    },
    /// The root has two top-level `<name>` (or `<uuid>`) children.
    #[error("<{root}> has more than one top-level <{child}> (the second at {at})")]
    Duplicate {
        /// The root element.
        root: String,
        /// `name` or `uuid`.
        child: &'static str,
        /// Where the second one starts.
        at: Position,
    },
    /// The top-level `<name>` (or `<uuid>`) is in a namespace (a default `xmlns='…'` on it or
    /// on the root), so libvirt's `./name` (or `./uuid`), which matches only elements in no
    /// namespace, would not read it.
    #[error(
        "<{child}> at {at} is in the namespace {namespace:?}: libvirt reads only a <{child}> in \
         no namespace"
    )]
    Namespaced {
        /// `name` or `uuid`.
        child: &'static str,
        /// The namespace it is in.
        namespace: String,
        /// Where it starts.
        at: Position,
    },
    /// The top-level `<name>` (or `<uuid>`) holds an element instead of plain text.
    #[error("<{child}> must hold text only, but holds <{element}> at {at}")]
    MarkupInText {
        /// `name` or `uuid`.
        child: &'static str,
        /// The element found inside.
        element: String,
        /// Where.
        at: Position,
    },
}

/// A checked object document: its bytes exactly as given, its root element, and the text of the
/// root's top-level `<name>` and `<uuid>` children.
#[derive(Clone, PartialEq, Eq)]
pub struct ObjectDocument {
    bytes: Vec<u8>,
    root: String,
    root_span: Range<usize>,
    name: Option<String>,
    uuid: Option<String>,
}

impl fmt::Debug for ObjectDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectDocument")
            .field("root", &self.root)
            .field("name", &self.name)
            .field("uuid", &self.uuid)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl ObjectDocument {
    /// Checks `bytes` (well-formed, root element `expected_root`, a non-empty top-level
    /// `<name>`) and keeps them untouched.
    pub fn parse(bytes: impl Into<Vec<u8>>, expected_root: &str) -> Result<Self, XmlError> {
        let doc = Self::parse_unnamed(bytes, expected_root)?;
        match doc.name.as_deref() {
            Some(n) if !n.is_empty() => Ok(doc),
            _ => Err(XmlError::NoName {
                root: expected_root.to_owned(),
            }),
        }
    }

    /// Like [`ObjectDocument::parse`], for documents without a name of their own (a network
    /// port is identified by its `<uuid>`): a missing `<name>` is not an error.
    pub fn parse_unnamed(bytes: impl Into<Vec<u8>>, expected_root: &str) -> Result<Self, XmlError> {
        let bytes = bytes.into();
        let scan = scan(&bytes, expected_root)?;
        Ok(ObjectDocument {
            bytes,
            root: expected_root.to_owned(),
            root_span: scan.root_span,
            name: scan.name,
            uuid: scan.uuid,
        })
    }

    /// The document, byte for byte as given.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The document's bytes, given back.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The root element's name.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The bytes of the root element alone, from its `<` to the end of its closing tag: the
    /// document without its XML declaration, surrounding comments or whitespace.
    pub fn root_element(&self) -> &[u8] {
        &self.bytes[self.root_span.clone()]
    }

    /// The text of the top-level `<name>` (entities resolved, nothing trimmed); always present
    /// for documents made by [`ObjectDocument::parse`].
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The text of the top-level `<uuid>`, if there is one.
    pub fn uuid(&self) -> Option<&str> {
        self.uuid.as_deref()
    }
}

impl AsRef<[u8]> for ObjectDocument {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

/// The root element of a kind of object document, named once by the driver crate that uses it.
pub trait Root {
    /// The root element's name, e.g. `domain`.
    const ELEMENT: &'static str;
    /// Whether documents of this kind must have a top-level `<name>` (every libvirt object
    /// does; a network port does not).
    const NAMED: bool = true;
}

/// An [`ObjectDocument`] whose root element is `R`'s.
pub struct Document<R> {
    doc: ObjectDocument,
    kind: PhantomData<fn() -> R>,
}

impl<R> Clone for Document<R> {
    fn clone(&self) -> Self {
        Document {
            doc: self.doc.clone(),
            kind: PhantomData,
        }
    }
}

impl<R> PartialEq for Document<R> {
    fn eq(&self, other: &Self) -> bool {
        self.doc == other.doc
    }
}

impl<R> Eq for Document<R> {}

impl<R> fmt::Debug for Document<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.doc.fmt(f)
    }
}

impl<R: Root> Document<R> {
    /// Checks `bytes`: well-formed, root element `R::ELEMENT`, and (when `R::NAMED`) a
    /// non-empty top-level `<name>`. The bytes are kept untouched.
    pub fn parse(bytes: impl Into<Vec<u8>>) -> Result<Self, XmlError> {
        let doc = if R::NAMED {
            ObjectDocument::parse(bytes, R::ELEMENT)?
        } else {
            ObjectDocument::parse_unnamed(bytes, R::ELEMENT)?
        };
        Ok(Document {
            doc,
            kind: PhantomData,
        })
    }

    /// Wraps an already checked document with the right root.
    pub fn from_object(doc: ObjectDocument) -> Result<Self, XmlError> {
        if doc.root != R::ELEMENT {
            return Err(XmlError::WrongRoot {
                expected: R::ELEMENT.to_owned(),
                found: doc.root,
            });
        }
        if R::NAMED && doc.name.as_deref().is_none_or(str::is_empty) {
            return Err(XmlError::NoName {
                root: R::ELEMENT.to_owned(),
            });
        }
        Ok(Document {
            doc,
            kind: PhantomData,
        })
    }
}

impl<R> Document<R> {
    /// The object's name: argv\[1\] of the scripts. Empty only for kinds that are not
    /// [`Root::NAMED`].
    pub fn name(&self) -> &str {
        self.doc.name().unwrap_or("")
    }

    /// The top-level `<uuid>`, if there is one.
    pub fn uuid(&self) -> Option<&str> {
        self.doc.uuid()
    }

    /// The document, byte for byte as given: what the scripts get on stdin.
    pub fn bytes(&self) -> &[u8] {
        self.doc.bytes()
    }

    /// The root element alone (see [`ObjectDocument::root_element`]).
    pub fn root_element(&self) -> &[u8] {
        self.doc.root_element()
    }

    /// The untyped document.
    pub fn as_object(&self) -> &ObjectDocument {
        &self.doc
    }

    /// The untyped document, given back.
    pub fn into_object(self) -> ObjectDocument {
        self.doc
    }

    /// The document's bytes, given back.
    pub fn into_bytes(self) -> Vec<u8> {
        self.doc.into_bytes()
    }
}

impl<R> AsRef<ObjectDocument> for Document<R> {
    fn as_ref(&self) -> &ObjectDocument {
        &self.doc
    }
}

impl<R> From<Document<R>> for ObjectDocument {
    fn from(d: Document<R>) -> Self {
        d.doc
    }
}

/// What [`scan`] learnt about a well-formed document.
struct Scan {
    root_span: Range<usize>,
    name: Option<String>,
    uuid: Option<String>,
}

/// Which top-level child's text is being collected.
#[derive(Clone, Copy)]
enum Field {
    Name,
    Uuid,
}

impl Field {
    fn element(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Uuid => "uuid",
        }
    }
}

fn is_xml_space(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// XML's `Name` production, with every non-ASCII character accepted.
fn is_xml_name(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':' || !c.is_ascii();
    start(first) && chars.all(|c| start(c) || c.is_ascii_digit() || c == '-' || c == '.')
}

/// The characters XML 1.0 forbids: C0 controls but tab, LF and CR, and U+FFFE/U+FFFF.
fn forbidden(c: char) -> bool {
    (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}'
}

/// Checks one start tag: its name and its attributes (syntax, uniqueness, entities).
fn check_tag(e: &BytesStart<'_>) -> Result<(), String> {
    let name = e.name();
    if !is_xml_name(name.as_ref()) {
        return Err(format!("invalid element name {:?}", name.as_ref()));
    }
    for attr in e.attributes() {
        let attr =
            attr.map_err(|err| format!("in the attributes of <{}>: {err}", name.as_ref()))?;
        if !is_xml_name(attr.key.as_ref()) {
            return Err(format!(
                "invalid attribute name {:?} in <{}>",
                attr.key.as_ref(),
                name.as_ref()
            ));
        }
        if attr.value.contains('<') {
            return Err(format!(
                "attribute {} of <{}> holds a '<'",
                attr.key.as_ref(),
                name.as_ref()
            ));
        }
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|err| {
                format!(
                    "in attribute {} of <{}>: {err}",
                    attr.key.as_ref(),
                    name.as_ref()
                )
            })?;
        if let Some(c) = value.chars().find(|&c| forbidden(c)) {
            return Err(format!(
                "attribute {} of <{}> holds the character U+{:04X}, which XML does not allow",
                attr.key.as_ref(),
                name.as_ref(),
                c as u32
            ));
        }
    }
    Ok(())
}

/// The value of `e`'s `xmlns` attribute (its default namespace declaration), if it has one.
/// `check_tag` has already accepted the attributes.
fn default_namespace(e: &BytesStart<'_>) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == "xmlns")
        .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok())
        .map(|v| v.into_owned())
}

/// Whether an encoding declaration names UTF-8, as libxml2 reads the names (`UTF-8` or
/// `UTF8`, in any case).
fn is_utf8_name(name: &str) -> bool {
    name.eq_ignore_ascii_case("UTF-8") || name.eq_ignore_ascii_case("UTF8")
}

/// Resolves a general reference: the five predefined entities and character references.
fn resolve_ref(name: &str) -> Result<char, String> {
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => {
            let Some(num) = name.strip_prefix('#') else {
                return Err(format!("undefined entity &{name};"));
            };
            let code = match num.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16),
                None => num.parse::<u32>(),
            };
            let bad = || format!("invalid character reference &{name};");
            let c = code.ok().and_then(char::from_u32).ok_or_else(bad)?;
            if forbidden(c) || c == '\0' || num.starts_with(['+', '-']) {
                return Err(bad());
            }
            c
        }
    };
    Ok(c)
}

/// The streaming check: well-formedness, the root element, the top-level name and uuid.
fn scan(bytes: &[u8], expected_root: &str) -> Result<Scan, XmlError> {
    let at = |offset: usize| Position::of(bytes, offset);
    let text = std::str::from_utf8(bytes).map_err(|e| XmlError::NotUtf8 {
        at: at(e.valid_up_to()),
    })?;
    if let Some((i, c)) = text.char_indices().find(|&(_, c)| forbidden(c)) {
        return Err(XmlError::ForbiddenChar {
            code: c as u32,
            at: at(i),
        });
    }

    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    config.allow_unmatched_ends = false;
    config.allow_dangling_amp = false;
    config.expand_empty_elements = false;
    config.trim_text(false);

    let malformed = |offset: u64, message: String| XmlError::Malformed {
        at: at(usize::try_from(offset).unwrap_or(usize::MAX)),
        message,
    };

    // Offsets of the open elements' `<`, innermost last.
    let mut open: Vec<usize> = Vec::new();
    let mut root_start: Option<usize> = None;
    let mut root_end: Option<usize> = None;
    let mut seen_anything = false;
    let mut seen_doctype = false;
    // The root's default namespace (`xmlns='…'`), which its unprefixed children inherit.
    let mut root_namespace: Option<String> = None;
    let mut name: Option<String> = None;
    let mut uuid: Option<String> = None;
    // The top-level child whose text is being collected, and the text so far.
    let mut collecting: Option<(Field, String)> = None;

    loop {
        let start = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = match reader.read_event() {
            Ok(ev) => ev,
            Err(e) => return Err(malformed(reader.error_position(), e.to_string())),
        };
        let first_event = !seen_anything;
        seen_anything = true;
        let depth = open.len();
        let outside = |what: String| XmlError::OutsideRoot {
            what,
            root: expected_root.to_owned(),
            at: at(start),
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(event, Event::Empty(_));
                check_tag(e).map_err(|m| malformed(start as u64, m))?;
                let tag = e.name();
                let tag = tag.as_ref();
                if depth == 0 {
                    if root_start.is_some() {
                        return Err(outside(format!("a second root element <{tag}>")));
                    }
                    if tag != expected_root {
                        return Err(XmlError::WrongRoot {
                            expected: expected_root.to_owned(),
                            found: tag.to_owned(),
                        });
                    }
                    root_start = Some(start);
                    root_namespace = default_namespace(e);
                } else if let Some((field, _)) = &collecting {
                    return Err(XmlError::MarkupInText {
                        child: field.element(),
                        element: tag.to_owned(),
                        at: at(start),
                    });
                } else if depth == 1 {
                    let field = match tag {
                        "name" => Some((Field::Name, &name)),
                        "uuid" => Some((Field::Uuid, &uuid)),
                        _ => None,
                    };
                    if let Some((field, slot)) = field {
                        // libvirt's XPath `./name` matches only a <name> in no namespace.
                        let namespace = default_namespace(e).or_else(|| root_namespace.clone());
                        if let Some(namespace) = namespace.filter(|n| !n.is_empty()) {
                            return Err(XmlError::Namespaced {
                                child: field.element(),
                                namespace,
                                at: at(start),
                            });
                        }
                        if slot.is_some() {
                            return Err(XmlError::Duplicate {
                                root: expected_root.to_owned(),
                                child: field.element(),
                                at: at(start),
                            });
                        }
                        if is_empty {
                            match field {
                                Field::Name => name = Some(String::new()),
                                Field::Uuid => uuid = Some(String::new()),
                            }
                        } else {
                            collecting = Some((field, String::new()));
                        }
                    }
                }
                if is_empty {
                    if depth == 0 {
                        root_end = Some(usize::try_from(reader.buffer_position()).unwrap_or(start));
                    }
                } else {
                    open.push(start);
                }
            }
            Event::End(_) => {
                // quick-xml has checked that it matches the innermost open element.
                open.pop();
                if open.len() == 1 {
                    if let Some((field, value)) = collecting.take() {
                        match field {
                            Field::Name => name = Some(value),
                            Field::Uuid => uuid = Some(value),
                        }
                    }
                } else if open.is_empty() {
                    root_end = Some(usize::try_from(reader.buffer_position()).unwrap_or(start));
                }
            }
            Event::Text(t) => {
                // XML forbids `]]>` in text (libxml2: "Sequence ']]>' not allowed in content").
                // References are separate events, so an escaped `]]&gt;` never gets here.
                if let Some(i) = t.find("]]>") {
                    return Err(malformed(
                        (start + i) as u64,
                        "']]>' is not allowed in text (escape it as ]]&gt;)".to_owned(),
                    ));
                }
                if depth == 0 {
                    let content = t.xml10_content();
                    if !is_xml_space(&content) {
                        return Err(outside("text".to_owned()));
                    }
                } else if let Some((_, value)) = &mut collecting {
                    value.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let c = resolve_ref(&r).map_err(|m| malformed(start as u64, m))?;
                if depth == 0 {
                    return Err(outside("a character or entity reference".to_owned()));
                }
                if let Some((_, value)) = &mut collecting {
                    value.push(c);
                }
            }
            Event::CData(c) => {
                if depth == 0 {
                    return Err(outside("a CDATA section".to_owned()));
                }
                if let Some((_, value)) = &mut collecting {
                    value.push_str(&c.xml10_content());
                }
            }
            Event::Decl(d) => {
                if !first_event {
                    return Err(malformed(
                        start as u64,
                        "an XML declaration is only allowed at the very start".to_owned(),
                    ));
                }
                // The bytes are read as UTF-8 (checked above); libxml2 would decode them as
                // declared, so a document declaring anything else would mean something else.
                match d.encoding() {
                    None => {}
                    Some(Ok(enc)) if is_utf8_name(&enc) => {}
                    Some(Ok(enc)) => {
                        return Err(malformed(
                            start as u64,
                            format!(
                                "the XML declaration says encoding {enc:?}: only UTF-8 \
                                 documents are accepted (libvirt writes UTF-8)"
                            ),
                        ));
                    }
                    Some(Err(e)) => {
                        return Err(malformed(
                            start as u64,
                            format!(
                                "in the XML declaration's encoding (only UTF-8 is accepted): {e}"
                            ),
                        ));
                    }
                }
            }
            Event::DocType(_) => {
                if root_start.is_some() {
                    return Err(outside("a <!DOCTYPE>".to_owned()));
                }
                if seen_doctype {
                    return Err(malformed(
                        start as u64,
                        "a second <!DOCTYPE>: a document has at most one".to_owned(),
                    ));
                }
                // quick-xml also takes `<!doctype`; XML (and libxml2) want it in capitals.
                if !bytes
                    .get(start..)
                    .is_some_and(|b| b.starts_with(b"<!DOCTYPE"))
                {
                    return Err(malformed(
                        start as u64,
                        "a document type declaration is spelt <!DOCTYPE, in capitals".to_owned(),
                    ));
                }
                seen_doctype = true;
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }

    if let Some(&innermost) = open.last() {
        let element = text
            .get(innermost + 1..)
            .unwrap_or("")
            .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .next()
            .unwrap_or("")
            .to_owned();
        return Err(XmlError::Unclosed {
            element,
            at: at(innermost),
        });
    }
    let (Some(root_start), Some(root_end)) = (root_start, root_end) else {
        return Err(XmlError::NoRoot {
            expected: expected_root.to_owned(),
        });
    };
    let root_end = root_end.clamp(root_start, bytes.len());
    Ok(Scan {
        root_span: root_start..root_end,
        name,
        uuid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "<?xml version='1.0'?>\n<!-- c -->\n<domain type='kvm' id='1' note='&lt;&#x41;&gt;'>\n  <name>web&amp;1</name>\n  <uuid>u-1</uuid>\n  <devices><disk><name>not me</name></disk></devices>\n</domain>\n";

    fn err(doc: &str, root: &str) -> XmlError {
        ObjectDocument::parse(doc, root).expect_err(doc)
    }

    #[test]
    fn accepts_a_document_and_keeps_its_bytes() {
        let d = ObjectDocument::parse(SMALL, "domain").unwrap();
        assert_eq!(d.bytes(), SMALL.as_bytes());
        assert_eq!(d.name(), Some("web&1"));
        assert_eq!(d.uuid(), Some("u-1"));
        assert_eq!(d.root(), "domain");
        let root = std::str::from_utf8(d.root_element()).unwrap();
        assert!(root.starts_with("<domain type='kvm'"), "{root}");
        assert!(root.ends_with("</domain>"), "{root}");
    }

    #[test]
    fn name_text_is_exact() {
        let d = ObjectDocument::parse(
            "<domain><name>vm with spaces &#xFC;n&apos;q&apos; <![CDATA[-rf]]></name></domain>",
            "domain",
        )
        .unwrap();
        assert_eq!(d.name(), Some("vm with spaces ün'q' -rf"));
    }

    #[test]
    fn refuses_the_wrong_root() {
        assert_eq!(
            err("<network><name>x</name></network>", "domain"),
            XmlError::WrongRoot {
                expected: "domain".into(),
                found: "network".into()
            }
        );
    }

    #[test]
    fn refuses_missing_empty_or_duplicate_names() {
        assert!(matches!(
            err("<domain><uuid>1</uuid></domain>", "domain"),
            XmlError::NoName { .. }
        ));
        assert!(matches!(
            err("<domain><name/></domain>", "domain"),
            XmlError::NoName { .. }
        ));
        assert!(matches!(
            err("<domain><name></name></domain>", "domain"),
            XmlError::NoName { .. }
        ));
        let e = err("<domain><name>a</name>\n<name>b</name></domain>", "domain");
        assert!(
            matches!(e, XmlError::Duplicate { child: "name", at, .. } if at.line == 2),
            "{e:?}"
        );
        assert!(matches!(
            err("<domain><name>a<b/></name></domain>", "domain"),
            XmlError::MarkupInText { child: "name", .. }
        ));
        let unnamed = ObjectDocument::parse_unnamed(
            "<networkport><uuid>u</uuid></networkport>",
            "networkport",
        )
        .unwrap();
        assert_eq!(unnamed.name(), None);
        assert_eq!(unnamed.uuid(), Some("u"));
    }

    #[test]
    fn refuses_malformed_documents_with_a_position() {
        let e = err(
            "<domain>\n  <name>x</name>\n  <os></devices>\n</domain>",
            "domain",
        );
        match &e {
            XmlError::Malformed { at, message } => {
                assert_eq!(at.line, 3, "{e}");
                assert!(message.contains("os"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let shown = e.to_string();
        assert!(
            shown.starts_with("not well-formed XML at line 3, column"),
            "{shown}"
        );
    }

    #[test]
    fn refuses_what_quick_xml_leaves_to_its_caller() {
        let cases: &[(&str, &str)] = &[
            ("", "no root"),
            ("  <!-- only -->  ", "no root"),
            ("<domain><name>x</name>", "closed"),
            ("<domain><name>x</name></domain><domain/>", "second root"),
            ("<domain><name>x</name></domain>junk", "text outside"),
            ("junk<domain><name>x</name></domain>", "text outside"),
            ("<domain a='1' a='2'><name>x</name></domain>", "attributes"),
            ("<domain a=1><name>x</name></domain>", "attributes"),
            ("<domain a='<'><name>x</name></domain>", "holds a '<'"),
            ("<domain a='&nope;'><name>x</name></domain>", "attribute a"),
            ("<domain><name>&nope;</name></domain>", "undefined entity"),
            ("<domain><name>&#0;</name></domain>", "character reference"),
            ("<domain><name>x & y</name></domain>", "well-formed"),
            (
                "<domain><!-- a -- b --><name>x</name></domain>",
                "well-formed",
            ),
            ("<domain><1x/><name>x</name></domain>", "element name"),
            ("<domain>\u{1}<name>x</name></domain>", "U+0001"),
            (
                "<domain><name>x</name></domain><?xml version='1.0'?>",
                "declaration",
            ),
        ];
        for (doc, needle) in cases {
            let e = err(doc, "domain").to_string();
            assert!(e.contains(needle), "{doc:?}: {e}");
        }
        let e = ObjectDocument::parse(&b"<domain><name>\xff</name></domain>"[..], "domain")
            .unwrap_err();
        assert!(
            matches!(e, XmlError::NotUtf8 { at } if at.offset == 14),
            "{e:?}"
        );
    }

    /// Malformed at exactly this byte offset, with this in the message.
    fn malformed_at(doc: &str, offset: usize, needle: &str) {
        match err(doc, "domain") {
            XmlError::Malformed { at, message } => {
                assert_eq!(at.offset, offset, "{doc:?}: {message}");
                assert!(message.contains(needle), "{doc:?}: {message}");
            }
            other => panic!("{doc:?}: {other:?}"),
        }
    }

    #[test]
    fn refuses_cdata_end_in_text_as_libxml2_does() {
        malformed_at(
            "<domain><name>x</name>\n<a>x ]]> y</a></domain>",
            28,
            "']]>' is not allowed in text",
        );
        malformed_at("<domain><name>a]]>b</name></domain>", 15, "']]>'");
        // Escaped, in an attribute or ending a CDATA section, it is fine.
        for ok in [
            "<domain a=']]>'><name>x</name><b>]]&gt;</b></domain>",
            "<domain><name>x</name><b><![CDATA[ a ]]></b><c>]]</c><d>]></d></domain>",
        ] {
            ObjectDocument::parse(ok, "domain").expect(ok);
        }
    }

    #[test]
    fn refuses_a_second_or_malformed_doctype() {
        let doc = "<!DOCTYPE domain>\n<!DOCTYPE domain>\n<domain><name>x</name></domain>";
        malformed_at(doc, 18, "a second <!DOCTYPE>");
        malformed_at(
            "<!doctype domain><domain><name>x</name></domain>",
            0,
            "<!DOCTYPE",
        );
        ObjectDocument::parse(
            "<?xml version='1.0'?>\n<!-- c --><!DOCTYPE domain>\n<domain><name>x</name></domain>",
            "domain",
        )
        .unwrap();
    }

    #[test]
    fn refuses_an_encoding_other_than_utf8() {
        for enc in ["ISO-8859-1", "latin1", "UTF-16", "US-ASCII", ""] {
            let doc =
                format!("<?xml version='1.0' encoding='{enc}'?><domain><name>x</name></domain>");
            malformed_at(&doc, 0, "UTF-8");
        }
        for enc in ["UTF-8", "utf-8", "UTF8", "utf8"] {
            let doc = format!(
                "<?xml version=\"1.0\" encoding=\"{enc}\"?><domain><name>x</name></domain>"
            );
            ObjectDocument::parse(doc.as_str(), "domain").expect(&doc);
        }
    }

    #[test]
    fn a_name_in_a_namespace_is_not_the_name() {
        // libvirt's XPath ./name (and ./uuid) matches only elements in no namespace.
        for (doc, child, offset) in [
            ("<domain><name xmlns='urn:x'>a</name></domain>", "name", 8),
            (
                "<domain xmlns='urn:x'>\n<name>a</name></domain>",
                "name",
                23,
            ),
            (
                "<domain><name>a</name><uuid xmlns='urn:x'>u</uuid></domain>",
                "uuid",
                22,
            ),
        ] {
            match err(doc, "domain") {
                XmlError::Namespaced {
                    child: c,
                    at,
                    namespace,
                } => {
                    assert_eq!((c, at.offset, namespace.as_str()), (child, offset, "urn:x"));
                }
                other => panic!("{doc:?}: {other:?}"),
            }
        }
        let shown = err("<domain><name xmlns='urn:x'>a</name></domain>", "domain").to_string();
        assert!(shown.contains("line 1, column 9"), "{shown}");
        // Undeclaring the default namespace puts it back in no namespace; a prefixed <x:name>
        // is some other element, as for libvirt; a prefix declared but unused changes nothing.
        let ok = |doc: &str| ObjectDocument::parse(doc, "domain").expect(doc);
        assert_eq!(
            ok("<domain xmlns='urn:x'><name xmlns=''>a</name></domain>").name(),
            Some("a")
        );
        assert_eq!(
            ok("<domain xmlns:x='urn:x'><x:name>a</x:name><name>b</name></domain>").name(),
            Some("b")
        );
        assert!(matches!(
            err(
                "<domain xmlns:x='urn:x'><x:name>a</x:name></domain>",
                "domain"
            ),
            XmlError::NoName { .. }
        ));
        assert_eq!(
            ok("<domain xmlns:qemu='urn:q'><name xmlns:y='urn:y'>a</name></domain>").name(),
            Some("a")
        );
    }

    #[test]
    fn positions_count_lines_and_characters() {
        let doc = "ab\nü€x";
        let p = Position::of(doc.as_bytes(), doc.find('x').unwrap());
        assert_eq!((p.line, p.column), (2, 3));
        assert_eq!(Position::of(b"abc", 99).offset, 3);
    }

    #[test]
    fn typed_documents_check_their_root() {
        enum Dom {}
        impl Root for Dom {
            const ELEMENT: &'static str = "domain";
        }
        enum Port {}
        impl Root for Port {
            const ELEMENT: &'static str = "networkport";
            const NAMED: bool = false;
        }
        let d = Document::<Dom>::parse(SMALL).unwrap();
        assert_eq!(d.name(), "web&1");
        let p = Document::<Port>::parse("<networkport><uuid>u</uuid></networkport>").unwrap();
        assert_eq!(p.name(), "");
        let net = ObjectDocument::parse("<network><name>n</name></network>", "network").unwrap();
        assert!(matches!(
            Document::<Dom>::from_object(net),
            Err(XmlError::WrongRoot { .. })
        ));
    }

    /// A small deterministic generator, so the robustness test needs no extra dependency.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    #[test]
    fn never_panics_on_any_input() {
        let seed = SMALL.as_bytes();
        // Every prefix and every single-byte deletion.
        for i in 0..=seed.len() {
            let _ = ObjectDocument::parse(&seed[..i], "domain");
            let mut cut = seed.to_vec();
            if i < cut.len() {
                cut.remove(i);
            }
            let _ = ObjectDocument::parse(cut, "domain");
        }
        // Random mutations drawn from XML's special bytes and arbitrary ones.
        let alphabet = b"<>/='\"&;#x!?-[]CDATA \n\0\xff\xc3name";
        let mut rng = Lcg(42);
        for _ in 0..20_000 {
            let mut doc = seed.to_vec();
            for _ in 0..(1 + rng.next() % 4) {
                let pos = (rng.next() as usize) % (doc.len() + 1);
                let byte = if rng.next().is_multiple_of(3) {
                    rng.next() as u8
                } else {
                    alphabet[(rng.next() as usize) % alphabet.len()]
                };
                match rng.next() % 3 {
                    0 => doc.insert(pos, byte),
                    1 if pos < doc.len() => doc[pos] = byte,
                    _ if pos < doc.len() => {
                        doc.remove(pos);
                    }
                    _ => {}
                }
            }
            let _ = ObjectDocument::parse(doc, "domain");
        }
        // Deep nesting and long runs.
        let deep =
            "<domain>".to_owned() + &"<a>".repeat(100_000) + &"</a>".repeat(100_000) + "</domain>";
        assert!(matches!(
            ObjectDocument::parse(deep, "domain"),
            Err(XmlError::NoName { .. })
        ));
        let unclosed = "<domain>".to_owned() + &"<a>".repeat(10_000);
        assert!(matches!(
            ObjectDocument::parse(unclosed, "domain"),
            Err(XmlError::Unclosed { .. })
        ));
    }
}
