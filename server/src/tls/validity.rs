//! The end of a certificate's validity period, read from its DER, so that the server can warn
//! at start (and on reload) that it serves an expired certificate. rustls does not check the
//! server's own certificate, and a whole X.509 parser would be a large dependency for one
//! field: this walks the few DER elements in front of it.
//!
//! RFC 5280 §4.1: `Certificate ::= SEQUENCE { tbsCertificate, ... }`;
//! `TBSCertificate ::= SEQUENCE { version [0] EXPLICIT OPTIONAL, serialNumber INTEGER,
//! signature AlgorithmIdentifier, issuer Name, validity Validity, ... }`;
//! `Validity ::= SEQUENCE { notBefore Time, notAfter Time }`;
//! `Time ::= CHOICE { utcTime UTCTime, generalTime GeneralizedTime }`.

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const EXPLICIT_0: u8 = 0xa0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// The certificate's `notAfter`, in seconds since the Unix epoch; `None` if the DER is not a
/// certificate this walk understands.
pub(crate) fn not_after(der: &[u8]) -> Option<i64> {
    let (certificate, _) = element(der, SEQUENCE)?;
    let (tbs, _) = element(certificate, SEQUENCE)?;
    let mut rest = tbs;
    if rest.first() == Some(&EXPLICIT_0) {
        rest = element(rest, EXPLICIT_0)?.1;
    }
    rest = element(rest, INTEGER)?.1; // serialNumber
    rest = element(rest, SEQUENCE)?.1; // signature
    rest = element(rest, SEQUENCE)?.1; // issuer
    let (validity, _) = element(rest, SEQUENCE)?;
    let (_, after_not_before) = any_time(validity)?;
    let (not_after, _) = any_time(after_not_before)?;
    Some(not_after)
}

/// A `Time` and what follows it.
fn any_time(input: &[u8]) -> Option<(i64, &[u8])> {
    match *input.first()? {
        UTC_TIME => {
            let (text, rest) = element(input, UTC_TIME)?;
            // RFC 5280 §4.1.2.5.1: YYMMDDHHMMSSZ; YY >= 50 is 19YY, else 20YY.
            let yy = digits(text.get(..2)?)?;
            let year = if yy >= 50 { 1900 + yy } else { 2000 + yy };
            Some((time_of(year, text.get(2..)?)?, rest))
        }
        GENERALIZED_TIME => {
            let (text, rest) = element(input, GENERALIZED_TIME)?;
            // RFC 5280 §4.1.2.5.2: YYYYMMDDHHMMSSZ.
            let year = digits(text.get(..4)?)?;
            Some((time_of(year, text.get(4..)?)?, rest))
        }
        _ => None,
    }
}

/// Seconds since the epoch of `year` and `MMDDHHMMSSZ`.
fn time_of(year: i64, text: &[u8]) -> Option<i64> {
    if text.len() != 11 || text[10] != b'Z' {
        return None;
    }
    let field = |at: usize| digits(&text[at..at + 2]);
    let (month, day) = (field(0)?, field(2)?);
    let (hour, minute, second) = (field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

fn digits(text: &[u8]) -> Option<i64> {
    text.iter().try_fold(0i64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
    })
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// One DER element with tag `tag` at the start of `input`: its content and what follows.
/// Definite lengths only (DER has no other), up to 4 length bytes.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&len0, rest) = rest.split_first()?;
    let (len, rest) = if len0 < 0x80 {
        (usize::from(len0), rest)
    } else {
        let count = usize::from(len0 & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let len = bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b));
        (len, rest)
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair, date_time_ymd};

    fn certificate(not_after: (i32, u8, u8)) -> Vec<u8> {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.not_before = date_time_ymd(2001, 1, 1);
        params.not_after = date_time_ymd(not_after.0, not_after.1, not_after.2);
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn reads_a_utc_time_not_after() {
        // 2020-01-01T00:00:00Z.
        assert_eq!(not_after(&certificate((2020, 1, 1))), Some(1_577_836_800));
        // 2049-12-31 is still UTCTime (RFC 5280 §4.1.2.5).
        assert_eq!(not_after(&certificate((2049, 12, 31))), Some(2_524_521_600));
    }

    #[test]
    fn reads_a_generalized_time_not_after() {
        // 2050 and later are GeneralizedTime: 2100-03-01T00:00:00Z.
        assert_eq!(not_after(&certificate((2100, 3, 1))), Some(4_107_542_400));
    }

    #[test]
    fn anything_else_is_none() {
        let der = certificate((2020, 1, 1));
        for cut in [0, 1, 2, 10, 100, der.len() / 2] {
            assert_eq!(not_after(&der[..cut]), None, "cut at {cut}");
        }
        assert_eq!(not_after(b"-----BEGIN CERTIFICATE-----"), None);
    }

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }
}
