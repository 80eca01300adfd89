use super::*;
use proptest::prelude::*;

const MARK: &str = "[REDACTED:S]";

fn redact(secret: &str, text: &str) -> String {
    Redactor::new([("S", secret)]).redact(text)
}

/// `form` no longer appears, unless the marker itself happens to contain it.
fn gone(out: &str, form: &str) -> bool {
    !out.contains(form) || MARK.contains(form)
}

/// Percent-encoding the way form encoders do: unreserved characters kept, space as `+`.
fn form_urlencoded(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every byte escaped, lower-case hex.
fn percent_all(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02x}")).collect()
}

/// JSON with every character as `\uXXXX` (Python's `ensure_ascii` does this for non-ASCII).
fn json_all_escaped(s: &str) -> String {
    s.encode_utf16().map(|u| format!("\\u{u:04X}")).collect()
}

fn json_escaped(s: &str) -> String {
    let q = serde_json::to_string(s).unwrap();
    q[1..q.len() - 1].to_string()
}

#[test]
fn redacts_value_and_base64_forms() {
    let r = Redactor::new([("DB_PASSWORD", "hunter2-s3cret")]);
    let b64 = STANDARD.encode("hunter2-s3cret");
    let text = format!(
        "pw=hunter2-s3cret enc={b64} url={}",
        URL_SAFE_NO_PAD.encode("hunter2-s3cret")
    );
    let out = r.redact(&text);
    assert!(!out.contains("hunter2"));
    assert!(!out.contains(&b64));
    assert_eq!(out.matches("[REDACTED:DB_PASSWORD]").count(), 3, "{out}");
}

#[test]
fn redacts_hex_url_json_and_split_forms() {
    let secret = "p@ss w/\"rd\\é";
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    for form in [
        hex.clone(),
        hex.to_uppercase(),
        form_urlencoded(secret),
        percent_all(secret),
        json_escaped(secret),
        json_all_escaped(secret),
        format!("{}\n{}", &secret[..4], &secret[4..]),
        format!("{}\r\n{}", &secret[..3], &secret[3..]),
        format!("{}\\n{}", &secret[..5], &secret[5..]),
    ] {
        let out = redact(secret, &format!("before {form} after"));
        assert_eq!(out, format!("before {MARK} after"), "form {form:?}");
    }
}

#[test]
fn a_base64_stream_wrapped_at_76_columns_is_redacted() {
    let secret = "a-long-api-token-0123456789abcdefghijklmnopqrstuvwxyz";
    let enc = STANDARD.encode(format!("user:{secret}:more"));
    let wrapped: Vec<&str> = enc
        .as_bytes()
        .chunks(20)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let out = redact(secret, &wrapped.join("\n"));
    assert!(out.contains(MARK), "{out}");
    let joined = out.replace('\n', "");
    let inner = &STANDARD_NO_PAD.encode(format!("user:{secret}"))[8..40];
    assert!(!joined.contains(inner), "{out}");
}

#[test]
fn trailing_newline_from_a_file_is_the_same_secret() {
    let r = Redactor::new([("T", "tok-abcdef\n")]);
    assert_eq!(r.redact("Bearer tok-abcdef"), "Bearer [REDACTED:T]");
}

#[test]
fn the_longer_of_two_overlapping_secrets_wins() {
    let r = Redactor::new([("SHORT", "abcd1234"), ("LONG", "xxabcd1234yy")]);
    assert_eq!(
        r.redact("a xxabcd1234yy b abcd1234"),
        "a [REDACTED:LONG] b [REDACTED:SHORT]"
    );
}

#[test]
fn redacts_inside_json() {
    let r = Redactor::new([("K", "supersecret")]);
    let mut v = serde_json::json!({"a": ["x supersecret y"], "b": {"c": "supersecret"}});
    r.redact_json(&mut v);
    assert!(!v.to_string().contains("supersecret"));
}

#[test]
fn ordinary_text_is_left_alone() {
    let r = Redactor::new([("S", "hunter2-s3cret")]);
    let text = "hunter2 s3cret 68756e746572 %68%75 aHVudGVy\nnothing to see";
    assert_eq!(r.redact(text), text);
    let mut same = text.to_string();
    r.redact_in_place(&mut same);
    assert_eq!(same, text);
}

#[test]
fn max_match_len_bounds_every_form() {
    let secret = "p@ss wörd𝄞";
    let r = Redactor::new([("S", secret)]);
    // the longest: every character \u-escaped, a JSON-escaped CRLF between characters
    let longest: Vec<String> = secret
        .chars()
        .map(|c| json_all_escaped(&c.to_string()))
        .collect();
    let longest = longest.join("\\r\\n");
    assert_eq!(redact(secret, &longest), MARK, "{longest:?}");
    assert!(longest.len() <= r.max_match_len());
    let b64 = STANDARD.encode(secret);
    let split: Vec<String> = b64.chars().map(String::from).collect();
    let split = split.join("\r\n");
    assert_eq!(redact(secret, &split), MARK);
    assert!(split.len() <= r.max_match_len());
}

/// The characters of base64(pre + secret + post) that depend on the secret's bytes alone,
/// found by flipping every bit around it (an oracle independent of the redactor's arithmetic).
fn secret_only_chars(pre: &[u8], secret: &[u8], post: &[u8], url: bool) -> String {
    let engine = if url { &URL_SAFE } else { &STANDARD };
    let stream = [pre, secret, post].concat();
    let flipped: Vec<u8> = [
        pre.iter().map(|b| !b).collect::<Vec<_>>(),
        secret.to_vec(),
        post.iter().map(|b| !b).collect(),
    ]
    .concat();
    let (a, b) = (engine.encode(&stream), engine.encode(&flipped));
    // the run of unchanged characters inside the secret's span
    let first = (8 * pre.len()) / 6;
    let last = (8 * (pre.len() + secret.len())).div_ceil(6);
    a.chars()
        .zip(b.chars())
        .enumerate()
        .filter(|(i, (x, y))| (first..last).contains(i) && x == y)
        .map(|(_, (x, _))| x)
        .collect()
}

proptest! {
    #[test]
    fn secret_never_survives(secret in "[a-zA-Z0-9!@#%^&*]{4,24}", pre in "\\PC{0,40}", post in "\\PC{0,40}") {
        let out = redact(&secret, &format!("{pre}{secret}{post}"));
        prop_assert!(gone(&out, &secret));
    }

    /// Each form inside text written the same way (an escaped value sits in escaped text).
    #[test]
    fn no_form_survives(secret in "[ -~]{4,24}|\\PC{4,12}", pre in "[ -~]{0,20}", post in "[ -~]{0,20}", cut in 1usize..4) {
        let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        let chars: Vec<char> = secret.chars().collect();
        let cut = cut.min(chars.len() - 1);
        let split = |sep: &str| format!(
            "{}{sep}{}",
            chars[..cut].iter().collect::<String>(),
            chars[cut..].iter().collect::<String>()
        );
        let r = Redactor::new([("S", secret.as_str())]);
        let raw = |f: &str| format!("{pre}{f}{post}");
        let url = |f: &str| format!("{}{f}{}", form_urlencoded(&pre), form_urlencoded(&post));
        let json = |f: &str| format!("{}{f}{}", json_escaped(&pre), json_escaped(&post));
        for (form, text) in [
            (secret.clone(), raw(&secret)),
            (split("\n"), raw(&split("\n"))),
            (split("\r\n"), raw(&split("\r\n"))),
            (STANDARD.encode(&secret), raw(&STANDARD.encode(&secret))),
            (STANDARD_NO_PAD.encode(&secret), raw(&STANDARD_NO_PAD.encode(&secret))),
            (URL_SAFE.encode(&secret), raw(&URL_SAFE.encode(&secret))),
            (URL_SAFE_NO_PAD.encode(&secret), raw(&URL_SAFE_NO_PAD.encode(&secret))),
            (hex.to_uppercase(), raw(&hex.to_uppercase())),
            (hex.clone(), raw(&hex)),
            (form_urlencoded(&secret), url(&form_urlencoded(&secret))),
            (percent_all(&secret), url(&percent_all(&secret))),
            (json_escaped(&secret), json(&json_escaped(&secret))),
            (json_all_escaped(&secret), json(&json_all_escaped(&secret))),
            (json_escaped(&split("\n")), json(&json_escaped(&split("\n")))),
        ] {
            let out = r.redact(&text);
            prop_assert!(gone(&out, &form), "form {:?} survived in {:?}", form, out);
        }
    }

    #[test]
    fn no_alignment_inside_a_base64_stream_survives(
        secret in "[ -~]{4,24}",
        pre in proptest::collection::vec(any::<u8>(), 0..9),
        post in proptest::collection::vec(any::<u8>(), 0..9),
        url in any::<bool>(),
    ) {
        let engine = if url { &URL_SAFE } else { &STANDARD };
        let stream = engine.encode([&pre[..], secret.as_bytes(), &post[..]].concat());
        let core = secret_only_chars(&pre, secret.as_bytes(), &post, url);
        prop_assume!(core.len() >= MIN_SECRET_LEN);
        let out = redact(&secret, &stream);
        prop_assert!(gone(&out, &core), "{:?} survived in {:?}", core, out);
    }
}
