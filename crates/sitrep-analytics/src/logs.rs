//! Streaming log-template mining.
//!
//! A Drain-style fixed-depth parse tree (He et al., ICWS 2017) with three additions that
//! make one shared configuration work across systems:
//!
//! * **Masking rules** applied per token before matching: any token holding a digit, a
//!   hex/ID-like token, or an IP/URL/path-like token is a variable. Masked tokens are
//!   compared as `<*>`. The rules are the same for every input.
//! * **Rendering** keeps the constant text around a variable (`blk_<*>`, `(HWID=<*>)`),
//!   learnt as the common prefix/suffix of the values seen at that position.
//! * **Length-tolerant merge** at summary time: clusters whose templates are equal once
//!   runs of `<*>` are collapsed are merged (variables that span a different number of
//!   words, e.g. empty user names, no longer split one event into several).
//!
//! Memory is bounded: at most `max_clusters` templates (least recently seen evicted),
//! `max_children` children per tree node and `max_examples` examples per template.

use serde::Serialize;
use std::collections::HashMap;

/// Wildcard token id.
const WILD: u32 = 0;

/// Miner configuration. The defaults are the one shared configuration used for every
/// system in the LogHub benchmark.
#[derive(Debug, Clone)]
pub struct MinerConfig {
    /// Tree depth including the length level and the leaf level (Drain's `depth`).
    pub depth: usize,
    /// Similarity threshold for joining a cluster (fraction of equal constant tokens).
    pub sim_threshold: f64,
    /// Maximum children per inner tree node (extra tokens go to the `<*>` child).
    pub max_children: usize,
    /// Maximum number of clusters kept (least recently seen evicted beyond this).
    pub max_clusters: usize,
    /// Distinct example variable-value tuples kept per template.
    pub max_examples: usize,
}

impl Default for MinerConfig {
    fn default() -> Self {
        MinerConfig {
            depth: 4,
            sim_threshold: 0.7,
            max_children: 100,
            max_clusters: 10_000,
            max_examples: 3,
        }
    }
}

const DATE_WORDS: [&str; 19] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", "mon",
    "tue", "wed", "thu", "fri", "sat", "sun",
];

/// Is this sub-token (a piece of a whitespace token between delimiters) a variable by the
/// shared masking rules? Digits, URLs, absolute paths, month and weekday names.
pub fn is_variable_part(part: &str) -> bool {
    let b = part.as_bytes();
    if b.iter().any(u8::is_ascii_digit) {
        return true;
    }
    if part.contains("://") || (b.first() == Some(&b'/') && b[1..].contains(&b'/')) {
        return true;
    }
    if b.len() == 3 && DATE_WORDS.iter().any(|w| part.eq_ignore_ascii_case(w)) {
        return true;
    }
    false
}

/// Delimiters that split a whitespace token into parts for masking.
fn is_delim(c: char) -> bool {
    matches!(
        c,
        '=' | ',' | ';' | '(' | ')' | '[' | ']' | '{' | '}' | '<' | '>' | '"' | '\'' | '|' | '#'
    )
}

/// Canonical form of a whitespace token: variable parts replaced by `<*>`. Returns
/// `None` when every alphanumeric part is variable (the whole token is a wildcard).
pub fn canonical_token(tok: &str, out: &mut String) -> bool {
    out.clear();
    let mut any_const = false;
    let mut start = 0usize;
    let push_part = |out: &mut String, part: &str, any_const: &mut bool| {
        if part.is_empty() {
            return;
        }
        if is_variable_part(part) {
            if !out.ends_with("<*>") {
                out.push_str("<*>");
            }
        } else {
            if part.bytes().any(|c| c.is_ascii_alphabetic()) {
                *any_const = true;
            }
            out.push_str(part);
        }
    };
    for (i, c) in tok.char_indices() {
        if is_delim(c) {
            push_part(out, &tok[start..i], &mut any_const);
            out.push(c);
            start = i + c.len_utf8();
        }
    }
    push_part(out, &tok[start..], &mut any_const);
    any_const || !out.contains("<*>")
}

/// Is this whitespace token entirely a variable by the shared masking rules?
pub fn is_variable_token(tok: &str) -> bool {
    let mut s = String::new();
    !canonical_token(tok, &mut s)
}

#[derive(Debug, Clone)]
struct PositionVar {
    /// Common prefix/suffix of all values seen at a variable position (for rendering).
    prefix: String,
    suffix: String,
    seen: bool,
}

/// One mined template.
#[derive(Debug, Clone)]
struct Cluster {
    tokens: Vec<u32>,
    vars: Vec<Option<PositionVar>>, // per position, Some when the position is a variable
    count: u64,
    first_seen: u64,
    last_seen: u64,
    examples: Vec<Vec<String>>,
    alive: bool,
}

#[derive(Debug, Default)]
struct Node {
    children: HashMap<u32, usize>,
    clusters: Vec<usize>,
}

/// The streaming template miner.
#[derive(Debug)]
pub struct TemplateMiner {
    cfg: MinerConfig,
    nodes: Vec<Node>,
    roots: HashMap<usize, usize>, // token count -> node
    clusters: Vec<Cluster>,
    live: usize,
    interner: HashMap<String, u32>,
    strings: Vec<String>,
    seq: u64,
    lines: u64,
    chars: u64,
    // reusable buffers (no per-line allocation of these)
    ids: Vec<u32>,
    spans: Vec<(usize, usize)>,
    canon: String,
}

impl TemplateMiner {
    pub fn new(cfg: MinerConfig) -> Self {
        TemplateMiner {
            cfg,
            nodes: Vec::new(),
            roots: HashMap::new(),
            clusters: Vec::new(),
            live: 0,
            interner: HashMap::new(),
            strings: vec!["<*>".to_string()],
            seq: 0,
            lines: 0,
            chars: 0,
            ids: Vec::new(),
            spans: Vec::new(),
            canon: String::new(),
        }
    }

    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.interner.get(s) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(s.to_string());
        self.interner.insert(s.to_string(), id);
        id
    }

    /// Add one line, using an internal sequence number as its time. Returns the cluster id.
    pub fn add(&mut self, line: &str) -> usize {
        let t = self.seq;
        self.add_at(line, t)
    }

    /// Add one line observed at `time` (any monotone number the caller chooses: a line
    /// number or a unix timestamp). Returns the cluster id the line joined.
    pub fn add_at(&mut self, line: &str, time: u64) -> usize {
        self.seq += 1;
        self.lines += 1;
        self.chars += line.chars().count() as u64 + 1;
        let line = line.trim_end_matches(['\r', '\n']);
        self.spans.clear();
        let mut start = None;
        for (i, c) in line.char_indices() {
            if c.is_whitespace() {
                if let Some(s) = start.take() {
                    self.spans.push((s, i));
                }
            } else if start.is_none() {
                start = Some(i);
            }
        }
        if let Some(s) = start {
            self.spans.push((s, line.len()));
        }
        let mut ids = std::mem::take(&mut self.ids);
        ids.clear();
        for k in 0..self.spans.len() {
            let (a, b) = self.spans[k];
            let tok = &line[a..b];
            let mut canon = std::mem::take(&mut self.canon);
            let id = if canonical_token(tok, &mut canon) {
                self.intern(&canon)
            } else {
                WILD
            };
            self.canon = canon;
            ids.push(id);
        }
        let cid = self.place(&ids, line, time);
        self.ids = ids;
        cid
    }

    fn leaf_for(&mut self, ids: &[u32]) -> usize {
        let n = ids.len();
        let root = match self.roots.get(&n) {
            Some(&r) => r,
            None => {
                self.nodes.push(Node::default());
                let r = self.nodes.len() - 1;
                self.roots.insert(n, r);
                r
            }
        };
        let mut node = root;
        let levels = self.cfg.depth.saturating_sub(2).min(n);
        for &tok in ids.iter().take(levels) {
            let known = self.nodes[node].children.contains_key(&tok);
            let room = self.nodes[node].children.len() + 1 < self.cfg.max_children;
            let key = if known || (tok != WILD && room) {
                tok
            } else {
                WILD
            };
            node = match self.nodes[node].children.get(&key) {
                Some(&c) => c,
                None => {
                    self.nodes.push(Node::default());
                    let c = self.nodes.len() - 1;
                    self.nodes[node].children.insert(key, c);
                    c
                }
            };
        }
        node
    }

    /// Fraction of the template's constant tokens that the line repeats at the same
    /// position (wildcard positions are ignored), and the number of wildcards.
    fn similarity(tmpl: &[u32], ids: &[u32]) -> (f64, usize) {
        let mut same = 0usize;
        let mut wild = 0usize;
        for (&a, &b) in tmpl.iter().zip(ids) {
            if a == WILD {
                wild += 1;
            } else if a == b {
                same += 1;
            }
        }
        let consts = tmpl.len() - wild;
        if consts == 0 {
            return (1.0, wild);
        }
        (same as f64 / consts as f64, wild)
    }

    fn place(&mut self, ids: &[u32], line: &str, time: u64) -> usize {
        let leaf = self.leaf_for(ids);
        let mut best: Option<(usize, f64, usize)> = None;
        for &c in &self.nodes[leaf].clusters {
            let cl = &self.clusters[c];
            if !cl.alive {
                continue;
            }
            let (sim, wild) = Self::similarity(&cl.tokens, ids);
            if best.is_none_or(|(_, bs, bw)| sim > bs || (sim == bs && wild > bw)) {
                best = Some((c, sim, wild));
            }
        }
        let cid = match best {
            Some((c, sim, _))
                if sim >= self.cfg.sim_threshold
                    || (ids.iter().all(|&t| t == WILD)
                        && self.clusters[c].tokens.iter().all(|&t| t == WILD)) =>
            {
                let cl = &mut self.clusters[c];
                for (k, &t) in ids.iter().enumerate() {
                    if cl.tokens[k] != t && cl.tokens[k] != WILD {
                        cl.tokens[k] = WILD;
                    }
                }
                c
            }
            _ => {
                if self.live >= self.cfg.max_clusters {
                    self.evict_oldest();
                }
                self.clusters.push(Cluster {
                    tokens: ids.to_vec(),
                    vars: vec![None; ids.len()],
                    count: 0,
                    first_seen: time,
                    last_seen: time,
                    examples: Vec::new(),
                    alive: true,
                });
                self.live += 1;
                let c = self.clusters.len() - 1;
                self.nodes[leaf].clusters.push(c);
                c
            }
        };
        // Update stats, per-position variable shapes and examples.
        let max_ex = self.cfg.max_examples;
        let spans = &self.spans;
        let cl = &mut self.clusters[cid];
        cl.count += 1;
        cl.first_seen = cl.first_seen.min(time);
        cl.last_seen = cl.last_seen.max(time);
        let mut values: Option<Vec<String>> = None;
        let want_example = cl.examples.len() < max_ex;
        for k in 0..cl.tokens.len() {
            if cl.tokens[k] != WILD {
                continue;
            }
            let (a, b) = spans[k];
            let v = &line[a..b];
            let pv = cl.vars[k].get_or_insert_with(|| PositionVar {
                prefix: String::new(),
                suffix: String::new(),
                seen: false,
            });
            update_affixes(pv, v);
            if want_example {
                values.get_or_insert_with(Vec::new).push(v.to_string());
            }
        }
        if let Some(v) = values {
            if !cl.examples.contains(&v) {
                cl.examples.push(v);
            }
        }
        cid
    }

    fn evict_oldest(&mut self) {
        if let Some((i, _)) = self
            .clusters
            .iter()
            .enumerate()
            .filter(|(_, c)| c.alive)
            .min_by_key(|(_, c)| c.last_seen)
        {
            self.clusters[i].alive = false;
            self.live -= 1;
        }
    }

    /// Number of lines seen.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    fn render(&self, c: &Cluster) -> String {
        let mut out = String::new();
        for (k, &t) in c.tokens.iter().enumerate() {
            if k > 0 {
                out.push(' ');
            }
            if t == WILD {
                match &c.vars[k] {
                    Some(pv) if pv.seen => {
                        out.push_str(&pv.prefix);
                        out.push_str("<*>");
                        out.push_str(&pv.suffix);
                    }
                    _ => out.push_str("<*>"),
                }
            } else {
                out.push_str(&self.strings[t as usize]);
            }
        }
        out
    }

    /// Template key used for the length-tolerant merge: rendered template with runs of
    /// wildcard tokens collapsed to one.
    fn merge_key(&self, c: &Cluster) -> String {
        let mut out = String::new();
        let mut prev_wild = false;
        for &t in &c.tokens {
            let w = t == WILD;
            if w && prev_wild {
                continue;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(if w { "<*>" } else { &self.strings[t as usize] });
            prev_wild = w;
        }
        out
    }

    /// Final group id of every cluster after the length-tolerant merge
    /// (index = cluster id returned by [`add`](Self::add)).
    pub fn group_ids(&self) -> Vec<usize> {
        let mut by_key: HashMap<String, usize> = HashMap::new();
        let mut out = Vec::with_capacity(self.clusters.len());
        for (i, c) in self.clusters.iter().enumerate() {
            let key = self.merge_key(c);
            // only merge templates that contain at least one constant token
            let g = if c.tokens.iter().any(|&t| t != WILD) {
                *by_key.entry(key).or_insert(i)
            } else {
                i
            };
            out.push(g);
        }
        out
    }

    /// Rendered template of every cluster id (after the merge, the group's representative).
    pub fn templates(&self) -> Vec<String> {
        let g = self.group_ids();
        g.iter().map(|&r| self.render(&self.clusters[r])).collect()
    }

    /// Compact summary: templates with counts, first/last seen and example values, most
    /// frequent first.
    pub fn summary(&self) -> LogSummary {
        let groups = self.group_ids();
        let mut acc: HashMap<usize, TemplateSummary> = HashMap::new();
        for (i, c) in self.clusters.iter().enumerate() {
            if !c.alive {
                continue;
            }
            let g = groups[i];
            let e = acc.entry(g).or_insert_with(|| TemplateSummary {
                template: self.render(&self.clusters[g]),
                count: 0,
                first_seen: u64::MAX,
                last_seen: 0,
                examples: Vec::new(),
            });
            e.count += c.count;
            e.first_seen = e.first_seen.min(c.first_seen);
            e.last_seen = e.last_seen.max(c.last_seen);
            for ex in &c.examples {
                if e.examples.len() < self.cfg.max_examples && !e.examples.contains(ex) {
                    e.examples.push(ex.clone());
                }
            }
        }
        let mut templates: Vec<TemplateSummary> = acc.into_values().collect();
        templates.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(a.first_seen.cmp(&b.first_seen))
                .then(a.template.cmp(&b.template))
        });
        LogSummary {
            lines: self.lines,
            input_chars: self.chars,
            templates,
        }
    }
}

fn update_affixes(pv: &mut PositionVar, v: &str) {
    if !pv.seen {
        // Single value: constant text around the first/last digit run.
        let (p, s) = split_single(v);
        pv.prefix = p.to_string();
        pv.suffix = s.to_string();
        pv.seen = true;
        return;
    }
    if !v.starts_with(pv.prefix.as_str()) {
        let n = common_prefix_len(&pv.prefix, v);
        pv.prefix.truncate(n);
    }
    if !v.ends_with(pv.suffix.as_str()) || v.len() < pv.prefix.len() + pv.suffix.len() {
        let n = common_suffix_len(&pv.suffix, v).min(v.len().saturating_sub(pv.prefix.len()));
        let cut = pv.suffix.len() - n;
        pv.suffix.drain(..cut);
    }
    // Affixes end at a non-alphanumeric boundary so that `user=ro<*>` cannot happen.
    while pv
        .prefix
        .as_bytes()
        .last()
        .is_some_and(|c| c.is_ascii_alphanumeric())
    {
        pv.prefix.pop();
    }
    while pv
        .suffix
        .as_bytes()
        .first()
        .is_some_and(|c| c.is_ascii_alphanumeric())
    {
        pv.suffix.remove(0);
    }
}

/// For a single observed value, the constant prefix is the text up to and including the
/// last non-alphanumeric char before the first digit; the suffix the trailing punctuation.
fn split_single(v: &str) -> (&str, &str) {
    let b = v.as_bytes();
    let Some(first_digit) = b.iter().position(u8::is_ascii_digit) else {
        return ("", "");
    };
    let p_end = b[..first_digit]
        .iter()
        .rposition(|c| !c.is_ascii_alphanumeric())
        .map(|i| i + 1)
        .unwrap_or(0);
    let s_start = b
        .iter()
        .rposition(|c| c.is_ascii_alphanumeric())
        .map(|i| i + 1)
        .unwrap_or(b.len())
        .max(p_end);
    (&v[..p_end], &v[s_start..])
}

fn common_prefix_len(a: &str, b: &str) -> usize {
    let mut n = 0;
    for ((i, x), y) in a.char_indices().zip(b.chars()) {
        if x != y {
            return i;
        }
        n = i + x.len_utf8();
    }
    n
}

fn common_suffix_len(a: &str, b: &str) -> usize {
    let mut n = 0;
    for (x, y) in a.chars().rev().zip(b.chars().rev()) {
        if x != y {
            break;
        }
        n += x.len_utf8();
    }
    n
}

/// One template of a [`LogSummary`].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TemplateSummary {
    pub template: String,
    pub count: u64,
    pub first_seen: u64,
    pub last_seen: u64,
    /// Up to `max_examples` distinct tuples of the values at the `<*>` positions.
    pub examples: Vec<Vec<String>>,
}

/// What a diagnostic hands the reasoner instead of the raw lines.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogSummary {
    pub lines: u64,
    pub input_chars: u64,
    pub templates: Vec<TemplateSummary>,
}

impl LogSummary {
    /// Human/LLM-readable rendering: one line per template.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for t in &self.templates {
            out.push_str(&format!("{:>6}  {}", t.count, t.template));
            if let Some(ex) = t.examples.first() {
                if !ex.is_empty() {
                    out.push_str("  e.g. ");
                    out.push_str(&ex.join(" | "));
                }
            }
            out.push('\n');
        }
        out
    }

    /// Input characters / summary characters.
    pub fn reduction_ratio(&self) -> f64 {
        let s = self.render_text().chars().count().max(1);
        self.input_chars as f64 / s as f64
    }
}

/// Mine a whole excerpt at once (lines numbered from 1).
pub fn summarize(text: &str, cfg: MinerConfig) -> LogSummary {
    let mut m = TemplateMiner::new(cfg);
    for (i, line) in text.lines().enumerate() {
        if !line.trim().is_empty() {
            m.add_at(line, i as u64 + 1);
        }
    }
    m.summary()
}

/// Grouping accuracy (Zhu et al.): a line is correct when the set of lines in its
/// predicted group equals the set of lines in its ground-truth group.
pub fn grouping_accuracy<P: Eq + std::hash::Hash, G: Eq + std::hash::Hash + Clone>(
    pred: &[P],
    truth: &[G],
) -> f64 {
    assert_eq!(pred.len(), truth.len());
    if pred.is_empty() {
        return 1.0;
    }
    let mut truth_size: HashMap<&G, usize> = HashMap::new();
    for g in truth {
        *truth_size.entry(g).or_default() += 1;
    }
    let mut pred_groups: HashMap<&P, Vec<usize>> = HashMap::new();
    for (i, p) in pred.iter().enumerate() {
        pred_groups.entry(p).or_default().push(i);
    }
    let mut correct = 0usize;
    for lines in pred_groups.values() {
        let g = &truth[lines[0]];
        if lines.iter().all(|&i| &truth[i] == g) && truth_size[g] == lines.len() {
            correct += lines.len();
        }
    }
    correct as f64 / pred.len() as f64
}

/// Normalise a template for parsing-accuracy comparison: collapse whitespace and
/// adjacent wildcards.
pub fn normalize_template(t: &str) -> String {
    let mut s = t.split_whitespace().collect::<Vec<_>>().join(" ");
    while s.contains("<*><*>") {
        s = s.replace("<*><*>", "<*>");
    }
    s
}

/// Parsing accuracy: fraction of lines whose template equals the ground truth template.
pub fn parsing_accuracy(pred: &[String], truth: &[String]) -> f64 {
    assert_eq!(pred.len(), truth.len());
    if pred.is_empty() {
        return 1.0;
    }
    let ok = pred
        .iter()
        .zip(truth)
        .filter(|(p, t)| normalize_template(p) == normalize_template(t))
        .count();
    ok as f64 / pred.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_lines_differing_in_numbers() {
        let mut m = TemplateMiner::new(MinerConfig::default());
        let a = m.add("PacketResponder 1 for block blk_123 terminating");
        let b = m.add("PacketResponder 2 for block blk_456 terminating");
        let c = m.add("Receiving block blk_789 src: /10.0.0.1:50010 dest: /10.0.0.2:50010");
        assert_eq!(a, b);
        assert_ne!(a, c);
        let s = m.summary();
        assert_eq!(s.templates.len(), 2);
        assert_eq!(
            s.templates[0].template,
            "PacketResponder <*> for block blk_<*> terminating"
        );
        assert_eq!(s.templates[0].count, 2);
        assert_eq!(s.templates[0].first_seen, 0);
        assert_eq!(s.templates[0].last_seen, 1);
        assert_eq!(s.templates[0].examples[0], vec!["1", "blk_123"]);
    }

    #[test]
    fn variable_constants_become_wildcards() {
        let mut m = TemplateMiner::new(MinerConfig::default());
        m.add("session opened for user root by admin");
        m.add("session opened for user guest by admin");
        let s = m.summary();
        assert_eq!(s.templates.len(), 1);
        assert_eq!(
            s.templates[0].template,
            "session opened for user <*> by admin"
        );
    }

    #[test]
    fn length_tolerant_merge() {
        let mut m = TemplateMiner::new(MinerConfig::default());
        m.add("Invalid user 1a from 10.0.0.1");
        m.add("Invalid user 1a 2b from 10.0.0.1");
        assert_eq!(m.summary().templates.len(), 1);
    }

    #[test]
    fn bounded_clusters() {
        let mut m = TemplateMiner::new(MinerConfig {
            max_clusters: 5,
            ..MinerConfig::default()
        });
        for i in 0..100 {
            m.add(&format!(
                "event{} alpha beta gamma {}",
                ["a", "b", "c", "d", "e", "f", "g"][i % 7],
                "x".repeat(i % 3 + 1)
            ));
        }
        assert!(m.summary().templates.len() <= 5);
    }

    #[test]
    fn accuracy_metrics() {
        assert_eq!(grouping_accuracy(&[1, 1, 2], &["a", "a", "b"]), 1.0);
        assert!((grouping_accuracy(&[1, 1, 1], &["a", "a", "b"]) - 0.0).abs() < 1e-12);
        assert!((grouping_accuracy(&[1, 2, 3], &["a", "a", "b"]) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(
            parsing_accuracy(&["a <*> <*>".into()], &["a  <*> <*>".into()]),
            1.0
        );
    }

    #[test]
    fn summary_is_smaller() {
        let text: String = (0..1000)
            .map(|i| format!("worker {i} finished job {} in {} ms\n", i * 7, i % 13))
            .collect();
        let s = summarize(&text, MinerConfig::default());
        assert_eq!(s.templates.len(), 1);
        assert!(s.reduction_ratio() > 100.0);
    }
}
