//! Server-sent events (the `text/event-stream` format of the HTML standard), parsed
//! incrementally from bytes as they arrive in pieces of any size. Only what the providers
//! use: `event` and `data` fields; comments and other fields are skipped.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The `event:` field, when one was given.
    pub name: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

/// Feed it bytes with [`Parser::push`]; it returns the events completed so far.
#[derive(Debug, Default)]
pub struct Parser {
    /// Bytes not yet forming a whole line.
    pending: Vec<u8>,
    name: Option<String>,
    data: String,
    /// A `data` field was seen since the last dispatch (it may have been empty).
    has_data: bool,
}

impl Parser {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.pending.extend_from_slice(bytes);
        let mut events = vec![];
        let mut at = 0;
        while let Some(offset) = self.pending[at..]
            .iter()
            .position(|b| *b == b'\n' || *b == b'\r')
        {
            let end = at + offset;
            let mut next = end + 1;
            if self.pending[end] == b'\r' {
                match self.pending.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    // A CR at the end may be the first half of a CRLF: wait for the next byte.
                    None => break,
                }
            }
            // A line ends at an ASCII byte, so it never cuts a UTF-8 sequence in two.
            let line = String::from_utf8_lossy(&self.pending[at..end]).into_owned();
            if let Some(event) = self.line(&line) {
                events.push(event);
            }
            at = next;
        }
        self.pending.drain(..at);
        events
    }

    /// The end of the stream: an event the server did not finish with a blank line is
    /// dispatched anyway (some servers close right after the last `data:` line).
    pub fn finish(&mut self) -> Option<Event> {
        let rest = std::mem::take(&mut self.pending);
        let mut last = None;
        if !rest.is_empty() {
            let rest = String::from_utf8_lossy(&rest);
            let line = rest.trim_end_matches('\r');
            last = self.line(line);
        }
        last.or_else(|| self.dispatch())
    }

    fn line(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.name = Some(value.to_string()),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<Event> {
        let name = self.name.take();
        if !std::mem::take(&mut self.has_data) {
            return None;
        }
        Some(Event {
            name,
            data: std::mem::take(&mut self.data),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all(chunks: &[&[u8]]) -> Vec<Event> {
        let mut p = Parser::default();
        let mut out: Vec<Event> = chunks.iter().flat_map(|c| p.push(c)).collect();
        out.extend(p.finish());
        out
    }

    fn event(name: Option<&str>, data: &str) -> Event {
        Event {
            name: name.map(str::to_string),
            data: data.to_string(),
        }
    }

    #[test]
    fn fields_comments_and_line_endings() {
        let text = b": keep-alive\r\nevent: message_start\r\ndata: {\"a\":1}\r\n\r\n\
                     data:no space\ndata:  two spaces\n\n\
                     event: ping\n\n\
                     id: 7\rdata\r\rdata: [DONE]\n\n";
        assert_eq!(
            all(&[text]),
            vec![
                event(Some("message_start"), "{\"a\":1}"),
                event(None, "no space\n two spaces"),
                event(None, ""),
                event(None, "[DONE]"),
            ]
        );
    }

    #[test]
    fn a_cr_split_from_its_lf_is_one_line_end() {
        assert_eq!(
            all(&[b"data: a\r", b"\n\r", b"\ndata: b\n\n"]),
            vec![event(None, "a"), event(None, "b")]
        );
    }

    #[test]
    fn an_unterminated_last_event_is_dispatched() {
        assert_eq!(all(&[b"data: x\n"]), vec![event(None, "x")]);
        assert_eq!(all(&[b"data: y"]), vec![event(None, "y")]);
        assert_eq!(all(&[b"event: only\n"]), vec![]);
    }

    fn encode(events: &[Event], ending: &str) -> String {
        let mut out = String::new();
        for e in events {
            out.push_str(&format!(": comment{ending}"));
            if let Some(name) = &e.name {
                out.push_str(&format!("event: {name}{ending}"));
            }
            for line in e.data.split('\n') {
                out.push_str(&format!("data: {line}{ending}"));
            }
            out.push_str(ending);
        }
        out
    }

    fn arb_events() -> impl Strategy<Value = Vec<Event>> {
        let name = proptest::option::of("[a-z_]{1,12}");
        // Data of any characters but CR and LF within a line, lines joined by LF.
        let data = proptest::collection::vec("[^\r\n]{0,20}", 1..4).prop_map(|l| l.join("\n"));
        proptest::collection::vec(
            (name, data).prop_map(|(name, data)| Event { name, data }),
            0..6,
        )
    }

    proptest! {
        #[test]
        fn any_split_of_a_stream_parses_the_same(
            events in arb_events(),
            ending in prop::sample::select(vec!["\n", "\r\n", "\r"]),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let bytes = encode(&events, ending).into_bytes();
            let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
            at.push(0);
            at.push(bytes.len());
            at.sort_unstable();
            let chunks: Vec<&[u8]> = at.windows(2).map(|w| &bytes[w[0]..w[1]]).collect();
            prop_assert_eq!(all(&chunks), events);
        }
    }
}
