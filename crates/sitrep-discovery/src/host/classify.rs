//! What a process is: its resource kind (a known server, an exporter, or a generic service or
//! worker) and the base of its resource name.

use super::Proc;

pub(crate) fn basename(p: &str) -> String {
    p.rsplit('/').next().unwrap_or(p).to_string()
}

/// (kind, base name) of a process.
pub(crate) fn classify(p: &Proc, listens: bool) -> (&'static str, String) {
    // argv[0] first: Debian's redis-server is a symlink to redis-check-rdb, and servers that
    // retitle themselves ("nginx: master process") keep their name there.
    let argv0 = p
        .args
        .first()
        .and_then(|a| a.split_whitespace().next())
        .map(|a| basename(a.trim_end_matches(':')))
        .unwrap_or_default();
    if let Some(k) = known_server(&argv0) {
        return (k.0, k.1.to_string());
    }
    let exe = p.exe.as_str();
    if let Some(k) = known_server(exe) {
        return (k.0, k.1.to_string());
    }
    if exe.contains("exporter") {
        return (
            "exporter",
            exe.trim_start_matches("prometheus-").replace('_', "-"),
        );
    }
    generic_name(p, listens)
}

pub(crate) fn known_server(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "postgres" | "postmaster" => Some(("postgres", "postgres")),
        "redis-server" => Some(("redis", "redis")),
        "nginx" => Some(("nginx", "nginx")),
        "prometheus" => Some(("prometheus", "prometheus")),
        "alertmanager" | "prometheus-alertmanager" => Some(("alertmanager", "alertmanager")),
        "mysqld" | "mariadbd" => Some(("mysql", "mysql")),
        _ => None,
    }
}

fn generic_name(p: &Proc, listens: bool) -> (&'static str, String) {
    let exe = p.exe.as_str();
    let generic = if listens { "service" } else { "process" };
    let is_interpreter = ["python", "node", "ruby", "perl", "java", "bash", "sh"]
        .iter()
        .any(|i| {
            exe == *i || exe.starts_with(&format!("{i}3")) || exe.starts_with(&format!("{i}2"))
        });
    if is_interpreter {
        let mut it = p.args.iter().skip(1);
        while let Some(a) = it.next() {
            if a == "-m"
                && let Some(m) = it.next()
            {
                return (generic, m.rsplit('.').next().unwrap_or(m).to_string());
            }
            if !a.starts_with('-') {
                let b = basename(a);
                return (generic, b.split('.').next().unwrap_or(&b).to_string());
            }
        }
        return (generic, exe.to_string());
    }
    let sub = p.args.get(1).filter(|a| {
        a.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !matches!(
                a.as_str(),
                "serve" | "server" | "start" | "run" | "daemon" | "web"
            )
    });
    match sub {
        Some(s) => (generic, format!("{exe}-{s}")),
        None => (generic, exe.to_string()),
    }
}

pub(crate) fn monitors(kind: &str) -> bool {
    matches!(kind, "prometheus" | "exporter")
}

/// Well-known data-service ports: a connection to one of these on another host is worth a
/// resource even though we cannot see the far process.
pub(crate) fn well_known(port: u16) -> Option<&'static str> {
    match port {
        5432 => Some("postgres"),
        6379 => Some("redis"),
        3306 => Some("mysql"),
        27017 => Some("mongodb"),
        9092 => Some("kafka"),
        11211 => Some("memcached"),
        _ => None,
    }
}

/// A kind that names what the server is (not a generic listener or worker).
pub(crate) fn is_specific(kind: &str) -> bool {
    !matches!(kind, "service" | "process")
}

/// The process a command line would start, for classifying a supervised program that is not
/// running right now.
pub(crate) fn command_proc(args: &[String]) -> Proc {
    let exe_path = args.first().cloned().unwrap_or_default();
    Proc {
        pid: 0,
        ppid: 0,
        comm: String::new(),
        exe: basename(&exe_path),
        exe_path,
        args: args.to_vec(),
        user: String::new(),
        age_s: 0.0,
    }
}
