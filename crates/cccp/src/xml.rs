//! The XML layer: a bounded, namespace-aware pull reader over quick-xml that hands out
//! zero-copy [`ByteString`] views of the input, the generic [`Element`] that keeps extension
//! content, and the writer the typed model serializes through.
//!
//! Security posture: a `<!DOCTYPE` is refused as soon as it is seen, so no entity is ever
//! defined and no expansion happens beyond the five predefined entities and character
//! references; depth, element count, attribute count and document size are bounded by
//! [`Limits`].

use std::borrow::Cow;

use bytestring::ByteString;
use quick_xml::events::{BytesStart, Event};

use crate::error::Error;
use crate::ns;

/// Bounds on what a parser accepts. The defaults suit a server: a C3P request is a few KB and
/// a conference-info document with a thousand users is well under 1 MB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest document, in bytes (default 1 MiB).
    pub max_size: usize,
    /// Deepest element nesting (default 32; RFC 4575 documents need about 10).
    pub max_depth: usize,
    /// Most elements in one document (default 50,000).
    pub max_elements: usize,
    /// Most attributes on one element (default 32).
    pub max_attributes: usize,
    /// Most namespace declarations in scope at once (default 64).
    pub max_namespaces: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_size: 1 << 20,
            max_depth: 32,
            max_elements: 50_000,
            max_attributes: 32,
            max_namespaces: 64,
        }
    }
}

/// The namespaces this crate knows by URI (never by prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ns {
    /// No namespace.
    None,
    /// `urn:ietf:params:xml:ns:cccp`.
    Cccp,
    /// `urn:ietf:params:xml:ns:conference-info` (RFC 4575).
    Ci,
    /// `http://schemas.microsoft.com/rtc/2005/08/confinfoextensions`.
    Msci,
    /// `http://schemas.microsoft.com/rtc/2008/12/confinfoextensions`.
    Msci2,
    /// `http://schemas.microsoft.com/rtc/2005/08/cccpextensions`.
    Mscp,
    /// `urn:ietf:params:xml:ns:conference-info-separator`.
    Cis,
    /// Any other namespace (or an undeclared prefix).
    Other,
}

impl Ns {
    fn of(uri: &str) -> Ns {
        match uri {
            ns::CCCP => Ns::Cccp,
            ns::CI => Ns::Ci,
            ns::MSCI => Ns::Msci,
            ns::MSCI2 => Ns::Msci2,
            ns::MSCP => Ns::Mscp,
            ns::CIS => Ns::Cis,
            _ => Ns::Other,
        }
    }

    /// The URI of a known namespace.
    pub(crate) fn uri(self) -> Option<&'static str> {
        Some(match self {
            Ns::Cccp => ns::CCCP,
            Ns::Ci => ns::CI,
            Ns::Msci => ns::MSCI,
            Ns::Msci2 => ns::MSCI2,
            Ns::Mscp => ns::MSCP,
            Ns::Cis => ns::CIS,
            Ns::None | Ns::Other => return None,
        })
    }

    /// RFC 4575 elements: the conference-info namespace, or the C3P namespace where a command
    /// body leaves them unqualified (as some [MS-CONFBAS] examples print them).
    pub(crate) fn is_ci(self) -> bool {
        matches!(self, Ns::Ci | Ns::Cccp)
    }

    /// Children of list and Microsoft elements (`entry`, `type`, `key`...): matched by local
    /// name in the conference-info, C3P or Microsoft namespaces, which is how the examples
    /// qualify them variously.
    pub(crate) fn is_ms(self) -> bool {
        matches!(self, Ns::Msci | Ns::Msci2 | Ns::Ci | Ns::Cccp)
    }
}

/// An attribute in a namespace this crate does not type, kept so that a document survives a
/// parse and write unchanged ([RFC 4575] `anyAttribute namespace="##other"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Attribute {
    /// The namespace URI, or `None` for an unqualified attribute.
    pub ns: Option<ByteString>,
    /// The local name.
    pub name: ByteString,
    /// The value, entities resolved.
    pub value: ByteString,
}

/// An element this crate does not type, kept whole with its namespace, attributes, children and
/// text ([RFC 4575] `any namespace="##other" processContents="lax"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Element {
    /// The namespace URI, or `None`.
    pub ns: Option<ByteString>,
    /// The local name.
    pub name: ByteString,
    /// Its attributes, namespace declarations excluded.
    pub attributes: Vec<Attribute>,
    /// Its content in document order.
    pub children: Vec<Node>,
}

/// The content of an [`Element`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Character data, entities resolved.
    Text(ByteString),
}

impl Element {
    /// A new element with no attributes or content.
    #[must_use]
    pub fn new(ns: Option<&str>, name: &str) -> Element {
        Element {
            ns: ns.map(ByteString::from),
            name: ByteString::from(name),
            attributes: Vec::new(),
            children: Vec::new(),
        }
    }

    /// The concatenated text of its direct text children.
    #[must_use]
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(&**t),
                Node::Element(_) => None,
            })
            .collect()
    }

    /// The first child element with this local name.
    #[must_use]
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find_map(|n| match n {
            Node::Element(e) if e.name == name => Some(e),
            _ => None,
        })
    }
}

/// Extension content of a typed element: the attributes and elements it carries in namespaces
/// (or names) that the typed model does not cover. They are written back after the typed
/// content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Extensions {
    /// Extension attributes.
    pub attributes: Vec<Attribute>,
    /// Extension elements.
    pub elements: Vec<Element>,
}

impl Extensions {
    /// Whether there is no extension content.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.elements.is_empty()
    }
}

/// A start tag that the reader handed out: its namespace, local name and where it begins.
pub(crate) struct Start<'i> {
    pub(crate) ns: Ns,
    /// The namespace URI when `ns` is [`Ns::Other`].
    pub(crate) other_ns: Option<ByteString>,
    pub(crate) offset: usize,
    tag: BytesStart<'i>,
}

impl Start<'_> {
    /// The local name.
    pub(crate) fn local(&self) -> &str {
        let n = self.tag.name();
        let full: &str = n.0;
        full.split_once(':').map_or(full, |(_, l)| l)
    }

    /// Whether this is element `local` in one of the RFC 4575 namespaces.
    pub(crate) fn is_ci(&self, local: &str) -> bool {
        self.ns.is_ci() && self.local() == local
    }

    /// The namespace URI as an owned string (`None` for no namespace).
    pub(crate) fn ns_uri(&self) -> Option<ByteString> {
        match self.ns {
            Ns::None => None,
            Ns::Other => self.other_ns.clone(),
            known => known.uri().map(ByteString::from_static),
        }
    }
}

/// One attribute as the reader reports it.
pub(crate) struct Attr<'a> {
    pub(crate) ns: Ns,
    pub(crate) other_ns: Option<ByteString>,
    pub(crate) local: &'a str,
    pub(crate) value: Cow<'a, str>,
}

/// A namespace declaration in scope.
struct Binding {
    /// The prefix (empty for the default namespace), as a range of the input.
    prefix: (u32, u32),
    ns: Ns,
    /// The URI when `ns` is [`Ns::Other`].
    uri: Option<ByteString>,
}

/// The bounded, namespace-aware pull reader. Namespaces are resolved here rather than by
/// quick-xml's `NsReader`: declarations are rare in C3P (a few per document), so bindings are
/// classified once when declared and only tags that carry `xmlns` are searched for them, which
/// halves the cost of a scan (measured: `benches/cccp.rs`).
pub(crate) struct Reader<'i> {
    src: &'i ByteString,
    inner: quick_xml::Reader<&'i [u8]>,
    limits: &'i Limits,
    depth: usize,
    elements: usize,
    bindings: Vec<Binding>,
    /// `bindings.len()` when each open element started.
    marks: Vec<usize>,
    /// The attributes (not namespace declarations) of the last start tag read, as byte ranges
    /// of its attribute text, so that reading them does not scan the tag again.
    attr_cache: Vec<(u32, u32, u32, u32, bool)>,
    /// The offset of the start tag `attr_cache` belongs to.
    cache_for: usize,
}

fn xml_error(e: &quick_xml::Error, offset: u64) -> Error {
    Error::Xml {
        cause: e.to_string(),
        offset: usize::try_from(offset).unwrap_or(usize::MAX),
    }
}

impl<'i> Reader<'i> {
    /// A reader over a whole document. Checks the size limit and UTF-8 first.
    pub(crate) fn new(src: &'i ByteString, limits: &'i Limits) -> Result<Reader<'i>, Error> {
        if src.len() > limits.max_size {
            return Err(Error::TooLarge {
                size: src.len(),
                limit: limits.max_size,
            });
        }
        if let Some(offset) = find_control(src.as_bytes()) {
            return Err(Error::Xml {
                cause: "control character not allowed in XML 1.0".into(),
                offset,
            });
        }
        let mut inner = quick_xml::Reader::from_str(src);
        let c = inner.config_mut();
        c.expand_empty_elements = true;
        c.check_end_names = true;
        c.trim_text_start = false;
        c.trim_text_end = false;
        Ok(Reader {
            src,
            inner,
            limits,
            depth: 0,
            elements: 0,
            bindings: Vec::with_capacity(8),
            marks: Vec::with_capacity(16),
            attr_cache: Vec::with_capacity(8),
            cache_for: usize::MAX,
        })
    }

    fn pos(&self) -> usize {
        usize::try_from(self.inner.buffer_position()).unwrap_or(usize::MAX)
    }

    /// A zero-copy view of `s` when it lies inside the input, a copy otherwise.
    pub(crate) fn share(&self, s: &str) -> ByteString {
        let base = self.src.as_ptr() as usize;
        let p = s.as_ptr() as usize;
        if p >= base && p + s.len() <= base + self.src.len() {
            self.src.slice_ref(s)
        } else {
            ByteString::from(s)
        }
    }

    /// A shared or owned string from a `Cow` the reader produced.
    pub(crate) fn share_cow(&self, c: Cow<'_, str>) -> ByteString {
        match c {
            Cow::Borrowed(s) => self.share(s),
            Cow::Owned(s) => ByteString::from(s),
        }
    }

    fn event(&mut self) -> Result<(Ns, Option<ByteString>, Event<'i>, usize), Error> {
        let offset = self.pos();
        let ev = match self.inner.read_event() {
            Ok(e) => e,
            Err(e) => {
                let at = self.inner.error_position();
                return Err(xml_error(&e, at));
            }
        };
        let (ns, other) = match &ev {
            Event::Start(t) => {
                // Element names are checked where they are kept (`capture`): a typed element
                // matched one of our names, which are valid.
                let name: &str = t.name().0;
                self.marks.push(self.bindings.len());
                self.attr_cache.clear();
                self.cache_for = offset;
                let raw = t.attributes_raw();
                if !raw.is_empty() {
                    self.check_attrs(raw, offset)?;
                }
                let prefix = name.split_once(':').map_or("", |(p, _)| p);
                self.resolve(prefix, offset).map_err(|e| {
                    if qname(name) {
                        e
                    } else {
                        Error::Xml {
                            cause: format!(
                                "invalid element name '{}'",
                                name.chars().take(40).collect::<String>()
                            ),
                            offset,
                        }
                    }
                })?
            }
            Event::End(_) => {
                if let Some(m) = self.marks.pop() {
                    self.bindings.truncate(m);
                }
                (Ns::None, None)
            }
            _ => (Ns::None, None),
        };
        Ok((ns, other, ev, offset))
    }

    /// The namespace a prefix is bound to (`""`: the default namespace, for elements).
    fn resolve(&self, prefix: &str, offset: usize) -> Result<(Ns, Option<ByteString>), Error> {
        let src: &str = self.src;
        let found = self.bindings.iter().rev().find(|b| {
            let (at, len) = (b.prefix.0 as usize, b.prefix.1 as usize);
            len == prefix.len() && src.get(at..at + len) == Some(prefix)
        });
        if let Some(b) = found {
            return Ok((b.ns, b.uri.clone()));
        }
        match prefix {
            "" => Ok((Ns::None, None)),
            "xml" => Ok((Ns::Other, Some(ByteString::from_static(XML_NS)))),
            p => Err(Error::Xml {
                cause: format!(
                    "undeclared namespace prefix '{}'",
                    p.chars().take(40).collect::<String>()
                ),
                offset,
            }),
        }
    }

    fn enter(&mut self, offset: usize) -> Result<(), Error> {
        self.depth += 1;
        self.elements += 1;
        if self.depth > self.limits.max_depth {
            return Err(Error::TooDeep {
                limit: self.limits.max_depth,
                offset,
            });
        }
        if self.elements > self.limits.max_elements {
            return Err(Error::TooMany {
                what: "elements",
                limit: self.limits.max_elements,
                offset,
            });
        }
        Ok(())
    }

    /// The root element: skips the XML declaration, comments, processing instructions and
    /// white space; refuses a DTD.
    pub(crate) fn root(&mut self) -> Result<Start<'i>, Error> {
        loop {
            let (ns, other_ns, ev, offset) = self.event()?;
            match ev {
                Event::Start(tag) => {
                    self.enter(offset)?;
                    return Ok(Start {
                        ns,
                        other_ns,
                        offset,
                        tag,
                    });
                }
                Event::DocType(_) => return Err(Error::DtdNotAllowed { offset }),
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
                Event::Text(t) if t.as_ref().trim().is_empty() => {}
                Event::Eof => {
                    return Err(Error::Xml {
                        cause: "no root element".into(),
                        offset,
                    });
                }
                _ => {
                    return Err(Error::UnexpectedText {
                        context: "prolog",
                        offset,
                    });
                }
            }
        }
    }

    /// After the root's end: only comments, processing instructions and white space may follow.
    pub(crate) fn finish(&mut self) -> Result<(), Error> {
        loop {
            let (_, _, ev, offset) = self.event()?;
            match ev {
                Event::Eof => return Ok(()),
                Event::Comment(_) | Event::PI(_) => {}
                Event::Text(t) if t.as_ref().trim().is_empty() => {}
                Event::DocType(_) => return Err(Error::DtdNotAllowed { offset }),
                _ => {
                    return Err(Error::Xml {
                        cause: "content after the root element".into(),
                        offset,
                    });
                }
            }
        }
    }

    /// The next child element of the current element, or `None` at its end tag. Element-only
    /// content: white space is skipped, other character data is an error.
    pub(crate) fn next(&mut self, context: &'static str) -> Result<Option<Start<'i>>, Error> {
        loop {
            let (ns, other_ns, ev, offset) = self.event()?;
            match ev {
                Event::Start(tag) => {
                    self.enter(offset)?;
                    return Ok(Some(Start {
                        ns,
                        other_ns,
                        offset,
                        tag,
                    }));
                }
                Event::End(_) => {
                    self.depth -= 1;
                    return Ok(None);
                }
                Event::Text(t) if t.as_ref().bytes().all(|b| b.is_ascii_whitespace()) => {}
                Event::Comment(_) | Event::PI(_) => {}
                Event::DocType(_) => return Err(Error::DtdNotAllowed { offset }),
                Event::Eof => {
                    return Err(Error::Xml {
                        cause: "unexpected end of document".into(),
                        offset,
                    });
                }
                _ => return Err(Error::UnexpectedText { context, offset }),
            }
        }
    }

    /// Resolves one entity or character reference to the text it stands for.
    fn reference(
        r: &quick_xml::events::BytesRef<'_>,
        offset: usize,
    ) -> Result<Cow<'static, str>, Error> {
        match r.resolve_char_ref() {
            Ok(Some(c)) if c.is_ascii() && not_xml_char(c as u8) => Err(Error::Xml {
                cause: "character reference to a character not allowed in XML 1.0".into(),
                offset,
            }),
            Ok(Some(c)) => Ok(Cow::Owned(c.to_string())),
            Ok(None) => {
                let name: &str = r.as_ref();
                let s = match name {
                    "lt" => "<",
                    "gt" => ">",
                    "amp" => "&",
                    "apos" => "'",
                    "quot" => "\"",
                    _ => {
                        return Err(Error::UnknownEntity {
                            name: name.chars().take(64).collect(),
                            offset,
                        });
                    }
                };
                Ok(Cow::Borrowed(s))
            }
            Err(e) => Err(xml_error(&e, offset as u64)),
        }
    }

    /// The text content of the element just started (no child elements allowed), entities
    /// resolved. A view of the input when it holds no reference or CR.
    pub(crate) fn text(&mut self, context: &'static str) -> Result<ByteString, Error> {
        let mut first: Option<Cow<'i, str>> = None;
        let mut owned: Option<String> = None;
        loop {
            let (_, _, ev, offset) = self.event()?;
            let piece: Cow<'i, str> = match ev {
                Event::Text(t) => t.xml10_content(),
                Event::CData(c) => c.xml10_content(),
                Event::GeneralRef(r) => Self::reference(&r, offset)?,
                Event::Comment(_) | Event::PI(_) => continue,
                Event::End(_) => {
                    self.depth -= 1;
                    return Ok(match (owned, first) {
                        (Some(s), _) => ByteString::from(s),
                        (None, Some(c)) => self.share_cow(c),
                        (None, None) => ByteString::new(),
                    });
                }
                Event::Start(_) => {
                    return Err(Error::UnexpectedElement {
                        name: String::from("(child)"),
                        context,
                        offset,
                    });
                }
                Event::DocType(_) => return Err(Error::DtdNotAllowed { offset }),
                _ => {
                    return Err(Error::Xml {
                        cause: "unexpected end of document".into(),
                        offset,
                    });
                }
            };
            match (owned.as_mut(), first.take()) {
                (Some(s), _) => s.push_str(&piece),
                (None, Some(f)) => {
                    let mut s = String::with_capacity(f.len() + piece.len() + 16);
                    s.push_str(&f);
                    s.push_str(&piece);
                    owned = Some(s);
                }
                (None, None) => first = Some(piece),
            }
        }
    }

    /// Calls `f` for every attribute of `start` (namespace declarations excluded).
    pub(crate) fn attrs(
        &self,
        start: &Start<'i>,
        mut f: impl FnMut(&Self, Attr<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        // The tag's attributes were checked, and their places noted, when it was read.
        let text = start.tag.attributes_raw();
        let cached = start.offset == self.cache_for;
        let mut rest = text;
        let mut i = 0;
        loop {
            let (key, raw, plain) = if cached {
                let Some(&(k, kl, v, vl, plain)) = self.attr_cache.get(i) else {
                    break;
                };
                i += 1;
                let (k, kl, v, vl) = (k as usize, kl as usize, v as usize, vl as usize);
                match (text.get(k..k + kl), text.get(v..v + vl)) {
                    (Some(key), Some(raw)) => (key, raw, plain),
                    _ => break,
                }
            } else {
                match next_attr(&mut rest) {
                    Some(Ok((k, v))) => (k, v, false),
                    _ => break,
                }
            };
            if key == "xmlns" || key.starts_with("xmlns:") {
                continue;
            }
            let (ns, other_ns, local) = match key.split_once(':') {
                Some((p, l)) => {
                    let (ns, other) = self.resolve(p, start.offset)?;
                    (ns, other, l)
                }
                None => (Ns::None, None, key),
            };
            let value = if plain {
                Cow::Borrowed(raw)
            } else {
                attr_value(raw, start.offset)?
            };
            f(
                self,
                Attr {
                    ns,
                    other_ns,
                    local,
                    value,
                },
            )?;
        }
        Ok(())
    }

    /// Checks the attributes of a start tag (syntax, names, duplicates, values, count), records
    /// its namespace declarations and notes where its other attributes are.
    fn check_attrs(&mut self, raw: &str, offset: usize) -> Result<(), Error> {
        let base = raw.as_ptr() as usize;
        let (mut n, mut counted) = (0, 0);
        let mut seen: [&str; 8] = [""; 8];
        let mut rest = raw;
        while let Some(a) = next_attr(&mut rest) {
            let (key, value) = a.map_err(|cause| Error::Xml {
                cause: cause.into(),
                offset,
            })?;
            let name = || key.chars().take(40).collect::<String>();
            if !qname(key) {
                return Err(Error::Xml {
                    cause: format!("invalid attribute name '{}'", name()),
                    offset,
                });
            }
            let dup = if n < seen.len() {
                seen[..n].contains(&key)
            } else {
                let mut again = raw;
                let mut count = 0;
                while let Some(Ok((k, _))) = next_attr(&mut again) {
                    count += usize::from(k == key);
                }
                count > 1
            };
            if dup {
                return Err(Error::Xml {
                    cause: format!("duplicate attribute '{}'", name()),
                    offset,
                });
            }
            if n < seen.len() {
                seen[n] = key;
            }
            n += 1;
            let declared = match key.strip_prefix("xmlns") {
                Some("") => Some(""),
                Some(p) => p.strip_prefix(':'),
                None => None,
            };
            let normalized = attr_value(value, offset)?;
            if let Some(prefix) = declared {
                self.declare(prefix, &normalized, offset)?;
                continue;
            }
            counted += 1;
            if counted > self.limits.max_attributes {
                return Err(Error::TooMany {
                    what: "attributes",
                    limit: self.limits.max_attributes,
                    offset,
                });
            }
            let at = |x: &str| u32::try_from(x.as_ptr() as usize - base).unwrap_or(u32::MAX);
            let len = |x: &str| u32::try_from(x.len()).unwrap_or(0);
            let plain = matches!(normalized, Cow::Borrowed(_));
            self.attr_cache
                .push((at(key), len(key), at(value), len(value), plain));
        }
        Ok(())
    }

    /// Records a namespace declaration.
    fn declare(&mut self, prefix: &str, value: &str, offset: usize) -> Result<(), Error> {
        let bad = |cause: &str| Error::Xml {
            cause: cause.to_string(),
            offset,
        };
        if prefix == "xmlns" || (prefix == "xml") != (value == XML_NS) {
            return Err(bad("reserved namespace prefix or name"));
        }
        if value.is_empty() && !prefix.is_empty() {
            return Err(bad("a prefix cannot be bound to the empty namespace"));
        }
        if self.bindings.len() >= self.limits.max_namespaces {
            return Err(Error::TooMany {
                what: "namespace declarations",
                limit: self.limits.max_namespaces,
                offset,
            });
        }
        let ns = if value.is_empty() {
            Ns::None
        } else {
            Ns::of(value)
        };
        let at = if prefix.is_empty() {
            0
        } else {
            (prefix.as_ptr() as usize).wrapping_sub(self.src.as_ptr() as usize)
        };
        let (Ok(at), Ok(len)) = (u32::try_from(at), u32::try_from(prefix.len())) else {
            return Err(bad("namespace declaration outside the document"));
        };
        self.bindings.push(Binding {
            prefix: (at, len),
            ns,
            uri: (ns == Ns::Other).then(|| ByteString::from(value)),
        });
        Ok(())
    }

    /// Keeps an unknown attribute.
    pub(crate) fn keep_attr(&self, a: &Attr<'_>) -> Attribute {
        Attribute {
            ns: match a.ns {
                Ns::None => None,
                Ns::Other => a.other_ns.clone(),
                k => k.uri().map(ByteString::from_static),
            },
            name: self.share(a.local),
            value: self.share_cow(a.value.clone()),
        }
    }

    /// Reads the element just started, whole, as a generic [`Element`].
    pub(crate) fn capture(&mut self, start: Start<'i>) -> Result<Element, Error> {
        let qualified: &str = start.tag.name().0;
        if !qname(qualified) {
            return Err(Error::Xml {
                cause: format!(
                    "invalid element name '{}'",
                    qualified.chars().take(40).collect::<String>()
                ),
                offset: start.offset,
            });
        }
        let mut el = Element {
            ns: start.ns_uri(),
            name: self.share(start.local()),
            attributes: Vec::new(),
            children: Vec::new(),
        };
        self.attrs(&start, |r, a| {
            el.attributes.push(r.keep_attr(&a));
            Ok(())
        })?;
        loop {
            let (ns, other_ns, ev, offset) = self.event()?;
            match ev {
                Event::Start(tag) => {
                    self.enter(offset)?;
                    let child = self.capture(Start {
                        ns,
                        other_ns,
                        offset,
                        tag,
                    })?;
                    el.children.push(Node::Element(child));
                }
                Event::End(_) => {
                    self.depth -= 1;
                    return Ok(el);
                }
                Event::Text(t) => {
                    let t = self.share_cow(t.xml10_content());
                    push_text(&mut el.children, t);
                }
                Event::CData(c) => {
                    let t = self.share_cow(c.xml10_content());
                    push_text(&mut el.children, t);
                }
                Event::GeneralRef(r) => {
                    let t = Self::reference(&r, offset)?;
                    push_text(&mut el.children, ByteString::from(&*t));
                }
                Event::Comment(_) | Event::PI(_) => {}
                Event::DocType(_) => return Err(Error::DtdNotAllowed { offset }),
                Event::Decl(_) | Event::Eof | Event::Empty(_) => {
                    return Err(Error::Xml {
                        cause: "unexpected end of document".into(),
                        offset,
                    });
                }
            }
        }
    }
}

/// C0 control characters other than tab, LF and CR are not characters of XML 1.0.
#[inline]
fn not_xml_char(b: u8) -> bool {
    b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')
}

/// The next attribute of a start tag's attribute text: its name and raw value. Attribute
/// values are quoted with `"` or `'`, separated by white space (XML 1.0 §3.1). Works on bytes:
/// every delimiter is ASCII, so the slices stay on character boundaries.
fn next_attr<'a>(s: &mut &'a str) -> Option<Result<(&'a str, &'a str), &'static str>> {
    let text: &'a str = s;
    let b = text.as_bytes();
    let ws = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    let mut i = 0;
    while i < b.len() && ws(b[i]) {
        i += 1;
    }
    if i == b.len() {
        *s = "";
        return None;
    }
    let k = i;
    while i < b.len() && b[i] != b'=' && !ws(b[i]) {
        i += 1;
    }
    let key = &text[k..i];
    while i < b.len() && ws(b[i]) {
        i += 1;
    }
    let fail = |s: &mut &'a str, why| {
        *s = "";
        Some(Err(why))
    };
    if b.get(i) != Some(&b'=') {
        return fail(s, "attribute without a value");
    }
    i += 1;
    while i < b.len() && ws(b[i]) {
        i += 1;
    }
    let q = match b.get(i) {
        Some(&q @ (b'"' | b'\'')) => q,
        _ => return fail(s, "attribute value not quoted"),
    };
    let v = i + 1;
    let Some(len) = memchr::memchr(q, &b[v..]) else {
        return fail(s, "attribute value not closed");
    };
    let value = &text[v..v + len];
    let after = v + len + 1;
    if after < b.len() && !ws(b[after]) {
        return fail(s, "no white space between attributes");
    }
    *s = &text[after..];
    Some(Ok((key, value)))
}

/// Bytes that make an attribute value need a closer look: references, white space to
/// normalize, and `<` (not allowed).
static ATTR_SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b'&' as usize] = true;
    t[b'<' as usize] = true;
    t[b'\t' as usize] = true;
    t[b'\n' as usize] = true;
    t[b'\r' as usize] = true;
    t
};

/// An attribute value with white space normalized and references resolved (XML 1.0 §3.3.3):
/// most values have neither, and are returned as they are.
fn attr_value(raw: &str, offset: usize) -> Result<Cow<'_, str>, Error> {
    let b = raw.as_bytes();
    if !b.iter().any(|&c| ATTR_SPECIAL[usize::from(c)]) {
        return Ok(Cow::Borrowed(raw));
    }
    if memchr::memchr(b'<', b).is_some() {
        return Err(Error::Xml {
            cause: "'<' in an attribute value".into(),
            offset,
        });
    }
    // Literal white space becomes a space first; references (`&#10;`) keep theirs.
    let spaced = raw.replace("\r\n", " ").replace(['\t', '\n', '\r'], " ");
    let value = match quick_xml::escape::unescape(&spaced) {
        Ok(v) => v.into_owned(),
        Err(quick_xml::escape::EscapeError::UnrecognizedEntity(_, name)) => {
            return Err(Error::UnknownEntity {
                name: name.chars().take(64).collect(),
                offset,
            });
        }
        Err(e) => {
            return Err(Error::Xml {
                cause: e.to_string(),
                offset,
            });
        }
    };
    if value.bytes().any(not_xml_char) {
        return Err(Error::Xml {
            cause: "character reference to a character not allowed in XML 1.0".into(),
            offset,
        });
    }
    Ok(Cow::Owned(value))
}

/// The first C0 control character that XML 1.0 does not allow, eight bytes at a time.
fn find_control(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = b.chunks_exact(8);
    let mut at = 0;
    for c in chunks.by_ref() {
        let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        // Some byte is below 0x20 (tab, LF and CR included): look closer.
        if x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0
            && let Some(i) = c.iter().position(|&y| not_xml_char(y))
        {
            return Some(at + i);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&y| not_xml_char(y))
        .map(|i| at + i)
}

/// Name characters: 1 = may start an NCName, 2 = may continue one.
static NAME: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            3
        } else if c.is_ascii_digit() || c == b'-' || c == b'.' {
            2
        } else {
            0
        };
        i += 1;
    }
    t
};

/// Whether `name` is a QName of Namespaces in XML 1.0: one or two NCNames joined by a colon
/// (letters, digits, `_`, `-`, `.` and non-ASCII characters; not starting with a digit, `-` or
/// `.`). quick-xml takes any run of characters up to white space as a name.
fn qname(name: &str) -> bool {
    let b = name.as_bytes();
    let mut start = true;
    let mut colons = 0;
    for &c in b {
        if c == b':' {
            colons += 1;
            if start || colons > 1 {
                return false;
            }
            start = true;
            continue;
        }
        let k = NAME[usize::from(c)];
        if k & if start { 1 } else { 2 } == 0 {
            return false;
        }
        start = false;
    }
    !start
}

/// Appends text, merging it with a preceding text node (text split by references or CDATA is
/// one node, so a written and re-read element compares equal).
fn push_text(children: &mut Vec<Node>, t: ByteString) {
    if t.is_empty() {
        return;
    }
    if let Some(Node::Text(prev)) = children.last_mut() {
        let mut s = String::with_capacity(prev.len() + t.len());
        s.push_str(prev);
        s.push_str(&t);
        *prev = ByteString::from(s);
    } else {
        children.push(Node::Text(t));
    }
}

/// Parses an `xs:boolean`.
pub(crate) fn parse_bool(s: &str, what: &'static str, offset: usize) -> Result<bool, Error> {
    match s.trim_matches(|c: char| c.is_ascii_whitespace()) {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::InvalidValue { what, offset }),
    }
}

/// Parses an unsigned integer (`xs:unsignedInt` and friends).
pub(crate) fn parse_u32(s: &str, what: &'static str, offset: usize) -> Result<u32, Error> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidValue { what, offset });
    }
    t.parse().map_err(|_| Error::InvalidValue { what, offset })
}

/// Parses an unsigned 64-bit integer.
pub(crate) fn parse_u64(s: &str, what: &'static str, offset: usize) -> Result<u64, Error> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidValue { what, offset });
    }
    t.parse().map_err(|_| Error::InvalidValue { what, offset })
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Where the writer puts bytes: a growing `Vec`, or a fixed slice that counts what it could not
/// hold.
pub(crate) trait Sink {
    fn put(&mut self, b: &[u8]);
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
}

/// A fixed output buffer; `len` keeps counting past its end so the caller learns the size
/// needed.
pub(crate) struct SliceSink<'b> {
    pub(crate) buf: &'b mut [u8],
    pub(crate) len: usize,
}

impl Sink for SliceSink<'_> {
    #[inline]
    fn put(&mut self, b: &[u8]) {
        let end = self.len + b.len();
        if end <= self.buf.len() {
            self.buf[self.len..end].copy_from_slice(b);
        }
        self.len = end;
    }
}

/// Writes into a slice; a too-small slice is an error carrying the size required.
pub(crate) fn write_slice(
    buf: &mut [u8],
    f: impl FnOnce(&mut Writer<'_, SliceSink<'_>>),
) -> Result<usize, Error> {
    let mut s = SliceSink { buf, len: 0 };
    f(&mut Writer { s: &mut s });
    if s.len > s.buf.len() {
        Err(Error::BufferTooSmall { required: s.len })
    } else {
        Ok(s.len)
    }
}

/// The XML writer: tags, escaped attribute values and text.
pub(crate) struct Writer<'s, S: Sink> {
    pub(crate) s: &'s mut S,
}

impl<S: Sink> Writer<'_, S> {
    #[inline]
    pub(crate) fn raw(&mut self, v: &str) {
        self.s.put(v.as_bytes());
    }

    fn escaped(&mut self, v: &str, attr: bool) {
        let b = v.as_bytes();
        let mut last = 0;
        for (i, &c) in b.iter().enumerate() {
            let rep: &[u8] = match c {
                b'<' => b"&lt;",
                b'>' => b"&gt;",
                b'&' => b"&amp;",
                b'\r' => b"&#13;",
                b'"' if attr => b"&quot;",
                b'\n' if attr => b"&#10;",
                b'\t' if attr => b"&#9;",
                // Not representable in XML 1.0: replaced so the output stays well-formed.
                c if not_xml_char(c) => "\u{FFFD}".as_bytes(),
                _ => continue,
            };
            self.s.put(&b[last..i]);
            self.s.put(rep);
            last = i + 1;
        }
        self.s.put(&b[last..]);
    }

    /// Escaped character data.
    #[inline]
    pub(crate) fn text(&mut self, v: &str) {
        self.escaped(v, false);
    }

    /// `<prefix:name`
    #[inline]
    pub(crate) fn open(&mut self, prefix: &str, name: &str) {
        self.s.put(b"<");
        self.s.put(prefix.as_bytes());
        self.s.put(name.as_bytes());
    }

    /// ` name="value"`
    #[inline]
    pub(crate) fn attr(&mut self, name: &str, value: &str) {
        self.s.put(b" ");
        self.s.put(name.as_bytes());
        self.s.put(b"=\"");
        self.escaped(value, true);
        self.s.put(b"\"");
    }

    /// `>`
    #[inline]
    pub(crate) fn gt(&mut self) {
        self.s.put(b">");
    }

    /// `/>`
    #[inline]
    pub(crate) fn slash_gt(&mut self) {
        self.s.put(b"/>");
    }

    /// `</prefix:name>`
    #[inline]
    pub(crate) fn close(&mut self, prefix: &str, name: &str) {
        self.s.put(b"</");
        self.s.put(prefix.as_bytes());
        self.s.put(name.as_bytes());
        self.s.put(b">");
    }

    /// `<prefix:name>text</prefix:name>`
    pub(crate) fn leaf(&mut self, prefix: &str, name: &str, text: &str) {
        self.open(prefix, name);
        self.gt();
        self.text(text);
        self.close(prefix, name);
    }

    /// A leaf when the value is present.
    pub(crate) fn opt_leaf(&mut self, prefix: &str, name: &str, text: Option<&str>) {
        if let Some(t) = text {
            self.leaf(prefix, name, t);
        }
    }

    /// A boolean leaf when present.
    pub(crate) fn opt_bool(&mut self, prefix: &str, name: &str, v: Option<bool>) {
        if let Some(b) = v {
            self.leaf(prefix, name, if b { "true" } else { "false" });
        }
    }

    /// A number leaf when present.
    pub(crate) fn opt_num(&mut self, prefix: &str, name: &str, v: Option<impl Into<u64>>) {
        if let Some(n) = v {
            let mut b = itoa_buf();
            self.leaf(prefix, name, fmt_u64(&mut b, n.into()));
        }
    }

    /// An attribute when present.
    pub(crate) fn opt_attr(&mut self, name: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.attr(name, v);
        }
    }

    /// Unknown attributes: those with a namespace get a declared prefix `xN`.
    pub(crate) fn ext_attrs(&mut self, attrs: &[Attribute]) {
        for (i, a) in attrs.iter().enumerate() {
            match &a.ns {
                None => self.attr(&a.name, &a.value),
                // The xml prefix is bound by definition and may not be declared.
                Some(ns) if *ns == XML_NS => {
                    self.s.put(b" xml:");
                    self.s.put(a.name.as_bytes());
                    self.s.put(b"=\"");
                    self.escaped(&a.value, true);
                    self.s.put(b"\"");
                }
                Some(ns) => {
                    let mut b = itoa_buf();
                    let n = fmt_u64(&mut b, i as u64);
                    self.s.put(b" xmlns:x");
                    self.s.put(n.as_bytes());
                    self.s.put(b"=\"");
                    self.escaped(ns, true);
                    self.s.put(b"\" x");
                    self.s.put(n.as_bytes());
                    self.s.put(b":");
                    self.s.put(a.name.as_bytes());
                    self.s.put(b"=\"");
                    self.escaped(&a.value, true);
                    self.s.put(b"\"");
                }
            }
        }
    }

    /// An extension element with its own default-namespace declaration, so that it reads the
    /// same whatever prefixes surround it.
    pub(crate) fn element(&mut self, e: &Element, parent_ns: Option<&str>) {
        let ns = e.ns.as_deref();
        let prefix = if ns == Some(XML_NS) { "xml:" } else { "" };
        self.open(prefix, &e.name);
        if ns != parent_ns && prefix.is_empty() {
            self.attr("xmlns", ns.unwrap_or(""));
        }
        self.ext_attrs(&e.attributes);
        if e.children.is_empty() {
            self.slash_gt();
            return;
        }
        self.gt();
        for c in &e.children {
            match c {
                Node::Text(t) => self.text(t),
                Node::Element(child) => {
                    self.element(child, if prefix.is_empty() { ns } else { parent_ns })
                }
            }
        }
        self.close(prefix, &e.name);
    }

    /// All extension elements (each declaring its namespace).
    pub(crate) fn ext_elements(&mut self, ext: &Extensions) {
        for e in &ext.elements {
            self.element(e, Some("\u{0}"));
        }
    }
}

/// The namespace the `xml` prefix is bound to.
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// A stack buffer for number formatting.
pub(crate) fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

/// Formats `n` in decimal into `buf`.
pub(crate) fn fmt_u64(buf: &mut [u8; 20], mut n: u64) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format() {
        let mut b = itoa_buf();
        assert_eq!(fmt_u64(&mut b, 0), "0");
        let mut b = itoa_buf();
        assert_eq!(fmt_u64(&mut b, u64::MAX), "18446744073709551615");
    }

    #[test]
    fn escaping_survives_a_reread() {
        let mut out = Vec::new();
        let mut w = Writer { s: &mut out };
        w.open("", "a");
        w.attr("v", "x\"<&>\t\n\ry");
        w.gt();
        w.text("1 < 2 & 3 > 2\r\n");
        w.close("", "a");
        let src = ByteString::try_from(out).unwrap();
        let limits = Limits::default();
        let mut r = Reader::new(&src, &limits).unwrap();
        let s = r.root().unwrap();
        let mut v = None;
        r.attrs(&s, |r, a| {
            v = Some(r.share_cow(a.value));
            Ok(())
        })
        .unwrap();
        assert_eq!(v.unwrap(), "x\"<&>\t\n\ry");
        assert_eq!(r.text("a").unwrap(), "1 < 2 & 3 > 2\r\n");
    }
}
