//! File names and day numbers ([MS-ABS] 1.3).

use std::fmt;

use super::FileKind;

/// 2001-01-01 00:00:00 UTC as a Unix time: day number 0 of the Address Book Server.
pub const EPOCH_UNIX: u64 = 978_307_200;

const DAY: u64 = 86_400;

/// The day number of a Unix time (seconds, UTC): whole days since 2001-01-01. `None` before
/// 2001 or after day 0xFFFF (2180).
///
/// ```
/// use ocs_http_focus::abs::day_from_unix;
/// // 2008-05-24 00:00 UTC is day 0x0A8C ([MS-ABS] 1.3).
/// assert_eq!(day_from_unix(1_211_587_200), Some(0x0A8C));
/// ```
#[must_use]
pub fn day_from_unix(secs: u64) -> Option<u16> {
    let days = secs.checked_sub(EPOCH_UNIX)? / DAY;
    u16::try_from(days).ok()
}

/// The Unix time (seconds, UTC) at which a day number begins.
#[must_use]
pub fn unix_from_day(day: u16) -> u64 {
    EPOCH_UNIX + u64::from(day) * DAY
}

/// The name of an Address Book Server file: `F-XXXX`, `D-XXXX-YYYY` or `C-XXXX-YYYY`, with the
/// `.lsabs` (Office Communicator) or `.dabs` (devices) extension; XXXX and YYYY are day
/// numbers in four hexadecimal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileName {
    /// Full, delta or compact delta.
    pub kind: FileKind,
    /// The day the delta starts from (equal to `day` for a full file).
    pub base: u16,
    /// The day of the address book the file gives.
    pub day: u16,
    /// `.dabs` rather than `.lsabs`.
    pub device: bool,
}

impl FileName {
    /// `F-XXXX`.
    #[must_use]
    pub fn full(day: u16, device: bool) -> FileName {
        FileName {
            kind: FileKind::Full,
            base: day,
            day,
            device,
        }
    }

    /// `D-XXXX-YYYY` or `C-XXXX-YYYY`.
    #[must_use]
    pub fn delta(kind: FileKind, base: u16, day: u16, device: bool) -> FileName {
        FileName {
            kind,
            base,
            day,
            device,
        }
    }

    /// Parses a file name (letters and hex digits in either case, as servers and the Lync test
    /// tool differ: `f-1299.lsabs`).
    ///
    /// ```
    /// use ocs_http_focus::abs::{FileKind, FileName};
    /// let n = FileName::parse("D-0A10-0A11.lsabs").unwrap();
    /// assert_eq!((n.kind, n.base, n.day, n.device), (FileKind::Delta, 0x0A10, 0x0A11, false));
    /// assert_eq!(n.to_string(), "D-0A10-0A11.lsabs");
    /// ```
    #[must_use]
    pub fn parse(name: &str) -> Option<FileName> {
        let (stem, device) = if let Some(s) = strip_suffix_ci(name, ".lsabs") {
            (s, false)
        } else {
            (strip_suffix_ci(name, ".dabs")?, true)
        };
        let b = stem.as_bytes();
        let hex4 = |s: &[u8]| -> Option<u16> {
            if s.len() != 4 || !s.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            u16::from_str_radix(std::str::from_utf8(s).ok()?, 16).ok()
        };
        match (b.first()?.to_ascii_uppercase(), b.len()) {
            (b'F', 6) if b[1] == b'-' => Some(FileName::full(hex4(&b[2..6])?, device)),
            (k @ (b'D' | b'C'), 11) if b[1] == b'-' && b[6] == b'-' => {
                let kind = if k == b'D' {
                    FileKind::Delta
                } else {
                    FileKind::Compact
                };
                let (base, day) = (hex4(&b[2..6])?, hex4(&b[7..11])?);
                (base < day).then_some(FileName::delta(kind, base, day, device))
            }
            _ => None,
        }
    }
}

fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    (s.is_char_boundary(cut) && s[cut..].eq_ignore_ascii_case(suffix)).then(|| &s[..cut])
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ext = if self.device { "dabs" } else { "lsabs" };
        match self.kind {
            FileKind::Full => write!(f, "F-{:04X}.{ext}", self.day),
            FileKind::Delta => write!(f, "D-{:04X}-{:04X}.{ext}", self.base, self.day),
            FileKind::Compact => write!(f, "C-{:04X}-{:04X}.{ext}", self.base, self.day),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [MS-ABS] 1.3 and `../shared/notes/abs.md`: the day numbers of the spec's examples.
    #[test]
    fn spec_days() {
        // 0x0A8C = 2008-05-24, 0x0A10 = 2008-01-21, 0x0A11 = 2008-01-22, 0x1299 = 2014-01-14.
        for (day, unix) in [
            (0x0A8C, 1_211_587_200),
            (0x0A10, 1_200_873_600),
            (0x0A11, 1_200_960_000),
            (0x1299, 1_389_657_600),
        ] {
            assert_eq!(day_from_unix(unix), Some(day));
            assert_eq!(day_from_unix(unix + DAY - 1), Some(day));
            assert_eq!(unix_from_day(day), unix);
        }
        assert_eq!(day_from_unix(EPOCH_UNIX - 1), None);
        assert_eq!(day_from_unix(unix_from_day(0xFFFF) + DAY), None);
    }

    #[test]
    fn names() {
        assert_eq!(
            FileName::parse("f-1299.lsabs"),
            Some(FileName::full(0x1299, false))
        );
        assert_eq!(FileName::full(0x0A11, true).to_string(), "F-0A11.dabs");
        let c = FileName::parse("C-0A10-0A11.LSABS").unwrap();
        assert_eq!(c.kind, FileKind::Compact);
        for bad in [
            "F-0A1.lsabs",
            "F-0A1G.lsabs",
            "X-0A10.lsabs",
            "D-0A11-0A10.lsabs",
            "D-0A10-0A11.txt",
            "F-+A10.lsabs",
            "é.lsabs",
            "",
        ] {
            assert_eq!(FileName::parse(bad), None, "{bad}");
        }
    }
}
