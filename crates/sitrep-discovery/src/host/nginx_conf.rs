//! What the host indexer needs from an nginx configuration: its logs, the stub_status path,
//! the upstream addresses it proxies to (a dependency even while no request is in flight, and
//! which of them speak HTTP), and its TLS listeners. A light scan of directives, not a full
//! parser: comments stripped, `include` followed one level by the caller, then [`NginxConf::finish`].

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NginxConf {
    /// The main file, as the master was started with.
    pub path: Option<String>,
    pub error_log: Option<String>,
    pub access_log: Option<String>,
    pub status_path: Option<String>,
    /// `host:port` of `upstream { server ...; }` entries and `proxy_pass http://host:port`.
    pub upstreams: Vec<String>,
    /// The upstreams reached with `proxy_pass http(s)://` (directly or through an upstream
    /// block): HTTP servers, whether or not they answer now.
    pub http_upstreams: Vec<String>,
    /// Ports of `listen ... ssl` directives.
    pub tls_ports: Vec<u16>,
    pub includes: Vec<String>,
    /// `upstream NAME { server ...; }` blocks, by name.
    blocks: BTreeMap<String, Vec<String>>,
    /// (scheme, target) of every `*_pass`: a block name or a `host:port`.
    passes: Vec<(String, String)>,
}

impl NginxConf {
    /// Folds an included file into this one.
    pub fn absorb(&mut self, sub: NginxConf) {
        self.error_log = self.error_log.take().or(sub.error_log);
        self.access_log = self.access_log.take().or(sub.access_log);
        self.status_path = self.status_path.take().or(sub.status_path);
        self.tls_ports.extend(sub.tls_ports);
        for (k, v) in sub.blocks {
            self.blocks.entry(k).or_default().extend(v);
        }
        self.passes.extend(sub.passes);
    }

    /// Resolves `*_pass` targets against the upstream blocks of every file read.
    pub fn finish(&mut self) {
        let mut all = vec![];
        let mut http = vec![];
        for servers in self.blocks.values() {
            all.extend(servers.iter().cloned());
        }
        for (scheme, target) in &self.passes {
            let servers = match self.blocks.get(target) {
                Some(s) => s.clone(),
                None if target.contains(':') => vec![target.clone()],
                None => vec![],
            };
            if scheme == "http" || scheme == "https" {
                http.extend(servers.iter().cloned());
            }
            all.extend(servers);
        }
        for v in [&mut all, &mut http] {
            v.sort();
            v.dedup();
        }
        self.upstreams = all;
        self.http_upstreams = http;
        self.tls_ports.sort_unstable();
        self.tls_ports.dedup();
    }
}

pub fn parse(text: &str) -> NginxConf {
    let mut c = NginxConf::default();
    let clean: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    // Statements end at ';', '{' or '}'; the last location seen names a stub_status.
    let mut location: Option<String> = None;
    let mut upstream: Option<String> = None;
    let mut in_upstream = false;
    let mut depth_upstream = 0usize;
    let mut depth = 0usize;
    let mut stmt = String::new();
    for ch in clean.chars() {
        match ch {
            '{' => {
                let words: Vec<&str> = stmt.split_whitespace().collect();
                if words.first() == Some(&"location") {
                    location = words.last().map(|s| s.to_string());
                }
                if words.first() == Some(&"upstream") {
                    upstream = words.get(1).map(|s| s.to_string());
                    in_upstream = true;
                    depth_upstream = depth + 1;
                }
                depth += 1;
                stmt.clear();
            }
            '}' => {
                statement(
                    &mut c,
                    &stmt,
                    location.as_deref(),
                    upstream.as_deref().filter(|_| in_upstream),
                );
                if in_upstream && depth == depth_upstream {
                    in_upstream = false;
                }
                depth = depth.saturating_sub(1);
                stmt.clear();
            }
            ';' => {
                statement(
                    &mut c,
                    &stmt,
                    location.as_deref(),
                    upstream.as_deref().filter(|_| in_upstream),
                );
                stmt.clear();
            }
            _ => stmt.push(ch),
        }
    }
    c
}

fn statement(c: &mut NginxConf, stmt: &str, location: Option<&str>, upstream: Option<&str>) {
    let words: Vec<&str> = stmt.split_whitespace().collect();
    match words.as_slice() {
        ["error_log", path, ..] if c.error_log.is_none() => c.error_log = Some(path.to_string()),
        ["access_log", path, ..] if c.access_log.is_none() && *path != "off" => {
            c.access_log = Some(path.to_string())
        }
        ["stub_status", ..] => {
            if let Some(l) = location {
                c.status_path = Some(l.to_string());
            }
        }
        ["server", addr, ..] if upstream.is_some() => {
            if addr.contains(':') && !addr.starts_with("unix:") {
                c.blocks
                    .entry(upstream.unwrap_or_default().to_string())
                    .or_default()
                    .push(addr.to_string());
            }
        }
        [pass, target, ..] if pass.ends_with("_pass") => {
            let (scheme, rest) = match target.split_once("://") {
                Some((s, r)) => (s.to_string(), r),
                // fastcgi_pass/uwsgi_pass/scgi_pass name the upstream directly.
                None => (pass.trim_end_matches("_pass").to_string(), *target),
            };
            let hostport = rest.split('/').next().unwrap_or("");
            if !hostport.is_empty() && !hostport.starts_with("unix:") && !hostport.contains('$') {
                c.passes.push((scheme, hostport.to_string()));
            }
        }
        ["listen", addr, rest @ ..] if rest.contains(&"ssl") => {
            let port = addr.rsplit(':').next().unwrap_or(addr);
            if let Ok(p) = port.parse::<u16>() {
                c.tls_ports.push(p);
            }
        }
        ["include", path] => c.includes.push(path.to_string()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_shaped_config() {
        let mut c = parse(
            "error_log /x/error.log warn;\nhttp {\n  access_log /x/access.log sandbox; # comment ; {\n  include /x/upstream.conf;\n  server { listen 127.0.0.1:28080;\n    location = /nginx_status { stub_status; allow 127.0.0.1; }\n    location / { proxy_pass http://shop; }\n    location /api { proxy_pass http://127.0.0.1:9000/v1; }\n    location /php { fastcgi_pass 127.0.0.1:9001; }\n  }\n  server { listen 127.0.0.1:28443 ssl; listen [::]:8443 ssl http2; listen 8080; }\n}\n",
        );
        // The upstream block lives in the included file.
        c.absorb(parse(
            "upstream shop { server 127.0.0.1:28000 max_fails=0; keepalive 8; }\n",
        ));
        c.finish();
        assert_eq!(c.error_log.as_deref(), Some("/x/error.log"));
        assert_eq!(c.access_log.as_deref(), Some("/x/access.log"));
        assert_eq!(c.status_path.as_deref(), Some("/nginx_status"));
        assert_eq!(
            c.upstreams,
            vec!["127.0.0.1:28000", "127.0.0.1:9000", "127.0.0.1:9001"]
        );
        assert_eq!(c.http_upstreams, vec!["127.0.0.1:28000", "127.0.0.1:9000"]);
        assert_eq!(c.tls_ports, vec![8443, 28443]);
        assert_eq!(c.includes, vec!["/x/upstream.conf"]);
    }

    #[test]
    fn server_outside_upstream_is_not_an_upstream() {
        let mut c = parse("http { server { listen 80; server_name a:b; } }");
        c.finish();
        assert!(c.upstreams.is_empty());
    }
}
