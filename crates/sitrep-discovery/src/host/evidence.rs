//! What a process's configuration says about the servers around it: the DSNs and URLs it is
//! configured to use (its environment, its command line, the configuration files its command
//! line names) and the addresses it is configured to listen on. Read whether or not those
//! servers are up right now, so a server that is down, restarting or crash-looping stays on
//! the map under the name it has when it is up.
//!
//! Pure: the callers read the files. Passwords never leave these functions: a [`Reference`]
//! holds scheme, host, port, database and user only.

use std::collections::BTreeSet;

/// A server a process is configured to talk to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    /// `postgres`, `redis`, `mysql`, `http` or `https`.
    pub kind: &'static str,
    pub host: String,
    pub port: u16,
    /// The database a PostgreSQL or MySQL DSN names.
    pub database: Option<String>,
    /// Where it was read: `env DATABASE_URL`, `argv`, `/etc/app.conf: database_url`.
    pub origin: String,
}

impl Reference {
    /// A data store (not an HTTP URL): a DSN is strong evidence that a server exists there.
    pub fn is_data_store(&self) -> bool {
        matches!(self.kind, "postgres" | "redis" | "mysql")
    }
}

/// An address a process's configuration says it listens on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Listen {
    pub host: String,
    pub port: u16,
}

/// Everything read about one process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub references: BTreeSet<Reference>,
    pub listens: BTreeSet<Listen>,
}

impl Facts {
    pub fn extend(&mut self, other: Facts) {
        self.references.extend(other.references);
        self.listens.extend(other.listens);
    }
    pub fn is_empty(&self) -> bool {
        self.references.is_empty() && self.listens.is_empty()
    }
}

/// Files read per process at most, and bytes per file: configuration, not data.
pub const MAX_CONFIG_FILES: usize = 4;
pub const MAX_CONFIG_BYTES: u64 = 256 * 1024;

fn scheme_kind(scheme: &str) -> Option<(&'static str, u16)> {
    // `postgresql+asyncpg`, `jdbc:postgresql`: the part that names the protocol.
    let s = scheme.rsplit(':').next().unwrap_or(scheme);
    let s = s.split('+').next().unwrap_or(s).to_ascii_lowercase();
    match s.as_str() {
        "postgres" | "postgresql" => Some(("postgres", 5432)),
        "redis" | "rediss" => Some(("redis", 6379)),
        "mysql" | "mariadb" => Some(("mysql", 3306)),
        "http" => Some(("http", 80)),
        "https" => Some(("https", 443)),
        _ => None,
    }
}

/// A kind named by a configuration key (`redis_addr`, `PG_HOST`, `mysql.address`).
fn key_kind(key: &str) -> Option<(&'static str, u16)> {
    let words: Vec<String> = key
        .to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let has = |w: &[&str]| words.iter().any(|x| w.contains(&x.as_str()));
    if has(&["redis", "valkey"]) {
        Some(("redis", 6379))
    } else if has(&["postgres", "postgresql", "pg", "pghost"]) {
        Some(("postgres", 5432))
    } else if has(&["mysql", "mariadb"]) {
        Some(("mysql", 3306))
    } else {
        None
    }
}

/// A key that names where the process itself listens (`listen`, `bind`, `http_addr`,
/// `web.listen-address`).
fn is_listen_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("listen")
        || k == "bind"
        || k.ends_with("bind_address")
        || k.ends_with("bind_addr")
        || k.ends_with("bind-address")
}

/// `host:port`, `[v6]:port` or `:port` (any address).
fn host_port(s: &str) -> Option<(String, u16)> {
    let s = s.trim().trim_matches(|c| c == '"' || c == '\'');
    if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest.split_once("]:")?;
        return Some((h.to_string(), p.parse().ok()?));
    }
    let (h, p) = s.rsplit_once(':')?;
    let port: u16 = p.parse().ok()?;
    if port == 0 || h.contains(['/', ' ', '@', ':']) {
        return None;
    }
    let host = if h.is_empty() || h == "*" {
        "0.0.0.0"
    } else {
        h
    };
    let plausible = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_');
    plausible.then(|| (host.to_string(), port))
}

/// Every `scheme://...` URL of a known scheme inside `text`.
fn urls(text: &str, origin: &str) -> Vec<Reference> {
    let mut out = vec![];
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        // The scheme: letters, digits, '+', '-', '.', ':' (jdbc:postgresql) before "://".
        let start = rest[..i]
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || "+-.:".contains(*c)))
            .map_or(0, |(p, c)| p + c.len_utf8());
        let scheme = rest[start..i].trim_start_matches(':');
        let tail = &rest[i + 3..];
        let end = tail
            .find(|c: char| c.is_whitespace() || "\"'`,;<>)(}{".contains(c))
            .unwrap_or(tail.len());
        if let Some(r) = url_reference(scheme, &tail[..end], origin) {
            out.push(r);
        }
        rest = &tail[end..];
    }
    out
}

fn url_reference(scheme: &str, after: &str, origin: &str) -> Option<Reference> {
    let (kind, default_port) = scheme_kind(scheme)?;
    let (authority, path) = match after.find(['/', '?']) {
        Some(i) => (&after[..i], &after[i..]),
        None => (after, ""),
    };
    // The user information (and any password in it) is dropped here.
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    // Several hosts (`h1:5432,h2:5432`): the first is the one to name.
    let hostport = hostport.split(',').next().unwrap_or("");
    let (host, port) = if hostport.starts_with('[') || hostport.contains(':') {
        host_port(hostport)?
    } else {
        (hostport.to_string(), default_port)
    };
    if host.is_empty() || host == "0.0.0.0" {
        return None;
    }
    let database = match kind {
        "postgres" | "mysql" => {
            let db = path
                .trim_start_matches('/')
                .split(['?', '/'])
                .next()
                .unwrap_or("");
            (!db.is_empty()).then(|| percent_decode(db))
        }
        _ => None,
    };
    Some(Reference {
        kind,
        host: host.to_ascii_lowercase(),
        port,
        database,
        origin: origin.to_string(),
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// libpq's `host=... port=... dbname=...`: a PostgreSQL server (a socket directory host is
/// this machine).
pub fn conninfo(text: &str, origin: &str) -> Option<Reference> {
    if !(text.contains("host=") || text.contains("port=") || text.contains("dbname=")) {
        return None;
    }
    let mut host = None;
    let mut port = None;
    let mut db = None;
    for kv in text.split_whitespace() {
        let Some((k, v)) = kv.split_once('=') else {
            continue;
        };
        let v = v.trim_matches('\'');
        match k {
            "host" | "hostaddr" => host = Some(v.split(',').next().unwrap_or(v).to_string()),
            "port" => port = v.split(',').next().and_then(|p| p.parse::<u16>().ok()),
            "dbname" => db = Some(v.to_string()),
            _ => {}
        }
    }
    let host = match host {
        Some(h) if h.starts_with('/') || h.is_empty() => "localhost".to_string(),
        Some(h) => h.to_ascii_lowercase(),
        None => "localhost".to_string(),
    };
    Some(Reference {
        kind: "postgres",
        host,
        port: port.unwrap_or(5432),
        database: db.filter(|d| !d.is_empty()),
        origin: origin.to_string(),
    })
}

/// What one `key = value` says.
pub fn key_value(key: &str, value: &str, origin: &str) -> Facts {
    let mut f = Facts::default();
    let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
    if value.contains("://") {
        f.references.extend(urls(value, origin));
        return f;
    }
    if is_listen_key(key) {
        for part in value.split([',', ' ']) {
            if let Some((host, port)) = host_port(part) {
                f.listens.insert(Listen { host, port });
            }
        }
        return f;
    }
    if let Some(r) = conninfo(value, origin) {
        f.references.insert(r);
        return f;
    }
    if let Some((kind, _)) = key_kind(key) {
        if let Some((host, port)) = host_port(value) {
            if host != "0.0.0.0" {
                f.references.insert(Reference {
                    kind,
                    host: host.to_ascii_lowercase(),
                    port,
                    database: None,
                    origin: origin.to_string(),
                });
            }
        }
    }
    f
}

/// `/proc/PID/environ`: NUL-separated `KEY=value`. libpq's `PGHOST`/`PGPORT`/`PGDATABASE`
/// make one PostgreSQL reference together.
pub fn environ(raw: &[u8]) -> Facts {
    let mut f = Facts::default();
    let mut pg: [Option<String>; 3] = [None, None, None];
    for entry in raw.split(|&b| b == 0) {
        let entry = String::from_utf8_lossy(entry);
        let Some((k, v)) = entry.split_once('=') else {
            continue;
        };
        match k {
            "PGHOST" => pg[0] = Some(v.to_string()),
            "PGPORT" => pg[1] = Some(v.to_string()),
            "PGDATABASE" => pg[2] = Some(v.to_string()),
            _ => {
                // Listen keys in the environment are too often defaults of libraries; only
                // what the process is told to use counts.
                if !is_listen_key(k) {
                    f.extend(key_value(k, v, &format!("env {k}")));
                }
            }
        }
    }
    if pg[0].is_some() || pg[1].is_some() {
        let text = format!(
            "host={} port={} dbname={}",
            pg[0].as_deref().unwrap_or(""),
            pg[1].as_deref().unwrap_or("5432"),
            pg[2].as_deref().unwrap_or("")
        );
        f.references.extend(conninfo(&text, "env PGHOST"));
    }
    f
}

/// The command line: `--flag=value`, `--flag value` and bare URLs.
pub fn argv(args: &[String]) -> Facts {
    let mut f = Facts::default();
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if let Some(flag) = a.strip_prefix('-') {
            let flag = flag.trim_start_matches('-');
            match flag.split_once('=') {
                Some((k, v)) => f.extend(key_value(k, v, "argv")),
                None => {
                    if let Some(v) = args.get(i + 1).filter(|v| !v.starts_with('-')) {
                        let got = key_value(flag, v, "argv");
                        if !got.is_empty() {
                            f.extend(got);
                            i += 1;
                        }
                    }
                }
            }
        } else if a.contains("://") {
            f.references.extend(urls(a, "argv"));
        }
        i += 1;
    }
    f
}

/// Configuration files a command line names: the value of `--config`, `-c`, `--config.file`,
/// `--conf`, `--env-file` and the like, and arguments that look like configuration files.
/// Relative paths are left to the caller (they depend on the process's working directory).
pub fn config_paths(args: &[String]) -> Vec<String> {
    const FLAGS: &[&str] = &[
        "config",
        "c",
        "conf",
        "config-file",
        "config_file",
        "config.file",
        "configfile",
        "settings",
        "env-file",
        "envfile",
    ];
    const EXTS: &[&str] = &[
        ".conf",
        ".cfg",
        ".ini",
        ".toml",
        ".yaml",
        ".yml",
        ".json",
        ".env",
        ".properties",
    ];
    let mut out = vec![];
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if let Some(flag) = a.strip_prefix('-') {
            let flag = flag.trim_start_matches('-');
            match flag.split_once('=') {
                Some((k, v)) if FLAGS.contains(&k) => out.push(v.to_string()),
                Some(_) => {}
                None if FLAGS.contains(&flag) => {
                    if let Some(v) = args.get(i + 1) {
                        out.push(v.clone());
                        i += 1;
                    }
                }
                None => {}
            }
        } else if EXTS.iter().any(|e| a.ends_with(e)) {
            out.push(a.clone());
        }
        i += 1;
    }
    out.retain(|p| !p.is_empty() && !p.contains(char::is_whitespace));
    out.dedup();
    out.truncate(MAX_CONFIG_FILES);
    out
}

/// A configuration file: every `key = value`, `key: value`, `key value` or `KEY=value` line
/// (INI, TOML, YAML, .env and most daemons' own formats).
pub fn config_text(text: &str, path: &str) -> Facts {
    let mut f = Facts::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';', '[', '/']) {
            continue;
        }
        let line = line.trim_start_matches("- ").trim_start_matches("export ");
        let key_end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || "_.-\"'".contains(c)))
            .unwrap_or(line.len());
        let key = line[..key_end].trim_matches(|c| c == '"' || c == '\'');
        let rest = line[key_end..].trim_start();
        let value = rest
            .strip_prefix('=')
            .or_else(|| rest.strip_prefix(':'))
            .unwrap_or(rest)
            .trim()
            .trim_end_matches([',', ';']);
        if key.is_empty() || value.is_empty() {
            continue;
        }
        // A trailing comment after the value.
        let value = match value.find(" #") {
            Some(i) if !value.starts_with(['"', '\'']) => value[..i].trim(),
            _ => value,
        };
        f.extend(key_value(key, value, &format!("{path}: {key}")));
    }
    f
}

/// A supervisor's command line often carries the command it runs (`supervise NAME -- CMD
/// ARGS`, `tini -- CMD`, `dumb-init CMD`): the arguments from the first one that is an
/// executable file (not the process's own program or script) on. `is_executable` checks the
/// file system.
pub fn embedded_command(
    args: &[String],
    own: &[&str],
    is_executable: impl Fn(&str) -> bool,
) -> Option<Vec<String>> {
    let start = args
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, a)| a.starts_with('/') && !own.contains(&a.as_str()) && is_executable(a))?
        .0;
    Some(args[start..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn dsns_and_urls_without_their_passwords() {
        let f = config_text(
            "# shop\nlisten = 127.0.0.1:28000\ndatabase_url = postgres://shop_app:hunter2@127.0.0.1:25432/shop\nredis_addr = 127.0.0.1:26379\ntimeout = 30\nlog_file = /x/y.log\n",
            "/etc/shop.conf",
        );
        let refs: Vec<_> = f.references.iter().collect();
        assert_eq!(refs.len(), 2, "{refs:?}");
        let pg = refs.iter().find(|r| r.kind == "postgres").unwrap();
        assert_eq!(
            (pg.host.as_str(), pg.port, pg.database.as_deref()),
            ("127.0.0.1", 25432, Some("shop"))
        );
        assert_eq!(pg.origin, "/etc/shop.conf: database_url");
        let redis = refs.iter().find(|r| r.kind == "redis").unwrap();
        assert_eq!(redis.port, 26379);
        assert_eq!(
            f.listens.iter().collect::<Vec<_>>(),
            vec![&Listen {
                host: "127.0.0.1".into(),
                port: 28000
            }]
        );
        assert!(!format!("{f:?}").contains("hunter2"));
    }

    #[test]
    fn formats() {
        let yaml = config_text(
            "db:\n  url: \"postgresql+asyncpg://app@db.internal/orders\"\ncache: {url: 'rediss://c:6380'}\n",
            "f",
        );
        let kinds: Vec<_> = yaml.references.iter().map(|r| (r.kind, r.port)).collect();
        assert_eq!(kinds, vec![("postgres", 5432), ("redis", 6380)]);
        let jdbc = config_text(
            "spring.datasource.url=jdbc:postgresql://10.0.0.5:5433/app?ssl=true",
            "f",
        );
        let r = jdbc.references.iter().next().unwrap();
        assert_eq!(
            (r.host.as_str(), r.port, r.database.as_deref()),
            ("10.0.0.5", 5433, Some("app"))
        );
        let ci = key_value(
            "primary_conninfo",
            "host=127.0.0.1 port=25432 user=replicator password=x application_name=r",
            "f",
        );
        let r = ci.references.iter().next().unwrap();
        assert_eq!(
            (r.kind, r.port, r.database.clone()),
            ("postgres", 25432, None)
        );
        let sock = conninfo("host=/var/run/postgresql dbname=app", "f").unwrap();
        assert_eq!((sock.host.as_str(), sock.port), ("localhost", 5432));
        // A bare `port` could be anyone's (an INI section's database port): not a listen.
        assert!(config_text("[database]\nhost=db\nport=5432\n", "r").is_empty());
    }

    #[test]
    fn environment_and_command_line() {
        let env = b"PATH=/usr/bin\0DATA_SOURCE_NAME=postgresql://postgres:pw@127.0.0.1:25432/postgres?sslmode=disable\0PGHOST=db\0PGPORT=6432\0PGDATABASE=app\0LISTEN_ADDR=0.0.0.0:1\0";
        let f = environ(env);
        let got: BTreeSet<(String, u16, Option<String>)> = f
            .references
            .iter()
            .map(|r| (r.host.clone(), r.port, r.database.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("127.0.0.1".to_string(), 25432, Some("postgres".to_string())),
                ("db".to_string(), 6432, Some("app".to_string()))
            ]
            .into_iter()
            .collect()
        );
        assert!(f.listens.is_empty());
        let a = argv(&s(&[
            "/usr/bin/prometheus-redis-exporter",
            "-redis.addr=redis://127.0.0.1:26379",
            "-web.listen-address=127.0.0.1:29121",
            "--upstream",
            "http://127.0.0.1:28000/x",
            "--verbose",
        ]));
        let kinds: Vec<_> = a.references.iter().map(|r| (r.kind, r.port)).collect();
        assert_eq!(kinds, vec![("http", 28000), ("redis", 26379)]);
        assert_eq!(
            a.listens.iter().map(|l| l.port).collect::<Vec<_>>(),
            vec![29121]
        );
    }

    #[test]
    fn config_files_named_on_the_command_line() {
        assert_eq!(
            config_paths(&s(&[
                "app",
                "serve",
                "--config",
                "/etc/a.conf",
                "-c",
                "bash -c x",
                "--config.file=/p.yml",
                "/srv/b.toml"
            ])),
            vec!["/etc/a.conf", "/p.yml", "/srv/b.toml"]
        );
        assert!(config_paths(&s(&["bash", "-c", "echo hi"])).is_empty());
    }

    #[test]
    fn supervised_commands() {
        let args = s(&[
            "bash",
            "/srv/supervise",
            "shopfront",
            "/run/shop.pid",
            "--",
            "/opt/bin/shopfront",
            "serve",
            "--config",
            "/etc/shop.conf",
        ]);
        let exec = |p: &str| p == "/opt/bin/shopfront" || p == "/srv/supervise";
        assert_eq!(
            embedded_command(&args, &["/usr/bin/bash", "/srv/supervise"], exec).unwrap(),
            s(&["/opt/bin/shopfront", "serve", "--config", "/etc/shop.conf"])
        );
        assert_eq!(
            embedded_command(
                &s(&["/usr/sbin/nginx", "-g", "x"]),
                &["/usr/sbin/nginx"],
                |_| true
            ),
            None
        );
    }

    proptest! {
        #[test]
        fn parsers_never_panic(t in "\\PC{0,200}") {
            let _ = config_text(&t, "f");
            let _ = environ(t.as_bytes());
            let _ = argv(&[String::new(), t.clone(), "-x".into(), t.clone()]);
            let _ = config_paths(&[String::new(), "--config".into(), t.clone()]);
            let _ = conninfo(&t, "f");
        }

        #[test]
        fn passwords_never_come_out(user in "[a-z]{1,8}", pw in "[A-Za-z0-9]{12,20}", port in 1u16..) {
            let text = format!("url = postgres://{user}:{pw}@h:{port}/db\nredis = redis://:{pw}@h:6379\n");
            let f = config_text(&text, "f");
            let shown = format!("{:?}", f);
            prop_assert!(!shown.contains(&pw));
        }
    }
}
