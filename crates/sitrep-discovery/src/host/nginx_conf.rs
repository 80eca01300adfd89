//! What the host indexer needs from an nginx configuration: its logs, the stub_status path,
//! and the upstream addresses it proxies to (a dependency even while no request is in flight).
//! A light scan of directives, not a full parser: comments stripped, `include` followed one
//! level by the caller.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NginxConf {
    /// The main file, as the master was started with.
    pub path: Option<String>,
    pub error_log: Option<String>,
    pub access_log: Option<String>,
    pub status_path: Option<String>,
    /// `host:port` of `upstream { server ...; }` entries and `proxy_pass http://host:port`.
    pub upstreams: Vec<String>,
    pub includes: Vec<String>,
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
                    in_upstream = true;
                    depth_upstream = depth + 1;
                }
                depth += 1;
                stmt.clear();
            }
            '}' => {
                statement(&mut c, &stmt, location.as_deref(), in_upstream);
                if in_upstream && depth == depth_upstream {
                    in_upstream = false;
                }
                depth = depth.saturating_sub(1);
                stmt.clear();
            }
            ';' => {
                statement(&mut c, &stmt, location.as_deref(), in_upstream);
                stmt.clear();
            }
            _ => stmt.push(ch),
        }
    }
    c.upstreams.sort();
    c.upstreams.dedup();
    c
}

fn statement(c: &mut NginxConf, stmt: &str, location: Option<&str>, in_upstream: bool) {
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
        ["server", addr, ..] if in_upstream => {
            if addr.contains(':') && !addr.starts_with("unix:") {
                c.upstreams.push(addr.to_string());
            }
        }
        ["proxy_pass", url, ..] => {
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"))
                .unwrap_or("");
            let hostport = rest.split('/').next().unwrap_or("");
            if hostport.contains(':') {
                c.upstreams.push(hostport.to_string());
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
        let c = parse(
            "error_log /x/error.log warn;\nhttp {\n  access_log /x/access.log sandbox; # comment ; {\n  include /x/upstream.conf;\n  upstream shop { server 127.0.0.1:28000 max_fails=0; keepalive 8; }\n  server { listen 127.0.0.1:28080;\n    location = /nginx_status { stub_status; allow 127.0.0.1; }\n    location / { proxy_pass http://shop; }\n    location /api { proxy_pass http://127.0.0.1:9000/v1; }\n  }\n}\n",
        );
        assert_eq!(c.error_log.as_deref(), Some("/x/error.log"));
        assert_eq!(c.access_log.as_deref(), Some("/x/access.log"));
        assert_eq!(c.status_path.as_deref(), Some("/nginx_status"));
        assert_eq!(c.upstreams, vec!["127.0.0.1:28000", "127.0.0.1:9000"]);
        assert_eq!(c.includes, vec!["/x/upstream.conf"]);
    }

    #[test]
    fn server_outside_upstream_is_not_an_upstream() {
        let c = parse("http { server { listen 80; server_name a:b; } }");
        assert!(c.upstreams.is_empty());
    }
}
