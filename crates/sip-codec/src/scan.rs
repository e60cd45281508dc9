//! Character classes of RFC 3261 §25.1 and a cursor that skips linear white space.

use crate::error::{Fault, ValueError};

pub(crate) const TOKEN: u8 = 1;
pub(crate) const WORD: u8 = 2;
pub(crate) const UNRESERVED: u8 = 4;
pub(crate) const USER: u8 = 8;
pub(crate) const PARAM: u8 = 16;
pub(crate) const HNV: u8 = 32;
pub(crate) const PASSWORD: u8 = 64;
/// `qdtext` of RFC 3261 §25.1 (quoted-string content other than escapes and folding).
pub(crate) const QDTEXT: u8 = 128;

const fn build_classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let alnum = b.is_ascii_alphanumeric();
        let mut v = 0;
        if alnum
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            )
        {
            v |= TOKEN | WORD;
        }
        if matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'{'
                | b'}'
        ) {
            v |= WORD;
        }
        let unreserved = alnum
            || matches!(
                b,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            );
        if unreserved {
            v |= UNRESERVED | USER | PARAM | HNV | PASSWORD;
        }
        if matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/') {
            v |= USER;
        }
        if matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$') {
            v |= PARAM;
        }
        if matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$') {
            v |= HNV;
        }
        if matches!(b, b'&' | b'=' | b'+' | b'$' | b',') {
            v |= PASSWORD;
        }
        if b == b' '
            || b == b'\t'
            || b == 0x21
            || (b >= 0x23 && b <= 0x5b)
            || (b >= 0x5d && b <= 0x7e)
            || b >= 0x80
        {
            v |= QDTEXT;
        }
        t[c] = v;
        c += 1;
    }
    t
}

pub(crate) static CLASS: [u8; 256] = build_classes();

#[inline]
pub(crate) fn is(b: u8, class: u8) -> bool {
    CLASS[b as usize] & class != 0
}

#[inline]
pub(crate) fn is_token(b: u8) -> bool {
    is(b, TOKEN)
}

#[inline]
pub(crate) fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// True when `s` is a non-empty RFC 3261 token.
pub(crate) fn is_token_str(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token)
}

/// Scans URI characters of `class` (with `%HH` escapes) from `i`, returning where the run ends.
#[inline]
pub(crate) fn scan_escaped(b: &[u8], mut i: usize, class: u8) -> Result<usize, (Fault, usize)> {
    while let Some(&c) = b.get(i) {
        if CLASS[c as usize] & class != 0 {
            i += 1;
        } else if c == b'%' {
            match (b.get(i + 1), b.get(i + 2)) {
                (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => i += 3,
                _ => return Err((Fault::InvalidEscape, i)),
            }
        } else {
            break;
        }
    }
    Ok(i)
}

/// Checks that all of `s` is URI characters of `class`, allowing `%HH` escapes. Returns the
/// fault and offset (within `s`) of the first bad byte.
pub(crate) fn check_escaped(s: &str, class: u8) -> Result<(), (Fault, usize)> {
    let b = s.as_bytes();
    let end = scan_escaped(b, 0, class)?;
    match b.get(end) {
        None => Ok(()),
        Some(&c) => Err((bad_uri_char(c), end)),
    }
}

/// The fault for a byte that may not appear in a URI.
pub(crate) fn bad_uri_char(c: u8) -> Fault {
    if is_ws(c) || c == b'\r' || c == b'\n' {
        Fault::WhitespaceInUri
    } else {
        Fault::InvalidCharacter
    }
}

/// Skips LWS (SP, HTAB, CRLF followed by SP or HTAB) from `i`.
#[inline]
pub(crate) fn skip_lws_at(b: &[u8], mut i: usize) -> usize {
    loop {
        match b.get(i) {
            Some(b' ' | b'\t') => i += 1,
            Some(b'\r')
                if b.get(i + 1) == Some(&b'\n') && matches!(b.get(i + 2), Some(b' ' | b'\t')) =>
            {
                i += 3
            }
            _ => return i,
        }
    }
}

/// Skips bytes of `class` from `i`.
#[inline]
pub(crate) fn skip_class(b: &[u8], mut i: usize, class: u8) -> usize {
    while i < b.len() && CLASS[b[i] as usize] & class != 0 {
        i += 1;
    }
    i
}

/// A position in a header value (already valid UTF-8), with the absolute offset of the value so
/// that faults report where they are in the whole message.
#[derive(Clone, Copy)]
pub(crate) struct Cursor<'a> {
    s: &'a str,
    pos: usize,
    base: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a str, base: usize) -> Self {
        Cursor { s, pos: 0, base }
    }

    pub(crate) fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos;
    }

    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub(crate) fn err(&self, fault: Fault) -> ValueError {
        ValueError::new(fault, self.offset())
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    /// The text from `a` to `b` (positions within this value). Positions always fall on ASCII
    /// bytes, so the slice is on character boundaries; `get` keeps it panic-free regardless.
    pub(crate) fn slice(&self, a: usize, b: usize) -> &'a str {
        self.s.get(a..b).unwrap_or("")
    }

    pub(crate) fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    pub(crate) fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn expect(&mut self, c: u8) -> Result<(), ValueError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.err(Fault::Expected(c as char)))
        }
    }

    /// Skips linear white space: SP, HTAB, and CRLF followed by SP or HTAB (header folding).
    /// Returns true when something was skipped.
    pub(crate) fn skip_lws(&mut self) -> bool {
        let start = self.pos;
        self.pos = skip_lws_at(self.s.as_bytes(), start);
        self.pos != start
    }

    /// `SWS c SWS`: the separators of RFC 3261 §25.1 (COLON, SEMI, EQUAL, SLASH, COMMA...).
    pub(crate) fn eat_sep(&mut self, c: u8) -> bool {
        let save = self.pos;
        self.skip_lws();
        if self.eat(c) {
            self.skip_lws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        let b = self.s.as_bytes();
        while self.pos < b.len() && f(b[self.pos]) {
            self.pos += 1;
        }
        self.slice(start, self.pos)
    }

    pub(crate) fn token(&mut self) -> Option<&'a str> {
        let start = self.pos;
        self.pos = skip_class(self.s.as_bytes(), start, TOKEN);
        (self.pos > start).then(|| self.slice(start, self.pos))
    }

    pub(crate) fn expect_token(&mut self) -> Result<&'a str, ValueError> {
        self.token().ok_or_else(|| self.err(Fault::ExpectedToken))
    }

    /// A quoted string starting at the current `"`. Returns the text between the quotes with
    /// its escapes left in place.
    pub(crate) fn quoted(&mut self) -> Result<&'a str, ValueError> {
        let open = self.offset();
        self.expect(b'"')?;
        let start = self.pos;
        let b = self.s.as_bytes();
        loop {
            self.pos = skip_class(b, self.pos, QDTEXT);
            let Some(&c) = b.get(self.pos) else { break };
            match c {
                b'"' => {
                    let inner = self.slice(start, self.pos);
                    self.pos += 1;
                    return Ok(inner);
                }
                b'\\' => {
                    match b.get(self.pos + 1) {
                        Some(&e) if e < 0x80 && e != b'\r' && e != b'\n' => self.pos += 2,
                        Some(_) => {
                            return Err(ValueError::new(
                                Fault::InvalidQuotedPair,
                                self.base + self.pos,
                            ));
                        }
                        None => break,
                    };
                }
                b'\r'
                    // Folding inside a quoted string is LWS; anything else is a bare CR.
                    if b.get(self.pos + 1) == Some(&b'\n')
                        && matches!(b.get(self.pos + 2), Some(b' ' | b'\t'))
                    => {
                        self.pos += 3;
                    }
                _ => {
                    return Err(ValueError::new(
                        Fault::InvalidCharacter,
                        self.base + self.pos,
                    ));
                }
            }
        }
        Err(ValueError::new(Fault::UnterminatedQuote, open))
    }

    /// Requires the end of the value, allowing trailing LWS.
    pub(crate) fn finish(&mut self) -> Result<(), ValueError> {
        self.skip_lws();
        if self.at_end() {
            Ok(())
        } else {
            Err(self.err(Fault::TrailingCharacters))
        }
    }
}

/// Splits a list-valued header value at commas outside quoted strings and angle brackets.
/// Yields each element trimmed of LWS, with its absolute offset. Empty elements are yielded as
/// empty strings so that a strict caller can reject them.
#[derive(Clone)]
pub(crate) struct ListSplit<'a> {
    s: &'a str,
    pos: usize,
    base: usize,
    done: bool,
}

impl<'a> ListSplit<'a> {
    pub(crate) fn new(s: &'a str, base: usize) -> Self {
        // Values are stored trimmed, so an empty list is an empty value.
        let s_trim = trim_lws(s);
        ListSplit {
            s,
            pos: 0,
            base,
            done: s_trim.is_empty(),
        }
    }
}

impl<'a> Iterator for ListSplit<'a> {
    type Item = (&'a str, usize);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let b = self.s.as_bytes();
        let start = self.pos;
        let mut i = start;
        // Jump from one interesting byte to the next: commas end an element unless inside a
        // quoted string or angle brackets.
        let end = loop {
            match memchr::memchr3(b',', b'"', b'<', &b[i..]) {
                None => break b.len(),
                Some(k) => {
                    let at = i + k;
                    match b[at] {
                        b',' => break at,
                        b'<' => match memchr::memchr(b'>', &b[at..]) {
                            Some(close) => i = at + close + 1,
                            None => break b.len(),
                        },
                        _ => {
                            // A quoted string: skip to its closing quote, over escapes.
                            let mut j = at + 1;
                            loop {
                                match memchr::memchr2(b'"', b'\\', &b[j..]) {
                                    None => {
                                        j = b.len();
                                        break;
                                    }
                                    Some(q) if b[j + q] == b'\\' => j += q + 2,
                                    Some(q) => {
                                        j += q + 1;
                                        break;
                                    }
                                }
                                if j >= b.len() {
                                    break;
                                }
                            }
                            i = j.min(b.len());
                        }
                    }
                }
            }
        };
        if end >= b.len() {
            self.done = true;
        } else {
            self.pos = end + 1;
        }
        let piece = self.s.get(start..end).unwrap_or("");
        let trimmed = trim_lws_start(piece);
        let lead = piece.len() - trimmed.len();
        Some((trim_lws(trimmed), self.base + start + lead))
    }
}

/// Trims SP, HTAB, CR and LF at both ends (folded LWS).
pub(crate) fn trim_lws(s: &str) -> &str {
    let b = s.as_bytes();
    let mut end = b.len();
    while end > 0 && matches!(b[end - 1], b' ' | b'\t' | b'\r' | b'\n') {
        end -= 1;
    }
    trim_lws_start(s.get(..end).unwrap_or(""))
}

fn trim_lws_start(s: &str) -> &str {
    let n = s
        .bytes()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
        .unwrap_or(s.len());
    s.get(n..).unwrap_or("")
}

/// Removes the backslash escapes of a quoted string's content.
pub(crate) fn unescape_quoted(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('\\') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Parses a run of decimal digits into a u64, failing on overflow.
pub(crate) fn parse_u64(s: &str) -> Result<u64, Fault> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Fault::InvalidNumber);
    }
    let mut v: u64 = 0;
    for b in s.bytes() {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(Fault::NumberOutOfRange)?;
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_rfc3261_25_1() {
        for c in b"-.!%*_+`'~aZ9" {
            assert!(is_token(*c), "{}", *c as char);
        }
        for c in b"()<>:\\\"/[]?{}@ ,;=" {
            assert!(!is_token(*c), "{}", *c as char);
        }
        assert!(is(b';', USER) && is(b'?', USER) && !is(b'@', USER));
        assert!(is(b':', PARAM) && !is(b';', PARAM) && !is(b'=', PARAM));
    }

    #[test]
    fn lws_includes_folding() {
        let mut c = Cursor::new(" \t\r\n  x", 0);
        assert!(c.skip_lws());
        assert_eq!(c.peek(), Some(b'x'));
        let mut c = Cursor::new("\r\nx", 0);
        assert!(!c.skip_lws());
    }

    #[test]
    fn list_split_respects_quotes_and_angles() {
        let v: Vec<_> = ListSplit::new(r#"<sip:a,b>;x="1,2", "q,\"" <sip:c> ,d"#, 10)
            .map(|(s, _)| s)
            .collect();
        assert_eq!(v, [r#"<sip:a,b>;x="1,2""#, r#""q,\"" <sip:c>"#, "d"]);
        assert_eq!(ListSplit::new("  ", 0).count(), 0);
        let v: Vec<_> = ListSplit::new("a,,b", 0).collect();
        assert_eq!(v, [("a", 0), ("", 2), ("b", 3)]);
    }

    #[test]
    fn quoted_strings() {
        let mut c = Cursor::new(r#""J Rosenberg \\\"" x"#, 0);
        assert_eq!(c.quoted().unwrap(), r#"J Rosenberg \\\""#);
        assert_eq!(unescape_quoted(r#"J Rosenberg \\\""#), r#"J Rosenberg \""#);
        let mut c = Cursor::new("\"Mr. J. User <sip:j.user@example.com>", 5);
        assert_eq!(
            c.quoted().unwrap_err(),
            ValueError::new(Fault::UnterminatedQuote, 5)
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64("0009"), Ok(9));
        assert_eq!(
            parse_u64("36893488147419103232"),
            Err(Fault::NumberOutOfRange)
        );
        assert_eq!(parse_u64("-1"), Err(Fault::InvalidNumber));
    }
}
