//! Writing heads and chunk framing into a caller's buffer.

use super::SendError;
use super::head::is_tchar;

/// What the fields given for sending say about framing and the connection.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Seen {
    pub(crate) content_length: Option<u64>,
    pub(crate) chunked: bool,
    pub(crate) bad_framing: bool,
    pub(crate) close: bool,
    pub(crate) keep_alive: bool,
    pub(crate) host: bool,
    pub(crate) expect_continue: bool,
}

/// Writes `name: value CRLF` for each field, refusing names that are not tokens and values
/// that could end the line (header injection), and notes the framing fields.
pub(crate) fn fields<N, V>(
    headers: impl IntoIterator<Item = (N, V)>,
    out: &mut Vec<u8>,
) -> Result<Seen, SendError>
where
    N: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let mut seen = Seen::default();
    for (index, (name, value)) in headers.into_iter().enumerate() {
        let (name, value) = (name.as_ref(), value.as_ref());
        if name.is_empty()
            || !name.iter().copied().all(is_tchar)
            || value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0)
        {
            return Err(SendError::InvalidHeader { index });
        }
        note(&mut seen, name, value);
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    Ok(seen)
}

fn note(seen: &mut Seen, name: &[u8], value: &[u8]) {
    let tokens = || {
        value
            .split(|&b| b == b',')
            .map(|t| t.trim_ascii())
            .filter(|t| !t.is_empty())
    };
    if name.eq_ignore_ascii_case(b"content-length") {
        let n = std::str::from_utf8(value.trim_ascii())
            .ok()
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u64>().ok());
        match (n, seen.content_length) {
            (Some(n), None) => seen.content_length = Some(n),
            _ => seen.bad_framing = true,
        }
    } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
        for coding in tokens() {
            if seen.chunked || !coding.eq_ignore_ascii_case(b"chunked") {
                seen.bad_framing = true;
            }
            seen.chunked = true;
        }
    } else if name.eq_ignore_ascii_case(b"connection") {
        seen.close |= tokens().any(|t| t.eq_ignore_ascii_case(b"close"));
        seen.keep_alive |= tokens().any(|t| t.eq_ignore_ascii_case(b"keep-alive"));
    } else if name.eq_ignore_ascii_case(b"host") {
        seen.host = true;
    } else if name.eq_ignore_ascii_case(b"expect") {
        seen.expect_continue |= value.trim_ascii().eq_ignore_ascii_case(b"100-continue");
    }
}

/// Three decimal digits.
pub(crate) fn status(code: u16, out: &mut Vec<u8>) {
    out.extend_from_slice(&[
        b'0' + (code / 100 % 10) as u8,
        b'0' + (code / 10 % 10) as u8,
        b'0' + (code % 10) as u8,
    ]);
}

/// `HEXDIG+ CRLF` without allocating.
pub(crate) fn chunk_size(len: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(digits(len as u64, 16, &mut [0; 20]));
    out.extend_from_slice(b"\r\n");
}

/// The decimal digits of `n`, written at the end of `buf`, without allocating.
pub fn decimal(n: u64, buf: &mut [u8; 20]) -> &[u8] {
    digits(n, 10, buf)
}

fn digits(mut n: u64, radix: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[(n % radix) as usize];
        n /= radix;
        if n == 0 {
            return &buf[i..];
        }
    }
}
