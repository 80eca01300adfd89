//! Tiny CSV helpers: RFC-4180-ish records (quoted fields, doubled quotes,
//! commas and newlines inside quotes), numeric parsing and a `timestamp,value` series reader.

use crate::error::{AnalyticsError, Result};

/// Split CSV text into records of fields. Handles quoted fields containing
/// commas, doubled quotes and newlines; tolerates `\r\n` line ends.
pub fn parse_records(text: &str) -> Result<Vec<Vec<String>>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut line = 1usize;
    let mut chars = text.chars().peekable();
    let mut any = false; // current record has content
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' => {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        field.push('"');
                    } else {
                        in_quotes = false;
                    }
                }
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => {
                in_quotes = true;
                any = true;
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                any = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                line += 1;
                if any || !field.is_empty() {
                    record.push(std::mem::take(&mut field));
                    records.push(std::mem::take(&mut record));
                }
                any = false;
            }
            _ => {
                field.push(c);
                any = true;
            }
        }
    }
    if in_quotes {
        return Err(AnalyticsError::Csv {
            line,
            msg: "unterminated quoted field: close the quote".into(),
        });
    }
    if any || !field.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

/// Parse a float the way metric exports write them: empty, `nan`, `NaN`, `null` → NaN.
pub fn parse_f64(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty()
        || t.eq_ignore_ascii_case("nan")
        || t.eq_ignore_ascii_case("null")
        || t.eq_ignore_ascii_case("none")
    {
        return Some(f64::NAN);
    }
    t.parse::<f64>().ok()
}

/// A univariate time series read from `timestamp,value` CSV text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub timestamps: Vec<String>,
    pub values: Vec<f64>,
}

/// Read a two-column `timestamp,value` CSV (header required). If the header has
/// a column named `value` it is used, otherwise the last column.
pub fn parse_series(text: &str) -> Result<Series> {
    let recs = parse_records(text)?;
    let mut it = recs.into_iter();
    let header = it.next().ok_or(AnalyticsError::EmptyCsv)?;
    if header.len() < 2 {
        return Err(AnalyticsError::Csv {
            line: 1,
            msg: "expected a header like `timestamp,value`".into(),
        });
    }
    let vcol = header
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case("value"))
        .unwrap_or(header.len() - 1);
    let mut s = Series::default();
    for (i, r) in it.enumerate() {
        let line = i + 2;
        let raw = r.get(vcol).ok_or_else(|| AnalyticsError::Csv {
            line,
            msg: format!("missing column {}", vcol + 1),
        })?;
        let v = parse_f64(raw).ok_or_else(|| AnalyticsError::Csv {
            line,
            msg: format!("'{raw}' is not a number"),
        })?;
        s.timestamps.push(r[0].trim().to_string());
        s.values.push(v);
    }
    if s.values.is_empty() {
        return Err(AnalyticsError::EmptyCsv);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quoted_fields() {
        let r = parse_records("a,\"b,c\",\"d\"\"e\"\r\n1,2,3\n").unwrap();
        assert_eq!(r, vec![vec!["a", "b,c", "d\"e"], vec!["1", "2", "3"]]);
    }

    #[test]
    fn empty_fields_kept() {
        let r = parse_records(",x,\n").unwrap();
        assert_eq!(r, vec![vec!["", "x", ""]]);
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        assert!(parse_records("a,\"b\n").is_err());
    }

    #[test]
    fn series_reads_value_column() {
        let s = parse_series("timestamp,value\n2020-01-01 00:00:00,1.5\n2020-01-01 00:05:00,\n")
            .unwrap();
        assert_eq!(s.values[0], 1.5);
        assert!(s.values[1].is_nan());
        assert!(parse_series("timestamp,value\nx,abc\n").is_err());
    }

    fn quote(f: &str) -> String {
        if f.contains([',', '"', '\n']) || f.is_empty() {
            format!("\"{}\"", f.replace('"', "\"\""))
        } else {
            f.to_string()
        }
    }

    proptest! {
        #[test]
        fn roundtrip(rows in prop::collection::vec(prop::collection::vec("[a-z0-9 ,\"\n]{0,6}", 1..5), 1..6)) {
            let text: String = rows.iter().map(|r| r.iter().map(|f| quote(f)).collect::<Vec<_>>().join(",") + "\n").collect();
            let parsed = parse_records(&text).unwrap();
            prop_assert_eq!(parsed, rows);
        }

        #[test]
        fn never_panics(s in "\\PC{0,64}") {
            let _ = parse_records(&s);
            let _ = parse_series(&s);
        }

        #[test]
        fn floats_roundtrip(x in -1e12f64..1e12) {
            prop_assert_eq!(parse_f64(&format!("{x}")), Some(x));
        }
    }
}
