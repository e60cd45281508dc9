//! `xs:dateTime` values as C3P carries them (`expiry-time`, `last-update`, `when`), and the
//! wall-clock time a caller passes to the focus.

use bytestring::ByteString;

/// Seconds since 1970-01-01T00:00:00Z. The focus reads no clock: the caller passes this in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// This time plus `secs` seconds.
    #[must_use]
    pub fn plus(self, secs: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(secs))
    }
}

/// An `xs:dateTime`: the text as written (kept for a faithful rewrite) and the instant it
/// names. A missing time zone is read as UTC, as [MS-CONFPRO] 2.2.1.2 says these values are
/// UTC; fractions of a second are kept in the text and ignored in the instant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DateTime {
    /// The text, e.g. `2009-07-13T17:57:09Z`.
    pub text: ByteString,
    /// The instant.
    pub at: Timestamp,
}

impl DateTime {
    /// The canonical UTC form `YYYY-MM-DDThh:mm:ssZ` of an instant.
    #[must_use]
    pub fn from_timestamp(at: Timestamp) -> DateTime {
        let days = at.0.div_euclid(86_400);
        let secs = at.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let text = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
        DateTime {
            text: ByteString::from(text),
            at,
        }
    }

    /// Parses `[-]YYYY-MM-DDThh:mm:ss[.fff][Z|(+|-)hh:mm]`.
    #[must_use]
    pub fn parse(text: ByteString) -> Option<DateTime> {
        let at = parse_instant(text.trim())?;
        Some(DateTime { text, at })
    }
}

fn num(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0i64, |a, &b| {
        a.checked_mul(10)?.checked_add(i64::from(b - b'0'))
    })
}

fn parse_instant(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let (neg, b) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    let dash = b.iter().position(|&c| c == b'-')?;
    if dash < 4 {
        return None;
    }
    let year = num(&b[..dash])?;
    let year = if neg { -year } else { year };
    let r = &b[dash..];
    if r.len() < 15 || r[0] != b'-' || r[3] != b'-' || r[6] != b'T' || r[9] != b':' || r[12] != b':'
    {
        return None;
    }
    let (mo, d, h, mi, se) = (
        num(&r[1..3])?,
        num(&r[4..6])?,
        num(&r[7..9])?,
        num(&r[10..12])?,
        num(&r[13..15])?,
    );
    if !(1..=12).contains(&mo)
        || d < 1
        || d > days_in_month(year, mo)
        || h > 24
        || mi > 59
        || se > 60
    {
        return None;
    }
    if h == 24 && (mi != 0 || se != 0) {
        return None;
    }
    let mut r = &r[15..];
    if let Some(rest) = r.strip_prefix(b".") {
        let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        r = &rest[n..];
    }
    let offset = match r {
        [] | [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let oh = num(&[*h1, *h2])?;
            let om = num(&[*m1, *m2])?;
            if oh > 14 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let days = days_from_civil(year, mo, d);
    Some(Timestamp(
        days.checked_mul(86_400)?
            .checked_add(h * 3600 + mi * 60 + se)?
            .checked_sub(offset)?,
    ))
}

fn leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        // The expiry sipe writes in its addConference (sipe-conf.c comment).
        let t = DateTime::parse(ByteString::from("2009-07-13T17:57:09Z")).unwrap();
        assert_eq!(t.at, Timestamp(1_247_507_829));
        assert_eq!(DateTime::from_timestamp(t.at).text, "2009-07-13T17:57:09Z");
        assert_eq!(parse_instant("1970-01-01T00:00:00Z"), Some(Timestamp(0)));
        assert_eq!(
            parse_instant("2000-02-29T12:00:00.5+01:30"),
            Some(Timestamp(951_820_200))
        );
        assert_eq!(
            parse_instant("2001-01-01T00:00:00"),
            Some(Timestamp(978_307_200))
        );
        for bad in [
            "",
            "2009-13-01T00:00:00Z",
            "2009-02-29T00:00:00Z",
            "2009-07-13 17:57:09Z",
            "2009-07-13T17:57:09+25:00",
            "99-07-13T17:57:09Z",
            "2009-07-13T17:57:09.Z",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad}");
        }
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000i64, -1, 0, 1, 11_016, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
