//! Reads the expiry (`notAfter`) of a DER X.509 certificate: the few TLV steps needed, not a
//! general parser.

/// Seconds since the Unix epoch at which the certificate expires.
pub fn not_after(der: &[u8]) -> Option<i64> {
    let (_, cert, _) = tlv(der)?; // Certificate SEQUENCE
    let (_, tbs, _) = tlv(cert)?; // TBSCertificate SEQUENCE
    let mut rest = tbs;
    let (tag, _, after) = tlv(rest)?;
    if tag == 0xa0 {
        rest = after; // [0] version
    }
    for _ in 0..3 {
        rest = tlv(rest)?.2; // serialNumber, signature, issuer
    }
    let (_, validity, _) = tlv(rest)?;
    let (_, _, after_not_before) = tlv(validity)?;
    let (tag, time, _) = tlv(after_not_before)?;
    parse_time(tag, std::str::from_utf8(time).ok()?)
}

/// (tag, contents, remainder)
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)? as usize;
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    Some((tag, b.get(header..end)?, b.get(end..)?))
}

fn parse_time(tag: u8, s: &str) -> Option<i64> {
    let s = s.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i64 = s.get(0..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, s.get(2..)?)
        }
        0x18 => (s.get(0..4)?.parse().ok()?, s.get(4..)?),
        _ => return None,
    };
    let text = format!(
        "{year:04}-{}-{}T{}:{}:{}Z",
        rest.get(0..2)?,
        rest.get(2..4)?,
        rest.get(4..6)?,
        rest.get(6..8)?,
        rest.get(8..10)?
    );
    sitrep_core::Timestamp::parse_rfc3339(&text).map(|t| t.0 / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(tag: u8, parts: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = parts.concat();
        let mut out = vec![tag];
        if body.len() < 128 {
            out.push(body.len() as u8);
        } else {
            out.push(0x82);
            out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        }
        out.extend(body);
        out
    }

    #[test]
    fn reads_not_after_in_both_time_forms() {
        for (tag, time, want) in [
            (0x17u8, "261123120000Z", "2026-11-23T12:00:00Z"),
            (0x18, "20501231235959Z", "2050-12-31T23:59:59Z"),
        ] {
            let validity = seq(
                0x30,
                &[
                    seq(0x17, &[b"250101000000Z".to_vec()]),
                    seq(tag, &[time.as_bytes().to_vec()]),
                ],
            );
            let tbs = seq(
                0x30,
                &[
                    seq(0xa0, &[seq(0x02, &[vec![2]])]),
                    seq(0x02, &[vec![1, 2, 3]]),
                    seq(0x30, &[vec![0; 10]]),
                    seq(0x30, &[vec![0; 200]]),
                    validity,
                ],
            );
            let cert = seq(
                0x30,
                &[tbs, seq(0x30, &[vec![0; 5]]), seq(0x03, &[vec![0; 5]])],
            );
            let want = sitrep_core::Timestamp::parse_rfc3339(want).unwrap().0 / 1000;
            assert_eq!(not_after(&cert), Some(want));
        }
        assert_eq!(not_after(&[0x30, 0x05, 1]), None);
    }
}
