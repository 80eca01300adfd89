//! Secret redaction. Every byte sitrep keeps or prints from a run passes through a [`Redactor`]
//! holding the run's secret values. `docs/security.md` lists exactly what is covered; in
//! short, these forms of a value (and of the value without a trailing newline) become
//! `[REDACTED:NAME]`:
//!
//! - the value itself;
//! - base64, standard and URL-safe, with and without padding, alone or at any of the three
//!   alignments inside a longer base64 stream (there, the characters that depend only on the
//!   value's bytes);
//! - hex, lower and upper case;
//! - any of these percent-encoded (any characters escaped, `%xx` in either case, `+` for a
//!   space) or JSON-escaped (`\"`, `\\`, `\/`, `\n`, `\uXXXX`...), in any mixture;
//! - any of these cut by line breaks (`\n`, `\r\n`, or their JSON escapes), anywhere.
//!
//! How: two scans with one Aho-Corasick automaton each, built once per redactor. The first
//! looks for the literal forms in the text as it is; the second in a decoded view of the text
//! (escapes decoded, line breaks dropped, a space read as `+`) for the same forms decoded the
//! same way, and maps each match back to the span of text it came from.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// Values shorter than this cannot be redacted without destroying ordinary text; sitrep refuses
/// to inject them. Derived forms shorter than this (a base64 fragment of a short value) are
/// not looked for either.
pub const MIN_SECRET_LEN: usize = 4;

/// The longest text one byte of a value can become (`\u00XX`), and what may separate two
/// (a JSON-escaped CRLF): what [`Redactor::max_match_len`] assumes.
const MAX_PER_BYTE: usize = 6;
const MAX_BREAK: usize = 4;

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// The forms without line breaks, looked for in views of the text without line breaks: as
    /// it is, percent-decoded, JSON-unescaped.
    plain: Option<Scan>,
    /// The same with a space as `+`, for the percent-decoded view, when a secret has either.
    plus: Option<Scan>,
    /// `[REDACTED:NAME]` per secret.
    marks: Vec<String>,
    /// Read a space as `+` in the percent-decoded view: only when a secret has one of them.
    space_is_plus: bool,
    max_match: usize,
}

/// An automaton and, per pattern, the secret it belongs to.
#[derive(Debug, Clone)]
struct Scan {
    ac: AhoCorasick,
    secret: Vec<usize>,
}

impl Scan {
    fn build(needles: Vec<(Vec<u8>, usize)>) -> Option<Scan> {
        let mut needles = needles;
        needles.retain(|(n, _)| n.len() >= MIN_SECRET_LEN);
        needles.sort();
        needles.dedup_by(|a, b| a.0 == b.0);
        if needles.is_empty() {
            return None;
        }
        let ac = AhoCorasickBuilder::new()
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .match_kind(MatchKind::LeftmostLongest)
            .build(needles.iter().map(|(n, _)| n))
            .expect("a few short needles always build");
        Some(Scan {
            ac,
            secret: needles.iter().map(|(_, s)| *s).collect(),
        })
    }
}

impl Scan {
    fn find_in_text(&self, text: &[u8], hits: &mut Vec<Hit>) {
        hits.extend(self.ac.find_iter(text).map(|m| Hit {
            start: m.start(),
            end: m.end(),
            secret: self.secret[m.pattern().as_usize()],
        }));
    }

    /// The matches in a view, as spans of the text it was made from.
    fn find_in(&self, v: &View, hits: &mut Vec<Hit>) {
        hits.extend(self.ac.find_iter(&v.bytes).map(|m| Hit {
            start: v.source(m.start()).0,
            end: v.source(m.end() - 1).1,
            secret: self.secret[m.pattern().as_usize()],
        }));
    }
}

/// A span of the original text to replace, and whose secret it is.
#[derive(Debug, Clone, Copy)]
struct Hit {
    start: usize,
    end: usize,
    secret: usize,
}

impl Redactor {
    pub fn new<'a>(secrets: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let secrets: Vec<(&str, &str)> = secrets
            .into_iter()
            .filter(|(_, v)| v.len() >= MIN_SECRET_LEN)
            .collect();
        if secrets.is_empty() {
            return Redactor::default();
        }
        let space_is_plus = secrets.iter().any(|(_, v)| v.contains([' ', '+']));
        let (mut plain_forms, mut plus_forms, mut marks) = (vec![], vec![], vec![]);
        let mut max_match = 0;
        for (i, (name, value)) in secrets.iter().enumerate() {
            marks.push(format!("[REDACTED:{name}]"));
            let trimmed = value.trim_end_matches(['\n', '\r']);
            for v in [*value, trimmed] {
                let mut forms = vec![v.as_bytes().to_vec()];
                forms.extend(encoded(v.as_bytes()).into_iter().map(String::into_bytes));
                for f in forms {
                    max_match = max_match.max(f.len() * MAX_PER_BYTE + f.len() * MAX_BREAK);
                    if space_is_plus {
                        plus_forms.push((plain(&f, true), i));
                    }
                    plain_forms.push((plain(&f, false), i));
                }
            }
        }
        Redactor {
            plain: Scan::build(plain_forms),
            plus: Scan::build(plus_forms),
            marks,
            space_is_plus,
            max_match,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.marks.is_empty()
    }

    /// The longest text one form of a secret can take (each byte as `\uXXXX`, a line break
    /// between every two); captured output keeps this much beyond its cap so a secret
    /// straddling the cut is still found.
    pub fn max_match_len(&self) -> usize {
        self.max_match
    }

    /// The spans of `text` holding a secret, in order, merged where they overlap.
    fn hits(&self, text: &str) -> Vec<Hit> {
        let mut hits = Vec::new();
        let Some(plain) = &self.plain else {
            return hits;
        };
        let b = text.as_bytes();
        if memchr::memchr2(b'\n', b'\r', b).is_some() {
            plain.find_in(&view(b, Decode::Nothing), &mut hits);
        } else {
            plain.find_in_text(b, &mut hits);
        }
        let plus = self.space_is_plus && memchr::memchr2(b' ', b'+', b).is_some();
        if plus || memchr::memchr(b'%', b).is_some() {
            let decode = Decode::Percent {
                space_is_plus: self.space_is_plus,
            };
            self.plus
                .as_ref()
                .unwrap_or(plain)
                .find_in(&view(b, decode), &mut hits);
        }
        if memchr::memchr(b'\\', b).is_some() {
            plain.find_in(&view(b, Decode::Json), &mut hits);
        }
        for h in &mut hits {
            // A decoded match may end inside a character written raw; take all of it.
            while !text.is_char_boundary(h.start) {
                h.start -= 1;
            }
            while !text.is_char_boundary(h.end) {
                h.end += 1;
            }
        }
        hits.sort_by_key(|h| (h.start, std::cmp::Reverse(h.end)));
        let mut merged: Vec<Hit> = Vec::with_capacity(hits.len());
        for h in hits {
            match merged.last_mut() {
                Some(last) if h.start < last.end => last.end = last.end.max(h.end),
                _ => merged.push(h),
            }
        }
        merged
    }

    fn apply(&self, text: &str, hits: &[Hit]) -> String {
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for h in hits {
            // Spans map back to whole escapes, so they fall on character boundaries.
            out.push_str(&text[at..h.start]);
            out.push_str(&self.marks[h.secret]);
            at = h.end;
        }
        out.push_str(&text[at..]);
        out
    }

    pub fn redact(&self, text: &str) -> String {
        if self.is_empty() {
            return text.to_string();
        }
        let hits = self.hits(text);
        self.apply(text, &hits)
    }

    pub fn redact_in_place(&self, text: &mut String) {
        if self.is_empty() {
            return;
        }
        let hits = self.hits(text);
        if !hits.is_empty() {
            *text = self.apply(text, &hits);
        }
    }

    /// Redacts every string inside a JSON value.
    pub fn redact_json(&self, v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) => self.redact_in_place(s),
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| self.redact_json(x)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|x| self.redact_json(x)),
            _ => {}
        }
    }
}

/// The value's encodings: base64 (standard and URL-safe; padded, unpadded, and the part of
/// each alignment inside a longer stream that depends on the value alone) and hex.
fn encoded(v: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        out.push(engine.encode(v));
    }
    let bits = 8 * v.len();
    for offset in 0..3usize {
        let mut shifted = vec![0u8; offset];
        shifted.extend_from_slice(v);
        // Character i encodes bits 6i..6i+6 of the stream; keep those within the value's.
        let start = (8 * offset).div_ceil(6);
        let end = (8 * offset + bits) / 6;
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            if let Some(core) = engine.encode(&shifted).get(start..end) {
                out.push(core.to_string());
            }
        }
    }
    let lower: String = v.iter().map(|b| format!("{b:02x}")).collect();
    out.push(lower.to_ascii_uppercase());
    out.push(lower);
    out
}

/// A view of the text as one scan sees it: its bytes, and segments mapping them back to the
/// text (so a match in the view becomes a span of the text).
struct View {
    bytes: Vec<u8>,
    segs: Vec<Seg>,
}

/// From view offset `view` on (to the next segment): a run copied from the text at `src`
/// (`unit == 0`), or the bytes decoded from the escape `src..src + unit`.
#[derive(Debug, Clone, Copy)]
struct Seg {
    view: u32,
    src: u32,
    unit: u32,
}

impl View {
    fn with_capacity(n: usize) -> View {
        View {
            bytes: Vec::with_capacity(n),
            segs: Vec::new(),
        }
    }

    fn copy(&mut self, src: usize, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.segs.push(Seg {
                view: self.bytes.len() as u32,
                src: src as u32,
                unit: 0,
            });
            self.bytes.extend_from_slice(bytes);
        }
    }

    fn decoded(&mut self, src: usize, unit: usize, bytes: &[u8]) {
        let seg = Seg {
            view: self.bytes.len() as u32,
            src: src as u32,
            unit: unit as u32,
        };
        let before = self.bytes.len();
        self.bytes
            .extend(bytes.iter().filter(|b| !matches!(b, b'\r' | b'\n')));
        if self.bytes.len() > before {
            self.segs.push(seg);
        }
    }

    /// The text's span behind view offset `p`.
    fn source(&self, p: usize) -> (usize, usize) {
        let s = self.segs[self.segs.partition_point(|s| s.view as usize <= p) - 1];
        if s.unit == 0 {
            let at = s.src as usize + (p - s.view as usize);
            (at, at + 1)
        } else {
            (s.src as usize, (s.src + s.unit) as usize)
        }
    }
}

/// What a view decodes. Line breaks (raw, and JSON-escaped in the JSON view) are dropped in
/// every view.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Decode {
    Nothing,
    Percent { space_is_plus: bool },
    Json,
}

/// A form as a view shows it when the form is written without escapes.
fn plain(form: &[u8], space_is_plus: bool) -> Vec<u8> {
    form.iter()
        .filter(|b| !matches!(b, b'\r' | b'\n'))
        .map(|&b| if space_is_plus && b == b' ' { b'+' } else { b })
        .collect()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `%XX` at `s[i..]`: the byte.
fn percent_byte(s: &[u8], i: usize) -> Option<u8> {
    Some(hex_val(*s.get(i + 1)?)? << 4 | hex_val(*s.get(i + 2)?)?)
}

/// `\uXXXX` at `s[i..]`: the code unit.
fn json_unit(s: &[u8], i: usize) -> Option<u16> {
    if s.get(i) != Some(&b'\\') || s.get(i + 1) != Some(&b'u') {
        return None;
    }
    let mut u = 0u16;
    for k in 0..4 {
        u = u << 4 | u16::from(hex_val(*s.get(i + 2 + k)?)?);
    }
    Some(u)
}

/// The JSON escape at `s[i..]` (which starts with a backslash): the character and the
/// escape's length.
fn json_escape(s: &[u8], i: usize) -> Option<(char, usize)> {
    let simple = match s.get(i + 1)? {
        b'"' => Some('"'),
        b'\\' => Some('\\'),
        b'/' => Some('/'),
        b't' => Some('\t'),
        b'b' => Some('\u{8}'),
        b'f' => Some('\u{c}'),
        b'n' => Some('\n'),
        b'r' => Some('\r'),
        _ => None,
    };
    if let Some(c) = simple {
        return Some((c, 2));
    }
    match json_unit(s, i)? {
        hi @ 0xd800..=0xdbff => {
            let lo = json_unit(s, i + 6).filter(|lo| (0xdc00..=0xdfff).contains(lo))?;
            let c = 0x10000 + ((u32::from(hi) - 0xd800) << 10) + (u32::from(lo) - 0xdc00);
            char::from_u32(c).map(|c| (c, 12))
        }
        0xdc00..=0xdfff => None,
        u => char::from_u32(u32::from(u)).map(|c| (c, 6)),
    }
}

/// One pass, left to right, copying the runs between special bytes whole.
fn view(s: &[u8], decode: Decode) -> View {
    let mut v = View::with_capacity(s.len());
    let escape = match decode {
        Decode::Nothing => b'\n',
        Decode::Percent { .. } => b'%',
        Decode::Json => b'\\',
    };
    let mut run = 0;
    let mut i = 0;
    while let Some(k) = memchr::memchr3(escape, b'\n', b'\r', &s[i..]) {
        i += k;
        let mut buf = [0u8; 4];
        let decoded: Option<(&[u8], usize)> = match s[i] {
            b'\r' | b'\n' => Some((&[], 1)),
            b'%' => percent_byte(s, i).map(|b| {
                buf[0] = b;
                (&buf[..1], 3)
            }),
            _ => json_escape(s, i).map(|(c, len)| (c.encode_utf8(&mut buf).as_bytes(), len)),
        };
        match decoded {
            Some((bytes, len)) => {
                v.copy(run, &s[run..i]);
                v.decoded(i, len, bytes);
                i += len;
                run = i;
            }
            // not an escape after all: part of the run
            None => i += 1,
        }
    }
    v.copy(run, &s[run..]);
    if decode
        == (Decode::Percent {
            space_is_plus: true,
        })
    {
        for b in &mut v.bytes {
            if *b == b' ' {
                *b = b'+';
            }
        }
    }
    v
}

#[cfg(test)]
mod tests;
