//! `;name=value` parameter lists of header values (RFC 3261 `generic-param`) and of URIs
//! (`uri-parameter`), kept as a slice of the input and read lazily.

use std::borrow::Cow;
use std::fmt;

use crate::error::{Fault, ValueError};
use crate::scan::{self, Cursor, PARAM};

/// Which grammar a parameter list follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Grammar {
    /// Header parameters: LWS around `;` and `=`, quoted values.
    #[default]
    Header,
    /// URI parameters: no white space, `%`-escaped `paramchar`s.
    Uri,
}

/// A parameter list as written, starting at its first `;` (empty when there are none).
///
/// It borrows the message; [`Params::iter`] and [`Params::get`] read it on demand. Names compare
/// case-insensitively, as RFC 3261 §7.3.1 and §19.1.4 say.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Params<'a> {
    raw: &'a str,
    grammar: Grammar,
}

/// One parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Param<'a> {
    /// The name as written.
    pub name: &'a str,
    /// The value as written, without the quotes of a quoted string; `None` for a flag parameter.
    pub value: Option<&'a str>,
    /// True when the value was a quoted string.
    pub quoted: bool,
}

impl<'a> Param<'a> {
    /// The value with quoted-string escapes removed (header parameters) or `%`-escapes decoded
    /// (URI parameters are returned as written; use [`crate::uri::unescape`] for them).
    #[must_use]
    pub fn unquoted(&self) -> Option<Cow<'a, str>> {
        self.value.map(|v| {
            if self.quoted {
                scan::unescape_quoted(v)
            } else {
                Cow::Borrowed(v)
            }
        })
    }
}

impl<'a> Params<'a> {
    /// Header parameters from their text, which must start with `;` or be empty. The text is not
    /// checked; use the header parsers to check it.
    #[must_use]
    pub fn from_raw(raw: &'a str) -> Self {
        Params {
            raw,
            grammar: Grammar::Header,
        }
    }

    /// URI parameters from their text (starting with `;`, or empty), not checked.
    #[must_use]
    pub fn from_raw_uri(raw: &'a str) -> Self {
        Params {
            raw,
            grammar: Grammar::Uri,
        }
    }

    /// The text as written, starting with `;`.
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// True when there are no parameters.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The parameters in order.
    #[must_use]
    pub fn iter(&self) -> ParamsIter<'a> {
        ParamsIter {
            cur: Cursor::new(self.raw, 0),
            grammar: self.grammar,
        }
    }

    /// The first parameter named `name` (case-insensitive): `Some(None)` for a flag,
    /// `Some(Some(value))` with the value as written (quotes removed).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        // Most lists have neither quoted values nor white space (`;branch=z9hG4bK..;rport`):
        // one pass over the bytes finds the parameter; anything else takes the full grammar.
        if let Some(found) = plain_get(self.raw, name) {
            return found;
        }
        self.iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value)
    }

    /// The value of `name`, if present with a value.
    #[must_use]
    pub fn value(&self, name: &str) -> Option<&'a str> {
        self.get(name).flatten()
    }

    /// True when a parameter named `name` is present, with or without a value.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The number of parameters.
    #[must_use]
    pub fn len(&self) -> usize {
        self.iter().count()
    }
}

/// `Params::get` for a list without quotes or white space, in one pass: `None` when the list is
/// not plain (the caller then runs the grammar), `Some(result)` otherwise.
fn plain_get<'a>(raw: &'a str, name: &str) -> Option<Option<Option<&'a str>>> {
    let b = raw.as_bytes();
    if b.first() != Some(&b';') {
        return None;
    }
    let mut start = 1;
    while start <= b.len() {
        let mut end = start;
        let mut eq = None;
        while end < b.len() && b[end] != b';' {
            match b[end] {
                b'"' | b' ' | b'\t' | b'\r' | b'\n' => return None,
                b'=' if eq.is_none() => eq = Some(end),
                _ => {}
            }
            end += 1;
        }
        let name_end = eq.unwrap_or(end);
        if b[start..name_end].eq_ignore_ascii_case(name.as_bytes()) {
            // The first match, as the grammar would find it: what follows cannot change it.
            // Slicing at ASCII bytes keeps to char boundaries.
            return Some(Some(eq.map(|e| &raw[e + 1..end])));
        }
        start = end + 1;
    }
    Some(None)
}

impl fmt::Debug for Params<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl fmt::Display for Params<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Params<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'a> IntoIterator for Params<'a> {
    type Item = Param<'a>;
    type IntoIter = ParamsIter<'a>;
    fn into_iter(self) -> ParamsIter<'a> {
        self.iter()
    }
}

/// Iterator over [`Params`].
#[derive(Clone)]
pub struct ParamsIter<'a> {
    cur: Cursor<'a>,
    grammar: Grammar,
}

impl<'a> Iterator for ParamsIter<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        let c = &mut self.cur;
        match self.grammar {
            Grammar::Header => {
                if !c.eat_sep(b';') {
                    return None;
                }
                let name = c.token()?;
                if c.eat_sep(b'=') {
                    if c.peek() == Some(b'"') {
                        let v = c.quoted().ok()?;
                        Some(Param {
                            name,
                            value: Some(v),
                            quoted: true,
                        })
                    } else {
                        let v = c.take_while(is_gen_value);
                        Some(Param {
                            name,
                            value: Some(v),
                            quoted: false,
                        })
                    }
                } else {
                    Some(Param {
                        name,
                        value: None,
                        quoted: false,
                    })
                }
            }
            Grammar::Uri => {
                if !c.eat(b';') {
                    return None;
                }
                let name = c.take_while(|b| scan::is(b, PARAM) || b == b'%');
                let value = if c.eat(b'=') {
                    Some(c.take_while(|b| scan::is(b, PARAM) || b == b'%'))
                } else {
                    None
                };
                Some(Param {
                    name,
                    value,
                    quoted: false,
                })
            }
        }
    }
}

/// `gen-value = token / host / quoted-string`: token characters plus the `:` `[` `]` of IPv6
/// hosts (RFC 5118 §4.5 shows `received=` with and without brackets).
fn is_gen_value(b: u8) -> bool {
    scan::is_token(b) || b == b':' || b == b'[' || b == b']'
}

/// Parses `*( SEMI generic-param )` at the cursor and returns it. Stops before anything that
/// is not a `;`, leaving the cursor there.
pub(crate) fn parse_header_params<'a>(
    c: &mut Cursor<'a>,
    max: usize,
) -> Result<Params<'a>, ValueError> {
    let b = c.bytes();
    let base = c.offset() - c.pos();
    let err = |f, i: usize| ValueError::new(f, base + i);
    let mut end = c.pos();
    let first = scan::skip_lws_at(b, end);
    if b.get(first) != Some(&b';') {
        return Ok(Params::default());
    }
    let mut count = 0;
    loop {
        let semi = scan::skip_lws_at(b, end);
        if b.get(semi) != Some(&b';') {
            break;
        }
        count += 1;
        if count > max {
            return Err(err(Fault::TooManyParameters, semi));
        }
        let name = scan::skip_lws_at(b, semi + 1);
        let name_end = scan::skip_class(b, name, scan::TOKEN);
        if name_end == name {
            return Err(err(Fault::EmptyParameter, name));
        }
        end = name_end;
        let eq = scan::skip_lws_at(b, name_end);
        if b.get(eq) == Some(&b'=') {
            let v = scan::skip_lws_at(b, eq + 1);
            if b.get(v) == Some(&b'"') {
                c.set_pos(v);
                c.quoted()?;
                end = c.pos();
            } else {
                let v_end = skip_gen_value(b, v);
                if v_end == v {
                    return Err(err(Fault::Empty, v));
                }
                end = v_end;
            }
        }
    }
    c.set_pos(end);
    Ok(Params::from_raw(c.slice(first, end)))
}

fn skip_gen_value(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_gen_value(b[i]) {
        i += 1;
    }
    i
}

/// Checks URI parameters `*( ";" pname [ "=" pvalue ] )` in one pass; `s` starts with `;`.
pub(crate) fn check_uri_params(s: &str, base: usize, max: usize) -> Result<(), ValueError> {
    let b = s.as_bytes();
    let err = |(f, i): (Fault, usize)| ValueError::new(f, base + i);
    let mut i = 0;
    let mut count = 0;
    while i < b.len() {
        if b[i] != b';' {
            return Err(err((scan::bad_uri_char(b[i]), i)));
        }
        i += 1;
        count += 1;
        if count > max {
            return Err(err((Fault::TooManyParameters, i)));
        }
        let name_end = scan::scan_escaped(b, i, PARAM).map_err(err)?;
        if name_end == i {
            return Err(err((Fault::EmptyParameter, i)));
        }
        i = name_end;
        if b.get(i) == Some(&b'=') {
            let v_end = scan::scan_escaped(b, i + 1, PARAM).map_err(err)?;
            if v_end == i + 1 {
                return Err(err((Fault::Empty, i + 1)));
            }
            i = v_end;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_params_with_lws() {
        // RFC 4475 §3.1.1.1 (wsinv): LWS and folding around ';' and '='.
        let v = " ;   tag    = 1918181833n";
        let mut c = Cursor::new(v, 0);
        let p = parse_header_params(&mut c, 10).unwrap();
        assert!(c.at_end());
        assert_eq!(p.value("TAG"), Some("1918181833n"));
        let v = " ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33";
        let mut c = Cursor::new(v, 0);
        let p = parse_header_params(&mut c, 10).unwrap();
        let all: Vec<_> = p.iter().map(|p| (p.name, p.value)).collect();
        assert_eq!(
            all,
            [
                ("newparam", Some("newvalue")),
                ("secondparam", None),
                ("q", Some("0.33"))
            ]
        );
    }

    #[test]
    fn empty_parameter_is_an_error() {
        // RFC 4475 §3.1.2.1 (badinv01): "Contact: ...;;;;"
        let mut c = Cursor::new(";;;;", 100);
        let e = parse_header_params(&mut c, 10).unwrap_err();
        assert_eq!(e, ValueError::new(Fault::EmptyParameter, 101));
    }

    #[test]
    fn quoted_values_keep_commas_and_escapes() {
        let v = r#";methods="INVITE, MESSAGE";+sip.instance="<urn:uuid:4233FD41>";x="a\"b""#;
        let mut c = Cursor::new(v, 0);
        let p = parse_header_params(&mut c, 10).unwrap();
        assert_eq!(p.value("methods"), Some("INVITE, MESSAGE"));
        assert_eq!(p.value("+sip.instance"), Some("<urn:uuid:4233FD41>"));
        let x = p.iter().nth(2).unwrap();
        assert_eq!(x.unquoted().unwrap(), "a\"b");
    }

    #[test]
    fn limit_on_parameter_count() {
        let mut c = Cursor::new(";a;b;c", 0);
        assert_eq!(
            parse_header_params(&mut c, 2).unwrap_err().fault,
            Fault::TooManyParameters
        );
    }

    #[test]
    fn uri_params() {
        check_uri_params(";opaque=app:conf:focus:id:4FNRHN16;gruu;lr", 0, 10).unwrap();
        let e = check_uri_params(";lr;;x", 0, 10).unwrap_err();
        assert_eq!(e.fault, Fault::EmptyParameter);
        let p = Params::from_raw_uri(";opaque=app:conf:focus:id:4FNRHN16;gruu");
        assert_eq!(p.value("opaque"), Some("app:conf:focus:id:4FNRHN16"));
        assert_eq!(p.get("gruu"), Some(None));
    }
}
