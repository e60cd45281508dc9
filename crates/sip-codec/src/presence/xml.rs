//! A bounded, namespace-aware XML tree over quick-xml for the presence documents: each element
//! keeps its namespace, local name, attributes, direct text and the byte range of its content,
//! all borrowed from the input; typed documents turn them into [`ByteString`] views.
//!
//! A `<!DOCTYPE` is refused when it is seen, so no entity is defined and none is expanded
//! beyond the five predefined ones and character references.

use std::borrow::Cow;

use bytestring::ByteString;
use quick_xml::NsReader;
use quick_xml::escape::{escape, minimal_escape};
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::ResolveResult;

use super::{Error, Limits, ns};

/// One element of a parsed document.
#[derive(Debug)]
pub(crate) struct El<'a> {
    /// The namespace URI when it is one this module knows ([`ns::KNOWN`]), `""` for none,
    /// `"?"` for any other.
    pub(crate) ns: &'static str,
    pub(crate) name: &'a str,
    /// Attributes by local name (namespace declarations left out), values unescaped.
    pub(crate) attrs: Vec<(&'a str, Cow<'a, str>)>,
    pub(crate) children: Vec<El<'a>>,
    /// The element's own text (not its children's), references resolved.
    pub(crate) text: Cow<'a, str>,
    /// Its content as written (between the tags; empty for `<a/>`), a view of the input.
    pub(crate) inner: &'a str,
    /// Where the content starts in the input.
    content_at: usize,
    /// Where its start tag begins.
    pub(crate) offset: usize,
}

impl<'a> El<'a> {
    pub(crate) fn attr(&self, name: &str) -> Option<&Cow<'a, str>> {
        self.attrs.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub(crate) fn need(
        &self,
        element: &'static str,
        name: &'static str,
    ) -> Result<&Cow<'a, str>, Error> {
        self.attr(name).ok_or(Error::MissingAttribute {
            element,
            attribute: name,
            offset: self.offset,
        })
    }

    pub(crate) fn child(&self, name: &str) -> Option<&El<'a>> {
        self.children.iter().find(|c| c.name == name)
    }

    pub(crate) fn children<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s El<'a>> + 's {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of a child element, if there is one.
    pub(crate) fn child_text(&self, name: &str) -> Option<&Cow<'a, str>> {
        self.child(name).map(|c| &c.text)
    }

    /// A number attribute, if present.
    pub(crate) fn num<T: std::str::FromStr>(
        &self,
        what: &'static str,
        name: &str,
    ) -> Result<Option<T>, Error> {
        self.attr(name)
            .map(|v| parse_num(v, what, self.offset))
            .transpose()
    }

    /// The element must be `name` (in namespace `ns` when given).
    pub(crate) fn expect(&self, ns: Option<&'static str>, name: &'static str) -> Result<(), Error> {
        if self.name != name || ns.is_some_and(|n| n != self.ns) {
            return Err(Error::UnexpectedElement {
                expected: name,
                found: self.name.chars().take(64).collect(),
                offset: self.offset,
            });
        }
        Ok(())
    }
}

pub(crate) fn parse_num<T: std::str::FromStr>(
    v: &str,
    what: &'static str,
    offset: usize,
) -> Result<T, Error> {
    v.trim().parse().map_err(|_| Error::InvalidValue {
        what,
        value: v.chars().take(64).collect(),
        offset,
    })
}

pub(crate) fn parse_bool(v: &str, what: &'static str, offset: usize) -> Result<bool, Error> {
    match v.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::InvalidValue {
            what,
            value: v.chars().take(64).collect(),
            offset,
        }),
    }
}

/// A zero-copy view of `s` when it lies inside `src`, a copy otherwise.
pub(crate) fn share(src: &ByteString, s: &str) -> ByteString {
    let base = src.as_ptr() as usize;
    let p = s.as_ptr() as usize;
    if p >= base && p + s.len() <= base + src.len() {
        src.slice_ref(s)
    } else {
        ByteString::from(s)
    }
}

fn xml_error(cause: impl ToString, offset: u64) -> Error {
    Error::Xml {
        cause: cause.to_string(),
        offset: usize::try_from(offset).unwrap_or(usize::MAX),
    }
}

fn reference(r: &BytesRef<'_>, offset: usize) -> Result<Cow<'static, str>, Error> {
    match r.resolve_char_ref() {
        Ok(Some(c)) if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => Err(Error::Xml {
            cause: "character reference to a character not allowed in XML 1.0".into(),
            offset,
        }),
        Ok(Some(c)) => Ok(Cow::Owned(c.to_string())),
        Ok(None) => {
            let name: &str = r.as_ref();
            Ok(Cow::Borrowed(match name {
                "lt" => "<",
                "gt" => ">",
                "amp" => "&",
                "apos" => "'",
                "quot" => "\"",
                _ => {
                    return Err(Error::Xml {
                        cause: format!(
                            "unknown entity &{};",
                            name.chars().take(32).collect::<String>()
                        ),
                        offset,
                    });
                }
            }))
        }
        Err(e) => Err(xml_error(e, offset as u64)),
    }
}

fn append<'a>(text: &mut Cow<'a, str>, more: Cow<'a, str>) {
    if text.is_empty() {
        *text = more;
    } else if !more.is_empty() {
        text.to_mut().push_str(&more);
    }
}

/// Parses a whole document into its root element, within `limits`.
pub(crate) fn parse<'a>(src: &'a str, limits: &Limits) -> Result<El<'a>, Error> {
    if src.len() > limits.max_size {
        return Err(Error::TooLarge {
            size: src.len(),
            limit: limits.max_size,
        });
    }
    // A byte-order mark is allowed before the document (XML 1.0 §4.3.3); without it here the
    // reader's positions and the input would disagree by its three bytes.
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let mut r = NsReader::from_str(src);
    let c = r.config_mut();
    c.expand_empty_elements = false;
    c.check_end_names = true;
    c.trim_text_start = false;
    c.trim_text_end = false;
    let mut stack: Vec<El<'a>> = Vec::with_capacity(8);
    let mut elements = 0usize;
    let mut root: Option<El<'a>> = None;
    loop {
        let offset = usize::try_from(r.buffer_position()).unwrap_or(usize::MAX);
        let (res, ev) = match r.read_resolved_event() {
            Ok((res, ev)) => (known_ns(&res), ev),
            Err(e) => return Err(xml_error(e, r.error_position())),
        };
        let end = usize::try_from(r.buffer_position()).unwrap_or(usize::MAX);
        match ev {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(Error::Xml {
                    cause: "content after the root element".into(),
                    offset,
                });
            }
            Event::Start(ref s) | Event::Empty(ref s) => {
                elements += 1;
                if stack.len() >= limits.max_depth {
                    return Err(Error::TooDeep {
                        limit: limits.max_depth,
                        offset,
                    });
                }
                let el = element(src, res, s, offset, end, limits, elements)?;
                if matches!(ev, Event::Start(_)) {
                    stack.push(el);
                } else {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => root = Some(el),
                    }
                }
            }
            Event::End(_) => {
                let Some(mut el) = stack.pop() else {
                    return Err(xml_error("end tag without a start", offset as u64));
                };
                el.inner = src.get(el.content_at..offset).unwrap_or("");
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => match stack.last_mut() {
                Some(el) => append(&mut el.text, t.xml10_content()),
                None if t.xml10_content().trim().is_empty() => {}
                None => {
                    return Err(Error::Xml {
                        cause: "text outside the root element".into(),
                        offset,
                    });
                }
            },
            Event::CData(t) => match stack.last_mut() {
                Some(el) => append(&mut el.text, t.xml10_content()),
                None => return Err(xml_error("CDATA outside the root element", offset as u64)),
            },
            Event::GeneralRef(g) => {
                let text = reference(&g, offset)?;
                match stack.last_mut() {
                    Some(el) => append(&mut el.text, text),
                    None => {
                        return Err(xml_error(
                            "reference outside the root element",
                            offset as u64,
                        ));
                    }
                }
            }
            Event::DocType(_) => return Err(Error::Doctype { offset }),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => {
                if !stack.is_empty() {
                    return Err(Error::Xml {
                        cause: "the document ends inside an element".into(),
                        offset,
                    });
                }
                return root.ok_or(Error::Xml {
                    cause: "no root element".into(),
                    offset,
                });
            }
        }
    }
}

fn known_ns(res: &ResolveResult<'_>) -> Result<&'static str, ()> {
    match res {
        ResolveResult::Unbound => Ok(""),
        ResolveResult::Bound(n) => Ok(ns::KNOWN
            .iter()
            .copied()
            .find(|k| *k == n.as_ref())
            .unwrap_or("?")),
        ResolveResult::Unknown(_) => Err(()),
    }
}

fn element<'a>(
    src: &'a str,
    res: Result<&'static str, ()>,
    s: &BytesStart<'a>,
    offset: usize,
    end: usize,
    limits: &Limits,
    elements: usize,
) -> Result<El<'a>, Error> {
    if elements > limits.max_elements {
        return Err(Error::TooManyElements {
            limit: limits.max_elements,
            offset,
        });
    }
    let ns = res.map_err(|()| Error::Xml {
        cause: "undeclared namespace prefix".into(),
        offset,
    })?;
    let name = local(rebase(src, s.name().into_inner()));
    let mut attrs = Vec::new();
    for a in s.attributes() {
        let a = a.map_err(|e| xml_error(e, offset as u64))?;
        let key = a.key.into_inner();
        if key == "xmlns" || key.starts_with("xmlns:") {
            continue;
        }
        if attrs.len() >= limits.max_attributes {
            return Err(Error::TooManyAttributes {
                limit: limits.max_attributes,
                offset,
            });
        }
        let key = local(rebase(src, key));
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| xml_error(e, offset as u64))?;
        if attrs.iter().any(|(k, _)| *k == key) {
            return Err(Error::Xml {
                cause: format!("attribute {key} given twice"),
                offset,
            });
        }
        let value = match value {
            Cow::Borrowed(v) => Cow::Borrowed(rebase(src, v)),
            Cow::Owned(v) => Cow::Owned(v),
        };
        attrs.push((key, value));
    }
    Ok(El {
        ns,
        name,
        attrs,
        children: Vec::new(),
        text: Cow::Borrowed(""),
        inner: "",
        content_at: end,
        offset,
    })
}

/// `s`, which quick-xml borrowed from `src` through an event, as a view of `src` itself (an
/// empty string if it is not inside: quick-xml only copies what it unescapes).
fn rebase<'a>(src: &'a str, s: &str) -> &'a str {
    let at = (s.as_ptr() as usize).wrapping_sub(src.as_ptr() as usize);
    src.get(at..at.wrapping_add(s.len())).unwrap_or("")
}

/// The local part of a qualified name borrowed from the input.
fn local(qname: &str) -> &str {
    qname.rsplit_once(':').map_or(qname, |(_, l)| l)
}

/// The writer the typed documents serialize through.
pub(crate) struct W<'b> {
    pub(crate) out: &'b mut Vec<u8>,
}

impl W<'_> {
    pub(crate) fn raw(&mut self, s: &str) -> &mut Self {
        self.out.extend_from_slice(s.as_bytes());
        self
    }

    /// `<name` (the tag stays open for attributes).
    pub(crate) fn open(&mut self, name: &str) -> &mut Self {
        self.out.push(b'<');
        self.raw(name)
    }

    pub(crate) fn attr(&mut self, name: &str, value: &str) -> &mut Self {
        self.out.push(b' ');
        self.raw(name);
        self.out.extend_from_slice(b"=\"");
        let v = escape(value);
        // A tab or line break written as itself would read back as a space (attribute value
        // normalization, XML 1.0 §3.3.3); as a reference it stays what it is.
        for c in v.chars() {
            match c {
                '\t' => self.raw("&#9;"),
                '\n' => self.raw("&#10;"),
                '\r' => self.raw("&#13;"),
                c => {
                    let mut b = [0; 4];
                    self.raw(c.encode_utf8(&mut b))
                }
            };
        }
        self.out.push(b'"');
        self
    }

    pub(crate) fn opt_attr(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.attr(name, v);
        }
        self
    }

    pub(crate) fn num_attr(&mut self, name: &str, value: impl std::fmt::Display) -> &mut Self {
        use std::io::Write as _;
        let _ = write!(self.out, " {name}=\"{value}\"");
        self
    }

    pub(crate) fn gt(&mut self) -> &mut Self {
        self.out.push(b'>');
        self
    }

    pub(crate) fn end_empty(&mut self) -> &mut Self {
        self.out.extend_from_slice(b"/>");
        self
    }

    pub(crate) fn close(&mut self, name: &str) -> &mut Self {
        self.out.extend_from_slice(b"</");
        self.raw(name);
        self.out.push(b'>');
        self
    }

    pub(crate) fn text(&mut self, s: &str) -> &mut Self {
        // A CR would read back as a line feed (end-of-line handling, XML 1.0 §2.11).
        let v = minimal_escape(s);
        if v.contains('\r') {
            return self.raw(&v.replace('\r', "&#13;"));
        }
        self.raw(&v)
    }

    /// `<name>text</name>`.
    pub(crate) fn leaf(&mut self, name: &str, text: &str) -> &mut Self {
        self.open(name).gt().text(text).close(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_whitespace_read_back_as_written() {
        let l = Limits::default();
        let doc = "\u{feff}<a b=\"x&#9;y&#10;z\" c=\"p\tq\">r&#13;s</a>";
        let el = parse(doc, &l).unwrap();
        assert_eq!(el.attr("b").map(|v| &**v), Some("x\ty\nz"));
        // A literal tab is normalized to a space (XML 1.0 §3.3.3).
        assert_eq!(el.attr("c").map(|v| &**v), Some("p q"));
        assert_eq!(&*el.text, "r\rs");
        assert_eq!(el.inner, "r&#13;s");
        let mut out = Vec::new();
        let mut w = W { out: &mut out };
        w.open("a")
            .attr("b", "x\ty\nz")
            .gt()
            .text("r\rs")
            .close("a");
        let again = String::from_utf8(out).unwrap();
        let el = parse(&again, &l).unwrap();
        assert_eq!(
            (el.attr("b").map(|v| &**v), &*el.text),
            (Some("x\ty\nz"), "r\rs")
        );
    }
}
