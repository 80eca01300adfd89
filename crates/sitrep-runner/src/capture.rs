//! Bounded capture of a child's output: the first `cap` bytes are kept (plus a small overlap so a
//! secret cut at the boundary is still redacted), the rest is read and counted, never stored.

use sitrep_core::redact::Redactor;
use tokio::io::{AsyncRead, AsyncReadExt};

pub const DEFAULT_CAP: usize = 1024 * 1024;

#[derive(Debug, Default)]
pub struct Captured {
    pub bytes: Vec<u8>,
    /// Bytes read past the cap.
    pub dropped: u64,
}

pub async fn capture(mut r: impl AsyncRead + Unpin, cap: usize, overlap: usize) -> Captured {
    let keep = cap + overlap;
    let mut out = Captured {
        bytes: Vec::with_capacity(keep.min(64 * 1024)),
        dropped: 0,
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = keep.saturating_sub(out.bytes.len());
                let take = room.min(n);
                out.bytes.extend_from_slice(&buf[..take]);
                out.dropped += (n - take) as u64;
            }
        }
    }
    out
}

impl Captured {
    /// Redacts, then cuts to `cap` bytes, marking how much was dropped.
    pub fn finish(self, cap: usize, redactor: &Redactor) -> String {
        let text = String::from_utf8_lossy(&self.bytes);
        let mut text = redactor.redact(&text);
        let mut dropped = self.dropped;
        if text.len() > cap {
            let mut end = cap;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            dropped += (text.len() - end) as u64;
            text.truncate(end);
        }
        if dropped > 0 {
            text.push_str(&format!(
                "\n[sitrep: output truncated, {dropped} more bytes not kept]\n"
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_the_head_and_counts_the_rest() {
        let data = vec![b'x'; 300_000];
        let c = capture(&data[..], 1000, 10).await;
        assert_eq!(c.bytes.len(), 1010);
        assert_eq!(c.dropped, 300_000 - 1010);
        let text = c.finish(1000, &Redactor::default());
        assert!(text.starts_with(&"x".repeat(1000)));
        assert!(
            text.contains("299000 more bytes not kept"),
            "{}",
            &text[990..]
        );
    }

    #[tokio::test]
    async fn a_secret_straddling_the_cap_is_redacted() {
        let secret = "hunter2-secret";
        let mut data = vec![b'a'; 995];
        data.extend_from_slice(secret.as_bytes());
        let r = Redactor::new([("PW", secret)]);
        let c = capture(&data[..], 1000, r.max_match_len()).await;
        let text = c.finish(1000, &r);
        assert!(!text.contains("hunter"), "{text}");
    }

    /// Hands out its bytes a few at a time, like a pipe read in chunks.
    struct Chunked {
        data: Vec<u8>,
        at: usize,
        chunk: usize,
    }

    impl AsyncRead for Chunked {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            let n = self
                .chunk
                .min(buf.remaining())
                .min(self.data.len() - self.at);
            let at = self.at;
            buf.put_slice(&self.data[at..at + n]);
            self.at += n;
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn every_form_cut_by_a_read_or_the_cap_is_redacted() {
        let secret = "hunter2 s3cret/+";
        let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        let forms = [
            secret.to_string(),
            hex,
            "hunter2 s3\ncret/+".to_string(),
            "hunter2%20s3cret%2F%2B".to_string(),
            "aHVudGVyMiBzM2NyZXQvKw==".to_string(),
        ];
        let r = Redactor::new([("PW", secret)]);
        let cap = 1000;
        for form in &forms {
            for offset in 0..form.len() {
                for chunk in [7, 64 * 1024] {
                    let mut data = vec![b'a'; cap - offset];
                    data.extend_from_slice(form.as_bytes());
                    data.extend_from_slice(&[b'z'; 50]);
                    let reader = Chunked { data, at: 0, chunk };
                    let text = capture(reader, cap, r.max_match_len())
                        .await
                        .finish(cap, &r);
                    assert!(!text.contains(form.as_str()), "{form} at {offset}: {text}");
                    assert!(!text.contains("hunter"), "{form} at {offset}: {text}");
                }
            }
        }
    }
}
